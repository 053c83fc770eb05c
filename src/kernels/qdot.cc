// SIMD dot-product tiles for quantized and float weight rows (see qdot.h).
//
// x86 (AVX2 and up): int8 products use vpmaddubsw, which multiplies unsigned by signed bytes
// into saturating int16 pairs. Q8_0 x Q8A: |w| * sign(a, w) keeps every pair below 2*127*127
// (no saturation because both sides are in [-127, 127], which GGML's and our quantizers
// guarantee for activations; a weight of -128 is still exact, |-128| = 128 as unsigned).
// Q4_0: unsigned nibbles q in [0, 15] times a, and the -8 offset is folded in afterwards
// with the activation block's sum (8 * d_w * s_a), so no sign juggling is needed.
// A tile reuses each loaded weight block for up to kTileCols activation columns, which is
// what lets matmul beat the memory-bound matvec by reading weights once for many tokens.
// Other targets (NEON, SSE4, scalar emulation) use portable Highway code.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/qdot.cc"
#include "kernels/qdot.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/blocks.h"
#include "quant/quant.h"

#undef MUSE_QDOT_X86
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#define MUSE_QDOT_X86 1
#else
#define MUSE_QDOT_X86 0
#endif

HWY_BEFORE_NAMESPACE();
namespace muse {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---------------------------------------------------------------------------------------
// Float weights (F32, F16) against F32 activations.

template <int R, int C, class LoadW>
HWY_INLINE void FloatTile(const DotTileArgs& p, LoadW load_w) {
  const hn::ScalableTag<float> df;
  const size_t N = hn::Lanes(df);
  using V = hn::Vec<decltype(df)>;
  V acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = hn::Zero(df);
  const float* a[C];
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const float*>(p.a + c * p.a_stride);
  int64_t i = 0;
  for (; i + int64_t(N) <= p.n_k; i += N) {
    V av[C];
    for (int c = 0; c < C; ++c) av[c] = hn::LoadU(df, a[c] + i);
    for (int r = 0; r < R; ++r) {
      const V wv = load_w(df, p.w + r * p.w_stride, i);
      for (int c = 0; c < C; ++c) acc[r][c] = hn::MulAdd(wv, av[c], acc[r][c]);
    }
  }
  const size_t tail = size_t(p.n_k - i);
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      float sum = hn::GetLane(hn::SumOfLanes(df, acc[r][c]));
      if (tail) {
        HWY_ALIGN float wt[hn::MaxLanes(df)] = {};
        hn::Store(load_w(df, p.w + r * p.w_stride, i, tail), df, wt);
        for (size_t j = 0; j < tail; ++j) sum += wt[j] * a[c][i + j];
      }
      p.out[c * p.out_stride + r] = sum;
    }
  }
}

struct LoadF32 {
  template <class D>
  HWY_INLINE hn::Vec<D> operator()(D d, const uint8_t* row, int64_t i, size_t n = 0) const {
    const float* w = reinterpret_cast<const float*>(row) + i;
    if (n) {
      HWY_ALIGN float buf[hn::MaxLanes(d)] = {};
      for (size_t j = 0; j < n; ++j) buf[j] = w[j];
      return hn::Load(d, buf);
    }
    return hn::LoadU(d, w);
  }
};

struct LoadF16 {
  template <class D>
  HWY_INLINE hn::Vec<D> operator()(D d, const uint8_t* row, int64_t i, size_t n = 0) const {
    const hn::Rebind<hwy::float16_t, D> dh;
    const hwy::float16_t* w = reinterpret_cast<const hwy::float16_t*>(row) + i;
    if (n) {
      HWY_ALIGN hwy::float16_t buf[hn::MaxLanes(d)] = {};
      for (size_t j = 0; j < n; ++j) buf[j] = w[j];
      return hn::PromoteTo(d, hn::Load(dh, buf));
    }
    return hn::PromoteTo(d, hn::LoadU(dh, w));
  }
};

// ---------------------------------------------------------------------------------------
// Q8_0 and Q4_0 weights against Q8A activations.

#if MUSE_QDOT_X86

HWY_INLINE float HalfToFloat(fp16_t h) { return _cvtsh_ss(h); }

HWY_INLINE float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Sum of 32 int8 products as 8 int32 lanes: u (unsigned bytes) times s (signed bytes).
HWY_INLINE __m256i DotU8S8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

template <int R, int C>
HWY_INLINE void Q8_0Tile(const DotTileArgs& p) {
  const int64_t nb = p.n_k / kQK;
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  const BlockQ8_0* w[R];
  const BlockQ8A* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(p.w + r * p.w_stride);
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq[R], wabs[R];
    float wd[R];
    for (int r = 0; r < R; ++r) {
      wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs));
      wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
      wd[r] = HalfToFloat(w[r][b].d);
    }
    for (int c = 0; c < C; ++c) {
      const __m256i aq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[c][b].qs));
      const float ad = a[c][b].d;
      for (int r = 0; r < R; ++r) {
        const __m256i dot = DotU8S8(wabs[r], _mm256_sign_epi8(aq, wq[r]));
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(wd[r] * ad), acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) p.out[c * p.out_stride + r] = HorizontalSum(acc[r][c]);
}

template <int R, int C>
HWY_INLINE void Q4_0Tile(const DotTileArgs& p) {
  const int64_t nb = p.n_k / kQK;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  __m256 acc[R][C];
  float offset[R][C] = {};  // sum over blocks of d_w * s_a, times -8 at the end
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  const BlockQ4_0* w[R];
  const BlockQ8A* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ4_0*>(p.w + r * p.w_stride);
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq[R];
    float wd[R];
    for (int r = 0; r < R; ++r) {
      // Bytes 0..15 hold weights 0..15 (low nibbles) and 16..31 (high nibbles).
      const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].qs));
      const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
      wq[r] = _mm256_and_si256(both, low_mask);
      wd[r] = HalfToFloat(w[r][b].d);
    }
    for (int c = 0; c < C; ++c) {
      const __m256i aq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[c][b].qs));
      const float ad = a[c][b].d;
      const float as = a[c][b].s;
      for (int r = 0; r < R; ++r) {
        const __m256i dot = DotU8S8(wq[r], aq);
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(wd[r] * ad), acc[r][c]);
        offset[r][c] += wd[r] * as;
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c)
      p.out[c * p.out_stride + r] = HorizontalSum(acc[r][c]) - 8.0f * offset[r][c];
}

// Four weight rows at once: the four rows' int32 block sums are folded into one vector with
// two rounds of horizontal adds, [r0 r1 r2 r3 | r0 r1 r2 r3] (two halves of each row's
// sum), so each column needs one convert and one multiply-add per block instead of four.
HWY_INLINE __m256i FoldRows(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  return _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
}

// The four rows' block scales as [d0 d1 d2 d3 | d0 d1 d2 d3].
HWY_INLINE __m256 RowScales(fp16_t d0, fp16_t d1, fp16_t d2, fp16_t d3) {
  const __m128 d =
      _mm_cvtph_ps(_mm_setr_epi16(short(d0), short(d1), short(d2), short(d3), 0, 0, 0, 0));
  return _mm256_set_m128(d, d);
}

// Stores the four row sums of a folded accumulator (adds the two halves).
HWY_INLINE void StoreRows(__m256 acc, float* out) {
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
}

template <int C>
HWY_INLINE void Q8_0Tile4(const DotTileArgs& p) {
  const int64_t nb = p.n_k / kQK;
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  const BlockQ8_0* w[4];
  const BlockQ8A* a[C];
  for (int r = 0; r < 4; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(p.w + r * p.w_stride);
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq[4], wabs[4];
    for (int r = 0; r < 4; ++r) {
      wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs));
      wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
    }
    const __m256 wd = RowScales(w[0][b].d, w[1][b].d, w[2][b].d, w[3][b].d);
    for (int c = 0; c < C; ++c) {
      const __m256i aq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[c][b].qs));
      const __m256i sums = FoldRows(DotU8S8(wabs[0], _mm256_sign_epi8(aq, wq[0])),
                                    DotU8S8(wabs[1], _mm256_sign_epi8(aq, wq[1])),
                                    DotU8S8(wabs[2], _mm256_sign_epi8(aq, wq[2])),
                                    DotU8S8(wabs[3], _mm256_sign_epi8(aq, wq[3])));
      const __m256 scale = _mm256_mul_ps(wd, _mm256_broadcast_ss(&a[c][b].d));
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) StoreRows(acc[c], p.out + c * p.out_stride);
}

template <int C>
HWY_INLINE void Q4_0Tile4(const DotTileArgs& p) {
  const int64_t nb = p.n_k / kQK;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  const BlockQ4_0* w[4];
  const BlockQ8A* a[C];
  for (int r = 0; r < 4; ++r) w[r] = reinterpret_cast<const BlockQ4_0*>(p.w + r * p.w_stride);
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq[4];
    for (int r = 0; r < 4; ++r) {
      const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].qs));
      wq[r] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low_mask);
    }
    const __m256 wd = RowScales(w[0][b].d, w[1][b].d, w[2][b].d, w[3][b].d);
    for (int c = 0; c < C; ++c) {
      const __m256i aq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[c][b].qs));
      const __m256i sums =
          FoldRows(DotU8S8(wq[0], aq), DotU8S8(wq[1], aq), DotU8S8(wq[2], aq), DotU8S8(wq[3], aq));
      // d_w * (d_a * sum(q_w * q_a) - 8 * s_a): the nibbles' -8 offset via the block sum,
      // split as -4 * s_a into each of the two halves that StoreRows adds up.
      const __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_broadcast_ss(&a[c][b].d),
                                       _mm256_set1_ps(-4.0f * a[c][b].s));
      acc[c] = _mm256_fmadd_ps(t, wd, acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) StoreRows(acc[c], p.out + c * p.out_stride);
}

#else  // portable Highway path

// Dot of n int8 weights with n int8 activations (n a multiple of the lane count of
// ScalableTag<int16_t>, true for 32 on every target), exact in int32.
HWY_INLINE int32_t DotI8(const int8_t* w, const int8_t* a, int n) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const int N = int(hn::Lanes(d16));
  auto sum0 = hn::Zero(d32), sum1 = hn::Zero(d32);
  for (int i = 0; i < n; i += N) {
    const auto wv = hn::PromoteTo(d16, hn::LoadU(d8, w + i));
    const auto av = hn::PromoteTo(d16, hn::LoadU(d8, a + i));
    sum0 = hn::ReorderWidenMulAccumulate(d32, wv, av, sum0, sum1);
  }
  return hn::GetLane(hn::SumOfLanes(d32, hn::Add(sum0, sum1)));
}

template <int R, int C>
HWY_INLINE void Q8_0Tile(const DotTileArgs& p) {
  const int64_t nb = p.n_k / kQK;
  for (int r = 0; r < R; ++r) {
    const BlockQ8_0* w = reinterpret_cast<const BlockQ8_0*>(p.w + r * p.w_stride);
    for (int c = 0; c < C; ++c) {
      const BlockQ8A* a = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride);
      float sum = 0;
      for (int64_t b = 0; b < nb; ++b)
        sum += fp16_to_fp32(w[b].d) * a[b].d * float(DotI8(w[b].qs, a[b].qs, kQK));
      p.out[c * p.out_stride + r] = sum;
    }
  }
}

template <int R, int C>
HWY_INLINE void Q4_0Tile(const DotTileArgs& p) {
  const int64_t nb = p.n_k / kQK;
  for (int r = 0; r < R; ++r) {
    const BlockQ4_0* w = reinterpret_cast<const BlockQ4_0*>(p.w + r * p.w_stride);
    for (int c = 0; c < C; ++c) {
      const BlockQ8A* a = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride);
      float sum = 0;
      for (int64_t b = 0; b < nb; ++b) {
        HWY_ALIGN int8_t q[kQK];  // weights 0..15 from low nibbles, 16..31 from high
        for (int j = 0; j < kQK / 2; ++j) {
          q[j] = int8_t(w[b].qs[j] & 0x0F);
          q[j + kQK / 2] = int8_t(w[b].qs[j] >> 4);
        }
        const int32_t dot = DotI8(q, a[b].qs, kQK);
        sum += fp16_to_fp32(w[b].d) * (a[b].d * float(dot) - 8.0f * a[b].s);
      }
      p.out[c * p.out_stride + r] = sum;
    }
  }
}

#endif  // MUSE_QDOT_X86

// ---------------------------------------------------------------------------------------
// Tile driver: instantiate every (rows, cols) shape up to kTileRows x kTileCols once, so
// the inner loops have compile-time trip counts.

template <template <int, int> class K, int R, int C>
struct Dispatch {
  static void Run(const DotTileArgs& p) {
    if (p.n_rows == R && p.n_cols == C) return K<R, C>::Run(p);
    if constexpr (C > 1) {
      if (p.n_rows == R) return Dispatch<K, R, C - 1>::Run(p);
    }
    if constexpr (R > 1) return Dispatch<K, R - 1, kTileCols>::Run(p);
  }
};

template <int R, int C>
struct Q8_0Kernel {
  static void Run(const DotTileArgs& p) {
#if MUSE_QDOT_X86
    if constexpr (R == 4) return Q8_0Tile4<C>(p);
#endif
    Q8_0Tile<R, C>(p);
  }
};
template <int R, int C>
struct Q4_0Kernel {
  static void Run(const DotTileArgs& p) {
#if MUSE_QDOT_X86
    if constexpr (R == 4) return Q4_0Tile4<C>(p);
#endif
    Q4_0Tile<R, C>(p);
  }
};
template <int R, int C>
struct F32Kernel {
  static void Run(const DotTileArgs& p) { FloatTile<R, C>(p, LoadF32()); }
};
template <int R, int C>
struct F16Kernel {
  static void Run(const DotTileArgs& p) { FloatTile<R, C>(p, LoadF16()); }
};

// Returns false when the type has no SIMD kernel here.
bool DotTileSimd(const DotTileArgs& p) {
  switch (p.type) {
    case DType::Q8_0:
      Dispatch<Q8_0Kernel, kTileRows, kTileCols>::Run(p);
      return true;
    case DType::Q4_0:
      Dispatch<Q4_0Kernel, kTileRows, kTileCols>::Run(p);
      return true;
    case DType::F32:
      Dispatch<F32Kernel, kTileRows, kTileCols>::Run(p);
      return true;
    case DType::F16:
      Dispatch<F16Kernel, kTileRows, kTileCols>::Run(p);
      return true;
    default:
      return false;
  }
}

bool HasSimd(DType t) {
  return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::F32 || t == DType::F16;
}

}  // namespace HWY_NAMESPACE
}  // namespace muse
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace muse {

HWY_EXPORT(DotTileSimd);
HWY_EXPORT(HasSimd);

bool dot_tile_has_simd(DType t) { return HWY_DYNAMIC_DISPATCH(HasSimd)(t); }

void dot_tile_ref(const DotTileArgs& p) {
  for (int c = 0; c < p.n_cols; ++c)
    for (int r = 0; r < p.n_rows; ++r)
      p.out[c * p.out_stride + r] =
          vec_dot_ref(p.type, p.n_k, p.w + r * p.w_stride, p.a + c * p.a_stride);
}

void dot_tile(const DotTileArgs& p) {
  if (!HWY_DYNAMIC_DISPATCH(DotTileSimd)(p)) dot_tile_ref(p);
}

}  // namespace muse
#endif  // HWY_ONCE
