// Conventions shared by the training ops (train/ops/*.h). Every op is a forward/backward pair
// on plain row-major float32 buffers with explicit shapes; forward fills a caller-owned
// `...Saved` struct with what backward needs (no global tape). Backward functions always
// accumulate (+=) into parameter gradients; for input gradients each function states whether
// it writes or accumulates, or takes a GradMode when callers need both.
// Dimension names: T tokens (rows), D model width, V vocabulary, H heads, E experts,
// K experts used per token.
#pragma once

#include <algorithm>
#include <cstdint>

#include "threading/thread_pool.h"

namespace muse {

// How a backward function stores an input gradient: overwrite it, or add to it (a tensor that
// feeds two consumers, like the residual stream or MLA's normed input, sums both gradients).
enum class GradMode { kWrite, kAccumulate };

// Runs fn(begin, end) over [0, n) in chunks of `chunk` rows, spread over the pool. The chunks
// do not depend on the pool size, so per-chunk partial sums reduce identically for any
// thread count.
template <class Fn>
void for_chunks(ThreadPool& pool, int64_t n, int64_t chunk, Fn&& fn) {
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  pool.run(n_chunks, [&](int64_t c, int) { fn(c * chunk, std::min(n, (c + 1) * chunk)); });
}

}  // namespace muse
