// SwiGLU forward/backward (see swiglu.h): forward is kernels/ops.h's `swiglu`; backward
// gets σ(g) from the SIMD exp in stack chunks of 512 columns.
#include "train/ops/swiglu.h"

#include "kernels/ops.h"

namespace muse {
namespace {
constexpr int64_t kRowChunk = 16;
constexpr int64_t kCols = 512;  // columns per stack buffer of σ
}  // namespace

void swiglu_forward(ThreadPool& pool, const SwigluArgs& a, float* out) {
  const int64_t F = a.width, ldg = a.ld_gate ? a.ld_gate : F, ldu = a.ld_up ? a.ld_up : F;
  const int64_t ldo = a.ld_out ? a.ld_out : F;
  for_chunks(pool, a.n_rows, kRowChunk, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) swiglu(a.gate + r * ldg, a.up + r * ldu, out + r * ldo, F);
  });
}

void swiglu_backward(ThreadPool& pool, const SwigluArgs& a, const float* dout, float* dgate,
                     float* dup) {
  const int64_t F = a.width, ldg = a.ld_gate ? a.ld_gate : F, ldu = a.ld_up ? a.ld_up : F;
  const int64_t ldo = a.ld_out ? a.ld_out : F;
  for_chunks(pool, a.n_rows, kRowChunk, [&](int64_t r0, int64_t r1) {
    float sig[kCols];
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t c0 = 0; c0 < F; c0 += kCols) {
        const int64_t n = std::min(kCols, F - c0);
        const float* g = a.gate + r * ldg + c0;
        const float* u = a.up + r * ldu + c0;
        const float* d = dout + r * ldo + c0;
        // σ(g) = 1 / (1 + e^-g) through the SIMD exp; e^-g = inf gives σ = 0, never NaN.
        for (int64_t i = 0; i < n; ++i) sig[i] = -g[i];
        exp_f32(sig, sig, n);
        for (int64_t i = 0; i < n; ++i) sig[i] = 1.0f / (1.0f + sig[i]);
        float* dg = dgate + r * ldg + c0;
        float* du = dup + r * ldu + c0;
        for (int64_t i = 0; i < n; ++i) {
          const float s = sig[i], silu_g = g[i] * s;
          du[i] = d[i] * silu_g;
          dg[i] = d[i] * u[i] * (s + silu_g * (1.0f - s));
        }
      }
    }
  });
}

}  // namespace muse
