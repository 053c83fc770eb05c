// gen-model: an architecture is data (gen_model_arch.cc: tables of tensor names/shapes and
// of hyperparameter keys), so adding one is adding tables and a registry line, not code
// paths. Weights: row r of tensor T (rows of ne0; a 3-D expert stack has ne1 * ne2 of them)
// is drawn from a generator seeded by (seed, name(T), r), so rows can be made on any thread
// in any order and the file is still a function of the seed.
#include "model/gen_model.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <span>
#include <thread>

#include "core/fp16.h"
#include "core/splitmix.h"
#include "gguf/gguf_writer.h"
#include "model/gen_model_arch.h"
#include "quant/quant.h"
#include "quant/quantize_model.h"

namespace muse {
namespace {

using gen_model_internal::Attention;
using gen_model_internal::Dim;
using gen_model_internal::Ffn;
using gen_model_internal::GenArchSpec;
using gen_model_internal::KeySpec;
using gen_model_internal::KeyValue;
using gen_model_internal::Kind;
using gen_model_internal::Shape;
using gen_model_internal::SharedExperts;
using gen_model_internal::TensorSpec;

// ---- Tokenizer: a small but valid SentencePiece vocabulary ----

constexpr int64_t kSpecialTokens = 3;  // <unk>, <s>, </s>
constexpr int64_t kByteTokens = 256;   // <0x00> .. <0xFF>, SPM's byte fallback
constexpr int64_t kMinVocab = kSpecialTokens + kByteTokens;

// llama.cpp's llama_token_type values.
constexpr int32_t kTokenNormal = 1, kTokenUnknown = 2, kTokenControl = 3, kTokenByte = 6;

// Filler pieces in order of length: single characters, then "▁"-prefixed and bare words
// over a..z. Every piece's prefix of one character fewer comes earlier, so SPM's pairwise
// merges can build each one; all are distinct from the special and byte tokens.
std::vector<std::string> filler_pieces(int64_t count) {
  std::vector<std::string> out;
  out.reserve(size_t(count));
  const std::string kSpace = "\xE2\x96\x81";  // U+2581, SPM's word-boundary marker
  for (const char* s = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-";
       *s && int64_t(out.size()) < count; ++s) {
    out.emplace_back(1, *s);
  }
  if (int64_t(out.size()) < count) out.push_back(kSpace);
  std::vector<std::string> words = {""};
  while (int64_t(out.size()) < count) {
    std::vector<std::string> longer;
    longer.reserve(words.size() * 26);
    for (const std::string& w : words)
      for (char c = 'a'; c <= 'z'; ++c) longer.push_back(w + c);
    words.swap(longer);
    for (const std::string& w : words) {
      if (int64_t(out.size()) >= count) break;
      out.push_back(kSpace + w);
      if (w.size() > 1 && int64_t(out.size()) < count) out.push_back(w);
    }
  }
  return out;
}

void add_tokenizer(const GenModelOptions& o, GgufWriter* w) {
  std::vector<std::string> tokens;
  tokens.reserve(size_t(o.n_vocab));
  std::vector<float> scores;
  std::vector<int32_t> types;
  tokens = {"<unk>", "<s>", "</s>"};
  types = {kTokenUnknown, kTokenControl, kTokenControl};
  scores.assign(kSpecialTokens, 0.0f);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(kTokenByte);
    scores.push_back(0.0f);
  }
  std::vector<std::string> filler = filler_pieces(o.n_vocab - kMinVocab);
  for (size_t i = 0; i < filler.size(); ++i) {
    tokens.push_back(std::move(filler[i]));
    types.push_back(kTokenNormal);
    scores.push_back(-float(i));  // SPM merges prefer higher scores: earlier pieces first
  }
  w->set_string("tokenizer.ggml.model", "llama");
  w->set_string_array("tokenizer.ggml.tokens", tokens);
  w->set_f32_array("tokenizer.ggml.scores", scores);
  w->set_i32_array("tokenizer.ggml.token_type", types);
  w->set_u32("tokenizer.ggml.bos_token_id", 1);
  w->set_u32("tokenizer.ggml.eos_token_id", 2);
  w->set_u32("tokenizer.ggml.unknown_token_id", 0);
  w->set_bool("tokenizer.ggml.add_bos_token", true);
  w->set_bool("tokenizer.ggml.add_eos_token", false);
}

// ---- Types ----

struct TypeEntry {
  DType type;
  uint32_t file_type;  // llama.cpp's llama_ftype; K-quants map to the uniform "_S" variants
};
constexpr TypeEntry kTypes[] = {
    {DType::F32, 0},   {DType::F16, 1},   {DType::Q4_0, 2},  {DType::Q4_1, 3},  {DType::Q8_0, 7},
    {DType::Q5_0, 8},  {DType::Q5_1, 9},  {DType::Q2_K, 10}, {DType::Q3_K, 11}, {DType::Q4_K, 14},
    {DType::Q5_K, 16}, {DType::Q6_K, 18}, {DType::BF16, 32},
};

const TypeEntry* find_type(DType t) {
  for (const TypeEntry& e : kTypes)
    if (e.type == t) return &e;
  return nullptr;
}

bool is_quantized(DType t) { return t != DType::F32 && t != DType::F16 && t != DType::BF16; }

// ---- Random numbers ----

// Box-Muller: one 64-bit draw gives two independent N(0, std^2) samples.
void gaussian_row(uint64_t seed, float std, float* out, int64_t n) {
  uint64_t state = seed;
  constexpr float kTwoPi = 6.28318530717958647692f;
  constexpr float kInv24 = 1.0f / 16777216.0f;
  for (int64_t i = 0; i < n; i += 2) {
    const uint64_t r = splitmix64(state);
    const float u1 = (float(r >> 40) + 1.0f) * kInv24;  // (0, 1]: log stays finite
    const float u2 = float((r >> 16) & 0xFFFFFF) * kInv24;
    const float mag = std * std::sqrt(-2.0f * std::log(u1));
    out[i] = mag * std::cos(kTwoPi * u2);
    if (i + 1 < n) out[i + 1] = mag * std::sin(kTwoPi * u2);
  }
}

void encode_row(DType t, const float* src, uint8_t* dst, int64_t n) {
  if (t == DType::F32) {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
  } else if (t == DType::F16) {
    for (int64_t i = 0; i < n; ++i) {
      const fp16_t h = fp32_to_fp16(src[i]);
      std::memcpy(dst + 2 * i, &h, 2);
    }
  } else if (t == DType::BF16) {
    for (int64_t i = 0; i < n; ++i) {
      const bf16_t h = fp32_to_bf16(src[i]);
      std::memcpy(dst + 2 * i, &h, 2);
    }
  } else {
    quantize_row_ref(t, src, dst, n);
  }
}

struct ResolvedTensor {
  std::string name;
  int64_t ne[3];  // GGML order; trailing 1s are not written (GGML's `ggml_n_dims`)
  DType type;
  Kind kind;

  int64_t n_rows() const { return ne[1] * ne[2]; }
  int64_t n_elements() const { return ne[0] * n_rows(); }
  size_t n_dims() const { return ne[2] > 1 ? 3 : ne[1] > 1 ? 2 : 1; }
};

// Standard deviation of a tensor's Gaussian values. Fan-in scaling keeps W x at the scale
// of x for every projection (routers too: logits ~ N(0, 1) after RMSNorm); biases, and
// DeepSeek-V3's selection bias, are small perturbations.
float init_std(const ResolvedTensor& t) {
  return t.kind == Kind::kBias ? 0.01f : 1.0f / std::sqrt(float(t.ne[0]));
}

// Fills `dst` with the tensor's rows, split in contiguous row ranges over the threads: the
// rows of `values` when given (a trained model), else Gaussian rows.
Status fill_tensor(const ResolvedTensor& t, uint64_t seed, int n_threads,
                   std::span<const float> values, std::span<uint8_t> dst) {
  const size_t row = row_bytes(t.type, t.ne[0]);
  const int64_t n_rows = t.n_rows();
  if (dst.size() != row * size_t(n_rows)) return Status::Error("fill size mismatch");
  const uint64_t tensor_seed = seed ^ fnv1a64(t.name);
  const float std = init_std(t);
  if (!values.empty() && values.size() != size_t(t.n_elements())) {
    return Errorf("tensor %s: %zu values given, its shape holds %" PRId64, t.name.c_str(),
                  values.size(), t.n_elements());
  }
  auto work = [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(size_t(t.ne[0]));
    for (int64_t r = r0; r < r1; ++r) {
      if (!values.empty()) {
        std::copy_n(values.data() + r * t.ne[0], t.ne[0], buf.data());
      } else if (t.kind == Kind::kNorm) {
        std::fill(buf.begin(), buf.end(), 1.0f);
      } else {
        uint64_t s = tensor_seed + uint64_t(r) * 0x9E3779B97F4A7C15ull;
        gaussian_row(splitmix64(s), std, buf.data(), t.ne[0]);
      }
      encode_row(t.type, buf.data(), dst.data() + size_t(r) * row, t.ne[0]);
    }
  };
  // Small tensors are not worth a thread start (~tens of microseconds).
  const int threads = t.n_elements() < (1 << 16) ? 1 : int(std::min<int64_t>(n_threads, n_rows));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back(work, n_rows * i / threads, n_rows * (i + 1) / threads);
  work(0, n_rows / threads);
  for (std::thread& th : pool) th.join();
  return Status::Ok();
}

// The tensors of the model in file order. Weights take --type, or the type llama-quantize
// falls back to when their rows are not whole blocks of it (validate_gen_model refuses the
// shapes for which that would be f16).
std::vector<ResolvedTensor> resolve_tensors(const GenArchSpec& arch, const GenModelOptions& o,
                                            const Shape& shape) {
  std::vector<ResolvedTensor> out;
  auto add = [&](std::string name, const TensorSpec& s) {
    ResolvedTensor t{std::move(name),
                     {resolve(s.ne0, shape), resolve(s.ne1, shape), resolve(s.ne2, shape)},
                     DType::F32,
                     s.kind};
    if (s.kind == Kind::kWeight) t.type = row_fallback_type(o.type, t.ne[0]);
    out.push_back(std::move(t));
  };
  for (const TensorSpec& s : arch.head) add(s.name, s);
  for (int64_t l = 0; l < o.n_layer; ++l) {
    for (const TensorSpec& s : arch.layer)
      if (holds(s.when, shape, o, l)) add("blk." + std::to_string(l) + "." + s.name, s);
  }
  for (const TensorSpec& s : arch.tail) add(s.name, s);
  return out;
}

struct Range {
  const char* name;
  int64_t value, min, max;
};

Status check_ranges(std::initializer_list<Range> ranges) {
  for (const Range& c : ranges) {
    if (c.value < c.min || c.value > c.max) {
      return Errorf("%s is %" PRId64 "; it must be between %" PRId64 " and %" PRId64, c.name,
                    c.value, c.min, c.max);
    }
  }
  return Status::Ok();
}

// The experts: counts, widths and routing options the architecture's keys can express.
Status validate_moe(const GenArchSpec& arch, const GenModelOptions& o, const Shape& s) {
  // llama.cpp's LLAMA_MAX_EXPERTS is 512.
  MUSE_RETURN_IF_ERROR(check_ranges({{"n_expert", o.n_expert, 1, 512},
                                     {"n_expert_used", o.n_expert_used, 1, 512},
                                     {"n_expert_shared", o.n_expert_shared, -1, 64},
                                     {"n_ff_exp", o.n_ff_exp, 0, 1 << 22},
                                     {"n_ff_shexp", o.n_ff_shexp, 0, 1 << 24}}));
  if (o.n_expert_used > o.n_expert) {
    return Errorf("n_expert_used %" PRId64 " exceeds n_expert %" PRId64, o.n_expert_used,
                  o.n_expert);
  }
  const std::string name(arch.name);
  if (arch.ffn == Ffn::kDenseThenMoe && (o.n_leading_dense < 0 || o.n_leading_dense > o.n_layer)) {
    return Errorf("n_leading_dense %" PRId64 " must be between 0 and n_layer %" PRId64,
                  o.n_leading_dense, o.n_layer);
  }
  switch (arch.shared) {
    case SharedExperts::kNone:
      if (o.n_expert_shared > 0 || o.n_ff_shexp > 0) {
        return Errorf("%s has no shared expert: n_expert_shared and n_ff_shexp must be 0",
                      name.c_str());
      }
      break;
    case SharedExperts::kGated:
      if (o.n_expert_shared == 0) {
        return Errorf("%s always has a shared expert: n_expert_shared must be at least 1",
                      name.c_str());
      }
      break;
    case SharedExperts::kCount:
      if (o.n_ff_shexp != 0 && o.n_ff_shexp != s.n_ff_shexp) {
        return Errorf("n_ff_shexp %" PRId64
                      " does not fit %s: its shared experts are n_ff_exp * "
                      "n_expert_shared = %" PRId64 " wide (n_ff_shexp is for qwen2moe)",
                      o.n_ff_shexp, name.c_str(), s.n_ff_shexp);
      }
      break;
  }
  if (o.expert_gating == ExpertGating::kSigmoid && !arch.has_key(KeyValue::kExpertGating)) {
    return Errorf(
        "expert_gating sigmoid: %s has no expert_gating_func key (its router is a "
        "softmax); deepseek2 and muse have one",
        name.c_str());
  }
  if (!(o.expert_weights_scale > 0) || !std::isfinite(o.expert_weights_scale)) {
    return Errorf("expert_weights_scale must be positive and finite (it is %g)",
                  double(o.expert_weights_scale));
  }
  return Status::Ok();
}

// Multi-head latent attention: the ranks and per-head widths (0 picks a default).
Status validate_mla(const GenModelOptions& o, const Shape& s) {
  MUSE_RETURN_IF_ERROR(check_ranges({{"q_lora_rank", o.q_lora_rank, 0, 1 << 20},
                                     {"kv_lora_rank", o.kv_lora_rank, 0, 1 << 20},
                                     {"qk_nope", o.qk_nope, 0, 1 << 16},
                                     {"qk_rope", o.qk_rope, 0, 1 << 16},
                                     {"v_head_dim", o.v_head_dim, 0, 1 << 16}}));
  if (s.qk_rope % 2 != 0) {
    return Errorf("qk_rope %" PRId64 "%s must be even (RoPE rotates pairs)", s.qk_rope,
                  o.qk_rope ? "" : " (n_embd / n_head / 2)");
  }
  return Status::Ok();
}

void write_key(GgufWriter* w, const std::string& key, KeyValue v, const Shape& s,
               const GenModelOptions& o) {
  auto u32 = [&](int64_t x) { w->set_u32(key, uint32_t(x)); };
  switch (v) {
    case KeyValue::kCtx:
      return u32(o.n_ctx);
    case KeyValue::kEmbd:
      return u32(s.n_embd);
    case KeyValue::kLayer:
      return u32(o.n_layer);
    case KeyValue::kFf:
      return u32(s.n_ff);
    case KeyValue::kHead:
      return u32(s.n_head);
    case KeyValue::kHeadKv:
      return u32(s.n_head_kv);
    case KeyValue::kHeadDim:
      return u32(s.head_dim);
    case KeyValue::kVocab:
      return u32(s.n_vocab);
    case KeyValue::kExpertCount:
      return u32(s.n_expert);
    case KeyValue::kExpertUsed:
      return u32(s.n_expert_used);
    case KeyValue::kFfExp:
      return u32(s.n_ff_exp);
    case KeyValue::kFfShexp:
      return u32(s.n_ff_shexp);
    case KeyValue::kLeadingDense:
      return u32(s.n_leading_dense);
    case KeyValue::kExpertShared:
      return u32(s.n_expert_shared);
    case KeyValue::kExpertGating:
      return u32(int64_t(o.expert_gating));
    case KeyValue::kQLora:
      return u32(s.q_lora_rank);
    case KeyValue::kKvLora:
      return u32(s.kv_lora_rank);
    case KeyValue::kMlaKeyLength:
      return u32(s.qk_nope + s.qk_rope);
    case KeyValue::kVHeadDim:
      return u32(s.v_head_dim);
    case KeyValue::kQkRope:
      return u32(s.qk_rope);
    case KeyValue::kRopeBase:
      return w->set_f32(key, o.rope_freq_base);
    case KeyValue::kRmsEps:
      return w->set_f32(key, o.rms_norm_eps);
    case KeyValue::kExpertWeightsScale:
      return w->set_f32(key, o.expert_weights_scale);
    case KeyValue::kZero:
      return w->set_f32(key, 0.0f);
    case KeyValue::kExpertWeightsNorm:
      return w->set_bool(key, o.expert_weights_norm);
  }
}

}  // namespace

std::vector<std::string_view> gen_model_archs() {
  std::vector<std::string_view> out;
  for (const GenArchSpec& a : gen_model_internal::gen_archs()) out.push_back(a.name);
  return out;
}

bool gen_model_type_allowed(DType t) { return find_type(t) != nullptr; }

Status validate_gen_model(const GenModelOptions& o) {
  const GenArchSpec* arch = gen_model_internal::find_gen_arch(o.arch);
  if (!arch) {
    std::string known;
    for (std::string_view a : gen_model_archs())
      known += (known.empty() ? "" : ", ") + std::string(a);
    return Status::Error("unknown architecture '" + o.arch + "' (gen-model knows: " + known + ")");
  }
  // Bounds keep every product below int64 and every value inside the u32 keys.
  MUSE_RETURN_IF_ERROR(check_ranges({
      {"n_embd", o.n_embd, 1, 1 << 20},
      {"n_layer", o.n_layer, 1, 1 << 16},
      {"n_head", o.n_head, 1, 1 << 16},
      {"n_ff", o.n_ff, 1, 1 << 22},
      {"n_vocab", o.n_vocab, 1, 1 << 24},
      {"n_ctx", o.n_ctx, 1, int64_t(1) << 31},
      {"n_threads", o.n_threads, 1, 1024},
  }));
  if (o.n_head_kv < 0 || o.n_head_kv > o.n_head) {
    return Errorf("n_head_kv is %" PRId64 "; it must be between 1 and n_head (%" PRId64
                  "), or 0 for n_head",
                  o.n_head_kv, o.n_head);
  }
  if (o.n_embd % o.n_head != 0) {
    return Errorf("n_head %" PRId64 " does not divide n_embd %" PRId64, o.n_head, o.n_embd);
  }
  const int64_t n_head_kv = o.n_head_kv ? o.n_head_kv : o.n_head;
  if (o.n_head % n_head_kv != 0) {
    return Errorf("n_head_kv %" PRId64 " does not divide n_head %" PRId64, n_head_kv, o.n_head);
  }
  if ((o.n_embd / o.n_head) % 2 != 0) {
    return Errorf("head dimension n_embd / n_head = %" PRId64 " must be even (RoPE rotates pairs)",
                  o.n_embd / o.n_head);
  }
  if (o.n_vocab < kMinVocab) {
    return Errorf("n_vocab %" PRId64 " is too small: the SPM tokenizer needs at least %" PRId64
                  " tokens (3 special + 256 byte tokens)",
                  o.n_vocab, kMinVocab);
  }
  if (!find_type(o.type)) {
    return Status::Error("type " + std::string(dtype_name(o.type)) +
                         " is not a weight type gen-model writes (f32, f16, bf16, q8_0, q4_0, "
                         "q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K)");
  }
  if (!(o.rope_freq_base > 0) || !(o.rms_norm_eps > 0)) {
    return Status::Error("rope_freq_base and rms_norm_eps must be positive");
  }
  const Shape shape = gen_model_internal::resolve_shape(*arch, o);
  if (arch->ffn != Ffn::kDense) MUSE_RETURN_IF_ERROR(validate_moe(*arch, o, shape));
  if (arch->attention == Attention::kMla) MUSE_RETURN_IF_ERROR(validate_mla(o, shape));

  // Every dimension of every tensor: positive (a derived default can be 0: n_ff / 4 of a
  // tiny n_ff), and rows that are whole blocks of the weight type or of its fallback.
  const int64_t block = dtype_info(o.type).block_size;
  for (std::span<const TensorSpec> group : {arch->head, arch->layer, arch->tail}) {
    for (const TensorSpec& s : group) {
      // Dense blocks come first, MoE blocks last: the two ends tell whether a spec is used.
      if (!holds(s.when, shape, o, 0) && !holds(s.when, shape, o, o.n_layer - 1)) continue;
      for (Dim d : {s.ne0, s.ne1, s.ne2}) {
        if (resolve(d, shape) < 1) {
          return Errorf("%s is %" PRId64 "; %s needs it positive", dim_option(d, *arch),
                        resolve(d, shape), s.name);
        }
      }
      if (s.kind != Kind::kWeight) continue;
      const int64_t ne0 = resolve(s.ne0, shape);
      const DType fallback = row_fallback_type(o.type, ne0);
      if (fallback != o.type && fallback == DType::F16) {
        return Errorf("%s %" PRId64 " is not a multiple of the %s block size %" PRId64
                      " (%s has rows of %s elements)",
                      dim_option(s.ne0, *arch), ne0, std::string(dtype_name(o.type)).c_str(), block,
                      s.name, dim_option(s.ne0, *arch));
      }
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<GenTensorInfo>> gen_model_tensors(const GenModelOptions& o) {
  MUSE_RETURN_IF_ERROR(validate_gen_model(o));
  const GenArchSpec& arch = *gen_model_internal::find_gen_arch(o.arch);
  std::vector<GenTensorInfo> out;
  for (const ResolvedTensor& t :
       resolve_tensors(arch, o, gen_model_internal::resolve_shape(arch, o))) {
    GenTensorInfo& i = out.emplace_back();
    i.name = t.name;
    std::copy_n(t.ne, 3, i.ne);
    i.type = t.type;
    i.is_norm = t.kind == Kind::kNorm;
    i.is_weight = t.kind == Kind::kWeight;
    i.is_selection_bias = t.name.ends_with("exp_probs_b.bias");
  }
  return out;
}

StatusOr<GenModelSummary> gen_model(const GenModelOptions& o, const std::string& path,
                                    const GenModelData& data) {
  MUSE_RETURN_IF_ERROR(validate_gen_model(o));
  const GenArchSpec& arch = *gen_model_internal::find_gen_arch(o.arch);
  const Shape shape = gen_model_internal::resolve_shape(arch, o);
  const std::string prefix = std::string(arch.name) + ".";

  GgufWriter w;
  w.set_string("general.architecture", arch.name);
  w.set_string("general.name", o.name.empty() ? "muse-gen-" + o.arch : o.name);
  w.set_u32("general.file_type", find_type(o.type)->file_type);
  w.set_alignment(kGgufDefaultAlignment);
  if (is_quantized(o.type)) w.set_u32("general.quantization_version", 2);  // GGML's current
  for (const KeySpec& k : arch.keys)
    if (holds(k.when, shape, o, -1)) write_key(&w, prefix + k.suffix, k.value, shape, o);
  if (data.tokenizer) {
    data.tokenizer(&w);
  } else {
    add_tokenizer(o, &w);
  }

  GenModelSummary summary;
  for (ResolvedTensor& t : resolve_tensors(arch, o, shape)) {
    summary.n_tensors += 1;
    summary.n_params += t.n_elements();
    summary.n_bytes += row_bytes(t.type, t.ne[0]) * uint64_t(t.n_rows());
    summary.n_fallback += t.kind == Kind::kWeight && t.type != o.type;
    const std::string name = t.name;
    const size_t n_dims = t.n_dims();
    const int64_t ne[3] = {t.ne[0], t.ne[1], t.ne[2]};
    MUSE_RETURN_IF_ERROR(
        w.add_tensor(name, t.type, std::span<const int64_t>(ne, n_dims),
                     [t = std::move(t), seed = o.seed, threads = o.n_threads,
                      source = data.tensor](std::span<uint8_t> dst) {
                       return fill_tensor(t, seed, threads,
                                          source ? source(t.name) : std::span<const float>{}, dst);
                     }));
  }
  MUSE_RETURN_IF_ERROR(w.write(path));
  return summary;
}

}  // namespace muse
