// GGUF parsing and validation. Everything is checked in one forward pass before a GgufFile
// exists: a read never goes past the end, every count is bounded by the bytes left before
// memory is reserved for it, and every error names the key or tensor and the numbers at fault.
#include "gguf/gguf.h"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstring>
#include <limits>

namespace muse {

static_assert(std::endian::native == std::endian::little,
              "GGUF is little-endian and this reader maps it without byte swapping");

namespace {

// Smallest possible encodings, used to bound counts by the bytes that remain.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;                  // key length, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name len, n_dims, ne, type, offset
constexpr uint64_t kMinArrayBytes = 4 + 8;                   // nested array: type, count
constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;

// Names from a corrupt file can be any bytes of any length; keep messages readable.
std::string clip(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "'";
}

}  // namespace

class GgufParser {
 public:
  explicit GgufParser(std::span<const uint8_t> bytes) : p_(bytes.data()), size_(bytes.size()) {}

  Status parse(GgufFile* f) {
    f->bytes_ = {p_, size_};
    MUSE_RETURN_IF_ERROR(parse_header(f));
    MUSE_RETURN_IF_ERROR(parse_kvs(f));
    MUSE_RETURN_IF_ERROR(parse_alignment(f));
    MUSE_RETURN_IF_ERROR(parse_tensor_infos(f));
    return check_tensor_extents(f);
  }

 private:
  uint64_t remaining() const { return size_ - pos_; }

  bool read(void* dst, size_t n) {
    if (n > remaining()) return false;
    std::memcpy(dst, p_ + pos_, n);
    pos_ += n;
    return true;
  }

  Status truncated(uint64_t at, uint64_t need, const std::string& what) const {
    return Errorf("file truncated: %s at offset %" PRIu64 " needs %" PRIu64
                  " bytes but the file ends at %zu",
                  what.c_str(), at, need, size_);
  }

  template <class T, class What>
  Status read_scalar(T* out, What&& what) {
    const uint64_t at = pos_;
    if (!read(out, sizeof(T))) return truncated(at, sizeof(T), what());
    return Status::Ok();
  }

  template <class What>
  Status read_string(std::string_view* out, What&& what) {
    const uint64_t at = pos_;
    uint64_t len = 0;
    if (!read(&len, sizeof(len))) return truncated(at, 8, what() + " (string length)");
    if (len > remaining()) {
      return Errorf("%s: string length %" PRIu64 " at offset %" PRIu64 " exceeds the %" PRIu64
                    " bytes left in the file",
                    what().c_str(), len, at, remaining());
    }
    *out = {reinterpret_cast<const char*>(p_ + pos_), size_t(len)};
    pos_ += len;
    return Status::Ok();
  }

  Status parse_header(GgufFile* f) {
    if (size_ < 4) return Errorf("not a GGUF file: only %zu bytes", size_);
    uint32_t magic;
    std::memcpy(&magic, p_, 4);
    if (magic != kGgufMagic) {
      return Status::Error("not a GGUF file: bad magic " +
                           clip({reinterpret_cast<const char*>(p_), 4}) + " (expected 'GGUF')");
    }
    pos_ = 4;
    uint32_t version = 0;
    MUSE_RETURN_IF_ERROR(read_scalar(&version, [] { return std::string("version"); }));
    if (version == 1) {
      return Status::Error(
          "GGUF version 1 is not supported (v1 predates August 2023 and used 32-bit counts; "
          "convert the model again with current llama.cpp tools)");
    }
    if (version != 2 && version != 3) {
      if (__builtin_bswap32(version) == 2 || __builtin_bswap32(version) == 3)
        return Status::Error("big-endian GGUF files are not supported");
      return Errorf("unsupported GGUF version %u (this reader handles versions 2 and 3)", version);
    }
    f->version_ = version;
    MUSE_RETURN_IF_ERROR(read_scalar(&n_tensors_, [] { return std::string("tensor count"); }));
    MUSE_RETURN_IF_ERROR(read_scalar(&n_kv_, [] { return std::string("metadata count"); }));
    const uint64_t rest = remaining();
    if (n_kv_ > rest / kMinKvBytes) {
      return Errorf("header claims %" PRIu64 " metadata entries but the %" PRIu64
                    " bytes after the header hold at most %" PRIu64,
                    n_kv_, rest, rest / kMinKvBytes);
    }
    if (n_tensors_ > rest / kMinTensorInfoBytes) {
      return Errorf("header claims %" PRIu64 " tensors but the %" PRIu64
                    " bytes after the header hold at most %" PRIu64 " tensor infos",
                    n_tensors_, rest, rest / kMinTensorInfoBytes);
    }
    if (n_kv_ * kMinKvBytes + n_tensors_ * kMinTensorInfoBytes > rest) {
      return Errorf("header claims %" PRIu64 " metadata entries and %" PRIu64
                    " tensors, more than the %" PRIu64 " bytes after the header can hold",
                    n_kv_, n_tensors_, rest);
    }
    return Status::Ok();
  }

  Status parse_kvs(GgufFile* f) {
    f->kvs_.reserve(n_kv_);
    f->kv_index_.reserve(n_kv_);
    for (uint64_t i = 0; i < n_kv_; ++i) {
      GgufKv kv;
      kv.file_offset = pos_;
      MUSE_RETURN_IF_ERROR(
          read_string(&kv.key, [&] { return "key of metadata entry #" + std::to_string(i); }));
      if (kv.key.empty()) return Errorf("metadata entry #%" PRIu64 " has an empty key", i);
      const std::string name = clip(kv.key);
      uint32_t type = 0;
      MUSE_RETURN_IF_ERROR(read_scalar(&type, [&] { return "value type of key " + name; }));
      if (type >= kGgufTypeCount) {
        return Errorf("key %s has invalid value type %u (GGUF types are 0..12)", name.c_str(),
                      type);
      }
      MUSE_RETURN_IF_ERROR(parse_value(GgufType(type), 0, &kv.value, name));
      const auto [it, inserted] = f->kv_index_.emplace(kv.key, f->kvs_.size());
      if (!inserted) {
        return Errorf("duplicate key %s (metadata entries #%zu and #%" PRIu64 ")", name.c_str(),
                      it->second, i);
      }
      f->kvs_.push_back(std::move(kv));
    }
    return Status::Ok();
  }

  // `depth` counts the arrays enclosing this value.
  Status parse_value(GgufType type, int depth, GgufValue* out, const std::string& name) {
    if (type == GgufType::kString) {
      std::string_view s;
      MUSE_RETURN_IF_ERROR(read_string(&s, [&] { return "value of key " + name; }));
      *out = GgufValue::string(s);
      return Status::Ok();
    }
    if (type != GgufType::kArray) {
      uint64_t raw = 0;
      const size_t n = gguf_type_size(type);
      MUSE_RETURN_IF_ERROR(read_scalar_n(&raw, n, name));
      *out = GgufValue::scalar(type, raw);
      return Status::Ok();
    }
    return parse_array(depth + 1, out, name);
  }

  Status read_scalar_n(uint64_t* raw, size_t n, const std::string& name) {
    const uint64_t at = pos_;
    if (!read(raw, n)) return truncated(at, n, "value of key " + name);
    return Status::Ok();
  }

  Status parse_array(int depth, GgufValue* out, const std::string& name) {
    uint32_t et = 0;
    MUSE_RETURN_IF_ERROR(read_scalar(&et, [&] { return "array element type of key " + name; }));
    if (et >= kGgufTypeCount) {
      return Errorf("key %s: array has invalid element type %u (GGUF types are 0..12)",
                    name.c_str(), et);
    }
    const GgufType etype = GgufType(et);
    if (etype == GgufType::kArray && depth >= kGgufMaxArrayDepth) {
      return Errorf("key %s: arrays nested more than %d deep are not supported", name.c_str(),
                    kGgufMaxArrayDepth);
    }
    uint64_t count = 0;
    MUSE_RETURN_IF_ERROR(read_scalar(&count, [&] { return "array length of key " + name; }));
    const uint64_t min_bytes = etype == GgufType::kString  ? 8
                               : etype == GgufType::kArray ? kMinArrayBytes
                                                           : gguf_type_size(etype);
    if (count > remaining() / min_bytes) {
      return Errorf("key %s: array of %" PRIu64 " %s elements needs at least %" PRIu64
                    " bytes per element but only %" PRIu64 " bytes are left in the file",
                    name.c_str(), count, std::string(gguf_type_name(etype)).c_str(), min_bytes,
                    remaining());
    }
    if (etype == GgufType::kString) {
      std::vector<std::string_view> strings(count);
      for (uint64_t i = 0; i < count; ++i) {
        MUSE_RETURN_IF_ERROR(read_string(
            &strings[i], [&] { return "key " + name + " element " + std::to_string(i); }));
      }
      *out = GgufValue::string_array(std::move(strings));
    } else if (etype == GgufType::kArray) {
      std::vector<GgufValue> children(count);
      for (uint64_t i = 0; i < count; ++i) {
        MUSE_RETURN_IF_ERROR(parse_array(depth + 1, &children[i], name));
        if (i > 0 && children[i].element_type() != children[0].element_type()) {
          return Errorf("key %s: nested arrays mix element types %s and %s", name.c_str(),
                        std::string(gguf_type_name(children[0].element_type())).c_str(),
                        std::string(gguf_type_name(children[i].element_type())).c_str());
        }
      }
      *out = GgufValue::nested_array(std::move(children));
    } else {
      *out = GgufValue::numeric_array(etype, p_ + pos_, count);
      pos_ += count * min_bytes;  // bounded by remaining() above
    }
    return Status::Ok();
  }

  Status parse_alignment(GgufFile* f) {
    const GgufValue* v = f->find("general.alignment");
    if (v == nullptr) return Status::Ok();
    const std::optional<uint64_t> a = v->as_uint();
    if (!a) {
      return Errorf("general.alignment has type %s; expected an unsigned integer",
                    std::string(gguf_type_name(v->type())).c_str());
    }
    if (*a == 0 || !std::has_single_bit(*a) || *a > std::numeric_limits<uint32_t>::max()) {
      return Errorf("general.alignment %" PRIu64 " is not a power of two that fits in u32", *a);
    }
    f->alignment_ = uint32_t(*a);
    return Status::Ok();
  }

  Status parse_tensor_infos(GgufFile* f) {
    f->tensors_.reserve(n_tensors_);
    f->tensor_index_.reserve(n_tensors_);
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      GgufTensor t{};
      t.info_offset = pos_;
      MUSE_RETURN_IF_ERROR(
          read_string(&t.name, [&] { return "name of tensor #" + std::to_string(i); }));
      if (t.name.empty()) return Errorf("tensor #%" PRIu64 " has an empty name", i);
      const std::string name = clip(t.name);
      uint32_t n_dims = 0;
      MUSE_RETURN_IF_ERROR(read_scalar(&n_dims, [&] { return "n_dims of tensor " + name; }));
      if (n_dims < 1 || n_dims > kGgufMaxDims) {
        return Errorf("tensor %s has n_dims %u; GGUF allows 1 to %d", name.c_str(), n_dims,
                      kGgufMaxDims);
      }
      t.n_dims = int(n_dims);
      int64_t n_elements = 1;
      for (int d = 0; d < kGgufMaxDims; ++d) {
        t.ne[d] = 1;
        if (d >= t.n_dims) continue;
        uint64_t ne = 0;
        MUSE_RETURN_IF_ERROR(read_scalar(
            &ne, [&] { return "dimension " + std::to_string(d) + " of tensor " + name; }));
        if (ne == 0) return Errorf("tensor %s dimension %d is 0", name.c_str(), d);
        if (ne > uint64_t(std::numeric_limits<int64_t>::max()) ||
            n_elements > std::numeric_limits<int64_t>::max() / int64_t(ne)) {
          return Errorf("tensor %s: element count overflows int64 at dimension %d (%" PRIu64 ")",
                        name.c_str(), d, ne);
        }
        t.ne[d] = int64_t(ne);
        n_elements *= int64_t(ne);
      }
      uint32_t type_id = 0;
      MUSE_RETURN_IF_ERROR(read_scalar(&type_id, [&] { return "type of tensor " + name; }));
      const std::optional<DTypeInfo> info = dtype_info_of(type_id);
      if (!info) return Errorf("tensor %s has unknown type id %u", name.c_str(), type_id);
      t.dtype = DType(type_id);
      if (t.ne[0] % info->block_size != 0) {
        return Errorf("tensor %s: first dimension %" PRId64
                      " is not a multiple of the %s block size %" PRId64,
                      name.c_str(), t.ne[0], std::string(info->name).c_str(), info->block_size);
      }
      const uint64_t n_blocks = uint64_t(n_elements / info->block_size);
      if (n_blocks > std::numeric_limits<uint64_t>::max() / info->type_size) {
        return Errorf("tensor %s: byte size overflows u64", name.c_str());
      }
      t.bytes = n_blocks * info->type_size;
      MUSE_RETURN_IF_ERROR(read_scalar(&t.offset, [&] { return "offset of tensor " + name; }));
      if (t.offset % f->alignment_ != 0) {
        return Errorf("tensor %s offset %" PRIu64 " is not a multiple of the alignment %u",
                      name.c_str(), t.offset, f->alignment_);
      }
      const auto [it, inserted] = f->tensor_index_.emplace(t.name, f->tensors_.size());
      if (!inserted) {
        return Errorf("duplicate tensor name %s (tensors #%zu and #%" PRIu64 ")", name.c_str(),
                      it->second, i);
      }
      f->tensors_.push_back(t);
    }
    return Status::Ok();
  }

  Status check_tensor_extents(GgufFile* f) {
    const uint64_t a = f->alignment_;
    f->data_offset_ = (pos_ + a - 1) / a * a;  // pos_ <= size_, so no overflow
    if (f->tensors_.empty()) return Status::Ok();
    if (f->data_offset_ > size_) {
      return Errorf("data section would start at offset %" PRIu64
                    ", past the end of the %zu-byte file",
                    f->data_offset_, size_);
    }
    const uint64_t data_bytes = size_ - f->data_offset_;
    for (GgufTensor& t : f->tensors_) {
      if (t.offset > data_bytes || t.bytes > data_bytes - t.offset) {
        return Errorf("tensor %s (offset %" PRIu64 ", %" PRIu64
                      " bytes) extends past the end of the file: the data section holds %" PRIu64
                      " bytes",
                      clip(t.name).c_str(), t.offset, t.bytes, data_bytes);
      }
      t.data = p_ + f->data_offset_ + t.offset;
    }
    std::vector<const GgufTensor*> by_offset;
    by_offset.reserve(f->tensors_.size());
    for (const GgufTensor& t : f->tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensor* x, const GgufTensor* y) { return x->offset < y->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const GgufTensor& prev = *by_offset[i - 1];
      const GgufTensor& cur = *by_offset[i];
      if (prev.offset + prev.bytes > cur.offset) {
        return Errorf("tensors %s (offset %" PRIu64 ", %" PRIu64 " bytes) and %s (offset %" PRIu64
                      ") overlap",
                      clip(prev.name).c_str(), prev.offset, prev.bytes, clip(cur.name).c_str(),
                      cur.offset);
      }
    }
    return Status::Ok();
  }

  const uint8_t* p_;
  size_t size_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
};

StatusOr<GgufFile> GgufFile::from_bytes(std::span<const uint8_t> bytes) {
  GgufFile f;
  GgufParser parser(bytes);
  MUSE_RETURN_IF_ERROR(parser.parse(&f));
  return f;
}

StatusOr<GgufFile> GgufFile::open(const std::string& path) {
  StatusOr<MappedFile> map = MappedFile::open(path);
  if (!map.ok()) return map.status();
  StatusOr<GgufFile> f = from_bytes(map->bytes());
  if (!f.ok()) return f.status().WithContext(path);
  f->map_.emplace(std::move(map).value());  // the mapping's address does not move
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace muse
