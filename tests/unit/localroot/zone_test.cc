#include "localroot/zone.h"

#include <gtest/gtest.h>

#include "dns/constants.h"
#include "localroot/serial.h"
#include "tests/unit/localroot/test_root.h"

namespace shoal::localroot {
namespace {

using testing_util::recordsOf;

TEST(SerialTest, Rfc1982Arithmetic) {
  EXPECT_TRUE(serialNewer(2, 1));
  EXPECT_FALSE(serialNewer(1, 2));
  EXPECT_FALSE(serialNewer(7, 7));
  // Wrapping: 5 is ahead of 0xfffffff0 by 21.
  EXPECT_TRUE(serialNewer(5, 0xfffffff0u));
  EXPECT_FALSE(serialNewer(0xfffffff0u, 5));
  // Ahead by 2^31 - 1: newer; by exactly 2^31: undefined, never newer.
  EXPECT_TRUE(serialNewer(0x7fffffffu, 0));
  EXPECT_FALSE(serialNewer(0x80000000u, 0));
  EXPECT_FALSE(serialNewer(0, 0x80000000u));
  EXPECT_TRUE(serialNewer(2024052201, 2024052200));
}

TEST(ZoneTest, ParseSoa) {
  const auto records = recordsOf(
      ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2024052200 1800 900 604800 "
      "86400\n");
  ASSERT_EQ(records.size(), 1u);
  const auto soa = parseSoa(records[0].rdata);
  ASSERT_TRUE(soa);
  EXPECT_EQ(soa->serial, 2024052200u);
  EXPECT_EQ(soa->refresh, 1800u);
  EXPECT_EQ(soa->retry, 900u);
  EXPECT_EQ(soa->expire, 604800u);
  EXPECT_EQ(soa->minimum, 86400u);
  auto short_rdata = records[0].rdata;
  short_rdata.pop_back();
  EXPECT_FALSE(parseSoa(short_rdata));
  auto long_rdata = records[0].rdata;
  long_rdata.push_back(0);
  EXPECT_FALSE(parseSoa(long_rdata));
  EXPECT_FALSE(parseSoa({}));
  const std::vector<uint8_t> bad_name{0x3f, 'a'};  // a label running off the end
  EXPECT_FALSE(parseSoa(bad_name));
}

TEST(ZoneTest, GroupRrsets) {
  auto records = recordsOf(
      "com. 172800 IN NS a.gtld-servers.net.\n"
      "COM. 100 IN NS b.gtld-servers.net.\n"
      "com. 172800 IN NS a.gtld-servers.net.\n"  // a duplicate
      "com. 86400 IN DS 1 13 2 00\n"
      "a.gtld-servers.net. 172800 IN A 192.0.2.30\n");
  // An RRSIG before the RRset it covers, one covering nothing present.
  std::vector<uint8_t> sig_ds{0, 43, 13, 1};   // type covered DS, then anything
  std::vector<uint8_t> sig_mx{0, 15, 13, 1};   // covers MX: not in the zone
  records.insert(records.begin(), {*dns::Name::fromText("com."), dns::rrtype::kRrsig,
                                   dns::rrclass::kIn, 86400, sig_ds});
  records.push_back({*dns::Name::fromText("com."), dns::rrtype::kRrsig, dns::rrclass::kIn, 86400,
                     sig_mx});
  const auto rrsets = groupRrsets(records);
  ASSERT_EQ(rrsets.size(), 3u);
  EXPECT_EQ(rrsets[0].owner.toText(), "com.");
  EXPECT_EQ(rrsets[0].type, dns::rrtype::kNs);
  EXPECT_EQ(rrsets[0].rdatas.size(), 2u);
  EXPECT_EQ(rrsets[0].ttl, 100u);  // the lowest of its records'
  EXPECT_TRUE(rrsets[0].sigs.empty());
  EXPECT_EQ(rrsets[1].type, dns::rrtype::kDs);
  EXPECT_EQ(rrsets[1].sigs, (std::vector<std::vector<uint8_t>>{sig_ds}));
  EXPECT_EQ(rrsets[2].type, dns::rrtype::kA);
  EXPECT_EQ(typeCovered(sig_mx), dns::rrtype::kMx);
  EXPECT_EQ(typeCovered(std::vector<uint8_t>{1}), 0);
}

}  // namespace
}  // namespace shoal::localroot
