// Forward of the MoE FFN: route (scalar, E is small), group rows by expert, then two batched
// products — every gate/up, then every down — and a weighted scatter back into the residual.
#include "model/blocks/moe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace muse {

void gate_probabilities(const RouterParams& p, const float* logits, float* probs) {
  const int64_t E = p.n_expert;
  if (p.gating == ExpertGating::kSoftmax) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t e = 0; e < E; ++e) mx = std::max(mx, logits[e]);
    double sum = 0.0;
    for (int64_t e = 0; e < E; ++e) sum += probs[e] = std::exp(logits[e] - mx);
    const float inv = float(1.0 / sum);
    for (int64_t e = 0; e < E; ++e) probs[e] *= inv;
  } else {
    for (int64_t e = 0; e < E; ++e) probs[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  }
}

void route_token(const RouterParams& p, const float* logits, float* work, int32_t* ids,
                 float* weights) {
  const int64_t E = p.n_expert, K = p.n_used;
  float* probs = work;
  float* sel = work + E;
  gate_probabilities(p, logits, probs);
  for (int64_t e = 0; e < E; ++e) sel[e] = probs[e] + (p.bias ? p.bias[e] : 0.0f);

  if (p.n_groups > 1 && p.n_groups_used < p.n_groups) {
    // Group score = sum of its two best selection scores; only experts of the n_groups_used
    // best groups stay eligible.
    const int64_t G = p.n_groups, per = E / G;
    constexpr float kNone = -std::numeric_limits<float>::infinity();
    float score[kMaxExpertGroups];
    bool keep[kMaxExpertGroups] = {};
    for (int64_t g = 0; g < G; ++g) {
      float first = kNone, second = kNone;
      for (int64_t e = g * per; e < (g + 1) * per; ++e) {
        if (sel[e] > first) {
          second = first;
          first = sel[e];
        } else if (sel[e] > second) {
          second = sel[e];
        }
      }
      score[g] = per > 1 ? first + second : first;
    }
    for (int64_t n = 0; n < p.n_groups_used; ++n) {
      int64_t best = -1;
      for (int64_t g = 0; g < G; ++g)
        if (!keep[g] && (best < 0 || score[g] > score[best])) best = g;
      keep[best] = true;
    }
    for (int64_t g = 0; g < G; ++g)
      if (!keep[g]) std::fill(sel + g * per, sel + (g + 1) * per, kNone);
  }

  // Top-k by selection score, best first; ties go to the lower expert index.
  for (int64_t k = 0; k < K; ++k) {
    int64_t best = -1;
    for (int64_t e = 0; e < E; ++e) {
      bool taken = false;
      for (int64_t j = 0; j < k; ++j) taken |= ids[j] == e;
      if (!taken && (best < 0 || sel[e] > sel[best])) best = e;
    }
    ids[k] = int32_t(best);
    weights[k] = probs[best];
  }
  if (p.norm) {
    float sum = 0.0f;
    for (int64_t k = 0; k < K; ++k) sum += weights[k];
    sum = std::max(sum, 6.103515625e-5f);  // the smallest normal half: no blow-up near zero
    for (int64_t k = 0; k < K; ++k) weights[k] /= sum;
  }
  for (int64_t k = 0; k < K; ++k) weights[k] *= p.scale;
}

void moe_ffn_forward(const StepArgs& s, const ArchSpec& arch, const LayerWeights& lw) {
  const ModelConfig& c = s.config;
  const MoeWeights& w = lw.experts;
  StepBuffers& b = s.buf;
  MoeBuffers& m = b.moe;
  const int64_t T = s.n_tokens, D = c.n_embd, E = c.n_expert, K = c.n_expert_used;
  const int64_t Fe = c.n_ff_exp, Fs = c.n_ff_shexp;

  for (int64_t t = 0; t < T; ++t) rms_norm(&b.x[t * D], lw.ffn_norm, &b.h[t * D], D, c.rms_eps);
  linear_forward(s.pool, b.matmul, w.router, b.h.data(), T, m.router.data());

  const RouterParams rp{.n_expert = E,
                        .n_used = K,
                        .gating = c.expert_gating,
                        .norm = c.expert_weights_norm,
                        .scale = c.expert_weights_scale,
                        .n_groups = c.n_expert_groups,
                        .n_groups_used = c.n_group_used,
                        .bias = w.probs_bias};
  std::fill(m.count.begin(), m.count.end(), 0);
  for (int64_t t = 0; t < T; ++t) {
    route_token(rp, &m.router[t * E], m.work.data(), &m.ids[t * K], &m.weights[t * K]);
    for (int64_t k = 0; k < K; ++k) ++m.count[m.ids[t * K + k]];
  }
  for (int64_t t = 0; t < T; ++t) {
    float g = 1.0f;
    if (w.shexp_gate != nullptr)
      g = 1.0f / (1.0f + std::exp(-dot_f32(w.shexp_gate, &b.h[t * D], D)));
    m.shared_gate[t] = g;
  }
  // Rows grouped by expert (tokens in order inside a group); row_of[t * K + k] finds them.
  m.offset[0] = 0;
  for (int64_t e = 0; e < E; ++e) m.offset[e + 1] = m.offset[e] + m.count[e];
  std::copy(m.offset.begin(), m.offset.end() - 1, m.fill.begin());
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t k = 0; k < K; ++k) {
      const int64_t row = m.fill[m.ids[t * K + k]]++;
      m.row_of[t * K + k] = int32_t(row);
      std::copy_n(&b.h[t * D], D, &m.xe[row * D]);
    }
  }

  // Gate and up of every active expert and of the shared expert.
  m.jobs.clear();
  for (int64_t e = 0; e < E; ++e) {
    const int64_t n = m.count[e], r0 = m.offset[e];
    if (n == 0) continue;
    m.jobs.push_back({MoeWeights::expert(w.gate_exps, e, Fe), &m.xe[r0 * D], n, &m.ge[r0 * Fe]});
    m.jobs.push_back({MoeWeights::expert(w.up_exps, e, Fe), &m.xe[r0 * D], n, &m.ue[r0 * Fe]});
  }
  if (Fs > 0) {
    m.jobs.push_back({w.gate_shexp.w, b.h.data(), T, m.gs.data()});
    m.jobs.push_back({w.up_shexp.w, b.h.data(), T, m.us.data()});
  }
  run_matmul_jobs(s.pool, b.matmul, m.jobs);
  const int64_t n_rows = T * K;
  for (int64_t r = 0; r < n_rows; ++r) swiglu(&m.ge[r * Fe], &m.ue[r * Fe], &m.ge[r * Fe], Fe);
  for (int64_t t = 0; t < T && Fs > 0; ++t) swiglu(&m.gs[t * Fs], &m.us[t * Fs], &m.gs[t * Fs], Fs);

  m.jobs.clear();
  for (int64_t e = 0; e < E; ++e) {
    const int64_t n = m.count[e], r0 = m.offset[e];
    if (n == 0) continue;
    m.jobs.push_back({MoeWeights::expert(w.down_exps, e, D), &m.ge[r0 * Fe], n, &m.xe[r0 * D]});
  }
  if (Fs > 0) m.jobs.push_back({w.down_shexp.w, m.gs.data(), T, b.h.data()});
  run_matmul_jobs(s.pool, b.matmul, m.jobs);

  // x += sum_k weight_k * expert_k(h) (+ gate * shared(h)), summed in routing order.
  float* acc = m.acc.data();
  for (int64_t t = 0; t < T; ++t) {
    std::fill_n(acc, D, 0.0f);
    for (int64_t k = 0; k < K; ++k)
      axpy(m.weights[t * K + k], &m.xe[int64_t(m.row_of[t * K + k]) * D], acc, D);
    if (Fs > 0) axpy(m.shared_gate[t], &b.h[t * D], acc, D);
    add(&b.x[t * D], acc, &b.x[t * D], D);
  }
}

}  // namespace muse
