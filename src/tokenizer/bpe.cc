// Byte-level BPE (llama.cpp's `llm_tokenizer_bpe`): the pre-tokenizer cuts the text into
// words; within a word every byte starts as one symbol (its GPT-2 stand-in character) and
// the adjacent pair with the lowest merge rank is merged until no ranked pair is left
// (ties: leftmost). Symbol pairs are looked up by id in a hash map, and a priority queue
// with lazy invalidation keeps each word O(n log n).
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace muse {

void BpeMerges::build(std::span<const std::string_view> merges,
                      const std::unordered_map<std::string_view, int32_t>& vocab, int32_t n_vocab) {
  vocab_ = &vocab;
  n_vocab_ = n_vocab;
  table_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string_view m = merges[rank];
    const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
    if (space == std::string_view::npos) continue;  // llama.cpp keeps it, but it never applies
    const std::string_view a = m.substr(0, space);
    const std::string_view b = m.substr(space + 1);
    int32_t left = symbol(a);
    if (left < 0) left = intern(std::string(a));
    int32_t right = symbol(b);
    if (right < 0) right = intern(std::string(b));
    joined.assign(a).append(b);
    int32_t result = symbol(joined);
    if (result < 0) result = intern(std::string(joined));
    table_.try_emplace(key(left, right), Merge{int32_t(rank), result});
  }
}

int32_t BpeMerges::symbol(std::string_view text) const {
  if (vocab_ != nullptr) {
    const auto it = vocab_->find(text);
    if (it != vocab_->end()) return it->second;
  }
  const auto it = extra_.find(std::string(text));
  return it == extra_.end() ? -1 : it->second;
}

int32_t BpeMerges::intern(std::string&& text) {
  const int32_t id = n_vocab_ + int32_t(extra_.size());
  return extra_.try_emplace(std::move(text), id).first->second;
}

namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  int32_t id;      // symbol id; -1 when the byte's stand-in is unknown to the vocabulary
  uint32_t begin;  // byte range in the word
  uint32_t len;    // 0 once merged into its left neighbour
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t left_id;   // ids when queued: if either side has merged since, the
  int32_t right_id;  // entry is stale
  int32_t result;
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

// llama.cpp's fallback for a symbol that is not a token: look up every byte of its
// stand-in spelling as a one-byte token (in practice only ASCII stand-ins match).
void emit_unknown(const TokenizerImpl& v, std::string_view bytes, std::vector<int32_t>* out) {
  for (char b : bytes) {
    for (char c : gpt2_byte_to_utf8(uint8_t(b))) {
      const int32_t id = v.find(std::string_view(&c, 1));
      if (id >= 0) out->push_back(id);
    }
  }
}

void merge_word(const TokenizerImpl& v, std::string_view word, std::vector<Symbol>* symbols_buf,
                std::vector<int32_t>* out) {
  std::vector<Symbol>& symbols = *symbols_buf;
  symbols.clear();
  for (size_t i = 0; i < word.size(); ++i) {
    const int32_t index = int32_t(i);
    symbols.push_back({index - 1, i + 1 == word.size() ? -1 : index + 1,
                       v.byte_tokens[uint8_t(word[i])], uint32_t(i), 1});
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t a = symbols[left].id;
    const int32_t b = symbols[right].id;
    if (a < 0 || b < 0) return;
    const BpeMerges::Merge* m = v.merges.find(a, b);
    if (m != nullptr) queue.push({m->rank, left, right, a, b, m->result});
  };
  for (int32_t i = 1; i < int32_t(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Symbol& left = symbols[bg.left];
    Symbol& right = symbols[bg.right];
    if (left.len == 0 || right.len == 0 || left.id != bg.left_id || right.id != bg.right_id ||
        left.next != bg.right) {
      continue;
    }
    left.len += right.len;
    left.id = bg.result;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bg.left;
    try_add(left.prev, bg.left);
    try_add(bg.left, left.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (v.valid(s.id)) {
      out->push_back(s.id);
    } else {
      emit_unknown(v, word.substr(s.begin, s.len), out);
    }
  }
}

}  // namespace

void bpe_encode(const TokenizerImpl& v, std::string_view text, std::vector<int32_t>* out) {
  std::vector<Symbol> symbols;
  std::string spelled;
  for (const std::string& word : v.pre_tokenizer->split(text)) {
    if (v.ignore_merges) {
      spelled.clear();
      for (char b : word) spelled.append(gpt2_byte_to_utf8(uint8_t(b)));
      const int32_t id = v.find(spelled);
      if (id >= 0) {
        out->push_back(id);
        continue;
      }
    }
    merge_word(v, word, &symbols, out);
  }
}

}  // namespace muse
