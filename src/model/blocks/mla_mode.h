// How multi-head latent attention attends over its latent cache (blocks/mla.h explains both).
#pragma once

#include <cstdint>

namespace muse {

enum class MlaMode {
  kAuto,          // absorbed below kMlaDecompressMinTokens tokens per step, else decompressed
  kAbsorbed,      // fold W_uk into the query, attend over the latent rows
  kDecompressed,  // expand every cached row to per-head keys and values, then attend
};

// Steps this long or longer decompress under kAuto: expanding P cached rows costs about
// H (N + Dv) C multiply-adds each, repaid by saving about H (2C - N - Dv) per query token and
// cached row, and the expansion runs as one efficient matrix product.
constexpr int64_t kMlaDecompressMinTokens = 32;

}  // namespace muse
