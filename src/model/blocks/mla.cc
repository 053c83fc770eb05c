// Forward of multi-head latent attention. Shapes: T tokens, H heads, N qk_nope, R qk_rope,
// C kv_lora_rank, Dv head_dim_v, P = n_past + T cached positions.
#include "model/blocks/mla.h"

#include <algorithm>

#include "kernels/attention.h"
#include "quant/quant.h"

namespace muse {
namespace {

// The layer's cache rows as floats: F32/F16 rows are read in place, Q8_0 rows are widened
// once per step into b.kv_f32.
struct LatentRows {
  const void* data;
  DType type;
};

// Elements [first, first + n) of cached row p (rows `row_len` wide) as floats.
void read_latent(const LatentRows& rows, int64_t row_len, int64_t p, int64_t first, int64_t n,
                 float* out) {
  const int64_t at = p * row_len + first;
  if (rows.type == DType::F32) {
    std::copy_n(static_cast<const float*>(rows.data) + at, n, out);
  } else {
    dequantize_row_ref(DType::F16, static_cast<const uint8_t*>(rows.data) + at * 2, out, n);
  }
}

LatentRows latent_rows(const StepArgs& s, int64_t il, int64_t n_kv) {
  const int64_t row = s.kv.options().k_dim;
  if (s.kv.options().type != DType::Q8_0) return {s.kv.k_base(il), s.kv.options().type};
  float* f = s.buf.kv_f32.data();
  s.pool.run(n_kv, [&](int64_t p, int) {
    dequantize_row_ref(DType::Q8_0, s.kv.k_row(il, p), f + p * row, row);
  });
  return {f, DType::F32};
}

void absorbed(const StepArgs& s, const LayerWeights& lw, int64_t il) {
  const ModelConfig& c = s.config;
  StepBuffers& b = s.buf;
  MlaBuffers& m = b.mla;
  const int64_t T = s.n_tokens, H = c.n_head, N = c.qk_nope(), R = c.n_rot;
  const int64_t C = c.kv_lora_rank, Dv = c.head_dim_v, Dq = N + R, n_kv = s.n_past + T;
  const MlaWeights& w = lw.mla;

  // q_abs[h] = W_uk,h^T q_nope,h: one product per head over the step's tokens.
  for (int64_t h = 0; h < H; ++h)
    for (int64_t t = 0; t < T; ++t)
      std::copy_n(&b.q[(t * H + h) * Dq], N, &m.head_in[(h * T + t) * N]);
  m.jobs.clear();
  for (int64_t h = 0; h < H; ++h) {
    const QMatrix wk = MoeWeights::expert(w.wk_b_t, h, C);
    m.jobs.push_back({wk, &m.head_in[h * T * N], T, &m.head_out[h * T * C]});
  }
  run_matmul_jobs(s.pool, b.matmul, m.jobs);
  // Latent-space queries [T][H][C + R]: the folded q_nope, then the rotated q_rope.
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      float* q = &m.q_lat[(t * H + h) * (C + R)];
      std::copy_n(&m.head_out[(h * T + t) * C], C, q);
      std::copy_n(&b.q[(t * H + h) * Dq + N], R, q + C);
    }
  }

  const LatentRows rows = latent_rows(s, il, n_kv);
  const AttentionArgs a{.n_tokens = T,
                        .n_head = H,
                        .n_head_kv = 1,
                        .head_dim = C + R,
                        .head_dim_v = C,
                        .n_kv = n_kv,
                        .q = m.q_lat.data(),
                        .k = rows.data,
                        .v = rows.data,  // the latent is the value too: first C of each row
                        .out = m.lat.data(),
                        .pos = b.pos.data(),
                        .kv_type = rows.type,
                        .k_row_stride = C + R,
                        .v_row_stride = C + R,
                        .scale = c.kq_scale()};
  // Heads of a token share every latent row load, so a token's heads stay together except
  // when there are too few tokens to occupy the pool (decode): then each thread takes a
  // contiguous slice of heads.
  const int64_t splits = std::clamp<int64_t>(s.pool.size() / T, 1, H);
  s.pool.run(T * splits, [&](int64_t task, int) {
    const int64_t t = task / splits, part = task % splits;
    attention(a, t * H + part * H / splits, t * H + (part + 1) * H / splits);
  });

  // out_h = W_uv,h · latent_h, per head.
  for (int64_t h = 0; h < H; ++h)
    for (int64_t t = 0; t < T; ++t)
      std::copy_n(&m.lat[(t * H + h) * C], C, &m.head_out[(h * T + t) * C]);
  m.jobs.clear();
  const size_t kv_b_row = row_bytes(w.wkv_b.type, C);
  for (int64_t h = 0; h < H; ++h) {
    const QMatrix wv{
        .type = w.wkv_b.type,
        .data = static_cast<const uint8_t*>(w.wkv_b.data) + size_t(h * (N + Dv) + N) * kv_b_row,
        .n_rows = Dv,
        .n_k = C};
    m.jobs.push_back({wv, &m.head_out[h * T * C], T, &m.head_in[h * T * Dv]});
  }
  run_matmul_jobs(s.pool, b.matmul, m.jobs);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      std::copy_n(&m.head_in[(h * T + t) * Dv], Dv, &b.attn[(t * H + h) * Dv]);
}

void decompressed(const StepArgs& s, const LayerWeights& lw, int64_t il) {
  const ModelConfig& c = s.config;
  StepBuffers& b = s.buf;
  MlaBuffers& m = b.mla;
  const int64_t T = s.n_tokens, H = c.n_head, N = c.qk_nope(), R = c.n_rot;
  const int64_t C = c.kv_lora_rank, Dv = c.head_dim_v, Dq = N + R, n_kv = s.n_past + T;
  const MlaWeights& w = lw.mla;

  // Every cached latent as floats, then [W_uk c ; W_uv c] per head for all positions.
  m.c_all.resize(size_t(n_kv * C));
  m.kv_all.resize(size_t(n_kv * H * (N + Dv)));
  m.k_all.resize(size_t(n_kv * H * Dq));
  m.v_all.resize(size_t(n_kv * H * Dv));
  const LatentRows rows = latent_rows(s, il, n_kv);
  s.pool.run(n_kv, [&](int64_t p, int) { read_latent(rows, C + R, p, 0, C, &m.c_all[p * C]); });
  matmul(s.pool, b.matmul, w.wkv_b, m.c_all.data(), n_kv, m.kv_all.data());
  s.pool.run(n_kv, [&](int64_t p, int) {
    float kr[kAttentionMaxHeadDim];
    read_latent(rows, C + R, p, C, R, kr);
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
                        .q = b.q.data(),
                        .k = m.k_all.data(),
                        .v = m.v_all.data(),
                        .out = b.attn.data(),
                        .pos = b.pos.data(),
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
    s.kv.store(s.kv.k_row(il, s.n_past + t), kv, C + R);
  }

  const bool decompress =
      mode == MlaMode::kDecompressed || (mode == MlaMode::kAuto && T >= kMlaDecompressMinTokens);
  if (decompress) {
    decompressed(s, lw, il);
  } else {
    absorbed(s, lw, il);
  }
  linear_forward(s.pool, b.matmul, lw.wo, b.attn.data(), T, b.h.data());
  add(b.x.data(), b.h.data(), b.x.data(), T * D);
}

}  // namespace muse
