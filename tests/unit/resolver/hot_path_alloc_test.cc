// The hot path must not allocate: answering a query from the shared cache
// (parse, lookup, CNAME chain, write, EDNS), and answers synthesised from
// NSEC/NSEC3 ranges (RFC 8198: NXDOMAIN, wildcard answers), are checked here
// with the counting operator new (tests/unit/counting_new.cc): its own
// binary.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "dnssec/denial.h"
#include "resolver/answer.h"
#include "resolver/cache_format.h"
#include "resolver/cache_reader.h"
#include "resolver/ranges.h"
#include "shmcache/cache.h"
#include "tests/unit/counting_new.h"

namespace shoal::resolver {
namespace {

dns::Name N(const char* text) { return *dns::Name::fromText(text); }

void store(shmcache::Cache& cache, const char* owner, uint16_t type,
           std::vector<std::vector<uint8_t>> rdatas, int64_t now) {
  Rrset rrset;
  rrset.owner = N(owner);
  rrset.type = type;
  rrset.rdatas = std::move(rdatas);
  const auto key = rrset.owner.lookupKey();
  shmcache::Meta meta;
  meta.expires_at = now + 300;
  meta.rank = static_cast<uint8_t>(Rank::kAuthoritativeAnswer);
  ASSERT_TRUE(cache
                  .insert({key.bytes(), type, static_cast<uint8_t>(Kind::kRrset)},
                          shmcache::Partition::global(), meta, encodeRrset(rrset), now)
                  .ok());
}

std::vector<uint8_t> query(const char* name, uint16_t type) {
  std::vector<uint8_t> q(512);
  dns::MessageWriter w(q, q.size());
  w.setId(0x1234);
  w.setFlags(dns::flag::kRd);
  EXPECT_TRUE(w.addQuestion(N(name), type, dns::rrclass::kIn).ok());
  dns::EdnsOut edns;
  edns.dnssec_ok = true;
  EXPECT_TRUE(w.setEdns(edns).ok());
  q.resize(w.finish());
  return q;
}

TEST(HotPathAllocTest, CacheHitsDoNotAllocate) {
  shmcache::Options options;
  options.name = "/shoal-alloc-test-" + std::to_string(getpid());
  options.size = 4u << 20;
  options.stripes = 4;
  const int64_t now = 1'700'000'000;
  auto cache = shmcache::Cache::open(options, now);
  ASSERT_TRUE(cache.ok());
  const auto target = N("www.example.com");
  store(**cache, "www.example.com", dns::rrtype::kA, {{192, 0, 2, 1}, {192, 0, 2, 2}}, now);
  store(**cache, "alias.example.com", dns::rrtype::kCname,
        {{target.wire().begin(), target.wire().end()}}, now);
  const auto direct = query("WWW.example.com", dns::rrtype::kA);
  const auto chained = query("alias.example.com", dns::rrtype::kA);
  const auto client = *base::IpAddress::parse("127.0.0.1");
  std::vector<uint8_t> out(65535);
  std::vector<uint8_t> scratch(65535);

  const size_t before = testing_util::allocationCount();
  const auto a = answerFromCache(direct, client, false, **cache, {}, now + 10, out, scratch);
  const size_t a_len = a.length;
  const auto b = answerFromCache(chained, client, false, **cache, {}, now + 10, out, scratch);
  const size_t after = testing_util::allocationCount();

  EXPECT_EQ(after, before) << "the hot path allocated";
  EXPECT_EQ(a.result, HotPathResult::kAnswered);
  EXPECT_GT(a_len, direct.size());
  ASSERT_EQ(b.result, HotPathResult::kAnswered);
  auto msg = dns::Message::parse({out.data(), b.length});
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(msg->count(dns::Section::kAnswer), 3);  // CNAME + 2 A
  EXPECT_TRUE(msg->header().has(dns::flag::kRa));
  shmcache::Cache::unlink(options.name);
}

// ECS on (RFC 7871): the client's option is read, its subnet decided, the
// most specific covering partition found and the option echoed with the
// scope, all without allocating.
TEST(HotPathAllocTest, EcsPartitionHitsDoNotAllocate) {
  shmcache::Options options;
  options.name = "/shoal-alloc-ecs-" + std::to_string(getpid());
  options.size = 4u << 20;
  options.stripes = 4;
  const int64_t now = 1'700'000'000;
  auto cache = shmcache::Cache::open(options, now);
  ASSERT_TRUE(cache.ok());
  store(**cache, "www.geo.com", dns::rrtype::kA, {{192, 0, 2, 99}}, now);
  Rrset tailored;
  tailored.owner = N("www.geo.com");
  tailored.type = dns::rrtype::kA;
  tailored.rdatas = {{192, 0, 2, 1}};
  const auto key = tailored.owner.lookupKey();
  shmcache::Meta meta;
  meta.expires_at = now + 300;
  meta.rank = static_cast<uint8_t>(Rank::kAuthoritativeAnswer);
  ASSERT_TRUE((*cache)
                  ->insert({key.bytes(), dns::rrtype::kA, static_cast<uint8_t>(Kind::kRrset)},
                           shmcache::Partition::of(*base::IpAddress::parse("11.1.0.0"), 16), meta,
                           encodeRrset(tailored), now)
                  .ok());
  // A front end's query carrying 11.1.2.0/24.
  std::vector<uint8_t> q(512);
  dns::MessageWriter w(q, q.size());
  w.setId(0x1234);
  w.setFlags(dns::flag::kRd);
  ASSERT_TRUE(w.addQuestion(N("www.geo.com"), dns::rrtype::kA, dns::rrclass::kIn).ok());
  dns::EdnsOut edns;
  dns::ClientSubnet subnet;
  subnet.family = 1;
  subnet.source_prefix = 24;
  subnet.address = {11, 1, 2, 0};
  ASSERT_TRUE(edns.options.addClientSubnet(subnet).ok());
  ASSERT_TRUE(w.setEdns(edns).ok());
  q.resize(w.finish());
  AnswerLimits limits;
  limits.ecs.enabled = true;
  limits.ecs.trusted = {*base::IpPrefix::parse("127.0.0.1")};
  const auto front_end = *base::IpAddress::parse("127.0.0.1");
  std::vector<uint8_t> out(65535);
  std::vector<uint8_t> scratch(65535);

  const size_t before = testing_util::allocationCount();
  const auto a = answerFromCache(q, front_end, false, **cache, limits, now + 10, out, scratch);
  const size_t after = testing_util::allocationCount();

  EXPECT_EQ(after, before) << "the hot path allocated";
  ASSERT_EQ(a.result, HotPathResult::kAnswered);
  EXPECT_EQ(a.scope, 16);
  auto msg = dns::Message::parse({out.data(), a.length});
  ASSERT_TRUE(msg.ok());
  ASSERT_EQ(msg->count(dns::Section::kAnswer), 1);
  auto option = dns::findOption(*msg->edns(), dns::ednsopt::kClientSubnet);
  ASSERT_TRUE(option.has_value());
  auto echoed = dns::parseClientSubnet(option->data);
  ASSERT_TRUE(echoed.ok());
  EXPECT_EQ(echoed->source_prefix, 24);
  EXPECT_EQ(echoed->scope_prefix, 16);
  shmcache::Cache::unlink(options.name);
}

// --- Answers synthesised from ranges ---------------------------------------------

namespace rrtype = dns::rrtype;

std::vector<uint8_t> wireOf(const dns::Name& name) {
  return {name.wire().begin(), name.wire().end()};
}

/// A type bitmap of window 0 (RFC 4034 section 4.1.2): window, length, bits.
std::vector<uint8_t> bitmap(std::initializer_list<uint16_t> types) {
  std::array<uint8_t, 34> map{};
  for (uint16_t type : types) {
    map[2 + type / 8] = static_cast<uint8_t>(map[2 + type / 8] | (0x80u >> (type % 8)));
    map[1] = std::max(map[1], static_cast<uint8_t>(type / 8 + 1));
  }
  return {map.begin(), map.begin() + 2 + map[1]};
}

void put(std::vector<uint8_t>& out, uint32_t value, int octets) {
  for (int shift = 8 * (octets - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(value >> shift));
  }
}

std::vector<uint8_t> rrsig(uint16_t type, uint8_t labels, const dns::Name& signer) {
  std::vector<uint8_t> out;
  put(out, type, 2);
  put(out, 13, 1);  // ECDSA P-256
  put(out, labels, 1);
  put(out, 3600, 4);        // original TTL
  put(out, 0x70000000, 4);  // expiration
  put(out, 0x60000000, 4);  // inception
  put(out, 0x1234, 2);      // key tag
  const auto name = wireOf(signer);
  out.insert(out.end(), name.begin(), name.end());
  out.resize(out.size() + 64, 0xab);
  return out;
}

Rrset signedRrset(const dns::Name& owner, uint16_t type, std::vector<uint8_t> rdata,
                  const dns::Name& zone) {
  Rrset set;
  set.owner = owner;
  set.type = type;
  set.ttl = 300;
  set.rdatas.push_back(std::move(rdata));
  const size_t labels = owner.label(0).size() == 1 && owner.label(0)[0] == '*'
                            ? owner.labelCount() - 1
                            : owner.labelCount();
  set.sigs.push_back(rrsig(type, static_cast<uint8_t>(labels), zone));
  return set;
}

Rrset soaOf(const dns::Name& zone) {
  std::vector<uint8_t> rdata = wireOf(zone);  // MNAME, RNAME: the apex will do
  rdata.insert(rdata.end(), zone.wire().begin(), zone.wire().end());
  for (uint32_t field : {1u, 7200u, 3600u, 1209600u, 300u}) put(rdata, field, 4);
  return signedRrset(zone, rrtype::kSoa, rdata, zone);
}

/// Stores `rrset` secure, as a validated answer would be.
void storeSecure(shmcache::Cache& cache, const Rrset& rrset, int64_t now) {
  const auto key = rrset.owner.lookupKey();
  shmcache::Meta meta;
  meta.expires_at = now + rrset.ttl;
  meta.original_ttl = rrset.ttl;
  meta.rank = static_cast<uint8_t>(Rank::kAuthoritativeAnswer);
  meta.security = shmcache::Security::kSecure;
  ASSERT_TRUE(cache
                  .insert({key.bytes(), rrset.type, static_cast<uint8_t>(Kind::kRrset)},
                          shmcache::Partition::global(), meta, encodeRrset(rrset), now)
                  .ok());
}

/// NSEC zone "example.com": example.com -> a.example.com -> *.w.example.com
/// -> z.example.com -> example.com, and *.w.example.com A.
void addNsecZone(shmcache::Cache& cache, int64_t now) {
  const dns::Name zone = N("example.com");
  const std::vector<std::pair<const char*, const char*>> chain = {
      {"example.com", "a.example.com"},
      {"a.example.com", "*.w.example.com"},
      {"*.w.example.com", "z.example.com"},
      {"z.example.com", "example.com"}};
  for (const auto& [owner, next] : chain) {
    std::vector<uint8_t> rdata = wireOf(N(next));
    const auto map = N(owner) == zone
                         ? bitmap({rrtype::kNs, rrtype::kSoa, rrtype::kRrsig, rrtype::kNsec})
                         : bitmap({rrtype::kA, rrtype::kRrsig, rrtype::kNsec});
    rdata.insert(rdata.end(), map.begin(), map.end());
    ASSERT_TRUE(
        storeRange(cache, zone, signedRrset(N(owner), rrtype::kNsec, rdata, zone), 300, now));
  }
  const Rrset soa = soaOf(zone);
  ASSERT_TRUE(storeDenialZone(cache, zone, ZoneDenial{}, &soa, 300, now));
  storeSecure(cache, signedRrset(N("*.w.example.com"), rrtype::kA, {192, 0, 2, 77}, zone), now);
}

const std::vector<uint8_t> kNsec3Salt = {0xab};

/// The NSEC3 hash of `name` in the zones below (salt ab, 1 iteration).
std::vector<uint8_t> hashOf(const std::string& name) {
  return dnssec::nsec3Hash(N(name.c_str()), 1, 1, kNsec3Salt);
}

/// NSEC3 zone `origin` with the names `names` (the apex, the empty
/// non-terminal w.<origin> and *.w.<origin>), chained in hash order; `keep`
/// selects the records cached. The wildcard's A RRset is cached too.
void addNsec3Zone(shmcache::Cache& cache, const char* origin, const std::vector<std::string>& names,
                  const std::function<bool(const std::string&)>& keep, int64_t now) {
  const dns::Name zone = N(origin);
  ZoneDenial denial;
  denial.nsec3 = true;
  denial.hash_algorithm = 1;
  denial.iterations = 1;
  denial.salt = kNsec3Salt;
  std::vector<std::pair<std::vector<uint8_t>, std::string>> hashed;
  for (const auto& name : names) hashed.push_back({hashOf(name), name});
  std::sort(hashed.begin(), hashed.end());
  for (size_t i = 0; i < hashed.size(); ++i) {
    const auto& [hash, name] = hashed[i];
    if (!keep(name)) continue;
    const auto& next = hashed[(i + 1) % hashed.size()].first;
    std::vector<uint8_t> rdata{1, 0, 0, 1, 1, 0xab, 20};  // SHA-1, no opt-out, 1, salt ab
    rdata.insert(rdata.end(), next.begin(), next.end());
    if (N(name.c_str()) == zone) {
      const auto map = bitmap({rrtype::kNs, rrtype::kSoa, rrtype::kRrsig});
      rdata.insert(rdata.end(), map.begin(), map.end());
    } else if (name != std::string("w.") + origin) {  // the ENT has no types
      const auto map = bitmap({rrtype::kA, rrtype::kRrsig});
      rdata.insert(rdata.end(), map.begin(), map.end());
    }
    const std::string owner = dnssec::base32HexEncode(hash) + "." + origin;
    ASSERT_TRUE(storeRange(cache, zone, signedRrset(N(owner.c_str()), rrtype::kNsec3, rdata, zone),
                           300, now));
  }
  const Rrset soa = soaOf(zone);
  ASSERT_TRUE(storeDenialZone(cache, zone, denial, &soa, 300, now));
  const std::string wildcard = std::string("*.w.") + origin;
  storeSecure(cache, signedRrset(N(wildcard.c_str()), rrtype::kA, {192, 0, 2, 78}, zone), now);
}

TEST(HotPathAllocTest, SynthesisedAnswersDoNotAllocate) {
  shmcache::Options options;
  options.name = "/shoal-alloc-synth-test-" + std::to_string(getpid());
  options.size = 4u << 20;
  options.stripes = 4;
  const int64_t now = 1'700'000'000;
  auto opened = shmcache::Cache::open(options, now);
  ASSERT_TRUE(opened.ok());
  shmcache::Cache& cache = **opened;
  addNsecZone(cache, now);
  const std::vector<std::string> net = {"example.net", "w.example.net", "*.w.example.net"};
  addNsec3Zone(
      cache, "example.net", net, [](const std::string&) { return true; }, now);
  // example.org: only the range that covers a.w.example.org, as a wildcard
  // answer leaves it (RFC 5155 section 8.8); the wildcard RRset shows that
  // *.w.example.org exists.
  const std::vector<std::string> org = {"example.org", "w.example.org", "*.w.example.org"};
  std::vector<std::vector<uint8_t>> org_hashes;
  for (const auto& name : org) org_hashes.push_back(hashOf(name));
  std::sort(org_hashes.begin(), org_hashes.end());
  const auto above =
      std::upper_bound(org_hashes.begin(), org_hashes.end(), hashOf("a.w.example.org"));
  const auto cover = above == org_hashes.begin() ? org_hashes.back() : *std::prev(above);
  addNsec3Zone(
      cache, "example.org", org, [&](const std::string& name) { return hashOf(name) == cover; },
      now);

  struct Case {
    const char* name;
    uint16_t rcode;
    Synthesis kind;
    std::vector<uint8_t> query;
  };
  std::vector<Case> cases = {{"junk.example.com", dns::rcode::kNxDomain, Synthesis::kNxdomain, {}},
                             {"junk.example.net", dns::rcode::kNxDomain, Synthesis::kNxdomain, {}},
                             {"x.w.example.com", dns::rcode::kNoError, Synthesis::kWildcard, {}},
                             {"x.w.example.net", dns::rcode::kNoError, Synthesis::kWildcard, {}},
                             {"a.w.example.org", dns::rcode::kNoError, Synthesis::kWildcard, {}}};
  for (auto& c : cases) c.query = query(c.name, rrtype::kA);
  const auto client = *base::IpAddress::parse("127.0.0.1");
  AnswerLimits limits;
  limits.validating = true;
  limits.aggressive_nsec = true;
  std::vector<uint8_t> out(65535);
  std::vector<uint8_t> scratch(kCacheScratchSize);
  std::vector<HotPathAnswer> answers(cases.size());
  std::vector<size_t> lengths(cases.size());

  for (size_t i = 0; i < cases.size(); ++i) {
    const size_t before = testing_util::allocationCount();
    answers[i] =
        answerFromCache(cases[i].query, client, false, cache, limits, now + 10, out, scratch);
    const size_t after = testing_util::allocationCount();
    EXPECT_EQ(after, before) << cases[i].name << ": the hot path allocated";
    lengths[i] = answers[i].length;
    ASSERT_EQ(answers[i].result, HotPathResult::kAnswered) << cases[i].name;
    EXPECT_EQ(answers[i].synthesised, cases[i].kind) << cases[i].name;
    auto msg = dns::Message::parse({out.data(), lengths[i]});
    ASSERT_TRUE(msg.ok()) << cases[i].name;
    EXPECT_EQ(msg->rcode(), cases[i].rcode) << cases[i].name;
    EXPECT_TRUE(msg->header().has(dns::flag::kAd)) << cases[i].name;
    EXPECT_GE(msg->count(dns::Section::kAuthority), 2) << cases[i].name << ": the proof";
    if (cases[i].kind == Synthesis::kWildcard) {
      EXPECT_EQ(msg->count(dns::Section::kAnswer), 2) << cases[i].name << ": A and RRSIG";
    }
  }
  shmcache::Cache::unlink(options.name);
}

}  // namespace
}  // namespace shoal::resolver
