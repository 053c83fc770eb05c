// Internal to quant/: per-format entry points behind quant.h's by-type dispatch, and the
// bit unpacking that dequantization and the reference dot products share, so both read a
// block's layout through exactly one piece of code. `nb` counts blocks, not elements.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/quant.h"

namespace muse::quant_internal {

// Round half to even, as GGML's `nearest_int` does (its 1.5 * 2^23 trick), so that K-quant
// levels land where llama.cpp's would. NaN and huge values are clamped first: the caller
// then clamps to its level range, and no float-to-int conversion can overflow.
inline int nearest_int(float x) {
  constexpr float kLimit = 4194303.0f;           // 2^22 - 1: largest magnitude the trick handles
  x = std::fmax(-kLimit, std::fmin(kLimit, x));  // fmax/fmin map NaN to the bound
  const float biased = x + 12582912.0f;          // 1.5 * 2^23: mantissa now holds the integer
  uint32_t bits;
  std::memcpy(&bits, &biased, sizeof(bits));
  return int(bits & 0x007fffffu) - 0x00400000;
}

// Truncating conversion of a value expected in [0, hi] (GGML's `(int8_t)(v + 0.5f)` idiom
// for the legacy formats), clamped first so that NaN or overflow cannot reach the cast.
inline int trunc_level(float v, int hi) { return int(std::fmax(0.0f, std::fmin(float(hi), v))); }

// ---- Legacy formats (legacy.cc). Levels are in element order, offsets already applied:
// Q4_0 [-8, 7], Q4_1 [0, 15], Q5_0 [-16, 15], Q5_1 [0, 31].
void levels_q4_0(const BlockQ4_0& b, int8_t q[kQK]);
void levels_q4_1(const BlockQ4_1& b, int8_t q[kQK]);
void levels_q5_0(const BlockQ5_0& b, int8_t q[kQK]);
void levels_q5_1(const BlockQ5_1& b, int8_t q[kQK]);

void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t nb);
void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t nb);
void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t nb);
void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t nb);
void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t nb);
void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb);
void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb);
void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb);
void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb);
void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb);

// ---- K-quants (kquants.cc). Levels in element order with offsets applied:
// Q2_K [0, 3], Q3_K [-4, 3], Q4_K [0, 15], Q5_K [0, 31], Q6_K [-32, 31].
// Sub-block scales: Q2_K 16 x (scale, min) nibbles; Q3_K 16 signed six-bit scales
// (stored value - 32); Q4_K/Q5_K 8 x (scale, min) six-bit; Q6_K the int8 scales as stored.
void levels_q2_k(const BlockQ2_K& b, int8_t q[kQK_K]);
void levels_q3_k(const BlockQ3_K& b, int8_t q[kQK_K]);
void levels_q4_k(const BlockQ4_K& b, int8_t q[kQK_K]);
void levels_q5_k(const BlockQ5_K& b, int8_t q[kQK_K]);
void levels_q6_k(const BlockQ6_K& b, int8_t q[kQK_K]);
void scales_q3_k(const uint8_t packed[12], int8_t scales[16]);
void scales_mins_k4(const uint8_t packed[kKScaleBytes], uint8_t scales[8], uint8_t mins[8]);

void quantize_q2_k(const float* x, BlockQ2_K* y, int64_t nb);
void quantize_q3_k(const float* x, BlockQ3_K* y, int64_t nb);
void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t nb);
void quantize_q5_k(const float* x, BlockQ5_K* y, int64_t nb);
void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t nb);
void dequantize_q2_k(const BlockQ2_K* x, float* y, int64_t nb);
void dequantize_q3_k(const BlockQ3_K* x, float* y, int64_t nb);
void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t nb);
void dequantize_q5_k(const BlockQ5_K* x, float* y, int64_t nb);
void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t nb);
void dequantize_q8_k(const BlockQ8_K* x, float* y, int64_t nb);

}  // namespace muse::quant_internal
