// Jinja lexer. The structure follows jinja2's `Lexer.tokeniter`: find the next tag start,
// apply the strip rules to the text before it (`-` strips everything; otherwise lstrip_blocks
// removes a whitespace-only line prefix before `{%`/`{#`), then lex the tag's tokens until
// its end delimiter at bracket balance zero (so `}}` inside a dict literal does not end a
// tag). After `%}`/`#}`, trim_blocks eats one newline; after `-%}` all whitespace goes.
#include "chat/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "chat/py_string.h"

namespace muse::chat {
namespace {

// Operators jinja2 knows, longest first so `//` wins over `/`.
constexpr std::string_view kOperators[] = {
    "**", "//", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
    "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";",
};

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  StatusOr<std::vector<Token>> run();

 private:
  // 1-based line and column (in code points) of byte offset `pos`. Tokens arrive in order,
  // so the column is advanced from the previous token's rather than recounted from the
  // start of the line (a one-line template of many tags would otherwise lex in O(n^2)).
  std::pair<int, int> position(size_t pos) {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos) - 1;
    const size_t line = size_t(it - line_starts_.begin());
    if (line != cursor_line_ || pos < cursor_pos_) {
      cursor_line_ = line;
      cursor_pos_ = *it;
      cursor_col_ = 0;
    }
    cursor_col_ += py::length(std::string_view(src_).substr(cursor_pos_, pos - cursor_pos_));
    cursor_pos_ = pos;
    return {int(line) + 1, int(cursor_col_) + 1};
  }
  Status error_at(size_t pos, const std::string& what) {
    const auto [line, col] = position(pos);
    return Status::Error("line " + std::to_string(line) + ", column " + std::to_string(col) +
                         ": syntax error: " + what);
  }
  void push(TokenKind kind, size_t pos, std::string text = {}) {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    std::tie(t.line, t.col) = position(pos);
    tokens_.push_back(std::move(t));
  }
  bool at(size_t pos, std::string_view s) const {
    return pos <= src_.size() && std::string_view(src_).substr(pos, s.size()) == s;
  }
  // Position after the whitespace (Python `\s*`) starting at pos.
  size_t skip_space(size_t pos) const;
  bool all_space(std::string_view s) const;
  std::string rstrip(std::string_view s) const;
  // Applies `-` / lstrip_blocks to `text` that precedes a tag whose strip sign is `sign`.
  std::string strip_text(std::string_view text, char sign, bool lstrip_applies) const;
  void push_data(size_t pos, std::string text) {
    if (!text.empty()) push(TokenKind::kData, pos, std::move(text));
  }

  Status lex_comment(size_t pos, size_t* end);
  Status lex_raw(size_t body, size_t* end);
  Status lex_tag(size_t pos, bool block, size_t* end);
  Status lex_number(size_t* pos);
  Status lex_string(size_t* pos);

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  bool line_starting_ = true;  // the previous match ended with a newline (or none yet)
  size_t cursor_line_ = 0, cursor_pos_ = 0;
  int64_t cursor_col_ = 0;
};

size_t Lexer::skip_space(size_t pos) const {
  while (pos < src_.size()) {
    const unsigned char c = src_[pos];
    if (c < 0x80) {
      if (!py::is_space(c)) break;
      ++pos;
      continue;
    }
    // Decode one non-ASCII code point.
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    std::u32string cp = py::decode(std::string_view(src_).substr(pos, len));
    if (cp.size() != 1 || !py::is_space(cp[0])) break;
    pos += len;
  }
  return pos;
}

bool Lexer::all_space(std::string_view s) const {
  for (char32_t c : py::decode(s))
    if (!py::is_space(c)) return false;
  return true;
}

std::string Lexer::rstrip(std::string_view s) const { return py::strip(s, {}, false, true); }

std::string Lexer::strip_text(std::string_view text, char sign, bool lstrip_applies) const {
  if (sign == '-') return rstrip(text);
  if (sign != '+' && lstrip_applies) {
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
    if ((l_pos > 0 || line_starting_) && l_pos < text.size() && all_space(text.substr(l_pos)))
      return std::string(text.substr(0, l_pos));
  }
  return std::string(text);
}

StatusOr<std::vector<Token>> Lexer::run() {
  size_t pos = 0;
  const size_t n = src_.size();
  while (pos < n) {
    size_t start = pos;
    while ((start = src_.find('{', start)) != std::string::npos) {
      if (start + 1 < n &&
          (src_[start + 1] == '%' || src_[start + 1] == '{' || src_[start + 1] == '#'))
        break;
      ++start;
    }
    if (start == std::string::npos) {
      push_data(pos, src_.substr(pos));
      break;
    }
    const char kind = src_[start + 1];
    const char sign =
        start + 2 < n && (src_[start + 2] == '-' || src_[start + 2] == '+') ? src_[start + 2] : 0;
    const size_t inner = start + 2 + (sign ? 1 : 0);
    const std::string_view text = std::string_view(src_).substr(pos, start - pos);

    // `{% raw %}` is recognised before other tags, with its own end handling.
    size_t raw_body = std::string::npos;
    if (kind == '%') {
      size_t p = skip_space(inner);
      if (at(p, "raw")) {
        p = skip_space(p + 3);
        if (at(p, "-%}"))
          raw_body = skip_space(p + 3);
        else if (at(p, "%}"))
          raw_body = p + 2;
      }
    }
    push_data(pos, strip_text(text, sign, kind != '{'));
    size_t end = 0;
    if (raw_body != std::string::npos) {
      line_starting_ = raw_body > 0 && src_[raw_body - 1] == '\n';
      MUSE_RETURN_IF_ERROR(lex_raw(raw_body, &end));
    } else if (kind == '#') {
      MUSE_RETURN_IF_ERROR(lex_comment(inner, &end));
    } else {
      push(kind == '%' ? TokenKind::kBlockBegin : TokenKind::kVarBegin, start);
      MUSE_RETURN_IF_ERROR(lex_tag(inner, kind == '%', &end));
    }
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos = end;
  }
  push(TokenKind::kEof, n);
  return std::move(tokens_);
}

Status Lexer::lex_comment(size_t pos, size_t* end) {
  const size_t open = pos;
  for (size_t q = pos; q < src_.size(); ++q) {
    if ((src_[q] == '+' || src_[q] == '-') && at(q + 1, "#}")) {
      *end = src_[q] == '-' ? skip_space(q + 3) : q + 3;
      return Status::Ok();
    }
    if (at(q, "#}")) {
      *end = q + 2;
      if (at(*end, "\n")) ++*end;  // trim_blocks
      return Status::Ok();
    }
  }
  return error_at(open - 2, "missing end of comment tag");
}

Status Lexer::lex_raw(size_t body, size_t* end) {
  for (size_t q = src_.find("{%", body); q != std::string::npos; q = src_.find("{%", q + 1)) {
    const char sign = at(q + 2, "-") || at(q + 2, "+") ? src_[q + 2] : 0;
    size_t p = skip_space(q + 2 + (sign ? 1 : 0));
    if (!at(p, "endraw")) continue;
    p = skip_space(p + 6);
    size_t stop;
    if (at(p, "+%}"))
      stop = p + 3;
    else if (at(p, "-%}"))
      stop = skip_space(p + 3);
    else if (at(p, "%}"))
      stop = at(p + 2, "\n") ? p + 3 : p + 2;
    else
      continue;
    push_data(body, strip_text(std::string_view(src_).substr(body, q - body), sign, true));
    *end = stop;
    return Status::Ok();
  }
  return error_at(body, "missing end of raw directive");
}

Status Lexer::lex_tag(size_t pos, bool block, size_t* end) {
  const size_t open = pos;
  std::vector<char> balance;
  while (true) {
    if (pos >= src_.size())
      return error_at(open, std::string("unexpected end of template: tag is not closed by ") +
                                (block ? "'%}'" : "'}}'"));
    if (balance.empty()) {
      if (block) {
        if (at(pos, "+%}")) {
          *end = pos + 3;
          break;
        }
        if (at(pos, "-%}")) {
          *end = skip_space(pos + 3);
          break;
        }
        if (at(pos, "%}")) {
          *end = at(pos + 2, "\n") ? pos + 3 : pos + 2;  // trim_blocks
          break;
        }
      } else {
        if (at(pos, "-}}")) {
          *end = skip_space(pos + 3);
          break;
        }
        if (at(pos, "}}")) {
          *end = pos + 2;
          break;
        }
      }
    }
    const unsigned char c = src_[pos];
    if (py::is_space(c) || c >= 0x80) {
      const size_t next = skip_space(pos);
      if (next == pos) return error_at(pos, "unexpected character in tag");
      pos = next;
      continue;
    }
    if (c >= '0' && c <= '9') {
      MUSE_RETURN_IF_ERROR(lex_number(&pos));
      continue;
    }
    if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      size_t e = pos + 1;
      while (e < src_.size() && (src_[e] == '_' || std::isalnum((unsigned char)src_[e]))) ++e;
      push(TokenKind::kName, pos, src_.substr(pos, e - pos));
      pos = e;
      continue;
    }
    if (c == '\'' || c == '"') {
      MUSE_RETURN_IF_ERROR(lex_string(&pos));
      continue;
    }
    std::string_view op;
    for (std::string_view cand : kOperators)
      if (at(pos, cand)) {
        op = cand;
        break;
      }
    if (op.empty()) return error_at(pos, "unexpected character '" + std::string(1, c) + "'");
    if (op == "(" || op == "[" || op == "{") {
      balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
    } else if (op == ")" || op == "]" || op == "}") {
      if (balance.empty()) return error_at(pos, "unexpected '" + std::string(op) + "'");
      if (balance.back() != op[0])
        return error_at(pos, "unexpected '" + std::string(op) + "', expected '" +
                                 std::string(1, balance.back()) + "'");
      balance.pop_back();
    }
    push(TokenKind::kOp, pos, std::string(op));
    pos += op.size();
  }
  push(block ? TokenKind::kBlockEnd : TokenKind::kVarEnd, pos);
  return Status::Ok();
}

Status Lexer::lex_number(size_t* pos) {
  const size_t start = *pos;
  auto digits = [&](size_t p, auto is_digit) {
    // `\d+(_\d+)*`: returns the end, or p when no digit.
    if (p >= src_.size() || !is_digit(src_[p])) return p;
    while (p < src_.size()) {
      if (is_digit(src_[p]))
        ++p;
      else if (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1]))
        p += 2;
      else
        break;
    }
    return p;
  };
  auto dec = [](char ch) { return ch >= '0' && ch <= '9'; };
  std::string clean;
  auto take = [&](size_t b, size_t e) {
    for (size_t k = b; k < e; ++k)
      if (src_[k] != '_') clean += src_[k];
  };
  const bool after_dot = start > 0 && src_[start - 1] == '.';
  if (src_[start] == '0' && start + 1 < src_.size() && std::strchr("xXoObB", src_[start + 1])) {
    const char base_ch = char(std::tolower((unsigned char)src_[start + 1]));
    const int base = base_ch == 'x' ? 16 : base_ch == 'o' ? 8 : 2;
    auto in_base = [base](char ch) {
      const int d = std::isdigit((unsigned char)ch)    ? ch - '0'
                    : std::isxdigit((unsigned char)ch) ? std::tolower((unsigned char)ch) - 'a' + 10
                                                       : 99;
      return d < base;
    };
    size_t p = start + 2;
    if (p < src_.size() && src_[p] == '_') ++p;
    const size_t e = digits(p, in_base);
    if (e == p) return error_at(start, "invalid integer literal");
    take(p, e);
    errno = 0;
    const unsigned long long v = std::strtoull(clean.c_str(), nullptr, base);
    if (errno == ERANGE || v > uint64_t(INT64_MAX))
      return error_at(start, "integer literal too large");
    push(TokenKind::kInt, start, src_.substr(start, e - start));
    tokens_.back().int_value = int64_t(v);
    *pos = e;
    return Status::Ok();
  }
  size_t e = digits(start, dec);
  bool is_float = false;
  if (!after_dot) {
    size_t p = e;
    if (at(p, ".") && p + 1 < src_.size() && dec(src_[p + 1])) {
      p = digits(p + 1, dec);
      is_float = true;
    }
    if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      const size_t qe = digits(q, dec);
      if (qe > q) {
        p = qe;
        is_float = true;
      }
    }
    if (is_float) e = p;
  }
  if (!is_float && src_[start] == '0') {
    // jinja2 only accepts `0(_?0)*` as a zero-led integer; `012` lexes as 0 then 12.
    e = start + 1;
    while (e < src_.size() && (src_[e] == '0' || (src_[e] == '_' && at(e + 1, "0"))))
      e += src_[e] == '_' ? 2 : 1;
  }
  take(start, e);
  push(is_float ? TokenKind::kFloat : TokenKind::kInt, start, src_.substr(start, e - start));
  if (is_float) {
    tokens_.back().float_value = std::strtod(clean.c_str(), nullptr);
  } else {
    errno = 0;
    const long long v = std::strtoll(clean.c_str(), nullptr, 10);
    if (errno == ERANGE) return error_at(start, "integer literal too large");
    tokens_.back().int_value = v;
  }
  *pos = e;
  return Status::Ok();
}

Status Lexer::lex_string(size_t* pos) {
  const size_t start = *pos;
  const char quote = src_[start];
  std::string value;
  size_t p = start + 1;
  auto hex = [&](size_t at_pos, int n, uint32_t* out) {
    if (at_pos + n > src_.size()) return false;
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) {
      const char ch = src_[at_pos + k];
      if (!std::isxdigit((unsigned char)ch)) return false;
      v = v * 16 + uint32_t(std::isdigit((unsigned char)ch)
                                ? ch - '0'
                                : std::tolower((unsigned char)ch) - 'a' + 10);
    }
    *out = v;
    return true;
  };
  while (true) {
    if (p >= src_.size()) return error_at(start, "unterminated string literal");
    const char c = src_[p];
    if (c == quote) break;
    if (c != '\\') {
      value += c;
      ++p;
      continue;
    }
    if (p + 1 >= src_.size()) return error_at(start, "unterminated string literal");
    const char e = src_[p + 1];
    p += 2;
    uint32_t cp = 0;
    switch (e) {
      case '\n':
        break;  // line continuation
      case '\\':
        value += '\\';
        break;
      case '\'':
        value += '\'';
        break;
      case '"':
        value += '"';
        break;
      case 'a':
        value += '\a';
        break;
      case 'b':
        value += '\b';
        break;
      case 'f':
        value += '\f';
        break;
      case 'n':
        value += '\n';
        break;
      case 'r':
        value += '\r';
        break;
      case 't':
        value += '\t';
        break;
      case 'v':
        value += '\v';
        break;
      case 'x':
      case 'u':
      case 'U': {
        const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (!hex(p, n, &cp) || cp > 0x10FFFF)
          return error_at(p - 2, std::string("invalid \\") + e + " escape in string literal");
        py::append_utf8(&value, cp);
        p += size_t(n);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          cp = uint32_t(e - '0');
          for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k)
            cp = cp * 8 + uint32_t(src_[p++] - '0');
          py::append_utf8(&value, cp);
        } else {
          value += '\\';  // unknown escapes stay as written, as in Python
          value += e;
        }
    }
  }
  push(TokenKind::kString, start, std::move(value));
  *pos = p + 1;
  return Status::Ok();
}

// jinja2 normalises \r\n and \r to \n and, without keep_trailing_newline, drops one
// trailing newline of the template.
std::string normalize(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

StatusOr<std::vector<Token>> tokenize(std::string_view source) {
  Lexer lexer(normalize(source));
  return lexer.run();
}

}  // namespace muse::chat
