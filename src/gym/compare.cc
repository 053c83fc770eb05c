// compare: which of two is larger or smaller, yes/no questions on `<` and `>`, ordering
// three or four numbers, and the same on expressions ("Is 13 * 4 + 5 > 7 * 8?"). Expressions
// are evaluated first, one operation per line, then a single relation line decides.
#include <algorithm>
#include <optional>

#include "gym/families.h"

namespace muse::gym {
namespace {

std::string num(int64_t v) { return std::to_string(v); }

Problem finish(std::string question, const std::string& answer, const Trace& trace) {
  return {.question = std::move(question),
          .answer = answer,
          .trace = trace.finish(answer),
          .steps = trace.steps()};
}

// Distinct numbers in [1, max_value].
std::vector<int64_t> distinct(Rng& rng, int n, int64_t max_value) {
  std::vector<int64_t> v;
  while (int(v.size()) < n) {
    const int64_t x = rng.uniform(1, max_value);
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  }
  return v;
}

// Insertion by comparisons against the sorted prefix from its largest end.
Problem order(Rng& rng, Trace& trace, int n) {
  const std::vector<int64_t> v = distinct(rng, n, 999);
  std::vector<int64_t> sorted = {v[0]};
  for (size_t i = 1; i < v.size(); ++i) {
    size_t at = sorted.size();
    while (at > 0) {
      trace.compare(v[i], sorted[at - 1]);
      if (v[i] > sorted[at - 1]) break;
      --at;
    }
    sorted.insert(sorted.begin() + int64_t(at), v[i]);
  }
  std::string chain = num(sorted[0]);
  for (size_t i = 1; i < sorted.size(); ++i) chain += " < " + num(sorted[i]);
  trace.note(chain, kTerse);
  return finish("Order from smallest to largest: " + join_numbers(v), join_numbers(sorted), trace);
}

// A side of a comparison: an expression (evaluated in the trace) or a plain number.
struct Side {
  std::string text;
  int64_t value = 0;
  std::optional<Expr> expr;
};

Side expression(Rng& rng, const ExprLimits& limits) {
  Expr e = Expr::random(rng, limits);
  return {.text = e.text(), .value = e.value(), .expr = std::move(e)};
}

Side number_near(Rng& rng, int64_t near) {
  int64_t x = 0;
  do {
    x = near + rng.uniform(-20, 20);
  } while (x < 1 || x == near);
  return {.text = num(x), .value = x, .expr = std::nullopt};
}

int64_t evaluate(const Side& s, Trace& trace, std::string_view label) {
  return s.expr ? s.expr->evaluate(trace, /*rewrite=*/false, label) : s.value;
}

}  // namespace

Problem make_compare(Level level, Rng& rng, int verbosity) {
  Trace trace(verbosity);
  const int kind = int(rng.uniform(0, 2));
  if (level == Level::kEasy) {
    const std::vector<int64_t> v = distinct(rng, 2, 99);
    const int64_t a = v[0], b = v[1];
    trace.compare(a, b);
    if (kind == 0 || kind == 1) {
      const bool larger = kind == 0;
      return finish(std::string("Which is ") + (larger ? "larger" : "smaller") + ": " + num(a) +
                        " or " + num(b) + "?",
                    num(larger ? std::max(a, b) : std::min(a, b)), trace);
    }
    const bool less = rng.percent(50);
    return finish("Is " + num(a) + (less ? " < " : " > ") + num(b) + "?",
                  (less ? a < b : a > b) ? "yes" : "no", trace);
  }
  if (kind == 0) return order(rng, trace, level == Level::kMedium ? 3 : 4);

  const bool hard = level == Level::kHard;
  const ExprLimits limits =
      hard ? ExprLimits{.ops_min = 1,
                        .ops_max = 2,
                        .max_leaf = 99,
                        .max_value = 999,
                        .max_quotient = 20}
           : ExprLimits{
                 .ops_min = 1, .ops_max = 1, .max_leaf = 50, .max_value = 500, .max_quotient = 12};
  const Side left = expression(rng, limits);
  Side right = hard ? expression(rng, limits) : number_near(rng, left.value);
  for (int i = 0; i < 100 && right.value == left.value; ++i) right = expression(rng, limits);
  const int64_t a = evaluate(left, trace, "Left"), b = evaluate(right, trace, "Right");
  trace.compare(a, b);
  if (kind == 1) {
    return finish("Which is larger: " + left.text + " or " + right.text + "?", num(std::max(a, b)),
                  trace);
  }
  const bool less = rng.percent(50);
  return finish("Is " + left.text + (less ? " < " : " > ") + right.text + "?",
                (less ? a < b : a > b) ? "yes" : "no", trace);
}

}  // namespace muse::gym
