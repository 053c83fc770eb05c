// What templates can call: filters, tests, the methods of str/dict/list reachable through
// attribute access (with jinja2's ImmutableSandboxedEnvironment rules: mutating methods such
// as `list.append` are refused), the Python operators, and the global functions (`range`,
// `dict`, `namespace`, `raise_exception`, `strftime_now`, ...).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace muse::chat {

FilterFn find_filter(std::string_view name);  // nullptr when unknown
TestFn find_test(std::string_view name);

// jinja2's `getattr(obj, name)` and `obj[key]` under the sandbox: dict keys and methods,
// str/list methods, namespace attributes; a miss gives an Undefined that remembers why.
StatusOr<Value> get_attr(const Value& obj, const std::string& name);
StatusOr<Value> get_item(const Value& obj, const Value& key);

// Python operators on values ("+", "-", "*", "/", "//", "%", "**").
StatusOr<Value> binary_op(Interpreter& in, std::string_view op, const Value& a, const Value& b);
StatusOr<Value> unary_op(std::string_view op, const Value& a);
StatusOr<bool> contains(const Value& container, const Value& item);  // `item in container`
// The items a for-loop visits: list items, dict keys, string characters; undefined is empty.
StatusOr<Array> iterate(const Value& v);
// Python `len()`.
StatusOr<int64_t> length(const Value& v);

// Global functions every template sees.
void add_globals(Object* globals);

// Binds Python-style call arguments to named parameters; unset optional ones stay nullopt.
using BoundArgs = std::vector<std::optional<Value>>;
StatusOr<BoundArgs> bind_args(std::string_view fn, const CallArgs& args,
                              std::initializer_list<std::string_view> names, size_t n_required = 0);

// Python's printf-style `fmt % args` (args: one value, a tuple, or a dict for %(key)s).
StatusOr<std::string> percent_format(const std::string& fmt, const Value& args);

// Python's int()/float() of a value where jinja2 filters need one.
std::optional<int64_t> to_int(const Value& v);

}  // namespace muse::chat
