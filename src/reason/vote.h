// Confidence-weighted majority vote over extracted answers (ARCHITECTURE.md section 6 step
// 4; DeepConf's weighted majority voting with confidence filtering). Deterministic: the same
// ballots in any order give the same result, ties included.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace muse {

// `answer` is already a `normalize_answer` key; an empty answer is an abstention and is
// skipped. `weight` is the trace's confidence; a negative, NaN or infinite weight counts as
// 0 (the ballot still counts as a vote).
struct Ballot {
  std::string answer;
  double weight = 0.0;
};

struct Tally {
  std::string answer;
  double weight = 0.0;  // sum of its ballots' weights
  int votes = 0;        // number of its ballots
};

struct VoteResult {
  std::string answer;        // the winner, tally[0]; empty when no ballot voted
  double share = 0.0;        // winner weight / total weight in [0, 1]; 0 when no ballot voted
  std::vector<Tally> tally;  // weight desc, then votes desc, then answer asc
};

// Winner = the answer with the largest total weight, ties broken as `tally` is sorted. When
// every weight is 0 the ballots count equally (share = winner votes / votes), as they would
// with any other equal weights.
VoteResult weighted_vote(std::span<const Ballot> ballots);

// share >= threshold and at least one ballot voted.
bool consensus_reached(const VoteResult& result, double threshold);

// DeepConf's filter before the vote: the ceil(keep_percent % of n) highest-weight ballots,
// at least one, where n counts the non-abstaining ballots (abstentions are dropped).
// keep_percent is clamped to [0, 100] (NaN keeps all). Equal weights at the cut: the earlier
// ballot is kept. The kept ballots stay in their input order.
std::vector<Ballot> filter_top(std::span<const Ballot> ballots, double keep_percent);

}  // namespace muse
