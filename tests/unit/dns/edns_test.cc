#include "dns/edns.h"

#include <gtest/gtest.h>

#include "dns/constants.h"
#include "tests/unit/dns/test_util.h"

namespace shoal::dns {
namespace {

using testing_util::bytes;

TEST(EdnsTest, ClientSubnetV4) {
  // family 1, source 24, scope 0, 192.0.2
  auto body = bytes({0, 1, 24, 0, 192, 0, 2});
  auto ecs = parseClientSubnet(body);
  ASSERT_TRUE(ecs.ok());
  EXPECT_EQ(ecs->family, 1);
  EXPECT_EQ(ecs->source_prefix, 24);
  EXPECT_EQ(ecs->scope_prefix, 0);
  EXPECT_EQ(ecs->address[0], 192);
  EXPECT_EQ(ecs->address[2], 2);
  EXPECT_EQ(ecs->address[3], 0);
  EXPECT_EQ(ecs->bodyLength(), 7u);
}

TEST(EdnsTest, ClientSubnetV6AndZeroPrefix) {
  auto body = bytes({0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0});
  auto ecs = parseClientSubnet(body);
  ASSERT_TRUE(ecs.ok());
  EXPECT_EQ(ecs->family, 2);
  EXPECT_EQ(ecs->source_prefix, 56);
  auto zero = bytes({0, 1, 0, 0});
  EXPECT_TRUE(parseClientSubnet(zero).ok());
}

TEST(EdnsTest, ClientSubnetRejectsInvalid) {
  // RFC 7871 section 7.1.2: wrong family, prefix too long, wrong address
  // length, bits set beyond the prefix.
  EXPECT_FALSE(parseClientSubnet(bytes({0, 3, 8, 0, 1})).ok());
  EXPECT_FALSE(parseClientSubnet(bytes({0, 1, 33, 0, 1, 2, 3, 4, 5})).ok());
  EXPECT_FALSE(parseClientSubnet(bytes({0, 1, 24, 0, 192, 0})).ok());
  EXPECT_FALSE(parseClientSubnet(bytes({0, 1, 24, 0, 192, 0, 2, 1})).ok());
  EXPECT_FALSE(parseClientSubnet(bytes({0, 1, 23, 0, 192, 0, 3})).ok());
  EXPECT_FALSE(parseClientSubnet(bytes({0, 1, 24, 33, 192, 0, 2})).ok());
  EXPECT_FALSE(parseClientSubnet(bytes({0, 1})).ok());
}

TEST(EdnsTest, Cookie) {
  auto client_only = parseCookie(bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_TRUE(client_only.ok());
  EXPECT_EQ(client_only->server_length, 0);
  EXPECT_EQ(client_only->client[7], 8);
  std::vector<uint8_t> full(24, 0xAB);
  auto with_server = parseCookie(full);
  ASSERT_TRUE(with_server.ok());
  EXPECT_EQ(with_server->server_length, 16);
  EXPECT_FALSE(parseCookie(bytes({1, 2, 3})).ok());
  EXPECT_FALSE(parseCookie(std::vector<uint8_t>(12, 1)).ok());  // server part of 4
  EXPECT_FALSE(parseCookie(std::vector<uint8_t>(41, 1)).ok());
}

TEST(EdnsTest, ExtendedErrorAndKeepalive) {
  const auto body = bytes({0, 22, 'n', 'o', 'n', 'e'});  // text refers into it
  auto ede = parseExtendedError(body);
  ASSERT_TRUE(ede.ok());
  EXPECT_EQ(ede->info_code, ede::kNoReachableAuthority);
  EXPECT_EQ(ede->text, "none");
  EXPECT_FALSE(parseExtendedError(bytes({1})).ok());
  EXPECT_FALSE(parseTcpKeepalive(bytes({})).value().timeout.has_value());
  EXPECT_EQ(*parseTcpKeepalive(bytes({1, 0})).value().timeout, 256);
  EXPECT_FALSE(parseTcpKeepalive(bytes({1})).ok());
}

TEST(EdnsTest, BuilderRoundTrip) {
  EdnsOptionsBuilder b;
  ClientSubnet ecs;
  ecs.family = 1;
  ecs.source_prefix = 20;
  ecs.address = {10, 1, 0xFF, 0};  // trailing bits get masked on write
  ASSERT_TRUE(b.addClientSubnet(ecs).ok());
  Cookie cookie;
  cookie.client = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(b.addCookie(cookie).ok());
  ASSERT_TRUE(b.addExtendedError(ede::kDnssecBogus, "bad sig").ok());
  ASSERT_TRUE(b.addTcpKeepalive(300).ok());
  ASSERT_TRUE(validateOptions(b.bytes()).ok());

  OptView opt;
  opt.options = b.bytes();
  int seen = 0;
  for (EdnsOption o : options(opt)) {
    ++seen;
    if (o.code == ednsopt::kClientSubnet) {
      auto back = parseClientSubnet(o.data);
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(back->source_prefix, 20);
      EXPECT_EQ(back->address[2], 0xF0);
    } else if (o.code == ednsopt::kCookie) {
      EXPECT_EQ(parseCookie(o.data)->client[0], 1);
    } else if (o.code == ednsopt::kExtendedError) {
      EXPECT_EQ(parseExtendedError(o.data)->text, "bad sig");
    } else if (o.code == ednsopt::kTcpKeepalive) {
      EXPECT_EQ(*parseTcpKeepalive(o.data)->timeout, 300);
    }
  }
  EXPECT_EQ(seen, 4);
  EXPECT_TRUE(findOption(opt, ednsopt::kCookie).has_value());
  EXPECT_FALSE(findOption(opt, ednsopt::kPadding).has_value());
}

TEST(EdnsTest, BuilderRefusesOverflow) {
  EdnsOptionsBuilder b;
  std::vector<uint8_t> big(EdnsOptionsBuilder::kCapacity - 4, 0);
  ASSERT_TRUE(b.addRaw(65001, big).ok());
  EXPECT_EQ(b.addTcpKeepalive(std::nullopt).error(), WireError::kNoSpace);
  EXPECT_EQ(b.bytes().size(), EdnsOptionsBuilder::kCapacity);
}

TEST(EdnsTest, ValidateOptionsFraming) {
  EXPECT_TRUE(validateOptions(bytes({})).ok());
  EXPECT_FALSE(validateOptions(bytes({0, 8, 0})).ok());
  EXPECT_FALSE(validateOptions(bytes({0, 8, 0, 5, 1, 2})).ok());
  EXPECT_TRUE(validateOptions(bytes({0, 12, 0, 0})).ok());
}

}  // namespace
}  // namespace shoal::dns
