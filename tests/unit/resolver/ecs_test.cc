// EDNS Client Subnet policy (resolver/ecs.h): the RFC 6890 table, what is
// sent for a client (trusted front ends, narrowing, special-purpose
// addresses), the allow-list, reply matching and scope handling.

#include "resolver/ecs.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/resolver/ecs_test_util.h"

namespace shoal::resolver {
namespace {

using testing_util::Subnet;

base::IpAddress Ip(const char* text) {
  auto a = base::IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a ? *a : base::IpAddress();
}

dns::Name N(const char* text) { return *dns::Name::fromText(text); }

std::string Text(const ClientEcs& e) {
  if (!e.send) return "none";
  const auto address = e.subnet.family == 1 ? base::IpAddress::v4(e.subnet.address.data())
                                            : base::IpAddress::v6(e.subnet.address.data());
  return address.toString() + "/" + std::to_string(e.subnet.source_prefix);
}

EcsPolicy On() {
  EcsPolicy p;
  p.enabled = true;
  return p;
}

TEST(EcsSpecialPurpose, Ipv4Registry) {
  for (const char* a : {"0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254",
                        "127.0.0.1", "169.254.1.1", "172.16.0.1", "172.31.255.255", "192.0.0.9",
                        "192.0.2.1", "192.31.196.1", "192.52.193.1", "192.88.99.1", "192.168.1.1",
                        "192.175.48.1", "198.18.0.1", "198.19.255.255", "198.51.100.7",
                        "203.0.113.9", "224.0.0.1", "239.255.255.255", "240.0.0.1",
                        "255.255.255.255"}) {
    EXPECT_TRUE(isSpecialPurpose(Ip(a))) << a;
  }
  for (const char* a : {"1.1.1.1", "9.255.255.255", "11.0.0.1", "100.63.255.255", "100.128.0.0",
                        "126.255.255.255", "128.0.0.1", "169.253.255.255", "172.15.255.255",
                        "172.32.0.0", "192.0.1.1", "192.0.3.1", "192.167.255.255", "192.169.0.0",
                        "198.17.255.255", "198.20.0.0", "198.51.101.1", "203.0.112.255",
                        "223.255.255.255", "8.8.8.8"}) {
    EXPECT_FALSE(isSpecialPurpose(Ip(a))) << a;
  }
}

TEST(EcsSpecialPurpose, Ipv6Registry) {
  for (const char* a : {"::", "::1", "::ffff:10.1.2.3", "::ffff:127.0.0.1", "64:ff9b::1.2.3.4",
                        "64:ff9b:1::1", "100::1", "2001::1", "2001:1ff::1", "2001:db8::1",
                        "2002:c000:0204::1", "2620:4f:8000::1", "3fff::1", "3fff:fff::1",
                        "5f00::1", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1",
                        "ff02::1"}) {
    EXPECT_TRUE(isSpecialPurpose(Ip(a))) << a;
  }
  for (const char* a : {"::2", "::ffff:8.8.8.8", "64:ff9a::1", "2001:200::1", "2001:db9::1",
                        "2003::1", "2620:4f:8001::1", "2a01:1::1", "4000::1", "5f01::1",
                        "fbff::1", "fe00::1"}) {
    EXPECT_FALSE(isSpecialPurpose(Ip(a))) << a;
  }
}

TEST(EcsClient, OffSendsAndEchoesNothing) {
  EcsPolicy p;
  const auto option = Subnet("11.1.2.0", 24);
  const auto e = clientEcs(p, Ip("11.1.2.3"), &option);
  EXPECT_FALSE(e.send);
  EXPECT_FALSE(e.echo);
  EXPECT_EQ(e.lookupAddress(), nullptr);
}

TEST(EcsClient, SourceAddressCutToTheConfiguredPrefix) {
  const EcsPolicy p = On();
  EXPECT_EQ(Text(clientEcs(p, Ip("11.1.2.3"), nullptr)), "11.1.2.0/24");
  EXPECT_EQ(Text(clientEcs(p, Ip("2a01:1:2:3456::9"), nullptr)), "2a01:1:2:3400::/56");
  EcsPolicy narrow = On();
  narrow.ipv4_source = 20;
  narrow.ipv6_source = 48;
  EXPECT_EQ(Text(clientEcs(narrow, Ip("11.1.255.3"), nullptr)), "11.1.240.0/20");
  EXPECT_EQ(Text(clientEcs(narrow, Ip("2a01:1:2:3456::9"), nullptr)), "2a01:1:2::/48");
  // A dual-stack socket's IPv4-mapped address is the IPv4 client.
  EXPECT_EQ(Text(clientEcs(p, Ip("::ffff:11.1.2.3"), nullptr)), "11.1.2.0/24");
  const auto e = clientEcs(p, Ip("11.1.2.3"), nullptr);
  ASSERT_NE(e.lookupAddress(), nullptr);
  EXPECT_EQ(e.lookupAddress()->toString(), "11.1.2.0");
  EXPECT_FALSE(e.echo);
}

TEST(EcsClient, TrustedFrontEndSpeaksForTheClient) {
  EcsPolicy p = On();
  p.trusted = {*base::IpPrefix::parse("127.0.0.1"), *base::IpPrefix::parse("2001:db8::/32")};
  const auto option = Subnet("11.2.3.0", 24);
  const auto e = clientEcs(p, Ip("127.0.0.1"), &option);
  EXPECT_EQ(Text(e), "11.2.3.0/24");
  EXPECT_TRUE(e.echo);
  EXPECT_EQ(e.echoed.source_prefix, 24);
  // Longer than our limit: cut to it.
  const auto long_option = Subnet("11.2.3.4", 32);
  EXPECT_EQ(Text(clientEcs(p, Ip("127.0.0.1"), &long_option)), "11.2.3.0/24");
  // Another family than the front end's own.
  const auto v6 = Subnet("2a01:1:2:3456::", 64);
  EXPECT_EQ(Text(clientEcs(p, Ip("2001:db8::53"), &v6)), "2a01:1:2:3400::/56");
  // A front end passing a private client: nothing sent.
  const auto private_option = Subnet("10.1.2.0", 24);
  EXPECT_EQ(Text(clientEcs(p, Ip("127.0.0.1"), &private_option)), "none");
  // Source /0 from the front end: its client wants nothing sent.
  const auto zero = Subnet("0.0.0.0", 0);
  EXPECT_EQ(Text(clientEcs(p, Ip("127.0.0.1"), &zero)), "none");
  // Without an option, a front end is a client like any other (loopback:
  // special-purpose, nothing sent).
  EXPECT_EQ(Text(clientEcs(p, Ip("127.0.0.1"), nullptr)), "none");
}

TEST(EcsClient, UntrustedClientsMayOnlyNarrow) {
  const EcsPolicy p = On();
  // Another address: ignored, the client's own subnet is sent.
  const auto elsewhere = Subnet("8.8.8.0", 24);
  EXPECT_EQ(Text(clientEcs(p, Ip("11.1.2.3"), &elsewhere)), "11.1.2.0/24");
  // Wider than ours... is narrowed: a /32 asks for more than /24.
  const auto wide = Subnet("11.1.2.3", 32);
  EXPECT_EQ(Text(clientEcs(p, Ip("11.1.2.3"), &wide)), "11.1.2.0/24");
  // A shorter prefix is honoured.
  const auto shorter = Subnet("11.1.0.0", 16);
  EXPECT_EQ(Text(clientEcs(p, Ip("11.1.2.3"), &shorter)), "11.1.0.0/16");
  // Source /0: nothing sent, the option echoed.
  const auto zero = Subnet("0.0.0.0", 0);
  const auto e = clientEcs(p, Ip("11.1.2.3"), &zero);
  EXPECT_EQ(Text(e), "none");
  EXPECT_TRUE(e.echo);
  // A private client claiming a public subnet: still nothing.
  const auto claim = Subnet("11.9.9.0", 24);
  EXPECT_EQ(Text(clientEcs(p, Ip("192.168.1.5"), &claim)), "none");
}

TEST(EcsClient, SpecialPurposeClientsGetTheSubstituteOrNothing) {
  EcsPolicy p = On();
  for (const char* a : {"10.1.2.3", "100.64.1.1", "127.0.0.1", "fd00::1", "fe80::1"}) {
    EXPECT_EQ(Text(clientEcs(p, Ip(a), nullptr)), "none") << a;
  }
  p.special_substitute = *base::IpPrefix::parse("0.0.0.0/0");
  auto e = clientEcs(p, Ip("10.1.2.3"), nullptr);
  EXPECT_TRUE(e.send);
  EXPECT_EQ(e.subnet.family, 1);
  EXPECT_EQ(e.subnet.source_prefix, 0);
  EXPECT_EQ(e.subnet.bodyLength(), 4u);
  p.special_substitute = *base::IpPrefix::parse("11.200.1.0/24");
  EXPECT_EQ(Text(clientEcs(p, Ip("192.168.1.1"), nullptr)), "11.200.1.0/24");
  // A client that asks for less gets less of the substitute too.
  const auto shorter = Subnet("11.9.0.0", 16);
  EXPECT_EQ(Text(clientEcs(p, Ip("192.168.1.1"), &shorter)), "11.200.0.0/16");
}

TEST(EcsAllowList, ZonesAndServers) {
  EcsPolicy p = On();
  p.zones = {N("geo.com"), N("cdn.example")};
  p.servers = {*base::IpPrefix::parse("192.0.2.53"), *base::IpPrefix::parse("2001:db8:53::/48")};
  EXPECT_TRUE(ecsAllowed(p, N("geo.com"), Ip("1.2.3.4")));
  EXPECT_TRUE(ecsAllowed(p, N("sub.geo.com"), Ip("1.2.3.4")));
  EXPECT_FALSE(ecsAllowed(p, N("com"), Ip("1.2.3.4")));
  EXPECT_FALSE(ecsAllowed(p, N("ageo.com"), Ip("1.2.3.4")));
  EXPECT_TRUE(ecsAllowed(p, N("example.org"), Ip("192.0.2.53")));
  EXPECT_TRUE(ecsAllowed(p, N("example.org"), Ip("2001:db8:53::1")));
  EXPECT_FALSE(ecsAllowed(p, N("example.org"), Ip("192.0.2.54")));
  p.enabled = false;
  EXPECT_FALSE(ecsAllowed(p, N("geo.com"), Ip("192.0.2.53")));
  // Empty by default (RFC 7871 section 12.1): nobody.
  EXPECT_FALSE(ecsAllowed(On(), N("geo.com"), Ip("192.0.2.53")));
}

TEST(EcsReply, MustEchoWhatWasSent) {
  const auto sent = Subnet("11.1.2.0", 24);
  EXPECT_TRUE(ecsReplyMatches(sent, Subnet("11.1.2.0", 24, 16)));
  EXPECT_FALSE(ecsReplyMatches(sent, Subnet("11.1.3.0", 24, 16)));
  EXPECT_FALSE(ecsReplyMatches(sent, Subnet("11.1.0.0", 16, 16)));
  EXPECT_FALSE(ecsReplyMatches(sent, Subnet("2a01::", 24, 16)));
}

TEST(EcsScope, PartitionOfTheAnswer) {
  const auto sent = Subnet("11.1.2.0", 24);
  EXPECT_EQ(partitionFor(sent, 0), shmcache::Partition::global());
  const auto p16 = partitionFor(sent, 16);
  EXPECT_EQ(p16, shmcache::Partition::of(Ip("11.1.0.0"), 16));
  EXPECT_TRUE(p16.covers(Ip("11.1.200.1")));
  EXPECT_FALSE(p16.covers(Ip("11.2.0.1")));
  // A scope longer than the source: cut to the source (RFC 7871 7.3.1).
  EXPECT_EQ(partitionFor(sent, 28), shmcache::Partition::of(Ip("11.1.2.0"), 24));
  const auto v6 = Subnet("2a01:1:2:3400::", 56);
  EXPECT_EQ(partitionFor(v6, 48), shmcache::Partition::of(Ip("2a01:1:2::"), 48));
  EXPECT_EQ(partitionFor(v6, 64), shmcache::Partition::of(Ip("2a01:1:2:3400::"), 56));
}

}  // namespace
}  // namespace shoal::resolver
