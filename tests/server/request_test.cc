// Request validation: OpenAI's defaults, every field's type and range checked with the
// field named in the error, content parts, tools, and the effort levels.
#include "server/request.h"

#include <gtest/gtest.h>

namespace muse::server {
namespace {

const std::string kModel = "tiny";

CompletionRequest ok_chat(const char* body) {
  auto r = parse_chat_request(json::parse(body), kModel);
  if (auto* e = std::get_if<ApiError>(&r)) ADD_FAILURE() << body << ": " << e->message;
  return std::holds_alternative<CompletionRequest>(r) ? std::get<CompletionRequest>(r)
                                                      : CompletionRequest{};
}

ApiError bad_chat(const char* body) {
  auto r = parse_chat_request(json::parse(body), kModel);
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << "accepted: " << body;
    return {};
  }
  return std::get<ApiError>(r);
}

TEST(Request, OpenAiDefaults) {
  const CompletionRequest r = ok_chat(R"({"messages": [{"role": "user", "content": "hi"}]})");
  EXPECT_TRUE(r.chat);
  EXPECT_EQ(r.n, 1);
  EXPECT_EQ(r.max_tokens, -1);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_EQ(r.sampling.seed, SamplerParams::kRandomSeed);
  EXPECT_EQ(r.top_logprobs, -1);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.effort.has_value());
  EXPECT_EQ(r.messages, json::parse(R"([{"role": "user", "content": "hi"}])"));
}

TEST(Request, FieldsAreRead) {
  const CompletionRequest r = ok_chat(R"({
    "model": "tiny", "messages": [{"role": "developer", "content": "be brief"},
                                  {"role": "user", "content": [{"type": "text", "text": "a"},
                                                               {"type": "text", "text": "b"}]}],
    "n": 3, "max_completion_tokens": 20, "temperature": 0.5, "top_p": 0.9, "seed": 42,
    "stop": ["END", "##"], "logprobs": true, "top_logprobs": 5, "stream": true,
    "stream_options": {"include_usage": true}, "presence_penalty": 0.5, "unknown_field": 1})");
  EXPECT_EQ(r.messages[0]["role"], "system");
  EXPECT_EQ(r.messages[1]["content"], "a\nb");
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.max_tokens, 20);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_EQ(r.sampling.seed, 42u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"END", "##"}));
  EXPECT_EQ(r.top_logprobs, 5);
  EXPECT_TRUE(r.stream && r.include_usage);
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 0.5f);
}

TEST(Request, ErrorsNameTheField) {
  struct Case {
    const char* body;
    int status;
    const char* param;
  };
  const Case cases[] = {
      {R"({})", 400, "messages"},
      {R"({"messages": []})", 400, "messages"},
      {R"({"messages": "hi"})", 400, "messages"},
      {R"({"messages": [{"content": "x"}]})", 400, "messages[0].role"},
      {R"({"messages": [{"role": "user"}]})", 400, "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": 5}]})", 400, "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url",
          "image_url": {"url": "data:image/png;base64,AA"}}]}]})",
       400, "messages[0].content[0]"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", 400,
       "messages[0].content[0].image_url"},
      {R"({"messages": [{"role": "user", "content": [{"type": "hologram"}]}]})", 400,
       "messages[0].content[0].type"},
      {R"({"messages": [{"role": "tool", "content": "x"}]})", 400, "messages[0].tool_call_id"},
      {R"({"model": "other", "messages": [{"role": "user", "content": "x"}]})", 404, "model"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 3})", 400, "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", 400,
       "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 0})", 400, "n"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 1.5})", 400, "n"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", 400, "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": [1]})", 400, "stop"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", 400,
       "top_logprobs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true,
          "top_logprobs": 21})",
       400, "top_logprobs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "x"}]})", 400,
       "tools[0].type"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})", 400,
       "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"})", 400,
       "reasoning_effort"},
      {R"({"messages": [{"role": "user", "content": "x"}], "contemplate": {"agents": 0}})", 400,
       "contemplate.agents"},
      {R"({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high",
          "n": 2})",
       400, "n"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"5": 10}})", 400,
       "logit_bias"},
      {R"({"messages": [{"role": "user", "content": "x"}],
          "response_format": {"type": "json_object"}})",
       400, "response_format"},
  };
  for (const Case& c : cases) {
    const ApiError e = bad_chat(c.body);
    EXPECT_EQ(e.status, c.status) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << ": " << e.message;
    EXPECT_FALSE(e.message.empty());
    const json j = e.to_json();
    EXPECT_EQ(j["error"]["param"], c.param);
  }
}

TEST(Request, ToolsAndToolCalls) {
  const CompletionRequest r = ok_chat(R"({
    "messages": [{"role": "user", "content": "weather?"},
                 {"role": "assistant", "content": null, "tool_calls": [{"id": "c1",
                   "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Oslo\"}"}}]},
                 {"role": "tool", "tool_call_id": "c1", "content": "cold"}],
    "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "w"}}})");
  EXPECT_EQ(r.tool_choice, ToolChoice::kNamed);
  EXPECT_EQ(r.tool_name, "w");
  ASSERT_TRUE(r.tools.is_array());
  // Templates see the arguments as an object.
  EXPECT_EQ(r.messages[1]["tool_calls"][0]["function"]["arguments"]["city"], "Oslo");
  EXPECT_TRUE(r.messages[1]["content"].is_null());
  EXPECT_EQ(r.messages[2]["tool_call_id"], "c1");
  EXPECT_EQ(bad_chat(R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type":
      "function", "function": {"name": "a"}}], "tool_choice": {"type": "function",
      "function": {"name": "b"}}})")
                .param,
            "tool_choice");
}

TEST(Request, EffortLevelsAndContemplateObject) {
  EXPECT_EQ(*ok_chat(R"({"messages": [{"role": "user", "content": "x"}],
      "reasoning_effort": "low"})")
                 .effort,
            Effort::kThinking);
  EXPECT_EQ(*ok_chat(R"({"messages": [{"role": "user", "content": "x"}],
      "reasoning_effort": "minimal"})")
                 .effort,
            Effort::kInstant);
  const CompletionRequest c = ok_chat(R"({"messages": [{"role": "user", "content": "x"}],
      "contemplate": {"agents": 4, "thinking_budget": 64, "consensus": 0.8, "parallel": 2,
                      "temperature_ladder": false,
                      "roles": ["Check twice.", {"prompt": "Be bold.", "temperature": 1.2}]}})");
  ASSERT_TRUE(c.effort.has_value());
  EXPECT_EQ(*c.effort, Effort::kContemplating);
  EXPECT_EQ(c.contemplate.agents, 4);
  EXPECT_EQ(c.contemplate.thinking_budget, 64);
  EXPECT_DOUBLE_EQ(c.contemplate.consensus, 0.8);
  EXPECT_EQ(c.contemplate.parallel, 2);
  EXPECT_FALSE(c.contemplate.temperature_ladder);
  for (const char* bad :
       {R"({"parallel": -1})", R"({"parallel": 1.5})", R"({"temperature_ladder": "yes"})"}) {
    const std::string body =
        std::string(R"({"messages": [{"role": "user", "content": "x"}], "contemplate": )") + bad +
        "}";
    auto r = parse_chat_request(json::parse(body), kModel);
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << bad;
    EXPECT_NE(std::get<ApiError>(r).message.find("contemplate."), std::string::npos) << bad;
  }
  ASSERT_EQ(c.contemplate.roles.size(), 2u);
  EXPECT_FLOAT_EQ(c.contemplate.roles[1].temperature, 1.2f);
}

TEST(Request, LegacyCompletions) {
  auto r = parse_completion_request(json::parse(R"({"prompt": "Once", "logprobs": 3})"), kModel);
  ASSERT_TRUE(std::holds_alternative<CompletionRequest>(r));
  const CompletionRequest& c = std::get<CompletionRequest>(r);
  EXPECT_FALSE(c.chat);
  EXPECT_EQ(c.prompt, "Once");
  EXPECT_EQ(c.max_tokens, 16);  // OpenAI's default for this endpoint
  EXPECT_EQ(c.top_logprobs, 3);
  auto ids = parse_completion_request(json::parse(R"({"prompt": [1, 2, 3]})"), kModel);
  ASSERT_TRUE(std::holds_alternative<CompletionRequest>(ids));
  EXPECT_EQ(std::get<CompletionRequest>(ids).prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  for (const char* body : {R"({})", R"({"prompt": ["a", "b"]})", R"({"prompt": [1, -2]})",
                           R"({"prompt": "x", "echo": true})", R"({"prompt": 5})"}) {
    auto e = parse_completion_request(json::parse(body), kModel);
    EXPECT_TRUE(std::holds_alternative<ApiError>(e)) << body;
  }
}

TEST(Request, NonObjectBodies) {
  for (const char* body : {"[]", "5", "\"x\"", "null"}) {
    auto r = parse_chat_request(json::parse(body), kModel);
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << body;
    EXPECT_EQ(std::get<ApiError>(r).status, 400);
  }
}

}  // namespace
}  // namespace muse::server
