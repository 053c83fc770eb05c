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

}  // namespace muse::cli
