// TensorView geometry and Arena allocation invariants.
#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "core/arena.h"

namespace muse {
namespace {

TEST(TensorView, ContiguousStridesFollowBlockLayout) {
  uint8_t buf[1];
  const TensorView f = TensorView::contiguous(DType::F32, {64, 10, 3}, buf);
  EXPECT_EQ(f.n_dims, 3);
  EXPECT_EQ(f.nb[1], 256u);
  EXPECT_EQ(f.nb[2], 2560u);
  EXPECT_EQ(f.nb[3], 7680u);
  EXPECT_EQ(f.bytes(), 7680u);
  EXPECT_EQ(f.n_rows(), 30);
  EXPECT_TRUE(f.is_contiguous());
  EXPECT_EQ(f.shape_string(), "[64, 10, 3]");

  const TensorView q = TensorView::contiguous(DType::Q4_K, {512, 7}, buf);
  EXPECT_EQ(q.row_bytes(), 2u * 144u);
  EXPECT_EQ(q.bytes(), 7u * 288u);
  EXPECT_EQ(static_cast<uint8_t*>(q.row(3)) - buf, 3 * 288);
}

TEST(TensorView, StridedViewIsNotContiguous) {
  uint8_t buf[1];
  TensorView v = TensorView::contiguous(DType::F32, {8, 4}, buf);
  v.nb[1] = 64;  // every other row of a [8, 8] matrix
  EXPECT_FALSE(v.is_contiguous());
  EXPECT_EQ(v.bytes(), 3u * 64u + 32u);
}

TEST(Arena, AlignedDistinctAndReset) {
  Arena arena(256);
  std::set<uintptr_t> seen;
  for (size_t n : {1, 63, 64, 65, 0, 300, 7}) {
    auto p = reinterpret_cast<uintptr_t>(arena.alloc(n));
    EXPECT_EQ(p % Arena::kAlign, 0u);
    EXPECT_TRUE(seen.insert(p).second || n == 0);
  }
  const size_t reserved = arena.bytes_reserved();
  EXPECT_GE(reserved, arena.bytes_in_use());
  arena.reset();
  EXPECT_EQ(arena.bytes_in_use(), 0u);
  EXPECT_EQ(arena.bytes_reserved(), reserved);  // consolidated into one block
  // After a reset the same workload fits in the kept block without growing.
  for (size_t n : {1, 63, 64, 65, 0, 300, 7}) arena.alloc(n);
  EXPECT_EQ(arena.bytes_reserved(), reserved);
}

}  // namespace
}  // namespace muse
