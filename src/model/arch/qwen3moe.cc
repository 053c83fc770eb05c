// `qwen3moe` (Qwen3-30B-A3B, Qwen3-235B-A22B): qwen3 attention (QK-norm, NeoX RoPE, no
// biases) and routed experts in every layer: softmax router, top-k weights renormalised to
// sum to one, no shared expert.
#include "model/arch/arch.h"

namespace muse {

extern const ArchSpec kArchQwen3Moe = {
    .name = "qwen3moe",
    .ffn = FfnKind::kMoe,
    .rope_style = RopeStyle::NeoX,
    .qk_norm = QkNorm::kPerHead,
    .qkv_bias = Presence::kAbsent,
    .out_bias = Presence::kAbsent,
    .expert_gating = ExpertGating::kSoftmax,
    .expert_weights_norm = true,
};

}  // namespace muse
