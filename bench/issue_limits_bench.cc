// What the vector units of this x86 CPU can issue, for the instructions of the Q8_0 dot
// kernels (kernels/qdot.cc): core cycles per loop iteration of independent instructions (no
// dependency chains, operands in L1), read from the kernel's cycle counter with
// perf_event_open. These are the ceilings the kernels are measured against in
// docs/kernels.md:
//   ./build/release/issue_limits_bench --benchmark_repetitions=3
// "cycles/iter" is NaN where perf events are not readable (perf_event_paranoid, containers).
#include <benchmark/benchmark.h>

#if defined(__x86_64__) && defined(__GNUC__)

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>

namespace {

class CycleCounter {
 public:
  CycleCounter() {
    perf_event_attr attr{};
    attr.type = PERF_TYPE_HARDWARE;
    attr.size = sizeof(attr);
    attr.config = PERF_COUNT_HW_CPU_CYCLES;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    fd_ = int(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
  }
  ~CycleCounter() {
    if (fd_ >= 0) close(fd_);
  }
  CycleCounter(const CycleCounter&) = delete;
  CycleCounter& operator=(const CycleCounter&) = delete;
  // Cycles so far, or -1 without a counter.
  int64_t read_cycles() const {
    int64_t v = -1;
    if (fd_ < 0 || read(fd_, &v, sizeof(v)) != sizeof(v)) return -1;
    return v;
  }

 private:
  int fd_ = -1;
};

alignas(64) uint8_t g_buf[4096];

// One iteration of each mix. Sources are ymm0/ymm1 (never written) and g_buf; results go to
// ymm2..ymm15, each written once per iteration, so nothing depends on an earlier iteration.
// OP(op, n): "op ymm1, ymm0 -> ymm<n>"; MEM(op, off, n): the same with (%0 + off) for ymm1;
// CVT(n): "vcvtdq2ps ymm1 -> ymm<n>".
#define OP(op, n) op " %%ymm1, %%ymm0, %%ymm" #n "\n"
#define CVT(n) "vcvtdq2ps %%ymm1, %%ymm" #n "\n"
#define MEM(op, off, n) op " " #off "(%0), %%ymm0, %%ymm" #n "\n"
#define EIGHT(op) OP(op, 2) OP(op, 3) OP(op, 4) OP(op, 5) OP(op, 6) OP(op, 7) OP(op, 8) OP(op, 9)
#define FOUR_FOUR(a, b) OP(a, 2) OP(b, 3) OP(a, 4) OP(b, 5) OP(a, 6) OP(b, 7) OP(a, 8) OP(b, 9)
// What one 4-row block of Q8_0 against one activation column costs (kernels/qdot.cc
// AccumulateBlock), the 4 signs given as `sign0..sign3`.
#define Q8_BLOCK(sign0, sign1, sign2, sign3)                                                     \
  sign0 OP("vpmaddubsw", 3) OP("vpmaddwd", 4) sign1 OP("vpmaddubsw", 6) OP("vpmaddwd", 7)        \
      sign2 OP("vpmaddubsw", 9) OP("vpmaddwd", 10) sign3 OP("vpmaddubsw", 12) OP("vpmaddwd", 13) \
          OP("vpaddd", 2) OP("vpaddd", 3) OP("vpaddd", 4) CVT(5) OP("vmulps", 6) OP("vmulps", 7)
#define Q8_CORE Q8_BLOCK(OP("vpsignb", 2), OP("vpsignb", 5), OP("vpsignb", 8), OP("vpsignb", 11))
#define Q8_FOLDED                                                              \
  Q8_BLOCK(MEM("vpsignb", 0, 2), MEM("vpsignb", 32, 5), MEM("vpsignb", 64, 8), \
           MEM("vpsignb", 96, 11))
#define FOUR_BROADCASTS                                        \
  "vpbroadcastq (%0), %%ymm14\n vpbroadcastq 8(%0), %%ymm15\n" \
  "vpbroadcastq 16(%0), %%ymm14\n vpbroadcastq 24(%0), %%ymm15\n"

enum Mix {
  kMaddubs,          // 8 vpmaddubsw: 2 per cycle means two pipes
  kSign,             // 8 vpsignb
  kMaddubsSign,      // 4 + 4: 3 pipes between them
  kMaddubsMul,       // 4 vpmaddubsw + 4 vmulps: 3 pipes (one shared)
  kSignMul,          // 4 vpsignb + 4 vmulps: the same 2 pipes
  kQ8Core,           // one 4-row x 1-column Q8_0 block: 18 vector ops
  kQ8CoreBroadcast,  // the same with its 4 activation broadcasts as separate loads
  kQ8CoreFolded,     // the same with the 4 vpsignb reading memory instead
};

template <Mix kMix>
__attribute__((target("avx2,fma"), noinline)) void run_mix(int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (kMix == kMaddubs) asm volatile(EIGHT("vpmaddubsw")::: "memory");
    if constexpr (kMix == kSign) asm volatile(EIGHT("vpsignb")::: "memory");
    if constexpr (kMix == kMaddubsSign)
      asm volatile(FOUR_FOUR("vpmaddubsw", "vpsignb")::: "memory");
    if constexpr (kMix == kMaddubsMul) asm volatile(FOUR_FOUR("vpmaddubsw", "vmulps")::: "memory");
    if constexpr (kMix == kSignMul) asm volatile(FOUR_FOUR("vpsignb", "vmulps")::: "memory");
    if constexpr (kMix == kQ8Core) asm volatile(Q8_CORE::"r"(g_buf) : "memory");
    if constexpr (kMix == kQ8CoreBroadcast)
      asm volatile(Q8_CORE FOUR_BROADCASTS::"r"(g_buf) : "memory");
    if constexpr (kMix == kQ8CoreFolded) asm volatile(Q8_FOLDED::"r"(g_buf) : "memory");
  }
}

template <Mix kMix>
void BM_IssueMix(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    state.SkipWithError("needs AVX2 and FMA");
    return;
  }
  constexpr int64_t kIters = 1 << 20;
  const CycleCounter counter;
  int64_t cycles = 0;
  int64_t iters = 0;
  for (auto _ : state) {
    const int64_t c0 = counter.read_cycles();
    run_mix<kMix>(kIters);
    const int64_t c1 = counter.read_cycles();
    cycles += c1 - c0;
    iters += kIters;
  }
  state.counters["cycles/iter"] = counter.read_cycles() < 0 ? NAN : double(cycles) / double(iters);
}

BENCHMARK(BM_IssueMix<kMaddubs>)->Name("IssueMix/8_vpmaddubsw");
BENCHMARK(BM_IssueMix<kSign>)->Name("IssueMix/8_vpsignb");
BENCHMARK(BM_IssueMix<kMaddubsSign>)->Name("IssueMix/4_vpmaddubsw_4_vpsignb");
BENCHMARK(BM_IssueMix<kMaddubsMul>)->Name("IssueMix/4_vpmaddubsw_4_vmulps");
BENCHMARK(BM_IssueMix<kSignMul>)->Name("IssueMix/4_vpsignb_4_vmulps");
BENCHMARK(BM_IssueMix<kQ8Core>)->Name("IssueMix/q8_block_18_ops");
BENCHMARK(BM_IssueMix<kQ8CoreBroadcast>)->Name("IssueMix/q8_block_18_ops_4_broadcast_loads");
BENCHMARK(BM_IssueMix<kQ8CoreFolded>)->Name("IssueMix/q8_block_18_ops_4_folded_loads");

}  // namespace

#endif  // x86-64 GCC/Clang

BENCHMARK_MAIN();
