// Work split of the quantized matmuls. Every entry point is a batch (matmul_batch): quantize
// each distinct input once (by column, in parallel when large), then hand out row chunks of
// all the batch's matrices from one counter. Each chunk walks its rows in tiles of kTileRows
// (dot_rows) and hands each tile's columns to a panel, kPanelCols at a time, so a weight tile
// is loaded from memory once and reused from L1 for all columns. Chunks are whole tiles of one
// matrix, and a (row, column) result does not depend on the panel or tile it is computed in,
// so outputs are the same however rows and columns are split.
#include "kernels/matmul.h"

#include "kernels/quantize_act.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "kernels/qdot.h"
#include "quant/quant.h"

namespace muse {

Status check_matmul(const QMatrix& w) {
  const auto info = dtype_info_of(uint32_t(w.type));
  if (!info || !info->supported || w.type == DType::Q8_K) {
    if (info) return Errorf("weight type %s is not supported", std::string(info->name).c_str());
    return Errorf("weight type id %u is not supported", unsigned(w.type));
  }
  if (w.n_k <= 0 || w.n_rows <= 0 || w.n_k % info->block_size != 0)
    return Errorf("matmul: row length %lld is not a positive multiple of %s's block size %lld",
                  (long long)w.n_k, std::string(info->name).c_str(), (long long)info->block_size);
  if (w.layout == WeightLayout::kTiles4 && !tileable(w.type))
    return Errorf("matmul: weight type %s has no tiled layout", std::string(info->name).c_str());
  return Status::Ok();
}

namespace {

using Input = MatmulScratch::Input;
using Plan = MatmulScratch::Plan;

// Chunks of whole tiles; enough chunks per thread that the atomic counter can balance a slow
// core, few enough that each chunk streams a long contiguous run of weights (the hardware
// prefetcher needs a few KB of a stream to ramp up, and every chunk start is a new stream):
// at least kMinChunkBytes per chunk, at most 8 chunks per thread. 1 MiB rather than 256 KiB
// took the 250M Q8_0 llama's decode from 106.3 to 109.0 t/s (medians of 3 `muse bench -n 32
// -r 9` runs each), with prefill unchanged. The count is chosen over the whole batch.
constexpr int64_t kMinChunkBytes = 1024 << 10;
constexpr int64_t kMaxChunksPerThread = 8;

// Chunks never cross matrices, so a batch of matrices smaller than a chunk is at first one
// chunk per matrix, which may not split evenly (5 equal matrices on 2 threads take 3 matrix
// times, not 2.5). More chunks are then tried, one per thread at a time, up to
// kBalanceSteps, and the first count whose simulated hand-out is within kBalanceSlack of a
// perfect split is taken: the largest chunks that keep the threads balanced.
constexpr int kBalanceSteps = 16;
constexpr double kBalanceSlack = 1.0 / 16;

// Inputs are quantized in pool tasks of about this many elements (~5 us at ~1.3 ns per
// element, well above a task's hand-out cost); a decode step's inputs, a few thousand
// elements, are quantized on the calling thread with no pool job at all.
constexpr int64_t kQuantTaskElems = 4096;

constexpr size_t kActAlign = 64;  // each quantized input starts on a cache line

// Quantizes every input's columns into q. The columns of all inputs, laid end to end, are
// split into equal runs, so many small inputs (experts at prefill) balance like one large.
void quantize_inputs(ThreadPool& pool, std::span<const Input> inputs, int64_t n_cols,
                     int64_t n_elems, uint8_t* q) {
  if (inputs.empty()) return;
  const int64_t n_tasks = std::clamp<int64_t>(n_elems / kQuantTaskElems, 1, n_cols);
  pool.run(n_tasks, [&](int64_t task, int) {
    const int64_t begin = task * n_cols / n_tasks, end = (task + 1) * n_cols / n_tasks;
    size_t i =
        size_t(std::ranges::upper_bound(inputs, begin, {}, &Input::first_col) - inputs.begin()) - 1;
    for (int64_t g = begin; g < end; ++g) {
      while (g >= inputs[i].first_col + inputs[i].n_cols) ++i;
      const Input& in = inputs[i];
      const int64_t c = g - in.first_col;
      quantize_act(ActType(in.act), in.x + c * in.n_k, q + in.offset + c * in.stride, in.n_k);
    }
  });
}

// Gives every plan its share of `n_chunks` chunks over the batch: whole tiles, at least one.
void set_chunks(std::span<Plan> plans, double total_work, int64_t n_chunks) {
  for (Plan& p : plans) {
    const double share = p.work * double(n_chunks) / total_work;
    const int64_t c = std::clamp<int64_t>(int64_t(std::ceil(share)), 1, p.n_tiles);
    p.chunk_tiles = (p.n_tiles + c - 1) / c;
  }
}

// When the last of finish.size() threads would be done, in units of work, if each took the
// next chunk in order as soon as it was free (what the pool's task counter does).
double simulate(std::span<const Plan> plans, std::span<double> finish) {
  std::ranges::fill(finish, 0.0);  // a min-heap of the threads' finish times
  for (const Plan& p : plans) {
    const double tile_work = p.work / double(p.n_tiles);
    for (int64_t t = 0; t < p.n_tiles; t += p.chunk_tiles) {
      std::ranges::pop_heap(finish, std::greater<>());
      finish.back() += tile_work * double(std::min(p.chunk_tiles, p.n_tiles - t));
      std::ranges::push_heap(finish, std::greater<>());
    }
  }
  return std::ranges::max(finish);
}

// Sets every plan's chunk_tiles; plans must be in hand-out order.
void choose_chunks(std::span<Plan> plans, int n_threads, std::vector<double>& finish) {
  double total_work = 0;
  int64_t total_bytes = 0;
  for (const Plan& p : plans) {
    total_work += p.work;
    total_bytes += int64_t(p.w_stride) * p.job.w.n_rows;
  }
  const int64_t first =
      std::clamp<int64_t>(total_bytes / kMinChunkBytes, n_threads, kMaxChunksPerThread * n_threads);
  set_chunks(plans, total_work, first);
  // One matrix splits into equal chunks; one thread has nothing to balance.
  if (plans.size() == 1 || n_threads == 1) return;
  finish.resize(size_t(n_threads));
  const double balanced = total_work / n_threads * (1 + kBalanceSlack);
  double best_time = simulate(plans, finish);
  int64_t best = first, last = first;
  for (int step = 1; step < kBalanceSteps && best_time > balanced; ++step) {
    last = first + step * n_threads;
    set_chunks(plans, total_work, last);
    const double time = simulate(plans, finish);
    if (time < best_time) {
      best_time = time;
      best = last;
    }
  }
  if (best != last) set_chunks(plans, total_work, best);
}

}  // namespace

void matmul(ThreadPool& pool, MatmulScratch& scratch, const QMatrix& w, const float* x,
            int64_t n_cols, float* y) {
  const MatmulJob job{.w = w, .x = x, .n_cols = n_cols, .y = y};
  matmul_batch(pool, scratch, {&job, 1});
}

void matmul_multi(ThreadPool& pool, MatmulScratch& scratch, std::span<const QMatrix> ws,
                  const float* x, int64_t n_cols, std::span<float* const> ys) {
  std::vector<MatmulJob>& jobs = scratch.multi_;  // not touched by matmul_batch
  jobs.clear();
  for (size_t i = 0; i < ws.size(); ++i)
    jobs.push_back({.w = ws[i], .x = x, .n_cols = n_cols, .y = ys[i]});
  matmul_batch(pool, scratch, jobs);
}

void matmul_batch(ThreadPool& pool, MatmulScratch& scratch, std::span<const MatmulJob> jobs) {
  std::vector<Input>& inputs = scratch.inputs_;
  std::vector<Plan>& plans = scratch.plans_;
  inputs.clear();
  plans.clear();

  // One quantized copy per distinct input; a linear search, as batches hold tens of jobs.
  size_t acts_bytes = 0;
  int64_t n_q_cols = 0, n_q_elems = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const MatmulJob& job = jobs[j];
    if (job.n_cols <= 0) continue;
    const QMatrix& w = job.w;
    const ActType act = act_type(w.type);
    const size_t w_stride = row_bytes(w.type, w.n_k);
    Plan p{.job = job,
           .input = -1,
           .a_stride = size_t(w.n_k) * sizeof(float),
           .w_stride = w_stride,
           .work = double(w_stride) * double(w.n_rows) *
                   double((job.n_cols + kTileCols - 1) / kTileCols),
           .n_tiles = (w.n_rows + kTileRows - 1) / kTileRows,
           .chunk_tiles = 0,
           .order = int64_t(j)};
    if (act != ActType::F32) {
      auto it = std::ranges::find_if(inputs, [&](const Input& in) {
        return in.x == job.x && in.n_k == w.n_k && in.n_cols == job.n_cols && in.act == int(act);
      });
      if (it == inputs.end()) {
        const size_t offset = (acts_bytes + kActAlign - 1) / kActAlign * kActAlign;
        const size_t stride = act_row_bytes(act, w.n_k);
        inputs.push_back({.x = job.x,
                          .n_k = w.n_k,
                          .n_cols = job.n_cols,
                          .act = int(act),
                          .offset = offset,
                          .stride = stride,
                          .first_col = n_q_cols});
        acts_bytes = offset + stride * size_t(job.n_cols);
        n_q_cols += job.n_cols;
        n_q_elems += job.n_cols * w.n_k;
        it = inputs.end() - 1;
      }
      p.input = int(it - inputs.begin());
      p.a_stride = it->stride;
    }
    plans.push_back(p);
  }
  if (plans.empty()) return;
  uint8_t* const q = scratch.acts(acts_bytes);
  quantize_inputs(pool, inputs, n_q_cols, n_q_elems, q);

  // Largest jobs first, so the small ones fill the gaps at the end (list scheduling's LPT
  // order); ties keep the caller's order.
  if (plans.size() > 1) {
    std::ranges::sort(plans, [](const Plan& a, const Plan& b) {
      return a.work != b.work ? a.work > b.work : a.order < b.order;
    });
  }
  choose_chunks(plans, pool.size(), scratch.finish_);
  std::vector<int64_t>& task_end = scratch.task_end_;
  task_end.clear();
  int64_t n_tasks = 0;
  for (const Plan& p : plans) {
    n_tasks += (p.n_tiles + p.chunk_tiles - 1) / p.chunk_tiles;
    task_end.push_back(n_tasks);
  }

  pool.run(n_tasks, [&](int64_t task, int) {
    const size_t i = size_t(std::ranges::upper_bound(task_end, task) - task_end.begin());
    const Plan& p = plans[i];
    const QMatrix& w = p.job.w;
    const uint8_t* const a =
        p.input < 0 ? reinterpret_cast<const uint8_t*>(p.job.x) : q + inputs[p.input].offset;
    const size_t w_stride = p.w_stride;
    const uint8_t* const wbytes = static_cast<const uint8_t*>(w.data);
    const int64_t chunk = task - (i == 0 ? 0 : task_end[i - 1]);
    const int64_t r_begin = chunk * p.chunk_tiles * kTileRows;
    const int64_t r_end = std::min(w.n_rows, r_begin + p.chunk_tiles * kTileRows);
    dot_rows({.type = w.type,
              .n_k = w.n_k,
              .w = wbytes + r_begin * w_stride,
              .w_stride = w_stride,
              .n_rows = int(r_end - r_begin),
              .a = a,
              .a_stride = p.a_stride,
              .n_cols = int(p.job.n_cols),
              .out = p.job.y + r_begin,
              .out_stride = size_t(w.n_rows),
              .tiled = w.layout == WeightLayout::kTiles4});
  });
}

}  // namespace muse
