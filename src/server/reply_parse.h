// Turns a model's generated text into the parts of an OpenAI chat message: `reasoning_content`
// (the thinking block), `content` and `tool_calls`. `parse_reply` is the reference for a whole
// reply; `ReplyStream` gives the same result piece by piece, and the invariant (tested on random
// cuts) is that the concatenated deltas equal `parse_reply` of the concatenated pieces.
//
//   ReplyStream s({.tools = detect_tool_format(template_source), .starts_in_thinking = true});
//   for (piece : generated) send(s.push(piece));
//   send(s.finish());
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace muse::server {

// The tool-call syntax a model was trained to emit; see tool_calls.cc for each grammar.
enum class ToolFormat {
  kNone,      // never parse tool calls (the request offered no tools)
  kHermes,    // <tool_call>{"name": ..., "arguments": {...}}</tool_call> (Hermes, Qwen2.5/3, QwQ)
  kLlama3,    // a bare JSON object {"name": ..., "parameters": {...}}, <|python_tag|>, <function=f>
  kMistral,   // [TOOL_CALLS][{...}, ...] or [TOOL_CALLS]name[ARGS]{...}
  kDeepSeek,  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>...<｜tool▁calls▁end｜> (V3, R1, V3.1)
  kGeneric,   // no recognizable syntax: try <tool_call> blocks and a whole-reply JSON object
};

// Picks the tool-call syntax a chat template teaches, from the template's source text.
ToolFormat detect_tool_format(std::string_view chat_template_source);
std::string_view tool_format_name(ToolFormat format);

// The text a reply in `format` opens its tool calls with ("" for kNone). When a request
// requires a call (tool_choice "required" or a named function), the prompt ends with it, so
// the model continues inside a call, and the reply is parsed with it in front.
std::string_view tool_call_opener(ToolFormat format);

struct ToolCall {
  std::string id;         // "call_<index>", the same on the streaming and whole-text paths
  std::string name;       // function name
  std::string arguments;  // a JSON object serialized compactly, as OpenAI sends it
};

struct ParsedReply {
  std::string reasoning;  // trimmed text of the thinking block
  std::string content;    // trimmed text outside the thinking block and the tool calls
  std::vector<ToolCall> tool_calls;
};

struct ReplyFormat {
  ToolFormat tools = ToolFormat::kNone;
  // Thinking is off when either delimiter is empty.
  std::string think_start = "<think>";
  std::string think_end = "</think>";
  // The prompt already opened the thinking block (the template ended with "<think>\n"), so the
  // text up to `think_end` is reasoning; a repeated `think_start` at the very start is skipped.
  bool starts_in_thinking = false;
};

// Whole reply (non-streaming responses). Never throws on malformed model output: a tool call
// that does not parse stays in `content` as raw text.
ParsedReply parse_reply(std::string_view text, const ReplyFormat& format);

struct ReplyDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> tool_calls;

  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
};

// Streaming: text is released as soon as no continuation can change it. Held back are only a
// trailing run of whitespace (it may turn out to be trimmed), a suffix that could begin a
// delimiter or tool-call marker, and an unfinished UTF-8 sequence. Once a tool-call marker is
// seen, the rest is withheld and parsed in `finish()`, which is also where tool calls come
// out; so is a reply that starts with '{' under the formats that accept a bare JSON call.
class ReplyStream {
 public:
  explicit ReplyStream(ReplyFormat format);

  ReplyDelta push(std::string_view piece);
  ReplyDelta finish();  // end of generation: flush held text, parse tool calls

 private:
  enum class Phase { kPreamble, kThinking, kBody, kWithheld, kFinished };

  void advance(ReplyDelta& out);
  bool step_preamble();
  bool step_thinking(ReplyDelta& out);
  void step_body(ReplyDelta& out);
  void enter_body(size_t pos);

  ReplyFormat format_;
  std::string text_;  // everything pushed so far
  Phase phase_;
  size_t think_begin_ = 0;     // start of the raw reasoning in `text_`
  size_t body_begin_ = 0;      // start of the text after the thinking block
  size_t scan_ = 0;            // where the next delimiter search starts
  bool body_checked_ = false;  // the first non-space byte of the body has been examined
  size_t reasoning_sent_ = 0;  // bytes of the final reasoning already released
  size_t content_sent_ = 0;    // bytes of the final content already released
};

}  // namespace muse::server
