// OpenAI request bodies (`/v1/chat/completions`, `/v1/completions`) parsed and validated into
// one struct. Every rejection is an `ApiError` naming the offending field the way OpenAI
// does (`param: "messages[2].content[0].image_url"`), so a client can fix its request.
// Unknown fields are ignored, as OpenAI's API ignores them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "reason/contemplate.h"
#include "reason/refine.h"
#include "runtime/sampler.h"

namespace muse::server {

using json = nlohmann::ordered_json;

struct ApiError {
  int status = 400;
  std::string message = {};
  std::string type = "invalid_request_error";
  std::string param = {};  // "" = null
  std::string code = {};   // "" = null
  json to_json() const;
};

enum class ToolChoice { kAuto, kNone, kRequired, kNamed };

struct CompletionRequest {
  bool chat = true;                 // /v1/chat/completions (else /v1/completions)
  std::string model;                // as sent ("" when absent)
  json messages;                    // chat: normalized for the chat template
  std::vector<int32_t> prompt_ids;  // completions: a prompt given as token ids
  std::string prompt;               // completions: a prompt given as text
  bool prompt_is_ids = false;
  json tools = nullptr;  // chat: function schemas for the template (null = none)
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_name;  // kNamed

  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int n = 1;
  int32_t max_tokens = -1;  // -1 = until the context is full
  std::vector<std::string> stop;
  SamplerParams sampling;
  int top_logprobs = -1;  // -1 = no logprobs; else how many alternatives per token (0..20)

  // reasoning_effort: unset = the model's own behaviour.
  std::optional<Effort> effort;
  ContemplateOptions contemplate;  // effort + the `contemplate` object's fields
  bool refine = false;             // contemplate.refine / contemplate.rounds
  RefineOptions refine_options;
};

struct RequestLimits {
  int max_n = 16;
  int max_stop = 16;
  int max_messages = 4096;
};

// `model_id`: the served model's name; a request naming another model is a 404.
std::variant<CompletionRequest, ApiError> parse_chat_request(const json& body,
                                                             const std::string& model_id,
                                                             const RequestLimits& limits = {});
std::variant<CompletionRequest, ApiError> parse_completion_request(
    const json& body, const std::string& model_id, const RequestLimits& limits = {});

}  // namespace muse::server
