// The 4-row tiled weight layout of Q8_0 and Q4_0 matrices, made at load from GGML's row
// layout so the matmul tiles read each block of four rows as it is consumed: no per-block
// shuffles to interleave the rows, no gathering of four scales from four rows, one
// sequential stream per four rows instead of four.
//
// Rows 4t..4t+3 form tile t; a tile is n_k / 32 tile blocks, tile block b holding block b of
// each of its four rows:
//   Q8_0 (136 bytes): the four fp16 scales, then 128 quant bytes; chunk k (quants 8k..8k+7)
//        of row r at byte 32k + 8r.
//   Q4_0 (72 bytes): the four fp16 scales, then 64 nibble bytes: bytes 0-7 of rows 0..3
//        (8 each), then bytes 8-15 of rows 0..3.
// A tile block is exactly four GGML blocks in size, so tile t starts where row 4t did and an
// expert slice of a 3-D tensor (rows e*n..(e+1)*n, n a multiple of 4) starts where it did. A
// last, partial tile repeats its last row.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace muse {

enum class WeightLayout : uint8_t { kRows, kTiles4 };

constexpr int kTileGroupRows = 4;

// Q8_0 and Q4_0.
bool tileable(DType t);

// Bytes of the tiled copy: whole tiles, ceil(n_rows / 4) * 4 rows.
size_t tiled_bytes(DType t, int64_t n_rows, int64_t n_k);

// Writes the tiled copy of [n_rows][n_k] GGML rows of a tileable type; rows [row_begin,
// row_end) only (multiples of 4, except a row_end of n_rows), so tiles can be written in
// parallel.
void tile_rows(DType t, const void* rows, int64_t n_rows, int64_t n_k, void* tiled,
               int64_t row_begin, int64_t row_end);

// Block b of row r (0..3) of the tile at `tile` (its first tile block), as a GGML block
// (BlockQ8_0 or BlockQ4_0) written to `block`.
void untile_block(DType t, const uint8_t* tile, int r, int64_t b, void* block);

}  // namespace muse
