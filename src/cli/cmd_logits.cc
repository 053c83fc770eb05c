// `muse logits`: the conformance and debugging tool. Evaluates a prompt (or explicit token
// ids) and prints, for every position, the highest logits:
//   {"tokens": [ids], "top": [[[id, logit], ...] for each position]}
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_flags.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse logits -m MODEL (-p PROMPT | --tokens 1,2,3) [--top K] [--json]\n"
      "                   [--kv-type f32|f16|q8_0] [--special]\n\n"
      "Evaluates the prompt in one pass and prints the K highest logits (default 16) at\n"
      "every position. -p tokenizes PROMPT as the model's vocabulary says (BOS added when\n"
      "the vocab asks for it; --special parses special-token text like <|im_start|>);\n"
      "--tokens feeds the ids as given (no BOS added). Conformance runs use --kv-type f32.\n\n%s",
      model_flags_help());
}

bool parse_ids(const std::string& s, std::vector<int32_t>* out) {
  size_t i = 0;
  while (i < s.size()) {
    size_t end = s.find(',', i);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(i, end - i);
    char* e = nullptr;
    const long v = std::strtol(item.c_str(), &e, 10);
    if (item.empty() || *e || v < 0 || v > INT32_MAX) return false;
    out->push_back(int32_t(v));
    i = end + 1;
  }
  return !out->empty();
}

}  // namespace

int cmd_logits(int argc, char** argv) {
  ModelFlags flags;
  flags.kv_type = "f32";
  std::string prompt;
  bool have_prompt = false, parse_special = false, json = false;
  std::vector<int32_t> ids;
  int top = 16;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    }
    if ((a == "-p" || a == "--prompt" || a == "--tokens" || a == "--top") && i + 1 >= argc) {
      std::fprintf(stderr, "muse logits: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "-p" || a == "--prompt") {
      prompt = argv[++i];
      have_prompt = true;
    } else if (a == "--tokens") {
      if (!parse_ids(argv[++i], &ids)) {
        std::fprintf(stderr, "muse logits: --tokens takes comma-separated token ids\n");
        return 2;
      }
    } else if (a == "--top") {
      top = std::atoi(argv[++i]);
      if (top < 1 || top > 1000) {
        std::fprintf(stderr, "muse logits: --top takes a count from 1 to 1000\n");
        return 2;
      }
    } else if (a == "--json") {
      json = true;
    } else if (a == "--special") {
      parse_special = true;
    } else if (int r = parse_model_flag("logits", argc, argv, &i, &flags); r != 1) {
      if (r == 0) std::fprintf(stderr, "muse logits: unknown option '%s'\n", a.c_str());
      return 2;
    }
  }
  if (have_prompt == !ids.empty()) {
    std::fprintf(stderr, "muse logits: give exactly one of -p PROMPT and --tokens IDS\n");
    return 2;
  }
  auto m = load_model(flags, /*quiet=*/true);
  if (!m.ok()) {
    std::fprintf(stderr, "muse logits: %s\n", m.status().message().c_str());
    return 1;
  }
  if (have_prompt) ids = m->tokenizer->encode(prompt, /*add_special=*/true, parse_special);
  if (ids.empty()) {
    std::fprintf(stderr, "muse logits: the prompt tokenizes to nothing\n");
    return 1;
  }
  if (int64_t(ids.size()) > m->ctx->n_ctx()) {
    std::fprintf(stderr, "muse logits: %zu tokens exceed the context size %lld (use -c)\n",
                 ids.size(), (long long)m->ctx->n_ctx());
    return 1;
  }
  if (Status s = m->ctx->eval(ids, /*all_logits=*/true); !s.ok()) {
    std::fprintf(stderr, "muse logits: %s\n", s.message().c_str());
    return 1;
  }

  const int64_t V = m->model->config().n_vocab;
  const int k = int(std::min<int64_t>(top, V));
  std::vector<int32_t> order(static_cast<size_t>(V));
  std::string out = json ? "{\"tokens\": [" : "";
  if (json) {
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
    out += "], \"top\": [";
  }
  char buf[64];
  for (size_t p = 0; p < ids.size(); ++p) {
    const auto logits = m->ctx->logits(int64_t(p));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    if (json) {
      out += p ? ", [" : "[";
      for (int j = 0; j < k; ++j) {
        std::snprintf(buf, sizeof buf, "%s[%d, %.9g]", j ? ", " : "", order[j],
                      double(logits[order[j]]));
        out += buf;
      }
      out += "]";
    } else {
      const std::string piece = m->tokenizer->token_to_piece(ids[p], true);
      std::snprintf(buf, sizeof buf, "%4zu %7d ", p, ids[p]);
      out += buf + ("'" + piece + "'") + "\n     ";
      for (int j = 0; j < k; ++j) {
        std::snprintf(buf, sizeof buf, " %d:%.4f", order[j], double(logits[order[j]]));
        out += buf;
      }
      out += "\n";
    }
  }
  if (json) out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace muse::cli
