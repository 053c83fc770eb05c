// What distinguishes one GGUF `general.architecture` from another, as data: one ArchSpec per
// architecture file (arch/<name>.cc) and one line per architecture in arch/registry.cc.
// Variants are enums, never inferred from shapes or layer counts (STYLE.md).
#pragma once

#include <string_view>
#include <vector>

#include "kernels/ops.h"

namespace muse {

// The attention half of a block.
enum class AttentionKind {
  kGqa,  // q/k/v projections, grouped-query heads (llama, qwen2, qwen3, qwen2moe, qwen3moe)
  kMla,  // multi-head latent attention: low-rank kv with a shared rope key (DeepSeek-V2)
};

// The FFN half of a block.
enum class FfnKind {
  kDense,  // SwiGLU in every layer
  kMoe,    // routed SwiGLU experts (after `leading_dense_block_count` dense layers)
};

// Per-head RMSNorm of q and k before RoPE (qwen3's `attn_q_norm` / `attn_k_norm`).
enum class QkNorm { kNone, kPerHead };

// Router nonlinearity (values are GGUF `<arch>.expert_gating_func`).
enum class ExpertGating { kSoftmax = 1, kSigmoid = 2 };

// Bound on `expert_group_count` (DeepSeek-V3 uses 8).
constexpr int64_t kMaxExpertGroups = 64;

// How the shared expert's output is scaled before it joins the routed experts' sum.
enum class SharedExpertGate {
  kNone,     // added as is (deepseek2)
  kSigmoid,  // times sigmoid(ffn_gate_inp_shexp · h), a per-token scalar (qwen2moe)
};

// Tensors beyond the base block that an architecture may carry. Optional ones are used
// when present (llama files rarely have biases; qwen2 files always have q/k/v biases).
enum class Presence { kAbsent, kOptional, kRequired };

struct ArchSpec {
  std::string_view name;  // general.architecture
  AttentionKind attention = AttentionKind::kGqa;
  FfnKind ffn = FfnKind::kDense;
  RopeStyle rope_style = RopeStyle::Normal;
  QkNorm qk_norm = QkNorm::kNone;
  Presence qkv_bias = Presence::kOptional;  // attn_{q,k,v}.bias
  Presence out_bias = Presence::kOptional;  // attn_output.bias

  // Mixture of experts (FfnKind::kMoe). Defaults for files without the matching keys.
  ExpertGating expert_gating = ExpertGating::kSoftmax;  // `expert_gating_func`
  bool expert_weights_norm = false;                     // `expert_weights_norm`
  bool expert_weights_scaled = false;  // multiply by `expert_weights_scale` (deepseek2)
  SharedExpertGate shared_expert_gate = SharedExpertGate::kNone;
};

// nullptr when unknown.
const ArchSpec* find_arch(std::string_view name);
// Names in registry order, for error messages and `muse info`.
std::vector<std::string_view> arch_names();

}  // namespace muse
