#include "core/huge_pages.h"

#include <gtest/gtest.h>

#include <cstring>

namespace muse {
namespace {

TEST(HugePages, LargeBuffersAreHugePageAligned) {
  for (size_t bytes : {kHugePageBytes, kHugePageBytes + 1, 3 * kHugePageBytes + 12345}) {
    HugeBuffer b = alloc_huge(bytes);
    ASSERT_NE(b, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % kHugePageBytes, 0u) << bytes;
    std::memset(b.get(), 0x5A, bytes);  // every byte asked for is writable
    EXPECT_EQ(b.get()[bytes - 1], 0x5A);
  }
}

TEST(HugePages, SmallBuffersAreCacheLineAligned) {
  for (size_t bytes : {size_t(0), size_t(1), size_t(4096), kHugePageBytes - 1}) {
    HugeBuffer b = alloc_huge(bytes);
    ASSERT_NE(b, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 64, 0u) << bytes;
    if (bytes > 0) std::memset(b.get(), 1, bytes);
  }
}

}  // namespace
}  // namespace muse
