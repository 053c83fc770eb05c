// Running one OpenAI request on the shared engine: the prompt (chat template + tokenizer),
// then generation of `n` choices forked from one prefill, each choice's text through stop
// strings and the reply parser (reasoning, content, tool calls), streamed as deltas; or,
// with `reasoning_effort`, the Contemplating loop with its events. No HTTP here: the HTTP
// layer turns deltas and results into OpenAI JSON.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "chat/chat_template.h"
#include "runtime/engine_service.h"
#include "server/reply_parse.h"
#include "server/request.h"
#include "tokenizer/tokenizer.h"

namespace muse {
class GgufFile;
}

namespace muse::server {

// What the server knows about its model; immutable, shared by all request threads.
struct ServedModel {
  std::string id;
  Tokenizer tokenizer;
  chat::ChatTemplate chat_template;
  std::string bos_text, eos_text;
  ToolFormat tool_format = ToolFormat::kGeneric;
  int64_t n_ctx = 0;
  int64_t created = 0;  // unix time the server started (GET /v1/models)

  // `template_override`: a chat template to use instead of the file's (nullopt = the file's,
  // or ChatML when it has none).
  static StatusOr<ServedModel> create(const GgufFile& file, Tokenizer tokenizer, std::string id,
                                      int64_t n_ctx,
                                      std::optional<std::string> template_override = {});
};

struct TokenLogprobs {
  int32_t token = -1;
  float logprob = 0;
  std::vector<TokenLogprob> top = {};
};

struct ChoiceDelta {
  int index = 0;
  bool first = false;  // the choice's first delta (chat streams send the role with it)
  std::string content = {}, reasoning = {};
  std::vector<ToolCall> tool_calls = {};
  std::vector<TokenLogprobs> logprobs = {};
  std::optional<std::string> finish_reason = {};  // "stop", "length", "tool_calls"
};

struct ChoiceResult {
  std::string content = {}, reasoning = {};
  std::vector<ToolCall> tool_calls = {};
  std::vector<TokenLogprobs> logprobs = {};
  std::string finish_reason = "stop";
};

struct CompletionResult {
  std::vector<ChoiceResult> choices;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  json contemplation = nullptr;  // effort requests: agents, votes, answer
};

// Return false when the client has gone: generation is cancelled.
using DeltaSink = std::function<bool(const ChoiceDelta&)>;
using EventSink = std::function<bool(const json& muse_event)>;

// Renders and tokenizes the request's prompt. Errors are the client's (a template that
// rejects the conversation, a prompt that does not fit the context): 400.
struct Prompt {
  std::vector<int32_t> ids;
  ReplyFormat reply;  // how to split the model's reply
  // tool_choice "required" or a named function: the prompt ends with `opener` (the template's
  // tool-call opener, after closing a thinking block the template opened), the reply is
  // parsed with it in front, and a reply without a call, or (named) with a call to another
  // function, is an error instead of a plain answer.
  struct ForcedCall {
    std::string opener;
    std::string name;  // "" = any of the tools
  };
  std::optional<ForcedCall> forced_call;
};
std::variant<Prompt, ApiError> build_prompt(const ServedModel& m, const CompletionRequest& r);

// Generates. Sinks may be empty (non-streaming). The result holds every choice in full
// either way. A client that goes away ends with an ApiError of status 499.
std::variant<CompletionResult, ApiError> run_completion(const ServedModel& m, EngineClient& client,
                                                        const CompletionRequest& r,
                                                        const Prompt& prompt,
                                                        const DeltaSink& on_delta = {},
                                                        const EventSink& on_event = {});

}  // namespace muse::server
