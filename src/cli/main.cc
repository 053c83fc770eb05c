// `muse` command-line entry: dispatches to one subcommand per file (cli/cmd_*.cc).
#include <cstdio>
#include <cstring>

#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* help;
};

constexpr Command kCommands[] = {
    {"run", muse::cli::cmd_run, "generate text from a prompt"},
    {"chat", muse::cli::cmd_chat, "chat interactively through the model's chat template"},
    {"contemplate", muse::cli::cmd_contemplate, "parallel agents, confidence early stop, vote"},
    {"serve", muse::cli::cmd_serve, "OpenAI-compatible HTTP server with a web chat UI"},
    {"eval", muse::cli::cmd_eval, "accuracy of greedy / single / sc@N / contemplate@N"},
    {"train", muse::cli::cmd_train, "train a model from a recipe (muse-nano: --recipe nano)"},
    {"gym", muse::cli::cmd_gym, "print procedural reasoning tasks (training corpus, held-out)"},
    {"logits", muse::cli::cmd_logits, "print the top logits at every prompt position"},
    {"info", muse::cli::cmd_info, "print a GGUF file's metadata and tensor table"},
    {"gen-model", muse::cli::cmd_gen_model, "write a random-weight GGUF model"},
    {"bench", muse::cli::cmd_bench, "measure kernel and model throughput"},
    {"quantize", muse::cli::cmd_quantize, "quantize a GGUF model (Q8_0, Q4_0, K-quant mixes)"},
    {"template", muse::cli::cmd_template, "render a conversation through a chat template"},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: muse <command> [options]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
  std::fprintf(out, "\n`muse <command> --help` describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    print_usage(stdout);
    return 0;
  }
  for (const Command& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
  std::fprintf(stderr, "muse: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
