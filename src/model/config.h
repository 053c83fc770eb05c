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
#include "model/arch/arch.h"

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

  AttentionKind attention = AttentionKind::kGqa;  // set by the architecture, not by a key
  RopeStyle rope_style = RopeStyle::Normal;       // set by the architecture
  int64_t n_rot = 0;                              // rope.dimension_count; default head_dim_k
  float rope_freq_base = 10000.0f;
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_scaling_factor = 1.0f;  // context extension factor (1 / freq_scale)
  float rope_attn_factor = 1.0f;     // rope.scaling.attn_factor (YaRN magnitude)
  int64_t rope_n_ctx_orig = 0;       // rope.scaling.original_context_length
  float yarn_beta_fast = 32.0f;      // YaRN ramp bounds (Peng et al. 2023, section 3.2)
  float yarn_beta_slow = 1.0f;
  float rope_yarn_log_mul = 0.0f;  // rope.scaling.yarn_log_multiplier (deepseek2 mscale)

  // Mixture of experts (ArchSpec::ffn == FfnKind::kMoe). E n_expert, K n_expert_used.
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_leading_dense = 0;  // leading_dense_block_count: dense FFN in layers [0, n)
  int64_t n_ff_exp = 0;         // expert_feed_forward_length
  int64_t n_expert_shared = 0;  // expert_shared_count (deepseek2): shared FFN = n * n_ff_exp
  int64_t n_ff_shexp = 0;       // shared expert width: expert_shared_feed_forward_length (qwen2moe)
  int64_t n_expert_groups = 0;  // expert_group_count: group-limited routing (DeepSeek-V3)
  int64_t n_group_used = 0;     // expert_group_used_count
  ExpertGating expert_gating = ExpertGating::kSoftmax;
  bool expert_weights_norm = false;   // renormalise the top-k weights to sum to one
  float expert_weights_scale = 1.0f;  // applied when the architecture scales routed weights

  // Multi-head latent attention (ArchSpec::attention == AttentionKind::kMla). head_dim_k is
  // qk_nope + qk_rope (= n_rot), head_dim_v the value head.
  int64_t q_lora_rank = 0;   // 0: full-rank q projection (DeepSeek-V2-Lite)
  int64_t kv_lora_rank = 0;  // latent width: the KV cache row is [c_kv ; k_rope]
  int64_t qk_nope() const { return head_dim_k - n_rot; }

  // The RoPE parameters every layer uses (freq_factors left null; see ModelWeights).
  RopeParams rope_params() const;
  // Softmax scale of q·k: 1/sqrt(head_dim_k), times DeepSeek's YaRN mscale² for MLA.
  float kq_scale() const;
};

// Reads `<arch>.*` keys; architecture-specific defaults (rope style, expert gating) come from
// `arch`. Errors name the key: "llama.attention.head_count: missing".
StatusOr<ModelConfig> read_model_config(const GgufFile& file, const ArchSpec& arch);

// Shape consistency against the architecture: divisibility, positive sizes, rope dims
// within the head, expert counts, MLA ranks.
Status validate_model_config(const ModelConfig& c, const ArchSpec& arch);

// "n_embd = 1024\nn_layer = 16\n..." for `muse info` and logs.
std::string describe_model_config(const ModelConfig& c);

}  // namespace muse
