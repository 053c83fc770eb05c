// Reference dot products of a weight row with an activation row in act_type(weight): the
// exact integer arithmetic the SIMD kernels must reproduce. Within each (sub-)block the
// products of integer levels are summed in int32; only then are the float scales applied,
// in GGML's grouping. Per-block float terms are accumulated in double, so the reference
// itself adds no rounding that a kernel's own float accumulation could be blamed for.

#include <cstdint>
#include <limits>

#include "quant/quant.h"
#include "quant/quant_impl.h"

namespace muse {

using namespace quant_internal;

namespace {

// sum_i w[i] * a[i] over n int8 levels.
int32_t dot_i8(const int8_t* w, const int8_t* a, int n) {
  int32_t s = 0;
  for (int i = 0; i < n; ++i) s += int32_t(w[i]) * int32_t(a[i]);
  return s;
}

template <class Block, class Levels>
double dot_legacy_symmetric(const Block* w, const BlockQ8A* a, int64_t nb, Levels levels) {
  double sum = 0.0;
  int8_t q[kQK];
  for (int64_t b = 0; b < nb; ++b) {
    levels(w[b], q);
    sum += double(fp16_to_fp32(w[b].d) * a[b].d * float(dot_i8(q, a[b].qs, kQK)));
  }
  return sum;
}

// x = d q + m: sum x a = d da sum(q qa) + m sum(a), and sum(a) = s of the activation block.
template <class Block, class Levels>
double dot_legacy_affine(const Block* w, const BlockQ8A* a, int64_t nb, Levels levels) {
  double sum = 0.0;
  int8_t q[kQK];
  for (int64_t b = 0; b < nb; ++b) {
    levels(w[b], q);
    const float d = fp16_to_fp32(w[b].d), m = fp16_to_fp32(w[b].m);
    sum += double(d * a[b].d * float(dot_i8(q, a[b].qs, kQK)) + m * a[b].s);
  }
  return sum;
}

double dot_q8_0(const BlockQ8_0* w, const BlockQ8A* a, int64_t nb) {
  double sum = 0.0;
  for (int64_t b = 0; b < nb; ++b)
    sum += double(fp16_to_fp32(w[b].d) * a[b].d * float(dot_i8(w[b].qs, a[b].qs, kQK)));
  return sum;
}

// Q2_K: x = d sc q - dmin mn per 16; the min term uses the activation's bsums.
double dot_q2_k(const BlockQ2_K* w, const BlockQ8_K* a, int64_t nb) {
  double sum = 0.0;
  int8_t q[kQK_K];
  for (int64_t b = 0; b < nb; ++b) {
    levels_q2_k(w[b], q);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += int32_t(w[b].scales[j] & 0xF) * dot_i8(q + 16 * j, a[b].qs + 16 * j, 16);
      msum += int32_t(w[b].scales[j] >> 4) * int32_t(a[b].bsums[j]);
    }
    const float d = a[b].d * fp16_to_fp32(w[b].d), dmin = a[b].d * fp16_to_fp32(w[b].dmin);
    sum += double(d * float(isum) - dmin * float(msum));
  }
  return sum;
}

double dot_q3_k(const BlockQ3_K* w, const BlockQ8_K* a, int64_t nb) {
  double sum = 0.0;
  int8_t q[kQK_K], sc[16];
  for (int64_t b = 0; b < nb; ++b) {
    levels_q3_k(w[b], q);
    scales_q3_k(w[b].scales, sc);
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) isum += int32_t(sc[j]) * dot_i8(q + 16 * j, a[b].qs + 16 * j, 16);
    sum += double(a[b].d * fp16_to_fp32(w[b].d) * float(isum));
  }
  return sum;
}

// Q4_K and Q5_K: eight sub-blocks of 32, x = d sc q - dmin mn.
template <class Block, class Levels>
double dot_k4_family(const Block* w, const BlockQ8_K* a, int64_t nb, Levels levels) {
  double sum = 0.0;
  int8_t q[kQK_K];
  uint8_t sc[8], mn[8];
  for (int64_t b = 0; b < nb; ++b) {
    levels(w[b], q);
    scales_mins_k4(w[b].scales, sc, mn);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      isum += int32_t(sc[j]) * dot_i8(q + 32 * j, a[b].qs + 32 * j, 32);
      msum += int32_t(mn[j]) * (int32_t(a[b].bsums[2 * j]) + int32_t(a[b].bsums[2 * j + 1]));
    }
    const float d = a[b].d * fp16_to_fp32(w[b].d), dmin = a[b].d * fp16_to_fp32(w[b].dmin);
    sum += double(d * float(isum) - dmin * float(msum));
  }
  return sum;
}

double dot_q6_k(const BlockQ6_K* w, const BlockQ8_K* a, int64_t nb) {
  double sum = 0.0;
  int8_t q[kQK_K];
  for (int64_t b = 0; b < nb; ++b) {
    levels_q6_k(w[b], q);
    int32_t isum = 0;  // |isum| <= 16 * 128 * 32 * 127 * 16 < 2^31
    for (int j = 0; j < 16; ++j)
      isum += int32_t(w[b].scales[j]) * dot_i8(q + 16 * j, a[b].qs + 16 * j, 16);
    sum += double(a[b].d * fp16_to_fp32(w[b].d) * float(isum));
  }
  return sum;
}

double dot_q8_k(const BlockQ8_K* w, const BlockQ8_K* a, int64_t nb) {
  double sum = 0.0;
  for (int64_t b = 0; b < nb; ++b)
    sum += double(w[b].d * a[b].d * float(dot_i8(w[b].qs, a[b].qs, kQK_K)));
  return sum;
}

}  // namespace

float vec_dot_ref(DType t, int64_t n, const void* w, const void* a) {
  if (!check_quant_row(t, n).ok()) return std::numeric_limits<float>::quiet_NaN();
  const int64_t nb = n / dtype_info(t).block_size;
  const auto* a8 = static_cast<const BlockQ8A*>(a);
  const auto* ak = static_cast<const BlockQ8_K*>(a);
  const auto* af = static_cast<const float*>(a);
  double sum = 0.0;
  switch (t) {
    case DType::F32:
      for (int64_t i = 0; i < n; ++i) sum += double(static_cast<const float*>(w)[i]) * af[i];
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i)
        sum += double(fp16_to_fp32(static_cast<const fp16_t*>(w)[i])) * af[i];
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i)
        sum += double(bf16_to_fp32(static_cast<const bf16_t*>(w)[i])) * af[i];
      break;
    case DType::Q4_0:
      sum = dot_legacy_symmetric(static_cast<const BlockQ4_0*>(w), a8, nb, levels_q4_0);
      break;
    case DType::Q5_0:
      sum = dot_legacy_symmetric(static_cast<const BlockQ5_0*>(w), a8, nb, levels_q5_0);
      break;
    case DType::Q4_1:
      sum = dot_legacy_affine(static_cast<const BlockQ4_1*>(w), a8, nb, levels_q4_1);
      break;
    case DType::Q5_1:
      sum = dot_legacy_affine(static_cast<const BlockQ5_1*>(w), a8, nb, levels_q5_1);
      break;
    case DType::Q8_0:
      sum = dot_q8_0(static_cast<const BlockQ8_0*>(w), a8, nb);
      break;
    case DType::Q2_K:
      sum = dot_q2_k(static_cast<const BlockQ2_K*>(w), ak, nb);
      break;
    case DType::Q3_K:
      sum = dot_q3_k(static_cast<const BlockQ3_K*>(w), ak, nb);
      break;
    case DType::Q4_K:
      sum = dot_k4_family(static_cast<const BlockQ4_K*>(w), ak, nb, levels_q4_k);
      break;
    case DType::Q5_K:
      sum = dot_k4_family(static_cast<const BlockQ5_K*>(w), ak, nb, levels_q5_k);
      break;
    case DType::Q6_K:
      sum = dot_q6_k(static_cast<const BlockQ6_K*>(w), ak, nb);
      break;
    case DType::Q8_K:
      sum = dot_q8_k(static_cast<const BlockQ8_K*>(w), ak, nb);
      break;
    default:
      return std::numeric_limits<float>::quiet_NaN();
  }
  return float(sum);
}

}  // namespace muse
