// ChatTemplate: parse once, then bind a conversation to the variables Hugging Face passes
// (`messages`, `tools`, `add_generation_prompt`, `bos_token`, `eos_token`, extras) over the
// environment's globals and render.
#include "chat/chat_template.h"

#include "chat/builtins.h"
#include "chat/parser.h"

namespace muse::chat {
namespace {

std::tm current_time() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

}  // namespace

StatusOr<ChatTemplate> ChatTemplate::parse(std::string source) {
  StatusOr<NodeList> body = parse_template(source);
  if (!body.ok()) return body.status();
  ChatTemplate t;
  t.source_ = std::move(source);
  t.body_ = std::make_shared<const NodeList>(std::move(*body));
  return t;
}

StatusOr<std::string> ChatTemplate::render(const nlohmann::ordered_json& variables,
                                           const RenderOptions& options) const {
  if (!variables.is_object() && !variables.is_null())
    return Status::Error("template variables must be a JSON object");
  Object globals;
  add_globals(&globals);
  auto scope = std::make_shared<Scope>();
  for (const auto& [k, v] : globals.entries()) scope->vars[k] = v;
  if (variables.is_object()) {
    for (const auto& [k, v] : variables.items()) {
      StatusOr<Value> value = from_json(v);
      if (!value.ok()) return value.status().WithContext("variable '" + k + "'");
      scope->vars[k] = std::move(*value);
    }
  }
  Interpreter interpreter(options.limits, options.now ? *options.now : current_time());
  return interpreter.render(*body_, std::move(scope));
}

StatusOr<std::string> ChatTemplate::apply(const ChatInputs& inputs,
                                          const RenderOptions& options) const {
  if (!inputs.messages.is_array()) return Status::Error("messages must be a JSON array");
  if (!inputs.extra_context.is_null() && !inputs.extra_context.is_object())
    return Status::Error("extra_context must be a JSON object");
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  vars["messages"] = inputs.messages;
  vars["tools"] = inputs.tools;
  vars["add_generation_prompt"] = inputs.add_generation_prompt;
  vars["bos_token"] = inputs.bos_token;
  vars["eos_token"] = inputs.eos_token;
  if (inputs.extra_context.is_object())
    for (const auto& [k, v] : inputs.extra_context.items()) vars[k] = v;
  return render(vars, options);
}

std::string_view chatml_template() {
  return "{%- for message in messages %}"
         "{{- '<|im_start|>' ~ message['role'] ~ '\\n' }}"
         "{%- if message['content'] is string %}{{- message['content'] }}{%- endif %}"
         "{{- '<|im_end|>\\n' }}"
         "{%- endfor %}"
         "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
}

}  // namespace muse::chat
