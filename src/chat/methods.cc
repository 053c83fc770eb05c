// Attribute and item access with jinja2's sandboxed lookup rules, and the Python methods
// templates call on values: str (`strip`, `split`, `startswith`, `format`, ...), dict
// (`items`, `get`, ...) and list (`index`, `count`). Methods that mutate (`list.append`,
// `dict.update`, ...) resolve to an Undefined explaining that the sandbox refuses them, as in
// Hugging Face's ImmutableSandboxedEnvironment.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/py_string.h"

namespace muse::chat {
namespace {

constexpr std::string_view kStrMethods[] = {
    "strip",        "lstrip",       "rstrip",  "split",   "rsplit",    "splitlines",
    "startswith",   "endswith",     "upper",   "lower",   "title",     "capitalize",
    "swapcase",     "casefold",     "replace", "find",    "rfind",     "index",
    "rindex",       "count",        "join",    "format",  "isdigit",   "isalpha",
    "isalnum",      "isspace",      "islower", "isupper", "isnumeric", "isdecimal",
    "zfill",        "center",       "ljust",   "rjust",   "partition", "rpartition",
    "removeprefix", "removesuffix", "istitle",
};
constexpr std::string_view kDictMethods[] = {"items", "keys", "values", "get", "copy"};
constexpr std::string_view kDictUnsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr std::string_view kListMethods[] = {"index", "count", "copy"};
constexpr std::string_view kListUnsafe[] = {"append", "clear", "pop",    "reverse",
                                            "insert", "sort",  "extend", "remove"};

template <size_t N>
bool in(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined(name, object_description(obj),
                          "SecurityError: access to attribute '" + name + "' of '" +
                              type_name(obj) + "' object is unsafe.");
}

Status need_str(std::string_view method, const std::optional<Value>& v) {
  if (v && !v->is_string())
    return Status::Error("TypeError: " + std::string(method) + "() argument must be str, not " +
                         type_name(*v));
  return Status::Ok();
}

std::optional<std::string_view> opt_str(const std::optional<Value>& v) {
  if (!v || v->is_none()) return std::nullopt;
  return std::string_view(v->str());
}

StatusOr<std::optional<int64_t>> opt_index(const std::optional<Value>& v) {
  if (!v || v->is_none()) return std::optional<int64_t>();
  if (!v->is_int() && !v->is_bool())
    return Status::Error("TypeError: slice indices must be integers or None");
  return std::optional<int64_t>(v->as_int());
}

std::string pad(const std::string& s, int64_t width, const std::string& fill, char align) {
  const int64_t len = py::length(s);
  if (width <= len) return s;
  const int64_t total = width - len;
  int64_t left = align == '<' ? 0 : align == '>' ? total : total / 2;
  if (align == '^' && (total % 2) && (width % 2)) ++left;  // str.center's rounding
  std::string out;
  for (int64_t k = 0; k < left; ++k) out += fill;
  out += s;
  for (int64_t k = left; k < total; ++k) out += fill;
  return out;
}

// One `{...:spec}` of str.format: [[fill]align][sign][0][width][,][.precision][type].
StatusOr<std::string> format_spec(const Value& v, const std::string& spec) {
  if (spec.empty()) return to_str(v);
  const std::u32string u = py::decode(spec);
  size_t i = 0;
  std::string fill = " ";
  char align = 0;
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (u.size() >= 2 && is_align(u[1])) {
    fill.clear();
    py::append_utf8(&fill, u[0]);
    align = char(u[1]);
    i = 2;
  } else if (!u.empty() && is_align(u[0])) {
    align = char(u[0]);
    i = 1;
  }
  std::string sign;
  if (i < u.size() && (u[i] == '+' || u[i] == '-' || u[i] == ' ')) sign = char(u[i++]);
  if (i < u.size() && u[i] == '0' && !align) {
    fill = "0";
    align = '=';
    ++i;
  }
  int64_t width = 0;
  while (i < u.size() && py::is_digit(u[i]))
    width = std::min<int64_t>(width * 10 + (u[i++] - '0'), 10000);
  int precision = -1;
  if (i < u.size() && u[i] == '.') {
    precision = 0;
    ++i;
    while (i < u.size() && py::is_digit(u[i]))
      precision = std::min(precision * 10 + int(u[i++] - '0'), 1000);
  }
  char type = i < u.size() ? char(u[i++]) : 0;
  if (i != u.size()) return Status::Error("ValueError: invalid format specifier '" + spec + "'");
  std::string body;
  if (v.is_string() || (!v.is_number() && type == 0) || type == 's') {
    body = to_str(v);
    if (precision >= 0) body = py::slice(body, 0, precision, 1);
    if (!align) align = '<';
  } else if (v.is_number()) {
    char buf[512];
    if (type == 0) type = v.is_float() ? 'g' : 'd';
    if (type == 'd' && !v.is_float()) {
      std::snprintf(buf, sizeof(buf), "%lld", (long long)v.as_int());
    } else if (std::strchr("eEfFgG%", type)) {
      const double f = type == '%' ? v.as_float() * 100 : v.as_float();
      const std::string f_spec =
          "%." + std::to_string(precision < 0 ? 6 : precision) + (type == '%' ? 'f' : type);
      if (type == 'g' && precision < 0 && v.is_float()) {
        std::snprintf(buf, sizeof(buf), "%s", py::float_repr(f).c_str());
      } else {
        std::snprintf(buf, sizeof(buf), f_spec.c_str(), f);
      }
      if (type == '%') std::strncat(buf, "%", sizeof(buf) - std::strlen(buf) - 1);
    } else if (std::strchr("xXob", type) && !v.is_float()) {
      const long long x = (long long)v.as_int();
      if (type == 'b') {
        std::string bits;
        unsigned long long ux = x < 0 ? -(unsigned long long)x : (unsigned long long)x;
        do {
          bits.insert(bits.begin(), char('0' + (ux & 1)));
          ux >>= 1;
        } while (ux);
        std::snprintf(buf, sizeof(buf), "%s%s", x < 0 ? "-" : "", bits.c_str());
      } else {
        const std::string f_spec = std::string("%ll") + type;
        std::snprintf(buf, sizeof(buf), f_spec.c_str(), x);
      }
    } else {
      return Status::Error(std::string("ValueError: unknown format code '") + type +
                           "' for object of type '" + type_name(v) + "'");
    }
    body = buf;
    if (sign == "+" && body[0] != '-') body = "+" + body;
    if (sign == " " && body[0] != '-') body = " " + body;
    if (!align) align = '>';
    if (align == '=') {
      const bool has_sign = !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ');
      const std::string s = has_sign ? body.substr(0, 1) : "";
      return s + pad(body.substr(s.size()), width - int64_t(s.size()), fill, '>');
    }
  } else {
    return Status::Error("ValueError: unsupported format string passed to " + type_name(v) +
                         ".__format__");
  }
  return pad(body, width, fill, align == '=' ? '>' : align);
}

StatusOr<Value> str_format(Interpreter& in, const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      return Status::Error("ValueError: single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos)
      return Status::Error("ValueError: expected '}' before end of string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    std::string spec, conv;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    const Value* arg = nullptr;
    if (field.empty() || std::isdigit((unsigned char)field[0])) {
      const size_t idx =
          field.empty() ? auto_index++ : size_t(std::strtoull(field.c_str(), nullptr, 10));
      if (idx >= args.args.size())
        return Status::Error("IndexError: Replacement index " + std::to_string(idx) +
                             " out of range for positional args tuple");
      arg = &args.args[idx];
    } else {
      for (const auto& kw : args.kwargs)
        if (kw.first == field) arg = &kw.second;
      if (!arg) return Status::Error("KeyError: '" + field + "'");
    }
    Value v = *arg;
    if (conv == "r")
      v = Value::string(to_repr(v));
    else if (conv == "s")
      v = Value::string(to_str(v));
    else if (!conv.empty())
      return Status::Error("ValueError: unknown conversion '" + conv + "'");
    StatusOr<std::string> piece = format_spec(v, spec);
    if (!piece.ok()) return piece.status();
    out += *piece;
  }
  MUSE_RETURN_IF_ERROR(in.charge(out.size()));
  return Value::string(std::move(out));
}

Value str_list(const std::vector<std::string>& parts) {
  Array items;
  items.reserve(parts.size());
  for (const std::string& p : parts) items.push_back(Value::string(p));
  return Value::array(std::move(items));
}

StatusOr<Value> call_str_method(Interpreter& in, const Value& self, const std::string& m,
                                const CallArgs& args) {
  const std::string& s = self.str();
  const bool safe = self.is_safe();
  auto bind = [&](std::initializer_list<std::string_view> names, size_t required = 0) {
    return bind_args(m, args, names, required);
  };
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    StatusOr<BoundArgs> a = bind({"chars"});
    if (!a.ok()) return a.status();
    MUSE_RETURN_IF_ERROR(need_str(m, (*a)[0] && !(*a)[0]->is_none() ? (*a)[0] : std::nullopt));
    return Value::string(py::strip(s, opt_str((*a)[0]), m != "rstrip", m != "lstrip"), safe);
  }
  if (m == "split" || m == "rsplit") {
    StatusOr<BoundArgs> a = bind({"sep", "maxsplit"});
    if (!a.ok()) return a.status();
    MUSE_RETURN_IF_ERROR(need_str(m, (*a)[0] && !(*a)[0]->is_none() ? (*a)[0] : std::nullopt));
    const std::optional<std::string_view> sep = opt_str((*a)[0]);
    if (sep && sep->empty()) return Status::Error("ValueError: empty separator");
    const int64_t maxsplit = (*a)[1] ? (*a)[1]->as_int() : -1;
    MUSE_RETURN_IF_ERROR(in.charge(s.size()));
    return str_list(m == "split" ? py::split(s, sep, maxsplit) : py::rsplit(s, sep, maxsplit));
  }
  if (m == "splitlines") {
    StatusOr<BoundArgs> a = bind({"keepends"});
    if (!a.ok()) return a.status();
    MUSE_RETURN_IF_ERROR(in.charge(s.size()));
    return str_list(py::splitlines(s, (*a)[0] && (*a)[0]->truthy()));
  }
  if (m == "startswith" || m == "endswith") {
    StatusOr<BoundArgs> a = bind({"prefix", "start", "end"}, 1);
    if (!a.ok()) return a.status();
    StatusOr<std::optional<int64_t>> start = opt_index((*a)[1]), end = opt_index((*a)[2]);
    if (!start.ok()) return start.status();
    if (!end.ok()) return end.status();
    const std::string hay = *start || *end ? py::slice(s, *start, *end, 1) : s;
    std::vector<std::string> needles;
    const Value& p = *(*a)[0];
    if (p.is_string()) {
      needles.push_back(p.str());
    } else if (p.is_array() && p.array_kind() == Value::ArrayKind::kTuple) {
      for (const Value& x : p.array()) {
        if (!x.is_string())
          return Status::Error("TypeError: tuple for " + m + " must only contain str");
        needles.push_back(x.str());
      }
    } else {
      return Status::Error("TypeError: " + m + " first arg must be str or a tuple of str, not " +
                           type_name(p));
    }
    for (const std::string& n : needles) {
      const bool hit = n.size() <= hay.size() &&
                       (m == "startswith" ? hay.compare(0, n.size(), n) == 0
                                          : hay.compare(hay.size() - n.size(), n.size(), n) == 0);
      if (hit) return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  if (m == "upper") return Value::string(py::upper(s), safe);
  if (m == "lower" || m == "casefold") return Value::string(py::lower(s), safe);
  if (m == "title") return Value::string(py::title_method(s), safe);
  if (m == "capitalize") return Value::string(py::capitalize(s), safe);
  if (m == "swapcase") return Value::string(py::swapcase(s), safe);
  if (m == "replace") {
    StatusOr<BoundArgs> a = bind({"old", "new", "count"}, 2);
    if (!a.ok()) return a.status();
    MUSE_RETURN_IF_ERROR(need_str(m, (*a)[0]));
    MUSE_RETURN_IF_ERROR(need_str(m, (*a)[1]));
    const int64_t count = (*a)[2] ? (*a)[2]->as_int() : -1;
    std::string old = (*a)[0]->str(), with = (*a)[1]->str();
    if (safe) {
      if (!(*a)[0]->is_safe()) old = py::html_escape(old);
      if (!(*a)[1]->is_safe()) with = py::html_escape(with);
    }
    // Charge the result's size before building it: replacing "" multiplies the length.
    int64_t hits = py::count(s, old);
    if (count >= 0) hits = std::min(hits, count);
    MUSE_RETURN_IF_ERROR(in.charge(s.size() + size_t(hits) * with.size()));
    return Value::string(py::replace(s, old, with, count), safe);
  }
  if (m == "find" || m == "rfind" || m == "index" || m == "rindex" || m == "count") {
    StatusOr<BoundArgs> a = bind({"sub", "start", "end"}, 1);
    if (!a.ok()) return a.status();
    MUSE_RETURN_IF_ERROR(need_str(m, (*a)[0]));
    StatusOr<std::optional<int64_t>> start = opt_index((*a)[1]), end = opt_index((*a)[2]);
    if (!start.ok()) return start.status();
    if (!end.ok()) return end.status();
    // Search s[start:end]; found indices are relative to the whole string.
    int64_t offset = 0;
    std::string hay = s;
    if (*start || *end) {
      const int64_t n = py::length(s);
      offset = start->value_or(0);
      if (offset < 0) offset = std::max<int64_t>(offset + n, 0);
      offset = std::min(offset, n);
      hay = py::slice(s, *start, *end, 1);
    }
    if (m == "count") return Value::integer(py::count(hay, (*a)[0]->str()));
    const int64_t r = py::find(hay, (*a)[0]->str(), m == "rfind" || m == "rindex");
    if (r < 0 && (m == "index" || m == "rindex"))
      return Status::Error("ValueError: substring not found");
    return Value::integer(r < 0 ? -1 : r + offset);
  }
  if (m == "join") {
    StatusOr<BoundArgs> a = bind({"iterable"}, 1);
    if (!a.ok()) return a.status();
    StatusOr<Array> items = iterate(*(*a)[0]);
    if (!items.ok()) return items.status();
    std::string out;
    for (size_t k = 0; k < items->size(); ++k) {
      const Value& x = (*items)[k];
      if (!x.is_string())
        return Status::Error("TypeError: sequence item " + std::to_string(k) +
                             ": expected str instance, " + type_name(x) + " found");
      if (k) out += s;
      out += x.str();
      MUSE_RETURN_IF_ERROR(in.charge(x.str().size() + s.size()));
    }
    return Value::string(std::move(out));
  }
  if (m == "format") return str_format(in, s, args);
  if (m.rfind("is", 0) == 0) {
    if (!args.args.empty() || !args.kwargs.empty())
      return Status::Error("TypeError: " + m + "() takes no arguments");
    const std::u32string u = py::decode(s);
    if (u.empty()) return Value::boolean(false);
    bool all = true, any_cased = false;
    for (char32_t c : u) {
      const bool is_lower = py::to_upper(c) != c, is_upper = py::to_lower(c) != c;
      any_cased = any_cased || is_lower || is_upper;
      if (m == "isdigit" || m == "isnumeric" || m == "isdecimal")
        all = all && py::is_digit(c);
      else if (m == "isalpha")
        all = all && py::is_alpha(c);
      else if (m == "isalnum")
        all = all && (py::is_alpha(c) || py::is_digit(c));
      else if (m == "isspace")
        all = all && py::is_space(c);
      else if (m == "islower")
        all = all && !is_upper;
      else if (m == "isupper")
        all = all && !is_lower;
    }
    if (m == "islower" || m == "isupper") all = all && any_cased;
    if (m == "istitle") {
      // Upper-case letters only after uncased characters, lower-case only after cased ones.
      bool prev_cased = false;
      all = any_cased;
      for (char32_t c : u) {
        const bool is_upper = py::to_lower(c) != c, is_lower = py::to_upper(c) != c;
        if ((is_upper && prev_cased) || (is_lower && !prev_cased)) all = false;
        prev_cased = is_upper || is_lower;
      }
    }
    return Value::boolean(all);
  }
  if (m == "zfill" || m == "center" || m == "ljust" || m == "rjust") {
    StatusOr<BoundArgs> a = bind({"width", "fillchar"}, 1);
    if (!a.ok()) return a.status();
    if (!(*a)[0]->is_int()) return Status::Error("TypeError: " + m + "() width must be an int");
    const int64_t width = std::min<int64_t>((*a)[0]->as_int(), int64_t(1) << 24);
    MUSE_RETURN_IF_ERROR(in.charge(size_t(std::max<int64_t>(width, 0)) * 4 + s.size()));
    if (m == "zfill") {
      const bool sign = !s.empty() && (s[0] == '-' || s[0] == '+');
      const std::string head = sign ? s.substr(0, 1) : "";
      return Value::string(head +
                           pad(s.substr(head.size()), width - int64_t(head.size()), "0", '>'));
    }
    std::string fill = " ";
    if ((*a)[1]) {
      if (!(*a)[1]->is_string() || py::length((*a)[1]->str()) != 1)
        return Status::Error("TypeError: The fill character must be exactly one character long");
      fill = (*a)[1]->str();
    }
    return Value::string(pad(s, width, fill, m == "center" ? '^' : m == "ljust" ? '<' : '>'));
  }
  if (m == "partition" || m == "rpartition") {
    StatusOr<BoundArgs> a = bind({"sep"}, 1);
    if (!a.ok()) return a.status();
    MUSE_RETURN_IF_ERROR(need_str(m, (*a)[0]));
    const std::string& sep = (*a)[0]->str();
    if (sep.empty()) return Status::Error("ValueError: empty separator");
    const size_t hit = m == "partition" ? s.find(sep) : s.rfind(sep);
    Array parts;
    if (hit == std::string::npos) {
      parts = m == "partition" ? Array{Value::string(s), Value::string(""), Value::string("")}
                               : Array{Value::string(""), Value::string(""), Value::string(s)};
    } else {
      parts = {Value::string(s.substr(0, hit)), Value::string(sep),
               Value::string(s.substr(hit + sep.size()))};
    }
    return Value::array(std::move(parts), Value::ArrayKind::kTuple);
  }
  if (m == "removeprefix" || m == "removesuffix") {
    StatusOr<BoundArgs> a = bind({"affix"}, 1);
    if (!a.ok()) return a.status();
    MUSE_RETURN_IF_ERROR(need_str(m, (*a)[0]));
    const std::string& x = (*a)[0]->str();
    if (m == "removeprefix" && s.compare(0, x.size(), x) == 0)
      return Value::string(s.substr(x.size()), safe);
    if (m == "removesuffix" && x.size() <= s.size() && !x.empty() &&
        s.compare(s.size() - x.size(), x.size(), x) == 0)
      return Value::string(s.substr(0, s.size() - x.size()), safe);
    return self;
  }
  return Status::Error("AttributeError: 'str' object has no attribute '" + m + "'");
}

StatusOr<Value> call_dict_method(const Value& self, const std::string& m, const CallArgs& args) {
  const Object& obj = self.object();
  if (m == "get") {
    StatusOr<BoundArgs> a = bind_args(m, args, {"key", "default"}, 1);
    if (!a.ok()) return a.status();
    const Value& key = *(*a)[0];
    if (key.is_string())
      if (const Value* v = obj.find(key.str())) return *v;
    return (*a)[1] ? *(*a)[1] : Value::none();
  }
  if (!args.args.empty() || !args.kwargs.empty())
    return Status::Error("TypeError: " + m + "() takes no arguments");
  if (m == "copy") return self;
  Array out;
  out.reserve(obj.size());
  for (const auto& [k, v] : obj.entries()) {
    if (m == "keys")
      out.push_back(Value::string(k));
    else if (m == "values")
      out.push_back(v);
    else
      out.push_back(Value::array({Value::string(k), v}, Value::ArrayKind::kTuple));
  }
  return Value::array(std::move(out));
}

StatusOr<Value> call_list_method(const Value& self, const std::string& m, const CallArgs& args) {
  if (m == "copy") {
    if (!args.args.empty() || !args.kwargs.empty())
      return Status::Error("TypeError: copy() takes no arguments");
    return Value::array(self.array(), self.array_kind());
  }
  StatusOr<BoundArgs> a = bind_args(m, args, {"value"}, 1);
  if (!a.ok()) return a.status();
  int64_t n = 0;
  for (size_t k = 0; k < self.array().size(); ++k) {
    if (!equals(self.array()[k], *(*a)[0])) continue;
    if (m == "index") return Value::integer(int64_t(k));
    ++n;
  }
  if (m == "index")
    return Status::Error("ValueError: " + to_repr(*(*a)[0]) + " is not in " + type_name(self));
  return Value::integer(n);
}

Value method(const Value& self, const std::string& name) {
  return Value::callable(type_name(self) + "." + name,
                         [self, name](Interpreter& in, const CallArgs& args) -> StatusOr<Value> {
                           if (self.is_string()) return call_str_method(in, self, name, args);
                           if (self.is_object()) return call_dict_method(self, name, args);
                           return call_list_method(self, name, args);
                         });
}

}  // namespace

StatusOr<Value> get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      return Status::Error("UndefinedError: " + obj.undefined_message());
    case Value::Kind::kString:
      if (in(kStrMethods, name)) return method(obj, name);
      break;
    case Value::Kind::kObject:
      if (in(kDictMethods, name)) return method(obj, name);
      if (in(kDictUnsafe, name)) return unsafe(obj, name);
      if (const Value* v = obj.object().find(name)) return *v;
      break;
    case Value::Kind::kArray:
      if (obj.is_generator()) break;
      if (in(kListMethods, name) && (name != "copy" || obj.array_kind() == Value::ArrayKind::kList))
        return method(obj, name);
      if (obj.array_kind() == Value::ArrayKind::kList && in(kListUnsafe, name))
        return unsafe(obj, name);
      break;
    case Value::Kind::kNamespace:
      if (const Value* v = obj.ns().attrs.find(name)) return *v;
      break;
    default:
      break;
  }
  return Value::undefined(name, object_description(obj));
}

StatusOr<Value> get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return Status::Error("UndefinedError: " + obj.undefined_message());
  if (obj.is_object() && key.is_string()) {
    if (const Value* v = obj.object().find(key.str())) return *v;
  }
  const bool indexable = obj.is_string() || obj.is_list();
  if (indexable && (key.is_int() || key.is_bool())) {
    const int64_t n = obj.is_string() ? py::length(obj.str()) : int64_t(obj.array().size());
    int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i >= 0 && i < n) {
      if (obj.is_list()) return obj.array()[size_t(i)];
      return Value::string(py::slice(obj.str(), i, i + 1, 1));
    }
  }
  if (key.is_string()) return get_attr(obj, key.str());
  return Value::undefined(to_repr(key), object_description(obj),
                          "'" + object_description(obj) + "' has no element " + to_repr(key));
}

}  // namespace muse::chat
