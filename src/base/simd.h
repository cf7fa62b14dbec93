// base/simd.h: the build machine's native float vector for the hand-written kernels (the
// encoder's in embed/, the distances in base/distance.h). GCC vector extensions, so the same code
// builds for AVX-512, AVX2 and plain SSE2.
//
// The width must be the native one: a wider GCC vector than the ISA has is lowered to scalar code.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ragperf::base::simd {

#if defined(__AVX512F__)
inline constexpr int kW = 16;
#elif defined(__AVX__)
inline constexpr int kW = 8;
#else
inline constexpr int kW = 4;
#endif

typedef float vf __attribute__((vector_size(kW * sizeof(float)), aligned(4)));
typedef int32_t vi __attribute__((vector_size(kW * sizeof(int32_t)), aligned(4)));

// Unaligned loads and stores through the vector type (GCC lets a vector alias its element type).
inline vf load(const float* p) {
  return *reinterpret_cast<const vf*>(p);
}
inline void store(float* p, vf v) {
  *reinterpret_cast<vf*>(p) = v;
}
inline vf splat(float x) {
  return vf{} + x;
}
inline vf vmin(vf a, vf b) {
  return a < b ? a : b;
}
inline vf vmax(vf a, vf b) {
  return a > b ? a : b;
}
inline float hsum(vf v) {
  float s = 0;
  for (int i = 0; i < kW; ++i) s += v[i];
  return s;
}
inline float hmax(vf v) {
  float m = v[0];
  for (int i = 1; i < kW; ++i) m = std::max(m, v[i]);
  return m;
}

}  // namespace ragperf::base::simd
