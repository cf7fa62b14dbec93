// embed/bert_kernels.h defines the encoder's non-GEMM kernels and its small-batch GEMM, written
// so that the compiler vectorises them for the build machine (-march=native).
//
// Row-major throughout: a [rows, cols] matrix is `x[r * cols + c]`.
#pragma once

#include <cstddef>
#include <vector>

#include "embed/bert_config.h"

namespace ragperf::embed::kernels {

/// Which GEMM the encoder uses. kAuto: the register-blocked kernel up to kSmallGemmRows rows,
/// oneDNN's sgemm above (OpenBLAS when built without oneDNN). kBlas / kDnnl force one library
/// (for measurements: `ragperf bench embed` compares them).
enum class GemmMode { kAuto, kBlas, kDnnl };
void set_gemm_mode(GemmMode mode);
GemmMode gemm_mode();
bool have_dnnl();
inline constexpr size_t kSmallGemmRows = 12;

/// C[M, N] = A[M, K] · B[K, N] (overwritten), with leading dimensions lda, ldb, ldc.
void gemm(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t m,
          size_t n, size_t k);

/// The register-blocked kernel alone (exposed for tests and measurements).
void gemm_small(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
                size_t m, size_t n, size_t k);
/// oneDNN alone (OpenBLAS when built without oneDNN).
void gemm_dnnl(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
               size_t m, size_t n, size_t k);
/// B [K, N] (N a multiple of 32) repacked as N / 32 panels of K rows × 32 contiguous floats.
std::vector<float> pack_panels(const float* b, size_t k, size_t n);
/// C[M, 32 * n_panels] = A[M, K] · panels [first_panel, first_panel + n_panels).
void gemm_packed(const float* a, size_t lda, const float* panels, size_t first_panel,
                 size_t n_panels, float* c, size_t ldc, size_t m, size_t k);
/// OpenBLAS alone.
void gemm_blas(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
               size_t m, size_t n, size_t k);

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
