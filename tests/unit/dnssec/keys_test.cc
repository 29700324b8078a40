#include "dnssec/keys.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dnssec/rrsig.h"
#include "tests/unit/dnssec/signer.h"

namespace shoal::dnssec {
namespace {

using testing_util::makeRrset;
using testing_util::name;
using testing_util::SignSpec;
using testing_util::TestKey;
using Rdatas = std::vector<std::vector<uint8_t>>;

constexpr int64_t kNow = 1'700'000'000;  // 2023-11-14 22:13:20 UTC
constexpr uint32_t kDay = 86400;

// The IANA root zone KSK-2017 and its DS (https://data.iana.org/root-anchors/).
constexpr const char* kRootKsk2017 =
    ". 172800 IN DNSKEY 257 3 8 "
    "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXg"
    "nLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EW"
    "gvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWf"
    "dRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=";
constexpr const char* kRootDs2017 =
    ". 86400 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";

SignSpec window() {
  SignSpec spec;
  spec.inception = static_cast<uint32_t>(kNow - 3600);
  spec.expiration = static_cast<uint32_t>(kNow + 7 * kDay);
  return spec;
}

std::vector<uint8_t> flipped(std::vector<uint8_t> rdata) {
  testing_util::flipLastOctet(rdata);
  return rdata;
}

/// A DS rdata for `key` with its algorithm or digest type replaced (the
/// digest then proves nothing, but these DS are never hashed).
std::vector<uint8_t> dsWith(const TestKey& key, uint8_t algorithm, uint8_t digest_type) {
  std::vector<uint8_t> ds = key.ds(digest::kSha256);
  ds[2] = algorithm;
  ds[3] = digest_type;
  return ds;
}

// --- Key tags and DS digests ---------------------------------------------------

TEST(KeyTagTest, RootKsk2017) {
  const dns::Rrset root = makeRrset(kRootKsk2017);
  ASSERT_EQ(root.rdatas.size(), 1u);
  const std::vector<uint8_t>& rdata = root.rdatas[0];
  EXPECT_EQ(keyTag(rdata), 20326);
  const auto key = parseDnskey(rdata);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->flags, 257);
  EXPECT_EQ(key->protocol, 3);
  EXPECT_EQ(key->algorithm, alg::kRsaSha256);
  EXPECT_EQ(key->tag, 20326);
  EXPECT_EQ(key->public_key.size(), 1u + 3u + 256u);  // exponent length, 65537, 2048-bit modulus
  EXPECT_TRUE((key->flags & kDnskeyFlagZone) != 0);
  EXPECT_TRUE((key->flags & kDnskeyFlagSep) != 0);
}

TEST(DsTest, RootKsk2017Sha256) {
  const std::vector<uint8_t> key = makeRrset(kRootKsk2017).rdatas[0];
  const std::vector<uint8_t> ds_rdata = makeRrset(kRootDs2017).rdatas[0];
  const auto ds = parseDs(ds_rdata);
  ASSERT_TRUE(ds.has_value());
  EXPECT_EQ(ds->key_tag, 20326);
  EXPECT_EQ(ds->algorithm, alg::kRsaSha256);
  EXPECT_EQ(ds->digest_type, digest::kSha256);
  ASSERT_EQ(ds->digest.size(), 32u);
  EXPECT_EQ(dsDigest(dns::Name(), key, digest::kSha256),
            std::vector<uint8_t>(ds->digest.begin(), ds->digest.end()));
  EXPECT_TRUE(dsMatches(dns::Name(), key, *ds));
  EXPECT_FALSE(dsMatches(name("com."), key, *ds));
  EXPECT_FALSE(dsMatches(dns::Name(), flipped(key), *ds));
}

TEST(KeyTagTest, AgreesWithLdns) {
  for (const uint8_t algorithm : {alg::kRsaSha1, alg::kRsaSha256, alg::kRsaSha512,
                                  alg::kEcdsaP256Sha256, alg::kEcdsaP384Sha384, alg::kEd25519,
                                  alg::kEd448}) {
    for (const uint16_t flags : {uint16_t{256}, uint16_t{257}, uint16_t{257 | kDnskeyFlagRevoke}}) {
      const TestKey key = TestKey::generate(algorithm, name("example.com."), flags);
      EXPECT_EQ(keyTag(key.dnskey()), key.tag()) << int{algorithm} << " " << flags;
      const auto parsed = parseDnskey(key.dnskey());
      ASSERT_TRUE(parsed.has_value());
      EXPECT_EQ(parsed->tag, key.tag());
      EXPECT_EQ(parsed->flags, flags);
      EXPECT_EQ(parsed->algorithm, algorithm);
    }
  }
}

TEST(DsTest, EveryDigestAgreesWithLdns) {
  const TestKey key = TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."));
  const std::pair<uint8_t, size_t> digests[] = {
      {digest::kSha1, 20}, {digest::kSha256, 32}, {digest::kSha384, 48}};
  for (const auto& [type, size] : digests) {
    const std::vector<uint8_t> rdata = key.ds(type);
    const auto ds = parseDs(rdata);
    ASSERT_TRUE(ds.has_value());
    EXPECT_EQ(ds->key_tag, key.tag());
    EXPECT_EQ(ds->digest.size(), size);
    EXPECT_TRUE(dsMatches(name("example.com."), key.dnskey(), *ds)) << int{type};
    // RFC 4034 section 5.1.4: over the owner in canonical (lowercase) form.
    EXPECT_TRUE(dsMatches(name("EXAMPLE.Com."), key.dnskey(), *ds)) << int{type};
    EXPECT_EQ(dsDigest(name("Example.COM."), key.dnskey(), type),
              std::vector<uint8_t>(ds->digest.begin(), ds->digest.end()));
    EXPECT_FALSE(dsMatches(name("example.net."), key.dnskey(), *ds));
    const std::vector<uint8_t> short_rdata(rdata.begin(), rdata.end() - 1);
    EXPECT_FALSE(dsMatches(name("example.com."), key.dnskey(), *parseDs(short_rdata)));
  }
  EXPECT_TRUE(dsDigest(name("example.com."), key.dnskey(), 3).empty());  // GOST: unsupported
  EXPECT_FALSE(dsMatches(name("example.com."), key.dnskey(), *parseDs(dsWith(key, 13, 3))));
  // The tag and algorithm of the DS must be the key's too.
  EXPECT_FALSE(dsMatches(name("example.com."), key.dnskey(), *parseDs(dsWith(key, 8, 2))));
}

TEST(SupportTest, AlgorithmsAndDigests) {
  Policy with_sha1;
  with_sha1.sha1_signatures = true;
  Policy without_sha1;
  without_sha1.sha1_signatures = false;
  for (int a = 0; a < 256; ++a) {
    const auto algorithm = static_cast<uint8_t>(a);
    const bool modern = a == 8 || a == 10 || a == 13 || a == 14 || a == 15 || a == 16;
    const bool sha1 = a == 5 || a == 7;
    EXPECT_EQ(algorithmSupported(algorithm, with_sha1), modern || sha1) << a;
    EXPECT_EQ(algorithmSupported(algorithm, without_sha1), modern) << a;
    EXPECT_EQ(digestSupported(algorithm), a == 1 || a == 2 || a == 4) << a;
  }
}

TEST(ParseTest, TruncatedDnskeyAndDs) {
  const std::vector<uint8_t> key = makeRrset(kRootKsk2017).rdatas[0];
  for (size_t n = 0; n <= key.size(); ++n) {
    const std::span<const uint8_t> cut(key.data(), n);
    EXPECT_EQ(parseDnskey(cut).has_value(), n >= 4) << n;
    (void)keyTag(cut);
  }
  EXPECT_EQ(keyTag({}), 0);
  const std::vector<uint8_t> ds = makeRrset(kRootDs2017).rdatas[0];
  for (size_t n = 0; n <= ds.size(); ++n) {
    const std::span<const uint8_t> cut(ds.data(), n);
    const auto parsed = parseDs(cut);
    EXPECT_EQ(parsed.has_value(), n >= 4) << n;
    if (parsed) {
      EXPECT_EQ(dsMatches(dns::Name(), key, *parsed), n == ds.size()) << n;
    }
  }
}

// --- validateDnskeys --------------------------------------------------------------

/// example.com with a KSK and a ZSK (ECDSA P-256), the DNSKEY RRset signed
/// by the KSK.
class DnskeyTest : public ::testing::Test {
 protected:
  DnskeyTest()
      : ksk_(TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."), 257)),
        zsk_(TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."), 256)) {}

  static dns::Rrset dnskeys(std::initializer_list<const TestKey*> keys,
                            std::initializer_list<const TestKey*> signers,
                            const SignSpec& spec = window()) {
    dns::Rrset rrset;
    rrset.owner = name("example.com.");
    rrset.type = dns::rrtype::kDnskey;
    rrset.ttl = 3600;
    for (const TestKey* key : keys) rrset.rdatas.push_back(key->dnskey());
    for (const TestKey* key : signers) rrset.sigs.push_back(key->sign(rrset, spec));
    return rrset;
  }
  dns::Rrset standard() const { return dnskeys({&ksk_, &zsk_}, {&ksk_}); }

  struct Check {
    KeyResult result;
    uint32_t spent = 0;
    bool exhausted = false;
  };
  static Check validate(const dns::Rrset& rrset, const Rdatas& ds, const Rdatas& anchors = {},
                        const Policy& policy = {}) {
    Budget budget;
    Check check;
    check.result = validateDnskeys(rrset, ds, anchors, kNow, policy, budget);
    check.spent = Budget{}.verifications - budget.verifications;
    check.exhausted = budget.exhausted;
    return check;
  }

  TestKey ksk_;
  TestKey zsk_;
};

TEST_F(DnskeyTest, SecureViaDs) {
  const Check check = validate(standard(), {ksk_.ds(digest::kSha256)});
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
  EXPECT_EQ(check.result.ttl, 3600u);
  EXPECT_EQ(check.spent, 1u);
}

TEST_F(DnskeyTest, SecureViaDsWithMixedCaseOwner) {
  dns::Rrset rrset = standard();
  rrset.owner = name("EXAMPLE.Com.");
  EXPECT_TRUE(validate(rrset, {ksk_.ds(digest::kSha384)}).result.verdict.isSecure());
}

TEST_F(DnskeyTest, SecureViaAnchorKey) {
  const Check check = validate(standard(), {}, {ksk_.dnskey()});
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
  // An anchor that is not in the RRset vouches for nothing.
  const TestKey other = TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."));
  EXPECT_EQ(validate(standard(), {}, {other.dnskey()}).result.verdict.ede, ede::kDnskeyMissing);
  // Anchors and DS together: either path is enough.
  EXPECT_TRUE(validate(standard(), {other.ds(digest::kSha256)}, {ksk_.dnskey()})
                  .result.verdict.isSecure());
}

TEST_F(DnskeyTest, InsecureForUnsupportedDsAlgorithm) {
  const Check check = validate(standard(), {dsWith(ksk_, 253, digest::kSha256)});
  EXPECT_EQ(check.result.verdict.security, Security::kInsecure);
  EXPECT_EQ(check.result.verdict.ede, ede::kUnsupportedAlgorithm);
  EXPECT_EQ(check.spent, 0u);
}

TEST_F(DnskeyTest, InsecureForUnsupportedDsDigest) {
  const Check check = validate(standard(), {dsWith(ksk_, alg::kEcdsaP256Sha256, 3)});
  EXPECT_EQ(check.result.verdict.security, Security::kInsecure);
  EXPECT_EQ(check.result.verdict.ede, ede::kUnsupportedDsDigest);
  // Both kinds of unusable DS: unsupported algorithm.
  const Check both =
      validate(standard(), {dsWith(ksk_, alg::kEcdsaP256Sha256, 3), dsWith(ksk_, 253, 2)});
  EXPECT_EQ(both.result.verdict.security, Security::kInsecure);
  EXPECT_EQ(both.result.verdict.ede, ede::kUnsupportedAlgorithm);
}

TEST_F(DnskeyTest, InsecureForUnsupportedAnchorAlgorithm) {
  std::vector<uint8_t> anchor = ksk_.dnskey();
  anchor[3] = 253;
  const Check check = validate(standard(), {}, {anchor});
  EXPECT_EQ(check.result.verdict.security, Security::kInsecure);
  EXPECT_EQ(check.result.verdict.ede, ede::kUnsupportedAlgorithm);
}

TEST_F(DnskeyTest, UnusableDsBesideAUsableOneIsIgnored) {
  const Check check = validate(standard(), {dsWith(ksk_, 253, 2), dsWith(ksk_, 13, 3),
                                            ksk_.ds(digest::kSha256)});
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
}

TEST_F(DnskeyTest, Sha1DsIgnoredWhenSha256Present) {
  // RFC 4509 section 3: with a SHA-256 DS present, a SHA-1 DS is not used,
  // even when the SHA-256 one is wrong and the SHA-1 one right.
  Check check = validate(standard(), {flipped(ksk_.ds(digest::kSha256)), ksk_.ds(digest::kSha1)});
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnskeyMissing);
  // The SHA-1 DS alone is used.
  check = validate(standard(), {ksk_.ds(digest::kSha1)});
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
  // SHA-384 likewise outranks SHA-256.
  check = validate(standard(), {ksk_.ds(digest::kSha256), flipped(ksk_.ds(digest::kSha384))});
  EXPECT_TRUE(check.result.verdict.isBogus());
  check = validate(standard(), {flipped(ksk_.ds(digest::kSha1)), ksk_.ds(digest::kSha256)});
  EXPECT_TRUE(check.result.verdict.isSecure());
}

TEST_F(DnskeyTest, StrongerDigestOfUnsupportedAlgorithmDoesNotShadow) {
  // The strongest digest is chosen among the DS records we can use: a
  // SHA-256 DS for an unknown algorithm leaves the SHA-1 DS of a supported
  // one in force (as Unbound does).
  const Check check = validate(standard(), {dsWith(ksk_, 253, 2), ksk_.ds(digest::kSha1)});
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
}

TEST_F(DnskeyTest, DsWithoutMatchingDnskey) {
  const TestKey other = TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."));
  const Check check = validate(standard(), {other.ds(digest::kSha256)});
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnskeyMissing);
  const std::string want = "DS " + std::to_string(other.tag()) + " 13 2";
  EXPECT_NE(check.result.verdict.reason.find(want), std::string::npos)
      << check.result.verdict.reason;
  EXPECT_EQ(check.spent, 0u);
}

TEST_F(DnskeyTest, MatchingKeyWithoutZoneFlag) {
  const TestKey sep_only = TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."), 1);
  const Check check =
      validate(dnskeys({&sep_only, &zsk_}, {&sep_only}), {sep_only.ds(digest::kSha256)});
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kNoZoneKeyBitSet);
  EXPECT_EQ(check.spent, 0u);
  // Same through an anchor.
  EXPECT_EQ(validate(dnskeys({&sep_only, &zsk_}, {&sep_only}), {}, {sep_only.dnskey()})
                .result.verdict.ede,
            ede::kNoZoneKeyBitSet);
}

TEST_F(DnskeyTest, RevokedKeyIsNoTrustPoint) {
  const TestKey revoked =
      TestKey::generate(alg::kEcdsaP256Sha256, name("example.com."), 257 | kDnskeyFlagRevoke);
  const Check check = validate(dnskeys({&revoked, &zsk_}, {&revoked}), {revoked.ds(2)});
  EXPECT_EQ(check.result.verdict.ede, ede::kDnskeyMissing);
  EXPECT_NE(check.result.verdict.reason.find("revoked"), std::string::npos);
}

TEST_F(DnskeyTest, SignedOnlyByAKeyWithoutDs) {
  // The KSK matches the DS but only the ZSK signed the DNSKEY RRset.
  const Check check = validate(dnskeys({&ksk_, &zsk_}, {&zsk_}), {ksk_.ds(digest::kSha256)});
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnskeyMissing);
}

TEST_F(DnskeyTest, UnsignedExpiredAndBroken) {
  const Rdatas ds = {ksk_.ds(digest::kSha256)};
  EXPECT_EQ(validate(dnskeys({&ksk_, &zsk_}, {}), ds).result.verdict.ede, ede::kRrsigsMissing);
  SignSpec expired;
  expired.inception = static_cast<uint32_t>(kNow - 30 * kDay);
  expired.expiration = static_cast<uint32_t>(kNow - kDay);
  EXPECT_EQ(validate(dnskeys({&ksk_, &zsk_}, {&ksk_}, expired), ds).result.verdict.ede,
            ede::kSignatureExpired);
  SignSpec future;
  future.inception = static_cast<uint32_t>(kNow + kDay);
  future.expiration = static_cast<uint32_t>(kNow + 30 * kDay);
  EXPECT_EQ(validate(dnskeys({&ksk_, &zsk_}, {&ksk_}, future), ds).result.verdict.ede,
            ede::kSignatureNotYetValid);
  dns::Rrset broken = standard();
  testing_util::flipLastOctet(broken.sigs[0]);
  EXPECT_EQ(validate(broken, ds).result.verdict.ede, ede::kDnssecBogus);
}

TEST_F(DnskeyTest, OneAlgorithmOfTheDsSetIsEnough) {
  // RFC 6840 section 5.11: DS for RSA and for ECDSA keys, the DNSKEY RRset
  // signed by the ECDSA key alone.
  const TestKey rsa = TestKey::generate(alg::kRsaSha256, name("example.com."), 257);
  const Check check = validate(dnskeys({&rsa, &ksk_, &zsk_}, {&ksk_}),
                               {rsa.ds(digest::kSha256), ksk_.ds(digest::kSha256)});
  EXPECT_TRUE(check.result.verdict.isSecure()) << check.result.verdict.reason;
}

TEST_F(DnskeyTest, Sha1AlgorithmFollowsThePolicy) {
  const TestKey rsasha1 = TestKey::generate(alg::kRsaSha1, name("example.com."), 257);
  const dns::Rrset rrset = dnskeys({&rsasha1, &zsk_}, {&rsasha1});
  const Rdatas ds = {rsasha1.ds(digest::kSha256)};
  Policy with_sha1;
  with_sha1.sha1_signatures = true;
  EXPECT_TRUE(validate(rrset, ds, {}, with_sha1).result.verdict.isSecure());
  Policy without_sha1;
  without_sha1.sha1_signatures = false;
  const Check off = validate(rrset, ds, {}, without_sha1);
  EXPECT_EQ(off.result.verdict.security, Security::kInsecure);
  EXPECT_EQ(off.result.verdict.ede, ede::kUnsupportedAlgorithm);
}

TEST_F(DnskeyTest, TtlCap) {
  SignSpec spec = window();
  spec.expiration = static_cast<uint32_t>(kNow + 100);
  EXPECT_EQ(validate(dnskeys({&ksk_, &zsk_}, {&ksk_}, spec), {ksk_.ds(2)}).result.ttl, 100u);
  dns::Rrset rrset = standard();
  rrset.ttl = 60;
  EXPECT_EQ(validate(rrset, {ksk_.ds(2)}).result.ttl, 60u);
}

TEST_F(DnskeyTest, NoTrustAtAllIsBogus) {
  EXPECT_TRUE(validate(standard(), {}).result.verdict.isBogus());
  // Only a malformed DS: nothing usable, and no proof of an unsigned zone.
  EXPECT_TRUE(validate(standard(), {{0x01, 0x02}}).result.verdict.isBogus());
}

TEST_F(DnskeyTest, NotADnskeyRrset) {
  dns::Rrset rrset = standard();
  rrset.type = dns::rrtype::kA;
  EXPECT_TRUE(validate(rrset, {ksk_.ds(2)}).result.verdict.isBogus());
}

TEST_F(DnskeyTest, KeyTrapCollidingKeysAndSignatures) {
  // The DNSKEY RRset holds the KSK and 50 keys with its tag, and 50 RRSIGs
  // claim that tag. Only the KSK matches the DS, so each RRSIG costs one
  // verification, and the per-RRset cap stops the work.
  const TestKey rsa = TestKey::generate(alg::kRsaSha256, name("example.com."), 257);
  dns::Rrset rrset = dnskeys({&rsa, &zsk_}, {});
  for (auto& key : testing_util::collidingKeys(rsa.dnskey(), 50)) rrset.rdatas.push_back(key);
  for (uint32_t i = 0; i < 50; ++i) {
    SignSpec spec = window();
    spec.inception -= i + 1;
    rrset.sigs.push_back(flipped(rsa.sign(rrset, spec)));
  }
  const Check check = validate(rrset, {rsa.ds(digest::kSha256)});
  EXPECT_TRUE(check.result.verdict.isBogus());
  EXPECT_EQ(check.result.verdict.ede, ede::kDnssecBogus);
  EXPECT_LE(check.spent, Budget::kMaxVerificationsPerRrset);
  EXPECT_TRUE(check.exhausted);
  // With a valid signature among the first ones, the answer is secure.
  rrset.sigs.insert(rrset.sigs.begin() + 3, rsa.sign(rrset, window()));
  const Check good = validate(rrset, {rsa.ds(digest::kSha256)});
  EXPECT_TRUE(good.result.verdict.isSecure()) << good.result.verdict.reason;
  EXPECT_EQ(good.spent, 4u);
}

TEST_F(DnskeyTest, DsIsHashedAgainstAFewKeysOfItsTagOnly) {
  // Behind kMaxKeysPerTag colliding keys the real key is never hashed: the
  // cap on digest work holds even when it costs a valid answer.
  const TestKey rsa = TestKey::generate(alg::kRsaSha256, name("example.com."), 257);
  dns::Rrset rrset = dnskeys({}, {});
  for (auto& key : testing_util::collidingKeys(rsa.dnskey(), Budget::kMaxKeysPerTag)) {
    rrset.rdatas.push_back(key);
  }
  rrset.rdatas.push_back(rsa.dnskey());
  rrset.sigs.push_back(rsa.sign(rrset, window()));
  EXPECT_EQ(validate(rrset, {rsa.ds(digest::kSha256)}).result.verdict.ede, ede::kDnskeyMissing);
  // One colliding key fewer and it is found.
  rrset.rdatas.erase(rrset.rdatas.begin());
  rrset.sigs = {rsa.sign(rrset, window())};
  EXPECT_TRUE(validate(rrset, {rsa.ds(digest::kSha256)}).result.verdict.isSecure());
}

TEST_F(DnskeyTest, QueryBudgetOfZero) {
  Budget budget;
  budget.verifications = 0;
  const KeyResult result =
      validateDnskeys(standard(), Rdatas{ksk_.ds(2)}, Rdatas{}, kNow, Policy{}, budget);
  EXPECT_TRUE(result.verdict.isBogus());
  EXPECT_EQ(result.verdict.ede, ede::kDnssecBogus);
  EXPECT_TRUE(budget.exhausted);
}

TEST_F(DnskeyTest, TruncatedKeysInTheRrsetNeverCrash) {
  const dns::Rrset good = standard();
  for (size_t n = 0; n < ksk_.dnskey().size(); ++n) {
    dns::Rrset rrset = good;
    rrset.rdatas[0].resize(n);
    const Check check = validate(rrset, {ksk_.ds(2)}, {ksk_.dnskey()});
    EXPECT_TRUE(check.result.verdict.isBogus()) << n;
  }
}

}  // namespace
}  // namespace shoal::dnssec
