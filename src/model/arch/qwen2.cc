// `qwen2` (Qwen2 / Qwen2.5): the llama block with q/k/v biases and NeoX (half-split) RoPE.
#include "model/arch/arch.h"

namespace muse {

extern const ArchSpec kArchQwen2 = {
    .name = "qwen2",
    .rope_style = RopeStyle::NeoX,
    .qkv_bias = Presence::kRequired,
    .out_bias = Presence::kAbsent,
};

}  // namespace muse
