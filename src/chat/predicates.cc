// Jinja's tests (`x is defined`, `x is string`, `x is divisibleby 3`, ...) with jinja2 3.1
// semantics, including Python's quirks: bool counts as a number but not as an integer, and
// an Undefined is iterable and a sequence (it iterates as empty).
#include <cmath>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/py_string.h"

namespace muse::chat {
namespace {

StatusOr<Value> one_arg(std::string_view test, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args(test, a, {"other"}, 1);
  if (!b.ok()) return b.status();
  return *(*b)[0];
}

StatusOr<bool> no_args(std::string_view test, const CallArgs& a, bool result) {
  if (!a.args.empty() || !a.kwargs.empty())
    return Status::Error("TypeError: test '" + std::string(test) + "' takes no arguments");
  return result;
}

StatusOr<bool> t_defined(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("defined", a, !v.is_undefined());
}
StatusOr<bool> t_undefined(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("undefined", a, v.is_undefined());
}
StatusOr<bool> t_none(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("none", a, v.is_none());
}
StatusOr<bool> t_boolean(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("boolean", a, v.is_bool());
}
StatusOr<bool> t_true(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("true", a, v.is_bool() && v.as_bool());
}
StatusOr<bool> t_false(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("false", a, v.is_bool() && !v.as_bool());
}
StatusOr<bool> t_integer(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("integer", a, v.is_int());
}
StatusOr<bool> t_float(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("float", a, v.is_float());
}
StatusOr<bool> t_number(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("number", a, v.is_number());
}
StatusOr<bool> t_string(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("string", a, v.is_string());
}
StatusOr<bool> t_mapping(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("mapping", a, v.is_object());
}
StatusOr<bool> t_iterable(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("iterable", a, v.is_undefined() || v.is_string() || v.is_array() || v.is_object());
}
StatusOr<bool> t_sequence(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("sequence", a, v.is_undefined() || v.is_string() || v.is_list() || v.is_object());
}
StatusOr<bool> t_callable(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("callable", a, v.is_callable());
}
StatusOr<bool> t_escaped(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("escaped", a, v.is_string() && v.is_safe());
}
// str(value).islower() / .isupper(): at least one cased character, none of the other case.
bool has_case(const std::string& s, bool lower) {
  bool cased = false;
  for (char32_t c : py::decode(s)) {
    const bool is_lower = py::to_upper(c) != c, is_upper = py::to_lower(c) != c;
    if (lower ? is_upper : is_lower) return false;
    cased = cased || is_lower || is_upper;
  }
  return cased;
}
StatusOr<bool> t_lower(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("lower", a, has_case(to_str(v), true));
}
StatusOr<bool> t_upper(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("upper", a, has_case(to_str(v), false));
}

StatusOr<bool> parity(const Value& v, const CallArgs& a, std::string_view name, int want) {
  if (!a.args.empty() || !a.kwargs.empty())
    return Status::Error("TypeError: test '" + std::string(name) + "' takes no arguments");
  if (v.is_int() || v.is_bool()) return ((v.as_int() % 2) + 2) % 2 == want;
  if (v.is_float()) return std::fabs(std::fmod(v.as_float(), 2.0)) == double(want);
  if (v.is_undefined()) return Status::Error("UndefinedError: " + v.undefined_message());
  return Status::Error("TypeError: unsupported operand type(s) for %: '" + type_name(v) +
                       "' and 'int'");
}
StatusOr<bool> t_odd(Interpreter&, const Value& v, const CallArgs& a) {
  return parity(v, a, "odd", 1);
}
StatusOr<bool> t_even(Interpreter&, const Value& v, const CallArgs& a) {
  return parity(v, a, "even", 0);
}

StatusOr<bool> t_divisibleby(Interpreter& in, const Value& v, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("divisibleby", a, {"num"}, 1);
  if (!b.ok()) return b.status();
  StatusOr<Value> r = binary_op(in, "%", v, *(*b)[0]);
  if (!r.ok()) return r.status();
  return r->as_float() == 0;
}

StatusOr<bool> cmp_test(const Value& v, const CallArgs& a, std::string_view name, int lo, int hi) {
  StatusOr<Value> other = one_arg(name, a);
  if (!other.ok()) return other.status();
  StatusOr<int> c = compare(v, *other);
  if (!c.ok()) return c.status();
  return *c >= lo && *c <= hi;
}

StatusOr<bool> t_eq(Interpreter&, const Value& v, const CallArgs& a) {
  StatusOr<Value> other = one_arg("eq", a);
  if (!other.ok()) return other.status();
  return equals(v, *other);
}
StatusOr<bool> t_ne(Interpreter&, const Value& v, const CallArgs& a) {
  StatusOr<Value> other = one_arg("ne", a);
  if (!other.ok()) return other.status();
  return !equals(v, *other);
}
StatusOr<bool> t_lt(Interpreter&, const Value& v, const CallArgs& a) {
  return cmp_test(v, a, "lt", -1, -1);
}
StatusOr<bool> t_le(Interpreter&, const Value& v, const CallArgs& a) {
  return cmp_test(v, a, "le", -1, 0);
}
StatusOr<bool> t_gt(Interpreter&, const Value& v, const CallArgs& a) {
  return cmp_test(v, a, "gt", 1, 1);
}
StatusOr<bool> t_ge(Interpreter&, const Value& v, const CallArgs& a) {
  return cmp_test(v, a, "ge", 0, 1);
}

StatusOr<bool> t_in(Interpreter&, const Value& v, const CallArgs& a) {
  StatusOr<Value> seq = one_arg("in", a);
  if (!seq.ok()) return seq.status();
  return contains(*seq, v);
}

StatusOr<bool> t_sameas(Interpreter&, const Value& v, const CallArgs& a) {
  StatusOr<Value> other = one_arg("sameas", a);
  if (!other.ok()) return other.status();
  if (v.kind() != other->kind()) return false;
  switch (v.kind()) {
    case Value::Kind::kNone:
    case Value::Kind::kUndefined:
      return true;
    case Value::Kind::kBool:
      return v.as_bool() == other->as_bool();
    case Value::Kind::kInt:
      return v.as_int() == other->as_int();
    default:
      return v.identity() == other->identity();
  }
}

StatusOr<bool> t_filter(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("filter", a, v.is_string() && find_filter(v.str()) != nullptr);
}
StatusOr<bool> t_test(Interpreter&, const Value& v, const CallArgs& a) {
  return no_args("test", a, v.is_string() && find_test(v.str()) != nullptr);
}

struct Entry {
  std::string_view name;
  TestFn fn;
};

constexpr Entry kTests[] = {
    {"boolean", t_boolean},
    {"callable", t_callable},
    {"defined", t_defined},
    {"divisibleby", t_divisibleby},
    {"eq", t_eq},
    {"equalto", t_eq},
    {"==", t_eq},
    {"escaped", t_escaped},
    {"even", t_even},
    {"false", t_false},
    {"filter", t_filter},
    {"float", t_float},
    {"ge", t_ge},
    {">=", t_ge},
    {"gt", t_gt},
    {"greaterthan", t_gt},
    {">", t_gt},
    {"in", t_in},
    {"integer", t_integer},
    {"iterable", t_iterable},
    {"le", t_le},
    {"<=", t_le},
    {"lower", t_lower},
    {"lt", t_lt},
    {"lessthan", t_lt},
    {"<", t_lt},
    {"mapping", t_mapping},
    {"ne", t_ne},
    {"!=", t_ne},
    {"none", t_none},
    {"number", t_number},
    {"odd", t_odd},
    {"sameas", t_sameas},
    {"sequence", t_sequence},
    {"string", t_string},
    {"test", t_test},
    {"true", t_true},
    {"undefined", t_undefined},
    {"upper", t_upper},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const Entry& e : kTests)
    if (e.name == name) return e.fn;
  return nullptr;
}

}  // namespace muse::chat
