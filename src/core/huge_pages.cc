#include "core/huge_pages.h"

#include <sys/mman.h>

#include <algorithm>

namespace muse {

HugeBuffer alloc_huge(size_t bytes) {
  const size_t align = bytes >= kHugePageBytes ? kHugePageBytes : 64;
  const size_t alloc = (std::max<size_t>(bytes, 1) + align - 1) / align * align;
  HugeBuffer buf(static_cast<uint8_t*>(std::aligned_alloc(align, alloc)));
  if (buf && align == kHugePageBytes) madvise(buf.get(), alloc, MADV_HUGEPAGE);
  return buf;
}

}  // namespace muse
