// Plain scalar references for the kernels in kernels/ops.h and kernels/attention.h. They
// favour obviousness and accuracy over speed: sums, angles and softmax run in double, so a
// test's tolerance measures the SIMD kernel's float error alone. Same argument conventions
// as the kernels they check; never called on a hot path.
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/ops.h"

namespace muse {

void rms_norm_ref(const float* x, const float* weight, float* y, int64_t n, float eps);

// Rotates x in place with angles, cos and sin computed in double from the definition
// theta_i = pos * freq_scale * freq_base^(-2i/n_rot) / freq_factors[i] (no table).
void rope_ref(const RopeParams& p, int64_t pos, float* x, int64_t n_head, int64_t head_dim,
              int64_t head_stride);

void softmax_ref(float* x, int64_t n);
void exp_f32_ref(const float* x, float* y, int64_t n);
void silu_ref(const float* x, float* y, int64_t n);
void swiglu_ref(const float* gate, const float* up, float* out, int64_t n);
void gelu_ref(const float* x, float* y, int64_t n);

void add_ref(const float* a, const float* b, float* y, int64_t n);
void mul_ref(const float* a, const float* b, float* y, int64_t n);
void scale_ref(float* x, float s, int64_t n);
double dot_f32_ref(const float* a, const float* b, int64_t n);  // exact-ish: double sum
void axpy_ref(float a, const float* x, float* y, int64_t n);

// Naive causal attention for all work items: full score row, max-subtracted softmax and the
// weighted sum of V, all in double. `a` must pass validate_attention_args.
void attention_ref(const AttentionArgs& a);

}  // namespace muse
