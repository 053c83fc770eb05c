// Prompt tokens of the real-model fixtures against what llama.cpp (build c392e50) produced
// for the goldens: golden/<model>.p<N>.json "tokens" is prompt N tokenized with BOS added
// as the vocabulary says and special tokens not parsed, i.e. encode(prompt, true, false).
// Exact match required. Prompts come from golden/prompts.txt, line N = prompt pN, where the
// two characters `\n` stand for a newline.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace muse {
namespace {

std::vector<std::string> read_prompts(const std::string& path) {
  std::vector<std::string> prompts;
  std::istringstream lines(testing::read_text_file(path));
  for (std::string line; std::getline(lines, line);) {
    std::string prompt;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == 'n') {
        prompt += '\n';
        ++i;
      } else {
        prompt += line[i];
      }
    }
    prompts.push_back(prompt);
  }
  return prompts;
}

TEST(GoldenTokensTest, EveryModelEveryPrompt) {
  const std::string prompts_path = testing::fixture("golden/prompts.txt");
  MUSE_REQUIRE_FIXTURE(prompts_path);
  const std::vector<std::string> prompts = read_prompts(prompts_path);
  ASSERT_FALSE(prompts.empty());
  const std::vector<std::string> models = testing::fixture_ggufs("models");
  ASSERT_FALSE(models.empty()) << "no models in " << testing::fixture("models");

  int total = 0;
  int matched = 0;
  for (const std::string& model_path : models) {
    const std::string model = std::filesystem::path(model_path).stem().string();
    SCOPED_TRACE(model);
    StatusOr<Tokenizer> tok = testing::load_tokenizer(model_path);
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    int model_matched = 0;
    for (size_t n = 0; n < prompts.size(); ++n) {
      const std::string json_path =
          testing::fixture("golden/" + model + ".p" + std::to_string(n + 1) + ".json");
      if (!std::filesystem::exists(json_path)) {
        ADD_FAILURE() << "golden missing: " << json_path;
        continue;
      }
      const nlohmann::json golden = nlohmann::json::parse(testing::read_text_file(json_path));
      const std::vector<int32_t> expected = golden.at("tokens").get<std::vector<int32_t>>();
      const std::vector<int32_t> ids = tok->encode(prompts[n], true, false);
      EXPECT_EQ(testing::ids_to_string(ids), testing::ids_to_string(expected))
          << "prompt p" << n + 1;
      ++total;
      model_matched += ids == expected;
    }
    matched += model_matched;
    std::cout << "[ golden   ] " << model << ": " << model_matched << "/" << prompts.size()
              << " prompts\n";
  }
  std::cout << "[ golden   ] total " << matched << "/" << total << "\n";
}

}  // namespace
}  // namespace muse
