// Hostile templates: every render is bounded (loop iterations, output bytes, string bytes
// built, macro recursion, value nesting) and fails with an error instead of hanging or
// crashing; random token soup never crashes the lexer, parser or interpreter.
#include <gtest/gtest.h>

#include <random>

#include "jinja_test_util.h"

namespace muse::chat {
namespace {

using nlohmann::ordered_json;
using testing::error;
using testing::frozen_options;

RenderOptions small_limits() {
  RenderOptions o = frozen_options();
  o.limits.max_loop_iterations = 10000;
  o.limits.max_output_bytes = 1 << 16;
  o.limits.max_work_bytes = 1 << 20;
  o.limits.max_call_depth = 20;
  return o;
}

TEST(JinjaLimits, LoopIterationsAreCapped) {
  const std::string e =
      error("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", {},
            small_limits());
  EXPECT_NE(e.find("loop iterations"), std::string::npos) << e;
}

TEST(JinjaLimits, OutputAndStringBytesAreCapped) {
  EXPECT_NE(error("{% for i in range(10000) %}{{ 'x' * 100 }}{% endfor %}", {}, small_limits())
                .find("output exceeds"),
            std::string::npos);
  EXPECT_NE(error("{{ 'x' * 10000000000 }}", {}, small_limits()), "");
  EXPECT_NE(error("{{ [1] * 1000000000 }}", {}, small_limits()), "");
  EXPECT_NE(error("{% set ns = namespace(s='x') %}{% for i in range(100) %}"
                  "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                  {}, small_limits()),
            "");
}

TEST(JinjaLimits, AmplifyingOperationsAreChargedBeforeTheyAllocate) {
  // Each of these would build far more text than the template's own strings.
  const char* amplifiers[] = {
      "{% set s = 'x' * 100000 %}{{ [s] * 10000 }}",
      "{{ ('y' * 100000).replace('', 'abcdefghij') }}",
      "{{ ('a\n' * 30000)|indent(1000) }}",
      "{{ [1]|batch(1000000000000, 0)|list|length }}",
      "{{ 'x'.center(100000000) }}",
      "{% set ns = namespace(v=[]) %}{% for i in range(200) %}{% set ns.v = [ns.v, ns.v] %}"
      "{% endfor %}{{ ns.v|tojson(indent=1000) }}",
  };
  for (const char* src : amplifiers) EXPECT_NE(error(src, {}, small_limits()), "") << src;
  // Iterating a very long string would need one value per character.
  EXPECT_NE(error("{% for c in 'x' * 2000000 %}{% endfor %}").find("too long to iterate"),
            std::string::npos);
}

TEST(JinjaLimits, MacroRecursionIsCapped) {
  EXPECT_NE(error("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", {}, small_limits())
                .find("RecursionError"),
            std::string::npos);
  // The default limit also holds (and the stack survives it).
  EXPECT_NE(error("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}").find("RecursionError"),
            std::string::npos);
}

TEST(JinjaLimits, ValueNestingIsCapped) {
  EXPECT_NE(error("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}"
                  "{% set ns.x = [ns.x] %}{% endfor %}")
                .find("nests deeper"),
            std::string::npos);
}

TEST(JinjaLimits, SharedStructureCannotExplodeTraversals) {
  // [v, v] nested 200 times is 200 small lists but 2^200 paths for == or repr to walk.
  EXPECT_NE(error("{% set ns = namespace(v=[], w=[]) %}{% for i in range(200) %}"
                  "{% set ns.v = [ns.v, ns.v] %}{% set ns.w = [ns.w, ns.w] %}{% endfor %}"
                  "{{ ns.v == ns.w }}")
                .find("counting repeats"),
            std::string::npos);
}

TEST(JinjaLimits, SelfReferencingNamespaceRendersAndIsReleased) {
  // Printed with Python's recursion marker. Under ASan this also checks that the cycle is
  // freed when the render ends.
  EXPECT_EQ(testing::text("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"),
            "<Namespace {'me': <Namespace {...}>}>");
}

TEST(JinjaLimits, RandomTokenSoupNeverCrashes) {
  const char* pieces[] = {
      "{{",          "}}",        "{%",       "%}",          "{#",    "#}",       "{%-",
      "-%}",         "{{-",       "-}}",      " if ",        " for ", " in ",     " endif ",
      " endfor ",    " else ",    " elif ",   " set ",       " = ",   " macro ",  " endmacro ",
      " call ",      " endcall ", " filter ", " endfilter ", " raw ", " endraw ", "x",
      "y",           "ns",        "loop",     "(",           ")",     "[",        "]",
      "{",           "}",         ",",        ":",           ".",     "|",        "~",
      "+",           "-",         "*",        "/",           "//",    "%",        "**",
      "==",          "<",         " not ",    " and ",       " or ",  " is ",     "defined",
      "'s'",         "\"t\"",     "1",        "2.5",         "none",  "true",     "range(3)",
      "namespace()", "tojson",    "items",    "messages",    "\n",    "  ",       "é",
      "\\",          "'",         "\"",       "recursive",   "break", "continue", "caller()",
      "m()"};
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1), len(1, 40);
  const ordered_json vars = {
      {"messages", ordered_json::array({{{"role", "user"}, {"content", "hi"}}})}, {"x", 3}};
  int rendered = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string src;
    const size_t n = len(rng);
    for (size_t k = 0; k < n; ++k) src += pieces[pick(rng)];
    StatusOr<std::string> r = testing::render(src, vars, small_limits());
    rendered += r.ok();
  }
  EXPECT_GT(rendered, 0);
}

}  // namespace
}  // namespace muse::chat
