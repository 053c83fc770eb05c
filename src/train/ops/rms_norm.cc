// RMSNorm forward/backward (see rms_norm.h). Rows run in fixed chunks of 32 over the pool;
// the weight gradient is summed per chunk and the chunks reduced in order.
#include "train/ops/rms_norm.h"

#include <cmath>

#include "kernels/ops.h"

namespace muse {
namespace {
constexpr int64_t kRowChunk = 32;
}  // namespace

void rms_norm_forward(ThreadPool& pool, const RmsNormArgs& a, float* y, RmsNormSaved& saved) {
  const int64_t n = a.width, ldx = a.ldx ? a.ldx : n, ldy = a.ldy ? a.ldy : n;
  saved.rstd.resize(size_t(a.n_rows));
  for_chunks(pool, a.n_rows, kRowChunk, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * ldx;
      float* yr = y + r * ldy;
      const float rstd = float(1.0 / std::sqrt(double(dot_f32(x, x, n)) / double(n) + a.eps));
      saved.rstd[size_t(r)] = rstd;
      for (int64_t i = 0; i < n; ++i) yr[i] = x[i] * rstd * a.weight[i];
    }
  });
}

void rms_norm_backward(ThreadPool& pool, const RmsNormArgs& a, const RmsNormSaved& saved,
                       const float* dy, float* dx, GradMode dx_mode, float* dw) {
  const int64_t n = a.width, ldx = a.ldx ? a.ldx : n, ldy = a.ldy ? a.ldy : n;
  const int64_t n_chunks = (a.n_rows + kRowChunk - 1) / kRowChunk;
  // dw partial sums per row chunk, reduced in chunk order below.
  std::vector<float> partial(dw != nullptr ? size_t(n_chunks * n) : 0, 0.0f);
  for_chunks(pool, a.n_rows, kRowChunk, [&](int64_t r0, int64_t r1) {
    float* pw = dw != nullptr ? &partial[size_t(r0 / kRowChunk * n)] : nullptr;
    std::vector<float> gw(static_cast<size_t>(n));  // dy ∘ w of one row
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * ldx;
      const float* g = dy + r * ldy;
      const float rstd = saved.rstd[size_t(r)];
      if (pw != nullptr)
        for (int64_t i = 0; i < n; ++i) pw[i] += g[i] * x[i] * rstd;
      if (dx == nullptr) continue;
      // The dot runs on the SIMD kernel: a plain float reduction loop cannot vectorize.
      mul(g, a.weight, gw.data(), n);
      const float c = rstd * rstd * rstd * dot_f32(gw.data(), x, n) / float(n);
      float* d = dx + r * ldx;
      if (dx_mode == GradMode::kWrite) {
        for (int64_t i = 0; i < n; ++i) d[i] = rstd * gw[size_t(i)] - c * x[i];
      } else {
        for (int64_t i = 0; i < n; ++i) d[i] += rstd * gw[size_t(i)] - c * x[i];
      }
    }
  });
  if (dw == nullptr) return;
  for (int64_t c = 0; c < n_chunks; ++c)
    for (int64_t i = 0; i < n; ++i) dw[i] += partial[size_t(c * n + i)];
}

}  // namespace muse
