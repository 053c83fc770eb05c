// llama.cpp's tokenizer test suites (fixtures/vocab/ggml-vocab-<name>.gguf.inp/.out, made
// with the Hugging Face tokenizers): every string must encode to exactly the listed ids,
// with add_special=false and parse_special=false, as test-tokenizer-0 runs them.
//
// test-tokenizer-0 compares ids only; it prints the detokenized text but checks nothing
// about it. This test also checks decoding of the expected ids, as strictly as each kind
// of vocabulary allows:
//  * SPM, and BPE without space clean-up (deepseek-*): decode(ids) == text, byte for byte.
//  * BPE with clean_up_tokenization_spaces (gpt-2, falcon, mpt, starcoder, refact): the
//    pieces of the ids concatenate to exactly the text, and decode(ids) equals the text
//    unless the text contains one of the clean-up patterns (" ?", " 's", ...), in which
//    case decode(ids) differs from it only by removed spaces.
//  * WordPiece (bert) lowercases, strips accents and loses spacing, so the text is not
//    recoverable; instead decode(ids) (specials rendered) must encode back to the same ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace muse {
namespace {

struct Suite {
  const char* name;
  bool cleans_spaces;  // llama.cpp's clean_spaces flag for this vocabulary
};

std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += char(c);
    }
  }
  return out;
}

std::string without_spaces(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}

bool has_clean_up_pattern(const std::string& s) {
  for (const char* p : {" ?", " !", " .", " ,", " ' ", " 's", " 'm", " 're", " 've"})
    if (s.find(p) != std::string::npos) return true;
  return false;
}

class VocabSuiteTest : public ::testing::TestWithParam<Suite> {};

TEST_P(VocabSuiteTest, EncodesToExpectedIdsAndDecodesBack) {
  const Suite& suite = GetParam();
  const std::string path =
      testing::fixture(std::string("vocab/ggml-vocab-") + suite.name + ".gguf");
  MUSE_REQUIRE_FIXTURE(path);
  MUSE_REQUIRE_FIXTURE(path + ".inp");
  MUSE_REQUIRE_FIXTURE(path + ".out");
  StatusOr<Tokenizer> tok = testing::load_tokenizer(path);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  std::vector<testing::VocabCase> cases;
  ASSERT_TRUE(testing::read_vocab_suite(path, &cases)) << ".inp and .out disagree on the count";
  ASSERT_FALSE(cases.empty());

  int ids_ok = 0;
  int decode_ok = 0;
  for (const testing::VocabCase& c : cases) {
    SCOPED_TRACE("text: '" + escaped(c.text) + "'");
    const std::vector<int32_t> ids = tok->encode(c.text, false, false);
    EXPECT_EQ(testing::ids_to_string(ids), testing::ids_to_string(c.ids));
    ids_ok += ids == c.ids;

    const std::string decoded = tok->decode(c.ids, false);
    bool good = false;
    if (tok->type() == VocabType::kWpm) {
      const std::string rendered = tok->decode(c.ids, true);
      const std::vector<int32_t> again = tok->encode(rendered, false, true);
      EXPECT_EQ(testing::ids_to_string(again), testing::ids_to_string(c.ids))
          << "decoded as '" << escaped(rendered) << "'";
      good = again == c.ids;
    } else if (!suite.cleans_spaces) {
      EXPECT_EQ(escaped(decoded), escaped(c.text));
      good = decoded == c.text;
    } else {
      std::string pieces;
      for (int32_t id : c.ids) pieces += tok->token_to_piece(id, false);
      EXPECT_EQ(escaped(pieces), escaped(c.text));
      if (has_clean_up_pattern(c.text)) {
        EXPECT_NE(decoded, c.text);
        EXPECT_EQ(without_spaces(decoded), without_spaces(c.text));
        good = pieces == c.text && decoded != c.text &&
               without_spaces(decoded) == without_spaces(c.text);
      } else {
        EXPECT_EQ(escaped(decoded), escaped(c.text));
        good = pieces == c.text && decoded == c.text;
      }
    }
    decode_ok += good;
  }
  std::cout << "[ vocab    ] " << suite.name << ": ids " << ids_ok << "/" << cases.size()
            << ", decode " << decode_ok << "/" << cases.size() << "\n";
  RecordProperty("ids_ok", ids_ok);
  RecordProperty("decode_ok", decode_ok);
  RecordProperty("cases", int(cases.size()));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VocabSuiteTest,
                         ::testing::Values(Suite{"bert-bge", true}, Suite{"deepseek-coder", false},
                                           Suite{"deepseek-llm", false}, Suite{"falcon", true},
                                           Suite{"gpt-2", true}, Suite{"llama-spm", false},
                                           Suite{"mpt", true}, Suite{"phi-3", false},
                                           Suite{"refact", true}, Suite{"starcoder", true}),
                         [](const ::testing::TestParamInfo<Suite>& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Like test-tokenizer-0, tokenize the suite from several threads at once with one shared
// Tokenizer: every thread must get the expected ids.
TEST(VocabSuiteTest, ConcurrentEncoding) {
  for (const char* name : {"gpt-2", "llama-spm", "bert-bge"}) {
    const std::string path = testing::fixture(std::string("vocab/ggml-vocab-") + name + ".gguf");
    MUSE_REQUIRE_FIXTURE(path);
    StatusOr<Tokenizer> tok = testing::load_tokenizer(path);
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    std::vector<testing::VocabCase> cases;
    ASSERT_TRUE(testing::read_vocab_suite(path, &cases));
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int round = 0; round < 5; ++round)
          for (const testing::VocabCase& c : cases)
            wrong += tok->encode(c.text, false, false) != c.ids;
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(wrong.load(), 0) << name;
  }
}

// The two vocabularies without a suite still load; gpt-neox has no tokenizer.ggml.pre, so
// it gets llama.cpp's "default" regexes and a warning saying so.
TEST(VocabSuiteTest, VocabulariesWithoutSuitesLoad) {
  for (const char* name : {"baichuan", "gpt-neox"}) {
    const std::string path = testing::fixture(std::string("vocab/ggml-vocab-") + name + ".gguf");
    MUSE_REQUIRE_FIXTURE(path);
    StatusOr<Tokenizer> tok = testing::load_tokenizer(path);
    ASSERT_TRUE(tok.ok()) << name << ": " << tok.status().message();
    const std::string text = "Hello world, 1234!";
    EXPECT_EQ(tok->decode(tok->encode(text, false, false), false), text) << name;
  }
  StatusOr<Tokenizer> neox =
      testing::load_tokenizer(testing::fixture("vocab/ggml-vocab-gpt-neox.gguf"));
  ASSERT_TRUE(neox.ok());
  EXPECT_EQ(neox->pre(), "");
  ASSERT_FALSE(neox->warnings().empty());
  EXPECT_NE(neox->warnings()[0].find("tokenizer.ggml.pre"), std::string::npos);
}

}  // namespace
}  // namespace muse
