// Quantized matvec and matmul throughput, judged against the physical limits:
//  * matvec (one activation column, decode) is memory-bound: weight bytes/s as a fraction
//    of the read bandwidth this benchmark measures itself on the same threads;
//  * matmul with 16 columns reads the weights once for 16 tokens and should be compute-
//    bound: multiply-accumulates per second against the matvec's.
// The matrix (32768 x 8192, 151 MB at 4.5 bits per weight) is several times the 32 MB
// last-level cache for every type, so no part of it survives between iterations. Q8_0 and
// Q4_0 run in the tiled layout the model loader gives them (kernels/tiled.h).
//
//   ./build/release/matmul_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
//
// BM_MoeDecode (below) compares matmul_batch with per-matrix calls on a mixture-of-experts
// decode step: add --benchmark_filter=MoeDecode.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <span>
#include <vector>

#include "core/huge_pages.h"
#include "kernels/matmul.h"
#include "kernels/membw.h"
#include "kernels/qdot.h"
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

// Q8_0 and Q4_0 in the tiled layout the model loader gives them (kernels/tiled.h), in the
// loader's memory (huge pages for large matrices).
std::span<const uint8_t> tiled_weights(DType t) {
  static std::map<DType, HugeBuffer> cache;
  const size_t bytes = tiled_bytes(t, kRows, kK);
  auto it = cache.find(t);
  if (it != cache.end()) return {it->second.get(), bytes};
  const std::vector<uint8_t>& rows = weights(t);
  uint8_t* w = (cache[t] = alloc_huge(bytes)).get();
  if (w == nullptr) throw std::bad_alloc();
  pool().run(kRows / 1024, [&](int64_t i, int) {
    tile_rows(t, rows.data(), kRows, kK, w, i * 1024, (i + 1) * 1024);
  });
  return {w, bytes};
}

void BM_Matmul(benchmark::State& state) {
  const DType t = DType(state.range(0));
  const int64_t n_cols = state.range(1);
  const bool tiled = tileable(t);
  const std::span<const uint8_t> w = tiled ? tiled_weights(t) : std::span(weights(t));
  const double bw = bandwidth();
  std::vector<float> x(n_cols * kK, 0.5f), y(n_cols * kRows);
  MatmulScratch scratch;
  QMatrix m{t, w.data(), kRows, kK};
  if (tiled) m.layout = WeightLayout::kTiles4;
  for (auto _ : state) {
    matmul(pool(), scratch, m, x.data(), n_cols, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(dtype_name(t)) + (tiled ? " tiled " : " ") + std::to_string(kRows) +
                 "x" + std::to_string(kK) + " cols=" + std::to_string(n_cols));
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

// The compute kernel alone, one thread, L2-resident operands: 64 rows x 4096 weights (Q8_0:
// 278 KB) against n columns of quantized activations, as 4-column dot_tile calls or as
// kPanelCols-column dot_panel calls per 4-row tile, or (mode 3) one dot_rows call over all
// the tiled rows, which pairs tiles for Q8_0 (the same results bit for bit;
// tests/kernels/qdot_tile_test, tiled_test). Run them in one process so a noisy machine slows
// them alike:
//   ./build/release/matmul_bench --benchmark_filter=DotKernel --benchmark_repetitions=5
void BM_DotKernel(benchmark::State& state) {
  const DType t = DType(state.range(0));
  const int n_cols = int(state.range(1));
  // 0: 4-column tiles, 1: panels, 2: tiled panels, 3: tiled dot_rows
  const int mode = int(state.range(2));
  const bool panel = mode != 0;
  constexpr int64_t kKernRows = 64, kKernK = 4096;
  const size_t rb = row_bytes(t, kKernK);
  const ActType act = act_type(t);
  const size_t ab = act_row_bytes(act, kKernK);
  std::vector<uint8_t> w(rb * kKernRows), a(ab * n_cols);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(kKernK);
  for (int64_t r = 0; r < kKernRows; ++r) {
    for (float& v : x) v = dist(rng);
    quantize_row_ref(t, x.data(), w.data() + r * rb, kKernK);
  }
  for (int c = 0; c < n_cols; ++c) {
    for (float& v : x) v = dist(rng);
    quantize_act_ref(act, x.data(), a.data() + c * ab, kKernK);
  }
  std::vector<float> y(size_t(n_cols) * kKernRows);
  std::vector<uint8_t> tiled(tiled_bytes(t, kKernRows, kKernK));
  if (mode >= 2) tile_rows(t, w.data(), kKernRows, kKernK, tiled.data(), 0, kKernRows);
  const uint8_t* wsrc = mode >= 2 ? tiled.data() : w.data();
  for (auto _ : state) {
    if (mode == 3) {
      dot_rows({.type = t,
                .n_k = kKernK,
                .w = wsrc,
                .w_stride = rb,
                .n_rows = int(kKernRows),
                .a = a.data(),
                .a_stride = ab,
                .n_cols = n_cols,
                .out = y.data(),
                .out_stride = size_t(kKernRows),
                .tiled = true});
      benchmark::DoNotOptimize(y.data());
      continue;
    }
    for (int64_t r = 0; r < kKernRows; r += kTileRows) {
      DotTileArgs args{.type = t,
                       .n_k = kKernK,
                       .w = wsrc + r * rb,
                       .w_stride = rb,
                       .n_rows = kTileRows,
                       .a = a.data(),
                       .a_stride = ab,
                       .n_cols = n_cols,
                       .out = y.data() + r,
                       .out_stride = size_t(kKernRows),
                       .tiled = mode >= 2};
      if (panel) {
        qdot_internal::for_each_panel(args, dot_panel);
      } else {
        for (int c = 0; c < n_cols; c += kTileCols) {
          DotTileArgs tile = args;
          tile.a = a.data() + c * ab;
          tile.n_cols = std::min(kTileCols, n_cols - c);
          tile.out = y.data() + c * kKernRows + r;
          dot_tile(tile);
        }
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  static const char* const kModes[] = {" tiles", " panel", " tiled panel", " tiled rows"};
  state.SetLabel(std::string(dtype_name(t)) + kModes[mode]);
  const double macs = double(kKernRows) * kKernK * n_cols;
  state.counters["GMAC/s"] =
      benchmark::Counter(double(state.iterations()) * macs / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DotKernel)
    ->ArgsProduct({{int64_t(DType::Q8_0), int64_t(DType::Q4_0)},
                   {1, 2, 4, 8, 16, 128},
                   {0, 1, 2, 3}})
    ->Unit(benchmark::kMicrosecond);

// A mixture-of-experts FFN at decode, one token: 4 routed experts and 1 shared, each a SwiGLU
// of gate and up [512 rows x 1024] and down [1024 rows x 512], Q8_0: 15 matrices of 557 KB,
// each smaller than one matmul chunk (1 MiB). Modes: one `matmul` per matrix (15 pool jobs);
// `matmul_multi` of each expert's gate and up, then `matmul` of each down (10 jobs); two
// `matmul_batch` calls, gate/up of every expert on the shared input, then every down on its
// own input (2 jobs). The SwiGLU between them is left out: it is not what is measured.
// One step's 8.4 MB may stay in the 32 MB L3 between iterations, so a second variant takes
// each step's 5 experts in turn from 32 experts x 12 layers (642 MB): every read is DRAM.
constexpr int64_t kMoeEmbd = 1024, kMoeFf = 512;
constexpr int kMoeActive = 5;
constexpr int kMoeExpertsCold = 32 * 12;

enum class MoeMode { kMatmul, kMulti, kBatch };

// Expert e's gate, up and down matrices, back to back.
struct MoeWeights {
  std::vector<uint8_t> bytes;
  size_t gate_bytes, down_bytes;
  QMatrix gate(int e) const { return {DType::Q8_0, at(e), kMoeFf, kMoeEmbd}; }
  QMatrix up(int e) const { return {DType::Q8_0, at(e) + gate_bytes, kMoeFf, kMoeEmbd}; }
  QMatrix down(int e) const { return {DType::Q8_0, at(e) + 2 * gate_bytes, kMoeEmbd, kMoeFf}; }
  const uint8_t* at(int e) const {
    return bytes.data() + size_t(e) * (2 * gate_bytes + down_bytes);
  }
};

const MoeWeights& moe_weights(int n_experts) {
  static std::map<int, MoeWeights> cache;
  auto it = cache.find(n_experts);
  if (it != cache.end()) return it->second;
  MoeWeights& w = cache[n_experts];
  w.gate_bytes = row_bytes(DType::Q8_0, kMoeEmbd) * kMoeFf;
  w.down_bytes = row_bytes(DType::Q8_0, kMoeFf) * kMoeEmbd;
  const size_t expert_bytes = 2 * w.gate_bytes + w.down_bytes;
  w.bytes.resize(expert_bytes * n_experts);
  // Quantize one expert's rows, then copy it to every expert: as in `weights`, only the
  // addresses need to differ.
  std::mt19937 rng{7};
  std::normal_distribution<float> dist;
  std::vector<float> row(kMoeEmbd);
  const size_t n_rows = 2 * kMoeFf + kMoeEmbd;
  for (size_t r = 0, off = 0; r < n_rows; ++r) {
    const int64_t k = r < size_t(2 * kMoeFf) ? kMoeEmbd : kMoeFf;
    for (int64_t i = 0; i < k; ++i) row[i] = dist(rng);
    quantize_row_ref(DType::Q8_0, row.data(), w.bytes.data() + off, k);
    off += row_bytes(DType::Q8_0, k);
  }
  pool().run(n_experts - 1, [&](int64_t e, int) {
    std::memcpy(w.bytes.data() + (e + 1) * expert_bytes, w.bytes.data(), expert_bytes);
  });
  return w;
}

void BM_MoeDecode(benchmark::State& state) {
  const MoeMode mode = MoeMode(state.range(0));
  const int n_experts = int(state.range(1));
  const MoeWeights& w = moe_weights(n_experts);
  const double bw = bandwidth();
  std::vector<float> x(kMoeEmbd, 0.5f), h(kMoeActive * kMoeFf, 0.25f);
  std::vector<float> gate_up(2 * kMoeActive * kMoeFf), y(kMoeActive * kMoeEmbd);
  MatmulScratch scratch;
  std::vector<MatmulJob> gate_up_jobs(2 * kMoeActive), down_jobs(kMoeActive);
  int first = 0;
  for (auto _ : state) {
    for (int i = 0; i < kMoeActive; ++i) {
      const int e = (first + i) % n_experts;
      float* g = gate_up.data() + 2 * i * kMoeFf;
      gate_up_jobs[2 * i] = {.w = w.gate(e), .x = x.data(), .n_cols = 1, .y = g};
      gate_up_jobs[2 * i + 1] = {.w = w.up(e), .x = x.data(), .n_cols = 1, .y = g + kMoeFf};
      down_jobs[i] = {
          .w = w.down(e), .x = h.data() + i * kMoeFf, .n_cols = 1, .y = y.data() + i * kMoeEmbd};
    }
    first = (first + kMoeActive) % n_experts;
    switch (mode) {
      case MoeMode::kMatmul:
        for (const MatmulJob& j : gate_up_jobs) matmul(pool(), scratch, j.w, j.x, 1, j.y);
        for (const MatmulJob& j : down_jobs) matmul(pool(), scratch, j.w, j.x, 1, j.y);
        break;
      case MoeMode::kMulti:
        for (int i = 0; i < kMoeActive; ++i) {
          const QMatrix ws[] = {gate_up_jobs[2 * i].w, gate_up_jobs[2 * i + 1].w};
          float* const ys[] = {gate_up_jobs[2 * i].y, gate_up_jobs[2 * i + 1].y};
          matmul_multi(pool(), scratch, ws, x.data(), 1, ys);
        }
        for (const MatmulJob& j : down_jobs) matmul(pool(), scratch, j.w, j.x, 1, j.y);
        break;
      case MoeMode::kBatch:
        matmul_batch(pool(), scratch, gate_up_jobs);
        matmul_batch(pool(), scratch, down_jobs);
        break;
    }
    benchmark::DoNotOptimize(gate_up.data());
    benchmark::DoNotOptimize(y.data());
  }
  static const char* const kModes[] = {"matmul x15", "matmul_multi x5 + matmul x5",
                                       "matmul_batch x2"};
  state.SetLabel(std::string(kModes[int(mode)]) + (n_experts == kMoeActive ? " L3" : " DRAM"));
  const double iters = double(state.iterations());
  const double step_bytes = double(kMoeActive * (2 * w.gate_bytes + w.down_bytes));
  state.counters["weight_GB/s"] =
      benchmark::Counter(iters * step_bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["of_measured_bw"] =
      benchmark::Counter(iters * step_bytes / bw, benchmark::Counter::kIsRate);
  state.counters["measured_bw_GB/s"] = bw / 1e9;
}
BENCHMARK(BM_MoeDecode)
    ->ArgsProduct({{int64_t(MoeMode::kMatmul), int64_t(MoeMode::kMulti), int64_t(MoeMode::kBatch)},
                   {kMoeActive, kMoeExpertsCold}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace muse

BENCHMARK_MAIN();
