// Syntax tree of a parsed Jinja template: one `Node` type for expressions and statements,
// whose fields are used per kind as documented on `NodeKind`. The tree is immutable after
// parsing, so one parsed template renders concurrently from many threads.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace muse::chat {

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

// A filter or test implementation; resolved at parse time (nullptr when unknown, which is an
// error when reached at render time).
using FilterFn = StatusOr<Value> (*)(Interpreter&, const Value& input, const CallArgs& args);
using TestFn = StatusOr<bool> (*)(Interpreter&, const Value& input, const CallArgs& args);

enum class NodeKind : uint8_t {
  // Expressions.
  kLiteral,     // literal
  kName,        // name
  kList,        // items
  kTuple,       // items
  kDict,        // items: key0, value0, key1, value1, ...
  kGetAttr,     // a.name
  kGetItem,     // a[b]
  kSlice,       // a[b:c:d], each of b, c, d optional
  kCall,        // a(items..., kwargs..., *dyn_args, **dyn_kwargs)
  kFilter,      // a|name(items..., kwargs...); a is null inside {% filter %} / {% set %}
  kTest,        // a is [not] name(items..., kwargs...)
  kUnary,       // name in {"-", "+", "not"} applied to a
  kBinary,      // a name b, name in {"+", "-", "*", "/", "//", "%", "**"}
  kAnd,         // a and b
  kOr,          // a or b
  kConcat,      // items joined with ~
  kCompare,     // a ops[0] items[0] ops[1] items[1] ...
  kCondExpr,    // b if a else c (c optional)
  kBlockValue,  // the rendered body a {% filter %} or filtered {% set %} block applies to
  // Statements.
  kData,         // name holds literal template text
  kOutput,       // {{ a }}
  kIf,           // if a: body else: else_body (elif nests an kIf in else_body)
  kFor,          // for a in b [if c] [recursive]: body else: else_body
  kSet,          // set a = b; a is a name, tuple of names or namespace attribute
  kSetBlock,     // set a [| filters in c] %} body {% endset
  kMacro,        // macro name(params) body
  kCallBlock,    // call(params) a %} body {% endcall; a is the kCall
  kFilterBlock,  // filter c %} body {% endfilter
  kWith,         // with items[i] = values[i], ... body
  kBreak,
  kContinue,
};

struct Param {
  std::string name;
  NodePtr default_value;  // null when required
};

struct Node {
  NodeKind kind;
  int line = 0;
  int col = 0;
  std::string name;
  Value literal;
  NodePtr a, b, c, d;
  NodeList items;
  NodeList values;
  std::vector<std::string> ops;
  std::vector<std::pair<std::string, NodePtr>> kwargs;
  NodePtr dyn_args, dyn_kwargs;
  NodeList body, else_body;
  std::vector<Param> params;  // kMacro, kCallBlock
  bool negated = false;       // kTest: `is not`
  bool recursive = false;     // kFor: `loop(items)` renders the body again one level down
  // kMacro: the body names `varargs` / `kwargs` / `caller`, so extra arguments are allowed.
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;
  FilterFn filter = nullptr;  // kFilter
  TestFn test = nullptr;      // kTest

  Node(NodeKind k, int l, int c_) : kind(k), line(l), col(c_) {}
};

}  // namespace muse::chat
