// train_bpe: count the corpus's words once, then learn merges on the distinct words only.
// Merging is incremental (Sennrich et al. 2016, "Neural Machine Translation of Rare Words
// with Subword Units", with the usual pair index): `counts_` holds every adjacent pair's
// frequency over the corpus, `where_` the words each pair occurs in, and a max-heap with
// lazy invalidation yields the best pair. A merge rewrites only the words that hold the pair
// and adjusts the counts of the pairs those words gain or lose, so its cost is that of the
// affected words, not of the corpus.
#include "train/bpe_trainer.h"

#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace muse {
namespace {

// One distinct pre-token: its symbols (token ids; bytes at first) and how often it occurs.
struct Word {
  std::vector<int32_t> symbols;
  int64_t count = 0;
};

using PairKey = uint64_t;
PairKey pair_key(int32_t left, int32_t right) {
  return uint64_t(uint32_t(left)) << 32 | uint32_t(right);
}
int32_t pair_left(PairKey k) { return int32_t(k >> 32); }
int32_t pair_right(PairKey k) { return int32_t(uint32_t(k)); }

// Calls `plain` on every stretch of `text` between occurrences of `specials` (longest first
// where several start at one position), so that training never sees a special's spelling as
// text: the runtime cuts specials out before pre-tokenizing as well.
template <class F>
void for_each_plain(std::string_view text, std::span<const std::string> longest_first, F&& plain) {
  std::array<bool, 256> starts{};
  for (const std::string& s : longest_first) starts[uint8_t(s[0])] = true;
  size_t start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const std::string* hit = nullptr;
    if (starts[uint8_t(text[pos])]) {
      for (const std::string& s : longest_first) {
        if (text.compare(pos, s.size(), s) == 0) {
          hit = &s;
          break;
        }
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    if (pos > start) plain(text.substr(start, pos - start));
    pos += hit->size();
    start = pos;
  }
  if (start < text.size()) plain(text.substr(start));
}

// The distinct words of the corpus with their counts. Words of one byte are dropped: they
// hold no pair, and their byte is a token anyway.
std::vector<Word> count_words(std::span<const std::string> corpus,
                              std::span<const std::string> specials_longest_first,
                              const PreTokenizer& pre_tokenizer) {
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& doc : corpus) {
    for_each_plain(doc, specials_longest_first, [&](std::string_view plain) {
      for (std::string& word : pre_tokenizer.split(plain))
        if (word.size() > 1) ++counts[std::move(word)];
    });
  }
  std::vector<Word> words;
  words.reserve(counts.size());
  for (const auto& [text, count] : counts) {
    Word& w = words.emplace_back();
    w.symbols.assign(text.begin(), text.end());
    for (int32_t& s : w.symbols) s = int32_t(uint8_t(s));  // char may be signed
    w.count = count;
  }
  return words;
}

class MergeLearner {
 public:
  explicit MergeLearner(std::vector<Word> words) : words_(std::move(words)) {
    bytes_.reserve(1024);
    for (int b = 0; b < 256; ++b) bytes_.emplace_back(1, char(b));
    for (int32_t w = 0; w < int32_t(words_.size()); ++w) {
      const std::vector<int32_t>& s = words_[w].symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const PairKey k = pair_key(s[i], s[i + 1]);
        counts_[k] += words_[w].count;
        std::vector<int32_t>& list = where_[k];
        if (list.empty() || list.back() != w) list.push_back(w);
      }
    }
    for (const auto& [k, count] : counts_) heap_.push_back({count, k});
    std::make_heap(heap_.begin(), heap_.end(), worse_);
  }

  // Learns up to `n` merges of pairs seen at least `min_count` times. Merge i creates token
  // 256 + i; returns the (left, right) ids of each.
  std::vector<std::pair<int32_t, int32_t>> learn(int64_t n, int64_t min_count) {
    std::vector<std::pair<int32_t, int32_t>> merges;
    while (int64_t(merges.size()) < n && !heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_);
      const Candidate best = heap_.back();
      heap_.pop_back();
      const auto it = counts_.find(best.pair);
      if (it == counts_.end() || it->second != best.count) continue;  // stale entry
      if (best.count < min_count) break;  // the heap's best: no later pair does better
      const int32_t left = pair_left(best.pair);
      const int32_t right = pair_right(best.pair);
      const int32_t id = int32_t(bytes_.size());
      bytes_.push_back(bytes_[left] + bytes_[right]);
      merges.emplace_back(left, right);
      apply(best.pair, id);
    }
    return merges;
  }

  const std::vector<std::string>& token_bytes() const { return bytes_; }

 private:
  struct Candidate {
    int64_t count;
    PairKey pair;
  };

  // Heap order: a higher count wins; among equal counts the pair whose (left bytes, right
  // bytes) sorts first, so the result never depends on hash-map iteration order.
  struct Worse {
    const std::vector<std::string>* bytes;
    bool operator()(const Candidate& a, const Candidate& b) const {
      if (a.count != b.count) return a.count < b.count;
      const int c = (*bytes)[pair_left(a.pair)].compare((*bytes)[pair_left(b.pair)]);
      if (c != 0) return c > 0;
      return (*bytes)[pair_right(a.pair)] > (*bytes)[pair_right(b.pair)];
    }
  };

  // Replaces every (left, right) in the words holding it by `id`, left to right without
  // overlaps (so "a a a" becomes "aa a", as the runtime's leftmost tie-break does).
  void apply(PairKey pair, int32_t id) {
    const int32_t left = pair_left(pair);
    const int32_t right = pair_right(pair);
    const auto node = where_.find(pair);
    if (node == where_.end()) return;
    const std::vector<int32_t> holders = std::move(node->second);
    where_.erase(node);

    delta_.clear();
    for (int32_t w : holders) {
      Word& word = words_[w];
      std::vector<int32_t>& s = word.symbols;
      // Every pair of the word is uncounted and the rewritten word counted again: words are
      // short, and this keeps repeated and overlapping occurrences trivially right.
      for (size_t i = 0; i + 1 < s.size(); ++i) delta_[pair_key(s[i], s[i + 1])] -= word.count;
      scratch_.clear();
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
          scratch_.push_back(id);
          ++i;
        } else {
          scratch_.push_back(s[i]);
        }
      }
      s.swap(scratch_);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const PairKey k = pair_key(s[i], s[i + 1]);
        delta_[k] += word.count;
        // Only pairs with the new token are new to this word; the others are listed already.
        if (s[i] != id && s[i + 1] != id) continue;
        std::vector<int32_t>& list = where_[k];
        if (list.empty() || list.back() != w) list.push_back(w);
      }
    }
    for (const auto& [k, d] : delta_) {
      if (d == 0) continue;
      int64_t& count = counts_[k];
      count += d;
      if (count <= 0) {
        counts_.erase(k);
        continue;
      }
      heap_.push_back({count, k});
      std::push_heap(heap_.begin(), heap_.end(), worse_);
    }
  }

  std::vector<Word> words_;
  std::vector<std::string> bytes_;  // the bytes each token id stands for
  std::unordered_map<PairKey, int64_t> counts_;
  std::unordered_map<PairKey, std::vector<int32_t>> where_;  // may list words that lost it
  std::vector<Candidate> heap_;
  Worse worse_{&bytes_};
  std::unordered_map<PairKey, int64_t> delta_;  // scratch of apply()
  std::vector<int32_t> scratch_;
};

// GPT-2's byte alphabet spelling of raw bytes (a space is "Ġ").
std::string spell(std::string_view bytes) {
  std::string out;
  for (char b : bytes) out.append(gpt2_byte_to_utf8(uint8_t(b)));
  return out;
}

bool is_control_spelling(std::string_view s) {
  return s.size() >= 4 && s.starts_with("<|") && s.ends_with("|>");
}

Status check_options(const BpeTrainOptions& o, std::span<const std::string> specials) {
  std::unordered_set<std::string_view> seen;
  for (const std::string& s : specials) {
    if (s.empty()) return Errorf("special tokens must not be empty");
    if (!seen.insert(s).second) return Errorf("special token '%s' is listed twice", s.c_str());
  }
  const int64_t needed = 256 + int64_t(specials.size());
  if (o.vocab_size < needed)
    return Errorf(
        "vocab_size %lld is too small: the 256 byte tokens and %zu special tokens alone need "
        "%lld",
        static_cast<long long>(o.vocab_size), specials.size(), static_cast<long long>(needed));
  if (o.vocab_size > INT32_MAX)
    return Errorf("vocab_size %lld does not fit token ids (int32)",
                  static_cast<long long>(o.vocab_size));
  return Status::Ok();
}

}  // namespace

std::vector<std::string> default_bpe_specials() {
  return {
      "<|endoftext|>",  // control: bos, eos, pad
      "<|im_start|>",   // control: opens a ChatML turn
      "<|im_end|>",     // control: closes it (eot)
      // User-defined: matched in any text and always printed.
      "<think>",
      "</think>",
      "<tool_call>",
      "</tool_call>",
      "<tool_response>",
      "</tool_response>",
      // User-defined, reserved for media inputs.
      "<img>",
      "</img>",
      "<img_row>",
      "<audio>",
      "</audio>",
      "<video>",
      "</video>",
  };
}

StatusOr<TrainedVocab> train_bpe(std::span<const std::string> corpus, const BpeTrainOptions& o) {
  const std::vector<std::string> specials =
      o.specials.empty() ? default_bpe_specials() : o.specials;
  MUSE_RETURN_IF_ERROR(check_options(o, specials));
  StatusOr<PreTokenizerConfig> config = pre_tokenizer_config(o.pre);
  if (!config.ok()) return config.status();
  StatusOr<std::unique_ptr<PreTokenizer>> pre_tokenizer = PreTokenizer::create(config->regexes);
  if (!pre_tokenizer.ok()) return pre_tokenizer.status();

  std::vector<std::string> longest_first = specials;
  std::stable_sort(longest_first.begin(), longest_first.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  MergeLearner learner(count_words(corpus, longest_first, **pre_tokenizer));
  const int64_t n_merge_slots = o.vocab_size - 256 - int64_t(specials.size());
  const std::vector<std::pair<int32_t, int32_t>> merges =
      learner.learn(n_merge_slots, std::max<int64_t>(o.min_pair_count, 1));

  TrainedVocab v;
  v.pre = o.pre;
  v.chat_template = std::string(muse_chat_template());
  const std::vector<std::string>& bytes = learner.token_bytes();
  v.tokens.reserve(size_t(o.vocab_size));
  for (const std::string& b : bytes) v.tokens.push_back(spell(b));
  v.types.assign(v.tokens.size(), int32_t(GgufTokenType::kNormal));
  for (const auto& [left, right] : merges)
    v.merges.push_back(v.tokens[left] + " " + v.tokens[right]);
  for (int64_t k = 0; int64_t(v.tokens.size()) + int64_t(specials.size()) < o.vocab_size; ++k) {
    v.tokens.push_back("<|reserved_" + std::to_string(k) + "|>");
    v.types.push_back(int32_t(GgufTokenType::kUnused));
  }
  for (const std::string& s : specials) {
    const int32_t id = int32_t(v.tokens.size());
    v.tokens.push_back(s);
    v.types.push_back(
        int32_t(is_control_spelling(s) ? GgufTokenType::kControl : GgufTokenType::kUserDefined));
    if (s == "<|endoftext|>") v.bos = v.eos = v.pad = id;
    if (s == "<|im_end|>") v.eot = id;
  }

  // The runtime looks tokens up by spelling, so two tokens must never share one (a special
  // like "a" would shadow the byte token for 'a').
  std::unordered_map<std::string_view, int32_t> ids;
  for (int32_t id = 0; id < int32_t(v.tokens.size()); ++id) {
    const auto [it, inserted] = ids.try_emplace(v.tokens[id], id);
    if (!inserted)
      return Errorf("token '%s' (id %d) is spelled like token %d; choose another special",
                    v.tokens[id].c_str(), id, it->second);
  }
  return v;
}

void write_tokenizer_keys(const TrainedVocab& v, GgufWriter* w) {
  w->set_string("tokenizer.ggml.model", "gpt2");
  w->set_string("tokenizer.ggml.pre", v.pre);
  w->set_string_array("tokenizer.ggml.tokens", v.tokens);
  w->set_i32_array("tokenizer.ggml.token_type", v.types);
  w->set_string_array("tokenizer.ggml.merges", v.merges);
  // u32, as llama.cpp's converter writes the ids. bos and eos are written even when there
  // is none (-1 as u32 means "no such token"): absent, a gpt2 vocabulary defaults them to
  // token 11, which would make a byte token end generation.
  w->set_u32("tokenizer.ggml.bos_token_id", uint32_t(v.bos));
  w->set_u32("tokenizer.ggml.eos_token_id", uint32_t(v.eos));
  if (v.eot >= 0) w->set_u32("tokenizer.ggml.eot_token_id", uint32_t(v.eot));
  if (v.pad >= 0) w->set_u32("tokenizer.ggml.padding_token_id", uint32_t(v.pad));
  w->set_bool("tokenizer.ggml.add_bos_token", false);
  if (!v.chat_template.empty()) w->set_string("tokenizer.chat_template", v.chat_template);
}

namespace {

// A folder under $TMPDIR (or /tmp) removed with everything in it when this goes away.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    parent_ = tmp && *tmp ? tmp : "/tmp";
    std::string templ = parent_ + "/muse_vocab_XXXXXX";
    if (mkdtemp(templ.data()) != nullptr) {
      path_ = templ;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }  // "" when it could not be created
  Status status() const {
    if (!path_.empty()) return Status::Ok();
    return Status::Error("cannot create a temporary folder in '" + parent_ + "': " + error_);
  }

 private:
  std::string parent_;
  std::string path_;
  std::string error_;
};

}  // namespace

StatusOr<Tokenizer> load_trained_tokenizer(const TrainedVocab& v) {
  ScratchDir dir;
  MUSE_RETURN_IF_ERROR(dir.status());
  const std::string path = dir.path() + "/vocab.gguf";
  GgufWriter writer;
  write_tokenizer_keys(v, &writer);
  MUSE_RETURN_IF_ERROR(writer.write(path));
  // The Tokenizer copies what it keeps, so the file may go once it is loaded.
  StatusOr<GgufFile> file = GgufFile::open(path);
  if (!file.ok()) return file.status();
  return Tokenizer::from_gguf(*file);
}

}  // namespace muse
