// Jinja parser, template level: text, `{{ }}` and the statements (for, if, set, macro,
// call, filter, with, break/continue), with jinja2's block structure and errors that name
// the line and column. Unknown filters and tests fail at parse time unless inside an `if`
// (jinja2 defers those to render time). Expressions are in parser_expr.cc.
#include "chat/parser.h"

#include "chat/parser_impl.h"

namespace muse::chat {
namespace internal {
namespace {

bool mentions(const Node& n, std::string_view name) {
  if (n.kind == NodeKind::kName && n.name == name) return true;
  for (const NodePtr* p : {&n.a, &n.b, &n.c, &n.d, &n.dyn_args, &n.dyn_kwargs})
    if (*p && mentions(**p, name)) return true;
  for (const NodeList* l : {&n.items, &n.values, &n.body, &n.else_body})
    for (const NodePtr& k : *l)
      if (mentions(*k, name)) return true;
  for (const auto& kw : n.kwargs)
    if (kw.second && mentions(*kw.second, name)) return true;
  for (const Param& p : n.params)
    if (p.default_value && mentions(*p.default_value, name)) return true;
  return false;
}

}  // namespace

Status Parser::subparse(std::initializer_list<std::string_view> end_tags, NodeList* body,
                        std::string* which_end) {
  Deeper guard(this);
  if (depth_ > kMaxParseDepth) return error("blocks nest too deeply");
  while (true) {
    const Token& t = cur();
    switch (t.kind) {
      case TokenKind::kData: {
        NodePtr n = make(NodeKind::kData);
        n->name = t.text;
        body->push_back(std::move(n));
        next();
        break;
      }
      case TokenKind::kVarBegin: {
        NodePtr n = make(NodeKind::kOutput);
        next();
        StatusOr<NodePtr> e = parse_tuple(true, false);
        if (!e.ok()) return e.status();
        if (cur().kind != TokenKind::kVarEnd)
          return error("expected end of print statement '}}', got " + describe(cur()));
        next();
        n->a = std::move(*e);
        body->push_back(std::move(n));
        break;
      }
      case TokenKind::kBlockBegin: {
        next();
        if (cur().kind == TokenKind::kName) {
          for (std::string_view end : end_tags) {
            if (cur().text == end) {
              *which_end = cur().text;
              next();
              return Status::Ok();
            }
          }
        }
        MUSE_RETURN_IF_ERROR(parse_statement(body));
        break;
      }
      case TokenKind::kEof: {
        if (end_tags.size() == 0) return Status::Ok();
        std::string expected;
        for (std::string_view e : end_tags)
          expected += (expected.empty() ? "'" : " or '") + std::string(e) + "'";
        return error("unexpected end of template: expected " + expected);
      }
      default:
        return error("unexpected " + describe(t));
    }
  }
}

Status Parser::parse_statement(NodeList* body) {
  if (cur().kind != TokenKind::kName)
    return error("expected a statement name, got " + describe(cur()));
  const std::string tag = cur().text;
  if (tag == "for") return parse_for(body);
  if (tag == "if") return parse_if(body);
  if (tag == "set") return parse_set(body);
  if (tag == "macro") return parse_macro(body);
  if (tag == "call") return parse_call_block(body);
  if (tag == "filter") return parse_filter_block(body);
  if (tag == "with") return parse_with(body);
  if (tag == "break" || tag == "continue") {
    if (loop_depth_ == 0) return error("'" + tag + "' outside loop");
    NodePtr n = make(tag == "break" ? NodeKind::kBreak : NodeKind::kContinue);
    next();
    MUSE_RETURN_IF_ERROR(expect_block_end());
    body->push_back(std::move(n));
    return Status::Ok();
  }
  if (tag == "extends" || tag == "include" || tag == "import" || tag == "from" || tag == "block")
    return error("'" + tag + "' needs other template files, which chat templates cannot load");
  return error("unknown tag '" + tag + "'");
}

Status Parser::parse_end(std::string_view tag, NodeList* body) {
  std::string end;
  MUSE_RETURN_IF_ERROR(subparse({tag}, body, &end));
  return expect_block_end();
}

Status Parser::parse_for(NodeList* body) {
  NodePtr n = make(NodeKind::kFor);
  next();
  StatusOr<NodePtr> target = parse_assign_target(false);
  if (!target.ok()) return target.status();
  n->a = std::move(*target);
  if (!skip_name("in")) return error("expected 'in', got " + describe(cur()));
  StatusOr<NodePtr> iter = parse_tuple(false, false, {"recursive"});
  if (!iter.ok()) return iter.status();
  n->b = std::move(*iter);
  if (skip_name("if")) {
    StatusOr<NodePtr> cond = parse_expression();
    if (!cond.ok()) return cond.status();
    n->c = std::move(*cond);
  }
  n->recursive = skip_name("recursive");
  MUSE_RETURN_IF_ERROR(expect_block_end());
  ++loop_depth_;
  std::string end;
  Status s = subparse({"endfor", "else"}, &n->body, &end);
  --loop_depth_;
  MUSE_RETURN_IF_ERROR(s);
  MUSE_RETURN_IF_ERROR(expect_block_end());
  if (end == "else") MUSE_RETURN_IF_ERROR(parse_end("endfor", &n->else_body));
  body->push_back(std::move(n));
  return Status::Ok();
}

Status Parser::parse_if(NodeList* body) {
  ++soft_;
  NodePtr n = make(NodeKind::kIf);
  next();
  Node* current = n.get();
  Status s = [&]() -> Status {
    while (true) {
      StatusOr<NodePtr> cond = parse_tuple(false, false);
      if (!cond.ok()) return cond.status();
      current->a = std::move(*cond);
      MUSE_RETURN_IF_ERROR(expect_block_end());
      std::string end;
      MUSE_RETURN_IF_ERROR(subparse({"elif", "else", "endif"}, &current->body, &end));
      if (end == "elif") {
        NodePtr elif = make(NodeKind::kIf, toks_[pos_ - 1]);
        Node* next_node = elif.get();
        current->else_body.push_back(std::move(elif));
        current = next_node;
        continue;
      }
      MUSE_RETURN_IF_ERROR(expect_block_end());
      if (end == "else") return parse_end("endif", &current->else_body);
      return Status::Ok();
    }
  }();
  --soft_;
  MUSE_RETURN_IF_ERROR(s);
  body->push_back(std::move(n));
  return Status::Ok();
}

Status Parser::parse_set(NodeList* body) {
  const Token start = cur();
  next();
  StatusOr<NodePtr> target = parse_assign_target(true);
  if (!target.ok()) return target.status();
  if (skip_op("=")) {
    NodePtr n = make(NodeKind::kSet, start);
    n->a = std::move(*target);
    StatusOr<NodePtr> value = parse_tuple(true, false);
    if (!value.ok()) return value.status();
    n->b = std::move(*value);
    MUSE_RETURN_IF_ERROR(expect_block_end());
    body->push_back(std::move(n));
    return Status::Ok();
  }
  if ((*target)->kind == NodeKind::kTuple) return error("a block assignment needs a single target");
  NodePtr n = make(NodeKind::kSetBlock, start);
  n->a = std::move(*target);
  if (is_op("|")) {
    StatusOr<NodePtr> f = parse_filter(nullptr, false);
    if (!f.ok()) return f.status();
    n->c = std::move(*f);
  }
  MUSE_RETURN_IF_ERROR(expect_block_end());
  MUSE_RETURN_IF_ERROR(parse_end("endset", &n->body));
  body->push_back(std::move(n));
  return Status::Ok();
}

Status Parser::parse_params(std::vector<Param>* params) {
  MUSE_RETURN_IF_ERROR(expect_op("("));
  while (!is_op(")")) {
    if (!params->empty()) MUSE_RETURN_IF_ERROR(expect_op(","));
    if (is_op(")")) break;
    StatusOr<std::string> name = expect_name();
    if (!name.ok()) return name.status();
    Param p{*name, nullptr};
    if (skip_op("=")) {
      StatusOr<NodePtr> def = parse_expression();
      if (!def.ok()) return def.status();
      p.default_value = std::move(*def);
    } else if (!params->empty() && params->back().default_value) {
      return error("non-default argument '" + p.name + "' follows default argument");
    }
    params->push_back(std::move(p));
  }
  next();
  return Status::Ok();
}

Status Parser::parse_macro(NodeList* body) {
  NodePtr n = make(NodeKind::kMacro);
  next();
  StatusOr<std::string> name = expect_name();
  if (!name.ok()) return name.status();
  n->name = *name;
  MUSE_RETURN_IF_ERROR(parse_params(&n->params));
  MUSE_RETURN_IF_ERROR(expect_block_end());
  const int saved_loop = loop_depth_;
  loop_depth_ = 0;
  Status s = parse_end("endmacro", &n->body);
  loop_depth_ = saved_loop;
  MUSE_RETURN_IF_ERROR(s);
  for (const NodePtr& k : n->body) {
    n->uses_varargs = n->uses_varargs || mentions(*k, "varargs");
    n->uses_kwargs = n->uses_kwargs || mentions(*k, "kwargs");
    n->uses_caller = n->uses_caller || mentions(*k, "caller");
  }
  body->push_back(std::move(n));
  return Status::Ok();
}

Status Parser::parse_call_block(NodeList* body) {
  NodePtr n = make(NodeKind::kCallBlock);
  next();
  if (is_op("(")) MUSE_RETURN_IF_ERROR(parse_params(&n->params));
  StatusOr<NodePtr> call = parse_expression();
  if (!call.ok()) return call.status();
  if ((*call)->kind != NodeKind::kCall) return error("expected a call after 'call'");
  n->a = std::move(*call);
  MUSE_RETURN_IF_ERROR(expect_block_end());
  const int saved_loop = loop_depth_;
  loop_depth_ = 0;
  Status s = parse_end("endcall", &n->body);
  loop_depth_ = saved_loop;
  MUSE_RETURN_IF_ERROR(s);
  body->push_back(std::move(n));
  return Status::Ok();
}

Status Parser::parse_filter_block(NodeList* body) {
  NodePtr n = make(NodeKind::kFilterBlock);
  next();
  StatusOr<NodePtr> f = parse_filter(nullptr, true);
  if (!f.ok()) return f.status();
  n->c = std::move(*f);
  MUSE_RETURN_IF_ERROR(expect_block_end());
  MUSE_RETURN_IF_ERROR(parse_end("endfilter", &n->body));
  body->push_back(std::move(n));
  return Status::Ok();
}

Status Parser::parse_with(NodeList* body) {
  NodePtr n = make(NodeKind::kWith);
  next();
  while (cur().kind != TokenKind::kBlockEnd) {
    if (!n->items.empty()) MUSE_RETURN_IF_ERROR(expect_op(","));
    StatusOr<NodePtr> target = parse_assign_target(false);
    if (!target.ok()) return target.status();
    MUSE_RETURN_IF_ERROR(expect_op("="));
    StatusOr<NodePtr> value = parse_expression();
    if (!value.ok()) return value.status();
    n->items.push_back(std::move(*target));
    n->values.push_back(std::move(*value));
  }
  next();
  MUSE_RETURN_IF_ERROR(parse_end("endwith", &n->body));
  body->push_back(std::move(n));
  return Status::Ok();
}

StatusOr<NodePtr> Parser::parse_assign_target(bool with_namespace) {
  if (with_namespace && cur().kind == TokenKind::kName && peek().kind == TokenKind::kOp &&
      peek().text == ".") {
    NodePtr obj = make(NodeKind::kName);
    obj->name = cur().text;
    next();
    next();
    NodePtr n = make(NodeKind::kGetAttr);
    StatusOr<std::string> attr = expect_name();
    if (!attr.ok()) return attr.status();
    n->name = *attr;
    n->a = std::move(obj);
    return n;
  }
  NodePtr tuple = make(NodeKind::kTuple);
  const bool parens = skip_op("(");
  while (true) {
    if (cur().kind != TokenKind::kName) return error("can't assign to " + describe(cur()));
    NodePtr name = make(NodeKind::kName);
    name->name = cur().text;
    if (name->name == "true" || name->name == "false" || name->name == "none" ||
        name->name == "True" || name->name == "False" || name->name == "None")
      return error("can't assign to '" + name->name + "'");
    next();
    tuple->items.push_back(std::move(name));
    if (!is_op(",")) break;
    next();
    if (parens && is_op(")")) break;
  }
  if (parens) MUSE_RETURN_IF_ERROR(expect_op(")"));
  if (tuple->items.size() == 1 && !parens) return std::move(tuple->items[0]);
  return tuple;
}

}  // namespace internal

StatusOr<NodeList> parse_template(std::string_view source) {
  StatusOr<std::vector<Token>> tokens = tokenize(source);
  if (!tokens.ok()) return tokens.status();
  internal::Parser parser(std::move(*tokens));
  return parser.parse_all();
}

}  // namespace muse::chat
