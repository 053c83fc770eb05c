// Conformance against Python: every template in fixtures/chat_templates rendered with every
// conversation of expected.json must reproduce jinja2's text byte for byte when Python
// succeeded (`ok: true`) and must fail when Python raised (`ok: false`). The goldens come
// from Hugging Face's apply_chat_template environment (see the fixtures README).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "gguf/test_util.h"

namespace muse::chat {
namespace {

using json = nlohmann::ordered_json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fixture environment: bos/eos fixed, strftime_now frozen at 2026-01-15.
ChatInputs inputs_for(const json& c) {
  ChatInputs in;
  in.messages = c.at("messages");
  if (c.contains("tools")) in.tools = c.at("tools");
  in.add_generation_prompt = c.value("add_generation_prompt", true);
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  return in;
}

RenderOptions fixture_options() {
  RenderOptions o;
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_wday = 4;  // a Thursday
  tm.tm_yday = 14;
  o.now = tm;
  return o;
}

TEST(ChatTemplateFixtures, EveryTemplateEveryCase) {
  const std::string dir = muse::testing::fixture("chat_templates");
  const std::string expected_path = dir + "/expected.json";
  MUSE_REQUIRE_FIXTURE(expected_path);
  const json expected = json::parse(read_text(expected_path));
  const json& cases = expected.at("cases");
  const json& renders = expected.at("renders");
  ASSERT_FALSE(renders.empty());

  int ok_total = 0, ok_matched = 0, err_total = 0, err_raised = 0, templates = 0;
  for (const auto& [name, per_case] : renders.items()) {
    const std::string path = dir + "/" + name + ".jinja";
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    ++templates;
    StatusOr<ChatTemplate> t = ChatTemplate::parse(read_text(path));
    ASSERT_TRUE(t.ok()) << name << ": " << t.status().message();
    for (const auto& [case_name, want] : per_case.items()) {
      SCOPED_TRACE(name + " / " + case_name);
      StatusOr<std::string> got = t->apply(inputs_for(cases.at(case_name)), fixture_options());
      if (want.at("ok").get<bool>()) {
        ++ok_total;
        ASSERT_TRUE(got.ok()) << got.status().message();
        EXPECT_EQ(*got, want.at("text").get<std::string>());
        if (*got == want.at("text").get<std::string>()) ++ok_matched;
      } else {
        ++err_total;
        EXPECT_FALSE(got.ok()) << "Python raised " << want.at("error").get<std::string>()
                               << " but we rendered:\n"
                               << *got;
        if (!got.ok()) {
          ++err_raised;
          std::printf("  %-45s %-22s python: %s\n  %-45s %-22s ours:   %s\n", name.c_str(),
                      case_name.c_str(), want.at("error").get<std::string>().c_str(), "", "",
                      got.status().message().c_str());
        }
      }
    }
  }
  std::printf("chat templates: %d; renders matched %d/%d; errors raised %d/%d\n", templates,
              ok_matched, ok_total, err_raised, err_total);
  EXPECT_EQ(templates, 23);
  EXPECT_EQ(ok_matched, ok_total);
  EXPECT_EQ(err_raised, err_total);
}

}  // namespace
}  // namespace muse::chat
