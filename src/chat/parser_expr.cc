// Jinja parser, expressions. The functions mirror jinja2's Parser (parse_condexpr > or >
// and > not > compare > math1 (+ -) > concat (~) > math2 (* / // %) > pow > unary > primary,
// then postfix, filters and tests), so precedence and quirks match Python's renders.
#include "chat/builtins.h"
#include "chat/parser_impl.h"

namespace muse::chat::internal {

StatusOr<NodePtr> Parser::parse_tuple(bool with_condexpr, bool explicit_parens,
                                      std::initializer_list<std::string_view> extra_end) {
  NodePtr tuple = make(NodeKind::kTuple);
  bool is_tuple = false;
  auto at_end = [&] {
    const TokenKind k = cur().kind;
    if (k == TokenKind::kVarEnd || k == TokenKind::kBlockEnd || k == TokenKind::kEof || is_op(")"))
      return true;
    for (std::string_view e : extra_end)
      if (is_name(e)) return true;
    return false;
  };
  while (true) {
    if (!tuple->items.empty()) MUSE_RETURN_IF_ERROR(expect_op(","));
    if (at_end()) break;
    StatusOr<NodePtr> e = parse_expression(with_condexpr);
    if (!e.ok()) return e.status();
    tuple->items.push_back(std::move(*e));
    if (is_op(","))
      is_tuple = true;
    else
      break;
  }
  if (!is_tuple) {
    if (!tuple->items.empty()) return std::move(tuple->items[0]);
    if (!explicit_parens) return error("expected an expression, got " + describe(cur()));
  }
  return tuple;
}

StatusOr<NodePtr> Parser::parse_expression(bool with_condexpr) {
  return with_condexpr ? parse_condexpr() : parse_or();
}

StatusOr<NodePtr> Parser::parse_condexpr() {
  StatusOr<NodePtr> expr1 = parse_or();
  if (!expr1.ok()) return expr1;
  NodePtr left = std::move(*expr1);
  while (is_name("if")) {
    NodePtr n = make_at(NodeKind::kCondExpr, *left);
    next();
    StatusOr<NodePtr> cond = parse_or();
    if (!cond.ok()) return cond;
    n->a = std::move(*cond);
    n->b = std::move(left);
    if (skip_name("else")) {
      StatusOr<NodePtr> other = parse_condexpr();
      if (!other.ok()) return other;
      n->c = std::move(*other);
    }
    left = std::move(n);
  }
  return left;
}

StatusOr<NodePtr> Parser::parse_or() {
  StatusOr<NodePtr> l = parse_and();
  if (!l.ok()) return l;
  NodePtr left = std::move(*l);
  while (is_name("or")) {
    NodePtr n = make_at(NodeKind::kOr, *left);
    next();
    StatusOr<NodePtr> r = parse_and();
    if (!r.ok()) return r;
    n->a = std::move(left);
    n->b = std::move(*r);
    left = std::move(n);
  }
  return left;
}

StatusOr<NodePtr> Parser::parse_and() {
  StatusOr<NodePtr> l = parse_not();
  if (!l.ok()) return l;
  NodePtr left = std::move(*l);
  while (is_name("and")) {
    NodePtr n = make_at(NodeKind::kAnd, *left);
    next();
    StatusOr<NodePtr> r = parse_not();
    if (!r.ok()) return r;
    n->a = std::move(left);
    n->b = std::move(*r);
    left = std::move(n);
  }
  return left;
}

StatusOr<NodePtr> Parser::parse_not() {
  if (is_name("not")) {
    Deeper guard(this);
    if (depth_ > kMaxParseDepth) return error("expression nests too deeply");
    NodePtr n = make(NodeKind::kUnary);
    n->name = "not";
    next();
    StatusOr<NodePtr> operand = parse_not();
    if (!operand.ok()) return operand;
    n->a = std::move(*operand);
    return n;
  }
  return parse_compare();
}

StatusOr<NodePtr> Parser::parse_compare() {
  StatusOr<NodePtr> first = parse_math1();
  if (!first.ok()) return first;
  NodePtr n = make_at(NodeKind::kCompare, **first);
  n->a = std::move(*first);
  while (true) {
    std::string op;
    if (cur().kind == TokenKind::kOp &&
        (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
         cur().text == ">" || cur().text == ">=")) {
      op = cur().text;
      next();
    } else if (is_name("in")) {
      op = "in";
      next();
    } else if (is_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
      op = "notin";
      next();
      next();
    } else {
      break;
    }
    StatusOr<NodePtr> operand = parse_math1();
    if (!operand.ok()) return operand;
    n->ops.push_back(op);
    n->items.push_back(std::move(*operand));
  }
  if (n->ops.empty()) return std::move(n->a);
  return n;
}

StatusOr<NodePtr> Parser::parse_math1() {
  StatusOr<NodePtr> l = parse_concat();
  if (!l.ok()) return l;
  NodePtr left = std::move(*l);
  while (is_op("+") || is_op("-")) {
    NodePtr n = make_at(NodeKind::kBinary, *left);
    n->name = cur().text;
    next();
    StatusOr<NodePtr> r = parse_concat();
    if (!r.ok()) return r;
    n->a = std::move(left);
    n->b = std::move(*r);
    left = std::move(n);
  }
  return left;
}

StatusOr<NodePtr> Parser::parse_concat() {
  StatusOr<NodePtr> first = parse_math2();
  if (!first.ok()) return first;
  if (!is_op("~")) return first;
  NodePtr n = make_at(NodeKind::kConcat, **first);
  n->items.push_back(std::move(*first));
  while (skip_op("~")) {
    StatusOr<NodePtr> more = parse_math2();
    if (!more.ok()) return more;
    n->items.push_back(std::move(*more));
  }
  return n;
}

StatusOr<NodePtr> Parser::parse_math2() {
  StatusOr<NodePtr> l = parse_pow();
  if (!l.ok()) return l;
  NodePtr left = std::move(*l);
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    NodePtr n = make_at(NodeKind::kBinary, *left);
    n->name = cur().text;
    next();
    StatusOr<NodePtr> r = parse_pow();
    if (!r.ok()) return r;
    n->a = std::move(left);
    n->b = std::move(*r);
    left = std::move(n);
  }
  return left;
}

StatusOr<NodePtr> Parser::parse_pow() {
  StatusOr<NodePtr> l = parse_unary(true);
  if (!l.ok()) return l;
  NodePtr left = std::move(*l);
  while (is_op("**")) {
    NodePtr n = make_at(NodeKind::kBinary, *left);
    n->name = "**";
    next();
    StatusOr<NodePtr> r = parse_unary(true);
    if (!r.ok()) return r;
    n->a = std::move(left);
    n->b = std::move(*r);
    left = std::move(n);
  }
  return left;
}

StatusOr<NodePtr> Parser::parse_unary(bool with_filter) {
  Deeper guard(this);
  if (depth_ > kMaxParseDepth) return error("expression nests too deeply");
  NodePtr node;
  if (is_op("-") || is_op("+")) {
    node = make(NodeKind::kUnary);
    node->name = cur().text;
    next();
    StatusOr<NodePtr> operand = parse_unary(false);
    if (!operand.ok()) return operand;
    node->a = std::move(*operand);
  } else {
    StatusOr<NodePtr> primary = parse_primary();
    if (!primary.ok()) return primary;
    node = std::move(*primary);
  }
  StatusOr<NodePtr> post = parse_postfix(std::move(node));
  if (!post.ok() || !with_filter) return post;
  return parse_filter_expr(std::move(*post));
}

StatusOr<NodePtr> Parser::parse_primary() {
  const Token& t = cur();
  switch (t.kind) {
    case TokenKind::kName: {
      NodePtr n = make(NodeKind::kLiteral);
      if (t.text == "true" || t.text == "True")
        n->literal = Value::boolean(true);
      else if (t.text == "false" || t.text == "False")
        n->literal = Value::boolean(false);
      else if (t.text == "none" || t.text == "None")
        n->literal = Value::none();
      else {
        n->kind = NodeKind::kName;
        n->name = t.text;
      }
      next();
      return n;
    }
    case TokenKind::kString: {
      NodePtr n = make(NodeKind::kLiteral);
      std::string s;
      while (cur().kind == TokenKind::kString) {
        s += cur().text;
        next();
      }
      n->literal = Value::string(std::move(s));
      return n;
    }
    case TokenKind::kInt:
    case TokenKind::kFloat: {
      NodePtr n = make(NodeKind::kLiteral);
      n->literal =
          t.kind == TokenKind::kInt ? Value::integer(t.int_value) : Value::number(t.float_value);
      next();
      return n;
    }
    case TokenKind::kOp:
      if (t.text == "(") {
        next();
        StatusOr<NodePtr> inner = parse_tuple(true, true);
        if (!inner.ok()) return inner;
        MUSE_RETURN_IF_ERROR(expect_op(")"));
        return inner;
      }
      if (t.text == "[") {
        NodePtr n = make(NodeKind::kList);
        next();
        while (!is_op("]")) {
          if (!n->items.empty()) MUSE_RETURN_IF_ERROR(expect_op(","));
          if (is_op("]")) break;
          StatusOr<NodePtr> e = parse_expression();
          if (!e.ok()) return e;
          n->items.push_back(std::move(*e));
        }
        next();
        return n;
      }
      if (t.text == "{") {
        NodePtr n = make(NodeKind::kDict);
        next();
        while (!is_op("}")) {
          if (!n->items.empty()) MUSE_RETURN_IF_ERROR(expect_op(","));
          if (is_op("}")) break;
          StatusOr<NodePtr> k = parse_expression();
          if (!k.ok()) return k;
          MUSE_RETURN_IF_ERROR(expect_op(":"));
          StatusOr<NodePtr> v = parse_expression();
          if (!v.ok()) return v;
          n->items.push_back(std::move(*k));
          n->items.push_back(std::move(*v));
        }
        next();
        return n;
      }
      break;
    default:
      break;
  }
  return error("unexpected " + describe(t));
}

StatusOr<NodePtr> Parser::parse_postfix(NodePtr node) {
  while (true) {
    if (is_op(".") || is_op("[")) {
      StatusOr<NodePtr> sub = parse_subscript(std::move(node));
      if (!sub.ok()) return sub;
      node = std::move(*sub);
    } else if (is_op("(")) {
      StatusOr<NodePtr> call = parse_call(std::move(node));
      if (!call.ok()) return call;
      node = std::move(*call);
    } else {
      return node;
    }
  }
}

StatusOr<NodePtr> Parser::parse_filter_expr(NodePtr node) {
  while (true) {
    if (!is_op("|") && !is_name("is") && !is_op("(")) return node;
    StatusOr<NodePtr> next_node = is_op("|")      ? parse_filter(std::move(node), false)
                                  : is_name("is") ? parse_test(std::move(node))
                                                  : parse_call(std::move(node));
    if (!next_node.ok()) return next_node;
    node = std::move(*next_node);
  }
}

StatusOr<NodePtr> Parser::parse_subscript(NodePtr node) {
  if (skip_op(".")) {
    if (cur().kind == TokenKind::kName) {
      NodePtr n = make_at(NodeKind::kGetAttr, *node);
      n->name = cur().text;
      n->a = std::move(node);
      next();
      return n;
    }
    if (cur().kind == TokenKind::kInt) {
      NodePtr n = make_at(NodeKind::kGetItem, *node);
      n->b = make(NodeKind::kLiteral);
      n->b->literal = Value::integer(cur().int_value);
      n->a = std::move(node);
      next();
      return n;
    }
    return error("expected a name or number after '.', got " + describe(cur()));
  }
  const Token start = cur();
  next();  // [
  NodeList args;
  while (!is_op("]")) {
    if (!args.empty()) MUSE_RETURN_IF_ERROR(expect_op(","));
    if (is_op("]")) break;
    StatusOr<NodePtr> sub = parse_subscribed();
    if (!sub.ok()) return sub;
    args.push_back(std::move(*sub));
  }
  MUSE_RETURN_IF_ERROR(expect_op("]"));
  if (args.empty()) return error_at(start, "expected a subscript");
  NodePtr index;
  if (args.size() == 1) {
    index = std::move(args[0]);
  } else {
    index = make(NodeKind::kTuple, start);
    index->items = std::move(args);
  }
  if (index->kind == NodeKind::kSlice && !index->a) {
    index->line = node->line;
    index->col = node->col;
    index->a = std::move(node);
    return index;
  }
  NodePtr n = make_at(NodeKind::kGetItem, *node);
  n->a = std::move(node);
  n->b = std::move(index);
  return n;
}

StatusOr<NodePtr> Parser::parse_subscribed() {
  NodePtr slice = make(NodeKind::kSlice);
  if (skip_op(":")) {
    // no start
  } else {
    StatusOr<NodePtr> e = parse_expression();
    if (!e.ok()) return e;
    if (!skip_op(":")) return e;
    slice->b = std::move(*e);
  }
  if (!is_op(":") && !is_op("]") && !is_op(",")) {
    StatusOr<NodePtr> stop = parse_expression();
    if (!stop.ok()) return stop;
    slice->c = std::move(*stop);
  }
  if (skip_op(":") && !is_op("]") && !is_op(",")) {
    StatusOr<NodePtr> step = parse_expression();
    if (!step.ok()) return step;
    slice->d = std::move(*step);
  }
  return slice;
}

Status Parser::parse_call_args(Node* call) {
  MUSE_RETURN_IF_ERROR(expect_op("("));
  bool first = true;
  while (!is_op(")")) {
    if (!first) MUSE_RETURN_IF_ERROR(expect_op(","));
    first = false;
    if (is_op(")")) break;
    if (skip_op("*")) {
      StatusOr<NodePtr> e = parse_expression();
      if (!e.ok()) return e.status();
      call->dyn_args = std::move(*e);
    } else if (skip_op("**")) {
      StatusOr<NodePtr> e = parse_expression();
      if (!e.ok()) return e.status();
      call->dyn_kwargs = std::move(*e);
    } else if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOp &&
               peek().text == "=") {
      std::string key = cur().text;
      next();
      next();
      StatusOr<NodePtr> e = parse_expression();
      if (!e.ok()) return e.status();
      call->kwargs.emplace_back(std::move(key), std::move(*e));
    } else {
      if (!call->kwargs.empty() || call->dyn_args || call->dyn_kwargs)
        return error("positional argument follows keyword argument");
      StatusOr<NodePtr> e = parse_expression();
      if (!e.ok()) return e.status();
      call->items.push_back(std::move(*e));
    }
  }
  next();
  return Status::Ok();
}

StatusOr<NodePtr> Parser::parse_call(NodePtr node) {
  NodePtr n = make_at(NodeKind::kCall, *node);
  n->a = std::move(node);
  MUSE_RETURN_IF_ERROR(parse_call_args(n.get()));
  return n;
}

StatusOr<std::string> Parser::parse_dotted_name() {
  StatusOr<std::string> name = expect_name();
  if (!name.ok()) return name;
  std::string full = *name;
  while (skip_op(".")) {
    StatusOr<std::string> part = expect_name();
    if (!part.ok()) return part;
    full += "." + *part;
  }
  return full;
}

StatusOr<NodePtr> Parser::parse_filter(NodePtr node, bool start_inline) {
  if (!node) node = make(NodeKind::kBlockValue);
  while (is_op("|") || start_inline) {
    if (!start_inline) next();
    start_inline = false;
    NodePtr n = make(NodeKind::kFilter);
    StatusOr<std::string> name = parse_dotted_name();
    if (!name.ok()) return name.status();
    n->name = *name;
    n->filter = find_filter(n->name);
    if (!n->filter && soft_ == 0)
      return error_at(toks_[pos_ - 1], "no filter named '" + n->name + "'");
    if (is_op("(")) MUSE_RETURN_IF_ERROR(parse_call_args(n.get()));
    n->a = std::move(node);
    node = std::move(n);
  }
  return node;
}

StatusOr<NodePtr> Parser::parse_test(NodePtr node) {
  NodePtr n = make(NodeKind::kTest);
  next();  // is
  n->negated = skip_name("not");
  StatusOr<std::string> name = parse_dotted_name();
  if (!name.ok()) return name.status();
  n->name = *name;
  n->test = find_test(n->name);
  if (!n->test && soft_ == 0) return error_at(toks_[pos_ - 1], "no test named '" + n->name + "'");
  const TokenKind k = cur().kind;
  if (is_op("(")) {
    MUSE_RETURN_IF_ERROR(parse_call_args(n.get()));
  } else if ((k == TokenKind::kName || k == TokenKind::kString || k == TokenKind::kInt ||
              k == TokenKind::kFloat || is_op("[") || is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) return error("you cannot chain multiple tests with 'is'");
    StatusOr<NodePtr> arg = parse_primary();
    if (!arg.ok()) return arg;
    StatusOr<NodePtr> post = parse_postfix(std::move(*arg));
    if (!post.ok()) return post;
    n->items.push_back(std::move(*post));
  }
  n->a = std::move(node);
  return n;
}

}  // namespace muse::chat::internal
