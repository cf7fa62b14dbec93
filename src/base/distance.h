// base/distance.h defines ragperf's one distance-kernel module: dot products, squared L2
// distances and norms over float vectors, for every component that scores vectors (the embedded
// store's exact search, the semantic cache's scan, the encoder's normalisation). The kernels use
// the build machine's native vector width (base/simd.h) with two accumulators.
//
//   float s = base::dot(q, row, d);                    // one pair
//   base::dot_rows(q, rows, n, d, scores);             // q against n rows: scores[i] = q . rows[i]
//   float n2 = base::l2_squared(q, row, d);            // |q - row|^2
//
// Vectors are contiguous row-major floats: `rows` is [n, d], `q` is [d], outputs are [n]. Sums
// run in float in a fixed order, so a result is the same for the same inputs on the same build.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>

namespace ragperf::base {

/// Dot product of two [d] float arrays.
float dot(const float* a, const float* b, size_t d);

/// Squared Euclidean distance between two [d] float arrays.
float l2_squared(const float* a, const float* b, size_t d);

/// out[i] = dot(q, rows + i * d, d) for each of the n rows; `rows` is [n, d], `out` is [n].
void dot_rows(const float* q, const float* rows, size_t n, size_t d, float* out);

/// out[i] = l2_squared(q, rows + i * d, d) for each of the n rows; `rows` is [n, d], `out` [n].
void l2_squared_rows(const float* q, const float* rows, size_t n, size_t d, float* out);

/// Sum of squares of a [d] float array, accumulated in double (for normalisation, where the
/// norm's own rounding matters more than its speed).
double squared_norm(const float* v, size_t d);

}  // namespace ragperf::base
