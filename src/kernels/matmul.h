// Matrix products with quantized weights: y = W x for one activation column (matvec,
// decode) or many (matmul, prefill and batched decode). Activations are quantized once per
// call to the weight type's act_type (quant/quant.h); rows are split across the pool.
//
// Layout (GGML order): W is [n_rows][n_k] row-major, each row row_bytes(type, n_k) bytes;
// x is [n_cols][n_k] floats; y is [n_cols][n_rows] floats.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/tiled.h"
#include "threading/thread_pool.h"

namespace muse {

struct QMatrix {
  DType type;
  const void* data;  // [n_rows][n_k] in `type`, in `layout`
  int64_t n_rows;
  int64_t n_k;
  // kTiles4: rows interleaved by fours (kernels/tiled.h, Q8_0 and Q4_0), made at load.
  WeightLayout layout = WeightLayout::kRows;
};

// One independent product y = W x of a batch (see matmul_batch).
struct MatmulJob {
  QMatrix w;
  const float* x = nullptr;  // [n_cols][w.n_k]
  int64_t n_cols = 0;        // may be 0: the job is skipped
  float* y = nullptr;        // [n_cols][w.n_rows]
};

// Holds the quantized activations and the batch bookkeeping between calls so the hot path
// does not allocate once the buffers have grown to the largest batch seen.
class MatmulScratch {
 public:
  uint8_t* acts(size_t bytes) {
    if (buf_.size() < bytes) buf_.resize(bytes);
    return buf_.data();
  }

  // Bookkeeping of matmul_batch, internal to matmul.cc.
  // One distinct input of a batch, quantized to `act` (an ActType) at buf_[offset].
  struct Input {
    const float* x;
    int64_t n_k, n_cols;
    int act;
    size_t offset, stride;  // stride: bytes per quantized column
    int64_t first_col;      // columns of the inputs before this one
  };
  // One job with its row chunks; plans_ is in hand-out order.
  struct Plan {
    MatmulJob job;
    int input;        // index into inputs_, or -1 for F32 activations (x itself)
    size_t a_stride;  // bytes per activation column
    size_t w_stride;  // bytes per weight row
    double work;      // weight bytes x column tiles: what the chunking balances
    int64_t n_tiles, chunk_tiles;
    int64_t order;  // position in the caller's span, to break ties deterministically
  };

 private:
  friend void matmul_batch(ThreadPool&, MatmulScratch&, std::span<const MatmulJob>);
  friend void matmul_multi(ThreadPool&, MatmulScratch&, std::span<const QMatrix>, const float*,
                           int64_t, std::span<float* const>);

  std::vector<uint8_t> buf_;
  std::vector<Input> inputs_;
  std::vector<Plan> plans_;
  std::vector<int64_t> task_end_;  // [plans_.size()] prefix sums of the chunk counts
  std::vector<double> finish_;     // [pool size] per-thread times of the balance check
  std::vector<MatmulJob> multi_;   // matmul_multi's jobs
};

// Checks that `w` can be multiplied: supported type, n_k a multiple of its block size.
Status check_matmul(const QMatrix& w);

// y[c * n_rows + r] = sum_k W[r][k] * x[c * n_k + k]. Requires check_matmul(w).ok().
void matmul(ThreadPool& pool, MatmulScratch& scratch, const QMatrix& w, const float* x,
            int64_t n_cols, float* y);

// Several matrices applied to the same input in one pool job (q/k/v, gate/up): the input is
// quantized once per activation type, and the row chunks of all matrices share one task
// counter, so small matrices cost no extra synchronization. Every w[i].n_k must be equal;
// ys[i] is [n_cols][w[i].n_rows].
void matmul_multi(ThreadPool& pool, MatmulScratch& scratch, std::span<const QMatrix> ws,
                  const float* x, int64_t n_cols, std::span<float* const> ys);

// Independent products in one pool job (the experts of a mixture-of-experts layer: gate/up
// of every expert on one input, or each expert's down projection on its own input). Inputs
// are quantized once per distinct (x, n_k, n_cols, activation type), so jobs that share an
// input share its quantization; then the row chunks of all jobs are handed out from one
// counter, sized over the whole batch so that the threads stay balanced even when every
// matrix is smaller than one chunk. Results are bit-identical to one `matmul` per job.
// Every job needs check_matmul(w).ok(); no y may overlap any x or another y.
void matmul_batch(ThreadPool& pool, MatmulScratch& scratch, std::span<const MatmulJob> jobs);

}  // namespace muse
