// quantize_model: per-tensor type rules (after llama.cpp's src/llama-quant.cpp, the
// `llama_tensor_get_type` logic of llama-quantize), then a streamed rewrite in which each
// tensor's rows are converted in parallel while GgufWriter writes the file.
//
// Rules, for the mixes muse writes (no importance matrix, which these mixes never need):
//  * Only tensors of 2+ effective dims whose name ends in "weight" are quantized, minus
//    norms, MoE routers (`ffn_gate_inp`, `ffn_gate_inp_shexp`, `exp_probs_b`) and a few
//    small tensors llama.cpp keeps (`kKeepFragments`); the rest (norms, biases, ...) are
//    copied as they are, which for F32 inputs means F32. A 3-D expert stack [ne0, ne1, E]
//    is ne1 * E rows of ne0, converted like any matrix.
//  * output.weight, and token_embd.weight when there is no output.weight (tied embeddings):
//    Q6_K, except Q8_0 stays Q8_0, and Q8_0 when the row is not a multiple of the base
//    type's block. So Q4_0 models get a Q6_K output, as llama-quantize gives them.
//  * attn_v (and the fused attn_qkv / attn_kv_b): Q6_K in Q4_K_M/Q5_K_M for the i-th of n
//    such tensors when use_more_bits(i, n); Q5_K for the first 4 in Q4_K_S.
//  * ffn_down of layer i of n: Q6_K in Q4_K_M/Q5_K_M when use_more_bits(i, n); Q5_K in
//    Q4_K_S for i < n/8. use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2.
//  * 8-expert models (Mixtral-like): attn_v and attn_k Q8_0; attn_output Q5_K in Q4_K_*.
//  * A row length that is not a multiple of the type's block falls back: Q4_K -> Q5_0,
//    Q5_K -> Q5_1, Q6_K -> Q8_0, and to F16 when even 32 does not divide it.
// Deliberate differences from llama.cpp: its Falcon-only and "70B" (n_layer == 80) tweaks
// are not applied (no architecture or size special cases outside model/arch/); a legacy
// type whose rows are not multiples of 32 falls back to F16 where llama.cpp gives up; the
// output keeps the input's tensor order (llama.cpp sorts by layer, then name).
#include "quant/quantize_model.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>

#include "gguf/gguf_writer.h"
#include "quant/quant.h"

namespace muse {
namespace {

// `general.quantization_version`: the GGML block-layout revision these formats follow.
constexpr uint32_t kQuantizationVersion = 2;

// Rows converted per task: enough work (~16 ms of K-quant search) to hide the claim.
constexpr int64_t kTaskElements = 32768;

constexpr QuantMixInfo kMixes[] = {
    {"Q8_0", QuantMix::kQ8_0, DType::Q8_0, "8.5 bpw: every matrix Q8_0"},
    {"Q4_0", QuantMix::kQ4_0, DType::Q4_0, "4.5 bpw legacy blocks; output Q6_K"},
    {"Q4_K_S", QuantMix::kQ4_K_S, DType::Q4_K,
     "Q4_K; Q6_K output; Q5_K first 4 attn_v and first 1/8 ffn_down"},
    {"Q4_K_M", QuantMix::kQ4_K_M, DType::Q4_K,
     "Q4_K; Q6_K output, and attn_v/ffn_down of edge and every 3rd layer"},
    {"Q5_K_S", QuantMix::kQ5_K_S, DType::Q5_K, "Q5_K; output Q6_K"},
    {"Q5_K_M", QuantMix::kQ5_K_M, DType::Q5_K,
     "Q5_K; Q6_K output and the attn_v/ffn_down Q4_K_M upgrades"},
    {"Q6_K", QuantMix::kQ6_K, DType::Q6_K, "6.6 bpw: every matrix Q6_K"},
};

// llama.cpp's `tensor_category`: broad roles recognised by name fragments.
enum class Role {
  kTokenEmbd,
  kOutput,
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnQkv,
  kAttnKvB,
  kAttnOutput,
  kFfnUp,
  kFfnGate,
  kFfnDown,
  kOther,
};

bool contains(std::string_view s, std::string_view fragment) {
  return s.find(fragment) != std::string_view::npos;
}

// The order of the checks matters: "attn_qkv.weight" must not be taken for attn_q.
Role role_of(std::string_view name) {
  if (name == "output.weight") return Role::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") {
    return Role::kTokenEmbd;
  }
  if (contains(name, "attn_qkv.weight")) return Role::kAttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Role::kAttnKvB;
  if (contains(name, "attn_v.weight")) return Role::kAttnV;
  if (contains(name, "attn_k.weight")) return Role::kAttnK;
  if (contains(name, "attn_q.weight")) return Role::kAttnQ;
  if (contains(name, "attn_output.weight")) return Role::kAttnOutput;
  if (contains(name, "ffn_up")) return Role::kFfnUp;
  if (contains(name, "ffn_gate")) return Role::kFfnGate;
  if (contains(name, "ffn_down")) return Role::kFfnDown;
  return Role::kOther;
}

// Tensors that carry the values of attention (and so take the attn_v upgrades).
bool is_attn_v_like(Role r) {
  return r == Role::kAttnV || r == Role::kAttnQkv || r == Role::kAttnKvB;
}

// Matrices llama.cpp leaves in their input type: norms, MoE routers (their softmax picks
// experts, so rounding flips decisions), and tensors too small for quantization to pay.
constexpr std::string_view kKeepFragments[] = {
    "_norm.weight",
    "ffn_gate_inp.weight",
    "ffn_gate_inp_shexp.weight",  // qwen2moe's shared-expert gate
    "exp_probs_b",                // DeepSeek-V3's expert selection bias
    "ffn_gate_tid2eid.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "shortconv.conv.weight",
    "indexer.k_proj.weight",
    "indexer.q_proj.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
    ".position_embd",
    "sam.pos_embd",
    "sam.neck.",
    "sam.net_",
    ".rel_pos",
    ".patch_embd",
    ".patch_merger",
    "a.rvq.codebook",
    "mm.a.code_embd",
};
// Exact names kept as they are (BERT's position and token-type embeddings).
constexpr std::string_view kKeepNames[] = {"position_embd.weight", "token_types.weight"};

// GGML's `ggml_n_dims`: trailing dimensions of size 1 do not count.
int effective_dims(const GgufTensor& t) {
  for (int d = kGgufMaxDims - 1; d > 0; --d)
    if (t.ne[d] > 1) return d + 1;
  return 1;
}

bool is_quantizable(const GgufTensor& t) {
  if (effective_dims(t) < 2) return false;
  const std::string_view name = t.name;
  if (!name.ends_with("weight")) return false;
  for (std::string_view f : kKeepFragments)
    if (contains(name, f)) return false;
  for (std::string_view n : kKeepNames)
    if (name == n) return false;
  return true;
}

// N of a "blk.N." prefix, or -1.
int layer_of(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  int layer = 0;
  size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) {
    if (layer > 100000000) return -1;
    layer = layer * 10 + (name[i] - '0');
  }
  return layer;
}

// llama.cpp's pattern for spending more bits: the first and last eighth of the layers,
// whose errors hurt most, and every third layer in between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int64_t block_of(DType t) { return dtype_info(t).block_size; }

std::string type_text(DType t) { return std::string(dtype_name(t)); }

struct ModelFacts {
  int n_layer = 0;
  int n_expert = 0;
  int n_attn_v = 0;              // attn_v-like tensors in the file
  bool tied_embeddings = false;  // no output.weight: token_embd doubles as the output
};

StatusOr<ModelFacts> model_facts(const GgufFile& in) {
  ModelFacts f;
  int max_layer = -1;
  f.tied_embeddings = true;
  for (const GgufTensor& t : in.tensors()) {
    max_layer = std::max(max_layer, layer_of(t.name));
    const Role r = role_of(t.name);
    if (is_attn_v_like(r)) ++f.n_attn_v;
    if (r == Role::kOutput) f.tied_embeddings = false;
  }
  StatusOr<std::string_view> arch = in.get_string_or("general.architecture", "");
  if (!arch.ok()) return arch.status();
  // Without an architecture there is no `<arch>.block_count`; the names tell the layers.
  uint32_t n_layer = uint32_t(max_layer + 1), n_expert = 0;
  if (!arch->empty()) {
    StatusOr<uint32_t> bc = in.get_u32_or(std::string(*arch) + ".block_count", n_layer);
    if (!bc.ok()) return bc.status();
    StatusOr<uint32_t> ec = in.get_u32_or(std::string(*arch) + ".expert_count", 0);
    if (!ec.ok()) return ec.status();
    n_layer = *bc;
    n_expert = *ec;
  }
  if (n_layer > 1000000 || n_expert > 1000000) {
    return Errorf("implausible block_count %u / expert_count %u", n_layer, n_expert);
  }
  f.n_layer = int(n_layer);
  f.n_expert = int(n_expert);
  return f;
}

// Applies the mix's rules. llama.cpp numbers attn_v and ffn_down tensors by counting them
// as it visits, so `choose` must be called in its visiting order (see plan_quantization).
class TypeChooser {
 public:
  TypeChooser(const QuantizeOptions& opts, const ModelFacts& facts)
      : mix_(opts.mix), pure_(opts.pure), facts_(facts) {}

  StatusOr<DType> choose(std::string_view name, int64_t n_cols, std::string* note) {
    const DType base = quant_mix_info(mix_).base;
    DType t = base;
    if (!pure_) {
      StatusOr<DType> ruled = apply_rules(name, n_cols, base, note);
      if (!ruled.ok()) return ruled.status();
      t = *ruled;
    }
    const DType f = row_fallback_type(t, n_cols);
    if (f != t) {
      if (!note->empty()) *note += "; ";
      *note += "rows of " + std::to_string(n_cols) + " are not whole " + type_text(t) +
               " blocks: " + type_text(f);
    }
    return f;
  }

 private:
  bool is(QuantMix m) const { return mix_ == m; }
  bool is_m_mix() const { return is(QuantMix::kQ4_K_M) || is(QuantMix::kQ5_K_M); }

  StatusOr<DType> apply_rules(std::string_view name, int64_t n_cols, DType base,
                              std::string* note) {
    const Role role = role_of(name);
    const bool moe8 = facts_.n_expert == 8;
    DType t = base;
    if (role == Role::kOutput || (facts_.tied_embeddings && role == Role::kTokenEmbd)) {
      // Every logit goes through this matrix; its error is not averaged away by a residual.
      if (n_cols % block_of(base) != 0) {
        t = DType::Q8_0;
      } else if (base != DType::Q8_0) {
        t = DType::Q6_K;
      }
      *note = facts_.tied_embeddings ? "tied output embedding" : "output projection";
    } else if (is_attn_v_like(role)) {
      const int i = i_attn_v_++;
      if (is_m_mix() && use_more_bits(i, facts_.n_attn_v)) {
        t = DType::Q6_K;
        *note = "use_more_bits(" + std::to_string(i) + ", " + std::to_string(facts_.n_attn_v) + ")";
      } else if (is(QuantMix::kQ4_K_S) && i < 4) {
        t = DType::Q5_K;
        *note = "one of the first 4 attn_v";
      }
      if (moe8) {
        t = DType::Q8_0;
        *note = "8-expert model";
      }
    } else if (role == Role::kAttnK) {
      if (moe8) {
        t = DType::Q8_0;
        *note = "8-expert model";
      }
    } else if (role == Role::kFfnDown) {
      // In MoE files the experts of one layer need not be adjacent, so the name tells the
      // layer; otherwise llama.cpp's running count does (the same for well-formed files).
      int layer = i_ffn_down_++;
      if (facts_.n_expert > 1) {
        layer = layer_of(name);
        if (layer < 0 || layer >= facts_.n_layer) {
          return Errorf("tensor '%.*s': no layer number in [0, %d) in its name", int(name.size()),
                        name.data(), facts_.n_layer);
        }
      }
      if (is_m_mix() && use_more_bits(layer, facts_.n_layer)) {
        t = DType::Q6_K;
        *note =
            "use_more_bits(" + std::to_string(layer) + ", " + std::to_string(facts_.n_layer) + ")";
      } else if (is(QuantMix::kQ4_K_S) && layer < facts_.n_layer / 8) {
        t = DType::Q5_K;
        *note = "first 1/8 of the layers";
      }
    } else if (role == Role::kAttnOutput) {
      if (moe8 && (is(QuantMix::kQ4_K_S) || is(QuantMix::kQ4_K_M))) {
        t = DType::Q5_K;
        *note = "8-expert model";
      }
    }
    if (t == base) note->clear();
    return t;
  }

  QuantMix mix_;
  bool pure_;
  ModelFacts facts_;
  int i_attn_v_ = 0;
  int i_ffn_down_ = 0;
};

bool is_float_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// Checks that `p.src_type` can become `p.dst_type`.
Status check_convertible(const TensorPlan& p, const QuantizeOptions& opts) {
  const std::string quoted = "tensor '" + p.name + "'";
  if (!dtype_info(p.src_type).supported || p.src_type == DType::Q8_K) {
    return Errorf("%s has type %s, which muse cannot convert to %s", quoted.c_str(),
                  type_text(p.src_type).c_str(), type_text(p.dst_type).c_str());
  }
  if (!is_float_type(p.src_type) && !opts.allow_requantize) {
    return Errorf(
        "%s is already %s; requantizing it to %s would round twice (use "
        "--allow-requantize to do it anyway, or start from an F32/F16/BF16 model)",
        quoted.c_str(), type_text(p.src_type).c_str(), type_text(p.dst_type).c_str());
  }
  return Status::Ok();
}

// Converts all rows of `src` into `dst` in parallel; rows are independent, so the bytes do
// not depend on the number of workers.
Status convert_tensor(const GgufTensor& src, const TensorPlan& p, ThreadPool& pool,
                      std::span<uint8_t> dst) {
  const int64_t n_per_row = p.ne[0];
  const int64_t n_rows = p.n_elements() / n_per_row;
  const size_t src_row = row_bytes(p.src_type, n_per_row);
  const size_t dst_row = row_bytes(p.dst_type, n_per_row);
  if (dst.size() != dst_row * size_t(n_rows) || src.bytes != src_row * uint64_t(n_rows)) {
    return Status::Error("internal error: tensor size does not match its plan");
  }
  const int64_t rows_per_task = std::max<int64_t>(1, kTaskElements / n_per_row);
  const int64_t n_tasks = (n_rows + rows_per_task - 1) / rows_per_task;
  std::vector<std::vector<float>> scratch(size_t(pool.size()), std::vector<float>(n_per_row));
  std::atomic<int64_t> first_bad_row{std::numeric_limits<int64_t>::max()};
  const uint8_t* in = static_cast<const uint8_t*>(src.data);
  pool.run(n_tasks, [&](int64_t task, int worker) {
    float* x = scratch[size_t(worker)].data();
    const int64_t end = std::min(n_rows, (task + 1) * rows_per_task);
    for (int64_t r = task * rows_per_task; r < end; ++r) {
      dequantize_row_ref(p.src_type, in + size_t(r) * src_row, x, n_per_row);
      // A NaN or Inf would poison the block scale; llama.cpp rejects such output too.
      bool finite = true;
      for (int64_t i = 0; i < n_per_row; ++i) finite &= std::isfinite(x[i]);
      if (!finite) {
        int64_t seen = first_bad_row.load();
        while (r < seen && !first_bad_row.compare_exchange_weak(seen, r)) {
        }
        return;
      }
      quantize_row_ref(p.dst_type, x, dst.data() + size_t(r) * dst_row, n_per_row);
    }
  });
  if (first_bad_row.load() != std::numeric_limits<int64_t>::max()) {
    return Errorf("row %" PRId64 " holds a NaN or infinite value", first_bad_row.load());
  }
  return Status::Ok();
}

// Refuses to overwrite the input, also through another path or a link.
Status check_distinct(const std::string& in_path, const std::string& out_path) {
  std::error_code ec;
  if (in_path == out_path || std::filesystem::equivalent(in_path, out_path, ec)) {
    return Status::Error("output '" + out_path + "' is the input file; write to another path");
  }
  return Status::Ok();
}

}  // namespace

// K-quants fall back to the 32-block type of at least as many bits, anything else to F16.
DType row_fallback_type(DType t, int64_t n_cols) {
  if (n_cols % block_of(t) == 0) return t;
  DType f = DType::F16;
  if (t == DType::Q4_K) f = DType::Q5_0;
  if (t == DType::Q5_K) f = DType::Q5_1;
  if (t == DType::Q6_K) f = DType::Q8_0;
  return n_cols % block_of(f) == 0 ? f : DType::F16;
}

std::span<const QuantMixInfo> quant_mixes() { return kMixes; }

const QuantMixInfo& quant_mix_info(QuantMix mix) {
  for (const QuantMixInfo& m : kMixes)
    if (m.mix == mix) return m;
  return kMixes[0];  // unreachable for values of the enum
}

std::optional<QuantMix> quant_mix_from_name(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "Q4_K") return QuantMix::kQ4_K_M;
  if (upper == "Q5_K") return QuantMix::kQ5_K_M;
  for (const QuantMixInfo& m : kMixes)
    if (m.name == upper) return m.mix;
  return std::nullopt;
}

StatusOr<std::vector<TensorPlan>> plan_quantization(const GgufFile& in,
                                                    const QuantizeOptions& opts) {
  StatusOr<ModelFacts> facts = model_facts(in);
  if (!facts.ok()) return facts.status();
  const std::vector<GgufTensor>& tensors = in.tensors();

  // llama.cpp visits tensors sorted by layer (non-layer tensors first), then by name; its
  // attn_v / ffn_down counters follow that order, so visiting in it reproduces its choices
  // whatever order the file stores the tensors in.
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
    return la != lb ? la < lb : tensors[a].name < tensors[b].name;
  });

  TypeChooser chooser(opts, *facts);
  std::vector<TensorPlan> plans(tensors.size());
  for (size_t i : order) {
    const GgufTensor& t = tensors[i];
    TensorPlan& p = plans[i];
    p.name = std::string(t.name);
    p.n_dims = t.n_dims;
    std::copy(t.ne, t.ne + kGgufMaxDims, p.ne);
    p.src_type = t.dtype;
    p.src_bytes = t.bytes;
    p.dst_type = t.dtype;
    if (is_quantizable(t)) {
      StatusOr<DType> dst = chooser.choose(t.name, t.ne[0], &p.note);
      if (!dst.ok()) return dst.status();
      p.dst_type = *dst;
    }
    p.convert = p.dst_type != p.src_type;
    if (p.convert) MUSE_RETURN_IF_ERROR(check_convertible(p, opts));
    p.dst_bytes = p.convert ? row_bytes(p.dst_type, p.ne[0]) * uint64_t(p.n_elements() / p.ne[0])
                            : p.src_bytes;
  }
  return plans;
}

StatusOr<QuantizeSummary> quantize_model(const std::string& in_path, const std::string& out_path,
                                         const QuantizeOptions& opts, ThreadPool& pool,
                                         const QuantizeProgressFn& progress) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  MUSE_RETURN_IF_ERROR(check_distinct(in_path, out_path));
  StatusOr<GgufFile> in = GgufFile::open(in_path);
  if (!in.ok()) return in.status();
  StatusOr<std::vector<TensorPlan>> plans = plan_quantization(*in, opts);
  if (!plans.ok()) return plans.status().WithContext(in_path);

  GgufWriter writer;
  for (const GgufKv& kv : in->kvs()) writer.set_value(kv.key, kv.value);
  writer.set_u32("general.quantization_version", kQuantizationVersion);
  writer.set_u32("general.file_type", uint32_t(opts.mix));

  QuantizeSummary summary;
  const std::vector<GgufTensor>& tensors = in->tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorPlan& p = (*plans)[i];
    const GgufTensor& src = tensors[i];
    auto fill = [&, i](std::span<uint8_t> dst) -> Status {
      const Clock::time_point t0 = Clock::now();
      if (p.convert) {
        MUSE_RETURN_IF_ERROR(convert_tensor(src, p, pool, dst));
      } else if (dst.size() == src.bytes) {
        std::memcpy(dst.data(), src.data, dst.size());
      } else {
        return Status::Error("internal error: copied tensor changed size");
      }
      if (progress) {
        progress({.index = i,
                  .count = tensors.size(),
                  .tensor = &p,
                  .seconds = std::chrono::duration<double>(Clock::now() - t0).count()});
      }
      return Status::Ok();
    };
    MUSE_RETURN_IF_ERROR(writer.add_tensor(
        p.name, p.dst_type, std::span<const int64_t>(p.ne, size_t(p.n_dims)), std::move(fill)));
    summary.n_tensors += 1;
    summary.n_converted += p.convert ? 1 : 0;
    summary.n_elements += p.n_elements();
    summary.in_data_bytes += p.src_bytes;
    summary.out_data_bytes += p.dst_bytes;
  }
  MUSE_RETURN_IF_ERROR(writer.write(out_path).WithContext("writing " + out_path));

  std::error_code ec;
  summary.in_file_bytes = in->file_size();
  summary.out_file_bytes = std::filesystem::file_size(out_path, ec);
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace muse
