// POSIX implementation of MappedFile: open, fstat to classify the path, mmap read-only.
// The descriptor is closed right after mmap; the mapping keeps the file alive.
#include "core/mmap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace muse {
namespace {

std::string errno_text(int err) {
  switch (err) {
    case ENOENT:
      return "no such file or directory";
    case EACCES:
      return "permission denied";
    default:
      return std::strerror(err);
  }
}

}  // namespace

StatusOr<MappedFile> MappedFile::open(const std::string& path) {
  if (path.empty()) return Status::Error("cannot open file: the path is empty");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return Status::Error("cannot open '" + path + "': " + errno_text(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Error("cannot stat '" + path + "': " + errno_text(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::Error("'" + path + "' is a directory, not a file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error("'" + path + "' is not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return Status::Error("'" + path + "' is empty (0 bytes)");
  }
  const size_t size = size_t(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    return Status::Error("cannot map '" + path + "' (" + std::to_string(size) +
                         " bytes): " + errno_text(err));
  }
  MappedFile f;
  f.data_ = static_cast<const uint8_t*>(p);
  f.size_ = size;
  f.path_ = path;
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() { reset(); }

void MappedFile::reset() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace muse
