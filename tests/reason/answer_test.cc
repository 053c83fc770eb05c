// Answer extraction and normalization: hand-written model outputs for every format (think
// blocks, nested and unbalanced braces, several answers where the last wins, UTF-8 around),
// the normalization rules one by one, and megabyte inputs that must stay linear.
#include "reason/answer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <iterator>
#include <optional>
#include <random>
#include <string>

namespace muse {
namespace {

using std::nullopt;
using Opt = std::optional<std::string>;

Opt boxed(std::string_view s) { return extract_answer(s, AnswerFormat::kBoxed); }
Opt hashes(std::string_view s) { return extract_answer(s, AnswerFormat::kHashes); }
Opt colon(std::string_view s) { return extract_answer(s, AnswerFormat::kAnswerColon); }
Opt number(std::string_view s) { return extract_answer(s, AnswerFormat::kLastNumber); }
Opt exact(std::string_view s) { return extract_answer(s, AnswerFormat::kExact); }
Opt auto_(std::string_view s) { return extract_answer(s, AnswerFormat::kAuto); }

TEST(AnswerFormat, ParsesEveryNameAndRoundTrips) {
  const std::pair<const char*, AnswerFormat> cases[] = {
      {"auto", AnswerFormat::kAuto},          {"boxed", AnswerFormat::kBoxed},
      {"hashes", AnswerFormat::kHashes},      {"####", AnswerFormat::kHashes},
      {"answer", AnswerFormat::kAnswerColon}, {"last-number", AnswerFormat::kLastNumber},
      {"exact", AnswerFormat::kExact}};
  for (const auto& [name, format] : cases) {
    const StatusOr<AnswerFormat> f = parse_answer_format(name);
    ASSERT_TRUE(f.ok()) << name;
    EXPECT_EQ(*f, format) << name;
    EXPECT_EQ(*parse_answer_format(answer_format_name(format)), format);
  }
}

TEST(AnswerFormat, UnknownNameListsTheAcceptedOnes) {
  for (const char* bad : {"", "Boxed", "last_number", "answer:", "###"}) {
    const StatusOr<AnswerFormat> f = parse_answer_format(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_NE(f.status().message().find(std::string("'").append(bad).append("'")),
              std::string::npos);
    for (const char* name : {"auto", "boxed", "hashes", "####", "answer", "last-number", "exact"}) {
      EXPECT_NE(f.status().message().find(name), std::string::npos) << f.status().message();
    }
  }
}

TEST(AfterThink, SkipsALeadingClosedBlock) {
  EXPECT_EQ(after_think("<think>x = 3</think>The answer is 4"), "The answer is 4");
  EXPECT_EQ(after_think("\n  <think>a</think>b"), "b");
  // Chat templates that open the block in the prompt: only the closing tag is generated.
  EXPECT_EQ(after_think("so 3</think>\n\n4"), "\n\n4");
  // Only the first closing tag ends the block.
  EXPECT_EQ(after_think("<think>a</think>b</think>c"), "b</think>c");
}

TEST(AfterThink, KeepsTheWholeTextOtherwise) {
  EXPECT_EQ(after_think("<think>never closed 42"), "<think>never closed 42");
  EXPECT_EQ(after_think("no thinking 42"), "no thinking 42");
  // A block that is not leading is not a thinking block.
  EXPECT_EQ(after_think("intro <think>a</think> b"), "intro <think>a</think> b");
  EXPECT_EQ(after_think(""), "");
}

TEST(ExtractAnswer, ThinkBlockIsIgnoredOnlyWhenClosed) {
  EXPECT_EQ(number("<think>maybe 17? or 18</think>So it is 12 apples."), "12");
  EXPECT_EQ(boxed("<think>\\boxed{1}</think>\\boxed{2}"), "2");
  EXPECT_EQ(boxed("<think>\\boxed{1}</think>no box after"), nullopt);
  EXPECT_EQ(number("<think>truncated at 99"), "99");
  EXPECT_EQ(exact("<think>long reasoning</think>  Paris \n"), "Paris");
}

TEST(Boxed, NestedBracesAndLastBoxWins) {
  EXPECT_EQ(boxed("so \\boxed{42}."), "42");
  EXPECT_EQ(boxed("$\\boxed{\\frac{1}{2}}$"), "\\frac{1}{2}");
  EXPECT_EQ(boxed("\\boxed{\\sqrt{\\frac{a}{b^{2}}}} end"), "\\sqrt{\\frac{a}{b^{2}}}");
  EXPECT_EQ(boxed("\\boxed{1} then \\boxed{2} and finally \\fbox{3}"), "3");
  EXPECT_EQ(boxed("\\fbox{A} then \\boxed{B}"), "B");
  EXPECT_EQ(boxed("\\boxed { 7 }"), "7");  // spaces before `{` and inside
  // A box inside a box: the inner one starts last.
  EXPECT_EQ(boxed("\\boxed{\\boxed{5}}"), "5");
  EXPECT_EQ(boxed("\\boxed{\\{1, 2\\}}"), "\\{1, 2\\}");
}

TEST(Boxed, UnclosedOrEmptyFallsBackToAnEarlierBoxOrNone) {
  EXPECT_EQ(boxed("\\boxed{1} ... \\boxed{\\frac{2}{3}"), "1");  // truncated last box
  EXPECT_EQ(boxed("\\boxed{\\frac{2}{3}"), nullopt);
  EXPECT_EQ(boxed("\\boxed{x}\\boxed{}"), "x");
  EXPECT_EQ(boxed("\\boxed{  }"), nullopt);
  EXPECT_EQ(boxed("\\boxedtext 5"), nullopt);
  EXPECT_EQ(boxed("\\boxed 5"), nullopt);
  EXPECT_EQ(boxed("boxed{5}"), nullopt);
  EXPECT_EQ(boxed(""), nullopt);
  // A closing brace too many ends the box early, as plain counting does.
  EXPECT_EQ(boxed("\\boxed{a}}"), "a");
}

TEST(Hashes, RestOfTheLineAfterTheLastMarker) {
  EXPECT_EQ(hashes("She pays 3 * 4 = 12.\n#### 12"), "12");
  EXPECT_EQ(hashes("#### 1\nmore work\n####  -7  \ntrailing text"), "-7");
  EXPECT_EQ(hashes("a #### b #### c"), "c");
  EXPECT_EQ(hashes("#### 5\n####\n"), "5");  // an empty last marker falls back
  EXPECT_EQ(hashes("#### Step 2"), "Step 2");
  EXPECT_EQ(hashes("### 5"), nullopt);
  EXPECT_EQ(hashes("no marker"), nullopt);
}

TEST(AnswerColon, CaseInsensitiveLastMarker) {
  EXPECT_EQ(colon("Answer: B"), "B");
  EXPECT_EQ(colon("answer: 1\nFINAL ANSWER: 2.\nbye"), "2");
  EXPECT_EQ(colon("Therefore, the answer is 42."), "42");
  EXPECT_EQ(colon("The final answer is: $\\frac{3}{4}$"), "$\\frac{3}{4}$");
  EXPECT_EQ(colon("Answer: the answer is 7"), "7");
  EXPECT_EQ(colon("**Final Answer:** 12"), "12");
  EXPECT_EQ(colon("**Answer: 12**."), "12");
  EXPECT_EQ(colon("Answer : x"), "x");
  EXPECT_EQ(colon("Answer: 3.5"), "3.5");  // only a trailing period goes
}

TEST(AnswerColon, EmptyRestTakesTheNextNonEmptyLine) {
  EXPECT_EQ(colon("**Final Answer:**\n\n  42\nthanks"), "42");
  EXPECT_EQ(colon("Answer: 1\nAnswer:"), "1");  // nothing after the last one
  EXPECT_EQ(colon("Answer:\nAnswer: 3"), "3");
}

TEST(AnswerColon, WordsThatOnlyLookLikeMarkers) {
  EXPECT_EQ(colon("the answer isn't clear"), nullopt);
  EXPECT_EQ(colon("answers: many"), nullopt);
  EXPECT_EQ(colon("no marker here"), nullopt);
  EXPECT_EQ(colon("Answer:"), nullopt);
}

TEST(LastNumber, Shapes) {
  EXPECT_EQ(number("it costs 1,234.50 dollars"), "1,234.50");
  EXPECT_EQ(number("the result is -3."), "-3");
  EXPECT_EQ(number("about 3/4 of them"), "3/4");
  EXPECT_EQ(number("$5"), "5");
  EXPECT_EQ(number("x = -0.25"), "-0.25");
  EXPECT_EQ(number("p = .5"), ".5");
  EXPECT_EQ(number("12,345,678 items"), "12,345,678");
  EXPECT_EQ(number("1 then 2 then 30"), "30");
  EXPECT_EQ(number("no digits"), nullopt);
  EXPECT_EQ(number(""), nullopt);
}

TEST(LastNumber, MinusIsASignOnlyWhereItCannotSubtract) {
  EXPECT_EQ(number("5-3"), "3");
  EXPECT_EQ(number("x-3"), "3");
  EXPECT_EQ(number("(2)-1"), "1");
  EXPECT_EQ(number("= -3"), "-3");
  EXPECT_EQ(number("(-3)"), "-3");
  EXPECT_EQ(number("$-5$"), "-5");
  EXPECT_EQ(number("--"), nullopt);
}

TEST(LastNumber, CommasOnlyGroupThreeDigits) {
  EXPECT_EQ(number("1,2,3"), "3");
  EXPECT_EQ(number("1,23"), "23");
  EXPECT_EQ(number("1234,567"), "567");
  EXPECT_EQ(number("1,234,5678"), "5678");
  EXPECT_EQ(number("costs 1,000."), "1,000");
  EXPECT_EQ(number("1,234/5"), "5");  // no grouped fractions
  EXPECT_EQ(number("1.5/2"), "2");    // nor decimal ones
  EXPECT_EQ(number("version 1.2.3"), "3");
}

TEST(LastNumber, Utf8AroundIsPassedOver) {
  EXPECT_EQ(number("Der Preis beträgt 12 € — also ≈ 12,5 €"), "5");
  EXPECT_EQ(number("答案是 ７ 或 8。"), "8");  // full-width ７ is not an ASCII digit
  EXPECT_EQ(number("π ≈ 3.14159 🎉"), "3.14159");
  EXPECT_EQ(boxed("ответ: \\boxed{42 км} ✓"), "42 км");
}

TEST(Exact, WholeTextTrimmed) {
  EXPECT_EQ(exact("  Paris\n"), "Paris");
  EXPECT_EQ(exact("\n \t"), nullopt);
  EXPECT_EQ(exact("<think>x</think>"), nullopt);
}

TEST(Auto, TriesBoxedThenHashesThenColonThenNumber) {
  EXPECT_EQ(auto_("Answer: 3\n#### 4\n\\boxed{5} and 6"), "5");
  EXPECT_EQ(auto_("Answer: 3\n#### 4\nand 6"), "4");
  EXPECT_EQ(auto_("Answer: 3\nand 6"), "3");
  EXPECT_EQ(auto_("we get 6 then 7"), "7");
  EXPECT_EQ(auto_("nothing"), nullopt);
  // An unclosed box is no box: fall through to the next extractor.
  EXPECT_EQ(auto_("so \\boxed{12"), "12");
}

TEST(Auto, HashesMustBeNumericSoHeadingsAreSkipped) {
  EXPECT_EQ(auto_("#### Step 1\n2 + 2 = 4\n#### Step 2\nThe answer is 4."), "4");
  EXPECT_EQ(auto_("#### $1,234.\n#### Summary"), "$1,234.");
  EXPECT_EQ(hashes("#### $1,234.\n#### Summary"), "Summary");
}

TEST(ExtractAnswer, HugeInputsStayLinear) {
  const auto start = std::chrono::steady_clock::now();
  std::string filler;
  for (int i = 0; i < 100000; ++i) filler += "word 12, ";
  EXPECT_EQ(auto_(filler + "\\boxed{7}"), "7");
  EXPECT_EQ(number(filler), "12");
  // Markers that never close or never answer, a megabyte of each.
  std::string unclosed;
  for (int i = 0; i < 100000; ++i) unclosed += "\\boxed{";
  EXPECT_EQ(boxed("\\boxed{1}" + unclosed), "1");
  EXPECT_EQ(auto_(unclosed), nullopt);
  std::string heads;
  for (int i = 0; i < 200000; ++i) heads += "#### a ";
  EXPECT_EQ(auto_(heads), nullopt);
  std::string answers;
  for (int i = 0; i < 100000; ++i) answers += "answer is";
  EXPECT_EQ(colon(answers), nullopt);
  std::string digits(1 << 20, '9');
  EXPECT_EQ(number(digits + " and -1")->size(), 2u);
  std::string commas;
  for (int i = 0; i < 200000; ++i) commas += "1,000,";
  EXPECT_EQ(number(commas), "1,000");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);  // quadratic scans would take minutes; linear ones take ~0.1 s
}

// Random texts built from the pieces every extractor reacts to; seeded, so deterministic.
TEST(ExtractAnswer, PropertiesOnRandomTexts) {
  const char* pieces[] = {"\\boxed{", "\\fbox ", "{",       "}",       "####", "Answer", "ANSWER",
                          ":",        " is",     "*",       "-",       ".",    ",",      "/",
                          "0",        "1",       "23",      "456",     "\n",   " ",      "<think>",
                          "</think>", "$",       "\\text{", "\\TEXT{", "\\(",  "\\)",    "x",
                          "+",        "é",       "€"};
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1), len(0, 40);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text;
    for (size_t n = len(rng); n > 0; --n) text += pieces[pick(rng)];
    const std::string key = normalize_answer(text);
    ASSERT_EQ(normalize_answer(key), key) << text;
    const Opt all[] = {boxed(text), hashes(text), colon(text), number(text), exact(text)};
    for (const Opt& a : all) {
      if (!a) continue;
      ASSERT_FALSE(a->empty()) << text;
      ASSERT_EQ(normalize_answer(normalize_answer(*a)), normalize_answer(*a)) << text;
    }
    for (const Opt& a : {all[0], all[1], all[3], all[4]}) {
      if (!a) continue;
      ASSERT_NE(text.find(*a), std::string::npos) << text;
    }
    if (all[3]) {
      ASSERT_EQ(number(*all[3]), all[3]) << text;  // a number is its own last number
    }
    const Opt a = auto_(text);
    if (all[0]) {
      ASSERT_EQ(a, all[0]) << text;
    }
    if (a && a != all[0] && a != all[2] && a != all[3]) {
      // From a `####` line; not always the last one, which kAuto skips when not numeric.
      ASSERT_NE(text.find("####"), std::string::npos) << text;
      const std::string key = normalize_answer(*a);
      ASSERT_EQ(key.find_first_not_of("-0123456789./"), std::string::npos) << text;
    } else if (!a) {
      ASSERT_FALSE(all[0] || all[2] || all[3]) << text;
    }
  }
}

TEST(Normalize, NumbersBecomeCanonical) {
  EXPECT_EQ(normalize_answer("1,234.50"), "1234.5");
  EXPECT_EQ(normalize_answer("1.50"), "1.5");
  EXPECT_EQ(normalize_answer("2.0"), "2");
  EXPECT_EQ(normalize_answer("2."), "2");
  EXPECT_EQ(normalize_answer("+7"), "7");
  EXPECT_EQ(normalize_answer("-0"), "0");
  EXPECT_EQ(normalize_answer("-0.000"), "0");
  EXPECT_EQ(normalize_answer("+0.0"), "0");
  EXPECT_EQ(normalize_answer("-3"), "-3");
  EXPECT_EQ(normalize_answer("-3.10"), "-3.1");
  EXPECT_EQ(normalize_answer("007"), "7");
  EXPECT_EQ(normalize_answer(".5"), "0.5");
  EXPECT_EQ(normalize_answer("-.50"), "-0.5");
  EXPECT_EQ(normalize_answer("100"), "100");  // integer zeros stay
  EXPECT_EQ(normalize_answer("1,000,000"), "1000000");
  EXPECT_EQ(normalize_answer("3/4"), "3/4");
  EXPECT_EQ(normalize_answer("-3/4"), "-3/4");
  EXPECT_EQ(normalize_answer("04/08"), "4/8");
  EXPECT_EQ(normalize_answer("-0/5"), "0/5");
}

TEST(Normalize, WrappersAreStripped) {
  EXPECT_EQ(normalize_answer("$5"), "5");
  EXPECT_EQ(normalize_answer("\\$5"), "5");
  EXPECT_EQ(normalize_answer(" $12$. "), "12");
  EXPECT_EQ(normalize_answer("$$-3$$"), "-3");
  EXPECT_EQ(normalize_answer("\\(1,234\\)"), "1234");
  EXPECT_EQ(normalize_answer("\\[ x+1 \\]"), "x+1");
  EXPECT_EQ(normalize_answer("\\text{5}"), "5");
  EXPECT_EQ(normalize_answer("$\\text{ 2.50 }$."), "2.5");
  EXPECT_EQ(normalize_answer("\\textbf{Paris}"), "paris");
  EXPECT_EQ(normalize_answer("12 \\text{cm}"), "12 cm");
  EXPECT_EQ(normalize_answer("\\text{\\mathrm{B}}"), "b");
  EXPECT_EQ(normalize_answer("\\text{(A) }\\text{yes}"), "(a) yes");
  EXPECT_EQ(normalize_answer("\\text{unclosed"), "\\text{unclosed");
  EXPECT_EQ(normalize_answer("\\frac{1}{2}"), "\\frac{1}{2}");
}

TEST(Normalize, TextIsLoweredAndSpacesCollapse) {
  EXPECT_EQ(normalize_answer("  Paris  "), "paris");
  EXPECT_EQ(normalize_answer("New\t\tYork\n City."), "new york city");
  EXPECT_EQ(normalize_answer("ÉCOLE Straße"), "École straße");  // ASCII-only lowering
  EXPECT_EQ(normalize_answer("x  +  Y"), "x + y");
  EXPECT_EQ(normalize_answer(""), "");
  EXPECT_EQ(normalize_answer(" $ . "), "");
}

TEST(Normalize, InvalidNumbersAreText) {
  EXPECT_EQ(normalize_answer("1,2,3"), "1,2,3");
  EXPECT_EQ(normalize_answer("12,34"), "12,34");
  EXPECT_EQ(normalize_answer("1e5"), "1e5");
  EXPECT_EQ(normalize_answer("- 5"), "- 5");
  EXPECT_EQ(normalize_answer("50%"), "50%");
  EXPECT_EQ(normalize_answer("3/4.5"), "3/4.5");
}

TEST(Normalize, IsIdempotent) {
  for (const char* s : {"1,234.50", "$\\text{Paris}$.", "-0.0", "\\(3/4\\)", " A  b ", "\\$5",
                        "x+1", "1,2,3", "12 \\text{cm}"}) {
    const std::string once = normalize_answer(s);
    EXPECT_EQ(normalize_answer(once), once) << s;
  }
}

TEST(Normalize, EquivalentWritingsShareAKey) {
  const char* same[] = {"1234.5", "1,234.50", "$1,234.5$", "\\text{1234.50}.", "+1234.500"};
  for (const char* s : same) EXPECT_EQ(normalize_answer(s), "1234.5") << s;
  EXPECT_EQ(normalize_answer(*extract_answer("#### 1,234.50", AnswerFormat::kHashes)),
            normalize_answer(*extract_answer("\\boxed{1234.5}", AnswerFormat::kBoxed)));
}

}  // namespace
}  // namespace muse
