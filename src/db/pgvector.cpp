// pgvector's binary wire format (include/ragperf/pgvector.h).
#include "ragperf/pgvector.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ragperf/error.h"

namespace ragperf::pgvector {
namespace {

uint16_t get_u16(const unsigned char* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

}  // namespace

void encode_to(std::span<const float> v, std::string& out) {
  if (v.empty()) throw InputError("pgvector: cannot encode an empty vector; give at least 1 value");
  if (v.size() > kMaxDim)
    throw InputError("pgvector: vector of dimension " + std::to_string(v.size()) +
                     " exceeds pgvector's limit of " + std::to_string(kMaxDim));
  const size_t base = out.size();
  out.resize(base + wire_size(v.size()));
  auto* p = reinterpret_cast<unsigned char*>(out.data() + base);
  p[0] = static_cast<unsigned char>(v.size() >> 8);
  p[1] = static_cast<unsigned char>(v.size() & 0xff);
  p[2] = 0;
  p[3] = 0;
  p += 4;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      out.resize(base);
      throw InputError("pgvector: element " + std::to_string(i) +
                       " is NaN or infinite; pgvector accepts finite values only");
    }
    uint32_t bits = std::bit_cast<uint32_t>(v[i]);
    p[0] = static_cast<unsigned char>(bits >> 24);
    p[1] = static_cast<unsigned char>(bits >> 16);
    p[2] = static_cast<unsigned char>(bits >> 8);
    p[3] = static_cast<unsigned char>(bits);
    p += 4;
  }
}

std::string encode(std::span<const float> v) {
  std::string out;
  out.reserve(wire_size(v.size()));
  encode_to(v, out);
  return out;
}

std::vector<float> decode(std::string_view wire) {
  if (wire.size() < 4)
    throw InputError("pgvector: binary value of " + std::to_string(wire.size()) +
                     " bytes is shorter than the 4-byte header; is the column of type vector?");
  const auto* p = reinterpret_cast<const unsigned char*>(wire.data());
  const uint16_t dim = get_u16(p);
  const uint16_t unused = get_u16(p + 2);
  if (dim == 0 || dim > kMaxDim)
    throw InputError("pgvector: dimension " + std::to_string(dim) + " is outside [1, " +
                     std::to_string(kMaxDim) + "]; the value is not a pgvector vector");
  if (unused != 0)
    throw InputError("pgvector: header field 'unused' is " + std::to_string(unused) +
                     ", expected 0; the value is not a pgvector vector (halfvec/sparsevec?)");
  if (wire.size() != wire_size(dim))
    throw InputError("pgvector: header says dimension " + std::to_string(dim) + " (" +
                     std::to_string(wire_size(dim)) + " bytes) but the value has " +
                     std::to_string(wire.size()) + " bytes");
  std::vector<float> v(dim);
  p += 4;
  for (size_t i = 0; i < dim; ++i, p += 4) {
    uint32_t bits =
        (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    v[i] = std::bit_cast<float>(bits);
  }
  return v;
}

std::string to_text(std::span<const float> v) {
  std::string out = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out.push_back(',');
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
    out.append(buf, ec == std::errc() ? end : buf);
  }
  out.push_back(']');
  return out;
}

}  // namespace ragperf::pgvector
