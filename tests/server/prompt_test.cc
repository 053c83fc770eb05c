// build_prompt and tool_choice, on a fixture tokenizer with real chat templates: a required
// or named call ends the prompt with the template's tool-call opener (after closing a
// thinking block the template opened), a named call shows the model only that function, and
// "auto" leaves the prompt as the template wrote it.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gguf/gguf.h"
#include "gguf/test_util.h"
#include "server/completion.h"
#include "server/request.h"
#include "tokenizer/tokenizer.h"

namespace muse::server {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class PromptTest : public ::testing::Test {
 protected:
  // The tiny qwen2 fixture's tokenizer with the chat template in fixtures/chat_templates/`name`.
  ServedModel model(const std::string& template_name) {
    const std::string gguf = testing::fixture("models/qwen2-gpt2-tiny-q8_0.gguf");
    const std::string tmpl = testing::fixture("chat_templates/" + template_name);
    auto file = GgufFile::open(gguf);
    EXPECT_TRUE(file.ok()) << file.status().message();
    auto tok = Tokenizer::from_gguf(*file);
    EXPECT_TRUE(tok.ok()) << tok.status().message();
    auto m = ServedModel::create(*file, std::move(*tok), "m", 4096, read_text(tmpl));
    EXPECT_TRUE(m.ok()) << m.status().message();
    return std::move(*m);
  }

  static CompletionRequest request(const std::string& tool_choice_json) {
    const json body = json::parse(R"({"messages": [{"role": "user", "content": "Weather?"}],
      "tools": [{"type": "function", "function": {"name": "get_weather",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "get_time",
                  "parameters": {"type": "object", "properties": {}}}}],
      "tool_choice": )" + tool_choice_json +
                                  "}");
    auto r = parse_chat_request(body, "m", RequestLimits{});
    if (auto* e = std::get_if<ApiError>(&r)) ADD_FAILURE() << e->message;
    return std::get<CompletionRequest>(std::move(r));
  }

  static std::string text(const ServedModel& m, const Prompt& p) {
    return m.tokenizer.decode(p.ids, /*render_special=*/true);
  }
};

TEST_F(PromptTest, RequiredAndNamedCallsEndThePromptWithTheOpener) {
  MUSE_REQUIRE_FIXTURE(testing::fixture("models/qwen2-gpt2-tiny-q8_0.gguf"));
  const ServedModel m = model("Qwen-Qwen2.5-7B-Instruct.jinja");
  ASSERT_EQ(m.tool_format, ToolFormat::kHermes);

  auto plain = build_prompt(m, request(R"("auto")"));
  ASSERT_TRUE(std::holds_alternative<Prompt>(plain));
  const std::string auto_text = text(m, std::get<Prompt>(plain));
  EXPECT_FALSE(std::get<Prompt>(plain).forced_call);
  EXPECT_NE(auto_text.find("get_time"), std::string::npos);

  auto required = build_prompt(m, request(R"("required")"));
  ASSERT_TRUE(std::holds_alternative<Prompt>(required));
  const Prompt& rp = std::get<Prompt>(required);
  ASSERT_TRUE(rp.forced_call);
  EXPECT_EQ(rp.forced_call->opener, "<tool_call>\n");
  EXPECT_EQ(rp.forced_call->name, "");
  EXPECT_EQ(text(m, rp), auto_text + "<tool_call>\n");

  auto named =
      build_prompt(m, request(R"({"type": "function", "function": {"name": "get_weather"}})"));
  ASSERT_TRUE(std::holds_alternative<Prompt>(named));
  const Prompt& np = std::get<Prompt>(named);
  ASSERT_TRUE(np.forced_call);
  EXPECT_EQ(np.forced_call->name, "get_weather");
  const std::string named_text = text(m, np);
  EXPECT_TRUE(named_text.ends_with("<tool_call>\n"));
  EXPECT_NE(named_text.find("get_weather"), std::string::npos);
  EXPECT_EQ(named_text.find("get_time"), std::string::npos) << "only the named function is shown";

  auto none = build_prompt(m, request(R"("none")"));
  ASSERT_TRUE(std::holds_alternative<Prompt>(none));
  EXPECT_FALSE(std::get<Prompt>(none).forced_call);
  EXPECT_EQ(text(m, std::get<Prompt>(none)).find("get_weather"), std::string::npos);
}

TEST_F(PromptTest, ARequiredCallClosesTheThinkingTheTemplateOpened) {
  MUSE_REQUIRE_FIXTURE(testing::fixture("models/qwen2-gpt2-tiny-q8_0.gguf"));
  // DeepSeek-R1: the generation prompt ends with "<think>\n".
  const ServedModel m = model("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja");
  ASSERT_EQ(m.tool_format, ToolFormat::kDeepSeek);
  auto plain = build_prompt(m, request(R"("auto")"));
  if (auto* e = std::get_if<ApiError>(&plain)) FAIL() << e->message;
  const Prompt& pp = std::get<Prompt>(plain);
  ASSERT_TRUE(pp.reply.starts_in_thinking) << text(m, pp);

  auto required = build_prompt(m, request(R"("required")"));
  ASSERT_TRUE(std::holds_alternative<Prompt>(required));
  const Prompt& rp = std::get<Prompt>(required);
  EXPECT_FALSE(rp.reply.starts_in_thinking);
  EXPECT_EQ(text(m, rp),
            text(m, pp) + "</think>\n\n" + std::string(tool_call_opener(ToolFormat::kDeepSeek)));
}

}  // namespace
}  // namespace muse::server
