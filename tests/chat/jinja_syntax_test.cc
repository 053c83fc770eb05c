// Lexing and whitespace control: trim_blocks / lstrip_blocks exactly as jinja2 applies them,
// `-` and `+` modifiers, comments, raw blocks, newline normalisation, and syntax errors that
// name the line and column.
#include <gtest/gtest.h>

#include "chat/parser.h"
#include "jinja_test_util.h"

namespace muse::chat {
namespace {

using testing::error;
using testing::text;

TEST(JinjaWhitespace, TrimBlocksEatsOneNewlineAfterABlockTag) {
  EXPECT_EQ(text("{% if true %}\nx{% endif %}"), "x");
  EXPECT_EQ(text("{% if true %}\n\nx{% endif %}"), "\nx");
  // Not after a variable tag.
  EXPECT_EQ(text("{{ 'a' }}\nb"), "a\nb");
}

TEST(JinjaWhitespace, LstripBlocksRemovesIndentationBeforeBlockTagsOnly) {
  EXPECT_EQ(text("  {% if true %}x{% endif %}"), "x");
  EXPECT_EQ(text("  {{ 'x' }}"), "  x");
  EXPECT_EQ(text("<ul>\n  {% for i in [1, 2] %}\n  <li>{{ i }}</li>\n  {% endfor %}\n</ul>"),
            "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>");
  // Text before the tag on the same line is not whitespace-only: nothing is stripped.
  EXPECT_EQ(text("a  {% if true %}b{% endif %}"), "a  b");
  // After a tag that did not end its line, the indentation is not at a line start.
  EXPECT_EQ(text("{% if true %}  {% endif %}x"), "  x");
}

TEST(JinjaWhitespace, MinusStripsAndPlusPreserves) {
  EXPECT_EQ(text("a  \n {%- if true -%} \n b{% endif %}"), "ab");
  EXPECT_EQ(text("{% for i in [1, 2] -%}\n  {{ i }}\n{% endfor %}"), "1\n2\n");
  EXPECT_EQ(text("{{- 'a' -}}   \n\n  {{- 'b' }}"), "ab");
  EXPECT_EQ(text("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(text("{% if true +%}\nx{% endif %}"), "\nx");
  // `{%-` strips only before the tag; the text after `%}` keeps what trim_blocks leaves.
  EXPECT_EQ(text("{%- if true %}  \n  x{% endif %}"), "  \n  x");
}

TEST(JinjaWhitespace, CommentsAndRaw) {
  EXPECT_EQ(text("a{# c #}b"), "ab");
  EXPECT_EQ(text("a\n  {# c #}\nb"), "a\nb");
  EXPECT_EQ(text("a {#- c -#} b"), "ab");
  EXPECT_EQ(text("{% raw %}{{ x }}{% if %}{% endraw %}"), "{{ x }}{% if %}");
  EXPECT_EQ(text("a {%- raw -%}  {{ x }}  {%- endraw -%} b"), "a{{ x }}b");
}

TEST(JinjaWhitespace, NewlinesAreNormalisedAndOneTrailingNewlineDropped) {
  EXPECT_EQ(text("x\n"), "x");
  EXPECT_EQ(text("x\n\n"), "x\n");
  EXPECT_EQ(text("a\r\nb\rc"), "a\nb\nc");
}

TEST(JinjaWhitespace, UnicodeTextPassesThrough) {
  EXPECT_EQ(text("Ünïcödé 🦙 {{ 'é' }}"), "Ünïcödé 🦙 é");
}

TEST(JinjaLiterals, NumbersStringsAndEscapes) {
  EXPECT_EQ(text("{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 1.5e3 }} {{ 2.50 }}"),
            "31 15 5 1000 1500.0 2.5");
  EXPECT_EQ(text("{{ 'a' \"b\" }}"), "ab");  // adjacent strings concatenate
  EXPECT_EQ(text("{{ '\\u00e9\\x41\\t|\\\\|\\q' }}"),
            "\xC3\xA9"
            "A\t|\\|\\q");
  EXPECT_EQ(text("{{ {'a': {'b': 1}} }}"), "{'a': {'b': 1}}");  // `}}` inside a dict literal
}

TEST(JinjaSyntaxErrors, NameLineAndColumn) {
  StatusOr<NodeList> r = parse_template("line one\n{% if x %}\n  {{ x | }}\n{% endif %}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 3, column"), std::string::npos) << r.status().message();

  r = parse_template("{% for x in y %}no end");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("endfor"), std::string::npos) << r.status().message();
}

TEST(JinjaSyntaxErrors, MalformedTemplatesFailCleanly) {
  const char* bad[] = {
      "{% if %}",
      "{% if x %}",
      "{% endif %}",
      "{{ x ",
      "{{ }}",
      "{% for x in %}{% endfor %}",
      "{{ x | }}",
      "{{ (1 }}",
      "{{ [1, 2 }}",
      "{{ {'a' 1} }}",
      "{{ 'abc }}",
      "{# unterminated",
      "{% raw %} no end",
      "{% set %}",
      "{% set 1 = 2 %}",
      "{% macro m( %}",
      "{% foo %}",
      "{% include 'x' %}",
      "{{ 1 +* 2 }}",
      "{{ a b }}",
      "{% endfor %}",
      "}}{{",
      "{{ 'a' }} }} {{",
      "{% break %}",
      "{{ x[] }}",
      "{% macro m(a=1, b) %}{% endmacro %}",
      "{{ f(a=1, 2) }}",
      "{% do x %}",
      "{{ '\\x4' }}",
      "{{ x|nosuchfilter }}",
      "{{ x is nosuchtest }}",
  };
  for (const char* src : bad) EXPECT_NE(error(src), "") << src;
}

TEST(JinjaSyntaxErrors, UnknownFilterInsideIfFailsOnlyWhenReached) {
  // jinja2 defers unknown filters and tests inside `if` to render time.
  EXPECT_EQ(text("{% if false %}{{ x|nosuchfilter }}{% endif %}ok"), "ok");
  EXPECT_NE(error("{% if true %}{{ 1|nosuchfilter }}{% endif %}"), "");
}

TEST(JinjaSyntaxErrors, BreakOutsideLoopIsRejectedEvenInMacroInsideLoop) {
  EXPECT_NE(error("{% for x in y %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}"), "");
}

TEST(JinjaSyntaxErrors, DeepNestingIsAnErrorNotACrash) {
  const std::string parens = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_NE(error(parens).find("too deeply"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if 1 %}";
  EXPECT_NE(error(ifs).find("too deeply"), std::string::npos);
  std::string nots = "{{ ";
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_NE(error(nots + "1 }}").find("too deeply"), std::string::npos);
}

}  // namespace
}  // namespace muse::chat
