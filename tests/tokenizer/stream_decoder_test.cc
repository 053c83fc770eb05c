// StreamDecoder: tokens pushed one at a time give, concatenated with flush(), exactly
// Tokenizer::decode() of the same ids, and no chunk ends inside a UTF-8 character. Run on a
// byte-fallback SPM vocabulary (llama-spm: emoji become <0xF0><0x9F>... tokens) and a
// byte-level BPE one (gpt-2: emoji split across byte tokens, plus space clean-up).
// Also the clean-up itself: hand-checked cases of llama.cpp's three passes, and the
// property that lets a stream apply it piecewise.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer_test_util.h"

namespace muse {
namespace {

constexpr const char* kMultibyte =
    "Hello 🦙 wörld — ✅ 日本語 😶‍🌫️ Ünïcödé, y'all ! it 's 🚀🚀 fin";

struct StreamResult {
  std::string text;
  int chunks_held = 0;  // pushes that returned less than everything pushed so far
};

// Pushes `ids` one by one, checking every chunk; returns the concatenation with flush().
StreamResult stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool render_special) {
  StreamDecoder dec(tok, {.render_special = render_special});
  StreamResult r;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string chunk = dec.push(ids[i]);
    EXPECT_TRUE(testing::ends_complete_utf8(chunk))
        << "chunk after token #" << i << " ends mid-character";
    r.text += chunk;
    const std::vector<int32_t> prefix(ids.begin(), ids.begin() + ptrdiff_t(i + 1));
    if (r.text != tok.decode(prefix, render_special)) ++r.chunks_held;
  }
  r.text += dec.flush();
  return r;
}

class StreamDecoderTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    path_ = testing::fixture(std::string("vocab/ggml-vocab-") + GetParam() + ".gguf");
    MUSE_REQUIRE_FIXTURE(path_);
    StatusOr<Tokenizer> tok = testing::load_tokenizer(path_);
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    tok_ = std::make_unique<Tokenizer>(std::move(tok.value()));
  }
  std::string path_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_P(StreamDecoderTest, MultibyteTextStreamsLikeDecode) {
  for (bool add_special : {false, true}) {
    for (bool render_special : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << "add_special " << add_special << " render_special " << render_special);
      const std::vector<int32_t> ids = tok_->encode(kMultibyte, add_special, false);
      const StreamResult r = stream(*tok_, ids, render_special);
      EXPECT_EQ(r.text, tok_->decode(ids, render_special));
      // Multi-byte characters are spread over several tokens in both vocabularies, so some
      // text must have been held back at some point.
      EXPECT_GT(r.chunks_held, 0);
    }
  }
}

TEST_P(StreamDecoderTest, RandomTokenSequencesStreamLikeDecode) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> any(-3, tok_->n_vocab() + 3);  // some out of range
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int32_t> ids(1 + rng() % 24);
    for (int32_t& id : ids) id = any(rng);
    const bool render_special = trial % 2 == 1;
    EXPECT_EQ(stream(*tok_, ids, render_special).text, tok_->decode(ids, render_special));
  }
}

// Sequences built from tokens that trigger the clean-up rules (spaces, apostrophes,
// punctuation, "s", "re", ...), where holding back the right amount matters most.
TEST_P(StreamDecoderTest, CleanUpTokensStreamLikeDecode) {
  std::vector<int32_t> pool;
  for (const char* text : {" ", "'", " '", "s",  "re", "ve", "m",  "t",  "?",  ".",
                           ",", "!", " ?", " ,", "e",  "a",  "\n", " s", "ll", "d"}) {
    for (int32_t id : tok_->encode(text, false, false)) pool.push_back(id);
  }
  ASSERT_FALSE(pool.empty());
  std::mt19937 rng(99);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<int32_t> ids(1 + rng() % 16);
    for (int32_t& id : ids) id = pool[rng() % pool.size()];
    EXPECT_EQ(stream(*tok_, ids, false).text, tok_->decode(ids, false));
  }
}

TEST_P(StreamDecoderTest, ResetStartsANewText) {
  const std::vector<int32_t> ids = tok_->encode(" Hello world", false, false);
  StreamDecoder dec(*tok_);
  std::string first;
  for (int32_t id : ids) first += dec.push(id);
  first += dec.flush();
  dec.reset();
  std::string second;
  for (int32_t id : ids) second += dec.push(id);
  second += dec.flush();
  EXPECT_EQ(first, tok_->decode(ids, false));
  EXPECT_EQ(second, first);
  EXPECT_EQ(dec.push(-1), "");
  EXPECT_EQ(dec.push(tok_->n_vocab()), "");
}

// A reply generated after a prompt keeps its first space: "▁Hello" streams as " Hello".
TEST_P(StreamDecoderTest, ContinuedTextKeepsTheFirstSpace) {
  const std::vector<int32_t> ids = tok_->encode(" Hello world", false, false);
  StreamDecoder dec(*tok_, {.continues_text = true});
  std::string text;
  std::string pieces;
  for (int32_t id : ids) {
    text += dec.push(id);
    pieces += tok_->token_to_piece(id, false);
  }
  text += dec.flush();
  EXPECT_EQ(text, pieces);
  EXPECT_EQ(text, tok_->type() == VocabType::kSpm ? "  Hello world" : " Hello world");
  dec.reset();
  EXPECT_EQ(dec.push(ids[0]) + dec.flush(), tok_->token_to_piece(ids[0], false));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, StreamDecoderTest, ::testing::Values("llama-spm", "gpt-2"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

TEST(CleanUpSpacesTest, LlamaCppPasses) {
  EXPECT_EQ(clean_up_spaces("Hello , world ! Yes . No ?"), "Hello, world! Yes. No?");
  EXPECT_EQ(clean_up_spaces(" ?"), "?");  // the first character can go too
  EXPECT_EQ(clean_up_spaces("a ' b"), "a'b");
  EXPECT_EQ(clean_up_spaces("a ' ' b"), "a'' b");  // the blanked space hides the 2nd match
  EXPECT_EQ(clean_up_spaces("it 's I 'm you 're we 've"), "it's I'm you're we've");
  EXPECT_EQ(clean_up_spaces("don 't I 'd we 'll"), "don 't I 'd we 'll");
  EXPECT_EQ(clean_up_spaces("x 'r"), "x 'r");  // 're needs its 'e'
  EXPECT_EQ(clean_up_spaces("x '"), "x '");
  EXPECT_EQ(clean_up_spaces(""), "");
  EXPECT_EQ(clean_up_spaces("no change here"), "no change here");
}

// The property StreamDecoder relies on: cutting a text after any byte for which
// clean_up_boundary() holds and cleaning the parts separately changes nothing.
TEST(CleanUpSpacesTest, BoundaryCutsCommute) {
  const std::string alphabet = " ' ?.,!tdsmlrvexa\n";
  std::mt19937 rng(7);
  int cuts = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string s(1 + rng() % 12, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    const std::string whole = clean_up_spaces(s);
    std::string parts;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (clean_up_boundary(s[i]) && rng() % 2 == 0) {
        parts += clean_up_spaces(s.substr(start, i + 1 - start));
        start = i + 1;
        ++cuts;
      }
    }
    parts += clean_up_spaces(s.substr(start));
    ASSERT_EQ(parts, whole) << "text '" << s << "'";
  }
  EXPECT_GT(cuts, 1000);
  // And the bytes it refuses are the ones some rule can look past.
  for (char c : std::string(" 'tdsmlrv")) EXPECT_FALSE(clean_up_boundary(c)) << c;
  EXPECT_FALSE(clean_up_boundary(char(0xE2)));  // a lead byte: the character continues
  EXPECT_TRUE(clean_up_boundary(char(0x82)));
}

}  // namespace
}  // namespace muse
