// Measured memory read bandwidth: the physical limit the memory-bound kernels (matvec,
// decode) are judged against. Streams a buffer much larger than the last-level cache with
// every pool worker reading its own slice, as the matvec does.
#pragma once

#include <cstddef>

#include "threading/thread_pool.h"

namespace muse {

struct BandwidthResult {
  double bytes_per_second;  // median over the repetitions
  size_t buffer_bytes;
  int repetitions;
};

// buffer_bytes should be >= 8x the last-level cache; 512 MiB is the default.
BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes = size_t(512) << 20,
                                       int repetitions = 7);

}  // namespace muse
