// Token ids back to text: token_to_piece, decode, the clean-up of tokenization spaces, and
// StreamDecoder. decode() is llama.cpp's `llama_detokenize(remove_special=false)` (what
// `common_detokenize` calls); StreamDecoder produces the same bytes in final pieces.
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace muse {
namespace {

std::string_view piece_of(const TokenizerImpl& v, int32_t id, bool render_special) {
  if (!render_special && (v.attrs[id] & (kAttrControl | kAttrUnknown))) return {};
  return v.pieces[id];
}

}  // namespace

std::string clean_up_spaces(std::string_view text) {
  // Pass 1: " ?", " !", " .", " ," lose the space.
  std::string a;
  a.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char x = text[i];
    if (i > 0 && text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) a.pop_back();
    a.push_back(x);
  }
  // Pass 2: " ' " becomes "'". llama.cpp blanks the consumed second space in place, so the
  // character after it never sees a space before it; `prev_blanked` reproduces that.
  std::string b;
  b.reserve(a.size());
  bool prev_blanked = false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i];
    const bool prev_space = i > 0 && a[i - 1] == ' ' && !prev_blanked;
    prev_blanked = false;
    if (x == '\'' && prev_space && i + 1 < a.size() && a[i + 1] == ' ') {
      b.pop_back();
      b.push_back(x);
      ++i;  // the space after the apostrophe is dropped
      prev_blanked = true;
      continue;
    }
    b.push_back(x);
  }
  // Pass 3: the space goes before "'s", "'m", "'re", "'ve" (not before "'t", "'d", "'ll").
  std::string c;
  c.reserve(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const char x = b[i];
    if (x == '\'' && i > 0 && b[i - 1] == ' ' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      const char x2 = i + 2 < b.size() ? b[i + 2] : '\0';
      if (x1 == 's' || x1 == 'm' || (i + 2 < b.size() && x2 == 'e' && (x1 == 'r' || x1 == 'v')))
        c.pop_back();
    }
    c.push_back(x);
  }
  return c;
}

bool clean_up_boundary(char last) {
  // Every rule's window starts with a space and an apostrophe and then looks at most two
  // bytes further, the second of which may be 'e' or 'l' only after 'r', 'v', 'l'. A byte
  // outside {space, ', t, d, s, m, l, r, v} therefore ends every window it is in. UTF-8
  // lead bytes are refused too, so that a boundary never falls inside a character.
  switch (last) {
    case ' ':
    case '\'':
    case 't':
    case 'd':
    case 's':
    case 'm':
    case 'l':
    case 'r':
    case 'v':
      return false;
    default:
      return uint8_t(last) < 0xC0;
  }
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (!impl_->valid(id)) return {};
  return std::string(piece_of(*impl_, id, render_special));
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  const TokenizerImpl& v = *impl_;
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    if (!v.valid(id)) continue;
    std::string_view piece = piece_of(v, id, render_special);
    // SPM prefixes a space to the text; the first token gives it back (even when that
    // token renders as nothing, as llama.cpp does).
    if (first && v.add_space_prefix && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
    first = false;
    out.append(piece);
  }
  return v.clean_spaces ? clean_up_spaces(out) : out;
}

StreamDecoder::StreamDecoder(Tokenizer tokenizer, StreamDecoderOptions options)
    : tokenizer_(std::move(tokenizer)), options_(options), first_(!options.continues_text) {}

std::string StreamDecoder::push(int32_t id) {
  const TokenizerImpl& v = *tokenizer_.impl_;
  if (!v.valid(id)) return {};
  std::string_view piece = piece_of(v, id, options_.render_special);
  if (first_ && v.add_space_prefix && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
  first_ = false;
  pending_.append(piece);

  size_t end = utf8_complete_prefix(pending_);
  if (v.clean_spaces) {
    while (end > 0 && !clean_up_boundary(pending_[end - 1])) --end;
  }
  if (end == 0) return {};
  std::string ready = pending_.substr(0, end);
  pending_.erase(0, end);
  return v.clean_spaces ? clean_up_spaces(ready) : ready;
}

std::string StreamDecoder::flush() {
  std::string ready = std::move(pending_);
  pending_.clear();
  return tokenizer_.impl_->clean_spaces ? clean_up_spaces(ready) : ready;
}

void StreamDecoder::reset() {
  first_ = !options_.continues_text;
  pending_.clear();
}

}  // namespace muse
