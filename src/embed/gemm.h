// embed/gemm.h: the encoder's matrix products. oneDNN's sgemm (it JIT-compiles for the CPU it runs
// on, AVX-512 included) for every product with weights, and a register-blocked kernel for the tiny
// per-head attention products, where a library call costs more than the arithmetic (the timings
// behind that choice are in README.md's Performance section).
//
// Row-major throughout: a [rows, cols] matrix is `x[r * cols + c]`.
#pragma once

#include <cstddef>
#include <vector>

namespace ragperf::embed::kernels {

/// Which GEMM the encoder uses. kAuto: the register-blocked kernel up to kSmallGemmMacs
/// multiply-adds, oneDNN's sgemm above (OpenBLAS when built without oneDNN). kBlas / kDnnl force
/// one library (for measurements: `ragperf bench embed` compares them).
enum class GemmMode { kAuto, kBlas, kDnnl };
void set_gemm_mode(GemmMode mode);
GemmMode gemm_mode();
bool have_dnnl();

inline constexpr size_t kSmallGemmMacs = 16384;

/// C[M, N] = A[M, K] · B[K, N] (overwritten), with leading dimensions lda, ldb, ldc.
void gemm(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t m,
          size_t n, size_t k);

/// The register-blocked kernel alone (12 x 32 tiles with AVX-512, 12 x 8 with AVX2).
void gemm_small(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
                size_t m, size_t n, size_t k);

/// oneDNN alone (OpenBLAS when built without oneDNN).
void gemm_dnnl(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
               size_t m, size_t n, size_t k);

/// OpenBLAS alone.
void gemm_blas(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
               size_t m, size_t n, size_t k);

}  // namespace ragperf::embed::kernels
