#include "localroot/verify.h"

#include <gtest/gtest.h>

#include "dns/constants.h"
#include "localroot/zone.h"
#include "tests/unit/localroot/test_root.h"

namespace shoal::localroot {
namespace {

using testing_util::kDay;
using testing_util::kNow;
using testing_util::kSerial;
using testing_util::RootOptions;
using testing_util::TestRoot;

VerifyResult verify(const TestRoot& root, int64_t now = kNow) {
  return verifyZone(root.zone(), root.anchors(), dnssec::Policy{}, now);
}

/// The record of `type` at `owner` (the first), for tampering.
dns::Record& recordOf(TestRoot& root, const std::string& owner, uint16_t type) {
  for (auto& r : root.records()) {
    if (r.type == type && r.owner.toText() == owner) return r;
  }
  ADD_FAILURE() << "no " << owner << " " << type;
  return root.records().front();
}

TEST(VerifyTest, AGoodZoneVerifies) {
  const TestRoot root = TestRoot::make();
  const VerifyResult result = verify(root);
  ASSERT_TRUE(result.zone) << result.error;
  EXPECT_EQ(result.zone->soa.serial, kSerial);
  EXPECT_EQ(result.zone->soa.refresh, 1800u);
  EXPECT_EQ(result.zone->valid_until, kNow + 30 * kDay);  // the ZONEMD signature's expiration
  EXPECT_EQ(result.zone->source, "192.0.2.53:53");
  // ldns agrees with the digest computed by the test (independently).
  EXPECT_EQ(checkZonemdDigest(root.zone().records), "");
}

TEST(VerifyTest, ADuplicateRecordInTheTransferIsHarmless) {
  TestRoot root = TestRoot::make();
  root.records().push_back(recordOf(root, "a.gtld-servers.net.", dns::rrtype::kA));
  const VerifyResult result = verify(root);
  EXPECT_TRUE(result.zone) << result.error;
}

TEST(VerifyTest, ZonemdMismatchIsRefused) {
  TestRoot root = TestRoot::make();
  // Glue is unsigned: every signature still holds, only the digest tells.
  recordOf(root, "a.gtld-servers.net.", dns::rrtype::kA).ttl -= 1;
  const VerifyResult result = verify(root);
  EXPECT_FALSE(result.zone);
  EXPECT_NE(result.error.find("does not match its ZONEMD"), std::string::npos) << result.error;
  EXPECT_NE(checkZonemdDigest(root.zone().records), "");
}

TEST(VerifyTest, AnAddedRecordIsAMismatchToo) {
  TestRoot root = TestRoot::make();
  root.records().push_back(
      {*dns::Name::fromText("b.gtld-servers.net."), dns::rrtype::kA, dns::rrclass::kIn, 172800,
       {192, 0, 2, 31}});
  const VerifyResult result = verify(root);
  EXPECT_FALSE(result.zone);
  EXPECT_NE(result.error.find("ZONEMD"), std::string::npos) << result.error;
}

TEST(VerifyTest, AZoneWithoutZonemdIsRefused) {
  // Its NSEC even proves there is no ZONEMD: still not verifiable.
  const TestRoot root = TestRoot::make({.zonemd = false});
  const VerifyResult result = verify(root);
  EXPECT_FALSE(result.zone);
  EXPECT_NE(result.error.find("no ZONEMD record at the apex"), std::string::npos) << result.error;
  EXPECT_EQ(checkZonemdDigest(root.zone().records), "no ZONEMD record");
}

TEST(VerifyTest, ZonemdSerialMustBeTheSoaSerial) {
  const TestRoot root = TestRoot::make({.zonemd_serial = kSerial - 1});
  const VerifyResult result = verify(root);
  EXPECT_FALSE(result.zone);
  EXPECT_NE(result.error.find("ZONEMD serial 2023111399 is not the SOA serial 2023111400"),
            std::string::npos)
      << result.error;
}

TEST(VerifyTest, WrongTrustAnchorIsRefused) {
  const TestRoot root = TestRoot::make();
  const TestRoot other = TestRoot::make();  // another key
  const VerifyResult result = verifyZone(root.zone(), other.anchors(), {}, kNow);
  EXPECT_FALSE(result.zone);
  EXPECT_NE(result.error.find("DNSKEY RRset is not validated by the trust anchors"),
            std::string::npos)
      << result.error;
  // No anchor for the root at all.
  const VerifyResult none = verifyZone(root.zone(), {}, {}, kNow);
  EXPECT_FALSE(none.zone);
  EXPECT_EQ(none.error, "no trust anchor for . is configured");
}

TEST(VerifyTest, ExpiredZonemdSignatureIsRefused) {
  const TestRoot root = TestRoot::make(
      {.zonemd_inception = static_cast<uint32_t>(kNow - 40 * kDay),
       .zonemd_expiration = static_cast<uint32_t>(kNow - 10 * kDay)});
  const VerifyResult result = verify(root);
  EXPECT_FALSE(result.zone);
  EXPECT_NE(result.error.find("ZONEMD RRset's signature does not verify"), std::string::npos)
      << result.error;
  EXPECT_NE(result.error.find("expired"), std::string::npos) << result.error;
}

TEST(VerifyTest, TheWholeZoneExpiresWithItsSignatures) {
  const TestRoot root = TestRoot::make();
  EXPECT_TRUE(verify(root, kNow + 29 * kDay).zone);
  const VerifyResult later = verify(root, kNow + 31 * kDay);
  EXPECT_FALSE(later.zone);
  EXPECT_NE(later.error.find("expired"), std::string::npos) << later.error;
}

TEST(VerifyTest, UnsignedZonemdIsRefused) {
  TestRoot root = TestRoot::make();
  auto& records = root.records();
  std::erase_if(records, [](const dns::Record& r) {
    return r.type == dns::rrtype::kRrsig && typeCovered(r.rdata) == kZonemd;
  });
  const VerifyResult result = verify(root);
  EXPECT_FALSE(result.zone);
  EXPECT_NE(result.error.find("ZONEMD RRset's signature does not verify"), std::string::npos)
      << result.error;
}

TEST(VerifyTest, BrokenZonemdSignatureIsRefused) {
  TestRoot root = TestRoot::make();
  for (auto& r : root.records()) {
    if (r.type == dns::rrtype::kRrsig && typeCovered(r.rdata) == kZonemd) r.rdata.back() ^= 0xff;
  }
  EXPECT_FALSE(verify(root).zone);
}

TEST(VerifyTest, MalformedZonesGetAReasonNotACrash) {
  {
    TestRoot root = TestRoot::make();
    root.records().clear();
    EXPECT_EQ(verify(root).error, "the zone is empty");
  }
  {
    TestRoot root = TestRoot::make();
    std::erase_if(root.records(), [](const dns::Record& r) {
      return r.type == dns::rrtype::kSoa;
    });
    EXPECT_EQ(verify(root).error, "no SOA record at the apex");
  }
  {
    TestRoot root = TestRoot::make();
    root.records().push_back(recordOf(root, ".", dns::rrtype::kSoa));
    root.records().back().rdata.back() ^= 1;  // a second, different SOA
    EXPECT_EQ(verify(root).error, "2 records in . SOA (one allowed)");
  }
  {
    // Two NSEC records at one owner (found by the fuzzer: ldns keeps one
    // and leaks the other), in the whole check and in the digest alone.
    TestRoot root = TestRoot::make();
    root.records().push_back(recordOf(root, ".", dns::rrtype::kNsec));
    root.records().back().rdata.back() ^= 1;
    EXPECT_EQ(verify(root).error, "2 records in . NSEC (one allowed)");
    EXPECT_EQ(checkZonemdDigest(root.zone().records), "2 records in . NSEC (one allowed)");
  }
  {
    TestRoot root = TestRoot::make();
    std::erase_if(root.records(), [](const dns::Record& r) {
      return r.type == dns::rrtype::kSoa;
    });
    EXPECT_EQ(checkZonemdDigest(root.zone().records), "no SOA record");
  }
  {
    TestRoot root = TestRoot::make();
    root.records().push_back(recordOf(root, "com.", dns::rrtype::kNs));
    root.records().back().type = dns::rrtype::kSoa;
    EXPECT_EQ(verify(root).error, "SOA record below the apex, at com.");
  }
  {
    TestRoot root = TestRoot::make();
    recordOf(root, "com.", dns::rrtype::kDs).rrclass = dns::rrclass::kCh;
    EXPECT_EQ(verify(root).error, "record of class 3 at com.");
  }
  {
    TestRoot root = TestRoot::make();
    recordOf(root, ".", kZonemd).rdata.resize(5);
    EXPECT_EQ(verify(root).error, "malformed ZONEMD record");
  }
  {
    TestRoot root = TestRoot::make();
    std::erase_if(root.records(), [](const dns::Record& r) {
      return r.type == dns::rrtype::kDnskey;
    });
    EXPECT_EQ(verify(root).error, "no DNSKEY RRset at the apex");
  }
  {
    // A zone apex other than the root: every record must be inside it.
    const TestRoot root = TestRoot::make();
    ZoneData data = root.zone();
    data.apex = *dns::Name::fromText("com.");
    EXPECT_EQ(verifyZone(data, {}, {}, kNow).error, "no trust anchor for com. is configured");
    EXPECT_EQ(verifyZone(data, root.anchors(), {}, kNow).error, "record outside the zone: .");
  }
}

TEST(VerifyTest, AnchorsForTheApexOnly) {
  resolver::TrustAnchors anchors;
  anchors.anchors.push_back({dns::Name(), dns::rrtype::kDs, {1, 2, 3, 4}});
  anchors.anchors.push_back({dns::Name(), dns::rrtype::kDnskey, {5, 6, 7, 8}});
  anchors.anchors.push_back({*dns::Name::fromText("example."), dns::rrtype::kDs, {9}});
  const ApexAnchors root = anchorsFor(anchors, dns::Name());
  EXPECT_EQ(root.ds, (std::vector<std::vector<uint8_t>>{{1, 2, 3, 4}}));
  EXPECT_EQ(root.dnskeys, (std::vector<std::vector<uint8_t>>{{5, 6, 7, 8}}));
  EXPECT_TRUE(anchorsFor(anchors, *dns::Name::fromText("org.")).empty());
}

}  // namespace
}  // namespace shoal::localroot
