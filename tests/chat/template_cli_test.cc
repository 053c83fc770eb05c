// `muse template`: the built binary renders every fixture conversation through every fixture
// template exactly as Python did (exit 0, text on stdout) or fails where Python raised
// (exit 1, message on stderr); it reads templates and bos/eos text from GGUF files, falls
// back to ChatML, and honours --no-generation-prompt.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "cli/run_util.h"
#include "gguf/gguf_writer.h"
#include "gguf/test_util.h"

namespace muse {
namespace {

using json = nlohmann::ordered_json;
using muse::testing::run_muse;
using muse::testing::shell_quote;
using muse::testing::TempDir;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& s) {
  std::ofstream(path, std::ios::binary) << s;
}

std::string fixtures() { return muse::testing::fixture("chat_templates"); }

json load_expected() { return json::parse(read_text(fixtures() + "/expected.json")); }

testing::RunResult render(const std::string& model, const std::string& conv_path,
                          const std::string& extra = "") {
  return run_muse("template -m " + shell_quote(model) + " --messages " + shell_quote(conv_path) +
                  " --date 2026-01-15 " + extra);
}

TEST(TemplateCli, EveryFixtureTemplateAndCase) {
  MUSE_REQUIRE_FIXTURE(fixtures() + "/expected.json");
  const json expected = load_expected();
  TempDir dir;
  for (const auto& [name, c] : expected.at("cases").items())
    write_text(dir.file(name + ".json"), c.dump());
  int checked = 0;
  for (const auto& [name, per_case] : expected.at("renders").items()) {
    for (const auto& [case_name, want] : per_case.items()) {
      SCOPED_TRACE(name + " / " + case_name);
      const testing::RunResult r =
          render(fixtures() + "/" + name + ".jinja", dir.file(case_name + ".json"));
      if (want.at("ok").get<bool>()) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, want.at("text").get<std::string>());
      } else {
        EXPECT_EQ(r.exit_code, 1);
        EXPECT_EQ(r.out, "");
        EXPECT_NE(r.err.find("muse template: "), std::string::npos) << r.err;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 23 * 5);
}

TEST(TemplateCli, NoGenerationPromptFlag) {
  const std::string tmpl = fixtures() + "/Qwen-Qwen2.5-7B-Instruct.jinja";
  MUSE_REQUIRE_FIXTURE(tmpl);
  const json expected = load_expected();
  TempDir dir;
  const json conv = expected.at("cases").at("simple");
  write_text(dir.file("c.json"), conv.dump());
  const testing::RunResult with = render(tmpl, dir.file("c.json"));
  const testing::RunResult without = render(tmpl, dir.file("c.json"), "--no-generation-prompt");
  ASSERT_EQ(with.exit_code, 0) << with.err;
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_EQ(with.out,
            expected.at("renders").at("Qwen-Qwen2.5-7B-Instruct").at("simple").at("text"));
  // The flag renders what the library renders with add_generation_prompt = false.
  StatusOr<chat::ChatTemplate> t = chat::ChatTemplate::parse(read_text(tmpl));
  ASSERT_TRUE(t.ok());
  chat::ChatInputs in;
  in.messages = conv.at("messages");
  in.add_generation_prompt = false;
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  StatusOr<std::string> lib = t->apply(in);
  ASSERT_TRUE(lib.ok()) << lib.status().message();
  EXPECT_EQ(without.out, *lib);
  EXPECT_NE(without.out, with.out);
  EXPECT_EQ(with.out.rfind(without.out, 0), 0u);  // the prompt only adds a suffix
}

// A GGUF holding only tokenizer metadata (no tensors).
Status write_vocab_gguf(const std::string& path, const std::string* chat_template,
                        const std::vector<std::string>& tokens, uint32_t bos, uint32_t eos) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_u32("tokenizer.ggml.bos_token_id", bos);
  w.set_u32("tokenizer.ggml.eos_token_id", eos);
  if (chat_template) w.set_string("tokenizer.chat_template", *chat_template);
  return w.write(path);
}

TEST(TemplateCli, ReadsTemplateAndSpecialTokensFromGguf) {
  const std::string name = "meta-llama-Llama-3.1-8B-Instruct";
  MUSE_REQUIRE_FIXTURE(fixtures() + "/" + name + ".jinja");
  const json expected = load_expected();
  TempDir dir;
  write_text(dir.file("c.json"), expected.at("cases").at("system_multiturn").dump());
  const std::string tmpl = read_text(fixtures() + "/" + name + ".jinja");
  ASSERT_TRUE(write_vocab_gguf(dir.file("m.gguf"), &tmpl, {"<unk>", "<s>", "</s>"}, 1, 2).ok());
  const testing::RunResult r = render(dir.file("m.gguf"), dir.file("c.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected.at("renders").at(name).at("system_multiturn").at("text"));
}

TEST(TemplateCli, GgufSpecialTokensAndChatmlFallback) {
  TempDir dir;
  write_text(dir.file("c.json"),
             R"({"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true})");
  const std::string tmpl = "{{ bos_token }}|{{ eos_token }}|{{ messages|length }}";
  ASSERT_TRUE(write_vocab_gguf(dir.file("t.gguf"), &tmpl, {"<|begin|>", "<|end|>"}, 0, 1).ok());
  testing::RunResult r = render(dir.file("t.gguf"), dir.file("c.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|begin|>|<|end|>|1");

  ASSERT_TRUE(write_vocab_gguf(dir.file("plain.gguf"), nullptr, {"a", "b"}, 0, 1).ok());
  r = render(dir.file("plain.gguf"), dir.file("c.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(TemplateCli, ExtraConversationKeysBecomeVariables) {
  TempDir dir;
  write_text(dir.file("t.jinja"), "{{ enable_thinking }}");
  write_text(dir.file("c.json"), R"({"messages": [], "enable_thinking": false})");
  const testing::RunResult r = render(dir.file("t.jinja"), dir.file("c.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "False");
}

TEST(TemplateCli, Errors) {
  TempDir dir;
  write_text(dir.file("ok.jinja"), "{{ messages|length }}");
  write_text(dir.file("bad.jinja"), "line 1\n{% if %}");
  write_text(dir.file("c.json"), R"({"messages": []})");
  write_text(dir.file("broken.json"), "{\"messages\": [");
  write_text(dir.file("notconv.json"), "[1, 2]");
  write_text(dir.file("fake.gguf"), "GGUF but not really");

  testing::RunResult r = render(dir.file("missing.jinja"), dir.file("c.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
  r = render(dir.file("ok.jinja"), dir.file("broken.json"));
  EXPECT_EQ(r.exit_code, 1);
  r = render(dir.file("ok.jinja"), dir.file("notconv.json"));
  EXPECT_EQ(r.exit_code, 1);
  r = render(dir.file("bad.jinja"), dir.file("c.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  r = render(dir.file("fake.gguf"), dir.file("c.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err, "");
  r = run_muse("template -m " + shell_quote(dir.file("ok.jinja")));
  EXPECT_EQ(r.exit_code, 2);
  r = render(dir.file("ok.jinja"), dir.file("c.json"), "--date 2026-02-30");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace muse
