// Gradient checks against central finite differences of a double-precision reference.
//
// Method: each op's forward is re-written here in double, in plain loops from its defining
// equations (not from the op's code). The scalar objective is L = Σ_i c_i y_i with fixed
// random c, so dL/dy = c is the upstream gradient handed to the fp32 backward, and the numeric
// gradient of L is taken by central differences of the double reference.
//
// Tolerance: with step h = 1e-5 on O(1) inputs, truncation error is O(h² f''') ~ 1e-10 and
// rounding error ~ 1e-16 / h = 1e-11, so the numeric gradient is exact to ~1e-9. What remains
// is the fp32 op's own rounding: a few ulp (6e-8) grown by the reduction lengths here
// (< 300); measured worst cases are 0.3-2.6e-7 of the tensor's largest element. kGradTol =
// 1e-5 of that element leaves a 40x margin and still fails on any wrong term (a wrong sign, a
// missing factor or an off-by-one mask changes elements by O(1) of that maximum).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace muse {

constexpr double kGradTol = 1e-5;
constexpr double kFdStep = 1e-5;

inline std::vector<double> random_doubles(size_t n, uint32_t seed, double lo = -1.0,
                                          double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = double(float(dist(rng)));  // exactly representable as float
  return v;
}

inline std::vector<float> to_float(const std::vector<double>& v) {
  return std::vector<float>(v.begin(), v.end());
}

// Central differences of f with respect to every element of *x (restored afterwards).
inline std::vector<double> numeric_grad(const std::function<double()>& f, std::vector<double>* x,
                                        double h = kFdStep) {
  std::vector<double> g(x->size());
  for (size_t i = 0; i < x->size(); ++i) {
    const double keep = (*x)[i];
    (*x)[i] = keep + h;
    const double up = f();
    (*x)[i] = keep - h;
    const double down = f();
    (*x)[i] = keep;
    g[i] = (up - down) / (2.0 * h);
  }
  return g;
}

// max |got − want| <= tol · max |want|; also requires the gradient to be nontrivial, so a
// backward that writes zeros cannot pass against a reference that is zero too.
inline void expect_grad_near(std::span<const float> got, std::span<const double> want,
                             const std::string& what, double tol = kGradTol) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0.0, err = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    const double e = std::fabs(double(got[i]) - want[i]);
    if (e > err) err = e, worst = i;
  }
  ASSERT_GT(scale, 1e-6) << what << ": reference gradient is zero, the check proves nothing";
  EXPECT_LE(err, tol * scale) << what << ": worst element " << worst << " got " << got[worst]
                              << " want " << want[worst] << " (max |grad| " << scale << ")";
}

// Same check for a forward output against its double reference.
inline void expect_values_near(std::span<const float> got, std::span<const double> want,
                               const std::string& what, double tol = 1e-5) {
  expect_grad_near(got, want, what, tol);
}

// Σ c_i y_i in double.
inline double weighted_sum(std::span<const double> c, std::span<const double> y) {
  double s = 0.0;
  for (size_t i = 0; i < c.size(); ++i) s += c[i] * y[i];
  return s;
}

}  // namespace muse
