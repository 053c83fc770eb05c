// arith: "What is (17 - 5) * 3 + 48 / 6?" evaluated one operation per line, innermost
// parentheses first, products before sums, left before right. Levels grow the operation
// count and the numbers; products always keep one operand at most 9, so each line is a
// times-table step or a carry chain, never a long multiplication.
#include "gym/families.h"

namespace muse::gym {
namespace {

ExprLimits limits(Level level) {
  switch (level) {
    case Level::kEasy:
      return {.ops_min = 1, .ops_max = 2, .max_leaf = 20, .max_factor = 9, .max_value = 100};
    case Level::kMedium:
      return {.ops_min = 2,
              .ops_max = 3,
              .max_leaf = 50,
              .max_factor = 9,
              .max_value = 500,
              .max_quotient = 12};
    case Level::kHard:
      break;
  }
  return {.ops_min = 3,
          .ops_max = 5,
          .max_leaf = 99,
          .max_factor = 9,
          .max_value = 999,
          .max_quotient = 20};
}

}  // namespace

Problem make_arith(Level level, Rng& rng, int verbosity) {
  const Expr e = Expr::random(rng, limits(level));
  Trace trace(verbosity);
  const int64_t value = e.evaluate(trace, /*rewrite=*/true);
  const std::string answer = std::to_string(value);
  return {.question = "What is " + e.text() + "?",
          .answer = answer,
          .trace = trace.finish(answer),
          .steps = trace.steps()};
}

}  // namespace muse::gym
