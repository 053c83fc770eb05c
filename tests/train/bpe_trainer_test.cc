// The BPE trainer's contract: exactly vocab_size tokens, a pure function of its input, merges
// that build on tokens, a vocabulary the runtime tokenizer loads and that round-trips text
// byte for byte, one token per digit, specials as single ids, real compression of gym text;
// and the `muse` chat template rendered through our Jinja engine against hand-written text.
#include "train/bpe_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "chat/chat_template.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "gguf/test_util.h"
#include "gym/gym.h"
#include "server/reply_parse.h"
#include "tokenizer/unicode.h"

namespace muse {
namespace {

using json = nlohmann::ordered_json;

// Questions and traces of 2,000 easy and 2,000 medium training items (0.49 MB).
const std::vector<std::string>& gym_corpus() {
  static const std::vector<std::string> corpus = [] {
    std::vector<std::string> docs;
    for (const char* level : {"easy", "medium"}) {
      StatusOr<std::vector<GymItem>> items = gym_generate(level, GymSplit::kTrain, 2000, 7);
      EXPECT_TRUE(items.ok()) << items.status().message();
      if (!items.ok()) continue;
      for (const GymItem& item : *items) {
        docs.push_back(item.question);
        docs.push_back(item.trace);
      }
    }
    return docs;
  }();
  return corpus;
}

// The vocabulary every test below shares: trained once, vocab 1024 with default options.
const TrainedVocab& vocab_1024() {
  static const TrainedVocab v = [] {
    const auto start = std::chrono::steady_clock::now();
    StatusOr<TrainedVocab> r = train_bpe(gym_corpus(), {.vocab_size = 1024});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    size_t bytes = 0;
    for (const std::string& d : gym_corpus()) bytes += d.size();
    std::printf("trained vocab 1024 on %.2f MB of gym text in %.3f s\n", double(bytes) / 1e6,
                seconds);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(*r) : TrainedVocab{};
  }();
  return v;
}

const Tokenizer& tokenizer_1024() {
  static const Tokenizer t = [] {
    StatusOr<Tokenizer> r = load_trained_tokenizer(vocab_1024());
    EXPECT_TRUE(r.ok()) << r.status().message();
    return std::move(r.value());
  }();
  return t;
}

int32_t id_of(const TrainedVocab& v, std::string_view text) {
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.tokens[i] == text) return int32_t(i);
  return -1;
}

TEST(BpeTrainer, ExactlyVocabSizeTokensInTheDocumentedLayout) {
  const TrainedVocab& v = vocab_1024();
  ASSERT_EQ(v.tokens.size(), 1024u);
  ASSERT_EQ(v.types.size(), 1024u);
  // Gym text has few distinct words (digits never merge): about 270 merges make each of
  // them one token, and the slots left are reserved fillers.
  EXPECT_GT(v.merges.size(), 200u);
  EXPECT_LT(v.merges.size(), 400u);
  EXPECT_EQ(v.tokens[uint8_t('a')], "a");
  EXPECT_EQ(v.tokens[uint8_t(' ')], "\xC4\xA0");   // 'Ġ'
  EXPECT_EQ(v.tokens[uint8_t('\n')], "\xC4\x8A");  // 'Ċ'
  const std::vector<std::string> specials = default_bpe_specials();
  const size_t first_special = 1024 - specials.size();
  for (size_t i = 0; i < specials.size(); ++i) {
    EXPECT_EQ(v.tokens[first_special + i], specials[i]);
    const bool control = i < 3;  // <|endoftext|>, <|im_start|>, <|im_end|>
    EXPECT_EQ(v.types[first_special + i],
              int32_t(control ? GgufTokenType::kControl : GgufTokenType::kUserDefined))
        << specials[i];
  }
  const size_t first_reserved = 256 + v.merges.size();
  for (size_t i = 0; i < first_reserved; ++i)
    EXPECT_EQ(v.types[i], int32_t(GgufTokenType::kNormal));
  for (size_t i = first_reserved; i < first_special; ++i) {
    EXPECT_EQ(v.types[i], int32_t(GgufTokenType::kUnused));
    EXPECT_EQ(v.tokens[i], "<|reserved_" + std::to_string(i - first_reserved) + "|>");
  }
  EXPECT_EQ(v.bos, id_of(v, "<|endoftext|>"));
  EXPECT_EQ(v.eos, v.bos);
  EXPECT_EQ(v.pad, v.bos);
  EXPECT_EQ(v.eot, id_of(v, "<|im_end|>"));
  EXPECT_EQ(v.pre, "qwen2");
  EXPECT_EQ(v.chat_template, muse_chat_template());
}

TEST(BpeTrainer, Deterministic) {
  StatusOr<TrainedVocab> again = train_bpe(gym_corpus(), {.vocab_size = 1024});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->tokens, vocab_1024().tokens);
  EXPECT_EQ(again->merges, vocab_1024().merges);
  EXPECT_EQ(again->types, vocab_1024().types);
  // The corpus in another order counts the same words: the same vocabulary.
  std::vector<std::string> reversed(gym_corpus().rbegin(), gym_corpus().rend());
  StatusOr<TrainedVocab> shuffled = train_bpe(reversed, {.vocab_size = 1024});
  ASSERT_TRUE(shuffled.ok()) << shuffled.status().message();
  EXPECT_EQ(shuffled->merges, vocab_1024().merges);
}

TEST(BpeTrainer, SmallerVocabularyIsAPrefixOfALargerOne) {
  StatusOr<TrainedVocab> small = train_bpe(gym_corpus(), {.vocab_size = 400});
  ASSERT_TRUE(small.ok()) << small.status().message();
  const std::vector<std::string>& big = vocab_1024().merges;
  ASSERT_EQ(small->merges.size(), 400u - 256u - default_bpe_specials().size());
  ASSERT_LT(small->merges.size(), big.size());
  EXPECT_TRUE(std::equal(small->merges.begin(), small->merges.end(), big.begin()));
}

TEST(BpeTrainer, EveryMergeJoinsTokensIntoTheNextToken) {
  const TrainedVocab& v = vocab_1024();
  std::unordered_set<std::string> seen;  // tokens created so far: bytes, then merge results
  for (int i = 0; i < 256; ++i) seen.insert(v.tokens[i]);
  for (size_t i = 0; i < v.merges.size(); ++i) {
    const std::string& m = v.merges[i];
    const size_t space = m.find(' ');
    ASSERT_NE(space, std::string::npos) << m;
    ASSERT_EQ(m.find(' ', space + 1), std::string::npos) << m;  // Ġ stands for every space
    const std::string left = m.substr(0, space);
    const std::string right = m.substr(space + 1);
    EXPECT_TRUE(seen.count(left)) << "merge " << i << " uses '" << left << "' before it exists";
    EXPECT_TRUE(seen.count(right)) << "merge " << i << " uses '" << right << "' before it exists";
    EXPECT_EQ(v.tokens[256 + i], left + right) << "merge " << i;
    seen.insert(left + right);
  }
}

TEST(BpeTrainer, NoMergedTokenHoldsADigit) {
  // qwen2 cuts every digit into its own word, so a digit never merges with anything.
  const TrainedVocab& v = vocab_1024();
  for (size_t i = 256; i < v.tokens.size(); ++i) {
    if (v.types[i] != int32_t(GgufTokenType::kNormal)) continue;
    EXPECT_EQ(v.tokens[i].find_first_of("0123456789"), std::string::npos) << v.tokens[i];
  }
}

TEST(BpeTrainer, RuntimeTokenizerLoadsTheVocabulary) {
  const TrainedVocab& v = vocab_1024();
  const Tokenizer& t = tokenizer_1024();
  EXPECT_TRUE(t.warnings().empty()) << t.warnings().front();
  EXPECT_EQ(t.type(), VocabType::kBpe);
  EXPECT_EQ(t.pre(), "qwen2");
  EXPECT_EQ(t.n_vocab(), 1024);
  EXPECT_EQ(t.bos(), v.bos);
  EXPECT_EQ(t.eos(), v.eos);
  EXPECT_EQ(t.eot(), v.eot);
  EXPECT_EQ(t.pad(), v.pad);
  EXPECT_FALSE(t.add_bos());
  EXPECT_TRUE(t.is_eog(v.eot));
  EXPECT_TRUE(t.is_eog(v.eos));
  EXPECT_TRUE(t.is_control(id_of(v, "<|im_start|>")));
  EXPECT_FALSE(t.is_control(id_of(v, "<think>")));
}

TEST(BpeTrainer, WritesEveryTokenizerKey) {
  testing::TempDir dir;
  const std::string path = dir.file("vocab.gguf");
  GgufWriter w;
  write_tokenizer_keys(vocab_1024(), &w);
  ASSERT_TRUE(w.write(path).ok());
  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*f->get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 1024u);
  EXPECT_EQ(f->get_i32_array("tokenizer.ggml.token_type")->size(), 1024u);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.merges")->size(), vocab_1024().merges.size());
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.bos_token_id"), uint32_t(vocab_1024().bos));
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.eos_token_id"), uint32_t(vocab_1024().eos));
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.eot_token_id"), uint32_t(vocab_1024().eot));
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.padding_token_id"), uint32_t(vocab_1024().pad));
  EXPECT_FALSE(*f->get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(*f->get_string("tokenizer.chat_template"), muse_chat_template());
}

TEST(BpeTrainer, CorpusRoundTripsByteForByte) {
  const Tokenizer& t = tokenizer_1024();
  for (const std::string& doc : gym_corpus()) {
    const std::vector<int32_t> ids = t.encode(doc, /*add_special=*/true, /*parse_special=*/true);
    ASSERT_EQ(t.decode(ids, /*render_special=*/true), doc);
  }
}

TEST(BpeTrainer, ArbitraryTextRoundTripsByteForByte) {
  const Tokenizer& t = tokenizer_1024();
  std::vector<std::string> texts = {
      "",
      " ",
      "\n\n\n",
      "   leading and trailing   ",
      "Hello, World! It's 3.14159 o'clock; they're  done.",
      "tab\there\r\nwindows line",
      "caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 "
      "\xD9\xA3\xD9\xA4",  // é, ï, 日本語, 😀, Arabic-Indic digits
      "<|im_start|> not parsed as a special here <|im_end|>",
      "a <b> c </think> d",  // user-defined specials are cut out and printed again
      "x=12345+678;y=-0.5e10",
      std::string("nul\0byte", 8),
  };
  std::string ascii;  // every byte below 0x80
  for (int b = 0; b < 128; ++b) ascii.push_back(char(b));
  texts.push_back(ascii);
  std::string planes;  // one code point from many ranges, up to the last plane
  for (uint32_t cpt : {0x80u, 0x7FFu, 0x800u, 0xFFFDu, 0x10000u, 0x1F600u, 0x10FFFFu})
    append_utf8(cpt, &planes);
  texts.push_back(planes);
  for (const std::string& text : texts) {
    const std::vector<int32_t> ids = t.encode(text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(t.decode(ids, /*render_special=*/false), text) << text;
  }
}

TEST(BpeTrainer, InvalidUtf8BecomesReplacementCharacters) {
  // The runtime reads each invalid byte as U+FFFD before pre-tokenizing, as llama.cpp does, so
  // only valid UTF-8 round-trips; the vocabulary still holds every byte for valid text.
  const Tokenizer& t = tokenizer_1024();
  const std::vector<int32_t> ids = t.encode(
      "a\xFF"
      "b",
      false, false);
  EXPECT_EQ(t.decode(ids, false),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(BpeTrainer, DigitsAreOneTokenEach) {
  const Tokenizer& t = tokenizer_1024();
  EXPECT_EQ(t.encode("12345", false, false),
            (std::vector<int32_t>{'1', '2', '3', '4', '5'}));  // byte tokens: id == byte
  const std::vector<int32_t> ids = t.encode("Tom has 907 apples.", false, false);
  const std::string text = "Tom has 907 apples.";
  int digit_tokens = 0;
  for (int32_t id : ids) {
    const std::string piece = t.token_to_piece(id, false);
    if (piece.find_first_of("0123456789") == std::string::npos) continue;
    EXPECT_EQ(piece.size(), 1u) << piece;
    ++digit_tokens;
  }
  EXPECT_EQ(digit_tokens, 3);
}

TEST(BpeTrainer, SpecialTokensEncodeToTheirIds) {
  const TrainedVocab& v = vocab_1024();
  const Tokenizer& t = tokenizer_1024();
  // User-defined tokens are matched in any text, as Qwen3's <think> is.
  for (const char* s : {"<think>", "</think>", "<tool_call>", "</tool_response>", "<img_row>"})
    EXPECT_EQ(t.encode(s, false, false), (std::vector<int32_t>{id_of(v, s)})) << s;
  const std::vector<int32_t> think = t.encode("<think>\n1+2=3\n</think>", false, false);
  EXPECT_EQ(think.front(), id_of(v, "<think>"));
  EXPECT_EQ(think.back(), id_of(v, "</think>"));
  // Control tokens only when parsing specials; otherwise they are plain text.
  const std::string turn = "<|im_start|>user\nhi<|im_end|>";
  const std::vector<int32_t> parsed = t.encode(turn, false, /*parse_special=*/true);
  EXPECT_EQ(parsed.front(), id_of(v, "<|im_start|>"));
  EXPECT_EQ(parsed.back(), id_of(v, "<|im_end|>"));
  for (int32_t id : t.encode(turn, false, /*parse_special=*/false)) {
    EXPECT_NE(id, id_of(v, "<|im_start|>"));
    EXPECT_NE(id, id_of(v, "<|im_end|>"));
  }
  EXPECT_EQ(t.encode("<|endoftext|>", false, true), (std::vector<int32_t>{v.eos}));
}

// Tokens per byte of the gym corpus under `t`.
double tokens_per_byte(const Tokenizer& t) {
  size_t bytes = 0, tokens = 0;
  for (const std::string& doc : gym_corpus()) {
    bytes += doc.size();
    tokens += t.encode(doc, false, true).size();
  }
  return double(tokens) / double(bytes);
}

TEST(BpeTrainer, CompressesGymText) {
  // Measured: 0.708 tokens per byte at vocab 300 (28 merges), 0.483 at 1024 (every gym word
  // merged). The floor is high because digits stay single (16% of the bytes) and so does the
  // space before each number; without merges it would be 1.0.
  const double at_1024 = tokens_per_byte(tokenizer_1024());
  StatusOr<TrainedVocab> small = train_bpe(gym_corpus(), {.vocab_size = 300});
  ASSERT_TRUE(small.ok()) << small.status().message();
  StatusOr<Tokenizer> small_tok = load_trained_tokenizer(*small);
  ASSERT_TRUE(small_tok.ok()) << small_tok.status().message();
  const double at_300 = tokens_per_byte(*small_tok);
  std::printf("gym tokens per byte: vocab 300 %.3f, vocab 1024 %.3f\n", at_300, at_1024);
  EXPECT_LT(at_1024, 0.5);
  EXPECT_GT(at_300, at_1024 + 0.1);
}

TEST(BpeTrainer, SmallCorpusLeavesReservedSlots) {
  const std::vector<std::string> corpus = {"the cat sat on the mat", "the cat ate"};
  StatusOr<TrainedVocab> v = train_bpe(corpus, {.vocab_size = 300});
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->tokens.size(), 300u);
  // Only pairs seen twice or more merge: "at" (5), "he" and "the" (3), "Ġc" and "Ġcat" (2);
  // "he" before "th" as "h" sorts before "t".
  EXPECT_EQ(v->merges, (std::vector<std::string>{"a t", "h e", "t he", "\xC4\xA0 c",
                                                 "\xC4\xA0"
                                                 "c at"}));
  const size_t n_reserved = 300 - 256 - v->merges.size() - default_bpe_specials().size();
  for (size_t i = 0; i < n_reserved; ++i) {
    EXPECT_EQ(v->tokens[256 + v->merges.size() + i], "<|reserved_" + std::to_string(i) + "|>");
    EXPECT_EQ(v->types[256 + v->merges.size() + i], int32_t(GgufTokenType::kUnused));
  }
  StatusOr<Tokenizer> t = load_trained_tokenizer(*v);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const std::string text = "the cat <|reserved_0|> sat";
  const std::vector<int32_t> ids = t->encode(text, false, true);
  for (int32_t id : ids) EXPECT_LT(size_t(id), 256 + v->merges.size()) << "reserved id produced";
  EXPECT_EQ(t->decode(ids, false), text);
  EXPECT_EQ(t->encode(" cat", false, false), (std::vector<int32_t>{256 + 4}));
}

TEST(BpeTrainer, TieBreakIsLexicographicOnTheBytes) {
  // "Ġa", "ab" and "cd" all occur twice; "Ġa" sorts first (a space is 0x20), then "Ġa"+"b"
  // and "cd" tie and "Ġa" sorts first again.
  StatusOr<TrainedVocab> v =
      train_bpe(std::vector<std::string>{"cd ab cd ab"}, {.vocab_size = 256 + 2 + 16});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->merges, (std::vector<std::string>{"\xC4\xA0 a",
                                                 "\xC4\xA0"
                                                 "a b"}));
}

TEST(BpeTrainer, Errors) {
  auto expect_error = [](StatusOr<TrainedVocab> r, const std::string& needle) {
    ASSERT_FALSE(r.ok()) << "expected an error mentioning '" << needle << "'";
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  const std::vector<std::string> corpus = {"hello world"};
  expect_error(train_bpe(corpus, {.vocab_size = 271}),
               "vocab_size 271 is too small: the 256 byte tokens and 16 special tokens alone need "
               "272");
  EXPECT_TRUE(train_bpe(corpus, {.vocab_size = 272}).ok());
  expect_error(train_bpe(corpus, {.vocab_size = 300, .specials = {"<a>", "<a>"}}),
               "special token '<a>' is listed twice");
  expect_error(train_bpe(corpus, {.vocab_size = 300, .specials = {""}}), "must not be empty");
  expect_error(train_bpe(corpus, {.vocab_size = 300, .specials = {"x"}}),
               "token 'x' (id 299) is spelled like token 120");
  expect_error(train_bpe(corpus, {.vocab_size = 300, .pre = "no-such-pre"}),
               "unknown tokenizer.ggml.pre 'no-such-pre'");
}

TEST(BpeTrainer, CustomSpecialsTakeTheirKindFromTheirSpelling) {
  StatusOr<TrainedVocab> v = train_bpe(std::vector<std::string>{"a [x] b <|ctl|>"},
                                       {.vocab_size = 260, .specials = {"<|ctl|>", "[x]"}});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->types[258], int32_t(GgufTokenType::kControl));
  EXPECT_EQ(v->types[259], int32_t(GgufTokenType::kUserDefined));
  EXPECT_EQ(v->bos, -1);  // no <|endoftext|> and no <|im_end|>
  EXPECT_EQ(v->eot, -1);
  StatusOr<Tokenizer> t = load_trained_tokenizer(*v);
  ASSERT_TRUE(t.ok()) << t.status().message();
  // Not llama.cpp's gpt2 default of token 11, which would make a byte end generation.
  EXPECT_EQ(t->bos(), -1);
  EXPECT_EQ(t->eos(), -1);
  EXPECT_FALSE(t->is_eog(11));
  EXPECT_EQ(t->encode("[x]", false, false), (std::vector<int32_t>{259}));
}

// Timing on ~20 MB, run by hand: bpe_trainer_test --gtest_also_run_disabled_tests
// --gtest_filter='*TwentyMegabytes*'. Gym text has few distinct words; the second corpus,
// random letter strings with Zipf-like word frequencies, has hundreds of thousands.
TEST(BpeTrainer, DISABLED_TwentyMegabytesInWellUnderAMinute) {
  auto time_training = [](const char* name, const std::vector<std::string>& corpus,
                          int64_t vocab_size) {
    size_t bytes = 0;
    for (const std::string& d : corpus) bytes += d.size();
    const auto start = std::chrono::steady_clock::now();
    StatusOr<TrainedVocab> v = train_bpe(corpus, {.vocab_size = vocab_size});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(v.ok()) << v.status().message();
    std::printf("%s: %.1f MB, vocab %lld, %zu merges: %.2f s\n", name, double(bytes) / 1e6,
                static_cast<long long>(vocab_size), v->merges.size(), seconds);
    EXPECT_LT(seconds, 30.0);
  };

  std::vector<std::string> gym;
  size_t gym_bytes = 0;
  for (uint64_t seed = 1; gym_bytes < 20'000'000; ++seed) {
    for (const char* level : {"easy", "medium", "hard"}) {
      StatusOr<std::vector<GymItem>> items = gym_generate(level, GymSplit::kTrain, 5000, seed);
      ASSERT_TRUE(items.ok()) << items.status().message();
      for (const GymItem& item : *items) {
        gym.push_back(item.question + "\n" + item.trace);
        gym_bytes += gym.back().size();
      }
    }
  }
  time_training("gym", gym, 4096);

  std::vector<std::string> words(200'000);  // word k is drawn with weight ~1/(k+1)
  uint64_t state = 42;
  auto next = [&] {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  for (std::string& w : words) {
    const size_t len = 2 + next() % 10;
    for (size_t i = 0; i < len; ++i) w.push_back(char('a' + next() % 26));
  }
  std::vector<std::string> docs;
  size_t random_bytes = 0;
  while (random_bytes < 20'000'000) {
    std::string doc;
    for (int i = 0; i < 200; ++i) {
      const double u = double(next() >> 11) / double(1ull << 53);
      const size_t k = size_t(std::pow(double(words.size()), u)) - 1;  // log-uniform rank
      doc += ' ';
      doc += words[k];
    }
    random_bytes += doc.size();
    docs.push_back(std::move(doc));
  }
  time_training("random words", docs, 4096);
}

// A conversation with everything the template handles. The expected prompts below are
// written by hand; Python's jinja2 3.1.6 with Hugging Face's settings (sandboxed, trim_blocks,
// lstrip_blocks, tojson with ensure_ascii=False) renders the same bytes.
json full_conversation() {
  return json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are muse."},
      {"role": "user", "content": "What is 2+3?"},
      {"role": "assistant", "content": "", "reasoning_content": "I should use the tool.",
       "tool_calls": [{"id": "call_0", "type": "function",
                       "function": {"name": "calc", "arguments": {"expr": "2+3"}}}]},
      {"role": "tool", "tool_call_id": "call_0", "content": "5"},
      {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
      {"role": "assistant", "content": "Answer: 5", "reasoning_content": "\nThe tool says 5.\n"},
      {"role": "user", "content": "Thanks"}
    ],
    "tools": [{"type": "function", "function": {"name": "calc", "description": "Evaluates",
      "parameters": {"type": "object", "properties": {"expr": {"type": "string"}},
                     "required": ["expr"]}}}]
  })");
}

StatusOr<std::string> render(const json& conv, bool generation_prompt,
                             json extra = json::object()) {
  StatusOr<chat::ChatTemplate> t = chat::ChatTemplate::parse(std::string(muse_chat_template()));
  if (!t.ok()) return t.status();
  chat::ChatInputs in;
  in.messages = conv["messages"];
  if (conv.contains("tools")) in.tools = conv["tools"];
  in.add_generation_prompt = generation_prompt;
  in.bos_token = "<|endoftext|>";
  in.eos_token = "<|endoftext|>";
  in.extra_context = std::move(extra);
  return t->apply(in);
}

TEST(MuseChatTemplate, RendersToolsReasoningAndToolResults) {
  StatusOr<std::string> out = render(full_conversation(), /*generation_prompt=*/true);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const std::string expected =
      "<|im_start|>system\nYou are muse.\n\n# Tools\n\nYou may call one or more functions to "
      "assist with the user query.\n\nYou are provided with function signatures within "
      "<tools></tools> XML tags:\n<tools>\n"
      R"({"type": "function", "function": {"name": "calc", "description": "Evaluates", )"
      R"("parameters": {"type": "object", "properties": {"expr": {"type": "string"}}, )"
      R"("required": ["expr"]}}})"
      "\n</tools>\n\nFor each function call, return a json object with function name and "
      "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
      R"({"name": <function-name>, "arguments": <args-json-object>})"
      "\n</tool_call><|im_end|>\n"
      "<|im_start|>user\nWhat is 2+3?<|im_end|>\n"
      "<|im_start|>assistant\n<think>\nI should use the tool.\n</think>\n\n<tool_call>\n"
      R"({"name": "calc", "arguments": {"expr": "2+3"}})"
      "\n</tool_call><|im_end|>\n"
      "<|im_start|>user\n<tool_response>\n5\n</tool_response>\n<tool_response>\nok\n"
      "</tool_response><|im_end|>\n"
      "<|im_start|>assistant\n<think>\nThe tool says 5.\n</think>\n\nAnswer: 5<|im_end|>\n"
      "<|im_start|>user\nThanks<|im_end|>\n"
      "<|im_start|>assistant\n";
  EXPECT_EQ(*out, expected);

  // Every turn marker and tag of the prompt is one token of the trained vocabulary.
  const TrainedVocab& v = vocab_1024();
  const std::vector<int32_t> ids = tokenizer_1024().encode(*out, false, /*parse_special=*/true);
  auto count = [&](std::string_view s) { return std::count(ids.begin(), ids.end(), id_of(v, s)); };
  EXPECT_EQ(count("<|im_start|>"), 7);
  EXPECT_EQ(count("<|im_end|>"), 6);
  EXPECT_EQ(count("<tool_call>"), 3);  // two in the instructions, one call
  EXPECT_EQ(count("<tool_response>"), 2);
  EXPECT_EQ(count("<think>"), 2);
  EXPECT_EQ(tokenizer_1024().decode(ids, /*render_special=*/true), *out);
}

TEST(MuseChatTemplate, PlainChatStringArgumentsAndInstantEffort) {
  const json conv = json::parse(R"({"messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Add 1 and 1."},
      {"role": "assistant", "content": "Let me check.",
       "tool_calls": [{"type": "function", "function": {"name": "calc",
                                                         "arguments": "{\"expr\": \"1+1\"}"}},
                      {"type": "function", "function": {"name": "log", "arguments": {}}}]},
      {"role": "tool", "content": "2"},
      {"role": "assistant", "content": "2"}
  ]})");
  StatusOr<std::string> out = render(conv, /*generation_prompt=*/false);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out,
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nAdd 1 and 1.<|im_end|>\n"
            "<|im_start|>assistant\nLet me check.\n<tool_call>\n"
            R"({"name": "calc", "arguments": {"expr": "1+1"}})"
            "\n</tool_call>\n<tool_call>\n"
            R"({"name": "log", "arguments": {}})"
            "\n</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\n2\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n2<|im_end|>\n");

  const json user_only = json::parse(R"({"messages": [{"role": "user", "content": "Hi"}]})");
  StatusOr<std::string> instant =
      render(user_only, /*generation_prompt=*/true, {{"enable_thinking", false}});
  ASSERT_TRUE(instant.ok()) << instant.status().message();
  EXPECT_EQ(*instant,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  StatusOr<std::string> thinking =
      render(user_only, /*generation_prompt=*/true, {{"enable_thinking", true}});
  ASSERT_TRUE(thinking.ok()) << thinking.status().message();
  EXPECT_EQ(*thinking, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(MuseChatTemplate, ServerParsesItsToolCallsAsHermes) {
  EXPECT_EQ(server::detect_tool_format(muse_chat_template()), server::ToolFormat::kHermes);
}

}  // namespace
}  // namespace muse
