// Stop-string matcher. The held text is shorter than the longest stop string, so each push
// costs O(|piece| + longest stop) per stop string; no automaton is worth it for a handful
// of short strings.
#include "runtime/stop.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace muse {
namespace {

// Offset of the first byte that is not part of a well-formed UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or npos.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    size_t len;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      len = 2, cp = b & 0x1f;
    } else if ((b & 0xf0) == 0xe0) {
      len = 3, cp = b & 0x0f;
    } else if ((b & 0xf8) == 0xf0) {
      len = 4, cp = b & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (size_t j = 1; j < len; ++j) {
      const auto c = static_cast<uint8_t>(s[i + j]);
      if ((c & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    static constexpr uint32_t kMinForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace

Status validate_stop_strings(const std::vector<std::string>& stops) {
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) return Errorf("stop string %zu is empty", i);
    const size_t bad = invalid_utf8_at(stops[i]);
    if (bad != std::string_view::npos) {
      return Errorf("stop string %zu is not valid UTF-8 (byte %zu)", i, bad);
    }
  }
  return Status::Ok();
}

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) continue;
    stops_.push_back(std::move(stops[i]));
    index_.push_back(static_cast<int>(i));
  }
}

StopPush StopMatcher::push(std::string_view piece) {
  if (stopped()) return {"", true};
  held_.append(piece);

  size_t best_end = std::string::npos, best_start = 0;
  int best = -1;
  for (size_t i = 0; i < stops_.size(); ++i) {
    // The first occurrence of a string is also the one that ends first.
    const size_t start = held_.find(stops_[i]);
    if (start == std::string::npos) continue;
    const size_t end = start + stops_[i].size();
    if (end < best_end || (end == best_end && start < best_start)) {
      best_end = end, best_start = start, best = static_cast<int>(i);
    }
  }
  if (best >= 0) {
    matched_ = index_[best];
    StopPush out{held_.substr(0, best_start), true};
    held_.clear();
    return out;
  }

  // Hold from the earliest position whose suffix could still grow into a stop string. No
  // stop string occurs in `held_`, so only suffixes shorter than the longest stop qualify.
  size_t hold = held_.size();
  for (const std::string& stop : stops_) {
    const size_t longest = std::min(held_.size(), stop.size() - 1);
    for (size_t len = longest; len > 0; --len) {
      const size_t start = held_.size() - len;
      if (start >= hold) break;
      if (std::string_view(held_).substr(start) == std::string_view(stop).substr(0, len)) {
        hold = start;
        break;
      }
    }
  }
  StopPush out{held_.substr(0, hold), false};
  held_.erase(0, hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string out;
  std::swap(out, held_);
  return out;
}

}  // namespace muse
