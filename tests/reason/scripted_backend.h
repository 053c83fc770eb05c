// A backend whose agents say what a test scripts: every agent's tokens and confidences are
// chosen, so Contemplating's early stops, votes and refinement can be checked step by step.
// Tokens are gen-model's byte-fallback SPM vocabulary: byte b is token 3 + b.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/gen_model.h"
#include "model/model.h"
#include "reason/backend.h"

namespace muse {

inline std::vector<int32_t> ids_of(std::string_view text) {
  std::vector<int32_t> ids;
  for (char c : text) ids.push_back(3 + int32_t(static_cast<unsigned char>(c)));
  return ids;
}

// One scripted agent: the text it generates, one byte token per step, at confidence
// conf[i] (C_t = conf: every top logprob is -conf), then end of generation. After an
// append (budget forcing) it continues with `after_append` when that is set.
struct Script {
  std::string text;
  std::vector<float> conf;  // per token; the last value repeats
  std::string after_append = {};
};

class ScriptedBackend final : public BranchBackend {
 public:
  explicit ScriptedBackend(std::vector<Script> scripts) : scripts_(std::move(scripts)) {}
  // The k-th held prompt's forks use script set k (the last set repeats): rounds of
  // refinement and the synthesizer get their own scripts.
  explicit ScriptedBackend(std::vector<std::vector<Script>> per_fork)
      : scripts_(per_fork.front()), per_fork_(std::move(per_fork)) {}

  StatusOr<SeqId> submit(const Request& r) override {
    prompts_.push_back(r.prompt);
    held_ = next_++;
    live_[held_] = {};
    forked_from_held_ = 0;
    return held_;
  }
  StatusOr<std::vector<SeqId>> fork(SeqId parent, std::span<const GenParams> gens) override {
    if (parent != held_ || !live_.count(parent)) return Errorf("fork: not the held prompt");
    if (++fork_calls_ == fail_fork_call_) return Errorf("fork: no logits to branch from");
    if (forked_from_held_ == 0) {
      if (!per_fork_.empty()) scripts_ = per_fork_[std::min(forks_, per_fork_.size() - 1)];
      ++forks_;
    }
    std::vector<SeqId> out;
    for (size_t i = 0; i < gens.size(); ++i) {
      const SeqId id = next_++;
      // Agent k of the held prompt (over all its fork calls) runs script k.
      const Script& s = scripts_[forked_from_held_++ % scripts_.size()];
      live_[id] = {.ids = ids_of(s.text), .script = &s};
      max_tokens_[id] = gens[i].max_tokens;
      gens_.push_back(gens[i]);
      started_at_.push_back(steps_);
      out.push_back(id);
    }
    return out;
  }
  Status append(SeqId seq, std::span<const int32_t> tokens) override {
    auto it = live_.find(seq);
    if (it == live_.end()) return Errorf("append: no sequence");
    appended_[seq].insert(appended_[seq].end(), tokens.begin(), tokens.end());
    Live& l = it->second;
    if (!l.script->after_append.empty()) {  // budget forcing: continue with the answer
      l.ids = ids_of(l.script->after_append);
      l.pos = 0;
    }
    return Status::Ok();
  }
  Status cancel(SeqId seq) override {
    if (live_.erase(seq) == 0) return Errorf("cancel: no sequence");
    ++cancelled_;
    return Status::Ok();
  }
  StatusOr<std::vector<TokenEvent>> step() override {
    ++steps_;
    std::vector<TokenEvent> events;
    std::vector<SeqId> done;
    for (auto& [id, l] : live_) {
      if (l.script == nullptr) continue;  // the held prompt
      const size_t i = l.emitted;
      const float c = l.script->conf[std::min(i, l.script->conf.size() - 1)];
      TokenEvent ev{.seq = id, .token = l.ids[l.pos]};
      ev.sample.token = ev.token;
      for (int k = 0; k < 20; ++k) ev.sample.top.push_back({k, -c});
      ++l.pos;
      ++l.emitted;
      const bool end =
          l.pos == l.ids.size() || (max_tokens_[id] >= 0 && int64_t(l.emitted) >= max_tokens_[id]);
      if (end) {
        ev.finish = l.pos == l.ids.size() ? SeqFinish::kStop : SeqFinish::kLength;
        done.push_back(id);
      }
      events.push_back(std::move(ev));
    }
    for (SeqId id : done) live_.erase(id);
    return events;
  }
  bool idle() const override {
    for (const auto& [id, l] : live_)
      if (l.script != nullptr) return false;
    return true;
  }
  int64_t pages_referenced() const override { return int64_t(live_.size()); }

  std::map<SeqId, std::vector<int32_t>> appended_;
  std::vector<std::vector<int32_t>> prompts_;  // of every submit
  std::vector<GenParams> gens_;
  std::vector<int> started_at_;  // steps_ when each forked sequence was created
  int fail_fork_call_ = 0;       // this fork call (1-based, over all held prompts) fails
  int cancelled_ = 0;
  int steps_ = 0;

 private:
  struct Live {
    std::vector<int32_t> ids;
    const Script* script = nullptr;
    size_t pos = 0, emitted = 0;
  };
  std::vector<Script> scripts_;
  std::vector<std::vector<Script>> per_fork_;
  size_t forks_ = 0;             // held prompts forked so far
  size_t forked_from_held_ = 0;  // sequences forked from the current held prompt
  int fork_calls_ = 0;
  std::map<SeqId, Live> live_;
  std::map<SeqId, int64_t> max_tokens_;
  SeqId held_ = -1, next_ = 1;
};

// The small random-weight llama whose byte-fallback vocabulary the scripts speak, written to
// `path` and loaded (null on failure, with the test failed).
inline std::unique_ptr<Model> byte_vocab_model(const std::string& path) {
  const auto g = gen_model({.arch = "llama",
                            .name = "",
                            .n_embd = 64,
                            .n_layer = 1,
                            .n_head = 4,
                            .n_ff = 128,
                            .n_vocab = 300},
                           path);
  EXPECT_TRUE(g.ok()) << g.status().message();
  auto m = Model::load(path);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return g.ok() && m.ok() ? std::move(*m) : nullptr;
}

}  // namespace muse
