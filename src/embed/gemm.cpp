#include "embed/gemm.h"

// The native vector type (base/simd.h) is only passed between functions of this file; GCC warns
// that its calling convention depends on the ISA.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <cblas.h>
#if RAGPERF_HAVE_DNNL
#include <dnnl.h>
// oneDNN threads with OpenMP; the compute pool is the only parallelism, so each thread that calls
// it asks for a team of one.
extern "C" void omp_set_num_threads(int n);
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

#include "base/simd.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"

namespace ragperf::embed::kernels {

namespace {

// One tile is kMR rows × kNV native vectors of C, all held in registers while K is walked: the
// accumulators, kNV vectors of B and one broadcast of A must fit the register file (32 vector
// registers with AVX-512, 16 with AVX2); spilling an accumulator costs several times the FMA.
using base::simd::kW;
using base::simd::load;
using base::simd::store;
using base::simd::vf;
// AVX-512: 24 accumulators + 2 B vectors + 1 broadcast of 32 registers; AVX2 and SSE2: 12 + 1 + 1
// of 16.
constexpr int kNV = kW == 16 ? 2 : 1;
constexpr int kMR = 12;
constexpr size_t kTileCols = static_cast<size_t>(kNV * kW);

// C[MR, NV * kW] = A[MR, K] · B[K, NV * kW] (B's rows ldb floats apart). The loops over r and v
// are unrolled so that every accumulator stays a register.
template <int MR, int NV>
void micro(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t k) {
  vf acc[MR][NV];
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = vf{} + 0.0f;
  for (size_t p = 0; p < k; ++p) {
    vf bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = load(b + p * ldb + static_cast<size_t>(v * kW));
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
      const float av = a[static_cast<size_t>(r) * lda + p];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] += av * bv[v];
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      store(c + static_cast<size_t>(r) * ldc + static_cast<size_t>(v * kW), acc[r][v]);
}

using MicroFn = void (*)(const float*, size_t, const float*, size_t, float*, size_t, size_t);

template <int NV, int... R>
constexpr std::array<MicroFn, sizeof...(R)> micro_table(std::integer_sequence<int, R...>) {
  return {&micro<R + 1, NV>...};
}

// kMicro<NV>[rows - 1]: the tile for 1 .. kMR rows.
template <int NV>
constexpr auto kMicro = micro_table<NV>(std::make_integer_sequence<int, kMR>{});

// C[M, NV * kW] = A[M, K] · B[K, NV * kW]: full tiles, then one tile for the remaining rows.
template <int NV>
void tile_rows(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
               size_t m, size_t k) {
  size_t i = 0;
  for (; i + kMR <= m; i += kMR) micro<kMR, NV>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k);
  if (i < m) kMicro<NV>[m - i - 1](a + i * lda, lda, b, ldb, c + i * ldc, ldc, k);
}

// The packed kernel's tile: kPackedRows rows × one panel (2 native vectors). AVX-512: 24
// accumulators + 2 B vectors + 1 broadcast of 32 registers; AVX2: 12 + 2 + 1 of 16 (BLIS's 6 x 16
// on Haswell and Zen).
constexpr int kPackedRows = kW == 16 ? 12 : 6;
static_assert(kPanelCols == 2 * static_cast<size_t>(kW));

// C[MR, kPanelCols] = A[MR, K] · panel[K, kPanelCols] (contiguous), C's rows ldc floats apart.
template <int MR>
void micro_packed(const float* a, size_t lda, const float* panel, float* c, size_t ldc, size_t k) {
  vf acc[MR][2];
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = vf{} + 0.0f;
  for (size_t p = 0; p < k; ++p) {
    const vf b0 = load(panel + p * kPanelCols);
    const vf b1 = load(panel + p * kPanelCols + kW);
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
      const float av = a[static_cast<size_t>(r) * lda + p];
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r) {
    store(c + static_cast<size_t>(r) * ldc, acc[r][0]);
    store(c + static_cast<size_t>(r) * ldc + kW, acc[r][1]);
  }
}

using MicroPackedFn = void (*)(const float*, size_t, const float*, float*, size_t, size_t);

template <int... R>
constexpr std::array<MicroPackedFn, sizeof...(R)> micro_packed_table(
    std::integer_sequence<int, R...>) {
  return {&micro_packed<R + 1>...};
}

// kMicroPacked[rows - 1]: the tile for 1 .. kPackedRows rows.
constexpr auto kMicroPacked = micro_packed_table(std::make_integer_sequence<int, kPackedRows>{});

// C[M, kPanelCols] = A[M, K] · panel: full tiles, then one tile for the remaining rows. The
// panel (at most K * kPanelCols * 4 bytes: 96 KiB for K = 1536 with AVX2) stays in L1/L2 while
// the row tiles walk it.
void panel_rows(const float* a, size_t lda, const float* panel, float* c, size_t ldc, size_t m,
                size_t k) {
  size_t i = 0;
  for (; i + kPackedRows <= m; i += kPackedRows) {
    micro_packed<kPackedRows>(a + i * lda, lda, panel, c + i * ldc, ldc, k);
  }
  if (i < m) kMicroPacked[m - i - 1](a + i * lda, lda, panel, c + i * ldc, ldc, k);
}

}  // namespace

PackedMatrix::PackedMatrix(const float* b, size_t ldb, size_t k, size_t n)
    : k_(k), n_(n), data_((n + kPanelCols - 1) / kPanelCols * k * kPanelCols, 0.0f) {
  for (size_t j0 = 0; j0 < n; j0 += kPanelCols) {
    float* dst = data_.data() + j0 * k;  // panel j0 / kPanelCols starts at j0 * k floats
    const size_t cols = std::min(kPanelCols, n - j0);
    for (size_t p = 0; p < k; ++p) std::memcpy(dst + p * kPanelCols, b + p * ldb + j0, cols * 4);
  }
}

std::vector<float> PackedMatrix::unpack() const {
  std::vector<float> b(k_ * n_);
  for (size_t j0 = 0; j0 < n_; j0 += kPanelCols) {
    const float* src = data_.data() + j0 * k_;
    const size_t cols = std::min(kPanelCols, n_ - j0);
    for (size_t p = 0; p < k_; ++p)
      std::memcpy(b.data() + p * n_ + j0, src + p * kPanelCols, cols * 4);
  }
  return b;
}

void gemm_packed(const float* a, size_t lda, const PackedMatrix& b, size_t j0, size_t nj, float* c,
                 size_t ldc, size_t m) {
  RAGPERF_ASSERT(j0 % kPanelCols == 0 && j0 + nj <= b.cols());
  const size_t k = b.rows();
  size_t j = 0;
  for (; j + kPanelCols <= nj; j += kPanelCols) {
    panel_rows(a, lda, b.panel((j0 + j) / kPanelCols), c + j, ldc, m, k);
  }
  if (j < nj) {  // a last, partial panel (N not a multiple of kPanelCols): through a scratch tile
    const size_t cols = nj - j;
    thread_local std::vector<float> tail;
    tail.resize(m * kPanelCols);
    panel_rows(a, lda, b.panel((j0 + j) / kPanelCols), tail.data(), kPanelCols, m, k);
    for (size_t r = 0; r < m; ++r)
      std::memcpy(c + r * ldc + j, tail.data() + r * kPanelCols, cols * 4);
  }
}

void gemm_small(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
                size_t m, size_t n, size_t k) {
  size_t j = 0;
  for (; j + kTileCols <= n; j += kTileCols) tile_rows<kNV>(a, lda, b + j, ldb, c + j, ldc, m, k);
  if constexpr (kNV > 1) {
    for (; j + kW <= n; j += kW) tile_rows<1>(a, lda, b + j, ldb, c + j, ldc, m, k);
  }
  for (; j < n; ++j) {  // scalar tail columns
    for (size_t r = 0; r < m; ++r) {
      float s = 0;
      for (size_t p = 0; p < k; ++p) s += a[r * lda + p] * b[p * ldb + j];
      c[r * ldc + j] = s;
    }
  }
}

void gemm_blas(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
               size_t m, size_t n, size_t k) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(lda),
              b, static_cast<blasint>(ldb), 0.0f, c, static_cast<blasint>(ldc));
}

void gemm_dnnl(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
               size_t m, size_t n, size_t k) {
#if RAGPERF_HAVE_DNNL
  thread_local bool single_omp_thread = [] {
    omp_set_num_threads(1);
    return true;
  }();
  (void)single_omp_thread;
  const auto d = [](size_t v) { return static_cast<dnnl_dim_t>(v); };
  const dnnl_status_t st =
      dnnl_sgemm('N', 'N', d(m), d(n), d(k), 1.0f, a, d(lda), b, d(ldb), 0.0f, c, d(ldc));
  if (st == dnnl_success) return;
#endif
  gemm_blas(a, lda, b, ldb, c, ldc, m, n, k);
}

bool have_dnnl() {
#if RAGPERF_HAVE_DNNL
  return true;
#else
  return false;
#endif
}

namespace {
std::atomic<int> g_mode{static_cast<int>(GemmMode::kAuto)};
}

void set_gemm_mode(GemmMode mode) {
  g_mode.store(static_cast<int>(mode));
}
GemmMode gemm_mode() {
  return static_cast<GemmMode>(g_mode.load(std::memory_order_relaxed));
}

void gemm(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t m,
          size_t n, size_t k) {
  switch (gemm_mode()) {
    case GemmMode::kBlas:
      return gemm_blas(a, lda, b, ldb, c, ldc, m, n, k);
    case GemmMode::kDnnl:
      return gemm_dnnl(a, lda, b, ldb, c, ldc, m, n, k);
    case GemmMode::kAuto:
      break;
  }
  if (m * n * k <= kSmallGemmMacs) {
    gemm_small(a, lda, b, ldb, c, ldc, m, n, k);
  } else {
    gemm_dnnl(a, lda, b, ldb, c, ldc, m, n, k);
  }
}

}  // namespace ragperf::embed::kernels

namespace ragperf {

void set_gemm_backend(GemmBackend backend) {
  using embed::kernels::GemmMode;
  switch (backend) {
    case GemmBackend::kAuto:
      return embed::kernels::set_gemm_mode(GemmMode::kAuto);
    case GemmBackend::kOpenBlas:
      return embed::kernels::set_gemm_mode(GemmMode::kBlas);
    case GemmBackend::kOneDnn:
      return embed::kernels::set_gemm_mode(GemmMode::kDnnl);
  }
}

bool have_onednn() {
  return embed::kernels::have_dnnl();
}

}  // namespace ragperf
