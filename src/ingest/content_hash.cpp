// SHA-256 through OpenSSL's EVP interface (libssl-dev comes with libpq-dev on Debian).
#include "content_hash.h"

#include <openssl/evp.h>

#include "ragperf/error.h"

namespace ragperf::ingest {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  int ok = EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  RAGPERF_ASSERT(ok == 1 && n == 32);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (unsigned int i = 0; i < n; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace ragperf::ingest
