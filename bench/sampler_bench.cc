// Cost of one `Sampler::sample` call on a 152064-token vocab (Qwen2's), the per-token
// overhead the sampler adds to a decode step. Logits are normal(0, 2.5) with a peaked head
// of ten tokens, roughly the shape of a model that is fairly sure of its next token.
// Run: sampler_bench --benchmark_repetitions=5.

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "runtime/sampler.h"

namespace muse {
namespace {

constexpr size_t kVocab = 152064;

std::vector<float> make_logits() {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 2.5f);
  std::vector<float> v(kVocab);
  for (float& x : v) x = dist(rng);
  for (size_t i = 0; i < 10; ++i) v[(i * 15013) % kVocab] = 14.0f + static_cast<float>(i) * 0.3f;
  return v;
}

void run(benchmark::State& state, const SamplerParams& params, bool penalties) {
  const std::vector<float> logits = make_logits();
  auto sampler = Sampler::create(params);
  if (!sampler.ok()) {
    state.SkipWithError(sampler.status().message().c_str());
    return;
  }
  if (penalties) {
    for (int32_t t = 0; t < 64; ++t) sampler->accept(t * 2311);
  }
  for (auto _ : state) {
    auto r = sampler->sample(logits);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * int64_t{kVocab} * int64_t{sizeof(float)});
}

void BM_Greedy(benchmark::State& state) { run(state, {.temperature = 0.0f}, false); }
BENCHMARK(BM_Greedy);

void BM_GreedyLogprobs20(benchmark::State& state) {
  run(state, {.temperature = 0.0f, .n_logprobs = 20}, false);
}
BENCHMARK(BM_GreedyLogprobs20);

// The defaults: top-k 40, top-p 0.95, min-p 0.05, temperature 0.8.
void BM_TopK40TopPLogprobs20(benchmark::State& state) {
  run(state, {.seed = 1, .n_logprobs = 20}, false);
}
BENCHMARK(BM_TopK40TopPLogprobs20);

void BM_TopK40TopPPenaltiesLogprobs20(benchmark::State& state) {
  run(state, {.repeat_penalty = 1.1f, .presence_penalty = 0.5f, .seed = 1, .n_logprobs = 20}, true);
}
BENCHMARK(BM_TopK40TopPPenaltiesLogprobs20);

// No top-k: the candidates are the whole vocab and top-p sorts the nucleus in chunks.
void BM_TopPOnlyLogprobs20(benchmark::State& state) {
  run(state, {.top_k = 0, .min_p = 0.0f, .seed = 1, .n_logprobs = 20}, false);
}
BENCHMARK(BM_TopPOnlyLogprobs20);

// Pure temperature sampling over the whole vocab (no truncation at all).
void BM_FullSoftmax(benchmark::State& state) {
  run(state, {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 1}, false);
}
BENCHMARK(BM_FullSoftmax);

}  // namespace
}  // namespace muse

BENCHMARK_MAIN();
