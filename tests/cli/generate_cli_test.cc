// The user-facing generation commands end to end: `muse logits` against the llama.cpp
// goldens (tolerances of ../shared/fixtures/README.md), `muse run` against llama.cpp's
// llama-simple output for stories260K, and clear errors for bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/run_util.h"

namespace muse::testing {
namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Line n (1-based) of golden/prompts.txt, with the two characters `\n` meaning a newline.
std::string golden_prompt(int n) {
  std::ifstream in(fixture("golden/prompts.txt"));
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) {
  }
  std::string out;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += line[i];
    }
  }
  return out;
}

// `muse logits -p` tokenizes like llama.cpp and reproduces its per-position top-16.
TEST(LogitsCli, MatchesGoldensFromPromptText) {
  const struct {
    const char* model;
    float tol;
  } cases[] = {
      {"stories260K", 5e-3f}, {"llama-spm-tiny-q8_0", 0.1f}, {"qwen2-gpt2-tiny-q8_0", 0.1f}};
  for (const auto& c : cases) {
    const std::string model = fixture(std::string("models/") + c.model + ".gguf");
    MUSE_REQUIRE_FIXTURE(model);
    for (int p = 1; p <= 4; ++p) {
      const std::string golden =
          fixture("golden/" + std::string(c.model) + ".p" + std::to_string(p) + ".json");
      MUSE_REQUIRE_FIXTURE(golden);
      const json g = json::parse(read_text(golden));
      const RunResult r = run_muse("logits -t 2 --json -m " + shell_quote(model) + " -p " +
                                   shell_quote(golden_prompt(p)));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const json out = json::parse(r.out);
      ASSERT_EQ(out["tokens"], g["tokens"]) << c.model << " p" << p;
      const json& top = out["top"];
      const json& ref = g["top16_per_position"];
      ASSERT_EQ(top.size(), ref.size());
      for (size_t i = 0; i < ref.size(); ++i) {
        // Our top-16 as a map; every reference entry must be there within tolerance.
        std::map<int, float> ours;
        for (const json& e : top[i]) ours[e[0].get<int>()] = e[1].get<float>();
        for (const json& e : ref[i]) {
          const int id = e[0].get<int>();
          if (!ours.count(id)) {
            // Outside our top-16 is only acceptable as a near-tie at the cut.
            EXPECT_LE(e[1].get<float>(), top[i][15][1].get<float>() + c.tol)
                << c.model << " p" << p << " pos " << i << " token " << id;
            continue;
          }
          EXPECT_NEAR(ours[id], e[1].get<float>(), c.tol)
              << c.model << " p" << p << " pos " << i << " token " << id;
        }
      }
    }
  }
}

TEST(LogitsCli, ExplicitTokensAndErrors) {
  const std::string model = fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(model);
  RunResult r = run_muse("logits --json --top 3 -m " + shell_quote(model) + " --tokens 1,403,407");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  EXPECT_EQ(out["tokens"], json::parse("[1, 403, 407]"));
  EXPECT_EQ(out["top"].size(), 3u);
  EXPECT_EQ(out["top"][0].size(), 3u);

  r = run_muse("logits -m " + shell_quote(model) + " --tokens 1,99999");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
  r = run_muse("logits -m " + shell_quote(model) + " --tokens 1,x");
  EXPECT_EQ(r.exit_code, 2);
  r = run_muse("logits -m /nonexistent.gguf --tokens 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent.gguf"), std::string::npos) << r.err;
  r = run_muse("logits -c 2 -m " + shell_quote(model) + " --tokens 1,2,3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
}

// llama.cpp's llama-simple, greedy, 64 tokens after "Once upon a time" (BOS added); its
// output file is "<s> " + prompt + continuation.
TEST(RunCli, GreedyMatchesLlamaSimple) {
  const std::string model = fixture("models/stories260K.gguf");
  const std::string ref_path =
      fixture("golden/stories260K_llamacpp_simple_once_upon_a_time_n64.txt");
  MUSE_REQUIRE_FIXTURE(model);
  MUSE_REQUIRE_FIXTURE(ref_path);
  std::string ref = read_text(ref_path);
  const size_t start = ref.find("<s> ");
  ASSERT_NE(start, std::string::npos);
  ref = ref.substr(start + 4);
  const RunResult r = run_muse("run --temp 0 -n 64 --kv-type f32 -m " + shell_quote(model) +
                               " -p 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // stdout is the continuation plus a final newline.
  EXPECT_EQ("Once upon a time" + r.out.substr(0, r.out.size() - 1), ref.substr(0, ref.size() - 1));
  EXPECT_NE(r.err.find("generated 64 tokens"), std::string::npos) << r.err;
}

TEST(RunCli, BadInputsGetClearErrors) {
  const std::string model = fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(model);
  RunResult r = run_muse("run --temp -1 -m " + shell_quote(model) + " -p hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("temperature"), std::string::npos) << r.err;
  r = run_muse("run --top-p 0 -m " + shell_quote(model) + " -p hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("top_p"), std::string::npos) << r.err;
  r = run_muse("run -c 4 -m " + shell_quote(model) + " -p 'a much longer prompt than four'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  r = run_muse("run --kv-type q4 -m " + shell_quote(model) + " -p hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("q8_0"), std::string::npos) << r.err;
  r = run_muse("run -m " + shell_quote(fixture("vocab/ggml-vocab-gpt-2.gguf")) + " -p hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("architecture"), std::string::npos) << r.err;
}

TEST(ChatCli, ScriptedConversationWithReset) {
  const std::string model = fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(model);
  TempDir dir;
  const std::string in = dir.file("in.txt"), saved = dir.file("conv.json");
  std::ofstream(in) << "Hello\n/save " << saved << "\n/reset\nline one\\\nline two\n/exit\n";
  const RunResult r =
      run_muse("chat --temp 0 -n 8 -m " + shell_quote(model) + " < " + shell_quote(in));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("(new conversation)"), std::string::npos) << r.err;
  const json conv = json::parse(read_text(saved));
  ASSERT_EQ(conv["messages"].size(), 2u);
  EXPECT_EQ(conv["messages"][0]["content"], "Hello");
  EXPECT_EQ(conv["messages"][1]["role"], "assistant");
}

// Every architecture gen-model writes runs end to end through `muse run` (tokenizer, MoE,
// MLA, sampler) and reports its KV footprint through `muse info`; needs no fixtures.
TEST(RunCli, GeneratedMoeAndMlaModelsRun) {
  TempDir dir;
  for (const char* arch : {"qwen2moe", "qwen3moe", "deepseek2", "muse"}) {
    const std::string path = dir.file(std::string(arch) + ".gguf");
    const auto gen =
        run_muse(std::string("gen-model --arch ") + arch +
                 " --n-embd 128 --n-layer 2 --n-head 4 --n-ff 256 --n-expert 4 --n-expert-used 2"
                 " --type q8_0 -o " +
                 shell_quote(path));
    ASSERT_EQ(gen.exit_code, 0) << arch << ": " << gen.err;
    const auto run =
        run_muse("run -m " + shell_quote(path) + " -n 8 --temp 0 --ignore-eos -p 'a b c'");
    EXPECT_EQ(run.exit_code, 0) << arch << ": " << run.err;
    EXPECT_FALSE(run.out.empty()) << arch;
    const auto info = run_muse("info " + shell_quote(path));
    EXPECT_EQ(info.exit_code, 0) << arch << ": " << info.err;
    EXPECT_NE(info.out.find("runtime: KV cache"), std::string::npos) << arch << info.out;
    if (std::string(arch) == "deepseek2" || std::string(arch) == "muse") {
      EXPECT_NE(info.out.find("latent rows"), std::string::npos) << arch;
    }
  }
}

// `muse bench --shared-prompt`: the --json shape the issue specifies, KV positions of the
// peak (P + N(G-1) + page-copy rounding), and clear errors for bad lists.
TEST(BenchCli, SharedPromptBranchesJson) {
  TempDir dir;
  const std::string path = dir.file("l.gguf");
  const auto gen = run_muse(
      "gen-model --arch llama --n-embd 64 --n-layer 2 --n-head 4 --n-ff 128 "
      "--type q8_0 -o " +
      shell_quote(path));
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const auto r = run_muse("bench -m " + shell_quote(path) +
                          " --shared-prompt 20 --branches 1,3 --gen 5 -r 1 -t 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 2u);
  for (const auto& row : j["results"]) {
    const int n = row["branches"];
    EXPECT_GT(row["prefill_tps"].get<double>(), 0.0);
    EXPECT_GT(row["decode_tps"].get<double>(), 0.0);
    // 20 prompt positions, 4 evaluated per branch, and the 4 prompt rows of the shared
    // partial page copied by all branches but the last.
    EXPECT_EQ(row["kv_positions"].get<int>(), 20 + n * 4 + (n - 1) * 4) << r.out;
  }
  const auto bad = run_muse("bench -m " + shell_quote(path) + " --shared-prompt 20 --branches 1,x");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--branches"), std::string::npos) << bad.err;
}

// A 2-layer random llama for the commands' option handling.
void write_tiny_llama(const std::string& path) {
  ASSERT_EQ(run_muse("gen-model --arch llama --n-embd 64 --n-layer 2 --n-head 4 --n-ff 128 -o " +
                     shell_quote(path))
                .exit_code,
            0);
}

// `muse contemplate --json` on a random model: well-formed result, every agent reported,
// token counts within the budgets; bad options get exit code 2.
TEST(ContemplateCli, JsonResultAndErrors) {
  TempDir dir;
  const std::string path = dir.file("l.gguf");
  ASSERT_NO_FATAL_FAILURE(write_tiny_llama(path));
  const auto r = run_muse("contemplate -m " + shell_quote(path) +
                          " --agents 3 --budget 8 --answer-tokens 4 -s 5 --json 'what is 2+2'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["agents"].size(), 3u);
  EXPECT_LE(j["tokens"].get<int>(), 3 * (8 + 4));
  for (const auto& a : j["agents"]) {
    EXPECT_TRUE(a.contains("status"));
    EXPECT_LE(a["tokens"].get<int>(), 8 + 4);
  }
  // Same seed, same result.
  const auto r2 = run_muse("contemplate -m " + shell_quote(path) +
                           " --agents 3 --budget 8 --answer-tokens 4 -s 5 --json 'what is 2+2'");
  ASSERT_EQ(r2.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(r2.out)["agents"], j["agents"]);
  EXPECT_EQ(run_muse("contemplate -m " + shell_quote(path) + " --agents 0 'q'").exit_code, 2);
  EXPECT_EQ(run_muse("contemplate -m " + shell_quote(path) + " --consensus 2 'q'").exit_code, 2);
  // No question: a held-out gym question, picked by the seed, with its gold answer.
  const auto g = run_muse("contemplate -m " + shell_quote(path) +
                          " --agents 2 --budget 4 --answer-tokens 2 -s 7 --json");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const auto gj = nlohmann::json::parse(g.out);
  EXPECT_FALSE(gj["question"].get<std::string>().empty());
  EXPECT_FALSE(gj["gold"].get<std::string>().empty());
  EXPECT_EQ(gj["correct"].get<bool>(), gj["answer"] == gj["gold"]);
  const auto g2 = run_muse("contemplate -m " + shell_quote(path) +
                           " --agents 2 --budget 4 --answer-tokens 2 -s 7 --json");
  EXPECT_EQ(nlohmann::json::parse(g2.out)["question"], gj["question"]);
}

// `muse eval` on the gym's tuning split: --traces writes one line per question with every
// agent; policy flags are refused for methods that fix their own; an unwritable traces path
// fails before the model loads.
TEST(EvalCli, TracesAndFlagChecks) {
  TempDir dir;
  const std::string path = dir.file("l.gguf"), traces = dir.file("t.jsonl");
  ASSERT_NO_FATAL_FAILURE(write_tiny_llama(path));
  const std::string base = "eval -m " + shell_quote(path) + " --task gym-train:hard --limit 3 ";
  const auto r = run_muse(base +
                          "--method contemplate@4 --parallel 2 --budget 6 "
                          "--answer-tokens 2 -s 1 --json --traces " +
                          shell_quote(traces));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["questions"], 3);
  std::ifstream in(traces);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["q"], lines);
    ASSERT_EQ(j["agents"].size(), 4u);
    for (const auto& a : j["agents"])
      EXPECT_EQ(a["token_confidences"].size(), a["tokens"].get<size_t>());
  }
  EXPECT_EQ(lines, 3);
  const auto sc = run_muse(base + "--method sc@4 --parallel 2");
  EXPECT_EQ(sc.exit_code, 2);
  EXPECT_NE(sc.err.find("--parallel applies to contemplate@N only"), std::string::npos) << sc.err;
  EXPECT_EQ(run_muse(base + "--method single --consensus 0.5").exit_code, 2);
  const auto bad = run_muse(base + "--method single --traces /nonexistent/dir/t.jsonl");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("cannot write"), std::string::npos) << bad.err;
}

// Without -m, commands load $MUSE_MODEL (else models/muse-nano.gguf); a missing default is a
// clear error.
TEST(DefaultModel, EnvironmentAndMissingDefault) {
  TempDir dir;
  const std::string path = dir.file("l.gguf");
  ASSERT_NO_FATAL_FAILURE(write_tiny_llama(path));
  const auto r = run_muse("contemplate --agents 2 --budget 4 --answer-tokens 2 -s 1 --json 'q'",
                          "MUSE_MODEL=" + shell_quote(path));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto missing = run_muse("run -p hi -n 1", "MUSE_MODEL=" + shell_quote(dir.file("no.gguf")));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no.gguf"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace muse::testing
