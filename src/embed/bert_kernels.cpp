#include "embed/bert_kernels.h"

// The 64-byte vector type below is only passed between functions of this file; without
// AVX-512 (sanitizer builds, other CPUs) GCC warns that its calling convention differs.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <cblas.h>
#if RAGPERF_HAVE_DNNL
#include <dnnl.h>
// oneDNN threads with OpenMP; the compute pool is the only parallelism, so each thread that calls
// it asks for a team of one.
extern "C" void omp_set_num_threads(int n);
#endif

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ragperf/error.h"

namespace ragperf::embed::kernels {

namespace {

// 16 floats: one AVX-512 register (two AVX registers elsewhere).
typedef float v16 __attribute__((vector_size(64), aligned(4)));

inline v16 load16(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store16(float* p, v16 v) {
  std::memcpy(p, &v, sizeof(v));
}

typedef int32_t vi16 __attribute__((vector_size(64), aligned(4)));

inline v16 splat(float x) {
  return v16{} + x;
}
inline v16 vmin(v16 a, v16 b) {
  return a < b ? a : b;
}
inline v16 vmax(v16 a, v16 b) {
  return a > b ? a : b;
}
inline float hsum(v16 v) {
  float s = 0;
  for (int i = 0; i < 16; ++i) s += v[i];
  return s;
}
inline float hmax(v16 v) {
  float m = v[0];
  for (int i = 1; i < 16; ++i) m = std::max(m, v[i]);
  return m;
}

// The same arithmetic as exp_approx / erf_approx, 16 lanes at a time.
inline v16 exp16(v16 x) {
  x = vmin(vmax(x, splat(-87.33654f)), splat(88.37626f));
  // Round to nearest through the 1.5 * 2^23 trick (|x * log2 e| < 2^22 after the clamp).
  const v16 magic = splat(12582912.0f);
  const v16 n = (x * 1.44269504088896341f + magic) - magic;
  v16 r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  v16 p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const v16 y = p * r * r + r + 1.0f;
  const vi16 ni = __builtin_convertvector(n, vi16);
  const vi16 n1 = ni / 2;
  const vi16 n2 = ni - n1;
  const v16 s1 = reinterpret_cast<v16>((n1 + 127) << 23);
  const v16 s2 = reinterpret_cast<v16>((n2 + 127) << 23);
  return y * s1 * s2;
}

inline v16 erf16(v16 x) {
  x = vmin(vmax(x, splat(-4.0f)), splat(4.0f));
  const v16 x2 = x * x;
  v16 p = splat(-2.72614225801306e-10f);
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  v16 q = splat(-1.45660718464996e-05f);
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

inline v16 gelu_erf16(v16 x) {
  return 0.5f * x * (1.0f + erf16(x * 0.70710678118654752f));
}
inline v16 gelu_tanh16(v16 x) {
  const v16 u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + (1.0f - 2.0f / (exp16(2.0f * u) + 1.0f)));
}

// One micro-tile: C[MR rows, 32 cols] = A[MR, K] · B[K, 32].
template <int MR>
void micro_32(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
              size_t k) {
  v16 acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) {
    acc0[r] = v16{};
    acc1[r] = v16{};
  }
  for (size_t p = 0; p < k; ++p) {
    const v16 b0 = load16(b + p * ldb);
    const v16 b1 = load16(b + p * ldb + 16);
    for (int r = 0; r < MR; ++r) {
      const float av = a[r * lda + p];
      acc0[r] += av * b0;
      acc1[r] += av * b1;
    }
  }
  for (int r = 0; r < MR; ++r) {
    store16(c + r * ldc, acc0[r]);
    store16(c + r * ldc + 16, acc1[r]);
  }
}

// C[MR rows, 32 cols] = A[MR, K] · P where P is one packed panel: K rows of 32 contiguous floats.
template <int MR>
void micro_packed(const float* a, size_t lda, const float* panel, float* c, size_t ldc, size_t k) {
  v16 acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) {
    acc0[r] = v16{};
    acc1[r] = v16{};
  }
  for (size_t p = 0; p < k; ++p) {
    const v16 b0 = load16(panel + p * 32);
    const v16 b1 = load16(panel + p * 32 + 16);
    for (int r = 0; r < MR; ++r) {
      const float av = a[r * lda + p];
      acc0[r] += av * b0;
      acc1[r] += av * b1;
    }
  }
  for (int r = 0; r < MR; ++r) {
    store16(c + r * ldc, acc0[r]);
    store16(c + r * ldc + 16, acc1[r]);
  }
}

template <int MR>
void packed_rows(const float* a, size_t lda, const float* panels, size_t first_panel,
                 size_t n_panels, float* c, size_t ldc, size_t k) {
  for (size_t q = 0; q < n_panels; ++q) {
    micro_packed<MR>(a, lda, panels + (first_panel + q) * k * 32, c + q * 32, ldc, k);
  }
}

template <int MR>
void micro_16(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
              size_t k) {
  v16 acc[MR];
  for (int r = 0; r < MR; ++r) acc[r] = v16{};
  for (size_t p = 0; p < k; ++p) {
    const v16 b0 = load16(b + p * ldb);
    for (int r = 0; r < MR; ++r) acc[r] += a[r * lda + p] * b0;
  }
  for (int r = 0; r < MR; ++r) store16(c + r * ldc, acc[r]);
}

template <int MR>
void rows_block(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
                size_t n, size_t k) {
  size_t j = 0;
  for (; j + 32 <= n; j += 32) micro_32<MR>(a, lda, b + j, ldb, c + j, ldc, k);
  for (; j + 16 <= n; j += 16) micro_16<MR>(a, lda, b + j, ldb, c + j, ldc, k);
  for (; j < n; ++j) {  // scalar tail columns
    for (int r = 0; r < MR; ++r) {
      float s = 0;
      for (size_t p = 0; p < k; ++p) s += a[r * lda + p] * b[p * ldb + j];
      c[r * ldc + j] = s;
    }
  }
}

inline float gelu_erf(float x) {
  return 0.5f * x * (1.0f + erf_approx(x * 0.70710678118654752f));
}

inline float tanh_approx(float u) {
  // 1 - 2 / (exp(2u) + 1): exact limits at +-inf, abs error ~1e-7 near 0.
  return 1.0f - 2.0f / (exp_approx(2.0f * u) + 1.0f);
}

inline float gelu_tanh(float x) {
  const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanh_approx(u));
}

}  // namespace

float exp_approx(float x) {
  // Cephes expf: range reduction by ln 2, degree-6 polynomial, scale by 2^n.
  x = std::min(std::max(x, -87.33654f), 88.37626f);
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  // 2^n split in two factors so that n = 128 (x near the upper clamp) stays finite.
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2;
  const int32_t n2 = ni - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);
  return y * s1 * s2;
}

float erf_approx(float x) {
  // Rational approximation (as in Eigen's generic float erf): accurate to a few ulp on [-4, 4];
  // erf(+-4) rounds to +-1 in float.
  x = std::min(std::max(x, -4.0f), 4.0f);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

void gemm_small(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
                size_t m, size_t n, size_t k) {
  size_t i = 0;
  for (; i + 12 <= m; i += 12) rows_block<12>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, n, k);
  const size_t rest = m - i;
  const float* ar = a + i * lda;
  float* cr = c + i * ldc;
  switch (rest) {
    case 0:
      break;
    case 1:
      rows_block<1>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 2:
      rows_block<2>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 3:
      rows_block<3>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 4:
      rows_block<4>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 5:
      rows_block<5>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 6:
      rows_block<6>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 7:
      rows_block<7>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 8:
      rows_block<8>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 9:
      rows_block<9>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    case 10:
      rows_block<10>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
    default:
      rows_block<11>(ar, lda, b, ldb, cr, ldc, n, k);
      break;
  }
}

std::vector<float> pack_panels(const float* b, size_t k, size_t n) {
  RAGPERF_ASSERT(n % 32 == 0);
  std::vector<float> out(k * n);
  for (size_t q = 0; q < n / 32; ++q)
    for (size_t p = 0; p < k; ++p)
      std::memcpy(out.data() + (q * k + p) * 32, b + p * n + q * 32, 32 * sizeof(float));
  return out;
}

void gemm_packed(const float* a, size_t lda, const float* panels, size_t first_panel,
                 size_t n_panels, float* c, size_t ldc, size_t m, size_t k) {
  // Rows in groups that stay in L2 while every panel of the range passes over them.
  constexpr size_t kGroup = 96;
  for (size_t g = 0; g < m; g += kGroup) {
    const size_t gm = std::min(kGroup, m - g);
    for (size_t q = 0; q < n_panels; ++q) {
      const float* panel = panels + (first_panel + q) * k * 32;
      size_t i = 0;
      for (; i + 12 <= gm; i += 12) {
        micro_packed<12>(a + (g + i) * lda, lda, panel, c + (g + i) * ldc + q * 32, ldc, k);
      }
      const float* ar = a + (g + i) * lda;
      float* cr = c + (g + i) * ldc + q * 32;
      switch (gm - i) {
        case 0:
          break;
        case 1:
          micro_packed<1>(ar, lda, panel, cr, ldc, k);
          break;
        case 2:
          micro_packed<2>(ar, lda, panel, cr, ldc, k);
          break;
        case 3:
          micro_packed<3>(ar, lda, panel, cr, ldc, k);
          break;
        case 4:
          micro_packed<4>(ar, lda, panel, cr, ldc, k);
          break;
        case 5:
          micro_packed<5>(ar, lda, panel, cr, ldc, k);
          break;
        case 6:
          micro_packed<6>(ar, lda, panel, cr, ldc, k);
          break;
        case 7:
          micro_packed<7>(ar, lda, panel, cr, ldc, k);
          break;
        case 8:
          micro_packed<8>(ar, lda, panel, cr, ldc, k);
          break;
        case 9:
          micro_packed<9>(ar, lda, panel, cr, ldc, k);
          break;
        case 10:
          micro_packed<10>(ar, lda, panel, cr, ldc, k);
          break;
        default:
          micro_packed<11>(ar, lda, panel, cr, ldc, k);
          break;
      }
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
  if (m <= kSmallGemmRows) {
    gemm_small(a, lda, b, ldb, c, ldc, m, n, k);
  } else {
    gemm_dnnl(a, lda, b, ldb, c, ldc, m, n, k);
  }
}

void bias_act(float* x, size_t ld, size_t rows, size_t cols, const float* bias, bool activate,
              Activation act) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * ld;
    size_t c = 0;
    for (; c + 16 <= cols; c += 16) {
      v16 v = load16(row + c) + load16(bias + c);
      if (activate) {
        if (act == Activation::kGeluErf) {
          v = gelu_erf16(v);
        } else if (act == Activation::kGeluTanh) {
          v = gelu_tanh16(v);
        } else {
          v = vmax(v, v16{});
        }
      }
      store16(row + c, v);
    }
    for (; c < cols; ++c) {
      float v = row[c] + bias[c];
      if (activate) {
        v = act == Activation::kGeluErf    ? gelu_erf(v)
            : act == Activation::kGeluTanh ? gelu_tanh(v)
                                           : std::max(v, 0.0f);
      }
      row[c] = v;
    }
  }
}

void add_layer_norm(const float* x, const float* residual, float* out, size_t rows, size_t cols,
                    const float* gamma, const float* beta, float eps) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    v16 acc{};
    float tail = 0;
    size_t c = 0;
    for (; c + 16 <= cols; c += 16) {
      v16 v = load16(xr + c);
      if (residual) v += load16(residual + r * cols + c);
      store16(o + c, v);
      acc += v;
    }
    for (; c < cols; ++c) {
      o[c] = xr[c] + (residual ? residual[r * cols + c] : 0.0f);
      tail += o[c];
    }
    const float mean = (hsum(acc) + tail) / static_cast<float>(cols);
    v16 vacc{};
    float vtail = 0;
    c = 0;
    for (; c + 16 <= cols; c += 16) {
      const v16 d = load16(o + c) - mean;
      vacc += d * d;
    }
    for (; c < cols; ++c) vtail += (o[c] - mean) * (o[c] - mean);
    const float var = (hsum(vacc) + vtail) / static_cast<float>(cols);
    const float inv = 1.0f / std::sqrt(var + eps);
    c = 0;
    for (; c + 16 <= cols; c += 16) {
      store16(o + c, (load16(o + c) - mean) * inv * load16(gamma + c) + load16(beta + c));
    }
    for (; c < cols; ++c) o[c] = (o[c] - mean) * inv * gamma[c] + beta[c];
  }
}

void softmax(float* x, size_t n) {
  size_t i = 0;
  v16 vm = splat(-3.0e38f);
  for (; i + 16 <= n; i += 16) vm = vmax(vm, load16(x + i));
  float mx = hmax(vm);
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  v16 vs{};
  float sum = 0;
  i = 0;
  for (; i + 16 <= n; i += 16) {
    const v16 e = exp16(load16(x + i) - mx);
    store16(x + i, e);
    vs += e;
  }
  for (; i < n; ++i) {
    x[i] = exp_approx(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / (hsum(vs) + sum);
  i = 0;
  for (; i + 16 <= n; i += 16) store16(x + i, load16(x + i) * inv);
  for (; i < n; ++i) x[i] *= inv;
}

}  // namespace ragperf::embed::kernels
