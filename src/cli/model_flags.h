// Flags shared by the commands that load a model and generate (run, chat, logits): model
// and context options, sampling, stop conditions. Each command parses its own flags first
// and hands the rest here, so every command spells a shared option the same way.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/context.h"
#include "model/model.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "threading/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace muse::cli {

struct ModelFlags {
  std::string model;
  int threads = ThreadPool::default_threads();
  int64_t n_ctx = 0;  // 0 = model default (capped at 4096)
  int64_t n_batch = 256;
  std::string kv_type = "f16";
  bool no_mmap = false;
  SamplerParams sampling;
  GenerateOptions generate;
};

// Tries to consume argv[*i] (and its value) as a shared flag. Returns 1 if consumed, 0 if
// not a shared flag, -1 on a bad value (message printed, prefixed with `cmd`).
int parse_model_flag(const char* cmd, int argc, char** argv, int* i, ModelFlags* f);

// Help text for the shared flags.
const char* model_flags_help();

// Everything a generating command needs, loaded from ModelFlags with progress on stderr.
struct LoadedModel {
  std::unique_ptr<Model> model;
  std::optional<Tokenizer> tokenizer;  // always set by load_model
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<ModelContext> ctx;
};
// Without -m, the shipped default: $MUSE_MODEL, else models/muse-nano.gguf under the current
// directory, else under the checkout the binary was built in (build/<preset>/muse). Empty
// when none exists.
std::string default_model_path();

// f.model, or default_model_path() when f.model is empty.
StatusOr<LoadedModel> load_model(const ModelFlags& f, bool quiet = false);

// Generates with the text streamed to stdout as it becomes final, then a newline.
StatusOr<GenerateResult> generate_to_stdout(GenerationSession& session,
                                            std::span<const int32_t> prompt, Sampler& sampler,
                                            const GenerateOptions& opts);

}  // namespace muse::cli
