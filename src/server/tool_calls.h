// Internal to reply_parse: the tool-call grammars of each `ToolFormat` and the text helpers
// they share with the thinking-block splitter. Everything works on byte offsets into UTF-8
// text; all delimiters are whole code points, so cuts at them never split a character.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/reply_parse.h"

namespace muse::server::detail {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

inline size_t skip_space(std::string_view s, size_t pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  return pos;
}

inline std::string_view trim(std::string_view s) {
  size_t b = skip_space(s, 0);
  size_t e = s.size();
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// The markers after which a format's tool calls begin (empty for kNone).
std::span<const std::string_view> tool_call_markers(ToolFormat format);

// Whether the format also accepts a reply that is nothing but JSON call objects, which can only
// be decided once the reply is complete.
bool accepts_bare_json(ToolFormat format);

struct BodySplit {
  std::string content;  // untrimmed text outside the calls, including calls that did not parse
  std::vector<ToolCall> calls;
};

// Splits the text after the thinking block into content and tool calls; ids are "call_<i>".
BodySplit split_tool_calls(std::string_view body, ToolFormat format);

}  // namespace muse::server::detail
