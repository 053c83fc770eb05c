// Rounds of parallel drafts, the bounded workspace between them, and the synthesizer (see
// refine.h).
#include "reason/refine.h"

#include <algorithm>
#include <set>

namespace muse {

Status validate(const RefineOptions& o) {
  if (o.rounds < 1 || o.rounds > 16) return Errorf("rounds must be 1..16 (got %d)", o.rounds);
  if (o.workspace_items < 1 || o.workspace_items > 64)
    return Errorf("workspace_items must be 1..64 (got %d)", o.workspace_items);
  if (o.summary_chars < 16 || o.summary_chars > 65536)
    return Errorf("summary_chars must be 16..65536 (got %d)", o.summary_chars);
  if (!(o.synthesizer_temperature >= 0 && o.synthesizer_temperature <= 2))
    return Errorf("synthesizer_temperature must be in [0, 2]");
  return Status::Ok();
}

namespace {

// The last `chars` bytes of `s`, starting on a UTF-8 character boundary and, when one is
// near, on a line start, so a summary reads from the beginning of a step.
std::string_view tail(std::string_view s, size_t chars) {
  if (s.size() <= chars) return s;
  size_t from = s.size() - chars;
  while (from < s.size() && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80) ++from;
  const size_t nl = s.find('\n', from);
  if (nl != std::string_view::npos && nl + 1 < s.size() && nl - from < chars / 4) from = nl + 1;
  return s.substr(from);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The agent's reasoning: its text up to the end of thinking (all of it when never closed).
std::string_view thinking_of(std::string_view text) {
  const std::string_view answer_part = after_think(text);
  if (answer_part.size() == text.size()) return text;
  std::string_view head = text.substr(0, text.size() - answer_part.size());
  if (const size_t end = head.rfind("</think>"); end != std::string_view::npos)
    head = head.substr(0, end);
  if (const size_t open = head.find("<think>"); open != std::string_view::npos)
    head = head.substr(open + 7);
  return head;
}

}  // namespace

std::string distill_workspace(const ContemplateResult& round, int items, int chars) {
  // Candidates: finished agents with an answer, most confident first.
  std::vector<const AgentReport*> cands;
  for (const AgentReport& a : round.agents)
    if (a.status == AgentStatus::kFinished && a.answer) cands.push_back(&a);
  std::stable_sort(cands.begin(), cands.end(), [](const AgentReport* x, const AgentReport* y) {
    return x->confidence > y->confidence;
  });
  // Diversity first: the best agent of each distinct answer, in the vote's order (the
  // leading answer first), then the most confident of the rest.
  std::vector<const AgentReport*> picked;
  std::set<const AgentReport*> used;
  for (const Tally& t : round.tally) {
    for (const AgentReport* a : cands)
      if (*a->answer == t.answer && !used.count(a)) {
        picked.push_back(a);
        used.insert(a);
        break;
      }
  }
  for (const AgentReport* a : cands)
    if (!used.count(a)) picked.push_back(a), used.insert(a);
  if (int(picked.size()) > items) picked.resize(size_t(items));

  std::string ws;
  for (size_t i = 0; i < picked.size(); ++i) {
    const AgentReport& a = *picked[i];
    const std::string answer_line = "Answer: " + *a.answer;
    const size_t budget =
        size_t(chars) > answer_line.size() + 8 ? size_t(chars) - answer_line.size() - 1 : 8;
    ws += '[';
    ws += std::to_string(i + 1);
    ws += "]\n";
    const std::string_view reasoning = trim(tail(trim(thinking_of(a.text)), budget));
    if (!reasoning.empty()) ws += std::string(reasoning) + "\n";
    ws += answer_line + "\n\n";
  }
  if (ws.empty()) return ws;
  return "Candidate solutions from earlier attempts (they may be wrong):\n\n" + ws +
         "Check them, then give your own final answer.";
}

StatusOr<RefineResult> contemplate_refine(BranchBackend& backend, const Tokenizer& tokenizer,
                                          const PromptBuilder& build_prompt,
                                          const ContemplateOptions& opts,
                                          const RefineOptions& refine,
                                          const ContemplateCallback& on_event) {
  MUSE_RETURN_IF_ERROR(validate(opts));
  MUSE_RETURN_IF_ERROR(validate(refine));
  RefineResult out;
  ContemplateOptions round_opts = opts;
  for (int r = 0; r < refine.rounds; ++r) {
    auto prompt = build_prompt(out.workspace);
    if (!prompt.ok()) return prompt.status();
    round_opts.seed = opts.seed + uint64_t(r) * uint64_t(opts.agents);  // fresh samples
    auto res = contemplate(backend, tokenizer, *prompt, round_opts, on_event);
    if (!res.ok()) return res.status();
    out.tokens += res->tokens;
    out.answer = res->answer;
    out.share = res->share;
    const std::string ws = distill_workspace(*res, refine.workspace_items, refine.summary_chars);
    if (!ws.empty()) out.workspace = ws;  // a round with no answers keeps the previous one
    out.rounds.push_back(std::move(*res));
  }
  if (!refine.synthesize || out.workspace.empty()) return out;

  auto prompt = build_prompt(out.workspace);
  if (!prompt.ok()) return prompt.status();
  ContemplateOptions synth = opts;
  synth.effort = Effort::kThinking;  // one agent, with the thinking budget
  synth.temperature = refine.synthesizer_temperature;
  synth.roles.clear();
  synth.seed = opts.seed + uint64_t(refine.rounds) * uint64_t(opts.agents);
  auto res = contemplate(backend, tokenizer, *prompt, synth, on_event);
  if (!res.ok()) return res.status();
  out.tokens += res->tokens;
  out.synthesis = res->agents.front().text;
  if (!res->answer.empty()) out.answer = res->answer;  // else keep the last vote's
  return out;
}

}  // namespace muse
