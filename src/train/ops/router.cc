// Router forward (inference's `route_token` plus the saved gate values) and backward through
// the renormalisation and the gate nonlinearity (see router.h).
#include "train/ops/router.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace muse {
namespace {

// The floor route_token puts under the renormalising sum (the smallest normal half).
constexpr float kNormFloor = 6.103515625e-5f;

}  // namespace

void router_forward(const RouterParams& p, const float* logits, int64_t n_tokens,
                    RouterSaved& saved) {
  const int64_t E = p.n_expert, K = p.n_used;
  saved.n_tokens = n_tokens;
  saved.probs.resize(size_t(n_tokens * E));
  saved.ids.resize(size_t(n_tokens * K));
  saved.weights.resize(size_t(n_tokens * K));
  saved.work.resize(size_t(2 * E));
  for (int64_t t = 0; t < n_tokens; ++t) {
    gate_probabilities(p, logits + t * E, &saved.probs[size_t(t * E)]);
    route_token(p, logits + t * E, saved.work.data(), &saved.ids[size_t(t * K)],
                &saved.weights[size_t(t * K)]);
  }
}

void router_backward(const RouterParams& p, const RouterSaved& saved, const float* dweights,
                     float* dlogits) {
  const int64_t E = p.n_expert, K = p.n_used;
  for (int64_t t = 0; t < saved.n_tokens; ++t) {
    const float* prob = &saved.probs[size_t(t * E)];
    const int32_t* ids = &saved.ids[size_t(t * K)];
    const float* dw = dweights + t * K;
    float* dl = dlogits + t * E;
    // dp: gradient of the gate values, nonzero only at the chosen experts.
    std::fill_n(dl, E, 0.0f);
    if (p.norm) {
      // w_k = scale · p_k / S with S = Σ_j p_j: dp_k = scale · (dw_k − Σ_j dw_j w̃_j) / S,
      // w̃_j = p_j / S. Below the floor S is a constant and only the first term remains.
      double sum = 0.0, dot = 0.0;
      for (int64_t k = 0; k < K; ++k) sum += prob[ids[k]];
      const bool floored = float(sum) < kNormFloor;
      const double S = floored ? double(kNormFloor) : sum;
      for (int64_t k = 0; k < K; ++k) dot += double(dw[k]) * prob[ids[k]] / S;
      for (int64_t k = 0; k < K; ++k)
        dl[ids[k]] = float(p.scale * (dw[k] - (floored ? 0.0 : dot)) / S);
    } else {
      for (int64_t k = 0; k < K; ++k) dl[ids[k]] = p.scale * dw[k];
    }
    // Through the gate: softmax couples every logit to the chosen ones; sigmoid does not.
    if (p.gating == ExpertGating::kSoftmax) {
      double dot = 0.0;
      for (int64_t k = 0; k < K; ++k) dot += double(prob[ids[k]]) * dl[ids[k]];
      for (int64_t e = 0; e < E; ++e) dl[e] = float(prob[e] * (dl[e] - dot));
    } else {
      for (int64_t k = 0; k < K; ++k) {
        const float s = prob[ids[k]];
        dl[ids[k]] *= s * (1.0f - s);
      }
    }
  }
}

void router_expert_load(const RouterSaved& saved, std::span<int64_t> load) {
  std::fill(load.begin(), load.end(), 0);
  for (int32_t id : saved.ids) ++load[size_t(id)];
}

void moe_update_bias(std::span<float> bias, std::span<const int64_t> load, float rate) {
  if (load.empty()) return;
  double mean = 0.0;
  for (int64_t l : load) mean += double(l);
  mean /= double(load.size());
  for (size_t e = 0; e < bias.size(); ++e) {
    const double diff = mean - double(load[e]);
    bias[e] += diff > 0 ? rate : diff < 0 ? -rate : 0.0f;
  }
}

}  // namespace muse
