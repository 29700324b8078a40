// base/ip_prefix.h. Lives with the config tests (its only user so far) until
// base has a test binary of its own.
#include "base/ip_prefix.h"

#include <gtest/gtest.h>

#include <string>

namespace shoal::base {
namespace {

IpAddress A(const char* text) { return IpAddress::parse(text).value(); }
IpPrefix P(const char* text) { return IpPrefix::parse(text).value(); }

TEST(IpPrefixTest, ParsesPrefixesAndBareAddresses) {
  EXPECT_EQ(P("10.0.0.0/8").toString(), "10.0.0.0/8");
  EXPECT_EQ(P("10.0.0.0/8").length(), 8u);
  EXPECT_EQ(P("2001:db8::/32").toString(), "2001:db8::/32");
  EXPECT_EQ(P("::1/128").toString(), "::1/128");
  EXPECT_EQ(P("::/0").toString(), "::/0");
  EXPECT_EQ(P("0.0.0.0/0").toString(), "0.0.0.0/0");
  EXPECT_EQ(P("192.0.2.1").toString(), "192.0.2.1/32");
  EXPECT_EQ(P("2001:db8::1").toString(), "2001:db8::1/128");
  EXPECT_EQ(P("192.0.2.1").network(), A("192.0.2.1"));
}

TEST(IpPrefixTest, HostBitsAreCleared) {
  EXPECT_EQ(P("10.1.2.3/8").toString(), "10.0.0.0/8");
  EXPECT_EQ(P("192.0.2.255/25").toString(), "192.0.2.128/25");
  EXPECT_EQ(P("2001:db8:ffff::1/33").toString(), "2001:db8:8000::/33");
  EXPECT_EQ(P("10.1.2.3/8"), P("10.0.0.0/8"));
  EXPECT_EQ(IpPrefix(A("10.9.9.9"), 16).toString(), "10.9.0.0/16");
}

TEST(IpPrefixTest, RejectsMalformed) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1",
                          "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0/8", "host/8",
                          "10.0.0.0/0008", "::1/1280", " 10.0.0.0/8", "10.0.0.0/8x"}) {
    EXPECT_FALSE(IpPrefix::parse(bad).has_value()) << bad;
  }
}

TEST(IpPrefixTest, Contains) {
  const IpPrefix loopback = P("127.0.0.0/8");
  EXPECT_TRUE(loopback.contains(A("127.0.0.1")));
  EXPECT_TRUE(loopback.contains(A("127.255.255.255")));
  EXPECT_FALSE(loopback.contains(A("128.0.0.1")));
  EXPECT_FALSE(loopback.contains(A("::1")));
  EXPECT_TRUE(P("0.0.0.0/0").contains(A("203.0.113.9")));
  EXPECT_FALSE(P("0.0.0.0/0").contains(A("2001:db8::1")));
  EXPECT_TRUE(P("::/0").contains(A("2001:db8::1")));
  EXPECT_TRUE(P("2001:db8::/32").contains(A("2001:db8:ffff::1")));
  EXPECT_FALSE(P("2001:db8::/32").contains(A("2001:db9::1")));
  EXPECT_TRUE(P("::1").contains(A("::1")));
  EXPECT_FALSE(P("::1").contains(A("::2")));
  EXPECT_TRUE(P("192.0.2.128/25").contains(A("192.0.2.200")));
  EXPECT_FALSE(P("192.0.2.128/25").contains(A("192.0.2.127")));
}

// RFC 4291 section 2.5.5.2: ::ffff:a.b.c.d is the IPv4 host a.b.c.d.
TEST(IpPrefixTest, V4MappedAddressesMatchIpv4Prefixes) {
  EXPECT_TRUE(P("127.0.0.0/8").contains(A("::ffff:127.0.0.1")));
  EXPECT_FALSE(P("127.0.0.0/8").contains(A("::ffff:128.0.0.1")));
  EXPECT_TRUE(P("::ffff:0:0/96").contains(A("192.0.2.1")));
  EXPECT_TRUE(P("::ffff:127.0.0.0/104").contains(A("127.1.2.3")));
  EXPECT_FALSE(P("::ffff:127.0.0.0/104").contains(A("10.1.2.3")));
  // Only the mapped form, not IPv4-compatible (::a.b.c.d) or NAT64.
  EXPECT_FALSE(P("127.0.0.0/8").contains(A("::127.0.0.1")));
  EXPECT_FALSE(P("127.0.0.0/8").contains(A("64:ff9b::127.0.0.1")));
  // "::/0" means every IPv6 address, not IPv4 too.
  EXPECT_FALSE(P("::/0").contains(A("127.0.0.1")));
  EXPECT_FALSE(P("::/0").contains(A("0.0.0.0")));
}

TEST(SocketAddressTest, Parses) {
  auto s = SocketAddress::parse("127.0.0.1:53");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ip, A("127.0.0.1"));
  EXPECT_EQ(s->port, 53);
  s = SocketAddress::parse("[2001:db8::1]:8053");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ip, A("2001:db8::1"));
  EXPECT_EQ(s->port, 8053);
  EXPECT_EQ(SocketAddress::parse("0.0.0.0:0")->port, 0);
  EXPECT_EQ(SocketAddress::parse("[::]:65535")->port, 65535);
}

TEST(SocketAddressTest, DefaultPort) {
  EXPECT_FALSE(SocketAddress::parse("127.0.0.1"));
  EXPECT_FALSE(SocketAddress::parse("[::1]"));
  EXPECT_EQ(SocketAddress::parse("127.0.0.1", 53)->toString(), "127.0.0.1:53");
  EXPECT_EQ(SocketAddress::parse("[::1]", 53)->toString(), "[::1]:53");
  // Without brackets an IPv6 address has no port: "2001:db8::53" is all address.
  EXPECT_EQ(SocketAddress::parse("::1", 53)->toString(), "[::1]:53");
  EXPECT_EQ(SocketAddress::parse("2001:db8::53", 5353)->toString(), "[2001:db8::53]:5353");
  EXPECT_EQ(SocketAddress::parse("127.0.0.1:853", 53)->port, 853);
}

TEST(SocketAddressTest, RejectsMalformed) {
  for (const char* bad :
       {"", ":53", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+53",
        "127.0.0.1:5 3", "127.0.0.1:53x", "127.0.0.1:000053", "[127.0.0.1]:53", "[::1]53",
        "[::1", "::1]:53", "[::1]:", "[]:53", "localhost:53", "[::1]:53:53", "1.2.3:53"}) {
    EXPECT_FALSE(SocketAddress::parse(bad, 53).has_value()) << bad;
  }
}

TEST(SocketAddressTest, ToStringRoundTrips) {
  for (const char* text : {"192.0.2.1:53", "[2001:db8::53]:853", "[::]:0", "0.0.0.0:65535"}) {
    const auto s = SocketAddress::parse(text);
    ASSERT_TRUE(s) << text;
    EXPECT_EQ(s->toString(), text);
    EXPECT_EQ(SocketAddress::parse(s->toString()), s);
  }
}

}  // namespace
}  // namespace shoal::base
