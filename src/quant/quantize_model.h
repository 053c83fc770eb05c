// Whole-model quantization (`muse quantize`): rewrites a GGUF model with its weight matrices
// in a block format, each tensor's type chosen by llama.cpp's rules for the named mix
// (`llama-quantize`'s Q4_K_M and friends, see quantize_model.cc for the rule table).
// Invariants: every metadata KV is copied, only `general.file_type` and
// `general.quantization_version` change; tensor order, names and shapes are kept; every
// decision is made (and every error found) before a byte is written; the output goes to
// `<out>.tmp` and is renamed, so a failure never leaves a partial file; memory holds one
// output tensor plus one row of scratch per worker.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "gguf/gguf.h"
#include "threading/thread_pool.h"

namespace muse {

// The mixes muse writes; each value is llama.cpp's `llama_ftype` number, which is what
// `general.file_type` holds.
enum class QuantMix : uint32_t {
  kQ4_0 = 2,
  kQ8_0 = 7,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ5_K_S = 16,
  kQ5_K_M = 17,
  kQ6_K = 18,
};

struct QuantMixInfo {
  std::string_view name;  // as llama-quantize spells it: "Q4_K_M"
  QuantMix mix;
  DType base;                    // the type of every weight matrix no rule upgrades
  std::string_view description;  // one line for `--help`
};

std::span<const QuantMixInfo> quant_mixes();  // in the order `--help` lists them
const QuantMixInfo& quant_mix_info(QuantMix mix);
// Case-insensitive. "Q4_K" and "Q5_K" mean Q4_K_M and Q5_K_M, as in llama-quantize.
std::optional<QuantMix> quant_mix_from_name(std::string_view name);

// The type a tensor whose rows have `n_cols` elements is stored in when they are not whole
// blocks of `t`, as llama-quantize falls back: q4_K -> q5_0, q5_K -> q5_1, q6_K -> q8_0, and
// f16 for any other type or when even 32 does not divide `n_cols`. `t` itself when it fits.
DType row_fallback_type(DType t, int64_t n_cols);

struct QuantizeOptions {
  QuantMix mix = QuantMix::kQ4_K_M;
  // Every quantizable tensor gets the mix's base type: no output / attn_v / ffn_down
  // upgrades (llama-quantize `--pure`). Row-length fallbacks still apply.
  bool pure = false;
  // A tensor that is already quantized to a type other than its target is dequantized and
  // quantized again (llama-quantize `--allow-requantize`); without this it is an error,
  // because the second rounding stacks on the first. Tensors already of their target type
  // are always copied unchanged.
  bool allow_requantize = false;
};

// What happens to one tensor; decided for all tensors before anything is written.
struct TensorPlan {
  std::string name;
  int n_dims = 0;
  int64_t ne[kGgufMaxDims] = {1, 1, 1, 1};  // GGML order, as in the input
  DType src_type = DType::F32;
  DType dst_type = DType::F32;
  uint64_t src_bytes = 0;
  uint64_t dst_bytes = 0;
  bool convert = false;  // false: the bytes are copied unchanged (dst_type == src_type)
  std::string note;      // why the type differs from the mix's base type, or empty

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

// Chooses every tensor's type. Errors: an input tensor that cannot be converted (an integer
// or IQ type that must change, or a quantized one without `allow_requantize`), a MoE tensor
// name without a valid layer number.
StatusOr<std::vector<TensorPlan>> plan_quantization(const GgufFile& in,
                                                    const QuantizeOptions& opts);

struct QuantizeProgress {
  size_t index = 0;  // of the tensor just written, 0-based, in file order
  size_t count = 0;
  const TensorPlan* tensor = nullptr;
  double seconds = 0;  // spent converting and writing this tensor
};
using QuantizeProgressFn = std::function<void(const QuantizeProgress&)>;

struct QuantizeSummary {
  int64_t n_tensors = 0;
  int64_t n_converted = 0;  // tensors whose type changed (the rest were copied)
  int64_t n_elements = 0;
  uint64_t in_file_bytes = 0;
  uint64_t out_file_bytes = 0;
  uint64_t in_data_bytes = 0;  // tensor data only
  uint64_t out_data_bytes = 0;
  double seconds = 0;
};

// Reads `in_path`, writes `out_path` (refused when it names the input file). Rows of each
// tensor are converted in parallel on `pool`; the result does not depend on its size.
// `progress`, when set, is called after each tensor, on the calling thread.
StatusOr<QuantizeSummary> quantize_model(const std::string& in_path, const std::string& out_path,
                                         const QuantizeOptions& opts, ThreadPool& pool,
                                         const QuantizeProgressFn& progress = nullptr);

}  // namespace muse
