// Internal to the parser: the recursive-descent `Parser` shared by parser.cc (template
// structure and statements) and parser_expr.cc (expressions). Not part of the engine's API.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/parser.h"

namespace muse::chat::internal {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  StatusOr<NodeList> parse_all() {
    NodeList body;
    std::string end;
    MUSE_RETURN_IF_ERROR(subparse({}, &body, &end));
    return body;
  }

 private:
  // RAII depth guard for recursion.
  struct Deeper {
    explicit Deeper(Parser* p) : p(p) { ++p->depth_; }
    ~Deeper() { --p->depth_; }
    Parser* p;
  };

  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  void next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(std::string_view op) const { return cur().kind == TokenKind::kOp && cur().text == op; }
  bool is_name(std::string_view name) const {
    return cur().kind == TokenKind::kName && cur().text == name;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::kData:
        return "template text";
      case TokenKind::kVarBegin:
        return "'{{'";
      case TokenKind::kVarEnd:
        return "end of print statement '}}'";
      case TokenKind::kBlockBegin:
        return "'{%'";
      case TokenKind::kBlockEnd:
        return "end of statement block '%}'";
      case TokenKind::kString:
        return "string literal";
      case TokenKind::kInt:
      case TokenKind::kFloat:
        return "number '" + t.text + "'";
      case TokenKind::kEof:
        return "end of template";
      default:
        return "'" + t.text + "'";
    }
  }
  Status error(const std::string& what) const { return error_at(cur(), what); }
  static Status error_at(const Token& t, const std::string& what) {
    return Status::Error("line " + std::to_string(t.line) + ", column " + std::to_string(t.col) +
                         ": syntax error: " + what);
  }
  Status expect_op(std::string_view op) {
    if (skip_op(op)) return Status::Ok();
    return error("expected '" + std::string(op) + "', got " + describe(cur()));
  }
  Status expect_block_end() {
    if (cur().kind == TokenKind::kBlockEnd) {
      next();
      return Status::Ok();
    }
    return error("expected end of statement block '%}', got " + describe(cur()));
  }
  StatusOr<std::string> expect_name() {
    if (cur().kind != TokenKind::kName) return error("expected a name, got " + describe(cur()));
    std::string n = cur().text;
    next();
    return n;
  }
  NodePtr make(NodeKind k, const Token& t) { return std::make_unique<Node>(k, t.line, t.col); }
  NodePtr make(NodeKind k) { return make(k, cur()); }
  // Operators and postfix nodes are located where their left operand starts, so an error
  // in `messages[0].content + x` points at `messages`.
  static NodePtr make_at(NodeKind k, const Node& left) {
    return std::make_unique<Node>(k, left.line, left.col);
  }

  Status subparse(std::initializer_list<std::string_view> end_tags, NodeList* body,
                  std::string* which_end);
  Status parse_statement(NodeList* body);
  Status parse_for(NodeList* body);
  Status parse_if(NodeList* body);
  Status parse_set(NodeList* body);
  Status parse_macro(NodeList* body);
  Status parse_call_block(NodeList* body);
  Status parse_filter_block(NodeList* body);
  Status parse_with(NodeList* body);
  Status parse_params(std::vector<Param>* params);
  Status parse_end(std::string_view tag, NodeList* body);

  StatusOr<NodePtr> parse_assign_target(bool with_namespace);
  StatusOr<NodePtr> parse_tuple(bool with_condexpr, bool explicit_parens,
                                std::initializer_list<std::string_view> extra_end = {});
  StatusOr<NodePtr> parse_expression(bool with_condexpr = true);
  StatusOr<NodePtr> parse_condexpr();
  StatusOr<NodePtr> parse_or();
  StatusOr<NodePtr> parse_and();
  StatusOr<NodePtr> parse_not();
  StatusOr<NodePtr> parse_compare();
  StatusOr<NodePtr> parse_math1();
  StatusOr<NodePtr> parse_concat();
  StatusOr<NodePtr> parse_math2();
  StatusOr<NodePtr> parse_pow();
  StatusOr<NodePtr> parse_unary(bool with_filter);
  StatusOr<NodePtr> parse_primary();
  StatusOr<NodePtr> parse_postfix(NodePtr node);
  StatusOr<NodePtr> parse_filter_expr(NodePtr node);
  StatusOr<NodePtr> parse_subscript(NodePtr node);
  StatusOr<NodePtr> parse_subscribed();
  StatusOr<NodePtr> parse_call(NodePtr node);
  Status parse_call_args(Node* call);
  StatusOr<NodePtr> parse_filter(NodePtr node, bool start_inline);
  StatusOr<NodePtr> parse_test(NodePtr node);
  StatusOr<std::string> parse_dotted_name();

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;  // break/continue are legal only inside a for body
  int soft_ = 0;        // inside an `if`: unknown filters/tests fail only when reached
};

}  // namespace muse::chat::internal
