// embed/bert_kernels.h defines the encoder's non-GEMM kernels (bias + activation, LayerNorm,
// softmax), written so that the compiler vectorises them for the build machine (-march=native).
// The GEMMs are in embed/gemm.h.
//
// Row-major throughout: a [rows, cols] matrix is `x[r * cols + c]`.
#pragma once

#include <cstddef>
#include <vector>

#include "embed/bert_config.h"
#include "embed/gemm.h"

namespace ragperf::embed::kernels {

/// x[r, c] += bias[c] for r < rows, c < cols (row stride ld), then the activation when given.
void bias_act(float* x, size_t ld, size_t rows, size_t cols, const float* bias, bool activate,
              Activation act);

/// out[r] = LayerNorm(x[r] + residual[r]) * gamma + beta over `cols` (residual may be null).
void add_layer_norm(const float* x, const float* residual, float* out, size_t rows, size_t cols,
                    const float* gamma, const float* beta, float eps);

/// In place: x = exp(x - max(x)) / sum over n values.
void softmax(float* x, size_t n);

/// Vectorisable float erf and exp (max error a few ulp), for tests.
float erf_approx(float x);
float exp_approx(float x);

}  // namespace ragperf::embed::kernels
