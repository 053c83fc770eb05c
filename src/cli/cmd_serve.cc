// `muse serve -m MODEL`: the OpenAI-compatible server and web UI (server/http_server.h) over
// one engine shared by every request. Ctrl-C or SIGTERM stops it cleanly.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/model_flags.h"
#include "runtime/engine_service.h"
#include "server/http_server.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse serve -m MODEL [options]\n\n"
      "Serves MODEL over an OpenAI-compatible HTTP API with a web chat UI at /.\n"
      "Every request is decoded in one batch with the others (continuous batching).\n\n"
      "  --host H              address to listen on (default 127.0.0.1)\n"
      "  --port P              port (default 8080; 0 = any free port, printed at start)\n"
      "  --parallel N          requests generating at once (default 8)\n"
      "  --queue N             requests waiting for a slot before 503 (default 256)\n"
      "  --api-key KEY         require 'Authorization: Bearer KEY' on /v1/*\n"
      "  --alias NAME          model id in the API (default: the file name without .gguf)\n"
      "  --max-body BYTES      request body limit (default 8 MiB; larger gets 413)\n"
      "  --chat-template-file F  use the Jinja chat template in F instead of the model's\n\n"
      "Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models,\n"
      "GET /health, GET /metrics (Prometheus), GET / (web UI).\n\n"
      "Model options (-t, -c/--ctx-size, -b, --kv-type):\n%s",
      model_flags_help());
}

bool to_long(const char* s, long lo, long hi, long* out) {
  char* end = nullptr;
  const long v = s ? std::strtol(s, &end, 10) : 0;
  if (!s || !*s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  ModelFlags flags;
  server::ServerOptions opts;
  std::string alias;
  std::optional<std::string> template_override;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    const auto bad = [&](const char* what) {
      std::fprintf(stderr, "muse serve: %s expects %s\n", a.c_str(), what);
      return 2;
    };
    long n = 0;
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    } else if (a == "--host") {
      if (!v || !*v) return bad("an address");
      opts.host = v, ++i;
    } else if (a == "--port") {
      if (!to_long(v, 0, 65535, &n)) return bad("a port in 0..65535");
      opts.port = int(n), ++i;
    } else if (a == "--parallel" || a == "-np") {
      if (!to_long(v, 1, 1024, &n)) return bad("an integer in 1..1024");
      opts.parallel = int(n), ++i;
    } else if (a == "--queue") {
      if (!to_long(v, 0, 100000, &n)) return bad("an integer in 0..100000");
      opts.max_queue = int(n), ++i;
    } else if (a == "--api-key") {
      if (!v || !*v) return bad("a key");
      opts.api_key = v, ++i;
    } else if (a == "--alias") {
      if (!v || !*v) return bad("a name");
      alias = v, ++i;
    } else if (a == "--chat-template-file") {
      if (!v || !*v) return bad("a file");
      std::ifstream in(v, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "muse serve: cannot read %s\n", v);
        return 1;
      }
      template_override = std::string(std::istreambuf_iterator<char>(in), {});
      ++i;
    } else if (a == "--max-body") {
      if (!to_long(v, 1024, 1L << 32, &n)) return bad("a size in bytes (>= 1024)");
      opts.max_body_bytes = size_t(n), ++i;
    } else if (int r = parse_model_flag("serve", argc, argv, &i, &flags); r != 1) {
      if (r == -1) return 2;
      std::fprintf(stderr, "muse serve: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (flags.model.empty()) flags.model = default_model_path();
  if (flags.model.empty()) {
    std::fprintf(stderr,
                 "muse serve: no model given (-m MODEL; see --help), and the default "
                 "models/muse-nano.gguf is not there\n");
    return 2;
  }
  if (alias.empty()) alias = std::filesystem::path(flags.model).stem().string();

  // Signals go to a waiting thread, not to whichever thread happens to run.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto m = load_model(flags);
  if (!m.ok()) {
    std::fprintf(stderr, "muse serve: %s\n", m.status().message().c_str());
    return 1;
  }
  auto served = server::ServedModel::create(m->model->gguf(), *m->tokenizer, alias, m->ctx->n_ctx(),
                                            template_override);
  if (!served.ok()) {
    std::fprintf(stderr, "muse serve: %s\n", served.status().message().c_str());
    return 1;
  }
  served->created = std::time(nullptr);
  auto engine = make_engine(*m, flags, opts.parallel);
  if (!engine.ok()) {
    std::fprintf(stderr, "muse serve: %s\n", engine.status().message().c_str());
    return 1;
  }
  EngineService service(std::move(*engine));
  auto srv = server::Server::create(*served, service, opts);
  if (!srv.ok()) {
    std::fprintf(stderr, "muse serve: %s\n", srv.status().message().c_str());
    return 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "muse serve: stopping (signal %d)\n", sig);
    (*srv)->stop();
  });
  std::fprintf(
      stderr, "muse serve: listening on http://%s:%d  (model '%s', context %lld, %d parallel)\n",
      opts.host.c_str(), (*srv)->port(), alias.c_str(), (long long)served->n_ctx, opts.parallel);
  std::fflush(stderr);
  const bool ok = (*srv)->run();
  if (!ok) {
    std::fprintf(stderr, "muse serve: the listener failed\n");
    pthread_kill(waiter.native_handle(), SIGTERM);
  }
  waiter.join();
  return ok ? 0 : 1;
}

}  // namespace muse::cli
