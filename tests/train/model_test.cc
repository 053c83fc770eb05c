// The assembled training model: a whole-model gradient check (every tensor, by directional
// finite differences of the loss), training on a fixed batch drives the loss down, and the
// pass is deterministic and independent of the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "train/model.h"
#include "train/ops/cross_entropy.h"
#include "train/optim.h"

namespace muse {
namespace {

GenModelOptions tiny_muse(int64_t q_lora, ExpertGating gating) {
  GenModelOptions o;
  o.arch = "muse";
  o.n_embd = 32;
  o.n_layer = 3;
  o.n_head = 2;
  o.n_ff = 48;
  o.n_vocab = 260;
  o.n_expert = 4;
  o.n_expert_used = 2;
  o.n_expert_shared = 1;
  o.n_ff_exp = 16;
  o.n_leading_dense = 1;
  o.expert_gating = gating;
  o.expert_weights_norm = gating == ExpertGating::kSigmoid;
  o.expert_weights_scale = 1.5f;
  o.q_lora_rank = q_lora;
  o.kv_lora_rank = 16;
  o.qk_nope = 8;
  o.qk_rope = 8;
  o.v_head_dim = 12;
  return o;
}

TrainBatch random_batch(int64_t n_seq, int64_t seq_len, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> tok(0, int32_t(vocab - 1));
  TrainBatch b{.n_seq = n_seq, .seq_len = seq_len};
  for (int64_t i = 0; i < n_seq * seq_len; ++i) {
    b.tokens.push_back(tok(rng));
    // Some positions carry no loss, as prompts do in SFT.
    b.targets.push_back(i % 5 == 1 ? kIgnoreTarget : tok(rng));
  }
  return b;
}

// For each tensor, a random unit direction u: the analytic directional derivative g·u
// against the central difference (L(θ + h·u) − L(θ − h·u)) / 2h of the fp32 forward.
// The loss is ~ln V ≈ 5.6 in fp32 (ulp 5e-7), so with h = 1e-2 rounding contributes
// ~5e-5 to the difference quotient and curvature O(h²) less; the tolerance is 2 % of |g·u|
// plus 2e-4. A missing or mis-scaled term in any op changes g·u by O(|g·u|).
void check_gradients(const GenModelOptions& opts) {
  ThreadPool pool(2);
  auto model = TrainModel::create(opts, 7);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const TrainBatch batch = random_batch(2, 12, opts.n_vocab, 3);
  model->zero_grad();
  auto loss = model->forward_backward(pool, batch);
  ASSERT_TRUE(loss.ok()) << loss.status().message();
  EXPECT_NEAR(*loss, std::log(double(opts.n_vocab)), 1.0);

  std::mt19937 rng(11);
  std::normal_distribution<double> normal;
  int checked = 0;
  for (TrainParam& p : model->params()) {
    if (!p.trainable) continue;
    std::vector<double> u(p.value.size());
    double norm = 0.0;
    for (double& v : u) {
      v = normal(rng);
      norm += v * v;
    }
    for (double& v : u) v /= std::sqrt(norm);
    double analytic = 0.0;
    for (size_t i = 0; i < u.size(); ++i) analytic += double(p.grad[i]) * u[i];

    const std::vector<float> keep = p.value;
    constexpr double h = 1e-3;
    auto loss_at = [&](double sign) {
      for (size_t i = 0; i < u.size(); ++i) p.value[i] = float(keep[i] + sign * h * u[i]);
      auto l = model->forward(pool, batch, nullptr);
      EXPECT_TRUE(l.ok());
      return double(*l);
    };
    const double numeric = (loss_at(1.0) - loss_at(-1.0)) / (2.0 * h);
    p.value = keep;
    EXPECT_NEAR(analytic, numeric, 0.02 * std::abs(analytic) + 2e-4)
        << p.info.name << " (|grad| direction)";
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(TrainModel, GradientsMatchFiniteDifferencesFullRankSoftmax) {
  check_gradients(tiny_muse(0, ExpertGating::kSoftmax));
}

TEST(TrainModel, GradientsMatchFiniteDifferencesLowRankSigmoid) {
  check_gradients(tiny_muse(16, ExpertGating::kSigmoid));
}

TEST(TrainModel, RejectsOtherArchitecturesAndBadBatches) {
  GenModelOptions o = tiny_muse(0, ExpertGating::kSoftmax);
  o.arch = "llama";
  auto bad = TrainModel::create(o, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("muse"), std::string::npos);

  ThreadPool pool(1);
  auto model = TrainModel::create(tiny_muse(0, ExpertGating::kSoftmax), 1);
  ASSERT_TRUE(model.ok());
  TrainBatch b = random_batch(1, 8, 260, 1);
  b.targets.pop_back();
  EXPECT_FALSE(model->forward(pool, b, nullptr).ok());
  b = random_batch(1, 8, 260, 1);
  b.tokens[3] = 260;  // outside the vocabulary
  EXPECT_FALSE(model->forward(pool, b, nullptr).ok());
}

TEST(TrainModel, AdamWOnAFixedBatchDrivesTheLossDown) {
  ThreadPool pool(2);
  GenModelOptions o = tiny_muse(0, ExpertGating::kSigmoid);
  auto model = TrainModel::create(o, 5);
  ASSERT_TRUE(model.ok());
  const TrainBatch batch = random_batch(2, 16, o.n_vocab, 9);
  float first = 0.0f, last = 0.0f;
  for (int step = 1; step <= 60; ++step) {
    model->zero_grad();
    auto loss = model->forward_backward(pool, batch);
    ASSERT_TRUE(loss.ok());
    if (step == 1) first = *loss;
    last = *loss;
    for (TrainParam& p : model->params()) {
      if (!p.trainable) continue;
      adamw_step(pool, {.lr = 3e-3f}, step, p.value.data(), p.grad.data(), p.adam_m.data(),
                 p.adam_v.data(), int64_t(p.value.size()));
    }
    model->update_selection_bias(1e-3f);
  }
  // Random targets are memorised: from ln 260 ≈ 5.6 to well under half of it.
  EXPECT_LT(last, 0.5f * first) << "first " << first << " last " << last;
}

TEST(TrainModel, DeterministicForAnyThreadCount) {
  GenModelOptions o = tiny_muse(16, ExpertGating::kSigmoid);
  const TrainBatch batch = random_batch(3, 10, o.n_vocab, 4);
  std::vector<std::vector<float>> grads[2];
  float losses[2] = {};
  for (int run = 0; run < 2; ++run) {
    ThreadPool pool(run == 0 ? 1 : 2);
    auto model = TrainModel::create(o, 3);
    ASSERT_TRUE(model.ok());
    model->zero_grad();
    auto loss = model->forward_backward(pool, batch);
    ASSERT_TRUE(loss.ok());
    losses[run] = *loss;
    for (const TrainParam& p : model->params()) grads[run].push_back(p.grad);
  }
  EXPECT_EQ(losses[0], losses[1]);
  for (size_t i = 0; i < grads[0].size(); ++i) EXPECT_EQ(grads[0][i], grads[1][i]) << i;
}

}  // namespace
}  // namespace muse
