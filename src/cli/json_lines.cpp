#include "json_lines.h"

#include <cstdio>

#include "base/utf8.h"
#include "ragperf/error.h"

namespace ragperf::cli {

namespace {

[[noreturn]] void fail(size_t number, std::string what) {
  for (char& c : what) {  // one line: the parser's message may quote control characters
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  throw InputError("stdin line " + std::to_string(number) + ": " + what);
}

}  // namespace

bool blank_line(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

nlohmann::json parse_json_line(std::string_view line, size_t number, std::string_view expected) {
  if (auto at = base::invalid_utf8_offset(line)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X",
                  static_cast<unsigned>(static_cast<unsigned char>(line[*at])));
    fail(number, "invalid UTF-8 at byte " + std::to_string(*at) + " (" + hex +
                     "); input must be UTF-8 encoded");
  }
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail(number, "not valid JSON; expected " + std::string(expected));
  if (!j.is_object()) {
    fail(number, "expected a JSON object " + std::string(expected) + ", got " + j.type_name());
  }
  return j;
}

std::vector<JsonLine> read_json_lines(std::istream& in, std::string_view expected) {
  std::vector<JsonLine> lines;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (blank_line(line)) continue;
    lines.push_back(JsonLine{number, parse_json_line(line, number, expected)});
  }
  if (in.bad()) fail(number + 1, "read error on stdin");
  return lines;
}

std::string string_field(const JsonLine& line, std::string_view key, std::string_view expected) {
  const auto it = line.value.find(key);
  if (it == line.value.end()) {
    fail(line.number, "missing \"" + std::string(key) + "\"; expected " + std::string(expected));
  }
  if (!it->is_string()) {
    fail(line.number, "\"" + std::string(key) + "\" is " + it->type_name() + ", not a string");
  }
  return it->get<std::string>();
}

}  // namespace ragperf::cli
