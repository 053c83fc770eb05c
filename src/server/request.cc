// Request validation: each field is read with its type and range checked, and the first
// problem becomes a 400 naming the field.
#include "server/request.h"

#include "runtime/stop.h"

#include <cmath>
#include <limits>

namespace muse::server {

json ApiError::to_json() const {
  json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return {{"error", e}};
}

namespace {

ApiError bad(std::string param, std::string message) {
  return {.status = 400, .message = std::move(message), .param = std::move(param)};
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "a number";
  }
}

// Field readers: nullopt result + error set when the field has the wrong type or range.
// Absent and null fields leave the output untouched (OpenAI treats null as absent).
class Reader {
 public:
  explicit Reader(const json& obj, std::string prefix = "")
      : obj_(obj), prefix_(std::move(prefix)) {}
  std::optional<ApiError> error;

  const json* get(const char* key) {
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  std::string path(const char* key) const { return prefix_ + key; }

  void boolean(const char* key, bool* out) {
    if (const json* v = get(key); v && !error) {
      if (!v->is_boolean())
        error = bad(path(key), path(key) + " must be a boolean, not " + type_name(*v));
      else
        *out = v->get<bool>();
    }
  }
  template <class T>
  void number(const char* key, T* out, double lo, double hi) {
    const json* v = get(key);
    if (!v || error) return;
    if (!v->is_number()) {
      error = bad(path(key), path(key) + " must be a number, not " + type_name(*v));
      return;
    }
    const double d = v->get<double>();
    if (std::is_integral_v<T> && !v->is_number_integer() && !v->is_number_unsigned()) {
      error = bad(path(key), path(key) + " must be an integer");
      return;
    }
    if (!(d >= lo && d <= hi)) {
      error = bad(path(key), path(key) + " must be in [" + fmt(lo) + ", " + fmt(hi) + "] (got " +
                                 v->dump() + ")");
      return;
    }
    if constexpr (std::is_integral_v<T>)
      *out = v->is_number_unsigned() ? T(v->get<uint64_t>()) : T(v->get<int64_t>());
    else
      *out = T(d);
  }
  void string(const char* key, std::string* out) {
    if (const json* v = get(key); v && !error) {
      if (!v->is_string())
        error = bad(path(key), path(key) + " must be a string, not " + type_name(*v));
      else
        *out = v->get<std::string>();
    }
  }

 private:
  static std::string fmt(double d) {
    if (std::fabs(d) >= 1e15) return d < 0 ? "-inf" : "inf";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", d);
    return buf;
  }
  const json& obj_;
  std::string prefix_;
};

constexpr double kIntMax = 2147483647.0;

// Text of a message's content: a string, null, or an array of parts. Text parts are joined
// with newlines; media parts are checked for shape, then refused (no media encoder yet).
std::optional<ApiError> read_content(const json& content, const std::string& where, json* out) {
  if (content.is_null() || content.is_string()) {
    *out = content;
    return std::nullopt;
  }
  if (!content.is_array())
    return bad(where,
               where + " must be a string or an array of content parts, not " + type_name(content));
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string p = where + "[" + std::to_string(j) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      return bad(p, p + " must be an object with a string `type`");
    const std::string type = part["type"].get<std::string>();
    if (type == "text") {
      if (!part.contains("text") || !part["text"].is_string())
        return bad(p + ".text", p + ".text must be a string");
      if (!text.empty()) text += "\n";
      text += part["text"].get<std::string>();
    } else if (type == "image_url" || type == "input_audio" || type == "video_url" ||
               type == "file") {
      const json* body = part.contains(type) ? &part[type] : nullptr;
      if (!body || !body->is_object())
        return bad(p + "." + type, p + "." + type + " must be an object");
      if (type == "image_url" && (!body->contains("url") || !(*body)["url"].is_string()))
        return bad(p + ".image_url.url", p + ".image_url.url must be a string");
      if (type == "input_audio" && (!body->contains("data") || !(*body)["data"].is_string() ||
                                    !body->contains("format") || !(*body)["format"].is_string()))
        return bad(p + ".input_audio",
                   p + ".input_audio must have string `data` and `format` fields");
      const std::string what = type == "image_url"     ? "image"
                               : type == "input_audio" ? "audio"
                               : type == "video_url"   ? "video"
                                                       : "file";
      return bad(p,
                 "this model does not accept " + what + " input (" + p + "); send text parts only");
    } else {
      return bad(p + ".type", "unknown content part type '" + type + "' at " + p);
    }
  }
  *out = text;
  return std::nullopt;
}

std::optional<ApiError> read_tool_calls(const json& calls, const std::string& where, json* out) {
  if (!calls.is_array()) return bad(where, where + " must be an array");
  *out = json::array();
  for (size_t j = 0; j < calls.size(); ++j) {
    const json& c = calls[j];
    const std::string p = where + "[" + std::to_string(j) + "]";
    if (!c.is_object() || !c.contains("function") || !c["function"].is_object())
      return bad(p + ".function", p + ".function must be an object");
    const json& f = c["function"];
    if (!f.contains("name") || !f["name"].is_string())
      return bad(p + ".function.name", p + ".function.name must be a string");
    json args = f.contains("arguments") ? f["arguments"] : json::object();
    // Templates render arguments with `tojson`: give them the object, not its text.
    if (args.is_string()) {
      json parsed = json::parse(args.get<std::string>(), nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded()) args = parsed;
    }
    json call = {{"id", c.contains("id") && c["id"].is_string() ? c["id"] : json("")},
                 {"type", "function"},
                 {"function", {{"name", f["name"]}, {"arguments", args}}}};
    out->push_back(call);
  }
  return std::nullopt;
}

std::optional<ApiError> read_messages(const json& body, const RequestLimits& limits, json* out) {
  const auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return bad("messages", "messages is required");
  if (!it->is_array()) return bad("messages", "messages must be an array");
  if (it->empty()) return bad("messages", "messages must not be empty");
  if (it->size() > size_t(limits.max_messages))
    return bad("messages", "too many messages (limit " + std::to_string(limits.max_messages) + ")");
  *out = json::array();
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string p = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return bad(p, p + " must be an object");
    if (!m.contains("role") || !m["role"].is_string())
      return bad(p + ".role", p + ".role must be a string");
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";  // OpenAI's newer name; templates know "system"
    if (role != "system" && role != "user" && role != "assistant" && role != "tool")
      return bad(p + ".role", "unknown role '" + role + "' at " + p +
                                  ".role (system, developer, user, assistant or tool)");
    json msg = {{"role", role}};
    const bool has_calls = m.contains("tool_calls") && !m["tool_calls"].is_null();
    if (!m.contains("content") || m["content"].is_null()) {
      if (role != "assistant" || !has_calls) return bad(p + ".content", p + ".content is required");
      msg["content"] = nullptr;
    } else if (auto e = read_content(m["content"], p + ".content", &msg["content"])) {
      return e;
    }
    if (m.contains("name") && m["name"].is_string()) msg["name"] = m["name"];
    if (role == "assistant") {
      if (has_calls)
        if (auto e = read_tool_calls(m["tool_calls"], p + ".tool_calls", &msg["tool_calls"]))
          return e;
      if (m.contains("reasoning_content") && m["reasoning_content"].is_string())
        msg["reasoning_content"] = m["reasoning_content"];
    }
    if (role == "tool") {
      if (!m.contains("tool_call_id") || !m["tool_call_id"].is_string())
        return bad(p + ".tool_call_id", p + ".tool_call_id must be a string");
      msg["tool_call_id"] = m["tool_call_id"];
    }
    out->push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> read_tools(const json& body, CompletionRequest* r) {
  if (const auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return bad("tools", "tools must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& t = (*it)[i];
      const std::string p = "tools[" + std::to_string(i) + "]";
      if (!t.is_object() || t.value("type", "") != "function")
        return bad(p + ".type", p + ".type must be \"function\"");
      if (!t.contains("function") || !t["function"].is_object() ||
          !t["function"].contains("name") || !t["function"]["name"].is_string())
        return bad(p + ".function.name", p + ".function.name must be a string");
      if (t["function"].contains("parameters") && !t["function"]["parameters"].is_object() &&
          !t["function"]["parameters"].is_null())
        return bad(p + ".function.parameters", p + ".function.parameters must be an object");
    }
    if (!it->empty()) r->tools = *it;
  }
  const auto tc = body.find("tool_choice");
  if (tc == body.end() || tc->is_null()) return std::nullopt;
  if (tc->is_string()) {
    const std::string s = tc->get<std::string>();
    if (s == "auto")
      r->tool_choice = ToolChoice::kAuto;
    else if (s == "none")
      r->tool_choice = ToolChoice::kNone;
    else if (s == "required")
      r->tool_choice = ToolChoice::kRequired;
    else
      return bad("tool_choice",
                 "tool_choice must be \"none\", \"auto\", \"required\" or an object");
  } else if (tc->is_object() && tc->contains("function") && (*tc)["function"].is_object() &&
             (*tc)["function"].contains("name") && (*tc)["function"]["name"].is_string()) {
    r->tool_choice = ToolChoice::kNamed;
    r->tool_name = (*tc)["function"]["name"].get<std::string>();
    bool known = false;
    if (r->tools.is_array())
      for (const json& t : r->tools) known |= t["function"]["name"] == r->tool_name;
    if (!known)
      return bad("tool_choice",
                 "tool_choice names function '" + r->tool_name + "', which is not in tools");
  } else {
    return bad("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or an object");
  }
  if (r->tool_choice != ToolChoice::kNone && r->tool_choice != ToolChoice::kAuto &&
      r->tools.is_null())
    return bad("tool_choice", "tool_choice requires tools");
  return std::nullopt;
}

std::optional<ApiError> read_stop(const json& body, const RequestLimits& limits,
                                  std::vector<std::string>* out) {
  const auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    if (!it->get<std::string>().empty()) out->push_back(it->get<std::string>());
  } else if (it->is_array()) {
    if (it->size() > size_t(limits.max_stop))
      return bad("stop", "stop has more than " + std::to_string(limits.max_stop) + " strings");
    for (const json& s : *it) {
      if (!s.is_string()) return bad("stop", "stop must be a string or an array of strings");
      if (!s.get<std::string>().empty()) out->push_back(s.get<std::string>());
    }
  } else {
    return bad("stop", "stop must be a string or an array of strings");
  }
  if (Status s = validate_stop_strings(*out); !s.ok()) return bad("stop", s.message());
  return std::nullopt;
}

std::optional<ApiError> read_contemplate(const json& body, CompletionRequest* r) {
  Reader rd(body);
  std::string effort;
  rd.string("reasoning_effort", &effort);
  if (rd.error) return rd.error;
  if (!effort.empty()) {
    if (effort == "none" || effort == "minimal" || effort == "instant")
      r->effort = Effort::kInstant;
    else if (effort == "low" || effort == "medium" || effort == "thinking")
      r->effort = Effort::kThinking;
    else if (effort == "high" || effort == "contemplating")
      r->effort = Effort::kContemplating;
    else
      return bad("reasoning_effort",
                 "reasoning_effort must be one of instant, thinking, contemplating (or OpenAI's "
                 "none, minimal, low, medium, high), not '" +
                     effort + "'");
  }
  ContemplateOptions& o = r->contemplate;
  const auto it = body.find("contemplate");
  if (it != body.end() && !it->is_null()) {
    if (!it->is_object()) return bad("contemplate", "contemplate must be an object");
    if (!r->effort) r->effort = Effort::kContemplating;
    Reader c(*it, "contemplate.");
    c.number("agents", &o.agents, 1, 64);
    c.number("thinking_budget", &o.thinking_budget, -1, kIntMax);
    c.number("max_answer_tokens", &o.max_answer_tokens, 1, kIntMax);
    c.number("window", &o.window, 0, 1 << 20);
    c.number("warmup", &o.warmup, 0, 64);
    c.number("parallel", &o.parallel, 0, 64);
    c.boolean("temperature_ladder", &o.temperature_ladder);
    c.number("keep_percent", &o.keep_percent, 1, 100);
    c.number("consensus", &o.consensus, 0, 1);
    c.number("max_total_tokens", &o.max_total_tokens, 0, 1e12);
    c.boolean("confidence_weights", &o.confidence_weights);
    c.boolean("refine", &r->refine);
    c.number("rounds", &r->refine_options.rounds, 1, 16);
    c.number("workspace_items", &r->refine_options.workspace_items, 1, 64);
    c.number("summary_chars", &r->refine_options.summary_chars, 16, 65536);
    if (c.get("rounds")) r->refine = true;
    std::string fmt;
    c.string("answer_format", &fmt);
    if (c.error) return c.error;
    if (!fmt.empty()) {
      auto f = parse_answer_format(fmt);
      if (!f.ok()) return bad("contemplate.answer_format", f.status().message());
      o.answer_format = *f;
    }
    if (const json* roles = c.get("roles")) {
      if (!roles->is_array()) return bad("contemplate.roles", "contemplate.roles must be an array");
      for (size_t i = 0; i < roles->size(); ++i) {
        const json& role = (*roles)[i];
        const std::string p = "contemplate.roles[" + std::to_string(i) + "].";
        AgentRole ar;
        if (role.is_string()) {
          ar.prompt = role.get<std::string>();
        } else if (role.is_object()) {
          Reader rr(role, p);
          rr.string("prompt", &ar.prompt);
          rr.number("temperature", &ar.temperature, 0, 2);
          if (rr.error) return rr.error;
        } else {
          return bad(p.substr(0, p.size() - 1), "a role must be a string or an object");
        }
        o.roles.push_back(std::move(ar));
      }
    }
  }
  if (r->effort) o.effort = *r->effort;
  if (r->refine && o.effort != Effort::kContemplating)
    return bad("contemplate.refine", "refine needs reasoning_effort contemplating");
  return std::nullopt;
}

// Fields both endpoints share.
std::optional<ApiError> read_common(const json& body, const std::string& model_id,
                                    const RequestLimits& limits, CompletionRequest* r) {
  Reader rd(body);
  rd.string("model", &r->model);
  if (rd.error) return rd.error;
  if (!r->model.empty() && r->model != model_id)
    return ApiError{.status = 404,
                    .message = "The model '" + r->model + "' does not exist; this server serves '" +
                               model_id + "'",
                    .param = "model",
                    .code = "model_not_found"};
  SamplerParams& s = r->sampling;
  // OpenAI's defaults: plain sampling at temperature 1, no truncation.
  s.temperature = 1.0f;
  s.top_p = 1.0f;
  s.top_k = 0;
  s.min_p = 0.0f;
  rd.boolean("stream", &r->stream);
  rd.number("n", &r->n, 1, limits.max_n);
  rd.number("max_tokens", &r->max_tokens, 1, kIntMax);
  rd.number("max_completion_tokens", &r->max_tokens, 1, kIntMax);
  rd.number("temperature", &s.temperature, 0, 2);
  rd.number("top_p", &s.top_p, 0, 1);
  rd.number("top_k", &s.top_k, 0, kIntMax);
  rd.number("min_p", &s.min_p, 0, 1);
  rd.number("presence_penalty", &s.presence_penalty, -2, 2);
  rd.number("frequency_penalty", &s.frequency_penalty, -2, 2);
  rd.number("repeat_penalty", &s.repeat_penalty, 1e-6, 100);
  int64_t seed = 0;
  rd.number("seed", &seed, -9.2e18, 9.2e18);
  if (rd.error) return rd.error;
  if (rd.get("seed")) s.seed = static_cast<uint64_t>(seed);
  if (s.top_p == 0.0f) s.top_p = 1e-6f;  // OpenAI accepts 0: only the most likely token
  if (const json* so = rd.get("stream_options")) {
    if (!so->is_object()) return bad("stream_options", "stream_options must be an object");
    Reader sr(*so, "stream_options.");
    sr.boolean("include_usage", &r->include_usage);
    if (sr.error) return sr.error;
  }
  if (const json* lb = rd.get("logit_bias"); lb && !(lb->is_object() && lb->empty()))
    return bad("logit_bias", "logit_bias is not supported by this server");
  if (rd.get("response_format")) {
    const json& rf = *rd.get("response_format");
    if (!rf.is_object() || rf.value("type", "") != "text")
      return bad("response_format",
                 "only response_format {\"type\": \"text\"} is supported (no constrained "
                 "decoding yet)");
  }
  return read_stop(body, limits, &r->stop);
}

// Contemplating and the effort levels drive their own sampling loop; say which request
// fields they cannot honour instead of ignoring them.
std::optional<ApiError> check_effort_combination(const CompletionRequest& r) {
  if (!r.effort) return std::nullopt;
  if (r.n != 1) return bad("n", "n must be 1 with reasoning_effort");
  if (r.top_logprobs >= 0)
    return bad("logprobs", "logprobs is not supported with reasoning_effort");
  if (!r.stop.empty()) return bad("stop", "stop is not supported with reasoning_effort");
  if (!r.tools.is_null() && r.tool_choice != ToolChoice::kNone)
    return bad("tools", "tools are not supported with reasoning_effort");
  return std::nullopt;
}

}  // namespace

std::variant<CompletionRequest, ApiError> parse_chat_request(const json& body,
                                                             const std::string& model_id,
                                                             const RequestLimits& limits) {
  if (!body.is_object()) return bad("", "the request body must be a JSON object");
  CompletionRequest r;
  r.chat = true;
  if (auto e = read_common(body, model_id, limits, &r)) return *e;
  if (auto e = read_messages(body, limits, &r.messages)) return *e;
  if (auto e = read_tools(body, &r)) return *e;
  Reader rd(body);
  bool logprobs = false;
  rd.boolean("logprobs", &logprobs);
  int top = 0;
  rd.number("top_logprobs", &top, 0, SamplerParams::kMaxLogprobs);
  if (rd.error) return *rd.error;
  if (rd.get("top_logprobs") && !logprobs)
    return bad("top_logprobs", "top_logprobs requires logprobs to be true");
  if (logprobs) r.top_logprobs = top;
  if (auto e = read_contemplate(body, &r)) return *e;
  if (auto e = check_effort_combination(r)) return *e;
  return r;
}

std::variant<CompletionRequest, ApiError> parse_completion_request(const json& body,
                                                                   const std::string& model_id,
                                                                   const RequestLimits& limits) {
  if (!body.is_object()) return bad("", "the request body must be a JSON object");
  CompletionRequest r;
  r.chat = false;
  r.max_tokens = 16;  // OpenAI's default for legacy completions
  if (auto e = read_common(body, model_id, limits, &r)) return *e;
  const auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) return bad("prompt", "prompt is required");
  const json* p = &*it;
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
  } else if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
    r.prompt_is_ids = true;
    for (const json& t : *p) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > kIntMax)
        return bad("prompt", "a token-id prompt must be an array of non-negative integers");
      r.prompt_ids.push_back(t.get<int32_t>());
    }
  } else {
    return bad("prompt",
               "prompt must be a string, an array of one string, or an array of token ids "
               "(batched prompts are not supported)");
  }
  Reader rd(body);
  int logprobs = -1;
  rd.number("logprobs", &logprobs, 0, SamplerParams::kMaxLogprobs);
  bool echo = false;
  rd.boolean("echo", &echo);
  if (rd.error) return *rd.error;
  if (echo) return bad("echo", "echo is not supported by this server");
  if (rd.get("suffix")) return bad("suffix", "suffix is not supported by this server");
  r.top_logprobs = logprobs;
  return r;
}

}  // namespace muse::server
