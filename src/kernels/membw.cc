#include "kernels/membw.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <vector>

#include "core/huge_pages.h"

namespace muse {
namespace {

// Sums 64-bit words with 8 independent accumulators so the loop is limited by loads, not
// by an add chain; the compiler vectorises it for the baseline ISA, which is enough to
// saturate DRAM (a load per cycle needs only ~50 GB/s per core at 3 GHz x 16 B).
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t s[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  for (; i < n; ++i) s[0] += p[i];
  uint64_t total = 0;
  for (uint64_t v : s) total += v;
  return total;
}

}  // namespace

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes, int repetitions) {
  const size_t n_words = buffer_bytes / sizeof(uint64_t);
  // Huge pages, as the weights it is the limit for (core/huge_pages.h).
  const HugeBuffer mem = alloc_huge(n_words * sizeof(uint64_t));
  if (!mem) throw std::bad_alloc();
  const std::span<uint64_t> buf(reinterpret_cast<uint64_t*>(mem.get()), n_words);
  const int64_t n_tasks = pool.size();
  const size_t per_task = (n_words + n_tasks - 1) / n_tasks;
  // Touch every page from the worker that will read it (first-touch placement).
  pool.run(n_tasks, [&](int64_t t, int) {
    const size_t begin = t * per_task, end = std::min(n_words, begin + per_task);
    for (size_t i = begin; i < end; ++i) buf[i] = i;
  });
  std::vector<double> rates;
  std::vector<uint64_t> sink(n_tasks);
  for (int rep = 0; rep < repetitions + 1; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run(n_tasks, [&](int64_t t, int) {
      const size_t begin = t * per_task, end = std::min(n_words, begin + per_task);
      sink[t] += sum_words(buf.data() + begin, end - begin);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) rates.push_back(double(n_words * sizeof(uint64_t)) / s);  // rep 0 warms up
  }
  volatile uint64_t keep = 0;
  for (uint64_t v : sink) keep = keep + v;
  std::sort(rates.begin(), rates.end());
  return {rates[rates.size() / 2], n_words * sizeof(uint64_t), repetitions};
}

}  // namespace muse
