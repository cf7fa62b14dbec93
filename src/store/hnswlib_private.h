// store/hnswlib_private.h includes Debian's hnswlib 0.6.2 inside a namespace of its own.
//
// hnswlib's headers define non-inline functions and globals (cpuid, AVXCapable, the SIMD
// distance pointers), so two components that include them clash at link time. Wrapping the
// include in `ragperf_store_hnsw` gives every such symbol a name unique to src/store. The
// standard and intrinsic headers it needs are included first, outside the namespace.
// Use: `namespace hnswlib = ragperf_store_hnsw::hnswlib;`. Include it from one .cpp only.
//
// Under AddressSanitizer the SSE path is switched off: its prefetch hints read the neighbour id
// one past the end of a full upper-level link list (up to 3 bytes beyond the malloc'd size, inside
// glibc's chunk slack, so harmless in practice but reported by ASan).
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif

#include <assert.h>
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <deque>
#include <fstream>
#include <iostream>
#include <list>
#include <mutex>
#include <queue>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ragperf_store_hnsw {
#include <hnswlib/hnswlib.h>  // NOLINT(build/include_order)
}  // namespace ragperf_store_hnsw
