#include "localroot/load.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "dns/constants.h"
#include "resolver/cache_format.h"
#include "resolver/ranges.h"
#include "tests/unit/localroot/test_root.h"

namespace shoal::localroot {
namespace {

using resolver::Rank;
using testing_util::kDay;
using testing_util::kNow;
using testing_util::RootOptions;
using testing_util::TestRoot;

dns::Name name(std::string_view text) { return *dns::Name::fromText(text); }

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    segment_ = "/shoal-lr-" + std::to_string(getpid()) + "-" + info->name();
    shmcache::Options options;
    options.name = segment_;
    options.size = 4u << 20;
    options.stripes = 4;
    options.discard = true;
    auto cache = shmcache::Cache::open(options, kNow);
    ASSERT_TRUE(cache.ok()) << shmcache::toString(cache.error());
    cache_ = std::move(*cache);
    shmcache::Cache::unlink(segment_);
    records_ = std::make_unique<resolver::RecordCache>(*cache_, resolver::TtlLimits{});
  }

  VerifiedZone verified(const RootOptions& options = {}) {
    const TestRoot root = TestRoot::make(options);
    VerifyResult result = verifyZone(root.zone(), root.anchors(), {}, kNow);
    EXPECT_TRUE(result.zone) << result.error;
    return result.zone ? std::move(*result.zone) : VerifiedZone{};
  }

  struct Entry {
    shmcache::Meta meta;
    uint8_t flags = 0;
  };
  /// The cached RRset (owner, type), its meta and payload flags.
  std::optional<Entry> entry(std::string_view owner, uint16_t type) {
    const auto key = name(owner).lookupKey();
    auto found = cache_->lookup({key.bytes(), type, 0}, nullptr, kNow, buffer_);
    if (!found) return std::nullopt;
    auto view = resolver::RrsetView::parse({buffer_.data(), found->payload_length});
    EXPECT_TRUE(view) << owner;
    return Entry{found->meta, view ? view->flags() : uint8_t{0}};
  }

  void expectEntry(std::string_view owner, uint16_t type, Rank rank, shmcache::Security security,
                   int64_t ttl) {
    const auto e = entry(owner, type);
    ASSERT_TRUE(e) << owner << " " << type;
    EXPECT_EQ(e->meta.rank, static_cast<uint8_t>(rank)) << owner << " " << type;
    EXPECT_EQ(e->meta.security, security) << owner << " " << type;
    EXPECT_EQ(e->meta.expires_at, kNow + ttl) << owner << " " << type;
    EXPECT_EQ(e->flags, resolver::kFromLocalRoot) << owner << " " << type;
  }

  std::string segment_;
  std::unique_ptr<shmcache::Cache> cache_;
  std::unique_ptr<resolver::RecordCache> records_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(65536);
};

TEST_F(LoadTest, EveryRRsetWithItsRankStatusAndFlag) {
  const VerifiedZone zone = verified();
  const LoadReport report = loadZone(*records_, zone, 3600, kNow);
  // Apex: SOA NS DNSKEY ZONEMD NSEC; com.: NS DS NSEC; net.: NS NSEC;
  // glue: a.gtld-servers.net A AAAA, a.root-servers.net A.
  EXPECT_EQ(report.rrsets, 13u);
  EXPECT_EQ(report.ranges, 3u);
  EXPECT_TRUE(report.denial_zone);
  EXPECT_EQ(report.skipped, 1u);  // the occluded TXT under com.
  EXPECT_EQ(report.refused, 0u);
  using shmcache::Security;
  // Secure authoritative data, TTL capped by the cache's max_ttl (86400).
  expectEntry(".", dns::rrtype::kSoa, Rank::kAuthoritativeAnswer, Security::kSecure, 86400);
  expectEntry(".", dns::rrtype::kNs, Rank::kAuthoritativeAnswer, Security::kSecure, 86400);
  expectEntry(".", dns::rrtype::kDnskey, Rank::kAuthoritativeAnswer, Security::kSecure, 86400);
  expectEntry(".", kZonemd, Rank::kAuthoritativeAnswer, Security::kSecure, 86400);
  expectEntry("com.", dns::rrtype::kDs, Rank::kAuthoritativeAnswer, Security::kSecure, 86400);
  expectEntry("com.", dns::rrtype::kNsec, Rank::kAuthoritativeAnswer, Security::kSecure, 86400);
  // A delegation's NS and glue: unsigned, as a referral would have them.
  expectEntry("com.", dns::rrtype::kNs, Rank::kReferral, Security::kIndeterminate, 86400);
  expectEntry("net.", dns::rrtype::kNs, Rank::kReferral, Security::kIndeterminate, 86400);
  expectEntry("a.gtld-servers.net.", dns::rrtype::kA, Rank::kGlue, Security::kIndeterminate,
              86400);
  expectEntry("a.gtld-servers.net.", dns::rrtype::kAaaa, Rank::kGlue, Security::kIndeterminate,
              86400);
  expectEntry("a.root-servers.net.", dns::rrtype::kA, Rank::kGlue, Security::kIndeterminate,
              86400);
  EXPECT_FALSE(entry("xyz.com.", dns::rrtype::kTxt));
  EXPECT_FALSE(entry("net.", dns::rrtype::kDs));
}

TEST_F(LoadTest, NsecRangesAndTheDenialZone) {
  const LoadReport report = loadZone(*records_, verified(), 900, kNow);
  ASSERT_EQ(report.ranges, 3u);
  // "foo." lies between com. and net.: the range of com. covers it.
  const auto set = dns::Name().lookupKey();
  const auto order = name("foo.").lookupKey();
  std::vector<uint8_t> order_out(dns::kMaxLookupKeyLength);
  auto found = cache_->findRange(set.bytes(), order.bytes(), kNow, order_out, buffer_);
  ASSERT_TRUE(found);
  const auto com = name("com.").lookupKey();
  EXPECT_EQ(std::vector<uint8_t>(order_out.data(), order_out.data() + found->order_length),
            std::vector<uint8_t>(com.bytes().begin(), com.bytes().end()));
  EXPECT_EQ(found->meta.expires_at, kNow + 900);  // the negative TTL cap
  EXPECT_EQ(found->meta.security, shmcache::Security::kSecure);
  auto view = resolver::NegativeView::parse({buffer_.data(), found->payload_length});
  ASSERT_TRUE(view);
  EXPECT_EQ(view->flags(), resolver::kFromLocalRoot);
  EXPECT_EQ(view->count(), 2u);  // the NSEC and its RRSIG

  auto zone_entry = cache_->lookup(
      {set.bytes(), 0, static_cast<uint8_t>(resolver::Kind::kDenialZone)}, nullptr, kNow, buffer_);
  ASSERT_TRUE(zone_entry);
  EXPECT_EQ(zone_entry->meta.expires_at, kNow + 900);
  const auto denial = resolver::DenialZoneView::parse({buffer_.data(), zone_entry->payload_length});
  ASSERT_TRUE(denial);
  EXPECT_FALSE(denial->nsec3);
  EXPECT_EQ(denial->flags, resolver::kFromLocalRoot);
}

TEST_F(LoadTest, TtlsCappedBySignatureExpiry) {
  // Signatures that end in an hour: nothing outlives them.
  const LoadReport report = loadZone(
      *records_, verified({.expiration = static_cast<uint32_t>(kNow + 3600)}), 86400, kNow);
  EXPECT_EQ(report.shortest_ttl, 3600u);
  using shmcache::Security;
  expectEntry(".", dns::rrtype::kDnskey, Rank::kAuthoritativeAnswer, Security::kSecure, 3600);
  expectEntry("com.", dns::rrtype::kDs, Rank::kAuthoritativeAnswer, Security::kSecure, 3600);
  // Unsigned data is bounded by the zone's validity (its ZONEMD signature).
  expectEntry("com.", dns::rrtype::kNs, Rank::kReferral, Security::kIndeterminate, 3600);
  expectEntry("a.root-servers.net.", dns::rrtype::kA, Rank::kGlue, Security::kIndeterminate, 3600);
}

TEST_F(LoadTest, ReloadingReplacesInPlace) {
  const VerifiedZone zone = verified();
  const LoadReport first = loadZone(*records_, zone, 3600, kNow);
  const auto entries = [this] {
    uint64_t n = 0;
    for (const auto& fill : cache_->fill()) n += fill.live_entries;
    return n;
  };
  const uint64_t before = entries();
  const uint64_t replaced = cache_->counters().replaced;
  // Later, the same zone again: every entry renewed, none added.
  const LoadReport second = loadZone(*records_, zone, 3600, kNow + 600);
  EXPECT_EQ(second.rrsets, first.rrsets);
  EXPECT_EQ(second.ranges, first.ranges);
  EXPECT_EQ(entries(), before);
  EXPECT_EQ(cache_->counters().replaced - replaced, first.rrsets + first.ranges + 1);
  const auto key = dns::Name().lookupKey();
  auto dnskey = cache_->lookup({key.bytes(), dns::rrtype::kDnskey, 0}, nullptr, kNow, buffer_);
  ASSERT_TRUE(dnskey);
  EXPECT_EQ(dnskey->meta.expires_at, kNow + 600 + 86400);
}

TEST_F(LoadTest, AHigherRankedEntryStays) {
  // The child's own NS set, from an authoritative answer of com.'s servers.
  const dns::Name server = name("x.gtld-servers.net.");
  dns::Rrset child;
  child.owner = name("com.");
  child.type = dns::rrtype::kNs;
  child.ttl = 3600;
  child.rdatas.emplace_back(server.wire().begin(), server.wire().end());
  ASSERT_TRUE(records_->storeRrset(child, Rank::kAuthoritativeAnswer, kNow));
  const LoadReport report = loadZone(*records_, verified(), 3600, kNow);
  EXPECT_EQ(report.refused, 1u);
  const auto e = entry("com.", dns::rrtype::kNs);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->meta.rank, static_cast<uint8_t>(Rank::kAuthoritativeAnswer));
  EXPECT_EQ(e->flags, 0);  // not ours
}

TEST_F(LoadTest, RangesThatDoNotFitTheirStripeAreReported) {
  // One stripe of 64 KiB holds at most 128 ranges (shmcache: stripe size /
  // 512); a zone with 203 of them loses the first ones it stored.
  shmcache::Options options;
  options.name = segment_ + "-small";
  options.size = 64u << 10;
  options.stripes = 1;
  options.discard = true;
  auto small = shmcache::Cache::open(options, kNow);
  ASSERT_TRUE(small.ok()) << shmcache::toString(small.error());
  shmcache::Cache::unlink(options.name);
  resolver::RecordCache records(**small, resolver::TtlLimits{});
  const LoadReport report = loadZone(records, verified({.extra_delegations = 200}), 3600, kNow);
  EXPECT_GT(report.ranges_lost, 0u);
  EXPECT_LE(report.ranges, 128u);
  EXPECT_EQ(report.ranges + report.ranges_lost, 203u);
  // The roomy cache of the fixture keeps them all.
  const LoadReport roomy = loadZone(*records_, verified({.extra_delegations = 200}), 3600, kNow);
  EXPECT_EQ(roomy.ranges, 203u);
  EXPECT_EQ(roomy.ranges_lost, 0u);
}

TEST_F(LoadTest, NothingOnceTheZoneExpired) {
  const VerifiedZone zone = verified();
  const LoadReport report = loadZone(*records_, zone, 3600, zone.valid_until);
  EXPECT_EQ(report.rrsets, 0u);
  EXPECT_EQ(report.ranges, 0u);
  EXPECT_FALSE(report.denial_zone);
  EXPECT_EQ(report.shortest_ttl, 0u);
}

}  // namespace
}  // namespace shoal::localroot
