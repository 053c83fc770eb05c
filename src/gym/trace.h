// Writes a gym item's thinking one line at a time in the forms the checkers can re-verify
// (docs/gym.md, "Trace lines"):
//   step      "a op b = c", "max(a, b) = c", "a < b"    (optionally "Label: " first)
//   rewrite   "Now: 12 * 3 + 8"                         (normal and verbose only)
//   check     "Check: c - b = a. Correct."              (verbose only: the inverse operation)
// Verbosity changes the wording, never the operations, so every style reaches the same answer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace muse::gym {

enum Verbosity { kTerse = 0, kNormal = 1, kVerbose = 2 };

// "<", ">" or "=": how `a` relates to `b`.
std::string_view relation(int64_t a, int64_t b);

class Trace {
 public:
  explicit Trace(int verbosity) : verbosity_(verbosity) {}
  int verbosity() const { return verbosity_; }
  int steps() const { return steps_; }

  // Appends "a op b = c" (op one of + - * /; `/` only when exact) and returns c. `label`
  // ("After buying") is shown from kNormal on; `lead` ("4 = 4") is written before the
  // equation with ", " in every style. kVerbose adds the inverse check.
  int64_t op(int64_t a, char op, int64_t b, std::string_view label = {},
             std::string_view lead = {});
  // "max(a, b) = c" / "min(a, b) = c"; kVerbose adds "Check: c > other. Correct.".
  int64_t extreme(bool is_max, int64_t a, int64_t b, std::string_view label = {});
  // "a < b" (or > or =) as a step; kVerbose adds the same relation read the other way.
  void compare(int64_t a, int64_t b);

  void step(std::string line);                     // a counted line, as given
  void note(std::string line, int min_verbosity);  // an uncounted line, shown from a style on

  // "<think>\n" + lines + "\n</think>\n\nAnswer: " + answer.
  std::string finish(std::string_view answer) const;

 private:
  std::string labelled(std::string_view label, std::string body) const;
  int verbosity_;
  int steps_ = 0;
  std::vector<std::string> lines_;
};

// Numbers as lines show them: "3 5 8 9".
std::string join_numbers(const std::vector<int64_t>& v);

}  // namespace muse::gym
