// Routes, admission, SSE streaming and metrics of `muse serve` (see http_server.h). The only
// file that includes cpp-httplib (a large header).
#include "server/http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "server/metrics.h"
#include "server/oai_json.h"
#include "server/peer_watch.h"
#include "server/web_assets.h"

namespace muse::server {

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 503 || e.status == 429) res.set_header("Retry-After", "1");
  res.set_content(dump(e.to_json()), "application/json");
}

// Requests that may generate at once, and the bounded line of those waiting.
class Admission {
 public:
  Admission(int parallel, int max_queue) : parallel_(parallel), max_queue_(max_queue) {}
  // False when the line is full.
  bool enter() {
    std::unique_lock lock(mu_);
    if (active_ >= parallel_ && waiting_ >= max_queue_) return false;
    ++waiting_;
    cv_.wait(lock, [&] { return active_ < parallel_; });
    --waiting_;
    ++active_;
    return true;
  }
  void leave() {
    {
      std::lock_guard lock(mu_);
      --active_;
    }
    cv_.notify_one();
  }
  int active() const {
    std::lock_guard lock(mu_);
    return active_;
  }
  int waiting() const {
    std::lock_guard lock(mu_);
    return waiting_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  const int parallel_, max_queue_;
  int active_ = 0, waiting_ = 0;
};

}  // namespace

struct Server::Impl {
  const ServedModel& model;
  EngineService& engine;
  ServerOptions opts;
  httplib::Server http;
  Admission admission;
  Metrics metrics;
  int port = 0;

  Impl(const ServedModel& m, EngineService& e, const ServerOptions& o)
      : model(m), engine(e), opts(o), admission(o.parallel, o.max_queue) {}

  bool authorized(const httplib::Request& req) const {
    if (opts.api_key.empty()) return true;
    return req.get_header_value("Authorization") == "Bearer " + opts.api_key;
  }

  void routes();
  void completion(const httplib::Request& req, httplib::Response& res, bool chat);
};

namespace {

const char* content_type_of(const std::string& path) {
  const auto ends = [&](const char* ext) {
    const size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  return "application/octet-stream";
}

}  // namespace

void Server::Impl::routes() {
  http.set_payload_max_length(opts.max_body_bytes);
  const int threads =
      opts.http_threads > 0 ? opts.http_threads : opts.parallel + opts.max_queue + 8;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };

  // Routes that do not exist, bodies over the limit and other protocol errors get OpenAI's
  // error JSON with the status httplib chose.
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // our own error, already counted
    metrics.count_request(res.status);
    ApiError e{.status = res.status, .message = "error"};
    if (res.status == 404)
      e = {.status = 404,
           .message = "unknown route " + req.method + " " + req.path,
           .code = "not_found"};
    else if (res.status == 413)
      e = {.status = 413,
           .message = "the request body is larger than the limit of " +
                      std::to_string(opts.max_body_bytes) + " bytes"};
    send_error(res, e);
  });
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        send_error(res, {.status = 500, .message = what, .type = "server_error"});
      });

  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    metrics.count_request(200);
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    metrics.count_request(200);
    res.set_content(metrics.prometheus(engine.stats(), admission.active(), admission.waiting()),
                    "text/plain; version=0.0.4");
  });
  http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req)) {
      metrics.count_request(401);
      return send_error(
          res, {.status = 401, .message = "invalid or missing API key", .code = "invalid_api_key"});
    }
    metrics.count_request(200);
    const json m = {{"id", model.id},
                    {"object", "model"},
                    {"created", model.created},
                    {"owned_by", "muse.cpp"}};
    res.set_content(dump({{"object", "list"}, {"data", json::array({m})}}), "application/json");
  });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    completion(req, res, /*chat=*/true);
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    completion(req, res, /*chat=*/false);
  });
  // The web UI: every embedded file at /<name>, index.html also at /.
  for (const WebAsset& a : web_assets()) {
    const std::string path = std::string("/") + a.name;
    const auto serve = [this, &a](const httplib::Request&, httplib::Response& res) {
      metrics.count_request(200);
      res.set_content(reinterpret_cast<const char*>(a.data), a.size, content_type_of(a.name));
    };
    http.Get(path, serve);
    if (std::string_view(a.name) == "index.html") http.Get("/", serve);
  }
}

void Server::Impl::completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  const auto fail = [&](const ApiError& e) {
    metrics.count_request(e.status);
    send_error(res, e);
  };
  if (!authorized(req))
    return fail(
        {.status = 401, .message = "invalid or missing API key", .code = "invalid_api_key"});
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::parse_error& e) {
    return fail({.status = 400, .message = std::string("the body is not valid JSON: ") + e.what()});
  }
  auto parsed = chat ? parse_chat_request(body, model.id, opts.limits)
                     : parse_completion_request(body, model.id, opts.limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return fail(*e);
  auto r = std::make_shared<CompletionRequest>(std::move(std::get<CompletionRequest>(parsed)));
  auto built = build_prompt(model, *r);
  if (auto* e = std::get_if<ApiError>(&built)) return fail(*e);
  auto prompt = std::make_shared<Prompt>(std::move(std::get<Prompt>(built)));

  if (!admission.enter())
    return fail({.status = 503,
                 .message = "the server is at capacity (" + std::to_string(opts.parallel) +
                            " generating, " + std::to_string(opts.max_queue) +
                            " waiting); retry later",
                 .type = "server_error",
                 .code = "queue_full"});
  // Released when the response is done, streamed or not.
  auto slot = std::shared_ptr<void>(nullptr, [this](void*) { admission.leave(); });
  const ResponseMeta meta{
      .id = random_id(chat ? "chatcmpl-" : "cmpl-"), .created = unix_now(), .model = model.id};
  const bool with_logprobs = r->top_logprobs >= 0;

  if (!r->stream) {
    // Nothing is written until the end, so a client that leaves is noticed by its socket.
    const PeerWatch peer(req.remote_addr, req.remote_port, req.local_port);
    const auto alive = [&](const auto&) { return !peer.closed(); };
    auto client = engine.connect();
    auto out = run_completion(model, *client, *r, *prompt, alive, alive);
    if (auto* e = std::get_if<ApiError>(&out)) return fail(*e);
    const CompletionResult& result = std::get<CompletionResult>(out);
    metrics.count_tokens(result.prompt_tokens, result.completion_tokens);
    metrics.count_request(200);
    res.set_content(dump(chat ? chat_completion_json(meta, result, model.tokenizer)
                              : completion_json(meta, result, model.tokenizer, with_logprobs)),
                    "application/json");
    return;
  }

  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, r, prompt, slot, meta, chat, with_logprobs](size_t, httplib::DataSink& sink) {
        const auto send = [&](const json& j) {
          const std::string line = "data: " + dump(j) + "\n\n";
          return sink.write(line.data(), line.size());
        };
        auto client = engine.connect();
        auto out = run_completion(
            model, *client, *r, *prompt,
            [&](const ChoiceDelta& d) {
              return send(chat ? chat_chunk_json(meta, d, model.tokenizer, with_logprobs)
                               : completion_chunk_json(meta, d, model.tokenizer, with_logprobs));
            },
            [&](const json& ev) {
              return send(extra_chunk_json(meta, "chat.completion.chunk", "muse", ev));
            });
        if (auto* e = std::get_if<ApiError>(&out)) {
          metrics.count_request(e->status);
          if (e->status == 499) return false;  // the client is gone: nothing to write to
          send(e->to_json());
        } else {
          const CompletionResult& result = std::get<CompletionResult>(out);
          metrics.count_tokens(result.prompt_tokens, result.completion_tokens);
          metrics.count_request(200);
          if (chat && r->effort == Effort::kContemplating)
            send(extra_chunk_json(meta, "chat.completion.chunk", "muse",
                                  json{{"event", "result"}, {"result", result.contemplation}}));
          if (r->include_usage)
            send(extra_chunk_json(meta, chat ? "chat.completion.chunk" : "text_completion", "usage",
                                  usage_json(result)));
        }
        static const std::string kDone = "data: [DONE]\n\n";
        sink.write(kDone.data(), kDone.size());
        sink.done();
        return true;
      });
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }

StatusOr<std::unique_ptr<Server>> Server::create(const ServedModel& model, EngineService& engine,
                                                 const ServerOptions& opts) {
  if (opts.parallel < 1) return Status::Error("--parallel must be at least 1");
  if (opts.max_queue < 0) return Status::Error("--queue must be >= 0");
  auto impl = std::make_unique<Impl>(model, engine, opts);
  impl->routes();
  if (opts.port == 0) {
    impl->port = impl->http.bind_to_any_port(opts.host);
    if (impl->port <= 0) return Errorf("cannot listen on %s (any port)", opts.host.c_str());
  } else {
    if (!impl->http.bind_to_port(opts.host, opts.port))
      return Errorf("cannot listen on %s:%d (address in use or not available)", opts.host.c_str(),
                    opts.port);
    impl->port = opts.port;
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port; }
bool Server::run() { return impl_->http.listen_after_bind(); }
void Server::stop() {
  if (impl_) impl_->http.stop();
}

}  // namespace muse::server
