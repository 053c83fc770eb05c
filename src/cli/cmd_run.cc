// `muse run`: one prompt in, generated text streamed to stdout; load time, prompt and
// generation speed on stderr.
#include <cstdio>
#include <string>

#include "cli/chat_prompt.h"
#include "cli/commands.h"
#include "cli/model_flags.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse run -m MODEL -p PROMPT [--chat] [--system TEXT] [options]\n\n"
      "Generates a continuation of PROMPT and streams it to stdout. Without --chat the\n"
      "prompt is raw text (BOS added when the vocab asks for it); with --chat it becomes a\n"
      "user message rendered through the model's chat template (ChatML when the model has\n"
      "none), after an optional system message. --special parses special-token text in a\n"
      "raw prompt. -v prints the resolved seed.\n\n%s",
      model_flags_help());
}

}  // namespace

int cmd_run(int argc, char** argv) {
  ModelFlags flags;
  std::string prompt, system;
  bool have_prompt = false, chat = false, special = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    }
    if ((a == "-p" || a == "--prompt" || a == "--system") && i + 1 >= argc) {
      std::fprintf(stderr, "muse run: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "-p" || a == "--prompt") {
      prompt = argv[++i];
      have_prompt = true;
    } else if (a == "--system") {
      system = argv[++i];
    } else if (a == "--chat") {
      chat = true;
    } else if (a == "--special") {
      special = true;
    } else if (a == "-v" || a == "--verbose") {
      verbose = true;
    } else if (int r = parse_model_flag("run", argc, argv, &i, &flags); r != 1) {
      if (r == 0) std::fprintf(stderr, "muse run: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (!have_prompt) {
    std::fprintf(stderr, "muse run: no prompt given (-p PROMPT)\n");
    return 2;
  }
  auto m = load_model(flags);
  if (!m.ok()) {
    std::fprintf(stderr, "muse run: %s\n", m.status().message().c_str());
    return 1;
  }
  const Tokenizer& tok = *m->tokenizer;
  std::vector<int32_t> ids;
  if (chat) {
    auto chat_ids = chat_prompt_ids(m->model->gguf(), tok, system, prompt);
    if (!chat_ids.ok()) {
      std::fprintf(stderr, "muse run: %s\n", chat_ids.status().message().c_str());
      return 1;
    }
    ids = std::move(*chat_ids);
  } else {
    ids = tok.encode(prompt, /*add_special=*/true, special);
  }

  auto sampler = Sampler::create(flags.sampling);
  if (!sampler.ok()) {
    std::fprintf(stderr, "muse run: %s\n", sampler.status().message().c_str());
    return 2;
  }
  if (verbose) std::fprintf(stderr, "seed %llu\n", (unsigned long long)sampler->seed());
  GenerationSession session(*m->ctx, tok);
  auto result = generate_to_stdout(session, ids, *sampler, flags.generate);
  if (!result.ok()) {
    std::fprintf(stderr, "muse run: %s\n", result.status().message().c_str());
    return 1;
  }
  const GenerateStats& s = result->stats;
  std::fprintf(stderr,
               "prompt %lld tokens in %.0f ms (%.1f t/s); generated %lld tokens in %.0f ms "
               "(%.1f t/s); stopped by %s\n",
               (long long)s.n_prompt_eval, s.prompt_seconds * 1e3,
               s.n_prompt_eval / std::max(s.prompt_seconds, 1e-9), (long long)s.n_gen,
               s.gen_seconds * 1e3, s.n_gen / std::max(s.gen_seconds, 1e-9),
               result->finish == FinishReason::kStop ? "stop" : "length");
  return 0;
}

}  // namespace muse::cli
