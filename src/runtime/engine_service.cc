// The stepping thread, its command queue and the routing of events to clients (see
// engine_service.h).
#include "runtime/engine_service.h"

namespace muse {

EngineService::EngineService(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {
  stats_ = engine_->stats();
  thread_ = std::thread([this] { run(); });
}

EngineService::~EngineService() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  thread_.join();
}

std::unique_ptr<EngineClient> EngineService::connect() {
  std::unique_ptr<EngineClient> c(new EngineClient(*this));
  std::lock_guard lock(mu_);
  clients_.insert(c.get());
  return c;
}

EngineStats EngineService::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

int64_t EngineService::n_clients() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(clients_.size());
}

void EngineService::call(std::unique_lock<std::mutex>& lock, std::function<void()> fn) {
  Command c{.fn = std::move(fn)};
  commands_.push_back(&c);
  work_.notify_one();
  done_.wait(lock, [&] { return c.done; });
}

void EngineService::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || !commands_.empty() || has_work_; });
    if (stop_) return;
    while (!commands_.empty()) {
      Command* c = commands_.front();
      commands_.pop_front();
      c->fn();
      c->done = true;
    }
    publish();
    done_.notify_all();
    if (has_work_) {
      // The step runs unlocked: clients queue commands and read published state meanwhile.
      lock.unlock();
      auto events = engine_->step();
      lock.lock();
      if (events.ok())
        route(*events);
      else
        fail_all(events.status());
      publish();
    }
    events_.notify_all();
  }
}

void EngineService::publish() {
  held_.clear();
  for (const auto& [seq, c] : owner_)
    if (engine_->held(seq)) held_.insert(seq);
  stats_ = engine_->stats();
  has_work_ = !engine_->idle();
}

void EngineService::route(std::vector<TokenEvent>& events) {
  for (TokenEvent& ev : events) {
    const auto it = owner_.find(ev.seq);
    if (it == owner_.end()) continue;  // cancelled during the step
    EngineClient* c = it->second;
    if (ev.finish != SeqFinish::kNone) {
      c->live_.erase(ev.seq);
      owner_.erase(it);
    }
    c->events_.push_back(std::move(ev));
  }
}

// The engine keeps its state when a step fails, so the same step would fail again: end
// every sequence and tell each owner why.
void EngineService::fail_all(const Status& error) {
  for (auto& [seq, c] : owner_) {
    (void)engine_->cancel(seq);
    c->live_.erase(seq);
    c->events_.push_back({.seq = seq, .finish = SeqFinish::kError});
    c->error_ = error;
  }
  owner_.clear();
}

EngineClient::~EngineClient() {
  cancel_all();
  std::lock_guard lock(service_.mu_);
  service_.clients_.erase(this);
}

StatusOr<SeqId> EngineClient::submit(const Request& r) {
  std::unique_lock lock(service_.mu_);
  StatusOr<SeqId> id = Status::Error("not run");
  service_.call(lock, [&] {
    id = service_.engine_->submit(r);
    if (!id.ok()) return;
    live_.insert(*id);
    service_.owner_[*id] = this;
  });
  return id;
}

StatusOr<std::vector<SeqId>> EngineClient::fork(SeqId parent, std::span<const GenParams> gens) {
  std::unique_lock lock(service_.mu_);
  if (!live_.count(parent))
    return Errorf("fork: sequence %lld is not live", static_cast<long long>(parent));
  StatusOr<std::vector<SeqId>> kids = Status::Error("not run");
  service_.call(lock, [&] {
    kids = service_.engine_->fork(parent, gens);
    if (!kids.ok()) return;
    for (SeqId id : *kids) {
      live_.insert(id);
      service_.owner_[id] = this;
    }
  });
  return kids;
}

Status EngineClient::append(SeqId seq, std::span<const int32_t> tokens) {
  std::unique_lock lock(service_.mu_);
  if (!live_.count(seq))
    return Errorf("append: sequence %lld is not live", static_cast<long long>(seq));
  Status s;
  service_.call(lock, [&] { s = service_.engine_->append(seq, tokens); });
  return s;
}

// On the stepping thread: the sequence leaves the engine, its queued events vanish.
void EngineClient::cancel_locked(SeqId seq) {
  (void)service_.engine_->cancel(seq);
  live_.erase(seq);
  service_.owner_.erase(seq);
  std::erase_if(events_, [&](const TokenEvent& ev) { return ev.seq == seq; });
}

Status EngineClient::cancel(SeqId seq) {
  std::unique_lock lock(service_.mu_);
  if (!live_.count(seq))
    return Errorf("cancel: sequence %lld is not live", static_cast<long long>(seq));
  service_.call(lock, [&] {
    if (live_.count(seq)) cancel_locked(seq);  // it may have finished meanwhile
  });
  return Status::Ok();
}

void EngineClient::cancel_all() {
  std::unique_lock lock(service_.mu_);
  if (!live_.empty())
    service_.call(lock, [&] {
      const std::vector<SeqId> seqs(live_.begin(), live_.end());
      for (SeqId seq : seqs) cancel_locked(seq);
    });
  events_.clear();
}

StatusOr<std::vector<TokenEvent>> EngineClient::step() {
  std::unique_lock lock(service_.mu_);
  service_.events_.wait(lock, [&] { return !events_.empty() || idle_locked(); });
  if (!error_.ok()) {
    Status e = error_;
    error_ = Status::Ok();
    events_.clear();
    return e;
  }
  std::vector<TokenEvent> out(std::make_move_iterator(events_.begin()),
                              std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

bool EngineClient::idle_locked() const {
  for (SeqId seq : live_)
    if (!service_.held_.count(seq)) return false;
  return true;
}

bool EngineClient::idle() const {
  std::lock_guard lock(service_.mu_);
  return events_.empty() && idle_locked();
}

EngineStats EngineClient::stats() const { return service_.stats(); }

}  // namespace muse
