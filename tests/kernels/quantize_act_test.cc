// The dispatched activation quantizers must equal quant/'s references byte for byte on every
// SIMD target: the matmul tests compare SIMD dots against reference dots over the same
// quantized activations, so any difference here would go unseen there.
#include <cstring>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/quantize_act.h"

namespace muse {
namespace {

std::vector<float> activations(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n), 0.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = dist(rng) * (i % 97 == 0 ? 20.0f : 1.0f);  // outliers set some block scales
  }
  // Exact ties: a block whose values are half-integers of its own scale (amax 127 -> d 1).
  for (int j = 0; j < 32 && j < n; ++j) x[size_t(j)] = j == 0 ? 127.0f : float(j) + 0.5f;
  // An all-zero block and a block whose max is negative with a positive twin after it.
  if (n >= 96) {
    std::fill(x.begin() + 32, x.begin() + 64, 0.0f);
    x[70] = -9.0f;
    x[71] = 9.0f;
  }
  return x;
}

class QuantizeActTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(QuantizeActTest);

TEST_P(QuantizeActTest, DispatchesToTargetUnderTest) {
  EXPECT_STREQ(quantize_act_target_name(), hwy::TargetName(GetParam()));
}

TEST_P(QuantizeActTest, MatchesReferenceBitForBit) {
  for (ActType a : {ActType::Q8A, ActType::Q8K}) {
    for (int64_t n : {256, 1024, 2816, 4096}) {
      for (uint32_t seed : {1u, 2u, 3u}) {
        const auto x = activations(n, seed);
        const size_t bytes = act_row_bytes(a, n);
        std::vector<uint8_t> got(bytes, 0xAA), want(bytes, 0x55);
        quantize_act(a, x.data(), got.data(), n);
        quantize_act_ref(a, x.data(), want.data(), n);
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), bytes))
            << "act " << int(a) << " n " << n << " seed " << seed;
      }
    }
  }
}

TEST(QuantizeActRef, TiesRoundHalfToEven) {
  std::vector<float> x(32);
  x[0] = 127.0f;  // d = 1
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  BlockQ8A b;
  quantize_act_ref(ActType::Q8A, x.data(), &b, 32);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], 4);
  EXPECT_EQ(b.qs[3], -2);
}

}  // namespace
}  // namespace muse
