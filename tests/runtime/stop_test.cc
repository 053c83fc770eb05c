// StopMatcher: hand-traced streams (stop across pieces, held prefixes released, overlapping
// stops, UTF-8) and a property test that the emitted text does not depend on how the text
// is cut into pieces and equals a brute-force reference on the whole text.
#include "runtime/stop.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace muse {
namespace {

struct Stream {
  std::vector<std::string> emitted;  // one entry per push
  std::string text;                  // all emitted text, flush included
  bool stopped = false;
  int matched = -1;
};

Stream run(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Stream s;
  for (const std::string& piece : pieces) {
    StopPush p = m.push(piece);
    s.emitted.push_back(p.text);
    s.text += p.text;
    if (p.stopped) s.stopped = true;
  }
  s.text += m.flush();
  s.matched = m.matched();
  EXPECT_EQ(m.stopped(), s.stopped);
  return s;
}

using Strings = std::vector<std::string>;

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  const Stream s = run({}, {"Hello", " world", ""});
  EXPECT_EQ(s.emitted, (Strings{"Hello", " world", ""}));
  EXPECT_FALSE(s.stopped);
  EXPECT_EQ(s.matched, -1);
}

TEST(StopMatcher, StopInsideOnePiece) {
  const Stream s = run({"STOP"}, {"Hello STOP world"});
  EXPECT_EQ(s.emitted, (Strings{"Hello "}));
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.matched, 0);
  EXPECT_EQ(s.text, "Hello ");
}

TEST(StopMatcher, StopAcrossPiecesIsHeldThenDropped) {
  const Stream s = run({"STOP"}, {"Hel", "lo ST", "O", "P rest", "more"});
  EXPECT_EQ(s.emitted, (Strings{"Hel", "lo ", "", "", ""}));
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.text, "Hello ");
}

TEST(StopMatcher, HeldPrefixIsReleasedWhenItDivergesOrOnFlush) {
  StopMatcher m({"</s>"});
  StopPush p = m.push("a<");
  EXPECT_EQ(p.text, "a");
  EXPECT_FALSE(p.stopped);
  EXPECT_EQ(m.push("/").text, "");
  p = m.push("x</");
  EXPECT_EQ(p.text, "</x");  // "</x" cannot start "</s>"; the new "</" might
  EXPECT_EQ(m.flush(), "</");
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, FirstStopToCompleteWins) {
  // "\n\n" completes before "User:" starts.
  Stream s = run({"User:", "\n\n"}, {"Answer.\n", "\nUser: hi"});
  EXPECT_EQ(s.text, "Answer.");
  EXPECT_EQ(s.matched, 1);
  // In one piece the earlier end still wins over the earlier start: "bc" ends at 3, "abcd"
  // at 4, as a byte stream would see.
  s = run({"abcd", "bc"}, {"xabcd"});
  EXPECT_EQ(s.text, "xa");
  EXPECT_EQ(s.matched, 1);
}

TEST(StopMatcher, OverlappingPrefixes) {
  // "ab" is a prefix of "abc": it completes first.
  Stream s = run({"abc", "ab"}, {"x", "a", "b", "c"});
  EXPECT_EQ(s.emitted, (Strings{"x", "", "", ""}));
  EXPECT_EQ(s.text, "x");
  EXPECT_EQ(s.matched, 1);
  // Same end: the longer one (earlier start) wins, so less text is emitted.
  s = run({"b", "ab"}, {"xab"});
  EXPECT_EQ(s.text, "x");
  EXPECT_EQ(s.matched, 1);
  // "abc" alone: "ab" is held until "c" confirms or "x" releases it.
  s = run({"abc"}, {"ab", "x", "abab", "c"});
  EXPECT_EQ(s.emitted, (Strings{"", "abx", "ab", ""}));
  EXPECT_EQ(s.text, "abxab");
  // A self-overlapping stop: "aab" must be found in "aaab" though the first "aa" failed.
  s = run({"aab"}, {"a", "a", "a", "b"});
  EXPECT_EQ(s.emitted, (Strings{"", "", "a", ""}));
  EXPECT_TRUE(s.stopped);
}

TEST(StopMatcher, PiecesAfterStopAreIgnored) {
  StopMatcher m({"."});
  EXPECT_TRUE(m.push("end. tail").stopped);
  const StopPush p = m.push("more");
  EXPECT_TRUE(p.stopped);
  EXPECT_EQ(p.text, "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, Utf8StopsSplitAcrossBytes) {
  // "é" = C3 A9, "è" = C3 A8: they share the lead byte, which is held and then released
  // together with its continuation, never on its own.
  Stream s = run({"\xC3\xA9"}, {"caf", "\xC3", "\xA8", "s", "\xC3", "\xA9", "!"});
  EXPECT_EQ(s.emitted, (Strings{"caf", "", "\xC3\xA8", "s", "", "", ""}));
  EXPECT_EQ(s.text, "caf\xC3\xA8s");
  EXPECT_TRUE(s.stopped);
  // A CJK stop across pieces: "。" = E3 80 82.
  s = run({"\xE3\x80\x82"}, {"\xE4\xBD\xA0\xE5\xA5\xBD\xE3", "\x80", "\x82\xE5\x86\x8D"});
  EXPECT_EQ(s.text, "\xE4\xBD\xA0\xE5\xA5\xBD");
  EXPECT_TRUE(s.stopped);
}

TEST(StopMatcher, EmptyStopsAreDroppedAndIndicesKept) {
  const Stream s = run({"", "z"}, {"abc", "xyz"});
  EXPECT_EQ(s.text, "abcxy");
  EXPECT_EQ(s.matched, 1);
}

TEST(StopMatcher, ValidateStopStrings) {
  EXPECT_TRUE(validate_stop_strings({}).ok());
  EXPECT_TRUE(validate_stop_strings({"\n\n", "</s>", "\xE3\x80\x82"}).ok());
  Status st = validate_stop_strings({"ok", ""});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "stop string 1 is empty");
  st = validate_stop_strings({"a\xFF"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "stop string 0 is not valid UTF-8 (byte 1)");
  EXPECT_FALSE(validate_stop_strings({"\xA9"}).ok());              // lone continuation
  EXPECT_FALSE(validate_stop_strings({"\xC3"}).ok());              // truncated
  EXPECT_FALSE(validate_stop_strings({"\xC0\xAF"}).ok());          // overlong '/'
  EXPECT_FALSE(validate_stop_strings({"\xED\xA0\x80"}).ok());      // surrogate
  EXPECT_FALSE(validate_stop_strings({"\xF4\x90\x80\x80"}).ok());  // > U+10FFFF
  EXPECT_TRUE(validate_stop_strings({"\xF0\x9F\x98\x80"}).ok());   // emoji
}

// Reference on the whole text: the occurrence with the smallest end, then smallest start.
Stream reference(const std::vector<std::string>& stops, const std::string& text) {
  Stream s;
  size_t best_end = std::string::npos, best_start = 0;
  for (size_t i = 0; i < stops.size(); ++i) {
    for (size_t start = 0; start + stops[i].size() <= text.size(); ++start) {
      if (text.compare(start, stops[i].size(), stops[i]) != 0) continue;
      const size_t end = start + stops[i].size();
      if (end < best_end || (end == best_end && start < best_start)) {
        best_end = end, best_start = start, s.matched = static_cast<int>(i);
      }
    }
  }
  s.stopped = s.matched >= 0;
  s.text = s.stopped ? text.substr(0, best_start) : text;
  return s;
}

TEST(StopMatcher, OutputDoesNotDependOnPieceBoundaries) {
  const std::vector<std::vector<std::string>> stop_sets = {
      {"abc"}, {"aab", "ba"}, {"abab", "bb", "c"}, {"aaa", "ab", "abcab"}, {"cab", "abc"}};
  std::mt19937 rng(99);
  int n_stopped = 0, n_cases = 0;
  for (const auto& stops : stop_sets) {
    for (int trial = 0; trial < 300; ++trial) {
      std::string text;
      const int len = static_cast<int>(rng() % 16);
      for (int i = 0; i < len; ++i) text += "abc"[rng() % 3];
      const Stream want = reference(stops, text);
      // Whole, byte by byte, and random cuts (empty pieces included).
      std::vector<Strings> splits = {{text}, {}};
      for (char ch : text) splits[1].push_back(std::string(1, ch));
      Strings cut;
      for (size_t pos = 0; pos <= text.size();) {
        const size_t n = std::min<size_t>(rng() % 4, text.size() - pos);
        cut.push_back(text.substr(pos, n));
        pos += n;
        if (n == 0 && pos == text.size()) break;
      }
      splits.push_back(cut);
      for (const Strings& pieces : splits) {
        const Stream got = run(stops, pieces);
        ASSERT_EQ(got.text, want.text) << "text '" << text << "'";
        ASSERT_EQ(got.stopped, want.stopped) << "text '" << text << "'";
        ASSERT_EQ(got.matched, want.matched) << "text '" << text << "'";
      }
      n_stopped += want.stopped;
      ++n_cases;
    }
  }
  // Both outcomes are well represented, so neither branch goes untested.
  EXPECT_GT(n_stopped, n_cases / 5);
  EXPECT_LT(n_stopped, n_cases * 4 / 5);
}

}  // namespace
}  // namespace muse
