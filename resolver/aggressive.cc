#include "resolver/aggressive.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "dns/constants.h"
#include "dns/wire_io.h"
#include "dnssec/aggressive.h"
#include "dnssec/denial.h"
#include "resolver/cache_format.h"
#include "resolver/ranges.h"

namespace shoal::resolver {

namespace {

// How `space` is cut up: one area per range slot (the order key, then the
// payload), one for the zone entry, the rest for the answer written.
constexpr size_t kOrderArea = dns::kMaxLookupKeyLength;
constexpr size_t kSlotArea = 4096;
constexpr size_t kZoneArea = 4096;
static_assert(dnssec::kRangeSlots * (kOrderArea + kSlotArea) + kZoneArea + 16384 <= kSynthesisSpace);

uint32_t remaining(const shmcache::Found& found, int64_t now_s) {
  return found.meta.expires_at > now_s ? static_cast<uint32_t>(found.meta.expires_at - now_s) : 0;
}

/// The ranges of one zone, read from the shared cache into fixed slots.
class CacheRanges final : public dnssec::RangeSource {
 public:
  /// `area`: the slots' copies; `lookup`: for wildcard RRsets (65535 octets).
  CacheRanges(shmcache::Cache& cache, const dns::LookupKey& zone, int64_t now_s,
              std::span<uint8_t> area, std::span<uint8_t> lookup)
      : cache_(cache), zone_(zone), now_s_(now_s), area_(area), lookup_(lookup) {}

  const dnssec::RangeRecord* load(const dns::Name& name, unsigned slot) override {
    if (slot >= dnssec::kRangeSlots) return nullptr;
    Slot& s = slots_[slot];
    s.loaded = false;
    const auto base = area_.subspan(slot * (kOrderArea + kSlotArea), kOrderArea + kSlotArea);
    const auto key = name.lookupKey();
    auto found = cache_.findRange(zone_.bytes(), key.bytes(), now_s_, base.first(kOrderArea),
                                  base.subspan(kOrderArea));
    if (!found) return nullptr;
    s.payload = base.subspan(kOrderArea, found->payload_length);
    auto view = NegativeView::parse(s.payload);
    if (!view || view->count() == 0) return nullptr;
    const PayloadRecord first = view->record(view->first());
    s.record = {first.owner, first.type, first.rdata};
    s.ttl = remaining(*found, now_s_);
    s.flags = view->flags();
    s.loaded = true;
    return &s.record;
  }

  /// The wildcard RRset an answer would be expanded from: secure, of an
  /// answer's rank, and signed by `zone` (the RRSIG's signer name).
  bool hasWildcard(const dns::Name& wildcard, uint16_t qtype, const dns::Name& zone) override {
    const auto key = wildcard.lookupKey();
    auto found = cache_.lookup({key.bytes(), qtype, static_cast<uint8_t>(Kind::kRrset)}, nullptr,
                               now_s_, lookup_);
    if (!found || found->meta.security != shmcache::Security::kSecure ||
        found->meta.rank < static_cast<uint8_t>(kMinAnswerRank)) {
      return false;
    }
    auto rrset = RrsetView::parse(lookup_.first(found->payload_length));
    if (!rrset) return false;
    constexpr size_t kSignerOffset = 18;  // RFC 4034 section 3.1
    size_t pos = rrset->firstSig();
    for (size_t i = 0; i < rrset->sigCount(); ++i) {
      const auto sig = rrset->rdata(pos);
      pos = sig.next;
      if (sig.rdata.size() <= kSignerOffset) continue;
      auto signer = dns::Name::fromUncompressed(sig.rdata.subspan(kSignerOffset));
      if (signer && *signer == zone) return true;
    }
    return false;
  }

  /// The records (NSEC/NSEC3 and RRSIGs) of a loaded slot, in payload form.
  std::span<const uint8_t> records(unsigned slot) const { return slots_[slot].payload.subspan(4); }
  uint16_t recordCount(unsigned slot) const { return dns::load16(slots_[slot].payload.data() + 2); }
  uint32_t ttl(unsigned slot) const { return slots_[slot].ttl; }
  uint8_t flags(unsigned slot) const { return slots_[slot].flags; }

 private:
  struct Slot {
    dnssec::RangeRecord record;
    std::span<const uint8_t> payload;
    uint32_t ttl = 0;
    uint8_t flags = 0;
    bool loaded = false;
  };

  shmcache::Cache& cache_;
  const dns::LookupKey& zone_;
  int64_t now_s_;
  std::span<uint8_t> area_;
  std::span<uint8_t> lookup_;
  std::array<Slot, dnssec::kRangeSlots> slots_{};
};

/// Appends to a payload being written in a fixed buffer.
class PayloadOut {
 public:
  explicit PayloadOut(std::span<uint8_t> buffer) : buffer_(buffer) {}
  bool bytes(std::span<const uint8_t> data) {
    if (data.size() > buffer_.size() - length_) return (ok_ = false);
    if (!data.empty()) std::memcpy(buffer_.data() + length_, data.data(), data.size());
    length_ += data.size();
    return true;
  }
  bool u8(uint8_t value) { return bytes({&value, 1}); }
  bool u16(uint16_t value) {
    const uint8_t be[2] = {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
    return bytes(be);
  }
  void patch16(size_t at, uint16_t value) {
    buffer_[at] = static_cast<uint8_t>(value >> 8);
    buffer_[at + 1] = static_cast<uint8_t>(value);
  }
  size_t length() const { return length_; }
  bool ok() const { return ok_; }
  std::span<const uint8_t> written() const { return buffer_.first(length_); }

 private:
  std::span<uint8_t> buffer_;
  size_t length_ = 0;
  bool ok_ = true;
};

/// The closest enclosing zone of `name` that has a zone entry, copied into
/// `area`.
struct ZoneFound {
  dns::Name zone;
  DenialZoneView view;
  uint32_t ttl = 0;
};

std::optional<ZoneFound> findZone(shmcache::Cache& cache, const dns::Name& name, int64_t now_s,
                                  std::span<uint8_t> area) {
  for (dns::Name probe = name;; probe = probe.parent()) {
    const auto key = probe.lookupKey();
    auto found = cache.lookup({key.bytes(), 0, static_cast<uint8_t>(Kind::kDenialZone)}, nullptr,
                              now_s, area);
    if (found && found->meta.security == shmcache::Security::kSecure) {
      auto view = DenialZoneView::parse(area.first(found->payload_length));
      if (!view) return std::nullopt;
      return ZoneFound{probe, *view, remaining(*found, now_s)};
    }
    if (probe.isRoot()) return std::nullopt;
  }
}

/// The SOA MINIMUM of the zone entry's SOA record (RFC 2308, RFC 9077).
std::optional<uint32_t> zoneSoaMinimum(const NegativeView& soa) {
  size_t pos = soa.first();
  for (size_t i = 0; i < soa.count(); ++i) {
    const PayloadRecord record = soa.record(pos);
    if (record.type == dns::rrtype::kSoa) return soaMinimum(record.rdata);
    pos = record.next;
  }
  return std::nullopt;
}

}  // namespace

Synthesised synthesise(shmcache::Cache& cache, const dns::Name& qname, uint16_t qtype,
                       const dnssec::Policy& policy, int64_t now_s, std::span<uint8_t> lookup,
                       std::span<uint8_t> space) {
  if (space.size() < kSynthesisSpace) return {};
  const size_t slots_size = dnssec::kRangeSlots * (kOrderArea + kSlotArea);
  const auto slot_area = space.first(slots_size);
  const auto zone_area = space.subspan(slots_size, kZoneArea);
  const auto out_area = space.subspan(slots_size + kZoneArea);

  auto zone = findZone(cache, qname, now_s, zone_area);
  if (!zone) return {};
  const auto soa = NegativeView::parse(zone->view.soa);
  if (!soa) return {};
  // Without the zone's SOA (known from a wildcard proof only) nothing but
  // a wildcard answer can be written.
  const auto soa_minimum = zoneSoaMinimum(*soa);

  const auto zone_key = zone->zone.lookupKey();
  CacheRanges ranges(cache, zone_key, now_s, slot_area, lookup);
  const dnssec::ZoneDenialParams params{zone->view.nsec3, zone->view.hash_algorithm,
                                        zone->view.iterations, zone->view.salt};
  const dnssec::RangeProof proof =
      dnssec::proveFromRanges(qname, qtype, zone->zone, params, policy, ranges);
  if (proof.answer == dnssec::RangeAnswer::kNone) return {};
  if (proof.answer != dnssec::RangeAnswer::kWildcard && !soa_minimum) return {};

  Synthesised result;
  result.ttl = soa_minimum ? std::min(zone->ttl, *soa_minimum) : zone->ttl;
  result.local_root = (zone->view.flags & kFromLocalRoot) != 0;
  uint16_t proof_records = 0;
  for (unsigned i = 0; i < proof.slot_count; ++i) {
    result.ttl = std::min(result.ttl, ranges.ttl(proof.slots[i]));
    result.local_root = result.local_root && (ranges.flags(proof.slots[i]) & kFromLocalRoot) != 0;
    proof_records = static_cast<uint16_t>(proof_records + ranges.recordCount(proof.slots[i]));
  }
  if (result.ttl == 0) return {};

  PayloadOut out(out_area);
  if (proof.answer == dnssec::RangeAnswer::kWildcard) {
    // The wildcard's own RRset, secure, of an answer's rank, expanded to
    // qname by the reader (the owner it hands the visitor).
    const auto key = proof.wildcard.lookupKey();
    auto found = cache.lookup({key.bytes(), qtype, static_cast<uint8_t>(Kind::kRrset)}, nullptr,
                              now_s, lookup);
    if (!found || found->meta.security != shmcache::Security::kSecure ||
        found->meta.rank < static_cast<uint8_t>(kMinAnswerRank)) {
      return {};
    }
    const auto payload = lookup.first(found->payload_length);
    auto rrset = RrsetView::parse(payload);
    if (!rrset) return {};
    result.ttl = std::min(result.ttl, remaining(*found, now_s));
    result.local_root = false;
    // Everything up to its own proofs, then the proofs of this expansion.
    out.bytes(payload.first(rrset->firstProof() - 2));
    out.u16(proof_records);
    result.kind = Synthesis::kWildcard;
  } else {
    out.u8(kPayloadFormat);
    out.u8(0);
    out.u16(static_cast<uint16_t>(soa->count() + proof_records));
    out.bytes(zone->view.soa.subspan(4));  // the SOA and its RRSIGs
    result.kind = proof.answer == dnssec::RangeAnswer::kNxdomain ? Synthesis::kNxdomain
                                                                 : Synthesis::kNodata;
  }
  for (unsigned i = 0; i < proof.slot_count; ++i) out.bytes(ranges.records(proof.slots[i]));
  if (!out.ok()) return {};
  result.payload = out.written();
  return result;
}

std::optional<std::string> rangeGap(shmcache::Cache& cache, const dns::Name& zone,
                                    const dns::Name& qname, int64_t now_s,
                                    std::span<uint8_t> scratch) {
  constexpr size_t kHalf = 65536;
  if (scratch.size() < 2 * kHalf || !qname.isSubdomainOf(zone) || qname == zone) {
    return std::nullopt;
  }
  const auto zone_key = zone.lookupKey();
  auto entry = cache.lookup({zone_key.bytes(), 0, static_cast<uint8_t>(Kind::kDenialZone)},
                            nullptr, now_s, scratch.first(kHalf));
  if (!entry || entry->meta.security != shmcache::Security::kSecure) return std::nullopt;
  const auto view = DenialZoneView::parse(scratch.first(entry->payload_length));
  if (!view) return std::nullopt;

  dns::Name point = qname;
  while (point.labelCount() > zone.labelCount() + 1) point = point.parent();
  if (view->nsec3) {
    const auto hash = dnssec::nsec3Hash(point, view->hash_algorithm, view->iterations, view->salt);
    if (hash.empty()) return std::nullopt;
    const std::string label = dnssec::base32HexEncode(hash);
    auto owner = zone.prepend({reinterpret_cast<const uint8_t*>(label.data()), label.size()});
    if (!owner) return std::nullopt;
    point = *owner;
  }
  const auto point_key = point.lookupKey();
  std::string gap;
  gap.push_back(static_cast<char>(zone_key.length() >> 8));
  gap.push_back(static_cast<char>(zone_key.length() & 0xff));
  gap.append(reinterpret_cast<const char*>(zone_key.bytes().data()), zone_key.length());
  auto range = cache.findRange(zone_key.bytes(), point_key.bytes(), now_s,
                               scratch.first(dns::kMaxLookupKeyLength), scratch.subspan(kHalf));
  if (range) gap.append(reinterpret_cast<const char*>(scratch.data()), range->order_length);
  return gap;
}

}  // namespace shoal::resolver
