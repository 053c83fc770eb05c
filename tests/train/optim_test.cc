// AdamW against a step computed by hand, the warmup + cosine schedule at known points, and
// global-norm clipping.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <span>
#include <vector>

#include "train/optim.h"

namespace muse {
namespace {

TEST(AdamW, TwoStepsMatchHandComputation) {
  ThreadPool pool(2);
  const AdamWParams a{
      .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.5f};
  std::vector<float> p = {1.0f, -2.0f}, m(2, 0.0f), v(2, 0.0f);
  std::vector<float> g = {0.5f, 0.25f};
  adamw_step(pool, a, 1, p.data(), g.data(), m.data(), v.data(), 2);
  // Step 1: m = 0.1 g, v = 0.01 g², m̂ = g, v̂ = g², update = lr · g/|g| = ±0.1; decay first:
  // p = p (1 − 0.1·0.5) − 0.1 · sign(g).
  EXPECT_NEAR(p[0], 1.0 * 0.95 - 0.1, 1e-6);
  EXPECT_NEAR(p[1], -2.0 * 0.95 - 0.1, 1e-6);
  EXPECT_NEAR(m[0], 0.05, 1e-7);
  EXPECT_NEAR(v[0], 0.0025, 1e-8);

  // Step 2 with g = (−1, 0.25): m = 0.9 m + 0.1 g, v = 0.99 v + 0.01 g², bias corrections
  // 1 − 0.9² = 0.19 and 1 − 0.99² = 0.0199.
  const double p0 = p[0], p1 = p[1];
  g = {-1.0f, 0.25f};
  adamw_step(pool, a, 2, p.data(), g.data(), m.data(), v.data(), 2);
  const double m0 = 0.9 * 0.05 + 0.1 * -1.0, v0 = 0.99 * 0.0025 + 0.01 * 1.0;
  const double m1 = 0.9 * 0.025 + 0.1 * 0.25, v1 = 0.99 * 0.000625 + 0.01 * 0.0625;
  const auto update = [](double m, double v) {
    return (m / 0.19) / (std::sqrt(v / 0.0199) + 1e-8);
  };
  EXPECT_NEAR(p[0], p0 * 0.95 - 0.1 * update(m0, v0), 1e-6);
  EXPECT_NEAR(p[1], p1 * 0.95 - 0.1 * update(m1, v1), 1e-6);
}

TEST(AdamW, LongArrayAllChunksUpdated) {
  ThreadPool pool(2);
  const int64_t n = 100'003;  // several chunks plus a ragged tail
  std::vector<float> p(size_t(n), 1.0f), g(size_t(n), 2.0f), m(size_t(n), 0.0f), v(size_t(n), 0.0f);
  adamw_step(pool, {.lr = 0.01f}, 1, p.data(), g.data(), m.data(), v.data(), n);
  for (float x : p) ASSERT_NEAR(x, 0.99f, 1e-6);
}

TEST(LrSchedule, WarmupThenCosine) {
  const LrSchedule s{.peak_lr = 1e-3f, .min_lr = 1e-4f, .warmup_steps = 10, .total_steps = 110};
  EXPECT_FLOAT_EQ(lr_at(s, 0), 1e-4f);  // (0 + 1) / 10 of peak
  EXPECT_FLOAT_EQ(lr_at(s, 4), 5e-4f);
  EXPECT_FLOAT_EQ(lr_at(s, 9), 1e-3f);
  EXPECT_FLOAT_EQ(lr_at(s, 10), 1e-3f);    // cosine starts at the peak
  EXPECT_FLOAT_EQ(lr_at(s, 60), 5.5e-4f);  // halfway: (peak + min) / 2
  const double quarter = 1e-4 + 0.9e-3 * 0.5 * (1.0 + std::cos(std::numbers::pi * 0.25));
  EXPECT_FLOAT_EQ(lr_at(s, 35), float(quarter));
  EXPECT_FLOAT_EQ(lr_at(s, 110), 1e-4f);
  EXPECT_FLOAT_EQ(lr_at(s, 1000), 1e-4f);
  EXPECT_FLOAT_EQ(lr_at({.peak_lr = 2.0f, .min_lr = 0.0f, .total_steps = 4}, 0), 2.0f);
}

TEST(ClipGradNorm, ScalesToMaxNormAcrossTensors) {
  ThreadPool pool(2);
  std::vector<float> a = {3.0f, 0.0f}, b(40'000, 0.0f);
  b[39'999] = 4.0f;  // global norm sqrt(9 + 16) = 5, split over two tensors and chunks
  std::vector<std::span<float>> grads = {a, b};
  EXPECT_NEAR(grad_global_norm(pool, grads), 5.0, 1e-12);
  EXPECT_NEAR(clip_grad_global_norm(pool, grads, 1.0), 5.0, 1e-12);
  EXPECT_NEAR(a[0], 0.6f, 1e-7);
  EXPECT_NEAR(b[39'999], 0.8f, 1e-7);
  EXPECT_NEAR(grad_global_norm(pool, grads), 1.0, 1e-6);
  // Under the limit: untouched.
  EXPECT_NEAR(clip_grad_global_norm(pool, grads, 2.0), 1.0, 1e-6);
  EXPECT_NEAR(a[0], 0.6f, 1e-7);
  // Non-finite: reported, not applied.
  a[1] = std::nanf("");
  EXPECT_TRUE(std::isnan(clip_grad_global_norm(pool, grads, 1.0)));
  EXPECT_NEAR(a[0], 0.6f, 1e-7);
}

}  // namespace
}  // namespace muse
