// base/printable.h makes text from outside (file names, titles, stored chunk text) safe to print
// on a terminal: control characters, which could move the cursor, recolour or retitle the
// terminal (ESC sequences in a file name), are written as visible escapes instead.
//
//   std::cerr << "skipped " << base::printable(path.string()) << "\n";
//
// C0 controls (U+0000..U+001F), DEL and C1 controls (U+0080..U+009F) become "\xNN" (the code
// point); bytes that are not valid UTF-8 become "\xNN" (the byte). Everything else is unchanged.
// printable_json() does the same for JSON text a program wrote (nlohmann::json::dump, which
// escapes only U+0000..U+001F): DEL and the C1 controls become \u007f, \u0080..\u009f, which a
// JSON reader decodes to the same characters, so the data is unchanged.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace ragperf::base {

std::string printable(std::string_view text);

/// `json`: a JSON document in valid UTF-8 (controls inside strings may be raw only from DEL up).
std::string printable_json(std::string_view json);

}  // namespace ragperf::base
