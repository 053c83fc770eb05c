// Confidence-weighted vote: hand-computed tallies and shares, abstentions, clamped weights,
// every tie-break, order independence on shuffled ballots, consensus and DeepConf's top
// percent filter.
#include "reason/vote.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace muse {
namespace {

using Ballots = std::vector<Ballot>;

std::vector<std::string> answers_of(const std::vector<Ballot>& ballots) {
  std::vector<std::string> out;
  for (const Ballot& b : ballots) out.push_back(b.answer);
  return out;
}

std::vector<std::string> tally_answers(const VoteResult& r) {
  std::vector<std::string> out;
  for (const Tally& t : r.tally) out.push_back(t.answer);
  return out;
}

using Strings = std::vector<std::string>;

TEST(WeightedVote, HandComputedTallyAndShare) {
  const Ballots b = {{"12", 3.0}, {"7", 4.0}, {"12", 2.0}, {"9", 1.0}};
  const VoteResult r = weighted_vote(b);
  EXPECT_EQ(r.answer, "12");
  EXPECT_DOUBLE_EQ(r.share, 5.0 / 10.0);
  ASSERT_EQ(r.tally.size(), 3u);
  EXPECT_EQ(r.tally[0].answer, "12");
  EXPECT_DOUBLE_EQ(r.tally[0].weight, 5.0);
  EXPECT_EQ(r.tally[0].votes, 2);
  EXPECT_EQ(r.tally[1].answer, "7");
  EXPECT_DOUBLE_EQ(r.tally[1].weight, 4.0);
  EXPECT_EQ(r.tally[1].votes, 1);
  EXPECT_EQ(r.tally[2].answer, "9");
}

TEST(WeightedVote, ConfidenceCanOutweighTheMajority) {
  const Ballots b = {{"a", 1.0}, {"a", 1.0}, {"a", 1.0}, {"b", 3.5}};
  const VoteResult r = weighted_vote(b);
  EXPECT_EQ(r.answer, "b");
  EXPECT_DOUBLE_EQ(r.share, 3.5 / 6.5);
}

TEST(WeightedVote, NoValidBallots) {
  for (const Ballots& b : {Ballots{}, Ballots{{"", 5.0}, {"", 1.0}}}) {
    const VoteResult r = weighted_vote(b);
    EXPECT_EQ(r.answer, "");
    EXPECT_EQ(r.share, 0.0);
    EXPECT_TRUE(r.tally.empty());
    EXPECT_FALSE(consensus_reached(r, 0.0));
  }
}

TEST(WeightedVote, AbstentionsDoNotCount) {
  const Ballots b = {{"", 100.0}, {"x", 1.0}, {"y", 3.0}};
  const VoteResult r = weighted_vote(b);
  EXPECT_EQ(r.answer, "y");
  EXPECT_DOUBLE_EQ(r.share, 0.75);
  EXPECT_EQ(r.tally.size(), 2u);
}

TEST(WeightedVote, BadWeightsCountAsZeroButStillVote) {
  const double inf = std::numeric_limits<double>::infinity();
  const Ballots b = {{"a", -5.0}, {"a", std::nan("")}, {"a", inf}, {"b", 1.0}};
  const VoteResult r = weighted_vote(b);
  EXPECT_EQ(r.answer, "b");
  EXPECT_DOUBLE_EQ(r.share, 1.0);
  ASSERT_EQ(r.tally.size(), 2u);
  EXPECT_EQ(r.tally[1].answer, "a");
  EXPECT_EQ(r.tally[1].weight, 0.0);
  EXPECT_EQ(r.tally[1].votes, 3);
}

TEST(WeightedVote, AllZeroWeightsFallBackToCounting) {
  const Ballots b = {{"a", 0.0}, {"b", 0.0}, {"b", -1.0}};
  const VoteResult r = weighted_vote(b);
  EXPECT_EQ(r.answer, "b");
  EXPECT_DOUBLE_EQ(r.share, 2.0 / 3.0);
}

TEST(WeightedVote, TiesBreakByVotesThenAnswer) {
  // Equal weight: more votes wins.
  VoteResult r = weighted_vote(Ballots{{"x", 2.0}, {"y", 1.0}, {"y", 1.0}});
  EXPECT_EQ(r.answer, "y");
  EXPECT_EQ(tally_answers(r), (Strings{"y", "x"}));
  EXPECT_DOUBLE_EQ(r.share, 0.5);
  // Equal weight and votes: the smaller answer (bytewise) wins, whatever the input order.
  r = weighted_vote(Ballots{{"b", 1.0}, {"a", 1.0}, {"c", 1.0}});
  EXPECT_EQ(r.answer, "a");
  EXPECT_EQ(tally_answers(r), (Strings{"a", "b", "c"}));
  r = weighted_vote(Ballots{{"10", 1.0}, {"9", 1.0}});
  EXPECT_EQ(r.answer, "10");  // bytewise, not numeric
}

TEST(WeightedVote, OrderOfBallotsNeverMatters) {
  // Weights like 0.1 + 0.2 + 0.3 sum differently in different orders; the tie with 0.6
  // must still resolve the same way for every permutation.
  Ballots b = {{"a", 0.1}, {"a", 0.2}, {"a", 0.3}, {"b", 0.6},
               {"c", 0.3}, {"c", 0.3}, {"", 9.0},  {"b", 0.0}};
  const VoteResult first = weighted_vote(b);
  std::mt19937 rng(11);
  for (int i = 0; i < 200; ++i) {
    std::shuffle(b.begin(), b.end(), rng);
    const VoteResult r = weighted_vote(b);
    EXPECT_EQ(r.answer, first.answer);
    EXPECT_EQ(r.share, first.share);
    ASSERT_EQ(r.tally.size(), first.tally.size());
    for (size_t t = 0; t < r.tally.size(); ++t) {
      EXPECT_EQ(r.tally[t].answer, first.tally[t].answer);
      EXPECT_EQ(r.tally[t].weight, first.tally[t].weight);
      EXPECT_EQ(r.tally[t].votes, first.tally[t].votes);
    }
  }
}

TEST(WeightedVote, ShareIsScaleInvariantAndAtMostOne) {
  const Ballots b = {{"a", 0.3}, {"b", 0.7}, {"a", 0.5}};
  const VoteResult r = weighted_vote(b);
  Ballots scaled = b;
  for (Ballot& x : scaled) x.weight *= 1000.0;
  const VoteResult s = weighted_vote(scaled);
  EXPECT_EQ(r.answer, s.answer);
  EXPECT_NEAR(r.share, s.share, 1e-12);
  const VoteResult one = weighted_vote(Ballots{{"z", 0.1}, {"z", 0.2}, {"z", 0.3}});
  EXPECT_EQ(one.share, 1.0);
}

TEST(Consensus, ShareAtOrAboveThreshold) {
  const VoteResult r = weighted_vote(Ballots{{"a", 19.0}, {"b", 1.0}});  // share 0.95
  EXPECT_TRUE(consensus_reached(r, 0.95));
  EXPECT_TRUE(consensus_reached(r, 0.5));
  EXPECT_FALSE(consensus_reached(r, 0.96));
  EXPECT_FALSE(consensus_reached(r, std::nan("")));
  const VoteResult unanimous = weighted_vote(Ballots{{"a", 0.0}});
  EXPECT_TRUE(consensus_reached(unanimous, 1.0));
}

TEST(FilterTop, KeepsTheHighestWeightsInInputOrder) {
  const Ballots b = {{"a", 1.0}, {"b", 5.0}, {"c", 3.0}, {"d", 4.0}, {"e", 2.0}};
  EXPECT_EQ(answers_of(filter_top(b, 40.0)), (Strings{"b", "d"}));
  EXPECT_EQ(answers_of(filter_top(b, 60.0)), (Strings{"b", "c", "d"}));
  EXPECT_EQ(answers_of(filter_top(b, 100.0)), (Strings{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(filter_top(b, 60.0)[1].weight, 3.0);  // ballots are copied whole
}

TEST(FilterTop, RoundsUpAndKeepsAtLeastOne) {
  const Ballots b = {{"a", 1.0}, {"b", 5.0}, {"c", 3.0}, {"d", 4.0}, {"e", 2.0}};
  EXPECT_EQ(answers_of(filter_top(b, 41.0)), (Strings{"b", "c", "d"}));  // 2.05 -> 3
  EXPECT_EQ(answers_of(filter_top(b, 10.0)), (Strings{"b"}));            // 0.5 -> 1
  EXPECT_EQ(answers_of(filter_top(b, 0.0)), (Strings{"b"}));
  EXPECT_EQ(answers_of(filter_top(b, -3.0)), (Strings{"b"}));
  EXPECT_EQ(filter_top(b, 250.0).size(), 5u);
  EXPECT_EQ(filter_top(b, std::nan("")).size(), 5u);
  // 100 * 0.3 is 30.000000000000004: still 3 of 10.
  Ballots ten;
  for (int i = 0; i < 10; ++i) ten.push_back({std::to_string(i), static_cast<double>(i)});
  EXPECT_EQ(answers_of(filter_top(ten, 100 * 0.3)), (Strings{"7", "8", "9"}));
}

TEST(FilterTop, AbstentionsAreDroppedAndNotCounted) {
  const Ballots b = {{"", 9.0}, {"a", 1.0}, {"", 8.0}, {"b", 2.0}};
  EXPECT_EQ(answers_of(filter_top(b, 50.0)), (Strings{"b"}));  // half of the 2 voters
  EXPECT_EQ(answers_of(filter_top(b, 100.0)), (Strings{"a", "b"}));
  EXPECT_TRUE(filter_top(Ballots{{"", 1.0}}, 100.0).empty());
  EXPECT_TRUE(filter_top(Ballots{}, 50.0).empty());
}

TEST(FilterTop, EqualWeightsAtTheCutKeepTheEarlierBallot) {
  const Ballots b = {{"a", 1.0}, {"b", 2.0}, {"c", 2.0}, {"d", 2.0}};
  EXPECT_EQ(answers_of(filter_top(b, 50.0)), (Strings{"b", "c"}));
  // Bad weights rank as 0.
  const Ballots bad = {{"x", std::nan("")}, {"y", -1.0}, {"z", 0.5}};
  EXPECT_EQ(answers_of(filter_top(bad, 1.0)), (Strings{"z"}));
  EXPECT_EQ(answers_of(filter_top(bad, 60.0)), (Strings{"x", "z"}));
}

TEST(FilterTop, ThenVoteIsDeepConfsPipeline) {
  // Four confident traces say 42, six unconfident ones say 17: unfiltered, 17 has more
  // total weight; the top 40 % are all 42.
  Ballots b;
  for (int i = 0; i < 4; ++i) b.push_back({"42", 15.0 + i});
  for (int i = 0; i < 6; ++i) b.push_back({"17", 9.0 + i});
  EXPECT_EQ(weighted_vote(b).answer, "17");
  const VoteResult r = weighted_vote(filter_top(b, 40.0));
  EXPECT_EQ(r.answer, "42");
  EXPECT_EQ(r.share, 1.0);
  EXPECT_TRUE(consensus_reached(r, 0.95));
}

}  // namespace
}  // namespace muse
