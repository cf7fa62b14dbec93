// base::sha256_hex and base::Sha256: the published test vectors, and pieces hash like the whole.
#include "base/sha256.h"

#include <gtest/gtest.h>

namespace ragperf::base {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, PiecesHashLikeTheWhole) {
  const std::string text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  Sha256 d;
  d.update(std::string_view(text).substr(0, 5));
  d.update("");
  d.update(std::string_view(text).substr(5));
  EXPECT_EQ(d.hex(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

}  // namespace
}  // namespace ragperf::base
