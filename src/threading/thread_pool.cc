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

void ThreadPool::work(int worker) {
  for (;;) {
    const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) break;
    thunk_(ctx_, task, worker);
  }
}

void ThreadPool::dispatch(int64_t n_tasks, Thunk thunk, void* ctx) {
  thunk_ = thunk;
  ctx_ = ctx;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  pending_workers_.store(n_threads_ - 1, std::memory_order_relaxed);
  epoch_.fetch_add(1, std::memory_order_release);
  epoch_.notify_all();
  work(0);
  // Wait for the workers to leave the job: they may still be running their last task, and
  // `ctx` (the caller's lambda) must outlive every call. Yield after a short spin: when the
  // machine is oversubscribed the worker we wait for may need our core to finish.
  for (int spins = 0; pending_workers_.load(std::memory_order_acquire) != 0; ++spins) {
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
    work(worker);
    pending_workers_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace muse
