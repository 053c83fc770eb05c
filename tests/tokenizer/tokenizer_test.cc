// Tokenizer behaviour beyond the suites: special tokens with parse_special on and off,
// whitespace stripping around specials (Phi-3), always-split user-defined tokens (MPT),
// end-of-generation tokens, invalid UTF-8, out-of-range ids, megabyte inputs, and the errors
// from_gguf gives for bad metadata (files written with GgufWriter).
#include <gtest/gtest.h>

#include <algorithm>

#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace muse {
namespace {

bool contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

class FixtureVocab {
 public:
  explicit FixtureVocab(const std::string& name)
      : path_(testing::fixture("vocab/ggml-vocab-" + name + ".gguf")) {}
  const std::string& path() const { return path_; }
  Tokenizer load() const {
    StatusOr<Tokenizer> tok = testing::load_tokenizer(path_);
    EXPECT_TRUE(tok.ok()) << tok.status().message();
    return std::move(tok.value());
  }

 private:
  std::string path_;
};

TEST(SpecialTokensTest, SpmParsesControlTokensOnlyWhenAsked) {
  FixtureVocab vocab("llama-spm");
  MUSE_REQUIRE_FIXTURE(vocab.path());
  const Tokenizer tok = vocab.load();
  ASSERT_EQ(tok.token_text(1), "<s>");
  ASSERT_EQ(tok.token_text(2), "</s>");
  const std::string text = "<s>Hello</s>";
  // Text after a special token gets SentencePiece's prefix space: "▁Hello".
  const std::vector<int32_t> parsed = tok.encode(text, false, true);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0], 1);
  EXPECT_EQ(tok.token_text(parsed[1]), "▁Hello");
  EXPECT_EQ(parsed[2], 2);
  const std::vector<int32_t> plain = tok.encode(text, false, false);
  EXPECT_FALSE(contains(plain, 1));
  EXPECT_FALSE(contains(plain, 2));
  EXPECT_EQ(tok.decode(plain, false), text);
  // With add_special the vocabulary's BOS comes first (add_bos_token is true), no EOS.
  EXPECT_TRUE(tok.add_bos());
  EXPECT_FALSE(tok.add_eos());
  const std::vector<int32_t> with_bos = tok.encode("Hello", true, false);
  ASSERT_EQ(with_bos.size(), 2u);
  EXPECT_EQ(with_bos[0], 1);
  EXPECT_EQ(tok.encode("", true, false), std::vector<int32_t>{1});
  EXPECT_TRUE(tok.encode("", false, false).empty());
  // Rendering: control tokens only with render_special.
  EXPECT_EQ(tok.decode(parsed, false), " Hello");  // llama.cpp keeps the space after <s>
  EXPECT_EQ(tok.decode(parsed, true), "<s> Hello</s>");
}

TEST(SpecialTokensTest, BpeEndOfTextToken) {
  FixtureVocab vocab("gpt-2");
  MUSE_REQUIRE_FIXTURE(vocab.path());
  const Tokenizer tok = vocab.load();
  const std::string text = "Hi<|endoftext|>there";
  const std::vector<int32_t> parsed = tok.encode(text, false, true);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[1], 50256);
  EXPECT_EQ(tok.decode(parsed, true), text);
  EXPECT_EQ(tok.decode(parsed, false), "Hithere");
  const std::vector<int32_t> plain = tok.encode(text, false, false);
  EXPECT_FALSE(contains(plain, 50256));
  EXPECT_GT(plain.size(), 3u);
  EXPECT_EQ(tok.decode(plain, false), text);
  EXPECT_EQ(tok.eos(), 50256);
  EXPECT_TRUE(tok.is_eog(50256));
  EXPECT_TRUE(tok.is_control(50256));
  EXPECT_FALSE(tok.add_bos());  // GPT-2's vocabulary adds nothing
  EXPECT_EQ(tok.encode("Hi", true, false), tok.encode("Hi", false, false));
}

// llama.cpp gives Phi-3's special tokens (found by general.name) RSTRIP, as Hugging Face's
// added tokens have rstrip=True: the newline after <|user|> and <|end|> disappears.
TEST(SpecialTokensTest, Phi3StripsWhitespaceAfterSpecials) {
  FixtureVocab vocab("phi-3");
  MUSE_REQUIRE_FIXTURE(vocab.path());
  const Tokenizer tok = vocab.load();
  const std::vector<int32_t> ids = tok.encode("<|user|>\nHello<|end|>\n<|assistant|>", false, true);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(tok.token_text(ids[0]), "<|user|>");
  EXPECT_EQ(tok.token_text(ids[1]), "▁Hello");
  EXPECT_EQ(tok.token_text(ids[2]), "<|end|>");
  EXPECT_EQ(tok.token_text(ids[3]), "<|assistant|>");
  EXPECT_TRUE(tok.is_eog(ids[2]));
  EXPECT_TRUE(tok.is_eog(*tok.find_token("<|endoftext|>")));
  EXPECT_FALSE(tok.is_eog(ids[3]));
  EXPECT_EQ(tok.eos(), 32000);
}

// User-defined tokens are split out even with parse_special off (MPT's whitespace runs).
TEST(SpecialTokensTest, UserDefinedTokensAlwaysSplit) {
  FixtureVocab vocab("mpt");
  MUSE_REQUIRE_FIXTURE(vocab.path());
  const Tokenizer tok = vocab.load();
  const std::string spaces(24, ' ');
  const std::optional<int32_t> run = tok.find_token(spaces);
  ASSERT_TRUE(run.has_value());
  EXPECT_FALSE(tok.is_control(*run));
  const std::vector<int32_t> ids = tok.encode("a" + spaces + "b", false, false);
  EXPECT_TRUE(contains(ids, *run));
  EXPECT_EQ(tok.decode(ids, false), "a" + spaces + "b");
}

TEST(SpecialTokensTest, WordPieceAddsClsAndSep) {
  FixtureVocab vocab("bert-bge");
  MUSE_REQUIRE_FIXTURE(vocab.path());
  const Tokenizer tok = vocab.load();
  const std::vector<int32_t> ids = tok.encode("Hello world", true, false);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(tok.token_text(ids.front()), "[CLS]");
  EXPECT_EQ(tok.token_text(ids.back()), "[SEP]");
  EXPECT_EQ(tok.decode(ids, false), " hello world");
  EXPECT_EQ(tok.encode("[MASK]", false, true), std::vector<int32_t>{103});
}

std::vector<std::string_view> texts_of(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<std::string_view> out;
  for (int32_t id : ids) out.push_back(tok.token_text(id));
  return out;
}

// Equal candidates (the same pair at two places) merge leftmost first, in both llama.cpp
// algorithms (`llm_bigram_spm` and `llm_bigram_bpe` break ties on the left index). In
// "eoaaa" merging the right "aa" first would free "oa" to merge.
TEST(MergeOrderTest, TiesGoToTheLeftmostPair) {
  FixtureVocab spm("llama-spm");
  MUSE_REQUIRE_FIXTURE(spm.path());
  const Tokenizer s = spm.load();
  EXPECT_EQ(texts_of(s, s.encode("eoaaa", false, false)),
            (std::vector<std::string_view>{"▁e", "o", "aa", "a"}));
  FixtureVocab bpe("gpt-2");
  MUSE_REQUIRE_FIXTURE(bpe.path());
  const Tokenizer b = bpe.load();
  EXPECT_EQ(texts_of(b, b.encode("eoaaa", false, false)),
            (std::vector<std::string_view>{"e", "o", "aaa"}));
}

TEST(InvalidInputTest, InvalidUtf8NeverFails) {
  const std::string nasty[] = {"\xff\xfe\xfd",
                               "a\x80 b",
                               "\xe2\x82",
                               "x\xe2\x82 y",
                               "\xc0\x80",
                               "\xed\xa0\x80",
                               "\xf5\x80\x80\x80",
                               "\xf8\x88\x80\x80\x80",
                               std::string("nul\0byte", 8)};
  for (const char* name : {"llama-spm", "gpt-2", "deepseek-llm", "falcon", "bert-bge"}) {
    FixtureVocab vocab(name);
    MUSE_REQUIRE_FIXTURE(vocab.path());
    const Tokenizer tok = vocab.load();
    for (const std::string& s : nasty) {
      for (bool parse_special : {false, true}) {
        const std::vector<int32_t> ids = tok.encode(s, true, parse_special);
        for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab()) << name;
        (void)tok.decode(ids, true);
      }
    }
  }
}

// SPM keeps stray bytes through byte-fallback tokens; byte-level BPE reads each invalid byte
// as U+FFFD first, as llama.cpp does (and keeps surrogates, which its decoder lets through).
TEST(InvalidInputTest, WhatInvalidBytesBecome) {
  FixtureVocab spm("llama-spm");
  MUSE_REQUIRE_FIXTURE(spm.path());
  const Tokenizer s = spm.load();
  const std::string stray =
      "abc\x80"
      "def\xe2\x82";
  EXPECT_EQ(s.decode(s.encode(stray, false, false), false), stray);
  EXPECT_TRUE(contains(s.encode(stray, false, false), *s.find_token("<0x80>")));

  FixtureVocab bpe("gpt-2");
  MUSE_REQUIRE_FIXTURE(bpe.path());
  const Tokenizer b = bpe.load();
  auto round_trip = [&](const std::string& text) {
    return b.decode(b.encode(text, false, false), false);
  };
  EXPECT_EQ(round_trip("a\x80z"), "a\xef\xbf\xbdz");
  EXPECT_EQ(round_trip("a\xe2\x82"), "a\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(round_trip("a\xed\xa0\x80z"), "a\xed\xa0\x80z");
  EXPECT_EQ(round_trip(std::string("a\xc0\x80z")), std::string("a\0z", 3));  // overlong NUL
  EXPECT_EQ(round_trip("a\xf5\x80\x80\x80z"), "a\xef\xbf\xbdz");             // past U+10FFFF

  FixtureVocab wpm("bert-bge");
  MUSE_REQUIRE_FIXTURE(wpm.path());
  const Tokenizer w = wpm.load();
  EXPECT_EQ(w.encode("hel\x80lo", false, false), w.encode("hello", false, false));
}

TEST(InvalidInputTest, OutOfRangeIds) {
  FixtureVocab vocab("llama-spm");
  MUSE_REQUIRE_FIXTURE(vocab.path());
  const Tokenizer tok = vocab.load();
  const int32_t hello = *tok.find_token("▁Hello");
  const std::vector<int32_t> ids = {-1, hello, tok.n_vocab(), INT32_MAX, INT32_MIN};
  EXPECT_EQ(tok.decode(ids, true), "Hello");  // skipped; the first real token still strips
  EXPECT_EQ(tok.token_to_piece(-5, true), "");
  EXPECT_EQ(tok.token_to_piece(tok.n_vocab(), true), "");
  EXPECT_EQ(tok.token_text(tok.n_vocab()), "");
  EXPECT_FALSE(tok.is_eog(-1));
  EXPECT_FALSE(tok.is_control(tok.n_vocab()));
  EXPECT_FALSE(tok.find_token("no such token at all").has_value());
}

// One megabyte of text through every algorithm: it finishes (no quadratic step) and
// round-trips. The degenerate inputs (one word, one run of spaces) put every symbol in a
// single merge queue; at 256 KiB a quadratic step would still take minutes, and they run
// on one SPM and one BPE vocabulary to keep sanitizer builds quick.
TEST(LongInputTest, OneMegabyte) {
  std::string text;
  const std::string paragraph =
      "The quick brown fox jumps over the lazy dog; naïve café owners count 1234567 coins. "
      "Ünïcödé 🦙 日本語のテキスト. Tabs\tand\nnewlines   with  spaces.\n";
  while (text.size() < (1 << 20)) text += paragraph;
  const std::string one_word(1 << 18, 'a');
  const std::string spaces(1 << 18, ' ');
  for (const char* name : {"llama-spm", "gpt-2", "deepseek-llm", "bert-bge"}) {
    FixtureVocab vocab(name);
    MUSE_REQUIRE_FIXTURE(vocab.path());
    const Tokenizer tok = vocab.load();
    SCOPED_TRACE(name);
    std::vector<const std::string*> inputs = {&text};
    if (tok.type() != VocabType::kWpm && std::string_view(name) != "deepseek-llm") {
      inputs.push_back(&one_word);
      inputs.push_back(&spaces);
    }
    for (const std::string* s : inputs) {
      const std::vector<int32_t> ids = tok.encode(*s, false, false);
      if (tok.type() == VocabType::kWpm) {
        EXPECT_GT(ids.size(), s->size() / 8);
      } else {
        EXPECT_LE(ids.size(), s->size());
        EXPECT_EQ(tok.decode(ids, false), *s);
      }
    }
  }
}

// A GGUF file holding only the given tokenizer metadata, written to a temporary folder.
class SyntheticVocab {
 public:
  GgufWriter& writer() { return writer_; }
  StatusOr<Tokenizer> load() {
    const std::string path = dir_.file("vocab.gguf");
    Status s = writer_.write(path);
    if (!s.ok()) return s;
    StatusOr<GgufFile> f = GgufFile::open(path);
    if (!f.ok()) return f.status();
    return Tokenizer::from_gguf(*f);
  }
  void bpe(std::vector<std::string> tokens, std::vector<std::string> merges) {
    writer_.set_string("tokenizer.ggml.model", "gpt2");
    writer_.set_string("tokenizer.ggml.pre", "gpt-2");
    writer_.set_string_array("tokenizer.ggml.tokens", tokens);
    writer_.set_string_array("tokenizer.ggml.merges", merges);
  }

 private:
  testing::TempDir dir_;
  GgufWriter writer_;
};

void expect_error(StatusOr<Tokenizer> tok, const std::string& needle) {
  ASSERT_FALSE(tok.ok()) << "loaded, expected an error mentioning '" << needle << "'";
  EXPECT_NE(tok.status().message().find(needle), std::string::npos) << tok.status().message();
}

TEST(LoadErrorsTest, MissingOrInvalidMetadata) {
  {
    SyntheticVocab v;
    v.writer().set_string("general.name", "nothing");
    expect_error(v.load(), "tokenizer.ggml.model");
  }
  {
    SyntheticVocab v;
    v.writer().set_string("tokenizer.ggml.model", "t5");
    expect_error(v.load(), "'t5'");
  }
  {
    SyntheticVocab v;
    v.writer().set_string("tokenizer.ggml.model", "llama");
    expect_error(v.load(), "tokenizer.ggml.tokens");
  }
  {
    SyntheticVocab v;
    v.bpe({"a", "b", "ab"}, {"a b"});
    v.writer().set_string("tokenizer.ggml.pre", "no-such-pre");
    expect_error(v.load(), "'no-such-pre'");
  }
  {
    SyntheticVocab v;
    v.bpe({"a", "b", "ab"}, {"a b"});
    v.writer().set_string("tokenizer.ggml.pre", "kimi-k2");
    expect_error(v.load(), "not supported");
  }
  {
    SyntheticVocab v;
    v.writer().set_string("tokenizer.ggml.model", "gpt2");
    v.writer().set_string("tokenizer.ggml.pre", "gpt-2");
    const std::vector<std::string> tokens = {"a", "b"};
    v.writer().set_string_array("tokenizer.ggml.tokens", tokens);
    expect_error(v.load(), "tokenizer.ggml.merges");
  }
  {
    SyntheticVocab v;
    v.writer().set_string("tokenizer.ggml.model", "llama");
    const std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "a"};
    const std::vector<float> scores = {0, 0, 0};
    v.writer().set_string_array("tokenizer.ggml.tokens", tokens);
    v.writer().set_f32_array("tokenizer.ggml.scores", scores);
    expect_error(v.load(), "tokenizer.ggml.scores");
  }
  {
    SyntheticVocab v;
    v.writer().set_string("tokenizer.ggml.model", "llama");
    v.writer().set_u32("tokenizer.ggml.tokens", 5);
    expect_error(v.load(), "tokenizer.ggml.tokens");
  }
  {
    SyntheticVocab v;  // BOS asked for, but the vocabulary has none (llama.cpp refuses too)
    v.bpe({"a", "b", "ab"}, {"a b"});
    v.writer().set_bool("tokenizer.ggml.add_bos_token", true);
    expect_error(v.load(), "bos_token_id");
  }
  {
    SyntheticVocab v;  // an id past the vocabulary is ignored with a warning
    v.bpe({"a", "b", "ab"}, {"a b"});
    v.writer().set_u32("tokenizer.ggml.eos_token_id", 99);
    StatusOr<Tokenizer> tok = v.load();
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    EXPECT_EQ(tok->eos(), -1);
    EXPECT_EQ(tok->bos(), -1);  // llama.cpp's BPE default, 11, is out of range as well
    bool warned = false;
    for (const std::string& w : tok->warnings()) warned |= w.find("eos_token_id") != w.npos;
    EXPECT_TRUE(warned);
  }
}

// Merges name strings, not ids: llama.cpp merges "a b" into "ab" even when "ab" is not a
// token, and "ab c" then forms "abc".
TEST(LoadErrorsTest, MergesThroughStringsOutsideTheVocabulary) {
  SyntheticVocab v;
  v.bpe({"a", "b", "c", "abc"}, {"a b", "ab c"});
  StatusOr<Tokenizer> tok = v.load();
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->encode("abc", false, false), std::vector<int32_t>{3});
  EXPECT_EQ(tok->encode("ab", false, false), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(tok->encode("cab", false, false), (std::vector<int32_t>{2, 0, 1}));
}

}  // namespace
}  // namespace muse
