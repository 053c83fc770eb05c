// ThreadPool: every task runs exactly once, worker ids are in range and exclusive, and
// back-to-back jobs (the decode-step pattern) neither lose nor repeat tasks.
#include "threading/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace muse {
namespace {

TEST(ThreadPool, EveryTaskRunsOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.run(n, [&](int64_t task, int worker) {
        ASSERT_GE(worker, 0);
        ASSERT_LT(worker, threads);
        hits[task].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "task " << i;
    }
  }
}

TEST(ThreadPool, WorkerIdsAreExclusive) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> busy(4);
  std::atomic<int> collisions{0};
  pool.run(2000, [&](int64_t, int worker) {
    if (busy[worker].fetch_add(1) != 0) collisions.fetch_add(1);
    std::atomic<int> spin{0};
    while (spin.fetch_add(1, std::memory_order_relaxed) < 100) {
    }
    busy[worker].fetch_sub(1);
  });
  EXPECT_EQ(collisions.load(), 0);
}

TEST(ThreadPool, ManyBackToBackJobs) {
  ThreadPool pool(2);
  int64_t total = 0;
  std::vector<int64_t> partial(2, 0);
  for (int job = 0; job < 20000; ++job) {
    pool.run(4, [&](int64_t task, int worker) { partial[worker] += task + 1; });
  }
  for (int64_t p : partial) total += p;
  EXPECT_EQ(total, 20000 * 10);
}

// More threads than cores: workers are routinely descheduled mid-job and wake up after
// the caller has moved on. Every job must still run each of its tasks exactly once with
// its own function (a late worker running an old job's lambda would write into a dead
// vector, which ASan reports), and a job must not wait for workers that never joined.
TEST(ThreadPool, OversubscribedJobsStayExact) {
  ThreadPool pool(8);
  for (int job = 0; job < 3000; ++job) {
    const int64_t n = 1 + job % 7;
    std::vector<std::atomic<int>> hits(n);
    pool.run(n, [&hits, job](int64_t task, int) {
      hits[task].fetch_add(1 + job % 3, std::memory_order_relaxed);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1 + job % 3) << "job " << job;
  }
}

}  // namespace
}  // namespace muse
