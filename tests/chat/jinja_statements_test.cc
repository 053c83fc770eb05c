// Statements: for loops (loop variables, else, filters, unpacking, break/continue,
// recursion), jinja2's scoping rules, namespaces, block set, filter blocks, macros with
// defaults, varargs/kwargs and `caller`, `with`, and the chat-template entry point.
#include <gtest/gtest.h>

#include "jinja_test_util.h"

namespace muse::chat {
namespace {

using nlohmann::ordered_json;
using testing::error;
using testing::text;

TEST(JinjaFor, LoopVariables) {
  EXPECT_EQ(text("{% for i in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}"
                 "{{ loop.last }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.length }}"
                 "{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}"),
            "10TrueFalse323b|21FalseFalse213ac|32FalseTrue103b|");
  EXPECT_EQ(text("{% for i in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "aba");
  EXPECT_EQ(text("{% for i in [1, 1, 2] %}{% if loop.changed(i) %}{{ i }}{% endif %}{% endfor %}"),
            "12");
  EXPECT_EQ(text("{% for a in [[1, 2], [3]] %}{% for b in a %}{{ loop.index }}{% endfor %}"
                 "{{ loop.index }}|{% endfor %}"),
            "121|12|");
}

TEST(JinjaFor, ElseFilterUnpackingAndLoopControls) {
  EXPECT_EQ(text("{% for i in [] %}x{% else %}none{% endfor %}"), "none");
  EXPECT_EQ(text("{% for i in range(6) if i is even %}{{ i }}/{{ loop.length }} {% endfor %}"),
            "0/3 2/3 4/3 ");
  EXPECT_EQ(text("{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}"), "37");
  EXPECT_EQ(text("{% for k, v in {'x': 1, 'y': 2}|items %}{{ k }}{{ v }}{% endfor %}"), "x1y2");
  EXPECT_EQ(text("{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}"), "xy");
  EXPECT_EQ(text("{% for i in range(10) %}{% if i == 1 %}{% continue %}{% elif i == 4 %}"
                 "{% break %}{% endif %}{{ i }}{% endfor %}"),
            "023");
  EXPECT_NE(error("{% for a, b in [(1, 2, 3)] %}{% endfor %}").find("too many values"),
            std::string::npos);
}

TEST(JinjaFor, RecursiveLoop) {
  const ordered_json vars = {
      {"tree", ordered_json::array(
                   {{{"v", "a"}, {"c", ordered_json::array({{{"v", "b"}}})}}, {{"v", "d"}}})}};
  EXPECT_EQ(text("{% for n in tree recursive %}{{ n.v }}{{ loop.depth }}"
                 "{% if n.c %}[{{ loop(n.c) }}]{% endif %}{% endfor %}",
                 vars),
            "a1[b2]d1");
}

TEST(JinjaScoping, LoopBodiesDoNotLeakButIfDoes) {
  EXPECT_EQ(text("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"),
            "21");
  // Each iteration starts from the outer value again.
  EXPECT_EQ(text("{% for i in [1, 2] %}[{{ y }}]{% set y = 5 %}{{ y }}{% endfor %}[{{ y }}]"),
            "[]5[]5[]");
  EXPECT_EQ(text("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
  EXPECT_EQ(text("{% set ns = namespace(total=0) %}{% for i in [1, 2, 3] %}"
                 "{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}"),
            "6");
  EXPECT_NE(error("{% set x = 1 %}{% set x.y = 2 %}").find("non-namespace"), std::string::npos);
  EXPECT_EQ(text("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
}

TEST(JinjaBlocks, SetBlockFilterBlockAndWith) {
  EXPECT_EQ(
      text("{% set t %}a{{ 1 + 1 }}b{% endset %}{{ t }}|{% set u | upper %}x{% endset %}{{ u }}"),
      "a2b|X");
  EXPECT_EQ(text("{% filter upper %}ab{{ 'c' }}{% endfilter %}"), "ABC");
  EXPECT_EQ(text("{% set s %}{% filter trim %}  padded  {% endfilter %}{% endset %}[{{ s }}]"),
            "[padded]");
  EXPECT_EQ(text("{% with a = 2 %}{{ a * 3 }}{% endwith %}[{{ a }}]"), "6[]");
}

TEST(JinjaMacros, ArgumentsDefaultsAndReturnValue) {
  EXPECT_EQ(text("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                 "{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}"),
            "Hi A! Hi B? Hi C.");
  EXPECT_EQ(text("{% macro t(x) %}<{{ x }}>{% endmacro %}{{ 'a' + t(1) + 'b' }}"), "a<1>b");
  EXPECT_EQ(text("{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}"), "[]");
  EXPECT_EQ(text("{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, k=2) }}"),
            "(1,){'k': 2}");
  EXPECT_NE(error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}").find("not more than 1"),
            std::string::npos);
  EXPECT_NE(error("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}").find("keyword argument 'b'"),
            std::string::npos);
}

TEST(JinjaMacros, ScopeRecursionAndCaller) {
  // A macro sees its defining scope at call time.
  EXPECT_EQ(text("{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}"),
            "2");
  EXPECT_EQ(text("{% macro f(n) %}{{ n }}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}"
                 "{{ f(3) }}"),
            "3210");
  EXPECT_EQ(text("{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}in{% endcall %}"),
            "[in]");
  EXPECT_EQ(text("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
                 "{% call(v) each([1, 2]) %}<{{ v }}>{% endcall %}"),
            "<1><2>");
}

TEST(ChatTemplateApi, BindsConversationVariables) {
  StatusOr<ChatTemplate> t = ChatTemplate::parse(
      "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}{{ eos_token }}"
      "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
      "{{ tools is none }}{{ enable_thinking is defined }}");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ChatInputs in;
  in.messages = ordered_json::array({{{"role", "user"}, {"content", "hi"}}});
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  StatusOr<std::string> out = t->apply(in);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "<s>user:hi</s>assistant:TrueFalse");

  in.add_generation_prompt = false;
  in.tools = ordered_json::array({{{"type", "function"}}});
  in.extra_context = {{"enable_thinking", false}};
  out = t->apply(in);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "<s>user:hi</s>FalseTrue");
}

TEST(ChatTemplateApi, ToolCallArgumentsAreRenderedAsGiven) {
  // Templates differ on whether `function.arguments` is a JSON string or an object; the
  // engine passes through whichever the caller supplies, as Hugging Face does.
  StatusOr<ChatTemplate> t = ChatTemplate::parse(
      "{% for tc in messages[0].tool_calls %}{% if tc.function.arguments is string %}"
      "{{ tc.function.arguments }}{% else %}{{ tc.function.arguments|tojson }}{% endif %}"
      "{% endfor %}");
  ASSERT_TRUE(t.ok());
  for (const ordered_json& args :
       {ordered_json{{"city", "Paris"}}, ordered_json("{\"city\": \"Paris\"}")}) {
    ChatInputs in;
    in.messages = ordered_json::array(
        {{{"role", "assistant"},
          {"tool_calls",
           ordered_json::array({{{"function", {{"name", "f"}, {"arguments", args}}}}})}}});
    StatusOr<std::string> out = t->apply(in);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(*out, "{\"city\": \"Paris\"}");
  }
}

TEST(ChatTemplateApi, ChatmlFallback) {
  StatusOr<ChatTemplate> t = ChatTemplate::parse(std::string(chatml_template()));
  ASSERT_TRUE(t.ok()) << t.status().message();
  ChatInputs in;
  in.messages = ordered_json::array(
      {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}});
  StatusOr<std::string> out = t->apply(in);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateApi, RejectsBadInputs) {
  StatusOr<ChatTemplate> t = ChatTemplate::parse("{{ messages }}");
  ASSERT_TRUE(t.ok());
  ChatInputs in;
  in.messages = ordered_json::object();
  EXPECT_FALSE(t->apply(in).ok());
  // Deeply nested JSON input is refused instead of recursing without bound.
  ordered_json deep = ordered_json::array();
  for (int i = 0; i < 1000; ++i) deep = ordered_json::array({deep});
  in.messages = ordered_json::array({deep});
  EXPECT_FALSE(t->apply(in).ok());
}

}  // namespace
}  // namespace muse::chat
