// Per (sequence, head) task: row blocks of S = q·kᵀ over the unmasked columns only, the
// softmax in place in the saved probabilities, then O = P·v; backward mirrors it with row
// blocks for dP and dq and column blocks for dv and dk (a key row j only meets queries >= j).
#include "train/ops/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"

namespace muse {
namespace {

constexpr int64_t kBlock = 64;  // query rows per product: masked work wasted < 1/8 at L = 256

float resolved_scale(const AttentionDims& d) {
  return d.scale != 0.0f ? d.scale : float(1.0 / std::sqrt(double(d.dim_nope + d.dim_rope)));
}

// Element 0 of token t, head h.
const float* at(const HeadsIn& x, int64_t t, int64_t h) {
  return x.data + t * x.token_stride + h * x.head_stride;
}
float* at(const HeadsOut& x, int64_t t, int64_t h) {
  return x.data + t * x.token_stride + h * x.head_stride;
}

// Per-worker scratch of a (sequence, head) task, carved from AttentionSaved::work.
struct HeadScratch {
  float* dS;  // [L][L] backward: dP, then dS in place
  float* k;   // forward: [Dq][L] the head's keys transposed (q·kᵀ's B then packs by rows);
              // backward: [L][Dq] the keys as rows (dq = dS·k in one product)
  float* vt;  // [Dv][L] backward: values transposed (dP = dO·vᵀ)
  float* dk;  // [L][Dq] backward: dk = dSᵀ·q in one product, then split nope / rope
};

int64_t head_scratch_size(const AttentionDims& d) {
  const int64_t L = d.seq_len, Dq = d.dim_nope + d.dim_rope;
  return L * L + 2 * L * Dq + d.dim_v * L;
}

HeadScratch head_scratch(const AttentionDims& d, float* base) {
  const int64_t L = d.seq_len, Dq = d.dim_nope + d.dim_rope;
  return {base, base + L * L, base + L * L + L * Dq, base + L * L + L * Dq + d.dim_v * L};
}

// Head h's keys [k_nope ; k_rope] for the sequence starting at token t0, joined so q·kᵀ is one
// product over N + R: as rows (out[j * Dq + i]) or transposed (out[i * L + j]).
void gather_keys(const AttentionDims& d, const AttentionInputs& in, int64_t t0, int64_t h,
                 bool transposed, float* out) {
  const int64_t L = d.seq_len, N = d.dim_nope, R = d.dim_rope, Dq = N + R;
  // A part of width 0 may come with null data: never form its pointers.
  for (int64_t j = 0; j < L; ++j) {
    if (N > 0) {
      const float* kn = at(in.k_nope, t0 + j, h);
      for (int64_t i = 0; i < N; ++i) (transposed ? out[i * L + j] : out[j * Dq + i]) = kn[i];
    }
    if (R > 0) {
      const float* kr = at(in.k_rope, t0 + j, 0);
      for (int64_t i = 0; i < R; ++i)
        (transposed ? out[(N + i) * L + j] : out[j * Dq + N + i]) = kr[i];
    }
  }
}

void forward_head(GemmWorkspace& ws, const AttentionDims& d, const AttentionInputs& in,
                  HeadsOut out, float* P, const HeadScratch& sc, int64_t b, int64_t h) {
  const int64_t L = d.seq_len, t0 = b * L, Dq = d.dim_nope + d.dim_rope;
  const float scale = resolved_scale(d);
  gather_keys(d, in, t0, h, /*transposed=*/true, sc.k);
  for (int64_t i0 = 0; i0 < L; i0 += kBlock) {
    const int64_t i1 = std::min(L, i0 + kBlock), rows = i1 - i0;
    float* S = P + i0 * L;
    // S[i0:i1, 0:i1] = q·kᵀ (columns past i1 are all masked).
    gemm_f32_serial(ws, {.m = rows,
                         .n = i1,
                         .k = Dq,
                         .a = gemm_rows(at(in.q, t0 + i0, h), in.q.token_stride),
                         .b = gemm_rows(sc.k, L),
                         .c = S,
                         .ldc = L});
    for (int64_t i = i0; i < i1; ++i) {
      float* row = P + i * L;
      muse::scale(row, scale, i + 1);
      softmax(row, i + 1);
      std::fill(row + i + 1, row + L, 0.0f);
    }
    gemm_f32_serial(ws, {.m = rows,
                         .n = d.dim_v,
                         .k = i1,
                         .a = gemm_rows(S, L),
                         .b = gemm_rows(at(in.v, t0, h), in.v.token_stride),
                         .c = at(out, t0 + i0, h),
                         .ldc = out.token_stride});
  }
}

// dS rows [i0, i1) of one head from dP (already in dS): dS = scale·P∘(dP − rowsum(P∘dP)),
// zero above the diagonal, so column blocks of dSᵀ can run over whole rows.
void softmax_backward_rows(const float* P, float* dS, int64_t L, int64_t i0, int64_t i1,
                           float scale) {
  for (int64_t i = i0; i < i1; ++i) {
    const float* p = P + i * L;
    float* g = dS + i * L;
    const float delta = dot_f32(p, g, i + 1);
    for (int64_t j = 0; j <= i; ++j) g[j] = scale * p[j] * (g[j] - delta);
    std::fill(g + i + 1, g + L, 0.0f);
  }
}

void backward_head(GemmWorkspace& ws, const AttentionDims& d, const AttentionInputs& in,
                   const HeadsIn& dout, const float* P, const HeadScratch& sc, float* dkr_part,
                   const AttentionGrads& g, int64_t b, int64_t h) {
  const int64_t L = d.seq_len, t0 = b * L, N = d.dim_nope, R = d.dim_rope, Dv = d.dim_v;
  const int64_t Dq = N + R;
  const float scale = resolved_scale(d);
  gather_keys(d, in, t0, h, /*transposed=*/false, sc.k);
  for (int64_t j = 0; j < L; ++j) {
    const float* v = at(in.v, t0 + j, h);
    for (int64_t i = 0; i < Dv; ++i) sc.vt[i * L + j] = v[i];
  }
  // Row blocks: dP = dO·vᵀ (causal columns only), then dS, then dq = dS·k.
  for (int64_t i0 = 0; i0 < L; i0 += kBlock) {
    const int64_t i1 = std::min(L, i0 + kBlock), rows = i1 - i0;
    gemm_f32_serial(ws, {.m = rows,
                         .n = i1,
                         .k = Dv,
                         .a = gemm_rows(at(dout, t0 + i0, h), dout.token_stride),
                         .b = gemm_rows(sc.vt, L),
                         .c = sc.dS + i0 * L,
                         .ldc = L});
    softmax_backward_rows(P, sc.dS, L, i0, i1, scale);
    gemm_f32_serial(ws, {.m = rows,
                         .n = Dq,
                         .k = i1,
                         .a = gemm_rows(sc.dS + i0 * L, L),
                         .b = gemm_rows(sc.k, Dq),
                         .c = at(g.dq, t0 + i0, h),
                         .ldc = g.dq.token_stride});
  }
  // Column blocks: key/value rows [j0, j1) get contributions from query rows j0..L-1 only.
  for (int64_t j0 = 0; j0 < L; j0 += kBlock) {
    const int64_t j1 = std::min(L, j0 + kBlock), rows = j1 - j0, k = L - j0;
    gemm_f32_serial(ws, {.m = rows,
                         .n = Dv,
                         .k = k,
                         .a = gemm_transposed(P + j0 * L + j0, L),
                         .b = gemm_rows(at(dout, t0 + j0, h), dout.token_stride),
                         .c = at(g.dv, t0 + j0, h),
                         .ldc = g.dv.token_stride});
    gemm_f32_serial(ws, {.m = rows,
                         .n = Dq,
                         .k = k,
                         .a = gemm_transposed(sc.dS + j0 * L + j0, L),
                         .b = gemm_rows(at(in.q, t0 + j0, h), in.q.token_stride),
                         .c = sc.dk + j0 * Dq,
                         .ldc = Dq});
  }
  for (int64_t j = 0; j < L; ++j) {
    if (N > 0) std::copy_n(sc.dk + j * Dq, N, at(g.dk_nope, t0 + j, h));
    if (R > 0) std::copy_n(sc.dk + j * Dq + N, R, dkr_part + j * R);
  }
}

}  // namespace

void attention_forward(ThreadPool& pool, GemmScratch& scratch, const AttentionDims& d,
                       const AttentionInputs& in, HeadsOut out, AttentionSaved& saved) {
  const int64_t L = d.seq_len, H = d.n_head, per_worker = head_scratch_size(d);
  saved.probs.resize(size_t(d.n_seq * H * L * L));
  saved.work.resize(std::max(saved.work.size(), size_t(pool.size() * per_worker)));
  scratch.reserve_workers(pool.size());
  pool.run(d.n_seq * H, [&](int64_t task, int worker) {
    const int64_t b = task / H, h = task % H;
    forward_head(scratch.worker(worker), d, in, out, &saved.probs[size_t(task * L * L)],
                 head_scratch(d, &saved.work[size_t(worker * per_worker)]), b, h);
  });
}

void attention_backward(ThreadPool& pool, GemmScratch& scratch, const AttentionDims& d,
                        const AttentionInputs& in, HeadsIn dout, AttentionSaved& saved,
                        const AttentionGrads& g) {
  const int64_t L = d.seq_len, H = d.n_head, R = d.dim_rope;
  const int64_t per_worker = head_scratch_size(d), n_part = d.n_seq * H * L * R;
  saved.work.resize(size_t(pool.size() * per_worker + n_part));
  float* parts = saved.work.data() + pool.size() * per_worker;  // [B][H][L][R]
  scratch.reserve_workers(pool.size());
  pool.run(d.n_seq * H, [&](int64_t task, int worker) {
    const int64_t b = task / H, h = task % H;
    backward_head(scratch.worker(worker), d, in, dout, &saved.probs[size_t(task * L * L)],
                  head_scratch(d, &saved.work[size_t(worker * per_worker)]), parts + task * L * R,
                  g, b, h);
  });
  if (R == 0) return;
  // dk_rope = Σ_h of the per-head parts, in head order (deterministic).
  for_chunks(pool, d.n_seq * L, 16, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / L, i = t % L;
      float* dst = g.dk_rope.data + t * g.dk_rope.token_stride;
      std::copy_n(parts + (b * H * L + i) * R, R, dst);
      for (int64_t h = 1; h < H; ++h) add(dst, parts + ((b * H + h) * L + i) * R, dst, R);
    }
  });
}

}  // namespace muse
