// Work split of the quantized matmul: quantize activations (by column, in parallel), then
// hand out row chunks of the weight matrix. Each chunk walks its rows in tiles of
// kTileRows and, for each tile, every column group of kTileCols, so a weight tile is loaded
// from memory once and reused from L1 for all columns.
#include "kernels/matmul.h"

#include "kernels/quantize_act.h"

#include <algorithm>

#include "kernels/qdot.h"
#include "quant/quant.h"

namespace muse {

Status check_matmul(const QMatrix& w) {
  const auto info = dtype_info_of(uint32_t(w.type));
  if (!info || !info->supported || w.type == DType::Q8_K)
    return Errorf("matmul: weight type %u is not supported", unsigned(w.type));
  if (w.n_k <= 0 || w.n_rows <= 0 || w.n_k % info->block_size != 0)
    return Errorf("matmul: row length %lld is not a positive multiple of %s's block size %lld",
                  (long long)w.n_k, std::string(info->name).c_str(), (long long)info->block_size);
  return Status::Ok();
}

void matmul(ThreadPool& pool, MatmulScratch& scratch, const QMatrix& w, const float* x,
            int64_t n_cols, float* y) {
  const ActType act = act_type(w.type);
  const size_t a_stride =
      act == ActType::F32 ? size_t(w.n_k) * sizeof(float) : act_row_bytes(act, w.n_k);
  const uint8_t* a = reinterpret_cast<const uint8_t*>(x);
  if (act != ActType::F32) {
    uint8_t* q = scratch.acts(a_stride * n_cols);
    pool.run(n_cols, [&](int64_t c, int) {
      quantize_act(act, x + c * w.n_k, q + c * a_stride, w.n_k);
    });
    a = q;
  }

  const size_t w_stride = row_bytes(w.type, w.n_k);
  const uint8_t* wbytes = static_cast<const uint8_t*>(w.data);
  // Chunks of whole tiles; enough chunks per thread that the atomic counter can balance a
  // slow core, few enough that each chunk streams a long contiguous run of weights (the
  // hardware prefetcher needs a few KB of a stream to ramp up, so small chunks of the
  // 1-3 MB matrices of a small model cost ~40% of decode bandwidth): at least
  // kMinChunkBytes per chunk, at most 8 chunks per thread.
  constexpr int64_t kMinChunkBytes = 256 << 10;
  const int64_t n_tiles = (w.n_rows + kTileRows - 1) / kTileRows;
  const int64_t by_size = int64_t(w_stride) * w.n_rows / kMinChunkBytes;
  const int64_t n_chunks = std::min<int64_t>(
      n_tiles, std::clamp<int64_t>(by_size, pool.size(), int64_t(pool.size()) * 8));
  const int64_t tiles_per_chunk = (n_tiles + n_chunks - 1) / n_chunks;

  pool.run(n_chunks, [&](int64_t chunk, int) {
    const int64_t r_begin = chunk * tiles_per_chunk * kTileRows;
    const int64_t r_end = std::min(w.n_rows, r_begin + tiles_per_chunk * kTileRows);
    for (int64_t r = r_begin; r < r_end; r += kTileRows) {
      const int n_r = int(std::min<int64_t>(kTileRows, r_end - r));
      for (int64_t c = 0; c < n_cols; c += kTileCols) {
        dot_tile({.type = w.type,
                  .n_k = w.n_k,
                  .w = wbytes + r * w_stride,
                  .w_stride = w_stride,
                  .n_rows = n_r,
                  .a = a + c * a_stride,
                  .a_stride = a_stride,
                  .n_cols = int(std::min<int64_t>(kTileCols, n_cols - c)),
                  .out = y + c * w.n_rows + r,
                  .out_stride = size_t(w.n_rows)});
      }
    }
  });
}

}  // namespace muse
