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
#include "kernels/tiled.h"
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
  static constexpr DType kType = DType::Q8_0;
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true;
  static constexpr Offset kOffset = Offset::kNone;
  static constexpr float kOffsetPerD = 0;
  static void Levels(const Block& b, int8_t* q) { std::memcpy(q, b.qs, kQK); }
};
struct Q4_0Format {
  static constexpr DType kType = DType::Q4_0;
  using Block = BlockQ4_0;
  static constexpr bool kSigned = false;
  static constexpr Offset kOffset = Offset::kScaled;
  static constexpr float kOffsetPerD = -8;
  static void Levels(const Block& b, int8_t* q) { quant_internal::levels_q4_0(b, q); }
};
struct Q4_1Format {
  static constexpr DType kType = DType::Q4_1;
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false;
  static constexpr Offset kOffset = Offset::kMin;
  static constexpr float kOffsetPerD = 0;
  static void Levels(const Block& b, int8_t* q) { quant_internal::levels_q4_1(b, q); }
};
struct Q5_0Format {
  static constexpr DType kType = DType::Q5_0;
  using Block = BlockQ5_0;
  static constexpr bool kSigned = false;
  static constexpr Offset kOffset = Offset::kScaled;
  static constexpr float kOffsetPerD = -16;
  static void Levels(const Block& b, int8_t* q) { quant_internal::levels_q5_0(b, q); }
};
struct Q5_1Format {
  static constexpr DType kType = DType::Q5_1;
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

// x86 layout. A block tile is interleaved once per block so that one 256-bit register
// holds 8 consecutive quants of each of the 4 rows: x[k] = [r0 | r1 | r2 | r3], 8 bytes each,
// weights 8k..8k+7. Against a column, x[k] is multiplied by that column's 8 activation bytes
// 8k..8k+7 broadcast to all four 64-bit slots (a load, no shuffle), and the 4 products of a
// block add up with plain vpaddd into int32 lanes [r0 r0 r1 r1 | r2 r2 r3 r3]: each row's
// block sum as two halves (weights 8k..8k+3 and 8k+4..8k+7 over k), no horizontal add. Each
// column then pays one convert and one multiply-add per block against the row scales
// [d0 d0 d1 d1 | d2 d2 d3 d3] * d_a, and the lane pairs are added once, after the last block.
// The interleave (8 shuffles) is paid once per block for all C columns; the fold it
// replaces (3 vphaddd per column; a vphaddd ymm issues once per 2 cycles on Zen 3, measured
// with 8 independent ones in a loop under `perf stat -e cycles:u`) was paid per column.
// Broadcasting loads (vpbroadcastq / vbroadcastss ymm from memory) take no vector pipe on
// Zen 3 (same loop: 8 vpshufd + 8 broadcasts run in the time of 8 vpshufd + 8 plain loads),
// although llvm-mca's znver3 model puts them on pipes 1/2.
// Measured (perf stat -e cycles:u, one thread, dot_tile on L1/L2-resident 4 x 4096 Q8_0
// weights, min of 5 runs, noisy shared VM): 4x4 tile 45.5 -> 42.5 cycles per block tile,
// 1 column 16.4 -> 18.2 (the interleave is not amortized there, but it stays below the
// ~23 cycles in which one core's share of the read bandwidth, ~14.5 GB/s, brings the 136
// bytes of a block tile, so matvec remains memory-bound);
// Q4_0 4x4 ~51 -> ~39. Per tile the FP pipes get 88 uops instead of 107
// (fpu_pipe_assignment.total0..3), but pipe 0 still gets 31 and the loop also stalls on the
// FP register file (de_dis_dispatch_token_stalls1.fp_reg_file_rsrc_stall, 8 cycles per tile).
// Bit-exactness across tile shapes: a (row, column) result is a function of that row's and
// that column's blocks alone (integer sums are exact; the float ops on its two lanes are
// the same sequence for every C and n_rows), so batch-N equals batch-1 bit for bit;
// tests/kernels/qdot_tile_test.cc checks it.

// 16-bit halves h0..h3 in the low 64 bits, gathered in general-purpose registers (integer
// ALU ops, which leave the vector pipes to the dot products).
HWY_INLINE __m128i Halves4(fp16_t h0, fp16_t h1, fp16_t h2, fp16_t h3) {
  const uint64_t v = uint64_t(h0) | uint64_t(h1) << 16 | uint64_t(h2) << 32 | uint64_t(h3) << 48;
  return _mm_cvtsi64_si128(int64_t(v));
}
// [v0 v0 v1 v1 | v2 v2 v3 v3] from four halves (each row's value on both of its lanes).
HWY_INLINE __m256 PairLanes(__m128i h4) { return _mm256_cvtph_ps(_mm_unpacklo_epi16(h4, h4)); }
// [v0 0 v1 0 | v2 0 v3 0]: a per-row term added once per row (on its first lane).
HWY_INLINE __m256 FirstLanes(__m128i h4) {
  return _mm256_cvtph_ps(_mm_unpacklo_epi16(h4, _mm_setzero_si128()));
}

// Interleaves 32 bytes of each of 4 rows (q[r] = 4 x 8-byte chunks c0..c3) into
// x[k] = [q0.ck q1.ck | q2.ck q3.ck].
HWY_INLINE void Transpose4x64(__m256i q0, __m256i q1, __m256i q2, __m256i q3, __m256i x[4]) {
  const __m256i lo01 = _mm256_unpacklo_epi64(q0, q1), hi01 = _mm256_unpackhi_epi64(q0, q1);
  const __m256i lo23 = _mm256_unpacklo_epi64(q2, q3), hi23 = _mm256_unpackhi_epi64(q2, q3);
  x[0] = _mm256_permute2x128_si256(lo01, lo23, 0x20);
  x[1] = _mm256_permute2x128_si256(hi01, hi23, 0x20);
  x[2] = _mm256_permute2x128_si256(lo01, lo23, 0x31);
  x[3] = _mm256_permute2x128_si256(hi01, hi23, 0x31);
}

// Nibble formats: weight j is the low nibble of byte j (j < 16) or the high nibble of byte
// j - 16. The packed bytes interleave with half the shuffles of the unpacked ones: with
// p0 = [r0 bytes 0-7 | r1 bytes 0-7 || r2 .. | r3 ..] and p1 the same for bytes 8-15,
// x[0] = p0 & 15, x[1] = p1 & 15, x[2] = p0 >> 4, x[3] = p1 >> 4.
template <class Block>
HWY_INLINE void InterleaveNibbles(const Block* const w[4], int64_t b, __m256i x[4]) {
  const auto load2 = [&](int r_lo, int r_hi) {
    return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(w[r_hi][b].qs),
                               reinterpret_cast<const __m128i*>(w[r_lo][b].qs));
  };
  const __m256i a02 = load2(0, 2), a13 = load2(1, 3);
  const __m256i p0 = _mm256_unpacklo_epi64(a02, a13), p1 = _mm256_unpackhi_epi64(a02, a13);
  const __m256i m = _mm256_set1_epi8(0x0F);
  x[0] = _mm256_and_si256(p0, m);
  x[1] = _mm256_and_si256(p1, m);
  x[2] = _mm256_and_si256(_mm256_srli_epi16(p0, 4), m);
  x[3] = _mm256_and_si256(_mm256_srli_epi16(p1, 4), m);
}

// Q5 fifth bits (bit j of a row's qh belongs to weight j) ORed into the interleaved nibbles
// as 0x10: byte k of row r's qh is spread over slot r of x[k], one bit per byte.
template <class Block>
HWY_INLINE void AddFifthBits(const Block* const w[4], int64_t b, __m256i x[4]) {
  uint32_t h[4];
  for (int r = 0; r < 4; ++r) std::memcpy(&h[r], w[r][b].qh, sizeof(uint32_t));
  const __m128i h4 = _mm_setr_epi32(int(h[0]), int(h[1]), int(h[2]), int(h[3]));
  const __m256i hh = _mm256_set_m128i(h4, h4);
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
  const __m256i five = _mm256_set1_epi8(0x10);
  for (int k = 0; k < 4; ++k) {
    // Slot r takes byte k of row r's qh: byte 4r + k of h4 (rows 2, 3 sit in the high
    // 128-bit lane, where h4 is repeated, at the same in-lane offsets 8 + k, 12 + k).
    const int64_t lo = 0x0101010101010101LL * k, hi = 0x0101010101010101LL * (4 + k);
    const __m256i idx =
        _mm256_setr_epi64x(lo, hi, lo + 0x0808080808080808LL, hi + 0x0808080808080808LL);
    const __m256i spread = _mm256_shuffle_epi8(hh, idx);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    x[k] = _mm256_or_si256(x[k], _mm256_and_si256(set, five));
  }
}

template <class F>
HWY_INLINE void Interleave(const typename F::Block* const w[4], int64_t b, __m256i x[4]) {
  if constexpr (std::is_same_v<F, Q8_0Format>) {
    const auto load = [&](int r) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][b].qs));
    };
    Transpose4x64(load(0), load(1), load(2), load(3), x);
  } else {
    InterleaveNibbles(w, b, x);
    if constexpr (std::is_same_v<F, Q5_0Format> || std::is_same_v<F, Q5_1Format>)
      AddFifthBits(w, b, x);
  }
}

// 8 activation bytes broadcast to all four 64-bit slots.
HWY_INLINE __m256i Broadcast8(const int8_t* p) {
  int64_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi64x(v);
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

// One block of a 4-row tile, prepared once for every column it meets: the interleaved
// quants x (and |x| for the signed format), the row scales on their lane pairs, and the
// per-row offset term on each row's first lane.
struct BlockRows {
  __m256i x[4], xabs[4];
  __m256 wd, k_row;
};

// Row scales on their lane pairs and the per-row offset term; d_h holds the four rows'
// fp16 scales in its low 64 bits.
template <class F>
HWY_INLINE void PrepareScales(__m128i d_h, BlockRows& t) {
  t.wd = PairLanes(d_h);
  // Each row's offset k (times the column's s_a) goes on the row's first lane only.
  t.k_row = _mm256_setzero_ps();
  if constexpr (F::kOffset == Offset::kScaled)
    t.k_row = _mm256_mul_ps(FirstLanes(d_h), _mm256_set1_ps(F::kOffsetPerD));
}

template <class F>
HWY_INLINE void PrepareBlock(const typename F::Block* const w[4], int64_t b, BlockRows& t) {
  if (b % kBlocksPerLine<typename F::Block> == 0) {
    for (int r = 0; r < 4; ++r) PrefetchAhead(&w[r][b]);
  }
  Interleave<F>(w, b, t.x);
  if constexpr (F::kSigned) {
    for (int k = 0; k < 4; ++k) t.xabs[k] = _mm256_sign_epi8(t.x[k], t.x[k]);
  }
  PrepareScales<F>(Halves4(w[0][b].d, w[1][b].d, w[2][b].d, w[3][b].d), t);
  if constexpr (F::kOffset == Offset::kMin)
    t.k_row = FirstLanes(Halves4(w[0][b].m, w[1][b].m, w[2][b].m, w[3][b].m));
}

// The same from the tiled layout (kernels/tiled.h), where the block arrives interleaved:
// plain loads replace the shuffles and the scale gather. Only Q8_0 and Q4_0 are tiled.
// Every cache line of the tile block kPrefetchBytes ahead of `blk` (a tile block of 4 blocks
// need not start on a line).
template <class Block>
HWY_INLINE void PrefetchTileBlock(const uint8_t* blk) {
  constexpr size_t kBytes = 4 * sizeof(Block);
  for (size_t off = 0; off < kBytes; off += 64) PrefetchAhead(blk + off);
  PrefetchAhead(blk + kBytes - 1);
}

template <class F>
HWY_INLINE void PrepareTiledBlock(const uint8_t* blk, BlockRows& t) {
  PrefetchTileBlock<typename F::Block>(blk);
  const uint8_t* q = blk + 4 * sizeof(fp16_t);
  const auto load = [&](size_t off) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + off));
  };
  if constexpr (std::is_same_v<F, Q8_0Format>) {
    for (int k = 0; k < 4; ++k) {
      t.x[k] = load(32 * k);
      t.xabs[k] = _mm256_sign_epi8(t.x[k], t.x[k]);
    }
  } else {
    static_assert(std::is_same_v<F, Q4_0Format>, "only Q8_0 and Q4_0 are tiled");
    const __m256i p0 = load(0), p1 = load(32), m = _mm256_set1_epi8(0x0F);
    t.x[0] = _mm256_and_si256(p0, m);
    t.x[1] = _mm256_and_si256(p1, m);
    t.x[2] = _mm256_and_si256(_mm256_srli_epi16(p0, 4), m);
    t.x[3] = _mm256_and_si256(_mm256_srli_epi16(p1, 4), m);
  }
  PrepareScales<F>(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk)), t);
}

// Block b of the tile's rows, from either layout.
template <class F, bool kTiled>
HWY_INLINE void PrepareAny(const DotTileArgs& p, const typename F::Block* const w[4], int64_t b,
                           BlockRows& t) {
  if constexpr (kTiled)
    PrepareTiledBlock<F>(p.w + size_t(b) * 4 * sizeof(typename F::Block), t);
  else
    PrepareBlock<F>(w, b, t);
}

// acc + this block's products of the 4 rows with one activation block, on lanes
// [r0 r0 r1 r1 | r2 r2 r3 r3]. Tiles and panels both go through here, so a (row, column)
// result is the same sequence of float operations whichever kernel computes it.
template <class F>
HWY_INLINE __m256 AccumulateBlock(const BlockRows& t, const BlockQ8A& a, __m256 acc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i sums;
  if constexpr (F::kSigned) {
    // Q8_0: |w| * sign(a, w); each int16 pair can reach 2 * 128 * 127, so pairs are
    // widened to int32 (vpmaddwd) before the chunks are added.
    __m256i s[4];
    for (int k = 0; k < 4; ++k) {
      const __m256i sa = _mm256_sign_epi8(Broadcast8(a.qs + 8 * k), t.x[k]);
      s[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(t.xabs[k], sa), ones);
    }
    sums = _mm256_add_epi32(_mm256_add_epi32(s[0], s[1]), _mm256_add_epi32(s[2], s[3]));
  } else {
    // Unsigned quants q <= 31: the four chunks' int16 pair sums add up to at most
    // 4 * 2 * 31 * 128 < 2^15, so they are added as int16 and widened once.
    __m256i s[4];
    for (int k = 0; k < 4; ++k) s[k] = _mm256_maddubs_epi16(t.x[k], Broadcast8(a.qs + 8 * k));
    sums = _mm256_madd_epi16(
        _mm256_add_epi16(_mm256_add_epi16(s[0], s[1]), _mm256_add_epi16(s[2], s[3])), ones);
  }
  const __m256 scale = _mm256_mul_ps(t.wd, _mm256_broadcast_ss(&a.d));
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc);
  if constexpr (F::kOffset != Offset::kNone)
    acc = _mm256_fmadd_ps(t.k_row, _mm256_broadcast_ss(&a.s), acc);
  return acc;
}

// [r0 r0 r1 r1 | r2 r2 r3 r3] -> out[0..n_rows): each row's two lanes added.
HWY_INLINE void StoreRows(__m256 acc, int n_rows, float* out) {
  const __m128 rows = _mm_hadd_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  if (n_rows == 4) {
    _mm_storeu_ps(out, rows);
  } else {
    HWY_ALIGN float tmp[4];
    _mm_store_ps(tmp, rows);
    for (int r = 0; r < n_rows; ++r) out[r] = tmp[r];
  }
}

template <class Block>
HWY_INLINE void TileRows(const DotTileArgs& p, const Block* w[4]) {
  for (int r = 0; r < 4; ++r)
    w[r] = reinterpret_cast<const Block*>(p.w + std::min(r, p.n_rows - 1) * p.w_stride);
}

// Tile of up to 4 rows x C columns, accumulators in registers. Fewer rows repeat the last
// row (wasted work only on the last tile of a matrix whose row count is not a multiple of
// 4) and store only theirs.
template <class F, int C, bool kTiled>
HWY_INLINE void LegacyTile(const DotTileArgs& p) {
  using Block = typename F::Block;
  const int64_t nb = p.n_k / kQK;
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  const Block* w[4];
  TileRows(p, w);
  const BlockQ8A* a[C];
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8A*>(p.a + c * p.a_stride);
  for (int64_t b = 0; b < nb; ++b) {
    BlockRows t;
    PrepareAny<F, kTiled>(p, w, b, t);
    for (int c = 0; c < C; ++c) acc[c] = AccumulateBlock<F>(t, a[c][b], acc[c]);
  }
  for (int c = 0; c < C; ++c) StoreRows(acc[c], p.n_rows, p.out + c * p.out_stride);
}

// Panel of up to 4 rows x kPanelCols columns: each block of the 4 rows is prepared once for
// all the columns (a 4-column tile prepares it once per 4), and the weights are read as one
// pass, with the accumulators in L1 instead of registers. The 16-column matmul of a batched
// decode step ran ~15 % faster per MAC this way in a single-thread microbenchmark on Zen 3.
template <class F, bool kTiled>
HWY_INLINE void LegacyPanel(const DotTileArgs& p) {
  using Block = typename F::Block;
  const int64_t nb = p.n_k / kQK;
  const int n = p.n_cols;
  HWY_ALIGN __m256 acc[kPanelCols];
  for (int c = 0; c < n; ++c) acc[c] = _mm256_setzero_ps();
  const Block* w[4];
  TileRows(p, w);
  for (int64_t b = 0; b < nb; ++b) {
    BlockRows t;
    PrepareAny<F, kTiled>(p, w, b, t);
    const uint8_t* a = p.a + b * sizeof(BlockQ8A);
    for (int c = 0; c < n; ++c, a += p.a_stride)
      acc[c] = AccumulateBlock<F>(t, *reinterpret_cast<const BlockQ8A*>(a), acc[c]);
  }
  for (int c = 0; c < n; ++c) StoreRows(acc[c], p.n_rows, p.out + c * p.out_stride);
}

// sign(a, w[k]) with w[k] as vpsignb's memory operand. Written with intrinsics, GCC merges
// this load with the one |w| is computed from and keeps w in a register, which pushes |w|
// out to the stack; a base register plus a constant offset also keeps it from spending a
// register per address. The "m" operand tells GCC which memory the instruction reads.
template <int k>
HWY_INLINE __m256i SignByMemory(__m256i a, const __m256i* w) {
  __m256i r;
  asm("vpsignb %c[off](%[w]), %[a], %[r]"
      : [r] "=x"(r)
      : [a] "x"(a), [w] "r"(w), [off] "i"(32 * k), "m"(*(const __m256i(*)[4])w));
  return r;
}

// Chunk k of one activation block against both tiles of a pair: sums[t] += the int32 pair
// sums of |w| * sign(a, w) (k == 0 starts them).
template <int k>
HWY_INLINE void PairChunk(const BlockQ8A& ab, const __m256i* const q[2],
                          const __m256i (&xabs)[2][4], __m256i (&sums)[2]) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i av = Broadcast8(ab.qs + 8 * k);
  for (int t = 0; t < 2; ++t) {
    const __m256i sa = SignByMemory<k>(av, q[t]);
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(xabs[t][k], sa), ones);
    sums[t] = k == 0 ? s : _mm256_add_epi32(sums[t], s);
  }
}

// Panel of two tiled Q8_0 tiles (5..8 rows: the second tile at p.w + 4 * p.w_stride) x up
// to kPanelCols columns. Each activation chunk is broadcast once for both tiles, only |w| is
// held in registers (8 of them), and w itself, the row scales and the accumulators are
// memory operands. Zen 3 issues about 3.4 vector ops per cycle in this loop, and a load
// into a vector register costs an issue slot where a folded memory operand does not
// (docs/kernels.md), so ops per MAC is what counts: 21.5 per 128 MACs here against 24 in
// LegacyPanel. BM_DotKernel on one thread, medians of 12-20 interleaved repetitions: 8
// columns 45.8 -> 49.4 GMAC/s, 16 columns 46.0 -> 48.1, 128 columns 43.6 -> 47.7. The float
// operations per (row, column) are AccumulateBlock's, so results are bit-identical.
HWY_INLINE void Q8TiledPairPanel(const DotTileArgs& p) {
  constexpr size_t kBlk = 4 * sizeof(BlockQ8_0);
  const int64_t nb = p.n_k / kQK;
  const int n = p.n_cols;
  const uint8_t* const w0 = p.w;
  const uint8_t* const w1 = p.w + 4 * p.w_stride;
  HWY_ALIGN __m256 acc[2][kPanelCols];
  for (int c = 0; c < n; ++c) acc[0][c] = acc[1][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* const blk[2] = {w0 + size_t(b) * kBlk, w1 + size_t(b) * kBlk};
    const __m256i* q[2];
    __m256i xabs[2][4];
    HWY_ALIGN __m256 wd[2];
    for (int t = 0; t < 2; ++t) {
      PrefetchTileBlock<BlockQ8_0>(blk[t]);
      q[t] = reinterpret_cast<const __m256i*>(blk[t] + 4 * sizeof(fp16_t));
      for (int k = 0; k < 4; ++k) xabs[t][k] = _mm256_abs_epi8(_mm256_loadu_si256(q[t] + k));
      wd[t] = PairLanes(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk[t])));
    }
    const uint8_t* a = p.a + b * sizeof(BlockQ8A);
    for (int c = 0; c < n; ++c, a += p.a_stride) {
      const BlockQ8A& ab = *reinterpret_cast<const BlockQ8A*>(a);
      __m256i sums[2];
      PairChunk<0>(ab, q, xabs, sums);
      PairChunk<1>(ab, q, xabs, sums);
      PairChunk<2>(ab, q, xabs, sums);
      PairChunk<3>(ab, q, xabs, sums);
      const __m256 d = _mm256_broadcast_ss(&ab.d);
      for (int t = 0; t < 2; ++t)
        acc[t][c] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[t]), _mm256_mul_ps(wd[t], d), acc[t][c]);
    }
  }
  for (int c = 0; c < n; ++c) {
    StoreRows(acc[0][c], 4, p.out + c * p.out_stride);
    StoreRows(acc[1][c], p.n_rows - 4, p.out + c * p.out_stride + 4);
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

template <class F, int C, bool kTiled>
HWY_INLINE void LegacyTile(const DotTileArgs& p) {
  using Block = typename F::Block;
  const int64_t nb = p.n_k / kQK;
  for (int r = 0; r < p.n_rows; ++r) {
    const Block* w = reinterpret_cast<const Block*>(p.w + r * p.w_stride);
    float sum[C] = {};
    for (int64_t b = 0; b < nb; ++b) {
      Block blk;
      if constexpr (kTiled)
        untile_block(F::kType, p.w, r, b, &blk);
      else
        blk = w[b];
      HWY_ALIGN int8_t q[kQK];
      F::Levels(blk, q);  // quant/'s levels: the _0 formats' offsets are already applied
      const float d = fp16_to_fp32(blk.d);
      const float k = BlockMin<F>(blk);
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

template <class F, bool kTiled = false>
struct Legacy {
  template <int C>
  struct K {
    static void Run(const DotTileArgs& p) { LegacyTile<F, C, kTiled>(p); }
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

// Every 4-row tile of p's rows (p.n_rows in all) against all of p's columns: panels of up
// to kPanelCols (x86) or tiles of kTileCols, all inside one dispatched call, so a matrix of
// short rows (MLA's per-head W_uk^T: 2 blocks per row; muse-nano: 6) does not pay two
// indirect calls per tile.
template <class F, bool kTiled>
HWY_INLINE void LegacyPanelOrTiles(const DotTileArgs& u) {
#if MUSE_QDOT_X86
  if (u.n_cols > kTileCols) return LegacyPanel<F, kTiled>(u);
#endif
  for (int c = 0; c < u.n_cols; c += kTileCols) {
    DotTileArgs v = u;
    v.a = u.a + size_t(c) * u.a_stride;
    v.out = u.out + size_t(c) * u.out_stride;
    v.n_cols = std::min(kTileCols, u.n_cols - c);
    ByCols<Legacy<F, kTiled>::template K>(v);
  }
}

template <class F, bool kTiled>
HWY_INLINE void LegacyRows(const DotTileArgs& p) {
#if MUSE_QDOT_X86
  // Tiled Q8_0 against more than kTileCols columns: tiles in pairs (Q8TiledPairPanel). A
  // lone last tile, and a panel's last 1..kTileCols columns, take the single-tile kernels.
  if constexpr (kTiled && std::is_same_v<F, Q8_0Format>) {
    if (p.n_cols > kTileCols) {
      return qdot_internal::for_each_panel<2 * kTileRows>(p, [](const DotTileArgs& u) {
        if (u.n_rows > kTileRows && u.n_cols > kTileCols) return Q8TiledPairPanel(u);
        qdot_internal::for_each_panel(u, LegacyPanelOrTiles<F, kTiled>);
      });
    }
  }
#endif
  qdot_internal::for_each_panel(p, LegacyPanelOrTiles<F, kTiled>);
}

// Runs K::Run<F, kTiled>(p) for p's legacy block type and layout; false for other types.
template <class K>
HWY_INLINE bool ForLegacyFormat(const DotTileArgs& p) {
  switch (p.type) {
    case DType::Q8_0:
      p.tiled ? K::template Run<Q8_0Format, true>(p) : K::template Run<Q8_0Format, false>(p);
      return true;
    case DType::Q4_0:
      p.tiled ? K::template Run<Q4_0Format, true>(p) : K::template Run<Q4_0Format, false>(p);
      return true;
    case DType::Q4_1:
      K::template Run<Q4_1Format, false>(p);
      return true;
    case DType::Q5_0:
      K::template Run<Q5_0Format, false>(p);
      return true;
    case DType::Q5_1:
      K::template Run<Q5_1Format, false>(p);
      return true;
    default:
      return false;
  }
}

struct TileKernel {
  template <class F, bool kTiled>
  static void Run(const DotTileArgs& p) {
    ByCols<Legacy<F, kTiled>::template K>(p);
  }
};
struct RowsKernel {
  template <class F, bool kTiled>
  static void Run(const DotTileArgs& p) {
    LegacyRows<F, kTiled>(p);
  }
};
#if MUSE_QDOT_X86
struct PanelKernel {
  template <class F, bool kTiled>
  static void Run(const DotTileArgs& p) {
    LegacyPanel<F, kTiled>(p);
  }
};
#endif

// Each returns false when the type has no such kernel on this target (the caller then
// falls back to smaller kernels or the scalar reference).
bool DotRowsSimd(const DotTileArgs& p) { return ForLegacyFormat<RowsKernel>(p); }

bool DotPanelSimd(const DotTileArgs& p) {
#if MUSE_QDOT_X86
  return ForLegacyFormat<PanelKernel>(p);
#else
  (void)p;
  return false;
#endif
}

bool DotTileSimd(const DotTileArgs& p) {
  if (ForLegacyFormat<TileKernel>(p)) return true;
  switch (p.type) {
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
HWY_EXPORT(DotPanelSimd);
HWY_EXPORT(DotRowsSimd);

void dot_tile_ref(const DotTileArgs& p) {
  std::vector<uint8_t> row;
  for (int r = 0; r < p.n_rows; ++r) {
    const uint8_t* w = p.w + r * p.w_stride;
    if (p.tiled) {  // back to a GGML row, block by block
      const size_t bb = dtype_info(p.type).type_size;
      const int64_t nb = p.n_k / dtype_info(p.type).block_size;
      row.resize(size_t(nb) * bb);
      for (int64_t b = 0; b < nb; ++b) untile_block(p.type, p.w, r, b, row.data() + b * bb);
      w = row.data();
    }
    for (int c = 0; c < p.n_cols; ++c)
      p.out[c * p.out_stride + r] = vec_dot_ref(p.type, p.n_k, w, p.a + c * p.a_stride);
  }
}

void dot_tile(const DotTileArgs& p) {
  if (!HWY_DYNAMIC_DISPATCH(DotTileSimd)(p) && !dot_tile_kquant(p)) dot_tile_ref(p);
}

void dot_panel(const DotTileArgs& p) {
  if (p.n_cols > kTileCols && HWY_DYNAMIC_DISPATCH(DotPanelSimd)(p)) return;
  for (int c = 0; c < p.n_cols; c += kTileCols) {
    DotTileArgs t = p;
    t.a += size_t(c) * p.a_stride;
    t.n_cols = std::min(kTileCols, p.n_cols - c);
    t.out += size_t(c) * p.out_stride;
    dot_tile(t);
  }
}

void dot_rows(const DotTileArgs& p) {
  if (!HWY_DYNAMIC_DISPATCH(DotRowsSimd)(p)) qdot_internal::for_each_panel(p, dot_panel);
}

}  // namespace muse
#endif  // HWY_ONCE
