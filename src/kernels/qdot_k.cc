// K-quant dot tiles (Q2_K..Q6_K against Q8_K). No SIMD kernels yet: every K type falls
// back to quant/'s scalar reference through dot_tile_ref.
#include "kernels/qdot.h"

namespace muse {

bool dot_tile_kquant(const DotTileArgs&) { return false; }
bool dot_tile_kquant_has_simd(DType) { return false; }

}  // namespace muse
