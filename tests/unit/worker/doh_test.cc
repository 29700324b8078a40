// worker/doh.h: the base64url decoder of GET requests (RFC 8484 section
// 4.1, RFC 4648 section 5). The HTTP/2 session itself is tested with real
// clients (tests/integration/doh_test.py: kdig, curl) and fuzzed
// (tests/fuzz/doh_fuzzer.cc).

#include "worker/doh.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal::worker {
namespace {

TEST(DohTest, DecodesTheRfc8484Example) {
  // RFC 8484 section 4.1.1: www.example.com A, ID 0.
  const auto decoded = decodeBase64Url("AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB");
  ASSERT_TRUE(decoded.ok);
  const std::vector<uint8_t> expected = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w',
                                         7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm',
                                         0, 0, 1, 0, 1};
  EXPECT_EQ(decoded.bytes, expected);
}

TEST(DohTest, Base64UrlAlphabetPaddingAndErrors) {
  EXPECT_EQ(decodeBase64Url("-_8").bytes, (std::vector<uint8_t>{0xfb, 0xff}));
  EXPECT_EQ(decodeBase64Url("-_8=").bytes, (std::vector<uint8_t>{0xfb, 0xff}));  // padding tolerated
  EXPECT_TRUE(decodeBase64Url("").ok);
  EXPECT_FALSE(decodeBase64Url("+/8").ok);    // base64, not base64url
  EXPECT_FALSE(decodeBase64Url("AAAAA").ok);  // a length no encoding has
  EXPECT_FALSE(decodeBase64Url("AA%3D").ok);  // percent-encoding is not decoded
}

}  // namespace
}  // namespace shoal::worker
