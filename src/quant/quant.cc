// By-type dispatch of quant.h's reference functions, the plain float formats (F32, F16,
// BF16) and the activation quantizers (Q8A, Q8_K). Every entry point checks (type, n) with
// `check_quant_row` and degrades to NaN / no output instead of touching memory it may not own.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "quant/quant.h"

#include "core/fp16.h"
#include "quant/quant_impl.h"

namespace muse {

using namespace quant_internal;

Status check_quant_row(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (!info.supported)
    return Errorf("tensor type %s (id %u) has no quantization reference",
                  std::string(info.name).c_str(), unsigned(t));
  if (n < 0 || n % info.block_size != 0)
    return Errorf("row of %lld elements is not a whole number of %s blocks of %lld", (long long)n,
                  std::string(info.name).c_str(), (long long)info.block_size);
  return Status::Ok();
}

ActType act_type(DType weight) {
  switch (weight) {
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q8_0:
      return ActType::Q8A;
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::Q8_K:
      return ActType::Q8K;
    default:
      return ActType::F32;  // F32, F16, BF16 (and anything without a quantized path)
  }
}

size_t act_row_bytes(ActType a, int64_t n) {
  if (n < 0) return 0;
  switch (a) {
    case ActType::F32:
      return size_t(n) * sizeof(float);
    case ActType::Q8A:
      return size_t(n / kQK) * sizeof(BlockQ8A);
    case ActType::Q8K:
      return size_t(n / kQK_K) * sizeof(BlockQ8_K);
  }
  return 0;
}

void dequantize_row_ref(DType t, const void* src, float* dst, int64_t n) {
  if (!check_quant_row(t, n).ok()) {
    for (int64_t i = 0; i < n; ++i) dst[i] = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  const int64_t nb = n / dtype_info(t).block_size;
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * sizeof(float));
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(static_cast<const fp16_t*>(src)[i]);
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(static_cast<const bf16_t*>(src)[i]);
      return;
    case DType::Q4_0:
      return dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb);
    case DType::Q4_1:
      return dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, nb);
    case DType::Q5_0:
      return dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, nb);
    case DType::Q5_1:
      return dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, nb);
    case DType::Q8_0:
      return dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb);
    case DType::Q2_K:
      return dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, nb);
    case DType::Q3_K:
      return dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, nb);
    case DType::Q4_K:
      return dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, nb);
    case DType::Q5_K:
      return dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, nb);
    case DType::Q6_K:
      return dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, nb);
    case DType::Q8_K:
      return dequantize_q8_k(static_cast<const BlockQ8_K*>(src), dst, nb);
    default:  // unreachable: check_quant_row accepted only the types above
      for (int64_t i = 0; i < n; ++i) dst[i] = std::numeric_limits<float>::quiet_NaN();
  }
}

void quantize_row_ref(DType t, const float* src, void* dst, int64_t n) {
  if (!check_quant_row(t, n).ok()) return;
  const int64_t nb = n / dtype_info(t).block_size;
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * sizeof(float));
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) static_cast<fp16_t*>(dst)[i] = fp32_to_fp16(src[i]);
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) static_cast<bf16_t*>(dst)[i] = fp32_to_bf16(src[i]);
      return;
    case DType::Q4_0:
      return quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), nb);
    case DType::Q4_1:
      return quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), nb);
    case DType::Q5_0:
      return quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), nb);
    case DType::Q5_1:
      return quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), nb);
    case DType::Q8_0:
      return quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), nb);
    case DType::Q2_K:
      return quantize_q2_k(src, static_cast<BlockQ2_K*>(dst), nb);
    case DType::Q3_K:
      return quantize_q3_k(src, static_cast<BlockQ3_K*>(dst), nb);
    case DType::Q4_K:
      return quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), nb);
    case DType::Q5_K:
      return quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), nb);
    case DType::Q6_K:
      return quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), nb);
    case DType::Q8_K:
      return quantize_row_q8k_ref(src, static_cast<BlockQ8_K*>(dst), n);
    default:
      return;
  }
}

void quantize_row_q8a_ref(const float* x, BlockQ8A* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      // Half to even, as llama.cpp's AVX2 `quantize_row_q8_0` rounds (`_mm256_round_ps`).
      const int q = std::clamp(nearest_int(x[j] * id), -127, 127);
      y[b].qs[j] = int8_t(q);
      sum += q;
    }
    // GGML stores d in f16 (block_q8_0); rounding it the same way makes our products match
    // llama.cpp's (1e-6 of a logit on the Q8_0 goldens instead of 5e-2). `s` uses the rounded
    // d, so the offset formats' `d_w * (d_a * sum(q a) - 8 s)` stays exact.
    y[b].d = fp16_to_fp32(fp32_to_fp16(d));
    y[b].s = y[b].d * float(sum);
  }
}

void quantize_row_q8k_ref(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    std::memset(&y[b], 0, sizeof(BlockQ8_K));
    if (amax == 0.0f) continue;
    // GGML maps `max` to -127 (not -128, so SIMD kernels may negate quants safely).
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j)
      y[b].qs[j] = int8_t(std::clamp(nearest_int(iscale * x[j]), -127, 127));
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[b].qs[16 * g + j];
      y[b].bsums[g] = int16_t(sum);
    }
    y[b].d = 1.0f / iscale;
  }
}

void quantize_act_ref(ActType a, const float* x, void* y, int64_t n) {
  switch (a) {
    case ActType::F32:
      if (n > 0) std::memcpy(y, x, size_t(n) * sizeof(float));
      return;
    case ActType::Q8A:
      return quantize_row_q8a_ref(x, static_cast<BlockQ8A*>(y), n);
    case ActType::Q8K:
      return quantize_row_q8k_ref(x, static_cast<BlockQ8_K*>(y), n);
  }
}

}  // namespace muse
