// RMSNorm with a learned weight (Zhang & Sennrich 2019): y = x · r · w with
// r = 1 / sqrt(mean(x²) + eps) per row, the same formula as kernels/ops.h `rms_norm`.
// Backward (g = dy ∘ w):  dx = r·g − x · r³ · (g·x) / n,  dw += Σ_rows dy ∘ x · r.
#pragma once

#include <cstdint>
#include <vector>

#include "train/ops/common.h"

namespace muse {

struct RmsNormArgs {
  int64_t n_rows = 0;
  int64_t width = 0;              // n: the normalised dimension
  const float* x = nullptr;       // [n_rows][width], rows ldx apart (also dx's stride)
  const float* weight = nullptr;  // [width]
  float eps = 1e-5f;
  int64_t ldx = 0;  // 0 = width
  int64_t ldy = 0;  // row stride of y and dy; 0 = width
};

struct RmsNormSaved {
  std::vector<float> rstd;  // [n_rows] r of each row
};

// y must not overlap x (backward reads x).
void rms_norm_forward(ThreadPool& pool, const RmsNormArgs& a, float* y, RmsNormSaved& saved);

// dx (=|+=) the input gradient (rows ldx apart; null to skip); dw += the weight gradient
// (null to skip). Deterministic for any thread count (fixed row chunks, reduced in order).
void rms_norm_backward(ThreadPool& pool, const RmsNormArgs& a, const RmsNormSaved& saved,
                       const float* dy, float* dx, GradMode dx_mode, float* dw);

}  // namespace muse
