#include "base/distance.h"

// The native vector type (base/simd.h) is only passed between functions of this file; GCC warns
// that its calling convention depends on the ISA.
#pragma GCC diagnostic ignored "-Wpsabi"

#include "base/simd.h"

namespace ragperf::base {

namespace {

using simd::kW;
using simd::load;
using simd::vf;

// Two independent accumulators hide the add latency; a last single-width step and a scalar tail
// handle dimensions that are not a multiple of 2 * kW.
inline float dot_kernel(const float* a, const float* b, size_t d) {
  vf acc0{}, acc1{};
  size_t i = 0;
  for (; i + 2 * kW <= d; i += 2 * kW) {
    acc0 += load(a + i) * load(b + i);
    acc1 += load(a + i + kW) * load(b + i + kW);
  }
  if (i + kW <= d) {
    acc0 += load(a + i) * load(b + i);
    i += kW;
  }
  float sum = simd::hsum(acc0 + acc1);
  for (; i < d; ++i) sum += a[i] * b[i];
  return sum;
}

inline float l2_kernel(const float* a, const float* b, size_t d) {
  vf acc0{}, acc1{};
  size_t i = 0;
  for (; i + 2 * kW <= d; i += 2 * kW) {
    const vf d0 = load(a + i) - load(b + i);
    const vf d1 = load(a + i + kW) - load(b + i + kW);
    acc0 += d0 * d0;
    acc1 += d1 * d1;
  }
  if (i + kW <= d) {
    const vf d0 = load(a + i) - load(b + i);
    acc0 += d0 * d0;
    i += kW;
  }
  float sum = simd::hsum(acc0 + acc1);
  for (; i < d; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

}  // namespace

float dot(const float* a, const float* b, size_t d) {
  return dot_kernel(a, b, d);
}

float l2_squared(const float* a, const float* b, size_t d) {
  return l2_kernel(a, b, d);
}

void dot_rows(const float* q, const float* rows, size_t n, size_t d, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = dot_kernel(q, rows + i * d, d);
}

void l2_squared_rows(const float* q, const float* rows, size_t n, size_t d, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = l2_kernel(q, rows + i * d, d);
}

double squared_norm(const float* v, size_t d) {
  double s = 0;
  for (size_t i = 0; i < d; ++i) s += static_cast<double>(v[i]) * v[i];
  return s;
}

}  // namespace ragperf::base
