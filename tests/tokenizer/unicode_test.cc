// Unicode helpers against facts from the Unicode Character Database and GPT-2's
// bytes_to_unicode, and UTF-8 decoding with exactly llama.cpp's leniency.
#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

namespace muse {
namespace {

TEST(UnicodeTest, CategoryFlags) {
  EXPECT_EQ(cpt_flags('a') & kCptCategoryMask, kCptLetter);
  EXPECT_EQ(cpt_flags(0x00E9) & kCptCategoryMask, kCptLetter);  // é
  EXPECT_EQ(cpt_flags(0x65E5) & kCptCategoryMask, kCptLetter);  // 日 (Lo)
  EXPECT_EQ(cpt_flags('7') & kCptCategoryMask, kCptNumber);
  EXPECT_EQ(cpt_flags(0x00BD) & kCptCategoryMask, kCptNumber);  // ½ (No)
  EXPECT_EQ(cpt_flags('!') & kCptCategoryMask, kCptPunctuation);
  EXPECT_EQ(cpt_flags('~') & kCptCategoryMask, kCptSymbol);
  EXPECT_EQ(cpt_flags(0x1F999) & kCptCategoryMask, kCptSymbol);  // 🦙 (So)
  EXPECT_EQ(cpt_flags(0x0301) & kCptCategoryMask, kCptMark);     // combining acute
  EXPECT_EQ(cpt_flags(0x200D) & kCptCategoryMask, kCptControl);  // ZWJ (Cf)
  EXPECT_EQ(cpt_flags(0x0378) & kCptCategoryMask, kCptUndefined);
  EXPECT_EQ(cpt_flags(0x110000), kCptUndefined);
  for (uint32_t ws : {0x09u, 0x0Au, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x2028u, 0x3000u})
    EXPECT_TRUE(cpt_flags(ws) & kCptWhitespace) << std::hex << ws;
  for (uint32_t not_ws : {0x1Cu, 0x200Bu, 0x180Eu, uint32_t('a')})
    EXPECT_FALSE(cpt_flags(not_ws) & kCptWhitespace) << std::hex << not_ws;
}

TEST(UnicodeTest, LowercaseAndNfdBase) {
  EXPECT_EQ(cpt_to_lower('A'), uint32_t('a'));
  EXPECT_EQ(cpt_to_lower('a'), uint32_t('a'));
  EXPECT_EQ(cpt_to_lower(0x00DC), 0x00FCu);  // Ü -> ü
  EXPECT_EQ(cpt_to_lower(0x0100), 0x0101u);  // Ā -> ā (runs stepping by two)
  EXPECT_EQ(cpt_to_lower(0x0101), 0x0101u);
  EXPECT_EQ(cpt_to_lower(0x0130), uint32_t('i'));  // İ lowercases to "i̇": first code point
  EXPECT_EQ(cpt_to_lower(0x0411), 0x0431u);        // Б -> б
  EXPECT_EQ(cpt_to_lower(0x1E9E), 0x00DFu);        // ẞ -> ß
  EXPECT_EQ(cpt_nfd_base(0x00FC), uint32_t('u'));  // ü
  EXPECT_EQ(cpt_nfd_base(0x1EED), uint32_t('u'));  // ử (two marks)
  EXPECT_EQ(cpt_nfd_base(0xAC00), 0x1100u);        // 가 -> ᄀ
  EXPECT_EQ(cpt_nfd_base('a'), uint32_t('a'));
  EXPECT_EQ(cpt_nfd_base(0x65E5), 0x65E5u);
}

TEST(UnicodeTest, LenientDecoding) {
  EXPECT_EQ(utf8_to_cpts("a\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x99"),
            (std::vector<uint32_t>{'a', 0xE9, 0x20AC, 0x1F999}));
  // Invalid bytes give U+FFFD one byte at a time; a truncated sequence likewise.
  EXPECT_EQ(utf8_to_cpts("\x80\xff"), (std::vector<uint32_t>{kReplacementChar, kReplacementChar}));
  EXPECT_EQ(utf8_to_cpts("\xe2\x82z"),
            (std::vector<uint32_t>{kReplacementChar, kReplacementChar, 'z'}));
  // Only continuation bytes are checked, as in llama.cpp: overlong forms, surrogates and
  // values past U+10FFFF decode.
  EXPECT_EQ(utf8_to_cpts("\xc0\x80"), std::vector<uint32_t>{0});
  EXPECT_EQ(utf8_to_cpts("\xed\xa0\x80"), std::vector<uint32_t>{0xD800});
  EXPECT_EQ(utf8_to_cpts("\xf5\x80\x80\x80"), std::vector<uint32_t>{0x140000});
  std::string out;
  append_utf8(0x140000, &out);
  EXPECT_EQ(out, "\xef\xbf\xbd");
  out.clear();
  append_utf8(0xD800, &out);
  EXPECT_EQ(out, "\xed\xa0\x80");
  EXPECT_EQ(utf8_len_from_lead(0x41), 1u);
  EXPECT_EQ(utf8_len_from_lead(0x80), 1u);
  EXPECT_EQ(utf8_len_from_lead(0xC3), 2u);
  EXPECT_EQ(utf8_len_from_lead(0xE2), 3u);
  EXPECT_EQ(utf8_len_from_lead(0xFF), 4u);
}

TEST(UnicodeTest, CompletePrefix) {
  EXPECT_EQ(utf8_complete_prefix(""), 0u);
  EXPECT_EQ(utf8_complete_prefix("ab"), 2u);
  EXPECT_EQ(utf8_complete_prefix("a\xe2"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\xe2\x82"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\xe2\x82\xac"), 4u);
  EXPECT_EQ(utf8_complete_prefix("a\xf0\x9f\xa6"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\x80"), 2u);  // a stray continuation byte never completes
  EXPECT_EQ(utf8_complete_prefix("a\xe2z"), 3u);
  EXPECT_EQ(utf8_complete_prefix("\xff"), 1u);
}

TEST(UnicodeTest, Gpt2ByteAlphabet) {
  EXPECT_EQ(gpt2_byte_to_utf8(' '), "\xc4\xa0");   // Ġ U+0120
  EXPECT_EQ(gpt2_byte_to_utf8('\n'), "\xc4\x8a");  // Ċ U+010A
  EXPECT_EQ(gpt2_byte_to_utf8('A'), "A");
  EXPECT_EQ(gpt2_byte_to_utf8(0xE9), "\xc3\xa9");  // printable Latin-1 stands for itself
  EXPECT_EQ(gpt2_byte_to_utf8(0xAD), "\xc5\x83");  // the last stand-in, U+0143
  for (int b = 0; b < 256; ++b) {
    size_t pos = 0;
    const std::string_view s = gpt2_byte_to_utf8(uint8_t(b));
    EXPECT_EQ(gpt2_utf8_to_byte(utf8_decode_lenient(s, &pos)), b);
    EXPECT_EQ(pos, s.size());
  }
  EXPECT_EQ(gpt2_utf8_to_byte(' '), -1);
  EXPECT_EQ(gpt2_utf8_to_byte(0x0144), -1);
}

}  // namespace
}  // namespace muse
