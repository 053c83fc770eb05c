// GgufValue accessors, the typed getters of GgufFile and value rendering for `muse info`.
// Getters convert between integer widths only when the value fits, so a u64 of 2^40 asked
// for as u32 is an error naming the key and the value, never a silent truncation.
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"

namespace muse {
namespace {

constexpr std::string_view kTypeNames[kGgufTypeCount] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
constexpr size_t kTypeSizes[kGgufTypeCount] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

// Built by appending: GCC 12 warns (-Wrestrict, a false positive) on "'" + std::string.
std::string key_text(std::string_view key) {
  std::string out(1, '\'');
  out += key;
  out += '\'';
  return out;
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
  return uint32_t(t) < kGgufTypeCount ? kTypeNames[uint32_t(t)] : "invalid";
}

size_t gguf_type_size(GgufType t) {
  return uint32_t(t) < kGgufTypeCount ? kTypeSizes[uint32_t(t)] : 0;
}

GgufValue GgufValue::scalar(GgufType type, uint64_t raw_le_bits) {
  GgufValue v;
  v.type_ = type;
  v.raw_ = raw_le_bits;
  return v;
}

GgufValue GgufValue::string(std::string_view s) {
  GgufValue v;
  v.type_ = GgufType::kString;
  v.str_ = s;
  return v;
}

GgufValue GgufValue::numeric_array(GgufType element_type, const void* data, uint64_t count) {
  GgufValue v;
  v.type_ = GgufType::kArray;
  v.element_type_ = element_type;
  v.data_ = static_cast<const uint8_t*>(data);
  v.count_ = count;
  return v;
}

GgufValue GgufValue::string_array(std::vector<std::string_view> elements) {
  GgufValue v;
  v.type_ = GgufType::kArray;
  v.element_type_ = GgufType::kString;
  v.count_ = elements.size();
  v.strings_ = std::move(elements);
  return v;
}

GgufValue GgufValue::nested_array(std::vector<GgufValue> elements) {
  GgufValue v;
  v.type_ = GgufType::kArray;
  v.element_type_ = GgufType::kArray;
  v.count_ = elements.size();
  v.children_ = std::move(elements);
  return v;
}

std::optional<int64_t> GgufValue::as_int() const {
  switch (type_) {
    case GgufType::kU8:
    case GgufType::kU16:
    case GgufType::kU32:
      return int64_t(raw_);
    case GgufType::kI8:
      return int64_t(int8_t(raw_));
    case GgufType::kI16:
      return int64_t(int16_t(raw_));
    case GgufType::kI32:
      return int64_t(int32_t(raw_));
    case GgufType::kI64:
      return int64_t(raw_);
    case GgufType::kU64:
      if (raw_ > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return int64_t(raw_);
    default:
      return std::nullopt;
  }
}

std::optional<uint64_t> GgufValue::as_uint() const {
  if (type_ == GgufType::kU64) return raw_;
  const std::optional<int64_t> i = as_int();
  if (!i || *i < 0) return std::nullopt;
  return uint64_t(*i);
}

std::optional<double> GgufValue::as_float() const {
  if (type_ == GgufType::kF32) {
    float f;
    const uint32_t bits = uint32_t(raw_);
    std::memcpy(&f, &bits, 4);
    return f;
  }
  if (type_ == GgufType::kF64) {
    double d;
    std::memcpy(&d, &raw_, 8);
    return d;
  }
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (type_ != GgufType::kBool) return std::nullopt;
  return raw_ != 0;  // GGML reads any nonzero byte as true
}

std::optional<std::string_view> GgufValue::as_string() const {
  if (type_ != GgufType::kString) return std::nullopt;
  return str_;
}

GgufValue GgufValue::element(uint64_t i) const {
  if (element_type_ == GgufType::kString) return string(strings_[i]);
  if (element_type_ == GgufType::kArray) return children_[i];
  const size_t n = gguf_type_size(element_type_);
  uint64_t raw = 0;
  std::memcpy(&raw, data_ + i * n, n);
  return scalar(element_type_, raw);
}

// ---- Typed getters ----

namespace {

Status missing(std::string_view key) { return Status::Error("missing key " + key_text(key)); }

Status wrong_type(std::string_view key, const GgufValue& v, const char* expected) {
  std::string got(gguf_type_name(v.type()));
  if (v.is_array()) got = "array of " + std::string(gguf_type_name(v.element_type()));
  return Status::Error("key " + key_text(key) + " has type " + got + ", expected " + expected);
}

template <class T>
StatusOr<T> int_from(std::string_view key, const GgufValue& v, const char* tname) {
  if (!gguf_type_is_integer(v.type())) return wrong_type(key, v, tname);
  if (v.type() == GgufType::kU64) {
    const uint64_t u = *v.as_uint();
    if (u <= uint64_t(std::numeric_limits<T>::max())) return T(u);
    return Errorf("key %s value %" PRIu64 " does not fit in %s", key_text(key).c_str(), u, tname);
  }
  const int64_t i = *v.as_int();
  if (i >= int64_t(std::numeric_limits<T>::min()) &&
      (i < 0 || uint64_t(i) <= uint64_t(std::numeric_limits<T>::max())))
    return T(i);
  return Errorf("key %s value %" PRId64 " does not fit in %s", key_text(key).c_str(), i, tname);
}

}  // namespace

StatusOr<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  if (auto s = v->as_string()) return *s;
  return wrong_type(key, *v, "str");
}

StatusOr<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  if (auto b = v->as_bool()) return *b;
  return wrong_type(key, *v, "bool");
}

StatusOr<uint32_t> GgufFile::get_u32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  return int_from<uint32_t>(key, *v, "u32");
}

StatusOr<int32_t> GgufFile::get_i32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  return int_from<int32_t>(key, *v, "i32");
}

StatusOr<uint64_t> GgufFile::get_u64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  return int_from<uint64_t>(key, *v, "u64");
}

StatusOr<int64_t> GgufFile::get_i64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  return int_from<int64_t>(key, *v, "i64");
}

StatusOr<float> GgufFile::get_f32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  if (auto f = v->as_float()) return float(*f);
  return wrong_type(key, *v, "f32");
}

StatusOr<std::string_view> GgufFile::get_string_or(std::string_view key,
                                                   std::string_view fallback) const {
  return find(key) ? get_string(key) : StatusOr<std::string_view>(fallback);
}
StatusOr<bool> GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return find(key) ? get_bool(key) : StatusOr<bool>(fallback);
}
StatusOr<uint32_t> GgufFile::get_u32_or(std::string_view key, uint32_t fallback) const {
  return find(key) ? get_u32(key) : StatusOr<uint32_t>(fallback);
}
StatusOr<int32_t> GgufFile::get_i32_or(std::string_view key, int32_t fallback) const {
  return find(key) ? get_i32(key) : StatusOr<int32_t>(fallback);
}
StatusOr<uint64_t> GgufFile::get_u64_or(std::string_view key, uint64_t fallback) const {
  return find(key) ? get_u64(key) : StatusOr<uint64_t>(fallback);
}
StatusOr<float> GgufFile::get_f32_or(std::string_view key, float fallback) const {
  return find(key) ? get_f32(key) : StatusOr<float>(fallback);
}

StatusOr<std::span<const std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  if (!v->is_array() || v->element_type() != GgufType::kString)
    return wrong_type(key, *v, "array of str");
  return v->strings();
}

StatusOr<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  if (!v->is_array() || !gguf_type_is_integer(v->element_type()))
    return wrong_type(key, *v, "array of integers");
  std::vector<int64_t> out(v->size());
  for (uint64_t i = 0; i < v->size(); ++i) {
    const std::optional<int64_t> x = v->element(i).as_int();
    if (!x) {
      return Errorf("key %s element %" PRIu64 " does not fit in i64", key_text(key).c_str(), i);
    }
    out[i] = *x;
  }
  return out;
}

StatusOr<std::vector<int32_t>> GgufFile::get_i32_array(std::string_view key) const {
  StatusOr<std::vector<int64_t>> wide = get_int_array(key);
  if (!wide.ok()) return wide.status();
  std::vector<int32_t> out(wide->size());
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t x = (*wide)[i];
    if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max()) {
      return Errorf("key %s element %zu (%" PRId64 ") does not fit in i32", key_text(key).c_str(),
                    i, x);
    }
    out[i] = int32_t(x);
  }
  return out;
}

StatusOr<std::vector<float>> GgufFile::get_f32_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(key);
  if (!v->is_array() ||
      (v->element_type() != GgufType::kF32 && v->element_type() != GgufType::kF64))
    return wrong_type(key, *v, "array of f32");
  std::vector<float> out(v->size());
  if (v->element_type() == GgufType::kF32) {
    std::memcpy(out.data(), v->raw_data(), out.size() * sizeof(float));
  } else {
    for (uint64_t i = 0; i < v->size(); ++i) out[i] = float(*v->element(i).as_float());
  }
  return out;
}

// ---- Rendering ----

namespace {

void append_quoted(std::string* out, std::string_view s, size_t max_bytes) {
  *out += '"';
  for (size_t i = 0; i < s.size() && i < max_bytes; ++i) {
    const unsigned char c = s[i];
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += char(c);
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      *out += buf;
    } else {
      *out += char(c);  // UTF-8 passes through
    }
  }
  *out += '"';
  if (s.size() > max_bytes) *out += "... (" + std::to_string(s.size()) + " bytes)";
}

void append_scalar(std::string* out, const GgufValue& v, size_t max_string_bytes) {
  char buf[64];
  if (v.type() == GgufType::kString) {
    append_quoted(out, *v.as_string(), max_string_bytes);
  } else if (v.type() == GgufType::kBool) {
    *out += *v.as_bool() ? "true" : "false";
  } else if (v.type() == GgufType::kF32) {
    // Shortest text that reads back as the same float: 1e-05, not 9.99999975e-06.
    const float f = float(*v.as_float());
    for (int precision = 6; precision <= 9; ++precision) {
      std::snprintf(buf, sizeof(buf), "%.*g", precision, f);
      if (std::strtof(buf, nullptr) == f || f != f) break;
    }
    *out += buf;
  } else if (auto d = v.as_float()) {
    std::snprintf(buf, sizeof(buf), "%.17g", *d);
    *out += buf;
  } else if (v.type() == GgufType::kU64) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64, *v.as_uint());
    *out += buf;
  } else if (auto i = v.as_int()) {
    std::snprintf(buf, sizeof(buf), "%" PRId64, *i);
    *out += buf;
  }
}

}  // namespace

std::string gguf_value_to_string(const GgufValue& v, size_t max_elements, size_t max_string_bytes) {
  std::string out;
  if (!v.is_array()) {
    append_scalar(&out, v, max_string_bytes);
    return out;
  }
  const uint64_t n = v.size();
  if (n > max_elements) {
    out += '[';
    out += gguf_type_name(v.element_type());
    out += " \xC3\x97 ";  // U+00D7 multiplication sign
    out += std::to_string(n);
    out += "] ";
  }
  out += '[';
  for (uint64_t i = 0; i < n && i < max_elements; ++i) {
    if (i) out += ", ";
    const GgufValue e = v.element(i);
    out += gguf_value_to_string(e, max_elements, max_string_bytes);
  }
  if (n > max_elements) out += ", ...";
  out += ']';
  return out;
}

}  // namespace muse
