// The one distance-kernel module: dot products and squared L2 distances against a double-precision
// reference for every dimension around the vector widths (tails included), and the batch kernels
// equal to the single-pair ones.
#include "base/distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace ragperf::base {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(Distance, MatchesDoubleReferenceForEveryDimension) {
  for (size_t d = 0; d <= 70; ++d) {
    const auto a = random_floats(d, 1 + static_cast<uint32_t>(d));
    const auto b = random_floats(d, 1000 + static_cast<uint32_t>(d));
    double dot_ref = 0, l2_ref = 0;
    for (size_t i = 0; i < d; ++i) {
      dot_ref += static_cast<double>(a[i]) * b[i];
      l2_ref += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    }
    EXPECT_NEAR(dot(a.data(), b.data(), d), dot_ref, 1e-4 * (1 + std::sqrt(d))) << "d=" << d;
    EXPECT_NEAR(l2_squared(a.data(), b.data(), d), l2_ref, 1e-4 * (1 + l2_ref)) << "d=" << d;
    EXPECT_NEAR(
        squared_norm(a.data(), d),
        [&] {
          double s = 0;
          for (float x : a) s += static_cast<double>(x) * x;
          return s;
        }(),
        1e-9);
  }
}

TEST(Distance, RowKernelsEqualThePairKernels) {
  const size_t n = 37, d = 384;
  const auto q = random_floats(d, 7);
  const auto rows = random_floats(n * d, 8);
  std::vector<float> dots(n), l2s(n);
  dot_rows(q.data(), rows.data(), n, d, dots.data());
  l2_squared_rows(q.data(), rows.data(), n, d, l2s.data());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(dots[i], dot(q.data(), rows.data() + i * d, d)) << i;
    EXPECT_EQ(l2s[i], l2_squared(q.data(), rows.data() + i * d, d)) << i;
  }
}

}  // namespace
}  // namespace ragperf::base
