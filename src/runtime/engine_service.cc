// The stepping thread and the routing of events to clients (see engine_service.h).
#include "runtime/engine_service.h"

namespace muse {

EngineService::EngineService(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {
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
  return engine_->stats();
}

int64_t EngineService::n_clients() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(clients_.size());
}

void EngineService::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || !engine_->idle(); });
    if (stop_) return;
    auto events = engine_->step();
    if (events.ok())
      route(*events);
    else
      fail_all(events.status());
    events_.notify_all();
  }
}

void EngineService::route(std::vector<TokenEvent>& events) {
  for (TokenEvent& ev : events) {
    const auto it = owner_.find(ev.seq);
    if (it == owner_.end()) continue;  // not expected: every live sequence has an owner
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
  SeqId id = -1;
  {
    std::lock_guard lock(service_.mu_);
    auto s = service_.engine_->submit(r);
    if (!s.ok()) return s.status();
    id = *s;
    live_.insert(id);
    service_.owner_[id] = this;
  }
  service_.work_.notify_one();
  return id;
}

StatusOr<std::vector<SeqId>> EngineClient::fork(SeqId parent, std::span<const GenParams> gens) {
  std::vector<SeqId> kids;
  {
    std::lock_guard lock(service_.mu_);
    if (!live_.count(parent))
      return Errorf("fork: sequence %lld is not this client's", (long long)parent);
    auto k = service_.engine_->fork(parent, gens);
    if (!k.ok()) return k.status();
    kids = std::move(*k);
    for (SeqId id : kids) {
      live_.insert(id);
      service_.owner_[id] = this;
    }
  }
  service_.work_.notify_one();
  return kids;
}

Status EngineClient::append(SeqId seq, std::span<const int32_t> tokens) {
  {
    std::lock_guard lock(service_.mu_);
    if (!live_.count(seq)) return Errorf("append: sequence %lld is not live", (long long)seq);
    MUSE_RETURN_IF_ERROR(service_.engine_->append(seq, tokens));
  }
  service_.work_.notify_one();
  return Status::Ok();
}

Status EngineClient::cancel(SeqId seq) {
  std::lock_guard lock(service_.mu_);
  if (!live_.count(seq)) return Errorf("cancel: sequence %lld is not live", (long long)seq);
  MUSE_RETURN_IF_ERROR(service_.engine_->cancel(seq));
  live_.erase(seq);
  service_.owner_.erase(seq);
  std::erase_if(events_, [&](const TokenEvent& ev) { return ev.seq == seq; });
  return Status::Ok();
}

void EngineClient::cancel_all() {
  std::lock_guard lock(service_.mu_);
  for (SeqId seq : live_) {
    (void)service_.engine_->cancel(seq);
    service_.owner_.erase(seq);
  }
  live_.clear();
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
    if (!service_.engine_->held(seq)) return false;
  return true;
}

bool EngineClient::idle() const {
  std::lock_guard lock(service_.mu_);
  return events_.empty() && idle_locked();
}

EngineStats EngineClient::stats() const { return service_.stats(); }

}  // namespace muse
