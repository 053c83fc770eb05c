// Writing a trained model as a GGUF file that inference loads through its normal path: the
// `muse` tensors and keys of gen-model's tables, the trained values quantized to `type`
// (routers, norms and the selection bias stay F32, as llama-quantize leaves them), and the
// caller's tokenizer keys.
#pragma once

#include <functional>
#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "model/gen_model.h"
#include "train/model.h"

namespace muse {

class GgufWriter;

struct ExportOptions {
  DType type = DType::Q8_0;
  std::string name = {};  // general.name
  int64_t n_ctx = 0;      // context_length key; 0 keeps the model options'
  std::function<void(GgufWriter*)> tokenizer = {};  // unset: gen-model's small SPM vocabulary
};

StatusOr<GenModelSummary> export_model(const TrainModel& model, const ExportOptions& o,
                                       const std::string& path);

}  // namespace muse
