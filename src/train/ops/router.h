// Mixture-of-experts router for training (DeepSeekMoE arXiv:2401.06066, DeepSeek-V3
// arXiv:2412.19437 section 2.1.2): gate values p = softmax(logits) or sigmoid(logits), top-k
// by p + selection bias, weights w_k = scale · p_k (/ Σ_j p_j when renormalised). Selection
// is exactly inference's `route_token` (model/blocks/moe.h), so a trained model routes the
// same way when served. The logits come from a linear op (train/ops/linear.h, W_gate [E][D]).
//
// Backward treats the selection as fixed: gradients flow to the router only through the gate
// values of the chosen experts. The chosen ids are saved by forward and never recomputed, so
// forward and backward agree even when two experts tie.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/blocks/moe.h"

namespace muse {

struct RouterSaved {
  int64_t n_tokens = 0;
  std::vector<float> probs;    // [T][E] gate values before selection
  std::vector<int32_t> ids;    // [T][K] chosen experts, best first
  std::vector<float> weights;  // [T][K] mixing weights
  std::vector<float> work;     // route_token's scratch
};

// Routes T tokens. p.bias, when set, shifts selection only.
void router_forward(const RouterParams& p, const float* logits, int64_t n_tokens,
                    RouterSaved& saved);

// dweights [T][K] (dL/dw for each chosen weight) -> dlogits [T][E], written.
void router_backward(const RouterParams& p, const RouterSaved& saved, const float* dweights,
                     float* dlogits);

// Tokens routed to each expert in the saved routing: load [E], written.
void router_expert_load(const RouterSaved& saved, std::span<int64_t> load);

// Auxiliary-loss-free balancing (DeepSeek-V3 section 2.1.2, after Wang et al. 2024,
// arXiv:2408.15664): bias_i += rate · sign(mean(load) − load_i). Overloaded experts become
// less attractive to select; weights are untouched because the bias only shifts selection.
void moe_update_bias(std::span<float> bias, std::span<const int64_t> load, float rate);

}  // namespace muse
