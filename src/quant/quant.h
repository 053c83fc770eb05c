// Scalar reference conversions between float and every supported block format, and the
// reference dot products that the SIMD kernels in kernels/ are tested against.
//
// Dot products follow GGML's scheme: a weight row of type W is multiplied with an
// activation row that was quantized to `act_type(W)`:
//   F32, F16, BF16 weights        -> F32 activations (no quantization)
//   Q4_0, Q4_1, Q5_0, Q5_1, Q8_0  -> Q8A activations (BlockQ8A below)
//   Q2_K .. Q6_K                  -> Q8_K activations
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"
#include "quant/blocks.h"

namespace muse {

// Activation block for the legacy formats: float scale, 32 signed 8-bit quants, and
// `s = d * sum(qs)` for formats with a minimum (Q4_1, Q5_1). Internal; never written to a
// file. `d` holds an f16-representable value, as GGML's Q8_0 block does, so products match
// llama.cpp's; `s` is exactly d * sum(qs) in float (GGML's Q8_1 rounds it to f16).
struct BlockQ8A {
  float d;
  float s;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8A) == 40);

enum class ActType { F32, Q8A, Q8K };

ActType act_type(DType weight);
size_t act_row_bytes(ActType a, int64_t n);  // n a multiple of the block size

// Ok when the functions below accept (t, n): t is supported and n a non-negative multiple
// of its block size. Callers check once per tensor. The row functions never crash on
// arguments that fail this check: dequantize writes NaN, quantize writes nothing and
// vec_dot_ref returns NaN, so a missed check shows up in the numbers rather than memory.
Status check_quant_row(DType t, int64_t n);

// Reference quantize/dequantize of one contiguous row of n elements (n a multiple of the
// block size). quantize_row_ref aims at low error (searches scales like GGML's reference
// quantizers) rather than speed. Both require dtype_info(t).supported.
void dequantize_row_ref(DType t, const void* src, float* dst, int64_t n);
void quantize_row_ref(DType t, const float* src, void* dst, int64_t n);

// Activation quantization (round to nearest, scale = amax / 127).
// Q8A: d = amax / 127 >= 0, qs = round-half-away(x * (1 / d)) as in GGML's Q8_0/Q8_1,
// s = d * sum(qs).
// Q8_K: GGML's convention, kept so that bytes match llama.cpp's: the element of largest
// magnitude, max, maps to -127, so d = -max / 127 carries the opposite sign of that element
// (d may be negative), qs = round-half-even(x / d); bsums[j] = sum of qs[16j .. 16j+15].
void quantize_row_q8a_ref(const float* x, BlockQ8A* y, int64_t n);
void quantize_row_q8k_ref(const float* x, BlockQ8_K* y, int64_t n);
void quantize_act_ref(ActType a, const float* x, void* y, int64_t n);

// sum_i w[i] * a[i] over n elements; `a` is in the format act_type(t).
float vec_dot_ref(DType t, int64_t n, const void* w, const void* a);

}  // namespace muse
