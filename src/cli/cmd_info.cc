// `muse info FILE [--json] [--all]`: metadata, tensor table and totals of a GGUF file.
// The file is fully validated by GgufFile::open first, so a corrupt file prints the
// problem on stderr and exits 1; usage errors exit 2. JSON output is always valid UTF-8.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "model/context.h"
#include "model/model.h"

namespace muse::cli {
namespace {

constexpr size_t kShownElements = 8;  // of a long array: enough to recognise a vocabulary

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: muse info FILE [--json] [--all]\n\n"
               "Prints a GGUF file's metadata, tensor table and totals.\n"
               "  --json   machine-readable output\n"
               "  --all    print arrays and strings in full (default: the first %zu elements)\n",
               kShownElements);
}

std::string shape_text(const GgufTensor& t) {
  std::string s = "[";
  for (int d = 0; d < t.n_dims; ++d) {
    if (d) s += ", ";
    s += std::to_string(t.ne[d]);
  }
  return s + "]";
}

// ---- JSON ----

// Appends `s` as a JSON string; bytes that are not valid UTF-8 become U+FFFD so the output
// parses even for a file whose strings are garbage.
void json_string(std::string* out, std::string_view s, size_t max_bytes) {
  *out += '"';
  const size_t n = std::min(s.size(), max_bytes);
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        *out += '\\';
        *out += char(c);
      } else if (c == '\n') {
        *out += "\\n";
      } else if (c == '\r') {
        *out += "\\r";
      } else if (c == '\t') {
        *out += "\\t";
      } else if (c < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        *out += buf;
      } else {
        *out += char(c);
      }
      ++i;
      continue;
    }
    // Length and minimum code point of a UTF-8 sequence by its lead byte.
    const int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool valid = len > 0 && i + len <= n;
    uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; valid && k < len; ++k) {
      const unsigned char cc = s[i + k];
      valid = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    valid = valid && cp >= min_cp && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (valid) {
      out->append(s.data() + i, len);
      i += len;
    } else {
      *out += "\\ufffd";
      ++i;
    }
  }
  *out += '"';
}

void json_value(std::string* out, const GgufValue& v, size_t max_elements, size_t max_bytes) {
  char buf[64];
  if (v.type() == GgufType::kString) {
    json_string(out, *v.as_string(), max_bytes);
  } else if (v.type() == GgufType::kBool) {
    *out += *v.as_bool() ? "true" : "false";
  } else if (auto f = v.as_float()) {
    if (std::isfinite(*f)) {
      std::snprintf(buf, sizeof(buf), "%.9g", *f);
      *out += buf;
    } else {
      *out += "null";  // JSON has no NaN or infinity
    }
  } else if (v.type() == GgufType::kU64) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64, *v.as_uint());
    *out += buf;
  } else if (auto i = v.as_int()) {
    std::snprintf(buf, sizeof(buf), "%" PRId64, *i);
    *out += buf;
  } else if (v.is_array()) {
    *out += '[';
    for (uint64_t k = 0; k < v.size() && k < max_elements; ++k) {
      if (k) *out += ',';
      json_value(out, v.element(k), max_elements, max_bytes);
    }
    *out += ']';
  }
}

struct Totals {
  uint64_t n_params = 0;
  uint64_t n_bytes = 0;
  double bits_per_weight() const { return n_params ? 8.0 * double(n_bytes) / n_params : 0.0; }
};

Totals totals_of(const GgufFile& f) {
  Totals t;
  for (const GgufTensor& x : f.tensors()) {
    t.n_params += uint64_t(x.n_elements());
    t.n_bytes += x.bytes;
  }
  return t;
}

// What the runtime makes of the file, for files of a supported architecture.
struct RuntimeInfo {
  bool known_arch = false;
  std::string error;  // empty when the model loads
  bool mla = false;
  KvFootprint kv;             // f16 cache
  uint64_t decode_bytes = 0;  // weight bytes one decode token reads
};

RuntimeInfo runtime_info(const std::string& path, const GgufFile& f) {
  RuntimeInfo r;
  auto arch = f.get_string("general.architecture");
  // Vocabulary-only files (no tensors) are not models.
  if (!arch.ok() || find_arch(*arch) == nullptr || f.tensors().empty()) return r;
  r.known_arch = true;
  auto model = Model::load(path);
  if (!model.ok()) {
    r.error = model.status().message();
    return r;
  }
  r.mla = (*model)->arch().attention == AttentionKind::kMla;
  r.kv = kv_footprint(**model, DType::F16);
  r.decode_bytes = (*model)->weights().n_bytes_per_token;
  return r;
}

void print_json(const std::string& path, const GgufFile& f, bool all, const RuntimeInfo& rt) {
  const size_t max_elements = all ? SIZE_MAX : kShownElements;
  const size_t max_bytes = all ? SIZE_MAX : 4096;
  std::string out = "{\"file\":";
  json_string(&out, path, SIZE_MAX);
  out += ",\"version\":" + std::to_string(f.version());
  out += ",\"file_size\":" + std::to_string(f.file_size());
  out += ",\"alignment\":" + std::to_string(f.alignment());
  out += ",\"data_offset\":" + std::to_string(f.data_offset());
  out += ",\"metadata\":[";
  for (size_t i = 0; i < f.kvs().size(); ++i) {
    const GgufKv& kv = f.kvs()[i];
    out += i ? ",\n{\"key\":" : "\n{\"key\":";
    json_string(&out, kv.key, SIZE_MAX);
    out += ",\"type\":\"";
    out += gguf_type_name(kv.value.type());
    out += '"';
    if (kv.value.is_array()) {
      out += ",\"element_type\":\"";
      out += gguf_type_name(kv.value.element_type());
      out += "\",\"count\":" + std::to_string(kv.value.size());
      if (kv.value.size() > max_elements) out += ",\"truncated\":true";
    }
    out += ",\"value\":";
    json_value(&out, kv.value, max_elements, max_bytes);
    out += '}';
  }
  out += "],\n\"tensors\":[";
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensor& t = f.tensors()[i];
    out += i ? ",\n{\"name\":" : "\n{\"name\":";
    json_string(&out, t.name, SIZE_MAX);
    out += ",\"type\":\"";
    out += dtype_name(t.dtype);
    out += "\",\"shape\":" + shape_text(t);
    out += ",\"offset\":" + std::to_string(t.offset);
    out += ",\"bytes\":" + std::to_string(t.bytes) + "}";
  }
  const Totals tot = totals_of(f);
  char bpw[32];
  std::snprintf(bpw, sizeof(bpw), "%.4f", tot.bits_per_weight());
  out += "],\n\"n_tensors\":" + std::to_string(f.tensors().size());
  out += ",\"n_params\":" + std::to_string(tot.n_params);
  out += ",\"n_bytes\":" + std::to_string(tot.n_bytes);
  out += ",\"bits_per_weight\":" + std::string(bpw);
  if (rt.known_arch) {
    out += ",\n\"runtime\":{\"loadable\":";
    if (!rt.error.empty()) {
      out += "false,\"error\":";
      json_string(&out, rt.error, SIZE_MAX);
    } else {
      out += "true,\"kv_bytes_per_token\":" + std::to_string(rt.kv.bytes_per_token);
      out += ",\"kv_bytes_per_token_per_head_layout\":" +
             std::to_string(rt.kv.per_head_bytes_per_token);
      out += ",\"decode_bytes_per_token\":" + std::to_string(rt.decode_bytes);
    }
    out += '}';
  }
  out += "}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

// ---- Text ----

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", n / double(1ull << 30));
  } else if (n >= (1ull << 20)) {
    std::snprintf(buf, sizeof(buf), "%.2f MiB", n / double(1ull << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof(buf), "%.2f KiB", n / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 " B", n);
  }
  return buf;
}

void print_text(const std::string& path, const GgufFile& f, bool all, const RuntimeInfo& rt) {
  const size_t max_elements = all ? SIZE_MAX : kShownElements;
  std::printf("%s: GGUF v%u, %s (%" PRIu64 " bytes), alignment %u, data section at %" PRIu64 "\n",
              path.c_str(), f.version(), human_bytes(f.file_size()).c_str(), f.file_size(),
              f.alignment(), f.data_offset());
  std::printf("\nmetadata (%zu keys):\n", f.kvs().size());
  for (const GgufKv& kv : f.kvs()) {
    std::string type(gguf_type_name(kv.value.type()));
    if (kv.value.is_array()) {
      type += '[';
      type += gguf_type_name(kv.value.element_type());
      type += ']';
    }
    const std::string value = gguf_value_to_string(kv.value, max_elements, all ? SIZE_MAX : 120);
    std::printf("  %-44.*s %-9s %s\n", int(kv.key.size()), kv.key.data(), type.c_str(),
                value.c_str());
  }
  std::printf("\ntensors (%zu):\n", f.tensors().size());
  if (!f.tensors().empty()) {
    std::printf("  %5s  %-40s %-8s %-24s %12s\n", "#", "name", "type", "shape", "bytes");
  }
  std::map<std::string_view, size_t> per_type;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensor& t = f.tensors()[i];
    ++per_type[dtype_name(t.dtype)];
    std::printf("  %5zu  %-40.*s %-8.*s %-24s %12" PRIu64 "\n", i, int(t.name.size()),
                t.name.data(), int(dtype_name(t.dtype).size()), dtype_name(t.dtype).data(),
                shape_text(t).c_str(), t.bytes);
  }
  const Totals tot = totals_of(f);
  std::printf("\ntotal: %zu tensors, %" PRIu64 " parameters, %s (%" PRIu64
              " bytes), %.4f bits per weight\n",
              f.tensors().size(), tot.n_params, human_bytes(tot.n_bytes).c_str(), tot.n_bytes,
              tot.bits_per_weight());
  if (!per_type.empty()) {
    std::printf("types:");
    for (const auto& [name, count] : per_type)
      std::printf(" %.*s \xC3\x97%zu", int(name.size()), name.data(), count);
    std::printf("\n");
  }
  if (!rt.known_arch) return;
  if (!rt.error.empty()) {
    std::printf("runtime: cannot load: %s\n", rt.error.c_str());
    return;
  }
  std::printf("runtime: KV cache %s per token (f16)", human_bytes(rt.kv.bytes_per_token).c_str());
  if (rt.mla)
    std::printf(", latent rows: 1/%.1f of per-head K/V (%s)",
                double(rt.kv.per_head_bytes_per_token) / double(rt.kv.bytes_per_token),
                human_bytes(rt.kv.per_head_bytes_per_token).c_str());
  std::printf("; decode reads %s of weights per token\n", human_bytes(rt.decode_bytes).c_str());
}

}  // namespace

int cmd_info(int argc, char** argv) {
  std::string path;
  bool json = false, all = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) {
      json = true;
    } else if (!std::strcmp(argv[i], "--all")) {
      all = true;
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      print_usage(stdout);
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      std::fprintf(stderr, "muse info: unknown option '%s'\n", argv[i]);
      print_usage(stderr);
      return 2;
    } else if (path.empty()) {
      path = argv[i];
    } else {
      std::fprintf(stderr, "muse info: more than one file given ('%s' and '%s')\n", path.c_str(),
                   argv[i]);
      return 2;
    }
  }
  if (path.empty()) {
    print_usage(stderr);
    return 2;
  }
  StatusOr<GgufFile> f = GgufFile::open(path);
  if (!f.ok()) {
    std::fprintf(stderr, "muse info: %s\n", f.status().message().c_str());
    return 1;
  }
  const RuntimeInfo rt = runtime_info(path, *f);
  if (json) {
    print_json(path, *f, all, rt);
  } else {
    print_text(path, *f, all, rt);
  }
  return 0;
}

}  // namespace muse::cli
