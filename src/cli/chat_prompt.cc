// Chat template lookup and rendering for the CLI: the template comes from the GGUF file
// (ChatML when absent), bos/eos texts from the tokenizer, as Hugging Face passes them.
#include "cli/chat_prompt.h"

#include "chat/chat_template.h"

namespace muse::cli {

StatusOr<std::string> render_chat(const GgufFile& file, const Tokenizer& tokenizer,
                                  const nlohmann::ordered_json& messages,
                                  bool add_generation_prompt) {
  auto source = file.get_string_or("tokenizer.chat_template", chat::chatml_template());
  if (!source.ok()) return source.status();
  auto tmpl = chat::ChatTemplate::parse(std::string(*source));
  if (!tmpl.ok()) return tmpl.status();
  chat::ChatInputs in{.messages = messages, .add_generation_prompt = add_generation_prompt};
  if (tokenizer.bos() >= 0) in.bos_token = std::string(tokenizer.token_text(tokenizer.bos()));
  if (tokenizer.eos() >= 0) in.eos_token = std::string(tokenizer.token_text(tokenizer.eos()));
  return tmpl->apply(in);
}

StatusOr<std::vector<int32_t>> chat_prompt_ids(const GgufFile& file, const Tokenizer& tokenizer,
                                               const std::string& system, const std::string& user) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", user}});
  auto text = render_chat(file, tokenizer, messages, /*add_generation_prompt=*/true);
  if (!text.ok()) return text.status().WithContext("chat template");
  return tokenizer.encode(*text, /*add_special=*/false, /*parse_special=*/true);
}

}  // namespace muse::cli
