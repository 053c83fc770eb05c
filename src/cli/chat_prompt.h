// The model's chat template (tokenizer.chat_template, or ChatML when the file has none)
// applied to a conversation, with the model's BOS/EOS texts: shared by `run --chat` and
// `chat`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace muse::cli {

StatusOr<std::string> render_chat(const GgufFile& file, const Tokenizer& tokenizer,
                                  const nlohmann::ordered_json& messages,
                                  bool add_generation_prompt);

// The token ids of a one-turn conversation (optional system message, then `user`) rendered
// with the generation prompt; special tokens in the rendered text are real tokens (the
// template writes the BOS text itself).
StatusOr<std::vector<int32_t>> chat_prompt_ids(const GgufFile& file, const Tokenizer& tokenizer,
                                               const std::string& system, const std::string& user);

}  // namespace muse::cli
