// Forward of the dense block. Matmuls are parallel inside `matmul`; attention splits its
// (token, kv group) work items over the pool; per-token vector ops are cheap and stay on the
// calling thread unless the step is large.
#include "model/blocks/dense.h"

#include <algorithm>

#include "kernels/attention.h"
#include "quant/quant.h"

namespace muse {
namespace {

// Runs fn(t) for every token, in parallel when there are enough tokens to pay for a job.
template <class Fn>
void for_each_token(ThreadPool& pool, int64_t n_tokens, Fn&& fn) {
  if (n_tokens < 4) {
    for (int64_t t = 0; t < n_tokens; ++t) fn(t);
  } else {
    pool.run(n_tokens, [&](int64_t t, int) { fn(t); });
  }
}

}  // namespace

void linear_forward(ThreadPool& pool, MatmulScratch& scratch, const Linear& l, const float* x,
                    int64_t n_tokens, float* y) {
  const Linear* ls[] = {&l};
  linear_forward_multi(pool, scratch, ls, x, n_tokens, {&y, 1});
}

void linear_forward_multi(ThreadPool& pool, MatmulScratch& scratch,
                          std::span<const Linear* const> ls, const float* x, int64_t n_tokens,
                          std::span<float* const> ys) {
  QMatrix ws[4];
  for (size_t i = 0; i < ls.size(); ++i) ws[i] = ls[i]->w;
  matmul_multi(pool, scratch, {ws, ls.size()}, x, n_tokens, ys);
  for (size_t i = 0; i < ls.size(); ++i) {
    if (ls[i]->bias == nullptr) continue;
    const int64_t n = ls[i]->n_out();
    for (int64_t t = 0; t < n_tokens; ++t) add(ys[i] + t * n, ls[i]->bias, ys[i] + t * n, n);
  }
}

void run_matmul_jobs(ThreadPool& pool, MatmulScratch& scratch, std::span<const MatmulJob> jobs) {
  matmul_batch(pool, scratch, jobs);
}

void widen_cached_rows(const StepArgs& s, int64_t il) {
  const KvCacheOptions& o = s.kv.options();
  if (o.type != DType::Q8_0) return;
  const int64_t row = o.k_dim + o.v_dim;
  int64_t total = 0;
  for (const SeqStep& q : s.seqs) total += q.n_past + q.n_tokens;
  s.buf.kv_f32.resize(size_t(total * row));
  float* f = s.buf.kv_f32.data();
  for (const SeqStep& q : s.seqs) {
    const int64_t n_kv = q.n_past + q.n_tokens;
    float* kf = f;
    float* vf = f + n_kv * o.k_dim;
    s.pool.run(n_kv, [&](int64_t p, int) {
      dequantize_row_ref(DType::Q8_0, s.kv.k_at(il, q.pages, p), kf + p * o.k_dim, o.k_dim);
      if (o.v_dim > 0)
        dequantize_row_ref(DType::Q8_0, s.kv.v_at(il, q.pages, p), vf + p * o.v_dim, o.v_dim);
    });
    f += n_kv * row;
  }
}

void set_cached_rows(const StepArgs& s, int64_t il, size_t si, AttentionArgs& a) {
  const KvCacheOptions& o = s.kv.options();
  const int64_t v_stride = o.v_dim > 0 ? o.v_dim : o.k_dim;
  a.k_row_stride = o.k_dim;
  a.v_row_stride = v_stride;
  if (o.type == DType::Q8_0) {
    const float* f = s.buf.kv_f32.data();
    for (size_t i = 0; i < si; ++i)
      f += (s.seqs[i].n_past + s.seqs[i].n_tokens) * (o.k_dim + o.v_dim);
    const int64_t n_kv = s.seqs[si].n_past + s.seqs[si].n_tokens;
    a.k = f;
    a.v = o.v_dim > 0 ? f + n_kv * o.k_dim : f;
    a.kv_type = DType::F32;
    a.page_table = nullptr;
    return;
  }
  a.k = s.kv.k_row(il, 0, 0);
  a.v = o.v_dim > 0 ? s.kv.v_row(il, 0, 0) : a.k;
  a.kv_type = o.type;
  a.page_table = s.seqs[si].pages.data();
  a.page_rows = o.page_size;
  a.page_stride = int64_t(s.kv.page_stride_bytes() / dtype_info(o.type).type_size);
}

void dense_attention_forward(const StepArgs& s, const LayerWeights& w, int64_t il) {
  const ModelConfig& c = s.config;
  StepBuffers& b = s.buf;
  const int64_t T = s.n_tokens, D = c.n_embd, Dh = c.head_dim_k;
  const int64_t q_dim = c.n_head * Dh, kv_dim = c.n_head_kv * Dh;

  for_each_token(s.pool, T,
                 [&](int64_t t) { rms_norm(&b.x[t * D], w.attn_norm, &b.h[t * D], D, c.rms_eps); });
  const Linear* qkv[] = {&w.wq, &w.wk, &w.wv};
  float* qkv_out[] = {b.q.data(), b.k.data(), b.v.data()};
  linear_forward_multi(s.pool, b.matmul, qkv, b.h.data(), T, qkv_out);

  const int64_t rope_stride = rope_table_size(s.rope.n_rot);
  for_each_token(s.pool, T, [&](int64_t t) {
    float* q = &b.q[t * q_dim];
    float* k = &b.k[t * kv_dim];
    if (w.q_norm != nullptr) {
      for (int64_t h = 0; h < c.n_head; ++h)
        rms_norm(q + h * Dh, w.q_norm, q + h * Dh, Dh, c.rms_eps);
      for (int64_t h = 0; h < c.n_head_kv; ++h)
        rms_norm(k + h * Dh, w.k_norm, k + h * Dh, Dh, c.rms_eps);
    }
    const float* table = &b.rope[t * rope_stride];
    rope_apply(s.rope, table, q, c.n_head, Dh, Dh);
    rope_apply(s.rope, table, k, c.n_head_kv, Dh, Dh);
    const std::span<const int32_t> pages = s.seqs[size_t(b.seq[t])].pages;
    s.kv.store(s.kv.k_at(il, pages, b.pos[t]), k, kv_dim);
    s.kv.store(s.kv.v_at(il, pages, b.pos[t]), &b.v[t * kv_dim], kv_dim);
  });

  // One attention problem per sequence, over its own pages.
  widen_cached_rows(s, il);
  std::vector<AttentionArgs>& args = b.attn_args;
  args.resize(s.seqs.size());
  for (size_t si = 0; si < s.seqs.size(); ++si) {
    const SeqStep& q = s.seqs[si];
    const int64_t t0 = b.first[si];
    AttentionArgs& a = args[si];
    a = AttentionArgs{.n_tokens = q.n_tokens,
                      .n_head = c.n_head,
                      .n_head_kv = c.n_head_kv,
                      .head_dim = Dh,
                      .n_kv = q.n_past + q.n_tokens,
                      .q = &b.q[t0 * q_dim],
                      .out = &b.attn[t0 * q_dim],
                      .pos = &b.pos[t0]};
    set_cached_rows(s, il, si, a);
  }
  // One task per (token, kv group): the group's query heads share each K/V load.
  const int64_t group = c.n_head / c.n_head_kv;
  s.pool.run(T * c.n_head_kv, [&](int64_t task, int) {
    const int64_t t = task / c.n_head_kv, g = task % c.n_head_kv;
    const size_t si = size_t(b.seq[t]);
    const int64_t item = (t - b.first[si]) * c.n_head + g * group;
    attention(args[si], item, item + group);
  });

  linear_forward(s.pool, b.matmul, w.wo, b.attn.data(), T, b.h.data());
  add(b.x.data(), b.h.data(), b.x.data(), T * D);
}

void dense_ffn_forward(const StepArgs& s, const LayerWeights& w) {
  const ModelConfig& c = s.config;
  StepBuffers& b = s.buf;
  const int64_t T = s.n_tokens, D = c.n_embd, F = c.n_ff;
  for_each_token(s.pool, T,
                 [&](int64_t t) { rms_norm(&b.x[t * D], w.ffn_norm, &b.h[t * D], D, c.rms_eps); });
  const Linear* gate_up[] = {&w.ffn_gate, &w.ffn_up};
  float* gate_up_out[] = {b.gate.data(), b.up.data()};
  linear_forward_multi(s.pool, b.matmul, gate_up, b.h.data(), T, gate_up_out);
  for_each_token(s.pool, T,
                 [&](int64_t t) { swiglu(&b.gate[t * F], &b.up[t * F], &b.gate[t * F], F); });
  linear_forward(s.pool, b.matmul, w.ffn_down, b.gate.data(), T, b.h.data());
  add(b.x.data(), b.h.data(), b.x.data(), T * D);
}

}  // namespace muse
