// Quantized matmul against the scalar reference (quant/ vec_dot_ref), for every weight type
// and on every SIMD target this build compiled and this CPU runs. Also checks the product
// itself: y = W x against a double-precision product of the dequantized weights.
#include "kernels/matmul.h"

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/qdot.h"
#include "quant/quant.h"

namespace muse {
namespace {

constexpr DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                            DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                            DType::Q4_K, DType::Q5_K, DType::Q6_K};

struct Problem {
  DType type;
  int64_t n_rows, n_k, n_cols;
  std::vector<uint8_t> w;
  std::vector<float> w_deq;  // dequantized weights
  std::vector<float> x;
};

Problem make_problem(DType t, int64_t n_rows, int64_t n_k, int64_t n_cols, uint32_t seed) {
  Problem p{t, n_rows, n_k, n_cols, {}, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> w(n_rows * n_k);
  for (float& v : w) v = dist(rng);
  const size_t rb = row_bytes(t, n_k);
  p.w.resize(rb * n_rows);
  p.w_deq.resize(n_rows * n_k);
  for (int64_t r = 0; r < n_rows; ++r) {
    quantize_row_ref(t, w.data() + r * n_k, p.w.data() + r * rb, n_k);
    dequantize_row_ref(t, p.w.data() + r * rb, p.w_deq.data() + r * n_k, n_k);
  }
  p.x.resize(n_cols * n_k);
  for (float& v : p.x) v = dist(rng);
  return p;
}

// Runs the matmul and checks it against (a) the scalar reference on the same quantized
// activations — differences are float summation order only — and (b) the exact product of
// dequantized weights with the unquantized activations — differences there are activation
// quantization (8-bit: ~0.5% of the row's |w|.|x|).
void check(ThreadPool& pool, const Problem& p) {
  MatmulScratch scratch;
  const QMatrix w{p.type, p.w.data(), p.n_rows, p.n_k};
  ASSERT_TRUE(check_matmul(w).ok()) << check_matmul(w).message();
  std::vector<float> y(p.n_cols * p.n_rows, NAN);
  matmul(pool, scratch, w, p.x.data(), p.n_cols, y.data());

  const ActType act = act_type(p.type);
  const size_t ab = act == ActType::F32 ? p.n_k * sizeof(float) : act_row_bytes(act, p.n_k);
  std::vector<uint8_t> a(ab);
  const size_t rb = row_bytes(p.type, p.n_k);
  for (int64_t c = 0; c < p.n_cols; ++c) {
    const float* xc = p.x.data() + c * p.n_k;
    if (act == ActType::F32)
      std::memcpy(a.data(), xc, ab);
    else
      quantize_act_ref(act, xc, a.data(), p.n_k);
    for (int64_t r = 0; r < p.n_rows; ++r) {
      double exact = 0, magnitude = 0;
      for (int64_t k = 0; k < p.n_k; ++k) {
        exact += double(p.w_deq[r * p.n_k + k]) * xc[k];
        magnitude += std::fabs(double(p.w_deq[r * p.n_k + k]) * xc[k]);
      }
      const float ref = vec_dot_ref(p.type, p.n_k, p.w.data() + r * rb, a.data());
      const float got = y[c * p.n_rows + r];
      ASSERT_NEAR(got, ref, 2e-6 * magnitude + 1e-6)
          << dtype_name(p.type) << " row " << r << " col " << c << " target "
          << hwy::TargetName(hwy::SupportedTargets() & -hwy::SupportedTargets());
      const double act_tol = act == ActType::F32 ? 1e-5 : 0.02;
      ASSERT_NEAR(got, exact, act_tol * magnitude) << dtype_name(p.type) << " row " << r;
    }
  }
}

class PerTarget : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override { hwy::SetSupportedTargetsForTest(GetParam()); }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

std::string TargetParamName(const ::testing::TestParamInfo<int64_t>& info) {
  return hwy::TargetName(info.param);
}

TEST_P(PerTarget, AllTypesAllTileShapes) {
  ThreadPool pool(2);
  uint32_t seed = 1;
  for (DType t : kTypes) {
    const int64_t bs = dtype_info(t).block_size;
    const int64_t n_k = bs == 256 ? 512 : 96;
    for (int64_t n_cols : {1, 3, 4, 5, 16}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " n_cols " + std::to_string(n_cols));
      check(pool, make_problem(t, 13, n_k, n_cols, seed++));
    }
  }
}

TEST_P(PerTarget, FloatTailsAndSingleThread) {
  ThreadPool pool(1);
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    for (int64_t n_k : {1, 3, 7, 17, 100}) check(pool, make_problem(t, 5, n_k, 3, uint32_t(n_k)));
}

INSTANTIATE_TEST_SUITE_P(Matmul, PerTarget,
                         ::testing::ValuesIn(hwy::SupportedAndGeneratedTargets()), TargetParamName);

TEST(Matmul, RejectsBadShapes) {
  const std::vector<uint8_t> w(1024);
  EXPECT_FALSE(check_matmul({DType::Q8_0, w.data(), 4, 33}).ok());
  EXPECT_FALSE(check_matmul({DType::Q4_K, w.data(), 4, 128}).ok());
  EXPECT_FALSE(check_matmul({DType::IQ2_XXS, w.data(), 4, 256}).ok());
  EXPECT_FALSE(check_matmul({DType::Q8_0, w.data(), 0, 32}).ok());
  EXPECT_TRUE(check_matmul({DType::Q8_0, w.data(), 4, 64}).ok());
}

}  // namespace
}  // namespace muse
