// embed/gemm.h: the encoder's matrix products. The products with weights run on weights packed
// once at load (PackedMatrix: column panels, each contiguous over K) through a register-blocked
// kernel that streams every panel exactly once per row block; a library sgemm re-packs the whole
// weight matrix on every call, which for a short query (~10 rows) costs as much as the
// arithmetic. The tiny per-head attention products use the same register blocking on unpacked B
// (the timings behind both choices are in README.md's Performance section). oneDNN's and
// OpenBLAS's sgemm stay available for measurements (GemmMode).
//
//   PackedMatrix w(b.data(), n, k, n);                  // B [k, n], once
//   gemm_packed(a.data(), k, w, 0, n, c.data(), n, m);  // C [m, n] = A [m, k] · B
//
// Row-major throughout: a [rows, cols] matrix is `x[r * cols + c]`.
#pragma once

#include <cstddef>
#include <vector>

#include "base/simd.h"

namespace ragperf::embed::kernels {

/// Which GEMM the encoder uses. kAuto: products with weights on the packed kernel
/// (gemm_packed); the attention products on the register-blocked kernel up to kSmallGemmMacs
/// multiply-adds, oneDNN's sgemm above (OpenBLAS when built without oneDNN). kBlas / kDnnl force
/// one library for every product, on row-major weights (for measurements: `ragperf bench embed`
/// compares them).
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

/// Columns per panel of a PackedMatrix: two native vectors (16 floats with AVX2, 32 with AVX-512).
inline constexpr size_t kPanelCols = 2 * static_cast<size_t>(base::simd::kW);

/// A weight matrix B [K, N] packed for gemm_packed: ceil(N / kPanelCols) column panels, panel p
/// holding B[0 .. K, p * kPanelCols ..] as [K, kPanelCols] contiguous floats (the last one
/// zero-padded). Immutable after construction, so any number of threads may read it.
class PackedMatrix {
 public:
  PackedMatrix() = default;
  /// Packs B [k, n] whose rows lie ldb floats apart.
  PackedMatrix(const float* b, size_t ldb, size_t k, size_t n);

  size_t rows() const { return k_; }  // K
  size_t cols() const { return n_; }  // N
  /// Panel p: [K, kPanelCols].
  const float* panel(size_t p) const { return data_.data() + p * k_ * kPanelCols; }
  /// B back as row-major [K, N] (the library modes need it).
  std::vector<float> unpack() const;

 private:
  size_t k_ = 0, n_ = 0;
  std::vector<float> data_;  // [panels, K, kPanelCols]
};

/// C[M, nj] = A[M, K] · B[:, j0 .. j0 + nj] (overwritten; row strides lda, ldc), with j0 a
/// multiple of kPanelCols and j0 + nj <= b.cols().
void gemm_packed(const float* a, size_t lda, const PackedMatrix& b, size_t j0, size_t nj, float* c,
                 size_t ldc, size_t m);

}  // namespace ragperf::embed::kernels
