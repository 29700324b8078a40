#include "resolver/record_cache.h"

#include <algorithm>

#include "dns/constants.h"

namespace shoal::resolver {

namespace {

uint8_t kindByte(Kind kind) { return static_cast<uint8_t>(kind); }

}  // namespace

bool RecordCache::storeRrset(const Rrset& rrset, Rank rank, int64_t now_s, EntryStatus status) {
  if (rrset.rdatas.empty()) return false;
  const uint32_t ttl = limitTtl(rrset.ttl);
  if (ttl == 0) return false;
  const auto key = rrset.owner.lookupKey();
  shmcache::Meta meta;
  meta.expires_at = now_s + ttl;
  meta.original_ttl = ttl;
  meta.rank = static_cast<uint8_t>(rank);
  meta.security = status.security;
  meta.flags = status.ede;
  const auto payload = encodeRrset(rrset);
  return cache_
      .insert({key.bytes(), rrset.type, kindByte(Kind::kRrset)}, shmcache::Partition::global(), meta,
              payload, now_s)
      .ok();
}

bool RecordCache::storeNegative(const dns::Name& name, uint16_t type, bool nxdomain, uint32_t ttl,
                                const std::vector<NegativeRecord>& records, int64_t now_s,
                                EntryStatus status) {
  ttl = std::min(ttl, limits_.max_negative_ttl);
  if (ttl == 0) return false;
  const auto key = name.lookupKey();
  shmcache::Meta meta;
  meta.expires_at = now_s + ttl;
  meta.original_ttl = ttl;
  meta.rank = static_cast<uint8_t>(Rank::kAuthority);
  meta.security = status.security;
  meta.flags = status.ede;
  const auto payload = encodeNegative(records);
  const shmcache::Key k{key.bytes(), nxdomain ? uint16_t{0} : type,
                        kindByte(nxdomain ? Kind::kNxdomain : Kind::kNodata)};
  return cache_.insert(k, shmcache::Partition::global(), meta, payload, now_s).ok();
}

std::optional<Rrset> RecordCache::fetchRrset(const dns::Name& owner, uint16_t type, int64_t now_s,
                                             Rank min_rank, uint32_t max_stale_s) {
  auto cached = fetchCached(owner, type, now_s, min_rank, max_stale_s);
  if (!cached) return std::nullopt;
  return std::move(cached->rrset);
}

std::optional<CachedRrset> RecordCache::fetchCached(const dns::Name& owner, uint16_t type,
                                                    int64_t now_s, Rank min_rank,
                                                    uint32_t max_stale_s) {
  const auto key = owner.lookupKey();
  auto found = cache_.lookup({key.bytes(), type, kindByte(Kind::kRrset)}, nullptr, now_s, scratch_,
                             max_stale_s);
  if (!found || found->meta.rank < static_cast<uint8_t>(min_rank)) return std::nullopt;
  auto view = RrsetView::parse({scratch_.data(), found->payload_length});
  if (!view) return std::nullopt;
  CachedRrset cached;
  cached.status = {found->meta.security, found->meta.flags};
  Rrset& out = cached.rrset;
  out.owner = owner;
  out.type = type;
  out.ttl = static_cast<uint32_t>(std::max<int64_t>(found->meta.expires_at - now_s, 0));
  out.flags = view->flags();
  size_t pos = view->firstRdata();
  for (size_t i = 0; i < view->count(); ++i) {
    const auto item = view->rdata(pos);
    out.rdatas.emplace_back(item.rdata.begin(), item.rdata.end());
    pos = item.next;
  }
  pos = view->firstSig();
  for (size_t i = 0; i < view->sigCount(); ++i) {
    const auto item = view->rdata(pos);
    out.sigs.emplace_back(item.rdata.begin(), item.rdata.end());
    pos = item.next;
  }
  return cached;
}

std::optional<NegativeAnswer> RecordCache::decodeNegative(const shmcache::Found& found,
                                                          bool nxdomain, int64_t now_s) const {
  auto view = NegativeView::parse({scratch_.data(), found.payload_length});
  if (!view) return std::nullopt;
  NegativeAnswer out;
  out.nxdomain = nxdomain;
  out.ttl = static_cast<uint32_t>(std::max<int64_t>(found.meta.expires_at - now_s, 0));
  out.status = {found.meta.security, found.meta.flags};
  size_t pos = view->first();
  for (size_t i = 0; i < view->count(); ++i) {
    const auto item = view->record(pos);
    out.records.push_back({item.owner, item.type, {item.rdata.begin(), item.rdata.end()}});
    pos = item.next;
  }
  return out;
}

std::optional<NegativeAnswer> RecordCache::fetchNodata(const dns::Name& name, uint16_t type,
                                                       int64_t now_s) {
  const auto key = name.lookupKey();
  auto found = cache_.lookup({key.bytes(), type, kindByte(Kind::kNodata)}, nullptr, now_s, scratch_);
  if (!found) return std::nullopt;
  return decodeNegative(*found, false, now_s);
}

std::optional<NegativeAnswer> RecordCache::fetchNegative(const dns::Name& name, uint16_t type,
                                                         bool nxdomain_cut, int64_t now_s) {
  if (auto nodata = fetchNodata(name, type, now_s)) return nodata;
  dns::Name probe = name;
  for (;;) {
    const auto probe_key = probe.lookupKey();
    if (auto f = cache_.lookup({probe_key.bytes(), 0, kindByte(Kind::kNxdomain)}, nullptr, now_s,
                               scratch_)) {
      return decodeNegative(*f, true, now_s);
    }
    if (!nxdomain_cut || probe.labelCount() <= 1) return std::nullopt;
    probe = probe.parent();
  }
}

std::optional<Rrset> RecordCache::fetchCoveringDname(const dns::Name& name, int64_t now_s) {
  for (dns::Name owner = name; !owner.isRoot();) {
    owner = owner.parent();
    if (auto dname = fetchRrset(owner, dns::rrtype::kDname, now_s)) return dname;
  }
  return std::nullopt;
}

std::vector<base::IpAddress> RecordCache::fetchAddresses(const dns::Name& name, bool ipv4, bool ipv6,
                                                         int64_t now_s) {
  std::vector<base::IpAddress> out;
  if (ipv4) {
    if (auto rrset = fetchRrset(name, dns::rrtype::kA, now_s)) {
      for (const auto& rd : rrset->rdatas) {
        if (rd.size() == 4) out.push_back(base::IpAddress::v4(rd.data()));
      }
    }
  }
  if (ipv6) {
    if (auto rrset = fetchRrset(name, dns::rrtype::kAaaa, now_s)) {
      for (const auto& rd : rrset->rdatas) {
        if (rd.size() == 16) out.push_back(base::IpAddress::v6(rd.data()));
      }
    }
  }
  return out;
}

}  // namespace shoal::resolver
