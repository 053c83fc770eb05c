// matmul_batch must give exactly what one `matmul` per job gives: for every weight type, mixed
// in one batch; for jobs sharing an input (one quantization) and jobs with their own; for
// n_cols of 0 (skipped, y untouched), 1, 3 and 17; for 40 jobs; on pools of 1, 2 and 3
// threads. A reused scratch must not allocate.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "quant/quant.h"

// Counts heap allocations, so a test can check that a warm scratch needs none. Not inlined:
// GCC would see malloc() behind `new` and free() behind `delete` and warn of a mismatch.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

__attribute__((noinline)) void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace muse {
namespace {

constexpr DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                            DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                            DType::Q4_K, DType::Q5_K, DType::Q6_K};
constexpr float kUntouched = -12345.0f;
constexpr int64_t kGuard = 8;  // sentinel floats after each output

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

std::vector<uint8_t> random_weights(DType t, int64_t rows, int64_t k, uint32_t seed) {
  const size_t rb = row_bytes(t, k);
  std::vector<uint8_t> bytes(rb * size_t(rows));
  const std::vector<float> w = random_floats(size_t(rows * k), seed);
  for (int64_t r = 0; r < rows; ++r)
    quantize_row_ref(t, w.data() + r * k, bytes.data() + r * rb, k);
  return bytes;
}

// A batch whose jobs own their weights, inputs and outputs.
struct Batch {
  std::vector<std::vector<uint8_t>> weights;
  std::vector<std::vector<float>> inputs;
  std::vector<MatmulJob> jobs;
  std::vector<std::vector<float>> got;  // [n_cols * n_rows + kGuard], kUntouched before

  // Adds a job reading inputs[input] (its first n_cols columns of n_k floats).
  void add(DType t, int64_t rows, int64_t n_k, size_t input, int64_t n_cols, uint32_t seed) {
    weights.push_back(random_weights(t, rows, n_k, seed));
    got.emplace_back(size_t(n_cols * rows + kGuard), kUntouched);
    EXPECT_GE(inputs[input].size(), size_t(n_cols * n_k));
    jobs.push_back({.w = {t, weights.back().data(), rows, n_k},
                    .x = inputs[input].data(),
                    .n_cols = n_cols,
                    .y = got.back().data()});
  }
};

// Runs the batch and compares every job with its own `matmul` call.
void expect_equals_separate_calls(ThreadPool& pool, MatmulScratch& scratch, Batch& b) {
  for (std::vector<float>& g : b.got) std::fill(g.begin(), g.end(), kUntouched);
  matmul_batch(pool, scratch, b.jobs);
  MatmulScratch own;
  for (size_t j = 0; j < b.jobs.size(); ++j) {
    const MatmulJob& job = b.jobs[j];
    const std::string what = "job " + std::to_string(j) + " " +
                             std::string(dtype_name(job.w.type)) + " rows " +
                             std::to_string(job.w.n_rows) + " cols " + std::to_string(job.n_cols);
    std::vector<float> want(b.got[j].size(), kUntouched);
    if (job.n_cols > 0) matmul(pool, own, job.w, job.x, job.n_cols, want.data());
    ASSERT_EQ(b.got[j], want) << what;
  }
}

// Rows not a multiple of the tile, one tile, a single row, several chunks.
constexpr int64_t kRows[] = {13, 4, 1, 37, 130, 64, 7};
constexpr int64_t kCols[] = {1, 3, 17, 0};

// 40 jobs over all types: shared inputs (one per K width), inputs of their own, and one input
// read with different column counts (distinct quantizations of overlapping data).
Batch mixed_batch(uint32_t seed) {
  Batch b;
  constexpr int64_t kK = 512;  // a multiple of every block size
  for (int i = 0; i < 4; ++i) b.inputs.push_back(random_floats(size_t(17 * kK), seed + i));
  for (int j = 0; j < 40; ++j) {
    const DType t = kTypes[j % std::size(kTypes)];
    const int64_t rows = kRows[j % std::size(kRows)];
    const int64_t n_cols = kCols[(j / 3) % std::size(kCols)];
    size_t input = 0;
    if (j % 4 == 1) {
      input = b.inputs.size();  // its own input
      b.inputs.push_back(random_floats(size_t(17 * kK), seed + 100 + j));
    } else if (j % 4 == 2) {
      input = 1 + size_t(j / 4) % 3;
    }
    b.add(t, rows, kK, input, n_cols, seed + 1000 + j);
  }
  return b;
}

class MatmulBatch : public ::testing::TestWithParam<int> {};

TEST_P(MatmulBatch, MixedTypesAndInputsEqualSeparateCalls) {
  ThreadPool pool(GetParam());
  MatmulScratch scratch;
  Batch b = mixed_batch(7);
  expect_equals_separate_calls(pool, scratch, b);
}

// A second K width, shared inputs that only some jobs with the same K use, F32 activations
// mixed with quantized ones on the same x.
TEST_P(MatmulBatch, DifferentWidthsShareNothingAcross) {
  ThreadPool pool(GetParam());
  MatmulScratch scratch;
  Batch b;
  b.inputs.push_back(random_floats(17 * 256, 1));
  b.inputs.push_back(random_floats(17 * 96, 2));
  for (DType t : kTypes) {
    const int64_t bs = dtype_info(t).block_size;
    b.add(t, 21, 256, 0, 3, 10 + uint32_t(t));
    if (bs != 256) b.add(t, 9, 96, 1, 17, 50 + uint32_t(t));
  }
  expect_equals_separate_calls(pool, scratch, b);
}

// A MoE layer at prefill: every expert its own gathered tokens, enough elements that the
// inputs are quantized in pool tasks that cross from one input to the next.
TEST_P(MatmulBatch, ManyDistinctInputsQuantizeInParallel) {
  ThreadPool pool(GetParam());
  MatmulScratch scratch;
  Batch b;
  const int64_t n_cols[] = {17, 1, 40, 3, 64, 0, 9, 33, 2, 128};
  for (int e = 0; e < 10; ++e) {
    b.inputs.push_back(random_floats(size_t(n_cols[e] * 1024), 200 + e));
    const DType t = e % 3 == 0 ? DType::Q4_K : DType::Q8_0;
    b.add(t, 64, 1024, size_t(e), n_cols[e], 300 + e);
    b.add(t, 64, 1024, size_t(e), n_cols[e], 400 + e);
  }
  expect_equals_separate_calls(pool, scratch, b);
}

// Jobs that are all empty, and an empty span: nothing is written, nothing crashes.
TEST_P(MatmulBatch, EmptyJobsAreSkipped) {
  ThreadPool pool(GetParam());
  MatmulScratch scratch;
  Batch b;
  b.inputs.push_back(random_floats(64, 3));
  b.add(DType::Q8_0, 8, 64, 0, 0, 5);
  b.add(DType::F32, 8, 64, 0, 0, 6);
  expect_equals_separate_calls(pool, scratch, b);
  matmul_batch(pool, scratch, {});
}

// The MoE decode shape of the benchmark, one scratch reused across batches of different
// sizes (the scratch shrinks nothing, so a later smaller batch must not read stale layout).
TEST_P(MatmulBatch, ScratchReusedAcrossBatches) {
  ThreadPool pool(GetParam());
  MatmulScratch scratch;
  Batch big = mixed_batch(11);
  Batch small;
  small.inputs.push_back(random_floats(1024, 4));
  for (int e = 0; e < 5; ++e) small.add(DType::Q8_0, 128, 1024, 0, 1, 500 + e);
  expect_equals_separate_calls(pool, scratch, big);
  expect_equals_separate_calls(pool, scratch, small);
  expect_equals_separate_calls(pool, scratch, big);
}

TEST_P(MatmulBatch, WarmScratchDoesNotAllocate) {
  ThreadPool pool(GetParam());
  MatmulScratch scratch;
  Batch b = mixed_batch(13);
  std::vector<QMatrix> ws;
  std::vector<std::vector<float>> outs;
  std::vector<float*> ys;
  for (size_t j = 0; j < 6; ++j) {
    ws.push_back(b.jobs[j].w);
    outs.emplace_back(size_t(17 * ws.back().n_rows));
    ys.push_back(outs.back().data());
  }
  const float* x = b.inputs[0].data();
  matmul_batch(pool, scratch, b.jobs);
  matmul_multi(pool, scratch, ws, x, 3, ys);
  const int64_t before = g_allocations.load();
  matmul_batch(pool, scratch, b.jobs);
  matmul_multi(pool, scratch, ws, x, 3, ys);
  matmul(pool, scratch, ws[0], x, 17, ys[0]);
  EXPECT_EQ(g_allocations.load(), before);
}

INSTANTIATE_TEST_SUITE_P(Threads, MatmulBatch, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param);
                         });

}  // namespace
}  // namespace muse
