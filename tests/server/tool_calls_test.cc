// Tool-call grammars through `parse_reply`, one group per format, with the replies written the
// way each model family emits them (from the syntax its chat template teaches, see
// fixtures/chat_templates). Malformed calls must come back as content, never as an exception.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/reply_parse.h"

namespace muse::server {
namespace {

ParsedReply parse(std::string_view text, ToolFormat tools) {
  return parse_reply(text, ReplyFormat{.tools = tools});
}

// "name(arguments)" per call, so a whole reply compares in one line.
std::vector<std::string> calls(const ParsedReply& r) {
  std::vector<std::string> out;
  for (const ToolCall& c : r.tool_calls) out.push_back(c.name + c.arguments);
  return out;
}

using Calls = std::vector<std::string>;

TEST(ToolCallsTest, NoneNeverParsesCalls) {
  std::string text = "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>";
  ParsedReply r = parse(text, ToolFormat::kNone);
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(ToolCallsTest, HermesSingleCall) {
  ParsedReply r = parse(
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
      "</tool_call>",
      ToolFormat::kHermes);
  EXPECT_EQ(r.content, "");
  EXPECT_EQ(calls(r), Calls{"get_weather{\"city\":\"Paris\"}"});
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].id, "call_0");
}

TEST(ToolCallsTest, HermesSeveralCallsWithContent) {
  ParsedReply r = parse(
      "Let me check both.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>\n",
      ToolFormat::kHermes);
  EXPECT_EQ(r.content, "Let me check both.");
  EXPECT_EQ(calls(r), (Calls{"a{\"x\":1}", "b{}"}));
  EXPECT_EQ(r.tool_calls[1].id, "call_1");
}

TEST(ToolCallsTest, HermesToleratesMissingCloseAtEnd) {
  ParsedReply r =
      parse("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"q\": \"x\"}}\n", ToolFormat::kHermes);
  EXPECT_EQ(calls(r), Calls{"f{\"q\":\"x\"}"});
  EXPECT_EQ(r.content, "");
}

TEST(ToolCallsTest, ArgumentsAsStringAreNormalized) {
  ParsedReply r = parse(
      "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"b\\\": 2, \\\"a\\\": 1}\"}</tool_call>",
      ToolFormat::kHermes);
  EXPECT_EQ(calls(r), Calls{"f{\"b\":2,\"a\":1}"});  // key order kept, not sorted
}

TEST(ToolCallsTest, UnicodeArgumentsStayUtf8) {
  ParsedReply r = parse("<tool_call>{\"name\": \"f\", \"arguments\": {\"city\": \"Zürich 🦙\"}}",
                        ToolFormat::kHermes);
  EXPECT_EQ(calls(r), Calls{"f{\"city\":\"Zürich 🦙\"}"});
}

TEST(ToolCallsTest, HermesInvalidJsonStaysContent) {
  for (const char* text : {
           "<tool_call>\n{\"name\": \"f\", \"arguments\": {oops}}\n</tool_call>",
           "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}",  // cut off mid-object
           "<tool_call>\n{\"arguments\": {}}\n</tool_call>",            // no name
           "<tool_call>\n{\"name\": \"f\", \"arguments\": [1]}\n</tool_call>",
           "<tool_call>{\"name\": \"f\", \"arguments\": {}} trailing</tool_call>",
       }) {
    ParsedReply r = parse(text, ToolFormat::kHermes);
    EXPECT_EQ(r.content, text);
    EXPECT_TRUE(r.tool_calls.empty()) << text;
  }
}

TEST(ToolCallsTest, BadCallDoesNotHideAGoodOne) {
  ParsedReply r = parse(
      "<tool_call>{bad}</tool_call>\n<tool_call>{\"name\": \"g\", \"arguments\": {}}</tool_call>",
      ToolFormat::kHermes);
  EXPECT_EQ(r.content, "<tool_call>{bad}</tool_call>");
  EXPECT_EQ(calls(r), Calls{"g{}"});
}

TEST(ToolCallsTest, DeepNestingIsRefusedWithoutCrashing) {
  std::string text = "<tool_call>{\"name\": \"f\", \"arguments\": " + std::string(100000, '[');
  ParsedReply r = parse(text, ToolFormat::kHermes);
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.tool_calls.empty());
  // The same limit applies to arguments written as a string holding JSON.
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "{\\\"a\\\":";
  deep += "1" + std::string(10000, '}');
  text = "<tool_call>{\"name\": \"f\", \"arguments\": \"" + deep + "\"}</tool_call>";
  r = parse(text, ToolFormat::kHermes);
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(ToolCallsTest, Llama3BareJson) {
  EXPECT_EQ(calls(parse("{\"name\": \"f\", \"parameters\": {\"x\": \"1\"}}", ToolFormat::kLlama3)),
            Calls{"f{\"x\":\"1\"}"});
  EXPECT_EQ(calls(parse("\n{\"type\": \"function\", \"name\": \"f\", \"parameters\": {}}\n",
                        ToolFormat::kLlama3)),
            Calls{"f{}"});
  EXPECT_EQ(calls(parse("{\"name\": \"f\", \"arguments\": {\"a\": true}}", ToolFormat::kLlama3)),
            Calls{"f{\"a\":true}"});
}

TEST(ToolCallsTest, Llama3SeveralCalls) {
  Calls want = {"f{\"a\":1}", "g{}"};
  EXPECT_EQ(calls(parse("{\"name\": \"f\", \"parameters\": {\"a\": 1}}; "
                        "{\"name\": \"g\", \"parameters\": {}}",
                        ToolFormat::kLlama3)),
            want);
  EXPECT_EQ(calls(parse("{\"name\": \"f\", \"parameters\": {\"a\": 1}}\n"
                        "{\"name\": \"g\", \"parameters\": {}}",
                        ToolFormat::kLlama3)),
            want);
}

TEST(ToolCallsTest, Llama3PythonTag) {
  ParsedReply r =
      parse("<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": 1}}", ToolFormat::kLlama3);
  EXPECT_EQ(calls(r), Calls{"f{\"a\":1}"});
  EXPECT_EQ(r.content, "");
  // Built-in tools are Python calls, not JSON: they stay text for the caller.
  std::string code = "<|python_tag|>brave_search.call(query=\"weather\")";
  r = parse(code, ToolFormat::kLlama3);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, code);
}

TEST(ToolCallsTest, Llama3FunctionTag) {
  ParsedReply r = parse("<function=get_time>{\"tz\": \"UTC\"}</function>", ToolFormat::kLlama3);
  EXPECT_EQ(calls(r), Calls{"get_time{\"tz\":\"UTC\"}"});
  EXPECT_EQ(r.content, "");
}

TEST(ToolCallsTest, Llama3OnlyWholeReplyJsonIsACall) {
  for (const char* text : {
           "Here it is: {\"name\": \"f\", \"parameters\": {}}",
           "{\"name\": \"f\", \"parameters\": {}} is what I would call.",
           "{\"name\": \"Paris\", \"population\": 2100000}",  // JSON answer, no arguments key
           "{\"answer\": 42}",
       }) {
    ParsedReply r = parse(text, ToolFormat::kLlama3);
    EXPECT_EQ(r.content, text);
    EXPECT_TRUE(r.tool_calls.empty()) << text;
  }
}

TEST(ToolCallsTest, MistralArray) {
  ParsedReply r = parse(
      "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"a\": 1}, \"id\": \"abcdefghi\"}, "
      "{\"name\": \"g\", \"arguments\": {}}]",
      ToolFormat::kMistral);
  EXPECT_EQ(calls(r), (Calls{"f{\"a\":1}", "g{}"}));
  EXPECT_EQ(r.content, "");
}

TEST(ToolCallsTest, MistralArgsForm) {
  ParsedReply r = parse("Checking.[TOOL_CALLS]f[ARGS]{\"a\": 1}[TOOL_CALLS]g[CALL_ID]x1[ARGS]{}",
                        ToolFormat::kMistral);
  EXPECT_EQ(calls(r), (Calls{"f{\"a\":1}", "g{}"}));
  EXPECT_EQ(r.content, "Checking.");
}

TEST(ToolCallsTest, MistralInvalidStaysContent) {
  std::string text = "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {]";
  ParsedReply r = parse(text, ToolFormat::kMistral);
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(ToolCallsTest, DeepSeekR1Form) {
  ParsedReply r = parse(
      "I'll look it up.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
      "get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>\n"
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```"
      "<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
      ToolFormat::kDeepSeek);
  EXPECT_EQ(calls(r), (Calls{"get_weather{\"city\":\"Paris\"}", "get_time{}"}));
  EXPECT_EQ(r.content, "I'll look it up.");
}

TEST(ToolCallsTest, DeepSeekV31Form) {
  ParsedReply r = parse(
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Oslo\"}"
      "<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{}<｜tool▁call▁end｜>"
      "<｜tool▁calls▁end｜>",
      ToolFormat::kDeepSeek);
  EXPECT_EQ(calls(r), (Calls{"get_weather{\"city\":\"Oslo\"}", "get_time{}"}));
  EXPECT_EQ(r.content, "");
}

TEST(ToolCallsTest, DeepSeekToleratesMissingEndsAndOuterBegin) {
  EXPECT_EQ(calls(parse("<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": 1}\n```",
                        ToolFormat::kDeepSeek)),
            Calls{"f{\"a\":1}"});
  std::string bad = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{nope}";
  ParsedReply r = parse(bad, ToolFormat::kDeepSeek);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, bad);
}

TEST(ToolCallsTest, GenericAcceptsTagsAndBareJson) {
  EXPECT_EQ(calls(parse("<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>",
                        ToolFormat::kGeneric)),
            Calls{"f{}"});
  EXPECT_EQ(calls(parse("{\"name\": \"f\", \"arguments\": {\"a\": 1}}", ToolFormat::kGeneric)),
            Calls{"f{\"a\":1}"});
  // Other families' markers are plain text here.
  std::string mistral = "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}}]";
  EXPECT_EQ(parse(mistral, ToolFormat::kGeneric).content, mistral);
}

TEST(ToolCallsTest, CallsAfterThinking) {
  ReplyFormat f{.tools = ToolFormat::kHermes};
  ParsedReply r = parse_reply(
      "<think>\nNeed the weather.\n</think>\n\n<tool_call>\n{\"name\": \"w\", \"arguments\": "
      "{}}\n</tool_call>",
      f);
  EXPECT_EQ(r.reasoning, "Need the weather.");
  EXPECT_EQ(r.content, "");
  EXPECT_EQ(calls(r), Calls{"w{}"});
  // A call inside the thought is part of the thought.
  r = parse_reply("<think><tool_call>{\"name\": \"w\", \"arguments\": {}}</tool_call>", f);
  EXPECT_TRUE(r.tool_calls.empty());
}

// A required call: the prompt ends with the format's opener and the model continues from
// there. Opener plus the continuation each family writes must parse as the call, on the whole
// text and streamed (opener pushed first, then the continuation in pieces), with no content.
TEST(ToolCallsTest, OpenerPlusContinuationIsTheCall) {
  struct Case {
    ToolFormat format;
    std::string continuation;
  };
  const Case cases[] = {
      {ToolFormat::kHermes, "{\"name\": \"w\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"},
      {ToolFormat::kGeneric,
       "{\"name\": \"w\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"},
      {ToolFormat::kLlama3, "w\", \"parameters\": {\"city\": \"Oslo\"}}"},
      {ToolFormat::kMistral, "[{\"name\": \"w\", \"arguments\": {\"city\": \"Oslo\"}}]"},
      {ToolFormat::kDeepSeek,
       "<｜tool▁call▁begin｜>function<｜tool▁sep｜>w\n```json\n{\"city\": \"Oslo\"}\n```"
       "<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
      {ToolFormat::kDeepSeek,
       "<｜tool▁call▁begin｜>w<｜tool▁sep｜>{\"city\": \"Oslo\"}<｜tool▁call▁end｜>"
       "<｜tool▁calls▁end｜>"},
  };
  EXPECT_EQ(tool_call_opener(ToolFormat::kNone), "");
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(tool_format_name(c.format)) + ": " + c.continuation);
    const std::string opener(tool_call_opener(c.format));
    ASSERT_FALSE(opener.empty());
    ParsedReply r = parse(opener + c.continuation, c.format);
    EXPECT_EQ(calls(r), Calls{"w{\"city\":\"Oslo\"}"});
    EXPECT_EQ(r.content, "");

    ReplyStream stream(ReplyFormat{.tools = c.format});
    EXPECT_TRUE(stream.push(opener).empty()) << "the opener is withheld";
    std::string content;
    for (size_t i = 0; i < c.continuation.size(); i += 5)
      content += stream.push(std::string_view(c.continuation).substr(i, 5)).content;
    ReplyDelta last = stream.finish();
    EXPECT_EQ(content + last.content, "");
    ASSERT_EQ(last.tool_calls.size(), 1u);
    EXPECT_EQ(last.tool_calls[0].name, "w");
  }
}

TEST(ToolCallsTest, FormatNames) {
  EXPECT_EQ(tool_format_name(ToolFormat::kNone), "none");
  EXPECT_EQ(tool_format_name(ToolFormat::kHermes), "hermes");
  EXPECT_EQ(tool_format_name(ToolFormat::kLlama3), "llama3");
  EXPECT_EQ(tool_format_name(ToolFormat::kMistral), "mistral");
  EXPECT_EQ(tool_format_name(ToolFormat::kDeepSeek), "deepseek");
  EXPECT_EQ(tool_format_name(ToolFormat::kGeneric), "generic");
}

}  // namespace
}  // namespace muse::server
