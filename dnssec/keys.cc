#include "dnssec/keys.h"

#include <openssl/evp.h>

#include <algorithm>
#include <string>

#include "dns/constants.h"
#include "dns/wire_io.h"
#include "dnssec/rrsig.h"

namespace shoal::dnssec {

namespace {

constexpr size_t kDnskeyFixed = 4;  // flags (2), protocol (1), algorithm (1)
constexpr size_t kDsFixed = 4;      // key tag (2), algorithm (1), digest type (1)

const EVP_MD* digestMd(uint8_t digest_type) {
  switch (digest_type) {
    case digest::kSha1: return EVP_sha1();
    case digest::kSha256: return EVP_sha256();
    case digest::kSha384: return EVP_sha384();
    default: return nullptr;
  }
}

/// Preference among the supported DS digest types (RFC 4509 section 3:
/// SHA-1 is ignored when a stronger one is present); 0 for unsupported.
int digestStrength(uint8_t digest_type) {
  switch (digest_type) {
    case digest::kSha1: return 1;
    case digest::kSha256: return 2;
    case digest::kSha384: return 3;
    default: return 0;
  }
}

std::string dsText(const Ds& ds) {
  return "DS " + std::to_string(ds.key_tag) + " " + std::to_string(ds.algorithm) + " " +
         std::to_string(ds.digest_type);
}

/// What the DS RRset and the anchors offer as starting points of trust.
struct TrustPoints {
  std::vector<Ds> ds;  // usable: supported digest (the strongest present) and algorithm
  std::vector<std::span<const uint8_t>> anchors;  // anchor keys of supported algorithms
  bool unsupported_algorithm = false;  // a DS or anchor we cannot use for its algorithm
  bool unsupported_digest = false;     // a DS we cannot use for its digest type
  bool malformed = false;              // a DS or anchor too short to parse
};

TrustPoints collectTrustPoints(std::span<const std::vector<uint8_t>> ds_rdatas,
                               std::span<const std::vector<uint8_t>> anchor_keys,
                               const Policy& policy) {
  TrustPoints points;
  int best = 0;
  for (const auto& rdata : ds_rdatas) {
    const auto ds = parseDs(rdata);
    if (!ds) {
      points.malformed = true;
    } else if (!digestSupported(ds->digest_type)) {
      points.unsupported_digest = true;
    } else if (!algorithmSupported(ds->algorithm, policy)) {
      points.unsupported_algorithm = true;
    } else {
      best = std::max(best, digestStrength(ds->digest_type));
      points.ds.push_back(*ds);
    }
  }
  // RFC 4509 section 3: only the strongest digest type among the usable DS
  // records counts (a DS of an algorithm we cannot validate does not make a
  // weaker digest for a supported algorithm unusable, as in Unbound).
  std::erase_if(points.ds, [best](const Ds& ds) { return digestStrength(ds.digest_type) != best; });
  for (const auto& rdata : anchor_keys) {
    const auto key = parseDnskey(rdata);
    if (!key) {
      points.malformed = true;
    } else if (!algorithmSupported(key->algorithm, policy)) {
      points.unsupported_algorithm = true;
    } else {
      points.anchors.emplace_back(rdata);
    }
  }
  return points;
}

/// Keys of `dnskeys` that one of the trust points vouches for. Each DS is
/// hashed against at most Budget::kMaxKeysPerTag keys of its tag and
/// algorithm, which bounds the digest work of a key-tag collision flood.
struct KeyMatch {
  std::vector<std::vector<uint8_t>> keys;  // with the zone flag: usable
  bool without_zone_flag = false;          // a key matched but lacks the zone flag
  bool revoked = false;                    // a key matched but is revoked (RFC 5011)
};

bool acceptable(const Dnskey& key, KeyMatch& match) {
  if ((key.flags & kDnskeyFlagZone) == 0 || key.protocol != kDnskeyProtocol) {
    match.without_zone_flag = true;
    return false;
  }
  if ((key.flags & kDnskeyFlagRevoke) != 0) {
    match.revoked = true;
    return false;
  }
  return true;
}

KeyMatch matchKeys(const dns::Rrset& dnskeys, const TrustPoints& points) {
  KeyMatch match;
  std::vector<bool> taken(dnskeys.rdatas.size(), false);
  for (const Ds& ds : points.ds) {
    uint32_t tried = 0;
    for (size_t i = 0; i < dnskeys.rdatas.size() && tried < Budget::kMaxKeysPerTag; ++i) {
      const auto key = parseDnskey(dnskeys.rdatas[i]);
      if (!key || key->tag != ds.key_tag || key->algorithm != ds.algorithm) continue;
      ++tried;
      if (taken[i] || !dsMatches(dnskeys.owner, dnskeys.rdatas[i], ds)) continue;
      if (!acceptable(*key, match)) continue;
      taken[i] = true;
      match.keys.push_back(dnskeys.rdatas[i]);
    }
  }
  for (const auto& anchor : points.anchors) {
    for (size_t i = 0; i < dnskeys.rdatas.size(); ++i) {
      const auto& rdata = dnskeys.rdatas[i];
      if (taken[i] || !std::ranges::equal(rdata, anchor)) continue;
      const auto key = parseDnskey(rdata);
      if (!key || !acceptable(*key, match)) continue;
      taken[i] = true;
      match.keys.push_back(rdata);
    }
  }
  return match;
}

KeyResult noTrustPoint(const dns::Rrset& dnskeys, const TrustPoints& points) {
  const std::string zone = dnskeys.owner.toText();
  // RFC 4035 section 5.2, RFC 6840 section 5.2: nothing we can validate
  // with is the same as a proven unsigned delegation.
  if (points.unsupported_digest && !points.unsupported_algorithm) {
    return {Verdict::insecure(ede::kUnsupportedDsDigest,
                              "no DS for " + zone + " has a supported digest type"),
            0};
  }
  if (points.unsupported_algorithm || points.unsupported_digest) {
    return {Verdict::insecure(ede::kUnsupportedAlgorithm,
                              "no DS or trust anchor for " + zone + " has a supported algorithm"),
            0};
  }
  // Nothing at all (or only malformed records): the caller should have
  // proven the delegation unsigned instead; fail closed.
  return {Verdict::bogus(ede::kDnskeyMissing, "no usable DS or trust anchor for " + zone), 0};
}

}  // namespace

std::optional<Dnskey> parseDnskey(std::span<const uint8_t> rdata) {
  if (rdata.size() < kDnskeyFixed) return std::nullopt;
  Dnskey key;
  key.flags = dns::load16(rdata.data());
  key.protocol = rdata[2];
  key.algorithm = rdata[3];
  key.tag = keyTag(rdata);
  key.public_key = rdata.subspan(kDnskeyFixed);
  return key;
}

std::optional<Ds> parseDs(std::span<const uint8_t> rdata) {
  if (rdata.size() < kDsFixed) return std::nullopt;
  Ds ds;
  ds.key_tag = dns::load16(rdata.data());
  ds.algorithm = rdata[2];
  ds.digest_type = rdata[3];
  ds.digest = rdata.subspan(kDsFixed);
  return ds;
}

uint16_t keyTag(std::span<const uint8_t> dnskey_rdata) {
  // RFC 4034 appendix B: a 16-bit ones'-complement-style sum of the rdata,
  // even octets high. 64 bits cannot overflow for any rdata (< 2^16 octets).
  uint64_t ac = 0;
  for (size_t i = 0; i < dnskey_rdata.size(); ++i) {
    ac += (i & 1) != 0 ? dnskey_rdata[i] : static_cast<uint64_t>(dnskey_rdata[i]) << 8;
  }
  ac += (ac >> 16) & 0xFFFF;
  return static_cast<uint16_t>(ac & 0xFFFF);
}

bool algorithmSupported(uint8_t algorithm, const Policy& policy) {
  switch (algorithm) {
    case alg::kRsaSha256:
    case alg::kRsaSha512:
    case alg::kEcdsaP256Sha256:
    case alg::kEcdsaP384Sha384:
    case alg::kEd25519:
    case alg::kEd448:
      return true;
    case alg::kRsaSha1:
    case alg::kRsaSha1Nsec3Sha1:
      return policy.sha1_signatures;  // RFC 8624 section 3.1
    default:
      return false;
  }
}

bool digestSupported(uint8_t digest_type) { return digestMd(digest_type) != nullptr; }

std::vector<uint8_t> dsDigest(const dns::Name& owner, std::span<const uint8_t> dnskey_rdata,
                              uint8_t digest_type) {
  const EVP_MD* md = digestMd(digest_type);
  if (md == nullptr) return {};
  // RFC 4034 section 5.1.4: digest = hash(canonical owner name | DNSKEY rdata).
  dns::Name canonical = owner;
  canonical.toLowerCase();
  std::vector<uint8_t> input(canonical.wire().begin(), canonical.wire().end());
  input.insert(input.end(), dnskey_rdata.begin(), dnskey_rdata.end());
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), out.data(), &length, md, nullptr) != 1) return {};
  out.resize(length);
  return out;
}

bool dsMatches(const dns::Name& owner, std::span<const uint8_t> dnskey_rdata, const Ds& ds) {
  const auto key = parseDnskey(dnskey_rdata);
  if (!key || key->tag != ds.key_tag || key->algorithm != ds.algorithm) return false;
  const auto digest = dsDigest(owner, dnskey_rdata, ds.digest_type);
  return !digest.empty() && std::ranges::equal(digest, ds.digest);
}

KeyResult validateDnskeys(const dns::Rrset& dnskeys, std::span<const std::vector<uint8_t>> ds,
                          std::span<const std::vector<uint8_t>> anchor_keys, int64_t now,
                          const Policy& policy, Budget& budget, KeyCache* key_cache) {
  const std::string zone = dnskeys.owner.toText();
  if (dnskeys.type != dns::rrtype::kDnskey) {
    return {Verdict::bogus(ede::kDnssecBogus,
                           "not a DNSKEY RRset: " + zone + " " + dns::typeToText(dnskeys.type)),
            0};
  }
  const TrustPoints points = collectTrustPoints(ds, anchor_keys, policy);
  if (points.ds.empty() && points.anchors.empty()) return noTrustPoint(dnskeys, points);

  const KeyMatch match = matchKeys(dnskeys, points);
  if (match.keys.empty()) {
    if (match.without_zone_flag) {
      return {Verdict::bogus(ede::kNoZoneKeyBitSet,
                             "the DNSKEY of " + zone + " that matches its DS or trust anchor "
                             "lacks the zone key flag or protocol 3"),
              0};
    }
    std::string why = "no DNSKEY of " + zone + " matches ";
    why += points.ds.empty() ? "a trust anchor" : dsText(points.ds.front());
    if (match.revoked) why += " (the matching key is revoked)";
    return {Verdict::bogus(ede::kDnskeyMissing, std::move(why)), 0};
  }
  // RFC 6840 section 5.11: one validated path is enough; the DS algorithms
  // need not all sign.
  RrsetResult signed_by =
      verifyRrset(dnskeys, dnskeys.owner, match.keys, now, policy, budget, key_cache);
  return {std::move(signed_by.verdict), signed_by.ttl};
}

}  // namespace shoal::dnssec
