// The float GEMM of kernels/gemm_f32.h against its double-accumulating reference on every
// SIMD target this binary and the CPU support (HWY_BEFORE_TEST), for every operand layout
// (plain / transposed A and B), overwrite and accumulate, serial and threaded, with shapes
// that leave partial micro-tiles and cross the k (256) and column (2048) blocks.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/gemm_f32.h"

namespace muse {
namespace {

constexpr double kU = 1.0 / (1 << 24);  // float unit roundoff

std::vector<float> random_vec(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

struct Shape {
  int64_t m, n, k;
};
constexpr Shape kShapes[] = {{1, 1, 1},      {7, 17, 3},   {6, 16, 256},  {13, 33, 257},
                             {100, 70, 300}, {97, 5, 600}, {13, 2100, 5}, {3, 40, 0}};

HWY_BEFORE_TEST(GemmF32Test);

TEST_P(GemmF32Test, DispatchesToTargetUnderTest) {
  EXPECT_STREQ(gemm_f32_target_name(), hwy::TargetName(GetParam()));
}

TEST_P(GemmF32Test, MatchesReferenceForEveryLayout) {
  ThreadPool pool(2);
  GemmScratch scratch;
  GemmWorkspace ws;
  uint32_t seed = 1;
  for (const Shape& s : kShapes) {
    const auto a = random_vec(s.m * s.k, seed++), b = random_vec(s.k * s.n, seed++);
    const auto c0 = random_vec(s.m * s.n, seed++);
    for (int layout = 0; layout < 4; ++layout) {
      const bool at = layout & 1, bt = layout & 2;
      // Stored row-major as [m][k] (or [k][m] when transposed), [k][n] (or [n][k]).
      const GemmOperand ao = at ? gemm_transposed(a.data(), s.m) : gemm_rows(a.data(), s.k);
      const GemmOperand bo = bt ? gemm_transposed(b.data(), s.k) : gemm_rows(b.data(), s.n);
      for (bool accumulate : {false, true}) {
        for (bool threaded : {false, true}) {
          std::vector<float> got = c0, want = c0;
          GemmArgs g{.m = s.m,
                     .n = s.n,
                     .k = s.k,
                     .a = ao,
                     .b = bo,
                     .c = got.data(),
                     .ldc = s.n,
                     .accumulate = accumulate};
          threaded ? gemm_f32(pool, scratch, g) : gemm_f32_serial(ws, g);
          g.c = want.data();
          gemm_f32_ref(g);
          for (int64_t i = 0; i < s.m; ++i) {
            for (int64_t j = 0; j < s.n; ++j) {
              // Summation error bound: (k + 2) u Σ_p |a_ip b_pj| (+ u |c| when accumulating);
              // entries are in [-1, 1], so Σ_p |a b| <= k.
              double bound = 0.0;
              for (int64_t p = 0; p < s.k; ++p)
                bound += std::fabs(double(ao.data[i * ao.row_stride + p * ao.col_stride]) *
                                   double(bo.data[p * bo.row_stride + j * bo.col_stride]));
              bound = (double(s.k) + 2) * kU * bound + 2 * kU * std::fabs(want[i * s.n + j]);
              ASSERT_NEAR(got[i * s.n + j], want[i * s.n + j], bound)
                  << s.m << "x" << s.n << "x" << s.k << " layout " << layout << " acc "
                  << accumulate << " threaded " << threaded << " at " << i << "," << j;
            }
          }
        }
      }
    }
  }
}

TEST_P(GemmF32Test, ThreadCountDoesNotChangeBits) {
  GemmScratch scratch;
  const Shape s{61, 2100, 300};  // several row blocks, two column blocks, two k blocks
  const auto a = random_vec(s.m * s.k, 7), b = random_vec(s.n * s.k, 8);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<float> c(size_t(s.m * s.n));
    gemm_f32(pool, scratch,
             {.m = s.m,
              .n = s.n,
              .k = s.k,
              .a = gemm_rows(a.data(), s.k),
              .b = gemm_transposed(b.data(), s.k),
              .c = c.data(),
              .ldc = s.n});
    results.push_back(std::move(c));
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST_P(GemmF32Test, StridedOutputLeavesOtherColumnsAlone) {
  GemmWorkspace ws;
  const int64_t m = 9, n = 11, k = 4, ldc = 20;
  const auto a = random_vec(m * k, 9), b = random_vec(k * n, 10);
  std::vector<float> c(size_t(m * ldc), 42.0f);
  gemm_f32_serial(ws, {.m = m,
                       .n = n,
                       .k = k,
                       .a = gemm_rows(a.data(), k),
                       .b = gemm_rows(b.data(), n),
                       .c = c.data(),
                       .ldc = ldc});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(c[size_t(i * ldc + j)], 42.0f);
}

}  // namespace
}  // namespace muse
