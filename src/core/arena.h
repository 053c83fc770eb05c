// Bump allocator for per-step scratch (activations, quantized inputs): allocation is a
// pointer increment, everything is freed at once by reset(). Blocks are 64-byte aligned
// (a cache line, and the widest SIMD load) and never move, so pointers stay valid until
// reset(); when a block fills, a new one is chained rather than reallocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace muse {

class Arena {
 public:
  static constexpr size_t kAlign = 64;

  explicit Arena(size_t block_bytes = size_t(1) << 20) : block_bytes_(block_bytes) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Uninitialised, kAlign-aligned memory for `bytes` bytes (bytes may be 0).
  void* alloc(size_t bytes);
  template <class T>
  T* alloc_array(size_t n) {
    return static_cast<T*>(alloc(n * sizeof(T)));
  }

  // Frees every allocation; keeps the largest block for reuse so a steady-state step does
  // not touch the system allocator.
  void reset();

  size_t bytes_in_use() const { return in_use_; }
  size_t bytes_reserved() const;

 private:
  struct Block {
    std::unique_ptr<uint8_t[], void (*)(void*)> mem{nullptr, nullptr};
    size_t size = 0;
  };
  size_t block_bytes_;
  std::vector<Block> blocks_;
  size_t used_in_last_ = 0;  // bytes used in blocks_.back()
  size_t in_use_ = 0;
};

}  // namespace muse
