// Tensor lookup with shape and type checks, then assembly of the per-layer structs.
#include "model/weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <string>
#include <thread>

#include "core/huge_pages.h"
#include "kernels/tiled.h"
#include "quant/quant.h"

namespace muse {
namespace {

std::string shape_str(const int64_t* ne, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

class TensorFinder {
 public:
  explicit TensorFinder(const GgufFile& file) : file_(file) {}

  // The tensor `name` with exactly `shape` (GGML order), or null when optional and absent.
  StatusOr<const GgufTensor*> find(const std::string& name, std::initializer_list<int64_t> shape,
                                   bool required) {
    const GgufTensor* t = file_.find_tensor(name);
    if (t == nullptr) {
      if (required) return Errorf("tensor '%s' is missing", name.c_str());
      return static_cast<const GgufTensor*>(nullptr);
    }
    int64_t want[kGgufMaxDims] = {1, 1, 1, 1};
    int n = 0;
    for (int64_t d : shape) want[n++] = d;
    for (int i = 0; i < kGgufMaxDims; ++i) {
      if (t->ne[i] != want[i])
        return Errorf("tensor '%s': shape %s, expected %s", name.c_str(),
                      shape_str(t->ne, t->n_dims).c_str(), shape_str(want, n).c_str());
    }
    n_bytes_ += t->bytes;
    return t;
  }

  StatusOr<const float*> vec_f32(const std::string& name, int64_t n, bool required) {
    auto t = find(name, {n}, required);
    if (!t.ok()) return t.status();
    if (*t == nullptr) return static_cast<const float*>(nullptr);
    if ((*t)->dtype != DType::F32)
      return Errorf("tensor '%s': type %s is not supported for a norm or bias (F32 only)",
                    name.c_str(), std::string(dtype_name((*t)->dtype)).c_str());
    return static_cast<const float*>((*t)->data);
  }

  StatusOr<Linear> linear(const std::string& name, int64_t n_in, int64_t n_out,
                          Presence bias = Presence::kAbsent) {
    auto t = find(name + ".weight", {n_in, n_out}, true);
    if (!t.ok()) return t.status();
    Linear l;
    l.w = QMatrix{.type = (*t)->dtype, .data = (*t)->data, .n_rows = n_out, .n_k = n_in};
    if (Status s = check_matmul(l.w); !s.ok())
      return Errorf("tensor '%s.weight': %s", name.c_str(), s.message().c_str());
    if (bias != Presence::kAbsent) {
      auto b = vec_f32(name + ".bias", n_out, bias == Presence::kRequired);
      if (!b.ok()) return b.status();
      l.bias = *b;
    }
    return l;
  }

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  uint64_t n_bytes() const { return n_bytes_; }

 private:
  const GgufFile& file_;
  uint64_t n_bytes_ = 0;
};

}  // namespace

QMatrix MoeWeights::expert(const QMatrix& m, int64_t e, int64_t n_out) {
  // Also right for the tiled layout: 4 rows' tile blocks take 4 rows' bytes, and tiled
  // expert tensors have n_out % 4 == 0 (tile_model_weights).
  const size_t stride = row_bytes(m.type, m.n_k);
  return QMatrix{.type = m.type,
                 .data = static_cast<const uint8_t*>(m.data) + size_t(e * n_out) * stride,
                 .n_rows = n_out,
                 .n_k = m.n_k,
                 .layout = m.layout};
}

namespace {

Status load_gqa(TensorFinder& f, const ArchSpec& arch, const ModelConfig& c, const std::string& p,
                LayerWeights& l) {
  const int64_t D = c.n_embd;
  const int64_t q_dim = c.n_head * c.head_dim_k, kv_dim = c.n_head_kv * c.head_dim_k;
  const int64_t v_dim = c.n_head_kv * c.head_dim_v, o_dim = c.n_head * c.head_dim_v;
  MUSE_ASSIGN_OR_RETURN(l.wq, f.linear(p + "attn_q", D, q_dim, arch.qkv_bias));
  MUSE_ASSIGN_OR_RETURN(l.wk, f.linear(p + "attn_k", D, kv_dim, arch.qkv_bias));
  MUSE_ASSIGN_OR_RETURN(l.wv, f.linear(p + "attn_v", D, v_dim, arch.qkv_bias));
  MUSE_ASSIGN_OR_RETURN(l.wo, f.linear(p + "attn_output", o_dim, D, arch.out_bias));
  if (arch.qk_norm == QkNorm::kPerHead) {
    MUSE_ASSIGN_OR_RETURN(l.q_norm, f.vec_f32(p + "attn_q_norm.weight", c.head_dim_k, true));
    MUSE_ASSIGN_OR_RETURN(l.k_norm, f.vec_f32(p + "attn_k_norm.weight", c.head_dim_k, true));
  }
  return Status::Ok();
}

// W_uk^T per head from the combined attn_kv_b, kept in F32 for float weights and re-quantized
// to Q8_0 otherwise (so a decode step reads as many bytes as the original rows).
void build_wk_b_t(const ModelConfig& c, MlaWeights& m, ModelWeights& w) {
  const int64_t H = c.n_head, N = c.qk_nope(), C = c.kv_lora_rank, Dv = c.head_dim_v;
  const QMatrix& kv_b = m.wkv_b;
  const bool quantize =
      !(kv_b.type == DType::F32 || kv_b.type == DType::F16 || kv_b.type == DType::BF16) &&
      N % dtype_info(DType::Q8_0).block_size == 0;
  const DType type = quantize ? DType::Q8_0 : DType::F32;
  const size_t out_row = row_bytes(type, N), in_row = row_bytes(kv_b.type, C);
  std::vector<uint8_t> buf(size_t(H * C) * out_row);
  std::vector<float> wuk(static_cast<size_t>(N * C)), col(static_cast<size_t>(N));
  for (int64_t h = 0; h < H; ++h) {
    const uint8_t* rows = static_cast<const uint8_t*>(kv_b.data) + size_t(h * (N + Dv)) * in_row;
    for (int64_t j = 0; j < N; ++j)
      dequantize_row_ref(kv_b.type, rows + size_t(j) * in_row, &wuk[size_t(j * C)], C);
    for (int64_t ci = 0; ci < C; ++ci) {
      for (int64_t j = 0; j < N; ++j) col[size_t(j)] = wuk[size_t(j * C + ci)];
      quantize_row_ref(type, col.data(), buf.data() + size_t(h * C + ci) * out_row, N);
    }
  }
  m.wk_b_t = QMatrix{.type = type, .data = buf.data(), .n_rows = H * C, .n_k = N};
  w.owned.push_back(std::move(buf));
}

Status load_mla(TensorFinder& f, const ModelConfig& c, const std::string& p, LayerWeights& l,
                ModelWeights& w) {
  const int64_t D = c.n_embd, H = c.n_head, C = c.kv_lora_rank, R = c.n_rot;
  const int64_t q_dim = H * c.head_dim_k, Dv = c.head_dim_v;
  MlaWeights& m = l.mla;
  if (c.q_lora_rank > 0) {
    MUSE_ASSIGN_OR_RETURN(m.wq_a, f.linear(p + "attn_q_a", D, c.q_lora_rank));
    MUSE_ASSIGN_OR_RETURN(m.q_a_norm, f.vec_f32(p + "attn_q_a_norm.weight", c.q_lora_rank, true));
    MUSE_ASSIGN_OR_RETURN(m.wq_b, f.linear(p + "attn_q_b", c.q_lora_rank, q_dim));
  } else {
    MUSE_ASSIGN_OR_RETURN(m.wq, f.linear(p + "attn_q", D, q_dim));
  }
  MUSE_ASSIGN_OR_RETURN(m.wkv_a, f.linear(p + "attn_kv_a_mqa", D, C + R));
  MUSE_ASSIGN_OR_RETURN(m.kv_a_norm, f.vec_f32(p + "attn_kv_a_norm.weight", C, true));
  if (f.has(p + "attn_k_b.weight") && !f.has(p + "attn_kv_b.weight"))
    return Errorf(
        "tensor '%sattn_kv_b.weight' is missing (files with split attn_k_b/attn_v_b "
        "are not supported yet)",
        p.c_str());
  Linear kv_b;
  MUSE_ASSIGN_OR_RETURN(kv_b, f.linear(p + "attn_kv_b", C, H * (c.qk_nope() + Dv)));
  m.wkv_b = kv_b.w;
  MUSE_ASSIGN_OR_RETURN(l.wo, f.linear(p + "attn_output", H * Dv, D));
  build_wk_b_t(c, m, w);
  return Status::Ok();
}

StatusOr<QMatrix> expert_tensor(TensorFinder& f, const std::string& name, int64_t n_in,
                                int64_t n_out, int64_t n_expert) {
  const GgufTensor* t = nullptr;
  MUSE_ASSIGN_OR_RETURN(t, f.find(name, {n_in, n_out, n_expert}, true));
  QMatrix m{.type = t->dtype, .data = t->data, .n_rows = n_out * n_expert, .n_k = n_in};
  if (Status s = check_matmul(m); !s.ok())
    return Errorf("tensor '%s': %s", name.c_str(), s.message().c_str());
  return m;
}

Status load_moe(TensorFinder& f, const ArchSpec& arch, const ModelConfig& c, const std::string& p,
                MoeWeights& m) {
  const int64_t D = c.n_embd, E = c.n_expert, Fe = c.n_ff_exp, Fs = c.n_ff_shexp;
  MUSE_ASSIGN_OR_RETURN(m.router, f.linear(p + "ffn_gate_inp", D, E));
  MUSE_ASSIGN_OR_RETURN(m.probs_bias, f.vec_f32(p + "exp_probs_b.bias", E, false));
  MUSE_ASSIGN_OR_RETURN(m.gate_exps, expert_tensor(f, p + "ffn_gate_exps.weight", D, Fe, E));
  MUSE_ASSIGN_OR_RETURN(m.up_exps, expert_tensor(f, p + "ffn_up_exps.weight", D, Fe, E));
  MUSE_ASSIGN_OR_RETURN(m.down_exps, expert_tensor(f, p + "ffn_down_exps.weight", Fe, D, E));
  if (Fs > 0) {
    MUSE_ASSIGN_OR_RETURN(m.gate_shexp, f.linear(p + "ffn_gate_shexp", D, Fs));
    MUSE_ASSIGN_OR_RETURN(m.up_shexp, f.linear(p + "ffn_up_shexp", D, Fs));
    MUSE_ASSIGN_OR_RETURN(m.down_shexp, f.linear(p + "ffn_down_shexp", Fs, D));
    if (arch.shared_expert_gate == SharedExpertGate::kSigmoid)
      MUSE_ASSIGN_OR_RETURN(m.shexp_gate, f.vec_f32(p + "ffn_gate_inp_shexp.weight", D, true));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ModelWeights> load_model_weights(const GgufFile& file, const ArchSpec& arch,
                                          const ModelConfig& c) {
  TensorFinder f(file);
  ModelWeights w;
  const int64_t D = c.n_embd, V = c.n_vocab, F = c.n_ff;

  const GgufTensor* embd = nullptr;
  MUSE_ASSIGN_OR_RETURN(embd, f.find("token_embd.weight", {D, V}, true));
  if (!dtype_info(embd->dtype).supported || embd->dtype == DType::Q8_K)
    return Errorf("tensor 'token_embd.weight': type %s is not supported",
                  std::string(dtype_name(embd->dtype)).c_str());
  w.tok_embd = TensorView::contiguous(embd->dtype, {D, V}, const_cast<void*>(embd->data));
  MUSE_ASSIGN_OR_RETURN(w.output_norm, f.vec_f32("output_norm.weight", D, true));
  if (file.find_tensor("output.weight") != nullptr) {
    MUSE_ASSIGN_OR_RETURN(w.output, f.linear("output", D, V));
  } else {
    w.output.w = QMatrix{.type = embd->dtype, .data = embd->data, .n_rows = V, .n_k = D};
    MUSE_RETURN_IF_ERROR(check_matmul(w.output.w).WithContext("tied output 'token_embd.weight'"));
    w.output_tied = true;
  }
  MUSE_ASSIGN_OR_RETURN(w.rope_freqs, f.vec_f32("rope_freqs.weight", c.n_rot / 2, false));

  uint64_t expert_bytes = 0;
  w.layers.resize(size_t(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    LayerWeights& l = w.layers[size_t(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    MUSE_ASSIGN_OR_RETURN(l.attn_norm, f.vec_f32(p + "attn_norm.weight", D, true));
    if (arch.attention == AttentionKind::kMla) {
      MUSE_RETURN_IF_ERROR(load_mla(f, c, p, l, w));
    } else {
      MUSE_RETURN_IF_ERROR(load_gqa(f, arch, c, p, l));
    }
    MUSE_ASSIGN_OR_RETURN(l.ffn_norm, f.vec_f32(p + "ffn_norm.weight", D, true));
    l.moe = arch.ffn == FfnKind::kMoe && il >= c.n_leading_dense;
    if (l.moe) {
      MUSE_RETURN_IF_ERROR(load_moe(f, arch, c, p, l.experts));
      for (const QMatrix* m : {&l.experts.gate_exps, &l.experts.up_exps, &l.experts.down_exps})
        expert_bytes += row_bytes(m->type, m->n_k) * uint64_t(m->n_rows);
    } else {
      MUSE_ASSIGN_OR_RETURN(l.ffn_gate, f.linear(p + "ffn_gate", D, F));
      MUSE_ASSIGN_OR_RETURN(l.ffn_up, f.linear(p + "ffn_up", D, F));
      MUSE_ASSIGN_OR_RETURN(l.ffn_down, f.linear(p + "ffn_down", F, D));
    }
  }
  w.n_bytes = f.n_bytes();
  // A decode token reads one embedding row (not the table, unless it is also the output),
  // and n_expert_used of every MoE layer's n_expert experts.
  w.n_bytes_per_token = w.n_bytes - (w.output_tied ? 0 : w.tok_embd.bytes()) - expert_bytes;
  if (c.n_expert > 0) w.n_bytes_per_token += expert_bytes / uint64_t(c.n_expert) * c.n_expert_used;
  return w;
}

namespace {

// Drops the whole pages inside [p, p + n) of a read-only file mapping from the resident set.
void release_pages(const void* p, size_t n) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(p) + page - 1) / page * page;
  const uintptr_t end = (uintptr_t(p) + n) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// A matrix to copy into the tiled layout.
struct TileJob {
  QMatrix* m;
  bool release_source;
  size_t offset = 0;  // of its copy in the shared buffer
};

// Expert tensors (and MLA's per-head matrices) only when every slice starts on a whole tile.
void add_job(std::vector<TileJob>& jobs, QMatrix& m, int64_t rows_per_slice, bool release) {
  if (m.data == nullptr || !tileable(m.type) || m.layout != WeightLayout::kRows) return;
  if (rows_per_slice % kTileGroupRows != 0 && rows_per_slice != m.n_rows) return;
  jobs.push_back({&m, release});
}

}  // namespace

void tile_model_weights(ModelWeights& w, const ModelConfig& c, bool release_sources) {
  std::vector<TileJob> jobs;
  const auto whole = [&](Linear& l) { add_job(jobs, l.w, l.w.n_rows, release_sources); };
  if (!w.output_tied) whole(w.output);
  for (LayerWeights& l : w.layers) {
    for (Linear* lin : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down, &l.mla.wq,
                        &l.mla.wq_a, &l.mla.wq_b, &l.mla.wkv_a, &l.experts.gate_shexp,
                        &l.experts.up_shexp, &l.experts.down_shexp})
      whole(*lin);
    // MLA slices attn_kv_b per head at rows h * (N + Dv) + N (W_uv) and W_uk^T at h * C.
    if (c.qk_nope() % kTileGroupRows == 0 && c.head_dim_v % kTileGroupRows == 0)
      add_job(jobs, l.mla.wkv_b, l.mla.wkv_b.n_rows, release_sources);
    add_job(jobs, l.mla.wk_b_t, c.kv_lora_rank, false);  // owned, not file-backed
    if (!l.moe) continue;
    MoeWeights& e = l.experts;
    // Expert tensors are [n_expert * n_out] rows; expert() slices them by n_out.
    const int64_t n_expert = e.router.w.n_rows;
    if (n_expert <= 0) continue;
    for (QMatrix* m : {&e.gate_exps, &e.up_exps, &e.down_exps})
      add_job(jobs, *m, m->n_rows / n_expert, release_sources);
  }
  // One buffer for every copy: on huge pages, separate buffers would each round up to a
  // whole 2 MiB page (~1 MiB wasted per matrix). Not zero-filled: every copy is written.
  size_t total = 0;
  for (TileJob& j : jobs) {
    j.offset = total;
    total += (tiled_bytes(j.m->type, j.m->n_rows, j.m->n_k) + 63) / 64 * 64;
  }
  if (jobs.empty()) return;
  HugeBuffer buf = alloc_huge(total);
  if (!buf) throw std::bad_alloc();
  uint8_t* const base = buf.get();
  // The copies are page faults on both sides more than arithmetic, so they run on a few
  // threads, one matrix at a time each; each source is released as soon as it is copied.
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      const QMatrix& m = *jobs[i].m;
      tile_rows(m.type, m.data, m.n_rows, m.n_k, base + jobs[i].offset, 0, m.n_rows);
      if (jobs[i].release_source)
        release_pages(m.data, row_bytes(m.type, m.n_k) * size_t(m.n_rows));
    }
  };
  const unsigned n_threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n_threads && t < jobs.size(); ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  for (TileJob& j : jobs) {
    // A source derived at load (W_uk^T) is not needed any more.
    for (std::vector<uint8_t>& o : w.owned)
      if (o.data() == j.m->data) std::vector<uint8_t>().swap(o);
    j.m->data = base + j.offset;
    j.m->layout = WeightLayout::kTiles4;
  }
  w.tiled.push_back(std::move(buf));
}

}  // namespace muse
