// Large buffers on transparent huge pages. Model weights and the read-bandwidth probe are
// walked end to end every step; with 4 KiB pages that is a TLB miss per 4 KiB (Zen 3's L2
// TLB maps 8 MiB), which cost the 250M llama's Q8_0 decode ~10 % (BENCHMARKS.md). Linux
// backs a 2 MiB-aligned range with huge pages when asked (MADV_HUGEPAGE, which the
// "madvise" THP setting requires); elsewhere the advice is ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace muse {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using HugeBuffer = std::unique_ptr<uint8_t, FreeDeleter>;

inline constexpr size_t kHugePageBytes = size_t(2) << 20;

// Uninitialised memory for `bytes` (0 is allowed): from kHugePageBytes on, aligned to and
// rounded up to huge pages and advised to use them; smaller, 64-byte aligned. Null when the
// allocation fails.
HugeBuffer alloc_huge(size_t bytes);

}  // namespace muse
