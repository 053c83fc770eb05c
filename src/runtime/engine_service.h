// One engine shared by many threads (the server's request handlers): a thread of its own
// steps the engine whenever any sequence has work, and routes each step's token events to
// the client that owns the sequence. A client offers the engine's sequence API (submit,
// fork, append, cancel) plus a blocking `step` that returns its own sequences' events, so
// code written against a single-threaded engine loop (Contemplating) runs unchanged on a
// shared one, batched with every other client's sequences.
//
//   EngineService service(std::move(engine));
//   auto client = service.connect();             // one per request
//   SeqId s = *client->submit({.prompt = ids});
//   while (!client->idle()) for (const TokenEvent& ev : *client->step()) ...;
//   // client destroyed: its remaining sequences are cancelled
//
// Only the stepping thread touches the engine. A client call becomes a command that the
// thread runs between two steps (so a call waits at most one step, and clients cannot
// starve each other or the engine); `idle`, `stats` and the event queues read state the
// thread publishes after each step. Events of a cancelled sequence are discarded, including
// those already queued.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "runtime/engine.h"

namespace muse {

class EngineService;

class EngineClient {
 public:
  ~EngineClient();  // cancels the sequences it still owns
  EngineClient(const EngineClient&) = delete;
  EngineClient& operator=(const EngineClient&) = delete;

  StatusOr<SeqId> submit(const Request& r);
  StatusOr<std::vector<SeqId>> fork(SeqId parent, std::span<const GenParams> gens);
  Status append(SeqId seq, std::span<const int32_t> tokens);
  Status cancel(SeqId seq);  // unknown or finished id: error, as the engine
  void cancel_all();

  // Waits until some of this client's sequences have events and returns them (in engine
  // order), or until the client is idle (then an empty list). An engine step that failed
  // ends every sequence and is returned here as the error.
  StatusOr<std::vector<TokenEvent>> step();

  // No sequence of this client has work left: each has finished or is held.
  bool idle() const;
  EngineStats stats() const;

 private:
  friend class EngineService;
  explicit EngineClient(EngineService& service) : service_(service) {}
  bool idle_locked() const;
  void cancel_locked(SeqId seq);

  EngineService& service_;
  std::unordered_set<SeqId> live_;  // owned sequences the engine still knows
  std::deque<TokenEvent> events_;
  Status error_;  // a failed step ended this client's sequences; returned by step() once
};

class EngineService {
 public:
  explicit EngineService(std::unique_ptr<Engine> engine);
  ~EngineService();  // stops the stepping thread; clients must be gone
  EngineService(const EngineService&) = delete;
  EngineService& operator=(const EngineService&) = delete;

  std::unique_ptr<EngineClient> connect();
  EngineStats stats() const;
  const EngineOptions& options() const { return engine_->options(); }
  int64_t n_clients() const;

 private:
  friend class EngineClient;
  struct Command {
    std::function<void()> fn;  // runs on the stepping thread with mu_ held
    bool done = false;
  };
  void run();
  // Queues fn for the stepping thread and waits until it ran. `lock` holds mu_.
  void call(std::unique_lock<std::mutex>& lock, std::function<void()> fn);
  void route(std::vector<TokenEvent>& events);
  void fail_all(const Status& error);
  void publish();  // held_, stats_, has_work_ from the engine (stepping thread, mu_ held)

  std::unique_ptr<Engine> engine_;
  mutable std::mutex mu_;
  std::condition_variable work_;    // a command, engine work, or stop
  std::condition_variable done_;    // commands ran
  std::condition_variable events_;  // a step ended: clients re-check their queues
  std::deque<Command*> commands_;
  std::unordered_map<SeqId, EngineClient*> owner_;
  std::unordered_set<EngineClient*> clients_;
  std::unordered_set<SeqId> held_;  // owned sequences the engine holds (prompt evaluated)
  EngineStats stats_;
  bool has_work_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace muse
