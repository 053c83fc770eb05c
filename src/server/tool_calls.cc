// Tool-call grammars, one block parser per `ToolFormat`. `split_tool_calls` walks the reply
// from marker to marker; a block that does not parse is left in the content as raw text, so
// malformed model output degrades to a plain reply instead of an error. Arguments are
// re-serialized compactly with their key order kept (`ordered_json`), whether the model wrote
// them as an object or as a string holding one.
#include "server/tool_calls.h"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace muse::server {
namespace detail {
namespace {

using Json = nlohmann::ordered_json;

// DeepSeek's markers use U+FF5C (full-width bar) and U+2581 (lower one-eighth block).
constexpr std::string_view kDsCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kDsCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kDsCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kDsCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kDsSep = "<｜tool▁sep｜>";

constexpr std::string_view kHermesMarkers[] = {"<tool_call>"};
constexpr std::string_view kLlama3Markers[] = {"<|python_tag|>", "<function="};
constexpr std::string_view kMistralMarkers[] = {"[TOOL_CALLS]"};
constexpr std::string_view kDeepSeekMarkers[] = {kDsCallsBegin, kDsCallBegin};

// Model output is untrusted: deeper nesting than any real argument object is refused before
// it reaches the JSON parser.
constexpr int kMaxJsonDepth = 128;

// Function names are short; bounding the search for what follows one keeps a reply full of
// stray markers linear.
constexpr size_t kMaxNameBytes = 256;

size_t find_after_name(std::string_view s, std::string_view what, size_t pos) {
  return s.substr(0, pos + kMaxNameBytes + what.size()).find(what, pos);
}

bool eat(std::string_view s, size_t& pos, std::string_view literal) {
  if (pos > s.size() || s.substr(pos).substr(0, literal.size()) != literal) return false;
  pos += literal.size();
  return true;
}

// One past the bracket closing the object or array that opens at `pos`, or npos when it is
// not closed in `s`. Only brackets and strings are tracked; the parser validates the rest.
size_t json_extent(std::string_view s, size_t pos) {
  int depth = 0;
  for (size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i)
        if (s[i] == '\\') ++i;
      if (i >= s.size()) return std::string_view::npos;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return std::string_view::npos;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    } else if (depth == 0) {
      return std::string_view::npos;  // `pos` did not open an object or array
    }
  }
  return std::string_view::npos;
}

// Parses the object or array at `pos` and moves `pos` past it.
bool read_json(std::string_view s, size_t& pos, char open, Json& out) {
  if (pos >= s.size() || s[pos] != open) return false;
  size_t end = json_extent(s, pos);
  if (end == std::string_view::npos) return false;
  std::string_view text = s.substr(pos, end - pos);
  out = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) return false;
  pos = end;
  return true;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Arguments as OpenAI sends them: a serialized object. Models write either the object itself
// or a string holding it.
std::optional<std::string> normalize_arguments(const Json& args) {
  if (args.is_object()) return dump(args);
  if (!args.is_string()) return std::nullopt;
  // Through `read_json` so the string gets the same depth limit as the text around it.
  std::string_view s = trim(args.get_ref<const std::string&>());
  size_t end = 0;
  Json inner;
  if (!read_json(s, end, '{', inner) || end != s.size()) return std::nullopt;
  return dump(inner);
}

std::optional<ToolCall> make_call(std::string_view name, const Json& args) {
  // Names are identifiers (OpenAI allows [A-Za-z0-9_-]); refusing markup characters keeps a
  // stray marker from being read as part of a name.
  if (name.empty() || name.find_first_of(" \t\r\n[]<>{}\"'") != std::string_view::npos)
    return std::nullopt;
  std::optional<std::string> a = normalize_arguments(args);
  if (!a) return std::nullopt;
  return ToolCall{.id = "", .name = std::string(name), .arguments = std::move(*a)};
}

// {"name": f, "arguments"|"parameters": {...}}, optionally wrapped OpenAI-style as
// {"type": "function", "function": {...}}. `strict` (for a bare JSON reply, where a false
// positive would swallow a real answer) requires the arguments key; otherwise it defaults to {}.
std::optional<ToolCall> call_from_object(const Json& obj, bool strict) {
  if (!obj.is_object()) return std::nullopt;
  const Json* fn = &obj;
  if (!obj.contains("name") && obj.contains("function") && obj["function"].is_object())
    fn = &obj["function"];
  auto name = fn->find("name");
  if (name == fn->end() || !name->is_string()) return std::nullopt;
  auto args = fn->find("arguments");
  if (args == fn->end()) args = fn->find("parameters");
  if (args == fn->end() && strict) return std::nullopt;
  Json empty = Json::object();
  return make_call(name->get_ref<const std::string&>(), args == fn->end() ? empty : *args);
}

// JSON call objects separated by whitespace or ';' and nothing else (Llama 3.x).
bool parse_call_list(std::string_view s, bool strict, std::vector<ToolCall>& calls) {
  std::vector<ToolCall> got;
  for (size_t p = 0;;) {
    while (p < s.size() && (is_space(s[p]) || s[p] == ';')) ++p;
    if (p == s.size()) break;
    Json obj;
    if (!read_json(s, p, '{', obj)) return false;
    std::optional<ToolCall> c = call_from_object(obj, strict);
    if (!c) return false;
    got.push_back(std::move(*c));
  }
  if (got.empty()) return false;
  calls.insert(calls.end(), got.begin(), got.end());
  return true;
}

// A closing tag, or the end of the text: generation often stops right after the JSON.
bool close_or_end(std::string_view s, size_t& pos, std::string_view closing) {
  size_t p = skip_space(s, pos);
  if (p != s.size() && !eat(s, p, closing)) return false;
  pos = p;
  return true;
}

// <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>
bool parse_hermes(std::string_view s, size_t& pos, std::vector<ToolCall>& calls) {
  size_t p = skip_space(s, pos);
  Json obj;
  if (!read_json(s, p, '{', obj)) return false;
  std::optional<ToolCall> c = call_from_object(obj, /*strict=*/false);
  if (!c || !close_or_end(s, p, "</tool_call>")) return false;
  calls.push_back(std::move(*c));
  pos = p;
  return true;
}

// <function=NAME>{...}</function>, which Llama 3.1's docs and functionary v3.1 teach.
bool parse_function_tag(std::string_view s, size_t& pos, std::vector<ToolCall>& calls) {
  size_t gt = find_after_name(s, ">", pos);
  if (gt == std::string_view::npos) return false;
  size_t p = skip_space(s, gt + 1);
  Json args;
  if (!read_json(s, p, '{', args)) return false;
  std::optional<ToolCall> c = make_call(s.substr(pos, gt - pos), args);
  if (!c || !close_or_end(s, p, "</function>")) return false;
  calls.push_back(std::move(*c));
  pos = p;
  return true;
}

// [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...] (Nemo) or
// [TOOL_CALLS]NAME[ARGS]{...} (Devstral, Mistral Small 3.2), optionally NAME[CALL_ID]id[ARGS].
bool parse_mistral(std::string_view s, size_t& pos, std::vector<ToolCall>& calls) {
  size_t p = skip_space(s, pos);
  Json j;
  if (p < s.size() && s[p] == '[') {
    if (!read_json(s, p, '[', j) || j.empty()) return false;
    std::vector<ToolCall> got;
    for (const Json& item : j) {
      std::optional<ToolCall> c = call_from_object(item, /*strict=*/false);
      if (!c) return false;
      got.push_back(std::move(*c));
    }
    calls.insert(calls.end(), got.begin(), got.end());
    pos = p;
    return true;
  }
  size_t args = find_after_name(s, "[ARGS]", p);
  if (args == std::string_view::npos) return false;
  std::string_view name = s.substr(p, args - p);
  name = trim(name.substr(0, name.find("[CALL_ID]")));
  p = skip_space(s, args + 6);
  if (!read_json(s, p, '{', j)) return false;
  std::optional<ToolCall> c = make_call(name, j);
  if (!c) return false;
  calls.push_back(std::move(*c));
  pos = p;
  return true;
}

// One DeepSeek call after <｜tool▁call▁begin｜>, in either generation's form:
//   V3/R1: TYPE<｜tool▁sep｜>NAME\n```json\n{...}\n```<｜tool▁call▁end｜>
//   V3.1:  NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>
bool parse_deepseek_call(std::string_view s, size_t& pos, std::vector<ToolCall>& calls) {
  size_t sep = find_after_name(s, kDsSep, pos);
  if (sep == std::string_view::npos) return false;
  std::string_view name = trim(s.substr(pos, sep - pos));
  size_t p = skip_space(s, sep + kDsSep.size());
  if (p >= s.size() || s[p] != '{') {  // V3/R1: the name follows the separator
    size_t eol = s.substr(0, p + kMaxNameBytes).find_first_of("\n`{", p);
    if (eol == std::string_view::npos) return false;
    name = trim(s.substr(p, eol - p));
    p = skip_space(s, eol);
    if (!eat(s, p, "```json")) eat(s, p, "```");
    p = skip_space(s, p);
  }
  Json args;
  if (!read_json(s, p, '{', args)) return false;
  size_t q = skip_space(s, p);
  if (eat(s, q, "```")) p = q;
  std::optional<ToolCall> c = make_call(name, args);
  if (!c || !close_or_end(s, p, kDsCallEnd)) return false;
  calls.push_back(std::move(*c));
  pos = p;
  return true;
}

// <｜tool▁calls▁begin｜> (optional) then calls separated by whitespace, then
// <｜tool▁calls▁end｜> (optional). All calls parse or none are taken.
bool parse_deepseek(std::string_view s, size_t& pos, std::vector<ToolCall>& calls) {
  std::vector<ToolCall> got;
  size_t p = pos;
  for (;;) {
    size_t q = skip_space(s, p);
    if (!eat(s, q, kDsCallBegin)) break;
    if (!parse_deepseek_call(s, q, got)) return false;
    p = q;
  }
  if (got.empty()) return false;
  size_t q = skip_space(s, p);
  if (eat(s, q, kDsCallsEnd)) p = q;
  calls.insert(calls.end(), got.begin(), got.end());
  pos = p;
  return true;
}

// Parses the block whose marker starts at `pos`; on success moves `pos` past the block.
bool parse_block(ToolFormat format, std::string_view s, std::string_view marker, size_t& pos,
                 std::vector<ToolCall>& calls) {
  size_t p = pos + marker.size();
  bool ok = false;
  switch (format) {
    case ToolFormat::kHermes:
    case ToolFormat::kGeneric:
      ok = parse_hermes(s, p, calls);
      break;
    case ToolFormat::kLlama3:
      if (marker == "<function=") {
        ok = parse_function_tag(s, p, calls);
      } else {  // <|python_tag|>: the rest of the reply is the call list
        ok = parse_call_list(s.substr(p), /*strict=*/false, calls);
        p = s.size();
      }
      break;
    case ToolFormat::kMistral:
      ok = parse_mistral(s, p, calls);
      break;
    case ToolFormat::kDeepSeek:
      p = pos;  // the marker is part of the grammar: calls-begin is optional before call-begin
      eat(s, p, kDsCallsBegin);
      ok = parse_deepseek(s, p, calls);
      break;
    case ToolFormat::kNone:
      break;
  }
  if (ok) pos = p;
  return ok;
}

}  // namespace

std::span<const std::string_view> tool_call_markers(ToolFormat format) {
  switch (format) {
    case ToolFormat::kHermes:
    case ToolFormat::kGeneric:
      return kHermesMarkers;
    case ToolFormat::kLlama3:
      return kLlama3Markers;
    case ToolFormat::kMistral:
      return kMistralMarkers;
    case ToolFormat::kDeepSeek:
      return kDeepSeekMarkers;
    case ToolFormat::kNone:
      break;
  }
  return {};
}

bool accepts_bare_json(ToolFormat format) {
  return format == ToolFormat::kLlama3 || format == ToolFormat::kGeneric;
}

BodySplit split_tool_calls(std::string_view body, ToolFormat format) {
  BodySplit out;
  std::string_view t = trim(body);
  if (accepts_bare_json(format) && t.starts_with('{') &&
      parse_call_list(t, /*strict=*/true, out.calls)) {
    // The whole reply is the call list.
  } else {
    std::span<const std::string_view> markers = tool_call_markers(format);
    for (size_t pos = 0;;) {
      size_t at = std::string_view::npos;
      std::string_view marker;
      for (std::string_view m : markers) {
        size_t i = body.find(m, pos);
        if (i < at) {
          at = i;
          marker = m;
        }
      }
      out.content.append(body.substr(pos, at == std::string_view::npos ? at : at - pos));
      if (at == std::string_view::npos) break;
      pos = at;
      if (!parse_block(format, body, marker, pos, out.calls)) {
        out.content.append(marker);  // not a call: the marker stays text, scanning goes on
        pos = at + marker.size();
      }
    }
  }
  for (size_t i = 0; i < out.calls.size(); ++i) out.calls[i].id = "call_" + std::to_string(i);
  return out;
}

}  // namespace detail

ToolFormat detect_tool_format(std::string_view src) {
  auto has = [&](std::string_view s) { return src.find(s) != std::string_view::npos; };
  if (has("<tool_call>")) return ToolFormat::kHermes;
  if (has("[TOOL_CALLS]")) return ToolFormat::kMistral;
  if (has("tool▁calls▁begin")) return ToolFormat::kDeepSeek;
  if (has("<|python_tag|>") || (has("<|start_header_id|>") && has("parameters")))
    return ToolFormat::kLlama3;
  return ToolFormat::kGeneric;
}

std::string_view tool_call_opener(ToolFormat format) {
  switch (format) {
    case ToolFormat::kNone:
      return "";
    case ToolFormat::kHermes:
    case ToolFormat::kGeneric:
      return "<tool_call>\n";
    case ToolFormat::kLlama3:  // the bare JSON call Llama 3.1's template asks for
      return "{\"name\": \"";
    case ToolFormat::kMistral:
      return "[TOOL_CALLS]";
    case ToolFormat::kDeepSeek:
      return detail::kDsCallsBegin;
  }
  return "";
}

std::string_view tool_format_name(ToolFormat format) {
  switch (format) {
    case ToolFormat::kNone:
      return "none";
    case ToolFormat::kHermes:
      return "hermes";
    case ToolFormat::kLlama3:
      return "llama3";
    case ToolFormat::kMistral:
      return "mistral";
    case ToolFormat::kDeepSeek:
      return "deepseek";
    case ToolFormat::kGeneric:
      return "generic";
  }
  return "unknown";
}

}  // namespace muse::server
