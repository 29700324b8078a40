// Aggressive use of the validated cache (RFC 8198), end to end: after one
// real negative answer from a signed zone of the fake Internet (the
// warm-up), other junk names in the same NSEC/NSEC3 ranges are answered
// with no upstream query at all, by the engine and by the hot path alike:
// the right rcode, AD, and for DO clients the SOA and the proving records
// with their RRSIGs in the authority section. And where the ranges prove
// nothing (opt-out, a name below an unsigned delegation, ranges expired,
// validation or aggressive NSEC off), the name is asked for.
//
// The scenario's own hot path does not synthesise (scenario.cc): answers
// from the ranges come from the engine in s.resolve(); hotPath() asks
// resolver::answerFromCache on the same shared cache, as a worker does.

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/denial.h"
#include "dnssec/verdict.h"
#include "resolver/answer.h"
#include "resolver/cache_reader.h"
#include "tests/unit/resolver/engine_test_util.h"
#include "tests/unit/resolver/signed_internet.h"
#include "tests/unit/resolver/signed_zone.h"

namespace shoal::resolver::testing_util {
namespace {

namespace rrtype = dns::rrtype;

/// The owners (lowercase text) of the records of `type`.
std::set<std::string> ownersOf(const std::vector<dns::Record>& records, uint16_t type) {
  std::set<std::string> out;
  for (const auto& r : records) {
    if (r.type != type) continue;
    dns::Name owner = r.owner;
    owner.toLowerCase();
    out.insert(owner.toText());
  }
  return out;
}

/// Every record of a section as text, TTL included, in order.
std::vector<std::string> sectionText(const std::vector<dns::Record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(dns::recordToText(r));
  return out;
}

/// The NSEC/NSEC3 records of a negative answer's authority section, one
/// RRset each, for denial.h.
std::vector<dns::Rrset> proofRrsets(const ClientResult& r) {
  std::vector<dns::Rrset> out;
  for (const auto& record : r.authority) {
    if (record.type != rrtype::kNsec && record.type != rrtype::kNsec3) continue;
    dns::Rrset set;
    set.owner = record.owner;
    set.type = record.type;
    set.ttl = record.ttl;
    set.rdatas.push_back(record.rdata);
    out.push_back(std::move(set));
  }
  return out;
}

/// The zone a negative answer speaks for: the owner of its SOA.
std::optional<dns::Name> soaOwner(const ClientResult& r) {
  for (const auto& record : r.authority) {
    if (record.type == rrtype::kSoa) return record.owner;
  }
  return std::nullopt;
}

/// A DO client's synthesised negative answer is complete: the SOA with its
/// RRSIG, each NSEC/NSEC3 with its RRSIG, and the records prove the answer
/// by denial.h's rules (what a validating stub would check).
::testing::AssertionResult provenByAuthority(const ClientResult& r, const char* qname,
                                             uint16_t qtype) {
  const auto zone = soaOwner(r);
  if (!zone) return ::testing::AssertionFailure() << "no SOA in the authority section";
  if (countType(r.authority, rrtype::kSoa) != 1) {
    return ::testing::AssertionFailure() << "SOA count " << countType(r.authority, rrtype::kSoa);
  }
  std::set<std::string> signed_types;
  for (const auto& record : r.authority) {
    if (record.type == rrtype::kRrsig) {
      dns::Name owner = record.owner;
      owner.toLowerCase();
      signed_types.insert(owner.toText() + " " + dns::typeToText(typeCovered(record.rdata)));
    }
  }
  for (const auto& record : r.authority) {
    if (record.type == rrtype::kRrsig) continue;
    dns::Name owner = record.owner;
    owner.toLowerCase();
    const std::string key = owner.toText() + " " + dns::typeToText(record.type);
    if (signed_types.count(key) == 0) {
      return ::testing::AssertionFailure() << "no RRSIG for " << key;
    }
  }
  const auto proofs = proofRrsets(r);
  if (proofs.empty()) return ::testing::AssertionFailure() << "no NSEC/NSEC3 records";
  dnssec::Policy policy;
  dnssec::Budget budget;
  const dns::Name name = N(qname);
  const dnssec::Denial denial =
      r.rcode == dns::rcode::kNxDomain
          ? dnssec::proveNxdomain(name, *zone, proofs, policy, budget)
          : dnssec::proveNodata(name, qtype, *zone, proofs, policy, budget);
  if (denial.result != dnssec::DenialResult::kProven) {
    return ::testing::AssertionFailure() << "the proof does not hold: " << denial.reason;
  }
  return ::testing::AssertionSuccess();
}

/// What resolver::answerFromCache answers from the scenario's shared
/// cache, configured like a worker (worker_config.cc) with `config`.
struct HotPath {
  HotPathAnswer answer;
  ClientResult parsed;
};

HotPath hotPath(Scenario& s, const char* qname, uint16_t qtype, const QueryOptions& options,
                const EngineConfig& config) {
  AnswerLimits limits;
  limits.udp_payload_size = config.udp_payload_size;
  limits.nxdomain_cut = config.nxdomain_cut;
  limits.validating = !config.validation.anchors.empty();
  limits.aggressive_nsec = config.aggressive_nsec;
  limits.nsec3_max_iterations = config.validation.policy.nsec3_max_iterations;
  std::vector<uint8_t> out(65535);
  std::vector<uint8_t> scratch(kCacheScratchSize);
  const auto query = Scenario::buildQuery(qname, qtype, options);
  HotPath hot;
  hot.answer = answerFromCache(query, Ip(options.client), options.tcp, s.cache(), limits,
                               s.now() / 1000, out, scratch);
  if (hot.answer.result == HotPathResult::kAnswered) {
    hot.parsed = parseClientAnswer({out.data(), hot.answer.length});
    hot.parsed.answered = true;
    hot.parsed.from_cache = true;
  }
  return hot;
}

/// The two answers are the same but for the ID (records, TTLs, order).
::testing::AssertionResult sameAnswer(const ClientResult& a, const ClientResult& b) {
  if (a.rcode != b.rcode || a.flags != b.flags) {
    return ::testing::AssertionFailure()
           << "rcode/flags " << a.rcode << "/" << a.flags << " vs " << b.rcode << "/" << b.flags;
  }
  if (sectionText(a.answer) != sectionText(b.answer)) {
    return ::testing::AssertionFailure() << "answer sections differ";
  }
  if (sectionText(a.authority) != sectionText(b.authority)) {
    return ::testing::AssertionFailure() << "authority sections differ";
  }
  return ::testing::AssertionSuccess();
}

// --- NSEC3 hash arithmetic, for picking names in a range -------------------------

struct Nsec3Range {
  std::vector<uint8_t> owner_hash, next_hash;
  uint8_t flags = 0;
  uint16_t iterations = 0;
  std::vector<uint8_t> salt;

  bool covers(const std::vector<uint8_t>& hash) const {
    if (owner_hash < next_hash) return owner_hash < hash && hash < next_hash;
    return owner_hash < hash || hash < next_hash;  // the last range wraps
  }
};

std::optional<Nsec3Range> parseNsec3(const dns::Record& record) {
  const auto& rd = record.rdata;
  if (record.type != rrtype::kNsec3 || rd.size() < 5) return std::nullopt;
  Nsec3Range range;
  range.flags = rd[1];
  range.iterations = static_cast<uint16_t>((rd[2] << 8) | rd[3]);
  const size_t salt_length = rd[4];
  if (rd.size() < 6 + salt_length) return std::nullopt;
  range.salt.assign(rd.begin() + 5, rd.begin() + 5 + static_cast<long>(salt_length));
  const size_t hash_length = rd[5 + salt_length];
  const size_t at = 6 + salt_length;
  if (rd.size() < at + hash_length) return std::nullopt;
  range.next_hash.assign(rd.begin() + static_cast<long>(at),
                         rd.begin() + static_cast<long>(at + hash_length));
  auto owner = dnssec::base32HexDecode(record.owner.label(0));
  if (!owner) return std::nullopt;
  range.owner_hash = *owner;
  return range;
}

/// The NSEC3 ranges (not matches) of an answer's authority section.
std::vector<Nsec3Range> nsec3Ranges(const ClientResult& r) {
  std::vector<Nsec3Range> out;
  for (const auto& record : r.authority) {
    if (auto range = parseNsec3(record)) out.push_back(*range);
  }
  return out;
}

std::vector<uint8_t> hashOf(const std::string& name, const Nsec3Range& params) {
  return dnssec::nsec3Hash(N(name.c_str()), 1, params.iterations, params.salt);
}

/// The first "<prefix><i>.<zone>" whose hash one of `ranges` covers (or,
/// with `covered` false, none of them covers).
std::string nameIn(const std::vector<Nsec3Range>& ranges, const std::string& prefix,
                   const std::string& zone, bool covered = true) {
  for (int i = 0; i < 10000; ++i) {
    const std::string name = prefix + std::to_string(i) + "." + zone;
    const auto hash = hashOf(name, ranges.front());
    const bool in = std::any_of(ranges.begin(), ranges.end(),
                                [&](const Nsec3Range& range) { return range.covers(hash); });
    if (in == covered) return name;
  }
  ADD_FAILURE() << "no name found under " << zone;
  return "none." + zone;
}

// --- The fixture ------------------------------------------------------------------

class EngineAggressive : public ::testing::Test {
 protected:
  void SetUp() override { internet_ = std::make_unique<SignedInternet>(addSignedInternet(net_)); }

  EngineConfig validating() const {
    EngineConfig config = defaultConfig(net_);
    config.validation.anchors = {internet_->root_ds};
    return config;
  }

  /// The warm-up: a real negative answer from upstream, secure.
  ClientResult warmUp(Scenario& s, const char* qname, uint16_t qtype, uint16_t rcode) {
    auto r = s.resolve(qname, qtype, withDo());
    EXPECT_FALSE(r.from_cache);
    EXPECT_GE(r.upstream_packets, 1u);
    EXPECT_EQ(r.rcode, rcode) << qname << ": " << r.ede_text << "\n" << s.sentLog();
    EXPECT_TRUE(r.ad()) << qname;
    return r;
  }

  /// A name answered from the ranges by the engine: nothing sent upstream.
  ClientResult synthesised(Scenario& s, const char* qname, uint16_t qtype,
                           const QueryOptions& options = withDo()) {
    const size_t sent = s.sent().size();
    auto r = s.resolve(qname, qtype, options);
    EXPECT_TRUE(r.answered) << qname;
    EXPECT_FALSE(r.from_cache) << "the scenario's hot path does not synthesise";
    EXPECT_EQ(r.upstream_packets, 0u) << qname << "\n" << s.sentLog();
    EXPECT_EQ(s.sent().size(), sent) << qname;
    return r;
  }

  /// A name the engine had to ask for.
  ClientResult asked(Scenario& s, const char* qname, uint16_t qtype) {
    auto r = s.resolve(qname, qtype, withDo());
    EXPECT_TRUE(r.answered) << qname;
    EXPECT_GE(r.upstream_packets, 1u) << qname << " was not asked for";
    return r;
  }

  FakeNet net_;
  std::unique_ptr<SignedInternet> internet_;
};

// secure.com's NSEC chain, in canonical order: secure.com, alias, a.b.c,
// dname, mail, ns1, to-badsig, to-insecure, to-net, *.wild, www. The
// NXDOMAIN for nothere.secure.com brings mail -> ns1 (covering it) and
// the apex NSEC secure.com -> alias (covering *.secure.com).

TEST_F(EngineAggressive, NxdomainFromNsecRanges) {
  Scenario s(net_, validating());
  const auto warm = warmUp(s, "nothere.secure.com", rrtype::kA, dns::rcode::kNxDomain);
  EXPECT_EQ(ownersOf(warm.authority, rrtype::kNsec),
            (std::set<std::string>{"mail.secure.com.", "secure.com."}));
  EXPECT_EQ(s.engine().stats().ranges_stored, 2u);

  // Deep names too: the range that covers nope.secure.com covers
  // everything below it (RFC 8020 holds for proven NXDOMAINs).
  for (const char* junk : {"nope.secure.com", "untitled.mp3.secure.com", "x.y.mb.secure.com"}) {
    SCOPED_TRACE(junk);
    auto r = synthesised(s, junk, rrtype::kA);
    EXPECT_EQ(r.rcode, dns::rcode::kNxDomain) << r.ede_text;
    EXPECT_TRUE(r.ad());
    EXPECT_TRUE(r.answer.empty());
    EXPECT_EQ(ownersOf(r.authority, rrtype::kSoa), std::set<std::string>{"secure.com."});
    EXPECT_EQ(ownersOf(r.authority, rrtype::kNsec),
              (std::set<std::string>{"mail.secure.com.", "secure.com."}));
    EXPECT_EQ(countType(r.authority, rrtype::kNsec), 2u) << "each record once";
    EXPECT_TRUE(provenByAuthority(r, junk, rrtype::kA));
  }
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 3u);
  EXPECT_EQ(s.engine().stats().synth_nodata, 0u);
  EXPECT_EQ(s.engine().stats().synth_wildcard, 0u);
  EXPECT_EQ(s.engine().stats().ranges_stored, 2u) << "nothing new was validated";

  // Without DO: AD for a client that asks for it, the SOA, no proofs.
  QueryOptions ad;
  ad.ad = true;
  auto plain = synthesised(s, "noway.secure.com", rrtype::kAaaa, ad);
  EXPECT_EQ(plain.rcode, dns::rcode::kNxDomain);
  EXPECT_TRUE(plain.ad());
  EXPECT_EQ(countType(plain.authority, rrtype::kSoa), 1u);
  EXPECT_EQ(countType(plain.authority, rrtype::kNsec), 0u);
  EXPECT_EQ(countType(plain.authority, rrtype::kRrsig), 0u);
  auto neither = synthesised(s, "noway.secure.com", rrtype::kA, QueryOptions{});
  EXPECT_EQ(neither.rcode, dns::rcode::kNxDomain);
  EXPECT_FALSE(neither.ad());

  // Names in ranges the cache does not hold (dname -> mail, ns1 ->
  // to-badsig) are asked for.
  for (const char* name : {"junk.secure.com", "random.secure.com"}) {
    auto outside = asked(s, name, rrtype::kA);
    EXPECT_EQ(outside.rcode, dns::rcode::kNxDomain);
    EXPECT_TRUE(outside.ad());
  }
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 5u);
}

TEST_F(EngineAggressive, NxdomainFromNsec3Ranges) {
  Scenario s(net_, validating());
  const auto warm = warmUp(s, "nothere.secure.net", rrtype::kA, dns::rcode::kNxDomain);
  const auto ranges = nsec3Ranges(warm);
  ASSERT_FALSE(ranges.empty());
  const auto proofs = ownersOf(warm.authority, rrtype::kNsec3);
  EXPECT_GE(proofs.size(), 2u);  // the apex matches; next closer and wildcard covered
  EXPECT_EQ(s.engine().stats().ranges_stored, proofs.size());

  // Names whose hash falls in a range the warm-up brought.
  const std::string junk = nameIn(ranges, "junk", "secure.net");
  const std::string more = "a.b." + nameIn(ranges, "x", "secure.net");  // next closer x<i>
  for (const std::string& name : {junk, more}) {
    SCOPED_TRACE(name);
    auto r = synthesised(s, name.c_str(), rrtype::kA);
    EXPECT_EQ(r.rcode, dns::rcode::kNxDomain) << r.ede_text;
    EXPECT_TRUE(r.ad());
    EXPECT_EQ(ownersOf(r.authority, rrtype::kSoa), std::set<std::string>{"secure.net."});
    const auto used = ownersOf(r.authority, rrtype::kNsec3);
    EXPECT_TRUE(std::includes(proofs.begin(), proofs.end(), used.begin(), used.end()));
    EXPECT_EQ(countType(r.authority, rrtype::kNsec3), used.size()) << "each record once";
    EXPECT_TRUE(provenByAuthority(r, name.c_str(), rrtype::kA));
  }
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 2u);

  // A name whose hash falls in a range not cached is asked for.
  const std::string elsewhere = nameIn(ranges, "junk", "secure.net", /*covered=*/false);
  auto outside = asked(s, elsewhere.c_str(), rrtype::kA);
  EXPECT_EQ(outside.rcode, dns::rcode::kNxDomain);
  EXPECT_TRUE(outside.ad());
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 2u);
}

TEST_F(EngineAggressive, NodataFromTheNameOwnRecord) {
  Scenario s(net_, validating());
  // NSEC: www.secure.com has A and AAAA; TXT and MX are denied by its NSEC.
  warmUp(s, "www.secure.com", rrtype::kTxt, dns::rcode::kNoError);
  auto mx = synthesised(s, "www.secure.com", rrtype::kMx);
  EXPECT_EQ(mx.rcode, dns::rcode::kNoError);
  EXPECT_TRUE(mx.answer.empty());
  EXPECT_TRUE(mx.ad());
  EXPECT_EQ(ownersOf(mx.authority, rrtype::kNsec), std::set<std::string>{"www.secure.com."});
  EXPECT_TRUE(provenByAuthority(mx, "www.secure.com", rrtype::kMx));
  // The types it has are asked for, not denied.
  auto a = asked(s, "www.secure.com", rrtype::kA);
  EXPECT_EQ(a.rdataOf(rrtype::kA), std::vector<std::string>{"192.0.2.80"});

  // NSEC3: the same at www.secure.net.
  warmUp(s, "www.secure.net", rrtype::kTxt, dns::rcode::kNoError);
  auto n3 = synthesised(s, "www.secure.net", rrtype::kMx);
  EXPECT_EQ(n3.rcode, dns::rcode::kNoError);
  EXPECT_TRUE(n3.answer.empty());
  EXPECT_TRUE(n3.ad());
  EXPECT_EQ(countType(n3.authority, rrtype::kNsec3), 1u);
  EXPECT_TRUE(provenByAuthority(n3, "www.secure.net", rrtype::kMx));
  EXPECT_EQ(s.engine().stats().synth_nodata, 2u);
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 0u);
}

TEST_F(EngineAggressive, NodataAtAnEmptyNonTerminal) {
  Scenario s(net_, validating());
  // alias -> a.b.c covers b.c.secure.com and c.secure.com, both empty
  // non-terminals (their next name lies below them).
  warmUp(s, "b.c.secure.com", rrtype::kA, dns::rcode::kNoError);
  for (const char* ent : {"c.secure.com", "b.c.secure.com"}) {
    auto r = synthesised(s, ent, rrtype::kAaaa);
    EXPECT_EQ(r.rcode, dns::rcode::kNoError) << ent;
    EXPECT_TRUE(r.answer.empty());
    EXPECT_TRUE(r.ad());
    EXPECT_EQ(ownersOf(r.authority, rrtype::kNsec), std::set<std::string>{"alias.secure.com."});
    EXPECT_TRUE(provenByAuthority(r, ent, rrtype::kAaaa));
  }
  EXPECT_EQ(s.engine().stats().synth_nodata, 2u);
}

TEST_F(EngineAggressive, WildcardNodata) {
  Scenario s(net_, validating());
  // *.wild.secure.com has only A: TXT at any name it covers is NODATA.
  warmUp(s, "foo.wild.secure.com", rrtype::kTxt, dns::rcode::kNoError);
  auto r = synthesised(s, "bar.wild.secure.com", rrtype::kMx);
  EXPECT_EQ(r.rcode, dns::rcode::kNoError);
  EXPECT_TRUE(r.answer.empty());
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(ownersOf(r.authority, rrtype::kNsec), std::set<std::string>{"*.wild.secure.com."});
  EXPECT_TRUE(provenByAuthority(r, "bar.wild.secure.com", rrtype::kMx));
  EXPECT_EQ(s.engine().stats().synth_nodata, 1u);

  // NSEC3 (RFC 5155 section 8.7): the closest encloser wild.secure.net, the
  // next closer name's cover, the wildcard's own record. Another name whose
  // next closer the same record covers.
  const auto warm3 = warmUp(s, "foo.wild.secure.net", rrtype::kTxt, dns::rcode::kNoError);
  const auto proofs = ownersOf(warm3.authority, rrtype::kNsec3);
  EXPECT_EQ(proofs.size(), 3u);
  const std::string name = nameIn(nsec3Ranges(warm3), "n", "wild.secure.net");
  auto r3 = synthesised(s, name.c_str(), rrtype::kMx);
  EXPECT_EQ(r3.rcode, dns::rcode::kNoError);
  EXPECT_TRUE(r3.answer.empty());
  EXPECT_TRUE(r3.ad());
  EXPECT_EQ(ownersOf(r3.authority, rrtype::kNsec3), proofs);
  EXPECT_TRUE(provenByAuthority(r3, name.c_str(), rrtype::kMx));
  EXPECT_EQ(s.engine().stats().synth_nodata, 2u);
}

// RFC 8198 section 5.3: another name under a cached wildcard is answered
// from the wildcard's RRset, expanded, with the record that proves the name
// itself does not exist. With QNAME minimisation the warm-up also asks for
// the empty non-terminal wild.<zone> (a NODATA with the zone's SOA);
// without it, the wildcard answer is all the resolver saw of the zone.
TEST_F(EngineAggressive, WildcardAnswerFromTheCachedWildcard) {
  for (bool minimise : {true, false}) {
    SCOPED_TRACE(minimise ? "QNAME minimisation" : "no QNAME minimisation");
    EngineConfig config = validating();
    config.qname_minimisation = minimise;
    Scenario s(net_, config);
    auto warm = s.resolve("foo.wild.secure.com", rrtype::kA, withDo());
    ASSERT_EQ(warm.rcode, dns::rcode::kNoError) << warm.ede_text << "\n" << s.sentLog();
    ASSERT_TRUE(warm.ad());
    for (const char* name : {"bar.wild.secure.com", "a.b.wild.secure.com"}) {
      SCOPED_TRACE(name);
      auto r = synthesised(s, name, rrtype::kA);
      EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text;
      EXPECT_TRUE(r.ad());
      ASSERT_EQ(r.answer.size(), 2u);  // A and its RRSIG, owned by the name asked
      EXPECT_EQ(r.rdataOf(rrtype::kA), std::vector<std::string>{"192.0.2.77"});
      for (const auto& record : r.answer) EXPECT_EQ(record.owner, N(name));
      EXPECT_EQ(ownersOf(r.authority, rrtype::kNsec), std::set<std::string>{"*.wild.secure.com."});
      EXPECT_EQ(countType(r.authority, rrtype::kRrsig), 1u);
      EXPECT_EQ(countType(r.authority, rrtype::kSoa), 0u);
      // What a validator checks (RFC 4035 section 5.3.4): the name is covered.
      dnssec::Policy policy;
      dnssec::Budget budget;
      const auto denial = dnssec::proveWildcardAnswer(
          N(name), N("wild.secure.com"), N("secure.com"), proofRrsets(r), policy, budget);
      EXPECT_EQ(denial.result, dnssec::DenialResult::kProven) << denial.reason;
    }
    EXPECT_EQ(s.engine().stats().synth_wildcard, 2u);

    // NSEC3: the warm-up's proof is the record covering the next closer
    // name foo.wild.secure.net; a name whose next closer it covers too.
    auto warm3 = s.resolve("foo.wild.secure.net", rrtype::kA, withDo());
    ASSERT_EQ(warm3.rcode, dns::rcode::kNoError) << warm3.ede_text;
    ASSERT_TRUE(warm3.ad());
    const auto ranges = nsec3Ranges(warm3);
    ASSERT_EQ(ranges.size(), 1u);
    const std::string name = nameIn(ranges, "n", "wild.secure.net");
    auto r = synthesised(s, name.c_str(), rrtype::kA);
    EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text;
    EXPECT_TRUE(r.ad());
    EXPECT_EQ(r.rdataOf(rrtype::kA), std::vector<std::string>{"192.0.2.78"});
    EXPECT_EQ(ownersOf(r.authority, rrtype::kNsec3), ownersOf(warm3.authority, rrtype::kNsec3));
    dnssec::Policy policy;
    dnssec::Budget budget;
    const auto denial = dnssec::proveWildcardAnswer(
        N(name.c_str()), N("wild.secure.net"), N("secure.net"), proofRrsets(r), policy, budget);
    EXPECT_EQ(denial.result, dnssec::DenialResult::kProven) << denial.reason;
    // One whose next closer another range holds is asked for.
    const std::string other = nameIn(ranges, "n", "wild.secure.net", /*covered=*/false);
    auto elsewhere = asked(s, other.c_str(), rrtype::kA);
    EXPECT_EQ(elsewhere.rdataOf(rrtype::kA), std::vector<std::string>{"192.0.2.78"});
    EXPECT_EQ(s.engine().stats().synth_wildcard, 3u);
    // The wildcard has no AAAA: no answer made of the A RRset.
    EXPECT_NE(hotPath(s, name.c_str(), rrtype::kAaaa, withDo(), config).answer.synthesised,
              Synthesis::kWildcard);
  }
}

// net is signed with NSEC3 opt-out: its ranges may hide unsigned
// delegations (RFC 5155 section 9.2), so a name in them is never proven
// not to exist, even when the cache holds every record a proof would use.
TEST_F(EngineAggressive, OptOutRangesNeverProveNxdomain) {
  Scenario s(net_, validating());
  // Secure NODATA answers at net's own names store their (opt-out)
  // records, and net's zone entry.
  std::vector<ClientResult> warm;
  for (const char* name : {"net", "a.gtld-servers.net", "b.gtld-servers.net", "gtld-servers.net",
                           "a.root-servers.net", "b.root-servers.net", "root-servers.net"}) {
    warm.push_back(warmUp(s, name, rrtype::kTxt, dns::rcode::kNoError));
  }
  std::vector<Nsec3Range> ranges;
  for (const auto& r : warm) {
    for (const auto& range : nsec3Ranges(r)) {
      EXPECT_EQ(range.flags & 1, 1) << "net's chain is opt-out";
      ranges.push_back(range);
    }
  }
  ASSERT_FALSE(ranges.empty());
  EXPECT_GE(s.engine().stats().ranges_stored, 1u);
  // A junk name whose next closer and wildcard the cached records cover:
  // everything a proof needs is there, but opt-out.
  const auto star = hashOf("*.net", ranges.front());
  ASSERT_TRUE(std::any_of(ranges.begin(), ranges.end(), [&](const Nsec3Range& range) {
    return range.covers(star);
  })) << "the ranges held cover *.net";
  const std::string junk = nameIn(ranges, "junk", "net");
  auto r = asked(s, junk.c_str(), rrtype::kA);
  EXPECT_EQ(r.rcode, dns::rcode::kNxDomain) << r.ede_text;
  EXPECT_FALSE(r.ad()) << "opt-out: insecure";
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 0u);
  auto hot = hotPath(s, junk.c_str(), rrtype::kA, withDo(), validating());
  EXPECT_NE(hot.answer.synthesised, Synthesis::kNxdomain);
  // The NODATA answers themselves were not opt-out-dependent: synthesised.
  auto nodata = synthesised(s, "a.gtld-servers.net", rrtype::kMx);
  EXPECT_EQ(nodata.rcode, dns::rcode::kNoError);
  EXPECT_TRUE(nodata.ad());
}

// Ranges live as long as their records' TTL (300 s, the SOA MINIMUM of
// secure.com and secure.net): after it, the name goes upstream again.
TEST_F(EngineAggressive, RangesExpire) {
  struct Case {
    const char* zone;
    const char* warm;
  };
  for (const Case c :
       {Case{"secure.com", "nothere.secure.com"}, Case{"secure.net", "nothere.secure.net"}}) {
    SCOPED_TRACE(c.zone);
    Scenario s(net_, validating());
    const auto warm = warmUp(s, c.warm, rrtype::kA, dns::rcode::kNxDomain);
    uint32_t ttl = UINT32_MAX;
    for (const auto& record : warm.authority) {
      if (record.type == rrtype::kNsec || record.type == rrtype::kNsec3) {
        ttl = std::min(ttl, record.ttl);
      }
    }
    ASSERT_EQ(ttl, 300u);
    std::string junk = "nope." + std::string(c.zone);
    if (auto ranges = nsec3Ranges(warm); !ranges.empty()) junk = nameIn(ranges, "junk", c.zone);

    // A second before: still answered from the ranges, with the TTL left.
    s.advance((ttl - 1) * 1000);
    auto before = synthesised(s, junk.c_str(), rrtype::kA);
    EXPECT_EQ(before.rcode, dns::rcode::kNxDomain);
    EXPECT_TRUE(before.ad());
    for (const auto& record : before.authority) {
      EXPECT_LE(record.ttl, 1u) << dns::recordToText(record);
    }
    // Once they expired: asked again, and the fresh answer stored again.
    s.advance(2000);
    const uint64_t stored = s.engine().stats().ranges_stored;
    auto after = asked(s, junk.c_str(), rrtype::kA);
    EXPECT_EQ(after.rcode, dns::rcode::kNxDomain);
    EXPECT_TRUE(after.ad());
    EXPECT_GT(s.engine().stats().ranges_stored, stored);
    EXPECT_EQ(s.engine().stats().synth_nxdomain, 1u);
  }
}

TEST_F(EngineAggressive, NothingWithoutValidation) {
  Scenario s(net_);  // no trust anchor: validation off
  auto warm = s.resolve("nothere.secure.com", rrtype::kA, withDo());
  EXPECT_EQ(warm.rcode, dns::rcode::kNxDomain);
  EXPECT_FALSE(warm.ad());
  asked(s, "nope.secure.com", rrtype::kA);  // in the range that proved nothere
  EXPECT_EQ(s.engine().stats().ranges_stored, 0u);
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 0u);
}

TEST_F(EngineAggressive, NothingWhenTurnedOff) {
  EngineConfig config = validating();
  config.aggressive_nsec = false;
  Scenario s(net_, config);
  warmUp(s, "nothere.secure.com", rrtype::kA, dns::rcode::kNxDomain);
  EXPECT_EQ(s.engine().stats().ranges_stored, 0u);
  auto r = asked(s, "nope.secure.com", rrtype::kA);  // in the range that proved nothere
  EXPECT_EQ(r.rcode, dns::rcode::kNxDomain);
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 0u);
}

// Ranges stored by a worker with aggressive NSEC on are not used by one
// where it is off, or where validation is off (the reader's switches).
TEST_F(EngineAggressive, ReadersWithItOffDoNotUseStoredRanges) {
  Scenario s(net_, validating());
  warmUp(s, "nothere.secure.com", rrtype::kA, dns::rcode::kNxDomain);
  ASSERT_EQ(s.engine().stats().ranges_stored, 2u);
  ASSERT_EQ(synthesised(s, "nope.secure.com", rrtype::kA).rcode, dns::rcode::kNxDomain);

  EngineConfig off = validating();
  off.aggressive_nsec = false;
  EXPECT_EQ(hotPath(s, "noway.secure.com", rrtype::kA, withDo(), off).answer.result,
            HotPathResult::kMiss);
  s.newWorker(off);
  asked(s, "noway.secure.com", rrtype::kA);
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 0u);

  EngineConfig unvalidated = defaultConfig(net_);
  EXPECT_EQ(hotPath(s, "nowhere.secure.com", rrtype::kA, withDo(), unvalidated).answer.result,
            HotPathResult::kMiss);
  s.newWorker(unvalidated, 3);
  asked(s, "nowhere.secure.com", rrtype::kA);
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 0u);
}

// insecure.com is an unsigned delegation in com (NSEC). com's NSEC at
// insecure.com covers every name below it, but a record at a delegation
// says nothing about the child's names (RFC 6840 section 4.1).
TEST_F(EngineAggressive, NamesBelowAnUnsignedDelegationAreAskedFor) {
  Scenario s(net_, validating());
  // The secure NODATA for insecure.com DS stores com's NSEC at insecure.com
  // (NS, no DS) and com's zone entry.
  auto no_ds = warmUp(s, "insecure.com", rrtype::kDs, dns::rcode::kNoError);
  EXPECT_EQ(ownersOf(no_ds.authority, rrtype::kNsec), std::set<std::string>{"insecure.com."});
  EXPECT_GE(s.engine().stats().ranges_stored, 1u);
  // The child zone answers for its names: NXDOMAIN, insecure.
  auto r = asked(s, "junk.insecure.com", rrtype::kA);
  EXPECT_EQ(r.rcode, dns::rcode::kNxDomain);
  EXPECT_FALSE(r.ad());
  EXPECT_EQ(s.sentTo(kInsecureCom), 1u) << s.sentLog();
  auto data = asked(s, "www.insecure.com", rrtype::kA);
  EXPECT_EQ(data.rdataOf(rrtype::kA), std::vector<std::string>{"192.0.2.82"});
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 0u);
  EXPECT_EQ(s.engine().stats().synth_nodata, 0u);
  EXPECT_EQ(hotPath(s, "more.insecure.com", rrtype::kA, withDo(), validating()).answer.result,
            HotPathResult::kMiss);
}

// The apex NSEC of secure.com (the child's side: NS, SOA, no DS) would
// deny secure.com's DS; the DS lives in com. With secure.com's own anchor
// the DS is never needed, and com's referrals here come without it: when
// a client asks for it, nothing but the ranges could answer.
TEST_F(EngineAggressive, DsIsNeverSynthesised) {
  for (const char* tld : {kGtldA, kGtldB}) {
    net_.server(tld).tamper = [](std::span<const uint8_t>, std::vector<Delivery>& replies) {
      for (auto& d : replies) {
        d.packet = rewriteResponse(d.packet, [](dns::Section section, const dns::Record& r) {
          const uint16_t type = r.type == rrtype::kRrsig ? typeCovered(r.rdata) : r.type;
          return section == dns::Section::kAuthority && type == rrtype::kDs;
        });
      }
    };
  }
  EngineConfig config = defaultConfig(net_);
  config.validation.anchors = {internet_->secure_com_ds};
  Scenario s(net_, config);
  warmUp(s, "nothere.secure.com", rrtype::kA, dns::rcode::kNxDomain);
  ASSERT_EQ(synthesised(s, "nope.secure.com", rrtype::kA).rcode, dns::rcode::kNxDomain);
  auto ds = asked(s, "secure.com", rrtype::kDs);
  EXPECT_EQ(ds.rcode, dns::rcode::kNoError) << ds.ede_text;
  EXPECT_EQ(countType(ds.answer, rrtype::kDs), 1u) << s.sentLog();
  EXPECT_EQ(s.engine().stats().synth_nodata, 0u);
}

// --- The hot path -----------------------------------------------------------------

// The worker's hot path answers from the same ranges, straight from the
// shared cache, with the engine's answer to the byte (but the ID).
TEST_F(EngineAggressive, HotPathSynthesisesTheSameAnswers) {
  const EngineConfig config = validating();
  Scenario s(net_, config);
  warmUp(s, "nothere.secure.com", rrtype::kA, dns::rcode::kNxDomain);
  const auto warm3 = warmUp(s, "nothere.secure.net", rrtype::kA, dns::rcode::kNxDomain);
  ASSERT_EQ(s.resolve("foo.wild.secure.com", rrtype::kA, withDo()).rcode, dns::rcode::kNoError);
  const std::string junk3 = nameIn(nsec3Ranges(warm3), "junk", "secure.net");

  struct Case {
    std::string name;
    uint16_t type;
    Synthesis kind;
  };
  const std::vector<Case> cases = {{"nope.secure.com", rrtype::kA, Synthesis::kNxdomain},
                                   {junk3, rrtype::kAaaa, Synthesis::kNxdomain},
                                   {"bar.wild.secure.com", rrtype::kA, Synthesis::kWildcard}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (const QueryOptions& options : {withDo(), QueryOptions{}}) {
      const size_t sent = s.sent().size();
      const HotPath hot = hotPath(s, c.name.c_str(), c.type, options, config);
      ASSERT_EQ(hot.answer.result, HotPathResult::kAnswered);
      EXPECT_EQ(hot.answer.synthesised, c.kind);
      EXPECT_FALSE(hot.answer.local_root);
      EXPECT_EQ(s.sent().size(), sent);
      EXPECT_EQ(hot.parsed.ad(), options.dnssec_ok);
      // The engine, asked the same, answers the same from the ranges.
      auto engine = synthesised(s, c.name.c_str(), c.type, options);
      EXPECT_TRUE(sameAnswer(hot.parsed, engine));
    }
  }
  // Without aggressive NSEC the hot path misses the same names.
  EngineConfig off = config;
  off.aggressive_nsec = false;
  for (const Case& c : cases) {
    EXPECT_EQ(hotPath(s, c.name.c_str(), c.type, withDo(), off).answer.result, HotPathResult::kMiss)
        << c.name;
  }
}

}  // namespace
}  // namespace shoal::resolver::testing_util
