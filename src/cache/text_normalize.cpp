// normalize_query_text: the exact tier's key (NFKC, case folded, whitespace collapsed).
#include <utf8proc.h>

#include <cstdlib>
#include <string>

#include "base/utf8.h"
#include "ragperf/error.h"
#include "ragperf/semantic_cache.h"

namespace ragperf {

namespace {

bool is_space(utf8proc_int32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d)) return true;
  const auto cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

}  // namespace

std::string normalize_query_text(std::string_view text) {
  utf8proc_uint8_t* mapped = nullptr;
  const auto options = static_cast<utf8proc_option_t>(
      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE |
      UTF8PROC_LUMP | UTF8PROC_STRIPCC);
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped, options);
  if (n < 0) {
    // utf8proc_map validates as it maps (every cache lookup comes here): the byte offset is
    // looked for only on failure, with the one validator, so the error names it as elsewhere.
    if (auto at = base::invalid_utf8_offset(text)) {
      throw InputError("query text is not valid UTF-8 (byte " + std::to_string(*at) +
                       "); send UTF-8 text");
    }
    throw InputError("query text cannot be normalised (" + std::string(utf8proc_errmsg(n)) +
                     "); send shorter UTF-8 text");
  }
  std::string out;
  out.reserve(static_cast<size_t>(n));
  bool pending_space = false;
  const utf8proc_uint8_t* p = mapped;
  utf8proc_ssize_t left = n;
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t len = utf8proc_iterate(p, left, &cp);
    if (len <= 0) break;  // utf8proc_map produced valid UTF-8; not reached
    if (is_space(cp)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    }
    p += len;
    left -= len;
  }
  std::free(mapped);
  return out;
}

size_t count_negations(std::string_view text) {
  static constexpr std::string_view kWords[] = {
      "not",    "no",      "never", "none",    "nothing",  "nobody", "neither", "nor",   "without",
      "cannot", "nowhere", "dont",  "doesnt",  "didnt",    "isnt",   "arent",   "wasnt", "werent",
      "cant",   "couldnt", "wont",  "wouldnt", "shouldnt", "hasnt",  "havent",  "hadnt", "aint"};
  size_t n = 0;
  size_t i = 0;
  while (i < text.size()) {
    // Words are runs of letters, digits and apostrophes (ASCII is enough for the cue words).
    auto is_word = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'';
    };
    while (i < text.size() && !is_word(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && is_word(text[i])) ++i;
    const std::string_view word = text.substr(start, i - start);
    if (word.empty()) continue;
    if (word.size() > 3 && word.substr(word.size() - 3) == "n't") {
      ++n;
      continue;
    }
    for (std::string_view cue : kWords) {
      if (word == cue) {
        ++n;
        break;
      }
    }
  }
  return n;
}

}  // namespace ragperf
