// vec_dot_ref against the float dot product of the dequantized weights with the dequantized
// activations, for every weight type; plus the activation quantizers' own contracts (Q8A
// scale and sum, Q8_K sign convention and bsums) and an int32 headroom case for Q6_K.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "quant/quant.h"
#include "quant_test_util.h"

namespace muse {
namespace {

using test::Gaussian;
using test::Name;

// Dequantized activations, written out from the block definitions in quant.h/blocks.h.
std::vector<float> DequantizeAct(ActType a, const void* q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  if (a == ActType::F32) {
    std::memcpy(y.data(), q, size_t(n) * sizeof(float));
  } else if (a == ActType::Q8A) {
    const auto* b = static_cast<const BlockQ8A*>(q);
    for (int64_t i = 0; i < n; ++i) y[i] = b[i / kQK].d * float(b[i / kQK].qs[i % kQK]);
  } else {
    dequantize_row_ref(DType::Q8_K, q, y.data(), n);
  }
  return y;
}

struct DotCase {
  double got, want, tolerance;
};

// The reference rounds each block's float terms a handful of times (products of scales,
// int32 -> float, the min term) and then accumulates in double. Each rounding is at most
// 2^-24 of a term bounded by sum over the block of (|w_i| + 2 max|w|) |a_i|: the scale
// part and the min part of an affine weight are each at most |w_i| + max|w| in size.
// 8 roundings' worth is a generous but still tight (1e-6 relative) allowance.
DotCase RunDot(DType t, const std::vector<float>& w, const std::vector<float>& a) {
  const int64_t n = int64_t(w.size());
  const std::vector<uint8_t> wq = test::Quantize(t, w);
  const ActType at = act_type(t);
  std::vector<uint8_t> aq(act_row_bytes(at, n));
  quantize_act_ref(at, a.data(), aq.data(), n);
  const std::vector<float> wd = test::Dequantize(t, wq.data(), n);
  const std::vector<float> ad = DequantizeAct(at, aq.data(), n);
  const int64_t block = std::max<int64_t>(dtype_info(t).block_size, 32);
  double want = 0.0, magnitude = 0.0;
  for (int64_t b = 0; b < n; b += block) {
    double max_w = 0.0;
    for (int64_t i = b; i < b + block; ++i) max_w = std::fmax(max_w, std::fabs(wd[i]));
    for (int64_t i = b; i < b + block; ++i) {
      want += double(wd[i]) * double(ad[i]);
      magnitude += (std::fabs(double(wd[i])) + 2.0 * max_w) * std::fabs(double(ad[i]));
    }
  }
  const double got = vec_dot_ref(t, n, wq.data(), aq.data());
  return {got, want, 8.0 * 5.96e-8 * magnitude};
}

class DotTest : public ::testing::TestWithParam<DType> {};

TEST_P(DotTest, MatchesDequantizedFloatDot) {
  const DType t = GetParam();
  const int64_t unit = std::max<int64_t>(dtype_info(t).block_size, 256);
  for (int64_t n : {unit, 16 * unit}) {
    for (uint32_t seed = 0; seed < 5; ++seed) {
      Gaussian g(300 + seed);
      // Weights with an offset and activations with a mean: the min and bsum terms matter.
      const std::vector<float> w = g.Row(n, 0.05f, seed % 2 ? 0.02f : 0.0f);
      const std::vector<float> a = g.Row(n, 2.0f, 0.7f);
      const DotCase c = RunDot(t, w, a);
      EXPECT_NEAR(c.got, c.want, c.tolerance) << Name(t) << " n " << n << " seed " << seed;
    }
  }
}

// The quantized dot must also approximate the exact float dot within the formats' error:
// this catches an activation quantizer that is self-consistent but wrong.
TEST_P(DotTest, ApproximatesExactDot) {
  const DType t = GetParam();
  const int64_t n = 4096;
  Gaussian g(77);
  const std::vector<float> w = g.Row(n);
  const std::vector<float> a = g.Row(n, 1.0f, 0.5f);
  double exact = 0.0, norm = 0.0, wn = 0.0, an = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    exact += double(w[i]) * a[i];
    wn += double(w[i]) * w[i];
    an += double(a[i]) * a[i];
  }
  norm = std::sqrt(wn * an);
  const DotCase c = RunDot(t, w, a);
  // For independent rounding errors the dot moves by about |w| |a| (relative RMSE of the
  // weights + that of the 8-bit activations, ~0.006) / sqrt(n): allow 6 of those sigmas.
  const double act_rmse = act_type(t) == ActType::F32 ? 0.0 : 0.008;
  const double sigma = norm * (test::RmseBound(t) + act_rmse) / std::sqrt(double(n));
  EXPECT_NEAR(c.got, exact, 6.0 * sigma + 1e-6 * norm) << Name(t);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DotTest, ::testing::ValuesIn(test::AllRefTypes()),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return Name(info.param);
                         });

TEST(ActQuant, TypesAndSizes) {
  EXPECT_EQ(act_type(DType::F32), ActType::F32);
  EXPECT_EQ(act_type(DType::F16), ActType::F32);
  EXPECT_EQ(act_type(DType::BF16), ActType::F32);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0})
    EXPECT_EQ(act_type(t), ActType::Q8A) << Name(t);
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K})
    EXPECT_EQ(act_type(t), ActType::Q8K) << Name(t);
  EXPECT_EQ(act_row_bytes(ActType::F32, 512), 2048u);
  EXPECT_EQ(act_row_bytes(ActType::Q8A, 512), 16u * 40u);
  EXPECT_EQ(act_row_bytes(ActType::Q8K, 512), 2u * 292u);
}

TEST(ActQuant, Q8AScaleAndSum) {
  Gaussian g(5);
  std::vector<float> x = g.Row(64, 1.0f, 0.3f);
  x[5] = -4.0f;  // the largest magnitude of block 0, negative: d stays positive
  std::vector<BlockQ8A> y(2);
  quantize_row_q8a_ref(x.data(), y.data(), 64);
  EXPECT_EQ(y[0].d, fp16_to_fp32(fp32_to_fp16(4.0f / 127.0f)));  // f16 scale, as GGML
  EXPECT_EQ(y[0].qs[5], -127);
  for (const BlockQ8A& b : y) {
    int sum = 0;
    for (int8_t q : b.qs) sum += q;
    EXPECT_EQ(b.s, b.d * float(sum));
    EXPECT_GT(b.d, 0.0f);
  }
  for (int i = 0; i < 64; ++i)
    // Half a step, plus 127 quants times the f16 rounding of d (<= 2^-11 relative).
    EXPECT_LE(std::fabs(y[i / 32].d * y[i / 32].qs[i % 32] - x[i]), 0.57f * y[i / 32].d);
}

// GGML's Q8_K: the largest-magnitude element becomes -127, so d = -max / 127.
TEST(ActQuant, Q8KSignConventionAndBsums) {
  Gaussian g(6);
  std::vector<float> x = g.Row(512);
  x[10] = 6.35f;   // block 0: positive extreme -> d < 0
  x[300] = -5.0f;  // block 1: negative extreme -> d > 0
  std::vector<BlockQ8_K> y(2);
  quantize_row_q8k_ref(x.data(), y.data(), 512);
  EXPECT_EQ(y[0].qs[10], -127);
  EXPECT_FLOAT_EQ(y[0].d, -6.35f / 127.0f);
  EXPECT_EQ(y[1].qs[300 - 256], -127);
  EXPECT_FLOAT_EQ(y[1].d, 5.0f / 127.0f);
  for (const BlockQ8_K& b : y) {
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += b.qs[16 * j + i];
      EXPECT_EQ(b.bsums[j], sum);
    }
  }
  std::vector<float> zeros(256, 0.0f);
  quantize_row_q8k_ref(zeros.data(), y.data(), 256);
  EXPECT_EQ(y[0].d, 0.0f);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[0].bsums[j], 0);
}

// Q6_K's largest integer sum: levels -32, scales -128, activations -127 everywhere gives
// 16 * -128 * 16 * (-32 * -127) = -133,169,152 per super-block, inside int32.
TEST(ActQuant, Q6_KExtremesStayInInt32) {
  BlockQ6_K w;
  std::memset(w.ql, 0, sizeof(w.ql));
  std::memset(w.qh, 0, sizeof(w.qh));             // level 0 - 32 = -32
  std::memset(w.scales, 0x80, sizeof(w.scales));  // -128
  w.d = 0x3C00;                                   // 1.0
  BlockQ8_K a;
  a.d = 1.0f;
  std::memset(a.qs, 0x81, sizeof(a.qs));  // -127
  for (int16_t& s : a.bsums) s = -127 * 16;
  EXPECT_EQ(vec_dot_ref(DType::Q6_K, 256, &w, &a), -133169152.0f);
}

}  // namespace
}  // namespace muse
