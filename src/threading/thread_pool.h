// Explicit thread pool for data-parallel kernels. The caller participates as worker 0, so a
// pool of n threads starts n - 1 OS threads. `run(n_tasks, fn)` calls fn(task, worker) for
// every task in [0, n_tasks) exactly once and returns when all are done; tasks are claimed
// from one atomic counter, so uneven tasks balance themselves. Workers spin briefly after a
// job (a decode step issues hundreds of jobs back to back; a futex wake costs ~5-20 us) and
// then sleep on an atomic wait, so an idle pool burns no CPU.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
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
  template <class Fn>
  void run(int64_t n_tasks, Fn&& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
      for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
      return;
    }
    auto thunk = [](void* ctx, int64_t task, int worker) {
      (*static_cast<Fn*>(ctx))(task, worker);
    };
    dispatch(n_tasks, thunk, &fn);
  }

  // Threads the pool should use by default: physical cores available to this process.
  static int default_threads();

 private:
  using Thunk = void (*)(void* ctx, int64_t task, int worker);
  void dispatch(int64_t n_tasks, Thunk thunk, void* ctx);
  void worker_loop(int worker);
  void work(int worker);

  int n_threads_;
  std::vector<std::thread> threads_;

  // The current job. Written by the caller before `epoch_` is bumped (release) and read by
  // workers after they observe the new epoch (acquire).
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_tasks_ = 0;

  alignas(64) std::atomic<int64_t> next_task_{0};
  alignas(64) std::atomic<int> pending_workers_{0};  // workers still inside the current job
  alignas(64) std::atomic<uint32_t> epoch_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace muse
