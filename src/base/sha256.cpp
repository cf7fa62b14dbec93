// SHA-256 through OpenSSL's EVP interface (libssl-dev comes with libpq-dev on Debian).
#include "base/sha256.h"

#include <openssl/evp.h>

#include "ragperf/error.h"

namespace ragperf::base {
namespace {

std::string to_hex(const unsigned char* digest, unsigned int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (unsigned int i = 0; i < n; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const int ok = EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  RAGPERF_ASSERT(ok == 1 && n == 32);
  return to_hex(digest, n);
}

struct Sha256::Context {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Context>()) {
  RAGPERF_ASSERT(ctx_->md != nullptr);
  const int ok = EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  RAGPERF_ASSERT(ok == 1);
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view data) {
  const int ok = EVP_DigestUpdate(ctx_->md, data.data(), data.size());
  RAGPERF_ASSERT(ok == 1);
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const int ok = EVP_DigestFinal_ex(ctx_->md, digest, &n);
  RAGPERF_ASSERT(ok == 1 && n == 32);
  return to_hex(digest, n);
}

}  // namespace ragperf::base
