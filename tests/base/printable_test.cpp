// base::printable: control characters and invalid bytes become visible escapes; text, UTF-8
// included, is unchanged.
#include "base/printable.h"

#include <gtest/gtest.h>

namespace ragperf::base {
namespace {

TEST(Printable, EscapesControlCharactersAndKeepsText) {
  EXPECT_EQ(printable("plain file.md"), "plain file.md");
  EXPECT_EQ(printable("caf\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x99\x82"),
            "caf\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x99\x82");
  EXPECT_EQ(printable("evil\x1b[31mred\x1b]0;title\x07.txt"),
            "evil\\x1B[31mred\\x1B]0;title\\x07.txt");
  EXPECT_EQ(printable(std::string("a\0b\nc\td\x7F", 8)), "a\\x00b\\x0Ac\\x09d\\x7F");
  EXPECT_EQ(printable("\xC2\x9B"
                      "31m"),
            "\\x9B31m");                         // C1 CSI
  EXPECT_EQ(printable("\xC2\xA0"), "\xC2\xA0");  // U+00A0 is not a control
  EXPECT_EQ(printable("bad \xFF\xC3(\xED\xA0\x80"), "bad \\xFF\\xC3(\\xED\\xA0\\x80");
  EXPECT_EQ(printable(""), "");
}

// JSON keeps its meaning: DEL and C1 controls, which nlohmann::json writes raw, become \u
// escapes that decode to the same characters; the rest is unchanged.
TEST(PrintableJson, EscapesDelAndC1AndKeepsTheRest) {
  EXPECT_EQ(printable_json(R"({"a":"x\u001b[31m"})"), R"({"a":"x\u001b[31m"})");
  EXPECT_EQ(printable_json("{\"a\":\"\x7F\xC2\x9B"
                           "31m\xC2\xA0\xC3\xA9\"}"),
            "{\"a\":\"\\u007f\\u009b31m\xC2\xA0\xC3\xA9\"}");
  EXPECT_EQ(printable_json(""), "");
}

}  // namespace
}  // namespace ragperf::base
