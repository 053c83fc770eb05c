// Tensor lookup with shape and type checks, then assembly of the per-layer structs.
#include "model/weights.h"

#include <string>

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

  uint64_t n_bytes() const { return n_bytes_; }

 private:
  const GgufFile& file_;
  uint64_t n_bytes_ = 0;
};

}  // namespace

StatusOr<ModelWeights> load_model_weights(const GgufFile& file, const ArchSpec& arch,
                                          const ModelConfig& c) {
  TensorFinder f(file);
  ModelWeights w;
  const int64_t D = c.n_embd, V = c.n_vocab, F = c.n_ff;
  const int64_t q_dim = c.n_head * c.head_dim_k, kv_dim = c.n_head_kv * c.head_dim_k;
  const int64_t v_dim = c.n_head_kv * c.head_dim_v, o_dim = c.n_head * c.head_dim_v;

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

  w.layers.resize(size_t(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    DenseLayerWeights& l = w.layers[size_t(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    MUSE_ASSIGN_OR_RETURN(l.attn_norm, f.vec_f32(p + "attn_norm.weight", D, true));
    MUSE_ASSIGN_OR_RETURN(l.wq, f.linear(p + "attn_q", D, q_dim, arch.qkv_bias));
    MUSE_ASSIGN_OR_RETURN(l.wk, f.linear(p + "attn_k", D, kv_dim, arch.qkv_bias));
    MUSE_ASSIGN_OR_RETURN(l.wv, f.linear(p + "attn_v", D, v_dim, arch.qkv_bias));
    MUSE_ASSIGN_OR_RETURN(l.wo, f.linear(p + "attn_output", o_dim, D, arch.out_bias));
    if (arch.qk_norm == QkNorm::kPerHead) {
      MUSE_ASSIGN_OR_RETURN(l.q_norm, f.vec_f32(p + "attn_q_norm.weight", c.head_dim_k, true));
      MUSE_ASSIGN_OR_RETURN(l.k_norm, f.vec_f32(p + "attn_k_norm.weight", c.head_dim_k, true));
    }
    MUSE_ASSIGN_OR_RETURN(l.ffn_norm, f.vec_f32(p + "ffn_norm.weight", D, true));
    MUSE_ASSIGN_OR_RETURN(l.ffn_gate, f.linear(p + "ffn_gate", D, F));
    MUSE_ASSIGN_OR_RETURN(l.ffn_up, f.linear(p + "ffn_up", D, F));
    MUSE_ASSIGN_OR_RETURN(l.ffn_down, f.linear(p + "ffn_down", F, D));
  }
  w.n_bytes = f.n_bytes();
  return w;
}

}  // namespace muse
