// RRSIG verification.
//
// Why OpenSSL's EVP interface directly and not ldns_verify_rrsig_keylist():
// - Work caps. KeyTrap (CVE-2023-50387) is about how many public-key
//   operations one answer can trigger. ldns tries every key of the list
//   against every signature with no cap and no hook between attempts; here
//   each operation is preceded by Budget::takeVerification() and bounded per
//   RRset and per key tag.
// - Time. ldns checks the validity window against time(NULL) inside the
//   call; the validator is sans-I/O and takes `now` from the caller (the
//   resolver's clock, a fake clock in tests).
// - Data shape. ldns wants ldns_rr lists, so every RRset would first be
//   converted into heap-allocated ldns objects; we already hold uncompressed
//   wire rdata and build the signed octets from it in one buffer.
// - Outcomes. ldns reports a single status; we need the specific reason and
//   Extended DNS Error for each failure (expired vs no key vs bad signature).
// ldns still signs the RRsets of the unit tests, so the canonical form here
// is checked against an independent implementation.

#include "dnssec/rrsig.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <string>
#include <unordered_map>

#include "dns/constants.h"
#include "dns/wire_io.h"
#include "dnssec/keys.h"

namespace shoal::dnssec {

namespace {

constexpr size_t kRrsigFixed = 18;  // RFC 4034 section 3.1: the octets before the signer
constexpr size_t kMaxRdata = 65535;

// ---------------------------------------------------------------------------
// OpenSSL ownership.

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

// ---------------------------------------------------------------------------
// Public keys from DNSKEY rdata.

// RSA modulus bounds. A verification costs roughly the cube of the modulus
// size, so the upper bound keeps each public-key operation (and with the
// Budget, each query) cheap: 4096 bits is the largest size RFC 3110 and the
// signers in use produce. Below 1024 bits a key can be factored and proves
// nothing (RFC 8624 section 3.1 deprecates such keys).
constexpr size_t kMinRsaBits = 1024;
constexpr size_t kMaxRsaBits = 4096;
// A public exponent costs one modular multiplication per bit: zones use 3
// or 65537. OpenSSL itself refuses exponents over 64 bits for moduli above
// 3072 bits; we apply that bound to every size, so a crafted key cannot make
// one verification as dear as a private-key operation.
constexpr size_t kMaxRsaExponentBits = 64;

size_t significantBits(std::span<const uint8_t> number) {
  size_t i = 0;
  while (i < number.size() && number[i] == 0) ++i;
  if (i == number.size()) return 0;
  size_t bits = 8 * (number.size() - i - 1);
  for (unsigned top = number[i]; top != 0; top >>= 1) ++bits;
  return bits;
}

BnPtr bignum(std::span<const uint8_t> bytes) {
  return BnPtr(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
}

PkeyPtr keyFromParams(const char* type, const OSSL_PARAM* params) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return {};
  EVP_PKEY* key = nullptr;
  // Cast: OpenSSL takes a non-const OSSL_PARAM* but only reads it.
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
      1) {
    return {};
  }
  return PkeyPtr(key);
}

/// RFC 3110 section 2: exponent length (1 octet, or 0 then 2 octets),
/// exponent, modulus.
PkeyPtr rsaKey(std::span<const uint8_t> key) {
  if (key.empty()) return {};
  size_t exponent_length = key[0];
  size_t pos = 1;
  if (exponent_length == 0) {
    if (key.size() < 3) return {};
    exponent_length = dns::load16(key.data() + 1);
    pos = 3;
  }
  if (exponent_length == 0 || pos + exponent_length >= key.size()) return {};
  const auto exponent = key.subspan(pos, exponent_length);
  const auto modulus = key.subspan(pos + exponent_length);
  const size_t modulus_bits = significantBits(modulus);
  if (modulus_bits < kMinRsaBits || modulus_bits > kMaxRsaBits) return {};
  if (significantBits(exponent) > kMaxRsaExponentBits) return {};

  const BnPtr n = bignum(modulus);
  const BnPtr e = bignum(exponent);
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!n || !e || !builder ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return {};
  }
  const ParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
  if (!params) return {};
  return keyFromParams("RSA", params.get());
}

/// RFC 6605 section 4: the key is the point's X and Y, `coordinate` octets
/// each. OpenSSL checks that the point lies on the curve.
PkeyPtr ecKey(std::span<const uint8_t> key, const char* group, size_t coordinate) {
  if (key.size() != 2 * coordinate) return {};
  std::vector<uint8_t> point;  // SEC 1 uncompressed form: 0x04 | X | Y
  point.reserve(1 + key.size());
  point.push_back(0x04);
  point.insert(point.end(), key.begin(), key.end());
  // Cast: OSSL_PARAM's pointer is non-const, but fromdata only reads it.
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  return keyFromParams("EC", params);
}

/// RFC 8080 section 3: the raw public key.
PkeyPtr edKey(std::span<const uint8_t> key, int type, size_t size) {
  if (key.size() != size) return {};
  return PkeyPtr(EVP_PKEY_new_raw_public_key(type, nullptr, key.data(), key.size()));
}

/// RFC 6605 section 4: the signature is r | s; OpenSSL wants DER.
std::vector<uint8_t> ecdsaDer(std::span<const uint8_t> signature, size_t coordinate) {
  if (signature.size() != 2 * coordinate) return {};
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BnPtr r = bignum(signature.first(coordinate));
  BnPtr s = bignum(signature.subspan(coordinate));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
  (void)r.release();  // owned by sig now
  (void)s.release();
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return {};
  std::vector<uint8_t> der(static_cast<size_t>(length));
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) return {};
  return der;
}

bool digestVerify(const PkeyPtr& key, const EVP_MD* md, std::span<const uint8_t> data,
                  std::span<const uint8_t> signature) {
  if (!key || signature.empty()) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(),
                          data.size()) == 1;
}

/// The OpenSSL key for a DNSKEY's public key field; null when it does not
/// decode or the algorithm is unknown.
PkeyPtr decodeKey(uint8_t algorithm, std::span<const uint8_t> key) {
  switch (algorithm) {
    case alg::kRsaSha1:
    case alg::kRsaSha1Nsec3Sha1:
    case alg::kRsaSha256:
    case alg::kRsaSha512:
      return rsaKey(key);
    case alg::kEcdsaP256Sha256: return ecKey(key, "prime256v1", 32);
    case alg::kEcdsaP384Sha384: return ecKey(key, "secp384r1", 48);
    case alg::kEd25519: return edKey(key, EVP_PKEY_ED25519, 32);
    case alg::kEd448: return edKey(key, EVP_PKEY_ED448, 57);
    default: return {};
  }
}

/// Verifies with a decoded key.
bool verifyWithKey(uint8_t algorithm, const PkeyPtr& key, std::span<const uint8_t> data,
                   std::span<const uint8_t> signature) {
  switch (algorithm) {
    case alg::kRsaSha1:
    case alg::kRsaSha1Nsec3Sha1: return digestVerify(key, EVP_sha1(), data, signature);
    case alg::kRsaSha256: return digestVerify(key, EVP_sha256(), data, signature);
    case alg::kRsaSha512: return digestVerify(key, EVP_sha512(), data, signature);
    case alg::kEcdsaP256Sha256:
      return digestVerify(key, EVP_sha256(), data, ecdsaDer(signature, 32));
    case alg::kEcdsaP384Sha384:
      return digestVerify(key, EVP_sha384(), data, ecdsaDer(signature, 48));
    case alg::kEd25519:
    case alg::kEd448: return digestVerify(key, nullptr, data, signature);
    default: return false;
  }
}

// ---------------------------------------------------------------------------
// Canonical form (RFC 4034 section 6.2).

enum class Shape : uint8_t { kOpaque, kNames, kNaptr, kA6 };
struct NameLayout {
  Shape shape = Shape::kOpaque;
  uint8_t prefix = 0;  // fixed octets before the first name
  uint8_t names = 0;   // consecutive names after the prefix
};

/// The types whose embedded names are lowercased in canonical form: RFC 4034
/// section 6.2 item 3, as RFC 6840 section 5.1 corrects it (NSEC is not,
/// RRSIG is). HINFO is in the RFC's list but holds no names.
NameLayout canonicalLayout(uint16_t type) {
  namespace t = dns::rrtype;
  switch (type) {
    case t::kNs: case 3 /* MD */: case 4 /* MF */: case t::kCname: case t::kMb: case t::kMg:
    case t::kMr: case t::kPtr: case t::kDname: case t::kNxt:
      return {Shape::kNames, 0, 1};
    case t::kSoa: case t::kMinfo: case t::kRp: return {Shape::kNames, 0, 2};
    case t::kMx: case t::kAfsdb: case t::kRt: case t::kKx: return {Shape::kNames, 2, 1};
    case t::kPx: return {Shape::kNames, 2, 2};
    case t::kSrv: return {Shape::kNames, 6, 1};
    case t::kSig: case t::kRrsig: return {Shape::kNames, kRrsigFixed, 1};
    case t::kNaptr: return {Shape::kNaptr, 4, 0};
    case 38 /* A6 */: return {Shape::kA6, 0, 0};
    default: return {};
  }
}

uint8_t asciiLower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

/// Lowercases the uncompressed name at `pos` in place and moves past it.
/// False when the name is malformed or runs past the rdata.
bool lowercaseName(std::vector<uint8_t>& rdata, size_t& pos) {
  const size_t start = pos;
  for (;;) {
    if (pos >= rdata.size()) return false;
    const size_t length = rdata[pos];
    if (length > dns::kMaxLabelLength || pos + 1 + length > rdata.size()) return false;
    if (pos + 1 + length - start > dns::kMaxNameLength) return false;
    for (size_t i = pos + 1; i <= pos + length; ++i) rdata[i] = asciiLower(rdata[i]);
    pos += 1 + length;
    if (length == 0) return true;
  }
}

/// Moves past one <character-string> (RFC 1035 section 3.3).
bool skipCharacterString(const std::vector<uint8_t>& rdata, size_t& pos) {
  if (pos >= rdata.size() || pos + 1 + rdata[pos] > rdata.size()) return false;
  pos += 1u + rdata[pos];
  return true;
}

/// Lowercases the embedded names of `rdata` as `layout` says. False when the
/// rdata does not have that shape (it is then signed over as it is).
bool lowercaseNames(std::vector<uint8_t>& rdata, const NameLayout& layout) {
  size_t pos = layout.prefix;
  switch (layout.shape) {
    case Shape::kOpaque:
      return true;
    case Shape::kNames:
      for (int i = 0; i < layout.names; ++i) {
        if (!lowercaseName(rdata, pos)) return false;
      }
      return true;
    case Shape::kNaptr:  // RFC 3403 section 4.1: flags, services, regexp, replacement
      for (int i = 0; i < 3; ++i) {
        if (!skipCharacterString(rdata, pos)) return false;
      }
      return lowercaseName(rdata, pos);
    case Shape::kA6: {  // RFC 2874 section 3.1: prefix length, suffix, prefix name
      if (rdata.empty() || rdata[0] > 128) return false;
      const size_t prefix_length = rdata[0];
      pos = 1 + (128 - prefix_length + 7) / 8;
      return prefix_length == 0 || lowercaseName(rdata, pos);
    }
  }
  return false;
}

size_t labelsWithoutWildcard(const dns::Name& owner) {
  const size_t count = owner.labelCount();
  const auto first = owner.label(0);
  const bool wildcard = count > 0 && first.size() == 1 && first[0] == '*';
  return wildcard ? count - 1 : count;
}

/// RFC 4035 section 5.3.2: the owner as signed, "*." + the rightmost
/// `labels` labels when the RRset was expanded from a wildcard; lowercase.
dns::Name canonicalOwner(const dns::Name& owner, uint8_t labels) {
  dns::Name out = owner;
  if (labels < labelsWithoutWildcard(owner)) {
    static constexpr uint8_t kStar[] = {'*'};
    // Cannot fail: the suffix is at least one label shorter than `owner`.
    auto wildcard = owner.suffix(labels).prepend(kStar);
    if (wildcard) out = *wildcard;
  }
  out.toLowerCase();
  return out;
}

void append16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void append32(std::vector<uint8_t>& out, uint32_t v) {
  append16(out, static_cast<uint16_t>(v >> 16));
  append16(out, static_cast<uint16_t>(v));
}

// ---------------------------------------------------------------------------
// Verifying an RRset.

/// A time stamp as a date for reasons. RRSIG times are serial numbers
/// (RFC 4034 section 3.1.5): the one meant is the closest to `now`.
std::string dateText(uint32_t stamp, int64_t now) {
  const int64_t absolute = now + static_cast<int32_t>(stamp - static_cast<uint32_t>(now));
  const auto seconds = static_cast<time_t>(absolute);
  std::tm tm{};
  char text[40];
  if (gmtime_r(&seconds, &tm) == nullptr ||
      std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
    return std::to_string(stamp);
  }
  return text;
}

/// A usable key of the zone: zone flag, protocol 3, not revoked (RFC 4035
/// section 5.3.1, RFC 5011 section 2.1).
struct ZoneKey {
  Dnskey key;
  std::span<const uint8_t> rdata;
};

std::vector<ZoneKey> usableKeys(std::span<const std::vector<uint8_t>> keys) {
  std::vector<ZoneKey> out;
  for (const auto& rdata : keys) {
    const auto key = parseDnskey(rdata);
    if (!key || (key->flags & kDnskeyFlagZone) == 0 || key->protocol != kDnskeyProtocol ||
        (key->flags & kDnskeyFlagRevoke) != 0) {
      continue;
    }
    out.push_back({*key, rdata});
  }
  return out;
}

/// How far an RRSIG got before it failed; the furthest one names the EDE.
enum class Stage : uint8_t { kNone, kFields, kTime, kKey, kCrypto };

/// The work and the best explanation so far for one RRset.
struct Attempt {
  Attempt(const dns::Rrset& set, const dns::Name& signer_zone, int64_t time)
      : rrset(set),
        zone(signer_zone),
        now(time),
        what(set.owner.toText() + " " + dns::typeToText(set.type)),
        owner_labels(labelsWithoutWildcard(set.owner)),
        reason("no RRSIG by " + signer_zone.toText() + " covers " + what) {}

  const dns::Rrset& rrset;
  const dns::Name& zone;
  int64_t now;
  std::string what;  // "www.example.com. A"
  size_t owner_labels = 0;
  uint32_t spent = 0;  // public-key operations on this RRset
  Stage stage = Stage::kNone;
  uint16_t ede = ede::kRrsigsMissing;
  std::string reason;

  /// Records a failure if it got further than the ones before.
  void fail(Stage reached, uint16_t code, std::string why) {
    if (reached <= stage) return;
    stage = reached;
    ede = code;
    reason = std::move(why);
  }
  /// A cap was hit: this explanation wins, and the work stops.
  void stop(std::string why) {
    stage = Stage::kCrypto;
    ede = ede::kDnssecBogus;
    reason = std::move(why);
  }
  std::string sigText(const Rrsig& sig) const {
    return "RRSIG for " + what + " by " + sig.signer.toText() + " (key " +
           std::to_string(sig.key_tag) + ", algorithm " + std::to_string(sig.algorithm) + ")";
  }
};

/// RFC 4035 section 5.3.1 checks that need no key.
bool fieldsValid(const Rrsig& sig, Attempt& at) {
  if (!at.rrset.owner.isSubdomainOf(sig.signer)) {
    at.fail(Stage::kFields, ede::kDnssecBogus,
            at.sigText(sig) + ": owner is not in the signer's zone");
    return false;
  }
  if (sig.labels > at.owner_labels) {
    at.fail(Stage::kFields, ede::kDnssecBogus,
            at.sigText(sig) + ": labels field " + std::to_string(sig.labels) +
                " exceeds the owner's " + std::to_string(at.owner_labels) + " labels");
    return false;
  }
  if (!signatureTimeValid(sig, at.now)) {
    const auto now = static_cast<uint32_t>(at.now);
    const bool started = sig.inception == now || static_cast<int32_t>(now - sig.inception) > 0;
    if (!started) {
      at.fail(Stage::kTime, ede::kSignatureNotYetValid,
              at.sigText(sig) + " not valid before " + dateText(sig.inception, at.now));
    } else {
      at.fail(Stage::kTime, ede::kSignatureExpired,
              at.sigText(sig) + " expired " + dateText(sig.expiration, at.now));
    }
    return false;
  }
  return true;
}

enum class Outcome : uint8_t { kNext, kSecure, kStop };

/// Tries the keys of `sig`'s tag and algorithm, within the caps.
Outcome tryKeys(const Rrsig& sig, std::span<const ZoneKey> keys, Attempt& at,
                const Policy& policy, Budget& budget, KeyCache* key_cache) {
  if (!algorithmSupported(sig.algorithm, policy)) {
    at.fail(Stage::kKey, ede::kDnskeyMissing, at.sigText(sig) + ": algorithm not supported");
    return Outcome::kNext;
  }
  std::vector<uint8_t> data;  // built on the first key that matches
  uint32_t tried = 0;
  for (const ZoneKey& key : keys) {
    if (key.key.tag != sig.key_tag || key.key.algorithm != sig.algorithm) continue;
    if (tried == Budget::kMaxKeysPerTag) break;
    if (at.spent == Budget::kMaxVerificationsPerRrset) {  // KeyTrap, CVE-2023-50387
      budget.exhausted = true;
      at.stop("gave up on " + at.what + " after " + std::to_string(at.spent) +
              " signature checks (per-RRset cap)");
      return Outcome::kStop;
    }
    if (!budget.takeVerification()) {
      at.stop("verification budget of the query spent at " + at.what +
              " (per-query cap on signature checks)");
      return Outcome::kStop;
    }
    ++tried;
    ++at.spent;
    if (data.empty()) data = signedData(at.rrset, sig);
    if (verifySignature(sig.algorithm, key.rdata, data, sig.signature, key_cache)) {
      return Outcome::kSecure;
    }
  }
  if (tried == 0) {
    at.fail(Stage::kKey, ede::kDnskeyMissing,
            at.sigText(sig) + ": no DNSKEY of " + at.zone.toText() +
                " with that tag and algorithm");
  } else {
    at.fail(Stage::kCrypto, ede::kDnssecBogus,
            at.sigText(sig) + " does not verify (" + std::to_string(tried) + " key(s) tried)");
  }
  return Outcome::kNext;
}

RrsetResult bogusResult(uint16_t code, std::string why) {
  RrsetResult result;
  result.verdict = Verdict::bogus(code, std::move(why));
  return result;
}

RrsetResult secureResult(const dns::Rrset& rrset, const Rrsig& sig, size_t owner_labels,
                         int64_t now) {
  RrsetResult result;
  result.verdict = Verdict::secure();
  // The window was checked: expiration - now is the time left, in serial
  // arithmetic (RFC 4034 section 3.1.5, RFC 4035 section 5.3.3).
  const uint32_t left = sig.expiration - static_cast<uint32_t>(now);
  result.ttl = std::min({rrset.ttl, sig.original_ttl, left});
  if (sig.labels < owner_labels) {  // RFC 4035 section 5.3.4
    result.wildcard = true;
    result.wildcard_closest_encloser = rrset.owner.suffix(sig.labels);
  }
  return result;
}

}  // namespace

std::optional<Rrsig> parseRrsig(std::span<const uint8_t> rdata) {
  if (rdata.size() <= kRrsigFixed) return std::nullopt;
  auto signer = dns::Name::fromUncompressed(rdata.subspan(kRrsigFixed));
  if (!signer) return std::nullopt;
  Rrsig sig;
  sig.type_covered = dns::load16(rdata.data());
  sig.algorithm = rdata[2];
  sig.labels = rdata[3];
  sig.original_ttl = dns::load32(rdata.data() + 4);
  sig.expiration = dns::load32(rdata.data() + 8);
  sig.inception = dns::load32(rdata.data() + 12);
  sig.key_tag = dns::load16(rdata.data() + 16);
  sig.signer = *signer;
  const size_t fields = kRrsigFixed + sig.signer.length();
  sig.fields = rdata.first(fields);
  sig.signature = rdata.subspan(fields);
  return sig;
}

bool signatureTimeValid(const Rrsig& sig, int64_t now) {
  // RFC 1982 serial comparison: a <= b when equal or b - a, as a signed
  // 32-bit difference, is positive.
  const auto n = static_cast<uint32_t>(now);
  const auto serialLe = [](uint32_t a, uint32_t b) {
    return a == b || static_cast<int32_t>(b - a) > 0;
  };
  return serialLe(sig.inception, n) && serialLe(n, sig.expiration);
}

std::vector<uint8_t> signedData(const dns::Rrset& rrset, const Rrsig& sig) {
  // RFC 4034 section 6.3: canonical rdata order, duplicates removed.
  const NameLayout layout = canonicalLayout(rrset.type);
  std::vector<std::vector<uint8_t>> rdatas;
  rdatas.reserve(rrset.rdatas.size());
  for (const auto& rdata : rrset.rdatas) {
    if (rdata.size() > kMaxRdata) return {};
    std::vector<uint8_t> canonical = rdata;
    if (!lowercaseNames(canonical, layout)) canonical = rdata;
    rdatas.push_back(std::move(canonical));
  }
  std::ranges::sort(rdatas);  // lexicographic on unsigned octets: memcmp order, prefix first
  rdatas.erase(std::unique(rdatas.begin(), rdatas.end()), rdatas.end());

  // RFC 4034 section 3.1.8.1: RRSIG_RDATA (without the signature, signer
  // lowercased) | RR(1) | RR(2) | ...
  dns::Name signer = sig.signer;
  signer.toLowerCase();
  const dns::Name owner = canonicalOwner(rrset.owner, sig.labels);
  std::vector<uint8_t> out;
  append16(out, sig.type_covered);
  out.push_back(sig.algorithm);
  out.push_back(sig.labels);
  append32(out, sig.original_ttl);
  append32(out, sig.expiration);
  append32(out, sig.inception);
  append16(out, sig.key_tag);
  out.insert(out.end(), signer.wire().begin(), signer.wire().end());
  for (const auto& rdata : rdatas) {
    out.insert(out.end(), owner.wire().begin(), owner.wire().end());
    append16(out, rrset.type);
    append16(out, dns::rrclass::kIn);
    append32(out, sig.original_ttl);
    append16(out, static_cast<uint16_t>(rdata.size()));
    out.insert(out.end(), rdata.begin(), rdata.end());
  }
  return out;
}

struct MdFree {
  void operator()(EVP_MD* p) const { EVP_MD_free(p); }
};
using MdPtr = std::unique_ptr<EVP_MD, MdFree>;

/// The digest an algorithm signs (null: EdDSA signs the message itself).
const char* digestName(uint8_t algorithm) {
  switch (algorithm) {
    case alg::kRsaSha1:
    case alg::kRsaSha1Nsec3Sha1: return "SHA1";
    case alg::kRsaSha256:
    case alg::kEcdsaP256Sha256: return "SHA256";
    case alg::kRsaSha512: return "SHA512";
    case alg::kEcdsaP384Sha384: return "SHA384";
    default: return nullptr;
  }
}

struct KeyCache::Entry {
  PkeyPtr key;  // null: the key data does not decode
  // RSA and ECDSA: a context set up once for verifying a digest with this
  // key (EVP_PKEY_verify may be called again on it), and the digest,
  // fetched once. OpenSSL 3 looks both up by name on every
  // EVP_DigestVerifyInit, which cost as much as the verification.
  PkeyCtxPtr verify;
  MdPtr md;
};

struct KeyCache::Impl {
  size_t capacity;
  // Key: the algorithm octet, then the public key field.
  std::unordered_map<std::string, Entry> keys;
};

KeyCache::KeyCache(size_t capacity) : impl_(std::make_unique<Impl>()) {
  impl_->capacity = capacity;
}
KeyCache::~KeyCache() = default;
size_t KeyCache::size() const { return impl_->keys.size(); }

namespace {

KeyCache::Entry prepare(uint8_t algorithm, std::span<const uint8_t> public_key) {
  KeyCache::Entry entry{decodeKey(algorithm, public_key), {}, {}};
  const char* digest = digestName(algorithm);
  if (!entry.key || digest == nullptr) return entry;
  MdPtr md(EVP_MD_fetch(nullptr, digest, nullptr));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, entry.key.get(), nullptr));
  if (md && ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
      EVP_PKEY_CTX_set_signature_md(ctx.get(), md.get()) == 1) {
    entry.verify = std::move(ctx);
    entry.md = std::move(md);
  }
  return entry;
}

/// Verifies with a prepared entry: the digest, then the public-key
/// operation on the cached context.
bool verifyPrepared(uint8_t algorithm, const KeyCache::Entry& entry,
                    std::span<const uint8_t> data, std::span<const uint8_t> signature) {
  if (!entry.key) return false;
  if (!entry.verify) return verifyWithKey(algorithm, entry.key, data, signature);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &digest_length, entry.md.get(), nullptr) != 1) {
    return false;
  }
  std::vector<uint8_t> der;
  if (algorithm == alg::kEcdsaP256Sha256 || algorithm == alg::kEcdsaP384Sha384) {
    der = ecdsaDer(signature, algorithm == alg::kEcdsaP256Sha256 ? 32 : 48);
    if (der.empty()) return false;
    signature = der;
  }
  return EVP_PKEY_verify(entry.verify.get(), signature.data(), signature.size(), digest,
                         digest_length) == 1;
}

}  // namespace

const KeyCache::Entry* KeyCache::find(uint8_t algorithm, std::span<const uint8_t> public_key) {
  std::string id(1, static_cast<char>(algorithm));
  id.append(reinterpret_cast<const char*>(public_key.data()), public_key.size());
  if (auto it = impl_->keys.find(id); it != impl_->keys.end()) return &it->second;
  // Bounded: a flood of new keys empties it rather than growing it.
  if (impl_->keys.size() >= impl_->capacity) impl_->keys.clear();
  auto [it, inserted] = impl_->keys.emplace(std::move(id), prepare(algorithm, public_key));
  ERR_clear_error();  // a key that did not decode leaves errors on the queue
  return &it->second;
}

bool verifySignature(uint8_t algorithm, std::span<const uint8_t> dnskey_rdata,
                     std::span<const uint8_t> data, std::span<const uint8_t> signature,
                     KeyCache* key_cache) {
  const auto key = parseDnskey(dnskey_rdata);
  if (!key || key->algorithm != algorithm) return false;
  bool ok = false;
  if (key_cache != nullptr) {
    ok = verifyPrepared(algorithm, *key_cache->find(algorithm, key->public_key), data, signature);
  } else {
    ok = verifyWithKey(algorithm, decodeKey(algorithm, key->public_key), data, signature);
  }
  // A failed verification leaves entries on the thread's OpenSSL error queue,
  // which the TLS code of the same thread would otherwise read as its own.
  if (!ok) ERR_clear_error();
  return ok;
}

RrsetResult verifyRrset(const dns::Rrset& rrset, const dns::Name& zone,
                        std::span<const std::vector<uint8_t>> keys, int64_t now,
                        const Policy& policy, Budget& budget, KeyCache* key_cache) {
  Attempt at(rrset, zone, now);
  if (rrset.rdatas.empty()) return bogusResult(ede::kDnssecBogus, "empty RRset " + at.what);
  for (const auto& rdata : rrset.rdatas) {
    if (rdata.size() > kMaxRdata) {
      return bogusResult(ede::kDnssecBogus, "oversized rdata in " + at.what);
    }
  }
  const std::vector<ZoneKey> zone_keys = usableKeys(keys);
  for (const auto& sig_rdata : rrset.sigs) {
    const auto sig = parseRrsig(sig_rdata);
    if (!sig) {
      at.fail(Stage::kFields, ede::kDnssecBogus, "malformed RRSIG for " + at.what);
      continue;
    }
    // RFC 4035 section 5.3.1: only the zone's own signatures over this type.
    if (sig->type_covered != rrset.type || !(sig->signer == zone)) continue;
    if (!fieldsValid(*sig, at)) continue;
    switch (tryKeys(*sig, zone_keys, at, policy, budget, key_cache)) {
      case Outcome::kSecure: return secureResult(rrset, *sig, at.owner_labels, now);
      case Outcome::kStop: return bogusResult(at.ede, std::move(at.reason));
      case Outcome::kNext: break;
    }
  }
  return bogusResult(at.ede, std::move(at.reason));
}

}  // namespace shoal::dnssec
