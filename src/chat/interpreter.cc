// Template execution. Statements append to an output string; expressions evaluate to
// Values. Scoping follows jinja2's generated Python: each for-loop iteration, macro call,
// {% with %}, {% set %} block and {% filter %} body runs in a fresh child scope, while `if`
// assigns into the enclosing one. Errors are located at the innermost node that raised them.
#include "chat/interpreter.h"

#include "chat/builtins.h"
#include "chat/py_string.h"

namespace muse::chat {

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::~Interpreter() {
  for (const ScopePtr& s : macro_scopes_) s->vars.clear();
  for (const auto& ns : namespaces_) ns->attrs = Object();
}

StatusOr<std::string> Interpreter::render(const NodeList& body, std::shared_ptr<Scope> globals) {
  auto root = std::make_shared<Scope>();
  root->parent = std::move(globals);
  std::string out;
  Status s = exec(body, root, &out);
  root->vars.clear();
  if (!s.ok()) return s;
  return out;
}

Status Interpreter::charge(size_t bytes) {
  work_bytes_ += int64_t(bytes);
  if (work_bytes_ > limits_.max_work_bytes)
    return Errorf("template built more than %lld bytes of strings; stopped",
                  (long long)limits_.max_work_bytes);
  return Status::Ok();
}

Status Interpreter::count_iterations(size_t n) {
  iterations_ += int64_t(n);
  if (iterations_ > limits_.max_loop_iterations)
    return Errorf("template ran more than %lld loop iterations; stopped",
                  (long long)limits_.max_loop_iterations);
  return Status::Ok();
}

Status Interpreter::emit(std::string* out, std::string_view text) {
  if (int64_t(out->size() + text.size()) > limits_.max_output_bytes)
    return Errorf("template output exceeds %lld bytes; stopped",
                  (long long)limits_.max_output_bytes);
  MUSE_RETURN_IF_ERROR(charge(text.size()));
  out->append(text);
  return Status::Ok();
}

Status Interpreter::locate(const Node& n, Status s) {
  if (s.ok() || error_located_) return s;
  error_located_ = true;
  return Status::Error("line " + std::to_string(n.line) + ", column " + std::to_string(n.col) +
                       ": " + s.message());
}

Status Interpreter::exec(const NodeList& body, const ScopePtr& scope, std::string* out) {
  for (const NodePtr& n : body) {
    MUSE_RETURN_IF_ERROR(exec_node(*n, scope, out));
    if (flow_ != Flow::kNormal) break;
  }
  return Status::Ok();
}

Status Interpreter::exec_node(const Node& n, const ScopePtr& scope, std::string* out) {
  switch (n.kind) {
    case NodeKind::kData:
      return locate(n, emit(out, n.name));
    case NodeKind::kOutput: {
      StatusOr<Value> v = eval(*n.a, *scope);
      if (!v.ok()) return v.status();
      return locate(n, emit(out, to_str(*v, print_limit())));
    }
    case NodeKind::kIf: {
      StatusOr<Value> cond = eval(*n.a, *scope);
      if (!cond.ok()) return cond.status();
      return exec(cond->truthy() ? n.body : n.else_body, scope, out);
    }
    case NodeKind::kFor:
      return exec_for(n, scope, out);
    case NodeKind::kSet:
    case NodeKind::kSetBlock:
    case NodeKind::kFilterBlock:
      return exec_set(n, scope, out);
    case NodeKind::kMacro:
      return exec_macro(n, scope);
    case NodeKind::kCallBlock:
      return exec_call_block(n, scope, out);
    case NodeKind::kWith: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      for (size_t k = 0; k < n.items.size(); ++k) {
        StatusOr<Value> v = eval(*n.values[k], *scope);
        if (!v.ok()) return v.status();
        MUSE_RETURN_IF_ERROR(locate(n, assign(*n.items[k], *v, *inner)));
      }
      return exec(n.body, inner, out);
    }
    case NodeKind::kBreak:
      flow_ = Flow::kBreak;
      return Status::Ok();
    case NodeKind::kContinue:
      flow_ = Flow::kContinue;
      return Status::Ok();
    default:
      return locate(n, Status::Error("internal error: expression used as a statement"));
  }
}

Status Interpreter::assign(const Node& target, const Value& value, Scope& scope) {
  if (target.kind == NodeKind::kName) {
    scope.vars[target.name] = value;
    return Status::Ok();
  }
  if (target.kind == NodeKind::kTuple) {
    if (value.is_undefined()) return Status::Error("UndefinedError: " + value.undefined_message());
    StatusOr<Array> items = iterate(value);
    if (!items.ok()) return items.status();
    if (items->size() != target.items.size())
      return Status::Error(std::string("ValueError: ") +
                           (items->size() < target.items.size() ? "not enough" : "too many") +
                           " values to unpack (expected " + std::to_string(target.items.size()) +
                           ", got " + std::to_string(items->size()) + ")");
    for (size_t k = 0; k < items->size(); ++k)
      MUSE_RETURN_IF_ERROR(assign(*target.items[k], (*items)[k], scope));
    return Status::Ok();
  }
  // {% set ns.attr = value %}
  const Value* obj = scope.find(target.a->name);
  if (obj == nullptr || !obj->is_namespace())
    return Status::Error("TemplateRuntimeError: cannot assign attribute on non-namespace object");
  obj->ns().attrs.set(target.name, value);
  return Status::Ok();
}

Status Interpreter::exec_set(const Node& n, const ScopePtr& scope, std::string* out) {
  Value value;
  if (n.kind == NodeKind::kSet) {
    StatusOr<Value> v = eval(*n.b, *scope);
    if (!v.ok()) return v.status();
    value = std::move(*v);
  } else {
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    std::string body;
    MUSE_RETURN_IF_ERROR(exec(n.body, inner, &body));
    value = Value::string(std::move(body));
    if (n.c) {
      block_values_.push_back(value);
      StatusOr<Value> v = eval(*n.c, *scope);
      block_values_.pop_back();
      if (!v.ok()) return v.status();
      value = std::move(*v);
    }
    if (n.kind == NodeKind::kFilterBlock) return locate(n, emit(out, to_str(value)));
  }
  return locate(n, assign(*n.a, value, *scope));
}

Status Interpreter::exec_for(const Node& n, const ScopePtr& scope, std::string* out) {
  StatusOr<Value> iterable = eval(*n.b, *scope);
  if (!iterable.ok()) return iterable.status();
  return exec_loop(n, scope, *iterable, 1, out);
}

Status Interpreter::exec_loop(const Node& n, const ScopePtr& scope, const Value& iterable,
                              int depth, std::string* out) {
  StatusOr<Array> all = iterate(iterable);
  if (!all.ok()) return locate(*n.b, all.status());
  Array items;
  if (n.c) {
    for (const Value& item : *all) {
      MUSE_RETURN_IF_ERROR(locate(n, count_iterations(1)));
      Scope probe;
      probe.parent = scope;
      MUSE_RETURN_IF_ERROR(locate(n, assign(*n.a, item, probe)));
      StatusOr<Value> keep = eval(*n.c, probe);
      if (!keep.ok()) return keep.status();
      if (keep->truthy()) items.push_back(item);
    }
  } else {
    items = std::move(*all);
  }
  if (items.empty()) {
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    return exec(n.else_body, inner, out);
  }
  const int64_t count = int64_t(items.size());
  auto cycle_index = std::make_shared<int64_t>(0);
  const Value cycle = Value::callable(
      "loop.cycle", [cycle_index](Interpreter&, const CallArgs& a) -> StatusOr<Value> {
        if (a.args.empty()) return Status::Error("TypeError: no items for cycling given");
        return a.args[size_t(*cycle_index % int64_t(a.args.size()))];
      });
  auto last_changed = std::make_shared<std::optional<Value>>();
  const Value changed = Value::callable(
      "loop.changed", [last_changed](Interpreter&, const CallArgs& a) -> StatusOr<Value> {
        const Value now = Value::array(a.args, Value::ArrayKind::kTuple);
        if (*last_changed && equals(**last_changed, now)) return Value::boolean(false);
        *last_changed = now;
        return Value::boolean(true);
      });
  // `loop(items)` in a recursive loop renders the same body over `items` one level deeper.
  Value recurse;
  if (n.recursive) {
    const Node* node = &n;
    recurse = Value::callable(
        "loop", [node, scope, depth](Interpreter& in, const CallArgs& a) -> StatusOr<Value> {
          if (a.args.size() != 1 || !a.kwargs.empty())
            return Status::Error("TypeError: loop() takes exactly one argument");
          if (in.call_depth_ >= in.limits_.max_call_depth)
            return Errorf("RecursionError: recursive loops nest deeper than %d",
                          in.limits_.max_call_depth);
          ++in.call_depth_;
          std::string body;
          Status s = in.exec_loop(*node, scope, a.args[0], depth + 1, &body);
          --in.call_depth_;
          MUSE_RETURN_IF_ERROR(s);
          return Value::string(std::move(body));
        });
  }
  for (int64_t i = 0; i < count; ++i) {
    MUSE_RETURN_IF_ERROR(locate(n, count_iterations(1)));
    *cycle_index = i;
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    MUSE_RETURN_IF_ERROR(locate(n, assign(*n.a, items[size_t(i)], *inner)));
    Object loop;
    loop.reserve(16);
    loop.add_new("index", Value::integer(i + 1));
    loop.add_new("index0", Value::integer(i));
    loop.add_new("revindex", Value::integer(count - i));
    loop.add_new("revindex0", Value::integer(count - i - 1));
    loop.add_new("first", Value::boolean(i == 0));
    loop.add_new("last", Value::boolean(i == count - 1));
    loop.add_new("length", Value::integer(count));
    loop.add_new("depth", Value::integer(depth));
    loop.add_new("depth0", Value::integer(depth - 1));
    if (i > 0) loop.add_new("previtem", items[size_t(i - 1)]);
    if (i + 1 < count) loop.add_new("nextitem", items[size_t(i + 1)]);
    loop.add_new("cycle", cycle);
    loop.add_new("changed", changed);
    if (n.recursive) loop.add_new("__call__", recurse);
    inner->vars["loop"] = Value::object(std::move(loop));
    MUSE_RETURN_IF_ERROR(exec(n.body, inner, out));
    if (flow_ == Flow::kBreak) {
      flow_ = Flow::kNormal;
      break;
    }
    flow_ = Flow::kNormal;
  }
  return Status::Ok();
}

Value Interpreter::make_macro(const Node& n, const ScopePtr& scope, Value caller) {
  const Node* node = &n;
  return Value::callable(
      n.kind == NodeKind::kMacro ? n.name : "caller",
      [node, scope, caller](Interpreter& in, const CallArgs& args) {
        return in.invoke_macro(*node, scope, caller, args);
      },
      true);
}

Status Interpreter::exec_macro(const Node& n, const ScopePtr& scope) {
  scope->vars[n.name] = make_macro(n, scope, Value());
  macro_scopes_.push_back(scope);
  return Status::Ok();
}

Status Interpreter::exec_call_block(const Node& n, const ScopePtr& scope, std::string* out) {
  const Value caller = make_macro(n, scope, Value());
  macro_scopes_.push_back(scope);
  const Node& call = *n.a;
  StatusOr<Value> callee = eval(*call.a, *scope);
  if (!callee.ok()) return callee.status();
  StatusOr<CallArgs> args = eval_args(call, *scope);
  if (!args.ok()) return args.status();
  args->kwargs.emplace_back("caller", caller);
  StatusOr<Value> r = this->call(*callee, *args);
  if (!r.ok()) return locate(call, r.status());
  return locate(n, emit(out, to_str(*r)));
}

StatusOr<Value> Interpreter::invoke_macro(const Node& n, const ScopePtr& defining_scope,
                                          const Value& caller, const CallArgs& args) {
  const std::string name = n.kind == NodeKind::kMacro ? n.name : "caller";
  if (call_depth_ >= limits_.max_call_depth)
    return Errorf("RecursionError: macro calls nest deeper than %d", limits_.max_call_depth);
  auto scope = std::make_shared<Scope>();
  scope->parent = defining_scope;
  const std::vector<Param>& params = n.params;
  std::vector<bool> bound(params.size(), false);
  Array varargs;
  for (size_t k = 0; k < args.args.size(); ++k) {
    if (k < params.size()) {
      scope->vars[params[k].name] = args.args[k];
      bound[k] = true;
    } else if (n.uses_varargs) {
      varargs.push_back(args.args[k]);
    } else {
      return Status::Error("TypeError: macro '" + name + "' takes not more than " +
                           std::to_string(params.size()) + " argument(s)");
    }
  }
  Object extra;
  bool has_caller = false;
  for (const auto& [key, value] : args.kwargs) {
    size_t k = 0;
    while (k < params.size() && params[k].name != key) ++k;
    if (k < params.size()) {
      if (bound[k])
        return Status::Error("TypeError: macro '" + name + "' got multiple values for argument '" +
                             key + "'");
      scope->vars[key] = value;
      bound[k] = true;
    } else if (key == "caller" && n.kind == NodeKind::kMacro) {
      if (!n.uses_caller)
        return Status::Error("TypeError: macro '" + name +
                             "' was invoked with a caller but does not use it");
      scope->vars["caller"] = value;
      has_caller = true;
    } else if (n.uses_kwargs) {
      extra.set(key, value);
    } else {
      return Status::Error("TypeError: macro '" + name + "' takes no keyword argument '" + key +
                           "'");
    }
  }
  ++call_depth_;
  Status s = [&]() -> Status {
    for (size_t k = 0; k < params.size(); ++k) {
      if (bound[k]) continue;
      if (params[k].default_value) {
        StatusOr<Value> v = eval(*params[k].default_value, *scope);
        if (!v.ok()) return v.status();
        scope->vars[params[k].name] = std::move(*v);
      } else {
        scope->vars[params[k].name] = Value::undefined(
            params[k].name, "", "parameter '" + params[k].name + "' was not provided");
      }
    }
    scope->vars["varargs"] = Value::array(std::move(varargs), Value::ArrayKind::kTuple);
    scope->vars["kwargs"] = Value::object(std::move(extra));
    if (!has_caller && n.uses_caller && !caller.is_undefined()) scope->vars["caller"] = caller;
    return Status::Ok();
  }();
  std::string body;
  if (s.ok()) s = exec(n.body, scope, &body);
  --call_depth_;
  MUSE_RETURN_IF_ERROR(s);
  return Value::string(std::move(body));
}

StatusOr<Value> Interpreter::call(const Value& callee, const CallArgs& args) {
  if (callee.is_callable()) return callee.callable().fn(*this, args);
  if (callee.is_object()) {
    // The loop object of a recursive for-loop is callable.
    const Value* fn = callee.object().find("__call__");
    if (fn && fn->is_callable()) return fn->callable().fn(*this, args);
  }
  if (callee.is_undefined()) return Status::Error("UndefinedError: " + callee.undefined_message());
  return Status::Error("TypeError: '" + type_name(callee) + "' object is not callable");
}

StatusOr<Value> Interpreter::apply_filter(const std::string& name, const Value& input,
                                          const CallArgs& args) {
  FilterFn f = find_filter(name);
  if (f == nullptr) return Status::Error("TemplateAssertionError: no filter named '" + name + "'");
  return f(*this, input, args);
}

StatusOr<bool> Interpreter::apply_test(const std::string& name, const Value& input,
                                       const CallArgs& args) {
  TestFn t = find_test(name);
  if (t == nullptr) return Status::Error("TemplateAssertionError: no test named '" + name + "'");
  return t(*this, input, args);
}

StatusOr<Value> Interpreter::eval(const Node& n, Scope& scope) {
  StatusOr<Value> r = eval_inner(n, scope);
  if (!r.ok()) return locate(n, r.status());
  if (r->depth() > kMaxValueDepth)
    return locate(n, Errorf("value nests deeper than %d levels", kMaxValueDepth));
  if (r->weight() > kMaxValueWeight)
    return locate(
        n, Errorf("value holds more than %u elements counting repeats", unsigned(kMaxValueWeight)));
  return r;
}

StatusOr<CallArgs> Interpreter::eval_args(const Node& n, Scope& scope) {
  CallArgs args;
  for (const NodePtr& a : n.items) {
    StatusOr<Value> v = eval(*a, scope);
    if (!v.ok()) return v.status();
    args.args.push_back(std::move(*v));
  }
  for (const auto& [key, node] : n.kwargs) {
    StatusOr<Value> v = eval(*node, scope);
    if (!v.ok()) return v.status();
    args.kwargs.emplace_back(key, std::move(*v));
  }
  if (n.dyn_args) {
    StatusOr<Value> v = eval(*n.dyn_args, scope);
    if (!v.ok()) return v.status();
    StatusOr<Array> items = iterate(*v);
    if (!items.ok()) return items.status();
    for (Value& x : *items) args.args.push_back(std::move(x));
  }
  if (n.dyn_kwargs) {
    StatusOr<Value> v = eval(*n.dyn_kwargs, scope);
    if (!v.ok()) return v.status();
    if (!v->is_object()) return Status::Error("TypeError: argument after ** must be a mapping");
    for (const auto& [k, x] : v->object().entries()) args.kwargs.emplace_back(k, x);
  }
  return args;
}

StatusOr<Value> Interpreter::eval_compare(const Node& n, Scope& scope) {
  StatusOr<Value> left = eval(*n.a, scope);
  if (!left.ok()) return left;
  for (size_t k = 0; k < n.ops.size(); ++k) {
    StatusOr<Value> right = eval(*n.items[k], scope);
    if (!right.ok()) return right;
    const std::string& op = n.ops[k];
    bool ok;
    if (op == "==" || op == "!=") {
      ok = equals(*left, *right) == (op == "==");
    } else if (op == "in" || op == "notin") {
      StatusOr<bool> c = contains(*right, *left);
      if (!c.ok()) return c.status();
      ok = *c == (op == "in");
    } else {
      StatusOr<int> c = compare(*left, *right);
      if (!c.ok()) return c.status();
      ok = op == "<"    ? *c == -1
           : op == "<=" ? (*c == -1 || *c == 0)
           : op == ">"  ? *c == 1
                        : (*c == 1 || *c == 0);
    }
    if (!ok) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

StatusOr<Value> Interpreter::eval_slice(const Node& n, Scope& scope) {
  StatusOr<Value> obj = eval(*n.a, scope);
  if (!obj.ok()) return obj;
  std::optional<int64_t> bounds[3];
  const Node* parts[3] = {n.b.get(), n.c.get(), n.d.get()};
  for (int k = 0; k < 3; ++k) {
    if (parts[k] == nullptr) continue;
    StatusOr<Value> v = eval(*parts[k], scope);
    if (!v.ok()) return v;
    if (v->is_none()) continue;
    if (!v->is_int() && !v->is_bool())
      return Status::Error("TypeError: slice indices must be integers or None");
    bounds[k] = v->as_int();
  }
  const int64_t step = bounds[2].value_or(1);
  if (step == 0) return Status::Error("ValueError: slice step cannot be zero");
  if (obj->is_undefined()) return Status::Error("UndefinedError: " + obj->undefined_message());
  if (obj->is_string()) {
    std::string s = py::slice(obj->str(), bounds[0], bounds[1], step);
    MUSE_RETURN_IF_ERROR(charge(s.size()));
    return Value::string(std::move(s));
  }
  if (obj->is_list()) {
    const Array& a = obj->array();
    Array out;
    for (int64_t i : py::slice_indices(int64_t(a.size()), bounds[0], bounds[1], step))
      out.push_back(a[size_t(i)]);
    MUSE_RETURN_IF_ERROR(charge(out.size() * sizeof(Value)));
    return Value::array(std::move(out), obj->array_kind());
  }
  // jinja2 compiles slices to plain Python subscripts (bypassing its lenient getitem), so
  // slicing anything else raises.
  if (obj->is_object()) return Status::Error("TypeError: unhashable type: 'slice'");
  return Status::Error("TypeError: '" + type_name(*obj) + "' object is not subscriptable");
}

StatusOr<Value> Interpreter::eval_filter(const Node& n, Scope& scope) {
  StatusOr<Value> input = eval(*n.a, scope);
  if (!input.ok()) return input;
  StatusOr<CallArgs> args = eval_args(n, scope);
  if (!args.ok()) return args.status();
  if (n.filter == nullptr)
    return Status::Error("TemplateAssertionError: no filter named '" + n.name + "'");
  return n.filter(*this, *input, *args);
}

StatusOr<Value> Interpreter::eval_test(const Node& n, Scope& scope) {
  StatusOr<Value> input = eval(*n.a, scope);
  if (!input.ok()) return input;
  StatusOr<CallArgs> args = eval_args(n, scope);
  if (!args.ok()) return args.status();
  if (n.test == nullptr)
    return Status::Error("TemplateAssertionError: no test named '" + n.name + "'");
  StatusOr<bool> r = n.test(*this, *input, *args);
  if (!r.ok()) return r.status();
  return Value::boolean(*r != n.negated);
}

StatusOr<Value> Interpreter::eval_inner(const Node& n, Scope& scope) {
  switch (n.kind) {
    case NodeKind::kLiteral:
      return n.literal;
    case NodeKind::kName: {
      const Value* v = scope.find(n.name);
      return v ? *v : Value::undefined(n.name);
    }
    case NodeKind::kList:
    case NodeKind::kTuple: {
      Array items;
      items.reserve(n.items.size());
      for (const NodePtr& k : n.items) {
        StatusOr<Value> v = eval(*k, scope);
        if (!v.ok()) return v;
        items.push_back(std::move(*v));
      }
      return Value::array(std::move(items), n.kind == NodeKind::kList ? Value::ArrayKind::kList
                                                                      : Value::ArrayKind::kTuple);
    }
    case NodeKind::kDict: {
      Object obj;
      for (size_t k = 0; k + 1 < n.items.size(); k += 2) {
        StatusOr<Value> key = eval(*n.items[k], scope);
        if (!key.ok()) return key;
        if (!key->is_string())
          return Status::Error("TypeError: only string dictionary keys are supported, not " +
                               type_name(*key));
        StatusOr<Value> v = eval(*n.items[k + 1], scope);
        if (!v.ok()) return v;
        obj.set(key->str(), std::move(*v));
      }
      return Value::object(std::move(obj));
    }
    case NodeKind::kGetAttr: {
      StatusOr<Value> obj = eval(*n.a, scope);
      if (!obj.ok()) return obj;
      return get_attr(*obj, n.name);
    }
    case NodeKind::kGetItem: {
      StatusOr<Value> obj = eval(*n.a, scope);
      if (!obj.ok()) return obj;
      StatusOr<Value> key = eval(*n.b, scope);
      if (!key.ok()) return key;
      return get_item(*obj, *key);
    }
    case NodeKind::kSlice:
      return eval_slice(n, scope);
    case NodeKind::kCall: {
      StatusOr<Value> callee = eval(*n.a, scope);
      if (!callee.ok()) return callee;
      StatusOr<CallArgs> args = eval_args(n, scope);
      if (!args.ok()) return args.status();
      return call(*callee, *args);
    }
    case NodeKind::kFilter:
      return eval_filter(n, scope);
    case NodeKind::kTest:
      return eval_test(n, scope);
    case NodeKind::kUnary: {
      StatusOr<Value> v = eval(*n.a, scope);
      if (!v.ok()) return v;
      if (n.name == "not") return Value::boolean(!v->truthy());
      return unary_op(n.name, *v);
    }
    case NodeKind::kBinary: {
      StatusOr<Value> l = eval(*n.a, scope);
      if (!l.ok()) return l;
      StatusOr<Value> r = eval(*n.b, scope);
      if (!r.ok()) return r;
      return binary_op(*this, n.name, *l, *r);
    }
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      StatusOr<Value> l = eval(*n.a, scope);
      if (!l.ok()) return l;
      if (l->truthy() == (n.kind == NodeKind::kOr)) return l;
      return eval(*n.b, scope);
    }
    case NodeKind::kConcat: {
      std::string s;
      for (const NodePtr& k : n.items) {
        StatusOr<Value> v = eval(*k, scope);
        if (!v.ok()) return v;
        const std::string piece = to_str(*v, print_limit());
        MUSE_RETURN_IF_ERROR(charge(piece.size()));
        s += piece;
      }
      return Value::string(std::move(s));
    }
    case NodeKind::kCompare:
      return eval_compare(n, scope);
    case NodeKind::kCondExpr: {
      StatusOr<Value> cond = eval(*n.a, scope);
      if (!cond.ok()) return cond;
      if (cond->truthy()) return eval(*n.b, scope);
      if (n.c) return eval(*n.c, scope);
      return Value::undefined("", "",
                              "the inline if-expression on line " + std::to_string(n.line) +
                                  " evaluated to false and no else section was defined.");
    }
    case NodeKind::kBlockValue:
      if (block_values_.empty()) return Status::Error("internal error: no block value");
      return block_values_.back();
    default:
      return Status::Error("internal error: statement used as an expression");
  }
}

}  // namespace muse::chat
