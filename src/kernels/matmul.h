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
#include "threading/thread_pool.h"

namespace muse {

struct QMatrix {
  DType type;
  const void* data;  // [n_rows][n_k] in `type`
  int64_t n_rows;
  int64_t n_k;
};

// One independent product y = W x of a batch (see matmul_batch).
struct MatmulJob {
  QMatrix w;
  const float* x = nullptr;  // [n_cols][w.n_k]
  int64_t n_cols = 0;        // may be 0: the job is skipped
  float* y = nullptr;        // [n_cols][w.n_rows]
};

// Holds the quantized activations between calls so the hot path does not allocate.
class MatmulScratch {
 public:
  uint8_t* acts(size_t bytes) {
    if (buf_.size() < bytes) buf_.resize(bytes);
    return buf_.data();
  }

 private:
  std::vector<uint8_t> buf_;
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

}  // namespace muse
