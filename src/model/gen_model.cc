// gen-model: an architecture is data here (a table of tensor names/shapes and one of
// hyperparameter keys), so adding one is adding tables and a registry line, not code paths.
// Weights: row r of tensor T is drawn from a generator seeded by (seed, name(T), r), so
// rows can be made on any thread in any order and the file is still a function of the seed.
#include "model/gen_model.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <span>
#include <thread>

#include "core/fp16.h"
#include "gguf/gguf_writer.h"
#include "quant/quant.h"

namespace muse {
namespace {

// ---- Architecture tables ----

// Symbolic dimensions, resolved against the options.
enum class Dim { kOne, kEmbd, kEmbdKv, kFf, kVocab };
enum class Init { kOnes, kGaussian };

struct TensorSpec {
  const char* name;  // full name, or the part after "blk.N." for per-layer tensors
  Dim ne0;           // contiguous dim (the input dim of a weight matrix)
  Dim ne1;           // kOne for vectors
  Init init;
};

enum class KeyValue {
  kCtx,
  kEmbd,
  kLayer,
  kFf,
  kHead,
  kHeadKv,
  kRopeDim,
  kRopeBase,
  kRmsEps,
  kVocab
};

struct KeySpec {
  const char* suffix;  // written as "<arch>.<suffix>"
  KeyValue value;
};

struct ArchSpec {
  std::string_view name;
  std::span<const TensorSpec> globals;  // written before the blocks
  std::span<const TensorSpec> layer;    // per block, prefixed "blk.N."
  std::span<const KeySpec> keys;
};

// llama.cpp's LLM_ARCH_LLAMA names (src/llama-arch.cpp); shapes in GGML order [ne0, ne1].
constexpr TensorSpec kLlamaGlobals[] = {
    {"token_embd.weight", Dim::kEmbd, Dim::kVocab, Init::kGaussian},  // [n_embd, n_vocab]
    {"output_norm.weight", Dim::kEmbd, Dim::kOne, Init::kOnes},       // [n_embd]
    {"output.weight", Dim::kEmbd, Dim::kVocab, Init::kGaussian},      // [n_embd, n_vocab]
};
constexpr TensorSpec kLlamaLayer[] = {
    {"attn_norm.weight", Dim::kEmbd, Dim::kOne, Init::kOnes},         // [n_embd]
    {"attn_q.weight", Dim::kEmbd, Dim::kEmbd, Init::kGaussian},       // [n_embd, n_embd]
    {"attn_k.weight", Dim::kEmbd, Dim::kEmbdKv, Init::kGaussian},     // [n_embd, n_embd_kv]
    {"attn_v.weight", Dim::kEmbd, Dim::kEmbdKv, Init::kGaussian},     // [n_embd, n_embd_kv]
    {"attn_output.weight", Dim::kEmbd, Dim::kEmbd, Init::kGaussian},  // [n_embd, n_embd]
    {"ffn_norm.weight", Dim::kEmbd, Dim::kOne, Init::kOnes},          // [n_embd]
    {"ffn_gate.weight", Dim::kEmbd, Dim::kFf, Init::kGaussian},       // [n_embd, n_ff]
    {"ffn_up.weight", Dim::kEmbd, Dim::kFf, Init::kGaussian},         // [n_embd, n_ff]
    {"ffn_down.weight", Dim::kFf, Dim::kEmbd, Init::kGaussian},       // [n_ff, n_embd]
};
constexpr KeySpec kLlamaKeys[] = {
    {"vocab_size", KeyValue::kVocab},
    {"context_length", KeyValue::kCtx},
    {"embedding_length", KeyValue::kEmbd},
    {"block_count", KeyValue::kLayer},
    {"feed_forward_length", KeyValue::kFf},
    {"attention.head_count", KeyValue::kHead},
    {"attention.head_count_kv", KeyValue::kHeadKv},
    {"rope.dimension_count", KeyValue::kRopeDim},
    {"rope.freq_base", KeyValue::kRopeBase},
    {"attention.layer_norm_rms_epsilon", KeyValue::kRmsEps},
};

constexpr ArchSpec kArchs[] = {
    {"llama", kLlamaGlobals, kLlamaLayer, kLlamaKeys},
};

const ArchSpec* find_arch(std::string_view name) {
  for (const ArchSpec& a : kArchs)
    if (a.name == name) return &a;
  return nullptr;
}

int64_t n_head_kv_of(const GenModelOptions& o) { return o.n_head_kv ? o.n_head_kv : o.n_head; }

int64_t resolve(Dim d, const GenModelOptions& o) {
  switch (d) {
    case Dim::kOne:
      return 1;
    case Dim::kEmbd:
      return o.n_embd;
    case Dim::kEmbdKv:
      return o.n_embd / o.n_head * n_head_kv_of(o);
    case Dim::kFf:
      return o.n_ff;
    case Dim::kVocab:
      return o.n_vocab;
  }
  return 1;
}

const char* dim_option(Dim d) {
  switch (d) {
    case Dim::kEmbd:
      return "n_embd";
    case Dim::kEmbdKv:
      return "n_embd / n_head * n_head_kv";
    case Dim::kFf:
      return "n_ff";
    case Dim::kVocab:
      return "n_vocab";
    default:
      return "1";
  }
}

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

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// Box-Muller: one 64-bit draw gives two independent N(0, std^2) samples.
void gaussian_row(uint64_t seed, float std, float* out, int64_t n) {
  uint64_t state = seed;
  constexpr float kTwoPi = 6.28318530717958647692f;
  constexpr float kInv24 = 1.0f / 16777216.0f;
  for (int64_t i = 0; i < n; i += 2) {
    const uint64_t r = splitmix64(&state);
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
  int64_t ne0, ne1;
  DType type;
  Init init;
};

// Fills `dst` with the tensor's rows, split in contiguous row ranges over the threads.
Status fill_tensor(const ResolvedTensor& t, uint64_t seed, int n_threads, std::span<uint8_t> dst) {
  const size_t row = row_bytes(t.type, t.ne0);
  if (dst.size() != row * size_t(t.ne1)) return Status::Error("fill size mismatch");
  const uint64_t tensor_seed = seed ^ fnv1a(t.name);
  const float std = 1.0f / std::sqrt(float(t.ne0));  // fan-in: keeps W x at unit scale
  auto work = [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(size_t(t.ne0));
    for (int64_t r = r0; r < r1; ++r) {
      if (t.init == Init::kOnes) {
        std::fill(buf.begin(), buf.end(), 1.0f);
      } else {
        uint64_t s = tensor_seed + uint64_t(r) * 0x9E3779B97F4A7C15ull;
        gaussian_row(splitmix64(&s), std, buf.data(), t.ne0);
      }
      encode_row(t.type, buf.data(), dst.data() + size_t(r) * row, t.ne0);
    }
  };
  // Small tensors are not worth a thread start (~tens of microseconds).
  const int64_t elements = t.ne0 * t.ne1;
  const int threads = elements < (1 << 16) ? 1 : int(std::min<int64_t>(n_threads, t.ne1));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back(work, t.ne1 * i / threads, t.ne1 * (i + 1) / threads);
  work(0, t.ne1 / threads);
  for (std::thread& th : pool) th.join();
  return Status::Ok();
}

std::vector<ResolvedTensor> resolve_tensors(const ArchSpec& arch, const GenModelOptions& o) {
  std::vector<ResolvedTensor> out;
  auto add = [&](std::string name, const TensorSpec& s) {
    const bool matrix = s.ne1 != Dim::kOne;
    out.push_back({std::move(name), resolve(s.ne0, o), resolve(s.ne1, o),
                   matrix ? o.type : DType::F32, s.init});
  };
  for (const TensorSpec& s : arch.globals) add(s.name, s);
  for (int64_t l = 0; l < o.n_layer; ++l)
    for (const TensorSpec& s : arch.layer) add("blk." + std::to_string(l) + "." + s.name, s);
  return out;
}

}  // namespace

std::vector<std::string_view> gen_model_archs() {
  std::vector<std::string_view> out;
  for (const ArchSpec& a : kArchs) out.push_back(a.name);
  return out;
}

bool gen_model_type_allowed(DType t) { return find_type(t) != nullptr; }

Status validate_gen_model(const GenModelOptions& o) {
  const ArchSpec* arch = find_arch(o.arch);
  if (!arch) {
    std::string known;
    for (std::string_view a : gen_model_archs())
      known += (known.empty() ? "" : ", ") + std::string(a);
    return Status::Error("unknown architecture '" + o.arch + "' (gen-model knows: " + known + ")");
  }
  // Bounds keep every product below int64 and every value inside the u32 keys.
  struct Positive {
    const char* name;
    int64_t value;
    int64_t max;
  };
  const Positive checks[] = {
      {"n_embd", o.n_embd, 1 << 20},    {"n_layer", o.n_layer, 1 << 16},
      {"n_head", o.n_head, 1 << 16},    {"n_ff", o.n_ff, 1 << 22},
      {"n_vocab", o.n_vocab, 1 << 24},  {"n_ctx", o.n_ctx, int64_t(1) << 31},
      {"n_threads", o.n_threads, 1024},
  };
  for (const Positive& c : checks) {
    if (c.value <= 0 || c.value > c.max) {
      return Errorf("%s is %" PRId64 "; it must be between 1 and %" PRId64, c.name, c.value, c.max);
    }
  }
  if (o.n_head_kv < 0 || o.n_head_kv > o.n_head) {
    return Errorf("n_head_kv is %" PRId64 "; it must be between 1 and n_head (%" PRId64
                  "), or 0 for n_head",
                  o.n_head_kv, o.n_head);
  }
  if (o.n_embd % o.n_head != 0) {
    return Errorf("n_head %" PRId64 " does not divide n_embd %" PRId64, o.n_head, o.n_embd);
  }
  if (o.n_head % n_head_kv_of(o) != 0) {
    return Errorf("n_head_kv %" PRId64 " does not divide n_head %" PRId64, n_head_kv_of(o),
                  o.n_head);
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
  const int64_t block = dtype_info(o.type).block_size;
  for (std::span<const TensorSpec> group : {arch->globals, arch->layer}) {
    for (const TensorSpec& s : group) {
      if (s.ne1 == Dim::kOne) continue;  // vectors stay F32
      const int64_t ne0 = resolve(s.ne0, o);
      if (ne0 % block != 0) {
        return Errorf("%s %" PRId64 " is not a multiple of the %s block size %" PRId64
                      " (%s has rows of %s elements)",
                      dim_option(s.ne0), ne0, std::string(dtype_name(o.type)).c_str(), block,
                      s.name, dim_option(s.ne0));
      }
    }
  }
  return Status::Ok();
}

StatusOr<GenModelSummary> gen_model(const GenModelOptions& o, const std::string& path) {
  MUSE_RETURN_IF_ERROR(validate_gen_model(o));
  const ArchSpec& arch = *find_arch(o.arch);
  const std::string prefix = std::string(arch.name) + ".";

  GgufWriter w;
  w.set_string("general.architecture", arch.name);
  w.set_string("general.name", o.name.empty() ? "muse-gen-" + o.arch : o.name);
  w.set_u32("general.file_type", find_type(o.type)->file_type);
  w.set_alignment(kGgufDefaultAlignment);
  if (is_quantized(o.type)) w.set_u32("general.quantization_version", 2);  // GGML's current
  for (const KeySpec& k : arch.keys) {
    const std::string key = prefix + k.suffix;
    switch (k.value) {
      case KeyValue::kCtx:
        w.set_u32(key, uint32_t(o.n_ctx));
        break;
      case KeyValue::kEmbd:
        w.set_u32(key, uint32_t(o.n_embd));
        break;
      case KeyValue::kLayer:
        w.set_u32(key, uint32_t(o.n_layer));
        break;
      case KeyValue::kFf:
        w.set_u32(key, uint32_t(o.n_ff));
        break;
      case KeyValue::kHead:
        w.set_u32(key, uint32_t(o.n_head));
        break;
      case KeyValue::kHeadKv:
        w.set_u32(key, uint32_t(n_head_kv_of(o)));
        break;
      case KeyValue::kRopeDim:
        w.set_u32(key, uint32_t(o.n_embd / o.n_head));
        break;
      case KeyValue::kVocab:
        w.set_u32(key, uint32_t(o.n_vocab));
        break;
      case KeyValue::kRopeBase:
        w.set_f32(key, o.rope_freq_base);
        break;
      case KeyValue::kRmsEps:
        w.set_f32(key, o.rms_norm_eps);
        break;
    }
  }
  add_tokenizer(o, &w);

  GenModelSummary summary;
  for (ResolvedTensor& t : resolve_tensors(arch, o)) {
    const int64_t ne[2] = {t.ne0, t.ne1};
    const size_t n_dims = t.ne1 == 1 ? 1 : 2;
    summary.n_tensors += 1;
    summary.n_params += t.ne0 * t.ne1;
    summary.n_bytes += row_bytes(t.type, t.ne0) * uint64_t(t.ne1);
    const std::string name = t.name;
    MUSE_RETURN_IF_ERROR(w.add_tensor(
        name, t.type, std::span<const int64_t>(ne, n_dims),
        [t = std::move(t), seed = o.seed, threads = o.n_threads](std::span<uint8_t> dst) {
          return fill_tensor(t, seed, threads, dst);
        }));
  }
  MUSE_RETURN_IF_ERROR(w.write(path));
  return summary;
}

}  // namespace muse
