// GGUF (v2/v3) reader: a fully validated, zero-copy view of a model file over mmap.
// Invariant: `GgufFile::open` validates every header byte, every string, array and tensor
// extent before returning, so every view it hands out lies inside the file.
// Layout (little-endian): "GGUF" u32 version, u64 n_tensors, u64 n_kv, n_kv x {str key,
// u32 type, value}, n_tensors x {str name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset},
// zero padding to `general.alignment` (default 32), then the data section that tensor
// offsets are relative to. A str is u64 length + bytes (no terminator). See docs/gguf.md.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/mmap.h"
#include "core/status.h"

namespace muse {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kGgufVersion = 3;         // what GgufWriter writes
constexpr uint32_t kGgufDefaultAlignment = 32;
constexpr int kGgufMaxDims = 4;
// Arrays of arrays are legal GGUF but no model uses them beyond one level; deeper nesting
// only serves to blow the parser's stack, so it is rejected.
constexpr int kGgufMaxArrayDepth = 2;

// Value type ids exactly as GGUF numbers them.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
constexpr uint32_t kGgufTypeCount = 13;

std::string_view gguf_type_name(GgufType t);  // "u8", "i32", "f32", "bool", "str", "arr", ...
size_t gguf_type_size(GgufType t);            // bytes of a scalar; 0 for kString and kArray
inline bool gguf_type_is_integer(GgufType t) {
  return t <= GgufType::kI32 || t == GgufType::kU64 || t == GgufType::kI64;
}

// One metadata value. Strings and array payloads are views into the file (or, for values
// built by a caller, into memory the caller keeps alive); copying a GgufValue is shallow
// except for the element index of string and nested arrays.
class GgufValue {
 public:
  GgufValue() = default;
  static GgufValue scalar(GgufType type, uint64_t raw_le_bits);  // numeric or bool
  static GgufValue string(std::string_view s);
  // Numeric/bool array over `count` packed little-endian elements starting at `data`.
  static GgufValue numeric_array(GgufType element_type, const void* data, uint64_t count);
  static GgufValue string_array(std::vector<std::string_view> elements);
  static GgufValue nested_array(std::vector<GgufValue> elements);  // all of one type

  GgufType type() const { return type_; }
  bool is_array() const { return type_ == GgufType::kArray; }

  // Scalar accessors; nullopt when the type does not match or the value does not fit.
  // `as_int` accepts every integer type whose value fits in int64 (u64 above 2^63 does not);
  // `as_float` accepts f32 and f64.
  std::optional<int64_t> as_int() const;
  std::optional<uint64_t> as_uint() const;  // any non-negative integer
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Array accessors (valid only when is_array()).
  GgufType element_type() const { return element_type_; }
  uint64_t size() const { return count_; }
  GgufValue element(uint64_t i) const;                                    // i < size()
  std::span<const std::string_view> strings() const { return strings_; }  // string arrays
  const void* raw_data() const { return data_; }  // numeric arrays: packed elements

 private:
  GgufType type_ = GgufType::kU8;
  uint64_t raw_ = 0;      // scalar bits, zero-extended little-endian
  std::string_view str_;  // kString
  GgufType element_type_ = GgufType::kU8;
  uint64_t count_ = 0;                     // array element count
  const uint8_t* data_ = nullptr;          // numeric array payload
  std::vector<std::string_view> strings_;  // string array elements
  std::vector<GgufValue> children_;        // nested array elements
};

struct GgufKv {
  std::string_view key;
  GgufValue value;
  uint64_t file_offset;  // where the entry starts; lets tools and tests point at bytes
};

struct GgufTensor {
  std::string_view name;
  DType dtype;
  int n_dims;
  int64_t ne[kGgufMaxDims];  // GGML order: ne[0] is the contiguous dim; unused dims are 1
  uint64_t offset;           // relative to the data section, a multiple of the alignment
  uint64_t bytes;
  const void* data;      // points into the mapping
  uint64_t info_offset;  // where the tensor's info record starts in the file

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Maps and validates `path`. Errors are prefixed with the path.
  static StatusOr<GgufFile> open(const std::string& path);
  // Validates bytes the caller owns; they must outlive the result (used by tests and
  // by tools that already hold a buffer).
  static StatusOr<GgufFile> from_bytes(std::span<const uint8_t> bytes);

  // true for open(): the bytes are a read-only file mapping, whose pages can be dropped
  // and faulted in again from the file.
  bool is_mapped() const { return map_.has_value(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section
  uint64_t file_size() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }

  const std::vector<GgufKv>& kvs() const { return kvs_; }              // file order
  const std::vector<GgufTensor>& tensors() const { return tensors_; }  // file order
  const GgufValue* find(std::string_view key) const;
  const GgufTensor* find_tensor(std::string_view name) const;

  // Typed getters: an error when the key is missing or its value has another type or does
  // not fit. Integer getters accept any integer type whose value fits (llama.cpp's writers
  // differ: u32 here, i32 or u64 there). The `_or` forms return `fallback` when the key is
  // missing but still fail on a wrong type, so a typo'd file is not silently defaulted.
  StatusOr<std::string_view> get_string(std::string_view key) const;
  StatusOr<bool> get_bool(std::string_view key) const;
  StatusOr<uint32_t> get_u32(std::string_view key) const;
  StatusOr<int32_t> get_i32(std::string_view key) const;
  StatusOr<uint64_t> get_u64(std::string_view key) const;
  StatusOr<int64_t> get_i64(std::string_view key) const;
  StatusOr<float> get_f32(std::string_view key) const;  // f32 or f64
  StatusOr<std::string_view> get_string_or(std::string_view key, std::string_view fallback) const;
  StatusOr<bool> get_bool_or(std::string_view key, bool fallback) const;
  StatusOr<uint32_t> get_u32_or(std::string_view key, uint32_t fallback) const;
  StatusOr<int32_t> get_i32_or(std::string_view key, int32_t fallback) const;
  StatusOr<uint64_t> get_u64_or(std::string_view key, uint64_t fallback) const;
  StatusOr<float> get_f32_or(std::string_view key, float fallback) const;

  StatusOr<std::span<const std::string_view>> get_string_array(std::string_view key) const;
  StatusOr<std::vector<int64_t>> get_int_array(std::string_view key) const;  // any int type
  StatusOr<std::vector<int32_t>> get_i32_array(std::string_view key) const;  // values must fit
  StatusOr<std::vector<float>> get_f32_array(std::string_view key) const;    // f32 or f64

 private:
  friend class GgufParser;
  GgufFile() = default;

  std::optional<MappedFile> map_;  // empty for from_bytes
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Human-readable rendering of a value, for `muse info` and error messages: strings quoted
// and escaped (cut after `max_string_bytes`), arrays longer than `max_elements` summarized
// as `[str × 32000] ["<unk>", ...]`.
std::string gguf_value_to_string(const GgufValue& v, size_t max_elements = 8,
                                 size_t max_string_bytes = 120);

}  // namespace muse
