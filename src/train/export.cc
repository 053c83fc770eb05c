#include "train/export.h"

namespace muse {

StatusOr<GenModelSummary> export_model(const TrainModel& model, const ExportOptions& o,
                                       const std::string& path) {
  GenModelOptions opts = model.options();
  opts.type = o.type;
  if (!o.name.empty()) opts.name = o.name;
  if (o.n_ctx > 0) opts.n_ctx = o.n_ctx;
  GenModelData data;
  data.tokenizer = o.tokenizer;
  data.tensor = [&model](const std::string& name) -> std::span<const float> {
    for (const TrainParam& p : model.params())
      if (p.info.name == name) return p.value;
    return {};  // unreachable: both lists come from the same tables
  };
  return gen_model(opts, path, data);
}

}  // namespace muse
