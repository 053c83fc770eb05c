// Highway implementations of kernels/ops.h, compiled once per SIMD target and chosen at run
// time through HWY_DYNAMIC_DISPATCH. Every loop handles its last n % Lanes elements through a
// padded stack vector, so the tail runs the same vector math as the body (no scalar
// fallback with different rounding). Layout: per-target kernels, then the dispatching API.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/ops.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ops.h"

HWY_BEFORE_NAMESPACE();
namespace muse {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Loads p[0, count) with count < Lanes, padding the remaining lanes with `fill`.
HWY_INLINE VF LoadTail(DF d, const float* p, size_t count, float fill) {
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)];
  const size_t lanes = hn::Lanes(d);
  for (size_t i = 0; i < lanes; ++i) buf[i] = i < count ? p[i] : fill;
  return hn::Load(d, buf);
}

HWY_INLINE void StoreTail(DF d, VF v, float* p, size_t count) {
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, count * sizeof(float));
}

// y[i] = f(x[i]); y may alias x because each vector is loaded before it is stored.
template <class Func>
HWY_INLINE void MapUnary(const float* x, float* y, int64_t n_signed, const Func& f) {
  if (n_signed <= 0) return;
  const size_t n = static_cast<size_t>(n_signed);
  const DF d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StoreTail(d, f(d, LoadTail(d, x + i, n - i, 0.0f)), y + i, n - i);
}

template <class Func>
HWY_INLINE void MapBinary(const float* a, const float* b, float* y, int64_t n_signed,
                          const Func& f) {
  if (n_signed <= 0) return;
  const size_t n = static_cast<size_t>(n_signed);
  const DF d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(f(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, y + i);
  }
  if (i < n) {
    const VF va = LoadTail(d, a + i, n - i, 0.0f);
    const VF vb = LoadTail(d, b + i, n - i, 0.0f);
    StoreTail(d, f(d, va, vb), y + i, n - i);
  }
}

// Four independent accumulators hide the 4-cycle FMA latency (2 FMA ports x 4 cycles would
// want 8; 4 already saturates the loads on these memory-bound sizes).
HWY_INLINE float DotImpl(const float* a, const float* b, size_t n) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  VF s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, b + i + lanes), s1);
    s2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * lanes), hn::LoadU(d, b + i + 2 * lanes), s2);
    s3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * lanes), hn::LoadU(d, b + i + 3 * lanes), s3);
  }
  for (; i + lanes <= n; i += lanes) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  }
  if (i < n) s1 = hn::MulAdd(LoadTail(d, a + i, n - i, 0.0f), LoadTail(d, b + i, n - i, 0.0f), s1);
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
}

// Bounded by memory: 1 read pass (sum of squares) + 1 read/write pass.
void RmsNorm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  if (n <= 0) return;
  const float ss = DotImpl(x, x, static_cast<size_t>(n));
  // The scalar tail of the reduction runs in double: free, and it keeps eps from being
  // absorbed when mean(x^2) is large.
  const float inv = static_cast<float>(1.0 / std::sqrt(double(ss) / double(n) + double(eps)));
  const DF d;
  const VF vinv = hn::Set(d, inv);
  if (weight == nullptr) {
    MapUnary(x, y, n, [vinv](DF, VF v) { return hn::Mul(v, vinv); });
  } else {
    MapBinary(x, weight, y, n, [vinv](DF, VF v, VF w) { return hn::Mul(hn::Mul(v, vinv), w); });
  }
}

// x[d] = x[d] * cos[d] + x[partner(d)] * sin[d], with the table holding -sin for the first
// element of each pair (see rope_fill_table).
void RopeApply(const RopeParams& p, const float* table, float* x, int64_t n_head, int64_t head_dim,
               int64_t head_stride) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  const size_t n_rot = static_cast<size_t>(p.n_rot);
  const float* cos_t = table;
  const float* sin_t = table + n_rot;
  for (int64_t h = 0; h < n_head; ++h) {
    float* xh = x + h * head_stride;
    if (p.style == RopeStyle::Normal) {
#if HWY_TARGET == HWY_SCALAR
      // One lane cannot hold a pair; the fallback target rotates pairs in scalar code.
      for (size_t i = 0; i < n_rot; i += 2) {
        const float x0 = xh[i], x1 = xh[i + 1];
        xh[i] = x0 * cos_t[i] + x1 * sin_t[i];
        xh[i + 1] = x1 * cos_t[i + 1] + x0 * sin_t[i + 1];
      }
      continue;
#endif
      // Pairs are adjacent lanes: the partner vector is x with each lane pair swapped.
      // lanes and n_rot are even, so no pair straddles the tail.
      size_t i = 0;
      for (; i + lanes <= n_rot; i += lanes) {
        const VF v = hn::LoadU(d, xh + i);
        const VF r = hn::Mul(hn::Reverse2(d, v), hn::LoadU(d, sin_t + i));
        hn::StoreU(hn::MulAdd(v, hn::LoadU(d, cos_t + i), r), d, xh + i);
      }
      if (i < n_rot) {
        const size_t c = n_rot - i;
        const VF v = LoadTail(d, xh + i, c, 0.0f);
        const VF r = hn::Mul(hn::Reverse2(d, v), LoadTail(d, sin_t + i, c, 0.0f));
        StoreTail(d, hn::MulAdd(v, LoadTail(d, cos_t + i, c, 0.0f), r), xh + i, c);
      }
    } else {
      // Pairs are (i, i + half): both halves use cos[i] and sin[i + half] = -sin[i].
      const size_t half = n_rot / 2;
      float* lo = xh;
      float* hi = xh + half;
      size_t i = 0;
      for (; i + lanes <= half; i += lanes) {
        const VF a = hn::LoadU(d, lo + i);
        const VF b = hn::LoadU(d, hi + i);
        const VF c = hn::LoadU(d, cos_t + i);
        const VF s = hn::LoadU(d, sin_t + half + i);  // +sin
        hn::StoreU(hn::NegMulAdd(b, s, hn::Mul(a, c)), d, lo + i);
        hn::StoreU(hn::MulAdd(a, s, hn::Mul(b, c)), d, hi + i);
      }
      if (i < half) {
        const size_t cnt = half - i;
        const VF a = LoadTail(d, lo + i, cnt, 0.0f);
        const VF b = LoadTail(d, hi + i, cnt, 0.0f);
        const VF c = LoadTail(d, cos_t + i, cnt, 0.0f);
        const VF s = LoadTail(d, sin_t + half + i, cnt, 0.0f);
        StoreTail(d, hn::NegMulAdd(b, s, hn::Mul(a, c)), lo + i, cnt);
        StoreTail(d, hn::MulAdd(a, s, hn::Mul(b, c)), hi + i, cnt);
      }
    }
  }
}

// Highway's Exp is specified for x <= 104; above ~88.72 the true result overflows anyway,
// so clamping to 100 keeps the +inf answer while staying inside the valid range.
HWY_INLINE VF ExpClamped(DF d, VF x) { return hn::Exp(d, hn::Min(x, hn::Set(d, 100.0f))); }

// sigmoid(x) from e = exp(-|x|) in (0, 1]: 1/(1+e) for x >= 0, e/(1+e) for x < 0. Neither
// branch overflows, and the small tail for negative x keeps full relative precision.
HWY_INLINE VF Sigmoid(DF d, VF x) {
  const VF one = hn::Set(d, 1.0f);
  const VF e = hn::Exp(d, hn::Neg(hn::Abs(x)));
  const VF num = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, one);
  return hn::Div(num, hn::Add(one, e));
}

HWY_INLINE VF Silu(DF d, VF x) { return hn::Mul(x, Sigmoid(d, x)); }

// GGML's tanh GELU: 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) x (1 + a x^2).
HWY_INLINE VF Gelu(DF d, VF x) {
  const VF k2_sqrt_2_over_pi = hn::Set(d, 2.0f * 0.79788456080286535588f);
  const VF a = hn::Set(d, 0.044715f);
  const VF x2 = hn::Mul(x, x);
  const VF z = hn::Mul(hn::Mul(k2_sqrt_2_over_pi, x), hn::MulAdd(a, x2, hn::Set(d, 1.0f)));
  return hn::Mul(x, Sigmoid(d, z));
}

// Three passes (max, exp and sum, scale); compute-bound on Exp for the n <= a few thousand
// rows it sees, which stay in L1/L2 between passes.
void Softmax(float* x, int64_t n_signed) {
  if (n_signed <= 0) return;
  const size_t n = static_cast<size_t>(n_signed);
  const DF d;
  const size_t lanes = hn::Lanes(d);
  const float kNegInf = -HUGE_VALF;
  VF m0 = hn::Set(d, kNegInf), m1 = m0;
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    m0 = hn::Max(m0, hn::LoadU(d, x + i));
    m1 = hn::Max(m1, hn::LoadU(d, x + i + lanes));
  }
  for (; i + lanes <= n; i += lanes) m0 = hn::Max(m0, hn::LoadU(d, x + i));
  if (i < n) m1 = hn::Max(m1, LoadTail(d, x + i, n - i, kNegInf));
  const VF vmax = hn::MaxOfLanes(d, hn::Max(m0, m1));

  // exp(-inf - max) = 0 (Highway's Exp returns 0 below -104), so padding adds nothing.
  VF s0 = hn::Zero(d), s1 = hn::Zero(d);
  i = 0;
  for (; i + lanes <= n; i += lanes) {
    const VF e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmax));
    hn::StoreU(e, d, x + i);
    s0 = hn::Add(s0, e);
  }
  if (i < n) {
    const VF e = hn::Exp(d, hn::Sub(LoadTail(d, x + i, n - i, kNegInf), vmax));
    StoreTail(d, e, x + i, n - i);
    s1 = hn::Add(s1, e);
  }
  const float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  const VF inv = hn::Set(d, 1.0f / sum);
  MapUnary(x, x, n_signed, [inv](DF, VF v) { return hn::Mul(v, inv); });
}

void ExpF32(const float* x, float* y, int64_t n) {
  MapUnary(x, y, n, [](DF d, VF v) { return ExpClamped(d, v); });
}

// Compute-bound (Exp + divide per element) while the data is in cache.
void SiluKernel(const float* x, float* y, int64_t n) {
  MapUnary(x, y, n, [](DF d, VF v) { return Silu(d, v); });
}

void Swiglu(const float* gate, const float* up, float* out, int64_t n) {
  MapBinary(gate, up, out, n, [](DF d, VF g, VF u) { return hn::Mul(Silu(d, g), u); });
}

void GeluKernel(const float* x, float* y, int64_t n) {
  MapUnary(x, y, n, [](DF d, VF v) { return Gelu(d, v); });
}

void AddKernel(const float* a, const float* b, float* y, int64_t n) {
  MapBinary(a, b, y, n, [](DF, VF u, VF v) { return hn::Add(u, v); });
}

void MulKernel(const float* a, const float* b, float* y, int64_t n) {
  MapBinary(a, b, y, n, [](DF, VF u, VF v) { return hn::Mul(u, v); });
}

void ScaleKernel(float* x, float s, int64_t n) {
  const VF vs = hn::Set(DF(), s);
  MapUnary(x, x, n, [vs](DF, VF v) { return hn::Mul(v, vs); });
}

float DotKernel(const float* a, const float* b, int64_t n) {
  return n <= 0 ? 0.0f : DotImpl(a, b, static_cast<size_t>(n));
}

void AxpyKernel(float a, const float* x, float* y, int64_t n) {
  const VF va = hn::Set(DF(), a);
  MapBinary(x, y, y, n, [va](DF, VF u, VF v) { return hn::MulAdd(va, u, v); });
}

const char* TargetNameKernel() { return hwy::TargetName(HWY_TARGET); }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace muse
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace muse {

HWY_EXPORT(RmsNorm);
HWY_EXPORT(RopeApply);
HWY_EXPORT(Softmax);
HWY_EXPORT(ExpF32);
HWY_EXPORT(SiluKernel);
HWY_EXPORT(Swiglu);
HWY_EXPORT(GeluKernel);
HWY_EXPORT(AddKernel);
HWY_EXPORT(MulKernel);
HWY_EXPORT(ScaleKernel);
HWY_EXPORT(DotKernel);
HWY_EXPORT(AxpyKernel);
HWY_EXPORT(TargetNameKernel);

const char* ops_target_name() { return HWY_DYNAMIC_DISPATCH(TargetNameKernel)(); }

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  HWY_DYNAMIC_DISPATCH(RmsNorm)(x, weight, y, n, eps);
}

Status validate_rope_params(const RopeParams& p, int64_t head_dim) {
  if (p.n_rot <= 0 || p.n_rot % 2 != 0 || p.n_rot > head_dim) {
    return Errorf("rope: n_rot %d must be even and in 1..head_dim (%lld)", p.n_rot,
                  static_cast<long long>(head_dim));
  }
  if (!(std::isfinite(p.freq_base) && p.freq_base > 0.0f)) {
    return Errorf("rope: freq_base %g must be finite and positive", double(p.freq_base));
  }
  if (!(std::isfinite(p.freq_scale) && p.freq_scale > 0.0f)) {
    return Errorf("rope: freq_scale %g must be finite and positive", double(p.freq_scale));
  }
  if (p.yarn_ext_factor != 0.0f && p.yarn_n_ctx_orig <= 0) {
    return Errorf("rope: YaRN needs the original context length (got %d)", p.yarn_n_ctx_orig);
  }
  if (p.freq_factors != nullptr) {
    for (int i = 0; i < p.n_rot / 2; ++i) {
      if (!(std::isfinite(p.freq_factors[i]) && p.freq_factors[i] > 0.0f)) {
        return Errorf("rope: freq_factors[%d] = %g must be finite and positive", i,
                      double(p.freq_factors[i]));
      }
    }
  }
  return Status::Ok();
}

void rope_fill_table(const RopeParams& p, int64_t pos, float* table) {
  const int n_rot = p.n_rot;
  const int half = n_rot / 2;
  float* cos_t = table;
  float* sin_t = table + n_rot;
  // base^(-2i/n_rot) by repeated multiplication in double: relative error ~i * 1e-16, i.e.
  // < 1e-9 rad at pos 1e5, far below float resolution of the result.
  const double step = std::pow(double(p.freq_base), -2.0 / double(n_rot));
  // YaRN ramp over pair index i: dim pair i turns n_ctx_orig * inv_freq / (2 pi) times over
  // the original context; solving for i at beta turns gives the ramp's ends.
  double ramp_lo = 0.0, ramp_hi = 0.0, mscale = p.attn_factor;
  const bool yarn = p.yarn_ext_factor != 0.0f;
  if (yarn) {
    auto dim_at_turns = [&](double turns) {
      return double(n_rot) * std::log(double(p.yarn_n_ctx_orig) / (turns * 2.0 * M_PI)) /
             (2.0 * std::log(double(p.freq_base)));
    };
    ramp_lo = std::max(0.0, std::floor(dim_at_turns(p.yarn_beta_fast)));
    ramp_hi = std::min(double(n_rot - 1), std::ceil(dim_at_turns(p.yarn_beta_slow)));
    mscale *= 1.0 + 0.1 * std::log(1.0 / double(p.freq_scale));
  }
  double inv_freq = 1.0;
  for (int i = 0; i < half; ++i, inv_freq *= step) {
    double theta_extrap = double(pos) * inv_freq;
    if (p.freq_factors != nullptr) theta_extrap /= double(p.freq_factors[i]);
    double theta = theta_extrap * double(p.freq_scale);
    if (yarn) {
      const double t = (double(i) - ramp_lo) / std::max(0.001, ramp_hi - ramp_lo);
      const double mix = (1.0 - std::clamp(t, 0.0, 1.0)) * double(p.yarn_ext_factor);
      theta = theta * (1.0 - mix) + theta_extrap * mix;
    }
    const float c = static_cast<float>(std::cos(theta) * mscale);
    const float s = static_cast<float>(std::sin(theta) * mscale);
    if (p.style == RopeStyle::Normal) {
      cos_t[2 * i] = c;
      cos_t[2 * i + 1] = c;
      sin_t[2 * i] = -s;
      sin_t[2 * i + 1] = s;
    } else {
      cos_t[i] = c;
      cos_t[i + half] = c;
      sin_t[i] = -s;
      sin_t[i + half] = s;
    }
  }
}

void rope_apply(const RopeParams& p, const float* table, float* x, int64_t n_head, int64_t head_dim,
                int64_t head_stride) {
  HWY_DYNAMIC_DISPATCH(RopeApply)(p, table, x, n_head, head_dim, head_stride);
}

void softmax(float* x, int64_t n) { HWY_DYNAMIC_DISPATCH(Softmax)(x, n); }

void exp_f32(const float* x, float* y, int64_t n) { HWY_DYNAMIC_DISPATCH(ExpF32)(x, y, n); }

void silu(const float* x, float* y, int64_t n) { HWY_DYNAMIC_DISPATCH(SiluKernel)(x, y, n); }

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(Swiglu)(gate, up, out, n);
}

void gelu(const float* x, float* y, int64_t n) { HWY_DYNAMIC_DISPATCH(GeluKernel)(x, y, n); }

void add(const float* a, const float* b, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AddKernel)(a, b, y, n);
}

void mul(const float* a, const float* b, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(MulKernel)(a, b, y, n);
}

void scale(float* x, float s, int64_t n) { HWY_DYNAMIC_DISPATCH(ScaleKernel)(x, s, n); }

float dot_f32(const float* a, const float* b, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotKernel)(a, b, n);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AxpyKernel)(a, x, y, n);
}

}  // namespace muse
#endif  // HWY_ONCE
