// `qwen2moe` (Qwen1.5-MoE, Qwen2-57B-A14B): qwen2 attention (q/k/v biases, NeoX RoPE) and a
// mixture-of-experts FFN in every layer: softmax router, top-k weights not renormalised,
// plus one shared expert scaled by a per-token sigmoid gate.
#include "model/arch/arch.h"

namespace muse {

extern const ArchSpec kArchQwen2Moe = {
    .name = "qwen2moe",
    .ffn = FfnKind::kMoe,
    .rope_style = RopeStyle::NeoX,
    .qkv_bias = Presence::kRequired,
    .out_bias = Presence::kAbsent,
    .expert_gating = ExpertGating::kSoftmax,
    .expert_weights_norm = false,
    .shared_expert_gate = SharedExpertGate::kSigmoid,
};

}  // namespace muse
