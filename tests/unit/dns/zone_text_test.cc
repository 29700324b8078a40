#include "dns/zone_text.h"

#include <gtest/gtest.h>

#include "dns/constants.h"

namespace shoal::dns {
namespace {

TEST(ZoneTextTest, ParsesRecordsDirectivesAndComments) {
  const auto parsed = parseRecords(
      "$ORIGIN example.com.\n"
      "$TTL 300\n"
      "; a comment\n"
      "@      IN SOA ns1 hostmaster ( 1 7200 3600 1209600 300 )\n"
      "www   60 IN A 192.0.2.1\n"
      "      IN AAAA 2001:db8::1\n"
      "mail  IN MX 10 mx.other.example.\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  ASSERT_EQ(parsed.records.size(), 4u);
  EXPECT_EQ(parsed.records[0].type, rrtype::kSoa);
  EXPECT_EQ(parsed.records[0].owner.toText(), "example.com.");
  EXPECT_EQ(parsed.records[1].owner.toText(), "www.example.com.");
  EXPECT_EQ(parsed.records[1].ttl, 60u);
  EXPECT_EQ(parsed.records[1].rdata, (std::vector<uint8_t>{192, 0, 2, 1}));
  EXPECT_EQ(parsed.records[2].type, rrtype::kAaaa);
  EXPECT_EQ(parsed.records[2].owner.toText(), "www.example.com.");
  EXPECT_EQ(parsed.records[2].ttl, 300u);
  EXPECT_EQ(parsed.records[3].rdata.size(), 2u + 18u);  // preference + name
}

TEST(ZoneTextTest, ReportsTheLineOfAnError) {
  const auto parsed = parseRecords(". IN NS a.root.\nbad line here\n");
  EXPECT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error.find("line 2"), std::string::npos) << parsed.error;
  EXPECT_TRUE(parsed.records.empty());
}

TEST(ZoneTextTest, EmptyTextIsEmpty) {
  const auto parsed = parseRecords("");
  EXPECT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed.records.empty());
}

TEST(ZoneTextTest, RecordToText) {
  const auto parsed = parseRecords("www.example.com. 60 IN A 192.0.2.1\n");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(recordToText(parsed.records[0]), "www.example.com.\t60\tIN\tA\t192.0.2.1");
}

}  // namespace
}  // namespace shoal::dns
