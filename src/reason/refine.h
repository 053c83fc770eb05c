// Distill and refine (after Meta's Parallel-Distill-Refine, Madaan et al. 2025): instead of
// one vote over independent drafts, rounds of drafting in parallel, distilling the drafts
// into a bounded workspace, and drafting again with the workspace in the prompt; a final
// synthesizer agent reads the last workspace and writes the answer. The workspace is bounded
// (a few summaries of a few hundred characters), so the context each round reads does not
// grow with the number of agents or rounds.
//
//   round 1:  prompt(question)             → agents draft in parallel → vote
//   distill:  top summaries (one per distinct answer first, most confident first)
//   round r:  prompt(question + workspace) → agents draft again       → vote
//   refine:   prompt(question + workspace) → one synthesizer (thinking) → final answer
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "reason/contemplate.h"

namespace muse {

struct RefineOptions {
  int rounds = 1;           // draft rounds (each reads the previous round's workspace)
  bool synthesize = true;   // a final agent refines from the last workspace
  int workspace_items = 4;  // summaries in the workspace
  int summary_chars = 480;  // per summary: the end of the agent's thinking, then its answer
  float synthesizer_temperature = 0.3f;
};

Status validate(const RefineOptions& o);

// The token ids of the prompt for a round, given the workspace text ("" in round 1). The
// caller renders the question (and the workspace, e.g. as part of the user turn) through
// the model's chat template.
using PromptBuilder = std::function<StatusOr<std::vector<int32_t>>(const std::string& workspace)>;

// The workspace distilled from one round: at most `items` summaries, each at most
// `chars` characters of the agent's final thinking plus its answer; agents whose answers
// differ come first (the leading answer's most confident agent first), then the remaining
// most confident ones. Agents that stopped early or have no answer are left out.
std::string distill_workspace(const ContemplateResult& round, int items, int chars);

struct RefineResult {
  std::vector<ContemplateResult> rounds;  // the draft rounds, in order
  std::string workspace;                  // the last workspace
  std::string answer;                     // the synthesizer's, or the last vote's
  double share = 0;                       // the last vote's share of its answer
  int64_t tokens = 0;                     // every agent of every round, synthesizer included
  std::string synthesis;                  // the synthesizer's text ("" without one)
};

// Errors: the options, the prompt builder's, the backend's. Events of every round go to
// `on_event` (agent ids restart at 0 each round; the synthesizer is agent 0 of its own).
StatusOr<RefineResult> contemplate_refine(BranchBackend& backend, const Tokenizer& tokenizer,
                                          const PromptBuilder& build_prompt,
                                          const ContemplateOptions& opts,
                                          const RefineOptions& refine,
                                          const ContemplateCallback& on_event = {});

}  // namespace muse
