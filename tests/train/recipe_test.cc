// The smoke recipe end to end: tokenizer, both phases, checkpoints, export. A run stopped
// and resumed (inside pretraining, then inside SFT) writes the same bytes as an uninterrupted
// run, and the exported model loads through inference with its trained tokenizer.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "gguf/gguf.h"
#include "gguf/test_util.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/recipe.h"

namespace muse {
namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

TEST(Recipe, SmokeRunsResumesBitExactlyAndLoads) {
  auto recipe = find_recipe("smoke");
  ASSERT_TRUE(recipe.ok()) << recipe.status().message();
  testing::TempDir dir;

  auto whole = run_recipe(*recipe, {.out_path = dir.file("a.gguf"), .work_dir = dir.file("wa")});
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_TRUE(whole->finished);
  EXPECT_EQ(whole->steps, 7);
  ASSERT_EQ(whole->loss.size(), 2u);
  EXPECT_EQ(whole->loss[0].points.size(), 4u);
  EXPECT_EQ(whole->loss[1].points.size(), 3u);
  EXPECT_GT(whole->tokens, 0);

  RecipeRunOptions ro{.out_path = dir.file("b.gguf"), .work_dir = dir.file("wb")};
  for (int64_t stop : {2, 5}) {
    ro.stop_after = stop;
    auto part = run_recipe(*recipe, ro);
    ASSERT_TRUE(part.ok()) << part.status().message();
    EXPECT_FALSE(part->finished);
    EXPECT_EQ(part->steps, stop);
  }
  ro.stop_after = 0;
  auto rest = run_recipe(*recipe, ro);
  ASSERT_TRUE(rest.ok()) << rest.status().message();
  ASSERT_TRUE(rest->finished);
  EXPECT_EQ(rest->loss[0].points, whole->loss[0].points);
  EXPECT_EQ(rest->loss[1].points, whole->loss[1].points);
  const std::string a = read_bytes(dir.file("a.gguf")), b = read_bytes(dir.file("b.gguf"));
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "a resumed run must write the same model";

  auto model = Model::load(dir.file("a.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto file = GgufFile::open(dir.file("a.gguf"));
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tok = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->encode("123", false, false).size(), 3u);  // digits one per token
  EXPECT_TRUE(file->get_string("tokenizer.chat_template").ok());
}

TEST(Recipe, UnknownRecipeAndForeignCheckpointAreErrors) {
  auto bad = find_recipe("giant");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("nano"), std::string::npos);

  auto recipe = find_recipe("smoke");
  ASSERT_TRUE(recipe.ok());
  testing::TempDir dir;
  RecipeRunOptions ro{.out_path = dir.file("m.gguf"), .work_dir = dir.file("w"), .stop_after = 1};
  ASSERT_TRUE(run_recipe(*recipe, ro).ok());
  Recipe other = *recipe;
  other.seed += 1;
  auto r = run_recipe(other, ro);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("another recipe"), std::string::npos);
}

}  // namespace
}  // namespace muse
