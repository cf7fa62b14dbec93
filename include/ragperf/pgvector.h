// ragperf/pgvector.h defines pgvector's binary wire format for `vector` values, both ways.
//
// On the wire (binary parameters, binary results, binary COPY) a pgvector `vector` is:
//   uint16 dim | uint16 unused (0) | dim x float4, all big-endian.
//
//   std::string wire = ragperf::pgvector::encode(embedding);          // std::span<const float>
//   std::vector<float> back = ragperf::pgvector::decode(wire);        // throws InputError
//   std::string literal = ragperf::pgvector::to_text(embedding);      // "[0.1,0.2]" (text format)
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ragperf::pgvector {

/// pgvector's limit on a vector's dimension.
inline constexpr std::size_t kMaxDim = 16000;

/// Bytes of the binary form of a `dim`-dimensional vector.
inline constexpr std::size_t wire_size(std::size_t dim) {
  return 4 + 4 * dim;
}

/// Binary wire form of `v`. Throws InputError when v is empty, longer than kMaxDim, or holds
/// NaN / infinity (pgvector rejects them).
std::string encode(std::span<const float> v);

/// Appends the binary wire form of `v` to `out` (same checks as encode()).
void encode_to(std::span<const float> v, std::string& out);

/// Parses the binary wire form. Throws InputError naming the problem when the size does not match
/// the header, the dimension is 0 or above kMaxDim, or the unused field is not 0.
std::vector<float> decode(std::string_view wire);

/// pgvector's text form "[1,2.5,-3]" (shortest round-trip float formatting).
std::string to_text(std::span<const float> v);

}  // namespace ragperf::pgvector
