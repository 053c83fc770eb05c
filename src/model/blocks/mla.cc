// Forward of multi-head latent attention. Shapes: T tokens, H heads, N qk_nope, R qk_rope,
// C kv_lora_rank, Dv head_dim_v; a sequence with P cached positions after the step.
#include "model/blocks/mla.h"

#include <algorithm>

#include "kernels/attention.h"
#include "quant/quant.h"

namespace muse {
namespace {

// Row p of a sequence's latent cache, as set_cached_rows pointed `a` at it.
const void* latent_row(const AttentionArgs& a, int64_t p) {
  const size_t elem = a.kv_type == DType::F32 ? 4 : 2;
  const int64_t at = a.page_table == nullptr
                         ? p * a.k_row_stride
                         : int64_t(a.page_table[p / a.page_rows]) * a.page_stride +
                               (p % a.page_rows) * a.k_row_stride;
  return static_cast<const uint8_t*>(a.k) + size_t(at) * elem;
}

// Elements [first, first + n) of cached latent row p as floats.
void read_latent(const AttentionArgs& a, int64_t p, int64_t first, int64_t n, float* out) {
  const void* row = latent_row(a, p);
  if (a.kv_type == DType::F32) {
    std::copy_n(static_cast<const float*>(row) + first, n, out);
  } else {
    dequantize_row_ref(DType::F16, static_cast<const uint8_t*>(row) + first * 2, out, n);
  }
}

// The absorbed path for the step tokens `toks` (whole sequences, in step order); n = |toks|
// columns per product.
void absorbed(const StepArgs& s, const LayerWeights& lw, std::span<const int32_t> toks) {
  const ModelConfig& c = s.config;
  StepBuffers& b = s.buf;
  MlaBuffers& m = b.mla;
  const int64_t n = int64_t(toks.size()), H = c.n_head, N = c.qk_nope(), R = c.n_rot;
  const int64_t C = c.kv_lora_rank, Dv = c.head_dim_v, Dq = N + R;
  const MlaWeights& w = lw.mla;

  // q_abs[h] = W_uk,h^T q_nope,h: one product per head over the tokens.
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(&b.q[(toks[i] * H + h) * Dq], N, &m.head_in[(h * n + i) * N]);
  m.jobs.clear();
  for (int64_t h = 0; h < H; ++h) {
    const QMatrix wk = MoeWeights::expert(w.wk_b_t, h, C);
    m.jobs.push_back({wk, &m.head_in[h * n * N], n, &m.head_out[h * n * C]});
  }
  run_matmul_jobs(s.pool, b.matmul, m.jobs);
  // Latent-space queries [n][H][C + R]: the folded q_nope, then the rotated q_rope.
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t h = 0; h < H; ++h) {
      float* q = &m.q_lat[(i * H + h) * (C + R)];
      std::copy_n(&m.head_out[(h * n + i) * C], C, q);
      std::copy_n(&b.q[(toks[i] * H + h) * Dq + N], R, q + C);
    }
  }

  // Each sequence attends over its own latent rows; its queries start at compact index i0.
  std::vector<AttentionArgs>& args = b.attn_args;
  for (int64_t i = 0; i < n;) {
    const size_t si = size_t(b.seq[toks[i]]);
    AttentionArgs& a = args[si];
    a.n_head = H;
    a.n_head_kv = 1;
    a.head_dim = C + R;
    a.head_dim_v = C;  // the latent is the value too: first C of each row
    a.q = &m.q_lat[i * H * (C + R)];
    a.out = &m.lat[i * H * C];
    a.scale = c.kq_scale();
    i += s.seqs[si].n_tokens;
  }
  // Heads of a token share every latent row load, so a token's heads stay together except
  // when there are too few tokens to occupy the pool (decode): then each thread takes a
  // contiguous slice of heads.
  const int64_t splits = std::clamp<int64_t>(s.pool.size() / n, 1, H);
  s.pool.run(n * splits, [&](int64_t task, int) {
    const int64_t i = task / splits, part = task % splits;
    const int64_t t = toks[i];
    const size_t si = size_t(b.seq[t]);
    const int64_t item = (t - b.first[si]) * H;
    attention(args[si], item + part * H / splits, item + (part + 1) * H / splits);
  });

  // out_h = W_uv,h · latent_h, per head.
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(&m.lat[(i * H + h) * C], C, &m.head_out[(h * n + i) * C]);
  m.jobs.clear();
  const size_t kv_b_row = row_bytes(w.wkv_b.type, C);
  for (int64_t h = 0; h < H; ++h) {
    const QMatrix wv{
        .type = w.wkv_b.type,
        .data = static_cast<const uint8_t*>(w.wkv_b.data) + size_t(h * (N + Dv) + N) * kv_b_row,
        .n_rows = Dv,
        .n_k = C,
        .layout = w.wkv_b.layout};  // tiled only when these slices start on whole tiles
    m.jobs.push_back({wv, &m.head_out[h * n * C], n, &m.head_in[h * n * Dv]});
  }
  run_matmul_jobs(s.pool, b.matmul, m.jobs);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < H; ++h)
      std::copy_n(&m.head_in[(h * n + i) * Dv], Dv, &b.attn[(toks[i] * H + h) * Dv]);
}

// The decompressed path for sequence si.
void decompressed(const StepArgs& s, const LayerWeights& lw, size_t si) {
  const ModelConfig& c = s.config;
  StepBuffers& b = s.buf;
  MlaBuffers& m = b.mla;
  const SeqStep& seq = s.seqs[si];
  const int64_t T = seq.n_tokens, t0 = b.first[si], H = c.n_head, N = c.qk_nope(), R = c.n_rot;
  const int64_t C = c.kv_lora_rank, Dv = c.head_dim_v, Dq = N + R, n_kv = seq.n_past + T;
  const MlaWeights& w = lw.mla;
  const AttentionArgs& rows = b.attn_args[si];

  // Every cached latent as floats, then [W_uk c ; W_uv c] per head for all positions.
  m.c_all.resize(size_t(n_kv * C));
  m.kv_all.resize(size_t(n_kv * H * (N + Dv)));
  m.k_all.resize(size_t(n_kv * H * Dq));
  m.v_all.resize(size_t(n_kv * H * Dv));
  s.pool.run(n_kv, [&](int64_t p, int) { read_latent(rows, p, 0, C, &m.c_all[p * C]); });
  matmul(s.pool, b.matmul, w.wkv_b, m.c_all.data(), n_kv, m.kv_all.data());
  s.pool.run(n_kv, [&](int64_t p, int) {
    float kr[kAttentionMaxHeadDim];
    read_latent(rows, p, C, R, kr);
    for (int64_t h = 0; h < H; ++h) {
      const float* src = &m.kv_all[(p * H + h) * (N + Dv)];
      float* k = &m.k_all[(p * H + h) * Dq];
      std::copy_n(src, N, k);
      std::copy_n(kr, R, k + N);
      std::copy_n(src + N, Dv, &m.v_all[(p * H + h) * Dv]);
    }
  });

  const AttentionArgs a{.n_tokens = T,
                        .n_head = H,
                        .n_head_kv = H,
                        .head_dim = Dq,
                        .head_dim_v = Dv,
                        .n_kv = n_kv,
                        .q = &b.q[t0 * H * Dq],
                        .k = m.k_all.data(),
                        .v = m.v_all.data(),
                        .out = &b.attn[t0 * H * Dv],
                        .pos = &b.pos[t0],
                        .kv_type = DType::F32,
                        .scale = c.kq_scale()};
  s.pool.run(T * H, [&](int64_t task, int) { attention(a, task, task + 1); });
}

}  // namespace

void mla_attention_forward(const StepArgs& s, const LayerWeights& lw, int64_t il, MlaMode mode) {
  const ModelConfig& c = s.config;
  StepBuffers& b = s.buf;
  MlaBuffers& m = b.mla;
  const MlaWeights& w = lw.mla;
  const int64_t T = s.n_tokens, D = c.n_embd, H = c.n_head, N = c.qk_nope(), R = c.n_rot;
  const int64_t C = c.kv_lora_rank, Dq = N + R;

  for (int64_t t = 0; t < T; ++t) rms_norm(&b.x[t * D], lw.attn_norm, &b.h[t * D], D, c.rms_eps);
  if (c.q_lora_rank > 0) {
    const Linear* in[] = {&w.wq_a, &w.wkv_a};
    float* out[] = {m.q_a.data(), m.kv_a.data()};
    linear_forward_multi(s.pool, b.matmul, in, b.h.data(), T, out);
    const int64_t Q = c.q_lora_rank;
    for (int64_t t = 0; t < T; ++t)
      rms_norm(&m.q_a[t * Q], w.q_a_norm, &m.q_a[t * Q], Q, c.rms_eps);
    linear_forward(s.pool, b.matmul, w.wq_b, m.q_a.data(), T, b.q.data());
  } else {
    const Linear* in[] = {&w.wq, &w.wkv_a};
    float* out[] = {b.q.data(), m.kv_a.data()};
    linear_forward_multi(s.pool, b.matmul, in, b.h.data(), T, out);
  }

  const int64_t rope_stride = rope_table_size(s.rope.n_rot);
  for (int64_t t = 0; t < T; ++t) {
    const float* table = &b.rope[t * rope_stride];
    rope_apply(s.rope, table, &b.q[t * H * Dq + N], H, R, Dq);
    float* kv = &m.kv_a[t * (C + R)];
    rms_norm(kv, w.kv_a_norm, kv, C, c.rms_eps);
    rope_apply(s.rope, table, kv + C, 1, R, R);
    s.kv.store(s.kv.k_at(il, s.seqs[size_t(b.seq[t])].pages, b.pos[t]), kv, C + R);
  }

  // Per sequence: where its latent rows are, and which path it takes.
  const auto decompress = [&](const SeqStep& q) {
    return mode == MlaMode::kDecompressed ||
           (mode == MlaMode::kAuto && q.n_tokens >= kMlaDecompressMinTokens);
  };
  widen_cached_rows(s, il);
  b.attn_args.resize(s.seqs.size());
  m.toks.clear();
  for (size_t si = 0; si < s.seqs.size(); ++si) {
    const SeqStep& q = s.seqs[si];
    AttentionArgs& a = b.attn_args[si];
    a = AttentionArgs{
        .n_tokens = q.n_tokens, .n_kv = q.n_past + q.n_tokens, .pos = &b.pos[b.first[si]]};
    set_cached_rows(s, il, si, a);
    if (!decompress(q))
      for (int64_t t = 0; t < q.n_tokens; ++t) m.toks.push_back(int32_t(b.first[si] + t));
  }
  if (!m.toks.empty()) absorbed(s, lw, m.toks);
  for (size_t si = 0; si < s.seqs.size(); ++si)
    if (decompress(s.seqs[si])) decompressed(s, lw, si);
  linear_forward(s.pool, b.matmul, lw.wo, b.attn.data(), T, b.h.data());
  add(b.x.data(), b.h.data(), b.x.data(), T * D);
}

}  // namespace muse
