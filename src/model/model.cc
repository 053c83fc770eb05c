// Model loading: architecture lookup, config, weights, in that order, so the first error a
// user sees is the most basic one.
#include "model/model.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace muse {

namespace {

// The whole file in anonymous memory on huge pages (core/huge_pages.h).
StatusOr<HugeBuffer> read_file(const std::string& path, size_t* size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Errorf("%s: %s", path.c_str(), std::strerror(errno));
  std::fseek(f, 0, SEEK_END);
  const long n = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  HugeBuffer buf = alloc_huge(size_t(std::max(n, 1L)));
  if (!buf) {
    std::fclose(f);
    return Errorf("%s: cannot allocate %ld bytes (--no-mmap)", path.c_str(), n);
  }
  const size_t got = n > 0 ? std::fread(buf.get(), 1, size_t(n), f) : 0;
  std::fclose(f);
  if (n < 0 || got != size_t(n)) return Errorf("%s: read failed", path.c_str());
  *size = size_t(n);
  return buf;
}

}  // namespace

StatusOr<std::unique_ptr<Model>> Model::load(const std::string& path,
                                             const ModelLoadOptions& opts) {
  if (opts.mmap) {
    auto file = GgufFile::open(path);
    if (!file.ok()) return file.status();
    auto model = from_gguf(std::move(*file), opts);
    if (!model.ok()) return model.status().WithContext(path);
    return model;
  }
  size_t size = 0;
  auto buf = read_file(path, &size);
  if (!buf.ok()) return buf.status();
  auto file = GgufFile::from_bytes({buf->get(), size});
  if (!file.ok()) return file.status().WithContext(path);
  auto model = from_gguf(std::move(*file), opts);
  if (!model.ok()) return model.status().WithContext(path);
  (*model)->owned_ = std::move(*buf);
  return model;
}

StatusOr<std::unique_ptr<Model>> Model::from_gguf(GgufFile file, const ModelLoadOptions& opts) {
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
  MUSE_ASSIGN_OR_RETURN(m->config_, read_model_config(m->file_, *m->arch_));
  // The vocabulary size is the embedding's row count; `<arch>.vocab_size` is optional.
  if (const GgufTensor* e = m->file_.find_tensor("token_embd.weight"))
    m->config_.n_vocab = e->ne[1];
  MUSE_RETURN_IF_ERROR(validate_model_config(m->config_, *m->arch_));
  MUSE_ASSIGN_OR_RETURN(m->weights_, load_model_weights(m->file_, *m->arch_, m->config_));
  if (m->weights_.rope_freqs != nullptr) {
    RopeParams p = m->config_.rope_params();
    p.freq_factors = m->weights_.rope_freqs;
    MUSE_RETURN_IF_ERROR(validate_rope_params(p, m->config_.head_dim_k).WithContext("rope_freqs"));
  }
  if (opts.tile) tile_model_weights(m->weights_, m->config_, m->file_.is_mapped());
  return m;
}

}  // namespace muse
