#include "kernels/tiled.h"

#include <algorithm>
#include <cstring>

#include "quant/blocks.h"
#include "quant/quant.h"

namespace muse {

namespace {

constexpr size_t kScaleBytes = 4 * sizeof(fp16_t);

size_t tile_block_bytes(DType t) { return size_t(kTileGroupRows) * dtype_info(t).type_size; }

// Quant bytes per GGML block: 32 int8 (Q8_0) or 16 nibble pairs (Q4_0).
int quant_bytes(DType t) { return t == DType::Q8_0 ? 32 : 16; }

// Where quant byte j of row r goes among a tile block's quant bytes: 8-byte chunks, all four
// rows' chunk 0, then all four rows' chunk 1, ...
size_t quant_offset(int r, int j) { return size_t(32 * (j / 8) + 8 * r + j % 8); }

}  // namespace

bool tileable(DType t) { return t == DType::Q8_0 || t == DType::Q4_0; }

size_t tiled_bytes(DType t, int64_t n_rows, int64_t n_k) {
  const int64_t tiles = (n_rows + kTileGroupRows - 1) / kTileGroupRows;
  return size_t(tiles) * kTileGroupRows * row_bytes(t, n_k);
}

void tile_rows(DType t, const void* rows, int64_t n_rows, int64_t n_k, void* tiled,
               int64_t row_begin, int64_t row_end) {
  const size_t rb = row_bytes(t, n_k), tb = tile_block_bytes(t);
  const size_t bb = dtype_info(t).type_size;
  const int64_t nb = n_k / dtype_info(t).block_size;
  const int n_chunks = quant_bytes(t) / 8;
  const auto* src = static_cast<const uint8_t*>(rows);
  auto* dst = static_cast<uint8_t*>(tiled);
  for (int64_t t0 = row_begin; t0 < row_end; t0 += kTileGroupRows) {
    const uint8_t* row[kTileGroupRows];
    for (int r = 0; r < kTileGroupRows; ++r)
      row[r] = src + size_t(std::min(t0 + r, n_rows - 1)) * rb;
    uint8_t* out = dst + size_t(t0) * rb;
    for (int64_t b = 0; b < nb; ++b, out += tb) {
      for (int r = 0; r < kTileGroupRows; ++r) {
        const uint8_t* blk = row[r] + size_t(b) * bb;
        std::memcpy(out + r * sizeof(fp16_t), blk, sizeof(fp16_t));  // d leads both blocks
        for (int k = 0; k < n_chunks; ++k)
          std::memcpy(out + kScaleBytes + quant_offset(r, 8 * k), blk + sizeof(fp16_t) + 8 * k, 8);
      }
    }
  }
}

void untile_block(DType t, const uint8_t* tile, int r, int64_t b, void* block) {
  const uint8_t* in = tile + size_t(b) * tile_block_bytes(t);
  auto* out = static_cast<uint8_t*>(block);
  std::memcpy(out, in + r * sizeof(fp16_t), sizeof(fp16_t));
  for (int j = 0; j < quant_bytes(t); ++j)
    out[sizeof(fp16_t) + j] = in[kScaleBytes + quant_offset(r, j)];
}

}  // namespace muse
