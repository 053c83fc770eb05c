// Contemplating mode (ARCHITECTURE.md section 6): several agents reason in parallel from one
// prompt and their answers are combined. One prefill; the agents are forks of it, decoded in
// one batch by the engine.
//
//   1. Draft: fork `agents` branches (optional role text appended per agent, own
//      temperature and seed), decode together. With `parallel` below `agents` (the
//      default), only that many decode at once and the next agent is forked from the held prompt
//      when one ends, so a vote decided early leaves the later agents unstarted. Agent temperatures
//      form a ladder up to the base temperature (agent i of n at T * (i + 1) / n), lowest first:
//      the first agents are the most accurate, the later ones the most diverse.
//   2. Confidence (DeepConf, Fu et al. 2025): token confidence C_t = -mean(top-20 logprobs),
//      group confidence = mean over a sliding window. Once `warmup` agents have finished,
//      the threshold s = the (100 - keep_percent)th percentile of their lowest group
//      confidences; a running agent whose full window falls below s is stopped and does not
//      vote. When the confidence-weighted share of the leading answer among finished agents
//      reaches `consensus` (with at least `warmup` finished), the others are stopped.
//   3. Budget forcing: an agent that has thought `thinking_budget` tokens without closing its
//      thinking gets the end-of-thinking delimiter and the answer prefix appended, so it
//      still answers; answers are cut after `max_answer_tokens`.
//   4. Vote: each finished agent's extracted, normalized answer weighted by its trace
//      confidence (lowest group confidence), after keeping the `keep_percent` % most
//      confident; the winner and its share are the result.
//
// Effort levels share the API: instant (one agent, thinking closed at once), thinking (one
// agent with the budget), contemplating (the above).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "reason/answer.h"
#include "reason/backend.h"
#include "reason/vote.h"
#include "tokenizer/tokenizer.h"

namespace muse {

enum class Effort { kInstant, kThinking, kContemplating };
StatusOr<Effort> parse_effort(std::string_view name);  // "instant", "thinking", "contemplating"

struct AgentRole {
  std::string prompt;        // text appended after the shared prompt ("" = none)
  float temperature = 0.8f;  // < 0: the options' temperature
};

struct ContemplateOptions {
  Effort effort = Effort::kContemplating;
  int agents = 8;                // contemplating only; instant and thinking use one
  std::vector<AgentRole> roles;  // cycled over the agents; empty = none
  float temperature = 0.8f;
  // Agent i of n samples at temperature * (i + 1) / n (a role's own temperature wins);
  // false: every agent at `temperature` (plain self-consistency).
  bool temperature_ladder = true;
  // Agents decoding at once; the next starts as one ends. 0 = a quarter of the agents, at
  // least 2: on muse-nano's tuning split, 2 of 8 kept the accuracy of starting all 8 at a
  // third of the tokens, since the first two agents decide most votes (docs/reason.md).
  int parallel = 0;
  float top_p = 0.95f;
  int32_t top_k = 40;
  uint64_t seed = 1;                // agent i samples with seed + i
  int32_t thinking_budget = 1024;   // thinking tokens per agent; -1 = unlimited
  int32_t max_answer_tokens = 128;  // tokens after thinking ends
  int window = 0;  // confidence window; 0 = clamp(budget / 32, 16, 2048), 64 without a budget
  int warmup = 0;  // finished agents before early stops; 0 = max(2, agents / 4)
  double keep_percent = 90.0;    // DeepConf: keep the most confident % of traces
  double consensus = 0.95;       // stop when the leading answer's share reaches this
  int64_t max_total_tokens = 0;  // all agents together; 0 = no limit beyond per-agent ones
  AnswerFormat answer_format = AnswerFormat::kAuto;
  bool confidence_weights = true;              // false: one vote per agent (plain self-consistency)
  std::string think_end = "</think>";          // end-of-thinking delimiter
  std::string answer_prefix = "\n\nAnswer: ";  // appended after a forced delimiter
};

Status validate(const ContemplateOptions& o);

enum class AgentStatus {
  kRunning,
  kFinished,           // ended by itself (end of generation or max tokens)
  kStoppedConfidence,  // group confidence fell below the threshold
  kStoppedConsensus,   // the vote was decided without it
  kStoppedBudget,      // max_total_tokens spent
  kNotStarted,         // never forked: the vote was decided (or the budget spent) first
};
std::string_view agent_status_name(AgentStatus s);

struct AgentReport {
  int id = 0;
  AgentStatus status = AgentStatus::kRunning;
  std::string text = {};                      // everything it generated (forced text included)
  std::optional<std::string> answer = {};     // normalized, when one was found
  double confidence = 0;                      // trace confidence: lowest group confidence
  double current_confidence = 0;              // group confidence at the last token
  int64_t tokens = 0;                         // generated (sampled) tokens
  bool forced = false;                        // the thinking budget closed its thinking
  std::vector<float> token_confidences = {};  // C_t of each sampled token, in order
};

struct ContemplateEvent {
  enum class Kind { kAgentStarted, kToken, kAgentStopped, kAgentFinished, kVote, kFinal };
  Kind kind = Kind::kToken;
  int agent = -1;
  std::string text = {};    // token text, the agent's answer, or the final answer
  double confidence = 0;    // group confidence (token), trace confidence (finished)
  std::string reason = {};  // why an agent stopped
  double share = 0;         // vote and final: the leading answer's weight share
};
using ContemplateCallback = std::function<void(const ContemplateEvent&)>;

struct ContemplateResult {
  std::string answer;  // "" when no agent produced one
  double share = 0;
  std::vector<Tally> tally;
  std::vector<AgentReport> agents;
  int64_t tokens = 0;    // generated by all agents
  double threshold = 0;  // the early-stop threshold, once warm-up set it (else 0)
  double wall_s = 0;
};

// Runs one question. `prompt` is the chat-templated prompt's token ids. Errors come from the
// backend (prompt too long, ...) or the options; every sequence is cancelled before return.
StatusOr<ContemplateResult> contemplate(BranchBackend& backend, const Tokenizer& tokenizer,
                                        std::span<const int32_t> prompt,
                                        const ContemplateOptions& opts,
                                        const ContemplateCallback& on_event = {});

}  // namespace muse
