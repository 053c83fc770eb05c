// `deepseek2` (DeepSeek-V2, V2-Lite, V2.5, V3): multi-head latent attention, dense leading
// layers, then routed experts plus always-on shared experts. V2 files carry no gating key
// and mean softmax without renormalisation; V3 files say sigmoid, renormalise, and add the
// per-expert selection bias `exp_probs_b`. Routed weights are scaled by
// `expert_weights_scale`.
#include "model/arch/arch.h"

namespace muse {

extern const ArchSpec kArchDeepseek2 = {
    .name = "deepseek2",
    .attention = AttentionKind::kMla,
    .ffn = FfnKind::kMoe,
    .rope_style = RopeStyle::Normal,
    .qkv_bias = Presence::kAbsent,
    .out_bias = Presence::kAbsent,
    .expert_gating = ExpertGating::kSoftmax,
    .expert_weights_norm = false,
    .expert_weights_scaled = true,
};

}  // namespace muse
