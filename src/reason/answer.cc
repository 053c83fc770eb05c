// Answer extractors and the vote key. Every scan is a forward or backward pass over the
// text (line by line for the line-based formats), so a pathological megabyte of `\boxed{`
// or `####` costs one pass, not one pass per marker.
#include "reason/answer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace muse {
namespace {

constexpr size_t npos = std::string_view::npos;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Calls `fn(line, offset of the line in s)` for each line of `s` (without its '\n'), in order.
template <class Fn>
void for_each_line(std::string_view s, Fn fn) {
  size_t begin = 0;
  while (begin <= s.size()) {
    const size_t nl = s.find('\n', begin);
    const size_t end = nl == npos ? s.size() : nl;
    fn(s.substr(begin, end - begin), begin);
    if (nl == npos) break;
    begin = nl + 1;
  }
}

// Offset of the `}` closing the `{` at `open`, counting braces plainly, or npos when it is
// not closed before `limit`.
size_t closing_brace(std::string_view s, size_t open, size_t limit) {
  int64_t depth = 0;
  for (size_t i = open; i < std::min(limit, s.size()); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return npos;
}

std::optional<std::string> find_boxed(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> hits;  // (offset, macro length)
  for (std::string_view macro : {std::string_view("\\boxed"), std::string_view("\\fbox")}) {
    for (size_t p = s.find(macro); p != npos; p = s.find(macro, p + 1)) {
      hits.emplace_back(p, macro.size());
    }
  }
  std::sort(hits.begin(), hits.end());
  // From the last box back. A box that never closes contains every later `{` it passes, so
  // an earlier box can close only before the start of the later unclosed one: bounding the
  // scans there keeps the whole search linear.
  size_t limit = s.size();
  for (auto it = hits.rbegin(); it != hits.rend(); ++it) {
    size_t open = it->first + it->second;
    while (open < s.size() && s[open] == ' ') ++open;
    if (open >= s.size() || s[open] != '{') continue;  // `\boxedtext`, not a box
    const size_t close = closing_brace(s, open, limit);
    if (close == npos) {
      limit = it->first;
      continue;
    }
    const std::string_view content = trim(s.substr(open + 1, close - open - 1));
    if (!content.empty()) return std::string(content);
  }
  return std::nullopt;
}

// End of the unsigned number starting at `i` (grammar in answer.h), or `i` when none does.
size_t scan_unsigned(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size() && is_digit(s[j])) ++j;
  const size_t int_digits = j - i;
  bool grouped = false;
  if (int_digits >= 1 && int_digits <= 3) {
    while (j + 3 < s.size() && s[j] == ',' && is_digit(s[j + 1]) && is_digit(s[j + 2]) &&
           is_digit(s[j + 3]) && (j + 4 == s.size() || !is_digit(s[j + 4]))) {
      j += 4;
      grouped = true;
    }
  }
  bool decimal = false;
  if (j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) {
    for (++j; j < s.size() && is_digit(s[j]);) ++j;
    decimal = true;
  }
  if (int_digits == 0 && !decimal) return i;
  if (int_digits > 0 && !grouped && !decimal && j + 1 < s.size() && s[j] == '/' &&
      is_digit(s[j + 1])) {
    for (++j; j < s.size() && is_digit(s[j]);) ++j;
  }
  return j;
}

// A `-` at `i` is a sign unless it follows something it could subtract from.
bool sign_allowed(std::string_view s, size_t i) {
  if (i == 0) return true;
  const char p = s[i - 1];
  return !(is_alpha(p) || is_digit(p) || p == '.' || p == ')' || p == ']' || p == '}');
}

std::optional<std::string> find_last_number(std::string_view s) {
  size_t best_begin = npos, best_end = npos;
  for (size_t i = 0; i < s.size();) {
    size_t end = i;
    if (s[i] == '-' && sign_allowed(s, i)) {
      end = scan_unsigned(s, i + 1);
      if (end == i + 1) end = i;
    } else if (is_digit(s[i]) || (s[i] == '.' && (i == 0 || !is_digit(s[i - 1])))) {
      end = scan_unsigned(s, i);
    }
    if (end > i) {
      best_begin = i, best_end = end;
      i = end;
    } else {
      ++i;
    }
  }
  if (best_begin == npos) return std::nullopt;
  return std::string(s.substr(best_begin, best_end - best_begin));
}

std::optional<std::string> canonical_number(std::string_view s);

bool is_numeric_answer(std::string_view s) {
  return canonical_number(normalize_answer(s)).has_value();
}

std::optional<std::string> find_hashes(std::string_view s, bool numeric_only) {
  std::optional<std::string> found;
  for_each_line(s, [&](std::string_view line, size_t) {
    const size_t p = line.rfind("####");
    if (p == npos) return;
    const std::string_view content = trim(line.substr(p + 4));
    if (content.empty() || (numeric_only && !is_numeric_answer(content))) return;
    found = std::string(content);
  });
  return found;
}

// Offset just past the last answer marker in a lowercased line, or npos.
size_t after_answer_marker(std::string_view lower) {
  for (size_t p = lower.rfind("answer"); p != npos;
       p = p == 0 ? npos : lower.rfind("answer", p - 1)) {
    size_t j = p + 6;
    while (j < lower.size() && (lower[j] == ' ' || lower[j] == '*')) ++j;
    if (j < lower.size() && lower[j] == ':') return j + 1;
    if (j > p + 6 && lower.substr(j, 2) == "is" &&
        (j + 2 == lower.size() || !is_alpha(lower[j + 2]))) {
      return j + 2;
    }
  }
  return npos;
}

std::string_view clean_answer_text(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == ':' || s.front() == '*')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (is_space(s.back()) || s.back() == '*')) s.remove_suffix(1);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '*')) s.remove_suffix(1);
  return s;
}

std::optional<std::string> find_answer_colon(std::string_view s) {
  std::string lower(s);
  for (char& c : lower) c = to_lower(c);
  std::optional<std::string> found;
  bool pending = false;  // a marker with nothing after it: the next non-empty line answers
  for_each_line(lower, [&](std::string_view lower_line, size_t begin) {
    const std::string_view line = s.substr(begin, lower_line.size());
    const size_t after = after_answer_marker(lower_line);
    if (after != npos) {
      const std::string_view content = clean_answer_text(line.substr(after));
      pending = content.empty();
      if (!pending) found = std::string(content);
    } else if (pending) {
      const std::string_view content = clean_answer_text(line);
      pending = content.empty();
      if (!pending) found = std::string(content);
    }
  });
  return found;
}

// Normalization helpers.

std::string_view strip_wrappers(std::string_view s) {
  for (;;) {
    const size_t before = s.size();
    s = trim(s);
    if (s.ends_with('.')) s.remove_suffix(1);
    if (s.starts_with("\\$")) {
      s.remove_prefix(2);
    } else if (s.starts_with('$')) {
      s.remove_prefix(1);
    }
    if (s.ends_with("\\$")) {
      s.remove_suffix(2);
    } else if (s.ends_with('$')) {
      s.remove_suffix(1);
    }
    if (s.size() >= 4 && ((s.starts_with("\\(") && s.ends_with("\\)")) ||
                          (s.starts_with("\\[") && s.ends_with("\\]")))) {
      s.remove_prefix(2);
      s.remove_suffix(2);
    }
    if (s.size() == before) return s;
  }
}

// Drops `\text{` and its matching `}` (and the other wrappers): one pass to match braces,
// one to copy.
std::string unwrap_macros(std::string_view s) {
  static constexpr std::array<std::string_view, 4> kMacros = {"\\text{", "\\textbf{", "\\mathrm{",
                                                              "\\mbox{"};
  std::vector<size_t> match(s.size(), npos), open;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{') open.push_back(i);
    if (s[i] == '}' && !open.empty()) {
      match[open.back()] = i;
      open.pop_back();
    }
  }
  std::vector<bool> drop(s.size(), false);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (drop[i]) continue;
    if (s[i] == '\\') {
      const auto it = std::find_if(kMacros.begin(), kMacros.end(), [&](std::string_view m) {
        return s.substr(i).starts_with(m) && match[i + m.size() - 1] != npos;
      });
      if (it != kMacros.end()) {
        drop[match[i + it->size() - 1]] = true;
        i += it->size() - 1;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  for (char c : trim(s)) {
    if (!is_space(c)) {
      out += c;
    } else if (out.back() != ' ') {  // `out` is non-empty: the trimmed text starts non-space
      out += ' ';
    }
  }
  return out;
}

std::string_view strip_leading_zeros(std::string_view digits) {
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  return digits;
}

std::optional<std::string> canonical_number(std::string_view s) {
  size_t i = 0;
  const bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) i = 1;
  if (i == s.size() || scan_unsigned(s, i) != s.size()) return std::nullopt;
  const std::string_view body = s.substr(i);
  std::string out;
  const size_t slash = body.find('/');
  if (slash != npos) {
    out = std::string(strip_leading_zeros(body.substr(0, slash))) + "/" +
          std::string(strip_leading_zeros(body.substr(slash + 1)));
  } else {
    const size_t dot = std::min(body.find('.'), body.size());
    std::string whole;
    for (char c : body.substr(0, dot)) {
      if (c != ',') whole += c;
    }
    const std::string_view digits = strip_leading_zeros(whole);
    out = digits.empty() ? std::string(1, '0') : std::string(digits);  // ".5" -> "0.5"
    std::string_view frac = dot < body.size() ? body.substr(dot + 1) : std::string_view();
    while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
    if (!frac.empty()) out.append(1, '.').append(frac);
  }
  const bool zero = out == "0" || out.starts_with("0/");
  if (negative && !zero) out.insert(out.begin(), '-');
  return out;
}

}  // namespace

StatusOr<AnswerFormat> parse_answer_format(std::string_view name) {
  if (name == "auto") return AnswerFormat::kAuto;
  if (name == "boxed") return AnswerFormat::kBoxed;
  if (name == "hashes" || name == "####") return AnswerFormat::kHashes;
  if (name == "answer") return AnswerFormat::kAnswerColon;
  if (name == "last-number") return AnswerFormat::kLastNumber;
  if (name == "exact") return AnswerFormat::kExact;
  return Errorf(
      "unknown answer format '%.*s' (expected auto, boxed, hashes or ####, answer, "
      "last-number or exact)",
      static_cast<int>(std::min<size_t>(name.size(), 64)), name.data());
}

std::string_view answer_format_name(AnswerFormat format) {
  switch (format) {
    case AnswerFormat::kAuto:
      return "auto";
    case AnswerFormat::kBoxed:
      return "boxed";
    case AnswerFormat::kHashes:
      return "hashes";
    case AnswerFormat::kAnswerColon:
      return "answer";
    case AnswerFormat::kLastNumber:
      return "last-number";
    case AnswerFormat::kExact:
      return "exact";
  }
  return "auto";
}

std::string_view after_think(std::string_view text) {
  static constexpr std::string_view kOpen = "<think>", kClose = "</think>";
  const size_t close = text.find(kClose);
  if (close == npos) return text;
  const std::string_view head = text.substr(0, close);
  if (trim(head).starts_with(kOpen) || head.find(kOpen) == npos) {
    return text.substr(close + kClose.size());
  }
  return text;
}

std::optional<std::string> extract_answer(std::string_view text, AnswerFormat format) {
  const std::string_view s = after_think(text);
  switch (format) {
    case AnswerFormat::kBoxed:
      return find_boxed(s);
    case AnswerFormat::kHashes:
      return find_hashes(s, /*numeric_only=*/false);
    case AnswerFormat::kAnswerColon:
      return find_answer_colon(s);
    case AnswerFormat::kLastNumber:
      return find_last_number(s);
    case AnswerFormat::kExact: {
      const std::string_view t = trim(s);
      if (t.empty()) return std::nullopt;
      return std::string(t);
    }
    case AnswerFormat::kAuto:
      break;
  }
  if (auto a = find_boxed(s)) return a;
  if (auto a = find_hashes(s, /*numeric_only=*/true)) return a;
  if (auto a = find_answer_colon(s)) return a;
  return find_last_number(s);
}

std::string normalize_answer(std::string_view answer) {
  // Lowering first changes no number and keeps the key a fixed point: "\TEXT{A}" lowered
  // last would become "\text{a}", which a second pass would unwrap.
  std::string lower(answer);
  for (char& c : lower) c = to_lower(c);
  std::string s = collapse_spaces(strip_wrappers(unwrap_macros(strip_wrappers(lower))));
  if (auto number = canonical_number(s)) return *number;
  return s;
}

}  // namespace muse
