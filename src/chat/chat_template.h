// Chat templates: the Jinja programs stored in a model's `tokenizer.chat_template` that turn
// a conversation (OpenAI-style messages, optional tools) into the prompt text the model was
// trained on. Rendering matches Hugging Face's `apply_chat_template` (Python jinja2,
// sandboxed, trim_blocks and lstrip_blocks, loop controls, `tojson` keeping key order,
// `raise_exception`, `strftime_now`) byte for byte on the templates real models ship.
//
//   StatusOr<ChatTemplate> t = ChatTemplate::parse(source);
//   StatusOr<std::string> prompt = t->apply({.messages = msgs, .bos_token = "<s>"});
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "chat/interpreter.h"
#include "core/status.h"

namespace muse::chat {

struct ChatInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  // Tool (function) schemas; null means none, and the template then sees `tools` = None,
  // as Hugging Face passes it.
  nlohmann::ordered_json tools = nullptr;
  bool add_generation_prompt = true;
  std::string bos_token = "";
  std::string eos_token = "";
  // More template variables (e.g. {"enable_thinking": false}); they override the above.
  nlohmann::ordered_json extra_context = nlohmann::ordered_json::object();
};

struct RenderOptions {
  RenderLimits limits;
  std::optional<std::tm> now;  // what strftime_now() sees; nullopt: the current local time
};

class ChatTemplate {
 public:
  // Parses once; syntax errors name the line and column. A parsed template is immutable and
  // may render from several threads at once.
  static StatusOr<ChatTemplate> parse(std::string source);

  // Renders a conversation. Errors (including the template's own raise_exception) carry the
  // template position and jinja2's exception name.
  StatusOr<std::string> apply(const ChatInputs& inputs, const RenderOptions& options = {}) const;

  // Renders with arbitrary top-level variables (a JSON object).
  StatusOr<std::string> render(const nlohmann::ordered_json& variables,
                               const RenderOptions& options = {}) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const NodeList> body_;
};

// ChatML, the fallback for models whose GGUF file carries no `tokenizer.chat_template`.
std::string_view chatml_template();

}  // namespace muse::chat
