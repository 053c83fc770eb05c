// Checks every kernel of kernels/ops.h against its scalar reference (kernels/ops_ref.h) on
// each SIMD target this binary and the CPU support (Highway's SetSupportedTargetsForTest via
// HWY_BEFORE_TEST). Sizes straddle every vector width; each tolerance says where it comes
// from. u = 2^-24 is the float unit roundoff.

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/ops.h"
#include "kernels/ops_ref.h"

namespace muse {
namespace {

constexpr double kU = 1.0 / (1 << 24);  // float unit roundoff
constexpr int64_t kSizes[] = {1, 3, 7, 8, 15, 17, 63, 64, 100, 4096};
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> random_vec(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Float lanes of a Highway target; HWY_SCALAR (the fallback on GCC < 12.3) has one.
int64_t float_lanes(int64_t target) {
  if (target & (HWY_AVX3 | HWY_AVX3_DL)) return 16;
  if (target & HWY_AVX2) return 8;
  if (target & (HWY_SSE4 | HWY_SSSE3 | HWY_EMU128)) return 4;
  return 1;
}

// Worst-case rounding count of a SIMD sum over `width` = accumulators x lanes partial sums:
// each partial adds ceil(n / width) terms, then a tree of log2(width) adds combines them
// (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., eq. 4.4: gamma_k
// bounds a sum whose terms each pass through at most k additions).
double sum_gamma(int64_t n, int64_t width) {
  return (double(n) / double(width) + std::log2(double(width)) + 2.0) * kU;
}

// rms_norm and dot_f32 keep 4 vector accumulators; softmax's sum keeps one.
double dot_gamma(int64_t n, int64_t target) { return sum_gamma(n, 4 * float_lanes(target)); }

HWY_BEFORE_TEST(OpsTest);

// The dispatcher must really run the target under test, or the per-target loop is a no-op.
TEST_P(OpsTest, DispatchesToTargetUnderTest) {
  EXPECT_STREQ(ops_target_name(), hwy::TargetName(GetParam()));
}

TEST_P(OpsTest, RmsNormMatchesReference) {
  for (int64_t n : kSizes) {
    for (float magnitude : {1e-3f, 2.0f, 1e3f}) {
      const auto x = random_vec(n, -magnitude, magnitude, 1 + uint32_t(n));
      const auto w = random_vec(n, 0.5f, 1.5f, 2 + uint32_t(n));
      for (const float* weight : {w.data(), static_cast<const float*>(nullptr)}) {
        std::vector<float> got(n), want(n);
        rms_norm(x.data(), weight, got.data(), n, 1e-5f);
        rms_norm_ref(x.data(), weight, want.data(), n, 1e-5f);
        // Sum of squares: dot_gamma; sqrt halves it; 3 more roundings per element.
        const double tol = 0.5 * dot_gamma(n, GetParam()) + 3 * kU;
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_NEAR(got[i], want[i], tol * std::fabs(want[i]))
              << "n=" << n << " i=" << i << " mag=" << magnitude << " weight=" << !!weight;
        }
      }
    }
  }
}

TEST_P(OpsTest, RmsNormInPlaceAndEpsDominated) {
  std::vector<float> x(17, 0.0f), want(17);
  rms_norm(x.data(), nullptr, x.data(), 17, 1e-6f);  // all-zero row: 0 / sqrt(eps) = 0
  for (float v : x) EXPECT_EQ(v, 0.0f);
  x = random_vec(17, -1e-4f, 1e-4f, 7);  // mean(x^2) ~ 3e-9 << eps: eps must not be lost
  rms_norm_ref(x.data(), nullptr, want.data(), 17, 1e-5f);
  rms_norm(x.data(), nullptr, x.data(), 17, 1e-5f);
  for (int i = 0; i < 17; ++i) EXPECT_NEAR(x[i], want[i], 8 * kU * std::fabs(want[i]));
}

// RoPE cases: rotated dims (even; some not a multiple of any vector width), head_dim,
// style, base, linear scale, llama3-style factors.
struct RopeCase {
  RopeStyle style;
  int n_rot;
  int64_t head_dim;
  float base;
  float freq_scale;
  bool factors;
  bool yarn = false;
};

// YaRN keeps the fastest-turning dims extrapolated (angle pos * base^0 = pos, unscaled) and
// interpolates the slowest (pos * freq_scale * base^(-2i/n)), with magnitude
// 1 + 0.1 ln(1/freq_scale) on both (Peng et al. 2023, eq. 16-19).
TEST(Rope, YarnEndsAreExtrapolatedAndInterpolated) {
  const RopeParams p{.style = RopeStyle::NeoX,
                     .n_rot = 128,
                     .freq_base = 10000.0f,
                     .freq_scale = 0.25f,
                     .yarn_ext_factor = 1.0f,
                     .yarn_n_ctx_orig = 4096};
  ASSERT_TRUE(validate_rope_params(p, 128).ok());
  const int64_t pos = 3000;
  std::vector<float> table(rope_table_size(p.n_rot));
  rope_fill_table(p, pos, table.data());
  const double mscale = 1.0 + 0.1 * std::log(4.0);
  EXPECT_NEAR(table[0], std::cos(double(pos)) * mscale, 1e-6);
  const int last = p.n_rot / 2 - 1;
  const double slow = pos * 0.25 * std::pow(10000.0, -2.0 * last / p.n_rot);
  EXPECT_NEAR(table[last], std::cos(slow) * mscale, 1e-6);
  EXPECT_FALSE(validate_rope_params(RopeParams{.n_rot = 64, .yarn_ext_factor = 1.0f}, 64).ok());
}

TEST_P(OpsTest, RopeMatchesDoubleReference) {
  const RopeCase cases[] = {
      {RopeStyle::Normal, 128, 128, 10000.0f, 1.0f, false},
      {RopeStyle::NeoX, 128, 128, 1e6f, 1.0f, false},
      {RopeStyle::Normal, 64, 64, 500000.0f, 1.0f, true},
      {RopeStyle::NeoX, 80, 80, 10000.0f, 0.25f, false},
      {RopeStyle::Normal, 6, 14, 10000.0f, 1.0f, false},  // partial rotation + tails
      {RopeStyle::NeoX, 34, 64, 10000.0f, 1.0f, true},
      {RopeStyle::Normal, 2, 2, 10000.0f, 0.5f, false},
      {RopeStyle::NeoX, 2, 3, 10000.0f, 1.0f, false},
      {RopeStyle::NeoX, 128, 128, 1e6f, 0.25f, false, true},
      {RopeStyle::Normal, 64, 64, 10000.0f, 0.125f, true, true},
  };
  constexpr int64_t kHeads = 3;
  for (const RopeCase& c : cases) {
    const auto factors = random_vec(c.n_rot / 2, 1.0f, 8.0f, 11);
    const RopeParams p{.style = c.style,
                       .n_rot = c.n_rot,
                       .freq_base = c.base,
                       .freq_scale = c.freq_scale,
                       .freq_factors = c.factors ? factors.data() : nullptr,
                       .yarn_ext_factor = c.yarn ? 1.0f : 0.0f,
                       .yarn_n_ctx_orig = c.yarn ? 4096 : 0};
    ASSERT_TRUE(validate_rope_params(p, c.head_dim).ok());
    const int64_t stride = c.head_dim + 5;  // padding between heads must stay untouched
    for (int64_t pos : {0, 1, 1000, 100000}) {
      const auto x = random_vec(kHeads * stride, -1.0f, 1.0f, uint32_t(pos + c.n_rot));
      std::vector<float> got = x, want = x;
      std::vector<float> table(rope_table_size(c.n_rot));
      rope_fill_table(p, pos, table.data());
      rope_apply(p, table.data(), got.data(), kHeads, c.head_dim, stride);
      rope_ref(p, pos, want.data(), kHeads, c.head_dim, stride);
      // |x| <= 1; cos and sin rounded to float (u each), product, FMA: <= 4u (|x_a| +
      // |x_b|) <= 8u. An angle computed in float at pos 1e5 is off by ~4e-3 and fails.
      for (int64_t i = 0; i < kHeads * stride; ++i) {
        const int64_t d = i % stride;
        if (d >= c.n_rot) {
          ASSERT_EQ(got[i], x[i]) << "unrotated element changed, i=" << i;
          continue;
        }
        ASSERT_NEAR(got[i], want[i], 8 * kU)
            << "style=" << int(c.style) << " n_rot=" << c.n_rot << " pos=" << pos << " i=" << i;
      }
    }
  }
}

TEST(OpsValidation, RopeRejectsBadParams) {
  EXPECT_FALSE(validate_rope_params(RopeParams{.n_rot = 7}, 64).ok());
  EXPECT_FALSE(validate_rope_params(RopeParams{.n_rot = 66}, 64).ok());
  EXPECT_FALSE(validate_rope_params(RopeParams{.n_rot = 64, .freq_base = 0.0f}, 64).ok());
  EXPECT_TRUE(validate_rope_params(RopeParams{.n_rot = 64}, 64).ok());
}

TEST_P(OpsTest, SoftmaxMatchesReference) {
  for (int64_t n : kSizes) {
    for (float offset : {0.0f, 1000.0f, -1000.0f}) {  // +-1000: naive exp over/underflows
      auto x = random_vec(n, -10.0f, 10.0f, 3 + uint32_t(n));
      for (float& v : x) v += offset;
      if (n > 2) x[n / 2] = -kInf;  // a masked entry
      std::vector<float> got = x, want = x;
      softmax(got.data(), n);
      softmax_ref(want.data(), n);
      double total = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        // Exp: 1 ulp (2u). x - max: |x - max| <= 20 rounds by <= 16u absolute, a 16u
        // relative error after exp (exact under Sterbenz for the +-1000 rows). The sum:
        // sum_gamma over one accumulator. Reciprocal and product: 2u.
        const double rel = 20 * kU + sum_gamma(n, float_lanes(GetParam()));
        ASSERT_NEAR(got[i], want[i], rel * want[i] + 1e-44) << "n=" << n << " i=" << i;
        total += got[i];
      }
      if (n > 2) {
        EXPECT_EQ(got[n / 2], 0.0f);
      }
      EXPECT_NEAR(total, 1.0, 2 * sum_gamma(n, float_lanes(GetParam())) + n * kU);
    }
  }
}

// Max relative error of y against double-precision f over the finite-result range; results
// below FLT_MIN are subnormal and compared absolutely (abs_floor).
template <class Kernel, class Ref>
double max_rel_error(const std::vector<float>& x, Kernel kernel, Ref ref, double abs_floor) {
  std::vector<float> y(x.size());
  kernel(x.data(), y.data(), int64_t(x.size()));
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = ref(double(x[i]));
    EXPECT_TRUE(std::isfinite(y[i]) || !std::isfinite(float(want))) << "x=" << x[i];
    const double err = std::fabs(double(y[i]) - want);
    if (err <= abs_floor) continue;
    worst = std::max(worst, err / std::fabs(want));
  }
  return worst;
}

std::vector<float> sweep(float lo, float hi, float step) {
  std::vector<float> x;
  for (double v = lo; v <= hi; v += step) x.push_back(float(v));
  return x;
}

TEST_P(OpsTest, ExpErrorOnDenseSweep) {
  // 170k points over [-87, 88.7] where exp is a normal float: Highway states 1 ulp.
  const auto x = sweep(-87.0f, 88.7f, 1e-3f);
  const double worst = max_rel_error(
      x, [](const float* a, float* b, int64_t n) { exp_f32(a, b, n); },
      [](double v) { return std::exp(v); }, 0.0);
  EXPECT_LE(worst, 2 * kU) << "max rel error " << worst;  // 1 ulp = 2u at worst in [1, 2)
  // Limits match std::exp: overflow to +inf, underflow to 0, no NaN for any finite input.
  const std::vector<float> special = {-kInf, -3e38f, -200.0f, -104.5f, 88.8f, 95.0f, 1e30f};
  std::vector<float> y(special.size());
  exp_f32(special.data(), y.data(), int64_t(special.size()));
  for (size_t i = 0; i < special.size(); ++i) {
    EXPECT_EQ(y[i], special[i] < 0 ? 0.0f : kInf) << "x=" << special[i];
  }
}

// silu and gelu over [-120, 120] (past exp's over/underflow on both sides) and +-FLT_MAX.
TEST_P(OpsTest, ActivationsErrorOnDenseSweep) {
  auto x = sweep(-120.0f, 120.0f, 1e-3f);
  for (float v : {3e38f, -3e38f, 1e20f, -1e20f}) x.push_back(v);
  // silu: Exp (1 ulp) + add + divide + multiply: 4 roundings -> 5u relative (3.4u measured
  // on AVX2). For x < -87.3, exp(-|x|) is subnormal and carries absolute error 2^-149, so
  // the result errs by <= |x| 2^-149 < 2e-43 absolute: the 1e-40 floor.
  const double silu_worst = max_rel_error(
      x, [](const float* a, float* b, int64_t n) { silu(a, b, n); },
      [](double v) { return v / (1.0 + std::exp(-v)); }, 1e-40);
  EXPECT_LE(silu_worst, 5 * kU) << "silu max rel error " << silu_worst;
  // gelu: z = 2u(x) is rounded 3 times (3u relative, 3u|z| absolute). For z << 0 the result
  // ~ x e^z inherits that as 3u|z| relative; |z| reaches 88 before underflow -> <= 280u.
  constexpr double kSqrt2OverPi = 0.79788456080286535588;
  auto gelu_d = [](double v) {
    const double u = kSqrt2OverPi * v * (1.0 + 0.044715 * v * v);
    return v / (1.0 + std::exp(-2.0 * u));
  };
  std::vector<float> y(x.size());
  gelu(x.data(), y.data(), int64_t(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_TRUE(std::isfinite(y[i])) << "gelu(" << x[i] << ")";
    const double v = x[i];
    const double z = std::fabs(2 * kSqrt2OverPi * v * (1.0 + 0.044715 * v * v));
    const double want = gelu_d(v);
    const double tol = (5 + 3 * std::min(z, 1e3)) * kU * std::fabs(want) + 1e-40;
    ASSERT_NEAR(y[i], want, tol) << "gelu x=" << x[i];
  }
}

TEST_P(OpsTest, ActivationsMatchReferenceOnAllSizes) {
  for (int64_t n : kSizes) {
    const auto a = random_vec(n, -8.0f, 8.0f, 5 + uint32_t(n));
    const auto b = random_vec(n, -2.0f, 2.0f, 6 + uint32_t(n));
    std::vector<float> got(n), want(n);
    silu(a.data(), got.data(), n);
    silu_ref(a.data(), want.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], want[i], 5 * kU * std::fabs(want[i]));
    swiglu(a.data(), b.data(), got.data(), n);
    swiglu_ref(a.data(), b.data(), want.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], want[i], 6 * kU * std::fabs(want[i]));
    gelu(a.data(), got.data(), n);
    gelu_ref(a.data(), want.data(), n);
    // |z| <= 2 * 0.8 * 8 * (1 + 0.045 * 64) < 50: tolerance (5 + 3 * 50) u, see above.
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], want[i], 155 * kU * std::fabs(want[i]));
    std::vector<float> in_place = a;  // out aliasing gate
    swiglu(in_place.data(), b.data(), in_place.data(), n);
    swiglu(a.data(), b.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(in_place[i], got[i]);
  }
}

// IEEE add and mul round identically in every SIMD lane and in scalar code: exact equality.
TEST_P(OpsTest, ElementwiseAreExact) {
  for (int64_t n : kSizes) {
    const auto a = random_vec(n, -4.0f, 4.0f, 8 + uint32_t(n));
    const auto b = random_vec(n, -4.0f, 4.0f, 9 + uint32_t(n));
    std::vector<float> got(n), want(n);
    add(a.data(), b.data(), got.data(), n);
    add_ref(a.data(), b.data(), want.data(), n);
    EXPECT_EQ(got, want) << "add n=" << n;
    mul(a.data(), b.data(), got.data(), n);
    mul_ref(a.data(), b.data(), want.data(), n);
    EXPECT_EQ(got, want) << "mul n=" << n;
    got = a;
    want = a;
    scale(got.data(), 0.37f, n);
    scale_ref(want.data(), 0.37f, n);
    EXPECT_EQ(got, want) << "scale n=" << n;
  }
}

TEST_P(OpsTest, DotAndAxpyMatchReference) {
  for (int64_t n : kSizes) {
    const auto a = random_vec(n, -1.0f, 1.0f, 10 + uint32_t(n));
    const auto b = random_vec(n, -1.0f, 1.0f, 11 + uint32_t(n));
    double abs_sum = 0.0;
    for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(double(a[i]) * b[i]);
    const double want = dot_f32_ref(a.data(), b.data(), n);
    // Products + blocked sum: (dot_gamma + u) * sum |a_i b_i|, plus final rounding.
    EXPECT_NEAR(dot_f32(a.data(), b.data(), n), want,
                (dot_gamma(n, GetParam()) + kU) * abs_sum + kU * std::fabs(want))
        << "n=" << n;

    std::vector<float> got = b, ref = b;
    axpy(-0.75f, a.data(), got.data(), n);
    axpy_ref(-0.75f, a.data(), ref.data(), n);
    // Fused (AVX2) is correctly rounded; unfused (SSE4, EMU128) rounds the product first.
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], ref[i], 2 * kU * (0.75 * std::fabs(a[i]) + std::fabs(ref[i])));
    }
  }
}

}  // namespace
}  // namespace muse
