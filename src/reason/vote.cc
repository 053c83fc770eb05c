// Weighted vote: a map from answer to its weights, then one sort of the tallies.
#include "reason/vote.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace muse {
namespace {

double clean_weight(double w) { return std::isfinite(w) && w > 0.0 ? w : 0.0; }

}  // namespace

VoteResult weighted_vote(std::span<const Ballot> ballots) {
  // Each answer's weights are summed in ascending order, so the sums (and the ties between
  // them) do not depend on the order of the ballots.
  std::map<std::string, std::vector<double>, std::less<>> by_answer;
  for (const Ballot& b : ballots) {
    if (!b.answer.empty()) by_answer[b.answer].push_back(clean_weight(b.weight));
  }
  VoteResult result;
  if (by_answer.empty()) return result;
  int total_votes = 0;
  for (auto& [answer, weights] : by_answer) {
    std::sort(weights.begin(), weights.end());
    const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
    result.tally.push_back({answer, sum, static_cast<int>(weights.size())});
    total_votes += static_cast<int>(weights.size());
  }
  std::sort(result.tally.begin(), result.tally.end(), [](const Tally& a, const Tally& b) {
    if (a.weight != b.weight) return a.weight > b.weight;
    if (a.votes != b.votes) return a.votes > b.votes;
    return a.answer < b.answer;
  });
  double total_weight = 0.0;
  for (const Tally& t : result.tally) total_weight += t.weight;
  const Tally& winner = result.tally.front();
  result.answer = winner.answer;
  result.share = total_weight > 0.0 ? std::min(1.0, winner.weight / total_weight)
                                    : static_cast<double>(winner.votes) / total_votes;
  return result;
}

bool consensus_reached(const VoteResult& result, double threshold) {
  return !result.tally.empty() && result.share >= threshold;
}

std::vector<Ballot> filter_top(std::span<const Ballot> ballots, double keep_percent) {
  std::vector<size_t> voted;
  for (size_t i = 0; i < ballots.size(); ++i) {
    if (!ballots[i].answer.empty()) voted.push_back(i);
  }
  if (voted.empty()) return {};
  const double keep = std::isnan(keep_percent) ? 100.0 : std::clamp(keep_percent, 0.0, 100.0);
  // The epsilon keeps 3 of 10 for a keep_percent computed as 100 * 0.3 = 30.000000000000004.
  const double exact = static_cast<double>(voted.size()) * keep / 100.0;
  const size_t n_keep =
      std::clamp<size_t>(static_cast<size_t>(std::ceil(exact - 1e-9)), 1, voted.size());
  std::vector<size_t> order = voted;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return clean_weight(ballots[a].weight) > clean_weight(ballots[b].weight);
  });
  order.resize(n_keep);
  std::sort(order.begin(), order.end());
  std::vector<Ballot> kept;
  kept.reserve(n_keep);
  for (size_t i : order) kept.push_back(ballots[i]);
  return kept;
}

}  // namespace muse
