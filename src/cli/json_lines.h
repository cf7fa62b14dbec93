// cli/json_lines.h is the one reader of JSON-lines input for the commands that take it on stdin
// (embed, tokenize, rerank, query): each non-blank line must be a JSON object in UTF-8, and every
// error names the line ("stdin line 3: ...") and the shape expected.
//
//   for (const JsonLine& l : read_json_lines(std::cin, R"({"text": "..."})"))
//     texts.push_back(string_field(l, "text", R"({"text": "..."})"));
#pragma once

#include <cstddef>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ragperf::cli {

struct JsonLine {
  size_t number = 0;  // 1-based line number on stdin
  nlohmann::json value;
};

/// True for a line of spaces, tabs and a trailing CR only (skipped by the readers).
bool blank_line(std::string_view line);

/// One line (1-based `number`) as a JSON object. InputError "stdin line N: ...; expected
/// <expected>" for invalid UTF-8 (naming the byte), invalid JSON or another JSON type.
nlohmann::json parse_json_line(std::string_view line, size_t number, std::string_view expected);

/// Every non-blank line of `in`, parsed by parse_json_line(); InputError on a read error.
std::vector<JsonLine> read_json_lines(std::istream& in, std::string_view expected);

/// The string field `key` of a parsed line; InputError naming the line and the field when it is
/// missing or not a string.
std::string string_field(const JsonLine& line, std::string_view key, std::string_view expected);

}  // namespace ragperf::cli
