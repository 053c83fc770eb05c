#include "threading/thread_pool.h"

#include <sched.h>

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MUSE_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define MUSE_CPU_RELAX() asm volatile("yield")
#else
#define MUSE_CPU_RELAX() ((void)0)
#endif

namespace muse {
namespace {

// How long an idle worker spins before sleeping. Long enough to bridge the gap between the
// kernels of one forward pass, short enough not to steal a core from other processes.
constexpr auto kSpinBudget = std::chrono::microseconds(2000);
// Busy-wait iterations (~10 us) before a waiting thread starts yielding its core.
constexpr int kPauseSpins = 1000;
// Task index of a claim word whose job is not open yet; above any task count run() accepts.
constexpr uint64_t kClosed = 0xffffffffu;

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  threads_.reserve(n_threads_ - 1);
  for (int w = 1; w < n_threads_; ++w) threads_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  epoch_.fetch_add(1, std::memory_order_release);
  epoch_.notify_all();
  for (std::thread& t : threads_) t.join();
}

int ThreadPool::default_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? int(n) : 1;
}

// Claim protocol. The claim word is (job sequence << 32) | next task index. The caller
// opens job S by (1) closing the claim word to (S << 32) | kClosed, (2) publishing the
// job's function, context and task count (release), (3) opening the claim at (S << 32) | 0
// (release). A worker reads the claim (acquire), then the job fields (acquire), and runs a
// task only if its compare-exchange on the unchanged claim word succeeds. If the fields it
// read were a newer job's, step (1) of that job happened before, so the claim word has
// changed and the exchange fails: a task never runs with another job's function.
void ThreadPool::work(uint32_t seq, int worker) {
  uint64_t claim = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (uint32_t(claim >> 32) != seq) return;  // a newer job (or the next one, closed)
    const int64_t task = int64_t(claim & 0xffffffffu);
    const Thunk thunk = thunk_.load(std::memory_order_acquire);
    void* const ctx = ctx_.load(std::memory_order_acquire);
    const int64_t n_tasks = n_tasks_.load(std::memory_order_acquire);
    if (task >= n_tasks) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;
    thunk(ctx, task, worker);
    done_.fetch_add(1, std::memory_order_release);
    claim = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::dispatch(int64_t n_tasks, Thunk thunk, void* ctx) {
  const uint32_t seq = epoch_.load(std::memory_order_relaxed) + 1;
  claim_.store((uint64_t(seq) << 32) | kClosed, std::memory_order_release);
  thunk_.store(thunk, std::memory_order_release);
  ctx_.store(ctx, std::memory_order_release);
  n_tasks_.store(n_tasks, std::memory_order_release);
  done_.store(0, std::memory_order_relaxed);
  claim_.store(uint64_t(seq) << 32, std::memory_order_release);
  epoch_.store(seq, std::memory_order_release);
  epoch_.notify_all();
  work(seq, 0);
  // Wait for tasks other workers claimed and are still running: `ctx` (the caller's
  // lambda) must outlive every call. Yield after a short spin: on an oversubscribed
  // machine the worker running the last task may need our core.
  for (int spins = 0; done_.load(std::memory_order_acquire) != n_tasks; ++spins) {
    if (spins < kPauseSpins)
      MUSE_CPU_RELAX();
    else
      std::this_thread::yield();
  }
}

void ThreadPool::worker_loop(int worker) {
  uint32_t seen = 0;
  for (;;) {
    // Spin on the epoch for a while, then sleep until it changes.
    uint32_t e = epoch_.load(std::memory_order_acquire);
    if (e == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
      int spins = 0;
      while ((e = epoch_.load(std::memory_order_acquire)) == seen) {
        if (++spins < kPauseSpins) {
          MUSE_CPU_RELAX();
        } else {
          std::this_thread::yield();
          if (std::chrono::steady_clock::now() > deadline)
            epoch_.wait(seen, std::memory_order_acquire);
        }
      }
    }
    seen = e;
    if (stop_.load(std::memory_order_relaxed)) return;
    work(e, worker);
  }
}

}  // namespace muse
