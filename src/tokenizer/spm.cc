// SentencePiece-style BPE (llama.cpp's `llm_tokenizer_spm`): start from one symbol per UTF-8
// character and repeatedly merge the adjacent pair whose concatenation is the vocabulary
// token with the highest score (ties: leftmost); symbols that are not tokens at the end fall
// back to <0xXX> byte tokens. A heap of candidate pairs with lazy invalidation makes it
// O(n log n). When no token has a '▁' right after another character (checked at load:
// true of Llama's and Phi-3's vocabularies), no merge can cross the start of a run of '▁',
// so each word is merged on its own: same result, small heaps that stay in cache.
#include <algorithm>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace muse {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // '▁'

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t begin;  // byte range in the text
  uint32_t len;    // 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t len;  // of the merged text; a mismatch later means a side has changed
};

// Heap order: highest score on top, then the leftmost pair.
bool lower_priority(const Bigram& a, const Bigram& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

class SpmSession {
 public:
  SpmSession(const TokenizerImpl& v, std::string_view text) : v_(v), text_(text) {}

  // Merges symbols [lo, hi) among themselves and appends their tokens.
  void encode_range(std::vector<Symbol>& symbols, int32_t lo, int32_t hi,
                    std::vector<int32_t>* out) {
    for (int32_t i = lo; i < hi; ++i) {
      symbols[i].prev = i == lo ? -1 : i - 1;
      symbols[i].next = i + 1 == hi ? -1 : i + 1;
    }
    heap_.clear();
    for (int32_t i = lo + 1; i < hi; ++i) try_add(symbols, i - 1, i);
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), lower_priority);
      const Bigram b = heap_.back();
      heap_.pop_back();
      Symbol& left = symbols[b.left];
      Symbol& right = symbols[b.right];
      // Symbols only grow, so an unchanged total length means both sides are as queued.
      if (left.len == 0 || right.len == 0 || left.len + right.len != b.len) continue;
      left.len += right.len;
      right.len = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = b.left;
      try_add(symbols, left.prev, b.left);
      try_add(symbols, b.left, left.next);
    }
    for (int32_t i = lo; i != -1; i = symbols[i].next) emit(symbols[i], out);
  }

 private:
  void try_add(const std::vector<Symbol>& symbols, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t len = symbols[left].len + symbols[right].len;
    const int32_t id = v_.find(text_.substr(symbols[left].begin, len));
    if (id < 0) return;
    heap_.push_back({v_.scores[id], left, right, len});
    std::push_heap(heap_.begin(), heap_.end(), lower_priority);
  }

  void emit(const Symbol& s, std::vector<int32_t>* out) const {
    const std::string_view piece = text_.substr(s.begin, s.len);
    const int32_t id = v_.find(piece);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
    // Merged symbols are always tokens; only single characters get here.
    for (char c : piece) {
      const int32_t byte_id = v_.byte_tokens[uint8_t(c)];
      if (byte_id >= 0) {
        out->push_back(byte_id);
      } else if (v_.unk >= 0) {
        out->push_back(v_.unk);  // a vocabulary without byte tokens (llama.cpp throws)
      }
    }
  }

  const TokenizerImpl& v_;
  std::string_view text_;
  std::vector<Bigram> heap_;
};

}  // namespace

bool spm_words_are_independent(const TokenizerImpl& v) {
  for (const std::string& t : v.texts) {
    for (size_t p = t.find(kSpace, 1); p != std::string::npos; p = t.find(kSpace, p + 1)) {
      if (p < kSpace.size() || t.compare(p - kSpace.size(), kSpace.size(), kSpace) != 0)
        return false;
    }
  }
  return true;
}

void spm_encode(const TokenizerImpl& v, std::string_view text, std::vector<int32_t>* out) {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offs = 0; offs < text.size();) {
    // A truncated last character keeps the bytes that are there (llama.cpp does the same).
    const size_t len = std::min(utf8_len_from_lead(uint8_t(text[offs])), text.size() - offs);
    symbols.push_back({-1, -1, uint32_t(offs), uint32_t(len)});
    offs += len;
  }
  auto is_space = [&](int32_t i) {
    return text.substr(symbols[i].begin, symbols[i].len) == kSpace;
  };
  SpmSession session(v, text);
  const int32_t n = int32_t(symbols.size());
  int32_t lo = 0;
  for (int32_t i = 1; i < n && v.spm_words_independent; ++i) {
    if (is_space(i) && !is_space(i - 1)) {
      session.encode_range(symbols, lo, i, out);
      lo = i;
    }
  }
  if (lo < n) session.encode_range(symbols, lo, n, out);
}

}  // namespace muse
