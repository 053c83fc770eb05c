// The training loop of a recipe: tokenizer, phases of packed batches, AdamW with clipping,
// selection-bias balancing, checkpoints, export.
#include "train/recipe.h"

#include <chrono>
#include <cinttypes>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/splitmix.h"
#include "train/checkpoint.h"
#include "train/export.h"
#include "train/model.h"
#include "train/ops/cross_entropy.h"
#include "train/optim.h"

namespace muse {
namespace {

uint64_t hash_string(std::string_view s, uint64_t seed) {
  uint64_t h = seed;
  for (char c : s) h = splitmix64_mix(h ^ uint8_t(c));
  return h;
}

std::string item_text(const GymItem& item) { return item.question + "\n" + item.trace; }

// Gym items of a mix, `n` in all, shuffled by a Fisher-Yates of our own (std::shuffle's
// sequence is the library's choice).
StatusOr<std::vector<GymItem>> mixed_items(const std::vector<std::pair<std::string, double>>& mix,
                                           int64_t n, uint64_t seed) {
  double total = 0;
  for (const auto& [spec, share] : mix) total += share;
  if (mix.empty() || !(total > 0)) return Status::Error("a recipe phase needs a gym mix");
  std::vector<GymItem> items;
  for (const auto& [spec, share] : mix) {
    const int64_t k = std::max<int64_t>(1, int64_t(std::llround(double(n) * share / total)));
    auto part = gym_generate(spec, GymSplit::kTrain, k, hash_string(spec, seed));
    if (!part.ok()) return part.status();
    for (GymItem& it : *part) items.push_back(std::move(it));
  }
  uint64_t s = seed;
  for (size_t i = items.size(); i > 1; --i) {
    s = splitmix64_mix(s);
    std::swap(items[i - 1], items[size_t(s % i)]);
  }
  return items;
}

// The documents of one phase: enough for its steps (estimated from a sample's mean length,
// with 15 % spare; pack_batch wraps around if they run out).
StatusOr<std::vector<TrainDoc>> phase_documents(const Recipe& r, const RecipePhase& p,
                                                const Tokenizer& tok,
                                                const chat::ChatTemplate& tmpl, uint64_t seed) {
  const DocSpec spec{.format = p.format, .chat_template = &tmpl};
  auto sample = mixed_items(p.mix, 512, seed ^ 0x5A5A);
  if (!sample.ok()) return sample.status();
  auto sample_docs = gym_documents(tok, *sample, spec);
  if (!sample_docs.ok()) return sample_docs.status();
  double mean = 0;
  for (const TrainDoc& d : *sample_docs) mean += double(d.tokens.size());
  mean = std::max(1.0, mean / double(sample_docs->size()));
  const int64_t n = int64_t(1.15 * double(p.steps * r.n_seq * (r.seq_len + 1)) / mean) + 64;
  auto items = mixed_items(p.mix, n, seed);
  if (!items.ok()) return items.status();
  return gym_documents(tok, *items, spec);
}

std::string encode_history(const std::vector<LossSeries>& loss) {
  std::ostringstream out;
  out.precision(9);
  for (const LossSeries& s : loss) {
    out << s.label << ':';
    for (const auto& [x, y] : s.points) out << x << ',' << y << ';';
    out << '\n';
  }
  return out.str();
}

std::vector<LossSeries> decode_history(const std::string& text) {
  std::vector<LossSeries> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    LossSeries& s = out.emplace_back();
    s.label = line.substr(0, colon);
    std::istringstream pts(line.substr(colon + 1));
    std::string pt;
    while (std::getline(pts, pt, ';')) {
      const size_t comma = pt.find(',');
      if (comma == std::string::npos) continue;
      // Losses are floats, written with 9 significant digits: the float round-trips exactly.
      s.points.emplace_back(std::stod(pt.substr(0, comma)),
                            double(std::stof(pt.substr(comma + 1))));
    }
  }
  return out;
}

// Everything a checkpoint holds: every parameter, and the AdamW moments of trained ones.
std::vector<CheckpointTensor> checkpoint_tensors(TrainModel& m) {
  std::vector<CheckpointTensor> t;
  for (TrainParam& p : m.params()) {
    std::vector<int64_t> shape(p.info.ne, p.info.ne + 3);
    while (shape.size() > 1 && shape.back() == 1) shape.pop_back();
    t.push_back({"p." + p.info.name, shape, p.value});
    if (!p.trainable) continue;
    t.push_back({"m." + p.info.name, shape, p.adam_m});
    t.push_back({"v." + p.info.name, shape, p.adam_v});
  }
  return t;
}

std::string recipe_fingerprint(const Recipe& r) {
  std::ostringstream out;
  const GenModelOptions& m = r.model;
  out << r.name << " embd " << m.n_embd << " layer " << m.n_layer << " head " << m.n_head << " ff "
      << m.n_ff << " vocab " << r.vocab.vocab_size << " experts " << m.n_expert << '/'
      << m.n_expert_used << '/' << m.n_expert_shared << " ff_exp " << m.n_ff_exp << " mla "
      << m.q_lora_rank << '/' << m.kv_lora_rank << '/' << m.qk_nope << '/' << m.qk_rope << '/'
      << m.v_head_dim << " rows " << r.n_seq << 'x' << r.seq_len << " seed " << r.seed;
  for (const RecipePhase& p : r.phases)
    out << " | " << p.name << ' ' << p.steps << ' ' << p.peak_lr << ' ' << p.min_lr << ' '
        << p.warmup;
  return out.str();
}

}  // namespace

StatusOr<RecipeResult> run_recipe(const Recipe& r, const RecipeRunOptions& o) {
  auto log = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  RecipeResult result;

  // 1. The tokenizer, trained on gym text (deterministic, so a resumed run re-derives it).
  std::vector<std::string> corpus;
  {
    auto items =
        mixed_items({{"easy", 1}, {"medium", 1}, {"hard", 1}}, r.vocab_items, r.seed ^ 0x70C);
    if (!items.ok()) return items.status();
    for (const GymItem& it : *items) corpus.push_back(item_text(it));
  }
  auto vocab = train_bpe(corpus, r.vocab);
  if (!vocab.ok()) return vocab.status();
  auto tok = load_trained_tokenizer(*vocab);
  if (!tok.ok()) return tok.status();
  auto tmpl = chat::ChatTemplate::parse(vocab->chat_template);
  if (!tmpl.ok()) return tmpl.status();
  log("tokenizer: " + std::to_string(vocab->tokens.size()) + " tokens, " +
      std::to_string(vocab->merges.size()) + " merges");

  // 2. The model, fresh or from the work directory's checkpoint.
  GenModelOptions mo = r.model;
  mo.n_vocab = int64_t(vocab->tokens.size());
  auto model = TrainModel::create(mo, r.seed);
  if (!model.ok()) return model.status();
  result.n_params = model->n_params();
  result.n_vocab = mo.n_vocab;
  std::error_code ec;
  std::filesystem::create_directories(o.work_dir, ec);
  if (ec) return Status::Error("cannot create " + o.work_dir + ": " + ec.message());
  const std::string ckpt_path = o.work_dir + "/checkpoint.gguf";
  std::vector<CheckpointTensor> ckpt = checkpoint_tensors(*model);
  CheckpointState st;
  st.config = recipe_fingerprint(r);
  int64_t cursor = 0;
  if (std::filesystem::exists(ckpt_path)) {
    CheckpointState saved;
    MUSE_RETURN_IF_ERROR(load_checkpoint(ckpt_path, &saved, ckpt));
    if (saved.config != st.config) {
      return Status::Error(ckpt_path + " is a checkpoint of another recipe (" + saved.config +
                           "); remove it or use another work directory");
    }
    st = saved;
    cursor = int64_t(st.rng_state);
    result.loss = decode_history(st.strings["loss"]);
    result.tokens = int64_t(st.numbers["tokens"]);
    result.skipped_docs = int64_t(st.numbers["skipped"]);
    log("resumed from " + ckpt_path + " at step " + std::to_string(st.step));
  }

  ThreadPool pool(o.n_threads);
  int64_t total_steps = 0;
  for (const RecipePhase& p : r.phases) total_steps += p.steps;
  auto save = [&]() -> Status {
    st.rng_state = uint64_t(cursor);
    st.strings["loss"] = encode_history(result.loss);
    st.numbers["tokens"] = double(result.tokens);
    st.numbers["skipped"] = double(result.skipped_docs);
    return save_checkpoint(ckpt_path, st, ckpt);
  };

  // 3. The phases. Global step g counts optimizer steps across phases (AdamW's t = g + 1;
  // the moments carry over from one phase to the next).
  const auto t0 = std::chrono::steady_clock::now();
  int64_t phase_begin = 0, steps_run = 0;
  for (size_t pi = 0; pi < r.phases.size(); ++pi) {
    const RecipePhase& p = r.phases[pi];
    const int64_t phase_end = phase_begin + p.steps;
    result.phase_starts.emplace_back(double(phase_begin), p.name);
    if (result.loss.size() <= pi) result.loss.push_back({p.name, {}});
    if (st.step >= phase_end) {
      phase_begin = phase_end;
      continue;
    }
    if (st.step == phase_begin) cursor = 0;  // a fresh phase reads its documents from the start
    auto docs = phase_documents(r, p, *tok, *tmpl, hash_string(p.name, r.seed));
    if (!docs.ok()) return docs.status();
    {
      size_t longest = 0, sum = 0, too_long = 0;
      for (const TrainDoc& d : *docs) {
        longest = std::max(longest, d.tokens.size());
        sum += d.tokens.size();
        too_long += int64_t(d.tokens.size()) > r.seq_len + 1;
      }
      log("phase " + p.name + ": " + std::to_string(docs->size()) + " documents, mean " +
          std::to_string(sum / std::max<size_t>(1, docs->size())) + " tokens, longest " +
          std::to_string(longest) + ", " + std::to_string(too_long) + " longer than a row");
    }
    const LrSchedule sched{
        .peak_lr = p.peak_lr, .min_lr = p.min_lr, .warmup_steps = p.warmup, .total_steps = p.steps};
    while (st.step < phase_end) {
      if (o.stop_after > 0 && st.step >= o.stop_after) {
        MUSE_RETURN_IF_ERROR(save());
        result.steps = st.step;
        result.train_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return result;
      }
      TrainBatch batch =
          pack_batch(*docs, r.n_seq, r.seq_len, vocab->pad, &cursor, &result.skipped_docs);
      int64_t counted = 0;
      for (int32_t t : batch.targets) counted += t != kIgnoreTarget;
      model->zero_grad();
      auto loss = model->forward_backward(pool, batch);
      if (!loss.ok()) return loss.status();
      std::vector<std::span<float>> grads;
      for (TrainParam& q : model->params())
        if (q.trainable) grads.emplace_back(q.grad);
      const double norm = clip_grad_global_norm(pool, grads, r.clip);
      const float lr = lr_at(sched, st.step - phase_begin);
      if (std::isfinite(norm) && std::isfinite(*loss)) {
        for (TrainParam& q : model->params()) {
          if (!q.trainable) continue;
          adamw_step(pool, {.lr = lr, .weight_decay = q.decay ? r.weight_decay : 0.0f}, st.step + 1,
                     q.value.data(), q.grad.data(), q.adam_m.data(), q.adam_v.data(),
                     int64_t(q.value.size()));
        }
        model->update_selection_bias(r.bias_rate);
      } else {
        log("step " + std::to_string(st.step) + ": non-finite loss or gradient, update skipped");
        model->update_selection_bias(0.0f);  // rate 0: only forgets this step's loads
      }
      ++st.step;
      ++steps_run;
      result.tokens += counted;
      result.loss[pi].points.emplace_back(double(st.step), double(*loss));
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (o.progress) {
        o.progress({.step = st.step,
                    .total = total_steps,
                    .loss = *loss,
                    .lr = lr,
                    .tokens_per_s = double(steps_run * r.n_seq * r.seq_len) / elapsed,
                    .elapsed_s = elapsed,
                    .phase = p.name});
      }
      if ((r.checkpoint_every > 0 && st.step % r.checkpoint_every == 0) || st.step == phase_end) {
        MUSE_RETURN_IF_ERROR(save());
      }
    }
    phase_begin = phase_end;
  }
  result.steps = st.step;
  result.train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // 4. Export.
  std::filesystem::path out(o.out_path);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path(), ec);
  auto written =
      export_model(*model,
                   {.type = r.export_type,
                    .name = r.name == "nano" ? "muse-nano" : "muse-" + r.name,
                    .n_ctx = r.model.n_ctx,
                    .tokenizer = [&](GgufWriter* w) { write_tokenizer_keys(*vocab, w); }},
                   o.out_path);
  if (!written.ok()) return written.status();
  result.exported = *written;
  result.finished = true;
  return result;
}

}  // namespace muse
