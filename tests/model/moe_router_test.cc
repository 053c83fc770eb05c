// route_token against hand-computed routing: softmax and sigmoid gating, the selection bias
// that steers choice but not weight, renormalisation, scale, group-limited routing.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/blocks/moe.h"

namespace muse {
namespace {

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

Routed route(const RouterParams& p, const std::vector<float>& logits) {
  Routed r{std::vector<int32_t>(size_t(p.n_used)), std::vector<float>(size_t(p.n_used))};
  std::vector<float> work(size_t(2 * p.n_expert));
  route_token(p, logits.data(), work.data(), r.ids.data(), r.weights.data());
  return r;
}

TEST(MoeRouter, SoftmaxTopKBestFirstNotRenormalised) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.0f};
  const Routed r = route({.n_expert = 4, .n_used = 2}, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 3}));
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  EXPECT_NEAR(r.weights[0], std::exp(2.0) / z, 1e-6);
  EXPECT_NEAR(r.weights[1], std::exp(1.0) / z, 1e-6);
}

TEST(MoeRouter, RenormalisedAndScaled) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.0f};
  const Routed r = route({.n_expert = 4, .n_used = 2, .norm = true, .scale = 2.5f}, logits);
  const double a = std::exp(2.0), b = std::exp(1.0);
  EXPECT_NEAR(r.weights[0], 2.5 * a / (a + b), 1e-6);
  EXPECT_NEAR(r.weights[1], 2.5 * b / (a + b), 1e-6);
}

TEST(MoeRouter, SigmoidWithSelectionBias) {
  // The bias moves expert 2 into the top 2, but its weight is still its own sigmoid.
  const std::vector<float> logits = {1.0f, 2.0f, 0.0f, 1.5f};
  const std::vector<float> bias = {0.0f, 0.0f, 0.9f, 0.0f};
  const Routed r = route(
      {.n_expert = 4, .n_used = 2, .gating = ExpertGating::kSigmoid, .bias = bias.data()}, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{2, 1}));  // 0.5 + 0.9 > sigmoid(2) = 0.88
  EXPECT_NEAR(r.weights[0], 0.5, 1e-6);
  EXPECT_NEAR(r.weights[1], 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
}

TEST(MoeRouter, GroupLimitedRouting) {
  // 4 groups of 2; group scores (top-2 sums): g0 = 0.9+0.8, g1 = 1.0+0.0, g2 = 0.7+0.7,
  // g3 = 0.1+0.1. With 2 groups kept (g0, g2), expert 2 (score 1.0, in g1) is excluded.
  const std::vector<float> probs = {0.9f, 0.8f, 1.0f, 0.0f, 0.7f, 0.7f, 0.1f, 0.1f};
  std::vector<float> logits;
  for (float p : probs) logits.push_back(std::log(p / (1.0f - p + 1e-9f)));  // sigmoid^-1
  const Routed r = route({.n_expert = 8,
                          .n_used = 3,
                          .gating = ExpertGating::kSigmoid,
                          .n_groups = 4,
                          .n_groups_used = 2},
                         logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1, 4}));
}

TEST(MoeRouter, TiesGoToTheLowerIndex) {
  const Routed r = route({.n_expert = 4, .n_used = 2}, {1.0f, 3.0f, 1.0f, 3.0f});
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 3}));
}

}  // namespace
}  // namespace muse
