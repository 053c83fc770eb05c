// The mixture-of-experts FFN (Shazeer et al. 2017; DeepSeekMoE, arXiv:2401.06066): a router
// picks n_expert_used of n_expert SwiGLU experts per token and mixes their outputs with the
// router's weights; shared experts, when present, run for every token.
// The step's tokens are grouped by expert, so each active expert's weights are read once per
// step however many tokens chose it, and all experts' products run as one pool job.
#pragma once

#include <cstdint>
#include <span>

#include "model/arch/arch.h"
#include "model/blocks/dense.h"

namespace muse {

// Routing of one token: writes the chosen experts (best first) and their mixing weights.
// `logits` [E] are the router outputs; `bias` [E] (or null) shifts selection only.
// Softmax or sigmoid gating; with n_groups > 1, only experts in the n_groups_used groups with
// the best top-2 sums are eligible (DeepSeek-V3); weights renormalised when `norm`, then
// multiplied by `scale`. `work` holds 2 * E floats.
struct RouterParams {
  int64_t n_expert = 0;
  int64_t n_used = 0;
  ExpertGating gating = ExpertGating::kSoftmax;
  bool norm = false;
  float scale = 1.0f;
  int64_t n_groups = 0;
  int64_t n_groups_used = 0;
  const float* bias = nullptr;
};
void route_token(const RouterParams& p, const float* logits, float* work, int32_t* ids,
                 float* weights);

// The gate values of one token's router logits (softmax or sigmoid), before any selection
// bias: what route_token weights the chosen experts by (training differentiates through it).
void gate_probabilities(const RouterParams& p, const float* logits, float* probs);

// x += MoE(RMSNorm(x)) for the step's tokens.
void moe_ffn_forward(const StepArgs& s, const ArchSpec& arch, const LayerWeights& w);

}  // namespace muse
