// ragperf's one UTF-8 validator (tokenizer, cache key, BatchProcessor, server): well-formed text
// passes, and each ill-formed sequence is reported at its first byte.
#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>

#include "ragperf/error.h"

namespace ragperf::base {
namespace {

TEST(Utf8Check, AcceptsWellFormedText) {
  EXPECT_FALSE(invalid_utf8_offset("").has_value());
  EXPECT_FALSE(invalid_utf8_offset("plain ascii").has_value());
  EXPECT_FALSE(invalid_utf8_offset("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80").has_value());
  EXPECT_FALSE(invalid_utf8_offset("\xF4\x8F\xBF\xBF").has_value());  // U+10FFFF
}

TEST(Utf8Check, ReportsTheFirstBadByte) {
  EXPECT_EQ(invalid_utf8_offset("ab\xFF"), 2u);            // never valid
  EXPECT_EQ(invalid_utf8_offset("ab\xC3("), 2u);           // bad continuation
  EXPECT_EQ(invalid_utf8_offset("\xC3"), 0u);              // truncated
  EXPECT_EQ(invalid_utf8_offset("x\xC0\x80"), 1u);         // overlong NUL
  EXPECT_EQ(invalid_utf8_offset("\xE0\x80\xAF"), 0u);      // overlong
  EXPECT_EQ(invalid_utf8_offset("\xED\xA0\x80"), 0u);      // surrogate
  EXPECT_EQ(invalid_utf8_offset("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("ok \xE2\x82"), 3u);       // truncated at the end
  EXPECT_EQ(invalid_utf8_offset("\x80 lone continuation"), 0u);
}

TEST(Utf8Check, FindsTheOffsetPastLongAsciiRuns) {
  const std::string ascii(37, 'a');  // the eight-byte fast path, then a tail
  EXPECT_FALSE(invalid_utf8_offset(ascii).has_value());
  EXPECT_EQ(invalid_utf8_offset(ascii + "\xFF"), 37u);
  EXPECT_EQ(invalid_utf8_offset(ascii + "\xC3\xA9" + ascii + "\xE2\x82"), 37u + 2 + 37);
  EXPECT_EQ(invalid_utf8_offset(std::string(16, 'b') + "\xED\xA0\x80" + ascii), 16u);
}

TEST(Utf8Check, CheckThrowsInputErrorNamingTheByteOffset) {
  EXPECT_NO_THROW(check_utf8("caf\xC3\xA9"));
  try {
    check_utf8("caf\xC3(", 10);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("invalid UTF-8 at byte 13 (0xC3 0x28)"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace ragperf::base
