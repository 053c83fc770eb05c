// Highway implementation of kernels/attention.h, one copy per SIMD target, dispatched at run
// time. Streaming softmax after Milakov & Gimelshein 2018 ("Online normalizer calculation
// for softmax") as used by FlashAttention (Dao et al. 2022): kv rows are visited in tiles of
// kTile; per query head we keep the running max m, the running denominator l and the
// unnormalized output acc, and rescale acc by exp(m_old - m_new) whenever the max grows.
// Scores run over head_dim (q, k) and acc over head_dim_v (v, out); with head_dim_v = 0 the
// two are equal and every operation is what it was before the dims were split.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include "hwy/cache_control.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/fp16.h"
#include "kernels/attention.h"

// Target-independent helpers: compiled once although foreach_target re-includes this file.
#ifndef MUSE_KERNELS_ATTENTION_INTERNAL_
#define MUSE_KERNELS_ATTENTION_INTERNAL_
namespace muse {
namespace attention_internal {

constexpr int64_t kTile = 16;  // kv rows per online-softmax step
static_assert(kAttentionPageRowsMultiple % kTile == 0, "a tile must not cross a page");
// Query heads handled in one pass over the rows: their q and acc live on the stack
// (2 x 18 KiB), i.e. 36 heads of dim 128, 18 of dim 256 or 8 of dim 576. 4608 = 8 * 576, so
// an MLA pass holds an even number of heads (four pairs) rather than 7 with 4096.
constexpr int64_t kPassFloats = 4608;
constexpr int64_t kMaxPassHeads = 64;
constexpr int64_t kPrefetchTiles = 1;  // prefetch distance in tiles

// Head dims, strides and scale with the "0 = default" conventions of AttentionArgs resolved.
struct Resolved {
  int64_t dim_k, dim_v;  // head_dim (q, k) and head_dim_v (v, out)
  int64_t q_stride, k_stride, v_stride, o_stride, group;
  float scale;
};

inline int64_t resolved_head_dim_v(const AttentionArgs& a) {
  return a.head_dim_v ? a.head_dim_v : a.head_dim;
}

inline Resolved resolve(const AttentionArgs& a) {
  const int64_t dim_v = resolved_head_dim_v(a);
  return Resolved{
      .dim_k = a.head_dim,
      .dim_v = dim_v,
      .q_stride = a.q_token_stride ? a.q_token_stride : a.n_head * a.head_dim,
      .k_stride = a.k_row_stride ? a.k_row_stride : a.n_head_kv * a.head_dim,
      .v_stride = a.v_row_stride ? a.v_row_stride : a.n_head_kv * dim_v,
      .o_stride = a.out_token_stride ? a.out_token_stride : a.n_head * dim_v,
      .group = a.n_head / a.n_head_kv,
      .scale = a.scale != 0.0f ? a.scale : static_cast<float>(1.0 / std::sqrt(a.head_dim)),
  };
}

}  // namespace attention_internal
}  // namespace muse
#endif  // MUSE_KERNELS_ATTENTION_INTERNAL_

HWY_BEFORE_NAMESPACE();
namespace muse {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using attention_internal::kMaxPassHeads;
using attention_internal::kPassFloats;
using attention_internal::kPrefetchTiles;
using attention_internal::kTile;
using attention_internal::Resolved;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// K/V elements as floats; F16 widens through Highway's PromoteTo (on AVX2 and up one
// F16C `vcvtph2ps` with a memory operand, so converting costs no extra instruction).
HWY_INLINE VF LoadKv(DF d, const float* p) { return hn::LoadU(d, p); }
HWY_INLINE VF LoadKv(DF d, const hwy::float16_t* p) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(d, hn::LoadU(dh, p));
}
HWY_INLINE float KvScalar(const float* p) { return *p; }
HWY_INLINE float KvScalar(const hwy::float16_t* p) {
  fp16_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  return fp16_to_fp32(bits);
}

// out[i] = sum of the lanes of c_i, i < 4. Two interleave rounds transpose the four vectors
// within each 128-bit block, so one add chain replaces four full reductions; the blocks are
// then added in scalar. Targets without 128-bit blocks reduce each vector on its own.
HWY_INLINE void SumOfLanes4(DF d, VF c0, VF c1, VF c2, VF c3, float* out) {
#if HWY_TARGET == HWY_SCALAR || HWY_HAVE_SCALABLE
  out[0] = hn::GetLane(hn::SumOfLanes(d, c0));
  out[1] = hn::GetLane(hn::SumOfLanes(d, c1));
  out[2] = hn::GetLane(hn::SumOfLanes(d, c2));
  out[3] = hn::GetLane(hn::SumOfLanes(d, c3));
#else
  const hn::Repartition<uint64_t, DF> d64;
  // Per block: s01 = [c0_0 + c0_2, c1_0 + c1_2, c0_1 + c0_3, c1_1 + c1_3], s23 likewise.
  const VF s01 = hn::Add(hn::InterleaveLower(d, c0, c1), hn::InterleaveUpper(d, c0, c1));
  const VF s23 = hn::Add(hn::InterleaveLower(d, c2, c3), hn::InterleaveUpper(d, c2, c3));
  const auto a = hn::BitCast(d64, s01);
  const auto b = hn::BitCast(d64, s23);
  // Per block: [sum c0, sum c1, sum c2, sum c3].
  const VF r = hn::Add(hn::BitCast(d, hn::InterleaveLower(d64, a, b)),
                       hn::BitCast(d, hn::InterleaveUpper(d64, a, b)));
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)];
  hn::Store(r, d, buf);
  for (int i = 0; i < 4; ++i) out[i] = buf[i];
  for (size_t block = 4; block < hn::Lanes(d); block += 4) {
    for (int i = 0; i < 4; ++i) out[i] += buf[block + i];
  }
#endif
}

// s[j] = q . k_j for rows k_0 + j * stride, j < n_rows. Four rows per pass share each q
// load; dims past the last full vector (head_dim % lanes) are summed in scalar.
template <typename KvT>
HWY_INLINE void Scores(DF d, const float* q, const KvT* k, int64_t stride, int64_t n_rows,
                       int64_t dim, float* s) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t dim_vec = dim - dim % lanes;
  int64_t j = 0;
  for (; j + 4 <= n_rows; j += 4) {
    const KvT* k0 = k + j * stride;
    const KvT* k1 = k0 + stride;
    const KvT* k2 = k1 + stride;
    const KvT* k3 = k2 + stride;
    VF c0 = hn::Zero(d), c1 = hn::Zero(d), c2 = hn::Zero(d), c3 = hn::Zero(d);
    for (int64_t i = 0; i < dim_vec; i += lanes) {
      const VF vq = hn::LoadU(d, q + i);
      c0 = hn::MulAdd(vq, LoadKv(d, k0 + i), c0);
      c1 = hn::MulAdd(vq, LoadKv(d, k1 + i), c1);
      c2 = hn::MulAdd(vq, LoadKv(d, k2 + i), c2);
      c3 = hn::MulAdd(vq, LoadKv(d, k3 + i), c3);
    }
    SumOfLanes4(d, c0, c1, c2, c3, s + j);
    for (int64_t i = dim_vec; i < dim; ++i) {
      s[j] += q[i] * KvScalar(k0 + i);
      s[j + 1] += q[i] * KvScalar(k1 + i);
      s[j + 2] += q[i] * KvScalar(k2 + i);
      s[j + 3] += q[i] * KvScalar(k3 + i);
    }
  }
  for (; j < n_rows; ++j) {
    const KvT* kj = k + j * stride;
    VF c = hn::Zero(d);
    for (int64_t i = 0; i < dim_vec; i += lanes) {
      c = hn::MulAdd(hn::LoadU(d, q + i), LoadKv(d, kj + i), c);
    }
    s[j] = hn::GetLane(hn::SumOfLanes(d, c));
    for (int64_t i = dim_vec; i < dim; ++i) s[j] += q[i] * KvScalar(kj + i);
  }
}

// Scores of two query heads (qa -> sa, qb -> sb) over the same rows. Each K and q load
// feeds two FMAs: 6 loads per 8 FMAs instead of 10, and loads are the limit here (Zen 3
// issues two 256-bit loads per cycle). Per head, the operations and their order are those
// of Scores, so results are bit-identical however heads are paired.
template <typename KvT>
HWY_INLINE void Scores2(DF d, const float* qa, const float* qb, const KvT* k, int64_t stride,
                        int64_t n_rows, int64_t dim, float* sa, float* sb) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t dim_vec = dim - dim % lanes;
  int64_t j = 0;
  for (; j + 4 <= n_rows; j += 4) {
    const KvT* k0 = k + j * stride;
    const KvT* k1 = k0 + stride;
    const KvT* k2 = k1 + stride;
    const KvT* k3 = k2 + stride;
    VF a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    VF b0 = hn::Zero(d), b1 = hn::Zero(d), b2 = hn::Zero(d), b3 = hn::Zero(d);
    for (int64_t i = 0; i < dim_vec; i += lanes) {
      const VF va = hn::LoadU(d, qa + i);
      const VF vb = hn::LoadU(d, qb + i);
      const VF x0 = LoadKv(d, k0 + i), x1 = LoadKv(d, k1 + i);
      const VF x2 = LoadKv(d, k2 + i), x3 = LoadKv(d, k3 + i);
      a0 = hn::MulAdd(va, x0, a0);
      b0 = hn::MulAdd(vb, x0, b0);
      a1 = hn::MulAdd(va, x1, a1);
      b1 = hn::MulAdd(vb, x1, b1);
      a2 = hn::MulAdd(va, x2, a2);
      b2 = hn::MulAdd(vb, x2, b2);
      a3 = hn::MulAdd(va, x3, a3);
      b3 = hn::MulAdd(vb, x3, b3);
    }
    SumOfLanes4(d, a0, a1, a2, a3, sa + j);
    SumOfLanes4(d, b0, b1, b2, b3, sb + j);
    for (int64_t i = dim_vec; i < dim; ++i) {
      sa[j] += qa[i] * KvScalar(k0 + i);
      sa[j + 1] += qa[i] * KvScalar(k1 + i);
      sa[j + 2] += qa[i] * KvScalar(k2 + i);
      sa[j + 3] += qa[i] * KvScalar(k3 + i);
      sb[j] += qb[i] * KvScalar(k0 + i);
      sb[j + 1] += qb[i] * KvScalar(k1 + i);
      sb[j + 2] += qb[i] * KvScalar(k2 + i);
      sb[j + 3] += qb[i] * KvScalar(k3 + i);
    }
  }
  if (j < n_rows) {
    Scores(d, qa, k + j * stride, stride, n_rows - j, dim, sa + j);
    Scores(d, qb, k + j * stride, stride, n_rows - j, dim, sb + j);
  }
}

// acc += sum_j p[j] * v_j. Rows go four at a time so each acc vector is loaded and stored
// once per four FMAs; different dims are independent chains for the out-of-order core.
template <typename KvT>
HWY_INLINE void AccumulateV(DF d, const float* p, const KvT* v, int64_t stride, int64_t n_rows,
                            int64_t dim, float* acc) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t dim_vec = dim - dim % lanes;
  int64_t j = 0;
  for (; j + 4 <= n_rows; j += 4) {
    const KvT* v0 = v + j * stride;
    const KvT* v1 = v0 + stride;
    const KvT* v2 = v1 + stride;
    const KvT* v3 = v2 + stride;
    const VF p0 = hn::Set(d, p[j]), p1 = hn::Set(d, p[j + 1]);
    const VF p2 = hn::Set(d, p[j + 2]), p3 = hn::Set(d, p[j + 3]);
    for (int64_t i = 0; i < dim_vec; i += lanes) {
      VF o = hn::LoadU(d, acc + i);
      o = hn::MulAdd(p0, LoadKv(d, v0 + i), o);
      o = hn::MulAdd(p1, LoadKv(d, v1 + i), o);
      o = hn::MulAdd(p2, LoadKv(d, v2 + i), o);
      o = hn::MulAdd(p3, LoadKv(d, v3 + i), o);
      hn::StoreU(o, d, acc + i);
    }
    for (int64_t i = dim_vec; i < dim; ++i) {
      acc[i] += p[j] * KvScalar(v0 + i) + p[j + 1] * KvScalar(v1 + i) +
                p[j + 2] * KvScalar(v2 + i) + p[j + 3] * KvScalar(v3 + i);
    }
  }
  for (; j < n_rows; ++j) {
    const KvT* vj = v + j * stride;
    const VF pj = hn::Set(d, p[j]);
    for (int64_t i = 0; i < dim_vec; i += lanes) {
      hn::StoreU(hn::MulAdd(pj, LoadKv(d, vj + i), hn::LoadU(d, acc + i)), d, acc + i);
    }
    for (int64_t i = dim_vec; i < dim; ++i) acc[i] += p[j] * KvScalar(vj + i);
  }
}

// AccumulateV for two heads over the same V rows: each V load feeds two FMAs (6 loads and
// 2 stores per 8 FMAs instead of 10 and 2). Per head bit-identical to AccumulateV.
template <typename KvT>
HWY_INLINE void AccumulateV2(DF d, const float* pa, const float* pb, const KvT* v, int64_t stride,
                             int64_t n_rows, int64_t dim, float* acc_a, float* acc_b) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t dim_vec = dim - dim % lanes;
  int64_t j = 0;
  for (; j + 4 <= n_rows; j += 4) {
    const KvT* v0 = v + j * stride;
    const KvT* v1 = v0 + stride;
    const KvT* v2 = v1 + stride;
    const KvT* v3 = v2 + stride;
    const VF pa0 = hn::Set(d, pa[j]), pa1 = hn::Set(d, pa[j + 1]);
    const VF pa2 = hn::Set(d, pa[j + 2]), pa3 = hn::Set(d, pa[j + 3]);
    const VF pb0 = hn::Set(d, pb[j]), pb1 = hn::Set(d, pb[j + 1]);
    const VF pb2 = hn::Set(d, pb[j + 2]), pb3 = hn::Set(d, pb[j + 3]);
    for (int64_t i = 0; i < dim_vec; i += lanes) {
      const VF x0 = LoadKv(d, v0 + i), x1 = LoadKv(d, v1 + i);
      const VF x2 = LoadKv(d, v2 + i), x3 = LoadKv(d, v3 + i);
      VF oa = hn::LoadU(d, acc_a + i);
      VF ob = hn::LoadU(d, acc_b + i);
      oa = hn::MulAdd(pa0, x0, oa);
      ob = hn::MulAdd(pb0, x0, ob);
      oa = hn::MulAdd(pa1, x1, oa);
      ob = hn::MulAdd(pb1, x1, ob);
      oa = hn::MulAdd(pa2, x2, oa);
      ob = hn::MulAdd(pb2, x2, ob);
      oa = hn::MulAdd(pa3, x3, oa);
      ob = hn::MulAdd(pb3, x3, ob);
      hn::StoreU(oa, d, acc_a + i);
      hn::StoreU(ob, d, acc_b + i);
    }
    for (int64_t i = dim_vec; i < dim; ++i) {
      acc_a[i] += pa[j] * KvScalar(v0 + i) + pa[j + 1] * KvScalar(v1 + i) +
                  pa[j + 2] * KvScalar(v2 + i) + pa[j + 3] * KvScalar(v3 + i);
      acc_b[i] += pb[j] * KvScalar(v0 + i) + pb[j + 1] * KvScalar(v1 + i) +
                  pb[j + 2] * KvScalar(v2 + i) + pb[j + 3] * KvScalar(v3 + i);
    }
  }
  if (j < n_rows) {
    AccumulateV(d, pa + j, v + j * stride, stride, n_rows - j, dim, acc_a);
    AccumulateV(d, pb + j, v + j * stride, stride, n_rows - j, dim, acc_b);
  }
}

// x[0, n) *= s; n need not be a multiple of lanes.
HWY_INLINE void ScaleRow(DF d, float* x, int64_t n, float s) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const VF vs = hn::Set(d, s);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vs), d, x + i);
  for (; i < n; ++i) x[i] *= s;
}

// Requests the cache lines of `dim` elements of each of n_rows K or V rows. A pass reads a
// slice of each cache row, rows a stride apart; the hardware prefetchers only partly follow
// that, and asking one tile ahead measured 10-30% faster decodes at 4k-16k rows.
template <typename KvT>
HWY_INLINE void PrefetchRows(const KvT* src, int64_t stride, int64_t n_rows, int64_t dim) {
  constexpr int64_t kLine = 64 / sizeof(KvT);  // elements per 64-byte cache line
  for (int64_t j = 0; j < n_rows; ++j) {
    const KvT* row = src + j * stride;
    for (int64_t i = 0; i < dim; i += kLine) hwy::Prefetch(row + i);
    hwy::Prefetch(row + dim - 1);  // last line when the row is not line-aligned
  }
}

// Row j of a K or V array, contiguous or paged (see AttentionArgs).
template <typename KvT>
HWY_INLINE const KvT* RowAt(const AttentionArgs& a, const KvT* base, int64_t j, int64_t stride) {
  if (a.page_table == nullptr) return base + j * stride;
  return base + int64_t(a.page_table[j / a.page_rows]) * a.page_stride + (j % a.page_rows) * stride;
}

// Running state of one query head: max m, denominator l, unnormalized output acc.
struct HeadState {
  float m;
  float l;
  float* acc;
};

// First half of folding a tile into `st`: p holds the tile's n_rows scores on entry (with
// room for padding to whole vectors) and leaves with the weights exp(score - m_new); acc
// (dim_v floats) and l are rescaled to the new max and l gains the weights. The caller then
// adds p . V to acc.
HWY_INLINE void SoftmaxWeights(DF d, float* p, int64_t n_rows, int64_t dim_v, HeadState& st) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t n_padded = (n_rows + lanes - 1) / lanes * lanes;
  for (int64_t j = n_rows; j < n_padded; ++j) p[j] = -HUGE_VALF;  // Exp gives 0
  VF vmax = hn::Load(d, p);
  for (int64_t j = lanes; j < n_padded; j += lanes) vmax = hn::Max(vmax, hn::Load(d, p + j));
  const float tile_max = hn::GetLane(hn::MaxOfLanes(d, vmax));
  if (tile_max > st.m) {
    // The max grew: rescale what was accumulated against the old max by exp(m_old - m_new).
    // Skipped on the first tile (l = 0, acc = 0) and whenever the max stays put, which
    // after the first few tiles is the common case.
    if (st.l != 0.0f) {
      const float corr = std::exp(st.m - tile_max);
      ScaleRow(d, st.acc, dim_v, corr);
      st.l *= corr;
    }
    st.m = tile_max;
  }
  const VF vm = hn::Set(d, st.m);
  VF sum = hn::Zero(d);
  for (int64_t j = 0; j < n_padded; j += lanes) {
    const VF e = hn::Exp(d, hn::Sub(hn::Load(d, p + j), vm));
    hn::Store(e, d, p + j);
    sum = hn::Add(sum, e);
  }
  st.l += hn::GetLane(hn::SumOfLanes(d, sum));
}

// Query heads h0 .. h0 + nb - 1 of token t, nb * max(dim_k, dim_v) <= kPassFloats; they may
// span several kv groups. Each tile of kv rows is visited once for all of them, so the part
// of each cache row that the pass needs is read in one sequential sweep (per kv head instead,
// a decode at 16k rows reads 256-byte pieces 2 KiB apart and drops to ~2 GB/s).
template <typename KvT>
void AttendHeads(const AttentionArgs& a, const Resolved& r, int64_t t, int64_t h0, int64_t nb) {
  const DF d;
  const int64_t dk = r.dim_k;
  const int64_t dv = r.dim_v;
  const int64_t len = int64_t(a.pos[t]) + 1;  // causal limit, validated < n_kv
  const int64_t g_first = h0 / r.group;
  const int64_t g_span = (h0 + nb - 1) / r.group - g_first + 1;  // kv heads touched
  const KvT* k = static_cast<const KvT*>(a.k);
  const KvT* v = static_cast<const KvT*>(a.v);
  // MLA passes v = k: when the V elements a pass reads lie inside the K elements of the same
  // rows, prefetching K already brings them in.
  const bool v_within_k = a.v == a.k && r.v_stride == r.k_stride && g_first * dv >= g_first * dk &&
                          (g_first + g_span) * dv <= (g_first + g_span) * dk;

  HWY_ALIGN float qs[kPassFloats];   // [nb][dk] q * scale
  HWY_ALIGN float acc[kPassFloats];  // [nb][dv] unnormalized output
  // Scores, then probabilities, of one tile; padded so the Exp loop runs whole vectors.
  HWY_ALIGN float p[2][kTile + HWY_MAX_BYTES / sizeof(float)];
  HeadState st[kMaxPassHeads];
  for (int64_t b = 0; b < nb; ++b) {
    const float* q = a.q + t * r.q_stride + (h0 + b) * dk;
    for (int64_t i = 0; i < dk; ++i) qs[b * dk + i] = q[i] * r.scale;
    for (int64_t i = 0; i < dv; ++i) acc[b * dv + i] = 0.0f;
    st[b] = HeadState{.m = -HUGE_VALF, .l = 0.0f, .acc = acc + b * dv};
  }

  for (int64_t j0 = 0; j0 < len; j0 += kTile) {
    const int64_t n_rows = std::min(kTile, len - j0);
    const int64_t j_next = j0 + kPrefetchTiles * kTile;
    if (j_next < len) {
      const int64_t next_rows = std::min(kTile, len - j_next);
      PrefetchRows(RowAt(a, k, j_next, r.k_stride) + g_first * dk, r.k_stride, next_rows,
                   g_span * dk);
      if (!v_within_k) {
        PrefetchRows(RowAt(a, v, j_next, r.v_stride) + g_first * dv, r.v_stride, next_rows,
                     g_span * dv);
      }
    }
    const KvT* k_tile = RowAt(a, k, j0, r.k_stride);
    const KvT* v_tile = RowAt(a, v, j0, r.v_stride);
    int64_t b = 0;
    while (b < nb) {
      const int64_t g = (h0 + b) / r.group;
      const KvT* kt = k_tile + g * dk;
      const KvT* vt = v_tile + g * dv;
      const float* q_b = qs + b * dk;
      float* acc_b = acc + b * dv;
      if (b + 1 < nb && (h0 + b + 1) / r.group == g) {  // two heads of one group
        Scores2(d, q_b, q_b + dk, kt, r.k_stride, n_rows, dk, p[0], p[1]);
        SoftmaxWeights(d, p[0], n_rows, dv, st[b]);
        SoftmaxWeights(d, p[1], n_rows, dv, st[b + 1]);
        AccumulateV2(d, p[0], p[1], vt, r.v_stride, n_rows, dv, acc_b, acc_b + dv);
        b += 2;
      } else {
        Scores(d, q_b, kt, r.k_stride, n_rows, dk, p[0]);
        SoftmaxWeights(d, p[0], n_rows, dv, st[b]);
        AccumulateV(d, p[0], vt, r.v_stride, n_rows, dv, acc_b);
        b += 1;
      }
    }
  }

  for (int64_t b = 0; b < nb; ++b) {
    float* out = a.out + t * r.o_stride + (h0 + b) * dv;
    // l >= 1: the row holding the max contributes exp(0) = 1.
    const float inv_l = 1.0f / st[b].l;
    for (int64_t i = 0; i < dv; ++i) out[i] = acc[b * dv + i] * inv_l;
  }
}

void Attention(const AttentionArgs& a, int64_t item_begin, int64_t item_end) {
  const Resolved r = attention_internal::resolve(a);
  const int64_t max_pass_heads = std::min(kMaxPassHeads, kPassFloats / std::max(r.dim_k, r.dim_v));
  int64_t i = item_begin;
  while (i < item_end) {
    const int64_t t = i / a.n_head;
    const int64_t h = i % a.n_head;
    // As many heads of token t as the range and the on-stack state allow.
    const int64_t nb = std::min({a.n_head - h, item_end - i, max_pass_heads});
    if (a.kv_type == DType::F16) {
      AttendHeads<hwy::float16_t>(a, r, t, h, nb);
    } else {
      AttendHeads<float>(a, r, t, h, nb);
    }
    i += nb;
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace muse
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace muse {

HWY_EXPORT(Attention);

Status validate_attention_args(const AttentionArgs& a) {
  if (a.n_tokens < 1 || a.n_head < 1 || a.n_head_kv < 1 || a.n_kv < 1) {
    return Errorf(
        "attention: need n_tokens, n_head, n_head_kv, n_kv >= 1 (got %lld %lld %lld %lld)",
        (long long)a.n_tokens, (long long)a.n_head, (long long)a.n_head_kv, (long long)a.n_kv);
  }
  if (a.n_head % a.n_head_kv != 0) {
    return Errorf("attention: n_head %lld is not a multiple of n_head_kv %lld", (long long)a.n_head,
                  (long long)a.n_head_kv);
  }
  if (a.head_dim < 1 || a.head_dim > kAttentionMaxHeadDim) {
    return Errorf("attention: head_dim %lld outside 1..%lld", (long long)a.head_dim,
                  (long long)kAttentionMaxHeadDim);
  }
  const int64_t dim_v = attention_internal::resolved_head_dim_v(a);
  if (dim_v < 1 || dim_v > kAttentionMaxHeadDim) {
    return Errorf("attention: head_dim_v %lld outside 1..%lld", (long long)a.head_dim_v,
                  (long long)kAttentionMaxHeadDim);
  }
  if (!a.q || !a.k || !a.v || !a.out || !a.pos) return Errorf("attention: null pointer");
  if (a.kv_type != DType::F32 && a.kv_type != DType::F16) {
    return Errorf("attention: K/V type %s is not f32 or f16",
                  std::string(dtype_name(a.kv_type)).c_str());
  }
  const int64_t q_row = a.n_head * a.head_dim;
  const int64_t out_row = a.n_head * dim_v;
  const int64_t k_row = a.n_head_kv * a.head_dim;
  const int64_t v_row = a.n_head_kv * dim_v;
  if ((a.q_token_stride && a.q_token_stride < q_row) ||
      (a.out_token_stride && a.out_token_stride < out_row) ||
      (a.k_row_stride && a.k_row_stride < k_row) || (a.v_row_stride && a.v_row_stride < v_row)) {
    return Errorf("attention: a stride is smaller than the packed row it steps over");
  }
  if (!std::isfinite(a.scale)) return Errorf("attention: scale is not finite");
  if (a.page_table != nullptr &&
      (a.page_rows < kAttentionPageRowsMultiple || a.page_rows % kAttentionPageRowsMultiple != 0 ||
       a.page_stride < 1)) {
    return Errorf(
        "attention: page_rows %lld must be a positive multiple of %lld (page stride %lld)",
        (long long)a.page_rows, (long long)kAttentionPageRowsMultiple, (long long)a.page_stride);
  }
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    if (a.pos[t] < 0 || a.pos[t] >= a.n_kv) {
      return Errorf("attention: token %lld has position %d outside the %lld cached rows",
                    (long long)t, a.pos[t], (long long)a.n_kv);
    }
  }
  return Status::Ok();
}

void attention(const AttentionArgs& a, int64_t item_begin, int64_t item_end) {
  HWY_DYNAMIC_DISPATCH(Attention)(a, item_begin, item_end);
}

}  // namespace muse
#endif  // HWY_ONCE
