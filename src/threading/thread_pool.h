// Explicit thread pool for data-parallel kernels. The caller participates as worker 0, so a
// pool of n threads starts n - 1 OS threads. `run(n_tasks, fn)` calls fn(task, worker) for
// every task in [0, n_tasks) exactly once and returns when all are done; tasks are claimed
// from one atomic counter, so uneven tasks balance themselves. Workers spin briefly after a
// job (a decode step issues hundreds of jobs back to back; a futex wake costs ~5-20 us) and
// then sleep on an atomic wait, so an idle pool burns no CPU.
//
// A job is finished when its tasks are, not when every worker has looked at it: a worker
// that the OS has descheduled (another process holds its core) simply finds no task left,
// and the caller never waits a scheduler slice for it. Task claims carry the job's sequence
// number, so a late worker cannot take a task of a newer job with an older job's function.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <type_traits>
#include <vector>

namespace muse {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // fn(int64_t task, int worker); worker is in [0, size()) and unique among concurrent calls,
  // so per-worker scratch needs no lock. Not reentrant: fn must not call run().
  // Jobs of more than kMaxTasks tasks run as several jobs (the claim index is 32 bits).
  static constexpr int64_t kMaxTasks = int64_t(1) << 31;
  template <class Fn>
  void run(int64_t n_tasks, Fn&& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
      for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
      return;
    }
    struct Ctx {
      std::remove_reference_t<Fn>* fn;
      int64_t base;
    };
    auto thunk = [](void* c, int64_t task, int worker) {
      Ctx* ctx = static_cast<Ctx*>(c);
      (*ctx->fn)(ctx->base + task, worker);
    };
    for (int64_t base = 0; base < n_tasks; base += kMaxTasks) {
      Ctx ctx{&fn, base};
      dispatch(std::min(kMaxTasks, n_tasks - base), thunk, &ctx);
    }
  }

  // Threads the pool should use by default: physical cores available to this process.
  static int default_threads();

 private:
  using Thunk = void (*)(void* ctx, int64_t task, int worker);
  void dispatch(int64_t n_tasks, Thunk thunk, void* ctx);
  void worker_loop(int worker);

  int n_threads_;
  std::vector<std::thread> threads_;

  // Runs tasks of job `seq` until none is left or a newer job has started.
  void work(uint32_t seq, int worker);

  // The current job, published before `epoch_` is bumped (release) and read by workers
  // after they observe it (acquire). Atomic because a late worker may read them while the
  // caller publishes the next job; the claim's sequence check then discards what it read.
  std::atomic<Thunk> thunk_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int64_t> n_tasks_{0};

  alignas(64) std::atomic<uint64_t> claim_{0};  // (job sequence << 32) | next task index
  alignas(64) std::atomic<int64_t> done_{0};    // tasks of the current job finished
  alignas(64) std::atomic<uint32_t> epoch_{0};  // sequence number of the current job
  std::atomic<bool> stop_{false};
};

}  // namespace muse
