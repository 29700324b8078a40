#include "resolver/ranges.h"

#include <algorithm>
#include <array>

#include "dns/constants.h"
#include "dns/wire_io.h"
#include "resolver/cache_format.h"

namespace shoal::resolver {

namespace {

constexpr uint8_t kKindDenialZone = static_cast<uint8_t>(Kind::kDenialZone);

shmcache::Meta secureMeta(uint32_t ttl, int64_t now_s) {
  shmcache::Meta meta;
  meta.expires_at = now_s + ttl;
  meta.original_ttl = ttl;
  meta.rank = static_cast<uint8_t>(Rank::kAuthority);
  meta.security = shmcache::Security::kSecure;
  return meta;
}

/// The RRset's records, then its RRSIGs, as payload records.
std::vector<NegativeRecord> recordsOf(const dns::Rrset& rrset) {
  std::vector<NegativeRecord> records;
  for (const auto& rdata : rrset.rdatas) records.push_back({rrset.owner, rrset.type, rdata});
  for (const auto& sig : rrset.sigs) records.push_back({rrset.owner, dns::rrtype::kRrsig, sig});
  return records;
}

}  // namespace

std::optional<DenialZoneView> DenialZoneView::parse(std::span<const uint8_t> payload) {
  if (payload.size() < 7 || payload[0] != kDenialZoneFormat) return std::nullopt;
  DenialZoneView view;
  view.flags = payload[1];
  view.nsec3 = payload[2] != 0;
  view.hash_algorithm = payload[3];
  view.iterations = dns::load16(payload.data() + 4);
  const size_t salt_length = payload[6];
  if (payload.size() < 7 + salt_length) return std::nullopt;
  view.salt = payload.subspan(7, salt_length);
  view.soa = payload.subspan(7 + salt_length);
  return view;
}

std::optional<ZoneDenial> denialOf(const dns::Rrset& record) {
  if (record.type == dns::rrtype::kNsec) return ZoneDenial{};
  if (record.type != dns::rrtype::kNsec3 || record.rdatas.empty()) return std::nullopt;
  // RFC 5155 section 3.2: hash algorithm, flags, iterations, salt length, salt.
  const auto& rdata = record.rdatas.front();
  if (rdata.size() < 5 || rdata.size() < 5u + rdata[4]) return std::nullopt;
  ZoneDenial denial;
  denial.nsec3 = true;
  denial.hash_algorithm = rdata[0];
  denial.iterations = dns::load16(rdata.data() + 2);
  denial.salt.assign(rdata.begin() + 5, rdata.begin() + 5 + rdata[4]);
  return denial;
}

bool storeDenialZone(shmcache::Cache& cache, const dns::Name& zone, const ZoneDenial& denial,
                     const dns::Rrset* soa, uint32_t ttl, int64_t now_s, uint8_t flags) {
  if (ttl == 0 || denial.salt.size() > 255) return false;
  if (soa != nullptr && (soa->type != dns::rrtype::kSoa || soa->rdatas.size() != 1 ||
                         soa->sigs.empty() || !(soa->owner == zone))) {
    return false;
  }
  std::vector<uint8_t> payload{kDenialZoneFormat, flags, static_cast<uint8_t>(denial.nsec3 ? 1 : 0),
                               denial.hash_algorithm,
                               static_cast<uint8_t>(denial.iterations >> 8),
                               static_cast<uint8_t>(denial.iterations & 0xff),
                               static_cast<uint8_t>(denial.salt.size())};
  payload.insert(payload.end(), denial.salt.begin(), denial.salt.end());
  const auto soa_payload = encodeNegative(soa ? recordsOf(*soa) : std::vector<NegativeRecord>{}, flags);
  payload.insert(payload.end(), soa_payload.begin(), soa_payload.end());
  const auto key = zone.lookupKey();
  return cache.insert({key.bytes(), 0, kKindDenialZone}, shmcache::Partition::global(),
                      secureMeta(ttl, now_s), payload, now_s)
      .ok();
}

bool storeRange(shmcache::Cache& cache, const dns::Name& zone, const dns::Rrset& record,
                uint32_t ttl, int64_t now_s, uint8_t flags) {
  if (ttl == 0 || record.rdatas.size() != 1 || record.sigs.empty()) return false;
  if (record.type == dns::rrtype::kNsec) {
    if (!record.owner.isSubdomainOf(zone)) return false;
  } else if (record.type == dns::rrtype::kNsec3) {
    // RFC 5155 section 7.2.8 / 8.2: an NSEC3 owner is one label below its zone.
    if (record.owner.labelCount() != zone.labelCount() + 1 || !record.owner.isSubdomainOf(zone)) {
      return false;
    }
  } else {
    return false;
  }
  const auto set = zone.lookupKey();
  const auto order = record.owner.lookupKey();
  return cache
      .insertRange(set.bytes(), order.bytes(), secureMeta(ttl, now_s),
                   encodeNegative(recordsOf(record), flags), now_s)
      .ok();
}

size_t storeDenial(shmcache::Cache& cache, const ValidatedDenial& denial, uint32_t max_ttl,
                   int64_t now_s) {
  const uint32_t ttl = std::min(denial.ttl, max_ttl);
  if (ttl == 0 || denial.records.empty()) return 0;
  size_t stored = 0;
  for (const auto& record : denial.records) {
    if (storeRange(cache, denial.zone, record, ttl, now_s)) ++stored;
  }
  const auto params = denialOf(denial.records.front());
  if (!params) return stored;
  if (denial.soa && denial.soa->owner == denial.zone) {
    storeDenialZone(cache, denial.zone, *params, &*denial.soa, std::min(ttl, denial.soa->ttl), now_s);
  } else if (!denial.soa) {
    // A wildcard proof brings no SOA: enough for wildcard answers, but an
    // entry with the SOA (from a negative answer) is worth more.
    const auto key = denial.zone.lookupKey();
    std::array<uint8_t, 1> probe{};
    auto existing = cache.lookup({key.bytes(), 0, kKindDenialZone}, nullptr, now_s, probe);
    if (!existing && existing.error() == shmcache::Error::kNotFound) {
      storeDenialZone(cache, denial.zone, *params, nullptr, ttl, now_s);
    }
  }
  return stored;
}

}  // namespace shoal::resolver
