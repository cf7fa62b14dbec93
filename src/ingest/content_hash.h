// ingest/content_hash.h: SHA-256 of file contents (OpenSSL's libcrypto), as lower-case hex.
#pragma once

#include <string>
#include <string_view>

namespace ragperf::ingest {

/// SHA-256 of `data`: 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace ragperf::ingest
