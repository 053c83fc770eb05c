// Highway implementation of kernels/gemm_f32.h, compiled per SIMD target and chosen at run
// time. Loop nest (BLIS order): k in chunks of kKc, n in blocks of kNc whose B block is packed
// once and shared by the threads, then tasks of (rows block of A, range of B panels), each
// packing its A block and sweeping a kMr x nr micro-kernel over it. nr = 2 vectors, so the
// AVX2 tile is 6 x 16: 12 accumulators + 2 B vectors + 1 broadcast = 15 of 16 registers.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>

#include "kernels/gemm_f32.h"

HWY_BEFORE_NAMESPACE();
namespace muse {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

constexpr int64_t kMr = 6;     // rows of the micro-tile
constexpr int64_t kKc = 256;   // k per packed panel: a 16-wide B panel is 16 KiB, half of L1
constexpr int64_t kMc = 96;    // rows per A block: 96 KiB, well inside a 512 KiB L2
constexpr int64_t kNc = 2048;  // columns per shared B block: 2 MiB, inside L3

static int64_t Nr() { return 2 * int64_t(hn::Lanes(DF())); }
static int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Rows [i0, i0 + mc) x k [p0, p0 + kc) of A into kMr-row panels: panel r holds, for each k,
// the kMr values of its rows (zero past row mc), at dst + r * kMr * kc. Only A without a unit
// column stride is packed (see DirectA); the usual one is a transposed row-major matrix
// (dyᵀ·x), whose kMr values per k are contiguous: a fixed-size copy the compiler unrolls.
static void PackA(const GemmOperand& a, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                  float* dst) {
  for (int64_t ir = 0; ir < mc; ir += kMr) {
    const int64_t mr = std::min(kMr, mc - ir);
    float* panel = dst + ir * kc;
    const float* src = a.data + (i0 + ir) * a.row_stride + p0 * a.col_stride;
    if (a.row_stride == 1 && mr == kMr) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* col = src + k * a.col_stride;
        for (int64_t i = 0; i < kMr; ++i) panel[k * kMr + i] = col[i];
      }
      continue;
    }
    for (int64_t k = 0; k < kc; ++k) {
      const float* col = src + k * a.col_stride;
      for (int64_t i = 0; i < mr; ++i) panel[k * kMr + i] = col[i * a.row_stride];
      for (int64_t i = mr; i < kMr; ++i) panel[k * kMr + i] = 0.0f;
    }
  }
}

// One nr-wide panel of B: k [p0, p0 + kc) x columns [j0, j0 + nc), nc <= nr, zero-padded.
static void PackBPanel(const GemmOperand& b, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                       int64_t nr, float* panel) {
  const float* src = b.data + p0 * b.row_stride + j0 * b.col_stride;
  if (b.col_stride == 1 && nc == nr) {
    const DF d;
    const int64_t lanes = int64_t(hn::Lanes(d));
    for (int64_t k = 0; k < kc; ++k) {
      const float* row = src + k * b.row_stride;
      for (int64_t j = 0; j < nr; j += lanes)
        hn::Store(hn::LoadU(d, row + j), d, panel + k * nr + j);
    }
    return;
  }
  // Transposed B (x·Wᵀ): nc rows of W are read side by side, each sequentially along k.
  for (int64_t k = 0; k < kc; ++k) {
    float* out = panel + k * nr;
    const float* in = src + k * b.row_stride;
    for (int64_t j = 0; j < nc; ++j) out[j] = in[j * b.col_stride];
    for (int64_t j = nc; j < nr; ++j) out[j] = 0.0f;
  }
}

// Where the micro-kernel reads its kMr rows of A: a packed panel, or (kDirect) the rows of a
// row-major A in place, element (i, k) at rows[i][k]. Rows past m repeat row m - 1, whose
// results are discarded, so no padding is needed.
struct APanel {
  const float* rows[kMr];
};

// C[m][n] (+)= A panel · B panel over kc steps, m <= kMr, n <= nr.
template <bool kDirect>
static HWY_INLINE void MicroKernel(int64_t kc, const APanel& ap, const float* HWY_RESTRICT bp,
                                   float* c, int64_t ldc, int64_t m, int64_t n, bool overwrite) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  VF c00 = hn::Zero(d), c01 = hn::Zero(d), c10 = hn::Zero(d), c11 = hn::Zero(d);
  VF c20 = hn::Zero(d), c21 = hn::Zero(d), c30 = hn::Zero(d), c31 = hn::Zero(d);
  VF c40 = hn::Zero(d), c41 = hn::Zero(d), c50 = hn::Zero(d), c51 = hn::Zero(d);
  // Packed: element (i, k) at rows[0][k * kMr + i].
  const float* HWY_RESTRICT a0 = ap.rows[0];
  const float* HWY_RESTRICT a1 = kDirect ? ap.rows[1] : a0 + 1;
  const float* HWY_RESTRICT a2 = kDirect ? ap.rows[2] : a0 + 2;
  const float* HWY_RESTRICT a3 = kDirect ? ap.rows[3] : a0 + 3;
  const float* HWY_RESTRICT a4 = kDirect ? ap.rows[4] : a0 + 4;
  const float* HWY_RESTRICT a5 = kDirect ? ap.rows[5] : a0 + 5;
  constexpr int64_t step = kDirect ? 1 : kMr;
  for (int64_t k = 0, o = 0; k < kc; ++k, o += step) {
    const VF b0 = hn::Load(d, bp);
    const VF b1 = hn::Load(d, bp + lanes);
    VF a = hn::Set(d, a0[o]);
    c00 = hn::MulAdd(a, b0, c00);
    c01 = hn::MulAdd(a, b1, c01);
    a = hn::Set(d, a1[o]);
    c10 = hn::MulAdd(a, b0, c10);
    c11 = hn::MulAdd(a, b1, c11);
    a = hn::Set(d, a2[o]);
    c20 = hn::MulAdd(a, b0, c20);
    c21 = hn::MulAdd(a, b1, c21);
    a = hn::Set(d, a3[o]);
    c30 = hn::MulAdd(a, b0, c30);
    c31 = hn::MulAdd(a, b1, c31);
    a = hn::Set(d, a4[o]);
    c40 = hn::MulAdd(a, b0, c40);
    c41 = hn::MulAdd(a, b1, c41);
    a = hn::Set(d, a5[o]);
    c50 = hn::MulAdd(a, b0, c50);
    c51 = hn::MulAdd(a, b1, c51);
    bp += 2 * lanes;
  }
  const auto put = [&](float* p, VF v) {
    hn::StoreU(overwrite ? v : hn::Add(hn::LoadU(d, p), v), d, p);
  };
  if (m == kMr && n == int64_t(2 * lanes)) {
    put(c, c00), put(c + lanes, c01), c += ldc;
    put(c, c10), put(c + lanes, c11), c += ldc;
    put(c, c20), put(c + lanes, c21), c += ldc;
    put(c, c30), put(c + lanes, c31), c += ldc;
    put(c, c40), put(c + lanes, c41), c += ldc;
    put(c, c50), put(c + lanes, c51);
    return;
  }
  // Edge tile: spill to the stack, then copy the valid m x n corner.
  constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);
  HWY_ALIGN float tile[kMr * 2 * kMaxLanes];
  const size_t w = 2 * lanes;
  hn::Store(c00, d, tile + 0 * w), hn::Store(c01, d, tile + 0 * w + lanes);
  hn::Store(c10, d, tile + 1 * w), hn::Store(c11, d, tile + 1 * w + lanes);
  hn::Store(c20, d, tile + 2 * w), hn::Store(c21, d, tile + 2 * w + lanes);
  hn::Store(c30, d, tile + 3 * w), hn::Store(c31, d, tile + 3 * w + lanes);
  hn::Store(c40, d, tile + 4 * w), hn::Store(c41, d, tile + 4 * w + lanes);
  hn::Store(c50, d, tile + 5 * w), hn::Store(c51, d, tile + 5 * w + lanes);
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    const float* t = tile + size_t(i) * w;
    for (int64_t j = 0; j < n; ++j) row[j] = overwrite ? t[j] : row[j] + t[j];
  }
}

// A row-major A (unit column stride) is read in place: each of a micro-tile's rows streams
// sequentially, so packing (a transpose into kMr-interleaved panels, ~1 cycle per element)
// would buy nothing and costs as much as the products when n is small (attention's P·v).
static bool DirectA(const GemmOperand& a) { return a.col_stride == 1; }

// Rows [i0, i0 + mc) of C against panels [jp0, jp1) of a packed B block of nc columns that
// starts at column j0, over k [p0, p0 + kc). ap is the packed A block, unused when DirectA.
static void ComputeBlock(const GemmArgs& g, const float* ap, const float* bp, int64_t p0,
                         int64_t kc, int64_t i0, int64_t mc, int64_t j0, int64_t nc, int64_t jp0,
                         int64_t jp1, bool overwrite) {
  const int64_t nr = Nr();
  const bool direct = DirectA(g.a);
  for (int64_t jp = jp0; jp < jp1; ++jp) {
    const int64_t jr = jp * nr;
    const int64_t n = std::min(nr, nc - jr);
    const float* panel = bp + jr * kc;
    float* c = g.c + i0 * g.ldc + j0 + jr;
    for (int64_t ir = 0; ir < mc; ir += kMr) {
      const int64_t m = std::min(kMr, mc - ir);
      APanel a;
      if (direct) {
        for (int64_t i = 0; i < kMr; ++i)
          a.rows[i] = g.a.data + (i0 + ir + std::min(i, m - 1)) * g.a.row_stride + p0;
        MicroKernel<true>(kc, a, panel, c + ir * g.ldc, g.ldc, m, n, overwrite);
      } else {
        a.rows[0] = ap + ir * kc;
        MicroKernel<false>(kc, a, panel, c + ir * g.ldc, g.ldc, m, n, overwrite);
      }
    }
  }
}

// Handles the shapes with nothing to multiply; true when the product is done.
static bool Trivial(const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return true;
  if (g.k > 0) return false;
  if (!g.accumulate)
    for (int64_t i = 0; i < g.m; ++i) std::fill_n(g.c + i * g.ldc, g.n, 0.0f);
  return true;
}

void GemmSerial(GemmWorkspace& ws, const GemmArgs& g) {
  if (Trivial(g)) return;
  const int64_t nr = Nr();
  const int64_t nc_max = std::min(kNc, CeilDiv(g.n, nr) * nr);
  float* bp = ws.b.get(size_t(nc_max * std::min(kKc, g.k)));
  float* ap = ws.a.get(size_t(kMc * std::min(kKc, g.k)));
  for (int64_t p0 = 0; p0 < g.k; p0 += kKc) {
    const int64_t kc = std::min(kKc, g.k - p0);
    const bool overwrite = !g.accumulate && p0 == 0;
    for (int64_t j0 = 0; j0 < g.n; j0 += kNc) {
      const int64_t nc = std::min(kNc, g.n - j0), n_panels = CeilDiv(nc, nr);
      for (int64_t p = 0; p < n_panels; ++p)
        PackBPanel(g.b, p0, kc, j0 + p * nr, std::min(nr, nc - p * nr), nr, bp + p * nr * kc);
      for (int64_t i0 = 0; i0 < g.m; i0 += kMc) {
        const int64_t mc = std::min(kMc, g.m - i0);
        if (!DirectA(g.a)) PackA(g.a, i0, mc, p0, kc, ap);
        ComputeBlock(g, ap, bp, p0, kc, i0, mc, j0, nc, 0, n_panels, overwrite);
      }
    }
  }
}

void GemmThreaded(ThreadPool& pool, GemmScratch& s, const GemmArgs& g) {
  if (Trivial(g)) return;
  const int threads = pool.size();
  s.reserve_workers(threads);
  if (threads == 1) return GemmSerial(s.worker(0), g);
  const int64_t nr = Nr();
  // Row blocks of near-equal size (multiples of kMr), so equal-sized tasks balance.
  const int64_t m_blocks = CeilDiv(g.m, kMc);
  const int64_t mc_even = std::min(kMc, CeilDiv(CeilDiv(g.m, m_blocks), kMr) * kMr);
  const int64_t n_mblocks = CeilDiv(g.m, mc_even);
  const int64_t nc_max = std::min(kNc, CeilDiv(g.n, nr) * nr);
  float* bp = s.shared_b().get(size_t(nc_max * std::min(kKc, g.k)));
  for (int64_t p0 = 0; p0 < g.k; p0 += kKc) {
    const int64_t kc = std::min(kKc, g.k - p0);
    const bool overwrite = !g.accumulate && p0 == 0;
    for (int64_t j0 = 0; j0 < g.n; j0 += kNc) {
      const int64_t nc = std::min(kNc, g.n - j0), n_panels = CeilDiv(nc, nr);
      pool.run(n_panels, [&](int64_t p, int) {
        PackBPanel(g.b, p0, kc, j0 + p * nr, std::min(nr, nc - p * nr), nr, bp + p * nr * kc);
      });
      // Split the panels too until every thread has the same number of tasks (at least 2).
      int64_t n_split = 1;
      while (n_split < n_panels &&
             (n_mblocks * n_split < 2 * threads || (n_mblocks * n_split) % threads != 0))
        ++n_split;
      pool.run(n_mblocks * n_split, [&](int64_t task, int worker) {
        const int64_t ib = task / n_split, js = task % n_split;
        const int64_t i0 = ib * mc_even, mc = std::min(mc_even, g.m - i0);
        float* ap = s.worker(worker).a.get(size_t(kMc * kKc));
        if (!DirectA(g.a)) PackA(g.a, i0, mc, p0, kc, ap);
        ComputeBlock(g, ap, bp, p0, kc, i0, mc, j0, nc, js * n_panels / n_split,
                     (js + 1) * n_panels / n_split, overwrite);
      });
    }
  }
}

const char* GemmTargetName() { return hwy::TargetName(HWY_TARGET); }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace muse
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace muse {

HWY_EXPORT(GemmThreaded);
HWY_EXPORT(GemmSerial);
HWY_EXPORT(GemmTargetName);

void gemm_f32(ThreadPool& pool, GemmScratch& scratch, const GemmArgs& g) {
  scratch.reserve_workers(pool.size());
  HWY_DYNAMIC_DISPATCH(GemmThreaded)(pool, scratch, g);
}

void gemm_f32_serial(GemmWorkspace& ws, const GemmArgs& g) {
  HWY_DYNAMIC_DISPATCH(GemmSerial)(ws, g);
}

void gemm_f32_ref(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = 0.0;
      for (int64_t k = 0; k < g.k; ++k) {
        sum += double(g.a.data[i * g.a.row_stride + k * g.a.col_stride]) *
               double(g.b.data[k * g.b.row_stride + j * g.b.col_stride]);
      }
      float& c = g.c[i * g.ldc + j];
      c = g.accumulate ? float(double(c) + sum) : float(sum);
    }
  }
}

const char* gemm_f32_target_name() { return HWY_DYNAMIC_DISPATCH(GemmTargetName)(); }

}  // namespace muse
#endif  // HWY_ONCE
