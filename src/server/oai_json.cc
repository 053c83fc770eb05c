// Builders for OpenAI's response JSON (see oai_json.h).
#include "server/oai_json.h"

#include <random>

namespace muse::server {

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kAlphabet[rng() % 62];
  return id;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

json chat_logprobs(const std::vector<TokenLogprobs>& lps, const Tokenizer& tok) {
  json content = json::array();
  for (const TokenLogprobs& t : lps) {
    const std::string piece = tok.token_to_piece(t.token, false);
    json top = json::array();
    for (const TokenLogprob& alt : t.top) {
      const std::string p = tok.token_to_piece(alt.token, false);
      top.push_back({{"token", p}, {"logprob", alt.logprob}, {"bytes", bytes_of(p)}});
    }
    content.push_back({{"token", piece},
                       {"logprob", t.logprob},
                       {"bytes", bytes_of(piece)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

// Legacy completions: parallel arrays, and top_logprobs as {token text: logprob}.
json legacy_logprobs(const std::vector<TokenLogprobs>& lps, const Tokenizer& tok,
                     size_t text_offset) {
  json tokens = json::array(), token_lps = json::array(), tops = json::array(),
       offsets = json::array();
  for (const TokenLogprobs& t : lps) {
    const std::string piece = tok.token_to_piece(t.token, false);
    tokens.push_back(piece);
    token_lps.push_back(t.logprob);
    json top = json::object();
    for (const TokenLogprob& alt : t.top) top[tok.token_to_piece(alt.token, false)] = alt.logprob;
    tops.push_back(top);
    offsets.push_back(text_offset);
    text_offset += piece.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", token_lps},
          {"top_logprobs", tops},
          {"text_offset", offsets}};
}

json tool_calls_json(const std::vector<ToolCall>& calls, bool indexed) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json c = json::object();
    if (indexed) c["index"] = i;
    c["id"] = calls[i].id;
    c["type"] = "function";
    c["function"] = {{"name", calls[i].name}, {"arguments", calls[i].arguments}};
    out.push_back(std::move(c));
  }
  return out;
}

json finish(const std::optional<std::string>& f) { return f ? json(*f) : json(nullptr); }

}  // namespace

json usage_json(const CompletionResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens}};
}

json chat_completion_json(const ResponseMeta& meta, const CompletionResult& r,
                          const Tokenizer& tok) {
  json choices = json::array();
  for (size_t i = 0; i < r.choices.size(); ++i) {
    const ChoiceResult& c = r.choices[i];
    json msg = {{"role", "assistant"}, {"content", c.content}};
    if (!c.reasoning.empty()) msg["reasoning_content"] = c.reasoning;
    if (!c.tool_calls.empty()) {
      msg["tool_calls"] = tool_calls_json(c.tool_calls, false);
      if (c.content.empty()) msg["content"] = nullptr;
    }
    choices.push_back(
        {{"index", i},
         {"message", msg},
         {"logprobs", c.logprobs.empty() ? json(nullptr) : chat_logprobs(c.logprobs, tok)},
         {"finish_reason", c.finish_reason}});
  }
  json out = {{"id", meta.id},
              {"object", "chat.completion"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", choices},
              {"usage", usage_json(r)},
              {"system_fingerprint", nullptr}};
  if (!r.contemplation.is_null()) out["muse"] = r.contemplation;
  return out;
}

json chat_chunk_json(const ResponseMeta& meta, const ChoiceDelta& d, const Tokenizer& tok,
                     bool with_logprobs) {
  json delta = json::object();
  if (d.first) delta["role"] = "assistant";
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty() || d.first) delta["content"] = d.content;
  if (!d.tool_calls.empty()) delta["tool_calls"] = tool_calls_json(d.tool_calls, true);
  json choice = {{"index", d.index},
                 {"delta", delta},
                 {"logprobs", with_logprobs ? chat_logprobs(d.logprobs, tok) : json(nullptr)},
                 {"finish_reason", finish(d.finish_reason)}};
  return {{"id", meta.id},
          {"object", "chat.completion.chunk"},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", nullptr},
          {"choices", json::array({choice})}};
}

json completion_json(const ResponseMeta& meta, const CompletionResult& r, const Tokenizer& tok,
                     bool with_logprobs) {
  json choices = json::array();
  for (size_t i = 0; i < r.choices.size(); ++i) {
    const ChoiceResult& c = r.choices[i];
    choices.push_back(
        {{"index", i},
         {"text", c.content},
         {"logprobs", with_logprobs ? legacy_logprobs(c.logprobs, tok, 0) : json(nullptr)},
         {"finish_reason", c.finish_reason}});
  }
  return {{"id", meta.id},       {"object", "text_completion"}, {"created", meta.created},
          {"model", meta.model}, {"choices", choices},          {"usage", usage_json(r)}};
}

json completion_chunk_json(const ResponseMeta& meta, const ChoiceDelta& d, const Tokenizer& tok,
                           bool with_logprobs) {
  json choice = {{"index", d.index},
                 {"text", d.content},
                 {"logprobs", with_logprobs ? legacy_logprobs(d.logprobs, tok, 0) : json(nullptr)},
                 {"finish_reason", finish(d.finish_reason)}};
  return {{"id", meta.id},
          {"object", "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array({choice})}};
}

json extra_chunk_json(const ResponseMeta& meta, const char* object, const char* key, json value) {
  return {{"id", meta.id},       {"object", object},         {"created", meta.created},
          {"model", meta.model}, {"choices", json::array()}, {key, std::move(value)}};
}

}  // namespace muse::server
