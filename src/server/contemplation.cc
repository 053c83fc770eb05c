// The effort levels over the shared engine (see contemplation.h).
#include "server/contemplation.h"

#include <atomic>
#include <random>

#include "reason/backend.h"
#include "reason/contemplate.h"
#include "reason/refine.h"

namespace muse::server {
namespace {

// The client's backend, failing its next step once the HTTP client has gone, so the
// Contemplating loop ends (and cancels its agents) within one engine step.
class AbortableBackend final : public ServiceBackend {
 public:
  AbortableBackend(EngineClient& c, const std::atomic<bool>& gone)
      : ServiceBackend(c), gone_(gone) {}
  StatusOr<std::vector<TokenEvent>> step() override {
    if (gone_) return Status::Error("client gone");
    return ServiceBackend::step();
  }

 private:
  const std::atomic<bool>& gone_;
};

json event_json(const ContemplateEvent& e) {
  using K = ContemplateEvent::Kind;
  switch (e.kind) {
    case K::kAgentStarted:
      return {{"event", "agent_started"}, {"agent", e.agent}};
    case K::kToken:
      return {
          {"event", "token"}, {"agent", e.agent}, {"text", e.text}, {"confidence", e.confidence}};
    case K::kAgentStopped:
      return {{"event", "agent_stopped"},
              {"agent", e.agent},
              {"reason", e.reason},
              {"confidence", e.confidence}};
    case K::kAgentFinished:
      return {{"event", "agent_finished"},
              {"agent", e.agent},
              {"answer", e.text.empty() ? json(nullptr) : json(e.text)},
              {"confidence", e.confidence}};
    case K::kVote:
      return {{"event", "vote"}, {"answer", e.text}, {"share", e.share}};
    case K::kFinal:
      return {{"event", "final"}, {"answer", e.text}, {"share", e.share}};
  }
  return nullptr;
}

json result_json(const ContemplateResult& res) {
  json agents = json::array();
  for (const AgentReport& a : res.agents)
    agents.push_back({{"agent", a.id},
                      {"status", agent_status_name(a.status)},
                      {"answer", a.answer ? json(*a.answer) : json(nullptr)},
                      {"confidence", a.confidence},
                      {"tokens", a.tokens},
                      {"forced", a.forced}});
  json tally = json::array();
  for (const Tally& t : res.tally)
    tally.push_back({{"answer", t.answer}, {"weight", t.weight}, {"votes", t.votes}});
  return {{"answer", res.answer}, {"share", res.share},   {"tally", tally},
          {"agents", agents},     {"tokens", res.tokens}, {"threshold", res.threshold},
          {"wall_s", res.wall_s}};
}

// The message of a contemplation: the most confident agent that voted for the winner
// (or, without a winner, the most confident one that finished).
const AgentReport* spokesman(const ContemplateResult& res) {
  const AgentReport* best = nullptr;
  for (const AgentReport& a : res.agents) {
    const bool voted = !res.answer.empty() && a.answer && *a.answer == res.answer;
    const bool usable = res.answer.empty() ? a.status == AgentStatus::kFinished : voted;
    if (usable && (!best || a.confidence > best->confidence)) best = &a;
  }
  return best;
}

// Distill and refine (reason/refine.h): each round's prompt is the conversation with the
// workspace appended to the last user message.
template <class Progress, class Deliver>
std::variant<CompletionResult, ApiError> refine(const ServedModel& m, BranchBackend& backend,
                                                const CompletionRequest& r, const Prompt& prompt,
                                                const ContemplateOptions& o,
                                                const ReplyFormat& format,
                                                const Progress& on_progress, const Deliver& deliver,
                                                const std::atomic<bool>& gone) {
  const PromptBuilder build = [&](const std::string& ws) -> StatusOr<std::vector<int32_t>> {
    if (ws.empty()) return prompt.ids;
    CompletionRequest with = r;
    for (auto it = with.messages.rbegin(); it != with.messages.rend(); ++it)
      if ((*it)["role"] == "user" && (*it)["content"].is_string()) {
        (*it)["content"] = (*it)["content"].get<std::string>() + "\n\n" + ws;
        break;
      }
    auto p = build_prompt(m, with);
    if (auto* e = std::get_if<ApiError>(&p)) return Status::Error(e->message);
    return std::get<Prompt>(p).ids;
  };
  auto rr = contemplate_refine(backend, m.tokenizer, build, o, r.refine_options, on_progress);
  if (gone) return ApiError{.status = 499, .message = "the client closed the connection"};
  if (!rr.ok())
    return ApiError{.status = 500, .message = rr.status().message(), .type = "server_error"};
  CompletionResult out;
  out.prompt_tokens = int64_t(prompt.ids.size());
  out.completion_tokens = rr->tokens;
  json rounds = json::array();
  for (const ContemplateResult& res : rr->rounds) rounds.push_back(result_json(res));
  out.contemplation = {{"answer", rr->answer},
                       {"rounds", rounds},
                       {"workspace", rr->workspace},
                       {"synthesis", rr->synthesis}};
  const AgentReport* a = rr->rounds.empty() ? nullptr : spokesman(rr->rounds.back());
  const ParsedReply p = parse_reply(!rr->synthesis.empty() ? rr->synthesis
                                    : a                    ? a->text
                                                           : "",
                                    format);
  ChoiceResult c{.content = p.content, .reasoning = p.reasoning};
  deliver({.content = c.content, .reasoning = c.reasoning, .finish_reason = c.finish_reason});
  if (gone) return ApiError{.status = 499, .message = "the client closed the connection"};
  out.choices.push_back(std::move(c));
  return out;
}

}  // namespace

std::variant<CompletionResult, ApiError> run_contemplation(
    const ServedModel& m, EngineClient& client, const CompletionRequest& r, const Prompt& prompt,
    const DeltaSink& on_delta, const EventSink& on_event) {
  ContemplateOptions o = r.contemplate;
  o.temperature = r.sampling.temperature;
  o.top_p = r.sampling.top_p;
  o.top_k = r.sampling.top_k;
  o.seed = r.sampling.seed != SamplerParams::kRandomSeed ? r.sampling.seed : std::random_device{}();
  o.answer_prefix = "\n\n";  // a chat answer, not an exam sheet
  o.think_end = prompt.reply.think_end;
  if (r.max_tokens > 0) o.max_answer_tokens = r.max_tokens;
  if (Status s = validate(o); !s.ok())
    return ApiError{.status = 400, .message = s.message(), .param = "contemplate"};

  std::atomic<bool> gone = false;
  const bool lanes = o.effort == Effort::kContemplating;
  // Thinking and contemplating agents start inside their thinking (budget forcing closes it),
  // so their text up to the delimiter is reasoning whether or not they open it themselves.
  ReplyFormat format = prompt.reply;
  if (o.effort != Effort::kInstant) format.starts_in_thinking = true;
  ReplyStream stream(format);
  bool first = true;
  const auto deliver = [&](ChoiceDelta d) {
    d.first = first;
    first = false;
    if (on_delta && !on_delta(d)) gone = true;
  };
  const auto on_progress = [&](const ContemplateEvent& e) {
    if (gone) return;
    if (lanes) {
      if (on_event && !on_event(event_json(e))) gone = true;
    } else if (e.kind == ContemplateEvent::Kind::kToken) {
      ReplyDelta rd = stream.push(e.text);
      if (!rd.content.empty() || !rd.reasoning.empty())
        deliver({.content = std::move(rd.content), .reasoning = std::move(rd.reasoning)});
    }
  };
  AbortableBackend backend(client, gone);
  if (r.refine) return refine(m, backend, r, prompt, o, format, on_progress, deliver, gone);
  auto res = contemplate(backend, m.tokenizer, prompt.ids, o, on_progress);
  if (gone) return ApiError{.status = 499, .message = "the client closed the connection"};
  if (!res.ok())
    return ApiError{.status = 500, .message = res.status().message(), .type = "server_error"};

  CompletionResult out;
  out.prompt_tokens = int64_t(prompt.ids.size());
  out.completion_tokens = res->tokens;
  out.contemplation = result_json(*res);
  ChoiceResult c;
  if (lanes) {
    const AgentReport* a = spokesman(*res);
    const ParsedReply p = parse_reply(a ? a->text : "", format);
    c.content = p.content;
    c.reasoning = p.reasoning;
    if (a && a->status != AgentStatus::kFinished) c.finish_reason = "length";
    deliver({.content = c.content, .reasoning = c.reasoning, .finish_reason = c.finish_reason});
  } else {
    const AgentReport& a = res->agents.front();
    const ParsedReply p = parse_reply(a.text, format);
    c.content = p.content;
    c.reasoning = p.reasoning;
    ReplyDelta rd = stream.finish();
    deliver({.content = std::move(rd.content),
             .reasoning = std::move(rd.reasoning),
             .finish_reason = c.finish_reason});
  }
  if (gone) return ApiError{.status = 499, .message = "the client closed the connection"};
  out.choices.push_back(std::move(c));
  return out;
}

}  // namespace muse::server
