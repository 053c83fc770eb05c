// The shared engine: clients on their own threads see exactly the tokens their sequences
// would generate alone, forks and held prompts work through a client, cancelled sequences'
// events vanish, and a client's pages are freed when it goes away.
#include "runtime/engine_service.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>

#include "gguf/test_util.h"
#include "model/gen_model.h"

namespace muse {
namespace {

class EngineServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = dir_.file("llama.gguf");
    ASSERT_TRUE(gen_model({.arch = "llama",
                           .name = "",
                           .n_embd = 64,
                           .n_layer = 2,
                           .n_head = 4,
                           .n_head_kv = 2,
                           .n_ff = 128,
                           .n_vocab = 300,
                           .seed = 3},
                          path)
                    .ok());
    auto m = Model::load(path);
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = std::move(*m);
  }
  std::unique_ptr<Engine> engine() {
    auto e = Engine::create(*model_, pool_, {.n_ctx = 256, .n_batch = 64, .kv_type = DType::F32});
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(*e) : nullptr;
  }
  testing::TempDir dir_;
  ThreadPool pool_{2};
  std::unique_ptr<Model> model_;
};

std::vector<int32_t> prompt_of(int seed, int n) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> d(3, 299);
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (int32_t& t : p) t = d(rng);
  return p;
}

GenParams gen(uint64_t seed, int32_t max_tokens) {
  return {.sampling = {.temperature = 0.9f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = seed},
          .max_tokens = max_tokens};
}

// Every generated token of the client's sequences, by sequence, until the client is idle.
std::map<SeqId, std::vector<int32_t>> drain(EngineClient& c) {
  std::map<SeqId, std::vector<int32_t>> out;
  while (!c.idle()) {
    auto ev = c.step();
    EXPECT_TRUE(ev.ok()) << ev.status().message();
    if (!ev.ok()) break;
    for (const TokenEvent& t : *ev)
      if (t.token >= 0) out[t.seq].push_back(t.token);
  }
  return out;
}

std::vector<int32_t> alone(Engine& e, const Request& r) {
  auto id = e.submit(r);
  EXPECT_TRUE(id.ok());
  std::vector<int32_t> out;
  while (!e.idle()) {
    auto ev = e.step();
    EXPECT_TRUE(ev.ok());
    if (!ev.ok()) break;
    for (const TokenEvent& t : *ev)
      if (t.token >= 0) out.push_back(t.token);
  }
  return out;
}

TEST_F(EngineServiceTest, ConcurrentClientsMatchAloneRuns) {
  constexpr int kClients = 4, kGen = 20;
  std::vector<Request> reqs;
  for (int i = 0; i < kClients; ++i)
    reqs.push_back({.prompt = prompt_of(i, 10 + 7 * i), .gen = gen(50 + uint64_t(i), kGen)});
  std::vector<std::vector<int32_t>> want;
  {
    auto e = engine();
    for (const Request& r : reqs) want.push_back(alone(*e, r));
  }
  EngineService service(engine());
  std::vector<std::vector<int32_t>> got(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      auto c = service.connect();
      auto id = c->submit(reqs[size_t(i)]);
      ASSERT_TRUE(id.ok());
      got[size_t(i)] = drain(*c)[*id];
    });
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(got[size_t(i)], want[size_t(i)]) << "client " << i;
  EXPECT_EQ(service.stats().pages_referenced, 0);
  EXPECT_EQ(service.n_clients(), 0);
}

TEST_F(EngineServiceTest, HeldPromptForksThroughAClient) {
  EngineService service(engine());
  auto c = service.connect();
  auto parent = c->submit({.prompt = prompt_of(9, 21), .gen = {.max_tokens = 0}});
  ASSERT_TRUE(parent.ok());
  EXPECT_TRUE(drain(*c).empty());  // idle once the prompt is held
  const std::vector<GenParams> gens = {gen(1, 8), gen(2, 8), gen(3, 8)};
  auto kids = c->fork(*parent, gens);
  ASSERT_TRUE(kids.ok()) << kids.status().message();
  ASSERT_TRUE(c->cancel(*parent).ok());
  auto out = drain(*c);
  ASSERT_EQ(out.size(), 3u);
  for (SeqId k : *kids) EXPECT_EQ(out[k].size(), 8u);
  EXPECT_EQ(service.stats().pages_referenced, 0);
}

TEST_F(EngineServiceTest, CancelDropsEventsAndClientExitFreesPages) {
  EngineService service(engine());
  auto a = service.connect();
  auto b = service.connect();
  auto sa = a->submit({.prompt = prompt_of(1, 30), .gen = gen(1, 200)});
  auto sb = b->submit({.prompt = prompt_of(2, 30), .gen = gen(2, 5)});
  ASSERT_TRUE(sa.ok() && sb.ok());
  // However far the engine got, a cancelled sequence's queued events are gone (if it
  // finished first, cancel reports that instead).
  if (a->cancel(*sa).ok()) {
    EXPECT_TRUE(a->idle());
    auto none = a->step();  // returns at once: nothing left
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
  } else {
    drain(*a);  // it finished first: its events stay until read
  }
  EXPECT_FALSE(a->cancel(*sa).ok());  // not live any more
  auto held = a->submit({.prompt = prompt_of(4, 20), .gen = {.max_tokens = 0}});
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(drain(*a).empty());
  EXPECT_TRUE(a->cancel(*held).ok());
  // b is unaffected; a client that leaves mid-generation releases its pages.
  auto sc = a->submit({.prompt = prompt_of(3, 40), .gen = gen(3, -1)});
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(drain(*b)[*sb].size(), 5u);
  a.reset();
  b.reset();
  EXPECT_EQ(service.stats().pages_referenced, 0);
  EXPECT_EQ(service.n_clients(), 0);
}

TEST_F(EngineServiceTest, BadRequestsFailWithoutTouchingOthers) {
  EngineService service(engine());
  auto c = service.connect();
  EXPECT_FALSE(c->submit({.prompt = {}}).ok());
  EXPECT_FALSE(c->submit({.prompt = {1, 2, 999}}).ok());
  EXPECT_FALSE(c->fork(12345, std::vector<GenParams>{gen(1, 1)}).ok());
  EXPECT_FALSE(c->append(12345, std::vector<int32_t>{1}).ok());
  EXPECT_TRUE(c->idle());
}

}  // namespace
}  // namespace muse
