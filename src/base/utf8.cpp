#include "base/utf8.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "ragperf/error.h"

namespace ragperf::base {

std::optional<size_t> invalid_utf8_offset(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path: eight bytes at a time while none has its high bit set.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s + i, sizeof word);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlong forms
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // no overlong forms
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::nullopt;
}

void throw_invalid_utf8(std::string_view text, size_t pos, size_t first_offset) {
  std::string bytes;
  for (size_t k = pos; k < text.size() && k < pos + 4; ++k) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%s0x%02X", bytes.empty() ? "" : " ",
                  static_cast<unsigned>(static_cast<unsigned char>(text[k])));
    bytes += hex;
  }
  throw InputError("invalid UTF-8 at byte " + std::to_string(first_offset + pos) + " (" + bytes +
                   "); the text must be UTF-8 encoded");
}

void check_utf8(std::string_view text, size_t first_offset) {
  if (auto at = invalid_utf8_offset(text)) throw_invalid_utf8(text, *at, first_offset);
}

}  // namespace ragperf::base
