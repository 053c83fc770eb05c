// `muse template -m MODEL_OR_JINJA --messages CONV.json`: renders a conversation through a
// chat template and prints the prompt text, exactly as the model would be fed it. The
// template comes from a GGUF file's `tokenizer.chat_template` (ChatML when absent, bos/eos
// from its vocabulary) or from a Jinja file (bos "<s>", eos "</s>"). Usage errors exit 2,
// unreadable inputs and template errors exit 1, both with a message on stderr.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "gguf/gguf.h"

namespace muse::cli {
namespace {

using json = nlohmann::ordered_json;

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: muse template -m MODEL.gguf|TEMPLATE.jinja --messages CONV.json\n"
               "                     [--no-generation-prompt] [--date YYYY-MM-DD]\n\n"
               "Renders a conversation through a chat template and prints the prompt.\n"
               "  -m PATH                 GGUF model (its tokenizer.chat_template, ChatML if\n"
               "                          none) or a Jinja template file\n"
               "  --messages PATH         JSON object: {\"messages\": [...], \"tools\": [...],\n"
               "                          \"add_generation_prompt\": true}; other keys become\n"
               "                          template variables (e.g. \"enable_thinking\")\n"
               "  --no-generation-prompt  do not open an assistant turn at the end\n"
               "  --date YYYY-MM-DD       the date strftime_now() reports (default: today)\n");
}

StatusOr<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::Error("cannot read '" + path + "'");
  return ss.str();
}

bool is_gguf(const std::string& path, const std::string& head) {
  const bool ext = path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
  return ext || head.rfind("GGUF", 0) == 0;
}

struct TemplateSource {
  std::string text;
  std::string bos = "<s>";
  std::string eos = "</s>";
};

// Text of token `key` (e.g. tokenizer.ggml.bos_token_id) in the vocabulary, or "" when the
// file does not name one.
StatusOr<std::string> token_text(const GgufFile& f, const char* key) {
  if (f.find(key) == nullptr) return std::string();
  StatusOr<uint64_t> id = f.get_u64(key);
  if (!id.ok()) return id.status();
  StatusOr<std::span<const std::string_view>> tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens.ok()) return tokens.status();
  if (*id >= tokens->size())
    return Status::Error(std::string(key) + " = " + std::to_string(*id) +
                         " is outside the vocabulary");
  return std::string((*tokens)[*id]);
}

StatusOr<TemplateSource> load_template(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) return Status::Error("cannot open '" + path + "'");
  char head[4] = {};
  probe.read(head, 4);
  TemplateSource src;
  if (!is_gguf(path, std::string(head, size_t(probe.gcount())))) {
    StatusOr<std::string> text = read_file(path);
    if (!text.ok()) return text.status();
    src.text = std::move(*text);
    return src;
  }
  StatusOr<GgufFile> f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  StatusOr<std::string_view> tmpl =
      f->get_string_or("tokenizer.chat_template", chat::chatml_template());
  if (!tmpl.ok()) return tmpl.status();
  src.text = std::string(*tmpl);
  StatusOr<std::string> bos = token_text(*f, "tokenizer.ggml.bos_token_id");
  if (!bos.ok()) return bos.status();
  StatusOr<std::string> eos = token_text(*f, "tokenizer.ggml.eos_token_id");
  if (!eos.ok()) return eos.status();
  src.bos = std::move(*bos);
  src.eos = std::move(*eos);
  return src;
}

bool parse_date(const char* s, std::tm* tm) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (std::sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return false;
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  *tm = std::tm{};
  tm->tm_year = y - 1900;
  tm->tm_mon = m - 1;
  tm->tm_mday = d;
  tm->tm_hour = 12;  // mktime normalises the weekday and day of year; noon avoids DST edges
  std::tm copy = *tm;
  if (timegm(&copy) == -1) return false;
  copy.tm_hour = 0;
  *tm = copy;
  return tm->tm_mday == d;
}

int run(const std::string& model, const std::string& messages_path, bool no_gen_prompt,
        const std::optional<std::tm>& date) {
  StatusOr<TemplateSource> src = load_template(model);
  if (!src.ok()) {
    std::fprintf(stderr, "muse template: %s\n", src.status().message().c_str());
    return 1;
  }
  StatusOr<std::string> conv_text = read_file(messages_path);
  if (!conv_text.ok()) {
    std::fprintf(stderr, "muse template: %s\n", conv_text.status().message().c_str());
    return 1;
  }
  json conv = json::parse(*conv_text, nullptr, false);
  if (conv.is_discarded() || !conv.is_object() || !conv.contains("messages") ||
      !conv["messages"].is_array()) {
    std::fprintf(stderr, "muse template: '%s' is not a JSON object with a \"messages\" array\n",
                 messages_path.c_str());
    return 1;
  }
  chat::ChatInputs in;
  in.messages = conv["messages"];
  in.bos_token = src->bos;
  in.eos_token = src->eos;
  for (const auto& [k, v] : conv.items()) {
    if (k == "messages") continue;
    if (k == "tools")
      in.tools = v;
    else if (k == "add_generation_prompt")
      in.add_generation_prompt = v.is_boolean() ? v.get<bool>() : !v.is_null();
    else
      in.extra_context[k] = v;
  }
  if (no_gen_prompt) in.add_generation_prompt = false;
  StatusOr<chat::ChatTemplate> t = chat::ChatTemplate::parse(std::move(src->text));
  if (!t.ok()) {
    std::fprintf(stderr, "muse template: %s: %s\n", model.c_str(), t.status().message().c_str());
    return 1;
  }
  chat::RenderOptions options;
  options.now = date;
  StatusOr<std::string> text = t->apply(in, options);
  if (!text.ok()) {
    std::fprintf(stderr, "muse template: %s: %s\n", model.c_str(), text.status().message().c_str());
    return 1;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int cmd_template(int argc, char** argv) {
  std::string model, messages;
  bool no_gen_prompt = false;
  std::optional<std::tm> date;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if ((!std::strcmp(argv[i], "-m") || !std::strcmp(argv[i], "--model")) && has_value) {
      model = argv[++i];
    } else if (!std::strcmp(argv[i], "--messages") && has_value) {
      messages = argv[++i];
    } else if (!std::strcmp(argv[i], "--no-generation-prompt")) {
      no_gen_prompt = true;
    } else if (!std::strcmp(argv[i], "--date") && has_value) {
      std::tm tm;
      if (!parse_date(argv[++i], &tm)) {
        std::fprintf(stderr, "muse template: --date wants YYYY-MM-DD, got '%s'\n", argv[i]);
        return 2;
      }
      date = tm;
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      print_usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "muse template: unknown or incomplete option '%s'\n", argv[i]);
      print_usage(stderr);
      return 2;
    }
  }
  if (model.empty() || messages.empty()) {
    print_usage(stderr);
    return 2;
  }
  return run(model, messages, no_gen_prompt, date);
}

}  // namespace muse::cli
