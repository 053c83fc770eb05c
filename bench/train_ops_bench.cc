// Microbenchmarks of the training ops' hot paths: the linear layer (forward x·Wᵀ; backward
// dy·W and dyᵀ·x) at T = 256 tokens, square 256 and 512 layers, on 1 and 2 threads, and the
// MLA attention core at a muse-nano-like shape. GFLOP/s counts 2 flops per multiply-add of the
// products (attention: the causal half only) over wall time (UseRealTime), since the work is
// threaded. GFLOP/cpu_s divides by the process's CPU time instead (all threads, spinning
// included): on a shared, loaded machine it shows what each busy core achieves, and on an
// idle one 2-thread wall throughput approaches twice it.
// Run: train_ops_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <random>
#include <vector>

#include "kernels/gemm_f32.h"
#include "train/ops/attention.h"
#include "train/ops/linear.h"

namespace muse {
namespace {

std::vector<float> random_vec(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Args: T, n_in = n_out, threads.
struct LinearFixture {
  explicit LinearFixture(const benchmark::State& state)
      : T(state.range(0)),
        D(state.range(1)),
        pool(int(state.range(2))),
        x(random_vec(T * D, 1)),
        w(random_vec(D * D, 2)),
        dy(random_vec(T * D, 3)),
        y(size_t(T * D)),
        dx(size_t(T * D)),
        dw(size_t(D * D)) {}
  LinearArgs args() const {
    return {.n_tokens = T, .n_in = D, .n_out = D, .x = x.data(), .w = w.data()};
  }
  int64_t T, D;
  ThreadPool pool;
  GemmScratch scratch;
  std::vector<float> x, w, dy, y, dx, dw;
};

// Process CPU time (every thread) since construction.
class CpuClock {
 public:
  CpuClock() : start_(std::clock()) {}
  double seconds() const { return double(std::clock() - start_) / CLOCKS_PER_SEC; }

 private:
  std::clock_t start_;
};

void set_flops(benchmark::State& state, double flops_per_iter, const CpuClock& cpu) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/cpu_s"] =
      flops_per_iter * double(state.iterations()) * 1e-9 / std::max(cpu.seconds(), 1e-9);
  state.SetLabel(gemm_f32_target_name());
}

void BM_LinearForward(benchmark::State& state) {
  LinearFixture f(state);
  const CpuClock cpu;
  for (auto _ : state) {
    linear_forward(f.pool, f.scratch, f.args(), f.y.data());
    benchmark::DoNotOptimize(f.y.data());
  }
  set_flops(state, 2.0 * double(f.T * f.D * f.D), cpu);
}

// dx = dy·W and dW += dyᵀ·x: twice the forward's flops.
void BM_LinearBackward(benchmark::State& state) {
  LinearFixture f(state);
  const CpuClock cpu;
  for (auto _ : state) {
    linear_backward(f.pool, f.scratch, f.args(), f.dy.data(),
                    {.dx = f.dx.data(), .dw = f.dw.data()});
    benchmark::DoNotOptimize(f.dw.data());
  }
  set_flops(state, 4.0 * double(f.T * f.D * f.D), cpu);
}

void BM_LinearBackwardDx(benchmark::State& state) {
  LinearFixture f(state);
  const CpuClock cpu;
  for (auto _ : state) {
    linear_backward(f.pool, f.scratch, f.args(), f.dy.data(), {.dx = f.dx.data()});
    benchmark::DoNotOptimize(f.dx.data());
  }
  set_flops(state, 2.0 * double(f.T * f.D * f.D), cpu);
}

void BM_LinearBackwardDw(benchmark::State& state) {
  LinearFixture f(state);
  const CpuClock cpu;
  for (auto _ : state) {
    linear_backward(f.pool, f.scratch, f.args(), f.dy.data(), {.dw = f.dw.data()});
    benchmark::DoNotOptimize(f.dw.data());
  }
  set_flops(state, 2.0 * double(f.T * f.D * f.D), cpu);
}

void LinearArgsGrid(benchmark::internal::Benchmark* b) {
  for (int64_t d : {256, 512})
    for (int64_t threads : {1, 2}) b->Args({256, d, threads});
  b->ArgNames({"T", "D", "threads"})->UseRealTime();
}
BENCHMARK(BM_LinearForward)->Apply(LinearArgsGrid);
BENCHMARK(BM_LinearBackward)->Apply(LinearArgsGrid);
BENCHMARK(BM_LinearBackwardDx)->Apply(LinearArgsGrid);
BENCHMARK(BM_LinearBackwardDw)->Apply(LinearArgsGrid);

// MLA attention core: 4 sequences of 256 tokens, 4 heads, q/k = 32 nope + 16 rope, v = 32.
struct AttentionFixture {
  static constexpr int64_t B = 4, L = 256, H = 4, N = 32, R = 16, Dv = 32, T = B * L;
  explicit AttentionFixture(const benchmark::State& state)
      : pool(int(state.range(0))),
        q(random_vec(T * H * (N + R), 4)),
        kn(random_vec(T * H * N, 5)),
        kr(random_vec(T * R, 6)),
        v(random_vec(T * H * Dv, 7)),
        out(size_t(T * H * Dv)),
        dout(random_vec(T * H * Dv, 8)),
        dq(q.size()),
        dkn(kn.size()),
        dkr(kr.size()),
        dv(v.size()) {}
  AttentionDims dims() const {
    return {.n_seq = B, .seq_len = L, .n_head = H, .dim_nope = N, .dim_rope = R, .dim_v = Dv};
  }
  AttentionInputs inputs() const {
    return {.q = {q.data(), H * (N + R), N + R},
            .k_nope = {kn.data(), H * N, N},
            .k_rope = {kr.data(), R, 0},
            .v = {v.data(), H * Dv, Dv}};
  }
  // Causal half of q·kᵀ and P·v per (sequence, head).
  static double flops() { return double(B * H) * double(L * L) * double(N + R + Dv); }
  ThreadPool pool;
  GemmScratch scratch;
  AttentionSaved saved;
  std::vector<float> q, kn, kr, v, out, dout, dq, dkn, dkr, dv;
};

void BM_AttentionForward(benchmark::State& state) {
  AttentionFixture f(state);
  const CpuClock cpu;
  for (auto _ : state) {
    attention_forward(f.pool, f.scratch, f.dims(), f.inputs(), {f.out.data(), f.H * f.Dv, f.Dv},
                      f.saved);
    benchmark::DoNotOptimize(f.out.data());
  }
  set_flops(state, AttentionFixture::flops(), cpu);
}

void BM_AttentionBackward(benchmark::State& state) {
  AttentionFixture f(state);
  attention_forward(f.pool, f.scratch, f.dims(), f.inputs(), {f.out.data(), f.H * f.Dv, f.Dv},
                    f.saved);
  const int64_t H = f.H, N = f.N, R = f.R, Dv = f.Dv;
  const CpuClock cpu;
  for (auto _ : state) {
    attention_backward(f.pool, f.scratch, f.dims(), f.inputs(), {f.dout.data(), H * Dv, Dv},
                       f.saved,
                       {.dq = {f.dq.data(), H * (N + R), N + R},
                        .dk_nope = {f.dkn.data(), H * N, N},
                        .dk_rope = {f.dkr.data(), R, 0},
                        .dv = {f.dv.data(), H * Dv, Dv}});
    benchmark::DoNotOptimize(f.dq.data());
  }
  set_flops(state, 2.0 * AttentionFixture::flops(), cpu);
}
BENCHMARK(BM_AttentionForward)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK(BM_AttentionBackward)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();

}  // namespace
}  // namespace muse

BENCHMARK_MAIN();
