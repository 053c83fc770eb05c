// What the reasoning layer needs from the runtime: the engine's sequence API
// (runtime/engine.h) behind an interface, so Contemplating can be driven by the real engine
// or, in tests, by a scripted backend with chosen tokens and logprobs.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "runtime/engine.h"
#include "runtime/engine_service.h"

namespace muse {

class BranchBackend {
 public:
  virtual ~BranchBackend() = default;
  virtual StatusOr<SeqId> submit(const Request& r) = 0;
  virtual StatusOr<std::vector<SeqId>> fork(SeqId parent, std::span<const GenParams> gens) = 0;
  virtual Status append(SeqId seq, std::span<const int32_t> tokens) = 0;
  virtual Status cancel(SeqId seq) = 0;
  virtual StatusOr<std::vector<TokenEvent>> step() = 0;
  virtual bool idle() const = 0;
  // Pages held by live sequences (tests check that cancelling frees them all).
  virtual int64_t pages_referenced() const = 0;
};

// The engine (`Engine`) or a client of a shared one (`EngineClient`) as a backend: both
// offer the same sequence API. The server runs Contemplating on a client, batched with every
// other request.
template <class E>
class EngineApiBackend : public BranchBackend {
 public:
  explicit EngineApiBackend(E& e) : e_(e) {}
  StatusOr<SeqId> submit(const Request& r) override { return e_.submit(r); }
  StatusOr<std::vector<SeqId>> fork(SeqId parent, std::span<const GenParams> gens) override {
    return e_.fork(parent, gens);
  }
  Status append(SeqId seq, std::span<const int32_t> tokens) override {
    return e_.append(seq, tokens);
  }
  Status cancel(SeqId seq) override { return e_.cancel(seq); }
  StatusOr<std::vector<TokenEvent>> step() override { return e_.step(); }
  bool idle() const override { return e_.idle(); }
  int64_t pages_referenced() const override { return e_.stats().pages_referenced; }

 private:
  E& e_;
};
using EngineBackend = EngineApiBackend<Engine>;
using ServiceBackend = EngineApiBackend<EngineClient>;

}  // namespace muse
