// The loaded vocabulary shared by every copy of a Tokenizer, and the three tokenization
// algorithms that read it (spm.cc, bpe.cc, wpm.cc). Internal to src/tokenizer.
// Invariants after loading: texts, scores, attrs and pieces have n_vocab entries; `lookup`
// maps each distinct text to one id (the last one, when the vocabulary repeats a text) and
// its keys view `texts`, which never changes size afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace muse {

// Token attributes, bit for bit llama.cpp's `llama_token_attr`.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1 << 0,
  kAttrUnused = 1 << 1,
  kAttrNormal = 1 << 2,
  kAttrControl = 1 << 3,
  kAttrUserDefined = 1 << 4,
  kAttrByte = 1 << 5,
  kAttrLstrip = 1 << 7,  // eat whitespace before the token when splitting specials out
  kAttrRstrip = 1 << 8,  // ... and after it
};

// BPE merge ranks keyed by the ids of the two symbols merged. Symbol ids are vocabulary ids,
// or ids from n_vocab up for strings that appear in merges but not in the vocabulary (a
// malformed but loadable file: llama.cpp merges by string and copes, so this does too).
class BpeMerges {
 public:
  struct Merge {
    int32_t rank;
    int32_t result;  // symbol id of the merged string
  };
  // `merges` in rank order, each "left right" split at its first space after byte 0 (as
  // llama.cpp splits them); the first of repeated pairs keeps its rank.
  void build(std::span<const std::string_view> merges,
             const std::unordered_map<std::string_view, int32_t>& vocab, int32_t n_vocab);
  const Merge* find(int32_t left, int32_t right) const {
    const auto it = table_.find(key(left, right));
    return it == table_.end() ? nullptr : &it->second;
  }
  // Symbol id of a string: vocabulary id, extra id, or -1.
  int32_t symbol(std::string_view text) const;
  size_t size() const { return table_.size(); }

 private:
  static uint64_t key(int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); }
  int32_t intern(std::string&& text);

  const std::unordered_map<std::string_view, int32_t>* vocab_ = nullptr;
  int32_t n_vocab_ = 0;
  std::unordered_map<uint64_t, Merge> table_;
  std::unordered_map<std::string, int32_t> extra_;  // strings not in the vocabulary
};

struct TokenizerImpl {
  VocabType type = VocabType::kSpm;
  std::string pre;  // as stored ("" when absent)

  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<uint32_t> attrs;
  std::vector<std::string> pieces;  // token_to_piece(id, render_special=true)
  std::unordered_map<std::string_view, int32_t> lookup;
  size_t max_token_len = 0;  // bytes

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;

  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;
  bool add_space_prefix = false;       // SPM: text starts with a space ("▁") after a special
  bool clean_spaces = false;           // decode applies clean_up_tokenization_spaces
  bool ignore_merges = false;          // BPE: words already in the vocabulary skip merging
  bool spm_words_independent = false;  // see spm_words_are_independent()
  bool wpm_lowercase = true;
  bool wpm_strip_accents = true;

  std::vector<int32_t> special_ids;  // control, user-defined, unknown; longest text first
  std::vector<int32_t> eog_ids;      // sorted

  // SPM/WPM: the <0xXX> token of each byte (or the byte's own one-character token), -1 if
  // neither exists. BPE: the symbol id of each byte's stand-in character.
  std::array<int32_t, 256> byte_tokens{};

  std::unique_ptr<PreTokenizer> pre_tokenizer;  // BPE
  BpeMerges merges;                             // BPE

  std::vector<std::string> warnings;

  int32_t n_vocab() const { return int32_t(texts.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < n_vocab(); }
  int32_t find(std::string_view text) const {
    const auto it = lookup.find(text);
    return it == lookup.end() ? -1 : it->second;
  }
};

// True when no token has a '▁' right after a character other than '▁', so that SPM merges
// never cross the start of a run of '▁' and each word can be merged separately.
bool spm_words_are_independent(const TokenizerImpl& v);

// The algorithms append the ids of one run of plain text (no special tokens in it).
// `text` for SPM already has spaces escaped as "▁" and the optional prefix space.
void spm_encode(const TokenizerImpl& v, std::string_view text, std::vector<int32_t>* out);
void bpe_encode(const TokenizerImpl& v, std::string_view text, std::vector<int32_t>* out);
void wpm_encode(const TokenizerImpl& v, std::string_view text, std::vector<int32_t>* out);

// Hugging Face's clean_up_tokenization_spaces as llama.cpp's detokenizer applies it: drops
// the space in " ?", " !", " .", " ,", then both spaces around a lone "'", then the space
// before "'s", "'m", "'re", "'ve" (three passes, in that order).
std::string clean_up_spaces(std::string_view text);
// True when a byte can end a stretch of text that clean_up_spaces maps independently of
// whatever follows: clean_up_spaces(a + b) == clean_up_spaces(a) + clean_up_spaces(b)
// whenever `a` ends with such a byte (no rule's window reaches across it). UTF-8 lead bytes
// are refused as well, so that a cut never falls inside a character.
bool clean_up_boundary(char last);

}  // namespace muse
