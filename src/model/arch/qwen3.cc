// `qwen3`: no biases, per-head RMSNorm on q and k before RoPE (QK-norm), NeoX RoPE.
#include "model/arch/arch.h"

namespace muse {

extern const ArchSpec kArchQwen3 = {
    .name = "qwen3",
    .rope_style = RopeStyle::NeoX,
    .qk_norm = QkNorm::kPerHead,
    .qkv_bias = Presence::kAbsent,
    .out_bias = Presence::kAbsent,
};

}  // namespace muse
