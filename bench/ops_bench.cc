// Microbenchmarks of the float kernels at llama-7B-class sizes (n_embd 4096, n_ff 11008,
// 32 heads / 8 kv heads of dim 128, kv length 4096) on the best dispatched target.
// Bytes/s counts each operand array once (compulsory traffic), so memory-bound kernels can
// be compared with the machine's bandwidth. Run: ops_bench --benchmark_repetitions=5.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "kernels/attention.h"
#include "kernels/ops.h"

namespace muse {
namespace {

std::vector<float> random_vec(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

void BM_RmsNorm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = random_vec(n, 1), w = random_vec(n, 2);
  std::vector<float> y(n);
  for (auto _ : state) {
    rms_norm(x.data(), w.data(), y.data(), n, 1e-5f);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * 3 * n * int64_t(sizeof(float)));
  state.SetLabel(ops_target_name());
}
BENCHMARK(BM_RmsNorm)->Arg(4096);

// One token's q (32 heads) and k (8 heads), head_dim 128, table filled once per token.
void BM_Rope(benchmark::State& state) {
  const RopeParams p{.style = state.range(0) ? RopeStyle::NeoX : RopeStyle::Normal, .n_rot = 128};
  auto q = random_vec(32 * 128, 3), k = random_vec(8 * 128, 4);
  std::vector<float> table(rope_table_size(p.n_rot));
  int64_t pos = 0;
  for (auto _ : state) {
    rope_fill_table(p, pos++ & 4095, table.data());
    rope_apply(p, table.data(), q.data(), 32, 128, 128);
    rope_apply(p, table.data(), k.data(), 8, 128, 128);
    benchmark::DoNotOptimize(q.data());
    benchmark::DoNotOptimize(k.data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * 40 * 128 * int64_t(sizeof(float)));
  state.SetLabel(p.style == RopeStyle::NeoX ? "neox" : "normal");
}
BENCHMARK(BM_Rope)->Arg(0)->Arg(1);

void BM_RopeFillTable(benchmark::State& state) {
  const RopeParams p{.n_rot = 128};
  std::vector<float> table(rope_table_size(p.n_rot));
  int64_t pos = 0;
  for (auto _ : state) {
    rope_fill_table(p, pos++, table.data());
    benchmark::DoNotOptimize(table.data());
  }
}
BENCHMARK(BM_RopeFillTable);

void BM_Softmax(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto src = random_vec(n, 5);
  auto x = src;
  for (auto _ : state) {
    softmax(x.data(), n);  // outputs stay in (0, 1]: no drift to denormals across runs
    benchmark::DoNotOptimize(x.data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * int64_t(sizeof(float)));
}
BENCHMARK(BM_Softmax)->Arg(4096)->Arg(32000);

void BM_Swiglu(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto g = random_vec(n, 6), u = random_vec(n, 7);
  std::vector<float> y(n);
  for (auto _ : state) {
    swiglu(g.data(), u.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * 3 * n * int64_t(sizeof(float)));
}
BENCHMARK(BM_Swiglu)->Arg(11008);

void BM_Gelu(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = random_vec(n, 8);
  std::vector<float> y(n);
  for (auto _ : state) {
    gelu(x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * int64_t(sizeof(float)));
}
BENCHMARK(BM_Gelu)->Arg(11008);

void BM_Dot(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto a = random_vec(n, 9), b = random_vec(n, 10);
  for (auto _ : state) benchmark::DoNotOptimize(dot_f32(a.data(), b.data(), n));
  state.SetBytesProcessed(state.iterations() * 2 * n * int64_t(sizeof(float)));
}
BENCHMARK(BM_Dot)->Arg(4096);

// One decode step of one layer: 32 query heads over 8 kv heads, head_dim 128, kv length
// range(1), K/V type range(0) (1 = F16, the default cache type). Bytes = the K/V read.
void BM_AttentionDecode(benchmark::State& state) {
  const bool f16 = state.range(0) != 0;
  const int64_t n_kv = state.range(1);
  constexpr int64_t kHeads = 32, kHeadsKv = 8, kDim = 128;
  const int64_t n_elems = n_kv * kHeadsKv * kDim;
  const auto kf = random_vec(n_elems, 11), vf = random_vec(n_elems, 12);
  std::vector<fp16_t> kh(n_elems), vh(n_elems);
  for (int64_t i = 0; i < n_elems; ++i) {
    kh[i] = fp32_to_fp16(kf[i]);
    vh[i] = fp32_to_fp16(vf[i]);
  }
  const auto q = random_vec(kHeads * kDim, 13);
  std::vector<float> out(kHeads * kDim);
  const int32_t pos = int32_t(n_kv - 1);
  const AttentionArgs args{.n_head = kHeads,
                           .n_head_kv = kHeadsKv,
                           .head_dim = kDim,
                           .n_kv = n_kv,
                           .q = q.data(),
                           .k = f16 ? static_cast<const void*>(kh.data()) : kf.data(),
                           .v = f16 ? static_cast<const void*>(vh.data()) : vf.data(),
                           .out = out.data(),
                           .pos = &pos,
                           .kv_type = f16 ? DType::F16 : DType::F32};
  if (!validate_attention_args(args).ok()) {
    state.SkipWithError("invalid attention args");
    return;
  }
  for (auto _ : state) {
    attention(args);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * n_elems * (f16 ? 2 : 4));
  state.SetLabel(f16 ? "f16 kv" : "f32 kv");
}
BENCHMARK(BM_AttentionDecode)->Args({1, 4096})->Args({0, 4096})->Args({1, 512});

// One decode step of DeepSeek-V3-style absorbed MLA on one thread's share: range(0) query
// heads over a single latent kv head, q/k dim 576 = [c_kv(512) ; k_rope(64)], V = the first
// 512 of each F16 cache row (v aliases k), kv length range(1). Bytes = the cache read once;
// 16 heads take two sweeps of 8, so the second sweep's reads may come from cache.
void BM_AttentionDecodeMla(benchmark::State& state) {
  const int64_t n_head = state.range(0), n_kv = state.range(1);
  constexpr int64_t kDimK = 576, kDimV = 512;
  const auto cf = random_vec(n_kv * kDimK, 17);
  std::vector<fp16_t> cache(cf.size());
  for (size_t i = 0; i < cf.size(); ++i) cache[i] = fp32_to_fp16(cf[i]);
  const auto q = random_vec(n_head * kDimK, 18);
  std::vector<float> out(n_head * kDimV);
  const int32_t pos = int32_t(n_kv - 1);
  const AttentionArgs args{.n_head = n_head,
                           .n_head_kv = 1,
                           .head_dim = kDimK,
                           .head_dim_v = kDimV,
                           .n_kv = n_kv,
                           .q = q.data(),
                           .k = cache.data(),
                           .v = cache.data(),
                           .out = out.data(),
                           .pos = &pos,
                           .k_row_stride = kDimK,
                           .v_row_stride = kDimK,
                           .scale = 0.0722f};  // 1/sqrt(192): DeepSeek's nope + rope dims
  if (!validate_attention_args(args).ok()) {
    state.SkipWithError("invalid attention args");
    return;
  }
  for (auto _ : state) {
    attention(args);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * n_kv * kDimK * 2);
}
BENCHMARK(BM_AttentionDecodeMla)->Args({16, 4096})->Args({16, 512});

// Prefill of a 64-token block ending a 1024-row cache: (token, head) items, causal.
void BM_AttentionPrefill(benchmark::State& state) {
  constexpr int64_t kHeads = 32, kHeadsKv = 8, kDim = 128, kTokens = 64, kKv = 1024;
  const int64_t n_elems = kKv * kHeadsKv * kDim;
  std::vector<fp16_t> kh(n_elems), vh(n_elems);
  const auto kf = random_vec(n_elems, 14), vf = random_vec(n_elems, 15);
  for (int64_t i = 0; i < n_elems; ++i) {
    kh[i] = fp32_to_fp16(kf[i]);
    vh[i] = fp32_to_fp16(vf[i]);
  }
  const auto q = random_vec(kTokens * kHeads * kDim, 16);
  std::vector<float> out(q.size());
  std::vector<int32_t> pos(kTokens);
  for (int64_t t = 0; t < kTokens; ++t) pos[t] = int32_t(kKv - kTokens + t);
  const AttentionArgs args{.n_tokens = kTokens,
                           .n_head = kHeads,
                           .n_head_kv = kHeadsKv,
                           .head_dim = kDim,
                           .n_kv = kKv,
                           .q = q.data(),
                           .k = kh.data(),
                           .v = vh.data(),
                           .out = out.data(),
                           .pos = pos.data()};
  for (auto _ : state) {
    attention(args);
    benchmark::DoNotOptimize(out.data());
  }
  // Flops: 2 (QK) + 2 (PV) per element per visible row and head.
  int64_t rows = 0;
  for (int32_t p : pos) rows += p + 1;
  state.counters["GFLOP/s"] = benchmark::Counter(double(rows) * kHeads * kDim * 4 * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttentionPrefill)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace muse

BENCHMARK_MAIN();
