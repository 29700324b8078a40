#include "shmcache/cache.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>

#include "shmcache/segment.h"
#include "shmcache/stripe.h"

namespace shoal::shmcache {

namespace {

constexpr size_t kMaxNameLength = 1024;
constexpr size_t kMaxScan = 1100;  // > max_partitions: entries of one key per probe run
constexpr uint8_t kHashTable = 0;
constexpr uint8_t kRangeTable = 1;

uint64_t align8(uint64_t v) { return (v + kEntryAlign - 1) / kEntryAlign * kEntryAlign; }

bool sameBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

bool startsWith(std::span<const uint8_t> a, std::span<const uint8_t> prefix) {
  return a.size() >= prefix.size() &&
         (prefix.empty() || std::memcmp(a.data(), prefix.data(), prefix.size()) == 0);
}

Partition partitionOf(const EntryHeader* e) {
  Partition p;
  p.family = e->partition_family;
  p.prefix = e->partition_prefix;
  std::memcpy(p.address.data(), e->partition_address, 16);
  return p;
}

Meta metaOf(const EntryHeader* e) {
  Meta m;
  m.expires_at = e->expires_at;
  m.original_ttl = e->original_ttl;
  m.rank = e->rank;
  m.security = static_cast<Security>(e->security);
  m.flags = e->flags;
  return m;
}

/// Locks a stripe for one operation; repairs it if the previous owner died,
/// and wipes it if a bounds check failed during the operation.
class LockedStripe {
 public:
  LockedStripe(Segment& segment, size_t index, CounterBlock& counters)
      : segment_(segment),
        index_(index),
        stripe_(segment, index, counters),
        lock_(segment.stripe(index).mutex) {
    if (lock_.ownerDied()) {
      // The dead process may have left any structure of this stripe half
      // written; wiping is the only repair that is always right.
      wipeStripe(segment_, index_, true);
      bump(counters.owner_died);
      segment.stripe(index).mutex.markConsistent();
    }
  }
  ~LockedStripe() {
    if (stripe_.corrupted()) {
      wipeStripe(segment_, index_, true);
      bump(stripe_.counters().corrupt);
    }
  }
  Stripe* operator->() { return &stripe_; }
  Stripe& operator*() { return stripe_; }

 private:
  Segment& segment_;
  size_t index_;
  Stripe stripe_;
  RobustLock lock_;
};

struct KeyScan {
  std::array<uint64_t, kMaxScan> offsets;
  size_t count = 0;
};

/// Offsets of the live entries of `key` (every partition).
void scanKey(Stripe& s, const Key& key, uint32_t hash, KeyScan& out) {
  out.count = 0;
  for (uint64_t i = s.home(hash), n = 0; s.slot(i).offset != 0 && out.count < kMaxScan;
       i = s.nextSlot(i)) {
    if (++n > s.header().index_used + 1) break;
    if (s.slot(i).hash != hash) continue;
    EntryHeader* e = s.entryAt((uint64_t{s.slot(i).offset} - 1) * kEntryAlign);
    if (e == nullptr) return;
    if (e->state != EntryState::kLive || e->type != key.type || e->kind != key.kind ||
        !sameBytes(s.nameOf(e), key.name)) {
      continue;
    }
    out.offsets[out.count++] = s.offsetOf(e);
  }
}

size_t stripeOf(uint64_t hash, unsigned stripes) {
  if (stripes == 1) return 0;
  return static_cast<size_t>(hash >> (64 - std::countr_zero(stripes)));
}

}  // namespace

const char* toString(Error error) {
  switch (error) {
    case Error::kNotFound: return "not found";
    case Error::kTooLarge: return "entry too large for a stripe";
    case Error::kRankTooLow: return "a higher-ranked entry is in place";
    case Error::kNotSecure: return "ordered sets admit only secure entries";
    case Error::kBufferTooSmall: return "buffer too small";
    case Error::kBadKey: return "bad key";
    case Error::kBadOptions: return "bad cache options";
    case Error::kSegment: return "cannot create or map the shared memory segment";
    case Error::kIncompatible: return "shared memory segment has another layout";
    case Error::kUntrusted:
      return "the existing shared memory segment is not shoal's (another owner, or writable "
             "by others): refused";
  }
  return "unknown cache error";
}

Partition Partition::of(const base::IpAddress& client, uint8_t prefix) {
  Partition p;
  p.family = client.isV4() ? 1 : 2;
  p.prefix = static_cast<uint8_t>(std::min<unsigned>(prefix, client.maxPrefix()));
  const auto masked = client.masked(p.prefix);
  std::memcpy(p.address.data(), masked.bytes().data(), client.size());
  return p;
}

bool Partition::covers(const base::IpAddress& client) const {
  if (family == 0) return true;
  if (family == kNoSubnet) return false;
  if ((family == 1) != client.isV4()) return false;
  return Partition::of(client, prefix).address == address;
}

Cache::Cache(std::unique_ptr<Segment> segment) : segment_(std::move(segment)) {}
Cache::~Cache() = default;

Result<std::unique_ptr<Cache>> Cache::open(const Options& options, int64_t now) {
  auto segment = Segment::open(options, now);
  if (!segment) return base::fail(segment.error());
  return std::unique_ptr<Cache>(new Cache(std::move(*segment)));
}

Result<std::unique_ptr<Cache>> Cache::attach(const std::string& name) {
  auto segment = Segment::attach(name);
  if (!segment) return base::fail(segment.error());
  return std::unique_ptr<Cache>(new Cache(std::move(*segment)));
}

void Cache::unlink(const std::string& name) {
  boost::interprocess::shared_memory_object::remove(name.c_str());
}

void Cache::setCounterSlot(unsigned slot) {
  counter_slot_ = slot % kMaxCounterSlots;
  segment_->header().counters[counter_slot_].pid.store(static_cast<int32_t>(getpid()),
                                                        std::memory_order_relaxed);
}

Status Cache::insert(const Key& key, const Partition& partition, const Meta& meta,
                     std::span<const uint8_t> payload, int64_t now) {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  if (key.name.size() > kMaxNameLength || partition.family > Partition::kNoSubnet) {
    return base::fail(Error::kBadKey);
  }
  const uint64_t size = align8(sizeof(EntryHeader) + key.name.size() + payload.size());
  const uint64_t hash = hashKey(key.name, key.type, key.kind);
  const auto hash32 = static_cast<uint32_t>(hash);
  LockedStripe s(*segment_, stripeOf(hash, segment_->header().stripe_count), counters);
  if (size > s->maxEntrySize() || payload.size() > 0xFFFFFFFFu) {
    bump(counters.too_large);
    return base::fail(Error::kTooLarge);
  }
  KeyScan scan;
  scanKey(*s, key, hash32, scan);
  for (size_t i = 0; i < scan.count; ++i) {
    EntryHeader* e = s->entryAt(scan.offsets[i]);
    if (e == nullptr || !(partitionOf(e) == partition)) continue;
    if (e->expires_at > now && e->rank > meta.rank) {
      bump(counters.rank_refused);
      return base::fail(Error::kRankTooLow);
    }
    if (e->size == size && e->payload_length == payload.size()) {
      // Same size (a refreshed RRset, server statistics): overwrite in
      // place, under the lock. No allocation, no index change, and no dead
      // copy left in the ring.
      e->rank = meta.rank;
      e->security = static_cast<uint8_t>(meta.security);
      e->flags = meta.flags;
      e->original_ttl = meta.original_ttl;
      e->expires_at = meta.expires_at;
      e->inserted_at = now;
      e->last_used = static_cast<uint32_t>(++s->header().partition_clock);
      const auto dst = s->payloadOf(e);
      if (!payload.empty()) std::memcpy(dst.data(), payload.data(), payload.size());
      bump(counters.inserts);
      bump(counters.replaced);
      return {};
    }
  }
  s->ensureIndexRoom(now);
  const uint64_t offset = s->allocate(size, now);
  // Allocation may have moved or evicted entries of this key: look again.
  scanKey(*s, key, hash32, scan);
  size_t kept = 0;
  for (size_t i = 0; i < scan.count; ++i) {
    EntryHeader* e = s->entryAt(scan.offsets[i]);
    if (e == nullptr) continue;
    if (partitionOf(e) == partition) {
      s->kill(e, scan.offsets[i]);
      bump(counters.replaced);
    } else if (e->expires_at <= now) {
      s->kill(e, scan.offsets[i]);
    } else if (e->partition_family != 0) {
      scan.offsets[kept++] = scan.offsets[i];  // the global entry never counts
    }
  }
  // Per-key ECS partition limit: the least recently used partitions go
  // first (last_used: the stripe's partition clock at insertion or last
  // use). Ages are differences from the clock, so that 32 bits may wrap.
  const unsigned limit = segment_->header().max_partitions;
  const uint32_t clock = static_cast<uint32_t>(s->header().partition_clock);
  const auto age = [&](const EntryHeader* e) { return clock - e->last_used; };
  while (partition.family != 0 && kept >= limit && kept > 0) {
    size_t oldest = 0;
    for (size_t i = 1; i < kept; ++i) {
      const EntryHeader* a = s->entryAt(scan.offsets[i]);
      const EntryHeader* b = s->entryAt(scan.offsets[oldest]);
      if (age(a) > age(b) || (age(a) == age(b) && a->inserted_at < b->inserted_at)) oldest = i;
    }
    s->kill(s->entryAt(scan.offsets[oldest]), scan.offsets[oldest]);
    bump(counters.partition_evictions);
    scan.offsets[oldest] = scan.offsets[--kept];
  }

  EntryHeader header{};
  header.size = static_cast<uint32_t>(size);
  header.hash = hash32;
  header.state = EntryState::kLive;
  header.kind = key.kind;
  header.rank = meta.rank;
  header.security = static_cast<uint8_t>(meta.security);
  header.partition_family = partition.family;
  header.partition_prefix = partition.prefix;
  header.table = kHashTable;
  header.type = key.type;
  header.flags = meta.flags;
  header.name_length = static_cast<uint16_t>(key.name.size());
  header.payload_length = static_cast<uint32_t>(payload.size());
  header.original_ttl = meta.original_ttl;
  header.expires_at = meta.expires_at;
  header.inserted_at = now;
  header.last_used = static_cast<uint32_t>(++s->header().partition_clock);
  std::memcpy(header.partition_address, partition.address.data(), 16);
  s->writeEntry(offset, header, key.name, {}, payload);
  if (!s->addSlot(hash32, offset)) {
    // Cannot happen after ensureIndexRoom; never leave an unindexed live entry.
    s->discardUnindexed(offset);
    return base::fail(Error::kTooLarge);
  }
  bump(counters.inserts);
  return {};
}

Result<Found> Cache::lookup(const Key& key, const base::IpAddress* client, int64_t now,
                            std::span<uint8_t> out, uint32_t max_stale, uint8_t max_prefix) {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  bump(counters.lookups);
  const uint64_t hash = hashKey(key.name, key.type, key.kind);
  const auto hash32 = static_cast<uint32_t>(hash);
  LockedStripe s(*segment_, stripeOf(hash, segment_->header().stripe_count), counters);
  KeyScan scan;
  scanKey(*s, key, hash32, scan);
  // The most specific covering partition, preferring unexpired data.
  EntryHeader* best = nullptr;
  bool best_fresh = false;
  for (size_t i = 0; i < scan.count; ++i) {
    EntryHeader* e = s->entryAt(scan.offsets[i]);
    if (e == nullptr) break;
    const Partition p = partitionOf(e);
    if (client == nullptr ? (p.family != 0 && p.family != Partition::kNoSubnet)
                          : (p.prefix > max_prefix || !p.covers(*client))) {
      continue;
    }
    const bool fresh = e->expires_at > now;
    if (!fresh && e->expires_at + int64_t{max_stale} <= now) continue;
    if (best == nullptr || (fresh && !best_fresh) ||
        (fresh == best_fresh && (e->partition_prefix > best->partition_prefix ||
                                 (e->partition_prefix == best->partition_prefix &&
                                  e->inserted_at > best->inserted_at)))) {
      best = e;
      best_fresh = fresh;
    }
  }
  if (best == nullptr) {
    bump(counters.misses);
    if (scan.count > 0) bump(counters.expired);
    return base::fail(Error::kNotFound);
  }
  if (best->payload_length > out.size()) return base::fail(Error::kBufferTooSmall);
  const auto payload = s->payloadOf(best);
  if (!payload.empty()) std::memcpy(out.data(), payload.data(), payload.size());
  if (best->referenced == 0) best->referenced = 1;  // no store (no dirty line) when set
  // The last tenth of the TTL: lookups are counted (prefetch). Global
  // entries are written to only then: no dirty cache line on most hits.
  const bool late = best_fresh && (best->expires_at - now) * 10 <= int64_t{best->original_ttl};
  if (best->partition_family != 0) {
    if (best->hits != UINT32_MAX) ++best->hits;
    best->last_used = static_cast<uint32_t>(++s->header().partition_clock);
  } else if (late && best->hits != UINT32_MAX) {
    ++best->hits;
  }
  Found found;
  found.late_hits = late ? best->hits : 0;
  found.meta = metaOf(best);
  found.partition = partitionOf(best);
  found.payload_length = payload.size();
  found.inserted_at = best->inserted_at;
  found.stale = !best_fresh;
  bump(best_fresh ? counters.hits : counters.stale_hits);
  return found;
}

size_t Cache::remove(const Key& key) {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  const uint64_t hash = hashKey(key.name, key.type, key.kind);
  const auto hash32 = static_cast<uint32_t>(hash);
  LockedStripe s(*segment_, stripeOf(hash, segment_->header().stripe_count), counters);
  KeyScan scan;
  scanKey(*s, key, hash32, scan);
  for (size_t i = 0; i < scan.count; ++i) {
    if (EntryHeader* e = s->entryAt(scan.offsets[i])) s->kill(e, scan.offsets[i]);
  }
  return scan.count;
}

size_t Cache::removeName(std::span<const uint8_t> name, bool subtree,
                         std::span<const uint8_t> keep_kinds) {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  size_t removed = 0;
  for (size_t i = 0; i < segment_->header().stripe_count; ++i) {
    LockedStripe s(*segment_, i, counters);
    s->forEachEntry([&](EntryHeader* e, uint64_t offset) {
      const auto entry_name = s->nameOf(e);
      const bool kept = s->orderOf(e).empty() &&
                        std::find(keep_kinds.begin(), keep_kinds.end(), e->kind) != keep_kinds.end();
      if (!kept && (subtree ? startsWith(entry_name, name) : sameBytes(entry_name, name))) {
        s->kill(e, offset);
        ++removed;
      }
    });
  }
  return removed;
}

std::vector<EntryCopy> Cache::collect(std::span<const uint8_t> name, bool subtree,
                                      std::span<const uint8_t> only_kinds) {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  std::vector<EntryCopy> out;
  for (size_t i = 0; i < segment_->header().stripe_count; ++i) {
    LockedStripe s(*segment_, i, counters);
    s->forEachEntry([&](EntryHeader* e, uint64_t) {
      const auto entry_name = s->nameOf(e);
      if (!(subtree ? startsWith(entry_name, name) : sameBytes(entry_name, name))) return;
      const auto order = s->orderOf(e);
      if (!only_kinds.empty() &&
          (!order.empty() ||
           std::find(only_kinds.begin(), only_kinds.end(), e->kind) == only_kinds.end())) {
        return;
      }
      EntryCopy copy;
      copy.name.assign(entry_name.begin(), entry_name.end());
      copy.order.assign(order.begin(), order.end());
      copy.type = e->type;
      copy.kind = e->kind;
      copy.meta = metaOf(e);
      copy.partition = partitionOf(e);
      copy.hits = e->hits;
      const auto payload = s->payloadOf(e);
      copy.payload.assign(payload.begin(), payload.end());
      out.push_back(std::move(copy));
    });
  }
  return out;
}

std::vector<EntryCopy> Cache::collectPartitioned(int64_t now) {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  std::vector<EntryCopy> out;
  for (size_t i = 0; i < segment_->header().stripe_count; ++i) {
    LockedStripe s(*segment_, i, counters);
    s->forEachEntry([&](EntryHeader* e, uint64_t) {
      if (e->partition_family == 0 || e->expires_at <= now) return;
      const auto entry_name = s->nameOf(e);
      EntryCopy copy;
      copy.name.assign(entry_name.begin(), entry_name.end());
      copy.type = e->type;
      copy.kind = e->kind;
      copy.meta = metaOf(e);
      copy.partition = partitionOf(e);
      copy.hits = e->hits;
      out.push_back(std::move(copy));
    });
  }
  return out;
}

Status Cache::insertRange(std::span<const uint8_t> set, std::span<const uint8_t> order,
                          const Meta& meta, std::span<const uint8_t> payload, int64_t now) {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  if (meta.security != Security::kSecure) return base::fail(Error::kNotSecure);
  if (set.size() > kMaxNameLength || order.size() > kMaxNameLength) {
    return base::fail(Error::kBadKey);
  }
  const uint64_t size = align8(sizeof(EntryHeader) + set.size() + order.size() + payload.size());
  const uint64_t hash = hashSet(set);
  LockedStripe s(*segment_, stripeOf(hash, segment_->header().stripe_count), counters);
  if (size > s->maxEntrySize() || payload.size() > 0xFFFFFFFFu) {
    bump(counters.too_large);
    return base::fail(Error::kTooLarge);
  }
  auto existing = [&]() -> EntryHeader* {
    const uint64_t p = s->rangeLowerBound(set, order, false);
    if (p >= s->header().range_count) return nullptr;
    EntryHeader* e = s->rangeAt(p);
    if (e == nullptr || compareRangeKeys(s->nameOf(e), s->orderOf(e), set, order) != 0) {
      return nullptr;
    }
    return e;
  };
  if (EntryHeader* e = existing(); e != nullptr && e->expires_at > now && e->rank > meta.rank) {
    bump(counters.rank_refused);
    return base::fail(Error::kRankTooLow);
  }
  s->ensureRangeRoom(now);
  const uint64_t offset = s->allocate(size, now);
  if (EntryHeader* e = existing(); e != nullptr) {
    s->kill(e, s->offsetOf(e));
    bump(counters.replaced);
  }
  EntryHeader header{};
  header.size = static_cast<uint32_t>(size);
  header.hash = static_cast<uint32_t>(hash);
  header.state = EntryState::kLive;
  header.rank = meta.rank;
  header.security = static_cast<uint8_t>(meta.security);
  header.table = kRangeTable;
  header.flags = meta.flags;
  header.name_length = static_cast<uint16_t>(set.size());
  header.order_length = static_cast<uint16_t>(order.size());
  header.payload_length = static_cast<uint32_t>(payload.size());
  header.original_ttl = meta.original_ttl;
  header.expires_at = meta.expires_at;
  header.inserted_at = now;
  s->writeEntry(offset, header, set, order, payload);
  if (!s->insertRangeAt(s->rangeLowerBound(set, order, false), offset)) {
    s->discardUnindexed(offset);
    return base::fail(Error::kTooLarge);
  }
  bump(counters.inserts);
  return {};
}

Result<Found> Cache::findRange(std::span<const uint8_t> set, std::span<const uint8_t> order,
                               int64_t now, std::span<uint8_t> order_out,
                               std::span<uint8_t> out) {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  bump(counters.lookups);
  LockedStripe s(*segment_, stripeOf(hashSet(set), segment_->header().stripe_count), counters);
  auto inSet = [&](uint64_t p) -> EntryHeader* {
    EntryHeader* e = s->rangeAt(p);
    return e != nullptr && sameBytes(s->nameOf(e), set) ? e : nullptr;
  };
  const uint64_t count = s->header().range_count;
  const uint64_t p = s->rangeLowerBound(set, order, false);
  EntryHeader* e = nullptr;
  if (p < count && (e = inSet(p)) != nullptr &&
      compareRangeKeys(s->nameOf(e), s->orderOf(e), set, order) == 0) {
    // exact match
  } else if (p > 0 && (e = inSet(p - 1)) != nullptr) {
    // greatest below
  } else {
    // Wrap-around: the greatest entry of the set.
    const uint64_t end = s->rangeLowerBound(set, {}, true);
    e = end > 0 ? inSet(end - 1) : nullptr;
  }
  if (e == nullptr || e->expires_at <= now) {
    bump(counters.misses);
    if (e != nullptr) bump(counters.expired);
    return base::fail(Error::kNotFound);
  }
  const auto found_order = s->orderOf(e);
  const auto payload = s->payloadOf(e);
  if (found_order.size() > order_out.size() || payload.size() > out.size()) {
    return base::fail(Error::kBufferTooSmall);
  }
  if (!found_order.empty()) std::memcpy(order_out.data(), found_order.data(), found_order.size());
  if (!payload.empty()) std::memcpy(out.data(), payload.data(), payload.size());
  if (e->referenced == 0) e->referenced = 1;
  bump(counters.hits);
  Found found;
  found.meta = metaOf(e);
  found.payload_length = payload.size();
  found.order_length = found_order.size();
  found.inserted_at = e->inserted_at;
  return found;
}

Counters Cache::counters() const {
  Counters total;
  for (const CounterBlock& c : segment_->header().counters) {
    auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
    total.lookups += get(c.lookups);
    total.hits += get(c.hits);
    total.stale_hits += get(c.stale_hits);
    total.misses += get(c.misses);
    total.expired += get(c.expired);
    total.inserts += get(c.inserts);
    total.replaced += get(c.replaced);
    total.rank_refused += get(c.rank_refused);
    total.too_large += get(c.too_large);
    total.evictions += get(c.evictions);
    total.expired_evictions += get(c.expired_evictions);
    total.partition_evictions += get(c.partition_evictions);
    total.owner_died += get(c.owner_died);
    total.corrupt += get(c.corrupt);
  }
  return total;
}

std::vector<StripeFill> Cache::fill() const {
  std::vector<StripeFill> out(segment_->header().stripe_count);
  for (size_t i = 0; i < out.size(); ++i) {
    const StripeHeader& s = segment_->stripe(i);
    out[i].live_entries = s.live_entries.load(std::memory_order_relaxed);
    out[i].live_bytes = s.live_bytes.load(std::memory_order_relaxed);
    out[i].wipes = s.wipes.load(std::memory_order_relaxed);
    // Written under the stripe lock; a relaxed atomic read of a gauge.
    out[i].range_entries = __atomic_load_n(&s.range_count, __ATOMIC_RELAXED);
  }
  return out;
}

unsigned Cache::stripeCount() const { return segment_->header().stripe_count; }
size_t Cache::segmentSize() const { return segment_->header().segment_size; }
size_t Cache::arenaBytesPerStripe() const { return segment_->header().arena_size; }
size_t Cache::maxEntrySize() const {
  return std::min<size_t>(segment_->header().arena_size / 4, 0xFFFFFFF8u);
}

void Cache::clear() {
  CounterBlock& counters = segment_->header().counters[counter_slot_];
  for (size_t i = 0; i < segment_->header().stripe_count; ++i) {
    LockedStripe s(*segment_, i, counters);
    wipeStripe(*segment_, i, false);
  }
}

}  // namespace shoal::shmcache
