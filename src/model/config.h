// Hyperparameters of a decoder-only transformer, read from GGUF metadata (`<arch>.*` keys, as
// llama.cpp's converters write them). One field visitor (`visit_config_fields`) drives
// parsing, printing and validation, so a new key is one line there.
// Dimension glossary used across model/: T tokens in a step, D n_embd, H n_head, Hkv
// n_head_kv, Dh head dim, F n_ff, V n_vocab, L n_layer, P positions in the KV cache.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "gguf/gguf.h"
#include "kernels/ops.h"

namespace muse {

enum class RopeScaling { kNone, kLinear, kYarn };

struct ModelConfig {
  std::string arch;         // general.architecture
  int64_t n_vocab = 0;      // V: rows of token_embd
  int64_t n_ctx_train = 0;  // context_length the model was trained with
  int64_t n_embd = 0;       // D
  int64_t n_layer = 0;      // L
  int64_t n_ff = 0;         // F
  int64_t n_head = 0;       // H
  int64_t n_head_kv = 0;    // Hkv; divides H (GQA)
  int64_t head_dim_k = 0;   // attention.key_length; default D / H
  int64_t head_dim_v = 0;   // attention.value_length; default D / H
  float rms_eps = 1e-5f;

  RopeStyle rope_style = RopeStyle::Normal;  // set by the architecture, not by a key
  int64_t n_rot = 0;                         // rope.dimension_count; default head_dim_k
  float rope_freq_base = 10000.0f;
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_scaling_factor = 1.0f;  // context extension factor (1 / freq_scale)
  float rope_attn_factor = 1.0f;     // rope.scaling.attn_factor (YaRN magnitude)
  int64_t rope_n_ctx_orig = 0;       // rope.scaling.original_context_length
  float yarn_beta_fast = 32.0f;      // YaRN ramp bounds (Peng et al. 2023, section 3.2)
  float yarn_beta_slow = 1.0f;

  // The RoPE parameters every layer uses (freq_factors left null; see ModelWeights).
  RopeParams rope_params() const;
};

// Reads `<arch>.*` keys; architecture-specific defaults (rope style) come from the caller.
// Errors name the key: "llama.attention.head_count: missing".
StatusOr<ModelConfig> read_model_config(const GgufFile& file, RopeStyle rope_style);

// Shape consistency: divisibility, positive sizes, rope dims within the head.
Status validate_model_config(const ModelConfig& c);

// "n_embd = 1024\nn_layer = 16\n..." for `muse info` and logs.
std::string describe_model_config(const ModelConfig& c);

}  // namespace muse
