#include "resolver/record_cache.h"

#include <algorithm>

#include "dns/constants.h"

namespace shoal::resolver {

namespace {

uint8_t kindByte(Kind kind) { return static_cast<uint8_t>(kind); }

}  // namespace

bool RecordCache::storeRrset(const Rrset& rrset, Rank rank, int64_t now_s, EntryStatus status,
                             const std::vector<NegativeRecord>& proofs,
                             const shmcache::Partition& partition) {
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
  const auto payload = encodeRrset(rrset, proofs);
  return cache_
      .insert({key.bytes(), rrset.type, kindByte(Kind::kRrset)}, partition, meta, payload, now_s)
      .ok();
}

bool RecordCache::storeNegative(const dns::Name& name, uint16_t type, bool nxdomain, uint32_t ttl,
                                const std::vector<NegativeRecord>& records, int64_t now_s,
                                EntryStatus status, const shmcache::Partition& partition) {
  ttl = std::min(ttl, limits_.max_negative_ttl);
  if (ttl == 0) return false;
  const auto key = name.lookupKey();
  shmcache::Meta meta;
  meta.expires_at = now_s + ttl;
  meta.original_ttl = ttl;
  meta.rank = static_cast<uint8_t>(Rank::kAuthority);
  meta.security = status.security;
  meta.flags = status.ede;
  const bool soa = std::any_of(records.begin(), records.end(), [](const NegativeRecord& r) {
    return r.type == dns::rrtype::kSoa;
  });
  const auto payload = encodeNegative(records, soa ? 0 : kNoSoa);
  const shmcache::Key k{key.bytes(), nxdomain ? uint16_t{0} : type,
                        kindByte(nxdomain ? Kind::kNxdomain : Kind::kNodata)};
  return cache_.insert(k, partition, meta, payload, now_s).ok();
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

namespace {

/// Copies what the reader finds.
class CopyVisitor : public CacheVisitor {
 public:
  explicit CopyVisitor(CachedAnswer& out) : out_(out) {}

  bool onRrset(const dns::Name& owner, uint16_t type, const CachedEntry& entry,
               const RrsetView& rrset) override {
    Rrset& r = out_.rrsets.emplace_back();
    r.owner = owner;
    r.type = type;
    r.ttl = entry.ttl;
    r.flags = rrset.flags();
    size_t pos = rrset.firstRdata();
    for (size_t i = 0; i < rrset.count(); ++i) {
      const auto item = rrset.rdata(pos);
      r.rdatas.emplace_back(item.rdata.begin(), item.rdata.end());
      pos = item.next;
    }
    pos = rrset.firstSig();
    for (size_t i = 0; i < rrset.sigCount(); ++i) {
      const auto item = rrset.rdata(pos);
      r.sigs.emplace_back(item.rdata.begin(), item.rdata.end());
      pos = item.next;
    }
    pos = rrset.firstProof();
    for (size_t i = 0; i < rrset.proofCount(); ++i) {
      const auto proof = rrset.proof(pos);
      out_.proofs.push_back({proof.owner, proof.type, {proof.rdata.begin(), proof.rdata.end()}});
      out_.proof_ttl = entry.ttl;
      pos = proof.next;
    }
    return true;
  }

  bool onNegative(bool nxdomain, const CachedEntry& entry, const NegativeView& records) override {
    (void)nxdomain;
    out_.negative_ttl = entry.ttl;
    size_t pos = records.first();
    for (size_t i = 0; i < records.count(); ++i) {
      const auto item = records.record(pos);
      out_.negative.push_back({item.owner, item.type, {item.rdata.begin(), item.rdata.end()}});
      pos = item.next;
    }
    return true;
  }

 private:
  CachedAnswer& out_;
};

}  // namespace

CachedAnswer RecordCache::readAnswer(const dns::Name& qname, uint16_t qtype,
                                     const CacheReadOptions& options, int64_t now_s) {
  CachedAnswer out;
  CopyVisitor visitor(out);
  out.read = readCache(cache_, qname, qtype, options, now_s, scratch_, visitor);
  return out;
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
