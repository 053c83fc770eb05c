// OpenAI response shapes: chat completions and their stream chunks, legacy completions,
// logprobs, usage. Text that is not valid UTF-8 (a token that is half a character) is
// written with U+FFFD, and logprobs carry the exact bytes as OpenAI's `bytes` field.
#pragma once

#include <string>

#include "server/completion.h"

namespace muse::server {

struct ResponseMeta {
  std::string id;  // "chatcmpl-…" / "cmpl-…"
  int64_t created = 0;
  std::string model;
};

json chat_completion_json(const ResponseMeta& meta, const CompletionResult& r,
                          const Tokenizer& tok);
json chat_chunk_json(const ResponseMeta& meta, const ChoiceDelta& d, const Tokenizer& tok,
                     bool with_logprobs);
json completion_json(const ResponseMeta& meta, const CompletionResult& r, const Tokenizer& tok,
                     bool with_logprobs);
json completion_chunk_json(const ResponseMeta& meta, const ChoiceDelta& d, const Tokenizer& tok,
                           bool with_logprobs);
json usage_json(const CompletionResult& r);
// A chunk with no choices carrying one Contemplating event (`muse`) or the usage.
json extra_chunk_json(const ResponseMeta& meta, const char* object, const char* key, json value);

// OpenAI-style ids: prefix + 24 random alphanumerics ("chatcmpl-…", "call_…").
std::string random_id(const char* prefix);

// Serializes for the wire (invalid UTF-8 replaced, never throws).
std::string dump(const json& j);

}  // namespace muse::server
