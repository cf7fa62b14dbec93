#include "embed/bert_kernels.h"

// The native vector type (base/simd.h) is only passed between functions of this file; GCC warns
// that its calling convention depends on the ISA.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "base/simd.h"
#include "ragperf/error.h"

namespace ragperf::embed::kernels {

namespace {

using namespace base::simd;

// The same arithmetic as exp_approx / erf_approx, kW lanes at a time.
inline vf expv(vf x) {
  x = vmin(vmax(x, splat(-87.33654f)), splat(88.37626f));
  // Round to nearest through the 1.5 * 2^23 trick (|x * log2 e| < 2^22 after the clamp).
  const vf magic = splat(12582912.0f);
  const vf n = (x * 1.44269504088896341f + magic) - magic;
  vf r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const vf y = p * r * r + r + 1.0f;
  const vi ni = __builtin_convertvector(n, vi);
  const vi n1 = ni / 2;
  const vi n2 = ni - n1;
  const vf s1 = reinterpret_cast<vf>((n1 + 127) << 23);
  const vf s2 = reinterpret_cast<vf>((n2 + 127) << 23);
  return y * s1 * s2;
}

inline vf erfv(vf x) {
  x = vmin(vmax(x, splat(-4.0f)), splat(4.0f));
  const vf x2 = x * x;
  vf p = splat(-2.72614225801306e-10f);
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  vf q = splat(-1.45660718464996e-05f);
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

inline vf gelu_erfv(vf x) {
  return 0.5f * x * (1.0f + erfv(x * 0.70710678118654752f));
}
inline vf gelu_tanhv(vf x) {
  const vf u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + (1.0f - 2.0f / (expv(2.0f * u) + 1.0f)));
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

void bias_act(float* x, size_t ld, size_t rows, size_t cols, const float* bias, bool activate,
              Activation act) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * ld;
    size_t c = 0;
    for (; c + kW <= cols; c += kW) {
      vf v = load(row + c) + load(bias + c);
      if (activate) {
        if (act == Activation::kGeluErf) {
          v = gelu_erfv(v);
        } else if (act == Activation::kGeluTanh) {
          v = gelu_tanhv(v);
        } else {
          v = vmax(v, vf{});
        }
      }
      store(row + c, v);
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
    vf acc{};
    float tail = 0;
    size_t c = 0;
    for (; c + kW <= cols; c += kW) {
      vf v = load(xr + c);
      if (residual) v += load(residual + r * cols + c);
      store(o + c, v);
      acc += v;
    }
    for (; c < cols; ++c) {
      o[c] = xr[c] + (residual ? residual[r * cols + c] : 0.0f);
      tail += o[c];
    }
    const float mean = (hsum(acc) + tail) / static_cast<float>(cols);
    vf vacc{};
    float vtail = 0;
    c = 0;
    for (; c + kW <= cols; c += kW) {
      const vf d = load(o + c) - mean;
      vacc += d * d;
    }
    for (; c < cols; ++c) vtail += (o[c] - mean) * (o[c] - mean);
    const float var = (hsum(vacc) + vtail) / static_cast<float>(cols);
    const float inv = 1.0f / std::sqrt(var + eps);
    c = 0;
    for (; c + kW <= cols; c += kW) {
      store(o + c, (load(o + c) - mean) * inv * load(gamma + c) + load(beta + c));
    }
    for (; c < cols; ++c) o[c] = (o[c] - mean) * inv * gamma[c] + beta[c];
  }
}

void softmax(float* x, size_t n) {
  size_t i = 0;
  vf vm = splat(-3.0e38f);
  for (; i + kW <= n; i += kW) vm = vmax(vm, load(x + i));
  float mx = hmax(vm);
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  vf vs{};
  float sum = 0;
  i = 0;
  for (; i + kW <= n; i += kW) {
    const vf e = expv(load(x + i) - mx);
    store(x + i, e);
    vs += e;
  }
  for (; i < n; ++i) {
    x[i] = exp_approx(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / (hsum(vs) + sum);
  i = 0;
  for (; i + kW <= n; i += kW) store(x + i, load(x + i) * inv);
  for (; i < n; ++i) x[i] *= inv;
}

}  // namespace ragperf::embed::kernels
