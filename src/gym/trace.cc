// Trace lines. The verbose checks use the inverse operation rather than repeating the
// step, so a re-check is a real second computation (and the excess that thought compression
// is meant to learn to drop).
#include "gym/trace.h"

#include <algorithm>

namespace muse::gym {
namespace {

std::string equation(int64_t a, char op, int64_t b, int64_t c) {
  return std::to_string(a) + " " + op + " " + std::to_string(b) + " = " + std::to_string(c);
}

std::string check_line(std::string body) { return "Check: " + body + ". Correct."; }

}  // namespace

std::string_view relation(int64_t a, int64_t b) { return a < b ? "<" : a > b ? ">" : "="; }

std::string join_numbers(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s.append(s.empty() ? "" : " ").append(std::to_string(x));
  return s;
}

std::string Trace::labelled(std::string_view label, std::string body) const {
  if (label.empty() || verbosity_ < kNormal) return body;
  return std::string(label) + ": " + body;
}

int64_t Trace::op(int64_t a, char op, int64_t b, std::string_view label, std::string_view lead) {
  int64_t c = 0;
  std::string inverse;
  switch (op) {
    case '+':
      c = a + b;
      inverse = equation(c, '-', b, a);
      break;
    case '-':
      c = a - b;
      inverse = equation(c, '+', b, a);
      break;
    case '*': {
      c = a * b;
      // Divide by the small factor: "366 / 3 = 122" is a short division, "366 / 122" is not.
      const int64_t small = std::min(a, b), large = std::max(a, b);
      inverse = small != 0 ? equation(c, '/', small, large) : equation(a, '*', b, c);
      break;
    }
    default:  // '/': the generators only divide exactly
      c = a / b;
      inverse = equation(c, '*', b, a);
      break;
  }
  std::string body = equation(a, op, b, c);
  if (!lead.empty()) body = std::string(lead) + ", " + body;
  step(labelled(label, body));
  if (verbosity_ >= kVerbose) lines_.push_back(check_line(inverse));
  return c;
}

int64_t Trace::extreme(bool is_max, int64_t a, int64_t b, std::string_view label) {
  const int64_t c = is_max ? std::max(a, b) : std::min(a, b);
  const int64_t other = c == a ? b : a;
  step(labelled(label, std::string(is_max ? "max(" : "min(") + std::to_string(a) + ", " +
                           std::to_string(b) + ") = " + std::to_string(c)));
  if (verbosity_ >= kVerbose) {
    lines_.push_back(check_line(std::to_string(c) + " " + std::string(relation(c, other)) + " " +
                                std::to_string(other)));
  }
  return c;
}

void Trace::compare(int64_t a, int64_t b) {
  step(std::to_string(a) + " " + std::string(relation(a, b)) + " " + std::to_string(b));
  if (verbosity_ >= kVerbose) {
    lines_.push_back(check_line(std::to_string(b) + " " + std::string(relation(b, a)) + " " +
                                std::to_string(a)));
  }
}

void Trace::step(std::string line) {
  lines_.push_back(std::move(line));
  ++steps_;
}

void Trace::note(std::string line, int min_verbosity) {
  if (verbosity_ >= min_verbosity) lines_.push_back(std::move(line));
}

std::string Trace::finish(std::string_view answer) const {
  std::string s = "<think>\n";
  for (const std::string& line : lines_) s += line + "\n";
  return s + "</think>\n\nAnswer: " + std::string(answer);
}

}  // namespace muse::gym
