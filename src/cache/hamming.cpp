#include "cache/hamming.h"

#include <algorithm>

#include "ragperf/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ragperf::cache {

namespace {

size_t within_scalar(const uint64_t* words0, const uint64_t* words1, uint64_t q0, uint64_t q1,
                     size_t n, unsigned radius, uint32_t* rows, uint16_t* dist, size_t first = 0) {
  size_t k = 0;
  for (size_t i = first; i < n; ++i) {
    const auto d = static_cast<unsigned>(__builtin_popcountll(words0[i] ^ q0) +
                                         __builtin_popcountll(words1[i] ^ q1));
    rows[k] = static_cast<uint32_t>(i);
    dist[k] = static_cast<uint16_t>(d);
    k += d <= radius ? 1 : 0;
  }
  return k;
}

// Appends the lanes of `d8` (8 distances of rows i..i+7) set in `lanes` (bit j = lane j).
inline size_t append_lanes(unsigned lanes, const uint16_t* d8, size_t i, uint32_t* rows,
                           uint16_t* dist, size_t k) {
  while (lanes != 0) {
    const int j = __builtin_ctz(lanes);
    rows[k] = static_cast<uint32_t>(i + static_cast<size_t>(j));
    dist[k] = d8[j];
    ++k;
    lanes &= lanes - 1;
  }
  return k;
}

#if defined(__AVX2__)

// Popcount of every byte: two table lookups of 4 bits each.
inline __m256i byte_popcount(__m256i x) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  return _mm256_add_epi8(
      _mm256_shuffle_epi8(table, _mm256_and_si256(x, low)),
      _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
}

size_t within_avx2(const uint64_t* words0, const uint64_t* words1, uint64_t q0, uint64_t q1,
                   size_t n, unsigned radius, uint32_t* rows, uint16_t* dist) {
  const __m256i vq0 = _mm256_set1_epi64x(static_cast<long long>(q0));
  const __m256i vq1 = _mm256_set1_epi64x(static_cast<long long>(q1));
  const __m128i vradius = _mm_set1_epi16(static_cast<short>(radius));
  size_t k = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i d[2];
    for (int h = 0; h < 2; ++h) {
      const size_t at = i + static_cast<size_t>(h) * 4;
      const __m256i x0 =
          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(words0 + at)), vq0);
      const __m256i x1 =
          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(words1 + at)), vq1);
      // Byte counts are at most 8 + 8 = 16: the sum of the two fits a byte.
      d[h] = _mm256_sad_epu8(_mm256_add_epi8(byte_popcount(x0), byte_popcount(x1)),
                             _mm256_setzero_si256());  // 4 x uint64 distances
    }
    // 2 x 4 u64 -> u32 [a0 a1 b0 b1 | a2 a3 b2 b3] -> [a0 a1 a2 a3 | b0 b1 b2 b3] -> 8 x u16.
    const __m256i p32 = _mm256_permutevar8x32_epi32(_mm256_packus_epi32(d[0], d[1]),
                                                    _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
    const __m256i p16 = _mm256_packus_epi32(p32, p32);
    const __m128i d8 =
        _mm_unpacklo_epi64(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
    // Distances and radius are at most 128, so the signed compare is exact.
    // One bit per lane: the 16-bit compare masks narrowed to bytes.
    const auto out_of_range = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_packs_epi16(_mm_cmpgt_epi16(d8, vradius), _mm_setzero_si128())));
    if (out_of_range == 0xff) continue;
    alignas(16) uint16_t lanes_d[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes_d), d8);
    const unsigned in_range = ~out_of_range & 0xff;
    k = append_lanes(in_range, lanes_d, i, rows, dist, k);
  }
  return k + within_scalar(words0, words1, q0, q1, n, radius, rows + k, dist + k, i);
}

#endif  // __AVX2__

#if defined(__x86_64__)

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq"))) size_t within_avx512(
    const uint64_t* words0, const uint64_t* words1, uint64_t q0, uint64_t q1, size_t n,
    unsigned radius, uint32_t* rows, uint16_t* dist) {
  const __m512i vq0 = _mm512_set1_epi64(static_cast<long long>(q0));
  const __m512i vq1 = _mm512_set1_epi64(static_cast<long long>(q1));
  const __m512i vradius = _mm512_set1_epi64(radius);
  size_t k = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(words0 + i), vq0);
    const __m512i x1 = _mm512_xor_si512(_mm512_loadu_si512(words1 + i), vq1);
    const __m512i d = _mm512_add_epi64(_mm512_popcnt_epi64(x0), _mm512_popcnt_epi64(x1));
    const __mmask8 in_range = _mm512_cmple_epu64_mask(d, vradius);
    if (in_range == 0) continue;
    // 8 x u16 in row order (the masked form: the plain one reads an undefined register).
    alignas(16) uint16_t lanes_d[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes_d),
                    _mm512_mask_cvtepi64_epi16(_mm_setzero_si128(), 0xff, d));
    k = append_lanes(in_range, lanes_d, i, rows, dist, k);
  }
  return k + within_scalar(words0, words1, q0, q1, n, radius, rows + k, dist + k, i);
}

#endif  // __x86_64__

}  // namespace

bool hamming_kernel_available(HammingKernel kernel) {
  switch (kernel) {
    case HammingKernel::kScalar:
      return true;
    case HammingKernel::kAvx2:
#if defined(__AVX2__)
      return true;
#else
      return false;
#endif
    case HammingKernel::kAvx512:
#if defined(__x86_64__)
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vpopcntdq");
#else
      return false;
#endif
  }
  return false;
}

HammingKernel best_hamming_kernel() {
  static const HammingKernel best = [] {
    for (HammingKernel k : {HammingKernel::kAvx512, HammingKernel::kAvx2})
      if (hamming_kernel_available(k)) return k;
    return HammingKernel::kScalar;
  }();
  return best;
}

size_t hamming_128_within(HammingKernel kernel, const uint64_t* words0, const uint64_t* words1,
                          uint64_t q0, uint64_t q1, size_t n, unsigned radius, uint32_t* rows,
                          uint16_t* dist) {
  RAGPERF_ASSERT(hamming_kernel_available(kernel));
  switch (kernel) {
#if defined(__x86_64__)
    case HammingKernel::kAvx512:
      return within_avx512(words0, words1, q0, q1, n, radius, rows, dist);
#endif
#if defined(__AVX2__)
    case HammingKernel::kAvx2:
      return within_avx2(words0, words1, q0, q1, n, radius, rows, dist);
#endif
    default:
      return within_scalar(words0, words1, q0, q1, n, radius, rows, dist);
  }
}

size_t hamming_128_within(const uint64_t* words0, const uint64_t* words1, uint64_t q0, uint64_t q1,
                          size_t n, unsigned radius, uint32_t* rows, uint16_t* dist) {
  return hamming_128_within(best_hamming_kernel(), words0, words1, q0, q1, n, radius, rows, dist);
}

}  // namespace ragperf::cache
