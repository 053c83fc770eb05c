// Tokenizer::encode: split special tokens out of the text (llama.cpp's
// `tokenizer_st_partition`), run the vocabulary's algorithm on each stretch of plain text,
// add BOS/EOS/SEP as the vocabulary asks. Also the small accessors.
#include <algorithm>
#include <array>
#include <memory>

#include "tokenizer/tokenizer_impl.h"

namespace muse {
namespace {

// A stretch of the input: plain text [offset, offset + length), or one special token.
struct Fragment {
  int32_t token;  // -1 for text
  size_t offset;
  size_t length;
};

bool is_c_space(char c) {  // C's isspace() in the "C" locale, as llama.cpp uses it
  return c == ' ' || (c >= '\t' && c <= '\r');
}

// Which byte pairs (and single bytes) occur in a text: a token whose first two bytes never
// do cannot occur, which spares a scan of the text for most special tokens (DeepSeek's
// vocabularies have thousands that are always looked for).
class BytePairs {
 public:
  explicit BytePairs(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      set(uint8_t(text[i]));
      if (i + 1 < text.size()) set(256 + (uint32_t(uint8_t(text[i])) << 8 | uint8_t(text[i + 1])));
    }
  }
  bool may_contain(std::string_view tok) const {
    if (tok.size() == 1) return get(uint8_t(tok[0]));
    return get(256 + (uint32_t(uint8_t(tok[0])) << 8 | uint8_t(tok[1])));
  }

 private:
  void set(uint32_t bit) { bits_[bit >> 6] |= uint64_t(1) << (bit & 63); }
  bool get(uint32_t bit) const { return bits_[bit >> 6] >> (bit & 63) & 1; }
  std::array<uint64_t, (256 + 65536) / 64> bits_{};
};

// Splits every special token's occurrences out of the text fragments, longest token first;
// each token's matches are taken left to right within each fragment. Control and unknown
// tokens take part only when `parse_special`; user-defined ones always do.
std::vector<Fragment> partition(const TokenizerImpl& v, std::string_view text, bool parse_special) {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  const auto present = std::make_unique<BytePairs>(text);
  std::vector<Fragment> next;
  for (int32_t id : v.special_ids) {
    const uint32_t attr = v.attrs[id];
    if (!parse_special && (attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view tok = v.texts[id];
    if (!present->may_contain(tok)) continue;
    next.clear();
    bool found = false;
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t base = f.offset;
      size_t len = f.length;
      while (len > 0) {
        const size_t match = text.substr(0, base + len).find(tok, base);
        if (match == std::string_view::npos) {
          next.push_back({-1, base, len});
          break;
        }
        found = true;
        size_t left_len = match - base;
        if (attr & kAttrLstrip)
          while (left_len > 0 && is_c_space(text[base + left_len - 1])) --left_len;
        if (left_len > 0) next.push_back({-1, base, left_len});
        next.push_back({id, 0, 0});
        size_t right = match + tok.size();
        size_t right_len = base + len - right;
        if (attr & kAttrRstrip) {
          while (right_len > 0 && is_c_space(text[right])) {
            ++right;
            --right_len;
          }
        }
        base = right;
        len = right_len;
      }
    }
    if (found) frags.swap(next);
  }
  return frags;
}

void append_spm(const TokenizerImpl& v, std::string_view text, bool prefix_space, std::string* buf,
                std::vector<int32_t>* out) {
  static constexpr std::string_view kSpace = "\xE2\x96\x81";  // '▁'
  buf->clear();
  if (prefix_space) buf->append(kSpace);
  for (char c : text) {
    if (c == ' ') {
      buf->append(kSpace);
    } else {
      buf->push_back(c);
    }
  }
  spm_encode(v, *buf, out);
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const TokenizerImpl& v = *impl_;
  const std::vector<Fragment> frags = partition(v, text, parse_special);
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  switch (v.type) {
    case VocabType::kSpm: {
      if (add_special && v.add_bos) out.push_back(v.bos);
      // SentencePiece prefixes a space to the text, and llama.cpp to every stretch of text
      // that follows a special token.
      bool prev_special = true;
      std::string buf;
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        append_spm(v, text.substr(f.offset, f.length), v.add_space_prefix && prev_special, &buf,
                   &out);
        prev_special = false;
      }
      if (add_special && v.add_eos) out.push_back(v.eos);
      break;
    }
    case VocabType::kBpe: {
      if (add_special && v.add_bos) out.push_back(v.bos);
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          bpe_encode(v, text.substr(f.offset, f.length), &out);
        }
      }
      if (add_special && v.add_eos) out.push_back(v.eos);
      break;
    }
    case VocabType::kWpm: {
      // BERT wraps every sequence in [CLS] ... [SEP] (llama.cpp's bos and sep).
      if (add_special && v.bos >= 0) out.push_back(v.bos);
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          wpm_encode(v, text.substr(f.offset, f.length), &out);
        }
      }
      if (add_special && v.sep >= 0) out.push_back(v.sep);
      break;
    }
  }
  return out;
}

VocabType Tokenizer::type() const { return impl_->type; }
std::string_view Tokenizer::pre() const { return impl_->pre; }
int32_t Tokenizer::n_vocab() const { return impl_->n_vocab(); }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
int32_t Tokenizer::eot() const { return impl_->eot; }
int32_t Tokenizer::eom() const { return impl_->eom; }
int32_t Tokenizer::unk() const { return impl_->unk; }
int32_t Tokenizer::sep() const { return impl_->sep; }
int32_t Tokenizer::pad() const { return impl_->pad; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
const std::vector<std::string>& Tokenizer::warnings() const { return impl_->warnings; }

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->eog_ids.begin(), impl_->eog_ids.end(), id);
}

bool Tokenizer::is_control(int32_t id) const {
  return impl_->valid(id) && (impl_->attrs[id] & kAttrControl);
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return impl_->valid(id) ? std::string_view(impl_->texts[id]) : std::string_view();
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  const int32_t id = impl_->find(text);
  if (id < 0) return std::nullopt;
  return id;
}

}  // namespace muse
