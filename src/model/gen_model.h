// Random-weight GGUF models with real structure (`muse gen-model`): the tensors and keys
// llama.cpp expects for an architecture, a small valid SPM tokenizer, Gaussian weights.
// Invariants: output is a pure function of the options (thread count does not change a
// byte); memory stays bounded by one tensor, generated and quantized while the file is written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace muse {

struct GenModelOptions {
  std::string arch = "llama";
  std::string name;         // general.name; empty means "muse-gen-<arch>"
  int64_t n_embd = 256;     // hidden size
  int64_t n_layer = 2;      // transformer blocks
  int64_t n_head = 4;       // query heads
  int64_t n_head_kv = 0;    // key/value heads; 0 means n_head (no GQA)
  int64_t n_ff = 768;       // FFN hidden size
  int64_t n_vocab = 512;    // at least 259: 3 specials + 256 byte tokens
  int64_t n_ctx = 2048;     // context_length key
  DType type = DType::F32;  // of 2-D weights; norms are always F32
  uint64_t seed = 1;
  float rope_freq_base = 10000.0f;
  float rms_norm_eps = 1e-5f;
  int n_threads = 2;  // generation/quantization workers; does not affect output
};

struct GenModelSummary {
  int64_t n_tensors = 0;
  int64_t n_params = 0;
  uint64_t n_bytes = 0;  // tensor data, without header and padding
};

// Architectures gen-model can write, e.g. {"llama"}.
std::vector<std::string_view> gen_model_archs();

// Weight types gen-model can quantize to (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1,
// q2_K .. q6_K).
bool gen_model_type_allowed(DType t);

// Checks shapes against the architecture and the weight type; the message names the
// option at fault ("n_head 7 does not divide n_embd 256").
Status validate_gen_model(const GenModelOptions& opts);

// Validates, then writes the model to `path` (atomically: via `<path>.tmp`).
StatusOr<GenModelSummary> gen_model(const GenModelOptions& opts, const std::string& path);

}  // namespace muse
