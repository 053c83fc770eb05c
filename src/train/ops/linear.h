// Linear layer y = x·Wᵀ + b and its backward, on the blocked multithreaded GEMM of
// kernels/gemm_f32.h. W is [n_out][n_in] row-major (GGML's [n_in, n_out]), as model/ stores
// it, so trained weights are written out without a transpose.
#pragma once

#include <cstdint>

#include "kernels/gemm_f32.h"
#include "train/ops/common.h"

namespace muse {

struct LinearArgs {
  int64_t n_tokens = 0;  // T
  int64_t n_in = 0;
  int64_t n_out = 0;
  const float* x = nullptr;     // [T][n_in], rows ldx floats apart
  const float* w = nullptr;     // [n_out][n_in]
  const float* bias = nullptr;  // [n_out] or null
  int64_t ldx = 0;              // 0 = n_in
  int64_t ldy = 0;              // row stride of y and dy; 0 = n_out
};

// y [T][n_out] (rows ldy apart) = x·Wᵀ + bias. Nothing is saved: backward needs x and W,
// which the caller keeps.
void linear_forward(ThreadPool& pool, GemmScratch& scratch, const LinearArgs& a, float* y);

struct LinearGrads {
  float* dx = nullptr;  // [T][n_in] rows ldx apart, or null to skip; per dx_mode
  GradMode dx_mode = GradMode::kWrite;
  float* dw = nullptr;  // [n_out][n_in] += dyᵀ·x, or null
  float* db = nullptr;  // [n_out] += column sums of dy, or null (a.bias may be null anyway)
};

// Given dy [T][n_out] (rows ldy apart): dx (=|+=) dy·W, dW += dyᵀ·x, db += Σ_t dy[t].
void linear_backward(ThreadPool& pool, GemmScratch& scratch, const LinearArgs& a, const float* dy,
                     const LinearGrads& g);

}  // namespace muse
