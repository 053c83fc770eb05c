// Lookups over the generated tables, UTF-8 coding with llama.cpp's leniency, and GPT-2's
// byte alphabet. The Basic Multilingual Plane's flags are expanded once into a flat table
// (128 KiB) because pre-tokenizers classify every code point of every prompt.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace muse {
namespace {

using unicode_data::kCategoryRanges;
using unicode_data::kCategoryRangesSize;

// The White_Space property (PropList.txt); stable since Unicode 6.3.
constexpr uint32_t kWhitespace[] = {0x0009, 0x000A, 0x000B, 0x000C, 0x000D, 0x0020, 0x0085,
                                    0x00A0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
                                    0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028,
                                    0x2029, 0x202F, 0x205F, 0x3000};

constexpr uint32_t kMaxCodepoint = 0x10FFFF;

uint16_t category_of(uint32_t cpt) {
  const auto* end = kCategoryRanges + kCategoryRangesSize;
  const auto* it = std::upper_bound(
      kCategoryRanges, end, cpt,
      [](uint32_t c, const unicode_data::CategoryRange& r) { return c < r.first; });
  return it == kCategoryRanges ? uint16_t(kCptUndefined) : (it - 1)->flags;
}

uint16_t with_whitespace(uint32_t cpt, uint16_t flags) {
  for (uint32_t w : kWhitespace)
    if (w == cpt) return flags | kCptWhitespace;
  return flags;
}

struct BmpFlags {
  std::array<uint16_t, 0x10000> flags;
  BmpFlags() {
    for (uint32_t c = 0; c < 0x10000; ++c) flags[c] = with_whitespace(c, category_of(c));
  }
};

const BmpFlags& bmp_flags() {
  static const BmpFlags table;
  return table;
}

// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the other 68
// bytes map to U+0100, U+0101, ... in byte order.
struct Gpt2Alphabet {
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 324> from_cpt;  // every stand-in is below U+0144
  Gpt2Alphabet() {
    from_cpt.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cpt = printable ? uint32_t(b) : next++;
      append_utf8(cpt, &to_utf8[b]);
      from_cpt[cpt] = int16_t(b);
    }
  }
};

const Gpt2Alphabet& gpt2_alphabet() {
  static const Gpt2Alphabet alphabet;
  return alphabet;
}

}  // namespace

uint16_t cpt_flags(uint32_t cpt) {
  if (cpt < 0x10000) return bmp_flags().flags[cpt];
  if (cpt > kMaxCodepoint) return kCptUndefined;
  return category_of(cpt);  // no astral code point is White_Space
}

uint32_t cpt_to_lower(uint32_t cpt) {
  using unicode_data::kLowercaseRuns;
  const auto* end = kLowercaseRuns + unicode_data::kLowercaseRunsSize;
  const auto* it =
      std::upper_bound(kLowercaseRuns, end, cpt,
                       [](uint32_t c, const unicode_data::LowercaseRun& r) { return c < r.first; });
  if (it == kLowercaseRuns) return cpt;
  --it;
  if (cpt > it->last || (cpt - it->first) % it->step != 0) return cpt;
  return uint32_t(int64_t(cpt) + it->delta);
}

uint32_t cpt_nfd_base(uint32_t cpt) {
  using unicode_data::kNfdRanges;
  const auto* end = kNfdRanges + unicode_data::kNfdRangesSize;
  const auto* it =
      std::upper_bound(kNfdRanges, end, cpt,
                       [](uint32_t c, const unicode_data::NfdRange& r) { return c < r.first; });
  if (it == kNfdRanges) return cpt;
  --it;
  return cpt <= it->last ? it->base : cpt;
}

size_t utf8_len_from_lead(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

uint32_t utf8_decode_lenient(std::string_view s, size_t* pos) {
  const size_t i = *pos;
  const auto byte = [&](size_t k) { return uint8_t(s[i + k]); };
  const auto cont = [&](size_t k) { return i + k < s.size() && (byte(k) & 0xC0) == 0x80; };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) {
    *pos = i + 1;
    return b0;
  }
  if ((b0 & 0xE0) == 0xC0 && cont(1)) {
    *pos = i + 2;
    return uint32_t(b0 & 0x1F) << 6 | (byte(1) & 0x3F);
  }
  if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    *pos = i + 3;
    return uint32_t(b0 & 0x0F) << 12 | uint32_t(byte(1) & 0x3F) << 6 | (byte(2) & 0x3F);
  }
  if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    *pos = i + 4;
    return uint32_t(b0 & 0x07) << 18 | uint32_t(byte(1) & 0x3F) << 12 |
           uint32_t(byte(2) & 0x3F) << 6 | (byte(3) & 0x3F);
  }
  *pos = i + 1;
  return kReplacementChar;
}

std::vector<uint32_t> utf8_to_cpts(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) out.push_back(utf8_decode_lenient(s, &pos));
  return out;
}

void append_utf8(uint32_t cpt, std::string* out) {
  if (cpt > kMaxCodepoint) cpt = kReplacementChar;
  if (cpt < 0x80) {
    out->push_back(char(cpt));
  } else if (cpt < 0x800) {
    out->push_back(char(0xC0 | (cpt >> 6)));
    out->push_back(char(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out->push_back(char(0xE0 | (cpt >> 12)));
    out->push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
    out->push_back(char(0x80 | (cpt & 0x3F)));
  } else {
    out->push_back(char(0xF0 | (cpt >> 18)));
    out->push_back(char(0x80 | ((cpt >> 12) & 0x3F)));
    out->push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
    out->push_back(char(0x80 | (cpt & 0x3F)));
  }
}

size_t utf8_complete_prefix(std::string_view s) {
  // Walk back over at most three continuation bytes to the byte that starts the last
  // sequence; the prefix is complete unless that lead byte still expects more bytes.
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const uint8_t b = uint8_t(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep walking back
    if (b < 0xC0 || b >= 0xF8) return n;
    const size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    return back < need ? n - back : n;
  }
  return n;
}

std::string_view gpt2_byte_to_utf8(uint8_t byte) { return gpt2_alphabet().to_utf8[byte]; }

int gpt2_utf8_to_byte(uint32_t cpt) {
  return cpt < gpt2_alphabet().from_cpt.size() ? gpt2_alphabet().from_cpt[cpt] : -1;
}

}  // namespace muse
