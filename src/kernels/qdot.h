// Dot-product tiles behind the quantized matmul: out[c][r] = dot(weight row r, activation
// column c) for a small tile of rows and columns. SIMD per ISA, chosen at run time by
// Highway's dispatch; types without a SIMD kernel fall back to quant/'s scalar reference.
// Activations arrive already quantized to act_type(t) (see quant/quant.h).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/tiled.h"

namespace muse {

// The largest tile a DotTile call handles: one row group of the tiled layout.
constexpr int kTileRows = kTileGroupRows;
constexpr int kTileCols = 4;
constexpr int kPanelCols = 16;  // the most columns a dot_panel call handles

struct DotTileArgs {
  DType type;
  int64_t n_k;       // elements per row (a multiple of the type's block size)
  const uint8_t* w;  // first weight row, or with `tiled` the first block of a 4-row tile
  size_t w_stride;   // bytes between weight rows (dot_tile/dot_panel ignore it when tiled)
  int n_rows;        // 1..kTileRows (dot_rows: any)
  const uint8_t* a;  // first activation column (act_type(type))
  size_t a_stride;   // bytes between activation columns
  int n_cols;        // 1..kTileCols (dot_panel: ..kPanelCols; dot_rows: any)
  float* out;        // out[c * out_stride + r]
  size_t out_stride;
  bool tiled = false;  // w is in kernels/tiled.h's layout (Q8_0 and Q4_0 only)
};

void dot_tile(const DotTileArgs& args);

// Up to kTileRows rows x kPanelCols columns in one call. Legacy block types on x86 prepare
// each weight block once for all the columns (accumulators in L1); other types and targets
// run dot_tile over groups of kTileCols columns. Either way every output is bit-identical
// to the dot_tile result for the same (row, column).
void dot_panel(const DotTileArgs& args);

// Any number of rows (args.n_rows) and columns: 4-row tiles one after another, each against
// every column (panels of kPanelCols), in one dispatched call for the legacy block types.
// Needs w_stride = the row size in bytes also when tiled (tile t starts at w + 4t * w_stride).
// Bit-identical to dot_tile per (row, column).
void dot_rows(const DotTileArgs& args);

// K-quant tiles (Q2_K..Q6_K against Q8_K), in kernels/qdot_k.cc: return false when the
// type has no SIMD kernel there.
bool dot_tile_kquant(const DotTileArgs& args);

namespace qdot_internal {
// dot_rows' walk: fn(panel) for every kRows rows of p's rows (outermost, so their weights
// stay in L1 for all the columns) and every run of up to kPanelCols columns.
template <int kRows = kTileRows, class Fn>
inline void for_each_panel(const DotTileArgs& p, Fn&& fn) {
  for (int64_t r = 0; r < p.n_rows; r += kRows) {
    for (int c = 0; c < p.n_cols; c += kPanelCols) {
      DotTileArgs u = p;
      u.w = p.w + size_t(r) * p.w_stride;
      u.n_rows = int(std::min<int64_t>(kRows, p.n_rows - r));
      u.a = p.a + size_t(c) * p.a_stride;
      u.n_cols = std::min(kPanelCols, p.n_cols - c);
      u.out = p.out + r + size_t(c) * p.out_stride;
      fn(u);
    }
  }
}
}  // namespace qdot_internal

// Scalar reference of dot_tile, through quant/'s vec_dot_ref.
void dot_tile_ref(const DotTileArgs& args);

}  // namespace muse
