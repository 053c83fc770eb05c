// WordPiece (llama.cpp's `llm_tokenizer_wpm`): normalize like BERT's BasicTokenizer
// (lowercase; strip accents by keeping the first code point of each NFD decomposition and
// dropping combining marks; drop controls; split at whitespace, punctuation, ASCII symbols
// and CJK ideographs), then cover each word greedily with the longest vocabulary tokens.
// GGUF BERT vocabularies spell word-initial pieces with a leading "▁" and continuation
// pieces bare (Hugging Face's "##" removed), so each word is looked up as "▁" + word; a word
// that cannot be covered entirely becomes one unknown token.
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace muse {
namespace {

// BERT's `_is_chinese_char` ranges; the block at 0x2B820 starts at 0x2B920 here, a slip in
// Hugging Face's Rust tokenizer that llama.cpp (and so its test suites) follow.
bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::vector<std::string> split_words(const TokenizerImpl& v, std::string_view text) {
  std::vector<std::string> words(1);
  for (uint32_t cpt : utf8_to_cpts(text)) {
    if (v.wpm_strip_accents) cpt = cpt_nfd_base(cpt);
    const uint16_t flags = cpt_flags(cpt);
    if (flags & kCptWhitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cpt == 0 || cpt == kReplacementChar || (flags & kCptControl)) continue;
    if (v.wpm_strip_accents && (flags & kCptMark)) continue;
    std::string s;
    append_utf8(v.wpm_lowercase ? cpt_to_lower(cpt) : cpt, &s);
    if ((flags & kCptPunctuation) || (cpt < 0x7F && (flags & kCptSymbol)) || is_chinese_char(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = std::move(s);
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

void wpm_encode(const TokenizerImpl& v, std::string_view text, std::vector<int32_t>* out) {
  std::string word;
  for (const std::string& w : split_words(v, text)) {
    if (w.empty()) continue;
    word.assign("\xE2\x96\x81").append(w);  // "▁" marks the start of a word
    const size_t n = word.size();
    const size_t before = out->size();
    for (size_t i = 0; i < n;) {
      size_t matched = 0;
      for (size_t j = std::min(n, i + v.max_token_len + 1); j > i; --j) {
        const int32_t id = v.find(std::string_view(word).substr(i, j - i));
        if (id >= 0) {
          out->push_back(id);
          matched = j - i;
          break;
        }
      }
      if (matched == 0) {
        out->resize(before);  // the word cannot be covered: it becomes one unknown token
        break;
      }
      i += matched;
    }
    if (out->size() == before && v.unk >= 0) out->push_back(v.unk);
  }
}

}  // namespace muse
