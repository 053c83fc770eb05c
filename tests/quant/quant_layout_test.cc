// Proves the GGML bit layouts of every block format: blocks are built by hand, one field is
// set at a time, and the test checks which output element moves and to what value. Expected
// positions come from GGML's documented layouts (ggml-common.h, dequantize_row_* in
// ggml-quants.c), written out as tables here rather than derived from our own packing code.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant_test_util.h"

namespace muse {
namespace {

using test::Dequantize;

constexpr fp16_t kHalfOne = 0x3C00;       // 1.0
constexpr fp16_t kHalfTwo = 0x4000;       // 2.0
constexpr fp16_t kHalfHalf = 0x3800;      // 0.5
constexpr fp16_t kHalfQuarter = 0x3400;   // 0.25
constexpr fp16_t kHalfMinusOne = 0xBC00;  // -1.0

template <class Block>
std::vector<float> Deq(DType t, const Block& b) {
  return Dequantize(t, &b, test::BlockSize(t));
}

// Asserts that y differs from base in element e only, where it equals want (exactly: all
// values here are small integers times powers of two).
void ExpectOnly(const std::vector<float>& base, const std::vector<float>& y, int e, float want,
                const std::string& what) {
  for (int i = 0; i < int(y.size()); ++i) {
    if (i == e)
      EXPECT_EQ(y[i], want) << what << ": element " << e;
    else
      ASSERT_EQ(y[i], base[i]) << what << ": element " << i << " moved, expected only " << e;
  }
}

// Flips the lowest bit of every `width`-bit field in bytes [offset, offset + len) of the
// block, one at a time. Each flip must move exactly one element, and together they must
// reach every element `fields_per_element` times: the field-to-element map is a bijection
// (or k-to-one for multi-field levels). Requires a base block with no zero scales.
template <class Block>
void SweepFields(DType t, const Block& base_block, size_t offset, size_t len, int width,
                 int fields_per_element) {
  const std::vector<float> base = Deq(t, base_block);
  std::vector<int> hits(base.size(), 0);
  for (size_t byte = offset; byte < offset + len; ++byte) {
    for (int f = 0; f < 8 / width; ++f) {
      Block b = base_block;
      reinterpret_cast<uint8_t*>(&b)[byte] ^= uint8_t(1u << (f * width));
      const std::vector<float> y = Deq(t, b);
      int moved = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        if (y[i] != base[i]) {
          ++moved;
          ++hits[i];
        }
      }
      ASSERT_EQ(moved, 1) << test::Name(t) << " byte " << byte << " field " << f;
    }
  }
  for (size_t i = 0; i < hits.size(); ++i)
    ASSERT_EQ(hits[i], fields_per_element) << test::Name(t) << " element " << i;
}

TEST(QuantLayout, PlainFloats) {
  const float f32[2] = {1.5f, -3.25f};
  EXPECT_EQ(Dequantize(DType::F32, f32, 2), (std::vector<float>{1.5f, -3.25f}));
  // IEEE half: 0x3C00 = 1, 0xC000 = -2, 0x7BFF = 65504 (largest), 0x0001 = 2^-24 (subnormal).
  const fp16_t f16[4] = {0x3C00, 0xC000, 0x7BFF, 0x0001};
  EXPECT_EQ(Dequantize(DType::F16, f16, 4),
            (std::vector<float>{1.0f, -2.0f, 65504.0f, 5.9604644775390625e-8f}));
  // bfloat16 is the top half of a float: 0x3F80 = 1, 0xC040 = -3.
  const bf16_t bf16[2] = {0x3F80, 0xC040};
  EXPECT_EQ(Dequantize(DType::BF16, bf16, 2), (std::vector<float>{1.0f, -3.0f}));
}

TEST(QuantLayout, Q4_0NibbleOrder) {
  BlockQ4_0 b;
  b.d = kHalfTwo;
  std::memset(b.qs, 0x88, sizeof(b.qs));  // level 8 - 8 = 0 everywhere
  const std::vector<float> base = Deq(DType::Q4_0, b);
  for (float v : base) ASSERT_EQ(v, 0.0f);
  for (int j = 0; j < 16; ++j) {
    BlockQ4_0 lo = b, hi = b;
    lo.qs[j] = 0x80;  // low nibble 0: weight j = (0 - 8) * 2
    hi.qs[j] = 0xF8;  // high nibble 15: weight j + 16 = (15 - 8) * 2
    ExpectOnly(base, Deq(DType::Q4_0, lo), j, -16.0f, "q4_0 low nibble");
    ExpectOnly(base, Deq(DType::Q4_0, hi), j + 16, 14.0f, "q4_0 high nibble");
  }
}

TEST(QuantLayout, Q4_1NibbleOrderAndMin) {
  BlockQ4_1 b;
  b.d = kHalfHalf;
  b.m = kHalfMinusOne;
  std::memset(b.qs, 0, sizeof(b.qs));
  const std::vector<float> base = Deq(DType::Q4_1, b);
  for (float v : base) ASSERT_EQ(v, -1.0f);  // x = d * 0 + m
  for (int j = 0; j < 16; ++j) {
    BlockQ4_1 lo = b, hi = b;
    lo.qs[j] = 0x05;
    hi.qs[j] = 0xF0;
    ExpectOnly(base, Deq(DType::Q4_1, lo), j, 1.5f, "q4_1 low nibble");        // 0.5 * 5 - 1
    ExpectOnly(base, Deq(DType::Q4_1, hi), j + 16, 6.5f, "q4_1 high nibble");  // 0.5 * 15 - 1
  }
}

TEST(QuantLayout, Q5_0FifthBitOrder) {
  BlockQ5_0 b;
  b.d = kHalfOne;
  std::memset(b.qh, 0xFF, sizeof(b.qh));  // fifth bit set: level 16 - 16 = 0
  std::memset(b.qs, 0, sizeof(b.qs));
  const std::vector<float> base = Deq(DType::Q5_0, b);
  for (float v : base) ASSERT_EQ(v, 0.0f);
  for (int j = 0; j < 32; ++j) {
    BlockQ5_0 h = b;
    h.qh[j / 8] &= uint8_t(~(1u << (j % 8)));  // bit j of the little-endian word
    ExpectOnly(base, Deq(DType::Q5_0, h), j, -16.0f, "q5_0 qh bit");
  }
  for (int j = 0; j < 16; ++j) {
    BlockQ5_0 lo = b, hi = b;
    lo.qs[j] = 0x03;
    hi.qs[j] = 0x90;
    ExpectOnly(base, Deq(DType::Q5_0, lo), j, 3.0f, "q5_0 low nibble");
    ExpectOnly(base, Deq(DType::Q5_0, hi), j + 16, 9.0f, "q5_0 high nibble");
  }
}

TEST(QuantLayout, Q5_1FifthBitOrder) {
  BlockQ5_1 b;
  b.d = kHalfOne;
  b.m = kHalfTwo;
  std::memset(b.qh, 0, sizeof(b.qh));
  std::memset(b.qs, 0, sizeof(b.qs));
  const std::vector<float> base = Deq(DType::Q5_1, b);
  for (int j = 0; j < 32; ++j) {
    BlockQ5_1 h = b;
    h.qh[j / 8] |= uint8_t(1u << (j % 8));
    ExpectOnly(base, Deq(DType::Q5_1, h), j, 18.0f, "q5_1 qh bit");  // 16 + m
  }
  BlockQ5_1 all = b;
  std::memset(all.qh, 0xFF, 4);
  std::memset(all.qs, 0xFF, 16);
  for (float v : Deq(DType::Q5_1, all)) ASSERT_EQ(v, 33.0f);  // level 31 + m
}

TEST(QuantLayout, Q8_0) {
  BlockQ8_0 b;
  b.d = kHalfHalf;
  for (int j = 0; j < 32; ++j) b.qs[j] = int8_t(j - 16);
  const std::vector<float> y = Deq(DType::Q8_0, b);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * float(j - 16));
}

// Q2_K: element e = 128 c + 32 k + l is in qs[32 c + l] at bit 2 k; scales[e / 16] holds
// the scale (low nibble) and min (high nibble).
TEST(QuantLayout, Q2_K) {
  BlockQ2_K b;
  b.d = kHalfOne;
  b.dmin = kHalfHalf;
  for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t((j % 15 + 1) | ((j * 7) % 16) << 4);
  std::memset(b.qs, 0, sizeof(b.qs));
  const std::vector<float> base = Deq(DType::Q2_K, b);
  for (int e = 0; e < 256; ++e) ASSERT_EQ(base[e], -0.5f * float(((e / 16) * 7) % 16)) << e;
  struct Pos {
    int byte, shift, element;
  };
  for (const Pos& p : {Pos{0, 0, 0}, Pos{0, 2, 32}, Pos{0, 4, 64}, Pos{0, 6, 96}, Pos{1, 0, 1},
                       Pos{31, 6, 127}, Pos{32, 0, 128}, Pos{40, 2, 168}, Pos{63, 6, 255}}) {
    BlockQ2_K m = b;
    m.qs[p.byte] = uint8_t(3 << p.shift);
    const int j = p.element / 16;
    const float want = 1.0f * float(j % 15 + 1) * 3.0f - 0.5f * float((j * 7) % 16);
    ExpectOnly(base, Deq(DType::Q2_K, m), p.element, want, "q2_K qs");
  }
  SweepFields(DType::Q2_K, b, offsetof(BlockQ2_K, qs), sizeof(b.qs), 2, 1);
}

// Q3_K: 2-bit qs as Q2_K; the third bit of element e is bit e / 32 of hmask[e % 32], and a
// clear bit subtracts 4. Scales: 16 six-bit values minus 32, low nibbles in bytes 0-7
// (sub-blocks 0-7 low nibble, 8-15 high nibble), top two bits in bytes 8-11.
TEST(QuantLayout, Q3_KQuants) {
  BlockQ3_K b;
  b.d = kHalfOne;
  std::memset(b.scales, 0x11, 8);      // low nibbles 1 ...
  std::memset(b.scales + 8, 0xAA, 4);  // ... top bits 2: every scale 33 - 32 = 1
  std::memset(b.hmask, 0xFF, sizeof(b.hmask));
  std::memset(b.qs, 0, sizeof(b.qs));
  const std::vector<float> base = Deq(DType::Q3_K, b);
  for (float v : base) ASSERT_EQ(v, 0.0f);
  struct Pos {
    int byte, bit, element;
  };
  for (const Pos& p :
       {Pos{0, 0, 0}, Pos{0, 1, 32}, Pos{1, 0, 1}, Pos{3, 4, 131}, Pos{31, 7, 255}}) {
    BlockQ3_K m = b;
    m.hmask[p.byte] &= uint8_t(~(1u << p.bit));
    ExpectOnly(base, Deq(DType::Q3_K, m), p.element, -4.0f, "q3_K hmask");
  }
  for (const Pos& p : {Pos{0, 0, 0}, Pos{0, 2, 32}, Pos{33, 4, 193}, Pos{63, 6, 255}}) {
    BlockQ3_K m = b;
    m.qs[p.byte] = uint8_t(3 << p.bit);
    ExpectOnly(base, Deq(DType::Q3_K, m), p.element, 3.0f, "q3_K qs");
  }
  SweepFields(DType::Q3_K, b, offsetof(BlockQ3_K, qs), sizeof(b.qs), 2, 1);
  SweepFields(DType::Q3_K, b, offsetof(BlockQ3_K, hmask), sizeof(b.hmask), 1, 1);
}

TEST(QuantLayout, Q3_KScales) {
  BlockQ3_K b;
  b.d = kHalfHalf;
  std::memset(b.hmask, 0xFF, sizeof(b.hmask));
  std::memset(b.qs, 0x55, sizeof(b.qs));  // every level 1: output = d * scale
  // All scales 32 (zero) except, by hand:
  //  sub-block 0:  low nibble 0xF in byte 0, top bits 1 in byte 8 bits 0-1  -> 31 - 32 = -1
  //  sub-block 8:  low nibble 0x5 in byte 0 (high half), top 2 in byte 8 bits 4-5 -> 5
  //  sub-block 3:  low nibble 0x9 in byte 3, top 3 in byte 11 bits 0-1 -> 57 - 32 = 25
  //  sub-block 15: low nibble 0xC in byte 7 (high half), top 0 in byte 11 bits 6-7 -> -20
  const uint8_t packed[12] = {0x5F, 0, 0, 0x09, 0, 0, 0, 0xC0, 0xA9, 0xAA, 0xAA, 0x2B};
  std::memcpy(b.scales, packed, 12);
  const std::vector<float> y = Deq(DType::Q3_K, b);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 16;
    const float scale = j == 0 ? -1.0f : j == 8 ? 5.0f : j == 3 ? 25.0f : j == 15 ? -20.0f : 0.0f;
    ASSERT_EQ(y[e], 0.5f * scale) << "sub-block " << j;
  }
}

// Q4_K/Q5_K scales and mins (GGML's get_scale_min_k4), decoded with every level 1 so that
// element e reads d * scale[e / 32] - dmin * min[e / 32].
template <class Block>
void CheckK4Scales(DType t) {
  Block b;
  std::memset(&b, 0, sizeof(b));
  b.d = kHalfOne;
  b.dmin = kHalfQuarter;
  std::memset(b.qs, 0x11, sizeof(b.qs));
  // By hand:
  //  byte 0 = 0b11'000101: scale 0 = 5, and bits 6-7 = top of scale 4 (3)
  //  byte 4 = 0b01'001010: min 0 = 10, and bits 6-7 = top of min 4 (1)
  //  byte 8 = 0x27: low nibble of scale 4 (7), of min 4 (2) -> scale 4 = 55, min 4 = 18
  //  byte 3 = 0x3F: scale 3 = 63; byte 7 = 0x80: min 3 = 0, top of min 7 = 2
  //  byte 11 = 0xF1: scale 7 = 1, min 7 = 15 + 32 = 47
  const uint8_t packed[12] = {0xC5, 0, 0, 0x3F, 0x4A, 0, 0, 0x80, 0x27, 0, 0, 0xF1};
  std::memcpy(b.scales, packed, 12);
  const std::vector<float> y = Deq(t, b);
  const float want[8] = {5 - 2.5f, 0, 0, 63, 55 - 4.5f, 0, 0, 1 - 11.75f};
  for (int e = 0; e < 256; ++e) ASSERT_EQ(y[e], want[e / 32]) << test::Name(t) << " element " << e;
}

// Nibbles: element e = 64 c + 32 h + l in qs[32 c + l], low nibble for h = 0.
template <class Block>
Block K4UnitScales() {
  Block b;
  std::memset(&b, 0, sizeof(b));
  b.d = kHalfOne;
  b.dmin = kHalfOne;
  for (int j = 0; j < 4; ++j) b.scales[j] = 1;      // scales 0-3 = 1, mins 0
  for (int j = 8; j < 12; ++j) b.scales[j] = 0x01;  // scales 4-7 = 1, mins 0
  return b;
}

template <class Block>
void CheckK4Nibbles(DType t) {
  const Block b = K4UnitScales<Block>();
  const std::vector<float> base = Deq(t, b);
  for (float v : base) ASSERT_EQ(v, 0.0f);
  struct Pos {
    int byte, high, element;
  };
  for (const Pos& p : {Pos{0, 0, 0}, Pos{0, 1, 32}, Pos{1, 0, 1}, Pos{31, 1, 63}, Pos{32, 0, 64},
                       Pos{32, 1, 96}, Pos{100, 0, 196}, Pos{127, 1, 255}}) {
    Block m = b;
    m.qs[p.byte] = uint8_t(9 << (4 * p.high));
    ExpectOnly(base, Deq(t, m), p.element, 9.0f, test::Name(t) + " nibble");
  }
  SweepFields(t, b, offsetof(Block, qs), sizeof(b.qs), 4, 1);
}

TEST(QuantLayout, Q4_K) {
  CheckK4Scales<BlockQ4_K>(DType::Q4_K);
  CheckK4Nibbles<BlockQ4_K>(DType::Q4_K);
}

TEST(QuantLayout, Q5_K) {
  CheckK4Scales<BlockQ5_K>(DType::Q5_K);
  CheckK4Nibbles<BlockQ5_K>(DType::Q5_K);
  // Fifth bit of element e: bit e / 32 of qh[e % 32].
  const BlockQ5_K b = K4UnitScales<BlockQ5_K>();
  const std::vector<float> base = Deq(DType::Q5_K, b);
  struct Pos {
    int byte, bit, element;
  };
  for (const Pos& p : {Pos{0, 0, 0}, Pos{0, 1, 32}, Pos{5, 3, 101}, Pos{31, 7, 255}}) {
    BlockQ5_K m = b;
    m.qh[p.byte] = uint8_t(1u << p.bit);
    ExpectOnly(base, Deq(DType::Q5_K, m), p.element, 16.0f, "q5_K qh");
  }
  SweepFields(DType::Q5_K, b, offsetof(BlockQ5_K, qh), sizeof(b.qh), 1, 1);
}

// Q6_K: element e = 128 c + 32 k + l. Low nibble in ql[64 c + l] (k = 0 low, k = 2 high)
// or ql[64 c + 32 + l] (k = 1 low, k = 3 high); top two bits in qh[32 c + l] at bit 2 k;
// level - 32 times the int8 scale of its 16.
TEST(QuantLayout, Q6_K) {
  BlockQ6_K b;
  b.d = kHalfHalf;
  for (int j = 0; j < 16; ++j) b.scales[j] = int8_t((j % 2 ? -1 : 1) * (j + 1));
  std::memset(b.ql, 0, sizeof(b.ql));
  std::memset(b.qh, 0xAA, sizeof(b.qh));  // top bits 2: level 32 - 32 = 0
  const std::vector<float> base = Deq(DType::Q6_K, b);
  for (float v : base) ASSERT_EQ(v, 0.0f);
  auto scale_of = [&](int e) { return float(b.scales[e / 16]); };
  struct Pos {
    int byte, high, element;
  };
  for (const Pos& p : {Pos{0, 0, 0}, Pos{0, 1, 64}, Pos{32, 0, 32}, Pos{32, 1, 96}, Pos{10, 0, 10},
                       Pos{64, 0, 128}, Pos{100, 1, 228}, Pos{127, 1, 255}}) {
    BlockQ6_K m = b;
    m.ql[p.byte] = uint8_t(5 << (4 * p.high));
    ExpectOnly(base, Deq(DType::Q6_K, m), p.element, 0.5f * 5.0f * scale_of(p.element), "q6_K ql");
  }
  struct Field {
    int byte, shift, element;
  };
  for (const Field& p : {Field{0, 0, 0}, Field{0, 2, 32}, Field{0, 4, 64}, Field{0, 6, 96},
                         Field{32, 0, 128}, Field{63, 6, 255}}) {
    BlockQ6_K up = b, down = b;
    up.qh[p.byte] = uint8_t((0xAA & ~(3 << p.shift)) | 3 << p.shift);  // top bits 3: level +16
    down.qh[p.byte] = uint8_t(0xAA & ~(3 << p.shift));                 // top bits 0: level -32
    ExpectOnly(base, Deq(DType::Q6_K, up), p.element, 0.5f * 16.0f * scale_of(p.element),
               "q6_K qh");
    ExpectOnly(base, Deq(DType::Q6_K, down), p.element, 0.5f * -32.0f * scale_of(p.element),
               "q6_K qh");
  }
  SweepFields(DType::Q6_K, b, offsetof(BlockQ6_K, ql), sizeof(b.ql), 4, 1);
  SweepFields(DType::Q6_K, b, offsetof(BlockQ6_K, qh), sizeof(b.qh), 2, 1);
}

TEST(QuantLayout, Q8_K) {
  BlockQ8_K b;
  b.d = -0.25f;
  for (int e = 0; e < 256; ++e) b.qs[e] = int8_t(e - 128);
  std::memset(b.bsums, 0, sizeof(b.bsums));
  const std::vector<float> y = Deq(DType::Q8_K, b);
  for (int e = 0; e < 256; ++e) ASSERT_EQ(y[e], -0.25f * float(e - 128));
}

TEST(QuantLayout, BadArgumentsDoNotTouchMemory) {
  EXPECT_FALSE(check_quant_row(DType::IQ2_XXS, 256).ok());
  EXPECT_FALSE(check_quant_row(DType::Q4_0, 33).ok());
  EXPECT_FALSE(check_quant_row(DType::Q4_K, -256).ok());
  EXPECT_TRUE(check_quant_row(DType::Q4_K, 512).ok());
  EXPECT_TRUE(check_quant_row(DType::F16, 7).ok());
  EXPECT_NE(check_quant_row(DType::Q4_0, 33).message().find("q4_0"), std::string::npos);

  // Unsupported type: dequantize writes NaN, quantize writes nothing, the dot is NaN.
  uint8_t block[66] = {};
  std::vector<float> y(256, 1.0f);
  dequantize_row_ref(DType::IQ2_XXS, block, y.data(), 256);
  for (float v : y) ASSERT_TRUE(std::isnan(v));
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> out(66, 0xAB);
  quantize_row_ref(DType::IQ2_XXS, x.data(), out.data(), 256);
  for (uint8_t v : out) ASSERT_EQ(v, 0xAB);
  EXPECT_TRUE(std::isnan(vec_dot_ref(DType::Q4_0, 33, block, block)));
}

}  // namespace
}  // namespace muse
