#include "resolver/inspect.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <tuple>
#include <utility>

#include "base/ip_address.h"
#include "dns/constants.h"
#include "dns/name.h"
#include "dns/zone_text.h"
#include "resolver/ranges.h"
#include "resolver/cache_format.h"
#include "resolver/server_stats.h"

namespace shoal::resolver {

namespace {

std::string nameError(std::string_view text, dns::WireError error) {
  return "bad name '" + std::string(text) + "': " + dns::toString(error);
}

/// RFC 8914 names of the codes a validation failure is stored with.
const char* edeName(uint16_t code) {
  switch (code) {
    case 1: return "Unsupported DNSKEY Algorithm";
    case 2: return "Unsupported DS Digest Type";
    case 5: return "DNSSEC Indeterminate";
    case 6: return "DNSSEC Bogus";
    case 7: return "Signature Expired";
    case 8: return "Signature Not Yet Valid";
    case 9: return "DNSKEY Missing";
    case 10: return "RRSIGs Missing";
    case 11: return "No Zone Key Bit Set";
    case 12: return "NSEC Missing";
    case 27: return "Unsupported NSEC3 Iterations Value";
    default: return "Other";
  }
}

std::string dnssecText(shmcache::Security security, uint16_t ede) {
  if (security == shmcache::Security::kBogus && ede != 0) {
    return "bogus (EDE " + std::to_string(ede) + ": " + edeName(ede) + ")";
  }
  switch (security) {
    case shmcache::Security::kIndeterminate:
      return "indeterminate";
    case shmcache::Security::kInsecure:
      return "insecure";
    case shmcache::Security::kSecure:
      return "secure";
    case shmcache::Security::kBogus:
      return "bogus";
  }
  return "unknown (" + std::to_string(static_cast<unsigned>(security)) + ")";
}

std::string hexText(std::span<const uint8_t> bytes) {
  std::string out;
  for (uint8_t b : bytes) {
    std::array<char, 3> buf{};
    std::snprintf(buf.data(), buf.size(), "%02x", b);
    out += buf.data();
  }
  return out;
}

std::string recordText(const dns::Name& owner, uint16_t type, uint32_t ttl,
                       std::span<const uint8_t> rdata) {
  dns::Record record;
  record.owner = owner;
  record.type = type;
  record.rrclass = dns::rrclass::kIn;
  record.ttl = ttl;
  record.rdata.assign(rdata.begin(), rdata.end());
  // ldns separates the fields with tabs; a single space reads better in
  // JSON and on a terminal (a tab inside rdata text is escaped as \009).
  std::string text = dns::recordToText(record);
  std::replace(text.begin(), text.end(), '\t', ' ');
  return text;
}

/// The RRset and its RRSIGs; nullopt if the payload is corrupt.
std::optional<std::vector<std::string>> rrsetRecords(const dns::Name& owner, uint16_t type,
                                                     uint32_t ttl,
                                                     std::span<const uint8_t> payload) {
  const auto view = RrsetView::parse(payload);  // checks every bound
  if (!view) return std::nullopt;
  std::vector<std::string> out;
  size_t pos = view->firstRdata();
  for (size_t i = 0; i < view->count(); ++i) {
    const auto item = view->rdata(pos);
    out.push_back(recordText(owner, type, ttl, item.rdata));
    pos = item.next;
  }
  pos = view->firstSig();
  for (size_t i = 0; i < view->sigCount(); ++i) {
    const auto item = view->rdata(pos);
    out.push_back(recordText(owner, dns::rrtype::kRrsig, ttl, item.rdata));
    pos = item.next;
  }
  return out;
}

/// The SOA and proof records of a negative answer; nullopt if corrupt.
std::optional<std::vector<std::string>> negativeRecords(uint32_t ttl,
                                                        std::span<const uint8_t> payload) {
  const auto view = NegativeView::parse(payload);  // checks every bound
  if (!view) return std::nullopt;
  std::vector<std::string> out;
  size_t pos = view->first();
  for (size_t i = 0; i < view->count(); ++i) {
    const auto item = view->record(pos);
    out.push_back(recordText(item.owner, item.type, ttl, item.rdata));
    pos = item.next;
  }
  return out;
}

/// A zone entry (resolver/ranges.h): the zone's denial, then its SOA.
std::optional<std::vector<std::string>> denialZoneRecords(uint32_t ttl,
                                                          std::span<const uint8_t> payload) {
  const auto view = DenialZoneView::parse(payload);
  if (!view) return std::nullopt;
  auto soa = negativeRecords(ttl, view->soa);
  if (!soa) return std::nullopt;
  std::string denial = "denial NSEC";
  if (view->nsec3) {
    denial = "denial NSEC3 (hash " + std::to_string(view->hash_algorithm) + ", " +
             std::to_string(view->iterations) + " iterations, salt " +
             (view->salt.empty() ? "-" : hexText(view->salt)) + ")";
  }
  if ((view->flags & kFromLocalRoot) != 0) denial += ", from the local root zone";
  if (soa->empty()) denial += ", no SOA yet (wildcard answers only)";
  soa->insert(soa->begin(), denial);
  return soa;
}

/// The key entries are sorted by: type, kind, partition.
using SortKey = std::tuple<uint16_t, uint8_t, uint8_t, uint8_t, std::array<uint8_t, 16>>;

SortKey sortKeyOf(const shmcache::EntryCopy& copy) {
  return {copy.type, copy.kind, copy.partition.family, copy.partition.prefix,
          copy.partition.address};
}

/// Decodes one copied entry of `owner`.
InspectedEntry inspectEntry(const dns::Name& owner, const shmcache::EntryCopy& copy,
                            int64_t now_s) {
  InspectedEntry entry;
  entry.ttl = copy.meta.expires_at - now_s;
  entry.original_ttl = copy.meta.original_ttl;
  entry.rank = copy.meta.rank;
  entry.dnssec = dnssecText(copy.meta.security, copy.meta.flags);
  entry.partition = partitionText(copy.partition);
  entry.stale = copy.meta.expires_at <= now_s;
  const auto shown_ttl = static_cast<uint32_t>(std::clamp<int64_t>(entry.ttl, 0, UINT32_MAX));
  std::optional<std::vector<std::string>> records;
  if (!copy.order.empty()) {
    // An NSEC/NSEC3 range of the zone named by the set key (RFC 8198).
    entry.kind = "range";
    records = negativeRecords(shown_ttl, copy.payload);
  } else {
    entry.type = dns::typeToText(copy.type);
    switch (static_cast<Kind>(copy.kind)) {
      case Kind::kRrset:
        entry.kind = "rrset";
        records = rrsetRecords(owner, copy.type, shown_ttl, copy.payload);
        break;
      case Kind::kNodata:
        entry.kind = "nodata";
        records = negativeRecords(shown_ttl, copy.payload);
        break;
      case Kind::kNxdomain:
        entry.kind = "nxdomain";
        entry.type = "*";
        records = negativeRecords(shown_ttl, copy.payload);
        break;
      case Kind::kDenialZone:
        entry.kind = "denial zone";
        entry.type = "*";
        records = denialZoneRecords(shown_ttl, copy.payload);
        break;
      case Kind::kNegativeAnchor:
        entry.kind = "nta";
        entry.type = "*";
        records = std::vector<std::string>{"negative trust anchor (shoalctl nta list)"};
        break;
      default:
        entry.kind = "kind " + std::to_string(copy.kind);
        records = std::vector<std::string>{std::to_string(copy.payload.size()) + " octets"};
        break;
    }
  }
  if (records) {
    entry.records = std::move(*records);
  } else {
    entry.corrupt = true;
  }
  return entry;
}

bool wanted(const shmcache::EntryCopy& copy, std::optional<uint16_t> type) {
  if (copy.order.empty() && copy.kind == static_cast<uint8_t>(Kind::kServer)) return false;
  if (!type) return true;
  if (!copy.order.empty()) return *type == dns::rrtype::kNsec || *type == dns::rrtype::kNsec3;
  if (copy.kind == static_cast<uint8_t>(Kind::kNxdomain)) return true;  // answers every type
  return copy.type == *type;
}

}  // namespace

std::string partitionText(const shmcache::Partition& p) {
  if (p.family == 0) return "global";
  if (p.family == shmcache::Partition::kNoSubnet) return "no subnet";
  if (p.family == 1)
    return base::IpAddress::v4(p.address.data()).toString() + "/" + std::to_string(p.prefix);
  if (p.family == 2)
    return base::IpAddress::v6(p.address.data()).toString() + "/" + std::to_string(p.prefix);
  return "family " + std::to_string(p.family) + "/" + std::to_string(p.prefix);
}

InspectResult inspectName(shmcache::Cache& cache, std::string_view name_text,
                          std::optional<uint16_t> type, int64_t now_s) {
  InspectResult result;
  const auto name = dns::Name::fromText(name_text);
  if (!name) {
    result.error = nameError(name_text, name.error());
    return result;
  }
  result.name = name->toText();
  const auto key = name->lookupKey();
  auto copies = cache.collect(key.bytes(), false);
  std::erase_if(copies, [&](const shmcache::EntryCopy& c) { return !wanted(c, type); });
  std::stable_sort(copies.begin(), copies.end(),
                   [](const shmcache::EntryCopy& a, const shmcache::EntryCopy& b) {
                     if (a.order.empty() != b.order.empty()) return a.order.empty();
                     if (a.order != b.order) return a.order < b.order;
                     return sortKeyOf(a) < sortKeyOf(b);
                   });
  // Records are printed with the owner as cached: the lookup key is
  // lowercase, so is the owner.
  const auto owner = dns::Name::fromLookupKey(key.bytes());
  for (const auto& copy : copies) {
    result.entries.push_back(inspectEntry(owner ? *owner : *name, copy, now_s));
  }
  return result;
}

FlushResult flushName(shmcache::Cache& cache, std::string_view name_text, bool subtree) {
  FlushResult result;
  const auto name = dns::Name::fromText(name_text);
  if (!name) {
    result.error = nameError(name_text, name.error());
    return result;
  }
  result.name = name->toText();
  const auto key = name->lookupKey();
  // Not DNS data, so never flushed: the server statistics (all under the
  // root's subtree) and the runtime negative trust anchors (removed only
  // by `shoalctl nta remove`). They stay in place while the rest goes.
  constexpr std::array<uint8_t, 2> kKept{static_cast<uint8_t>(Kind::kServer),
                                         static_cast<uint8_t>(Kind::kNegativeAnchor)};
  result.removed = cache.removeName(key.bytes(), subtree, kKept);
  return result;
}

std::vector<ServerRow> listServers(shmcache::Cache& cache, int64_t now_ms, int64_t rto_min_ms,
                                   int64_t rto_max_ms) {
  const ServerStats stats(cache, rto_min_ms, rto_max_ms);
  std::vector<std::pair<base::IpAddress, ServerRow>> rows;
  for (const auto& copy : cache.collect(serverKeyPrefix(), true)) {
    if (!copy.order.empty() || copy.kind != static_cast<uint8_t>(Kind::kServer)) continue;
    // Expired statistics are not used by the workers (ServerStats::get).
    if (copy.meta.expires_at <= now_ms / 1000) continue;
    const auto entry = decodeServerEntry(copy.name, copy.payload);
    if (!entry) continue;  // another build's format, or not a server entry
    const ServerState& s = entry->state;
    ServerRow row;
    row.address = entry->address.toString();
    for (const ServerZone& z : s.zones) {
      const auto zone = zoneName(z);
      if (!zone) continue;
      row.zones.push_back(zone->toText());
      if (z.lame_until_ms > now_ms) row.lame_zones.push_back(zone->toText());
    }
    row.srtt_ms = s.known != 0 ? static_cast<double>(s.srtt_us) / 1000.0 : 0.0;
    row.rto_ms = stats.rtoMs(s, now_ms);
    row.queries = s.queries;
    row.replies = s.replies;
    row.timeouts = s.timeouts;
    row.loss_percent =
        s.queries > 0 ? 100.0 * static_cast<double>(s.timeouts) / static_cast<double>(s.queries)
                      : 0.0;
    row.loss_1m = lossOver(s, 60, now_ms / 1000);
    row.loss_5m = lossOver(s, 300, now_ms / 1000);
    row.hedges = s.hedges;
    row.hedges_won = s.hedges_won;
    if (s.last_reply_ms > 0) {
      row.last_seen_s =
          static_cast<double>(std::max<int64_t>(now_ms - s.last_reply_ms, 0)) / 1000.0;
    }
    if (s.backoff_until_ms > now_ms) {
      row.state = "backed off";
      row.backoff_left_s = static_cast<double>(s.backoff_until_ms - now_ms) / 1000.0;
    } else if (!row.lame_zones.empty()) {
      row.state = "lame";
    } else if (s.no_edns != 0) {
      row.state = "no edns";
    } else {
      row.state = "ok";
    }
    rows.emplace_back(entry->address, std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.first.isV4() != b.first.isV4()) return a.first.isV4();
    return a.first.bytes() < b.first.bytes();
  });
  std::vector<ServerRow> out;
  out.reserve(rows.size());
  for (auto& [address, row] : rows) out.push_back(std::move(row));
  return out;
}

}  // namespace shoal::resolver
