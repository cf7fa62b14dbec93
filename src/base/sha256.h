// base/sha256.h: SHA-256 (OpenSSL's libcrypto) as lower-case hex, of bytes in memory at once
// (ingest's content hashes) or fed in pieces (a model file as it downloads).
//
//   std::string h = base::sha256_hex(bytes);  // 64 hex digits
//   base::Sha256 d;
//   d.update(piece1);
//   d.update(piece2);
//   std::string same = d.hex();  // of piece1 + piece2
//
// Thread-safety: sha256_hex is a pure function; a Sha256 is used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace ragperf::base {

/// SHA-256 of `data`: 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

/// SHA-256 of data fed in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  /// The digest of everything fed so far (64 lower-case hex digits); call once, at the end.
  std::string hex();

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

}  // namespace ragperf::base
