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
#include "hwy/cache_control.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quant_impl.h"

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
// Legacy 32-weight blocks against Q8A activations. Each format is a policy: on x86 the
// block's 32 quants q come out as raw bytes and every format's block dot is
//   d_w * d_a * sum(q * q_a) + k * s_a,   s_a = d_a * sum(q_a)
// with k = 0 (Q8_0, q signed), -8 d_w (Q4_0), -16 d_w (Q5_0), m_w (Q4_1, Q5_1). The
// portable path takes quant/'s signed levels (the reference's own unpacking) instead, so
// only the minimum term remains.

enum class Offset { kNone, kScaled, kMin };

struct Q8_0Format {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true;
  static constexpr Offset kOffset = Offset::kNone;
  static constexpr float kOffsetPerD = 0;
  static void Levels(const Block& b, int8_t* q) { std::memcpy(q, b.qs, kQK); }
};
struct Q4_0Format {
  using Block = BlockQ4_0;
  static constexpr bool kSigned = false;
  static constexpr Offset kOffset = Offset::kScaled;
  static constexpr float kOffsetPerD = -8;
  static void Levels(const Block& b, int8_t* q) { quant_internal::levels_q4_0(b, q); }
};
struct Q4_1Format {
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false;
  static constexpr Offset kOffset = Offset::kMin;
  static constexpr float kOffsetPerD = 0;
  static void Levels(const Block& b, int8_t* q) { quant_internal::levels_q4_1(b, q); }
};
struct Q5_0Format {
  using Block = BlockQ5_0;
  static constexpr bool kSigned = false;
  static constexpr Offset kOffset = Offset::kScaled;
  static constexpr float kOffsetPerD = -16;
  static void Levels(const Block& b, int8_t* q) { quant_internal::levels_q5_0(b, q); }
};
struct Q5_1Format {
  using Block = BlockQ5_1;
  static constexpr bool kSigned = false;
  static constexpr Offset kOffset = Offset::kMin;
  static constexpr float kOffsetPerD = 0;
  static void Levels(const Block& b, int8_t* q) { quant_internal::levels_q5_1(b, q); }
};

template <class F>
HWY_INLINE float BlockMin(const typename F::Block& b) {
  if constexpr (F::kOffset == Offset::kMin)
    return fp16_to_fp32(b.m);
  else
    return 0.0f;
}

#if MUSE_QDOT_X86

// Sum of 32 int8 products as 8 int32 lanes: u (unsigned bytes) times s (signed bytes).
HWY_INLINE __m256i DotU8S8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// The 32 quants of a block as bytes: signed for Q8_0, unsigned otherwise.
HWY_INLINE __m256i Nibbles(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed),
                          _mm256_set1_epi8(0x0F));
}
// 0x10 in byte j where bit j of qh is set.
HWY_INLINE __m256i FifthBits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(int(bits)), _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                                       0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}
template <class F>
HWY_INLINE __m256i Quants(const typename F::Block& b) {
  if constexpr (std::is_same_v<F, Q8_0Format>)
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  else if constexpr (std::is_same_v<F, Q4_0Format> || std::is_same_v<F, Q4_1Format>)
    return Nibbles(b.qs);
  else
    return _mm256_or_si256(Nibbles(b.qs), FifthBits(b.qh));
}

// Four weight rows at once: the four rows' int32 block sums are folded into one vector with
// two rounds of horizontal adds, [r0 r1 r2 r3 | r0 r1 r2 r3] (two halves of each row's
// sum), so each column pays one convert and one multiply-add per block instead of four.
// llvm-mca (znver3) puts this at ~30 cycles per 4x4 block tile, see docs/kernels.md.
HWY_INLINE __m256i FoldRows(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  return _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
}

// Four per-row floats as [v0 v1 v2 v3 | v0 v1 v2 v3].
HWY_INLINE __m256 RowVector(__m128 v) { return _mm256_set_m128(v, v); }
HWY_INLINE __m128 HalvesToFloats(fp16_t h0, fp16_t h1, fp16_t h2, fp16_t h3) {
  return _mm_cvtph_ps(_mm_setr_epi16(short(h0), short(h1), short(h2), short(h3), 0, 0, 0, 0));
}

// Software prefetch kPrefetchBytes ahead of each weight row, once per cache line's worth
// of blocks. Measured on the 250M llama's weights (1-35 MB matrices, four row streams per
// thread): 14.6 -> 11.6 ms per q8_0 pass and 12.5 -> 7.5 ms per q4_0 pass, the same from
// the file mapping and from an anonymous huge-page copy (`muse bench --no-mmap`); flat
// from 4 to 16 KB ahead. The address is formed in integer arithmetic since it may lie past
// the end of the weights (harmless for a prefetch).
constexpr uintptr_t kPrefetchBytes = 4096;
template <class Block>
constexpr int64_t kBlocksPerLine = 64 / sizeof(Block);
HWY_INLINE void PrefetchAhead(const void* p) {
  hwy::Prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) + kPrefetchBytes));
}

// Tile of up to 4 rows x C columns. Fewer rows repeat the last row (wasted work only on the
// last tile of a matrix whose row count is not a multiple of 4) and store only theirs.
template <class F, int C>
HWY_INLINE void LegacyTile(const DotTileArgs& p) {
  using Block = typename F::Block;
  const int64_t nb = p.n_k / kQK;
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  const Block* w[4];
  const BlockQ8A* a[C];
  for (int r = 0; r < 4; ++r)
    w[r] = reinterpret_cast<const Block*>(p.w + std::min(r, p.n_rows - 1) * p.w_stride);
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride);
  for (int64_t b = 0; b < nb; ++b) {
    if (b % kBlocksPerLine<Block> == 0) {
      for (int r = 0; r < 4; ++r) PrefetchAhead(&w[r][b]);
    }
    __m256i wq[4], wabs[4];
    for (int r = 0; r < 4; ++r) {
      wq[r] = Quants<F>(w[r][b]);
      if constexpr (F::kSigned) wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
    }
    const __m128 d4 = HalvesToFloats(w[0][b].d, w[1][b].d, w[2][b].d, w[3][b].d);
    const __m256 wd = RowVector(d4);
    // Each row's offset k is split over the two halves that the final store adds up.
    __m256 k_half = _mm256_setzero_ps();
    if constexpr (F::kOffset == Offset::kScaled) {
      k_half = RowVector(_mm_mul_ps(d4, _mm_set1_ps(0.5f * F::kOffsetPerD)));
    } else if constexpr (F::kOffset == Offset::kMin) {
      k_half = RowVector(_mm_mul_ps(HalvesToFloats(w[0][b].m, w[1][b].m, w[2][b].m, w[3][b].m),
                                    _mm_set1_ps(0.5f)));
    }
    for (int c = 0; c < C; ++c) {
      const __m256i aq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[c][b].qs));
      __m256i p4[4];
      for (int r = 0; r < 4; ++r) {
        if constexpr (F::kSigned)
          p4[r] = DotU8S8(wabs[r], _mm256_sign_epi8(aq, wq[r]));
        else
          p4[r] = DotU8S8(wq[r], aq);
      }
      const __m256i sums = FoldRows(p4[0], p4[1], p4[2], p4[3]);
      const __m256 scale = _mm256_mul_ps(wd, _mm256_broadcast_ss(&a[c][b].d));
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[c]);
      if constexpr (F::kOffset != Offset::kNone)
        acc[c] = _mm256_fmadd_ps(k_half, _mm256_broadcast_ss(&a[c][b].s), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) {
    const __m128 rows =
        _mm_add_ps(_mm256_castps256_ps128(acc[c]), _mm256_extractf128_ps(acc[c], 1));
    float* out = p.out + c * p.out_stride;
    if (p.n_rows == 4) {
      _mm_storeu_ps(out, rows);
    } else {
      HWY_ALIGN float tmp[4];
      _mm_store_ps(tmp, rows);
      for (int r = 0; r < p.n_rows; ++r) out[r] = tmp[r];
    }
  }
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

template <class F, int C>
HWY_INLINE void LegacyTile(const DotTileArgs& p) {
  using Block = typename F::Block;
  const int64_t nb = p.n_k / kQK;
  for (int r = 0; r < p.n_rows; ++r) {
    const Block* w = reinterpret_cast<const Block*>(p.w + r * p.w_stride);
    float sum[C] = {};
    for (int64_t b = 0; b < nb; ++b) {
      HWY_ALIGN int8_t q[kQK];
      F::Levels(w[b], q);  // quant/'s levels: the _0 formats' offsets are already applied
      const float d = fp16_to_fp32(w[b].d);
      const float k = BlockMin<F>(w[b]);
      for (int c = 0; c < C; ++c) {
        const BlockQ8A& a = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride)[b];
        sum[c] += d * a.d * float(DotI8(q, a.qs, kQK)) + k * a.s;
      }
    }
    for (int c = 0; c < C; ++c) p.out[c * p.out_stride + r] = sum[c];
  }
}

#endif  // MUSE_QDOT_X86

// ---------------------------------------------------------------------------------------
// Tile driver: one instantiation per column count up to kTileCols, so the inner loops have
// compile-time trip counts; the row count (1..kTileRows) is handled inside a kernel.

template <template <int> class K, int C = kTileCols>
HWY_INLINE void ByCols(const DotTileArgs& p) {
  if constexpr (C > 1) {
    if (p.n_cols < C) return ByCols<K, C - 1>(p);
  }
  K<C>::Run(p);
}

template <class F>
struct Legacy {
  template <int C>
  struct K {
    static void Run(const DotTileArgs& p) { LegacyTile<F, C>(p); }
  };
};

template <class Load>
struct Float {
  template <int C>
  struct K {
    static void Run(const DotTileArgs& p) {
      switch (p.n_rows) {
        case 1:
          return FloatTile<1, C>(p, Load());
        case 2:
          return FloatTile<2, C>(p, Load());
        case 3:
          return FloatTile<3, C>(p, Load());
        default:
          return FloatTile<4, C>(p, Load());
      }
    }
  };
};

// Returns false when the type has no SIMD kernel here.
bool DotTileSimd(const DotTileArgs& p) {
  switch (p.type) {
    case DType::Q8_0:
      ByCols<Legacy<Q8_0Format>::K>(p);
      return true;
    case DType::Q4_0:
      ByCols<Legacy<Q4_0Format>::K>(p);
      return true;
    case DType::Q4_1:
      ByCols<Legacy<Q4_1Format>::K>(p);
      return true;
    case DType::Q5_0:
      ByCols<Legacy<Q5_0Format>::K>(p);
      return true;
    case DType::Q5_1:
      ByCols<Legacy<Q5_1Format>::K>(p);
      return true;
    case DType::F32:
      ByCols<Float<LoadF32>::K>(p);
      return true;
    case DType::F16:
      ByCols<Float<LoadF16>::K>(p);
      return true;
    default:
      return false;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace muse
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace muse {

HWY_EXPORT(DotTileSimd);

void dot_tile_ref(const DotTileArgs& p) {
  for (int c = 0; c < p.n_cols; ++c)
    for (int r = 0; r < p.n_rows; ++r)
      p.out[c * p.out_stride + r] =
          vec_dot_ref(p.type, p.n_k, p.w + r * p.w_stride, p.a + c * p.a_stride);
}

void dot_tile(const DotTileArgs& p) {
  if (!HWY_DYNAMIC_DISPATCH(DotTileSimd)(p) && !dot_tile_kquant(p)) dot_tile_ref(p);
}

}  // namespace muse
#endif  // HWY_ONCE
