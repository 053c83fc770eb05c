// `muse contemplate -m MODEL "question"`: Contemplating mode (reason/contemplate.h) with
// live lanes in a terminal, one line per agent (tokens, confidence, status, latest text),
// then the answer and its vote share; --json prints the whole result for machines.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/chat_prompt.h"
#include "cli/commands.h"
#include "cli/contemplate_flags.h"
#include "cli/engine_flags.h"
#include "cli/model_flags.h"
#include "gym/gym.h"
#include "reason/contemplate.h"
#include "reason/refine.h"
#include "runtime/engine.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse contemplate [-m MODEL] [options] [QUESTION]\n\n"
      "Several agents reason about QUESTION in parallel (one prefill, branches decoded in\n"
      "one batch); low-confidence agents stop early (DeepConf), a consensus ends the rest,\n"
      "and a confidence-weighted vote gives the answer. QUESTION goes through the model's\n"
      "chat template unless --raw. Without -m, the default model (models/muse-nano.gguf);\n"
      "without QUESTION, a question of the gym's held-out split (with its gold answer).\n\n"
      "  --effort E            instant | thinking | contemplating (default)\n"
      "  --agents N            agents (default 8)\n"
      "%s"
      "  --refine              distill the agents' answers into a workspace, then a synthesizer\n"
      "                        agent reads it and answers (Parallel-Distill-Refine)\n"
      "  --rounds N            draft rounds before the synthesizer, each reading the previous\n"
      "                        round's workspace (default 1; implies --refine)\n"
      "  --workspace N         summaries kept in the workspace (default 4)\n"
      "  --raw                 QUESTION is the raw prompt (no chat template)\n"
      "  --json                print the result as JSON, no lanes\n\n"
      "Model and sampling options (--temp, --top-k, --top-p, -s seed, -t, -c, --kv-type):\n%s",
      contemplate_flags_help(), model_flags_help());
}

// Text safe for one terminal line: control characters become spaces.
std::string printable(std::string_view text) {
  std::string out;
  for (char ch : text) out += (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ? ' ' : ch;
  return out;
}

// The last ~n bytes of s, not starting inside a UTF-8 character.
std::string_view tail_utf8(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  size_t i = s.size() - n;
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  return s.substr(i);
}

// One terminal line per agent, redrawn in place.
class Lanes {
 public:
  explicit Lanes(int n)
      : lines_(size_t(n)), tokens_(size_t(n)), conf_(size_t(n)), status_(size_t(n), "waiting") {}
  void on(const ContemplateEvent& e) {
    using K = ContemplateEvent::Kind;
    if (e.kind == K::kFinal) {  // agents still waiting were never needed
      for (std::string& st : status_)
        if (st == "waiting") st = "not started";
      if (drawn_) draw();
      return;
    }
    if (e.agent < 0 || size_t(e.agent) >= lines_.size()) return;
    const size_t a = size_t(e.agent);
    if (e.kind == K::kAgentStarted) {  // a new round (refine) reuses the lane
      lines_[a].clear();
      tokens_[a] = 0;
      conf_[a] = 0;
      status_[a] = "thinking";
    } else if (e.kind == K::kToken) {
      ++tokens_[a];
      conf_[a] = e.confidence;
      lines_[a] += printable(e.text);
      if (lines_[a].size() > 400) lines_[a] = std::string(tail_utf8(lines_[a], 200));
    } else if (e.kind == K::kAgentStopped) {
      status_[a] = "stopped: " + e.reason;
    } else if (e.kind == K::kAgentFinished) {
      status_[a] = "answer " + (e.text.empty() ? std::string("(none)") : printable(e.text));
    }
    const auto now = std::chrono::steady_clock::now();
    if (e.kind == K::kToken && now - last_ < std::chrono::milliseconds(80)) return;
    last_ = now;
    draw();
  }
  void draw() {
    if (drawn_) std::printf("\033[%zuA", lines_.size());
    for (size_t a = 0; a < lines_.size(); ++a) {
      const std::string tail(tail_utf8(lines_[a], 48));
      std::printf("\033[2K agent %-2zu %5d tok  conf %5.2f  %-26.26s | %s\n", a, tokens_[a],
                  conf_[a], status_[a].c_str(), tail.c_str());
    }
    std::fflush(stdout);
    drawn_ = true;
  }

 private:
  std::vector<std::string> lines_;
  std::vector<int> tokens_;
  std::vector<double> conf_;
  std::vector<std::string> status_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

}  // namespace

int cmd_contemplate(int argc, char** argv) {
  ModelFlags flags;
  ContemplateOptions o;
  std::string question;
  bool json = false, raw = false, have_question = false;
  bool refine_on = false;
  RefineOptions ro;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const auto bad = [&](const char* what) {
      std::fprintf(stderr, "muse contemplate: %s takes %s\n", a.c_str(), what);
      return 2;
    };
    long n = 0;
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    } else if (a == "--effort") {
      const char* v = value();
      auto e = v ? parse_effort(v) : StatusOr<Effort>(Errorf("missing value"));
      if (!e.ok()) return bad("instant, thinking or contemplating");
      o.effort = *e;
    } else if (a == "--agents") {
      const char* v = value();
      if (!v || !parse_long(v, 1, 256, &n)) return bad("an integer from 1 to 256");
      o.agents = int(n);
    } else if (a == "--refine") {
      refine_on = true;
    } else if (a == "--rounds") {
      long n = 0;
      if (!parse_long(value(), 1, 16, &n)) return bad("an integer in 1..16");
      ro.rounds = int(n);
      refine_on = true;
    } else if (a == "--workspace") {
      long n = 0;
      if (!parse_long(value(), 1, 64, &n)) return bad("an integer in 1..64");
      ro.workspace_items = int(n);
    } else if (a == "--raw") {
      raw = true;
    } else if (a == "--json") {
      json = true;
    } else if (int c = parse_contemplate_flag("contemplate", argc, argv, &i, &o); c != 0) {
      if (c == -1) return 2;
    } else if (int r = parse_model_flag("contemplate", argc, argv, &i, &flags); r != 1) {
      if (r == -1) return 2;
      if (!a.empty() && a[0] == '-') {
        std::fprintf(stderr, "muse contemplate: unknown option '%s' (see --help)\n", a.c_str());
        return 2;
      }
      question = have_question ? question + " " + a : a;
      have_question = true;
    }
  }
  // No question: one from the gym's held-out medium split, with its gold answer shown, so
  // `muse contemplate` alone demonstrates the mode on the default model.
  std::string gold;
  if (!have_question) {
    auto items = gym_generate("medium", GymSplit::kHeldOut, 0, 0);
    if (!items.ok() || items->empty()) {
      std::fprintf(stderr, "muse contemplate: no question given (see --help)\n");
      return 2;
    }
    const uint64_t pick =
        flags.sampling.seed != SamplerParams::kRandomSeed
            ? flags.sampling.seed
            : uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    const GymItem& item = (*items)[size_t(pick % items->size())];
    question = item.question;
    gold = item.answer;
    if (!json) {
      std::fprintf(stderr,
                   "no question given; a held-out gym question (%s:%s, gold answer %s):\n  %s\n",
                   item.family.c_str(), item.level.c_str(), gold.c_str(), question.c_str());
    }
  }
  apply_sampling_flags(flags, &o);
  if (Status s = validate(o); !s.ok()) {
    std::fprintf(stderr, "muse contemplate: %s\n", s.message().c_str());
    return 2;
  }

  auto m = load_model(flags, /*quiet=*/json);
  if (!m.ok()) {
    std::fprintf(stderr, "muse contemplate: %s\n", m.status().message().c_str());
    return 1;
  }
  const Tokenizer& tok = *m->tokenizer;
  std::vector<int32_t> ids;
  if (raw) {
    ids = tok.encode(question, /*add_special=*/true, /*parse_special=*/false);
  } else {
    auto chat_ids = chat_prompt_ids(m->model->gguf(), tok, "", question);
    if (!chat_ids.ok()) {
      std::fprintf(stderr, "muse contemplate: %s\n", chat_ids.status().message().c_str());
      return 1;
    }
    ids = std::move(*chat_ids);
  }

  const int agents = o.effort == Effort::kContemplating ? o.agents : 1;
  auto engine = make_engine(*m, flags, agents);
  if (!engine.ok()) {
    std::fprintf(stderr, "muse contemplate: %s\n", engine.status().message().c_str());
    return 1;
  }
  EngineBackend backend(**engine);
  const bool lanes_on = !json && isatty(STDOUT_FILENO);
  Lanes lanes(agents);
  if (refine_on) {
    // Each round's prompt: the question, then the workspace in the same user turn.
    const PromptBuilder build = [&](const std::string& ws) -> StatusOr<std::vector<int32_t>> {
      const std::string text = ws.empty() ? question : question + "\n\n" + ws;
      if (raw) return tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
      return chat_prompt_ids(m->model->gguf(), tok, "", text);
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto rr = contemplate_refine(backend, tok, build, o, ro, [&](const ContemplateEvent& e) {
      if (lanes_on) lanes.on(e);
    });
    if (!rr.ok()) {
      std::fprintf(stderr, "muse contemplate: %s\n", rr.status().message().c_str());
      return 1;
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (json) {
      nlohmann::ordered_json j;
      j["answer"] = rr->answer;
      j["tokens"] = rr->tokens;
      j["wall_s"] = wall;
      j["rounds"] = nlohmann::ordered_json::array();
      for (const ContemplateResult& r : rr->rounds)
        j["rounds"].push_back({{"answer", r.answer}, {"share", r.share}, {"tokens", r.tokens}});
      j["workspace"] = rr->workspace;
      j["synthesis"] = rr->synthesis;
      std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      return 0;
    }
    if (lanes_on) lanes.draw();
    for (size_t r = 0; r < rr->rounds.size(); ++r)
      std::printf("round %zu: %s (vote share %.0f%%, %lld tokens)\n", r + 1,
                  rr->rounds[r].answer.empty() ? "(none)" : printable(rr->rounds[r].answer).c_str(),
                  100 * rr->rounds[r].share, (long long)rr->rounds[r].tokens);
    std::printf("\nanswer: %s  (%s, %lld tokens, %.1f s)\n",
                rr->answer.empty() ? "(none)" : printable(rr->answer).c_str(),
                rr->synthesis.empty() ? "last vote" : "synthesized", (long long)rr->tokens, wall);
    return 0;
  }
  auto result = contemplate(backend, tok, ids, o, [&](const ContemplateEvent& e) {
    if (lanes_on) lanes.on(e);
  });
  if (!result.ok()) {
    std::fprintf(stderr, "muse contemplate: %s\n", result.status().message().c_str());
    return 1;
  }
  if (lanes_on) lanes.draw();
  if (json) {
    nlohmann::ordered_json j;
    j["answer"] = result->answer;
    j["share"] = result->share;
    j["tokens"] = result->tokens;
    j["wall_s"] = result->wall_s;
    j["threshold"] = result->threshold;
    if (!gold.empty()) {
      j["question"] = question;
      j["gold"] = gold;
      j["correct"] = result->answer == gold;
    }
    j["tally"] = nlohmann::ordered_json::array();
    for (const Tally& t : result->tally)
      j["tally"].push_back({{"answer", t.answer}, {"weight", t.weight}, {"votes", t.votes}});
    j["agents"] = nlohmann::ordered_json::array();
    for (const AgentReport& r : result->agents) {
      j["agents"].push_back({{"id", r.id},
                             {"status", std::string(agent_status_name(r.status))},
                             {"answer", r.answer ? nlohmann::ordered_json(*r.answer) : nullptr},
                             {"confidence", r.confidence},
                             {"tokens", r.tokens},
                             {"forced", r.forced},
                             {"text", r.text}});
    }
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("\nanswer: %s  (vote share %.0f%%, %lld tokens, %.1f s)\n",
              result->answer.empty() ? "(none)" : printable(result->answer).c_str(),
              100 * result->share, (long long)result->tokens, result->wall_s);
  std::printf("votes:");
  for (const Tally& t : result->tally)
    std::printf("  %s ×%d (weight %.2f)", printable(t.answer).c_str(), int(t.votes), t.weight);
  std::printf("\n");
  if (!gold.empty()) {
    std::printf("gold:   %s  (%s)\n", gold.c_str(), result->answer == gold ? "correct" : "wrong");
  }
  if (!lanes_on) {
    for (const AgentReport& r : result->agents)
      if (r.status == AgentStatus::kNotStarted)
        std::printf("  agent %d: not started\n", r.id);
      else
        std::printf("  agent %d: %s, %lld tokens, confidence %.2f%s%s\n", r.id,
                    std::string(agent_status_name(r.status)).c_str(), (long long)r.tokens,
                    r.confidence, r.answer ? ", answer " : "",
                    r.answer ? printable(*r.answer).c_str() : "");
  }
  return 0;
}

}  // namespace muse::cli
