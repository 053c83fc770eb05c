// Read-only memory mapping of a whole file: the zero-copy backing store of GGUF weights.
// Invariant: a MappedFile that `open` returned maps a non-empty regular file for its whole
// lifetime; it is move-only, and the moved-from object maps nothing. The mapping's address
// never changes, so views into it stay valid when the MappedFile is moved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace muse {

class MappedFile {
 public:
  // Errors name the path and the cause: missing, a directory, not a regular file, empty,
  // permission denied, or the mmap failure itself.
  static StatusOr<MappedFile> open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  void reset();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace muse
