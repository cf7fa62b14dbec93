// base/utf8.h defines ragperf's one UTF-8 validator. Every component that takes text from a user
// (embed's tokenizer, the cache's exact-tier key, BatchProcessor, the HTTP server) checks it here,
// so "valid UTF-8" means the same thing everywhere and every error names the same byte offset.
//
//   if (auto at = base::invalid_utf8_offset(text)) {
//     throw InputError("query text is not valid UTF-8 (byte " + std::to_string(*at) + ")");
//   }
//   base::check_utf8(text);  // or: throws InputError "invalid UTF-8 at byte N (0xC3 0x28); ..."
//
// Well-formed means RFC 3629 / Unicode's Table 3-7: overlong forms, surrogates (U+D800..U+DFFF)
// and code points above U+10FFFF are ill-formed. Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace ragperf::base {

/// Byte offset of the first byte that is not part of a well-formed UTF-8 sequence, or nullopt
/// when `text` is valid UTF-8. ASCII runs are skipped eight bytes at a time.
std::optional<size_t> invalid_utf8_offset(std::string_view text);

/// Throws InputError "invalid UTF-8 at byte <first_offset + pos> (<up to 4 bytes in hex>); the
/// text must be UTF-8 encoded" for the ill-formed sequence at text[pos]. `first_offset` is the
/// offset of text[0] in the caller's whole text (for a text checked piecewise).
[[noreturn]] void throw_invalid_utf8(std::string_view text, size_t pos, size_t first_offset = 0);

/// Throws (as throw_invalid_utf8) at the first ill-formed sequence in `text`; returns when
/// `text` is valid UTF-8.
void check_utf8(std::string_view text, size_t first_offset = 0);

}  // namespace ragperf::base
