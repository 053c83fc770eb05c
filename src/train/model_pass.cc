// TrainModel's forward and backward pass: the layer equations of train/model.h, each step an
// op of train/ops/, the backward in exact reverse order. Buffers live in TrainModelImpl and
// are reused across steps; a tensor read by two consumers (the residual stream, a layer's
// normed input) gets its gradient as a write then an accumulate.
#include <cinttypes>

#include "train/model_impl.h"
#include "train/ops/cross_entropy.h"
#include "train/ops/embedding.h"
#include "train/ops/linear.h"
#include "train/ops/swiglu.h"

namespace muse {
namespace {

float* grow(std::vector<float>& v, int64_t n) {
  if (v.size() < size_t(n)) v.resize(size_t(n));
  return v.data();
}

// y [T][n_out] = x [T][n_in] · Wᵀ.
void lin(ThreadPool& pool, GemmScratch& g, const float* x, int64_t T, int64_t n_in, const float* w,
         int64_t n_out, float* y) {
  linear_forward(pool, g, {.n_tokens = T, .n_in = n_in, .n_out = n_out, .x = x, .w = w}, y);
}

// Given dy: dx (=|+=) dy·W when dx is not null, dW += dyᵀ·x.
void lin_back(ThreadPool& pool, GemmScratch& g, const float* x, int64_t T, int64_t n_in,
              const float* w, float* dw, int64_t n_out, const float* dy, float* dx, GradMode mode) {
  linear_backward(pool, g, {.n_tokens = T, .n_in = n_in, .n_out = n_out, .x = x, .w = w}, dy,
                  {.dx = dx, .dx_mode = mode, .dw = dw});
}

void add_into(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

RouterParams router_params(const GenModelOptions& o, const TrainDims& d, const float* bias) {
  return {.n_expert = d.E,
          .n_used = d.K,
          .gating = o.expert_gating,
          .norm = o.expert_weights_norm,
          .scale = o.expert_weights_scale,
          .bias = bias};
}

struct Pass {
  TrainModelImpl& m;
  ThreadPool& pool;
  const TrainDims& d;
  int64_t T;        // tokens of the batch
  int64_t seq_len;  // tokens of one row

  // RMSNorm over the batch's rows of x (ldx apart; 0 = dense) with the weight w; its width is
  // the weight's.
  RmsNormArgs norm(const float* x, const TrainParam& w, int64_t ldx = 0) const {
    return {.n_rows = T,
            .width = int64_t(w.value.size()),
            .x = x,
            .weight = w.value.data(),
            .eps = d.eps,
            .ldx = ldx};
  }

  // ---- forward ----

  void attention_forward_layer(const LayerParams& L, LayerActs& a) {
    const int64_t D = d.D, H = d.H, N = d.N, R = d.R, C = d.C, Dv = d.Dv, QW = H * (N + R);
    rms_norm_forward(pool, norm(a.x_in.data(), *L.attn_norm), grow(a.h1, T * D), a.n1);
    if (d.Q > 0) {
      lin(pool, m.gemm, a.h1.data(), T, D, L.q_a->value.data(), d.Q, grow(a.qa, T * d.Q));
      rms_norm_forward(pool, norm(a.qa.data(), *L.q_a_norm), grow(a.qan, T * d.Q), a.nq);
      lin(pool, m.gemm, a.qan.data(), T, d.Q, L.q_b->value.data(), QW, grow(a.q, T * QW));
    } else {
      lin(pool, m.gemm, a.h1.data(), T, D, L.q->value.data(), QW, grow(a.q, T * QW));
    }
    lin(pool, m.gemm, a.h1.data(), T, D, L.kv_a->value.data(), C + R, grow(a.kva, T * (C + R)));
    rms_norm_forward(pool, norm(a.kva.data(), *L.kv_a_norm, C + R), grow(a.ckvn, T * C), a.nkv);
    lin(pool, m.gemm, a.ckvn.data(), T, C, L.kv_b->value.data(), H * (N + Dv),
        grow(a.kvb, T * H * (N + Dv)));
    rope_forward(m.rope, a.q.data() + N, H, QW, N + R);
    rope_forward(m.rope, a.kva.data() + C, 1, C + R, R);
    attention_forward(pool, m.gemm, dims(), inputs(a), {grow(a.o, T * H * Dv), H * Dv, Dv}, a.att);
    lin(pool, m.gemm, a.o.data(), T, H * Dv, L.out->value.data(), D, grow(m.tmp, T * D));
    a.x_mid.assign(a.x_in.begin(), a.x_in.begin() + T * D);
    add_into(a.x_mid.data(), m.tmp.data(), T * D);
  }

  AttentionDims dims() const {
    return {.n_seq = T / seq_len,
            .seq_len = seq_len,
            .n_head = d.H,
            .dim_nope = d.N,
            .dim_rope = d.R,
            .dim_v = d.Dv,
            .scale = d.scale};
  }
  AttentionInputs inputs(const LayerActs& a) const {
    const int64_t H = d.H, N = d.N, R = d.R, C = d.C, Dv = d.Dv;
    return {.q = {a.q.data(), H * (N + R), N + R},
            .k_nope = {a.kvb.data(), H * (N + Dv), N + Dv},
            .k_rope = {a.kva.data() + C, C + R, 0},
            .v = {a.kvb.data() + N, H * (N + Dv), N + Dv}};
  }

  // x_out = x_mid + FFN(RMSNorm(x_mid)), into `x`.
  void ffn_forward_layer(const LayerParams& L, LayerActs& a, int64_t moe_index, float* x) {
    const int64_t D = d.D;
    rms_norm_forward(pool, norm(a.x_mid.data(), *L.ffn_norm), grow(a.h2, T * D), a.n2);
    std::copy_n(a.x_mid.data(), T * D, x);
    if (!L.moe()) {
      swiglu_ffn(a.h2.data(), T, L.gate, L.up, L.down, d.F, a.fg, a.fu, a.fa, x);
      return;
    }
    const int64_t E = d.E, K = d.K, Fe = d.Fe;
    lin(pool, m.gemm, a.h2.data(), T, D, L.router->value.data(), E, grow(a.logits, T * E));
    router_forward(router_params(m.opts, d, L.sel_bias ? L.sel_bias->value.data() : nullptr),
                   a.logits.data(), T, a.route);
    moe_plan(a.route.ids.data(), T, E, K, a.plan);
    std::vector<int64_t>& load = m.load[size_t(moe_index)];
    for (int64_t e = 0; e < E; ++e) load[size_t(e)] += a.plan.count[size_t(e)];
    const int64_t rows = T * K;
    moe_gather_forward(pool, a.plan, a.h2.data(), D, grow(a.xe, rows * D));
    grow(a.eg, rows * Fe);
    grow(a.eu, rows * Fe);
    for (int64_t e = 0; e < E; ++e) {
      const int64_t r0 = a.plan.offset[size_t(e)], n = a.plan.count[size_t(e)];
      if (n == 0) continue;
      lin(pool, m.gemm, a.xe.data() + r0 * D, n, D, L.gate_exps->value.data() + e * Fe * D, Fe,
          a.eg.data() + r0 * Fe);
      lin(pool, m.gemm, a.xe.data() + r0 * D, n, D, L.up_exps->value.data() + e * Fe * D, Fe,
          a.eu.data() + r0 * Fe);
    }
    swiglu_forward(pool, {.n_rows = rows, .width = Fe, .gate = a.eg.data(), .up = a.eu.data()},
                   grow(a.ea, rows * Fe));
    grow(a.ye, rows * D);
    for (int64_t e = 0; e < E; ++e) {
      const int64_t r0 = a.plan.offset[size_t(e)], n = a.plan.count[size_t(e)];
      if (n == 0) continue;
      lin(pool, m.gemm, a.ea.data() + r0 * Fe, n, Fe, L.down_exps->value.data() + e * D * Fe, D,
          a.ye.data() + r0 * D);
    }
    moe_combine_forward(pool, a.plan, a.route.weights.data(), a.ye.data(), D, grow(m.tmp, T * D));
    add_into(x, m.tmp.data(), T * D);
    if (d.Fs > 0)
      swiglu_ffn(a.h2.data(), T, L.gate_sh, L.up_sh, L.down_sh, d.Fs, a.sg, a.su, a.sa, x);
  }

  // x += W_down (silu(W_gate h) ∘ W_up h).
  void swiglu_ffn(const float* h, int64_t n, const TrainParam* gate, const TrainParam* up,
                  const TrainParam* down, int64_t F, std::vector<float>& g, std::vector<float>& u,
                  std::vector<float>& act, float* x) {
    const int64_t D = d.D;
    lin(pool, m.gemm, h, n, D, gate->value.data(), F, grow(g, n * F));
    lin(pool, m.gemm, h, n, D, up->value.data(), F, grow(u, n * F));
    swiglu_forward(pool, {.n_rows = n, .width = F, .gate = g.data(), .up = u.data()},
                   grow(act, n * F));
    lin(pool, m.gemm, act.data(), n, F, down->value.data(), D, grow(m.tmp, n * D));
    add_into(x, m.tmp.data(), n * D);
  }

  // ---- backward ----

  // dy [n][D] is the gradient of the FFN's output; dh [n][D] receives (kAccumulate) the
  // gradient of its input h.
  void swiglu_ffn_back(const float* h, int64_t n, TrainParam* gate, TrainParam* up,
                       TrainParam* down, int64_t F, const std::vector<float>& g,
                       const std::vector<float>& u, const std::vector<float>& act, const float* dy,
                       float* dh) {
    const int64_t D = d.D;
    float* da = grow(m.da, n * F);
    lin_back(pool, m.gemm, act.data(), n, F, down->value.data(), down->grad.data(), D, dy, da,
             GradMode::kWrite);
    float* dg = grow(m.dg, n * F);
    float* du = grow(m.du, n * F);
    swiglu_backward(pool, {.n_rows = n, .width = F, .gate = g.data(), .up = u.data()}, da, dg, du);
    lin_back(pool, m.gemm, h, n, D, gate->value.data(), gate->grad.data(), F, dg, dh,
             GradMode::kAccumulate);
    lin_back(pool, m.gemm, h, n, D, up->value.data(), up->grad.data(), F, du, dh,
             GradMode::kAccumulate);
  }

  // dx: on entry dL/dx_out; on exit dL/dx_mid.
  void ffn_backward_layer(LayerParams& L, LayerActs& a, float* dx) {
    const int64_t D = d.D;
    float* dh2 = grow(m.dh2, T * D);
    std::fill_n(dh2, T * D, 0.0f);
    if (!L.moe()) {
      swiglu_ffn_back(a.h2.data(), T, L.gate, L.up, L.down, d.F, a.fg, a.fu, a.fa, dx, dh2);
    } else {
      const int64_t E = d.E, K = d.K, Fe = d.Fe, rows = T * K;
      float* dweights = grow(m.dw, T * K);
      float* dye = grow(m.dye, rows * D);
      moe_combine_backward(pool, a.plan, a.route.weights.data(), a.ye.data(), dx, D, dweights, dye);
      float* dea = grow(m.da, rows * Fe);
      for (int64_t e = 0; e < E; ++e) {
        const int64_t r0 = a.plan.offset[size_t(e)], n = a.plan.count[size_t(e)];
        if (n == 0) continue;
        lin_back(pool, m.gemm, a.ea.data() + r0 * Fe, n, Fe, L.down_exps->value.data() + e * D * Fe,
                 L.down_exps->grad.data() + e * D * Fe, D, dye + r0 * D, dea + r0 * Fe,
                 GradMode::kWrite);
      }
      float* deg = grow(m.dg, rows * Fe);
      float* deu = grow(m.du, rows * Fe);
      swiglu_backward(pool, {.n_rows = rows, .width = Fe, .gate = a.eg.data(), .up = a.eu.data()},
                      dea, deg, deu);
      float* dxe = grow(m.dxe, rows * D);
      for (int64_t e = 0; e < E; ++e) {
        const int64_t r0 = a.plan.offset[size_t(e)], n = a.plan.count[size_t(e)];
        if (n == 0) continue;
        const int64_t w0 = e * Fe * D;
        lin_back(pool, m.gemm, a.xe.data() + r0 * D, n, D, L.gate_exps->value.data() + w0,
                 L.gate_exps->grad.data() + w0, Fe, deg + r0 * Fe, dxe + r0 * D, GradMode::kWrite);
        lin_back(pool, m.gemm, a.xe.data() + r0 * D, n, D, L.up_exps->value.data() + w0,
                 L.up_exps->grad.data() + w0, Fe, deu + r0 * Fe, dxe + r0 * D,
                 GradMode::kAccumulate);
      }
      moe_gather_backward(pool, a.plan, dxe, D, dh2, GradMode::kAccumulate);
      float* dlogits = grow(m.dlogits_router, T * E);
      router_backward(router_params(m.opts, d, L.sel_bias ? L.sel_bias->value.data() : nullptr),
                      a.route, dweights, dlogits);
      lin_back(pool, m.gemm, a.h2.data(), T, D, L.router->value.data(), L.router->grad.data(), E,
               dlogits, dh2, GradMode::kAccumulate);
      if (d.Fs > 0) {
        swiglu_ffn_back(a.h2.data(), T, L.gate_sh, L.up_sh, L.down_sh, d.Fs, a.sg, a.su, a.sa, dx,
                        dh2);
      }
    }
    rms_norm_backward(pool, norm(a.x_mid.data(), *L.ffn_norm), a.n2, dh2, dx, GradMode::kAccumulate,
                      L.ffn_norm->grad.data());
  }

  // dx: on entry dL/dx_mid; on exit dL/dx_in.
  void attention_backward_layer(LayerParams& L, LayerActs& a, float* dx) {
    const int64_t D = d.D, H = d.H, N = d.N, R = d.R, C = d.C, Dv = d.Dv, QW = H * (N + R);
    float* dout = grow(m.do_, T * H * Dv);
    lin_back(pool, m.gemm, a.o.data(), T, H * Dv, L.out->value.data(), L.out->grad.data(), D, dx,
             dout, GradMode::kWrite);
    float* dq = grow(m.dq, T * QW);
    float* dkvb = grow(m.dkvb, T * H * (N + Dv));
    float* dkva = grow(m.dkva, T * (C + R));
    attention_backward(pool, m.gemm, dims(), inputs(a), {dout, H * Dv, Dv}, a.att,
                       {.dq = {dq, QW, N + R},
                        .dk_nope = {dkvb, H * (N + Dv), N + Dv},
                        .dk_rope = {dkva + C, C + R, 0},
                        .dv = {dkvb + N, H * (N + Dv), N + Dv}});
    rope_backward(m.rope, dkva + C, 1, C + R, R);
    rope_backward(m.rope, dq + N, H, QW, N + R);
    float* dckvn = grow(m.dckvn, T * C);
    lin_back(pool, m.gemm, a.ckvn.data(), T, C, L.kv_b->value.data(), L.kv_b->grad.data(),
             H * (N + Dv), dkvb, dckvn, GradMode::kWrite);
    rms_norm_backward(pool, norm(a.kva.data(), *L.kv_a_norm, C + R), a.nkv, dckvn, dkva,
                      GradMode::kWrite, L.kv_a_norm->grad.data());
    float* dh1 = grow(m.dh, T * D);
    lin_back(pool, m.gemm, a.h1.data(), T, D, L.kv_a->value.data(), L.kv_a->grad.data(), C + R,
             dkva, dh1, GradMode::kWrite);
    if (d.Q > 0) {
      float* dqan = grow(m.dqan, T * d.Q);
      lin_back(pool, m.gemm, a.qan.data(), T, d.Q, L.q_b->value.data(), L.q_b->grad.data(), QW, dq,
               dqan, GradMode::kWrite);
      float* dqa = grow(m.dqa, T * d.Q);
      rms_norm_backward(pool, norm(a.qa.data(), *L.q_a_norm), a.nq, dqan, dqa, GradMode::kWrite,
                        L.q_a_norm->grad.data());
      lin_back(pool, m.gemm, a.h1.data(), T, D, L.q_a->value.data(), L.q_a->grad.data(), d.Q, dqa,
               dh1, GradMode::kAccumulate);
    } else {
      lin_back(pool, m.gemm, a.h1.data(), T, D, L.q->value.data(), L.q->grad.data(), QW, dq, dh1,
               GradMode::kAccumulate);
    }
    rms_norm_backward(pool, norm(a.x_in.data(), *L.attn_norm), a.n1, dh1, dx, GradMode::kAccumulate,
                      L.attn_norm->grad.data());
  }
};

}  // namespace

StatusOr<float> TrainModel::run(ThreadPool& pool, const TrainBatch& batch, bool backward,
                                float loss_scale, std::vector<float>* logits_out) {
  TrainModelImpl& m = *impl_;
  const TrainDims& d = m.d;
  const int64_t T = batch.n_seq * batch.seq_len, D = d.D, V = d.V;
  if (batch.n_seq < 1 || batch.seq_len < 1 || int64_t(batch.tokens.size()) != T ||
      int64_t(batch.targets.size()) != T) {
    return Errorf("batch of %" PRId64 " x %" PRId64
                  " needs that many tokens and targets (%zu, %zu)",
                  batch.n_seq, batch.seq_len, batch.tokens.size(), batch.targets.size());
  }
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t % batch.seq_len);
  MUSE_RETURN_IF_ERROR(rope_tables_init(
      {.style = RopeStyle::Normal, .n_rot = int(d.R), .freq_base = m.opts.rope_freq_base}, pos,
      m.rope));
  m.gemm.reserve_workers(pool.size());

  Pass p{m, pool, d, T, batch.seq_len};
  float* x = grow(m.x, T * D);
  MUSE_RETURN_IF_ERROR(embedding_forward(m.embd->value.data(), V, D, batch.tokens, x));
  int64_t moe_index = 0;
  for (int64_t l = 0; l < d.n_layer; ++l) {
    LayerActs& a = m.acts[size_t(l)];
    a.x_in.assign(x, x + T * D);
    p.attention_forward_layer(m.layers[size_t(l)], a);
    p.ffn_forward_layer(m.layers[size_t(l)], a, m.layers[size_t(l)].moe() ? moe_index : -1, x);
    if (m.layers[size_t(l)].moe()) ++moe_index;
  }
  m.x_final.assign(x, x + T * D);
  rms_norm_forward(pool, p.norm(m.x_final.data(), *m.out_norm), grow(m.hf, T * D), m.nf);
  float* logits = grow(m.logits, T * V);
  lin(pool, m.gemm, m.hf.data(), T, D, m.output->value.data(), V, logits);
  if (logits_out != nullptr) logits_out->assign(logits, logits + T * V);
  if (!backward) return cross_entropy_forward(pool, logits, batch.targets, V);

  // dlogits overwrite the logits in place.
  float loss = 0.0f;
  MUSE_ASSIGN_OR_RETURN(
      loss, cross_entropy_forward_backward(pool, logits, batch.targets, V, logits, loss_scale));
  float* dhf = grow(m.dh, T * D);
  lin_back(pool, m.gemm, m.hf.data(), T, D, m.output->value.data(), m.output->grad.data(), V,
           logits, dhf, GradMode::kWrite);
  float* dx = grow(m.dx, T * D);
  rms_norm_backward(pool, p.norm(m.x_final.data(), *m.out_norm), m.nf, dhf, dx, GradMode::kWrite,
                    m.out_norm->grad.data());
  for (int64_t l = d.n_layer - 1; l >= 0; --l) {
    LayerActs& a = m.acts[size_t(l)];
    p.ffn_backward_layer(m.layers[size_t(l)], a, dx);
    p.attention_backward_layer(m.layers[size_t(l)], a, dx);
  }
  embedding_backward(pool, batch.tokens, dx, D, m.embd->grad.data());
  return loss;
}

}  // namespace muse
