// Checkpoint save/load over GgufWriter and GgufFile. The GGUF reader already bounds every
// read; this layer adds what a resume needs on top: the keys must be there with the right
// types, the file must be exactly as long as its tensors say (the reader accepts a file cut
// inside the last tensor's padding), and each tensor's bytes must match the checksum written
// with them, because a flipped bit in an AdamW `v` would otherwise resume silently wrong.
#include "train/checkpoint.h"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstring>
#include <unordered_map>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

namespace muse {
namespace {

constexpr char kFormatVersionKey[] = "muse.train.format_version";
constexpr char kStepKey[] = "muse.train.step";
constexpr char kRngStateKey[] = "muse.train.rng_state";
constexpr char kConfigKey[] = "muse.train.config";
constexpr char kChecksumsKey[] = "muse.train.checksums";
constexpr std::string_view kStringsPrefix = "muse.train.strings.";
constexpr std::string_view kNumbersPrefix = "muse.train.numbers.";

// A corruption check, not a cryptographic hash: four independent lanes over 8-byte words so
// it runs near memory bandwidth. Each lane step `h = rotl((h ^ w) * odd, 31)` is a bijection
// of h for a fixed word, so a change confined to one word can never cancel out.
uint64_t data_checksum(const uint8_t* p, size_t n) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio, odd
  uint64_t h[4] = {1, 2, 3, 4};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * lane, 8);
      h[lane] = std::rotl((h[lane] ^ w) * kMul, 31);
    }
  }
  for (int lane = 0; i < n; i += 8, lane = (lane + 1) % 4) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, n - i < 8 ? n - i : 8);
    h[lane] = std::rotl((h[lane] ^ w) * kMul, 31);
  }
  uint64_t out = n;
  for (uint64_t lane : h) {
    out = (out ^ lane) * kMul;
    out ^= out >> 29;
  }
  return out;
}

std::string shape_text(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d) s += ", ";
    s += std::to_string(shape[d]);
  }
  return s + "]";
}

// Shapes the caller passes in must describe their buffers; checked before any byte moves.
Status check_tensor_arg(const CheckpointTensor& t) {
  if (t.shape.empty() || t.shape.size() > size_t(kGgufMaxDims)) {
    return Errorf("tensor '%s' has %zu dimensions; a checkpoint tensor has 1 to %d", t.name.c_str(),
                  t.shape.size(), kGgufMaxDims);
  }
  int64_t n = 1;
  for (int64_t d : t.shape) {
    if (d <= 0) {
      return Errorf("tensor '%s' has shape %s; every dimension must be positive", t.name.c_str(),
                    shape_text(t.shape).c_str());
    }
    if (n > INT64_MAX / d) return Errorf("tensor '%s': element count overflows", t.name.c_str());
    n *= d;
  }
  if (uint64_t(n) != t.data.size()) {
    return Errorf("tensor '%s' has shape %s (%" PRId64 " elements) but its buffer holds %zu",
                  t.name.c_str(), shape_text(t.shape).c_str(), n, t.data.size());
  }
  return Status::Ok();
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// The writer pads every tensor, the last included, to the alignment; anything else means
// the file was cut short or appended to.
Status check_file_size(const GgufFile& f) {
  uint64_t end = f.data_offset();
  for (const GgufTensor& t : f.tensors()) {
    end = std::max(end, align_up(f.data_offset() + t.offset + t.bytes, f.alignment()));
  }
  if (f.file_size() != end) {
    return Errorf("file has %" PRIu64 " bytes but its tensors end at %" PRIu64
                  " (truncated or has trailing bytes)",
                  f.file_size(), end);
  }
  return Status::Ok();
}

StatusOr<std::vector<uint64_t>> read_checksums(const GgufFile& f) {
  const GgufValue* v = f.find(kChecksumsKey);
  if (v == nullptr) return Status::Error(std::string("missing key ") + kChecksumsKey);
  if (!v->is_array() || v->element_type() != GgufType::kU64 || v->size() != f.tensors().size()) {
    return Errorf("%s must be a u64 array with one entry per tensor (%zu)", kChecksumsKey,
                  f.tensors().size());
  }
  std::vector<uint64_t> sums(v->size());
  if (!sums.empty()) std::memcpy(sums.data(), v->raw_data(), sums.size() * sizeof(uint64_t));
  return sums;
}

// Everything but the tensors, into a fresh state so a failure leaves the caller's untouched.
StatusOr<CheckpointState> read_state(const GgufFile& f) {
  const GgufValue* version = f.find(kFormatVersionKey);
  if (version == nullptr) {
    return Status::Error(std::string("not a muse training checkpoint (no key ") +
                         kFormatVersionKey + ")");
  }
  const std::optional<uint64_t> v = version->as_uint();
  if (!v || *v == 0 || *v > kCheckpointFormatVersion) {
    return Errorf("%s is %s; this build reads version %u", kFormatVersionKey,
                  gguf_value_to_string(*version).c_str(), kCheckpointFormatVersion);
  }
  CheckpointState st;
  MUSE_ASSIGN_OR_RETURN(st.step, f.get_i64(kStepKey));
  MUSE_ASSIGN_OR_RETURN(st.rng_state, f.get_u64(kRngStateKey));
  std::string_view config;
  MUSE_ASSIGN_OR_RETURN(config, f.get_string(kConfigKey));
  st.config = std::string(config);
  for (const GgufKv& kv : f.kvs()) {
    if (kv.key.starts_with(kStringsPrefix)) {
      const std::optional<std::string_view> s = kv.value.as_string();
      if (!s) {
        return Errorf("key '%s' has type %s; expected str", std::string(kv.key).c_str(),
                      std::string(gguf_type_name(kv.value.type())).c_str());
      }
      st.strings.emplace(kv.key.substr(kStringsPrefix.size()), *s);
    } else if (kv.key.starts_with(kNumbersPrefix)) {
      if (kv.value.type() != GgufType::kF64) {
        return Errorf("key '%s' has type %s; expected f64", std::string(kv.key).c_str(),
                      std::string(gguf_type_name(kv.value.type())).c_str());
      }
      st.numbers.emplace(kv.key.substr(kNumbersPrefix.size()), *kv.value.as_float());
    }
  }
  return st;
}

// Matches the caller's tensors against the file's: same set of names, F32, same shapes,
// intact bytes. Returns, per caller tensor, the file tensor to copy from.
StatusOr<std::vector<const GgufTensor*>> match_tensors(const GgufFile& f,
                                                       std::span<const CheckpointTensor> tensors) {
  std::vector<uint64_t> sums;
  MUSE_ASSIGN_OR_RETURN(sums, read_checksums(f));
  std::unordered_map<std::string_view, size_t> wanted;
  std::vector<const GgufTensor*> src(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const CheckpointTensor& t = tensors[i];
    MUSE_RETURN_IF_ERROR(check_tensor_arg(t));
    if (!wanted.emplace(t.name, i).second) {
      return Errorf("tensor '%s' is listed twice by the caller", t.name.c_str());
    }
    const GgufTensor* g = f.find_tensor(t.name);
    if (g == nullptr) {
      return Errorf("tensor '%s' (shape %s) is missing from the checkpoint", t.name.c_str(),
                    shape_text(t.shape).c_str());
    }
    const std::span<const int64_t> file_shape(g->ne, size_t(g->n_dims));
    if (!std::equal(file_shape.begin(), file_shape.end(), t.shape.begin(), t.shape.end())) {
      return Errorf("tensor '%s' has shape %s in the checkpoint but %s in the caller",
                    t.name.c_str(), shape_text(file_shape).c_str(), shape_text(t.shape).c_str());
    }
    if (g->dtype != DType::F32) {
      return Errorf("tensor '%s' has type %s in the checkpoint; expected f32", t.name.c_str(),
                    std::string(dtype_name(g->dtype)).c_str());
    }
    src[i] = g;
  }
  size_t n_extra = 0;
  std::string first_extra;
  for (const GgufTensor& g : f.tensors()) {
    if (wanted.count(g.name)) continue;
    if (n_extra++ == 0) first_extra = std::string(g.name);
  }
  if (n_extra > 0) {
    return Errorf("checkpoint holds %zu tensor(s) the caller did not ask for, first '%s'", n_extra,
                  first_extra.c_str());
  }
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensor& g = f.tensors()[i];
    if (data_checksum(static_cast<const uint8_t*>(g.data), g.bytes) != sums[i]) {
      return Errorf("tensor '%s' fails its checksum: the file is corrupt",
                    std::string(g.name).c_str());
    }
  }
  return src;
}

Status save(const std::string& path, const CheckpointState& st,
            std::span<const CheckpointTensor> tensors) {
  GgufWriter w;
  w.set_u32(kFormatVersionKey, kCheckpointFormatVersion);
  w.set_i64(kStepKey, st.step);
  w.set_u64(kRngStateKey, st.rng_state);
  w.set_string(kConfigKey, st.config);
  std::vector<uint64_t> sums;
  sums.reserve(tensors.size());
  for (const CheckpointTensor& t : tensors) {
    MUSE_RETURN_IF_ERROR(check_tensor_arg(t));
    MUSE_RETURN_IF_ERROR(w.add_tensor(t.name, DType::F32, t.shape, t.data.data()));
    sums.push_back(
        data_checksum(reinterpret_cast<const uint8_t*>(t.data.data()), t.data.size_bytes()));
  }
  w.set_value(kChecksumsKey, GgufValue::numeric_array(GgufType::kU64, sums.data(), sums.size()));
  for (const auto& [key, value] : st.strings)
    w.set_string(std::string(kStringsPrefix) + key, value);
  for (const auto& [key, value] : st.numbers) w.set_f64(std::string(kNumbersPrefix) + key, value);
  return w.write(path);
}

}  // namespace

Status save_checkpoint(const std::string& path, const CheckpointState& st,
                       std::span<const CheckpointTensor> tensors) {
  return save(path, st, tensors).WithContext("saving checkpoint '" + path + "'");
}

Status load_checkpoint(const std::string& path, CheckpointState* st,
                       std::span<const CheckpointTensor> tensors) {
  const std::string context = "loading checkpoint '" + path + "'";
  StatusOr<GgufFile> f = GgufFile::open(path);
  if (!f.ok()) return f.status().WithContext("loading checkpoint");  // names the path already
  StatusOr<CheckpointState> state = read_state(*f);
  if (!state.ok()) return state.status().WithContext(context);
  MUSE_RETURN_IF_ERROR(check_file_size(*f).WithContext(context));
  StatusOr<std::vector<const GgufTensor*>> src = match_tensors(*f, tensors);
  if (!src.ok()) return src.status().WithContext(context);
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::memcpy(tensors[i].data.data(), (*src)[i]->data, (*src)[i]->bytes);
  }
  *st = std::move(state).value();
  return Status::Ok();
}

}  // namespace muse
