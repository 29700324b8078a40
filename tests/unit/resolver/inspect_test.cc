#include "resolver/inspect.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/zone_text.h"
#include "resolver/cache_format.h"
#include "resolver/ranges.h"
#include "resolver/record_cache.h"
#include "resolver/server_stats.h"

namespace shoal::resolver {
namespace {

using ::testing::Test;

constexpr int64_t kNow = 1'700'000'000;  // seconds
constexpr int64_t kNowMs = kNow * 1000;

dns::Name name(std::string_view text) {
  auto n = dns::Name::fromText(text);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : dns::Name();
}

base::IpAddress ip(std::string_view text) {
  auto a = base::IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(base::IpAddress());
}

/// The records of `text` (one owner and type) as an RRset, with the RRSIGs
/// in it moved to `sigs`.
Rrset rrsetOf(std::string_view text) {
  const auto parsed = dns::parseRecords(text);
  EXPECT_TRUE(parsed.ok()) << parsed.error;
  Rrset rrset;
  for (const auto& r : parsed.records) {
    if (r.type == dns::rrtype::kRrsig) {
      rrset.sigs.push_back(r.rdata);
      continue;
    }
    rrset.owner = r.owner;
    rrset.type = r.type;
    rrset.ttl = r.ttl;
    rrset.rdatas.push_back(r.rdata);
  }
  return rrset;
}

std::vector<NegativeRecord> negativeOf(std::string_view text) {
  const auto parsed = dns::parseRecords(text);
  EXPECT_TRUE(parsed.ok()) << parsed.error;
  std::vector<NegativeRecord> out;
  for (const auto& r : parsed.records) out.push_back({r.owner, r.type, r.rdata});
  return out;
}

constexpr std::string_view kSoa =
    "example. 3600 IN SOA ns.example. admin.example. 2024010101 7200 900 1209600 300\n";

class InspectTest : public Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    segment_ = "/shoal-inspect-" + std::to_string(getpid()) + "-" + info->name();
    shmcache::Options options;
    options.name = segment_;
    options.size = 4u << 20;
    options.stripes = 4;
    options.discard = true;
    auto cache = shmcache::Cache::open(options, kNow);
    ASSERT_TRUE(cache.ok()) << shmcache::toString(cache.error());
    cache_ = std::move(*cache);
    shmcache::Cache::unlink(segment_);  // the mapping outlives the name
  }
  void TearDown() override {
    cache_.reset();
    shmcache::Cache::unlink(segment_);
  }

  void store(std::string_view text, Rank rank = Rank::kAuthoritativeAnswer, int64_t now = kNow) {
    ASSERT_TRUE(records().storeRrset(rrsetOf(text), rank, now)) << text;
  }
  RecordCache records() { return RecordCache(*cache_, TtlLimits{}); }
  size_t entriesOf(std::string_view n) {
    return inspectName(*cache_, n, std::nullopt, kNow).entries.size();
  }

  std::string segment_;
  std::unique_ptr<shmcache::Cache> cache_;
};

TEST_F(InspectTest, RrsetWithSignaturesShowsTtlLeftAndMeta) {
  store(
      "www.example. 300 IN A 192.0.2.1\n"
      "www.example. 300 IN A 192.0.2.2\n"
      "www.example. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 12345 example. "
      "dGVzdA==\n");
  const auto result = inspectName(*cache_, "WWW.Example", std::nullopt, kNow + 20);
  ASSERT_TRUE(result.error.empty()) << result.error;
  EXPECT_EQ(result.name, "WWW.Example.");
  ASSERT_EQ(result.entries.size(), 1u);
  const InspectedEntry& e = result.entries[0];
  EXPECT_EQ(e.type, "A");
  EXPECT_EQ(e.kind, "rrset");
  EXPECT_EQ(e.ttl, 280);
  EXPECT_EQ(e.original_ttl, 300u);
  EXPECT_EQ(e.rank, static_cast<unsigned>(Rank::kAuthoritativeAnswer));
  EXPECT_EQ(e.dnssec, "indeterminate");
  EXPECT_EQ(e.partition, "global");
  EXPECT_FALSE(e.stale);
  EXPECT_FALSE(e.corrupt);
  ASSERT_EQ(e.records.size(), 3u);
  EXPECT_EQ(e.records[0], "www.example. 280 IN A 192.0.2.1");
  EXPECT_EQ(e.records[1], "www.example. 280 IN A 192.0.2.2");
  EXPECT_EQ(e.records[2],
            "www.example. 280 IN RRSIG A 13 2 300 20300101000000 20200101000000 12345 example. "
            "dGVzdA==");
}

TEST_F(InspectTest, EveryTypeSortedAndTheTypeFilter) {
  store("www.example. 300 IN AAAA 2001:db8::1\n");
  store("www.example. 300 IN A 192.0.2.1\n");
  ASSERT_TRUE(records().storeNegative(name("www.example."), dns::rrtype::kMx, false, 300,
                                      negativeOf(kSoa), kNow));
  store("other.example. 300 IN A 192.0.2.9\n");

  const auto all = inspectName(*cache_, "www.example.", std::nullopt, kNow + 100);
  ASSERT_EQ(all.entries.size(), 3u);
  EXPECT_EQ(all.entries[0].type, "A");
  EXPECT_EQ(all.entries[1].type, "MX");
  EXPECT_EQ(all.entries[1].kind, "nodata");
  EXPECT_EQ(all.entries[1].rank, static_cast<unsigned>(Rank::kAuthority));
  ASSERT_EQ(all.entries[1].records.size(), 1u);
  EXPECT_EQ(all.entries[1].records[0],
            "example. 200 IN SOA ns.example. admin.example. 2024010101 7200 900 1209600 300");
  EXPECT_EQ(all.entries[2].type, "AAAA");
  EXPECT_EQ(all.entries[2].records,
            std::vector<std::string>{"www.example. 200 IN AAAA 2001:db8::1"});

  const auto aaaa = inspectName(*cache_, "www.example.", dns::rrtype::kAaaa, kNow);
  ASSERT_EQ(aaaa.entries.size(), 1u);
  EXPECT_EQ(aaaa.entries[0].type, "AAAA");
  EXPECT_TRUE(inspectName(*cache_, "www.example.", dns::rrtype::kTxt, kNow).entries.empty());
  EXPECT_TRUE(inspectName(*cache_, "nothing.example.", std::nullopt, kNow).entries.empty());
}

TEST_F(InspectTest, NxdomainShowsTheSoaAndMatchesEveryType) {
  ASSERT_TRUE(records().storeNegative(
      name("gone.example."), 0, true, 300,
      negativeOf(std::string(kSoa) + "gone.example. 300 IN NSEC zzz.example. A\n"), kNow));
  for (const std::optional<uint16_t> type :
       {std::optional<uint16_t>{}, std::optional<uint16_t>{1}}) {
    const auto result = inspectName(*cache_, "gone.example", type, kNow + 10);
    ASSERT_EQ(result.entries.size(), 1u);
    const InspectedEntry& e = result.entries[0];
    EXPECT_EQ(e.kind, "nxdomain");
    EXPECT_EQ(e.type, "*");
    EXPECT_EQ(e.ttl, 290);
    ASSERT_EQ(e.records.size(), 2u);
    EXPECT_EQ(e.records[0],
              "example. 290 IN SOA ns.example. admin.example. 2024010101 7200 900 1209600 300");
    EXPECT_EQ(e.records[1], "gone.example. 290 IN NSEC zzz.example. A");
  }
}

TEST_F(InspectTest, ExpiredEntriesAreStale) {
  store("www.example. 60 IN A 192.0.2.1\n");
  const auto result = inspectName(*cache_, "www.example.", std::nullopt, kNow + 90);
  ASSERT_EQ(result.entries.size(), 1u);
  EXPECT_TRUE(result.entries[0].stale);
  EXPECT_EQ(result.entries[0].ttl, -30);
  EXPECT_EQ(result.entries[0].records[0], "www.example. 0 IN A 192.0.2.1");
}

TEST_F(InspectTest, PartitionsAndSecurity) {
  const auto key = name("www.example.").lookupKey();
  const shmcache::Key k{key.bytes(), dns::rrtype::kA, static_cast<uint8_t>(Kind::kRrset)};
  shmcache::Meta meta;
  meta.expires_at = kNow + 100;
  meta.original_ttl = 100;
  meta.rank = static_cast<uint8_t>(Rank::kAnswer);
  Rrset rrset = rrsetOf("www.example. 100 IN A 192.0.2.1\n");
  ASSERT_TRUE(
      cache_->insert(k, shmcache::Partition::global(), meta, encodeRrset(rrset), kNow).ok());
  meta.security = shmcache::Security::kSecure;
  ASSERT_TRUE(
      cache_
          ->insert(k, shmcache::Partition::of(ip("192.0.2.77"), 24), meta, encodeRrset(rrset), kNow)
          .ok());
  meta.security = shmcache::Security::kBogus;
  ASSERT_TRUE(cache_
                  ->insert(k, shmcache::Partition::of(ip("2001:db8::77"), 56), meta,
                           encodeRrset(rrset), kNow)
                  .ok());
  const auto result = inspectName(*cache_, "www.example.", dns::rrtype::kA, kNow);
  ASSERT_EQ(result.entries.size(), 3u);
  EXPECT_EQ(result.entries[0].partition, "global");
  EXPECT_EQ(result.entries[0].dnssec, "indeterminate");
  EXPECT_EQ(result.entries[1].partition, "192.0.2.0/24");
  EXPECT_EQ(result.entries[1].dnssec, "secure");
  EXPECT_EQ(result.entries[2].partition, "2001:db8::/56");
  EXPECT_EQ(result.entries[2].dnssec, "bogus");
}

TEST_F(InspectTest, CorruptPayloadsAreReported) {
  const auto key = name("bad.example.").lookupKey();
  shmcache::Meta meta;
  meta.expires_at = kNow + 100;
  const std::vector<uint8_t> truncated = {kPayloadFormat, 0, 0, 5, 0, 4, 192};
  const std::vector<uint8_t> other_format = {9, 0, 0, 0, 0, 0};
  ASSERT_TRUE(cache_
                  ->insert({key.bytes(), dns::rrtype::kA, static_cast<uint8_t>(Kind::kRrset)},
                           shmcache::Partition::global(), meta, truncated, kNow)
                  .ok());
  ASSERT_TRUE(cache_
                  ->insert({key.bytes(), 0, static_cast<uint8_t>(Kind::kNxdomain)},
                           shmcache::Partition::global(), meta, other_format, kNow)
                  .ok());
  ASSERT_TRUE(cache_
                  ->insert({key.bytes(), dns::rrtype::kA, 77}, shmcache::Partition::global(), meta,
                           truncated, kNow)
                  .ok());
  const auto result = inspectName(*cache_, "bad.example.", std::nullopt, kNow);
  ASSERT_EQ(result.entries.size(), 3u);
  EXPECT_EQ(result.entries[0].kind, "nxdomain");
  EXPECT_TRUE(result.entries[0].corrupt);
  EXPECT_TRUE(result.entries[0].records.empty());
  EXPECT_EQ(result.entries[1].kind, "rrset");
  EXPECT_TRUE(result.entries[1].corrupt);
  EXPECT_EQ(result.entries[2].kind, "kind 77");
  EXPECT_FALSE(result.entries[2].corrupt);
}

TEST_F(InspectTest, MalformedRdataIsPrintedNotTrusted) {
  Rrset rrset;
  rrset.owner = name("odd.example.");
  rrset.type = dns::rrtype::kA;
  rrset.ttl = 300;
  rrset.rdatas = {{192, 0, 2}, {}};
  rrset.sigs = {{0, 1, 8}};  // an RRSIG cut short
  ASSERT_TRUE(records().storeRrset(rrset, Rank::kAnswer, kNow));
  rrset.type = dns::rrtype::kSoa;
  rrset.rdatas = {{3, 'n', 's', 0}};  // no serial, refresh, ...
  rrset.sigs.clear();
  ASSERT_TRUE(records().storeRrset(rrset, Rank::kAnswer, kNow));
  const auto result = inspectName(*cache_, "odd.example.", std::nullopt, kNow);
  ASSERT_EQ(result.entries.size(), 2u);
  EXPECT_EQ(result.entries[0].records.size(), 3u);
  EXPECT_EQ(result.entries[1].records.size(), 1u);
  for (const auto& e : result.entries) {
    EXPECT_FALSE(e.corrupt);  // the payload is well-formed; its rdata is not
    for (const auto& r : e.records) EXPECT_EQ(r.rfind("odd.example.", 0), 0u) << r;
  }
}

TEST_F(InspectTest, RangeEntriesOfAZone) {
  // An NSEC range and the zone entry (resolver/ranges.h), shown decoded.
  const char* kSig = "RRSIG NSEC 13 2 300 20270101000000 20261201000000 1 example. AAAA";
  const Rrset nsec = rrsetOf(std::string("a.example. 300 IN NSEC c.example. A RRSIG NSEC\n") +
                             "a.example. 300 IN " + kSig + "\n");
  ASSERT_TRUE(storeRange(*cache_, name("example."), nsec, 100, kNow));
  Rrset soa = rrsetOf(std::string(kSoa) + "example. 3600 IN RRSIG SOA 13 1 3600 20270101000000 "
                                          "20261201000000 1 example. AAAA\n");
  ZoneDenial denial;
  denial.nsec3 = true;
  denial.hash_algorithm = 1;
  denial.iterations = 5;
  denial.salt = {0xab, 0xcd};
  ASSERT_TRUE(storeDenialZone(*cache_, name("example."), denial, &soa, 100, kNow));
  const auto result = inspectName(*cache_, "example.", std::nullopt, kNow);
  ASSERT_EQ(result.entries.size(), 2u);
  const auto& zone = result.entries[0];
  EXPECT_EQ(zone.kind, "denial zone");
  ASSERT_EQ(zone.records.size(), 3u);
  EXPECT_EQ(zone.records[0], "denial NSEC3 (hash 1, 5 iterations, salt abcd)");
  EXPECT_NE(zone.records[1].find("SOA"), std::string::npos) << zone.records[1];
  const auto& range = result.entries[1];
  EXPECT_EQ(range.kind, "range");
  EXPECT_EQ(range.dnssec, "secure");
  ASSERT_EQ(range.records.size(), 2u);
  EXPECT_NE(range.records[0].find("a.example. 100 IN NSEC c.example. A RRSIG NSEC"),
            std::string::npos)
      << range.records[0];
  EXPECT_NE(range.records[1].find("RRSIG"), std::string::npos) << range.records[1];
  EXPECT_EQ(inspectName(*cache_, "example.", dns::rrtype::kNsec, kNow).entries.size(), 1u);
  EXPECT_TRUE(inspectName(*cache_, "example.", dns::rrtype::kA, kNow).entries.empty());
}

TEST_F(InspectTest, BadNamesAreErrors) {
  for (const char* bad : {"", "a..b", ".example", "x\\"}) {
    const auto result = inspectName(*cache_, bad, std::nullopt, kNow);
    EXPECT_FALSE(result.error.empty()) << bad;
    EXPECT_TRUE(result.entries.empty());
    EXPECT_FALSE(flushName(*cache_, bad, true).error.empty()) << bad;
  }
  EXPECT_TRUE(inspectName(*cache_, ".", std::nullopt, kNow).error.empty());
}

TEST_F(InspectTest, FlushNameAndSubtree) {
  for (const char* owner : {"example.", "www.example.", "a.b.example.", "anexample.",
                            "example.com.", "exam.", "www.anexample."}) {
    store(std::string(owner) + " 300 IN A 192.0.2.1\n");
  }
  store("www.example. 300 IN AAAA 2001:db8::1\n");
  ASSERT_TRUE(records().storeNegative(name("nx.example."), 0, true, 300, negativeOf(kSoa), kNow));

  // Without subtree: the name's entries only (every type and kind).
  auto flushed = flushName(*cache_, "WWW.example", false);
  EXPECT_TRUE(flushed.error.empty());
  EXPECT_EQ(flushed.name, "WWW.example.");
  EXPECT_EQ(flushed.removed, 2u);
  EXPECT_EQ(entriesOf("www.example."), 0u);
  EXPECT_EQ(entriesOf("example."), 1u);

  // With subtree: the name and below, never a name that merely ends alike.
  flushed = flushName(*cache_, "example.", true);
  EXPECT_EQ(flushed.removed, 3u);  // example., a.b.example., nx.example.
  EXPECT_EQ(entriesOf("example."), 0u);
  EXPECT_EQ(entriesOf("a.b.example."), 0u);
  EXPECT_EQ(entriesOf("nx.example."), 0u);
  EXPECT_EQ(entriesOf("anexample."), 1u);
  EXPECT_EQ(entriesOf("www.anexample."), 1u);
  EXPECT_EQ(entriesOf("example.com."), 1u);
  EXPECT_EQ(entriesOf("exam."), 1u);

  EXPECT_EQ(flushName(*cache_, "nothing.here.", true).removed, 0u);
}

TEST_F(InspectTest, FlushingTheRootKeepsServerStatistics) {
  store("www.example. 300 IN A 192.0.2.1\n");
  store("example.com. 300 IN A 192.0.2.1\n");
  ServerStats stats(*cache_, 50, 1000);
  stats.recordReply(ip("192.0.2.53"), name("example."), 20, kNowMs);
  const auto flushed = flushName(*cache_, ".", true);
  EXPECT_EQ(flushed.name, ".");
  EXPECT_EQ(flushed.removed, 2u);
  EXPECT_EQ(entriesOf("www.example."), 0u);
  EXPECT_EQ(entriesOf("example.com."), 0u);
  const auto rows = listServers(*cache_, kNowMs, 50, 1000);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].replies, 1u);
  EXPECT_EQ(stats.get(ip("192.0.2.53"), kNowMs).replies, 1u);
}

TEST_F(InspectTest, ListServers) {
  ServerStats stats(*cache_, 50, 1000);
  const auto good = ip("192.0.2.53");
  for (int i = 0; i < 3; ++i) stats.recordReply(good, name("example."), 20, kNowMs - 6000);
  stats.recordTimeout(good, name("example."), kNowMs - 5000);
  const auto slow = ip("198.51.100.1");
  for (int i = 0; i < 3; ++i) stats.recordTimeout(slow, name("example.org."), kNowMs - 200);
  const auto lame = ip("2001:db8::53");
  stats.recordReply(lame, name("com."), 30, kNowMs);
  stats.recordLame(lame, name("example.com."), kNowMs + 300000, kNowMs);
  const auto old_edns = ip("203.0.113.5");
  stats.recordReply(old_edns, name("net."), 40, kNowMs);
  stats.recordNoEdns(old_edns, kNowMs);

  const auto rows = listServers(*cache_, kNowMs, 50, 1000);
  ASSERT_EQ(rows.size(), 4u);
  const ServerRow& a = rows[0];
  EXPECT_EQ(a.address, "192.0.2.53");
  EXPECT_EQ(a.zones, std::vector<std::string>{"example."});
  EXPECT_DOUBLE_EQ(a.srtt_ms, 20.0);
  EXPECT_EQ(a.rto_ms, stats.rtoMs(stats.get(good, kNowMs), kNowMs));
  EXPECT_EQ(a.queries, 4u);
  EXPECT_EQ(a.replies, 3u);
  EXPECT_EQ(a.timeouts, 1u);
  EXPECT_DOUBLE_EQ(a.loss_percent, 25.0);
  ASSERT_TRUE(a.last_seen_s.has_value());
  EXPECT_DOUBLE_EQ(*a.last_seen_s, 6.0);
  EXPECT_EQ(a.state, "ok");
  EXPECT_DOUBLE_EQ(a.backoff_left_s, 0.0);

  const ServerRow& b = rows[1];
  EXPECT_EQ(b.address, "198.51.100.1");
  EXPECT_EQ(b.state, "backed off");
  EXPECT_DOUBLE_EQ(b.backoff_left_s, 0.8);  // 1 s from 200 ms ago
  EXPECT_DOUBLE_EQ(b.loss_percent, 100.0);
  EXPECT_FALSE(b.last_seen_s.has_value());
  EXPECT_DOUBLE_EQ(b.srtt_ms, 0.0);
  EXPECT_EQ(b.rto_ms, 1000);  // doubled per timeout, up to rto_max
  EXPECT_EQ(b.zones, std::vector<std::string>{"example.org."});

  const ServerRow& c = rows[2];
  EXPECT_EQ(c.address, "203.0.113.5");
  EXPECT_EQ(c.state, "no edns");

  const ServerRow& d = rows[3];
  EXPECT_EQ(d.address, "2001:db8::53");
  EXPECT_EQ(d.state, "lame");
  EXPECT_EQ(d.zones, (std::vector<std::string>{"example.com.", "com."}));
  EXPECT_EQ(d.lame_zones, std::vector<std::string>{"example.com."});

  // Five minutes on: the lame mark and the backoff are over.
  const auto later = listServers(*cache_, kNowMs + 301000, 50, 1000);
  ASSERT_EQ(later.size(), 4u);
  EXPECT_EQ(later[1].state, "ok");
  EXPECT_EQ(later[3].state, "ok");
  EXPECT_TRUE(later[3].lame_zones.empty());
  // Statistics expire an hour after their last update.
  EXPECT_TRUE(listServers(*cache_, kNowMs + 3601000, 50, 1000).empty());
}

TEST_F(InspectTest, ServerLossWindowsAndHedges) {
  ServerStats stats(*cache_, 50, 1000);
  const auto server = ip("192.0.2.53");
  // Six minutes ago: 10 queries, 5 lost; in the last minute: 4, 1 lost.
  const int64_t old_ms = kNowMs - 360'000;
  for (int i = 0; i < 5; ++i) stats.recordReply(server, name("example."), 20, old_ms);
  for (int i = 0; i < 5; ++i) stats.recordTimeout(server, name("example."), old_ms);
  const int64_t two_min_ms = kNowMs - 120'000;
  for (int i = 0; i < 2; ++i) stats.recordTimeout(server, name("example."), two_min_ms);
  for (int i = 0; i < 3; ++i) stats.recordReply(server, name("example."), 20, kNowMs - 10'000);
  stats.recordTimeout(server, name("example."), kNowMs - 5000);
  stats.recordHedge(server, kNowMs);
  stats.recordHedge(server, kNowMs);
  stats.recordHedgeWon(server, kNowMs);

  const auto rows = listServers(*cache_, kNowMs, 50, 1000);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].loss_1m.queries, 4u);
  EXPECT_EQ(rows[0].loss_1m.lost, 1u);
  EXPECT_DOUBLE_EQ(rows[0].loss_1m.percent(), 25.0);
  EXPECT_EQ(rows[0].loss_5m.queries, 6u);  // the six-minute-old ones are out
  EXPECT_EQ(rows[0].loss_5m.lost, 3u);
  EXPECT_EQ(rows[0].queries, 16u);  // all time
  EXPECT_EQ(rows[0].hedges, 2u);
  EXPECT_EQ(rows[0].hedges_won, 1u);
  // Nothing in a window: 0 queries, 0 %.
  const auto later = listServers(*cache_, kNowMs + 3'000'000, 50, 1000);
  EXPECT_TRUE(later.empty() || later[0].loss_5m.queries == 0);
}

TEST_F(InspectTest, HedgeDelayIsBelowTheRtoAndAliveServersBackOffLess) {
  ServerStats stats(*cache_, 50, 1000);
  const auto fresh = ip("192.0.2.1");
  // Nothing measured at all: the first-contact guess, hedged early.
  const ServerState unknown = stats.get(fresh, kNowMs);
  EXPECT_EQ(stats.rtoMs(unknown, kNowMs), ServerStats::kFirstContactRtoMs);
  EXPECT_EQ(stats.hedgeMs(unknown, kNowMs), ServerStats::kFirstContactRtoMs / 8);
  // A steady 20 ms server: hedge at SRTT + 2 RTTVAR, RTO at the floor.
  const auto steady = ip("192.0.2.2");
  for (int i = 0; i < 30; ++i) stats.recordReply(steady, name("example."), 20, kNowMs);
  const ServerState measured = stats.get(steady, kNowMs);
  EXPECT_EQ(stats.rtoMs(measured, kNowMs), 50);
  const int64_t hedge = stats.hedgeMs(measured, kNowMs);
  EXPECT_GE(hedge, 20);
  EXPECT_LT(hedge, 30);
  // A server never measured now looks like the others: not 400 ms.
  EXPECT_EQ(stats.rtoMs(stats.get(fresh, kNowMs), kNowMs), 50);
  // Three timeouts in a row: the RTO doubles twice only while the server
  // answered within kAliveMs, up to five times once it has not.
  for (int i = 0; i < 3; ++i) stats.recordTimeout(steady, name("example."), kNowMs);
  EXPECT_EQ(stats.rtoMs(stats.get(steady, kNowMs), kNowMs), 30 << 2);  // SRTT + 10 ms floor
  const int64_t later_ms = kNowMs + ServerStats::kAliveMs;
  EXPECT_EQ(stats.rtoMs(stats.get(steady, later_ms), later_ms), 30 << 3);
  // kLossTimeouts in a row: no longer taken for loss, alive or not.
  while (stats.get(steady, kNowMs).consecutive_timeouts < ServerStats::kLossTimeouts) {
    stats.recordTimeout(steady, name("example."), kNowMs);
  }
  EXPECT_EQ(stats.rtoMs(stats.get(steady, kNowMs), kNowMs), 30 << 5);
}

TEST_F(InspectTest, ServerZonesKeepTheLameOne) {
  ServerStats stats(*cache_, 50, 1000);
  const auto server = ip("192.0.2.1");
  stats.recordLame(server, name("a."), kNowMs + 300000, kNowMs);
  stats.recordReply(server, name("b."), 10, kNowMs);
  stats.recordReply(server, name("c."), 10, kNowMs);  // b. goes, the lame a. stays
  auto rows = listServers(*cache_, kNowMs, 50, 1000);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].zones, (std::vector<std::string>{"c.", "a."}));
  EXPECT_EQ(rows[0].lame_zones, std::vector<std::string>{"a."});
  stats.recordTimeout(server, name("A."), kNowMs);  // same zone, any case: moves to the front
  rows = listServers(*cache_, kNowMs, 50, 1000);
  EXPECT_EQ(rows[0].zones, (std::vector<std::string>{"a.", "c."}));
  EXPECT_EQ(rows[0].state, "lame");
  stats.recordReply(server, name("d."), 10, kNowMs);  // c. goes: a. is lame
  rows = listServers(*cache_, kNowMs, 50, 1000);
  EXPECT_EQ(rows[0].zones, (std::vector<std::string>{"d.", "a."}));
}

TEST_F(InspectTest, ServerEntriesOfAnotherFormatAreIgnored) {
  // An older build's ServerState (another size) under the same key.
  const std::vector<uint8_t> key = {'s', 4, 192, 0, 2, 1};
  shmcache::Meta meta;
  meta.expires_at = kNow + 3600;
  meta.original_ttl = 3600;
  ASSERT_TRUE(cache_
                  ->insert({key, 0, static_cast<uint8_t>(Kind::kServer)},
                           shmcache::Partition::global(), meta, std::vector<uint8_t>(64, 0xff),
                           kNow)
                  .ok());
  EXPECT_TRUE(listServers(*cache_, kNowMs, 50, 1000).empty());
  ServerStats stats(*cache_, 50, 1000);
  EXPECT_EQ(stats.get(ip("192.0.2.1"), kNowMs).queries, 0u);
  stats.recordReply(ip("192.0.2.1"), name("example."), 10, kNowMs);
  const auto rows = listServers(*cache_, kNowMs, 50, 1000);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].queries, 1u);
}

}  // namespace
}  // namespace shoal::resolver
