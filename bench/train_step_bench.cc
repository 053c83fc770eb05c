// One training step (forward + backward, no optimizer) of whole `muse` models at muse-nano-like
// shapes: tokens/s is what bounds the recipe's length. Counters: tokens per second of wall
// time, and GFLOP/s from 6 x active parameters per token (the usual estimate; attention
// scores excluded), to compare against kernels/gemm_f32's measured peak.
// Run: train_step_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>

#include "train/model.h"

namespace muse {
namespace {

// Args: n_embd, n_layer, threads. muse-nano's other shapes (src/train/recipes.cc): 16
// experts of width n_embd, top-2 + 1 shared, vocabulary 576, 8 rows of 320 tokens.
void BM_TrainStep(benchmark::State& state) {
  GenModelOptions o;
  o.arch = "muse";
  o.n_embd = state.range(0);
  o.n_layer = state.range(1);
  o.n_head = o.n_embd / 64;
  o.n_ff = 3 * o.n_embd;
  o.n_vocab = 576;
  o.n_expert = 16;
  o.n_expert_used = 2;
  o.n_expert_shared = 1;
  o.n_ff_exp = o.n_embd;
  o.n_leading_dense = 1;
  o.expert_gating = ExpertGating::kSigmoid;
  o.expert_weights_norm = true;
  o.kv_lora_rank = o.n_embd / 2;
  o.qk_nope = 32;
  o.qk_rope = 32;
  o.v_head_dim = 64;
  ThreadPool pool(int(state.range(2)));
  auto model = TrainModel::create(o, 1);
  if (!model.ok()) {
    state.SkipWithError(model.status().message().c_str());
    return;
  }
  TrainBatch b{.n_seq = 8, .seq_len = 320};
  std::mt19937 rng(1);
  for (int64_t i = 0; i < b.n_seq * b.seq_len; ++i) {
    b.tokens.push_back(int32_t(rng() % 576));
    b.targets.push_back(int32_t(rng() % 576));
  }
  // One untimed step: the first allocates and first-touches ~100 MB of activations.
  if (!model->forward_backward(pool, b).ok()) {
    state.SkipWithError("forward_backward failed");
    return;
  }
  for (auto _ : state) {
    auto loss = model->forward_backward(pool, b);
    benchmark::DoNotOptimize(loss);
  }
  // Active parameters per token: everything but the unchosen experts and the embedding table.
  int64_t active = model->n_params() - o.n_vocab * o.n_embd;
  active -= (o.n_layer - 1) * (o.n_expert - o.n_expert_used) * 3 * o.n_embd * o.n_ff_exp;
  const double tokens = double(b.tokens.size()) * double(state.iterations());
  state.counters["tok/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(6.0 * double(active) * tokens * 1e-9, benchmark::Counter::kIsRate);
  state.counters["Mparams"] = double(model->n_params()) * 1e-6;
}
BENCHMARK(BM_TrainStep)
    ->Args({192, 6, 2})  // muse-nano
    ->Args({192, 6, 1})
    ->Args({256, 6, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace muse

BENCHMARK_MAIN();
