// Value construction and the Python object protocol pieces Jinja relies on: truthiness,
// str()/repr(), ==, ordering, hashing for `unique`, and json.dumps (Hugging Face's
// `tojson`). Recursion is bounded by the depth every container records.
#include "chat/value.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "chat/py_string.h"

namespace muse::chat {
namespace {

int child_depth(const Value& v) { return v.is_array() || v.is_object() ? v.depth() : 0; }

uint16_t saturate_depth(int d) { return uint16_t(std::min(d, 65535)); }
uint32_t add_weight(uint32_t total, uint32_t w) {
  return total > UINT32_MAX - w ? UINT32_MAX : total + w;
}

void json_string(std::string* out, std::string_view s, bool ensure_ascii) {
  *out += '"';
  const std::u32string u = py::decode(s);
  char buf[16];
  for (char32_t c : u) {
    switch (c) {
      case '"':
        *out += "\\\"";
        continue;
      case '\\':
        *out += "\\\\";
        continue;
      case '\n':
        *out += "\\n";
        continue;
      case '\r':
        *out += "\\r";
        continue;
      case '\t':
        *out += "\\t";
        continue;
      case '\b':
        *out += "\\b";
        continue;
      case '\f':
        *out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", unsigned(0xD800 + (v >> 10)),
                      unsigned(0xDC00 + (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", unsigned(c));
      }
      *out += buf;
    } else {
      py::append_utf8(out, c);
    }
  }
  *out += '"';
}

Status json_value(std::string* out, const Value& v, const JsonOptions& o, int level) {
  if (out->size() > o.max_bytes)
    return Errorf("ValueError: JSON text exceeds %zu bytes", o.max_bytes);
  auto newline = [&](int lvl) {
    if (!o.indent) return;
    *out += '\n';
    for (int k = 0; k < lvl; ++k) *out += *o.indent;
  };
  switch (v.kind()) {
    case Value::Kind::kNone:
      *out += "null";
      return Status::Ok();
    case Value::Kind::kBool:
      *out += v.as_bool() ? "true" : "false";
      return Status::Ok();
    case Value::Kind::kInt:
      *out += std::to_string(v.as_int());
      return Status::Ok();
    case Value::Kind::kFloat: {
      const double f = v.as_float();
      if (std::isnan(f))
        *out += "NaN";
      else if (std::isinf(f))
        *out += f < 0 ? "-Infinity" : "Infinity";
      else
        *out += py::float_repr(f);
      return Status::Ok();
    }
    case Value::Kind::kString:
      json_string(out, v.str(), o.ensure_ascii);
      return Status::Ok();
    case Value::Kind::kArray: {
      if (v.is_generator())
        return Status::Error("TypeError: Object of type generator is not JSON serializable");
      const Array& a = v.array();
      if (a.empty()) {
        *out += "[]";
        return Status::Ok();
      }
      *out += '[';
      for (size_t k = 0; k < a.size(); ++k) {
        if (k) *out += o.item_separator;
        newline(level + 1);
        MUSE_RETURN_IF_ERROR(json_value(out, a[k], o, level + 1));
      }
      newline(level);
      *out += ']';
      return Status::Ok();
    }
    case Value::Kind::kObject: {
      const auto& entries = v.object().entries();
      if (entries.empty()) {
        *out += "{}";
        return Status::Ok();
      }
      std::vector<const std::pair<std::string, Value>*> order;
      for (const auto& e : entries) order.push_back(&e);
      if (o.sort_keys)
        std::stable_sort(order.begin(), order.end(),
                         [](auto* a, auto* b) { return a->first < b->first; });
      *out += '{';
      for (size_t k = 0; k < order.size(); ++k) {
        if (k) *out += o.item_separator;
        newline(level + 1);
        if (out->size() > o.max_bytes) break;
        json_string(out, order[k]->first, o.ensure_ascii);
        *out += o.key_separator;
        MUSE_RETURN_IF_ERROR(json_value(out, order[k]->second, o, level + 1));
      }
      newline(level);
      *out += '}';
      return Status::Ok();
    }
    default:
      return Status::Error("TypeError: Object of type " + type_name(v) +
                           " is not JSON serializable");
  }
}

// Namespaces may contain themselves. Like Python's recursive-repr guard, a namespace met
// again while it is being printed shows as `<Namespace {...}>`; long chains of distinct
// namespaces stop at a fixed depth.
thread_local std::vector<const void*> g_namespaces_in_repr;
constexpr size_t kMaxNamespaceReprDepth = 64;

void repr_into(std::string* out, const Value& v, size_t limit);

void repr_object(std::string* out, const Object& obj, size_t limit) {
  *out += '{';
  bool first = true;
  for (const auto& [k, val] : obj.entries()) {
    if (out->size() > limit) return;
    if (!first) *out += ", ";
    first = false;
    *out += py::repr(k);
    *out += ": ";
    repr_into(out, val, limit);
  }
  *out += '}';
}

// Cuts text longer than `limit`, marking the cut.
std::string bounded(std::string s, size_t limit) {
  if (s.size() > limit) {
    s.resize(limit);
    s += "...";
  }
  return s;
}

void repr_into(std::string* out, const Value& v, size_t limit) {
  if (out->size() > limit) return;
  switch (v.kind()) {
    case Value::Kind::kString:
      *out += py::repr(v.str());
      return;
    case Value::Kind::kUndefined:
      *out += "Undefined";
      return;
    case Value::Kind::kArray: {
      if (v.is_generator()) {
        *out += "<generator object>";
        return;
      }
      const bool tuple = v.array_kind() == Value::ArrayKind::kTuple;
      *out += tuple ? '(' : '[';
      const Array& a = v.array();
      for (size_t k = 0; k < a.size() && out->size() <= limit; ++k) {
        if (k) *out += ", ";
        repr_into(out, a[k], limit);
      }
      if (tuple && a.size() == 1) *out += ',';
      *out += tuple ? ')' : ']';
      return;
    }
    case Value::Kind::kObject:
      repr_object(out, v.object(), limit);
      return;
    case Value::Kind::kNamespace: {
      std::vector<const void*>& active = g_namespaces_in_repr;
      if (std::find(active.begin(), active.end(), v.identity()) != active.end() ||
          active.size() >= kMaxNamespaceReprDepth) {
        *out += "<Namespace {...}>";
        return;
      }
      active.push_back(v.identity());
      *out += "<Namespace ";
      repr_object(out, v.ns().attrs, limit);
      *out += '>';
      active.pop_back();
      return;
    }
    default:
      *out += to_str(v);
  }
}

int sign_of(double d) { return d < 0 ? -1 : d > 0 ? 1 : 0; }

}  // namespace

// Small objects (most messages, loop objects) are searched linearly; larger ones get a
// hash index.
constexpr size_t kLinearObjectSize = 16;

const Value* Object::find(std::string_view key) const {
  if (entries_.size() <= kLinearObjectSize) {
    for (const auto& e : entries_)
      if (e.first == key) return &e.second;
    return nullptr;
  }
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Object::set(const std::string& key, Value value) {
  if (const Value* existing = find(key)) {
    *const_cast<Value*>(existing) = std::move(value);
    return;
  }
  add_new(key, std::move(value));
}

void Object::add_new(std::string key, Value value) {
  entries_.emplace_back(std::move(key), std::move(value));
  if (entries_.size() == kLinearObjectSize + 1) {
    for (size_t k = 0; k < entries_.size(); ++k) index_.emplace(entries_[k].first, k);
  } else if (entries_.size() > kLinearObjectSize + 1) {
    index_.emplace(entries_.back().first, entries_.size() - 1);
  }
}

std::string UndefinedInfo::message() const {
  if (!hint.empty()) return hint;
  if (owner.empty()) return "'" + name + "' is undefined";
  return "'" + owner + "' has no attribute '" + name + "'";
}

Value Value::undefined(std::string name, std::string owner, std::string hint) {
  Value v;
  v.ptr_ = std::make_shared<UndefinedInfo>(
      UndefinedInfo{std::move(name), std::move(owner), std::move(hint)});
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.scalar_.b = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.scalar_.i = i;
  return v;
}

Value Value::number(double f) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.scalar_.f = f;
  return v;
}

Value Value::string(std::string s, bool safe) {
  Value v;
  v.kind_ = Kind::kString;
  v.safe_ = safe;
  v.ptr_ = std::make_shared<std::string>(std::move(s));
  return v;
}

Value Value::array(Array items, ArrayKind kind) {
  Value v;
  v.kind_ = Kind::kArray;
  v.array_kind_ = kind;
  int d = 0;
  for (const Value& x : items) {
    d = std::max(d, child_depth(x));
    v.weight_ = add_weight(v.weight_, x.weight());
  }
  v.depth_ = saturate_depth(d + 1);
  v.ptr_ = std::make_shared<Array>(std::move(items));
  return v;
}

Value Value::object(Object obj) {
  Value v;
  v.kind_ = Kind::kObject;
  int d = 0;
  for (const auto& e : obj.entries()) {
    d = std::max(d, child_depth(e.second));
    v.weight_ = add_weight(v.weight_, e.second.weight());
  }
  v.depth_ = saturate_depth(d + 1);
  v.ptr_ = std::make_shared<Object>(std::move(obj));
  return v;
}

Value Value::ns(std::shared_ptr<Namespace> ns) {
  Value v;
  v.kind_ = Kind::kNamespace;
  v.ptr_ = std::move(ns);
  return v;
}

Value Value::callable(std::string name, NativeFn fn, bool is_macro) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.ptr_ = std::make_shared<Callable>(Callable{std::move(name), std::move(fn), is_macro});
  return v;
}

double Value::as_float() const {
  switch (kind_) {
    case Kind::kBool:
      return scalar_.b ? 1.0 : 0.0;
    case Kind::kInt:
      return double(scalar_.i);
    case Kind::kFloat:
      return scalar_.f;
    default:
      return 0.0;
  }
}

const void* Value::identity() const { return ptr_.get(); }

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return scalar_.b;
    case Kind::kInt:
      return scalar_.i != 0;
    case Kind::kFloat:
      return scalar_.f != 0.0;
    case Kind::kString:
      return !str().empty();
    case Kind::kArray:
      return is_generator() || !array().empty();
    case Kind::kObject:
      return !object().empty();
    default:
      return true;
  }
}

std::string Value::undefined_message() const {
  return undefined_info() ? undefined_info()->message() : "value is undefined";
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "Undefined";
    case Value::Kind::kNone:
      return "NoneType";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return v.is_safe() ? "Markup" : "str";
    case Value::Kind::kArray:
      return v.array_kind() == Value::ArrayKind::kTuple ? "tuple"
             : v.is_generator()                         ? "generator"
                                                        : "list";
    case Value::Kind::kObject:
      return "dict";
    case Value::Kind::kNamespace:
      return "Namespace";
    case Value::Kind::kCallable:
      return v.callable().is_macro ? "Macro" : "function";
  }
  return "object";
}

std::string object_description(const Value& v) {
  if (v.is_none()) return "None";
  return type_name(v) + " object";
}

std::string to_str(const Value& v, size_t limit) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kNone:
      return "None";
    case Value::Kind::kBool:
      return v.as_bool() ? "True" : "False";
    case Value::Kind::kInt:
      return std::to_string(v.as_int());
    case Value::Kind::kFloat:
      return py::float_repr(v.as_float());
    case Value::Kind::kString:
      return v.str();
    case Value::Kind::kCallable:
      return v.callable().is_macro ? "<Macro '" + v.callable().name + "'>"
                                   : "<built-in function " + v.callable().name + ">";
    default: {
      std::string out;
      repr_into(&out, v, limit);
      return bounded(std::move(out), limit);
    }
  }
}

std::string to_repr(const Value& v, size_t limit) {
  std::string out;
  repr_into(&out, v, limit);
  return bounded(std::move(out), limit);
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.str() == b.str();
    case Value::Kind::kArray: {
      if (a.is_generator() || b.is_generator()) return a.identity() == b.identity();
      if (a.array_kind() != b.array_kind()) return false;
      const Array &x = a.array(), &y = b.array();
      if (x.size() != y.size()) return false;
      for (size_t k = 0; k < x.size(); ++k)
        if (!equals(x[k], y[k])) return false;
      return true;
    }
    case Value::Kind::kObject: {
      const Object &x = a.object(), &y = b.object();
      if (x.size() != y.size()) return false;
      for (const auto& [k, val] : x.entries()) {
        const Value* other = y.find(k);
        if (!other || !equals(val, *other)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

StatusOr<int> compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_float(), y = b.as_float();
      if (std::isnan(x) || std::isnan(y)) return 2;  // every ordering test is false
      return sign_of(x - y);
    }
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.array_kind() == b.array_kind()) {
    const Array &x = a.array(), &y = b.array();
    for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
      if (equals(x[k], y[k])) continue;
      return compare(x[k], y[k]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  if (a.is_undefined() || b.is_undefined())
    return Status::Error("UndefinedError: " + (a.is_undefined() ? a : b).undefined_message());
  return Status::Error("TypeError: '<' not supported between instances of '" + type_name(a) +
                       "' and '" + type_name(b) + "'");
}

StatusOr<std::string> hash_key(const Value& v, bool case_sensitive) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return std::string("U");
    case Value::Kind::kNone:
      return std::string("N");
    case Value::Kind::kBool:
    case Value::Kind::kInt:
      return "n" + std::to_string(v.as_int());
    case Value::Kind::kFloat: {
      const double f = v.as_float();
      if (std::isfinite(f) && f == std::floor(f) && std::fabs(f) < 9.2e18)
        return "n" + std::to_string(int64_t(f));
      return "f" + py::float_repr(f);
    }
    case Value::Kind::kString:
      return "s" + (case_sensitive ? v.str() : py::lower(v.str()));
    case Value::Kind::kArray:
      if (v.array_kind() == Value::ArrayKind::kTuple) {
        std::string key = "t(";
        for (const Value& x : v.array()) {
          StatusOr<std::string> k = hash_key(x, case_sensitive);
          if (!k.ok()) return k.status();
          key += std::to_string(k->size()) + ":" + *k;
        }
        return key + ")";
      }
      break;
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "p%p", v.identity());
      return std::string(buf);
    }
    default:
      break;
  }
  return Status::Error("TypeError: unhashable type: '" + type_name(v) + "'");
}

StatusOr<std::string> to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  MUSE_RETURN_IF_ERROR(json_value(&out, v, options, 0));
  if (out.size() > options.max_bytes)
    return Errorf("ValueError: JSON text exceeds %zu bytes", options.max_bytes);
  return out;
}

namespace {

StatusOr<Value> from_json_at(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxValueDepth)
    return Errorf("JSON input nests deeper than %d levels", kMaxValueDepth);
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u <= uint64_t(INT64_MAX)) return Value::integer(int64_t(u));
      return Value::number(double(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Array items;
      items.reserve(j.size());
      for (const auto& e : j) {
        StatusOr<Value> v = from_json_at(e, depth + 1);
        if (!v.ok()) return v.status();
        items.push_back(std::move(*v));
      }
      return Value::array(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Object obj;
      for (const auto& [k, e] : j.items()) {
        StatusOr<Value> v = from_json_at(e, depth + 1);
        if (!v.ok()) return v.status();
        obj.add_new(k, std::move(*v));
      }
      return Value::object(std::move(obj));
    }
    default:
      return Status::Error("unsupported JSON value (binary or discarded)");
  }
}

}  // namespace

StatusOr<Value> from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

StatusOr<nlohmann::ordered_json> to_ordered_json(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNone:
      return nlohmann::ordered_json(nullptr);
    case Value::Kind::kBool:
      return nlohmann::ordered_json(v.as_bool());
    case Value::Kind::kInt:
      return nlohmann::ordered_json(v.as_int());
    case Value::Kind::kFloat:
      return nlohmann::ordered_json(v.as_float());
    case Value::Kind::kString:
      return nlohmann::ordered_json(v.str());
    case Value::Kind::kArray: {
      if (v.is_generator()) break;
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const Value& x : v.array()) {
        StatusOr<nlohmann::ordered_json> e = to_ordered_json(x);
        if (!e.ok()) return e.status();
        out.push_back(std::move(*e));
      }
      return out;
    }
    case Value::Kind::kObject: {
      nlohmann::ordered_json out = nlohmann::ordered_json::object();
      for (const auto& [k, x] : v.object().entries()) {
        StatusOr<nlohmann::ordered_json> e = to_ordered_json(x);
        if (!e.ok()) return e.status();
        out[k] = std::move(*e);
      }
      return out;
    }
    default:
      break;
  }
  return Status::Error("a " + type_name(v) + " has no JSON form");
}

}  // namespace muse::chat
