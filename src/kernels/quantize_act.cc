// Highway implementations of kernels/quantize_act.h. A block's scale is scalar (one divide);
// scaling, rounding, narrowing and the block sums are vector code.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/quantize_act.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cstring>

#include "core/fp16.h"
#include "kernels/quantize_act.h"
#include "quant/blocks.h"

HWY_BEFORE_NAMESPACE();
namespace muse {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using DI = hn::RebindToSigned<DF>;
using D8 = hn::Rebind<int8_t, DF>;

// max |x[i]| over n (a multiple of Lanes or n < Lanes handled by the scalar tail).
HWY_INLINE float AbsMax(const float* x, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  auto m = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) m = hn::Max(m, hn::Abs(hn::LoadU(d, x + i)));
  float r = hn::GetLane(hn::MaxOfLanes(d, m));
  for (; i < n; ++i) r = std::max(r, std::abs(x[i]));
  return r;
}

// q[i] = round_half_even(x[i] * s) as int8 (|x * s| <= 127 by construction); returns the sum.
HWY_INLINE int32_t ScaleRound(const float* x, float s, int8_t* q, size_t n) {
  const DF d;
  const DI di;
  const D8 d8;
  const size_t N = hn::Lanes(d);
  const auto vs = hn::Set(d, s);
  auto sum = hn::Zero(di);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    // Round() is round-to-nearest-even, like the 1.5 * 2^23 trick of GGML's nearest_int.
    const auto r = hn::ConvertTo(di, hn::Round(hn::Mul(hn::LoadU(d, x + i), vs)));
    sum = hn::Add(sum, r);
    hn::StoreU(hn::DemoteTo(d8, r), d8, q + i);
  }
  int32_t total = hn::GetLane(hn::SumOfLanes(di, sum));
  for (; i < n; ++i) {
    const int v = int(std::nearbyint(x[i] * s));
    q[i] = int8_t(v);
    total += v;
  }
  return total;
}

void QuantizeQ8A(const float* x, BlockQ8A* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float d = AbsMax(x, kQK) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const int32_t sum = ScaleRound(x, id, y[b].qs, kQK);
    y[b].d = fp16_to_fp32(fp32_to_fp16(d));
    y[b].s = y[b].d * float(sum);
  }
}

void QuantizeQ8K(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    const float amax = AbsMax(x, kQK_K);
    BlockQ8_K& blk = y[b];
    if (amax == 0.0f) {
      std::memset(&blk, 0, sizeof(BlockQ8_K));
      continue;
    }
    // The signed value of the first element reaching amax, as the reference picks it.
    int j = 0;
    while (std::abs(x[j]) != amax) ++j;
    const float iscale = -127.0f / x[j];
    ScaleRound(x, iscale, blk.qs, kQK_K);
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int k = 0; k < 16; ++k) sum += blk.qs[16 * g + k];
      blk.bsums[g] = int16_t(sum);
    }
    blk.d = 1.0f / iscale;
  }
}

void QuantizeAct(ActType a, const float* x, void* y, int64_t n) {
  switch (a) {
    case ActType::F32:
      if (n > 0) std::memcpy(y, x, size_t(n) * sizeof(float));
      return;
    case ActType::Q8A:
      return QuantizeQ8A(x, static_cast<BlockQ8A*>(y), n);
    case ActType::Q8K:
      return QuantizeQ8K(x, static_cast<BlockQ8_K*>(y), n);
  }
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace muse
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace muse {

HWY_EXPORT(QuantizeAct);
HWY_EXPORT(TargetName);

void quantize_act(ActType a, const float* x, void* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(QuantizeAct)(a, x, y, n);
}

const char* quantize_act_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace muse
#endif  // HWY_ONCE
