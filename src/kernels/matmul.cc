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
  if (!info || !info->supported || w.type == DType::Q8_K) {
    if (info) return Errorf("weight type %s is not supported", std::string(info->name).c_str());
    return Errorf("weight type id %u is not supported", unsigned(w.type));
  }
  if (w.n_k <= 0 || w.n_rows <= 0 || w.n_k % info->block_size != 0)
    return Errorf("matmul: row length %lld is not a positive multiple of %s's block size %lld",
                  (long long)w.n_k, std::string(info->name).c_str(), (long long)info->block_size);
  return Status::Ok();
}

namespace {

constexpr int kMaxMulti = 4;

// Chunks of whole tiles; enough chunks per thread that the atomic counter can balance a slow
// core, few enough that each chunk streams a long contiguous run of weights (the hardware
// prefetcher needs a few KB of a stream to ramp up, and every chunk start is a new stream):
// at least kMinChunkBytes per chunk, at most 8 chunks per thread. 1 MiB rather than 256 KiB
// took the 250M Q8_0 llama's decode from 106.3 to 109.0 t/s (medians of 3 `muse bench -n 32
// -r 9` runs each), with prefill unchanged.
int64_t tiles_per_chunk(const QMatrix& w, int n_threads) {
  constexpr int64_t kMinChunkBytes = 1024 << 10;
  const int64_t n_tiles = (w.n_rows + kTileRows - 1) / kTileRows;
  const int64_t by_size = int64_t(row_bytes(w.type, w.n_k)) * w.n_rows / kMinChunkBytes;
  const int64_t n_chunks =
      std::min<int64_t>(n_tiles, std::clamp<int64_t>(by_size, n_threads, int64_t(n_threads) * 8));
  return (n_tiles + n_chunks - 1) / n_chunks;
}

}  // namespace

void matmul(ThreadPool& pool, MatmulScratch& scratch, const QMatrix& w, const float* x,
            int64_t n_cols, float* y) {
  matmul_multi(pool, scratch, {&w, 1}, x, n_cols, {&y, 1});
}

void matmul_multi(ThreadPool& pool, MatmulScratch& scratch, std::span<const QMatrix> ws,
                  const float* x, int64_t n_cols, std::span<float* const> ys) {
  const int n_mats = int(std::min<size_t>(ws.size(), kMaxMulti));
  if (int(ws.size()) > kMaxMulti) {  // rare: split rather than grow the fixed arrays
    matmul_multi(pool, scratch, ws.subspan(kMaxMulti), x, n_cols, ys.subspan(kMaxMulti));
  }
  const int64_t n_k = ws[0].n_k;

  // Quantize the input once per distinct activation type, into one scratch buffer.
  constexpr int kActTypes = 3;
  size_t act_offset[kActTypes], act_stride[kActTypes], total = 0;
  bool needed[kActTypes] = {false, false, false};
  for (int i = 0; i < n_mats; ++i) needed[int(act_type(ws[i].type))] = true;
  for (int t = 0; t < kActTypes; ++t) {
    act_stride[t] =
        ActType(t) == ActType::F32 ? size_t(n_k) * sizeof(float) : act_row_bytes(ActType(t), n_k);
    act_offset[t] = total;
    if (needed[t] && ActType(t) != ActType::F32) total += act_stride[t] * size_t(n_cols);
  }
  uint8_t* q = scratch.acts(total);
  for (int t = 0; t < kActTypes; ++t) {
    if (!needed[t] || ActType(t) == ActType::F32) continue;
    pool.run(n_cols, [&](int64_t c, int) {
      quantize_act(ActType(t), x + c * n_k, q + act_offset[t] + c * act_stride[t], n_k);
    });
  }

  // Task index -> (matrix, chunk) through prefix sums of the chunk counts.
  int64_t first_task[kMaxMulti + 1] = {0}, chunk_tiles[kMaxMulti];
  for (int i = 0; i < n_mats; ++i) {
    chunk_tiles[i] = tiles_per_chunk(ws[i], pool.size());
    const int64_t n_tiles = (ws[i].n_rows + kTileRows - 1) / kTileRows;
    first_task[i + 1] = first_task[i] + (n_tiles + chunk_tiles[i] - 1) / chunk_tiles[i];
  }
  pool.run(first_task[n_mats], [&](int64_t task, int) {
    int m = 0;
    while (task >= first_task[m + 1]) ++m;
    const QMatrix& w = ws[m];
    const int t = int(act_type(w.type));
    const uint8_t* a =
        t == int(ActType::F32) ? reinterpret_cast<const uint8_t*>(x) : q + act_offset[t];
    const size_t w_stride = row_bytes(w.type, w.n_k);
    const uint8_t* wbytes = static_cast<const uint8_t*>(w.data);
    const int64_t r_begin = (task - first_task[m]) * chunk_tiles[m] * kTileRows;
    const int64_t r_end = std::min(w.n_rows, r_begin + chunk_tiles[m] * kTileRows);
    for (int64_t r = r_begin; r < r_end; r += kTileRows) {
      const int n_r = int(std::min<int64_t>(kTileRows, r_end - r));
      for (int64_t c = 0; c < n_cols; c += kTileCols) {
        dot_tile({.type = w.type,
                  .n_k = w.n_k,
                  .w = wbytes + r * w_stride,
                  .w_stride = w_stride,
                  .n_rows = n_r,
                  .a = a + c * act_stride[t],
                  .a_stride = act_stride[t],
                  .n_cols = int(std::min<int64_t>(kTileCols, n_cols - c)),
                  .out = ys[m] + c * w.n_rows + r,
                  .out_stride = size_t(w.n_rows)});
      }
    }
  });
}

}  // namespace muse
