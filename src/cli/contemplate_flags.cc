#include "cli/contemplate_flags.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace muse::cli {

bool parse_long(const char* s, long lo, long hi, long* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

namespace {

bool to_double(const char* s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s, &end);
  return *s && !*end;
}

}  // namespace

const char* contemplate_flags_help() {
  return "  --budget T            thinking tokens per agent before budget forcing (default 1024,\n"
         "                        -1 = unlimited)\n"
         "  --answer-tokens N     tokens allowed after thinking ends (default 128)\n"
         "  --parallel N          agents decoding at once; the next starts when one ends\n"
         "                        (default: a quarter of the agents, at least 2)\n"
         "  --ladder on|off       agent i of n samples at temp * (i + 1) / n (default on;\n"
         "                        off: every agent at --temp)\n"
         "  --window N            confidence window (default budget/32 within 16..2048; 64\n"
         "                        without a budget)\n"
         "  --warmup N            finished agents that set the early-stop threshold (default\n"
         "                        max(2, agents/4))\n"
         "  --keep P              keep the P % most confident traces (default 90)\n"
         "  --consensus F         stop once the leading answer has this vote share (default 0.95)\n"
         "  --max-total N         token budget of all agents together (default: none)\n"
         "  --format F            answer extractor: auto, boxed, hashes, answer, last-number, "
         "exact\n"
         "  --think-end TEXT      end-of-thinking delimiter (default </think>)\n";
}

int parse_contemplate_flag(const char* cmd, int argc, char** argv, int* i, ContemplateOptions* o) {
  const std::string a = argv[*i];
  static constexpr const char* kFlags[] = {
      "--budget",    "--answer-tokens", "--window", "--warmup", "--keep",     "--consensus",
      "--max-total", "--parallel",      "--ladder", "--format", "--think-end"};
  bool known = false;
  for (const char* f : kFlags) known |= a == f;
  if (!known) return 0;
  const char* v = *i + 1 < argc ? argv[++*i] : nullptr;
  const auto bad = [&](const char* what) {
    std::fprintf(stderr, "muse %s: %s takes %s\n", cmd, a.c_str(), what);
    return -1;
  };
  if (!v) return bad("a value");
  long n = 0;
  double d = 0;
  if (a == "--budget") {
    if (!parse_long(v, -1, 1 << 20, &n)) return bad("an integer >= -1");
    o->thinking_budget = int32_t(n);
  } else if (a == "--answer-tokens") {
    if (!parse_long(v, 1, 1 << 20, &n)) return bad("a positive integer");
    o->max_answer_tokens = int32_t(n);
  } else if (a == "--window" || a == "--warmup" || a == "--parallel") {
    if (!parse_long(v, 0, 1 << 20, &n)) return bad("an integer >= 0");
    (a == "--window" ? o->window : a == "--warmup" ? o->warmup : o->parallel) = int(n);
  } else if (a == "--ladder") {
    const std::string s = v;
    if (s != "on" && s != "off") return bad("on or off");
    o->temperature_ladder = s == "on";
  } else if (a == "--keep") {
    if (!to_double(v, &d)) return bad("a percentage in (0, 100]");
    o->keep_percent = d;
  } else if (a == "--consensus") {
    if (!to_double(v, &d)) return bad("a fraction in (0, 1]");
    o->consensus = d;
  } else if (a == "--max-total") {
    if (!parse_long(v, 0, 1L << 40, &n)) return bad("an integer >= 0");
    o->max_total_tokens = n;
  } else if (a == "--format") {
    auto f = parse_answer_format(v);
    if (!f.ok()) return bad("auto, boxed, hashes, answer, last-number or exact");
    o->answer_format = *f;
  } else if (a == "--think-end") {
    if (!*v) return bad("a non-empty text");
    o->think_end = v;
  } else {  // in kFlags but not handled above: not ours after all
    --*i;
    return 0;
  }
  return 1;
}

}  // namespace muse::cli
