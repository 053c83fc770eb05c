#include "core/arena.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace muse {

void* Arena::alloc(size_t bytes) {
  const size_t rounded = (bytes + kAlign - 1) & ~(kAlign - 1);
  if (blocks_.empty() || used_in_last_ + rounded > blocks_.back().size) {
    const size_t size = std::max(block_bytes_, rounded);
    void* mem = std::aligned_alloc(kAlign, size);
    if (!mem) throw std::bad_alloc();
    blocks_.push_back({{static_cast<uint8_t*>(mem), &std::free}, size});
    used_in_last_ = 0;
  }
  uint8_t* p = blocks_.back().mem.get() + used_in_last_;
  used_in_last_ += rounded;
  in_use_ += rounded;
  return p;
}

void Arena::reset() {
  if (blocks_.size() > 1) {
    // Keep one block as large as everything the last cycle needed, so the next cycle fits.
    size_t total = bytes_reserved();
    blocks_.clear();
    void* mem = std::aligned_alloc(kAlign, total);
    if (!mem) throw std::bad_alloc();
    blocks_.push_back({{static_cast<uint8_t*>(mem), &std::free}, total});
  }
  used_in_last_ = 0;
  in_use_ = 0;
}

size_t Arena::bytes_reserved() const {
  size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

}  // namespace muse
