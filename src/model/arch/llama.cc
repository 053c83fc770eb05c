// `llama` (Touvron et al. 2023): pre-norm, GQA, normal (interleaved-pair) RoPE, SwiGLU.
// Llama 3's `rope_freqs` factors and optional biases are handled by the dense block.
#include "model/arch/arch.h"

namespace muse {

extern const ArchSpec kArchLlama = {
    .name = "llama",
    .rope_style = RopeStyle::Normal,
};

}  // namespace muse
