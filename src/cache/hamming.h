// cache/hamming.h: the first pass of VectorIndex::search over every row of the cache: which rows'
// 128-bit signature prefixes lie within a Hamming radius of the query's.
//
//   uint32_t rows[n]; uint16_t dist[n];
//   size_t k = hamming_128_within(words0, words1, q0, q1, n, radius, rows, dist);
//   // rows[0..k): every i < n (ascending) with
//   //   popcount(words0[i] ^ q0) + popcount(words1[i] ^ q1) <= radius, that distance in dist.
//
// Three kernels, the best the CPU runs chosen once at run time: AVX-512 VPOPCNTQ (eight rows per
// instruction pair; compiled for that ISA whatever the build flags), AVX2 (byte popcounts by table
// lookup summed with vpsadbw, when the build has AVX2), and scalar popcnt. Rows out of range cost
// no branch: the usual row is out of range.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ragperf::cache {

enum class HammingKernel { kScalar, kAvx2, kAvx512 };

/// Whether this build and this CPU can run `kernel`.
bool hamming_kernel_available(HammingKernel kernel);

/// The fastest available kernel.
HammingKernel best_hamming_kernel();

size_t hamming_128_within(const uint64_t* words0, const uint64_t* words1, uint64_t q0, uint64_t q1,
                          size_t n, unsigned radius, uint32_t* rows, uint16_t* dist);

/// One kernel explicitly (tests, measurements); it must be available.
size_t hamming_128_within(HammingKernel kernel, const uint64_t* words0, const uint64_t* words1,
                          uint64_t q0, uint64_t q1, size_t n, unsigned radius, uint32_t* rows,
                          uint16_t* dist);

}  // namespace ragperf::cache
