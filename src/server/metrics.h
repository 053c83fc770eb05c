// GET /metrics: Prometheus text exposition of the server's counters and the engine's state.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "runtime/engine.h"

namespace muse::server {

class Metrics {
 public:
  void count_request(int status);
  void count_tokens(int64_t prompt, int64_t completion);
  // Counters, gauges, and the generation rate since the previous scrape.
  std::string prometheus(const EngineStats& engine, int active, int waiting);

 private:
  std::atomic<int64_t> requests_ok_{0}, requests_client_error_{0}, requests_server_error_{0};
  std::atomic<int64_t> prompt_tokens_{0}, completion_tokens_{0};
  std::mutex scrape_mu_;
  std::chrono::steady_clock::time_point last_scrape_ = std::chrono::steady_clock::now();
  int64_t last_decoded_ = 0;
};

}  // namespace muse::server
