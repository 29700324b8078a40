#pragma once
// How the resolver uses shmcache: the kinds of entries, the trust ranks and
// the payload formats. Payloads outlive worker and supervisor restarts, so
// they carry a format octet, and a change here is a change of the cache
// layout (bump kPayloadFormat; old entries are then ignored as misses).
//
// RRset payload (kind kRrset; owner, type, class IN are the key):
//   u8 format | u8 flags | u16 rr_count | rr_count x (u16 rdlength, rdata)
//   | u16 sig_count | sig_count x (u16 rdlength, RRSIG rdata)
//   | u16 proof_count | proof_count x (owner wire name, u16 type, u16 rdlength, rdata)
// The proofs are the NSEC/NSEC3 records (with their RRSIGs) that show a
// wildcard expansion was needed (RFC 4035 section 3.1.3.3): DO clients
// get them in the authority section, from the cache too.
// Negative payload (kinds kNodata, kNxdomain; RFC 2308): the SOA and the
// proof records (NSEC/NSEC3 and their RRSIGs) that came with the answer:
//   u8 format | u8 flags | u16 record_count
//   | record_count x (owner wire name, u16 type, u16 rdlength, rdata)
// All rdata is uncompressed wire form. Decoders check every bound.
// Negative trust anchor (kind kNegativeAnchor, type 0, global partition;
// RFC 7646, resolver/negative_anchors.h): the zone's lookup key is the key;
// expires_at ends it; its payload has its own format octet, so that a bump
// of kPayloadFormat does not drop the operator's anchors:
//   u8 kNegativeAnchorFormat | i64 added_at (big-endian, wall seconds)
//   | the operator's reason (the rest, at most kMaxAnchorReason octets)

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/name.h"
#include "dns/rrset.h"

namespace shoal::resolver {

inline constexpr uint8_t kPayloadFormat = 2;

enum class Kind : uint8_t {
  kRrset = 0,
  kNodata = 1,     // name exists, no data of this type
  kNxdomain = 2,   // name does not exist (type 0 in the key)
  kServer = 3,     // per-server RTT and loss (resolver/server_stats.h)
  kNegativeAnchor = 4,  // a negative trust anchor added with shoalctl (type 0)
  kDenialZone = 5,      // a zone's NSEC/NSEC3 parameters and SOA (type 0; resolver/ranges.h)
};

/// Trust ranks, lowest first (RFC 2181 section 5.4.1).
enum class Rank : uint8_t {
  kGlue = 1,              // additional-section data, glue
  kReferral = 2,          // NS from a referral (non-authoritative authority)
  kAnswer = 3,            // non-authoritative answer
  kAuthority = 4,         // authority section of an authoritative answer
  kAuthoritativeAnswer = 5,
};

/// Data below this rank (glue, referral NS) only helps find servers; it is
/// never an answer (RFC 2181 section 5.4.1).
inline constexpr Rank kMinAnswerRank = Rank::kAnswer;

/// A record (owner, type, rdata) of a payload, referring into it: negative
/// answers' records and wildcard proofs. `next` is the offset after it.
struct PayloadRecord {
  dns::Name owner;
  uint16_t type;
  std::span<const uint8_t> rdata;
  size_t next;
};

/// A decoded RRset, referring into the payload it was read from.
class RrsetView {
 public:
  /// Validates `payload`; nullopt if it is not a well-formed RRset payload.
  static std::optional<RrsetView> parse(std::span<const uint8_t> payload);

  size_t count() const { return count_; }
  size_t sigCount() const { return sig_count_; }
  uint8_t flags() const { return payload_[1]; }
  /// Iterates rdata: call with offset 0, then the returned next offset.
  struct Item {
    std::span<const uint8_t> rdata;
    size_t next;
  };
  Item rdata(size_t offset) const;
  size_t firstRdata() const { return 4; }
  size_t firstSig() const { return sigs_offset_; }
  /// The wildcard proof records (see above): iterate like NegativeView.
  size_t proofCount() const { return proof_count_; }
  size_t firstProof() const { return proofs_offset_; }
  PayloadRecord proof(size_t offset) const;

 private:
  std::span<const uint8_t> payload_;
  size_t count_ = 0;
  size_t sig_count_ = 0;
  size_t sigs_offset_ = 0;
  size_t proof_count_ = 0;
  size_t proofs_offset_ = 0;
};

/// RRset payload flags.
inline constexpr uint8_t kFromDname = 0x01;  // a CNAME synthesised from a DNAME (RFC 6672)
/// Negative payload flags. kNoSoa: a denial without the zone's SOA (the
/// proof of no DS that came with a referral, or an upstream resolver's
/// NODATA without SOA): it tells the validator, but is no answer for a
/// client (RFC 2308 section 2.2: negative answers carry the SOA).
inline constexpr uint8_t kNoSoa = 0x01;

/// Owned RRset, for the slow path (flags: the payload flags above).
using dns::Rrset;

/// A record of a negative answer, or of a wildcard proof.
struct NegativeRecord {
  dns::Name owner;
  uint16_t type = 0;
  std::vector<uint8_t> rdata;
};

std::vector<uint8_t> encodeRrset(const Rrset& rrset, const std::vector<NegativeRecord>& proofs = {});

std::vector<uint8_t> encodeNegative(const std::vector<NegativeRecord>& records, uint8_t flags = 0);

/// Iterates a negative payload without allocating.
class NegativeView {
 public:
  static std::optional<NegativeView> parse(std::span<const uint8_t> payload);
  size_t count() const { return count_; }
  uint8_t flags() const { return payload_[1]; }
  /// Reads the record at `offset` (start with first()).
  PayloadRecord record(size_t offset) const;
  size_t first() const { return 4; }

 private:
  std::span<const uint8_t> payload_;
  size_t count_ = 0;
};

/// SOA MINIMUM field of SOA rdata (RFC 2308 section 5), if well-formed.
std::optional<uint32_t> soaMinimum(std::span<const uint8_t> soa_rdata);

}  // namespace shoal::resolver
