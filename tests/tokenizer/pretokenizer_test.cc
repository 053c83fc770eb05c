// Pre-tokenizer splits worked out by hand from the regexes and llama.cpp's rules: each regex
// refines the pieces of the previous one, gaps between matches are pieces too, non-ASCII
// whitespace counts as \s (stood in by VT), and \p{...} follows llama.cpp's category
// collapsing (so '~' is not a symbol). The fixture suites cover gpt-2, deepseek, falcon,
// starcoder, refact and mpt; Llama 3 and Qwen2 have no suite, so their splits are here.
#include <gtest/gtest.h>

#include "tokenizer/pretokenizer.h"

namespace muse {
namespace {

using Words = std::vector<std::string>;

Words split(std::string_view pre, std::string_view text) {
  StatusOr<PreTokenizerConfig> config = pre_tokenizer_config(pre);
  EXPECT_TRUE(config.ok()) << config.status().message();
  if (!config.ok()) return {};
  StatusOr<std::unique_ptr<PreTokenizer>> pt = PreTokenizer::create(config->regexes);
  EXPECT_TRUE(pt.ok()) << pt.status().message();
  if (!pt.ok()) return {};
  return (*pt)->split(text);
}

TEST(PreTokenizerTest, Llama3) {
  // " " before digits matches only \s+; digits go in threes; punctuation takes the
  // newlines after it; "  x" leaves one space for " x".
  EXPECT_EQ(split("llama-bpe", "Hello world 12345!!\n\n  x"),
            (Words{"Hello", " world", " ", "123", "45", "!!\n\n", " ", " x"}));
  EXPECT_EQ(split("llama3", "I'M don'T we'll"), (Words{"I", "'M", " don", "'T", " we", "'ll"}));
  // A non-letter, non-digit character (here an ideographic space) can lead a word.
  EXPECT_EQ(split("llama3", "a\u3000b"), (Words{"a", "\u3000b"}));
  // U+0085 is White_Space (std::regex never sees it: llama.cpp turns it into VT).
  EXPECT_EQ(split("llama3", "a\u0085\u0085b"), (Words{"a", "\u0085", "\u0085b"}));
  EXPECT_EQ(split("llama3", "x\n \n y"), (Words{"x", "\n \n", " y"}));
  EXPECT_EQ(split("llama3", ""), Words{});
}

TEST(PreTokenizerTest, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "in 2024, naïve"),
            (Words{"in", " ", "2", "0", "2", "4", ",", " naïve"}));
}

TEST(PreTokenizerTest, Gpt2) {
  EXPECT_EQ(
      split("gpt-2", "Hello, y'all!  3 apples\t\tok "),
      (Words{"Hello", ",", " y", "'", "all", "!", " ", " 3", " apples", "\t", "\t", "ok", " "}));
}

// DeepSeek LLM: newlines split first, then letters, punctuation, trailing whitespace of a
// piece (`$` is the end of the piece), CJK runs, digit runs.
TEST(PreTokenizerTest, DeepseekLlm) {
  EXPECT_EQ(split("deepseek-llm", "ab 12\ncd  \n中文x"),
            (Words{"ab", " ", "12", "\n", "cd", "  ", "\n", "中文", "x"}));
}

// In llama.cpp's collapsed categories '~' is in none of \p{P}, \p{S}: with DeepSeek V3's
// regexes "~~b" is a gap "~" and then "~b" (punctuation + letters), not "~~" + "b".
TEST(PreTokenizerTest, CollapsedCategoriesKeepLlamaCppQuirks) {
  EXPECT_EQ(split("deepseek-v3", "a~~b"), (Words{"a", "~", "~b"}));
  EXPECT_EQ(split("deepseek-v3", "a!!b"), (Words{"a", "!!", "b"}));
}

TEST(PreTokenizerTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(split("gpt-2", "a\xff\xfe z"), (Words{"a", "\xef\xbf\xbd\xef\xbf\xbd", " z"}));
}

TEST(PreTokenizerTest, UnknownAndUnsupportedNames) {
  StatusOr<PreTokenizerConfig> unknown = pre_tokenizer_config("not-a-pre");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'not-a-pre'"), std::string::npos);
  EXPECT_FALSE(pre_tokenizer_config("superbpe").ok());
  StatusOr<PreTokenizerConfig> absent = pre_tokenizer_config("");
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->name, "default");
  ASSERT_TRUE(pre_tokenizer_config("llama-bpe").ok());
  EXPECT_EQ(pre_tokenizer_config("llama-bpe")->name, "llama3");
  EXPECT_TRUE(pre_tokenizer_config("llama-bpe")->ignore_merges);
  EXPECT_FALSE(pre_tokenizer_config("qwen2")->clean_spaces);
}

// Every configured family's regexes compile.
TEST(PreTokenizerTest, EveryFamilyCompiles) {
  for (const char* pre :
       {"default",   "llama3",         "dbrx",       "jais-2",      "deepseek-llm", "deepseek-v3",
        "spark2_5",  "deepseek-coder", "falcon",     "gpt-2",       "jina-v1-en",   "trillion",
        "starcoder", "command-r",      "qwen2",      "stablelm2",   "qwen35",       "minicpm5",
        "poro-chat", "bloom",          "viking",     "chatglm-bpe", "tekken",       "chameleon",
        "gpt-4o",    "tiny_aya",       "seed-coder", "bailingmoe",  "grok-2",       "ufakzeka",
        "exaone-moe"}) {
    StatusOr<PreTokenizerConfig> config = pre_tokenizer_config(pre);
    ASSERT_TRUE(config.ok()) << pre;
    StatusOr<std::unique_ptr<PreTokenizer>> pt = PreTokenizer::create(config->regexes);
    ASSERT_TRUE(pt.ok()) << pre << ": " << pt.status().message();
    const std::string text = "Hello World's 12345 naïve Ünï 日本語 ~!? \n\t x";
    std::string joined;
    for (const std::string& w : (*pt)->split(text)) joined += w;
    EXPECT_EQ(joined, text) << pre;
  }
}

}  // namespace
}  // namespace muse
