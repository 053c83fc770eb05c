// `muse chat`: an interactive conversation through the model's chat template, streaming each
// reply. The KV cache keeps the transcript, so each turn evaluates only its new tokens.
// Input: one line per message; end a line with `\` to continue it, or wrap several lines in
// `"""`. Commands: /reset, /save FILE, /exit.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "cli/chat_prompt.h"
#include "cli/commands.h"
#include "cli/model_flags.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse chat -m MODEL [--system TEXT] [options]\n\n"
      "Interactive chat. Type a message and press Enter; end a line with \\ to continue on\n"
      "the next, or enclose several lines in \"\"\". Commands:\n"
      "  /reset       start a new conversation\n"
      "  /save FILE   write the conversation as JSON ({\"messages\": [...]})\n"
      "  /exit        quit (so does end of input)\n\n%s",
      model_flags_help());
}

// One user message, or false at end of input.
bool read_message(bool interactive, std::string* out) {
  out->clear();
  std::string line;
  bool block = false;
  if (interactive) std::fputs("> ", stdout), std::fflush(stdout);
  while (std::getline(std::cin, line)) {
    if (line == "\"\"\"") {
      if (block) return true;
      block = true;
      continue;
    }
    if (block) {
      *out += line + "\n";
      continue;
    }
    if (!line.empty() && line.back() == '\\') {
      line.pop_back();
      *out += line + "\n";
      if (interactive) std::fputs(". ", stdout), std::fflush(stdout);
      continue;
    }
    *out += line;
    return true;
  }
  return !out->empty();
}

}  // namespace

int cmd_chat(int argc, char** argv) {
  ModelFlags flags;
  flags.generate.max_tokens = -1;  // a reply ends at the end-of-turn token
  std::string system;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    }
    if (a == "--system") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "muse chat: --system needs a value\n");
        return 2;
      }
      system = argv[++i];
    } else if (int r = parse_model_flag("chat", argc, argv, &i, &flags); r != 1) {
      if (r == 0) std::fprintf(stderr, "muse chat: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  auto m = load_model(flags);
  if (!m.ok()) {
    std::fprintf(stderr, "muse chat: %s\n", m.status().message().c_str());
    return 1;
  }
  auto sampler = Sampler::create(flags.sampling);
  if (!sampler.ok()) {
    std::fprintf(stderr, "muse chat: %s\n", sampler.status().message().c_str());
    return 2;
  }
  const Tokenizer& tok = *m->tokenizer;
  GenerationSession session(*m->ctx, tok);
  const bool interactive = isatty(STDIN_FILENO);
  auto fresh = [&] {
    nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
    if (!system.empty()) msgs.push_back({{"role", "system"}, {"content", system}});
    return msgs;
  };
  nlohmann::ordered_json messages = fresh();
  std::string input;
  while (read_message(interactive, &input)) {
    if (input == "/exit" || input == "/quit") break;
    if (input == "/reset") {
      messages = fresh();
      session.reset();
      sampler->reset();
      std::fprintf(stderr, "(new conversation)\n");
      continue;
    }
    if (input.rfind("/save ", 0) == 0) {
      std::ofstream out(input.substr(6));
      out << nlohmann::ordered_json{{"messages", messages}}.dump(2) << "\n";
      std::fprintf(stderr, out ? "(saved)\n" : "(could not write the file)\n");
      continue;
    }
    if (input.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", input}});
    auto text = render_chat(m->model->gguf(), tok, messages, /*add_generation_prompt=*/true);
    if (!text.ok()) {
      std::fprintf(stderr, "muse chat: chat template: %s\n", text.status().message().c_str());
      return 1;
    }
    const auto ids = tok.encode(*text, /*add_special=*/false, /*parse_special=*/true);
    auto result = generate_to_stdout(session, ids, *sampler, flags.generate);
    if (!result.ok()) {
      std::fprintf(stderr, "muse chat: %s\n", result.status().message().c_str());
      messages.erase(messages.size() - 1);
      continue;
    }
    messages.push_back({{"role", "assistant"}, {"content", result->text}});
    const GenerateStats& s = result->stats;
    std::fprintf(stderr, "(%lld new prompt tokens, %lld generated, %.1f t/s)\n",
                 (long long)s.n_prompt_eval, (long long)s.n_gen,
                 s.n_gen / std::max(s.gen_seconds, 1e-9));
  }
  return 0;
}

}  // namespace muse::cli
