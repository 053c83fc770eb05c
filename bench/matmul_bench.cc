// Quantized matvec and matmul throughput, judged against the physical limits:
//  * matvec (one activation column, decode) is memory-bound: weight bytes/s as a fraction
//    of the read bandwidth this benchmark measures itself on the same threads;
//  * matmul with 16 columns reads the weights once for 16 tokens and should be compute-
//    bound: multiply-accumulates per second against the matvec's.
// The matrix (32768 x 8192, 151 MB at 4.5 bits per weight) is several times the 32 MB
// last-level cache for every type, so no part of it survives between iterations.
//
//   ./build/release/matmul_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/membw.h"
#include "quant/quant.h"

namespace muse {
namespace {

constexpr int64_t kRows = 32768;
constexpr int64_t kK = 8192;

int bench_threads() {
  const char* env = std::getenv("MUSE_THREADS");
  return env ? std::atoi(env) : 2;
}

ThreadPool& pool() {
  static ThreadPool p(bench_threads());
  return p;
}

double bandwidth() {
  static const double bw = measure_read_bandwidth(pool()).bytes_per_second;
  return bw;
}

const std::vector<uint8_t>& weights(DType t) {
  static std::map<DType, std::vector<uint8_t>> cache;
  auto it = cache.find(t);
  if (it != cache.end()) return it->second;
  std::vector<uint8_t>& w = cache[t];
  const size_t rb = row_bytes(t, kK);
  w.resize(rb * kRows);
  // Quantize 64 distinct rows (the K-quant reference search is slow) and tile them over
  // the matrix: the bytes repeat, the addresses do not, which is all a streaming kernel sees.
  constexpr int64_t kDistinct = 64;
  pool().run(kDistinct, [&](int64_t r, int) {
    std::mt19937 rng{uint32_t(r)};
    std::normal_distribution<float> dist;
    std::vector<float> row(kK);
    for (float& v : row) v = dist(rng);
    quantize_row_ref(t, row.data(), w.data() + r * rb, kK);
  });
  pool().run(kRows - kDistinct, [&](int64_t i, int) {
    const int64_t r = kDistinct + i;
    std::memcpy(w.data() + r * rb, w.data() + (r % kDistinct) * rb, rb);
  });
  return w;
}

void BM_ReadBandwidth(benchmark::State& state) {
  for (auto _ : state) {
    const BandwidthResult r = measure_read_bandwidth(pool(), size_t(512) << 20, 3);
    state.counters["GB/s"] = r.bytes_per_second / 1e9;
  }
}
BENCHMARK(BM_ReadBandwidth)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_Matmul(benchmark::State& state) {
  const DType t = DType(state.range(0));
  const int64_t n_cols = state.range(1);
  const std::vector<uint8_t>& w = weights(t);
  const double bw = bandwidth();
  std::vector<float> x(n_cols * kK, 0.5f), y(n_cols * kRows);
  MatmulScratch scratch;
  const QMatrix m{t, w.data(), kRows, kK};
  for (auto _ : state) {
    matmul(pool(), scratch, m, x.data(), n_cols, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(dtype_name(t)) + " " + std::to_string(kRows) + "x" +
                 std::to_string(kK) + " cols=" + std::to_string(n_cols));
  const double iters = double(state.iterations());
  state.SetBytesProcessed(int64_t(iters * w.size()));
  state.counters["GMAC/s"] =
      benchmark::Counter(iters * kRows * kK * n_cols / 1e9, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] =
      benchmark::Counter(iters * double(w.size()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["measured_bw_GB/s"] = bw / 1e9;
}

void MatmulArgs(benchmark::internal::Benchmark* b) {
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K,
                  DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F16})
    for (int64_t cols : {1, 16}) b->Args({int64_t(t), cols});
}
BENCHMARK(BM_Matmul)->Apply(MatmulArgs)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace muse

BENCHMARK_MAIN();
