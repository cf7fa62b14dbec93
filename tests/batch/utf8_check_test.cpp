// The UTF-8 check run on every query before it is queued: well-formed text passes, and each
// ill-formed sequence is reported at its first byte.
#include "batch/utf8_check.h"

#include <gtest/gtest.h>

namespace ragperf::batch {
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

}  // namespace
}  // namespace ragperf::batch
