// GGML-compatible quantization block layouts. Bit-for-bit the structs GGML writes, so a
// tensor made by llama.cpp's tools is read here unchanged and vice versa. Sizes are
// static_asserted; the meaning of each field is in the comment beside it.
//
// Legacy blocks hold 32 weights: x = d * q (symmetric) or x = d * q + m (with minimum).
// K-quant super-blocks hold 256 weights in 16 or 8 sub-blocks whose scales (and mins) are
// themselves quantized against one fp16 super-scale.
#pragma once

#include <cstdint>

#include "core/fp16.h"

namespace muse {

constexpr int kQK = 32;           // weights per legacy block
constexpr int kQK_K = 256;        // weights per K-quant super-block
constexpr int kKScaleBytes = 12;  // packed 6-bit scales and mins of Q4_K / Q5_K

struct BlockQ4_0 {
  fp16_t d;             // scale
  uint8_t qs[kQK / 2];  // nibbles: low nibble = weight j, high nibble = weight j + 16; q - 8
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_1 {
  fp16_t d;             // scale
  fp16_t m;             // minimum
  uint8_t qs[kQK / 2];  // as Q4_0, unsigned: x = d * q + m
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {
  fp16_t d;
  uint8_t qh[4];        // fifth bit of each of the 32 weights (little-endian uint32)
  uint8_t qs[kQK / 2];  // low 4 bits, layout as Q4_0; q - 16
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

struct BlockQ8_0 {
  fp16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ8_1 {
  fp16_t d;
  fp16_t s;  // d * sum(qs)
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_1) == 36);

struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // low nibble: scale, high nibble: min, per 16 weights
  uint8_t qs[kQK_K / 4];       // 2-bit quants
  fp16_t d;                    // super-scale of the scales
  fp16_t dmin;                 // super-scale of the mins
};
static_assert(sizeof(BlockQ2_K) == 84);

struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];  // high bit of each quant
  uint8_t qs[kQK_K / 4];     // low 2 bits
  uint8_t scales[12];        // 16 six-bit scales, packed
  fp16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

struct BlockQ4_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[kKScaleBytes];  // 8 six-bit scales and 8 six-bit mins, packed
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ5_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // 8-bit scales per 16 weights
  fp16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// Activation block for K-quant dot products (as GGML): float scale, 8-bit quants, and
// sums of each group of 16 quants (used for the minimum terms).
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace muse
