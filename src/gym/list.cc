// list: max, min, sum, count and sort on short lists written as "3 7 2 9". The trace walks
// the list one element per line (a running max, a running sum, a tally, an insertion into
// a sorted prefix), so each line needs only the previous line and the next element.
#include <algorithm>

#include "gym/families.h"

namespace muse::gym {
namespace {

struct Bounds {
  int len_min, len_max;
  int64_t max_value;
  int count_len_min, count_len_max;
  int64_t count_pool;  // count lists draw from [1, count_pool], so matches are common
  int sort_len;
};
Bounds bounds(Level level) {
  switch (level) {
    case Level::kEasy:
      return {3, 4, 9, 4, 5, 4, 3};
    case Level::kMedium:
      return {5, 6, 50, 6, 7, 5, 4};
    case Level::kHard:
      break;
  }
  return {7, 8, 99, 8, 10, 6, 6};
}

std::vector<int64_t> draw(Rng& rng, int len, int64_t max_value) {
  std::vector<int64_t> v(static_cast<size_t>(len));
  for (int64_t& x : v) x = rng.uniform(1, max_value);
  return v;
}

Problem finish(std::string question, const std::string& answer, const Trace& trace) {
  return {.question = std::move(question),
          .answer = answer,
          .trace = trace.finish(answer),
          .steps = trace.steps()};
}

}  // namespace

Problem make_list(Level level, Rng& rng, int verbosity) {
  const Bounds b = bounds(level);
  Trace trace(verbosity);
  switch (rng.uniform(0, 4)) {
    case 0:
    case 1: {  // largest / smallest: a running extreme
      const bool is_max = rng.percent(50);
      const auto v = draw(rng, int(rng.uniform(b.len_min, b.len_max)), b.max_value);
      int64_t cur = v[0];
      for (size_t i = 1; i < v.size(); ++i)
        cur = trace.extreme(is_max, cur, v[i], is_max ? "Running max" : "Running min");
      return finish(std::string("What is the ") + (is_max ? "largest" : "smallest") +
                        " number in " + join_numbers(v) + "?",
                    std::to_string(cur), trace);
    }
    case 2: {  // sum: a running total
      const auto v = draw(rng, int(rng.uniform(b.len_min, b.len_max)) - 1, b.max_value);
      int64_t cur = v[0];
      for (size_t i = 1; i < v.size(); ++i) cur = trace.op(cur, '+', v[i], "Running sum");
      return finish("What is the sum of " + join_numbers(v) + "?", std::to_string(cur), trace);
    }
    case 3: {  // count: a tally; the target is one of the elements, so the count is >= 1
      const auto v = draw(rng, int(rng.uniform(b.count_len_min, b.count_len_max)), b.count_pool);
      const int64_t target = v[size_t(rng.uniform(0, int64_t(v.size()) - 1))];
      const std::string t = std::to_string(target);
      int64_t count = 0;
      for (int64_t x : v) {
        if (x == target) {
          count = trace.op(count, '+', 1, {}, t + " = " + t);
        } else {
          trace.note(std::to_string(x) + " != " + t, kNormal);
        }
      }
      return finish("How many times does " + t + " appear in " + join_numbers(v) + "?",
                    std::to_string(count), trace);
    }
    default: {  // sort: insertion into a sorted prefix, one element per line
      const auto v = draw(rng, b.sort_len, b.max_value);
      std::vector<int64_t> sorted = {v[0]};
      trace.note("insert " + std::to_string(v[0]) + ": " + std::to_string(v[0]), kNormal);
      for (size_t i = 1; i < v.size(); ++i) {
        sorted.insert(std::upper_bound(sorted.begin(), sorted.end(), v[i]), v[i]);
        trace.step("insert " + std::to_string(v[i]) + ": " + join_numbers(sorted));
      }
      std::string chain = std::to_string(sorted[0]);
      for (size_t i = 1; i < sorted.size(); ++i)
        chain.append(" ")
            .append(relation(sorted[i - 1], sorted[i]))
            .append(" ")
            .append(std::to_string(sorted[i]));
      trace.note("Check: " + chain + ". Correct.", kVerbose);
      return finish("Sort from smallest to largest: " + join_numbers(v), join_numbers(sorted),
                    trace);
    }
  }
}

}  // namespace muse::gym
