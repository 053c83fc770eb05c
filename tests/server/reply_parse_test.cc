// Thinking-block splitting, streaming, and tool-format detection. The central property, tested
// on random replies cut at random byte offsets: the concatenated deltas of `ReplyStream` equal
// `parse_reply` of the whole text. The eagerness tests keep that property from being met
// trivially by a stream that holds everything until `finish()`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gguf/test_util.h"
#include "server/reply_parse.h"

namespace muse::server {
namespace {

ParsedReply think(std::string_view text, bool starts_in_thinking = false) {
  return parse_reply(text, ReplyFormat{.starts_in_thinking = starts_in_thinking});
}

TEST(ReplyParseTest, ThinkBlockGoesToReasoning) {
  ParsedReply r = think("<think>\nThe user greets me.\n</think>\n\nHello!");
  EXPECT_EQ(r.reasoning, "The user greets me.");
  EXPECT_EQ(r.content, "Hello!");
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(ReplyParseTest, WhitespaceBeforeThinkIsDropped) {
  ParsedReply r = think(" \n<think>a</think>b");
  EXPECT_EQ(r.reasoning, "a");
  EXPECT_EQ(r.content, "b");
}

TEST(ReplyParseTest, OnlyALeadingBlockIsThinking) {
  ParsedReply r = think("Hi <think>a</think>b");
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "Hi <think>a</think>b");
  r = think("<think>a</think>b <think>c</think>");
  EXPECT_EQ(r.reasoning, "a");
  EXPECT_EQ(r.content, "b <think>c</think>");
}

TEST(ReplyParseTest, UnclosedThoughtIsAllReasoning) {
  ParsedReply r = think("<think>\nStill going </thi");
  EXPECT_EQ(r.reasoning, "Still going </thi");
  EXPECT_EQ(r.content, "");
}

TEST(ReplyParseTest, StartsInThinking) {
  ParsedReply r = think("plan\n</think>\n\nanswer", true);
  EXPECT_EQ(r.reasoning, "plan");
  EXPECT_EQ(r.content, "answer");
  r = think("<think>plan</think>answer", true);  // the model repeated the opening tag
  EXPECT_EQ(r.reasoning, "plan");
  EXPECT_EQ(r.content, "answer");
  r = think("never closed", true);
  EXPECT_EQ(r.reasoning, "never closed");
  EXPECT_EQ(r.content, "");
}

TEST(ReplyParseTest, WhitespaceOnlyPartsAreEmpty) {
  ParsedReply r = think("<think> \n </think>\n \n");
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "");
}

TEST(ReplyParseTest, CustomAndDisabledDelimiters) {
  ReplyFormat custom{.think_start = "<|begin_of_thought|>", .think_end = "<|end_of_thought|>"};
  ParsedReply r = parse_reply("<|begin_of_thought|>x<|end_of_thought|>y", custom);
  EXPECT_EQ(r.reasoning, "x");
  EXPECT_EQ(r.content, "y");
  ReplyFormat off{.think_start = ""};
  r = parse_reply("<think>x</think>y", off);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "<think>x</think>y");
}

// Pushes `pieces` one by one; returns the deltas, the last one from `finish()`.
std::vector<ReplyDelta> stream(const ReplyFormat& f, const std::vector<std::string>& pieces) {
  ReplyStream s(f);
  std::vector<ReplyDelta> out;
  for (const std::string& p : pieces) out.push_back(s.push(p));
  out.push_back(s.finish());
  return out;
}

TEST(ReplyStreamTest, ReleasesReasoningAndContentEarly) {
  auto d = stream({}, {"<think>", "Let me", " think", "</th", "ink>\n\nHi", " there", "\n"});
  EXPECT_EQ(d[0].reasoning, "");
  EXPECT_EQ(d[1].reasoning, "Let me");
  EXPECT_EQ(d[2].reasoning, " think");
  EXPECT_TRUE(d[3].empty());  // could be the start of </think>
  EXPECT_EQ(d[4].reasoning, "");
  EXPECT_EQ(d[4].content, "Hi");
  EXPECT_EQ(d[5].content, " there");
  EXPECT_TRUE(d[6].empty());
  EXPECT_TRUE(d[7].empty());  // trailing whitespace is trimmed, nothing left to flush
}

TEST(ReplyStreamTest, HoldsTrailingWhitespaceUntilItIsInside) {
  auto d = stream({}, {"Hello ", "\n", "world"});
  EXPECT_EQ(d[0].content, "Hello");
  EXPECT_EQ(d[1].content, "");
  EXPECT_EQ(d[2].content, " \nworld");
}

TEST(ReplyStreamTest, HoldsOnlyWhatCouldBeAMarker) {
  ReplyFormat f{.tools = ToolFormat::kHermes};
  auto d = stream(f, {"Sure <tool", "s are fine <tool_", "call>\n{\"name\": \"f\", ",
                      "\"arguments\": {}}\n</tool_call>"});
  EXPECT_EQ(d[0].content, "Sure");
  EXPECT_EQ(d[1].content, " <tools are fine");
  EXPECT_TRUE(d[2].empty());  // inside the call: withheld
  EXPECT_TRUE(d[3].empty());
  EXPECT_EQ(d[4].content, "");
  ASSERT_EQ(d[4].tool_calls.size(), 1u);
  EXPECT_EQ(d[4].tool_calls[0].name, "f");
  EXPECT_EQ(d[4].tool_calls[0].arguments, "{}");
  EXPECT_EQ(d[4].tool_calls[0].id, "call_0");
}

TEST(ReplyStreamTest, BareJsonIsWithheldOnlyWhereItCanBeACall) {
  std::vector<std::string> pieces = {"{\"name\": \"f\",", " \"parameters\": {}}"};
  auto d = stream({.tools = ToolFormat::kLlama3}, pieces);
  EXPECT_TRUE(d[0].empty());
  EXPECT_EQ(d[2].tool_calls.size(), 1u);
  d = stream({.tools = ToolFormat::kHermes}, pieces);
  EXPECT_EQ(d[0].content, "{\"name\": \"f\",");
  d = stream({.tools = ToolFormat::kGeneric}, {"<think>x</think>\n\n" + pieces[0], pieces[1]});
  EXPECT_EQ(d[0].reasoning, "x");
  EXPECT_EQ(d[0].content, "");
  EXPECT_EQ(d[2].tool_calls.size(), 1u);
  d = stream({.tools = ToolFormat::kLlama3}, {"The answer", " is 4."});
  EXPECT_EQ(d[0].content, "The answer");
}

TEST(ReplyStreamTest, NeverSplitsACharacter) {
  std::string llama = "🦙";  // 4 bytes
  auto d = stream({}, {"a" + llama.substr(0, 1), llama.substr(1, 2), llama.substr(3) + "b"});
  EXPECT_EQ(d[0].content, "a");
  EXPECT_EQ(d[1].content, "");
  EXPECT_EQ(d[2].content, llama + "b");
}

TEST(ReplyStreamTest, StartsInThinking) {
  auto d = stream({.starts_in_thinking = true}, {"\nStep 1", ".</think>", "Done"});
  EXPECT_EQ(d[0].reasoning, "Step 1");
  EXPECT_EQ(d[1].reasoning, ".");
  EXPECT_EQ(d[2].content, "Done");
}

TEST(ReplyStreamTest, FinishIsFinal) {
  ReplyStream s({});
  EXPECT_EQ(s.push("a").content, "a");
  EXPECT_TRUE(s.finish().empty());
  EXPECT_TRUE(s.push("b").empty());
  EXPECT_TRUE(s.finish().empty());
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Random replies are built from these. Fragments: delimiters and their prefixes, JSON
// punctuation, text with multi-byte characters. Openings: how real replies begin. Calls: one
// well-formed call of each format (bare JSON ones included), with the format it is written in.
// clang-format off
const std::vector<std::string> kFragments = {
    "<think>", "</think>", "<thi", "</thin", "<|think|>", "<|/think|>", "<", ">", " ", "\n",
    "\n\n", "\t", "Hello", "wörld", "🦙", "日本", ";", "{", "}", "[", "]", "\"", "f", "<tool_",
    "<tool_call>", "</tool_call>", "<|python_tag|>", "<|python", "<function=h>", "</function>",
    "[TOOL_CALLS]", "[TOOL_", "[ARGS]", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>",
    "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>", "<｜tool▁", "function",
    "```json\n", "```", "\"arguments\": \"{\\\"k\\\": 2}\""};
const std::vector<std::string> kOpenings = {
    "", " \n", "<think>\nhmm\n</think>\n\n", "plan</think>\n", "<think>", "<|think|>x<|/think|> ",
    "Sure. "};
const std::vector<std::pair<ToolFormat, std::string>> kCalls = {
    {ToolFormat::kGeneric, "{\"name\": \"f\", \"arguments\": {\"a\": 1}}"},
    {ToolFormat::kLlama3, "{\"name\": \"g\", \"parameters\": {\"s\": \"é\"}}"},
    {ToolFormat::kHermes,
     "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>"},
    {ToolFormat::kMistral, "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}}]"},
    {ToolFormat::kMistral, "[TOOL_CALLS]f[ARGS]{\"x\": [1, 2]}"},
    {ToolFormat::kDeepSeek,
     "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{}\n```<｜tool▁call▁end｜>"},
    {ToolFormat::kDeepSeek, "<｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"b\": null}<｜tool▁call▁end｜>"},
    {ToolFormat::kLlama3, "<function=h>{\"z\": 0}</function>"},
    {ToolFormat::kLlama3, "<|python_tag|>{\"name\": \"f\", \"parameters\": {}}"}};
// clang-format on

TEST(ReplyStreamTest, RandomCutsMatchWholeText) {
  std::mt19937 rng(20240611);
  auto uniform = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const ToolFormat kFormats[] = {ToolFormat::kNone,    ToolFormat::kHermes,   ToolFormat::kLlama3,
                                 ToolFormat::kMistral, ToolFormat::kDeepSeek, ToolFormat::kGeneric};
  int with_reasoning = 0, with_content = 0, with_calls = 0, released_early = 0;
  const int kCases = 4000;
  for (int c = 0; c < kCases; ++c) {
    ReplyFormat f{.tools = kFormats[uniform(6)], .starts_in_thinking = uniform(4) == 0};
    if (size_t d = uniform(10); d == 0) {
      f.think_start = "<|think|>";
      f.think_end = "<|/think|>";
    } else if (d == 1) {
      f.think_start = "";
    }
    std::string text;
    bool shaped = uniform(2) == 0;  // like a real reply: opening, calls, maybe some noise
    if (shaped) {
      text += kOpenings[uniform(kOpenings.size())];
      for (size_t n = 1 + uniform(2); n > 0; --n) {
        const auto& [format, call] = kCalls[uniform(kCalls.size())];
        if (uniform(3) != 0) f.tools = format;  // mostly the format the call is written in
        text += call + "\n";
      }
    }
    for (size_t n = uniform(shaped ? 3 : 12); n > 0; --n)
      text += kFragments[uniform(kFragments.size())];
    ParsedReply want = parse_reply(text, f);
    with_reasoning += !want.reasoning.empty();
    with_content += !want.content.empty();
    with_calls += !want.tool_calls.empty();
    for (int cut = 0; cut < 3; ++cut) {
      std::vector<std::string> pieces;  // cut 0: byte by byte; else random lengths, some empty
      for (size_t i = 0; i < text.size();) {
        size_t len = cut == 0 ? 1 : uniform(9);
        pieces.push_back(text.substr(i, len));
        i += len;
      }
      SCOPED_TRACE(::testing::Message()
                   << "case " << c << " cut " << cut << " format " << tool_format_name(f.tools)
                   << " open " << f.starts_in_thinking << " text: " << text);
      auto deltas = stream(f, pieces);
      ParsedReply got;
      for (size_t i = 0; i < deltas.size(); ++i) {
        const ReplyDelta& d = deltas[i];
        ASSERT_TRUE(valid_utf8(d.reasoning) && valid_utf8(d.content));
        if (i + 1 < deltas.size()) {
          ASSERT_TRUE(d.tool_calls.empty());  // calls only come out of finish()
          released_early += !d.reasoning.empty() || !d.content.empty();
        }
        got.reasoning += d.reasoning;
        got.content += d.content;
        got.tool_calls.insert(got.tool_calls.end(), d.tool_calls.begin(), d.tool_calls.end());
      }
      ASSERT_EQ(got.reasoning, want.reasoning);
      ASSERT_EQ(got.content, want.content);
      ASSERT_EQ(got.tool_calls.size(), want.tool_calls.size());
      for (size_t i = 0; i < got.tool_calls.size(); ++i) {
        EXPECT_EQ(got.tool_calls[i].id, want.tool_calls[i].id);
        EXPECT_EQ(got.tool_calls[i].name, want.tool_calls[i].name);
        EXPECT_EQ(got.tool_calls[i].arguments, want.tool_calls[i].arguments);
      }
    }
  }
  // The generator must reach every outcome, or the property above proves little.
  EXPECT_GT(with_reasoning, kCases / 10);
  EXPECT_GT(with_content, kCases / 2);
  EXPECT_GT(with_calls, kCases / 5);
  EXPECT_GT(released_early, kCases);
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What each fixture template teaches, read from its source:
// - Hermes: `<tool_call>` blocks (Qwen2.5, Qwen3, QwQ, and Hermes 2 Pro / 3 on Llama 3,
//   whose templates are ChatML with Hermes tags, not Llama 3 headers).
// - Llama3: Meta's 3.1/3.2/3.3 ("Respond in the format {"name": ..., "parameters": ...}",
//   `<|python_tag|>`); functionary v3.1 teaches `<function=NAME>{...}</function>`, which the
//   Llama3 parser reads. Functionary v3.2 lands here by its Llama 3 headers although its
//   `>>>NAME\n{...}` syntax is not parsed (its calls stay content).
// - Mistral: Nemo (`[TOOL_CALLS][...]`), Devstral (`[TOOL_CALLS]NAME[ARGS]{...}`).
// - DeepSeek: both R1 distills (their templates replay tool calls with these markers), V3.1,
//   and llama.cpp's R1 template.
// - Generic: no syntax we parse. Command R ("Action: ```json"), firefunction v2
//   (`functools[...]`), Kimi K2 (`<|tool_calls_section_begin|>`) have their own, unsupported;
//   Gemma 2, Phi-3.5 and RWKV teach no tool syntax at all.
const std::map<std::string, ToolFormat> kExpected = {
    {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", ToolFormat::kGeneric},
    {"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", ToolFormat::kGeneric},
    {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", ToolFormat::kHermes},
    {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", ToolFormat::kHermes},
    {"Qwen-QwQ-32B.jinja", ToolFormat::kHermes},
    {"Qwen-Qwen2.5-7B-Instruct.jinja", ToolFormat::kHermes},
    {"Qwen-Qwen3-0.6B.jinja", ToolFormat::kHermes},
    {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", ToolFormat::kDeepSeek},
    {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", ToolFormat::kDeepSeek},
    {"deepseek-ai-DeepSeek-V3.1.jinja", ToolFormat::kDeepSeek},
    {"fireworks-ai-llama-3-firefunction-v2.jinja", ToolFormat::kGeneric},
    {"google-gemma-2-2b-it.jinja", ToolFormat::kGeneric},
    {"llama-cpp-deepseek-r1.jinja", ToolFormat::kDeepSeek},
    {"llama-cpp-rwkv-world.jinja", ToolFormat::kGeneric},
    {"meetkai-functionary-medium-v3.1.jinja", ToolFormat::kLlama3},
    {"meetkai-functionary-medium-v3.2.jinja", ToolFormat::kLlama3},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", ToolFormat::kLlama3},
    {"meta-llama-Llama-3.2-3B-Instruct.jinja", ToolFormat::kLlama3},
    {"meta-llama-Llama-3.3-70B-Instruct.jinja", ToolFormat::kLlama3},
    {"microsoft-Phi-3.5-mini-instruct.jinja", ToolFormat::kGeneric},
    {"mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolFormat::kMistral},
    {"moonshotai-Kimi-K2.jinja", ToolFormat::kGeneric},
    {"unsloth-mistral-Devstral-Small-2507.jinja", ToolFormat::kMistral},
};

TEST(DetectToolFormatTest, FixtureTemplates) {
  std::string dir = muse::testing::fixture("chat_templates");
  MUSE_REQUIRE_FIXTURE(dir);
  size_t seen = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".jinja") continue;
    std::string name = e.path().filename().string();
    auto want = kExpected.find(name);
    // A new fixture needs a decision recorded above.
    ASSERT_NE(want, kExpected.end()) << "no expected tool format for " << name;
    EXPECT_EQ(tool_format_name(detect_tool_format(read_text(e.path()))),
              tool_format_name(want->second))
        << name;
    ++seen;
  }
  EXPECT_EQ(seen, kExpected.size());
}

TEST(DetectToolFormatTest, MarkersWithoutFixtures) {
  EXPECT_EQ(detect_tool_format(""), ToolFormat::kGeneric);
  EXPECT_EQ(detect_tool_format("{{ '<|im_start|>' }}"), ToolFormat::kGeneric);
  EXPECT_EQ(detect_tool_format("<|start_header_id|> no tools"), ToolFormat::kGeneric);
  EXPECT_EQ(detect_tool_format("<|start_header_id|> \"parameters\""), ToolFormat::kLlama3);
  EXPECT_EQ(detect_tool_format("<tool_call> <|start_header_id|> parameters"), ToolFormat::kHermes);
}

}  // namespace
}  // namespace muse::server
