// The model's chat template (tokenizer.chat_template, or ChatML when the file has none)
// applied to a conversation, with the model's BOS/EOS texts: shared by `run --chat` and
// `chat`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace muse::cli {

StatusOr<std::string> render_chat(const GgufFile& file, const Tokenizer& tokenizer,
                                  const nlohmann::ordered_json& messages,
                                  bool add_generation_prompt);

}  // namespace muse::cli
