// Jinja template lexer: splits a template into text and the tokens inside `{{ }}` and
// `{% %}` tags, applying whitespace control exactly as Python jinja2's lexer does with
// `trim_blocks` and `lstrip_blocks` on (Hugging Face's chat-template environment):
// `-` strips all whitespace on its side, `+` disables lstrip/trim, comments and `{% raw %}`
// blocks are resolved here, newlines are normalised and one trailing newline is dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace muse::chat {

enum class TokenKind : uint8_t {
  kData,        // template text between tags
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,  // text holds the unescaped value
  kInt,
  kFloat,
  kOp,  // text holds the operator: "+", "//", "(", "==", ...
  kEof,
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
  int col = 1;
};

// Errors name the line and column ("line 3, column 7: unexpected '}'").
StatusOr<std::vector<Token>> tokenize(std::string_view source);

}  // namespace muse::chat
