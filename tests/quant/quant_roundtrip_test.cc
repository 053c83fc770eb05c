// Quantize-then-dequantize round trips of every reference type on Gaussian rows and on edge
// rows (zeros, constants, one huge outlier, tiny magnitudes, non-finite values), one block
// and many blocks. Bounds are per type (test::RmseBound) or derived from fp16 precision.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "quant/quant.h"
#include "quant_test_util.h"

namespace muse {
namespace {

using test::BlockSize;
using test::Dequantize;
using test::Gaussian;
using test::Name;
using test::Quantize;
using test::RelativeRmse;
using test::RmseBound;
using test::RoundTrip;

bool IsQuant(DType t) { return BlockSize(t) > 1; }
// The unit in which rows are built: one block, or 32 values of a plain float type.
int64_t Unit(DType t) { return IsQuant(t) ? BlockSize(t) : 32; }

// Relative precision of the stored scales: fp16 rounds to 2^-11; two roundings (scale and
// min) can add up. BF16 data keeps 8 bits; Q8_K and F32 keep float scales.
double ScalePrecision(DType t) {
  if (t == DType::F32 || t == DType::Q8_K) return 1e-6;
  if (t == DType::BF16) return 1.0 / 256;
  return 2.0 / 2048;
}

// Absolute error an fp16 super-scale in the subnormal range can add: its step, 2^-24, times
// the largest integer it multiplies (sub-block scale times level, plus the min's product).
double SubnormalSlack(DType t) {
  int multiplier = 0;
  switch (t) {
    case DType::Q4_0:
      multiplier = 8;
      break;
    case DType::Q4_1:
      multiplier = 15 + 1;
      break;
    case DType::Q5_0:
      multiplier = 16;
      break;
    case DType::Q5_1:
      multiplier = 31 + 1;
      break;
    case DType::Q8_0:
      multiplier = 127;
      break;
    case DType::Q2_K:
      multiplier = 15 * 3 + 15;
      break;
    case DType::Q3_K:
      multiplier = 32 * 4;
      break;
    case DType::Q4_K:
      multiplier = 63 * 15 + 63;
      break;
    case DType::Q5_K:
      multiplier = 63 * 31 + 63;
      break;
    case DType::Q6_K:
      multiplier = 128 * 32;
      break;
    case DType::F16:
      multiplier = 1;
      break;
    default:
      break;
  }
  return multiplier * 5.9604644775390625e-8;
}

class RoundTripTest : public ::testing::TestWithParam<DType> {};

// 8K values: the RMSE strays a few percent from its 64K value (at most 3.5 % over 20 seeds).
TEST_P(RoundTripTest, GaussianManyBlocks) {
  const DType t = GetParam();
  for (uint32_t seed = 0; seed < 4; ++seed) {
    Gaussian g(100 + seed);
    const std::vector<float> x = g.Row(8192);
    EXPECT_LE(RelativeRmse(x, RoundTrip(t, x)), 1.06 * RmseBound(t)) << Name(t) << " seed " << seed;
  }
}

// Thirty-two values (or one K-quant super-block) sample the error poorly: allow 1.6x, which
// the worst of 200 seeds stays under for every type (Q5_1 comes closest, at 1.52x).
TEST_P(RoundTripTest, GaussianOneBlock) {
  const DType t = GetParam();
  for (uint32_t seed = 0; seed < 50; ++seed) {
    Gaussian g(seed);
    const std::vector<float> x = g.Row(Unit(t));
    EXPECT_LE(RelativeRmse(x, RoundTrip(t, x)), 1.6 * RmseBound(t)) << Name(t) << " seed " << seed;
  }
}

// Scale-free: a row at sigma 1e-3 behaves like sigma 1 as long as the fp16 scales stay
// normal-ish. The factor 1.25 covers Q6_K, whose super-scale (~1e-5) is an fp16 subnormal.
TEST_P(RoundTripTest, SmallMagnitudes) {
  const DType t = GetParam();
  Gaussian g(5);
  const std::vector<float> x = g.Row(8192, 1e-3f);
  EXPECT_LE(RelativeRmse(x, RoundTrip(t, x)), 1.25 * RmseBound(t) + 1e-7) << Name(t);
}

// Below fp16's range the scales flush to zero. The output must then be finite and no
// worse than all zeros (relative RMSE <= 1), never a spurious offset.
TEST_P(RoundTripTest, TinyMagnitudesNeverWorseThanZero) {
  const DType t = GetParam();
  for (float sigma : {1e-6f, 1e-9f, 1e-30f}) {
    Gaussian g(6);
    const std::vector<float> x = g.Row(4096, sigma);
    const std::vector<float> y = RoundTrip(t, x);
    for (float v : y) ASSERT_TRUE(std::isfinite(v)) << Name(t) << " sigma " << sigma;
    EXPECT_LE(RelativeRmse(x, y), 1.0 + 1e-6) << Name(t) << " sigma " << sigma;
  }
}

TEST_P(RoundTripTest, ZerosAreExact) {
  const DType t = GetParam();
  for (int64_t n : {Unit(t), 16 * Unit(t)}) {
    const std::vector<float> x(static_cast<size_t>(n), 0.0f);
    for (float v : RoundTrip(t, x)) ASSERT_EQ(v, 0.0f) << Name(t);
  }
}

// A constant is representable in every format up to the rounding of its scale (relative
// for normal fp16 scales, SubnormalSlack when the scale is an fp16 subnormal).
TEST_P(RoundTripTest, Constants) {
  const DType t = GetParam();
  for (float c : {0.7f, -0.7f, 3.0e4f, -1.5e-2f}) {
    const std::vector<float> x(static_cast<size_t>(4 * Unit(t)), c);
    const std::vector<float> y = RoundTrip(t, x);
    for (float v : y)
      ASSERT_NEAR(v, c, ScalePrecision(t) * std::fabs(c) + SubnormalSlack(t))
          << Name(t) << " c " << c;
  }
}

// Block behaviour concerns only the quantized types.
class QuantRoundTripTest : public ::testing::TestWithParam<DType> {};

// A single huge value is kept to the precision of the scale, and blocks that do not contain
// it are quantized exactly as if it were absent (blocks are independent).
TEST_P(QuantRoundTripTest, OutlierStaysInItsBlock) {
  const DType t = GetParam();
  const int64_t n = 8 * BlockSize(t);
  Gaussian g(9);
  const std::vector<float> x = g.Row(n);
  std::vector<float> xo = x;
  const int64_t at = 3 * BlockSize(t) + 5;
  xo[at] = 1000.0f;
  const std::vector<float> y = RoundTrip(t, xo);
  EXPECT_NEAR(y[at], 1000.0f, 1000.0 * ScalePrecision(t)) << Name(t);
  const std::vector<uint8_t> q = Quantize(t, x), qo = Quantize(t, xo);
  const size_t bytes = dtype_info(t).type_size;
  for (int64_t b = 0; b < 8; ++b) {
    const bool same = std::memcmp(&q[b * bytes], &qo[b * bytes], bytes) == 0;
    EXPECT_EQ(same, b != 3) << Name(t) << " block " << b;
  }
}

// NaN or infinity in the input must not crash or touch other blocks. (Plain float types
// carry NaN through by design.)
TEST_P(QuantRoundTripTest, NonFiniteInputIsContained) {
  const DType t = GetParam();
  const int64_t n = 4 * BlockSize(t);
  Gaussian g(11);
  const std::vector<float> x = g.Row(n);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> xb = x;
    xb[BlockSize(t) + 1] = bad;
    const std::vector<uint8_t> q = Quantize(t, x), qb = Quantize(t, xb);
    const size_t bytes = dtype_info(t).type_size;
    for (int64_t b : {0, 2, 3})
      EXPECT_EQ(std::memcmp(&q[b * bytes], &qb[b * bytes], bytes), 0) << Name(t) << " block " << b;
    (void)Dequantize(t, qb.data(), n);  // must not crash; values of block 1 are unspecified
  }
}

// Names the instantiations by type ("q4_K") rather than by index.
std::string ParamName(const ::testing::TestParamInfo<DType>& info) { return Name(info.param); }

INSTANTIATE_TEST_SUITE_P(AllTypes, RoundTripTest, ::testing::ValuesIn(test::AllRefTypes()),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(QuantTypes, QuantRoundTripTest, ::testing::ValuesIn(test::QuantTypes()),
                         ParamName);

// Legacy formats: requantizing dequantized data reproduces the bytes, so a llama.cpp-made
// Q4_0/Q8_0 tensor survives a round trip through floats unchanged.
TEST(RoundTrip, LegacyRequantizationIsIdempotent) {
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) {
    Gaussian g(21);
    const std::vector<float> x = g.Row(65536);
    const std::vector<uint8_t> q = Quantize(t, x);
    const std::vector<uint8_t> q2 = Quantize(t, Dequantize(t, q.data(), 65536));
    EXPECT_EQ(q, q2) << Name(t);
  }
}

// Q8_0's rounding is GGML's: half away from zero after multiplying by 1/d. Values chosen
// so that x / d lands exactly on .5: with amax 127, d = 1 and 2.5 -> 3, -2.5 -> -3.
TEST(RoundTrip, Q8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  const std::vector<uint8_t> q = Quantize(DType::Q8_0, x);
  BlockQ8_0 b;
  std::memcpy(&b, q.data(), sizeof(b));
  EXPECT_EQ(b.d, 0x3C00);  // 1.0
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 3);
  EXPECT_EQ(b.qs[2], -3);
  EXPECT_EQ(b.qs[3], 1);
}

// Q4_0 maps the element of largest magnitude to level -8, so d takes the opposite sign.
TEST(RoundTrip, Q4_0ScaleSignFollowsGgml) {
  std::vector<float> x(32, 0.0f);
  x[7] = 4.0f;
  x[8] = -1.0f;
  BlockQ4_0 b;
  std::memcpy(&b, Quantize(DType::Q4_0, x).data(), sizeof(b));
  EXPECT_EQ(fp16_to_fp32(b.d), -0.5f);  // 4 / -8
  EXPECT_EQ(b.qs[7] & 0xF, 0);          // level 0 - 8 = -8: -8 * -0.5 = 4
  EXPECT_EQ(b.qs[8] & 0xF, 10);         // -1 / -0.5 = 2 -> level 10
}

}  // namespace
}  // namespace muse
