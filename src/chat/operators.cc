// Python operator semantics on template values: int/float arithmetic with Python's floor
// division and modulo, str and list concatenation and repetition (Markup operands escape
// the other side, as markupsafe does), `in`, iteration, len(), printf-style `%` formatting,
// and binding of call arguments to parameter names. Python's integers are unbounded; here
// they are 64-bit and overflow is an error rather than a wrong number.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/py_string.h"

namespace muse::chat {
namespace {

Status type_error(std::string_view op, const Value& a, const Value& b) {
  return Status::Error("TypeError: unsupported operand type(s) for " + std::string(op) + ": '" +
                       type_name(a) + "' and '" + type_name(b) + "'");
}

Status overflow() { return Status::Error("OverflowError: integer result does not fit in 64 bits"); }

StatusOr<Value> repeat(Interpreter& in, const Value& seq, int64_t times) {
  if (times <= 0)
    return seq.is_string() ? Value::string("", seq.is_safe()) : Value::array({}, seq.array_kind());
  const size_t unit = seq.is_string() ? seq.str().size() : seq.array().size();
  if (unit != 0 && uint64_t(times) > (uint64_t(1) << 40) / unit)
    return Status::Error("MemoryError: repetition result is too large");
  MUSE_RETURN_IF_ERROR(in.charge(unit * size_t(times) * (seq.is_string() ? 1 : sizeof(Value))));
  if (seq.is_string()) {
    std::string out;
    out.reserve(unit * size_t(times));
    for (int64_t k = 0; k < times; ++k) out += seq.str();
    return Value::string(std::move(out), seq.is_safe());
  }
  Array out;
  out.reserve(unit * size_t(times));
  for (int64_t k = 0; k < times; ++k) out.insert(out.end(), seq.array().begin(), seq.array().end());
  return Value::array(std::move(out), seq.array_kind());
}

double py_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

// One `%` conversion of printf-style formatting.
StatusOr<std::string> format_one(char conv, const std::string& flags, int width, int precision,
                                 const Value& v) {
  char buf[512];
  std::string cflags = flags;
  if (conv == 's' || conv == 'r' || conv == 'a') {
    std::string s = conv == 's' ? to_str(v) : to_repr(v);
    if (precision >= 0) s = py::slice(s, 0, precision, 1);
    const int64_t len = py::length(s);
    if (width > len) {
      const std::string pad(size_t(width - len), ' ');
      s = flags.find('-') != std::string::npos ? s + pad : pad + s;
    }
    return s;
  }
  if (conv == 'c') {
    if (v.is_string() && py::length(v.str()) == 1) return v.str();
    if (v.is_int()) {
      if (v.as_int() < 0 || v.as_int() > 0x10FFFF)
        return Status::Error("OverflowError: %c arg not in range(0x110000)");
      std::string s;
      py::append_utf8(&s, char32_t(v.as_int()));
      return s;
    }
    return Status::Error("TypeError: %c requires int or char");
  }
  if (!v.is_number())
    return Status::Error(std::string("TypeError: %") + conv +
                         " format: a real number is required, not " + type_name(v));
  const std::string prec = precision >= 0 ? "." + std::to_string(precision) : "";
  const std::string w = width > 0 ? std::to_string(width) : "";
  if (conv == 'd' || conv == 'i' || conv == 'u' || conv == 'x' || conv == 'X' || conv == 'o') {
    double f = v.as_float();
    if (v.is_float() && !std::isfinite(f))
      return Status::Error("OverflowError: cannot convert float infinity to integer");
    const long long i = v.is_float() ? (long long)std::trunc(f) : (long long)v.as_int();
    const char c = conv == 'i' || conv == 'u' ? 'd' : conv;
    const std::string spec = "%" + cflags + w + prec + "ll" + c;
    std::snprintf(buf, sizeof(buf), spec.c_str(), i);
    return std::string(buf);
  }
  if (std::strchr("eEfFgG", conv)) {
    const std::string spec = "%" + cflags + w + (precision >= 0 ? prec : ".6") + conv;
    std::snprintf(buf, sizeof(buf), spec.c_str(), v.as_float());
    return std::string(buf);
  }
  return Status::Error(std::string("ValueError: unsupported format character '") + conv + "'");
}

}  // namespace

StatusOr<std::string> percent_format(const std::string& fmt, const Value& args) {
  std::vector<Value> positional;
  const Object* mapping = nullptr;
  // Python skips the "not all arguments converted" check for an argument that supports
  // indexing but is not a tuple (a list or dict).
  const bool indexable =
      args.is_object() || (args.is_array() && args.array_kind() == Value::ArrayKind::kList);
  if (args.is_array() && args.array_kind() == Value::ArrayKind::kTuple)
    positional = args.array();
  else if (args.is_object())
    mapping = &args.object();
  else
    positional.push_back(args);
  size_t next_arg = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) return Status::Error("ValueError: incomplete format");
    if (fmt[i] == '%') {
      out += '%';
      continue;
    }
    const Value* arg = nullptr;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos) return Status::Error("ValueError: incomplete format key");
      if (!mapping) return Status::Error("TypeError: format requires a mapping");
      arg = mapping->find(fmt.substr(i + 1, close - i - 1));
      if (!arg) return Status::Error("KeyError: '" + fmt.substr(i + 1, close - i - 1) + "'");
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::strchr("-+ #0", fmt[i])) flags += fmt[i++];
    int width = 0, precision = -1;
    while (i < fmt.size() && std::isdigit((unsigned char)fmt[i]))
      width = std::min(width * 10 + (fmt[i++] - '0'), 10000);
    if (i < fmt.size() && fmt[i] == '.') {
      precision = 0;
      ++i;
      while (i < fmt.size() && std::isdigit((unsigned char)fmt[i]))
        precision = std::min(precision * 10 + (fmt[i++] - '0'), 10000);
    }
    while (i < fmt.size() && std::strchr("hlL", fmt[i])) ++i;
    if (i >= fmt.size()) return Status::Error("ValueError: incomplete format");
    if (!arg) {
      if (mapping) {
        arg = &args;
      } else {
        if (next_arg >= positional.size())
          return Status::Error("TypeError: not enough arguments for format string");
        arg = &positional[next_arg++];
      }
    }
    StatusOr<std::string> piece = format_one(fmt[i], flags, width, precision, *arg);
    if (!piece.ok()) return piece.status();
    out += *piece;
  }
  if (!indexable && next_arg < positional.size())
    return Status::Error("TypeError: not all arguments converted during string formatting");
  return out;
}

StatusOr<Value> binary_op(Interpreter& in, std::string_view op, const Value& a, const Value& b) {
  if (a.is_undefined()) return Status::Error("UndefinedError: " + a.undefined_message());
  if (b.is_undefined()) return Status::Error("UndefinedError: " + b.undefined_message());
  const bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
  const bool nums = a.is_number() && b.is_number();
  if (op == "+") {
    if (ints) {
      int64_t r;
      if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return overflow();
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() + b.as_float());
    if (a.is_string() && b.is_string()) {
      MUSE_RETURN_IF_ERROR(in.charge(a.str().size() + b.str().size()));
      if (a.is_safe() || b.is_safe()) {
        const std::string l = a.is_safe() ? a.str() : py::html_escape(a.str());
        const std::string r = b.is_safe() ? b.str() : py::html_escape(b.str());
        return Value::string(l + r, true);
      }
      return Value::string(a.str() + b.str());
    }
    if (a.is_list() && b.is_list() && a.array_kind() == b.array_kind()) {
      MUSE_RETURN_IF_ERROR(in.charge((a.array().size() + b.array().size()) * sizeof(Value)));
      Array out = a.array();
      out.insert(out.end(), b.array().begin(), b.array().end());
      return Value::array(std::move(out), a.array_kind());
    }
    if (a.is_string() || a.is_list())
      return Status::Error("TypeError: can only concatenate " + type_name(a) + " (not \"" +
                           type_name(b) + "\") to " + type_name(a));
    return type_error(op, a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) return overflow();
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() - b.as_float());
    return type_error(op, a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) return overflow();
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() * b.as_float());
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool()))
      return repeat(in, a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool()))
      return repeat(in, b, a.as_int());
    if (a.is_string() || a.is_list() || b.is_string() || b.is_list())
      return Status::Error("TypeError: can't multiply sequence by non-int of type '" +
                           type_name(a.is_string() || a.is_list() ? b : a) + "'");
    return type_error(op, a, b);
  }
  if (op == "/") {
    if (!nums) return type_error(op, a, b);
    if (b.as_float() == 0) return Status::Error("ZeroDivisionError: division by zero");
    return Value::number(a.as_float() / b.as_float());
  }
  if (op == "//" || op == "%") {
    if (op == "%" && a.is_string()) {
      StatusOr<std::string> s = percent_format(a.str(), b);
      if (!s.ok()) return s.status();
      MUSE_RETURN_IF_ERROR(in.charge(s->size()));
      return Value::string(std::move(*s), a.is_safe());
    }
    if (!nums) return type_error(op, a, b);
    if (ints) {
      const int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) return Status::Error("ZeroDivisionError: integer division or modulo by zero");
      if (x == INT64_MIN && y == -1)
        return op == "%" ? Value::integer(0) : StatusOr<Value>(overflow());
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        --q;
        r += y;
      }
      return Value::integer(op == "//" ? q : r);
    }
    const double x = a.as_float(), y = b.as_float();
    if (y == 0) return Status::Error("ZeroDivisionError: float modulo");
    if (op == "%") return Value::number(py_fmod(x, y));
    return Value::number(std::floor(x / y));
  }
  if (op == "**") {
    if (!nums) return type_error(op, a, b);
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), e = b.as_int(), r = 1;
      while (e > 0) {
        if (e & 1) {
          if (__builtin_mul_overflow(r, base, &r)) return overflow();
        }
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(base, base, &base)) return overflow();
      }
      return Value::integer(r);
    }
    if (a.as_float() == 0 && b.as_float() < 0)
      return Status::Error("ZeroDivisionError: 0.0 cannot be raised to a negative power");
    return Value::number(std::pow(a.as_float(), b.as_float()));
  }
  return Status::Error("unknown operator '" + std::string(op) + "'");
}

StatusOr<Value> unary_op(std::string_view op, const Value& a) {
  if (a.is_undefined()) return Status::Error("UndefinedError: " + a.undefined_message());
  if (a.is_int() || a.is_bool()) {
    if (op == "+") return Value::integer(a.as_int());
    if (a.as_int() == INT64_MIN) return overflow();
    return Value::integer(-a.as_int());
  }
  if (a.is_float()) return Value::number(op == "-" ? -a.as_float() : a.as_float());
  return Status::Error("TypeError: bad operand type for unary " + std::string(op) + ": '" +
                       type_name(a) + "'");
}

StatusOr<bool> contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!item.is_string())
        return Status::Error("TypeError: 'in <string>' requires string as left operand, not " +
                             type_name(item));
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::kArray:
      for (const Value& x : container.array())
        if (equals(x, item)) return true;
      return false;
    case Value::Kind::kObject: {
      if (item.is_string()) return container.object().find(item.str()) != nullptr;
      StatusOr<std::string> key = hash_key(item, true);
      if (!key.ok()) return key.status();
      return false;
    }
    default:
      return Status::Error("TypeError: argument of type '" + type_name(container) +
                           "' is not iterable");
  }
}

StatusOr<Array> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return Array{};
    case Value::Kind::kArray:
      return v.array();
    case Value::Kind::kObject: {
      Array keys;
      keys.reserve(v.object().size());
      for (const auto& e : v.object().entries()) keys.push_back(Value::string(e.first));
      return keys;
    }
    case Value::Kind::kString: {
      // One Value per character costs ~70 bytes each; refuse strings that would blow up.
      constexpr size_t kMaxIteratedChars = size_t(1) << 20;
      if (v.str().size() > kMaxIteratedChars)
        return Status::Error("string of " + std::to_string(v.str().size()) +
                             " bytes is too long to iterate over");
      Array chars;
      if (py::is_ascii(v.str())) {
        for (char c : v.str()) chars.push_back(Value::string(std::string(1, c)));
      } else {
        for (char32_t c : py::decode(v.str())) {
          std::string s;
          py::append_utf8(&s, c);
          chars.push_back(Value::string(std::move(s)));
        }
      }
      return chars;
    }
    default:
      return Status::Error("TypeError: '" + type_name(v) + "' object is not iterable");
  }
}

StatusOr<int64_t> length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return int64_t(0);
    case Value::Kind::kString:
      return py::length(v.str());
    case Value::Kind::kArray:
      if (!v.is_generator()) return int64_t(v.array().size());
      break;
    case Value::Kind::kObject:
      return int64_t(v.object().size());
    default:
      break;
  }
  return Status::Error("TypeError: object of type '" + type_name(v) + "' has no len()");
}

std::optional<int64_t> to_int(const Value& v) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_float()) {
    const double f = v.as_float();
    if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) return std::nullopt;
    return int64_t(std::trunc(f));
  }
  if (v.is_string()) {
    const std::string s = py::strip(v.str(), {}, true, true);
    if (s.empty()) return std::nullopt;
    size_t i = 0;
    const bool neg = s[0] == '-';
    if (s[0] == '-' || s[0] == '+') i = 1;
    if (i == s.size()) return std::nullopt;
    int64_t r = 0;
    for (; i < s.size(); ++i) {
      if (s[i] == '_' && i + 1 < s.size() && std::isdigit((unsigned char)s[i + 1])) continue;
      if (!std::isdigit((unsigned char)s[i])) return std::nullopt;
      if (__builtin_mul_overflow(r, 10, &r) || __builtin_add_overflow(r, s[i] - '0', &r))
        return std::nullopt;
    }
    return neg ? -r : r;
  }
  return std::nullopt;
}

StatusOr<BoundArgs> bind_args(std::string_view fn, const CallArgs& args,
                              std::initializer_list<std::string_view> names, size_t n_required) {
  BoundArgs out(names.size());
  if (args.args.size() > names.size())
    return Status::Error("TypeError: " + std::string(fn) + "() takes at most " +
                         std::to_string(names.size()) + " argument(s) (" +
                         std::to_string(args.args.size()) + " given)");
  for (size_t i = 0; i < args.args.size(); ++i) out[i] = args.args[i];
  for (const auto& [key, value] : args.kwargs) {
    size_t idx = 0;
    for (std::string_view n : names) {
      if (n == key) break;
      ++idx;
    }
    if (idx == names.size())
      return Status::Error("TypeError: " + std::string(fn) +
                           "() got an unexpected keyword argument '" + key + "'");
    if (out[idx])
      return Status::Error("TypeError: " + std::string(fn) + "() got multiple values for '" + key +
                           "'");
    out[idx] = value;
  }
  for (size_t i = 0; i < n_required; ++i)
    if (!out[i])
      return Status::Error("TypeError: " + std::string(fn) + "() missing required argument '" +
                           std::string(*(names.begin() + i)) + "'");
  return out;
}

}  // namespace muse::chat
