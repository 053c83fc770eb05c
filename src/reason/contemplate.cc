// The Contemplating loop: prefill once, fork the agents, then one engine step at a time:
// per token, confidence and text; per agent, budget forcing, answer cut-off and the
// confidence early stop; per finished agent, the warm-up threshold and the consensus check.
#include "reason/contemplate.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "reason/confidence.h"

namespace muse {
namespace {

struct Agent {
  Agent(int i, SeqId s, const Tokenizer& tok, int window)
      : id(i), seq(s), decoder(tok, {.continues_text = true}), group(window) {}
  int id;
  SeqId seq;
  StreamDecoder decoder;
  GroupConfidence group;
  AgentStatus status = AgentStatus::kNotStarted;  // until start() forks it
  std::string text;
  std::optional<std::string> answer;  // normalized; set once the agent finishes
  bool thinking_done = false;
  bool forced = false;
  int64_t think_tokens = 0, answer_tokens = 0, tokens = 0;
  std::vector<float> confidences;  // C_t per sampled token
};

const char* stop_reason(AgentStatus s) {
  switch (s) {
    case AgentStatus::kStoppedConfidence:
      return "low confidence";
    case AgentStatus::kStoppedConsensus:
      return "consensus reached";
    case AgentStatus::kStoppedBudget:
      return "token budget spent";
    default:
      return "";
  }
}

}  // namespace

StatusOr<Effort> parse_effort(std::string_view name) {
  if (name == "instant") return Effort::kInstant;
  if (name == "thinking") return Effort::kThinking;
  if (name == "contemplating" || name == "contemplate") return Effort::kContemplating;
  return Errorf("unknown effort '%s' (instant, thinking, contemplating)",
                std::string(name).c_str());
}

std::string_view agent_status_name(AgentStatus s) {
  switch (s) {
    case AgentStatus::kRunning:
      return "running";
    case AgentStatus::kFinished:
      return "finished";
    case AgentStatus::kStoppedConfidence:
      return "stopped: low confidence";
    case AgentStatus::kStoppedConsensus:
      return "stopped: consensus";
    case AgentStatus::kStoppedBudget:
      return "stopped: budget";
    case AgentStatus::kNotStarted:
      return "not started";
  }
  return "?";
}

Status validate(const ContemplateOptions& o) {
  if (o.agents < 1 || o.agents > 256) return Errorf("agents must be 1..256 (got %d)", o.agents);
  if (o.thinking_budget < -1) return Errorf("thinking_budget must be >= -1");
  if (o.max_answer_tokens < 1) return Errorf("max_answer_tokens must be >= 1");
  if (o.window < 0 || o.warmup < 0 || o.parallel < 0)
    return Errorf("window, warmup and parallel must be >= 0");
  if (!(o.keep_percent > 0 && o.keep_percent <= 100))
    return Errorf("keep_percent must be in (0, 100] (got %g)", o.keep_percent);
  if (!(o.consensus > 0 && o.consensus <= 1))
    return Errorf("consensus must be in (0, 1] (got %g)", o.consensus);
  if (o.max_total_tokens < 0) return Errorf("max_total_tokens must be >= 0");
  if (o.think_end.empty()) return Errorf("think_end must not be empty");
  return Status::Ok();
}

StatusOr<ContemplateResult> contemplate(BranchBackend& backend, const Tokenizer& tokenizer,
                                        std::span<const int32_t> prompt,
                                        const ContemplateOptions& opts,
                                        const ContemplateCallback& on_event) {
  MUSE_RETURN_IF_ERROR(validate(opts));
  const auto t0 = std::chrono::steady_clock::now();
  const auto emit = [&](ContemplateEvent e) {
    if (on_event) on_event(e);
  };
  const bool contemplating = opts.effort == Effort::kContemplating;
  const int n_agents = contemplating ? opts.agents : 1;
  const int32_t budget = opts.effort == Effort::kInstant ? -1 : opts.thinking_budget;
  // DeepConf's 2048-token window for 64k-token budgets is 1/32 of the budget.
  const int window =
      opts.window > 0 ? opts.window : std::clamp(budget > 0 ? budget / 32 : 64, 16, 2048);
  const int warmup = opts.warmup > 0 ? opts.warmup : std::max(2, n_agents / 4);
  const bool early = contemplating && n_agents > warmup;

  // Every sequence this call creates is cancelled before it returns, error or not.
  std::vector<SeqId> live;
  const auto cancel_all = [&] {
    for (SeqId s : live) (void)backend.cancel(s);
    live.clear();
  };
  const auto fail = [&](Status s) -> StatusOr<ContemplateResult> {
    cancel_all();
    return s;
  };

  // 1. One prefill, held for the fork.
  auto parent =
      backend.submit({.prompt = {prompt.begin(), prompt.end()}, .gen = {.max_tokens = 0}});
  if (!parent.ok()) return parent.status();
  live.push_back(*parent);
  while (!backend.idle())
    if (auto ev = backend.step(); !ev.ok()) return fail(ev.status());

  std::vector<GenParams> gens;
  for (int i = 0; i < n_agents; ++i) {
    const AgentRole* role =
        opts.roles.empty() ? nullptr : &opts.roles[size_t(i) % opts.roles.size()];
    float temp = opts.temperature;
    if (role && role->temperature >= 0)
      temp = role->temperature;
    else if (opts.temperature_ladder)
      temp = opts.temperature * float(i + 1) / float(n_agents);
    gens.push_back(GenParams{.sampling = {.temperature = temp,
                                          .top_k = opts.top_k,
                                          .top_p = opts.top_p,
                                          .seed = opts.seed + uint64_t(i),
                                          .n_logprobs = SamplerParams::kMaxLogprobs},
                             // Forced tokens do not count; this bounds thinking + answer.
                             .max_tokens = budget >= 0 ? budget + opts.max_answer_tokens : -1,
                             .ignore_eos = false});
  }

  std::vector<Agent> agents;
  std::unordered_map<SeqId, size_t> by_seq;
  agents.reserve(size_t(n_agents));
  for (int i = 0; i < n_agents; ++i) agents.emplace_back(i, SeqId{-1}, tokenizer, window);
  const int parallel =
      std::min(n_agents, opts.parallel > 0 ? opts.parallel : std::max(2, n_agents / 4));
  int n_started = 0, n_running = 0;
  const auto release_prompt = [&] {
    if (const auto it = std::find(live.begin(), live.end(), *parent); it != live.end()) {
      (void)backend.cancel(*parent);
      live.erase(it);
    }
  };
  // Forks agents [n_started, n_started + n) from the held prompt, which is released once the
  // last agent has started. On an error no agent of the wave has started (their sequences
  // are cancelled).
  const auto start = [&](int n) -> Status {
    auto kids = backend.fork(*parent, std::span(gens).subspan(size_t(n_started), size_t(n)));
    if (!kids.ok()) return kids.status();
    for (int k = 0; k < n && !opts.roles.empty(); ++k) {
      const std::string& text = opts.roles[size_t(n_started + k) % opts.roles.size()].prompt;
      const std::vector<int32_t> ids =
          text.empty() ? std::vector<int32_t>{} : tokenizer.encode(text, false, true);
      Status s = ids.empty() ? Status::Ok() : backend.append((*kids)[size_t(k)], ids);
      if (!s.ok()) {
        for (SeqId id : *kids) (void)backend.cancel(id);
        return s;
      }
    }
    live.insert(live.end(), kids->begin(), kids->end());
    for (int k = 0; k < n; ++k) {
      Agent& a = agents[size_t(n_started)];
      a.seq = (*kids)[size_t(k)];
      a.status = AgentStatus::kRunning;
      by_seq[a.seq] = size_t(n_started);
      ++n_started;
      ++n_running;
      if (budget < 0 && opts.effort == Effort::kInstant) a.thinking_done = true;
      emit({.kind = ContemplateEvent::Kind::kAgentStarted, .agent = a.id});
    }
    if (n_started == n_agents) release_prompt();
    return Status::Ok();
  };
  if (Status s = start(parallel); !s.ok()) return fail(s);

  ContemplateResult result;
  std::optional<double> threshold;
  std::vector<float> warm_lowest;
  int n_finished = 0;
  bool decided = false, starts_failed = false;

  const auto stop = [&](Agent& a, AgentStatus why) {
    (void)backend.cancel(a.seq);
    live.erase(std::find(live.begin(), live.end(), a.seq));
    --n_running;
    a.status = why;
    emit({.kind = ContemplateEvent::Kind::kAgentStopped,
          .agent = a.id,
          .confidence = a.group.current(),
          .reason = stop_reason(why)});
  };
  const auto ballots = [&] {
    std::vector<Ballot> b;
    for (const Agent& a : agents) {
      if (a.status == AgentStatus::kFinished && a.answer)
        b.push_back({*a.answer, opts.confidence_weights ? a.group.lowest() : 1.0});
    }
    return b;
  };
  // An agent ended by itself (or was cut after its answer): it votes.
  const auto finished = [&](Agent& a, bool cancel) {
    if (cancel) {
      (void)backend.cancel(a.seq);
    }
    live.erase(std::find(live.begin(), live.end(), a.seq));
    --n_running;
    a.text += a.decoder.flush();
    a.status = AgentStatus::kFinished;
    ++n_finished;
    if (const auto ans = extract_answer(a.text, opts.answer_format))
      a.answer = normalize_answer(*ans);
    emit({.kind = ContemplateEvent::Kind::kAgentFinished,
          .agent = a.id,
          .text = a.answer.value_or(""),
          .confidence = a.group.lowest()});
    if (!early) return;
    if (!threshold && n_finished <= warmup) warm_lowest.push_back(a.group.lowest());
    if (!threshold && n_finished == warmup) {
      auto s = confidence_threshold(warm_lowest, float(opts.keep_percent));
      if (s.ok()) threshold = result.threshold = *s;
    }
    if (n_finished >= warmup && !decided) {
      const VoteResult v = weighted_vote(ballots());
      emit({.kind = ContemplateEvent::Kind::kVote, .text = v.answer, .share = v.share});
      if (consensus_reached(v, opts.consensus)) decided = true;
    }
  };

  while (n_running > 0) {
    auto events = backend.step();
    if (!events.ok()) return fail(events.status());
    for (const TokenEvent& ev : *events) {
      const auto it = by_seq.find(ev.seq);
      if (it == by_seq.end()) continue;
      Agent& a = agents[it->second];
      if (a.status != AgentStatus::kRunning) continue;
      if (ev.token >= 0) {
        ++a.tokens;
        ++result.tokens;
        a.confidences.push_back(token_confidence(ev.sample.top));
        a.group.push(a.confidences.back());
        const std::string piece = a.decoder.push(ev.token);
        const size_t from =
            a.text.size() > opts.think_end.size() ? a.text.size() - opts.think_end.size() : 0;
        a.text += piece;
        if (!a.thinking_done) {
          ++a.think_tokens;
          if (a.text.find(opts.think_end, from) != std::string::npos) a.thinking_done = true;
        } else {
          ++a.answer_tokens;
        }
        emit({.kind = ContemplateEvent::Kind::kToken,
              .agent = a.id,
              .text = piece,
              .confidence = a.group.current()});
      }
      if (ev.finish != SeqFinish::kNone) finished(a, /*cancel=*/false);
    }
    for (Agent& a : agents) {
      if (a.status != AgentStatus::kRunning) continue;
      if (decided) {
        stop(a, AgentStatus::kStoppedConsensus);
      } else if (opts.max_total_tokens > 0 && result.tokens >= opts.max_total_tokens) {
        stop(a, AgentStatus::kStoppedBudget);
      } else if (early && threshold && a.group.full() && a.group.current() < *threshold) {
        stop(a, AgentStatus::kStoppedConfidence);
      } else if (a.thinking_done && a.answer_tokens >= opts.max_answer_tokens) {
        finished(a, /*cancel=*/true);
      } else if (!a.thinking_done && budget >= 0 && a.think_tokens >= budget) {
        // Budget forcing: close the thinking and start the answer.
        const std::string forced = opts.think_end + opts.answer_prefix;
        a.text += a.decoder.flush() + forced;
        a.thinking_done = a.forced = true;
        emit({.kind = ContemplateEvent::Kind::kToken,
              .agent = a.id,
              .text = forced,
              .confidence = a.group.current()});
        if (Status s = backend.append(a.seq, tokenizer.encode(forced, false, true)); !s.ok()) {
          finished(a, /*cancel=*/true);  // no room left: answer with what it has
        }
      }
    }
    // Agents that ended make room for the next ones, unless the vote is decided or the
    // token budget spent (those leave the rest unstarted). A later wave that cannot start
    // (the held prompt was preempted under memory pressure, a role text does not fit) ends
    // the starting: the agents already finished still vote.
    const bool spent = opts.max_total_tokens > 0 && result.tokens >= opts.max_total_tokens;
    if (!decided && !spent && !starts_failed && n_started < n_agents && n_running < parallel) {
      if (Status s = start(std::min(parallel - n_running, n_agents - n_started)); !s.ok()) {
        starts_failed = true;
        release_prompt();
      }
    }
  }
  cancel_all();  // the held prompt, when agents were left unstarted

  std::vector<Ballot> kept = filter_top(ballots(), opts.keep_percent);
  const VoteResult v = weighted_vote(kept);
  result.answer = v.answer;
  result.share = v.share;
  result.tally = v.tally;
  for (Agent& a : agents) {  // the agents are done with: their text and C_t move out
    result.agents.push_back(AgentReport{.id = a.id,
                                        .status = a.status,
                                        .text = std::move(a.text),
                                        .answer = a.answer,
                                        .confidence = a.group.lowest(),
                                        .current_confidence = a.group.current(),
                                        .tokens = a.tokens,
                                        .forced = a.forced,
                                        .token_confidences = std::move(a.confidences)});
  }
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  emit({.kind = ContemplateEvent::Kind::kFinal, .text = result.answer, .share = result.share});
  return result;
}

}  // namespace muse
