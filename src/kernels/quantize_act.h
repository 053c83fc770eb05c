// Activation quantization for the quantized matmuls (Q8A for legacy weights, Q8_K for
// K-quants), SIMD with run-time dispatch. Results are bit-identical to quant/'s
// quantize_act_ref on every target: same max search, same f16 scale rounding, same
// round-half-to-even (what llama.cpp's AVX2 `quantize_row_q8_0` and `nearest_int` do).
#pragma once

#include <cstdint>

#include "quant/quant.h"

namespace muse {

// y = quantize_act_ref(a, x, n); n a multiple of the activation block size.
void quantize_act(ActType a, const float* x, void* y, int64_t n);

// Target the dispatched kernels run on, for tests.
const char* quantize_act_target_name();

}  // namespace muse
