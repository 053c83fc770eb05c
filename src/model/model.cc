// Model loading: architecture lookup, config, weights, in that order, so the first error a
// user sees is the most basic one.
#include "model/model.h"

namespace muse {

StatusOr<std::unique_ptr<Model>> Model::load(const std::string& path) {
  auto file = GgufFile::open(path);
  if (!file.ok()) return file.status();
  auto model = from_gguf(std::move(*file));
  if (!model.ok()) return model.status().WithContext(path);
  return model;
}

StatusOr<std::unique_ptr<Model>> Model::from_gguf(GgufFile file) {
  std::unique_ptr<Model> m(new Model(std::move(file)));
  auto arch_name = m->file_.get_string("general.architecture");
  if (!arch_name.ok()) return arch_name.status();
  m->arch_ = find_arch(*arch_name);
  if (m->arch_ == nullptr) {
    std::string known;
    for (std::string_view n : arch_names()) known += (known.empty() ? "" : ", ") + std::string(n);
    return Errorf("architecture '%s' is not supported (supported: %s)",
                  std::string(*arch_name).c_str(), known.c_str());
  }
  MUSE_ASSIGN_OR_RETURN(m->config_, read_model_config(m->file_, m->arch_->rope_style));
  // The vocabulary size is the embedding's row count; `<arch>.vocab_size` is optional.
  if (const GgufTensor* e = m->file_.find_tensor("token_embd.weight"))
    m->config_.n_vocab = e->ne[1];
  MUSE_RETURN_IF_ERROR(validate_model_config(m->config_));
  MUSE_ASSIGN_OR_RETURN(m->weights_, load_model_weights(m->file_, *m->arch_, m->config_));
  if (m->weights_.rope_freqs != nullptr) {
    RopeParams p = m->config_.rope_params();
    p.freq_factors = m->weights_.rope_freqs;
    MUSE_RETURN_IF_ERROR(validate_rope_params(p, m->config_.head_dim_k).WithContext("rope_freqs"));
  }
  return m;
}

}  // namespace muse
