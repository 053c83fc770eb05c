// A trained model written by export_model and loaded by inference's normal path computes the
// logits of the training forward pass: same tensors, layouts, routing and RoPE.
//
// Tolerance: both sides are fp32 with different summation orders (blocked GEMMs against the
// runtime's matmuls, softmax over a paged cache); on logits of magnitude ~1-3 the measured
// worst difference is ~1e-5, so 2e-4 absolute leaves margin while a wrong layout, a
// transposed weight or a differently routed token moves logits by O(0.1).
#include <gtest/gtest.h>

#include <random>

#include "gguf/test_util.h"
#include "model/context.h"
#include "model/model.h"
#include "train/export.h"
#include "train/model.h"
#include "train/optim.h"

namespace muse {
namespace {

GenModelOptions parity_options(int64_t q_lora) {
  GenModelOptions o;
  o.arch = "muse";
  o.n_embd = 64;
  o.n_layer = 3;
  o.n_head = 4;
  o.n_ff = 96;
  o.n_vocab = 288;
  o.n_expert = 6;
  o.n_expert_used = 2;
  o.n_expert_shared = 1;
  o.n_ff_exp = 32;
  o.n_leading_dense = 1;
  o.expert_gating = ExpertGating::kSigmoid;
  o.expert_weights_norm = true;
  o.expert_weights_scale = 2.0f;
  o.q_lora_rank = q_lora;
  o.kv_lora_rank = 32;
  o.qk_nope = 16;
  o.qk_rope = 8;
  o.v_head_dim = 16;
  return o;
}

TrainBatch batch_of(const std::vector<int32_t>& toks) {
  TrainBatch b{.n_seq = 1, .seq_len = int64_t(toks.size()), .tokens = toks, .targets = toks};
  std::rotate(b.targets.begin(), b.targets.begin() + 1, b.targets.end());
  return b;
}

class TrainParity : public ::testing::TestWithParam<int64_t> {};

TEST_P(TrainParity, InferenceLogitsEqualTrainingForward) {
  ThreadPool pool(2);
  const GenModelOptions opts = parity_options(GetParam());
  auto model = TrainModel::create(opts, 21);
  ASSERT_TRUE(model.ok()) << model.status().message();

  // A few steps so norms, biases and the selection bias leave their initial values.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> tok(3, int32_t(opts.n_vocab - 1));
  std::vector<int32_t> train(48);
  for (int32_t& t : train) t = tok(rng);
  for (int step = 1; step <= 5; ++step) {
    model->zero_grad();
    ASSERT_TRUE(model->forward_backward(pool, batch_of(train)).ok());
    for (TrainParam& p : model->params()) {
      if (!p.trainable) continue;
      adamw_step(pool, {.lr = 1e-2f}, step, p.value.data(), p.grad.data(), p.adam_m.data(),
                 p.adam_v.data(), int64_t(p.value.size()));
    }
    model->update_selection_bias(0.05f);
  }
  ASSERT_NE(model->find("blk.1.exp_probs_b.bias")->value[0], 0.0f);

  std::vector<int32_t> prompt(23);
  for (int32_t& t : prompt) t = tok(rng);
  std::vector<float> want;
  ASSERT_TRUE(model->forward(pool, batch_of(prompt), &want).ok());

  testing::TempDir dir;
  const std::string path = dir.file("trained.gguf");
  auto written = export_model(*model, {.type = DType::F32, .name = "parity"}, path);
  ASSERT_TRUE(written.ok()) << written.status().message();
  auto loaded = Model::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  for (MlaMode mode : {MlaMode::kAbsorbed, MlaMode::kDecompressed}) {
    auto ctx = ModelContext::create(
        **loaded, pool, {.n_ctx = 64, .n_batch = 32, .kv_type = DType::F32, .mla_mode = mode});
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    ASSERT_TRUE((*ctx)->eval(prompt, true).ok());
    double worst = 0.0;
    for (size_t t = 0; t < prompt.size(); ++t) {
      const auto got = (*ctx)->logits(int64_t(t));
      for (int64_t v = 0; v < opts.n_vocab; ++v) {
        const double diff = std::abs(double(got[size_t(v)]) - want[t * size_t(opts.n_vocab) + v]);
        worst = std::max(worst, diff);
        ASSERT_LT(diff, 2e-4) << "mode " << int(mode) << " position " << t << " token " << v;
      }
    }
    RecordProperty(
        mode == MlaMode::kAbsorbed ? "worst_abs_diff_absorbed" : "worst_abs_diff_decompressed",
        std::to_string(worst));
  }

  // Quantized export loads too (the shipped model is Q8_0).
  const std::string q8 = dir.file("trained-q8_0.gguf");
  ASSERT_TRUE(export_model(*model, {.type = DType::Q8_0}, q8).ok());
  auto q8_model = Model::load(q8);
  ASSERT_TRUE(q8_model.ok()) << q8_model.status().message();
}

INSTANTIATE_TEST_SUITE_P(QueryRank, TrainParity, ::testing::Values(int64_t(0), int64_t(32)));

}  // namespace
}  // namespace muse
