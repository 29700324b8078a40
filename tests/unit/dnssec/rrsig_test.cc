#include "dnssec/rrsig.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dnssec/keys.h"
#include "tests/unit/dnssec/signer.h"

namespace shoal::dnssec {
namespace {

using testing_util::makeRrset;
using testing_util::name;
using testing_util::SignSpec;
using testing_util::TestKey;
using Rdatas = std::vector<std::vector<uint8_t>>;

// A fixed wall clock: 2023-11-14 22:13:20 UTC.
constexpr int64_t kNow = 1'700'000'000;
constexpr uint32_t kHour = 3600;
constexpr uint32_t kDay = 86400;

SignSpec window(int64_t now = kNow) {
  SignSpec spec;
  spec.inception = static_cast<uint32_t>(now - kHour);
  spec.expiration = static_cast<uint32_t>(now + 7 * kDay);
  return spec;
}

dns::Rrset wwwA() {
  return makeRrset(
      "www.example.com. 3600 IN A 192.0.2.1\n"
      "www.example.com. 3600 IN A 192.0.2.2\n"
      "www.example.com. 3600 IN A 198.51.100.7\n");
}

struct Check {
  RrsetResult result;
  uint32_t spent = 0;  // public-key operations taken from the budget
  bool exhausted = false;
};

Check verify(const dns::Rrset& rrset, const Rdatas& keys, int64_t now = kNow,
             const Policy& policy = {}, const char* zone = "example.com.") {
  Budget budget;
  const uint32_t before = budget.verifications;
  Check check;
  check.result = verifyRrset(rrset, name(zone), keys, now, policy, budget);
  check.spent = before - budget.verifications;
  check.exhausted = budget.exhausted;
  return check;
}

/// One key per test fixture: ECDSA P-256 is quick to make and to use.
class RrsigTest : public ::testing::Test {
 protected:
  RrsigTest() : zsk_(TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."), 256)) {}

  dns::Rrset signedA(const SignSpec& spec) const {
    dns::Rrset rrset = wwwA();
    rrset.sigs.push_back(zsk_.sign(rrset, spec));
    return rrset;
  }
  Rdatas keys() const { return {zsk_.dnskey()}; }

  TestKey zsk_;
};

// --- Every algorithm --------------------------------------------------------

class AlgorithmTest : public ::testing::TestWithParam<uint8_t> {};

TEST_P(AlgorithmTest, SignsAndVerifies) {
  const TestKey key = TestKey::generate(GetParam(), name("example.com."), 256);
  dns::Rrset rrset = wwwA();
  rrset.sigs.push_back(key.sign(rrset, window()));
  const Check check = verify(rrset, {key.dnskey()});
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
  EXPECT_EQ(check.spent, 1u);
  EXPECT_FALSE(check.result.wildcard);
  EXPECT_EQ(check.result.ttl, 3600u);
}

TEST_P(AlgorithmTest, RawSignatureVerifies) {
  const TestKey key = TestKey::generate(GetParam(), name("example.com."), 256);
  const std::vector<uint8_t> data = {'s', 'h', 'o', 'a', 'l'};
  std::vector<uint8_t> sig = key.signData(data);
  EXPECT_TRUE(verifySignature(GetParam(), key.dnskey(), data, sig));
  // The algorithm must match the key's.
  const uint8_t other = GetParam() == alg::kEd25519 ? alg::kEd448 : alg::kEd25519;
  EXPECT_FALSE(verifySignature(other, key.dnskey(), data, sig));
  testing_util::flipLastOctet(sig);
  EXPECT_FALSE(verifySignature(GetParam(), key.dnskey(), data, sig));
}

TEST_P(AlgorithmTest, KeyCacheGivesTheSameVerdicts) {
  const TestKey key = TestKey::generate(GetParam(), name("example.com."), 256);
  const std::vector<uint8_t> data = {'s', 'h', 'o', 'a', 'l'};
  std::vector<uint8_t> sig = key.signData(data);
  KeyCache cache(2);
  // Decoded once, then reused: the cached context verifies again and again.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(verifySignature(GetParam(), key.dnskey(), data, sig, &cache));
  }
  EXPECT_EQ(cache.size(), 1u);
  std::vector<uint8_t> other_data = data;
  other_data.push_back('!');
  EXPECT_FALSE(verifySignature(GetParam(), key.dnskey(), other_data, sig, &cache));
  testing_util::flipLastOctet(sig);
  EXPECT_FALSE(verifySignature(GetParam(), key.dnskey(), data, sig, &cache));
  // A failed check leaves the cached context usable.
  testing_util::flipLastOctet(sig);
  EXPECT_TRUE(verifySignature(GetParam(), key.dnskey(), data, sig, &cache));
  // Bounded: more keys than its capacity start it afresh.
  for (int i = 0; i < 3; ++i) {
    const TestKey other = TestKey::generate(GetParam(), name("example.com."), 256);
    EXPECT_TRUE(verifySignature(GetParam(), other.dnskey(), data, other.signData(data), &cache));
  }
  EXPECT_LE(cache.size(), 2u);
}

TEST_P(AlgorithmTest, TamperedRdataFails) {
  const TestKey key = TestKey::generate(GetParam(), name("example.com."), 256);
  dns::Rrset rrset = wwwA();
  rrset.sigs.push_back(key.sign(rrset, window()));
  rrset.rdatas[1][3] ^= 0x01;  // 192.0.2.2 -> 192.0.2.3
  const Check check = verify(rrset, {key.dnskey()});
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnssecBogus);
  EXPECT_NE(check.result.verdict.reason.find("does not verify"), std::string::npos)
      << check.result.verdict.reason;
}

TEST_P(AlgorithmTest, TamperedSignatureFails) {
  const TestKey key = TestKey::generate(GetParam(), name("example.com."), 256);
  dns::Rrset rrset = wwwA();
  rrset.sigs.push_back(key.sign(rrset, window()));
  testing_util::flipLastOctet(rrset.sigs[0]);
  const Check check = verify(rrset, {key.dnskey()});
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnssecBogus);
  // A failed verification leaves nothing on OpenSSL's error queue (the TLS
  // code on the same thread reads it).
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_P(AlgorithmTest, TamperedFieldFails) {
  const TestKey key = TestKey::generate(GetParam(), name("example.com."), 256);
  dns::Rrset rrset = wwwA();
  rrset.sigs.push_back(key.sign(rrset, window()));
  rrset.sigs[0][7] ^= 0x01;  // original TTL: signed over, so the signature breaks
  EXPECT_EQ(verify(rrset, {key.dnskey()}).result.verdict.ede, ede::kDnssecBogus);
}

INSTANTIATE_TEST_SUITE_P(Supported, AlgorithmTest,
                         ::testing::Values(alg::kRsaSha256, alg::kRsaSha512,
                                           alg::kEcdsaP256Sha256, alg::kEcdsaP384Sha384,
                                           alg::kEd25519, alg::kEd448),
                         [](const auto& param_info) {
                           return "Algorithm" + std::to_string(param_info.param);
                         });

TEST(Sha1Test, RsaSha1OnlyWithTheSwitch) {
  for (const uint8_t algorithm : {alg::kRsaSha1, alg::kRsaSha1Nsec3Sha1}) {
    const TestKey key = TestKey::generate(algorithm, name("example.com."), 256);
    dns::Rrset rrset = wwwA();
    rrset.sigs.push_back(key.sign(rrset, window()));
    Policy with_sha1;
    with_sha1.sha1_signatures = true;
    const Check on = verify(rrset, {key.dnskey()}, kNow, with_sha1);
    EXPECT_TRUE(on.result.verdict.isSecure()) << on.result.verdict.reason;

    Policy without_sha1;
    without_sha1.sha1_signatures = false;
    const Check off = verify(rrset, {key.dnskey()}, kNow, without_sha1);
    EXPECT_TRUE(off.result.verdict.isBogus());
    EXPECT_EQ(off.result.verdict.ede, ede::kDnskeyMissing);
    EXPECT_NE(off.result.verdict.reason.find("not supported"), std::string::npos);
    EXPECT_EQ(off.spent, 0u);
  }
}

TEST(RsaTest, LargerKeyAndLongExponentForm) {
  const TestKey key = TestKey::generate(alg::kRsaSha256, name("example.com."), 256, 2048);
  const std::vector<uint8_t> data = {1, 2, 3};
  const auto sig = key.signData(data);
  ASSERT_TRUE(verifySignature(alg::kRsaSha256, key.dnskey(), data, sig));
  // RFC 3110 section 2: the exponent length may also be written as 0 and
  // two octets. Same key, same signature.
  std::vector<uint8_t> long_form(key.dnskey().begin(), key.dnskey().begin() + 4);
  const uint8_t exponent_length = key.dnskey()[4];
  long_form.insert(long_form.end(), {0, 0, exponent_length});
  long_form.insert(long_form.end(), key.dnskey().begin() + 5, key.dnskey().end());
  EXPECT_TRUE(verifySignature(alg::kRsaSha256, long_form, data, sig));
}

TEST(RsaTest, ModulusBelow1024BitsIsRefused) {
  const TestKey key = TestKey::generate(alg::kRsaSha256, name("example.com."), 256, 512);
  const std::vector<uint8_t> data = {1, 2, 3};
  const auto sig = key.signData(data);
  ASSERT_FALSE(sig.empty());
  EXPECT_FALSE(verifySignature(alg::kRsaSha256, key.dnskey(), data, sig));
}

TEST(RsaTest, ModulusAbove4096BitsIsRefused) {
  // A 1024-bit key with its modulus padded to 4104 bits (no such key can be
  // made quickly in a test): refused before any arithmetic.
  const TestKey key = TestKey::generate(alg::kRsaSha256, name("example.com."), 256);
  std::vector<uint8_t> big = key.dnskey();
  big.insert(big.begin() + 4 + 1 + big[4], 385, 0xFF);
  const std::vector<uint8_t> sig(513, 0x01);
  EXPECT_FALSE(verifySignature(alg::kRsaSha256, big, std::vector<uint8_t>{1}, sig));
}

TEST(RsaTest, ExponentOver64BitsIsRefused) {
  // A real key with e = 2^64 + 1 (65 bits): OpenSSL would verify with it
  // (it only caps exponents above 3072-bit moduli), but such an exponent
  // makes one verification cost like a signing; it is refused.
  const std::vector<uint8_t> big_e = {1, 0, 0, 0, 0, 0, 0, 0, 1};
  const TestKey key =
      TestKey::generateRsa(alg::kRsaSha256, name("example.com."), 256, 1024, big_e);
  const std::vector<uint8_t> data = {1, 2, 3};
  const auto sig = key.signData(data);
  ASSERT_FALSE(sig.empty());
  EXPECT_FALSE(verifySignature(alg::kRsaSha256, key.dnskey(), data, sig));
  // The largest accepted exponent, 2^64 - 1, works.
  const std::vector<uint8_t> max_e(8, 0xFF);
  const TestKey ok = TestKey::generateRsa(alg::kRsaSha256, name("example.com."), 256, 1024, max_e);
  EXPECT_TRUE(verifySignature(alg::kRsaSha256, ok.dnskey(), data, ok.signData(data)));
}

// --- Validity window ---------------------------------------------------------

TEST_F(RrsigTest, Expired) {
  SignSpec spec;
  spec.inception = static_cast<uint32_t>(kNow - 30 * kDay);
  spec.expiration = static_cast<uint32_t>(kNow - kDay);
  const Check check = verify(signedA(spec), keys());
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kSignatureExpired);
  EXPECT_EQ(check.spent, 0u);
  // 2023-11-13 22:13:20 UTC, a day before kNow.
  EXPECT_NE(check.result.verdict.reason.find("expired 2023-11-13"), std::string::npos)
      << check.result.verdict.reason;
  EXPECT_NE(check.result.verdict.reason.find("www.example.com. A"), std::string::npos);
}

TEST_F(RrsigTest, NotYetValid) {
  SignSpec spec;
  spec.inception = static_cast<uint32_t>(kNow + kHour);
  spec.expiration = static_cast<uint32_t>(kNow + 30 * kDay);
  const Check check = verify(signedA(spec), keys());
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kSignatureNotYetValid);
  EXPECT_NE(check.result.verdict.reason.find("not valid before 2023-11-14"), std::string::npos)
      << check.result.verdict.reason;
}

TEST_F(RrsigTest, WindowEdgesAreInclusive) {
  SignSpec spec = window();
  spec.inception = static_cast<uint32_t>(kNow);
  EXPECT_TRUE(verify(signedA(spec), keys()).result.verdict.isSecure());
  spec = window();
  spec.expiration = static_cast<uint32_t>(kNow);
  const Check at_expiry = verify(signedA(spec), keys());
  EXPECT_TRUE(at_expiry.result.verdict.isSecure());
  EXPECT_EQ(at_expiry.result.ttl, 0u);
  EXPECT_EQ(verify(signedA(spec), keys(), kNow + 1).result.verdict.ede, ede::kSignatureExpired);
}

TEST_F(RrsigTest, WindowStraddlingTwoToTheThirtyTwoSeconds) {
  // RFC 4034 section 3.1.5: times are serial numbers. The window runs from
  // 2^32 - 1 day to 2^32 + 1 day (year 2106), so inception > expiration as
  // plain integers.
  constexpr int64_t kWrap = int64_t{1} << 32;
  SignSpec spec;
  spec.inception = static_cast<uint32_t>(kWrap - kDay);
  spec.expiration = static_cast<uint32_t>(kWrap + kDay);
  ASSERT_GT(spec.inception, spec.expiration);
  const dns::Rrset rrset = signedA(spec);
  for (const int64_t now : {kWrap - kHour, kWrap, kWrap + kHour}) {
    const Check check = verify(rrset, keys(), now);
    EXPECT_TRUE(check.result.verdict.isSecure()) << now << ": " << check.result.verdict.reason;
  }
  // TTL cap across the wrap: one hour after 2^32, 23 hours remain; with a
  // rrset TTL above that the cap is the time left.
  dns::Rrset long_ttl = rrset;
  long_ttl.ttl = 2 * kDay;
  spec.original_ttl = 2 * kDay;
  long_ttl.sigs = {zsk_.sign(long_ttl, spec)};
  EXPECT_EQ(verify(long_ttl, keys(), kWrap + kHour).result.ttl, kDay - kHour);

  const Check late = verify(rrset, keys(), kWrap + 2 * kDay);
  EXPECT_EQ(late.result.verdict.ede, ede::kSignatureExpired);
  EXPECT_NE(late.result.verdict.reason.find("expired 2106-02-08"), std::string::npos)
      << late.result.verdict.reason;
  EXPECT_EQ(verify(rrset, keys(), kWrap - 2 * kDay).result.verdict.ede,
            ede::kSignatureNotYetValid);
}

TEST(SignatureTimeTest, SerialArithmetic) {
  Rrsig sig;
  sig.inception = 0xFFFFFF00u;
  sig.expiration = 0x00000100u;
  EXPECT_TRUE(signatureTimeValid(sig, 0xFFFFFF00));
  EXPECT_TRUE(signatureTimeValid(sig, 0xFFFFFFFF));
  EXPECT_TRUE(signatureTimeValid(sig, int64_t{1} << 32));         // 0 after the wrap
  EXPECT_TRUE(signatureTimeValid(sig, (int64_t{1} << 32) + 0x100));
  EXPECT_FALSE(signatureTimeValid(sig, (int64_t{1} << 32) + 0x101));
  EXPECT_FALSE(signatureTimeValid(sig, 0xFFFFFEFF));
  sig.inception = 1000;
  sig.expiration = 2000;
  EXPECT_TRUE(signatureTimeValid(sig, 1500));
  EXPECT_FALSE(signatureTimeValid(sig, 999));
  EXPECT_FALSE(signatureTimeValid(sig, 2001));
  // More than 2^31 seconds away is "before" in serial arithmetic.
  EXPECT_FALSE(signatureTimeValid(sig, 1500 + (int64_t{1} << 31)));
}

// --- Keys and signers --------------------------------------------------------

TEST_F(RrsigTest, WrongKeyTag) {
  SignSpec spec = window();
  spec.key_tag = static_cast<uint16_t>(zsk_.tag() + 1);
  const Check check = verify(signedA(spec), keys());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnskeyMissing);
  EXPECT_EQ(check.spent, 0u);
  EXPECT_NE(check.result.verdict.reason.find("no DNSKEY of example.com."), std::string::npos)
      << check.result.verdict.reason;
}

TEST_F(RrsigTest, WrongAlgorithm) {
  SignSpec spec = window();
  spec.algorithm = alg::kEcdsaP384Sha384;  // the key is P-256
  const Check check = verify(signedA(spec), keys());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnskeyMissing);
  EXPECT_EQ(check.spent, 0u);
}

TEST_F(RrsigTest, UnknownAlgorithm) {
  SignSpec spec = window();
  spec.algorithm = 253;
  const Check check = verify(signedA(spec), keys());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnskeyMissing);
  EXPECT_NE(check.result.verdict.reason.find("algorithm not supported"), std::string::npos);
}

TEST_F(RrsigTest, KeyOfAnotherZoneOrNoKeys) {
  const TestKey other = TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."), 256);
  EXPECT_EQ(verify(signedA(window()), {other.dnskey()}).result.verdict.ede, ede::kDnskeyMissing);
  EXPECT_EQ(verify(signedA(window()), {}).result.verdict.ede, ede::kDnskeyMissing);
}

TEST(KeyFlagsTest, KeysWithoutZoneFlagOrRevokedOrBadProtocolAreNotUsed) {
  // RFC 4035 section 5.3.1 (zone flag), RFC 4034 section 2.1.2 (protocol 3),
  // RFC 5011 section 2.1 (a revoked key signs nothing but its revocation).
  for (const uint16_t flags :
       {uint16_t{0}, uint16_t{1}, uint16_t{256 | 128}, uint16_t{257 | 128}}) {
    const TestKey key = TestKey::generate(alg::kEd25519, name("example.com."), flags);
    dns::Rrset rrset = wwwA();
    rrset.sigs.push_back(key.sign(rrset, window()));
    const Check check = verify(rrset, {key.dnskey()});
    EXPECT_EQ(check.result.verdict.ede, ede::kDnskeyMissing) << flags;
    EXPECT_EQ(check.spent, 0u);
  }
  const TestKey key = TestKey::generate(alg::kEd25519, name("example.com."), 256);
  std::vector<uint8_t> protocol_2 = key.dnskey();
  protocol_2[2] = 2;
  dns::Rrset rrset = wwwA();
  SignSpec spec = window();
  spec.key_tag = keyTag(protocol_2);
  rrset.sigs.push_back(key.sign(rrset, spec));
  EXPECT_EQ(verify(rrset, {protocol_2}).result.verdict.ede, ede::kDnskeyMissing);
}

TEST_F(RrsigTest, MissingRrsig) {
  dns::Rrset rrset = wwwA();
  Check check = verify(rrset, keys());
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kRrsigsMissing);
  EXPECT_NE(check.result.verdict.reason.find("no RRSIG by example.com. covers www.example.com. A"),
            std::string::npos)
      << check.result.verdict.reason;
  // An RRSIG over another type does not cover the RRset.
  SignSpec spec = window();
  spec.type_covered = dns::rrtype::kAaaa;
  rrset.sigs.push_back(zsk_.sign(rrset, spec));
  check = verify(rrset, keys());
  EXPECT_EQ(check.result.verdict.ede, ede::kRrsigsMissing);
}

TEST_F(RrsigTest, SignerNotTheZone) {
  // Signed by a key of example.com, but the RRSIG names example.net: it is
  // not a signature by the zone at all.
  SignSpec spec = window();
  spec.signer = name("example.net.");
  EXPECT_EQ(verify(signedA(spec), keys()).result.verdict.ede, ede::kRrsigsMissing);
  // The zone passed in is what counts: the same RRset checked as data of
  // com. has no RRSIG by com.
  EXPECT_EQ(verify(signedA(window()), keys(), kNow, {}, "com.").result.verdict.ede,
            ede::kRrsigsMissing);
}

TEST_F(RrsigTest, SignerComparedCaseInsensitively) {
  SignSpec spec = window();
  spec.signer = name("EXAMPLE.Com.");
  const Check check = verify(signedA(spec), keys(), kNow, {}, "Example.COM.");
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
}

TEST_F(RrsigTest, OwnerOutsideTheSignersZone) {
  dns::Rrset rrset = makeRrset("www.example.org. 3600 IN A 192.0.2.1");
  SignSpec spec = window();
  spec.labels = 3;
  rrset.sigs.push_back(zsk_.sign(rrset, spec));
  const Check check = verify(rrset, keys());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnssecBogus);
  EXPECT_NE(check.result.verdict.reason.find("not in the signer's zone"), std::string::npos);
  EXPECT_EQ(check.spent, 0u);
}

TEST_F(RrsigTest, LabelsAboveOwnerLabels) {
  SignSpec spec = window();
  spec.labels = 4;  // www.example.com has 3
  const Check check = verify(signedA(spec), keys());
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnssecBogus);
  EXPECT_NE(check.result.verdict.reason.find("labels field 4"), std::string::npos)
      << check.result.verdict.reason;
  EXPECT_EQ(check.spent, 0u);
}

// --- Wildcards ---------------------------------------------------------------

TEST_F(RrsigTest, WildcardExpansion) {
  // The zone signs *.example.com (labels 2); the answer for
  // www.a.example.com carries that RRSIG (RFC 4035 section 5.3.4).
  dns::Rrset wildcard = makeRrset("*.example.com. 600 IN TXT \"hello\"");
  const auto sig = zsk_.sign(wildcard, window());
  for (const char* qname : {"www.example.com.", "www.a.example.com.", "WwW.A.Example.COM."}) {
    dns::Rrset expanded = wildcard;
    expanded.owner = name(qname);
    expanded.sigs = {sig};
    const Check check = verify(expanded, keys());
    ASSERT_TRUE(check.result.verdict.isSecure()) << qname << ": " << check.result.verdict.reason;
    EXPECT_TRUE(check.result.wildcard);
    EXPECT_EQ(check.result.wildcard_closest_encloser, name("example.com."));
    EXPECT_EQ(check.result.ttl, 600u);
  }
  // The wildcard itself queried is no expansion: labels = 2 = its labels
  // without the "*" (RFC 4035 section 5.3.1).
  wildcard.sigs = {sig};
  const Check literal = verify(wildcard, keys());
  EXPECT_TRUE(literal.result.verdict.isSecure()) << literal.result.verdict.reason;
  EXPECT_FALSE(literal.result.wildcard);
}

TEST_F(RrsigTest, WildcardLabelsButNotSignedAsWildcard) {
  // An RRSIG over www.example.com itself but with labels 2 claims a
  // wildcard expansion: the validator rebuilds *.example.com, which was not
  // what was signed.
  SignSpec spec = window();
  spec.labels = 2;
  const Check check = verify(signedA(spec), keys());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnssecBogus);
  EXPECT_FALSE(check.result.wildcard);
}

TEST_F(RrsigTest, WildcardOwnerLabelsDoNotCountTheStar) {
  // *.example.com has 2 labels for RRSIG purposes: labels 3 is too many.
  dns::Rrset wildcard = makeRrset("*.example.com. 600 IN TXT \"hello\"");
  SignSpec spec = window();
  spec.labels = 3;
  wildcard.sigs.push_back(zsk_.sign(wildcard, spec));
  const Check check = verify(wildcard, keys());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnssecBogus);
  EXPECT_NE(check.result.verdict.reason.find("labels field 3"), std::string::npos);
}

// --- Canonical form ----------------------------------------------------------

TEST_F(RrsigTest, MixedCaseOwner) {
  const dns::Rrset signed_rrset = signedA(window());
  dns::Rrset upper = signed_rrset;
  upper.owner = name("WWW.ExAmple.CoM.");
  EXPECT_TRUE(verify(upper, keys()).result.verdict.isSecure());
  // And signed from a mixed-case owner, checked with the lowercase one.
  dns::Rrset mixed = wwwA();
  mixed.owner = name("Www.EXAMPLE.com.");
  mixed.sigs.push_back(zsk_.sign(mixed, window()));
  mixed.owner = name("www.example.com.");
  EXPECT_TRUE(verify(mixed, keys()).result.verdict.isSecure());
}

/// Records whose rdata holds names: the signature is over them lowercased
/// (RFC 4034 section 6.2), so the case the server sent must not matter.
class CanonicalNamesTest : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(CanonicalNamesTest, MixedCaseNamesInRdata) {
  const TestKey key = TestKey::generate(alg::kEd25519, name("example.com."), 256);
  const auto [mixed_text, lower_text] = GetParam();
  dns::Rrset mixed = makeRrset(mixed_text);
  dns::Rrset lower = makeRrset(lower_text);
  ASSERT_NE(mixed.rdatas, lower.rdatas);
  mixed.sigs.push_back(key.sign(mixed, window()));
  lower.sigs = mixed.sigs;
  const Check as_sent = verify(mixed, {key.dnskey()});
  EXPECT_TRUE(as_sent.result.verdict.isSecure()) << as_sent.result.verdict.reason;
  const Check lowered = verify(lower, {key.dnskey()});
  EXPECT_TRUE(lowered.result.verdict.isSecure()) << lowered.result.verdict.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Types, CanonicalNamesTest,
    ::testing::Values(
        std::pair{"example.com. 3600 IN NS NS1.Example.COM.\n"
                  "example.com. 3600 IN NS ns2.EXAMPLE.net.",
                  "example.com. 3600 IN NS ns1.example.com.\n"
                  "example.com. 3600 IN NS ns2.example.net."},
        std::pair{"example.com. 3600 IN MX 10 Mail.Example.COM.\n"
                  "example.com. 3600 IN MX 20 MX2.example.com.",
                  "example.com. 3600 IN MX 10 mail.example.com.\n"
                  "example.com. 3600 IN MX 20 mx2.example.com."},
        std::pair{"www.example.com. 3600 IN CNAME Host.EXAMPLE.org.",
                  "www.example.com. 3600 IN CNAME host.example.org."},
        std::pair{"example.com. 3600 IN SOA NS1.Example.COM. HostMaster.Example.COM. 1 2 3 4 5",
                  "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 2 3 4 5"},
        std::pair{"_sip._tcp.example.com. 3600 IN SRV 0 5 5060 SIP.Example.COM.",
                  "_sip._tcp.example.com. 3600 IN SRV 0 5 5060 sip.example.com."},
        std::pair{"example.com. 3600 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" "
                  "_SIP._udp.Example.com.",
                  "example.com. 3600 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" "
                  "_sip._udp.example.com."},
        std::pair{"a.example.com. 3600 IN DNAME Target.EXAMPLE.net.",
                  "a.example.com. 3600 IN DNAME target.example.net."},
        std::pair{"1.2.0.192.in-addr.example.com. 3600 IN PTR Host.Example.COM.",
                  "1.2.0.192.in-addr.example.com. 3600 IN PTR host.example.com."},
        std::pair{"example.com. 3600 IN RP Admin.Example.COM. Info.EXAMPLE.com.",
                  "example.com. 3600 IN RP admin.example.com. info.example.com."}));

TEST(CanonicalFormTest, NsecNamesKeepTheirCase) {
  // RFC 6840 section 5.1: the next-owner name of an NSEC is not lowercased.
  // A signature over "Zz.example.com" fails once the case is changed.
  const TestKey key = TestKey::generate(alg::kEd25519, name("example.com."), 256);
  dns::Rrset nsec = makeRrset("a.example.com. 3600 IN NSEC Zz.example.com. A RRSIG NSEC");
  nsec.sigs.push_back(key.sign(nsec, window()));
  EXPECT_TRUE(verify(nsec, {key.dnskey()}).result.verdict.isSecure());
  dns::Rrset lowered = makeRrset("a.example.com. 3600 IN NSEC zz.example.com. A RRSIG NSEC");
  lowered.sigs = nsec.sigs;
  EXPECT_TRUE(verify(lowered, {key.dnskey()}).result.verdict.isBogus());
}

TEST(CanonicalFormTest, TxtIsNotLowercased) {
  const TestKey key = TestKey::generate(alg::kEd25519, name("example.com."), 256);
  dns::Rrset txt = makeRrset("t.example.com. 3600 IN TXT \"Hello.World\"");
  txt.sigs.push_back(key.sign(txt, window()));
  EXPECT_TRUE(verify(txt, {key.dnskey()}).result.verdict.isSecure());
  dns::Rrset lowered = makeRrset("t.example.com. 3600 IN TXT \"hello.world\"");
  lowered.sigs = txt.sigs;
  EXPECT_TRUE(verify(lowered, {key.dnskey()}).result.verdict.isBogus());
}

TEST_F(RrsigTest, RecordOrderDoesNotMatter) {
  dns::Rrset rrset = signedA(window());
  std::reverse(rrset.rdatas.begin(), rrset.rdatas.end());
  EXPECT_TRUE(verify(rrset, keys()).result.verdict.isSecure());
  std::rotate(rrset.rdatas.begin(), rrset.rdatas.begin() + 1, rrset.rdatas.end());
  EXPECT_TRUE(verify(rrset, keys()).result.verdict.isSecure());
}

TEST_F(RrsigTest, DuplicateRecordsAreSignedOnce) {
  // RFC 4034 section 6.3: duplicates are removed before signing.
  dns::Rrset rrset = signedA(window());
  rrset.rdatas.push_back(rrset.rdatas[0]);
  rrset.rdatas.insert(rrset.rdatas.begin(), rrset.rdatas[2]);
  EXPECT_TRUE(verify(rrset, keys()).result.verdict.isSecure());
  // A duplicate differing only in name case is a duplicate in canonical form.
  dns::Rrset ns = makeRrset("example.com. 3600 IN NS ns1.example.com.");
  ns.sigs.push_back(zsk_.sign(ns, window()));
  ns.rdatas.push_back(makeRrset("example.com. 3600 IN NS NS1.Example.com.").rdatas[0]);
  EXPECT_TRUE(verify(ns, keys()).result.verdict.isSecure());
}

TEST_F(RrsigTest, CanonicalOrderPutsAPrefixFirst) {
  // Shorter rdata that is a prefix of a longer one sorts first (RFC 4034
  // section 6.3): ldns signs in that order and so must we.
  dns::Rrset txt = makeRrset(
      "t.example.com. 3600 IN TXT \"abc\" \"d\"\n"
      "t.example.com. 3600 IN TXT \"abc\"\n"
      "t.example.com. 3600 IN TXT \"ab\"\n"
      "t.example.com. 3600 IN TXT \"\\255\"\n");
  txt.sigs.push_back(zsk_.sign(txt, window()));
  std::reverse(txt.rdatas.begin(), txt.rdatas.end());
  EXPECT_TRUE(verify(txt, keys()).result.verdict.isSecure());
}

TEST(SignedDataTest, Layout) {
  dns::Rrset rrset = makeRrset(
      "WWW.example.com. 300 IN NS B.example.\n"
      "WWW.example.com. 300 IN NS a.example.\n");
  Rrsig sig;
  sig.type_covered = dns::rrtype::kNs;
  sig.algorithm = 8;
  sig.labels = 3;
  sig.original_ttl = 0x01020304;
  sig.expiration = 0x05060708;
  sig.inception = 0x090A0B0C;
  sig.key_tag = 0x0D0E;
  sig.signer = name("Example.COM.");
  const std::vector<uint8_t> data = signedData(rrset, sig);
  std::vector<uint8_t> want = {0, 2, 8, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                               7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  for (const char first : {'a', 'b'}) {
    want.insert(want.end(), {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o',
                             'm', 0, 0, 2, 0, 1, 1, 2, 3, 4, 0, 11, 1, static_cast<uint8_t>(first),
                             7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0});
  }
  EXPECT_EQ(data, want);
  // Wildcard: labels 2 signs as *.example.com.
  sig.labels = 2;
  const std::vector<uint8_t> wildcard = signedData(rrset, sig);
  const std::vector<uint8_t> star_owner = {1, '*', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
                                           'c', 'o', 'm', 0};
  EXPECT_TRUE(std::equal(star_owner.begin(), star_owner.end(), wildcard.begin() + 31));
}

// --- TTL -----------------------------------------------------------------------

TEST_F(RrsigTest, TtlCap) {
  // Min of the RRset's TTL, the original TTL and the signature's time left.
  dns::Rrset rrset = signedA(window());  // original TTL 3600
  rrset.ttl = 300;                       // a decremented TTL from a cache
  EXPECT_EQ(verify(rrset, keys()).result.ttl, 300u);
  rrset.ttl = 86400;                     // more than the zone's TTL
  EXPECT_EQ(verify(rrset, keys()).result.ttl, 3600u);

  SignSpec spec = window();
  spec.expiration = static_cast<uint32_t>(kNow + 100);
  rrset = signedA(spec);
  EXPECT_EQ(verify(rrset, keys()).result.ttl, 100u);

  spec = window();
  spec.original_ttl = 60;
  rrset = signedA(spec);
  EXPECT_EQ(verify(rrset, keys()).result.ttl, 60u);
}

// --- Choice of EDE ---------------------------------------------------------------

TEST_F(RrsigTest, MostTellingFailureWins) {
  dns::Rrset rrset = wwwA();
  SignSpec expired;
  expired.inception = static_cast<uint32_t>(kNow - 30 * kDay);
  expired.expiration = static_cast<uint32_t>(kNow - kDay);
  rrset.sigs.push_back(zsk_.sign(rrset, expired));
  EXPECT_EQ(verify(rrset, keys()).result.verdict.ede, ede::kSignatureExpired);
  // A current signature whose key is missing tells more than an expired one.
  SignSpec unknown_key = window();
  unknown_key.key_tag = static_cast<uint16_t>(zsk_.tag() ^ 0x8000);
  rrset.sigs.push_back(zsk_.sign(rrset, unknown_key));
  EXPECT_EQ(verify(rrset, keys()).result.verdict.ede, ede::kDnskeyMissing);
  // A signature that was checked and failed tells the most.
  std::vector<uint8_t> broken = zsk_.sign(rrset, window());
  testing_util::flipLastOctet(broken);
  rrset.sigs.push_back(broken);
  EXPECT_EQ(verify(rrset, keys()).result.verdict.ede, ede::kDnssecBogus);
  // And one good signature is enough, wherever it is.
  rrset.sigs.insert(rrset.sigs.begin() + 1, zsk_.sign(rrset, window()));
  const Check check = verify(rrset, keys());
  EXPECT_TRUE(check.result.verdict.isSecure());
  EXPECT_EQ(check.spent, 1u);
}

TEST(MultipleKeysTest, SecondKeyOfTheSameAlgorithmVerifies) {
  // Key rollover: two ZSKs, the RRset signed by the second only.
  const TestKey old_key = TestKey::generate(alg::kEd25519, name("example.com."), 256);
  const TestKey new_key = TestKey::generate(alg::kEd25519, name("example.com."), 256);
  dns::Rrset rrset = wwwA();
  rrset.sigs.push_back(new_key.sign(rrset, window()));
  const Check check = verify(rrset, {old_key.dnskey(), new_key.dnskey()});
  EXPECT_TRUE(check.result.verdict.isSecure());
  EXPECT_EQ(check.spent, 1u);
}

// --- KeyTrap (CVE-2023-50387) and the budget ------------------------------------

TEST(KeyTrapTest, CollidingKeysAndSignaturesStopAtThePerRrsetCap) {
  const TestKey key = TestKey::generate(alg::kRsaSha256, name("example.com."), 256);
  // 50 keys sharing the key tag, none of them the signing key.
  const Rdatas keys = testing_util::collidingKeys(key.dnskey(), 50);
  ASSERT_EQ(keys.size(), 50u);
  for (const auto& k : keys) ASSERT_EQ(keyTag(k), key.tag());
  // 50 distinct RRSIGs claiming that tag.
  dns::Rrset rrset = wwwA();
  for (uint32_t i = 0; i < 50; ++i) {
    SignSpec spec = window();
    spec.inception -= i;
    rrset.sigs.push_back(key.sign(rrset, spec));
  }
  const Check check = verify(rrset, keys);
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnssecBogus);
  EXPECT_LE(check.spent, Budget::kMaxVerificationsPerRrset);
  EXPECT_EQ(check.spent, Budget::kMaxVerificationsPerRrset);
  EXPECT_TRUE(check.exhausted);
  EXPECT_NE(check.result.verdict.reason.find("per-RRset cap"), std::string::npos)
      << check.result.verdict.reason;
}

TEST(KeyTrapTest, OneSignatureTriesAtMostKeysPerTag) {
  const TestKey key = TestKey::generate(alg::kEd25519, name("example.com."), 256);
  Rdatas keys = testing_util::collidingKeys(key.dnskey(), 50);
  dns::Rrset rrset = wwwA();
  rrset.sigs.push_back(key.sign(rrset, window()));
  Check check = verify(rrset, keys);
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.spent, Budget::kMaxKeysPerTag);
  EXPECT_FALSE(check.exhausted);
  // The real key behind the first kMaxKeysPerTag colliding ones is never
  // reached: the cap holds even when it costs a valid answer.
  keys.push_back(key.dnskey());
  EXPECT_TRUE(verify(rrset, keys).result.verdict.isBogus());
  // Among them, it is found.
  keys.insert(keys.begin() + 2, key.dnskey());
  check = verify(rrset, keys);
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
  EXPECT_EQ(check.spent, 3u);
}

TEST_F(RrsigTest, QueryBudgetOfZero) {
  Budget budget;
  budget.verifications = 0;
  const RrsetResult result =
      verifyRrset(signedA(window()), name("example.com."), keys(), kNow, {}, budget);
  EXPECT_TRUE(result.verdict.isBogus());
  EXPECT_EQ(result.verdict.ede, ede::kDnssecBogus);
  EXPECT_TRUE(budget.exhausted);
  EXPECT_NE(result.verdict.reason.find("budget"), std::string::npos) << result.verdict.reason;
}

TEST_F(RrsigTest, QueryBudgetSpansRrsets) {
  Budget budget;
  budget.verifications = 2;
  const dns::Rrset rrset = signedA(window());
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(verifyRrset(rrset, name("example.com."), keys(), kNow, {}, budget)
                    .verdict.isSecure());
  }
  EXPECT_FALSE(budget.exhausted);
  EXPECT_TRUE(verifyRrset(rrset, name("example.com."), keys(), kNow, {}, budget)
                  .verdict.isBogus());
  EXPECT_TRUE(budget.exhausted);
}

// --- Malformed input -------------------------------------------------------------

TEST_F(RrsigTest, ParseRrsig) {
  SignSpec spec = window();
  spec.signer = name("Example.COM.");
  const std::vector<uint8_t> rdata = zsk_.sign(wwwA(), spec);
  const auto sig = parseRrsig(rdata);
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(sig->type_covered, dns::rrtype::kA);
  EXPECT_EQ(sig->algorithm, alg::kEcdsaP256Sha256);
  EXPECT_EQ(sig->labels, 3);
  EXPECT_EQ(sig->original_ttl, 3600u);
  EXPECT_EQ(sig->inception, spec.inception);
  EXPECT_EQ(sig->expiration, spec.expiration);
  EXPECT_EQ(sig->key_tag, zsk_.tag());
  EXPECT_TRUE(sig->signer.equalsExactly(name("Example.COM.")));
  EXPECT_EQ(sig->signature.size(), 64u);
  EXPECT_EQ(sig->fields.size(), 18u + 13u);
}

TEST_F(RrsigTest, TruncatedRrsigsNeverCrash) {
  const dns::Rrset good = signedA(window());
  const std::vector<uint8_t>& rdata = good.sigs[0];
  for (size_t n = 0; n < rdata.size(); ++n) {
    const std::vector<uint8_t> cut(rdata.begin(), rdata.begin() + static_cast<long>(n));
    const auto sig = parseRrsig(cut);
    // Up to the end of the signer the rdata is incomplete; after it, only the
    // signature is short (parses, then fails to verify).
    EXPECT_EQ(sig.has_value(), n >= 18 + 13) << n;
    dns::Rrset rrset = good;
    rrset.sigs = {cut};
    EXPECT_TRUE(verify(rrset, keys()).result.verdict.isBogus()) << n;
  }
  // A compression pointer as signer is malformed in RRSIG rdata.
  std::vector<uint8_t> pointer(rdata.begin(), rdata.begin() + 18);
  pointer.insert(pointer.end(), {0xC0, 0x00});
  EXPECT_FALSE(parseRrsig(pointer).has_value());
}

TEST(MalformedTest, TruncatedKeysAndSignaturesNeverCrash) {
  const std::vector<uint8_t> data = {'x'};
  for (const uint8_t algorithm : {alg::kRsaSha1, alg::kRsaSha256, alg::kRsaSha512,
                                  alg::kEcdsaP256Sha256, alg::kEcdsaP384Sha384, alg::kEd25519,
                                  alg::kEd448}) {
    const TestKey key = TestKey::generate(algorithm, name("example.com."), 256);
    const std::vector<uint8_t> sig = key.signData(data);
    ASSERT_TRUE(verifySignature(algorithm, key.dnskey(), data, sig)) << int{algorithm};
    for (size_t n = 0; n < key.dnskey().size(); ++n) {
      const std::vector<uint8_t> cut(key.dnskey().begin(),
                                     key.dnskey().begin() + static_cast<long>(n));
      EXPECT_FALSE(verifySignature(algorithm, cut, data, sig)) << int{algorithm} << " " << n;
    }
    for (size_t n = 0; n < sig.size(); ++n) {
      const std::vector<uint8_t> cut(sig.begin(), sig.begin() + static_cast<long>(n));
      EXPECT_FALSE(verifySignature(algorithm, key.dnskey(), data, cut))
          << int{algorithm} << " " << n;
    }
    // Truncated keys passed to verifyRrset as the zone's keys.
    dns::Rrset rrset = wwwA();
    rrset.sigs.push_back(key.sign(rrset, window()));
    for (size_t n = 0; n < key.dnskey().size(); ++n) {
      const std::vector<uint8_t> cut(key.dnskey().begin(),
                                     key.dnskey().begin() + static_cast<long>(n));
      EXPECT_TRUE(verify(rrset, {cut}).result.verdict.isBogus());
    }
  }
}

TEST(MalformedTest, NamesInRdataThatDoNotParse) {
  // An NS rdata that is not a name, an MX too short for its preference, a
  // NAPTR whose strings run past the end: signed over as they are, no crash.
  const TestKey key = TestKey::generate(alg::kEd25519, name("example.com."), 256);
  const Rdatas broken = {{}, {0x05, 'a'}, {0x40}, {0xC0, 0x0C}, {0x01}, {0x03, 'a', 'b', 'c'}};
  for (const uint16_t type : {dns::rrtype::kNs, dns::rrtype::kMx, dns::rrtype::kSoa,
                              dns::rrtype::kNaptr, dns::rrtype::kSrv, dns::rrtype::kRrsig,
                              uint16_t{38}}) {
    for (const auto& rdata : broken) {
      dns::Rrset rrset;
      rrset.owner = name("example.com.");
      rrset.type = type;
      rrset.ttl = 60;
      rrset.rdatas = {rdata};
      Rrsig sig;
      sig.type_covered = type;
      sig.labels = 2;
      sig.signer = name("example.com.");
      const auto data = signedData(rrset, sig);
      EXPECT_GE(data.size(), 18u + 13u + 13u + 10u + rdata.size());
    }
  }
}

TEST(MalformedTest, EmptyRrsetIsBogus) {
  dns::Rrset rrset;
  rrset.owner = name("example.com.");
  rrset.type = dns::rrtype::kA;
  EXPECT_TRUE(verify(rrset, {}).result.verdict.isBogus());
}

}  // namespace
}  // namespace shoal::dnssec
