// Global functions of the chat-template environment: jinja2's `range`, `dict`, `namespace`
// and `joiner`, plus the two Hugging Face adds, `raise_exception(msg)` (the template's way
// of rejecting a conversation) and `strftime_now(fmt)`. `range` is capped at 100000 items
// like jinja2's sandbox (MAX_RANGE).
#include <ctime>
#include <memory>

#include "chat/builtins.h"
#include "chat/interpreter.h"

namespace muse::chat {
namespace {

constexpr int64_t kMaxRange = 100000;

StatusOr<Value> g_range(Interpreter& in, const CallArgs& a) {
  if (!a.kwargs.empty()) return Status::Error("TypeError: range() takes no keyword arguments");
  if (a.args.empty() || a.args.size() > 3)
    return Status::Error("TypeError: range expected 1 to 3 arguments");
  int64_t v[3] = {0, 0, 1};
  for (size_t k = 0; k < a.args.size(); ++k) {
    if (!a.args[k].is_int() && !a.args[k].is_bool())
      return Status::Error("TypeError: '" + type_name(a.args[k]) +
                           "' object cannot be interpreted as an integer");
  }
  if (a.args.size() == 1) {
    v[1] = a.args[0].as_int();
  } else {
    v[0] = a.args[0].as_int();
    v[1] = a.args[1].as_int();
    if (a.args.size() == 3) v[2] = a.args[2].as_int();
  }
  if (v[2] == 0) return Status::Error("ValueError: range() arg 3 must not be zero");
  // Count without overflow: ceil((stop - start) / step) in 128-bit arithmetic.
  const __int128 span = __int128(v[1]) - v[0];
  __int128 n = 0;
  if ((v[2] > 0 && span > 0) || (v[2] < 0 && span < 0))
    n = (span + (v[2] > 0 ? v[2] - 1 : v[2] + 1)) / v[2];
  if (n > kMaxRange)
    return Status::Error(
        "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  MUSE_RETURN_IF_ERROR(in.charge(size_t(n) * sizeof(Value)));
  Array out;
  out.reserve(size_t(n));
  for (int64_t k = 0; k < int64_t(n); ++k) out.push_back(Value::integer(v[0] + k * v[2]));
  return Value::array(std::move(out));
}

// dict(mapping_or_pairs, **kwargs) / namespace(...) share Python's dict() argument rules.
StatusOr<Object> dict_from(const CallArgs& a, std::string_view fn) {
  if (a.args.size() > 1)
    return Status::Error("TypeError: " + std::string(fn) + " expected at most 1 argument");
  Object obj;
  if (!a.args.empty()) {
    const Value& src = a.args[0];
    if (src.is_object()) {
      obj = src.object();
    } else if (src.is_namespace()) {
      obj = src.ns().attrs;
    } else {
      StatusOr<Array> pairs = iterate(src);
      if (!pairs.ok()) return pairs.status();
      for (const Value& p : *pairs) {
        if (!p.is_list() || p.array().size() != 2)
          return Status::Error("ValueError: dictionary update sequence element has wrong length");
        if (!p.array()[0].is_string())
          return Status::Error("TypeError: only string dictionary keys are supported");
        obj.set(p.array()[0].str(), p.array()[1]);
      }
    }
  }
  for (const auto& [k, v] : a.kwargs) obj.set(k, v);
  return obj;
}

StatusOr<Value> g_dict(Interpreter&, const CallArgs& a) {
  StatusOr<Object> obj = dict_from(a, "dict");
  if (!obj.ok()) return obj.status();
  return Value::object(std::move(*obj));
}

StatusOr<Value> g_namespace(Interpreter& in, const CallArgs& a) {
  StatusOr<Object> obj = dict_from(a, "namespace");
  if (!obj.ok()) return obj.status();
  auto ns = std::make_shared<Namespace>();
  ns->attrs = std::move(*obj);
  in.register_namespace(ns);
  return Value::ns(std::move(ns));
}

StatusOr<Value> g_joiner(Interpreter&, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("joiner", a, {"sep"});
  if (!b.ok()) return b.status();
  const std::string sep = (*b)[0] ? to_str(*(*b)[0]) : ", ";
  auto used = std::make_shared<bool>(false);
  return Value::callable("joiner", [sep, used](Interpreter&, const CallArgs&) -> StatusOr<Value> {
    if (!*used) {
      *used = true;
      return Value::string("");
    }
    return Value::string(sep);
  });
}

StatusOr<Value> g_raise_exception(Interpreter&, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("raise_exception", a, {"message"}, 1);
  if (!b.ok()) return b.status();
  return Status::Error("TemplateError: " + to_str(*(*b)[0]));
}

StatusOr<Value> g_strftime_now(Interpreter& in, const CallArgs& a) {
  StatusOr<BoundArgs> b = bind_args("strftime_now", a, {"format"}, 1);
  if (!b.ok()) return b.status();
  if (!(*b)[0]->is_string())
    return Status::Error("TypeError: strftime() argument 1 must be str, not " +
                         type_name(*(*b)[0]));
  const std::string& fmt = (*b)[0]->str();
  if (fmt.empty()) return Value::string("");
  if (fmt.size() > 4096) return Status::Error("ValueError: strftime format is too long");
  std::string buf(fmt.size() * 64 + 256, '\0');
  const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &in.now());
  buf.resize(n);
  return Value::string(std::move(buf));
}

}  // namespace

void add_globals(Object* globals) {
  globals->set("range", Value::callable("range", g_range));
  globals->set("dict", Value::callable("dict", g_dict));
  globals->set("namespace", Value::callable("namespace", g_namespace));
  globals->set("joiner", Value::callable("joiner", g_joiner));
  globals->set("raise_exception", Value::callable("raise_exception", g_raise_exception));
  globals->set("strftime_now", Value::callable("strftime_now", g_strftime_now));
}

}  // namespace muse::chat
