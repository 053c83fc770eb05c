// PCRE2 behind the pre-tokenizer, made to behave like llama.cpp's std::regex splitting:
//  * Each regex runs on every piece separately (the piece is the whole subject, so `$` and
//    look-arounds stop at its ends); matches and the gaps between them become new pieces.
//  * A regex that names a Unicode category (\p{L}, \p{N}, \p{P}, \p{M}, \p{S}, \p{Lu}...)
//    runs on a "collapsed" copy of the text: ASCII stays, non-ASCII whitespace becomes VT
//    (U+000B), every other non-ASCII code point becomes one stand-in per category, and
//    each \p{X} in the regex becomes "stand-in + the ASCII members of X". This mirrors
//    llama.cpp, quirks included (\p{Lu} matches any letter; '~' is not in \p{S}).
//  * Other regexes run on the code points themselves, non-ASCII whitespace again as VT.
//  * ECMAScript's \s, \d, \w are ASCII-only, so patterns are compiled without PCRE2_UCP
//    (VT stands in for Unicode whitespace), and `$` only matches at the very end.
// llama.cpp's hand-written splitters for the GPT-2 and Llama-3 regexes implement exactly
// those regexes, so the regexes themselves serve here.
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>

#include "tokenizer/unicode.h"

namespace muse {
namespace {

// Stand-ins for the collapsed text: U+00D0 + n, the values llama.cpp uses as bytes.
constexpr uint32_t kOtherStandIn = 0xD0;
constexpr uint32_t kWhitespaceStandIn = 0x0B;

struct Category {
  std::string_view name;  // as written in a regex
  uint16_t flag;
  std::string_view ascii;  // the category's ASCII members, as class syntax
};

// \p{Lu}, \p{Ll}... collapse to letters, as in llama.cpp.
constexpr Category kCategories[] = {
    {"\\p{N}", kCptNumber, "0-9"},
    {"\\p{L}", kCptLetter, "A-Za-z"},
    {"\\p{P}", kCptPunctuation, "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"},
    {"\\p{M}", kCptMark, ""},
    {"\\p{S}", kCptSymbol, "\\$\\+<->\\^`\\|"},
    {"\\p{Lu}", kCptLetter, "A-Za-z"},
    {"\\p{Ll}", kCptLetter, "A-Za-z"},
    {"\\p{Lt}", kCptLetter, "A-Za-z"},
    {"\\p{Lm}", kCptLetter, "A-Za-z"},
    {"\\p{Lo}", kCptLetter, "A-Za-z"},
};

uint32_t stand_in(uint16_t category) {
  switch (category) {
    case kCptNumber:
      return 0xD1;
    case kCptLetter:
      return 0xD2;
    case kCptPunctuation:
      return 0xD3;
    case kCptMark:
      return 0xD4;
    case kCptSymbol:
      return 0xD5;
    default:
      return kOtherStandIn;
  }
}

bool uses_categories(std::string_view regex) {
  for (const Category& c : kCategories)
    if (regex.find(c.name) != std::string_view::npos) return true;
  return false;
}

// Rewrites every \p{X} of `regex` as described at the top of the file.
StatusOr<std::string> collapse_regex(std::string_view regex) {
  for (char ch : regex)
    if (uint8_t(ch) >= 0x80)
      return Errorf("pre-tokenizer regex mixes Unicode categories with non-ASCII text: %.*s",
                    int(regex.size()), regex.data());
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < regex.size(); ++i) {
    const bool escaped = i > 0 && regex[i - 1] == '\\';
    if (regex[i] == '[' && !escaped) in_class = true;
    if (regex[i] == ']' && !escaped) in_class = false;
    const Category* cat = nullptr;
    for (const Category& c : kCategories)
      if (regex.substr(i, c.name.size()) == c.name) cat = &c;
    if (cat == nullptr) {
      out += regex[i];
      continue;
    }
    if (!in_class) out += '[';
    append_utf8(stand_in(cat->flag), &out);
    out += cat->ascii;
    if (!in_class) out += ']';
    i += cat->name.size() - 1;
  }
  return out;
}

// The text a pattern runs on, with the byte offset of every code point (plus the end).
struct Subject {
  std::string text;
  std::vector<uint32_t> cpt_offset;
};

Subject make_subject(const std::vector<uint32_t>& cpts, bool collapsed) {
  Subject s;
  s.text.reserve(cpts.size() + cpts.size() / 2);
  s.cpt_offset.reserve(cpts.size() + 1);
  for (uint32_t cpt : cpts) {
    s.cpt_offset.push_back(uint32_t(s.text.size()));
    uint32_t c = cpt;
    if (cpt >= 0x80) {
      const uint16_t flags = cpt_flags(cpt);
      if (flags & kCptWhitespace) {
        c = kWhitespaceStandIn;
      } else if (collapsed) {
        c = stand_in(flags & kCptCategoryMask);
      } else if (cpt > 0x10FFFF || (cpt >= 0xD800 && cpt <= 0xDFFF)) {
        c = kReplacementChar;  // PCRE2 needs valid UTF-8; these match nothing specific
      }
    }
    append_utf8(c, &s.text);
  }
  s.cpt_offset.push_back(uint32_t(s.text.size()));
  return s;
}

}  // namespace

struct PreTokenizer::Pattern {
  pcre2_code* code = nullptr;
  bool collapsed = false;
  ~Pattern() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() = default;

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::create(
    const std::vector<std::string_view>& regexes) {
  std::unique_ptr<PreTokenizer> pt(new PreTokenizer());
  for (std::string_view regex : regexes) {
    auto pattern = std::make_unique<Pattern>();
    pattern->collapsed = uses_categories(regex);
    std::string source(regex);
    if (pattern->collapsed) {
      StatusOr<std::string> collapsed = collapse_regex(regex);
      if (!collapsed.ok()) return collapsed.status();
      source = std::move(collapsed.value());
    }
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    pattern->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                  PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &error, &error_offset, nullptr);
    if (pattern->code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return Errorf("pre-tokenizer regex does not compile (%s at offset %zu): %s",
                    reinterpret_cast<const char*>(message), size_t(error_offset), source.c_str());
    }
    // Without JIT (unsupported CPU) pcre2_match interprets; results are the same.
    (void)pcre2_jit_compile(pattern->code, PCRE2_JIT_COMPLETE);
    pt->patterns_.push_back(std::move(pattern));
  }
  return pt;
}

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  const std::vector<uint32_t> cpts = utf8_to_cpts(text);
  // Piece lengths in code points; every regex refines the current pieces.
  std::vector<size_t> pieces;
  if (!cpts.empty()) pieces.push_back(cpts.size());

  Subject subjects[2];
  bool built[2] = {false, false};
  for (const auto& pattern : patterns_) {
    const int kind = pattern->collapsed ? 1 : 0;
    if (!built[kind]) {
      subjects[kind] = make_subject(cpts, pattern->collapsed);
      built[kind] = true;
    }
    const Subject& subject = subjects[kind];
    // Byte offset -> code point index, for the starts of code points only.
    auto to_cpt = [&](size_t cpt_begin, size_t byte) {
      const auto first = subject.cpt_offset.begin() + ptrdiff_t(cpt_begin);
      return size_t(std::lower_bound(first, subject.cpt_offset.end(), uint32_t(byte)) -
                    subject.cpt_offset.begin());
    };
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(pattern->code, nullptr);
    std::vector<size_t> next;
    next.reserve(pieces.size() * 2);
    size_t cpt_start = 0;
    for (size_t len : pieces) {
      const size_t cpt_end = cpt_start + len;
      const size_t b0 = subject.cpt_offset[cpt_start];
      const size_t n_bytes = subject.cpt_offset[cpt_end] - b0;
      const auto* base = reinterpret_cast<PCRE2_SPTR>(subject.text.data() + b0);
      size_t done = cpt_start;  // code points already assigned to pieces
      size_t offset = 0;        // byte offset (within the piece) where the search resumes
      while (offset < n_bytes) {
        int rc = pcre2_match(pattern->code, base, n_bytes, offset, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
          rc = pcre2_match(pattern->code, base, n_bytes, offset, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                           md, nullptr);
        // No match, or a resource limit on a pathological piece: the rest stays one piece.
        if (rc < 0) break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t m_begin = to_cpt(cpt_start, b0 + ov[0]);
        const size_t m_end = to_cpt(cpt_start, b0 + ov[1]);
        if (m_end == m_begin) {
          // An empty match splits nothing (none of the supported regexes can produce one);
          // resume after the next code point.
          if (m_begin >= cpt_end) break;
          offset = subject.cpt_offset[m_begin + 1] - b0;
          continue;
        }
        if (m_begin > done) next.push_back(m_begin - done);
        next.push_back(m_end - m_begin);
        done = m_end;
        offset = ov[1];
      }
      if (cpt_end > done) next.push_back(cpt_end - done);
      cpt_start = cpt_end;
    }
    pcre2_match_data_free(md);
    pieces = std::move(next);
  }

  std::vector<std::string> words;
  words.reserve(pieces.size());
  size_t start = 0;
  for (size_t len : pieces) {
    std::string& word = words.emplace_back();
    for (size_t i = start; i < start + len; ++i) append_utf8(cpts[i], &word);
    start += len;
  }
  return words;
}

}  // namespace muse
