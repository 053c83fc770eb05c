// Prompt building and plain generation (see completion.h); the effort levels live in
// contemplation.cc.
#include "server/completion.h"

#include <unordered_map>

#include "gguf/gguf.h"
#include "runtime/stop.h"
#include "server/contemplation.h"
#include "server/oai_json.h"

namespace muse::server {

StatusOr<ServedModel> ServedModel::create(const GgufFile& file, Tokenizer tokenizer, std::string id,
                                          int64_t n_ctx,
                                          std::optional<std::string> template_override) {
  auto source = template_override
                    ? StatusOr<std::string_view>(*template_override)
                    : file.get_string_or("tokenizer.chat_template", chat::chatml_template());
  if (!source.ok()) return source.status();
  auto tmpl = chat::ChatTemplate::parse(std::string(*source));
  if (!tmpl.ok()) return tmpl.status().WithContext("tokenizer.chat_template");
  ServedModel m{.id = std::move(id),
                .tokenizer = std::move(tokenizer),
                .chat_template = std::move(*tmpl),
                .bos_text = "",
                .eos_text = "",
                .tool_format = detect_tool_format(*source),
                .n_ctx = n_ctx};
  if (m.tokenizer.bos() >= 0) m.bos_text = std::string(m.tokenizer.token_text(m.tokenizer.bos()));
  if (m.tokenizer.eos() >= 0) m.eos_text = std::string(m.tokenizer.token_text(m.tokenizer.eos()));
  return m;
}

namespace {

bool ends_with_think_start(const std::string& text, const std::string& think_start) {
  size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' ')) --end;
  return end >= think_start.size() &&
         text.compare(end - think_start.size(), think_start.size(), think_start) == 0;
}

// The tools with only the function a named tool_choice asks for (read_tools checked it is
// there): the model is shown nothing else to call.
json named_tool(const CompletionRequest& r) {
  json out = json::array();
  for (const json& t : r.tools)
    if (t["function"]["name"] == r.tool_name) out.push_back(t);
  return out;
}

}  // namespace

std::variant<Prompt, ApiError> build_prompt(const ServedModel& m, const CompletionRequest& r) {
  Prompt p;
  if (!r.chat) {
    p.ids = r.prompt_is_ids ? r.prompt_ids : m.tokenizer.encode(r.prompt, true, true);
  } else {
    chat::ChatInputs in{.messages = r.messages,
                        .add_generation_prompt = true,
                        .bos_token = m.bos_text,
                        .eos_token = m.eos_text};
    const bool tools = !r.tools.is_null() && r.tool_choice != ToolChoice::kNone;
    if (tools) in.tools = r.tool_choice == ToolChoice::kNamed ? named_tool(r) : r.tools;
    // Templates with a thinking switch (Qwen3) honour the effort level.
    if (r.effort) in.extra_context["enable_thinking"] = *r.effort != Effort::kInstant;
    auto text = m.chat_template.apply(in);
    if (!text.ok())
      return ApiError{.status = 400,
                      .message = "the model's chat template rejected the conversation: " +
                                 text.status().message(),
                      .param = "messages"};
    p.reply.tools = tools ? m.tool_format : ToolFormat::kNone;
    p.reply.starts_in_thinking = ends_with_think_start(*text, p.reply.think_start);
    if (tools && (r.tool_choice == ToolChoice::kRequired || r.tool_choice == ToolChoice::kNamed)) {
      // The call comes first: a thinking block the template opened is closed for the model.
      if (p.reply.starts_in_thinking) *text += p.reply.think_end + "\n\n";
      p.reply.starts_in_thinking = false;
      p.forced_call = Prompt::ForcedCall{.opener = std::string(tool_call_opener(m.tool_format)),
                                         .name = r.tool_name};
      *text += p.forced_call->opener;
    }
    p.ids = m.tokenizer.encode(*text, /*add_special=*/false, /*parse_special=*/true);
  }
  if (p.ids.empty())
    return ApiError{.status = 400, .message = "the prompt is empty", .param = "prompt"};
  for (int32_t t : p.ids)
    if (t < 0 || t >= m.tokenizer.n_vocab())
      return ApiError{.status = 400,
                      .message = "token id " + std::to_string(t) + " is outside the vocabulary",
                      .param = "prompt"};
  if (int64_t(p.ids.size()) >= m.n_ctx)
    return ApiError{.status = 400,
                    .message = "This model's maximum context length is " + std::to_string(m.n_ctx) +
                               " tokens; the prompt has " + std::to_string(p.ids.size()) +
                               " tokens",
                    .param = r.chat ? "messages" : "prompt",
                    .code = "context_length_exceeded"};
  return p;
}

namespace {

// Why a reply fails a required call, or nullopt when it holds one (every call to the named
// function, when one is named).
std::optional<std::string> check_forced_call(const Prompt::ForcedCall& forced,
                                             const std::vector<ToolCall>& calls, bool truncated) {
  const std::string what =
      forced.name.empty() ? "tool_choice \"required\"" : "tool_choice '" + forced.name + "'";
  if (calls.empty() && truncated)
    return what + " needs a tool call, and the reply reached max_tokens before one was complete";
  if (calls.empty())
    return what + " needs a tool call, and the model's reply holds none that parses";
  if (!forced.name.empty())
    for (const ToolCall& call : calls)
      if (call.name != forced.name)
        return what + " needs a call to '" + forced.name + "', and the model called '" + call.name +
               "'";
  return std::nullopt;
}

// One choice's text pipeline: tokens → text (never half a character) → stop strings →
// reasoning / content / tool calls.
struct Choice {
  Choice(const ServedModel& m, const CompletionRequest& r, const Prompt& p, int index)
      : index(index),
        decoder(m.tokenizer, {.continues_text = true}),
        stops(r.stop),
        reply(p.reply),
        chat(r.chat),
        forced_call(p.forced_call) {
    // The opener is a tool-call marker (or, for bare-JSON formats, a leading '{'), so the
    // parser withholds it and everything after it until finish().
    if (forced_call) (void)reply.push(forced_call->opener);
  }
  int index;
  StreamDecoder decoder;
  StopMatcher stops;
  ReplyStream reply;
  bool chat;
  std::optional<Prompt::ForcedCall> forced_call;
  bool done = false;
  bool started = false;
  std::optional<std::string> error;  // a required call the reply does not hold
  ChoiceResult result;

  // Appends text to the delta (through the reply parser for chat).
  void take(std::string_view text, ChoiceDelta* d) {
    if (!chat) {
      d->content += text;
      return;
    }
    ReplyDelta rd = reply.push(text);
    d->content += rd.content;
    d->reasoning += rd.reasoning;
  }
  void end(std::string_view reason, ChoiceDelta* d) {
    if (!stops.stopped()) {
      take(stops.push(decoder.flush()).text, d);
      if (!stops.stopped()) take(stops.flush(), d);
    }
    if (chat) {
      ReplyDelta rd = reply.finish();
      d->content += rd.content;
      d->reasoning += rd.reasoning;
      d->tool_calls = std::move(rd.tool_calls);
      // Ids unique across turns (the parser numbers calls within one reply).
      for (ToolCall& call : d->tool_calls) call.id = random_id("call_");
      if (forced_call) error = check_forced_call(*forced_call, d->tool_calls, reason == "length");
    }
    done = true;
    d->finish_reason = d->tool_calls.empty() ? std::string(reason) : "tool_calls";
  }
  void record(const ChoiceDelta& d) {
    result.content += d.content;
    result.reasoning += d.reasoning;
    result.tool_calls.insert(result.tool_calls.end(), d.tool_calls.begin(), d.tool_calls.end());
    result.logprobs.insert(result.logprobs.end(), d.logprobs.begin(), d.logprobs.end());
    if (d.finish_reason) result.finish_reason = *d.finish_reason;
  }
};

ApiError engine_error(const Status& s) {
  return {.status = 500, .message = s.message(), .type = "server_error"};
}

ApiError client_gone() {
  return {.status = 499, .message = "the client closed the connection", .type = "cancelled"};
}

}  // namespace

std::variant<CompletionResult, ApiError> run_completion(const ServedModel& m, EngineClient& client,
                                                        const CompletionRequest& r,
                                                        const Prompt& prompt,
                                                        const DeltaSink& on_delta,
                                                        const EventSink& on_event) {
  if (r.effort) return run_contemplation(m, client, r, prompt, on_delta, on_event);
  const int64_t room = m.n_ctx - int64_t(prompt.ids.size());
  GenParams gen{
      .sampling = r.sampling,
      .max_tokens = int32_t(r.max_tokens < 0 ? room : std::min<int64_t>(r.max_tokens, room))};
  gen.sampling.n_logprobs = std::max(r.top_logprobs, 0);

  // One prefill; n > 1 forks it (each branch samples with seed + i when a seed was given).
  std::vector<SeqId> seqs;
  if (r.n == 1) {
    auto s = client.submit({.prompt = prompt.ids, .gen = gen});
    if (!s.ok()) return ApiError{.status = 400, .message = s.status().message()};
    seqs.push_back(*s);
  } else {
    auto parent = client.submit({.prompt = prompt.ids, .gen = {.max_tokens = 0}});
    if (!parent.ok()) return ApiError{.status = 400, .message = parent.status().message()};
    while (!client.idle())
      if (auto ev = client.step(); !ev.ok()) return engine_error(ev.status());
    std::vector<GenParams> gens(size_t(r.n), gen);
    if (r.sampling.seed != SamplerParams::kRandomSeed)
      for (int i = 0; i < r.n; ++i) gens[size_t(i)].sampling.seed = r.sampling.seed + uint64_t(i);
    auto kids = client.fork(*parent, gens);
    if (!kids.ok()) return engine_error(kids.status());
    (void)client.cancel(*parent);
    seqs = std::move(*kids);
  }

  CompletionResult out;
  out.prompt_tokens = int64_t(prompt.ids.size());
  std::vector<Choice> choices;
  choices.reserve(seqs.size());
  std::unordered_map<SeqId, size_t> by_seq;
  for (size_t i = 0; i < seqs.size(); ++i) {
    choices.emplace_back(m, r, prompt, int(i));
    by_seq[seqs[i]] = i;
  }
  const auto emit = [&](Choice& c, ChoiceDelta& d) {
    d.index = c.index;
    d.first = !c.started;
    c.started = true;
    c.record(d);
    return !on_delta || on_delta(d);
  };

  while (!client.idle()) {
    auto events = client.step();
    if (!events.ok()) return engine_error(events.status());
    // One delta per choice per step: fewer, larger chunks when the engine batches.
    std::vector<std::optional<ChoiceDelta>> deltas(choices.size());
    for (const TokenEvent& ev : *events) {
      const auto it = by_seq.find(ev.seq);
      if (it == by_seq.end()) continue;
      Choice& c = choices[it->second];
      if (c.done) continue;
      if (!deltas[it->second]) deltas[it->second].emplace();
      ChoiceDelta& d = *deltas[it->second];
      if (ev.token >= 0 && ev.finish != SeqFinish::kStop) {
        ++out.completion_tokens;
        if (r.top_logprobs >= 0)
          d.logprobs.push_back(
              {.token = ev.token, .logprob = ev.sample.logprob, .top = ev.sample.top});
        const StopPush sp = c.stops.push(c.decoder.push(ev.token));
        c.take(sp.text, &d);
        if (sp.stopped) {
          (void)client.cancel(ev.seq);
          c.end("stop", &d);
          continue;
        }
      } else if (ev.token >= 0) {
        ++out.completion_tokens;  // the end-of-generation token itself
      }
      if (ev.finish == SeqFinish::kError)
        return ApiError{
            .status = 500, .message = "the model produced invalid logits", .type = "server_error"};
      if (ev.finish != SeqFinish::kNone)
        c.end(ev.finish == SeqFinish::kLength ? "length" : "stop", &d);
    }
    for (Choice& c : choices)
      if (c.error) {
        client.cancel_all();
        return ApiError{.status = 500, .message = *c.error, .type = "server_error"};
      }
    for (size_t i = 0; i < choices.size(); ++i) {
      if (!deltas[i]) continue;
      ChoiceDelta& d = *deltas[i];
      if (d.content.empty() && d.reasoning.empty() && d.tool_calls.empty() && d.logprobs.empty() &&
          !d.finish_reason)
        continue;
      if (!emit(choices[i], d)) {
        client.cancel_all();
        return client_gone();
      }
    }
  }
  for (Choice& c : choices) out.choices.push_back(std::move(c.result));
  return out;
}

}  // namespace muse::server
