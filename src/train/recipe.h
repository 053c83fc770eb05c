// Training recipes (`muse train --recipe NAME`): everything that produces a model from
// nothing — a tokenizer trained on the gym corpus, a `muse` model trained in phases
// (pretraining on plain traces, then SFT on chat-formatted ones), checkpoints that resume
// bit-exactly, and the exported GGUF. A recipe is data; run_recipe is the one loop.
//
// Determinism: the result is a pure function of the recipe (seeded data, initialisation and
// order; the ops reduce in a fixed order for any thread count), so a resumed run ends with
// the same bytes as an uninterrupted one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "model/gen_model.h"
#include "train/bpe_trainer.h"
#include "train/data.h"
#include "train/report.h"

namespace muse {

struct RecipePhase {
  std::string name;  // "pretrain", "sft"
  DocFormat format = DocFormat::kPlain;
  // Gym specs ("easy", "arith:hard", ...) and their share of the phase's documents.
  std::vector<std::pair<std::string, double>> mix = {};
  int64_t steps = 0;
  float peak_lr = 1e-3f;
  float min_lr = 1e-4f;
  int64_t warmup = 0;
};

struct Recipe {
  std::string name;
  GenModelOptions model;  // arch "muse"; n_vocab is the tokenizer's vocab_size
  BpeTrainOptions vocab;  // trained on vocab_items gym documents
  int64_t vocab_items = 20000;
  int64_t n_seq = 8;      // rows per step
  int64_t seq_len = 256;  // tokens per row
  std::vector<RecipePhase> phases;
  float weight_decay = 0.1f;
  float clip = 1.0f;        // global gradient norm
  float bias_rate = 1e-3f;  // selection-bias update per step (DeepSeek-V3's γ)
  uint64_t seed = 1;
  DType export_type = DType::Q8_0;
  int64_t checkpoint_every = 200;  // steps; 0 = only at the end of each phase
};

// "nano" (muse-nano, the shipped default) and "smoke" (a few steps of a tiny model, for CI).
StatusOr<Recipe> find_recipe(std::string_view name);
std::vector<std::string_view> recipe_names();

struct RecipeRunOptions {
  std::string out_path;  // the exported GGUF
  std::string work_dir;  // checkpoints; resumed from when one is there
  int n_threads = 2;
  int64_t stop_after = 0;  // > 0: stop (with a checkpoint) after this global step (tests)
  std::function<void(const ProgressInfo&)> progress = {};  // after every step
  std::function<void(const std::string&)> log = {};        // one line of news
};

struct RecipeResult {
  std::vector<LossSeries> loss;  // one series per phase: (global step, loss)
  std::vector<std::pair<double, std::string>> phase_starts;
  int64_t steps = 0;
  int64_t tokens = 0;        // trained tokens (with a loss), all phases
  int64_t skipped_docs = 0;  // documents longer than a row
  double train_s = 0;        // wall time of the steps run in this process
  int64_t n_params = 0;
  int64_t n_vocab = 0;
  bool finished = false;  // every phase done and the model exported
  GenModelSummary exported;
};

StatusOr<RecipeResult> run_recipe(const Recipe& r, const RecipeRunOptions& o);

}  // namespace muse
