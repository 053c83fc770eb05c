// The values a Jinja template computes with, modelled on the Python objects jinja2 sees:
// undefined, None, bool, int, float, str (optionally "safe" Markup), list/tuple/generator,
// insertion-ordered dict, namespace and callables. Containers are immutable and shared
// (copying a Value is cheap); only a namespace is mutable, as in Jinja. Every container
// records its nesting depth so recursive operations (repr, ==, tojson) stay bounded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace muse::chat {

class Value;
class Interpreter;
using Array = std::vector<Value>;

// Deepest container nesting a template may build or receive; recursion over values is
// bounded by it.
constexpr int kMaxValueDepth = 256;
// Most elements a container may hold counting repeats: containers share their children, so
// `[x, x]` nested n times is small in memory but has 2^n paths that ==, repr or tojson
// would walk. Bounding this "expanded size" bounds every traversal.
constexpr uint32_t kMaxValueWeight = 10'000'000;
// Longest text str()/repr()/tojson produce for one value. A list holding many references to
// one long string would otherwise print to far more bytes than the template ever built.
constexpr size_t kMaxPrintBytes = size_t(64) << 20;

// A dict: string keys in insertion order (Python 3.7+ semantics; key order matters to
// `tojson` and to `items()`).
class Object {
 public:
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value value);  // replaces in place, keeps the position
  void add_new(std::string key, Value value);     // `key` must not be present yet
  void reserve(size_t n) { entries_.reserve(n); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Positional and keyword arguments of a call, as Python passes them.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

using NativeFn = std::function<StatusOr<Value>(Interpreter&, const CallArgs&)>;

struct Callable {
  std::string name;
  NativeFn fn;
  bool is_macro = false;
};

// Jinja's `namespace()`: the one mutable object, so `{% set ns.x = ... %}` inside a loop is
// visible after it.
struct Namespace {
  Object attrs;
};

// Why a value is undefined, for jinja2's error text: "'x' is undefined" or
// "'dict object' has no attribute 'x'", or an explicit hint.
struct UndefinedInfo {
  std::string name;
  std::string owner;  // "dict object", "None", ... empty for a missing variable
  std::string hint;   // replaces the generated message when set
  std::string message() const;
};

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kArray,
    kObject,
    kNamespace,
    kCallable,
  };
  // Lists and tuples behave alike except in repr and ==; a generator (what `map`, `select`,
  // `unique` ... return) is iterable but has no len(), no index and no JSON form.
  enum class ArrayKind : uint8_t { kList, kTuple, kGenerator };

  Value() = default;  // undefined
  static Value undefined(std::string name, std::string owner = "", std::string hint = "");
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s, bool safe = false);
  static Value array(Array items, ArrayKind kind = ArrayKind::kList);
  static Value object(Object obj);
  static Value ns(std::shared_ptr<Namespace> ns);
  static Value callable(std::string name, NativeFn fn, bool is_macro = false);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return is_bool() || is_int() || is_float(); }  // Python Number
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_list() const { return is_array() && array_kind_ != ArrayKind::kGenerator; }
  bool is_generator() const { return is_array() && array_kind_ == ArrayKind::kGenerator; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return scalar_.b; }
  int64_t as_int() const { return is_bool() ? int64_t(scalar_.b) : scalar_.i; }  // bool or int
  double as_float() const;                                                       // any number
  const std::string& str() const { return *as<std::string>(); }
  bool is_safe() const { return safe_; }
  const Array& array() const { return *as<Array>(); }
  ArrayKind array_kind() const { return array_kind_; }
  const Object& object() const { return *as<Object>(); }
  Namespace& ns() const { return *as<Namespace>(); }
  const Callable& callable() const { return *as<Callable>(); }
  const UndefinedInfo* undefined_info() const {
    return kind_ == Kind::kUndefined ? as<UndefinedInfo>() : nullptr;
  }
  int depth() const { return depth_; }  // 0 for scalars, 1 + deepest child for containers
  // 1 for scalars, 1 + the children's weights for containers (saturating).
  uint32_t weight() const { return weight_; }

  // Identity of shared objects (Python `is` for namespaces, callables and generators).
  const void* identity() const;

  bool truthy() const;  // Python truthiness; undefined is false, a generator always true
  std::string undefined_message() const;

 private:
  Kind kind_ = Kind::kUndefined;
  ArrayKind array_kind_ = ArrayKind::kList;
  bool safe_ = false;
  uint16_t depth_ = 0;  // saturating
  uint32_t weight_ = 1;
  union {
    bool b;
    int64_t i;
    double f;
  } scalar_{.i = 0};
  // The payload by kind: std::string, Array, Object, Namespace, Callable or UndefinedInfo
  // (null for scalars and a plain Undefined). One pointer keeps copies cheap.
  std::shared_ptr<void> ptr_;
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_.get());
  }
};

// Python's type name of a value: "str", "int", "dict", "NoneType", ... and jinja2's
// description of an object in undefined messages ("dict object", "None").
std::string type_name(const Value& v);
std::string object_description(const Value& v);

// Python str() (what `{{ v }}` prints) and repr() (how list elements print); text beyond
// `limit` bytes is cut and ends in "...".
std::string to_str(const Value& v, size_t limit = kMaxPrintBytes);
std::string to_repr(const Value& v, size_t limit = kMaxPrintBytes);

bool equals(const Value& a, const Value& b);  // Python ==
// Python ordering: <0, 0, >0; TypeError for unorderable operands.
StatusOr<int> compare(const Value& a, const Value& b);

// A key with Python hash-equality (1 == 1.0 == True); TypeError for unhashable lists/dicts.
StatusOr<std::string> hash_key(const Value& v, bool case_sensitive);

// Python's json.dumps, as Hugging Face's `tojson` filter calls it.
struct JsonOptions {
  std::optional<std::string> indent;  // nullopt: single line
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
  size_t max_bytes = kMaxPrintBytes;  // longer output is an error
};
StatusOr<std::string> to_json(const Value& v, const JsonOptions& options);

StatusOr<Value> from_json(const nlohmann::ordered_json& j);
// Plain data only (None, bool, numbers, strings, lists, dicts); errors on anything else.
StatusOr<nlohmann::ordered_json> to_ordered_json(const Value& v);

}  // namespace muse::chat
