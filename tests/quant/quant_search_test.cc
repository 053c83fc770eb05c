// The K-quant scale searches (quant/kquant_search.h) judged by the objective they minimise,
// the weighted error of one group: the search must never lose to its own starting point
// (the plain absmax or min/max grid) and must gain a stated amount on average. The RMSE
// table cannot see all of this: Q3_K's descent improves its x^2-weighted error by 8 % but its
// plain RMSE by only 0.6 %.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "quant/kquant_search.h"
#include "quant_test_util.h"

namespace muse::quant_internal {
namespace {

constexpr int kGroups = 2000;

double SymmetricError(const std::vector<float>& x, const std::vector<float>& w, float s,
                      const int8_t* l) {
  double e = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = double(x[i]) - double(s) * l[i];
    e += w[i] * d * d;
  }
  return e;
}

double AffineError(const std::vector<float>& x, const std::vector<float>& w, float s, float m,
                   const uint8_t* l, bool abs_error) {
  double e = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = double(s) * l[i] - double(m) - double(x[i]);
    e += w[i] * (abs_error ? std::fabs(d) : d * d);
  }
  return e;
}

// Returns the mean relative gain of `search` over `plain` across kGroups Gaussian groups and
// checks the search never does worse (up to float rounding of the objective).
double SymmetricGain(int n, int nmax, const SymmetricSearch& search) {
  test::Gaussian g(31);
  double gain = 0.0;
  for (int k = 0; k < kGroups; ++k) {
    const std::vector<float> x = g.Row(n);
    std::vector<float> w(n);
    for (int i = 0; i < n; ++i) w[i] = x[i] * x[i];  // GGML's weighting for Q3_K and Q6_K
    std::vector<int8_t> l0(n), l1(n);
    const float s0 = fit_symmetric(x.data(), w.data(), n, nmax, SymmetricSearch{}, l0.data());
    const float s1 = fit_symmetric(x.data(), w.data(), n, nmax, search, l1.data());
    for (int i = 0; i < n; ++i) {
      EXPECT_GE(l1[i], -nmax);
      EXPECT_LE(l1[i], nmax - 1);
    }
    const double e0 = SymmetricError(x, w, s0, l0.data()), e1 = SymmetricError(x, w, s1, l1.data());
    EXPECT_LE(e1, e0 * (1 + 1e-5)) << "group " << k;
    gain += (e0 - e1) / e0;
  }
  return gain / kGroups;
}

double AffineGain(int n, int nmax, const AffineSearch& search, bool rms_weights) {
  test::Gaussian g(32);
  double gain = 0.0;
  AffineSearch plain = search;
  plain.nstep = -1;  // no candidates: only the min/max starting grid
  for (int k = 0; k < kGroups; ++k) {
    const std::vector<float> x = g.Row(n);
    double sum_x2 = 0.0;
    for (float v : x) sum_x2 += double(v) * v;
    std::vector<float> w(n);
    // Q4_K/Q5_K weight by rms + |x|, Q2_K by |x| (as GGML).
    for (int i = 0; i < n; ++i)
      w[i] = float((rms_weights ? std::sqrt(sum_x2 / n) : 0.0) + std::fabs(x[i]));
    std::vector<uint8_t> l0(n), l1(n);
    float m0 = 0.0f, m1 = 0.0f;
    const float s0 = fit_affine(x.data(), w.data(), n, nmax, plain, l0.data(), &m0);
    const float s1 = fit_affine(x.data(), w.data(), n, nmax, search, l1.data(), &m1);
    EXPECT_GE(m1, 0.0f);
    for (int i = 0; i < n; ++i) EXPECT_LE(l1[i], nmax);
    const double e0 = AffineError(x, w, s0, m0, l0.data(), search.abs_error);
    const double e1 = AffineError(x, w, s1, m1, l1.data(), search.abs_error);
    EXPECT_LE(e1, e0 * (1 + 1e-5)) << "group " << k;
    gain += (e0 - e1) / e0;
  }
  return gain / kGroups;
}

// Mean gains measured with these seeds (Q6_K 0.173, Q3_K 0.083, Q4_K 0.182, Q2_K 0.087); the
// bounds sit at about 80 % of them, so removing a search (gain 0) or weakening it clearly
// fails while compiler-level float differences do not.
TEST(KQuantSearch, Q6_KGridGains) {
  const double gain = SymmetricGain(16, 32, kQ6Search);
  std::printf("Q6_K grid: mean weighted-error gain %.4f\n", gain);
  EXPECT_GT(gain, 0.14);
}

TEST(KQuantSearch, Q3_KDescentGains) {
  const double gain = SymmetricGain(16, 4, kQ3Search);
  std::printf("Q3_K descent: mean weighted-error gain %.4f\n", gain);
  EXPECT_GT(gain, 0.065);
}

TEST(KQuantSearch, Q4_KAffineGains) {
  const double gain = AffineGain(32, 15, {.rmin = -1.0f, .rdelta = 0.1f, .nstep = 20}, true);
  std::printf("Q4_K search: mean weighted-error gain %.4f\n", gain);
  EXPECT_GT(gain, 0.145);
}

TEST(KQuantSearch, Q2_KAffineAbsGains) {
  const double gain =
      AffineGain(16, 3, {.rmin = -0.5f, .rdelta = 0.1f, .nstep = 15, .abs_error = true}, false);
  std::printf("Q2_K search: mean weighted-|error| gain %.4f\n", gain);
  EXPECT_GT(gain, 0.07);
}

TEST(KQuantSearch, DegenerateGroups) {
  std::vector<float> zeros(16, 0.0f), w(16, 1.0f);
  std::vector<int8_t> l(16, 5);
  EXPECT_EQ(fit_symmetric(zeros.data(), w.data(), 16, 4, kQ3Search, l.data()), 0.0f);
  for (int8_t v : l) EXPECT_EQ(v, 0);

  // A negative constant is all "min": scale 0, min = -c.
  std::vector<float> neg(32, -0.75f);
  std::vector<float> w32(32, 1.0f);
  std::vector<uint8_t> lu(32, 7);
  float m = 0.0f;
  EXPECT_EQ(fit_affine(neg.data(), w32.data(), 32, 15, {.nstep = 20}, lu.data(), &m), 0.0f);
  EXPECT_EQ(m, 0.75f);
  for (uint8_t v : lu) EXPECT_EQ(v, 0);

  // NaN must not crash or produce out-of-range levels.
  std::vector<float> bad(32, 1.0f);
  bad[3] = std::nanf("");
  fit_affine(bad.data(), w32.data(), 32, 15, {.rmin = -1.0f, .rdelta = 0.1f, .nstep = 20},
             lu.data(), &m);
  for (uint8_t v : lu) EXPECT_LE(v, 15);
  fit_symmetric(bad.data(), w32.data(), 16, 32, kQ6Search, l.data());
  for (int8_t v : l) {
    EXPECT_GE(v, -32);
    EXPECT_LE(v, 31);
  }
}

}  // namespace
}  // namespace muse::quant_internal
