// Legacy GGML formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: 32 weights per block, one fp16 scale
// (and minimum). The quantizers make GGML's reference choices step for step (same scale,
// same float operations, same rounding) so that they reproduce llama.cpp's bytes.
// Layout: byte j of `qs` holds weight j in its low nibble and weight j + 16 in its high
// nibble; Q5 formats keep the fifth bit of weight j in bit j of the little-endian `qh`.

#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant/quant_impl.h"

namespace muse::quant_internal {
namespace {

// The signed value of the element with the largest magnitude (the first such one), 0 for
// an all-zero block. GGML's symmetric formats map it to the most negative level, the one
// without a positive twin, so the scale takes the opposite sign of this value.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

uint32_t load_qh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof(v));  // little-endian by the format; we run on little-endian
  return v;
}

void store_qh(uint32_t v, uint8_t qh[4]) { std::memcpy(qh, &v, sizeof(v)); }

// Packs 32 levels in [0, 31] into nibbles and, for five-bit formats, the `qh` word.
void pack_nibbles(const int* l, uint8_t qs[kQK / 2]) {
  for (int j = 0; j < kQK / 2; ++j) qs[j] = uint8_t((l[j] & 0xF) | ((l[j + kQK / 2] & 0xF) << 4));
}

uint32_t pack_fifth_bits(const int* l) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK; ++j) qh |= uint32_t((l[j] >> 4) & 1) << j;
  return qh;
}

// Unsigned 4- or 5-bit levels in element order; `qh` is 0 for four-bit formats.
void unpack_levels(const uint8_t qs[kQK / 2], uint32_t qh, int offset, int8_t q[kQK]) {
  for (int j = 0; j < kQK / 2; ++j) {
    const int lo = (qs[j] & 0xF) | int((qh >> j) & 1) << 4;
    const int hi = (qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
    q[j] = int8_t(lo - offset);
    q[j + kQK / 2] = int8_t(hi - offset);
  }
}

}  // namespace

void levels_q4_0(const BlockQ4_0& b, int8_t q[kQK]) { unpack_levels(b.qs, 0, 8, q); }
void levels_q4_1(const BlockQ4_1& b, int8_t q[kQK]) { unpack_levels(b.qs, 0, 0, q); }
void levels_q5_0(const BlockQ5_0& b, int8_t q[kQK]) { unpack_levels(b.qs, load_qh(b.qh), 16, q); }
void levels_q5_1(const BlockQ5_1& b, int8_t q[kQK]) { unpack_levels(b.qs, load_qh(b.qh), 0, q); }

// ---- Quantization ----------------------------------------------------------------------

void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQK) {
    const float d = signed_absmax(x, kQK) / -8.0f;  // the extreme value becomes level -8
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int l[kQK];
    // +8.5 then truncation rounds half up around the offset 8, as GGML does.
    for (int j = 0; j < kQK; ++j) l[j] = trunc_level(x[j] * id + 8.5f, 15);
    y[b].d = fp32_to_fp16(d);
    pack_nibbles(l, y[b].qs);
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      min = std::fmin(min, x[j]);
      max = std::fmax(max, x[j]);
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int l[kQK];
    for (int j = 0; j < kQK; ++j) l[j] = trunc_level((x[j] - min) * id + 0.5f, 15);
    y[b].d = fp32_to_fp16(d);
    y[b].m = fp32_to_fp16(min);
    pack_nibbles(l, y[b].qs);
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQK) {
    const float d = signed_absmax(x, kQK) / -16.0f;  // the extreme value becomes level -16
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int l[kQK];
    for (int j = 0; j < kQK; ++j) l[j] = trunc_level(x[j] * id + 16.5f, 31);
    y[b].d = fp32_to_fp16(d);
    pack_nibbles(l, y[b].qs);
    store_qh(pack_fifth_bits(l), y[b].qh);
  }
}

void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      min = std::fmin(min, x[j]);
      max = std::fmax(max, x[j]);
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int l[kQK];
    for (int j = 0; j < kQK; ++j) l[j] = trunc_level((x[j] - min) * id + 0.5f, 31);
    y[b].d = fp32_to_fp16(d);
    y[b].m = fp32_to_fp16(min);
    pack_nibbles(l, y[b].qs);
    store_qh(pack_fifth_bits(l), y[b].qh);
  }
}

void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    // roundf (half away from zero), not nearest_int: GGML's Q8_0 uses roundf.
    for (int j = 0; j < kQK; ++j)
      y[b].qs[j] = int8_t(std::fmax(-127.0f, std::fmin(127.0f, std::round(x[j] * id))));
  }
}

// ---- Dequantization --------------------------------------------------------------------

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  int8_t q[kQK];
  for (int64_t b = 0; b < nb; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    levels_q4_0(x[b], q);
    for (int j = 0; j < kQK; ++j) y[j] = d * float(q[j]);
  }
}

void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  int8_t q[kQK];
  for (int64_t b = 0; b < nb; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d), m = fp16_to_fp32(x[b].m);
    levels_q4_1(x[b], q);
    for (int j = 0; j < kQK; ++j) y[j] = d * float(q[j]) + m;
  }
}

void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  int8_t q[kQK];
  for (int64_t b = 0; b < nb; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    levels_q5_0(x[b], q);
    for (int j = 0; j < kQK; ++j) y[j] = d * float(q[j]);
  }
}

void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  int8_t q[kQK];
  for (int64_t b = 0; b < nb; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d), m = fp16_to_fp32(x[b].m);
    levels_q5_1(x[b], q);
    for (int j = 0; j < kQK; ++j) y[j] = d * float(q[j]) + m;
  }
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = d * float(x[b].qs[j]);
  }
}

}  // namespace muse::quant_internal
