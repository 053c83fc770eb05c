// Dense float32 matrix product C = A·B (+ C), the workhorse of training: every linear layer's
// forward and both halves of its backward, and attention's per-head products. Operands are
// strided views, so a transpose is a swap of strides and one kernel serves x·Wᵀ, dy·W and
// dyᵀ·x alike. Layout follows the GotoBLAS/BLIS scheme (Goto & van de Geijn 2008, "Anatomy
// of High-Performance Matrix Multiplication"): blocks of A and B are packed into contiguous
// panels, and a register-tiled micro-kernel (6 rows x 2 vectors) runs over them.
//
// Results do not depend on the thread count: every element of C is summed by one task in
// the same k order whatever the split, so 1 and n threads give bit-identical output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "threading/thread_pool.h"

namespace muse {

// Element (i, j) of the operand is data[i * row_stride + j * col_stride]. A row-major
// [rows][ld] buffer is {p, ld, 1}; its transpose is {p, 1, ld}.
struct GemmOperand {
  const float* data = nullptr;
  int64_t row_stride = 0;
  int64_t col_stride = 1;
};
inline GemmOperand gemm_rows(const float* p, int64_t ld) { return {p, ld, 1}; }
inline GemmOperand gemm_transposed(const float* p, int64_t ld) { return {p, 1, ld}; }

// C is row-major with rows ldc floats apart.
struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;  // C [m][n] = A [m][k] · B [k][n]
  GemmOperand a, b;
  float* c = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;  // C += A·B; else C = A·B (C's old contents are never read)
};

// Growable 64-byte aligned float buffer; contents are not preserved when it grows.
class GemmBuffer {
 public:
  float* get(size_t n) {
    if (n > size_) {
      data_ = hwy::AllocateAligned<float>(n);
      size_ = n;
    }
    return data_.get();
  }

 private:
  hwy::AlignedFreeUniquePtr<float[]> data_;
  size_t size_ = 0;
};

// Packing space of one thread.
struct GemmWorkspace {
  GemmBuffer a, b;
};

// Packing space of a pool: one shared B block plus one workspace per worker. Inside a pool
// task, `worker(w)` is the workspace to hand to gemm_f32_serial. One scratch serves one
// gemm_f32 call at a time.
class GemmScratch {
 public:
  GemmWorkspace& worker(int w) { return workers_[size_t(w)]; }
  void reserve_workers(int n) {
    if (workers_.size() < size_t(n)) workers_.resize(size_t(n));
  }
  GemmBuffer& shared_b() { return shared_b_; }

 private:
  GemmBuffer shared_b_;
  std::vector<GemmWorkspace> workers_;
};

// Splits the product over the pool's threads. m, n, k >= 0; C must not overlap A or B.
void gemm_f32(ThreadPool& pool, GemmScratch& scratch, const GemmArgs& g);

// The same product on the calling thread (for use inside a pool task).
void gemm_f32_serial(GemmWorkspace& ws, const GemmArgs& g);

// Scalar reference: sums in double, then rounds once. For tests only.
void gemm_f32_ref(const GemmArgs& g);

// Highway target the dispatched kernel runs on ("AVX2", ...).
const char* gemm_f32_target_name();

}  // namespace muse
