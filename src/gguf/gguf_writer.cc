// GgufWriter: encodes each KV when it is set (so the header is a concatenation at write
// time), then streams tensors one at a time through a reused buffer.
// Byte layout follows the GGUF spec exactly (see gguf.h); offsets are computed at write()
// so set_alignment may come after add_tensor.
#include "gguf/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

namespace muse {
namespace {

void put_raw(std::string* out, const void* p, size_t n) {
  out->append(static_cast<const char*>(p), n);
}
void put_u32(std::string* out, uint32_t v) { put_raw(out, &v, 4); }
void put_u64(std::string* out, uint64_t v) { put_raw(out, &v, 8); }
void put_str(std::string* out, std::string_view s) {
  put_u64(out, s.size());
  out->append(s);
}

template <class T>
std::string encode_scalar(GgufType type, T v) {
  std::string out;
  put_u32(&out, uint32_t(type));
  put_raw(&out, &v, sizeof(T));
  return out;
}

template <class T>
std::string encode_numeric_array(GgufType element_type, std::span<const T> v) {
  std::string out;
  put_u32(&out, uint32_t(GgufType::kArray));
  put_u32(&out, uint32_t(element_type));
  put_u64(&out, v.size());
  put_raw(&out, v.data(), v.size() * sizeof(T));
  return out;
}

template <class S>
std::string encode_string_array(std::span<const S> v) {
  std::string out;
  put_u32(&out, uint32_t(GgufType::kArray));
  put_u32(&out, uint32_t(GgufType::kString));
  put_u64(&out, v.size());
  for (const S& s : v) put_str(&out, s);
  return out;
}

// The payload of an array value without its leading type: element type, count, elements.
void encode_array_body(std::string* out, const GgufValue& v) {
  put_u32(out, uint32_t(v.element_type()));
  put_u64(out, v.size());
  if (v.element_type() == GgufType::kString) {
    for (std::string_view s : v.strings()) put_str(out, s);
  } else if (v.element_type() == GgufType::kArray) {
    for (uint64_t i = 0; i < v.size(); ++i) encode_array_body(out, v.element(i));
  } else {
    put_raw(out, v.raw_data(), v.size() * gguf_type_size(v.element_type()));
  }
}

}  // namespace

void GgufWriter::put(std::string_view key, const std::string& encoded) {
  if (key.empty()) {
    if (status_.ok()) status_ = Status::Error("metadata key is empty");
    return;
  }
  const auto [it, inserted] = kv_index_.emplace(std::string(key), kvs_.size());
  if (inserted) {
    kvs_.emplace_back(std::string(key), encoded);
  } else {
    kvs_[it->second].second = encoded;
  }
}

void GgufWriter::set_u8(std::string_view k, uint8_t v) { put(k, encode_scalar(GgufType::kU8, v)); }
void GgufWriter::set_i8(std::string_view k, int8_t v) { put(k, encode_scalar(GgufType::kI8, v)); }
void GgufWriter::set_u16(std::string_view k, uint16_t v) {
  put(k, encode_scalar(GgufType::kU16, v));
}
void GgufWriter::set_i16(std::string_view k, int16_t v) {
  put(k, encode_scalar(GgufType::kI16, v));
}
void GgufWriter::set_u32(std::string_view k, uint32_t v) {
  if (k == "general.alignment") {
    set_alignment(v);
    return;
  }
  put(k, encode_scalar(GgufType::kU32, v));
}
void GgufWriter::set_i32(std::string_view k, int32_t v) {
  put(k, encode_scalar(GgufType::kI32, v));
}
void GgufWriter::set_f32(std::string_view k, float v) { put(k, encode_scalar(GgufType::kF32, v)); }
void GgufWriter::set_bool(std::string_view k, bool v) {
  put(k, encode_scalar(GgufType::kBool, uint8_t(v ? 1 : 0)));
}
void GgufWriter::set_string(std::string_view k, std::string_view v) {
  std::string out;
  put_u32(&out, uint32_t(GgufType::kString));
  put_str(&out, v);
  put(k, out);
}
void GgufWriter::set_u64(std::string_view k, uint64_t v) {
  put(k, encode_scalar(GgufType::kU64, v));
}
void GgufWriter::set_i64(std::string_view k, int64_t v) {
  put(k, encode_scalar(GgufType::kI64, v));
}
void GgufWriter::set_f64(std::string_view k, double v) { put(k, encode_scalar(GgufType::kF64, v)); }

void GgufWriter::set_string_array(std::string_view k, std::span<const std::string> v) {
  put(k, encode_string_array(v));
}
void GgufWriter::set_string_array(std::string_view k, std::span<const std::string_view> v) {
  put(k, encode_string_array(v));
}
void GgufWriter::set_i32_array(std::string_view k, std::span<const int32_t> v) {
  put(k, encode_numeric_array(GgufType::kI32, v));
}
void GgufWriter::set_u32_array(std::string_view k, std::span<const uint32_t> v) {
  put(k, encode_numeric_array(GgufType::kU32, v));
}
void GgufWriter::set_i64_array(std::string_view k, std::span<const int64_t> v) {
  put(k, encode_numeric_array(GgufType::kI64, v));
}
void GgufWriter::set_f32_array(std::string_view k, std::span<const float> v) {
  put(k, encode_numeric_array(GgufType::kF32, v));
}
void GgufWriter::set_bool_array(std::string_view k, std::span<const bool> v) {
  std::vector<uint8_t> bytes(v.begin(), v.end());  // sizeof(bool) is not promised to be 1
  put(k, encode_numeric_array(GgufType::kBool, std::span<const uint8_t>(bytes)));
}

void GgufWriter::set_value(std::string_view k, const GgufValue& v) {
  if (k == "general.alignment") {
    const std::optional<uint64_t> a = v.as_uint();
    if (a && *a <= UINT32_MAX) {
      set_alignment(uint32_t(*a));
    } else if (status_.ok()) {
      status_ = Status::Error("general.alignment must be an unsigned integer that fits in u32");
    }
    return;
  }
  std::string out;
  put_u32(&out, uint32_t(v.type()));
  if (v.type() == GgufType::kString) {
    put_str(&out, *v.as_string());
  } else if (v.is_array()) {
    encode_array_body(&out, v);
  } else {
    // Scalars keep their own width; the raw bits are zero-extended little-endian.
    const GgufValue copy = v;
    uint64_t raw = 0;
    if (auto i = copy.as_int()) {
      raw = uint64_t(*i);
    } else if (auto u = copy.as_uint()) {
      raw = *u;
    } else if (auto b = copy.as_bool()) {
      raw = *b ? 1 : 0;
    } else if (copy.type() == GgufType::kF32) {
      const float f = float(*copy.as_float());
      std::memcpy(&raw, &f, 4);
    } else if (copy.type() == GgufType::kF64) {
      const double d = *copy.as_float();
      std::memcpy(&raw, &d, 8);
    }
    put_raw(&out, &raw, gguf_type_size(v.type()));
  }
  put(k, out);
}

void GgufWriter::set_alignment(uint32_t alignment) {
  if (alignment == 0 || !std::has_single_bit(alignment)) {
    if (status_.ok()) status_ = Errorf("alignment %u is not a power of two", alignment);
    return;
  }
  alignment_ = alignment;
  put("general.alignment", encode_scalar(GgufType::kU32, alignment));
}

Status GgufWriter::add_tensor(std::string_view name, DType dtype, std::span<const int64_t> ne,
                              const void* data) {
  if (data == nullptr) return Status::Error("tensor '" + std::string(name) + "': data is null");
  return add(name, dtype, ne, data, nullptr);
}

Status GgufWriter::add_tensor(std::string_view name, DType dtype, std::span<const int64_t> ne,
                              FillFn fill) {
  if (!fill) return Status::Error("tensor '" + std::string(name) + "': fill callback is empty");
  return add(name, dtype, ne, nullptr, std::move(fill));
}

Status GgufWriter::add(std::string_view name, DType dtype, std::span<const int64_t> ne,
                       const void* data, FillFn fill) {
  const std::string quoted = "tensor '" + std::string(name) + "'";
  if (name.empty()) return Status::Error("tensor name is empty");
  if (name.size() > kGgufMaxTensorName) {
    return Errorf("%s: name has %zu bytes; GGML allows at most %zu", quoted.c_str(), name.size(),
                  kGgufMaxTensorName);
  }
  if (tensor_index_.count(std::string(name))) return Status::Error("duplicate " + quoted);
  const std::optional<DTypeInfo> info = dtype_info_of(uint32_t(dtype));
  if (!info) return Errorf("%s: undefined type id %u", quoted.c_str(), uint32_t(dtype));
  if (ne.empty() || ne.size() > size_t(kGgufMaxDims)) {
    return Errorf("%s has %zu dimensions; GGUF allows 1 to %d", quoted.c_str(), ne.size(),
                  kGgufMaxDims);
  }
  int64_t n = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] <= 0) {
      return Errorf("%s: dimension %zu is %" PRId64 "; must be positive", quoted.c_str(), d, ne[d]);
    }
    if (n > INT64_MAX / ne[d]) return Errorf("%s: element count overflows", quoted.c_str());
    n *= ne[d];
  }
  if (ne[0] % info->block_size != 0) {
    return Errorf("%s: first dimension %" PRId64 " is not a multiple of the %s block size %" PRId64,
                  quoted.c_str(), ne[0], std::string(info->name).c_str(), info->block_size);
  }
  Tensor t;
  t.name = std::string(name);
  t.dtype = dtype;
  t.ne.assign(ne.begin(), ne.end());
  t.bytes = uint64_t(n / info->block_size) * info->type_size;
  t.data = data;
  t.fill = std::move(fill);
  tensor_index_.emplace(t.name, tensors_.size());
  tensors_.push_back(std::move(t));
  return Status::Ok();
}

namespace {

// Makes a rename inside the directory of `path` durable; best effort (some file systems
// refuse fsync on a directory, and the data itself is already on disk).
void sync_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)fsync(fd);
  ::close(fd);
}

// Owns the temporary file until it is renamed into place.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(path_.c_str());
  }
  Status open() {
    f_ = std::fopen(path_.c_str(), "wb");
    if (!f_) return Status::Error("cannot create '" + path_ + "': " + std::strerror(errno));
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
    return Status::Ok();
  }
  Status write(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n)
      return Status::Error("writing '" + path_ + "' failed: " + std::strerror(errno));
    return Status::Ok();
  }
  // The data reaches the disk before the rename makes it the file, and the rename before
  // this returns, so a crash or power loss leaves the old file or the whole new one
  // (checkpoints rely on it).
  Status commit(const std::string& final_path) {
    const bool synced = std::fflush(f_) == 0 && fsync(fileno(f_)) == 0;
    const int err = errno;
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (!synced || rc != 0)
      return Status::Error("writing '" + path_ +
                           "' failed: " + std::strerror(synced ? errno : err));
    if (std::rename(path_.c_str(), final_path.c_str()) != 0) {
      return Status::Error("cannot rename '" + path_ + "' to '" + final_path +
                           "': " + std::strerror(errno));
    }
    committed_ = true;
    sync_dir(final_path);
    return Status::Ok();
  }

 private:
  std::string path_;
  FILE* f_ = nullptr;
  bool committed_ = false;
};

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

Status GgufWriter::write(const std::string& path) const {
  MUSE_RETURN_IF_ERROR(status_);
  std::string header;
  put_u32(&header, kGgufMagic);
  put_u32(&header, kGgufVersion);
  put_u64(&header, tensors_.size());
  put_u64(&header, kvs_.size());
  for (const auto& [key, encoded] : kvs_) {
    put_str(&header, key);
    header += encoded;
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    put_str(&header, t.name);
    put_u32(&header, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put_u64(&header, uint64_t(d));
    put_u32(&header, uint32_t(t.dtype));
    put_u64(&header, offset);
    offset = align_up(offset + t.bytes, alignment_);
  }
  header.resize(align_up(header.size(), alignment_), '\0');

  TempFile out(path + ".tmp");
  MUSE_RETURN_IF_ERROR(out.open());
  MUSE_RETURN_IF_ERROR(out.write(header.data(), header.size()));
  const std::vector<uint8_t> zeros(alignment_, 0);
  std::unique_ptr<uint8_t[]> buf;  // reused across tensors; not zeroed, fill writes every byte
  uint64_t buf_size = 0;
  for (const Tensor& t : tensors_) {
    const void* src = t.data;
    if (t.fill) {
      if (t.bytes > buf_size) {
        buf.reset();  // release before allocating the larger one to bound peak memory
        buf.reset(new uint8_t[t.bytes]);
        buf_size = t.bytes;
      }
      MUSE_RETURN_IF_ERROR(
          t.fill({buf.get(), size_t(t.bytes)}).WithContext("tensor '" + t.name + "'"));
      src = buf.get();
    }
    MUSE_RETURN_IF_ERROR(out.write(src, t.bytes));
    MUSE_RETURN_IF_ERROR(out.write(zeros.data(), align_up(t.bytes, alignment_) - t.bytes));
  }
  return out.commit(path);
}

}  // namespace muse
