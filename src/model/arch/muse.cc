// `muse`: our architecture (ARCHITECTURE.md section 5; keys in docs/model.md). For text it
// is the deepseek2 block — MLA, leading dense layers, routed + shared experts — with the
// gating, renormalisation and scale always stated by keys; media tensors come later.
#include "model/arch/arch.h"

namespace muse {

extern const ArchSpec kArchMuse = {
    .name = "muse",
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
