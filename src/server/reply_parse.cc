// Thinking-block splitting and the streaming state machine. `parse_reply` is the definition;
// `ReplyStream` only decides how much of that definition's output is already fixed by the text
// seen so far, and `finish()` hands out the rest by running `parse_reply` on the whole text.
// So the two paths agree by construction as long as every released byte is fixed, that is,
// a prefix of the final value for every possible continuation.
#include "server/reply_parse.h"

#include <algorithm>
#include <span>
#include <utility>

#include "server/tool_calls.h"

namespace muse::server {
namespace {

using detail::skip_space;
using detail::trim;

constexpr size_t npos = std::string_view::npos;

bool thinking_enabled(const ReplyFormat& f) {
  return !f.think_start.empty() && !f.think_end.empty();
}

struct ThinkSplit {
  std::string_view reasoning;  // untrimmed
  std::string_view body;       // the text after the thinking block
};

// Only a block at the start counts: leading whitespace is dropped, and a later `think_start`
// is ordinary text. A block that never closes is a truncated thought, all reasoning.
ThinkSplit split_thinking(std::string_view text, const ReplyFormat& f) {
  if (!thinking_enabled(f)) return {{}, text};
  size_t i = skip_space(text, 0);
  size_t start = i;
  if (text.substr(i).starts_with(f.think_start))
    start = i + f.think_start.size();
  else if (!f.starts_in_thinking)
    return {{}, text.substr(i)};
  size_t end = text.find(f.think_end, start);
  if (end == npos) return {text.substr(start), {}};
  return {text.substr(start, end - start), text.substr(end + f.think_end.size())};
}

// Length of the longest suffix of `s` that is a proper prefix of one of `delims`: text that
// may yet become a delimiter.
size_t partial_delimiter(std::string_view s, std::span<const std::string_view> delims) {
  size_t best = 0;
  for (std::string_view d : delims) {
    for (size_t k = std::min(s.size(), d.empty() ? 0 : d.size() - 1); k > best; --k) {
      if (s.substr(s.size() - k) == d.substr(0, k)) {
        best = k;
        break;
      }
    }
  }
  return best;
}

// Length of an unfinished UTF-8 sequence at the end of `s`, so deltas (which go into JSON
// strings) never end inside a character even when the tokenizer's pieces do.
size_t partial_utf8(std::string_view s) {
  for (size_t k = 1; k <= 3 && k <= s.size(); ++k) {
    auto c = static_cast<unsigned char>(s[s.size() - k]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

// Releases the part of `trim(raw)` not sent yet. `raw` only grows between calls, so its trimmed
// form only grows too, except for trailing whitespace, which is never released early.
void release(std::string_view raw, size_t& sent, std::string& out) {
  std::string_view t = trim(raw);
  if (t.size() <= sent) return;
  out.append(t.substr(sent));
  sent = t.size();
}

// `s` with its fixed part only: without a possible delimiter start or unfinished character.
std::string_view fixed_prefix(std::string_view s, std::span<const std::string_view> delims) {
  s.remove_suffix(partial_delimiter(s, delims));
  s.remove_suffix(partial_utf8(s));
  return s;
}

// Where the next search for any of `delims` must start so that none is missed.
size_t rescan_from(size_t begin, size_t size, std::span<const std::string_view> delims) {
  size_t longest = 0;
  for (std::string_view d : delims) longest = std::max(longest, d.size());
  return longest == 0 ? size : std::max(begin, size - std::min(size, longest - 1));
}

}  // namespace

ParsedReply parse_reply(std::string_view text, const ReplyFormat& format) {
  ThinkSplit t = split_thinking(text, format);
  detail::BodySplit b = detail::split_tool_calls(t.body, format.tools);
  return {.reasoning = std::string(trim(t.reasoning)),
          .content = std::string(trim(b.content)),
          .tool_calls = std::move(b.calls)};
}

ReplyStream::ReplyStream(ReplyFormat format)
    : format_(std::move(format)),
      phase_(thinking_enabled(format_) ? Phase::kPreamble : Phase::kBody) {}

ReplyDelta ReplyStream::push(std::string_view piece) {
  ReplyDelta out;
  if (phase_ == Phase::kFinished) return out;
  text_.append(piece);
  advance(out);
  return out;
}

ReplyDelta ReplyStream::finish() {
  ReplyDelta out;
  if (phase_ == Phase::kFinished) return out;
  phase_ = Phase::kFinished;
  ParsedReply r = parse_reply(text_, format_);
  if (r.reasoning.size() > reasoning_sent_) out.reasoning = r.reasoning.substr(reasoning_sent_);
  if (r.content.size() > content_sent_) out.content = r.content.substr(content_sent_);
  out.tool_calls = std::move(r.tool_calls);
  return out;
}

void ReplyStream::advance(ReplyDelta& out) {
  for (;;) {
    switch (phase_) {
      case Phase::kPreamble:
        if (!step_preamble()) return;
        break;
      case Phase::kThinking:
        if (!step_thinking(out)) return;
        break;
      case Phase::kBody:
        step_body(out);
        return;
      case Phase::kWithheld:
      case Phase::kFinished:
        return;
    }
  }
}

// Before the first non-space byte it is open whether a thinking block starts; returns true
// once decided.
bool ReplyStream::step_preamble() {
  size_t i = skip_space(text_, scan_);
  scan_ = i;
  if (i == text_.size()) return false;
  std::string_view rest = std::string_view(text_).substr(i);
  const std::string& start = format_.think_start;
  if (rest.starts_with(start)) {
    think_begin_ = scan_ = i + start.size();
    phase_ = Phase::kThinking;
  } else if (std::string_view(start).starts_with(rest)) {
    return false;  // may still become `think_start`
  } else if (format_.starts_in_thinking) {
    think_begin_ = scan_ = i;
    phase_ = Phase::kThinking;
  } else {
    enter_body(i);
  }
  return true;
}

// Inside the thinking block; returns true once `think_end` has been seen.
bool ReplyStream::step_thinking(ReplyDelta& out) {
  std::string_view t = text_;
  std::string_view end[] = {format_.think_end};
  size_t at = t.find(end[0], scan_);
  if (at == npos) {
    release(fixed_prefix(t.substr(think_begin_), end), reasoning_sent_, out.reasoning);
    scan_ = rescan_from(think_begin_, t.size(), end);
    return false;
  }
  release(t.substr(think_begin_, at - think_begin_), reasoning_sent_, out.reasoning);
  enter_body(at + end[0].size());
  return true;
}

void ReplyStream::enter_body(size_t pos) {
  body_begin_ = scan_ = pos;
  body_checked_ = false;
  phase_ = Phase::kBody;
}

// Content until a tool-call marker; from the marker on everything waits for `finish()`.
void ReplyStream::step_body(ReplyDelta& out) {
  std::string_view t = text_;
  if (!body_checked_) {
    size_t i = skip_space(t, body_begin_);
    if (i == t.size()) return;
    body_checked_ = true;
    // Under these formats a reply that is nothing but JSON calls is a tool call; whether it is
    // nothing but that is known only at the end.
    if (detail::accepts_bare_json(format_.tools) && t[i] == '{') {
      phase_ = Phase::kWithheld;
      return;
    }
  }
  std::span<const std::string_view> markers = detail::tool_call_markers(format_.tools);
  size_t at = npos;
  for (std::string_view m : markers) at = std::min(at, t.find(m, scan_));
  if (at != npos) {
    release(t.substr(body_begin_, at - body_begin_), content_sent_, out.content);
    phase_ = Phase::kWithheld;
    return;
  }
  release(fixed_prefix(t.substr(body_begin_), markers), content_sent_, out.content);
  scan_ = rescan_from(body_begin_, t.size(), markers);
}

}  // namespace muse::server
