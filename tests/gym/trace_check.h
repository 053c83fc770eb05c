// An independent reader of gym items for the tests: it re-verifies every line of a trace
// (each claim "a op b = c", "max(a, b) = c", "a < b < c", each "Now:" rewrite, each
// "insert x: list") and solves arith, list and compare questions from their text alone.
// It shares no code with src/gym, so a generator bug cannot hide behind its own parser.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gym/gym.h"

namespace muse::testing {

// Integer expressions with + - * / (exact only), parentheses, max(a, b) and min(a, b).
class ExprReader {
 public:
  explicit ExprReader(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  int ops() const { return ops_; }
  bool done() {
    skip();
    return i_ == s_.size();
  }
  bool eat(std::string_view t) {
    skip();
    if (s_.substr(i_).starts_with(t)) return i_ += t.size(), true;
    return false;
  }
  int64_t expr() {
    int64_t v = term();
    for (;;) {
      if (eat("+")) {
        v += term(), ++ops_;
      } else if (eat("-")) {
        v -= term(), ++ops_;
      } else {
        return v;
      }
    }
  }

 private:
  void skip() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  int64_t term() {
    int64_t v = atom();
    for (;;) {
      if (eat("*")) {
        v *= atom(), ++ops_;
      } else if (eat("/")) {
        const int64_t d = atom();
        ++ops_;
        if (d == 0 || v % d != 0) return ok_ = false, 0;
        v /= d;
      } else {
        return v;
      }
    }
  }
  int64_t atom() {
    if (eat("(")) {
      const int64_t v = expr();
      if (!eat(")")) ok_ = false;
      return v;
    }
    for (std::string_view fn : {"max(", "min("}) {
      if (!eat(fn)) continue;
      const int64_t a = expr();
      if (!eat(",")) ok_ = false;
      const int64_t b = expr();
      if (!eat(")")) ok_ = false;
      ++ops_;
      return fn == "max(" ? std::max(a, b) : std::min(a, b);
    }
    skip();
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    if (i_ == start) return ok_ = false, 0;
    return std::stoll(std::string(s_.substr(start, i_ - start)));
  }

  std::string_view s_;
  size_t i_ = 0;
  int ops_ = 0;
  bool ok_ = true;
};

inline std::optional<int64_t> eval_expr(std::string_view s) {
  ExprReader r(s);
  const int64_t v = r.expr();
  if (!r.ok() || !r.done()) return std::nullopt;
  return v;
}

inline std::vector<int64_t> numbers(std::string_view s) {
  std::vector<int64_t> v;
  std::istringstream in{std::string(s)};
  for (int64_t x; in >> x;) v.push_back(x);
  return v;
}

// One clause: expressions of at most one operation each joined by relations, all true.
inline bool claim_holds(std::string_view clause) {
  ExprReader r(clause);
  const auto side = [&](int64_t* v) {
    const int before = r.ops();
    *v = r.expr();
    return r.ops() - before <= 1;
  };
  int64_t left = 0, right = 0;
  if (!side(&left)) return false;
  int relations = 0;
  while (!r.done()) {
    std::string_view rel;  // longest first, so "<=" is not read as "<"
    for (std::string_view t : {"!=", "<=", ">=", "=", "<", ">"}) {
      if (r.eat(t)) {
        rel = t;
        break;
      }
    }
    if (rel.empty() || !side(&right)) return false;
    const bool holds = rel == "="    ? left == right
                       : rel == "!=" ? left != right
                       : rel == "<"  ? left < right
                       : rel == ">"  ? left > right
                       : rel == "<=" ? left <= right
                                     : left >= right;
    if (!holds) return false;
    left = right, ++relations;
  }
  return r.ok() && relations > 0;
}

// Splits on ", " outside parentheses ("max(4, 9) = 9" is one clause).
inline std::vector<std::string_view> clauses(std::string_view s) {
  std::vector<std::string_view> out;
  size_t from = 0;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    depth += s[i] == '(' ? 1 : s[i] == ')' ? -1 : 0;
    if (depth == 0 && s.substr(i).starts_with(", ")) {
      out.push_back(s.substr(from, i - from));
      from = i + 2;
    }
  }
  out.push_back(s.substr(from));
  return out;
}

// "" when every line of `item.trace` checks out, else the first bad line and why.
inline std::string verify_trace(const GymItem& item) {
  const std::string head = "<think>\n", tail = "</think>\n\nAnswer: " + item.answer;
  const std::string& t = item.trace;
  if (!t.starts_with(head) || !t.ends_with(tail)) return "bad frame: " + t;
  const std::string body = t.substr(head.size(), t.size() - head.size() - tail.size());
  if (body.empty() || body.back() != '\n') return "no lines";
  std::vector<int64_t> sorted;  // the insertion state of a sort trace
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    std::string_view s = line;
    if (s.starts_with("Now: ")) {
      if (eval_expr(s.substr(5)) != std::stoll(item.answer))
        return "rewrite changes value: " + line;
      continue;
    }
    if (s.starts_with("insert ")) {
      const size_t colon = s.find(": ");
      if (colon == std::string_view::npos) return "bad insert: " + line;
      const std::vector<int64_t> x = numbers(s.substr(7, colon - 7)),
                                 now = numbers(s.substr(colon + 2));
      if (x.size() != 1) return "bad insert: " + line;
      if (sorted.empty() && now.size() == 2) {  // terse traces start from the first element
        sorted = now;
        const auto it = std::find(sorted.begin(), sorted.end(), x[0]);
        if (it == sorted.end()) return "inserted number missing: " + line;
        sorted.erase(it);
      }
      sorted.insert(std::upper_bound(sorted.begin(), sorted.end(), x[0]), x[0]);
      if (now != sorted) return "wrong insertion: " + line;
      continue;
    }
    if (s.starts_with("Check: ")) {
      if (!s.ends_with(". Correct.")) return "bad check: " + line;
      s = s.substr(7, s.size() - 7 - 10);
    }
    const size_t colon = s.find(": ");
    if (!s.empty() && std::isalpha(static_cast<unsigned char>(s[0])) &&
        colon != std::string_view::npos) {
      s = s.substr(colon + 2);  // a label
    }
    for (std::string_view clause : clauses(s))
      if (!claim_holds(clause)) return "false or unreadable: " + line;
    // A chain of three or more plain numbers ("17 < 33 < 41") states the sorted answer.
    std::string plain(s);
    for (char& c : plain) c = (c == '<' || c == '=' || c == '>') ? ' ' : c;
    const std::vector<int64_t> chain = numbers(plain);
    if (plain.find_first_not_of("0123456789 ") == std::string::npos && chain.size() >= 3 &&
        chain != numbers(item.answer))
      return "chain is not the answer: " + line;
  }
  return "";
}

// The answer computed from the question text alone (arith, list, compare), or nullopt.
inline std::optional<std::string> solve(const GymItem& item) {
  std::string_view q = item.question;
  const auto join = [](std::vector<int64_t> v) {
    std::string s;
    for (int64_t x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
    return s;
  };
  const auto between = [&](std::string_view a, std::string_view b) {
    const size_t i = q.find(a) + a.size();
    return q.substr(i, q.rfind(b) - i);
  };
  if (q.starts_with("What is the ")) {
    const bool sum = q.starts_with("What is the sum of ");
    const std::vector<int64_t> v = numbers(between(sum ? " of " : " in ", "?"));
    if (q.find("largest") != std::string_view::npos)
      return std::to_string(*std::max_element(v.begin(), v.end()));
    if (q.find("smallest") != std::string_view::npos)
      return std::to_string(*std::min_element(v.begin(), v.end()));
    int64_t total = 0;
    for (int64_t x : v) total += x;
    return std::to_string(total);
  }
  if (q.starts_with("What is ")) return std::to_string(*eval_expr(between("What is ", "?")));
  if (q.starts_with("How many times does ")) {
    const int64_t target = numbers(between("does ", " appear"))[0];
    const std::vector<int64_t> v = numbers(between(" in ", "?"));
    return std::to_string(std::count(v.begin(), v.end(), target));
  }
  if (q.starts_with("Sort ") || q.starts_with("Order ")) {
    std::vector<int64_t> v = numbers(q.substr(q.find(": ") + 2));
    std::sort(v.begin(), v.end());
    return join(v);
  }
  if (q.starts_with("Which is ")) {
    const int64_t a = *eval_expr(between(": ", " or ")), b = *eval_expr(between(" or ", "?"));
    return std::to_string(q.find("larger") != std::string_view::npos ? std::max(a, b)
                                                                     : std::min(a, b));
  }
  if (q.starts_with("Is ")) {
    const bool less = q.find(" < ") != std::string_view::npos;
    const int64_t a = *eval_expr(between("Is ", less ? " < " : " > ")),
                  b = *eval_expr(between(less ? " < " : " > ", "?"));
    return (less ? a < b : a > b) ? "yes" : "no";
  }
  return std::nullopt;  // word problems: their lines are verified, not re-read
}

}  // namespace muse::testing
