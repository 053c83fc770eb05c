// Gradient checks of the mixture-of-experts ops: router gating (softmax / sigmoid, selection
// bias, renormalisation, scale), near-tie consistency, token gather/combine, a whole routed
// layer end to end, and the balancing bias rule. References in double; method and tolerance
// in grad_check.h. Routing is piecewise smooth: each check asserts that the finite-difference
// step cannot change the selection (top-k gap >> the step).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "grad_check.h"
#include "train/ops/linear.h"
#include "train/ops/moe_mix.h"
#include "train/ops/router.h"

namespace muse {
namespace {

// Gate values in double.
std::vector<double> gates_ref(const RouterParams& p, const double* logits) {
  const int64_t E = p.n_expert;
  std::vector<double> g(static_cast<size_t>(E));
  if (p.gating == ExpertGating::kSoftmax) {
    const double mx = *std::max_element(logits, logits + E);
    double s = 0.0;
    for (int64_t e = 0; e < E; ++e) s += g[size_t(e)] = std::exp(logits[e] - mx);
    for (double& v : g) v /= s;
  } else {
    for (int64_t e = 0; e < E; ++e) g[size_t(e)] = 1.0 / (1.0 + std::exp(-logits[e]));
  }
  return g;
}

// Mixing weights [T][K] for fixed ids (the selection is frozen, as backward treats it).
std::vector<double> weights_ref(const RouterParams& p, const std::vector<double>& logits,
                                const std::vector<int32_t>& ids, int64_t T) {
  const int64_t E = p.n_expert, K = p.n_used;
  std::vector<double> w(size_t(T * K));
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<double> g = gates_ref(p, &logits[size_t(t * E)]);
    double sum = 0.0;
    for (int64_t k = 0; k < K; ++k) sum += g[size_t(ids[size_t(t * K + k)])];
    for (int64_t k = 0; k < K; ++k) {
      const double v = g[size_t(ids[size_t(t * K + k)])];
      w[size_t(t * K + k)] = p.scale * (p.norm ? v / std::max(sum, 6.103515625e-5) : v);
    }
  }
  return w;
}

// Smallest gap, over tokens, between the K-th and (K+1)-th selection scores.
double selection_gap(const RouterParams& p, const std::vector<double>& logits, int64_t T) {
  double gap = 1e9;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> s = gates_ref(p, &logits[size_t(t * p.n_expert)]);
    for (int64_t e = 0; e < p.n_expert; ++e) s[size_t(e)] += p.bias ? p.bias[e] : 0.0f;
    std::sort(s.rbegin(), s.rend());
    gap = std::min(gap, s[size_t(p.n_used - 1)] - s[size_t(p.n_used)]);
  }
  return gap;
}

void check_router(RouterParams p, uint32_t seed) {
  const int64_t T = 6, E = p.n_expert, K = p.n_used;
  std::vector<double> logits = random_doubles(size_t(T * E), seed, -2.0, 2.0);
  ASSERT_GT(selection_gap(p, logits, T), 1e-3) << "seed gives a near tie; pick another";
  const std::vector<double> c = random_doubles(size_t(T * K), seed + 1);
  const auto lf = to_float(logits);
  RouterSaved saved;
  router_forward(p, lf.data(), T, saved);
  expect_values_near(saved.weights, weights_ref(p, logits, saved.ids, T), "weights");
  // Selection agrees with inference routing token by token.
  std::vector<int32_t> ids(static_cast<size_t>(K));
  std::vector<float> w(static_cast<size_t>(K)), work(static_cast<size_t>(2 * E));
  for (int64_t t = 0; t < T; ++t) {
    route_token(p, &lf[size_t(t * E)], work.data(), ids.data(), w.data());
    for (int64_t k = 0; k < K; ++k) {
      EXPECT_EQ(saved.ids[size_t(t * K + k)], ids[size_t(k)]);
      EXPECT_EQ(saved.weights[size_t(t * K + k)], w[size_t(k)]);
    }
  }
  std::vector<float> dlogits(size_t(T * E), 5.0f);
  router_backward(p, saved, to_float(c).data(), dlogits.data());
  const auto loss = [&] { return weighted_sum(c, weights_ref(p, logits, saved.ids, T)); };
  expect_grad_near(dlogits, numeric_grad(loss, &logits), "dlogits");
}

TEST(RouterGrad, SoftmaxPlain) { check_router({.n_expert = 8, .n_used = 3}, 60); }
TEST(RouterGrad, SoftmaxRenormalisedScaled) {
  check_router({.n_expert = 8, .n_used = 3, .norm = true, .scale = 2.5f}, 61);
}
TEST(RouterGrad, SigmoidPlain) {
  check_router({.n_expert = 8, .n_used = 2, .gating = ExpertGating::kSigmoid}, 62);
}
TEST(RouterGrad, SigmoidRenormalisedWithSelectionBias) {
  const std::vector<float> bias = {0.3f, -0.2f, 0.0f, 0.5f, -0.4f, 0.1f, 0.0f, 0.2f};
  check_router({.n_expert = 8,
                .n_used = 3,
                .gating = ExpertGating::kSigmoid,
                .norm = true,
                .scale = 1.5f,
                .bias = bias.data()},
               63);
}

// Experts 1 and 2 tie exactly on token 0 and nearly on token 1 (logits 1e-6 apart: gate
// values a few float ulps apart), competing for the last of 2 slots. Forward breaks the tie as
// inference does (lower index on equality); backward must put gradient on exactly the experts
// forward chose, and match the frozen-selection reference.
TEST(RouterGrad, NearTieKeepsForwardSelectionInBackward) {
  const RouterParams p{.n_expert = 4, .n_used = 2, .gating = ExpertGating::kSigmoid};
  const float a = 0.25f;
  std::vector<double> logits = {2.0, a, a,         -1.0,   // exact tie
                                2.0, a, a + 1e-6f, -1.0};  // expert 2 by a hair
  const auto lf = to_float(logits);
  RouterSaved saved;
  router_forward(p, lf.data(), 2, saved);
  EXPECT_EQ(saved.ids, (std::vector<int32_t>{0, 1, 0, 2}));
  const std::vector<double> c = {0.7, -1.3, 0.4, 0.9};
  std::vector<float> dlogits(8);
  router_backward(p, saved, to_float(c).data(), dlogits.data());
  // Sigmoid gating couples nothing: the gradient is nonzero exactly on the chosen experts.
  for (int64_t t = 0; t < 2; ++t) {
    for (int64_t e = 0; e < 4; ++e) {
      const bool chosen = saved.ids[size_t(t * 2)] == e || saved.ids[size_t(t * 2 + 1)] == e;
      EXPECT_EQ(dlogits[size_t(t * 4 + e)] != 0.0f, chosen) << "token " << t << " expert " << e;
    }
  }
  const auto loss = [&] { return weighted_sum(c, weights_ref(p, logits, saved.ids, 2)); };
  expect_grad_near(dlogits, numeric_grad(loss, &logits), "dlogits (frozen selection)");
  // Routing the same logits again gives the same choice (no state, no randomness).
  RouterSaved again;
  router_forward(p, lf.data(), 2, again);
  EXPECT_EQ(again.ids, saved.ids);
}

TEST(MoeMix, PlanGroupsRowsByExpertInTokenOrder) {
  const std::vector<int32_t> ids = {2, 0, 0, 1, 2, 1};  // T = 3, K = 2, E = 3
  MoePlan plan;
  moe_plan(ids.data(), 3, 3, 2, plan);
  EXPECT_EQ(plan.count, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(plan.offset, (std::vector<int64_t>{0, 2, 4, 6}));
  // Expert 0 rows: token 0 (k=1), token 1 (k=0); expert 1: token 1, token 2; expert 2: 0, 2.
  EXPECT_EQ(plan.row_of, (std::vector<int32_t>{4, 0, 1, 2, 5, 3}));
}

TEST(MoeMix, GatherAndCombineGradients) {
  ThreadPool pool(2);
  const int64_t T = 5, K = 2, E = 3, D = 7;
  const std::vector<int32_t> ids = {0, 2, 1, 0, 2, 1, 0, 1, 2, 0};
  MoePlan plan;
  moe_plan(ids.data(), T, E, K, plan);
  std::vector<double> x = random_doubles(size_t(T * D), 70);
  std::vector<double> w = random_doubles(size_t(T * K), 71);
  std::vector<double> ye = random_doubles(size_t(T * K * D), 72);
  const std::vector<double> cx = random_doubles(size_t(T * K * D), 73);
  const std::vector<double> cy = random_doubles(size_t(T * D), 74);

  const auto gather_ref = [&] {
    std::vector<double> out(size_t(T * K * D));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t d = 0; d < D; ++d)
          out[size_t(plan.row_of[size_t(t * K + k)] * D + d)] = x[size_t(t * D + d)];
    return out;
  };
  const auto combine_ref = [&] {
    std::vector<double> y(size_t(T * D), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t d = 0; d < D; ++d)
          y[size_t(t * D + d)] +=
              w[size_t(t * K + k)] * ye[size_t(plan.row_of[size_t(t * K + k)] * D + d)];
    return y;
  };
  std::vector<float> xe(size_t(T * K * D)), y(size_t(T * D));
  moe_gather_forward(pool, plan, to_float(x).data(), D, xe.data());
  expect_values_near(xe, gather_ref(), "xe");
  moe_combine_forward(pool, plan, to_float(w).data(), to_float(ye).data(), D, y.data());
  expect_values_near(y, combine_ref(), "y");

  std::vector<float> dx(size_t(T * D), 1.0f);
  moe_gather_backward(pool, plan, to_float(cx).data(), D, dx.data(), GradMode::kAccumulate);
  for (float& g : dx) g -= 1.0f;
  expect_grad_near(dx, numeric_grad([&] { return weighted_sum(cx, gather_ref()); }, &x), "dx");

  std::vector<float> dw(size_t(T * K)), dye(size_t(T * K * D));
  moe_combine_backward(pool, plan, to_float(w).data(), to_float(ye).data(), to_float(cy).data(), D,
                       dw.data(), dye.data());
  const auto loss = [&] { return weighted_sum(cy, combine_ref()); };
  expect_grad_near(dw, numeric_grad(loss, &w), "dweights");
  expect_grad_near(dye, numeric_grad(loss, &ye), "dye");
}

// A whole routed layer: logits = x·W_gateᵀ, softmax top-2 renormalised, experts are linear
// maps W_e [D][D], y = Σ_k w_k · W_{e_k} x. The router weights get their gradient only
// through the mixing weights, which this checks end to end.
TEST(MoeMix, RoutedLayerEndToEnd) {
  ThreadPool pool(2);
  GemmScratch scratch;
  const int64_t T = 6, D = 5, E = 4, K = 2;
  const RouterParams p{.n_expert = E, .n_used = K, .norm = true, .scale = 1.0f};
  std::vector<double> x = random_doubles(size_t(T * D), 80);
  std::vector<double> wg = random_doubles(size_t(E * D), 81, -1.5, 1.5);
  std::vector<double> we = random_doubles(size_t(E * D * D), 82);
  const std::vector<double> c = random_doubles(size_t(T * D), 83);
  const auto xf = to_float(x), wgf = to_float(wg), wef = to_float(we);

  // Forward with the ops.
  std::vector<float> logits(size_t(T * E));
  const LinearArgs la{.n_tokens = T, .n_in = D, .n_out = E, .x = xf.data(), .w = wgf.data()};
  linear_forward(pool, scratch, la, logits.data());
  std::vector<double> logits_d(logits.begin(), logits.end());
  ASSERT_GT(selection_gap(p, logits_d, T), 1e-3) << "seed gives a near tie; pick another";
  RouterSaved rs;
  router_forward(p, logits.data(), T, rs);
  MoePlan plan;
  moe_plan(rs.ids.data(), T, E, K, plan);
  std::vector<float> xe(size_t(T * K * D)), ye(xe.size()), y(size_t(T * D));
  moe_gather_forward(pool, plan, xf.data(), D, xe.data());
  for (int64_t e = 0; e < E; ++e) {
    const int64_t r0 = plan.offset[size_t(e)];
    linear_forward(pool, scratch,
                   {.n_tokens = plan.count[size_t(e)],
                    .n_in = D,
                    .n_out = D,
                    .x = &xe[size_t(r0 * D)],
                    .w = &wef[size_t(e * D * D)]},
                   &ye[size_t(r0 * D)]);
  }
  moe_combine_forward(pool, plan, rs.weights.data(), ye.data(), D, y.data());

  // Backward with the ops.
  const auto cf = to_float(c);
  std::vector<float> dw(size_t(T * K)), dye(ye.size()), dxe(xe.size()), dlogits(size_t(T * E));
  std::vector<float> dx(size_t(T * D)), dwg(size_t(E * D), 0.0f), dwe(size_t(E * D * D), 0.0f);
  moe_combine_backward(pool, plan, rs.weights.data(), ye.data(), cf.data(), D, dw.data(),
                       dye.data());
  for (int64_t e = 0; e < E; ++e) {
    const int64_t r0 = plan.offset[size_t(e)];
    linear_backward(pool, scratch,
                    {.n_tokens = plan.count[size_t(e)],
                     .n_in = D,
                     .n_out = D,
                     .x = &xe[size_t(r0 * D)],
                     .w = &wef[size_t(e * D * D)]},
                    &dye[size_t(r0 * D)],
                    {.dx = &dxe[size_t(r0 * D)], .dw = &dwe[size_t(e * D * D)]});
  }
  moe_gather_backward(pool, plan, dxe.data(), D, dx.data(), GradMode::kWrite);
  router_backward(p, rs, dw.data(), dlogits.data());
  linear_backward(pool, scratch, la, dlogits.data(),
                  {.dx = dx.data(), .dx_mode = GradMode::kAccumulate, .dw = dwg.data()});

  // The layer in double with the selection frozen to the one forward made.
  const auto loss = [&] {
    std::vector<double> lg(size_t(T * E), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t e = 0; e < E; ++e)
        for (int64_t d = 0; d < D; ++d)
          lg[size_t(t * E + e)] += x[size_t(t * D + d)] * wg[size_t(e * D + d)];
    const std::vector<double> w = weights_ref(p, lg, rs.ids, T);
    double l = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t k = 0; k < K; ++k) {
        const int64_t e = rs.ids[size_t(t * K + k)];
        for (int64_t o = 0; o < D; ++o) {
          double v = 0.0;
          for (int64_t d = 0; d < D; ++d)
            v += we[size_t((e * D + o) * D + d)] * x[size_t(t * D + d)];
          l += c[size_t(t * D + o)] * w[size_t(t * K + k)] * v;
        }
      }
    }
    return l;
  };
  expect_grad_near(dwg, numeric_grad(loss, &wg), "dW_gate");
  expect_grad_near(dwe, numeric_grad(loss, &we), "dW_experts");
  expect_grad_near(dx, numeric_grad(loss, &x), "dx");
}

TEST(MoeBias, SignRuleAndLoads) {
  RouterSaved saved;
  saved.ids = {0, 1, 0, 2, 0, 3, 0, 2, 0, 3, 2, 3};  // loads 5, 1, 3, 3: mean 3
  std::vector<int64_t> load(4);
  router_expert_load(saved, load);
  EXPECT_EQ(load, (std::vector<int64_t>{5, 1, 3, 3}));
  std::vector<float> bias = {0.0f, 0.0f, 0.5f, -0.5f};
  moe_update_bias(bias, load, 0.01f);
  EXPECT_EQ(bias, (std::vector<float>{-0.01f, 0.01f, 0.5f, -0.5f}));
}

}  // namespace
}  // namespace muse
