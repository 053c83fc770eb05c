// Jinja parser: tokens from the lexer to a syntax tree, with jinja2's grammar and operator
// precedence (`~` binds tighter than `+`, `**` is left-associative, filters bind tighter
// than any operator). Nesting depth is bounded so hostile templates cannot exhaust the stack.
#pragma once

#include <string_view>

#include "chat/ast.h"
#include "core/status.h"

namespace muse::chat {

// Deepest nesting of expressions or blocks a template may use.
constexpr int kMaxParseDepth = 100;

// Parses a whole template. Errors name the line and column.
StatusOr<NodeList> parse_template(std::string_view source);

}  // namespace muse::chat
