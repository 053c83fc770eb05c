// Requests with `reasoning_effort` (or a `contemplate` object): the reasoning layer's
// effort levels run on the shared engine. Instant and thinking stream the one agent's
// text as reasoning and content; contemplating streams each agent's progress as `muse`
// events, then the chosen answer as the message.
#pragma once

#include "server/completion.h"

namespace muse::server {

std::variant<CompletionResult, ApiError> run_contemplation(
    const ServedModel& m, EngineClient& client, const CompletionRequest& r, const Prompt& prompt,
    const DeltaSink& on_delta, const EventSink& on_event);

}  // namespace muse::server
