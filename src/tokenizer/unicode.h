// Unicode helpers for the tokenizers: lenient UTF-8 decoding (invalid bytes become U+FFFD
// one byte at a time, exactly as llama.cpp's `unicode_cpts_from_utf8` does), category flags,
// lowercase, the NFD first code point, and GPT-2's byte <-> printable-character mapping.
// Tables are generated from Python's unicodedata (see gen_unicode_data.py).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unicode_data.h"

namespace muse {

// Category bits (one of them per code point) plus kCptWhitespace (the White_Space property).
enum CptFlags : uint16_t {
  kCptUndefined = unicode_data::kUndefined,
  kCptNumber = unicode_data::kNumber,
  kCptLetter = unicode_data::kLetter,
  kCptSeparator = unicode_data::kSeparator,
  kCptMark = unicode_data::kMark,
  kCptPunctuation = unicode_data::kPunctuation,
  kCptSymbol = unicode_data::kSymbol,
  kCptControl = unicode_data::kControl,
  kCptCategoryMask = 0x00FF,
  kCptWhitespace = 0x0100,
};

constexpr uint32_t kReplacementChar = 0xFFFD;

// Flags of `cpt`; code points past U+10FFFF are kCptUndefined.
uint16_t cpt_flags(uint32_t cpt);
uint32_t cpt_to_lower(uint32_t cpt);
// First code point of the canonical decomposition (U+00FC 'ü' -> 'u'), else `cpt`.
uint32_t cpt_nfd_base(uint32_t cpt);

// Sequence length announced by a lead byte, from its high nibble: 1 for ASCII and for
// stray continuation bytes, 2, 3 or 4 otherwise (llama.cpp's `unicode_len_utf8`).
size_t utf8_len_from_lead(uint8_t lead);

// Decodes one code point at `*pos` and advances. Like llama.cpp, only the continuation bytes
// are checked (overlong forms and surrogates decode; F5..F7 leads give values past
// U+10FFFF); anything else yields kReplacementChar and advances one byte.
uint32_t utf8_decode_lenient(std::string_view s, size_t* pos);
std::vector<uint32_t> utf8_to_cpts(std::string_view s);

// Appends the UTF-8 form of `cpt`; values past U+10FFFF become U+FFFD (llama.cpp throws
// there). Surrogates are encoded as three bytes, as llama.cpp does.
void append_utf8(uint32_t cpt, std::string* out);

// Length of the longest prefix of `s` that does not end inside a multi-byte sequence whose
// remaining bytes could still arrive. Bytes that can never become valid (a stray
// continuation byte, 0xF8..0xFF) count as complete so that they are not held forever.
size_t utf8_complete_prefix(std::string_view s);

// GPT-2's byte-level alphabet: every byte has a printable stand-in character (space is
// 'Ġ' U+0120, newline 'Ċ' U+010A, printable ASCII stands for itself).
std::string_view gpt2_byte_to_utf8(uint8_t byte);
// The byte a stand-in character encodes, or -1 when `cpt` is not one.
int gpt2_utf8_to_byte(uint32_t cpt);

}  // namespace muse
