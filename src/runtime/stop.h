// Stop strings for streamed generation (OpenAI `stop` semantics): text is released as soon
// as it can no longer be the start of a stop string, generation stops at the first stop
// string to complete, and the stop string itself is never emitted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace muse {

// Each stop string must be non-empty (an empty one would match before every byte) and
// valid UTF-8 (so a match can only start on a character boundary of valid text).
Status validate_stop_strings(const std::vector<std::string>& stops);

struct StopPush {
  std::string text;      // safe to emit now
  bool stopped = false;  // a stop string completed; `text` ends just before it
};

// Matching is on bytes. Among the occurrences in the text, the one that ends first wins
// (ties: the one that starts first), which is the one a byte-at-a-time stream would hit
// first: so the emitted text does not depend on how the text is cut into pieces. The held
// back text is the longest suffix that is a proper prefix of some stop string; with valid
// UTF-8 stops it starts on a character boundary, so no character is split by holding.
class StopMatcher {
 public:
  // Stops should pass `validate_stop_strings`; empty ones are dropped. No stops: `push`
  // returns every piece at once.
  explicit StopMatcher(std::vector<std::string> stops);

  // After a stop, further pieces are ignored ({"", true}).
  StopPush push(std::string_view piece);

  // The held-back text, at the end of generation (empty after a stop).
  std::string flush();

  bool stopped() const { return matched_ >= 0; }
  // Index into the constructor's `stops` of the string that stopped generation, or -1.
  int matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::vector<int> index_;  // stops_[i] was stops[index_[i]] before dropping empty ones
  std::string held_;
  int matched_ = -1;
};

}  // namespace muse
