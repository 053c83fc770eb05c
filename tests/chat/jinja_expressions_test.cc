// Expressions: Python value printing, arithmetic, comparisons, slicing, str/dict methods,
// filters, tests, `tojson`, Markup escaping, and jinja2's default Undefined semantics.
#include <gtest/gtest.h>

#include "jinja_test_util.h"

namespace muse::chat {
namespace {

using nlohmann::ordered_json;
using testing::error;
using testing::text;

TEST(JinjaValues, PrintLikePython) {
  EXPECT_EQ(text("{{ [1, 'a', none, true, false, 1.5] }}"), "[1, 'a', None, True, False, 1.5]");
  EXPECT_EQ(text("{{ {'k': 'v', 'n': [1, (2,)]} }}"), "{'k': 'v', 'n': [1, (2,)]}");
  EXPECT_EQ(text("{{ ('a', 1) }}|{{ () }}|{{ [] }}|{{ {} }}"), "('a', 1)|()|[]|{}");
  EXPECT_EQ(text("{{ \"it's\" }}|{{ [\"it's\"] }}"), "it's|[\"it's\"]");
  EXPECT_EQ(text("{{ 1.0 }} {{ 1e-5 }} {{ 1e16 }} {{ 1e15 }} {{ 0.1 + 0.2 }} {{ -0.0 }} {{ 1.5e300 "
                 "* 1e300 }}"),
            "1.0 1e-05 1e+16 1000000000000000.0 0.30000000000000004 -0.0 inf");
}

TEST(JinjaValues, ArithmeticLikePython) {
  EXPECT_EQ(text("{{ 1 + 2 }}|{{ 1 + 2.0 }}|{{ 7 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|"
                 "{{ 7 % -3 }}|{{ -7.5 % 2 }}|{{ 2 ** 10 }}|{{ 2 ** -2 }}|{{ true + 1 }}"),
            "3|3.0|3.5|3|-4|2|-2|0.5|1024|0.25|2");
  EXPECT_EQ(text("{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ 3 * 'x' }}|{{ [1, 2] + [3] }}"),
            "ababab|[1, 1]|xxx|[1, 2, 3]");
  // jinja2 quirks: `~` binds tighter than `+`, and `**` is left-associative.
  EXPECT_EQ(text("{{ 1 ~ 2 ~ 'a' }}|{{ 2 ** 3 ** 2 }}|{{ -1 ** 2 }}"), "12a|64|1");
  EXPECT_NE(error("{{ 1 ~ 2 + 3 }}"), "");
  EXPECT_NE(error("{{ 1 / 0 }}").find("ZeroDivisionError"), std::string::npos);
  EXPECT_NE(error("{{ 'a' + 1 }}").find("can only concatenate str"), std::string::npos);
  EXPECT_NE(error("{{ 10000000000 * 10000000000 }}").find("OverflowError"), std::string::npos);
  EXPECT_EQ(text("{{ '%s=%d, %.2f|%5s|' % ('x', 3, 1.5, 'ab') }}"), "x=3, 1.50|   ab|");
}

TEST(JinjaValues, ComparisonsAndMembership) {
  EXPECT_EQ(text("{{ 1 < 2 < 3 }}{{ 1 < 3 < 2 }}{{ 'b' in 'abc' }}{{ 3 not in [1, 2] }}"
                 "{{ 'k' in {'k': 1} }}{{ 1 == 1.0 }}{{ true == 1 }}{{ [1] == [1] }}"
                 "{{ {'a': 1} == {'a': 1} }}{{ 'abc' < 'abd' }}{{ [1, 2] < [1, 3] }}"),
            "TrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrue");
  EXPECT_NE(error("{{ 1 < 'a' }}").find("TypeError"), std::string::npos);
  EXPECT_NE(error("{{ 1 in none }}").find("not iterable"), std::string::npos);
  EXPECT_EQ(text("{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ not 1 }}|{{ 'a' if 1 > 2 else 'b' }}|"
                 "{{ 'x' if false }}|"),
            "x|y|False|b||");
}

TEST(JinjaValues, IndexingAndSlicingCountCodePoints) {
  EXPECT_EQ(
      text("{{ 'hello'[1:] }}|{{ 'hello'[::-1] }}|{{ [1, 2, 3, 4][1:3] }}|{{ [1, 2, 3][-1] }}|"
           "{{ 'héllo'[1:3] }}|{{ 'héllo'|length }}|{{ (1, 2)[0] }}|{{ [5, 6].1 }}"),
      "ello|olleh|[2, 3]|3|él|5|1|6");
  // An index out of range is undefined (prints empty), not an error; but slices bypass
  // jinja2's lenient getitem, so slicing None raises.
  EXPECT_EQ(text("{{ [1][5] }}|{{ 'ab'[9] }}"), "|");
  EXPECT_NE(error("{{ n[1:] }}", {{"n", nullptr}}).find("not subscriptable"), std::string::npos);
}

TEST(JinjaValues, StringAndDictMethods) {
  EXPECT_EQ(
      text("{{ ' a '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'x y  z'.split() }}|"
           "{{ 'a b c'.split(' ', 1) }}|{{ 'x.y.z'.rsplit('.', 1) }}|{{ 'xxhixx'.strip('x') }}|"
           "{{ '\\n\\nhi'.lstrip('\\n') }}|{{ 'Hi'.lower() }}{{ 'Hi'.upper() }}|"
           "{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'bc')) }}|"
           "{{ 'a-b'.replace('-', '+') }}|{{ 'abcb'.find('b') }}{{ 'abcb'.rfind('b') }}|"
           "{{ 'hello world'.title() }}|{{ '{} {name}'.format(1, name='n') }}"),
      "a|['a', 'b']|['x', 'y', 'z']|['a', 'b c']|['x.y', 'z']|hi|hi|hiHI|TrueTrue|a+b|13|"
      "Hello World|1 n");
  EXPECT_EQ(text("{% set d = {'a': 1, 'b': 2} %}{{ d.a }}{{ d['b'] }}{{ d.get('c', 3) }}"
                 "{{ d.get('c') }}{{ d.keys()|list }}{{ d.values()|list }}"
                 "{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}"),
            "123None['a', 'b'][1, 2]a1b2");
}

TEST(JinjaValues, AttributeAndItemAccessAreInterchangeable) {
  const ordered_json vars = {{"msg", {{"role", "user"}, {"content", "hi"}}}};
  EXPECT_EQ(text("{{ msg.role }}{{ msg['role'] }}{{ msg.content|upper }}", vars), "useruserHI");
  // Attribute lookup prefers dict methods, item lookup prefers keys (jinja2's getattr/getitem).
  const ordered_json items = {{"d", {{"items", 5}}}};
  EXPECT_EQ(text("{{ d['items'] }}|{{ d.items is callable }}", items), "5|True");
}

TEST(JinjaValues, UndefinedBehavesLikeJinja2Default) {
  EXPECT_EQ(text("[{{ x }}]|{% for i in x %}{% endfor %}|{{ x|length }}|{{ x|default(1) }}|"
                 "{{ x ~ 'a' }}|{{ x is defined }}|{{ 'a' in x }}|{{ x == y }}"),
            "[]||0|1|a|False|False|True");
  EXPECT_EQ(text("{{ {'a': 1}.b }}|{{ {'a': 1}.b is defined }}|{{ none.a }}"), "|False|");
  EXPECT_EQ(error("{{ x.y }}"), "line 1, column 4: UndefinedError: 'x' is undefined");
  EXPECT_NE(error("{{ x + 1 }}").find("UndefinedError: 'x' is undefined"), std::string::npos);
  EXPECT_NE(error("{{ {'a': 1}.b + 1 }}").find("'dict object' has no attribute 'b'"),
            std::string::npos);
  EXPECT_NE(error("{{ x() }}").find("UndefinedError"), std::string::npos);
  EXPECT_NE(error("{{ x|tojson }}").find("not JSON serializable"), std::string::npos);
  EXPECT_NE(error("{% for i in none %}{% endfor %}").find("'NoneType' object is not iterable"),
            std::string::npos);
}

TEST(JinjaFilters, Strings) {
  EXPECT_EQ(
      text("{{ '  x '|trim }}|{{ 'xax'|trim('x') }}|{{ 'AbC'|lower }}|{{ 'abc'|upper }}|"
           "{{ 'hello big-world'|title }}|{{ 'hELLO'|capitalize }}|{{ 'a b c'|wordcount }}|"
           "{{ 'a'|center(5) }}|{{ 'aXbX'|replace('X', '-') }}|{{ 'aXbX'|replace('X', '-', 1) }}|"
           "{{ 42|string }}|{{ 'abc'|reverse }}|{{ '%s=%d'|format('x', 3) }}"),
      "x|a|abc|ABC|Hello Big-World|Hello|3|  a  |a-b-|a-bX|42|cba|x=3");
  EXPECT_EQ(text("{{ 'a\\nb'|indent(2) }}|{{ 'a\\nb'|indent(2, first=true) }}|"
                 "{{ 'a\\n\\nb'|indent(2) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ "
                 "'a\\nb'|indent('> ') }}"),
            "a\n  b|  a\n  b|a\n\n  b|a\n  \n  b|a\n> b");
  EXPECT_EQ(text("{{ 'one two three four five six seven'|truncate(12) }}"), "one two...");
}

TEST(JinjaFilters, Sequences) {
  EXPECT_EQ(
      text("{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'c']|sort }}|{{ [3, 1, 2]|sort(reverse=true) }}|"
           "{{ [1, 2, 3]|reverse|list }}|{{ [1, 2, 2, 1]|unique|list }}|{{ ['a', 'A']|unique|list "
           "}}|"
           "{{ [1, 2, 3]|first }}|{{ [1, 2, 3]|last }}|{{ [1, 2]|join('-') }}|{{ [1, 2]|length }}|"
           "{{ 'abc'|count }}|{{ 'ab'|list }}|{{ {'a': 1}|list }}"),
      "[1, 2, 3]|['A', 'b', 'c']|[3, 2, 1]|[3, 2, 1]|[1, 2]|['a']|1|3|1-2|2|3|['a', 'b']|['a']");
  EXPECT_EQ(text("{{ {'a': 1}|items|list }}|{{ [1, 2, 3]|batch(2)|list }}|{{ [1, 2, 3, 4, "
                 "5]|slice(2)|list }}|"
                 "{{ [1, 5, 3]|max }}|{{ [4, 2, 8]|min }}|{{ [1, 2, 3]|sum }}|{{ {'b': 1, 'a': "
                 "2}|dictsort }}"),
            "[('a', 1)]|[[1, 2], [3]]|[[1, 2, 3], [4, 5]]|5|2|6|[('a', 2), ('b', 1)]");
}

TEST(JinjaFilters, MapSelectReject) {
  const ordered_json vars = {
      {"xs", ordered_json::array({{{"n", "a"}, {"k", 1}}, {{"n", "b"}}})},
      {"tools", ordered_json::array({{{"type", "code"}}, {{"type", "function"}}})}};
  EXPECT_EQ(text("{{ xs|map(attribute='n')|list }}|{{ xs|map(attribute='k', default=0)|list }}|"
                 "{{ xs|selectattr('k', 'defined')|list }}|{{ "
                 "xs|rejectattr('k')|map(attribute='n')|join }}|"
                 "{{ tools|selectattr('type', 'equalto', 'code')|list|length }}|"
                 "{{ [1, 2, 3, 4]|select('odd')|list }}|{{ [1, 2, 3, 4]|reject('even')|list }}|"
                 "{{ [0, 1, '', 'a']|select|list }}|{{ ['a', 'b']|map('upper')|join }}|"
                 "{{ ['x y']|map('replace', ' ', '_')|list }}",
                 vars),
            "['a', 'b']|[1, 0]|[{'n': 'a', 'k': 1}]|b|1|[1, 3]|[1, 3]|[1, 'a']|AB|['x_y']");
  // jinja2 guards select/reject with `if value:`, so None yields nothing instead of failing.
  EXPECT_EQ(text("{{ none|selectattr('type', 'equalto', 'x')|list }}"), "[]");
  // Those filters return generators: iterable, but not JSON-serialisable.
  EXPECT_NE(error("{{ [1]|map('string')|tojson }}").find("generator is not JSON serializable"),
            std::string::npos);
}

TEST(JinjaFilters, Numbers) {
  EXPECT_EQ(
      text("{{ 3.7|int }}|{{ '42'|int }}|{{ '4.2'|int }}|{{ 'x'|int }}|{{ 'x'|int(7) }}|"
           "{{ 'ff'|int(base=16) }}|{{ '1.5'|float }}|{{ 2|float }}|{{ 'x'|float }}|"
           "{{ 2.5|round }}|{{ 3.5|round }}|{{ 3.14159|round(2) }}|{{ 2.1|round(0, 'ceil') }}|"
           "{{ 3|round }}|{{ -3|abs }}|{{ -2.5|abs }}"),
      "3|42|4|0|7|255|1.5|2.0|0.0|2.0|4.0|3.14|3.0|3|3|2.5");
}

TEST(JinjaFilters, DefaultAndEscaping) {
  EXPECT_EQ(text("{{ x|default('d') }}|{{ ''|default('d') }}|{{ ''|d('d', true) }}|"
                 "{{ none|default('d') }}|{{ none|default('d', true) }}"),
            "d||d|None|d");
  // Markup (from |safe or |escape) escapes the plain string it is added to, as markupsafe does.
  EXPECT_EQ(text("{{ 'x'|safe + '<a>' }}|{{ '<a>'|escape }}|{{ '<' ~ 'x'|safe }}|{{ '\"'|e }}"),
            "x&lt;a&gt;|&lt;a&gt;|<x|&#34;");
}

TEST(JinjaFilters, ToJsonMatchesHuggingFace) {
  EXPECT_EQ(text("{{ {'b': 1, 'a': [1, 2.5, none, true]}|tojson }}"),
            "{\"b\": 1, \"a\": [1, 2.5, null, true]}");
  EXPECT_EQ(text("{{ {'a': {'b': [], 'c': {}}}|tojson(indent=2) }}"),
            "{\n  \"a\": {\n    \"b\": [],\n    \"c\": {}\n  }\n}");
  EXPECT_EQ(text("{{ [1, [2]]|tojson(indent=1) }}"), "[\n 1,\n [\n  2\n ]\n]");
  EXPECT_EQ(text("{{ 'é\"\\n🦙'|tojson }}|{{ 'é'|tojson(ensure_ascii=true) }}|{{ "
                 "'🦙'|tojson(true) }}"),
            "\"é\\\"\\n🦙\"|\"\\u00e9\"|\"\\ud83e\\udd99\"");
  EXPECT_EQ(text("{{ [1, 2]|tojson(separators=(',', ':')) }}|{{ {'b': 1, 'a': "
                 "2}|tojson(sort_keys=true) }}|"
                 "{{ [1.0, 1e-07, 1e22]|tojson }}"),
            "[1,2]|{\"a\": 2, \"b\": 1}|[1.0, 1e-07, 1e+22]");
  // Key order of input JSON is preserved.
  const ordered_json vars = {{"o", {{"z", 1}, {"a", 2}, {"m", 3}}}};
  EXPECT_EQ(text("{{ o|tojson }}", vars), "{\"z\": 1, \"a\": 2, \"m\": 3}");
}

TEST(JinjaTests, Predicates) {
  EXPECT_EQ(
      text("{{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 'a' is string }}"
           "{{ 1 is number }}{{ true is number }}{{ true is integer }}{{ true is boolean }}"
           "{{ 1 is integer }}{{ 1.0 is float }}{{ {} is mapping }}{{ 'a' is iterable }}"
           "{{ x is iterable }}{{ [] is sequence }}{{ 3 is odd }}{{ 4 is even }}"
           "{{ 9 is divisibleby 3 }}{{ 'a' is equalto 'a' }}{{ 1 is eq 1 }}{{ 2 is in [1, 2] }}"
           "{{ true is true }}{{ 1 is true }}{{ 0 is false }}{{ 2 is gt 1 }}{{ 'ab' is lower }}"
           "{{ range is callable }}{{ 'x'|safe is escaped }}{{ 'upper' is filter }}"),
      "FalseTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue"
      "TrueFalseFalseTrueTrueTrueTrueTrue");
}

TEST(JinjaGlobals, RangeDictNamespaceAndHuggingFaceHelpers) {
  EXPECT_EQ(text("{{ range(3)|list }}{{ range(2, 10, 3)|list }}{{ range(5, 0, -2)|list }}"
                 "{{ dict(a=1) }}{{ dict([('x', 1)]) }}{{ namespace(a=1).a }}"),
            "[0, 1, 2][2, 5, 8][5, 3, 1]{'a': 1}{'x': 1}1");
  EXPECT_EQ(text("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %A') }}"),
            "15 Jan 2026|2026-01-15 Thursday");
  EXPECT_EQ(error("{{ raise_exception('nope') }}"), "line 1, column 4: TemplateError: nope");
  EXPECT_NE(error("{{ range(200000)|length }}").find("MAX_RANGE"), std::string::npos);
  EXPECT_EQ(text("{% set j = joiner(', ') %}{% for i in range(3) %}{{ j() }}{{ i }}{% endfor %}"),
            "0, 1, 2");
}

TEST(JinjaSandbox, MutatingMethodsAreRefused) {
  // Hugging Face renders in jinja2's ImmutableSandboxedEnvironment.
  EXPECT_NE(error("{% set l = [1] %}{{ l.append(2) }}").find("unsafe"), std::string::npos);
  EXPECT_NE(error("{% set d = {} %}{{ d.update({'a': 1}) }}").find("unsafe"), std::string::npos);
  EXPECT_EQ(text("{{ [1, 2].append is defined }}"), "False");
}

}  // namespace
}  // namespace muse::chat
