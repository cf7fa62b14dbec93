#include "cache/hamming.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace {

using ragperf::cache::hamming_128_within;
using ragperf::cache::HammingKernel;

std::vector<HammingKernel> available_kernels() {
  std::vector<HammingKernel> out;
  for (auto k : {HammingKernel::kScalar, HammingKernel::kAvx2, HammingKernel::kAvx512})
    if (ragperf::cache::hamming_kernel_available(k)) out.push_back(k);
  return out;
}

unsigned distance(uint64_t a0, uint64_t a1, uint64_t q0, uint64_t q1) {
  return static_cast<unsigned>(__builtin_popcountll(a0 ^ q0) + __builtin_popcountll(a1 ^ q1));
}

TEST(Hamming128, EveryKernelFindsExactlyTheRowsWithinTheRadius) {
  std::mt19937_64 rng(7);
  for (HammingKernel kernel : available_kernels()) {
    for (size_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 1000, 1024, 1031}) {
      std::vector<uint64_t> w0(n), w1(n);
      const uint64_t q0 = rng(), q1 = rng();
      for (size_t i = 0; i < n; ++i) {
        // A mix of far rows and rows a few bits from the query, at every lane position.
        w0[i] = rng();
        w1[i] = rng();
        if (i % 3 == 0) {
          w0[i] = q0 ^ (uint64_t{1} << (i % 64));
          w1[i] = q1 ^ (i % 2 ? uint64_t{0} : rng() & rng() & rng());
        }
      }
      for (unsigned radius : {0u, 20u, 64u, 128u}) {
        std::vector<uint32_t> rows(n + 1, 7777);
        std::vector<uint16_t> dist(n + 1, 999);
        const size_t found = hamming_128_within(kernel, w0.data(), w1.data(), q0, q1, n, radius,
                                                rows.data(), dist.data());
        std::vector<uint32_t> want_rows;
        std::vector<uint16_t> want_dist;
        for (size_t i = 0; i < n; ++i) {
          const unsigned d = distance(w0[i], w1[i], q0, q1);
          if (d <= radius) {
            want_rows.push_back(static_cast<uint32_t>(i));
            want_dist.push_back(static_cast<uint16_t>(d));
          }
        }
        const std::string where = "kernel " + std::to_string(static_cast<int>(kernel)) + " n " +
                                  std::to_string(n) + " radius " + std::to_string(radius);
        ASSERT_EQ(found, want_rows.size()) << where;
        EXPECT_EQ(std::vector<uint32_t>(rows.begin(), rows.begin() + static_cast<long>(found)),
                  want_rows)
            << where;
        EXPECT_EQ(std::vector<uint16_t>(dist.begin(), dist.begin() + static_cast<long>(found)),
                  want_dist)
            << where;
        EXPECT_EQ(rows[n], 7777u) << "wrote past the end, " << where;
        EXPECT_EQ(dist[n], 999) << "wrote past the end, " << where;
      }
    }
  }
}

TEST(Hamming128, ExtremesZeroAndAllBitsAtEveryPosition) {
  // One row equal to the query (distance 0) among its complements (128), at every lane position.
  const uint64_t q0 = 0x0123456789abcdefULL, q1 = 0xfedcba9876543210ULL;
  for (HammingKernel kernel : available_kernels()) {
    for (size_t pos = 0; pos < 11; ++pos) {
      std::vector<uint64_t> w0(11, ~q0), w1(11, ~q1);
      w0[pos] = q0;
      w1[pos] = q1;
      std::vector<uint32_t> rows(11);
      std::vector<uint16_t> dist(11);
      ASSERT_EQ(hamming_128_within(kernel, w0.data(), w1.data(), q0, q1, 11, 127, rows.data(),
                                   dist.data()),
                1u);
      EXPECT_EQ(rows[0], pos);
      EXPECT_EQ(dist[0], 0);
      EXPECT_EQ(hamming_128_within(kernel, w0.data(), w1.data(), q0, q1, 11, 128, rows.data(),
                                   dist.data()),
                11u);
      EXPECT_EQ(dist[pos == 0 ? 1 : 0], 128);
    }
  }
}

TEST(Hamming128, BestKernelIsAvailable) {
  EXPECT_TRUE(ragperf::cache::hamming_kernel_available(ragperf::cache::best_hamming_kernel()));
}

}  // namespace
