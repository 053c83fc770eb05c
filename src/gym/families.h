// The task families behind gym.h, one file each (arith.cc, word.cc, list.cc, compare.cc),
// plus the integer expressions that arith and compare share. Each generator draws only from
// the `Rng` it is given, so an item is a pure function of its stream's seed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gym/rng.h"
#include "gym/trace.h"

namespace muse::gym {

enum class Level { kEasy = 0, kMedium = 1, kHard = 2 };

// What a family generator returns; gym.cc adds family, level and verbosity.
struct Problem {
  std::string question;
  std::string answer;  // normalized (gym.h)
  std::string trace;
  int steps = 0;
};

Problem make_arith(Level level, Rng& rng, int verbosity);
Problem make_word(Level level, Rng& rng, int verbosity);
Problem make_list(Level level, Rng& rng, int verbosity);
Problem make_compare(Level level, Rng& rng, int verbosity);

// Bounds that keep every operation one a tiny model can do in a line.
struct ExprLimits {
  int ops_min = 1, ops_max = 2;
  int64_t max_leaf = 20;     // leaves of + and - in [1, max_leaf]
  int64_t max_factor = 9;    // the smaller operand of every product is <= this
  int64_t max_value = 100;   // every intermediate value in [1, max_value]
  int64_t max_quotient = 0;  // 0: no division; else "q*d / d" with d in [2, 9], q in [2, this]
};

// A tree of + - * / over non-negative integers. The text has just the parentheses its
// tree needs, with a right operand of equal precedence always parenthesized, so reading it
// left to right with the usual precedence gives back the same tree (and the same steps).
class Expr {
 public:
  static Expr random(Rng& rng, const ExprLimits& limits);

  std::string text() const;
  int64_t value() const { return nodes_[size_t(root_)].value; }
  int ops() const;
  // Writes the operations to `trace` in evaluation order (innermost first, left before
  // right), each under `label` (normal and up); with `rewrite`, a "Now: <rest>" line after
  // each but the last (normal and up).
  int64_t evaluate(Trace& trace, bool rewrite, std::string_view label = {}) const;

 private:
  struct Node {
    char op = 0;  // 0 for a number
    int64_t value = 0;
    int left = -1, right = -1;
  };
  int build(Rng& rng, int ops, const ExprLimits& limits);
  void fill(Rng& rng, int node, bool small, const ExprLimits& limits);
  bool valid(const ExprLimits& limits);
  std::string render(int node, const std::vector<bool>& done) const;
  void visit(int node, Trace& trace, bool rewrite, std::string_view label,
             std::vector<bool>& done) const;

  std::vector<Node> nodes_;
  int root_ = 0;
};

}  // namespace muse::gym
