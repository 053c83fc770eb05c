// K-quant super-blocks Q2_K..Q6_K and Q8_K: 256 weights in sub-blocks of 16 or 32 whose
// scales (and mins) are quantized against fp16 super-scales. Bit layouts are GGML's
// (ggml-common.h); each `levels_*` function spells out where element e lives.
// Quantizers: a per-sub-block weighted least-squares scale search (kquant_search.cc), then
// the sub-block scales are quantized and every level is re-rounded against them.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/kquant_search.h"
#include "quant/quant_impl.h"

namespace muse::quant_internal {
namespace {

// Q2_K/Q3_K `qs`: 2-bit fields; element e = 128 c + 32 k + l sits in qs[32 c + l] at bit 2 k.
int get_2bit(const uint8_t* qs, int e) {
  const int c = e / 128, k = (e % 128) / 32, l = e % 32;
  return (qs[32 * c + l] >> (2 * k)) & 3;
}
void pack_2bit(const uint8_t* levels, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 4);
  for (int e = 0; e < kQK_K; ++e) {
    const int c = e / 128, k = (e % 128) / 32, l = e % 32;
    qs[32 * c + l] |= uint8_t((levels[e] & 3) << (2 * k));
  }
}

// Q3_K `hmask` and Q5_K `qh`: the extra high bit of element e is bit e / 32 of byte e % 32.
int get_high_bit(const uint8_t* bits, int e) { return (bits[e % 32] >> (e / 32)) & 1; }
void pack_high_bits(const uint8_t* levels, int shift, uint8_t* bits) {
  std::memset(bits, 0, kQK_K / 8);
  for (int e = 0; e < kQK_K; ++e) bits[e % 32] |= uint8_t(((levels[e] >> shift) & 1) << (e / 32));
}

// Q4_K/Q5_K `qs`: element e = 64 c + 32 h + l in the low (h = 0) or high (h = 1) nibble of
// qs[32 c + l].
int get_nibble_k(const uint8_t* qs, int e) {
  const int c = e / 64, h = (e % 64) / 32, l = e % 32;
  return (qs[32 * c + l] >> (4 * h)) & 0xF;
}
void pack_nibbles_k(const uint8_t* levels, uint8_t* qs) {
  std::memset(qs, 0, kQK_K / 2);
  for (int e = 0; e < kQK_K; ++e) {
    const int c = e / 64, h = (e % 64) / 32, l = e % 32;
    qs[32 * c + l] |= uint8_t((levels[e] & 0xF) << (4 * h));
  }
}

// Q6_K: element e = 128 c + 32 k + l. Low 4 bits in ql[64 c + 32 (k % 2) + l], low nibble
// for k < 2, high nibble for k >= 2; high 2 bits in qh[32 c + l] at bit 2 k.
int get_q6(const BlockQ6_K& b, int e) {
  const int c = e / 128, k = (e % 128) / 32, l = e % 32;
  const int low = (b.ql[64 * c + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
  const int high = (b.qh[32 * c + l] >> (2 * k)) & 3;
  return low | high << 4;
}
void pack_q6(const uint8_t* levels, BlockQ6_K& b) {
  std::memset(b.ql, 0, sizeof(b.ql));
  std::memset(b.qh, 0, sizeof(b.qh));
  for (int e = 0; e < kQK_K; ++e) {
    const int c = e / 128, k = (e % 128) / 32, l = e % 32;
    b.ql[64 * c + 32 * (k % 2) + l] |= uint8_t((levels[e] & 0xF) << (4 * (k / 2)));
    b.qh[32 * c + l] |= uint8_t(((levels[e] >> 4) & 3) << (2 * k));
  }
}

// Q3_K scales: 16 six-bit values v (scale = v - 32). Low 4 bits of v_j in the low (j < 8)
// or high (j >= 8) nibble of byte j % 8; high 2 bits in byte 8 + j % 4 at bit 2 (j / 4).
void pack_scales_q3(const int* v, uint8_t packed[12]) {
  std::memset(packed, 0, 12);
  for (int j = 0; j < 16; ++j) {
    packed[j % 8] |= uint8_t((v[j] & 0xF) << (4 * (j / 8)));
    packed[8 + j % 4] |= uint8_t(((v[j] >> 4) & 3) << (2 * (j / 4)));
  }
}

// Q4_K/Q5_K scales and mins, six bits each. j < 4: scale in the low 6 bits of byte j, min
// in byte j + 4. j >= 4: low nibbles of scale and min in byte j + 4 (scale low, min high);
// their top 2 bits in the top 2 bits of byte j - 4 (scale) and byte j (min).
void pack_scales_k4(const int* sc, const int* mn, uint8_t packed[kKScaleBytes]) {
  std::memset(packed, 0, kKScaleBytes);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      packed[j] |= uint8_t(sc[j] & 63);
      packed[j + 4] |= uint8_t(mn[j] & 63);
    } else {
      packed[j + 4] = uint8_t((sc[j] & 0xF) | (mn[j] & 0xF) << 4);
      packed[j - 4] |= uint8_t((sc[j] >> 4) << 6);
      packed[j] |= uint8_t((mn[j] >> 4) << 6);
    }
  }
}

// Re-rounds one sub-block against its final (quantized) scale and min:
// level = clamp(round((x + m) / d), 0, nmax); all zero when the scale quantized to zero.
void requantize_affine(const float* x, int n, float d, float m, int nmax, uint8_t* levels) {
  for (int i = 0; i < n; ++i)
    levels[i] = d == 0.0f ? 0 : uint8_t(std::clamp(nearest_int((x[i] + m) / d), 0, nmax));
}

// Shared by Q4_K and Q5_K: eight sub-blocks of 32, six-bit scales and mins.
// GGML weights each element by rms(sub-block) + |x| so large weights count more.
void quantize_k4_family(const float* x, int nmax, const AffineSearch& search, fp16_t* d_out,
                        fp16_t* dmin_out, uint8_t packed[kKScaleBytes], uint8_t levels[kQK_K]) {
  float scales[8], mins[8], w[32];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int i = 0; i < 32; ++i) sum_x2 += xs[i] * xs[i];
    const float rms = std::sqrt(sum_x2 / 32.0f);
    for (int i = 0; i < 32; ++i) w[i] = rms + std::fabs(xs[i]);
    scales[j] = fit_affine(xs, w, 32, nmax, search, levels + 32 * j, &mins[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  int sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = std::clamp(nearest_int(inv_scale * scales[j]), 0, 63);
    mn[j] = std::clamp(nearest_int(inv_min * mins[j]), 0, 63);
  }
  *d_out = fp32_to_fp16(max_scale / 63.0f);
  *dmin_out = fp32_to_fp16(max_min / 63.0f);
  if (max_scale > 0.0f && fp16_to_fp32(*d_out) == 0.0f) {
    // Tiny weights (~1e-6): the scales underflow fp16 but the mins may not, and mins alone
    // would decode to an offset larger than the weights. Zero is the better answer (GGML
    // keeps the mins here).
    *dmin_out = 0;
    for (int j = 0; j < 8; ++j) mn[j] = 0;
  }
  pack_scales_k4(sc, mn, packed);
  const float d = fp16_to_fp32(*d_out), dmin = fp16_to_fp32(*dmin_out);
  for (int j = 0; j < 8; ++j)
    requantize_affine(x + 32 * j, 32, d * float(sc[j]), dmin * float(mn[j]), nmax, levels + 32 * j);
}

}  // namespace

// ---- Unpacking -------------------------------------------------------------------------

void scales_q3_k(const uint8_t packed[12], int8_t scales[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = (packed[j % 8] >> (4 * (j / 8))) & 0xF;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = int8_t((low | high << 4) - 32);
  }
}

void scales_mins_k4(const uint8_t packed[kKScaleBytes], uint8_t scales[8], uint8_t mins[8]) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      scales[j] = packed[j] & 63;
      mins[j] = packed[j + 4] & 63;
    } else {
      scales[j] = uint8_t((packed[j + 4] & 0xF) | (packed[j - 4] >> 6) << 4);
      mins[j] = uint8_t((packed[j + 4] >> 4) | (packed[j] >> 6) << 4);
    }
  }
}

void levels_q2_k(const BlockQ2_K& b, int8_t q[kQK_K]) {
  for (int e = 0; e < kQK_K; ++e) q[e] = int8_t(get_2bit(b.qs, e));
}

void levels_q3_k(const BlockQ3_K& b, int8_t q[kQK_K]) {
  // A set hmask bit means "high bit 1"; a clear one subtracts 4: levels -4..3.
  for (int e = 0; e < kQK_K; ++e)
    q[e] = int8_t(get_2bit(b.qs, e) - (get_high_bit(b.hmask, e) ? 0 : 4));
}

void levels_q4_k(const BlockQ4_K& b, int8_t q[kQK_K]) {
  for (int e = 0; e < kQK_K; ++e) q[e] = int8_t(get_nibble_k(b.qs, e));
}

void levels_q5_k(const BlockQ5_K& b, int8_t q[kQK_K]) {
  for (int e = 0; e < kQK_K; ++e) q[e] = int8_t(get_nibble_k(b.qs, e) | get_high_bit(b.qh, e) << 4);
}

void levels_q6_k(const BlockQ6_K& b, int8_t q[kQK_K]) {
  for (int e = 0; e < kQK_K; ++e) q[e] = int8_t(get_q6(b, e) - 32);
}

// ---- Dequantization --------------------------------------------------------------------

void dequantize_q2_k(const BlockQ2_K* x, float* y, int64_t nb) {
  int8_t q[kQK_K];
  for (int64_t b = 0; b < nb; ++b, y += kQK_K) {
    const float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
    levels_q2_k(x[b], q);
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t s = x[b].scales[e / 16];
      y[e] = d * float(s & 0xF) * float(q[e]) - dmin * float(s >> 4);
    }
  }
}

void dequantize_q3_k(const BlockQ3_K* x, float* y, int64_t nb) {
  int8_t q[kQK_K], sc[16];
  for (int64_t b = 0; b < nb; ++b, y += kQK_K) {
    const float d = fp16_to_fp32(x[b].d);
    levels_q3_k(x[b], q);
    scales_q3_k(x[b].scales, sc);
    for (int e = 0; e < kQK_K; ++e) y[e] = d * float(sc[e / 16]) * float(q[e]);
  }
}

void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t nb) {
  int8_t q[kQK_K];
  uint8_t sc[8], mn[8];
  for (int64_t b = 0; b < nb; ++b, y += kQK_K) {
    const float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
    levels_q4_k(x[b], q);
    scales_mins_k4(x[b].scales, sc, mn);
    for (int e = 0; e < kQK_K; ++e)
      y[e] = d * float(sc[e / 32]) * float(q[e]) - dmin * float(mn[e / 32]);
  }
}

void dequantize_q5_k(const BlockQ5_K* x, float* y, int64_t nb) {
  int8_t q[kQK_K];
  uint8_t sc[8], mn[8];
  for (int64_t b = 0; b < nb; ++b, y += kQK_K) {
    const float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
    levels_q5_k(x[b], q);
    scales_mins_k4(x[b].scales, sc, mn);
    for (int e = 0; e < kQK_K; ++e)
      y[e] = d * float(sc[e / 32]) * float(q[e]) - dmin * float(mn[e / 32]);
  }
}

void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
  int8_t q[kQK_K];
  for (int64_t b = 0; b < nb; ++b, y += kQK_K) {
    const float d = fp16_to_fp32(x[b].d);
    levels_q6_k(x[b], q);
    for (int e = 0; e < kQK_K; ++e) y[e] = d * float(x[b].scales[e / 16]) * float(q[e]);
  }
}

void dequantize_q8_k(const BlockQ8_K* x, float* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, y += kQK_K)
    for (int e = 0; e < kQK_K; ++e) y[e] = x[b].d * float(x[b].qs[e]);
}

// ---- Quantization ----------------------------------------------------------------------

void quantize_q2_k(const float* x, BlockQ2_K* y, int64_t nb) {
  // GGML's settings: weights |x|, absolute-error criterion, 16 candidate scales from
  // (3 - 0.5) to (3 + 1.0) levels across the range.
  const AffineSearch search{.rmin = -0.5f, .rdelta = 0.1f, .nstep = 15, .abs_error = true};
  uint8_t levels[kQK_K];
  for (int64_t b = 0; b < nb; ++b, x += kQK_K) {
    float scales[16], mins[16], w[16];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      for (int i = 0; i < 16; ++i) w[i] = std::fabs(x[16 * j + i]);
      scales[j] = fit_affine(x + 16 * j, w, 16, 3, search, levels + 16 * j, &mins[j]);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    // Four-bit scales and mins against their maxima.
    const float inv_scale = max_scale > 0.0f ? 15.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 15.0f / max_min : 0.0f;
    int sc[16], mn[16];
    for (int j = 0; j < 16; ++j) {
      sc[j] = std::clamp(nearest_int(inv_scale * scales[j]), 0, 15);
      mn[j] = std::clamp(nearest_int(inv_min * mins[j]), 0, 15);
      y[b].scales[j] = uint8_t(sc[j] | mn[j] << 4);
    }
    y[b].d = fp32_to_fp16(max_scale / 15.0f);
    y[b].dmin = fp32_to_fp16(max_min / 15.0f);
    const float d = fp16_to_fp32(y[b].d), dmin = fp16_to_fp32(y[b].dmin);
    for (int j = 0; j < 16; ++j)
      requantize_affine(x + 16 * j, 16, d * float(sc[j]), dmin * float(mn[j]), 3, levels + 16 * j);
    pack_2bit(levels, y[b].qs);
  }
}

void quantize_q3_k(const float* x, BlockQ3_K* y, int64_t nb) {
  int8_t signed_levels[kQK_K];
  uint8_t levels[kQK_K];
  for (int64_t b = 0; b < nb; ++b, x += kQK_K) {
    float scales[16], w[16];
    float max_scale = 0.0f;  // the signed scale of largest magnitude
    for (int j = 0; j < 16; ++j) {
      const float* xs = x + 16 * j;
      for (int i = 0; i < 16; ++i) w[i] = xs[i] * xs[i];  // GGML weights Q3_K by x^2
      scales[j] = fit_symmetric(xs, w, 16, 4, kQ3Search, signed_levels + 16 * j);
      if (std::fabs(scales[j]) > std::fabs(max_scale)) max_scale = scales[j];
    }
    // Six-bit signed scales: the largest maps to -32 (the level without a positive twin).
    // An all-zero block keeps v = 0 and d = 0: all-zero bytes, as GGML writes it.
    int v[16] = {};
    const float iscale = max_scale != 0.0f ? -32.0f / max_scale : 0.0f;
    if (max_scale != 0.0f)
      for (int j = 0; j < 16; ++j) v[j] = std::clamp(nearest_int(iscale * scales[j]), -32, 31) + 32;
    pack_scales_q3(v, y[b].scales);
    y[b].d = fp32_to_fp16(max_scale != 0.0f ? 1.0f / iscale : 0.0f);
    const float d = fp16_to_fp32(y[b].d);
    for (int j = 0; j < 16; ++j) {
      const float ds = d * float(v[j] - 32);
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i;
        // Where the scale is zero any level decodes to 0; -4 makes those bytes zero.
        const int l = ds == 0.0f ? -4 : std::clamp(nearest_int(x[e] / ds), -4, 3);
        levels[e] = uint8_t(l + 4);  // 0..7: bit 2 goes to hmask, bits 0-1 to qs
      }
    }
    pack_high_bits(levels, 2, y[b].hmask);
    pack_2bit(levels, y[b].qs);
  }
}

void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t nb) {
  const AffineSearch search{.rmin = -1.0f, .rdelta = 0.1f, .nstep = 20, .abs_error = false};
  uint8_t levels[kQK_K];
  for (int64_t b = 0; b < nb; ++b, x += kQK_K) {
    quantize_k4_family(x, 15, search, &y[b].d, &y[b].dmin, y[b].scales, levels);
    pack_nibbles_k(levels, y[b].qs);
  }
}

void quantize_q5_k(const float* x, BlockQ5_K* y, int64_t nb) {
  const AffineSearch search{.rmin = -0.5f, .rdelta = 0.1f, .nstep = 15, .abs_error = false};
  uint8_t levels[kQK_K];
  for (int64_t b = 0; b < nb; ++b, x += kQK_K) {
    quantize_k4_family(x, 31, search, &y[b].d, &y[b].dmin, y[b].scales, levels);
    pack_nibbles_k(levels, y[b].qs);
    pack_high_bits(levels, 4, y[b].qh);
  }
}

void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t nb) {
  int8_t signed_levels[kQK_K];
  uint8_t levels[kQK_K];
  for (int64_t b = 0; b < nb; ++b, x += kQK_K) {
    float scales[16], w[16];
    float max_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
      const float* xs = x + 16 * j;
      for (int i = 0; i < 16; ++i) w[i] = xs[i] * xs[i];  // GGML weights Q6_K by x^2
      scales[j] = fit_symmetric(xs, w, 16, 32, kQ6Search, signed_levels + 16 * j);
      if (std::fabs(scales[j]) > std::fabs(max_scale)) max_scale = scales[j];
    }
    // Eight-bit signed scales: the largest maps to -128.
    const float iscale = max_scale != 0.0f ? -128.0f / max_scale : 0.0f;
    for (int j = 0; j < 16; ++j)
      y[b].scales[j] = int8_t(std::clamp(nearest_int(iscale * scales[j]), -128, 127));
    y[b].d = fp32_to_fp16(max_scale != 0.0f ? 1.0f / iscale : 0.0f);
    const float d = fp16_to_fp32(y[b].d);
    for (int j = 0; j < 16; ++j) {
      const float ds = d * float(y[b].scales[j]);
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i;
        const int l = ds == 0.0f ? -32 : std::clamp(nearest_int(x[e] / ds), -32, 31);
        levels[e] = uint8_t(l + 32);
      }
    }
    pack_q6(levels, y[b]);
  }
}

}  // namespace muse::quant_internal
