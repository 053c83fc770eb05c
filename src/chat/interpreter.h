// Renders a parsed template: executes statements into an output string and evaluates
// expressions with jinja2's scoping (a for-loop iteration, macro call and with-block each
// get a fresh scope; `if` does not; macros see their defining scope at call time) and its
// default `Undefined` (printing it yields "", using it in arithmetic or attribute access
// fails). Every render is bounded: output size, total loop iterations, string bytes built
// and macro call depth, so a hostile template fails with an error instead of hanging.
#pragma once

#include <algorithm>
#include <ctime>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"
#include "core/status.h"

namespace muse::chat {

// Bounds on one render. Real chat templates stay far below them (a long conversation
// renders in well under a million iterations and a few MB); they exist so that a hostile
// template stops with an error after about a second instead of hanging or exhausting memory.
struct RenderLimits {
  int64_t max_output_bytes = int64_t(64) << 20;  // of any one output or block buffer
  int64_t max_work_bytes = int64_t(1) << 30;     // bytes of strings built, in total
  int64_t max_loop_iterations = 5'000'000;       // over the whole render
  int max_call_depth = 100;                      // nested macro calls and recursive loops
};

// Variables visible to a template: a chain of scopes ending at the globals.
struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;

  const Value* find(const std::string& name) const;
};

class Interpreter {
 public:
  Interpreter(const RenderLimits& limits, const std::tm& now) : limits_(limits), now_(now) {}
  ~Interpreter();

  // Renders `body` with `globals` as the outermost scope. Errors carry the template line and
  // column and, where jinja2 would raise one, the Python exception name
  // ("UndefinedError: 'foo' is undefined").
  StatusOr<std::string> render(const NodeList& body, std::shared_ptr<Scope> globals);

  // Services for builtins.
  StatusOr<Value> call(const Value& callee, const CallArgs& args);
  StatusOr<Value> apply_filter(const std::string& name, const Value& input, const CallArgs& args);
  StatusOr<bool> apply_test(const std::string& name, const Value& input, const CallArgs& args);
  Status charge(size_t bytes);  // counts string bytes built against max_work_bytes
  Status count_iterations(size_t n);
  size_t remaining_budget() const {
    return size_t(std::max<int64_t>(0, limits_.max_work_bytes - work_bytes_));
  }
  // The longest str() worth building: anything longer fails the budget once charged.
  size_t print_limit() const {
    return std::min({remaining_budget(), size_t(limits_.max_output_bytes), kMaxPrintBytes}) + 1;
  }
  const std::tm& now() const { return now_; }
  // Namespaces can contain themselves; their contents are released when the render ends.
  void register_namespace(std::shared_ptr<Namespace> ns) { namespaces_.push_back(std::move(ns)); }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using ScopePtr = std::shared_ptr<Scope>;

  Status exec(const NodeList& body, const ScopePtr& scope, std::string* out);
  Status exec_node(const Node& n, const ScopePtr& scope, std::string* out);
  Status exec_for(const Node& n, const ScopePtr& scope, std::string* out);
  Status exec_loop(const Node& n, const ScopePtr& scope, const Value& iterable, int depth,
                   std::string* out);
  Status exec_set(const Node& n, const ScopePtr& scope, std::string* out);
  Status exec_macro(const Node& n, const ScopePtr& scope);
  Status exec_call_block(const Node& n, const ScopePtr& scope, std::string* out);
  Status emit(std::string* out, std::string_view text);
  Status assign(const Node& target, const Value& value, Scope& scope);
  Value make_macro(const Node& n, const ScopePtr& scope, Value caller);
  StatusOr<Value> invoke_macro(const Node& n, const ScopePtr& defining_scope, const Value& caller,
                               const CallArgs& args);

  StatusOr<Value> eval(const Node& n, Scope& scope);
  StatusOr<Value> eval_inner(const Node& n, Scope& scope);
  StatusOr<Value> eval_compare(const Node& n, Scope& scope);
  StatusOr<Value> eval_slice(const Node& n, Scope& scope);
  StatusOr<CallArgs> eval_args(const Node& n, Scope& scope);
  StatusOr<Value> eval_filter(const Node& n, Scope& scope);
  StatusOr<Value> eval_test(const Node& n, Scope& scope);
  // Adds "line L, column C: " for `n` to an error raised while evaluating it, once.
  Status locate(const Node& n, Status s);

  RenderLimits limits_;
  std::tm now_;
  Flow flow_ = Flow::kNormal;
  bool error_located_ = false;
  int call_depth_ = 0;
  int64_t output_bytes_ = 0;
  int64_t work_bytes_ = 0;
  int64_t iterations_ = 0;
  std::vector<Value> block_values_;  // bodies {% filter %} / {% set x | f %} apply to
  // Scopes that define macros: a macro holds its scope and the scope holds the macro, so
  // these cycles are broken when the render ends.
  std::vector<ScopePtr> macro_scopes_;
  std::vector<std::shared_ptr<Namespace>> namespaces_;
};

}  // namespace muse::chat
