// batch/utf8_check.h defines the UTF-8 check BatchProcessor runs on every query before it is
// queued, so that one invalid text fails only its own future and never its batch.
//
//   if (auto at = invalid_utf8_offset(text)) throw InputError("... byte " + std::to_string(*at));
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace ragperf::batch {

/// Byte offset of the first byte that is not part of a well-formed UTF-8 sequence (overlong
/// forms, surrogates and code points above U+10FFFF are ill-formed), or nullopt when `text` is
/// valid UTF-8.
std::optional<size_t> invalid_utf8_offset(std::string_view text);

}  // namespace ragperf::batch
