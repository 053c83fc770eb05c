// SIMD dot tiles for the K-quants (Q2_K..Q6_K weights, Q8_K activations), qdot.h's contract.
// Integer sums are exactly quant/dot_ref.cc's; floats differ by rounding only (docs/kernels.md).
// Highway foreach_target file: x86 intrinsics on AVX2/AVX3, portable Highway code elsewhere.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/qdot_k.cc"
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "hwy/cache_control.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/qdot.h"
#include "quant/blocks.h"

#undef MUSE_QDOTK_X86
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#define MUSE_QDOTK_X86 1
#else
#define MUSE_QDOTK_X86 0
#endif

HWY_BEFORE_NAMESPACE();
namespace muse {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
// Internal linkage for everything but the exported entry points: qdot.cc defines its own
// helpers in this same per-target namespace, and same-named inline functions with different
// bodies in two files would silently violate the ODR.
namespace {

// Calls f(std::integral_constant<int, i>) for i = 0..N-1, so that shift counts and shuffle
// indices derived from i are compile-time constants (immediate operands on x86).
template <int N, class F>
HWY_INLINE void KUnroll(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (f(std::integral_constant<int, I>{}), ...); }
  (std::make_integer_sequence<int, N>{});
}

// Software prefetch of the weights this many bytes ahead of the super-block being read.
// Rows of a chunk are contiguous, so this runs into the next rows of the same thread's chunk.
// Measured single-threaded on the development VM (64 MB Q4_K/Q6_K matvec): +20-25% over
// hardware prefetch alone, flat from 2 KB to 16 KB ahead.
constexpr size_t kPrefetchBytes = 4096;

template <class Block>
HWY_INLINE void KPrefetch(const Block& b) {
  // Integer arithmetic: the address may lie past the end of the weights, where a prefetch
  // is harmless but forming the pointer by pointer arithmetic would not be.
  const auto* p = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(&b) + kPrefetchBytes);
  for (size_t offset = 0; offset < sizeof(Block); offset += 64) hwy::Prefetch(p + offset);
}

#if MUSE_QDOTK_X86

// Every super-block of one weight row is unpacked 32 quants at a time into unsigned
// bytes and multiplied with each of the tile's activation columns by `vpmaddubsw`; the
// 16-bit pair sums are then scaled per sub-block by `vpmaddwd` against 16-bit scales, so
// the scale costs nothing beyond the pair reduction GGML needs anyway. Q3_K and Q6_K levels
// are stored with an offset (level = u - 4, u - 32 with u unsigned); the offset is folded in
// exactly through the activation's `bsums`: sum_j sc_j dot(u - o, a)_j
//   = sum_j sc_j dot(u, a)_j - o * sum_j sc_j bsums_j.
// The min terms of Q2_K/Q4_K/Q5_K use the same `bsums`, as the reference does.
// Lane partials are converted to float per super-block; with the folded offsets a lane can
// pass 2^24 for extreme inputs, so the conversion may round where the reference's does not.

// fp16 super-scales broadcast to all lanes, once per super-block row: each column then
// pays one multiply by its own activation scale, with no scalar-to-vector moves.
HWY_INLINE __m256 KHalfBroadcast(fp16_t h) {
  return _mm256_broadcastss_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(int(h))));
}
// d and dmin, adjacent in Q2_K, Q4_K and Q5_K, converted together.
HWY_INLINE void KHalfPairBroadcast(const fp16_t* d_dmin, __m256* d, __m256* dmin) {
  uint32_t bits;
  std::memcpy(&bits, d_dmin, sizeof(bits));
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(int(bits)));
  *d = _mm256_broadcastss_ps(f);
  *dmin = _mm256_broadcastss_ps(_mm_movehdup_ps(f));
}

HWY_INLINE float KHorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 12 packed scale bytes of Q3_K/Q4_K/Q5_K as 32-bit lanes 1..3 of a load that starts 4
// bytes early: every such block has at least 4 bytes before `scales` (Q3_K hmask, Q4_K and
// Q5_K d/dmin), so the load stays inside the block. Decoding stays in registers: storing
// words and reloading them as one vector would defeat store-to-load forwarding.
HWY_INLINE __m128i KLoadScaleWords(const uint8_t* scales) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales - 4));
}

// Q4_K/Q5_K: bytes [scale 0..7, min 0..7], six bits each (layout: quant/kquants.cc
// `pack_scales_k4`). With words u0, u1, u2: scales 0..3 = u0 & 63, mins 0..3 = u1 & 63,
// scales 4..7 = (u2 & 15) | top two bits of u0's bytes, mins 4..7 = (u2 >> 4) | those of u1.
HWY_INLINE __m128i KScalesMinsK4(const uint8_t* packed) {
  const __m128i v = KLoadScaleWords(packed);                        // [-, u0, u1, u2]
  const __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(3, 2, 3, 1));  // [u0, u2, u1, u2]
  const __m128i b = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 1, 1));  // [-, u0, -, u1]
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)),
                                    _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
  const __m128i high =
      _mm_and_si128(_mm_srli_epi32(b, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
  return _mm_or_si128(low, high);
}

// Q3_K: the 16 signed scales (stored six-bit value - 32) as bytes. Low nibbles of scales
// 0..7 and 8..15 share u0, u1; the top two bits of scales 4t..4t+3 are bits 2t, 2t + 1 of
// u2's bytes.
HWY_INLINE __m128i KScalesQ3(const uint8_t* packed) {
  const __m128i v = KLoadScaleWords(packed);                        // [-, u0, u1, u2]
  const __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 1));  // [u0, u1, u0, u1]
  const __m128i c = _mm_shuffle_epi32(v, _MM_SHUFFLE(3, 3, 3, 3));  // u2
  const __m128i low =
      _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 4, 4)), _mm_set1_epi8(0x0F));
  const __m128i high = _mm_slli_epi32(
      _mm_and_si128(_mm_srlv_epi32(c, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3)), 4);
  return _mm_sub_epi8(_mm_or_si128(low, high), _mm_set1_epi8(32));
}

// Shifts every 16-bit lane left by kShift (right when negative). Callers mask the result
// to bits that come from the same byte, so the 16-bit shift acts as a per-byte one.
template <int kShift>
HWY_INLINE __m256i KShift16(__m256i v) {
  if constexpr (kShift > 0) return _mm256_slli_epi16(v, kShift);
  if constexpr (kShift < 0) return _mm256_srli_epi16(v, -kShift);
  return v;
}

// `vpshufb` indices in memory (a table per instantiation), so the shuffle takes them as a
// memory operand: built with set intrinsics, GCC rematerializes them inside the loop.
struct alignas(32) KShuffleIndex {
  int8_t bytes[32];
};
constexpr KShuffleIndex KPickIndex(int lo, int hi) {
  KShuffleIndex idx{};
  for (int i = 0; i < 16; ++i) {
    idx.bytes[i] = int8_t(2 * lo + i % 2);
    idx.bytes[16 + i] = int8_t(2 * hi + i % 2);
  }
  return idx;
}
template <int kLo, int kHi>
inline constexpr KShuffleIndex kPickIndex = KPickIndex(kLo, kHi);

// `words` holds eight int16 scales in both 128-bit halves. Returns a vector whose low half
// is scale kLo broadcast and whose high half is scale kHi: what `vpmaddwd` needs to scale
// the 16 pair sums of 32 products whose two halves belong to sub-blocks kLo and kHi.
template <int kLo, int kHi>
HWY_INLINE __m256i KPickScales(__m256i words) {
  return _mm256_shuffle_epi8(
      words, _mm256_load_si256(reinterpret_cast<const __m256i*>(kPickIndex<kLo, kHi>.bytes)));
}
HWY_INLINE __m256i KBothHalves(__m128i v) { return _mm256_broadcastsi128_si256(v); }

// sum over 32 products, scaled: u unsigned quants (< 64), a signed activations; the pair
// sums stay below 2 * 63 * 128 < 2^15, so `vpmaddubsw` never saturates.
HWY_INLINE __m256i KScaledDot(__m256i u, const int8_t* a, __m256i scales) {
  const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, av), scales);
}

HWY_INLINE __m256i KLoad(const void* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Each kernel's Row<C> computes one weight row against C activation columns and writes the
// C sums. Loop order is super-block, then 32-quant group, then column, so each unpacked
// group is reused from registers for every column.

// Q4_K and Q5_K: eight sub-blocks of 32, six-bit scales and mins. Q5_K's fifth bit of
// element 64 i + 32 h + l is bit 2 i + h of qh[l].
template <class B>
struct KernelK4 {
  using Block = B;
  static constexpr bool kFifthBit = std::is_same_v<B, BlockQ5_K>;

  template <int C>
  static void Row(const Block* w, const BlockQ8_K* const* a, int64_t nb, float* sums) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    __m256 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const Block& wb = w[b];
      KPrefetch(wb);
      const __m128i sm8 = KScalesMinsK4(wb.scales);
      const __m256i scales = KBothHalves(_mm_cvtepu8_epi16(sm8));
      // Min j covers bsums 2j and 2j + 1: repeat each min twice to pair with all 16.
      const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm8, sm8));
      __m256i qh = _mm256_setzero_si256();
      if constexpr (kFifthBit) qh = KLoad(wb.qh);
      __m256i isum[C];
      for (int c = 0; c < C; ++c) isum[c] = _mm256_setzero_si256();
      KUnroll<4>([&](auto i) {
        constexpr int kI = decltype(i)::value;
        const __m256i q = KLoad(wb.qs + 32 * kI);
        __m256i lo = _mm256_and_si256(q, low4);                        // sub-block 2i
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);  // sub-block 2i + 1
        if constexpr (kFifthBit) {  // bit 2i (2i + 1) of each qh byte to bit 4
          lo = _mm256_or_si256(lo, _mm256_and_si256(KShift16<4 - 2 * kI>(qh), bit4));
          hi = _mm256_or_si256(hi, _mm256_and_si256(KShift16<3 - 2 * kI>(qh), bit4));
        }
        const __m256i s_lo = KPickScales<2 * kI, 2 * kI>(scales);
        const __m256i s_hi = KPickScales<2 * kI + 1, 2 * kI + 1>(scales);
        for (int c = 0; c < C; ++c) {
          const int8_t* aq = a[c][b].qs + 64 * kI;
          isum[c] = _mm256_add_epi32(
              isum[c], _mm256_add_epi32(KScaledDot(lo, aq, s_lo), KScaledDot(hi, aq + 32, s_hi)));
        }
      });
      static_assert(offsetof(Block, dmin) == offsetof(Block, d) + sizeof(fp16_t));
      __m256 wd, wdmin;
      KHalfPairBroadcast(&wb.d, &wd, &wdmin);
      for (int c = 0; c < C; ++c) {
        const BlockQ8_K& ab = a[c][b];
        const __m256i msum = _mm256_madd_epi16(mins, KLoad(ab.bsums));
        const __m256 block = _mm256_fnmadd_ps(wdmin, _mm256_cvtepi32_ps(msum),
                                              _mm256_mul_ps(wd, _mm256_cvtepi32_ps(isum[c])));
        acc[c] = _mm256_fmadd_ps(block, _mm256_broadcast_ss(&ab.d), acc[c]);
      }
    }
    for (int c = 0; c < C; ++c) sums[c] = KHorizontalSum(acc[c]);
  }
};

// Q2_K, Q3_K and Q6_K: sixteen sub-blocks of 16 with one scale each. Their quants share a
// layout: element e = 128 h + 32 k + l has its low bits in byte l of a 32-byte run for
// half h, at bit position 2 k (Q2_K, Q3_K) or in nibble/bit-pair k (Q6_K). A format policy
// loads a half's bytes (`LoadHalf<h>`) and extracts group k as unsigned bytes (`Group<k>`);
// group 4 h + k then spans sub-blocks 8 h + 2 k and 8 h + 2 k + 1.
struct FormatQ6K {
  using Block = BlockQ6_K;
  static constexpr int kOffsetShift = 5;  // level = u - 32
  static constexpr bool kMins = false;
  struct Half {
    __m256i ql0, ql1, qh;
  };
  static __m128i Scales(const Block& b) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
  }
  template <int H>
  static Half LoadHalf(const Block& b) {
    return {KLoad(b.ql + 64 * H), KLoad(b.ql + 64 * H + 32), KLoad(b.qh + 32 * H)};
  }
  // Low nibble of ql0 / ql1 for k = 0 / 1, high nibble for k = 2 / 3; bits 2k, 2k + 1 of
  // qh become bits 4 and 5.
  template <int K>
  static __m256i Group(const Half& h) {
    const __m256i ql = K % 2 == 0 ? h.ql0 : h.ql1;
    const __m256i low =
        _mm256_and_si256(K < 2 ? ql : _mm256_srli_epi16(ql, 4), _mm256_set1_epi8(0x0F));
    const __m256i high = _mm256_and_si256(KShift16<4 - 2 * K>(h.qh), _mm256_set1_epi8(0x30));
    return _mm256_or_si256(low, high);
  }
};

struct FormatQ3K {
  using Block = BlockQ3_K;
  static constexpr int kOffsetShift = 2;  // level = u - 4 with u = q2 + 4 * high bit
  static constexpr bool kMins = false;
  struct Half {
    __m256i qs, hmask;
  };
  static __m128i Scales(const Block& b) { return KScalesQ3(b.scales); }
  template <int H>
  static Half LoadHalf(const Block& b) {
    return {KLoad(b.qs + 32 * H), KLoad(b.hmask)};
  }
  // The high bit of element e is bit e / 32 = 4 h + k of hmask[l]; it becomes bit 2.
  template <int H, int K>
  static __m256i Group(const Half& h) {
    const __m256i q2 = _mm256_and_si256(KShift16<-2 * K>(h.qs), _mm256_set1_epi8(3));
    const __m256i hb = _mm256_and_si256(KShift16<2 - (4 * H + K)>(h.hmask), _mm256_set1_epi8(4));
    return _mm256_or_si256(q2, hb);
  }
};

struct FormatQ2K {
  using Block = BlockQ2_K;
  static constexpr int kOffsetShift = 0;
  static constexpr bool kMins = true;
  struct Half {
    __m256i qs;
  };
  static __m128i Raw(const Block& b) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
  }
  static __m128i Scales(const Block& b) { return _mm_and_si128(Raw(b), _mm_set1_epi8(0x0F)); }
  static __m256i Mins(const Block& b) {  // as int16, one per bsum
    return _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(Raw(b), 4), _mm_set1_epi8(0x0F)));
  }
  template <int H>
  static Half LoadHalf(const Block& b) {
    return {KLoad(b.qs + 32 * H)};
  }
  template <int H, int K>
  static __m256i Group(const Half& h) {
    return _mm256_and_si256(KShift16<-2 * K>(h.qs), _mm256_set1_epi8(3));
  }
};

// Q6_K's Group does not depend on the half; give every policy the same (H, K) signature.
template <class F, int H, int K>
HWY_INLINE __m256i KGroup(const typename F::Half& h) {
  if constexpr (std::is_same_v<F, FormatQ6K>)
    return F::template Group<K>(h);
  else
    return F::template Group<H, K>(h);
}

template <class F>
struct Kernel16 {
  using Block = typename F::Block;

  template <int C>
  static void Row(const Block* w, const BlockQ8_K* const* a, int64_t nb, float* sums) {
    __m256 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const Block& wb = w[b];
      KPrefetch(wb);
      const __m256i sc16 = _mm256_cvtepi8_epi16(F::Scales(wb));  // scales 0..15 as int16
      const __m256i scales[2] = {KBothHalves(_mm256_castsi256_si128(sc16)),
                                 KBothHalves(_mm256_extracti128_si256(sc16, 1))};
      __m256i isum[C];
      for (int c = 0; c < C; ++c) {
        // The offset term -o * sum_j sc_j bsums_j starts the sum (o = 2^kOffsetShift).
        isum[c] = _mm256_setzero_si256();
        if constexpr (F::kOffsetShift > 0) {
          const __m256i sb = _mm256_madd_epi16(sc16, KLoad(a[c][b].bsums));
          isum[c] = _mm256_sub_epi32(isum[c], _mm256_slli_epi32(sb, F::kOffsetShift));
        }
      }
      KUnroll<2>([&](auto h) {
        constexpr int kH = decltype(h)::value;
        const typename F::Half half = F::template LoadHalf<kH>(wb);
        KUnroll<4>([&](auto k) {
          constexpr int kK = decltype(k)::value;
          const __m256i u = KGroup<F, kH, kK>(half);
          const __m256i s = KPickScales<2 * kK, 2 * kK + 1>(scales[kH]);
          for (int c = 0; c < C; ++c)
            isum[c] = _mm256_add_epi32(isum[c], KScaledDot(u, a[c][b].qs + 128 * kH + 32 * kK, s));
        });
      });
      __m256 wd, wdmin;
      __m256i mins;
      if constexpr (F::kMins) {
        static_assert(offsetof(Block, dmin) == offsetof(Block, d) + sizeof(fp16_t));
        KHalfPairBroadcast(&wb.d, &wd, &wdmin);
        mins = F::Mins(wb);
      } else {
        wd = KHalfBroadcast(wb.d);
      }
      for (int c = 0; c < C; ++c) {
        const BlockQ8_K& ab = a[c][b];
        __m256 block = _mm256_mul_ps(wd, _mm256_cvtepi32_ps(isum[c]));
        if constexpr (F::kMins) {
          const __m256i msum = _mm256_madd_epi16(mins, KLoad(ab.bsums));
          block = _mm256_fnmadd_ps(wdmin, _mm256_cvtepi32_ps(msum), block);
        }
        acc[c] = _mm256_fmadd_ps(block, _mm256_broadcast_ss(&ab.d), acc[c]);
      }
    }
    for (int c = 0; c < C; ++c) sums[c] = KHorizontalSum(acc[c]);
  }
};

using KernelQ2K = Kernel16<FormatQ2K>;
using KernelQ3K = Kernel16<FormatQ3K>;
using KernelQ4K = KernelK4<BlockQ4_K>;
using KernelQ5K = KernelK4<BlockQ5_K>;
using KernelQ6K = Kernel16<FormatQ6K>;

#else  // portable Highway path

// Q4_K/Q5_K: the 12 packed bytes as [scale 0..7, min 0..7], six bits each (layout in
// quant/kquants.cc `pack_scales_k4`), decoded four at a time in 32-bit words.
HWY_INLINE void KScalesMinsK4(const uint8_t* packed, uint8_t out[16]) {
  uint32_t u[3];
  std::memcpy(u, packed, sizeof(u));
  const uint32_t sc_lo = u[0] & 0x3f3f3f3fu;
  const uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
  const uint32_t mn_lo = u[1] & 0x3f3f3f3fu;
  const uint32_t mn_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
  const uint32_t words[4] = {sc_lo, sc_hi, mn_lo, mn_hi};
  std::memcpy(out, words, sizeof(words));
}

// Q3_K: the 16 six-bit scales as stored, in [0, 63] (the scale is the value - 32). Low
// nibbles of scales 0..7 and 8..15 share bytes 0..7; the top two bits of scale j are in
// byte 8 + j % 4 at bit 2 (j / 4).
HWY_INLINE void KScalesQ3(const uint8_t* packed, uint8_t out[16]) {
  uint32_t u[3];
  std::memcpy(u, packed, sizeof(u));
  const uint32_t low[4] = {u[0] & 0x0f0f0f0fu, u[1] & 0x0f0f0f0fu, (u[0] >> 4) & 0x0f0f0f0fu,
                           (u[1] >> 4) & 0x0f0f0f0fu};
  uint32_t words[4];
  for (int t = 0; t < 4; ++t) words[t] = low[t] | ((u[2] >> (2 * t)) & 0x03030303u) << 4;
  std::memcpy(out, words, sizeof(words));
}

// Per super-block, each weight row is unpacked once into 16-bit products level * scale
// (exact: |level * scale| <= 32 * 128) and, for formats with mins, one min per bsum entry.
// A column then costs one int16 x int8 widening dot over 256 elements plus 16 min terms.
struct Unpacked {
  HWY_ALIGN int16_t ws[kQK_K];
  int16_t mins[16];
  float d, dmin;
};

HWY_INLINE int32_t KDotI16I8(const int16_t* w, const int8_t* a) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const int n = int(hn::Lanes(d16));  // a power of two <= 256 on every target
  auto sum0 = hn::Zero(d32), sum1 = hn::Zero(d32);
  for (int i = 0; i < kQK_K; i += n) {
    const auto av = hn::PromoteTo(d16, hn::LoadU(d8, a + i));
    sum0 = hn::ReorderWidenMulAccumulate(d32, hn::LoadU(d16, w + i), av, sum0, sum1);
  }
  return hn::GetLane(hn::SumOfLanes(d32, hn::Add(sum0, sum1)));
}

// Bit layouts as in quant/kquants.cc: element e = 128 h + 32 k + l (Q2_K, Q3_K, Q6_K) or
// e = 64 i + 32 h + l (Q4_K, Q5_K).
struct KernelQ2K {
  using Block = BlockQ2_K;
  static constexpr bool kMins = true;
  static void Unpack(const Block& b, Unpacked& u) {
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 32; ++l) {
          const int e = 128 * h + 32 * k + l;
          u.ws[e] = int16_t(((b.qs[32 * h + l] >> (2 * k)) & 3) * (b.scales[e / 16] & 0xF));
        }
    for (int j = 0; j < 16; ++j) u.mins[j] = int16_t(b.scales[j] >> 4);
    u.d = fp16_to_fp32(b.d);
    u.dmin = fp16_to_fp32(b.dmin);
  }
};

struct KernelQ3K {
  using Block = BlockQ3_K;
  static constexpr bool kMins = false;
  static void Unpack(const Block& b, Unpacked& u) {
    uint8_t sc[16];
    KScalesQ3(b.scales, sc);
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 32; ++l) {
          const int e = 128 * h + 32 * k + l;
          const int high = (b.hmask[l] >> (4 * h + k)) & 1;
          const int level = ((b.qs[32 * h + l] >> (2 * k)) & 3) - (high ? 0 : 4);
          u.ws[e] = int16_t(level * (int(sc[e / 16]) - 32));
        }
    u.d = fp16_to_fp32(b.d);
    u.dmin = 0.0f;
  }
};

template <class B>
struct KernelK4 {
  using Block = B;
  static constexpr bool kMins = true;
  static void Unpack(const Block& b, Unpacked& u) {
    uint8_t sm[16];
    KScalesMinsK4(b.scales, sm);
    for (int i = 0; i < 4; ++i)
      for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
          int level = (b.qs[32 * i + l] >> (4 * h)) & 0xF;
          if constexpr (std::is_same_v<B, BlockQ5_K>) level |= ((b.qh[l] >> (2 * i + h)) & 1) << 4;
          u.ws[64 * i + 32 * h + l] = int16_t(level * sm[2 * i + h]);
        }
    for (int j = 0; j < 16; ++j) u.mins[j] = int16_t(sm[8 + j / 2]);
    u.d = fp16_to_fp32(b.d);
    u.dmin = fp16_to_fp32(b.dmin);
  }
};
using KernelQ4K = KernelK4<BlockQ4_K>;
using KernelQ5K = KernelK4<BlockQ5_K>;

struct KernelQ6K {
  using Block = BlockQ6_K;
  static constexpr bool kMins = false;
  static void Unpack(const Block& b, Unpacked& u) {
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 32; ++l) {
          const int e = 128 * h + 32 * k + l;
          const int low = (b.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
          const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
          u.ws[e] = int16_t(((low | high << 4) - 32) * b.scales[e / 16]);
        }
    u.d = fp16_to_fp32(b.d);
    u.dmin = 0.0f;
  }
};

#endif  // MUSE_QDOTK_X86

// ---------------------------------------------------------------------------------------
// Tile driver: the tile's rows one after another, each against all C columns.

template <class K, int C>
HWY_INLINE void KRowSums(const typename K::Block* w, const BlockQ8_K* const* a, int64_t nb,
                         float* sums) {
#if MUSE_QDOTK_X86
  K::template Row<C>(w, a, nb, sums);
#else
  Unpacked u;
  for (int c = 0; c < C; ++c) sums[c] = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    KPrefetch(w[b]);
    K::Unpack(w[b], u);
    for (int c = 0; c < C; ++c) {
      const BlockQ8_K& ab = a[c][b];
      float block = ab.d * u.d * float(KDotI16I8(u.ws, ab.qs));
      if constexpr (K::kMins) {
        int32_t msum = 0;
        for (int j = 0; j < 16; ++j) msum += int32_t(u.mins[j]) * int32_t(ab.bsums[j]);
        block -= ab.d * u.dmin * float(msum);
      }
      sums[c] += block;
    }
  }
#endif
}

template <class K, int C>
HWY_INLINE void KTile(const DotTileArgs& p) {
  using Block = typename K::Block;
  const int64_t nb = p.n_k / kQK_K;
  const BlockQ8_K* a[C];
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8_K*>(p.a + c * p.a_stride);
  for (int r = 0; r < p.n_rows; ++r) {
    float sums[C];
    KRowSums<K, C>(reinterpret_cast<const Block*>(p.w + r * p.w_stride), a, nb, sums);
    for (int c = 0; c < C; ++c) p.out[c * p.out_stride + r] = sums[c];
  }
}

// One instantiation per column count, so the column loops have compile-time trip counts.
template <class K>
HWY_INLINE void KByCols(const DotTileArgs& p) {
  switch (p.n_cols) {
    case 1:
      return KTile<K, 1>(p);
    case 2:
      return KTile<K, 2>(p);
    case 3:
      return KTile<K, 3>(p);
    default:
      return KTile<K, 4>(p);
  }
}

}  // namespace

bool DotTileKQuant(const DotTileArgs& p) {
  switch (p.type) {
    case DType::Q2_K:
      KByCols<KernelQ2K>(p);
      return true;
    case DType::Q3_K:
      KByCols<KernelQ3K>(p);
      return true;
    case DType::Q4_K:
      KByCols<KernelQ4K>(p);
      return true;
    case DType::Q5_K:
      KByCols<KernelQ5K>(p);
      return true;
    case DType::Q6_K:
      KByCols<KernelQ6K>(p);
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

HWY_EXPORT(DotTileKQuant);

bool dot_tile_kquant(const DotTileArgs& p) { return HWY_DYNAMIC_DISPATCH(DotTileKQuant)(p); }

}  // namespace muse
#endif  // HWY_ONCE
