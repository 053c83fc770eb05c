// `muse serve`: the OpenAI-compatible HTTP server (ARCHITECTURE.md section 8) over one
// shared engine. Request threads parse and validate, render the prompt, then generate on the
// engine through their own client, so every request is batched with the others
// (continuous batching); at most `parallel` requests generate at once, up to `max_queue`
// more wait, and the rest get 503 with Retry-After.
//
//   POST /v1/chat/completions   POST /v1/completions   GET /v1/models
//   GET /health   GET /metrics (Prometheus text)   GET / and /<file>: the web UI
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "runtime/engine_service.h"
#include "server/completion.h"

namespace muse::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0 = any free port (see Server::port)
  int parallel = 8;     // requests generating at once
  int max_queue = 256;  // requests waiting for a slot before 503
  std::string api_key;  // "" = no authentication
  size_t max_body_bytes = 8 << 20;
  int http_threads = 0;  // 0 = parallel + max_queue + 8 (a streaming request holds a thread)
  RequestLimits limits = {};
};

class Server {
 public:
  // Binds the socket (errors: address in use, bad host). Does not serve yet.
  static StatusOr<std::unique_ptr<Server>> create(const ServedModel& model, EngineService& engine,
                                                  const ServerOptions& opts);
  ~Server();

  int port() const;
  // Serves until stop(); returns false if the listener failed.
  bool run();
  void stop();  // thread-safe

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace muse::server
