// Prometheus text format 0.0.4: `# HELP`, `# TYPE`, then `name{labels} value` lines.
#include "server/metrics.h"

#include <cstdio>

namespace muse::server {

void Metrics::count_request(int status) {
  if (status < 400)
    ++requests_ok_;
  else if (status < 500 || status == 499)
    ++requests_client_error_;
  else
    ++requests_server_error_;
}

void Metrics::count_tokens(int64_t prompt, int64_t completion) {
  prompt_tokens_ += prompt;
  completion_tokens_ += completion;
}

std::string Metrics::prometheus(const EngineStats& e, int active, int waiting) {
  double rate = 0;
  {
    std::lock_guard lock(scrape_mu_);
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last_scrape_).count();
    if (dt > 0) rate = double(e.tokens_decoded - last_decoded_) / dt;
    last_scrape_ = now;
    last_decoded_ = e.tokens_decoded;
  }
  std::string out;
  const auto metric = [&](const char* name, const char* type, const char* help, double value,
                          const char* labels = "") {
    char line[512];
    std::snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s%s %.17g\n", name, help, name,
                  type, name, labels, value);
    out += line;
  };
  const auto sample = [&](const char* name, const char* labels, double value) {
    char line[256];
    std::snprintf(line, sizeof(line), "%s%s %.17g\n", name, labels, value);
    out += line;
  };
  metric("muse_requests_total", "counter", "HTTP requests answered, by outcome.",
         double(requests_ok_), "{outcome=\"ok\"}");
  sample("muse_requests_total", "{outcome=\"client_error\"}", double(requests_client_error_));
  sample("muse_requests_total", "{outcome=\"server_error\"}", double(requests_server_error_));
  metric("muse_prompt_tokens_total", "counter", "Prompt tokens of completed requests.",
         double(prompt_tokens_));
  metric("muse_completion_tokens_total", "counter", "Tokens generated for completed requests.",
         double(completion_tokens_));
  metric("muse_requests_active", "gauge", "Requests generating now.", active);
  metric("muse_requests_queued", "gauge", "Requests waiting for a generation slot.", waiting);
  metric("muse_sequences_running", "gauge", "Engine sequences decoding.", double(e.n_running));
  metric("muse_sequences_queued", "gauge", "Engine sequences waiting for prefill.",
         double(e.n_queued));
  metric("muse_kv_pages_used", "gauge", "KV-cache pages referenced by live sequences.",
         double(e.pages_referenced));
  metric("muse_kv_pages_total", "gauge", "KV-cache pages in the pool.", double(e.n_pages));
  metric("muse_kv_pages_cached", "gauge", "KV-cache pages in the prefix cache.",
         double(e.pages_cached));
  metric("muse_tokens_prefilled_total", "counter", "Prompt tokens evaluated by the model.",
         double(e.tokens_prefilled));
  metric("muse_tokens_decoded_total", "counter", "Tokens decoded by the model.",
         double(e.tokens_decoded));
  metric("muse_prefix_cache_hit_tokens_total", "counter",
         "Prompt positions reused from the prefix cache.", double(e.prefix_hit_tokens));
  metric("muse_preemptions_total", "counter", "Sequences preempted for lack of KV pages.",
         double(e.preemptions));
  metric("muse_decode_tokens_per_second", "gauge",
         "Decoded tokens per second since the previous scrape.", rate);
  return out;
}

}  // namespace muse::server
