// Format detection, the text/binary check and read_document(): the entry point of every reader.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ragperf/error.h"
#include "ragperf/ingest.h"

namespace ragperf {

std::optional<DocumentFormat> format_for_path(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".txt" || ext == ".text") return DocumentFormat::kText;
  if (ext == ".md" || ext == ".markdown") return DocumentFormat::kMarkdown;
  if (ext == ".html" || ext == ".htm" || ext == ".xhtml") return DocumentFormat::kHtml;
  return std::nullopt;
}

std::optional<std::string> binary_content_reason(std::string_view s) {
  if (s.find('\0') != std::string_view::npos) {
    return "contains NUL bytes (binary file)";
  }
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return "invalid UTF-8 at byte " + std::to_string(i) +
             " (binary file, or text in another encoding: convert it with iconv)";
    }
    if (i + len > n) {
      return "invalid UTF-8 at byte " + std::to_string(i) + " (truncated sequence at the end)";
    }
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) {
        return "invalid UTF-8 at byte " + std::to_string(i) +
               " (binary file, or text in another encoding: convert it with iconv)";
      }
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (overlong || surrogate || cp > 0x10FFFF) {
      return "invalid UTF-8 at byte " + std::to_string(i) +
             " (overlong, surrogate or out of range)";
    }
    i += len;
  }
  return std::nullopt;
}

Document read_document(const std::filesystem::path& path) {
  auto format = format_for_path(path);
  if (!format) {
    throw InputError("cannot ingest '" + path.string() + "': unsupported file type '" +
                     path.extension().string() + "' (supported: .txt, .md, .html)");
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw InputError("cannot ingest '" + path.string() + "': it is a folder, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError("cannot read '" + path.string() + "': " + std::strerror(errno) +
                     " (check that it exists and is readable)");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    throw InputError("cannot read '" + path.string() + "': read error");
  }
  return parse_document(std::move(ss).str(), path, *format);
}

Document parse_document(std::string_view content, const std::filesystem::path& path,
                        DocumentFormat format) {
  switch (format) {
    case DocumentFormat::kText:
      return read_text(content, path);
    case DocumentFormat::kMarkdown:
      return read_markdown(content, path);
    case DocumentFormat::kHtml:
      return read_html(content, path);
  }
  RAGPERF_ASSERT(false);
  return {};
}

}  // namespace ragperf
