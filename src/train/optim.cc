// AdamW, the LR schedule and clipping (see optim.h). Elementwise work runs in chunks of 16K
// over the pool; norms are summed per chunk in double and reduced in chunk order.
#include "train/optim.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "kernels/ops.h"
#include "train/ops/common.h"

namespace muse {
namespace {
constexpr int64_t kChunk = 1 << 14;  // elements per task: memory-bound, 64 KiB per array
}  // namespace

void adamw_step(ThreadPool& pool, const AdamWParams& a, int64_t step, float* param,
                const float* grad, float* m, float* v, int64_t n) {
  const double bc1 = 1.0 - std::pow(double(a.beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(a.beta2), double(step));
  const float step_size = float(double(a.lr) / bc1);
  const float inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  const float decay = 1.0f - a.lr * a.weight_decay;
  const float b1 = a.beta1, b2 = a.beta2, c1 = 1.0f - a.beta1, c2 = 1.0f - a.beta2;
  for_chunks(pool, n, kChunk, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float g = grad[i];
      m[i] = b1 * m[i] + c1 * g;
      v[i] = b2 * v[i] + c2 * g * g;
      const float denom = std::sqrt(v[i]) * inv_sqrt_bc2 + a.eps;
      param[i] = param[i] * decay - step_size * m[i] / denom;
    }
  });
}

float lr_at(const LrSchedule& s, int64_t step) {
  if (step < s.warmup_steps) return s.peak_lr * float(step + 1) / float(s.warmup_steps);
  if (step >= s.total_steps) return s.min_lr;
  const double span = double(std::max<int64_t>(1, s.total_steps - s.warmup_steps));
  const double progress = double(step - s.warmup_steps) / span;
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return float(double(s.min_lr) + (double(s.peak_lr) - double(s.min_lr)) * cosine);
}

double grad_global_norm(ThreadPool& pool, std::span<const std::span<float>> grads) {
  double total = 0.0;
  for (const std::span<float>& g : grads) {
    const int64_t n = int64_t(g.size()), n_chunks = (n + kChunk - 1) / kChunk;
    std::vector<double> part(size_t(n_chunks), 0.0);
    for_chunks(pool, n, kChunk, [&](int64_t i0, int64_t i1) {
      part[size_t(i0 / kChunk)] = double(dot_f32(g.data() + i0, g.data() + i0, i1 - i0));
    });
    for (double p : part) total += p;  // chunk order: independent of the thread count
  }
  return std::sqrt(total);
}

double clip_grad_global_norm(ThreadPool& pool, std::span<const std::span<float>> grads,
                             double max_norm) {
  const double norm = grad_global_norm(pool, grads);
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  const float s = float(max_norm / norm);
  for (const std::span<float>& g : grads)
    for_chunks(pool, int64_t(g.size()), kChunk,
               [&](int64_t i0, int64_t i1) { scale(g.data() + i0, s, i1 - i0); });
  return norm;
}

}  // namespace muse
