// Jinja's built-in filters with jinja2 3.1 semantics (and Hugging Face's `tojson`, which is
// json.dumps with ensure_ascii=False and key order kept). Filters that return generators in
// jinja2 (`map`, `select*`, `reject*`, `unique`, `batch`, `slice`, `items`, `reverse`)
// return generator values here too, so `x|map(...)|tojson` fails exactly as it does in Python.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/py_string.h"

namespace muse::chat {
namespace {

using Fn = FilterFn;

Value generator(Array items) {
  return Value::array(std::move(items), Value::ArrayKind::kGenerator);
}

// jinja2's `make_attrgetter`: "a.b.0" looks up a, then b, then item 0, item-first.
StatusOr<Value> attr_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    StatusOr<Value> next =
        get_item(cur, numeric ? Value::integer(std::atoll(part.c_str())) : Value::string(part));
    if (!next.ok()) return next;
    cur = std::move(*next);
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// jinja2's soft_str: strings pass through with their Markup flag, anything else is str()'d
// (and the text counted against the render's budget).
Value str_value(Interpreter& in, const Value& v, Status* status) {
  if (v.is_string()) return v;
  Value s = Value::string(to_str(v));
  *status = in.charge(s.str().size());
  return s;
}

StatusOr<std::string> str_arg(const std::optional<Value>& v, std::string_view what,
                              std::string fallback) {
  if (!v) return fallback;
  if (!v->is_string())
    return Status::Error("TypeError: " + std::string(what) + " must be a string, not " +
                         type_name(*v));
  return v->str();
}

StatusOr<Value> f_abs(Interpreter& in, const Value& v, const CallArgs& a) {
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) return Status::Error("OverflowError: integer out of range");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  return Status::Error("TypeError: bad operand type for abs(): '" + type_name(v) + "'");
}

StatusOr<Value> f_attr(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("attr", a, {"name"}, 1);
  if (!b.ok()) return b.status();
  if (!(*b)[0]->is_string()) return Value::undefined(to_str(*(*b)[0]), object_description(v));
  return get_attr(v, (*b)[0]->str());
}

StatusOr<Value> f_batch(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("batch", a, {"linecount", "fill_with"}, 1);
  if (!b.ok()) return b.status();
  const std::optional<int64_t> n = to_int(*(*b)[0]);
  if (!n || *n <= 0) return Status::Error("ValueError: batch size must be a positive integer");
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  Array out, cur;
  for (const Value& x : *items) {
    cur.push_back(x);
    if (int64_t(cur.size()) == *n) out.push_back(Value::array(std::exchange(cur, {})));
  }
  if (!cur.empty()) {
    if ((*b)[1]) {
      MUSE_RETURN_IF_ERROR(in.charge(size_t(*n - int64_t(cur.size())) * sizeof(Value)));
      while (int64_t(cur.size()) < *n) cur.push_back(*(*b)[1]);
    }
    out.push_back(Value::array(std::move(cur)));
  }
  return generator(std::move(out));
}

StatusOr<Value> f_capitalize(Interpreter& in, const Value& v, const CallArgs&) {
  Status st;
  const Value s = str_value(in, v, &st);
  MUSE_RETURN_IF_ERROR(st);
  return Value::string(py::capitalize(s.str()), s.is_safe());
}

StatusOr<Value> f_center(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("center", a, {"width"});
  if (!b.ok()) return b.status();
  CallArgs m{{(*b)[0] ? *(*b)[0] : Value::integer(80)}, {}};
  Status st;
  const Value s = str_value(in, v, &st);
  MUSE_RETURN_IF_ERROR(st);
  StatusOr<Value> method = get_attr(s, "center");
  if (!method.ok()) return method;
  return in.call(*method, m);
}

StatusOr<Value> f_length(Interpreter& in, const Value& v, const CallArgs&) {
  StatusOr<int64_t> n = length(v);
  if (!n.ok()) return n.status();
  return Value::integer(*n);
}

StatusOr<Value> f_default(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("default", a, {"default_value", "boolean"});
  if (!b.ok()) return b.status();
  const bool boolean = (*b)[1] && (*b)[1]->truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return (*b)[0] ? *(*b)[0] : Value::string("");
  return v;
}

StatusOr<Value> f_dictsort(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("dictsort", a, {"case_sensitive", "by", "reverse"});
  if (!b.ok()) return b.status();
  if (!v.is_object()) return Status::Error("TypeError: dictsort needs a mapping");
  const bool cs = (*b)[0] && (*b)[0]->truthy();
  StatusOr<std::string> by = str_arg((*b)[1], "by", "key");
  if (!by.ok()) return by.status();
  if (*by != "key" && *by != "value")
    return Status::Error("FilterArgumentError: You can only sort by either \"key\" or \"value\"");
  Array pairs;
  for (const auto& [k, x] : v.object().entries())
    pairs.push_back(Value::array({Value::string(k), x}, Value::ArrayKind::kTuple));
  Status err;
  auto key = [&](const Value& p) {
    Value x = p.array()[*by == "key" ? 0 : 1];
    return !cs && x.is_string() ? Value::string(py::lower(x.str())) : x;
  };
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& l, const Value& r) {
    StatusOr<int> c = compare(key(l), key(r));
    if (!c.ok()) err = c.status();
    return c.ok() && *c == -1;
  });
  MUSE_RETURN_IF_ERROR(err);
  if ((*b)[2] && (*b)[2]->truthy()) std::reverse(pairs.begin(), pairs.end());
  return Value::array(std::move(pairs));
}

StatusOr<Value> f_forceescape(Interpreter& in, const Value& v, const CallArgs&) {
  std::string s = py::html_escape(to_str(v));
  MUSE_RETURN_IF_ERROR(in.charge(s.size()));
  return Value::string(std::move(s), true);
}

StatusOr<Value> f_escape(Interpreter& in, const Value& v, const CallArgs& a) {
  if (v.is_string() && v.is_safe()) return v;
  return f_forceescape(in, v, a);
}

StatusOr<Value> f_first(Interpreter& in, const Value& v, const CallArgs&) {
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  if (items->empty()) return Value::undefined("first", "", "No first item, sequence was empty.");
  return (*items)[0];
}

StatusOr<Value> f_last(Interpreter& in, const Value& v, const CallArgs&) {
  if (v.is_generator()) return Status::Error("TypeError: 'generator' object is not reversible");
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  if (items->empty()) return Value::undefined("last", "", "No last item, sequence was empty.");
  return items->back();
}

StatusOr<Value> f_float(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("float", a, {"default"});
  if (!b.ok()) return b.status();
  const Value fallback = (*b)[0] ? *(*b)[0] : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string()) {
    std::string s = py::strip(v.str(), {}, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    const std::string lower = py::lower(s);
    if (lower == "inf" || lower == "+inf" || lower == "infinity" || lower == "+infinity")
      return Value::number(HUGE_VAL);
    if (lower == "-inf" || lower == "-infinity") return Value::number(-HUGE_VAL);
    if (lower == "nan" || lower == "+nan" || lower == "-nan") return Value::number(NAN);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && lower.find('x') == std::string::npos &&
        lower.find("in") == std::string::npos && lower.find("na") == std::string::npos)
      return Value::number(d);
  }
  return fallback;
}

StatusOr<Value> f_format(Interpreter& in, const Value& v, const CallArgs& a) {
  if (!a.args.empty() && !a.kwargs.empty())
    return Status::Error(
        "FilterArgumentError: can't handle positional and keyword arguments at the same time");
  Value args;
  if (!a.kwargs.empty()) {
    Object obj;
    for (const auto& [k, x] : a.kwargs) obj.set(k, x);
    args = Value::object(std::move(obj));
  } else {
    args = Value::array(a.args, Value::ArrayKind::kTuple);
  }
  StatusOr<std::string> s = percent_format(to_str(v), args);
  if (!s.ok()) return s.status();
  MUSE_RETURN_IF_ERROR(in.charge(s->size()));
  return Value::string(std::move(*s), v.is_string() && v.is_safe());
}

StatusOr<Value> f_indent(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("indent", a, {"width", "first", "blank"});
  if (!b.ok()) return b.status();
  std::string indention = "    ";
  if ((*b)[0]) {
    if ((*b)[0]->is_string()) {
      indention = (*b)[0]->str();
    } else {
      const std::optional<int64_t> w = to_int(*(*b)[0]);
      if (!w || !(*b)[0]->is_number())
        return Status::Error("TypeError: indent width must be an int or a string");
      indention.assign(size_t(std::clamp<int64_t>(*w, 0, 1 << 16)), ' ');
    }
  }
  const bool first = (*b)[1] && (*b)[1]->truthy(), blank = (*b)[2] && (*b)[2]->truthy();
  // jinja2 appends "\n" to the value itself, which only works for strings.
  if (v.is_undefined()) return Status::Error("UndefinedError: " + v.undefined_message());
  if (!v.is_string())
    return Status::Error("TypeError: unsupported operand type(s) for +=: '" + type_name(v) +
                         "' and 'str'");
  const Value& s = v;
  // jinja2 appends a newline first so that splitlines keeps a trailing empty line.
  const std::vector<std::string> lines = py::splitlines(s.str() + "\n", false);
  MUSE_RETURN_IF_ERROR(in.charge(s.str().size() + (lines.size() + 1) * indention.size()));
  std::string rv;
  if (blank) {
    for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + indention : "") + lines[k];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t k = 1; k < lines.size(); ++k)
      rv += "\n" + (lines[k].empty() ? lines[k] : indention + lines[k]);
  }
  if (first) rv = indention + rv;
  return Value::string(std::move(rv), s.is_safe());
}

StatusOr<Value> f_int(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("int", a, {"default", "base"});
  if (!b.ok()) return b.status();
  const Value fallback = (*b)[0] ? *(*b)[0] : Value::integer(0);
  const int base = (*b)[1] ? int((*b)[1]->as_int()) : 10;
  if (v.is_string() && base != 10) {
    std::string s = py::strip(v.str(), {}, true, true);
    std::string digits = s;
    if (digits.size() > 2 && digits[0] == '0' && std::strchr("xXoObB", digits[1]))
      digits = digits.substr(2);
    char* end = nullptr;
    errno = 0;
    const long long r = std::strtoll(digits.c_str(), &end, base);
    if (!digits.empty() && end == digits.c_str() + digits.size() && errno == 0)
      return Value::integer(r);
    return fallback;
  }
  if (std::optional<int64_t> i = to_int(v)) return Value::integer(*i);
  if (v.is_string()) {
    // "42.23"|int is 42: jinja2 retries through float().
    char* end = nullptr;
    const std::string s = py::strip(v.str(), {}, true, true);
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18)
      return Value::integer(int64_t(d));
  }
  return fallback;
}

StatusOr<Value> f_items(Interpreter& in, const Value& v, const CallArgs&) {
  if (v.is_undefined()) return generator({});
  if (!v.is_object()) return Status::Error("TypeError: Can only get item pairs from a mapping.");
  Array out;
  for (const auto& [k, x] : v.object().entries())
    out.push_back(Value::array({Value::string(k), x}, Value::ArrayKind::kTuple));
  return generator(std::move(out));
}

StatusOr<Value> f_join(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("join", a, {"d", "attribute"});
  if (!b.ok()) return b.status();
  const std::string sep = (*b)[0] ? to_str(*(*b)[0]) : "";
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  std::string out;
  for (size_t k = 0; k < items->size(); ++k) {
    Value x = (*items)[k];
    if ((*b)[1]) {
      StatusOr<Value> attr = attr_path(x, to_str(*(*b)[1]));
      if (!attr.ok()) return attr;
      x = std::move(*attr);
    }
    if (k) out += sep;
    const std::string piece = to_str(x);
    MUSE_RETURN_IF_ERROR(in.charge(piece.size() + sep.size()));
    out += piece;
  }
  return Value::string(std::move(out));
}

StatusOr<Value> f_list(Interpreter& in, const Value& v, const CallArgs&) {
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  return Value::array(std::move(*items));
}

StatusOr<Value> f_lower(Interpreter& in, const Value& v, const CallArgs&) {
  Status st;
  const Value s = str_value(in, v, &st);
  MUSE_RETURN_IF_ERROR(st);
  return Value::string(py::lower(s.str()), s.is_safe());
}

StatusOr<Value> f_upper(Interpreter& in, const Value& v, const CallArgs&) {
  Status st;
  const Value s = str_value(in, v, &st);
  MUSE_RETURN_IF_ERROR(st);
  return Value::string(py::upper(s.str()), s.is_safe());
}

StatusOr<Value> f_map(Interpreter& in, const Value& v, const CallArgs& a) {
  if (!v.truthy()) return generator({});  // jinja2 guards with `if value:`
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  Array out;
  std::optional<Value> attribute, fallback;
  for (const auto& [k, x] : a.kwargs) {
    if (k == "attribute")
      attribute = x;
    else if (k == "default")
      fallback = x;
  }
  if (attribute) {
    for (const Value& x : *items) {
      StatusOr<Value> r = attr_path(x, to_str(*attribute));
      if (!r.ok()) return r;
      out.push_back(r->is_undefined() && fallback ? *fallback : *r);
    }
    return generator(std::move(out));
  }
  if (a.args.empty()) return Status::Error("FilterArgumentError: map requires a filter argument");
  if (!a.args[0].is_string()) return Status::Error("TypeError: map filter name must be a string");
  const std::string name = a.args[0].str();
  CallArgs rest{{a.args.begin() + 1, a.args.end()}, a.kwargs};
  for (const Value& x : *items) {
    StatusOr<Value> r = in.apply_filter(name, x, rest);
    if (!r.ok()) return r;
    out.push_back(std::move(*r));
  }
  return generator(std::move(out));
}

StatusOr<Value> min_max(const Value& v, const CallArgs& a, bool max) {
  StatusOr<BoundArgs> b = bind_args(max ? "max" : "min", a, {"case_sensitive", "attribute"});
  if (!b.ok()) return b.status();
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  if (items->empty()) return Value::undefined("", "", "No aggregated item, sequence was empty.");
  const bool cs = (*b)[0] && (*b)[0]->truthy();
  auto key = [&](const Value& x) -> StatusOr<Value> {
    Value k = x;
    if ((*b)[1]) {
      StatusOr<Value> r = attr_path(x, to_str(*(*b)[1]));
      if (!r.ok()) return r;
      k = *r;
    }
    return !cs && k.is_string() ? Value::string(py::lower(k.str())) : k;
  };
  size_t best = 0;
  StatusOr<Value> best_key = key((*items)[0]);
  if (!best_key.ok()) return best_key;
  for (size_t k = 1; k < items->size(); ++k) {
    StatusOr<Value> kk = key((*items)[k]);
    if (!kk.ok()) return kk;
    StatusOr<int> c = compare(*kk, *best_key);
    if (!c.ok()) return c.status();
    if ((max && *c == 1) || (!max && *c == -1)) {
      best = k;
      best_key = std::move(kk);
    }
  }
  return (*items)[best];
}

StatusOr<Value> f_max(Interpreter& in, const Value& v, const CallArgs& a) {
  return min_max(v, a, true);
}
StatusOr<Value> f_min(Interpreter& in, const Value& v, const CallArgs& a) {
  return min_max(v, a, false);
}

StatusOr<Value> f_pprint(Interpreter& in, const Value& v, const CallArgs&) {
  std::string s = to_repr(v);
  MUSE_RETURN_IF_ERROR(in.charge(s.size()));
  return Value::string(std::move(s));
}

// select/reject/selectattr/rejectattr share jinja2's `select_or_reject`.
StatusOr<Value> select_or_reject(Interpreter& in, const Value& v, const CallArgs& a, bool select,
                                 bool by_attr) {
  Array out;
  if (!v.truthy()) return generator({});  // jinja2 guards with `if value:`
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  size_t next = 0;
  std::optional<std::string> attribute;
  if (by_attr) {
    if (a.args.empty()) return Status::Error("TypeError: Missing parameter for attribute name");
    attribute = to_str(a.args[0]);
    next = 1;
  }
  std::optional<std::string> test;
  if (next < a.args.size()) {
    if (!a.args[next].is_string()) return Status::Error("TypeError: test name must be a string");
    test = a.args[next].str();
    ++next;
  }
  CallArgs rest{{a.args.begin() + std::min(next, a.args.size()), a.args.end()}, a.kwargs};
  for (const Value& x : *items) {
    Value probe = x;
    if (attribute) {
      StatusOr<Value> r = attr_path(x, *attribute);
      if (!r.ok()) return r;
      probe = std::move(*r);
    }
    bool keep;
    if (test) {
      StatusOr<bool> r = in.apply_test(*test, probe, rest);
      if (!r.ok()) return r.status();
      keep = *r;
    } else {
      keep = probe.truthy();
    }
    if (keep == select) out.push_back(x);
  }
  return generator(std::move(out));
}

StatusOr<Value> f_select(Interpreter& in, const Value& v, const CallArgs& a) {
  return select_or_reject(in, v, a, true, false);
}
StatusOr<Value> f_reject(Interpreter& in, const Value& v, const CallArgs& a) {
  return select_or_reject(in, v, a, false, false);
}
StatusOr<Value> f_selectattr(Interpreter& in, const Value& v, const CallArgs& a) {
  return select_or_reject(in, v, a, true, true);
}
StatusOr<Value> f_rejectattr(Interpreter& in, const Value& v, const CallArgs& a) {
  return select_or_reject(in, v, a, false, true);
}

StatusOr<Value> f_replace(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("replace", a, {"old", "new", "count"}, 2);
  if (!b.ok()) return b.status();
  Status st;
  const Value s = str_value(in, v, &st);
  MUSE_RETURN_IF_ERROR(st);
  CallArgs m{{Value::string(to_str(*(*b)[0])), Value::string(to_str(*(*b)[1]))}, {}};
  if ((*b)[2] && !(*b)[2]->is_none()) m.args.push_back(*(*b)[2]);
  StatusOr<Value> method = get_attr(s, "replace");
  if (!method.ok()) return method;
  return in.call(*method, m);
}

StatusOr<Value> f_reverse(Interpreter& in, const Value& v, const CallArgs&) {
  if (v.is_string()) return Value::string(py::slice(v.str(), {}, {}, -1));
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  std::reverse(items->begin(), items->end());
  // reversed() of a list is an iterator; of a generator jinja2 falls back to a list.
  return v.is_generator() ? Value::array(std::move(*items)) : generator(std::move(*items));
}

StatusOr<Value> f_round(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("round", a, {"precision", "method"});
  if (!b.ok()) return b.status();
  const int64_t precision = (*b)[0] ? (*b)[0]->as_int() : 0;
  StatusOr<std::string> method = str_arg((*b)[1], "method", "common");
  if (!method.ok()) return method.status();
  if (*method != "common" && *method != "ceil" && *method != "floor")
    return Status::Error("FilterArgumentError: method must be common, ceil or floor");
  if (!v.is_number())
    return Status::Error("TypeError: type " + type_name(v) + " doesn't define __round__ method");
  if (*method == "common") {
    if (!v.is_float() && precision >= 0) return Value::integer(v.as_int());
    const double x = v.as_float();
    if (!std::isfinite(x)) return Value::number(x);
    if (precision >= 0 && precision <= 300) {
      // printf rounds the exact binary value half-to-even, as Python's round() does.
      char buf[512];
      std::snprintf(buf, sizeof(buf), "%.*f", int(std::min<int64_t>(precision, 100)), x);
      return Value::number(std::strtod(buf, nullptr));
    }
    const double scale = std::pow(10.0, double(-precision));
    return Value::number(std::nearbyint(x / scale) * scale);
  }
  const double scale = std::pow(10.0, double(precision));
  const double x = v.as_float() * scale;
  return Value::number((*method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

StatusOr<Value> f_safe(Interpreter& in, const Value& v, const CallArgs&) {
  if (v.is_string()) return Value::string(v.str(), true);
  std::string s = to_str(v);
  MUSE_RETURN_IF_ERROR(in.charge(s.size()));
  return Value::string(std::move(s), true);
}

StatusOr<Value> f_slice(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("slice", a, {"slices", "fill_with"}, 1);
  if (!b.ok()) return b.status();
  const std::optional<int64_t> slices = to_int(*(*b)[0]);
  if (!slices || *slices <= 0 || *slices > 100000)
    return Status::Error("ValueError: slices must be a positive integer");
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  const int64_t n = int64_t(items->size()), per = n / *slices, extra = n % *slices;
  Array out;
  int64_t offset = 0;
  for (int64_t k = 0; k < *slices; ++k) {
    const int64_t start = offset + k * per;
    if (k < extra) ++offset;
    const int64_t end = offset + (k + 1) * per;
    Array part(items->begin() + start, items->begin() + end);
    if ((*b)[1] && k >= extra) part.push_back(*(*b)[1]);
    out.push_back(Value::array(std::move(part)));
  }
  return generator(std::move(out));
}

StatusOr<Value> f_sort(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("sort", a, {"reverse", "case_sensitive", "attribute"});
  if (!b.ok()) return b.status();
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  const bool reverse = (*b)[0] && (*b)[0]->truthy(), cs = (*b)[1] && (*b)[1]->truthy();
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& x : *items) {
    Value k = x;
    if ((*b)[2]) {
      StatusOr<Value> r = attr_path(x, to_str(*(*b)[2]));
      if (!r.ok()) return r;
      k = *r;
    }
    if (!cs && k.is_string()) k = Value::string(py::lower(k.str()));
    keyed.emplace_back(std::move(k), x);
  }
  Status err;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& l, const auto& r) {
    StatusOr<int> c = reverse ? compare(r.first, l.first) : compare(l.first, r.first);
    if (!c.ok()) err = c.status();
    return c.ok() && *c == -1;
  });
  MUSE_RETURN_IF_ERROR(err);
  Array out;
  for (auto& [k, x] : keyed) out.push_back(std::move(x));
  return Value::array(std::move(out));
}

StatusOr<Value> f_string(Interpreter& in, const Value& v, const CallArgs&) {
  Status st;
  Value s = str_value(in, v, &st);
  MUSE_RETURN_IF_ERROR(st);
  return s;
}

StatusOr<Value> f_sum(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("sum", a, {"attribute", "start"});
  if (!b.ok()) return b.status();
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  Value total = (*b)[1] ? *(*b)[1] : Value::integer(0);
  for (const Value& x : *items) {
    Value term = x;
    if ((*b)[0]) {
      StatusOr<Value> r = attr_path(x, to_str(*(*b)[0]));
      if (!r.ok()) return r;
      term = *r;
    }
    StatusOr<Value> r = binary_op(in, "+", total, term);
    if (!r.ok()) return r;
    total = std::move(*r);
  }
  return total;
}

StatusOr<Value> f_title(Interpreter& in, const Value& v, const CallArgs&) {
  Status st;
  const Value s = str_value(in, v, &st);
  MUSE_RETURN_IF_ERROR(st);
  return Value::string(py::title_filter(s.str()), s.is_safe());
}

StatusOr<Value> f_tojson(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b =
      bind_args("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
  if (!b.ok()) return b.status();
  JsonOptions o;
  o.ensure_ascii = (*b)[0] && (*b)[0]->truthy();
  if ((*b)[1] && !(*b)[1]->is_none()) {
    const Value& ind = *(*b)[1];
    if (ind.is_string())
      o.indent = ind.str();
    else if (ind.is_int() || ind.is_bool())
      o.indent = std::string(size_t(std::clamp<int64_t>(ind.as_int(), 0, 1 << 10)), ' ');
    else
      return Status::Error("TypeError: tojson indent must be an int or a string");
    o.item_separator = ",";
  }
  if ((*b)[2] && !(*b)[2]->is_none()) {
    const Value& sep = *(*b)[2];
    if (!sep.is_list() || sep.array().size() != 2 || !sep.array()[0].is_string() ||
        !sep.array()[1].is_string())
      return Status::Error("ValueError: tojson separators must be a pair of strings");
    o.item_separator = sep.array()[0].str();
    o.key_separator = sep.array()[1].str();
  }
  o.sort_keys = (*b)[3] && (*b)[3]->truthy();
  o.max_bytes = std::min(o.max_bytes, in.remaining_budget());
  StatusOr<std::string> s = to_json(v, o);
  if (!s.ok()) return s.status();
  MUSE_RETURN_IF_ERROR(in.charge(s->size()));
  return Value::string(std::move(*s));
}

StatusOr<Value> f_trim(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("trim", a, {"chars"});
  if (!b.ok()) return b.status();
  Status st;
  const Value s = str_value(in, v, &st);
  MUSE_RETURN_IF_ERROR(st);
  std::optional<std::string_view> chars;
  if ((*b)[0] && !(*b)[0]->is_none()) {
    if (!(*b)[0]->is_string()) return Status::Error("TypeError: strip arg must be None or str");
    chars = (*b)[0]->str();
  }
  return Value::string(py::strip(s.str(), chars, true, true), s.is_safe());
}

StatusOr<Value> f_truncate(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("truncate", a, {"length", "killwords", "end", "leeway"});
  if (!b.ok()) return b.status();
  const int64_t len = (*b)[0] ? (*b)[0]->as_int() : 255;
  const bool killwords = (*b)[1] && (*b)[1]->truthy();
  const std::string end = (*b)[2] ? to_str(*(*b)[2]) : "...";
  const int64_t leeway = (*b)[3] ? (*b)[3]->as_int() : 5;
  const int64_t end_len = py::length(end);
  if (len < end_len) return Status::Error("AssertionError: expected length >= len(end)");
  if (leeway < 0) return Status::Error("AssertionError: expected leeway >= 0");
  // jinja2 measures and returns the value itself; only strings get cut.
  StatusOr<int64_t> n = length(v);
  if (!n.ok()) return n.status();
  if (*n <= len + leeway) return v;
  if (!v.is_string())
    return Status::Error("TypeError: can only truncate strings, not " + type_name(v));
  const std::string head = py::slice(v.str(), 0, len - end_len, 1);
  if (killwords) return Value::string(head + end);
  return Value::string(py::rsplit(head, " ", 1)[0] + end);
}

StatusOr<Value> f_unique(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("unique", a, {"case_sensitive", "attribute"});
  if (!b.ok()) return b.status();
  StatusOr<Array> items = iterate(v);
  if (!items.ok()) return items.status();
  const bool cs = (*b)[0] && (*b)[0]->truthy();
  std::vector<std::string> seen_order;
  std::unordered_map<std::string, bool> seen;
  Array out;
  for (const Value& x : *items) {
    Value k = x;
    if ((*b)[1]) {
      StatusOr<Value> r = attr_path(x, to_str(*(*b)[1]));
      if (!r.ok()) return r;
      k = *r;
    }
    StatusOr<std::string> key = hash_key(k, cs);
    if (!key.ok()) return key.status();
    if (seen.emplace(*key, true).second) out.push_back(x);
  }
  return generator(std::move(out));
}

StatusOr<Value> f_wordcount(Interpreter& in, const Value& v, const CallArgs&) {
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : py::decode(to_str(v))) {
    const bool w = py::is_alpha(c) || py::is_digit(c) || c == '_';
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

struct Entry {
  std::string_view name;
  Fn fn;
};

constexpr Entry kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_forceescape},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"pprint", f_pprint},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"slice", f_slice},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"truncate", f_truncate},
    {"unique", f_unique},
    {"upper", f_upper},
    {"wordcount", f_wordcount},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const Entry& e : kFilters)
    if (e.name == name) return e.fn;
  return nullptr;
}

}  // namespace muse::chat
