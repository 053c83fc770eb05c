// DeepConf measures: hand-computed token and group confidences, GroupConfidence against a
// brute-force recomputation of every quantity after every push on seeded random streams,
// and the warm-up threshold's percentile interpolation with its input checks.
#include "reason/confidence.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace muse {
namespace {

TEST(TokenConfidence, MinusMeanOfTheTopLogprobs) {
  const TokenLogprob top[] = {{7, -0.5f}, {3, -1.5f}, {9, -4.0f}};
  EXPECT_FLOAT_EQ(token_confidence(top), 2.0f);  // (0.5 + 1.5 + 4) / 3
  const TokenLogprob one[] = {{1, -0.25f}};
  EXPECT_FLOAT_EQ(token_confidence(one), 0.25f);
  EXPECT_EQ(token_confidence({}), 0.0f);
}

TEST(TokenConfidence, PeakedDistributionsScoreHigher) {
  // Same k: a peaked distribution leaves the runner-ups far below, a flat one does not.
  std::vector<TokenLogprob> peaked = {{0, std::log(0.97f)}}, flat;
  for (int i = 1; i < 20; ++i) peaked.push_back({i, std::log(0.03f / 19)});
  for (int i = 0; i < 20; ++i) flat.push_back({i, std::log(1.0f / 20)});
  EXPECT_GT(token_confidence(peaked), token_confidence(flat));
  EXPECT_NEAR(token_confidence(flat), std::log(20.0f), 1e-5);
}

TEST(GroupConfidence, HandComputedWindowOfThree) {
  GroupConfidence g(3);
  EXPECT_EQ(g.count(), 0);
  EXPECT_FALSE(g.full());
  EXPECT_EQ(g.current(), 0.0f);
  EXPECT_EQ(g.lowest(), 0.0f);
  EXPECT_EQ(g.tail(5), 0.0f);

  g.push(3.0f);  // [3]
  EXPECT_FLOAT_EQ(g.current(), 3.0f);
  EXPECT_FLOAT_EQ(g.lowest(), 3.0f);  // never full: mean so far
  g.push(1.0f);                       // [3 1]
  EXPECT_FLOAT_EQ(g.current(), 2.0f);
  EXPECT_FLOAT_EQ(g.lowest(), 2.0f);
  EXPECT_FALSE(g.full());
  g.push(5.0f);  // [3 1 5] full, mean 3
  EXPECT_TRUE(g.full());
  EXPECT_FLOAT_EQ(g.current(), 3.0f);
  EXPECT_FLOAT_EQ(g.lowest(), 3.0f);
  g.push(0.0f);  // [1 5 0] mean 2
  EXPECT_FLOAT_EQ(g.current(), 2.0f);
  EXPECT_FLOAT_EQ(g.lowest(), 2.0f);
  g.push(9.0f);  // [5 0 9] mean 14/3
  EXPECT_FLOAT_EQ(g.current(), 14.0f / 3.0f);
  EXPECT_FLOAT_EQ(g.lowest(), 2.0f);  // the minimum stays
  EXPECT_EQ(g.count(), 5);
  EXPECT_FLOAT_EQ(g.tail(1), 9.0f);
  EXPECT_FLOAT_EQ(g.tail(2), 4.5f);
  EXPECT_FLOAT_EQ(g.tail(3), 14.0f / 3.0f);
  EXPECT_FLOAT_EQ(g.tail(100), 14.0f / 3.0f);  // clamped to the window
  EXPECT_EQ(g.tail(0), 0.0f);
  EXPECT_EQ(g.tail(-2), 0.0f);
}

TEST(GroupConfidence, LowestBeforeFullIsTheRunningMean) {
  // Early values below the later full-window means do not count once the window fills.
  GroupConfidence g(4);
  g.push(0.0f);
  g.push(0.0f);
  EXPECT_FLOAT_EQ(g.lowest(), 0.0f);
  g.push(8.0f);
  g.push(8.0f);  // first full window: mean 4
  EXPECT_FLOAT_EQ(g.lowest(), 4.0f);
}

TEST(GroupConfidence, WindowBelowOneActsAsOne) {
  for (int w : {0, -5}) {
    GroupConfidence g(w);
    EXPECT_EQ(g.window(), 1);
    g.push(2.0f);
    g.push(1.0f);
    g.push(3.0f);
    EXPECT_TRUE(g.full());
    EXPECT_FLOAT_EQ(g.current(), 3.0f);
    EXPECT_FLOAT_EQ(g.lowest(), 1.0f);
  }
}

// Recomputes every quantity from the whole history.
struct BruteForce {
  int window;
  std::vector<double> values;

  double mean_of_last(size_t n) const {
    n = std::min(n, values.size());
    if (n == 0) return 0.0;
    double sum = 0.0;
    for (size_t i = values.size() - n; i < values.size(); ++i) sum += values[i];
    return sum / static_cast<double>(n);
  }
  double current() const { return mean_of_last(static_cast<size_t>(window)); }
  double lowest() const {
    if (values.size() < static_cast<size_t>(window)) return current();
    double low = std::numeric_limits<double>::infinity();
    for (size_t end = window; end <= values.size(); ++end) {
      double sum = 0.0;
      for (size_t i = end - window; i < end; ++i) sum += values[i];
      low = std::min(low, sum / window);
    }
    return low;
  }
};

TEST(GroupConfidence, MatchesBruteForceOnRandomStreams) {
  std::mt19937 rng(20250817);
  for (int window : {1, 2, 3, 7, 16, 64}) {
    for (int trial = 0; trial < 4; ++trial) {
      GroupConfidence g(window);
      BruteForce ref{window, {}};
      // Confidences of 20 logprobs sit roughly in [0, 20]; drift in and out of low phases.
      std::uniform_real_distribution<float> value(0.0f, 20.0f);
      const int n = 3 * window + 50;
      for (int i = 0; i < n; ++i) {
        const float c = i % 37 < 5 ? value(rng) * 0.1f : value(rng);
        g.push(c);
        ref.values.push_back(c);
        ASSERT_EQ(g.count(), i + 1);
        ASSERT_EQ(g.full(), i + 1 >= window);
        ASSERT_NEAR(g.current(), ref.current(), 1e-4) << "window " << window << " i " << i;
        ASSERT_NEAR(g.lowest(), ref.lowest(), 1e-4) << "window " << window << " i " << i;
        for (int t : {1, window / 2, window}) {
          if (t < 1) continue;
          ASSERT_NEAR(g.tail(t), ref.mean_of_last(t), 1e-4) << "tail " << t;
        }
      }
    }
  }
}

TEST(GroupConfidence, NoDriftOverALongStream) {
  // A million pushes of values spanning four orders of magnitude, then a window of exact
  // small values: the running sum must not remember the past.
  GroupConfidence g(8);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(0.0f, 1000.0f);
  for (int i = 0; i < 1000000; ++i) g.push(value(rng) * (i % 2 ? 1.0f : 0.001f));
  for (int i = 0; i < 8; ++i) g.push(0.125f * i);  // mean 0.4375
  EXPECT_NEAR(g.current(), 0.4375f, 1e-6);
  EXPECT_NEAR(g.tail(3), 0.75f, 1e-6);  // (0.625 + 0.75 + 0.875) / 3
  EXPECT_LE(g.lowest(), g.current());
}

TEST(ConfidenceThreshold, PercentileByLinearInterpolation) {
  // Sorted: 1 2 3 4 5 (input shuffled). rank = p / 100 * 4.
  const float x[] = {4.0f, 1.0f, 5.0f, 3.0f, 2.0f};
  EXPECT_FLOAT_EQ(*confidence_threshold(x, 100.0f), 1.0f);  // 0th percentile: min
  EXPECT_FLOAT_EQ(*confidence_threshold(x, 50.0f), 3.0f);   // median
  EXPECT_FLOAT_EQ(*confidence_threshold(x, 10.0f), 4.6f);   // 90th: rank 3.6
  EXPECT_FLOAT_EQ(*confidence_threshold(x, 90.0f), 1.4f);   // 10th: rank 0.4
  EXPECT_FLOAT_EQ(*confidence_threshold(x, 0.001f), 5.0f - 0.00004f);
  // Two values: keep 25 % -> 75th percentile, three quarters of the way up.
  const float two[] = {10.0f, 2.0f};
  EXPECT_FLOAT_EQ(*confidence_threshold(two, 25.0f), 8.0f);
  const float one[] = {3.5f};
  EXPECT_FLOAT_EQ(*confidence_threshold(one, 10.0f), 3.5f);
  const float ties[] = {2.0f, 2.0f, 2.0f, 9.0f};
  EXPECT_FLOAT_EQ(*confidence_threshold(ties, 50.0f), 2.0f);  // rank 1.5 between 2 and 2
}

TEST(ConfidenceThreshold, KeepsAboutKeepPercentOfTheWarmup) {
  // With many distinct traces, the share at or above the threshold is about keep_percent.
  std::vector<float> x;
  for (int i = 0; i < 1001; ++i) x.push_back(static_cast<float>((i * 389) % 1001));
  for (float keep : {10.0f, 50.0f, 90.0f}) {
    const float s = *confidence_threshold(x, keep);
    const auto above = std::count_if(x.begin(), x.end(), [&](float v) { return v >= s; });
    EXPECT_NEAR(above, keep / 100.0f * 1001, 1.0) << keep;
  }
}

TEST(ConfidenceThreshold, RejectsBadInputs) {
  const float x[] = {1.0f, 2.0f};
  const StatusOr<float> empty = confidence_threshold({}, 10.0f);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("warm-up"), std::string::npos);
  for (float keep : {0.0f, -5.0f, 100.5f, std::nanf("")}) {
    const StatusOr<float> r = confidence_threshold(x, keep);
    ASSERT_FALSE(r.ok()) << keep;
    EXPECT_NE(r.status().message().find("keep percent"), std::string::npos);
  }
  const float inf[] = {1.0f, std::numeric_limits<float>::infinity()};
  const StatusOr<float> r = confidence_threshold(inf, 10.0f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("warm-up confidence 1"), std::string::npos);
  const float nan[] = {std::nanf("")};
  EXPECT_FALSE(confidence_threshold(nan, 10.0f).ok());
}

}  // namespace
}  // namespace muse
