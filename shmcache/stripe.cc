#include "shmcache/stripe.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "base/check.h"

namespace shoal::shmcache {

namespace {

uint32_t toUnits(uint64_t offset) { return static_cast<uint32_t>(offset / kEntryAlign + 1); }
uint64_t fromUnits(uint32_t units) { return (static_cast<uint64_t>(units) - 1) * kEntryAlign; }

uint64_t fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/// Word-at-a-time multiplicative hash with a murmur3 finaliser. Keys are
/// short (a lookup key is ~20 octets); this is what dominates their cost.
uint64_t hashBytes(std::span<const uint8_t> data, uint64_t seed) {
  uint64_t h = seed ^ (data.size() * 0x9E3779B97F4A7C15ull);
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    h = (h ^ fmix64(w)) * 0x9E3779B97F4A7C15ull;
  }
  uint64_t w = 0;
  if (i < data.size()) std::memcpy(&w, data.data() + i, data.size() - i);  // empty: the root
  h = (h ^ fmix64(w ^ 0xA5)) * 0x9E3779B97F4A7C15ull;
  return fmix64(h);
}

}  // namespace

uint64_t hashKey(std::span<const uint8_t> name, uint16_t type, uint8_t kind) {
  return hashBytes(name, (static_cast<uint64_t>(type) << 8) | kind);
}

uint64_t hashSet(std::span<const uint8_t> set) { return hashBytes(set, 0x5e7); }

int compareRangeKeys(std::span<const uint8_t> a_set, std::span<const uint8_t> a_order,
                     std::span<const uint8_t> b_set, std::span<const uint8_t> b_order) {
  auto cmp = [](std::span<const uint8_t> a, std::span<const uint8_t> b) {
    const size_t n = std::min(a.size(), b.size());
    const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
    if (c != 0) return c < 0 ? -1 : 1;
    if (a.size() == b.size()) return 0;
    return a.size() < b.size() ? -1 : 1;
  };
  const int c = cmp(a_set, b_set);
  return c != 0 ? c : cmp(a_order, b_order);
}

Stripe::Stripe(Segment& segment, size_t index, CounterBlock& counters)
    : segment_(segment),
      index_(index),
      header_(segment.stripe(index)),
      slots_(segment.slots(index)),
      slot_count_(segment.header().index_slots),
      ranges_(segment.ranges(index)),
      range_capacity_(segment.header().range_capacity),
      arena_(segment.arena(index)),
      arena_size_(segment.header().arena_size),
      counters_(counters) {}

EntryHeader* Stripe::entryAt(uint64_t offset) {
  if (offset % kEntryAlign != 0 || offset + sizeof(EntryHeader) > arena_size_) {
    corrupt_ = true;
    return nullptr;
  }
  auto* e = reinterpret_cast<EntryHeader*>(arena_ + offset);
  const uint64_t content = sizeof(EntryHeader) + uint64_t{e->name_length} + e->order_length +
                           e->payload_length;
  if (e->size < sizeof(EntryHeader) || e->size % kEntryAlign != 0 ||
      offset + e->size > arena_size_ || content > e->size) {
    corrupt_ = true;
    return nullptr;
  }
  return e;
}

uint64_t Stripe::offsetOf(const EntryHeader* e) const {
  return static_cast<uint64_t>(reinterpret_cast<const uint8_t*>(e) - arena_);
}

std::span<uint8_t> Stripe::nameOf(EntryHeader* e) {
  return {reinterpret_cast<uint8_t*>(e + 1), e->name_length};
}
std::span<uint8_t> Stripe::orderOf(EntryHeader* e) {
  return {reinterpret_cast<uint8_t*>(e + 1) + e->name_length, e->order_length};
}
std::span<uint8_t> Stripe::payloadOf(EntryHeader* e) {
  return {reinterpret_cast<uint8_t*>(e + 1) + e->name_length + e->order_length, e->payload_length};
}

uint64_t Stripe::home(uint32_t hash) const { return (uint64_t{hash} * slot_count_) >> 32; }

bool Stripe::addSlot(uint32_t hash, uint64_t offset) {
  if (header_.index_used + 1 >= slot_count_) return false;
  uint64_t i = home(hash);
  while (slots_[i].offset != 0) i = nextSlot(i);
  slots_[i] = IndexSlot{hash, toUnits(offset)};
  ++header_.index_used;
  return true;
}

void Stripe::removeSlot(uint64_t i) {
  slots_[i] = IndexSlot{0, 0};
  --header_.index_used;
  // Backward-shift deletion: pull later members of the run into the hole
  // unless their home lies cyclically in (hole, position].
  uint64_t hole = i;
  for (uint64_t j = nextSlot(i); slots_[j].offset != 0; j = nextSlot(j)) {
    const uint64_t k = home(slots_[j].hash);
    const bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    slots_[j] = IndexSlot{0, 0};
    hole = j;
  }
}

uint64_t Stripe::findSlot(uint32_t hash, uint64_t offset) {
  const uint32_t units = toUnits(offset);
  for (uint64_t i = home(hash), n = 0; slots_[i].offset != 0 && n < slot_count_;
       i = nextSlot(i), ++n) {
    if (slots_[i].offset == units && slots_[i].hash == hash) return i;
  }
  return slot_count_;
}

EntryHeader* Stripe::rangeAt(uint64_t position) {
  if (position >= header_.range_count || ranges_[position] == 0) {
    corrupt_ = true;
    return nullptr;
  }
  return entryAt(fromUnits(ranges_[position]));
}

uint64_t Stripe::rangeLowerBound(std::span<const uint8_t> set, std::span<const uint8_t> order,
                                 bool after_all_orders) {
  uint64_t lo = 0;
  uint64_t hi = std::min<uint64_t>(header_.range_count, range_capacity_);
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    EntryHeader* e = rangeAt(mid);
    if (e == nullptr) return hi;  // corrupt: the caller wipes the stripe
    int c;
    if (after_all_orders) {
      c = compareRangeKeys(nameOf(e), {}, set, {});
      c = c <= 0 ? -1 : 1;  // equal sets sort before "after all orders"
    } else {
      c = compareRangeKeys(nameOf(e), orderOf(e), set, order);
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

bool Stripe::insertRangeAt(uint64_t position, uint64_t offset) {
  if (header_.range_count >= range_capacity_ || position > header_.range_count) return false;
  std::memmove(ranges_ + position + 1, ranges_ + position,
               (header_.range_count - position) * sizeof(uint32_t));
  ranges_[position] = toUnits(offset);
  ++header_.range_count;
  return true;
}

void Stripe::removeRangeAt(uint64_t position) {
  std::memmove(ranges_ + position, ranges_ + position + 1,
               (header_.range_count - position - 1) * sizeof(uint32_t));
  --header_.range_count;
  ranges_[header_.range_count] = 0;
}

uint64_t Stripe::findRange(EntryHeader* e, uint64_t offset) {
  const uint32_t units = toUnits(offset);
  uint64_t p = rangeLowerBound(nameOf(e), orderOf(e), false);
  for (; p < header_.range_count; ++p) {
    if (ranges_[p] == units) return p;
    EntryHeader* other = rangeAt(p);
    if (other == nullptr ||
        compareRangeKeys(nameOf(other), orderOf(other), nameOf(e), orderOf(e)) != 0) {
      break;
    }
  }
  return header_.range_count;
}

void Stripe::discardUnindexed(uint64_t offset) {
  EntryHeader* e = entryAt(offset);
  if (e == nullptr || e->state != EntryState::kLive) return;
  e->state = EntryState::kDead;
  header_.live_entries.fetch_sub(1, std::memory_order_relaxed);
  header_.live_bytes.fetch_sub(e->size, std::memory_order_relaxed);
}

void Stripe::kill(EntryHeader* e, uint64_t offset) {
  if (e->state != EntryState::kLive) return;
  if (e->table != 0) {
    const uint64_t p = findRange(e, offset);
    if (p < header_.range_count) removeRangeAt(p);
  } else {
    const uint64_t i = findSlot(e->hash, offset);
    if (i < slot_count_) removeSlot(i);
  }
  e->state = EntryState::kDead;
  header_.live_entries.fetch_sub(1, std::memory_order_relaxed);
  header_.live_bytes.fetch_sub(e->size, std::memory_order_relaxed);
}

void Stripe::wrapHead() {
  // Pads the rest of the arena (a wrap marker when a header fits; walkers
  // treat a shorter remainder as padding too) and moves the head to 0.
  const uint64_t pad = arena_size_ - header_.head;
  if (pad >= sizeof(EntryHeader)) {
    auto* marker = reinterpret_cast<EntryHeader*>(arena_ + header_.head);
    std::memset(marker, 0, sizeof(EntryHeader));
    marker->size = static_cast<uint32_t>(pad);
    marker->state = EntryState::kWrap;
  }
  header_.used += pad;
  header_.head = 0;
}

bool Stripe::reinsertAtHead(uint64_t from, uint64_t size) {
  // The entry at `from` has just left the ring (the tail moved past it), so
  // its bytes sit in free space. Find `size` contiguous free bytes at the
  // head, wrapping if needed, and move it there (the regions may overlap).
  StripeHeader& h = header_;
  if (h.used == 0) {
    h.head = 0;
    h.tail = 0;
  }
  uint64_t room;
  if (h.head >= h.tail && h.used < arena_size_) {
    room = arena_size_ - h.head;
    if (room < size && h.tail >= size) {
      wrapHead();
      room = h.tail;
    }
  } else {
    room = h.used < arena_size_ ? h.tail - h.head : 0;
  }
  if (room < size) return false;
  auto* e = reinterpret_cast<EntryHeader*>(arena_ + from);
  // Locate its index entry by the old offset before the bytes move.
  uint64_t position = 0;
  if (e->table != 0) {
    position = findRange(e, from);
    if (position >= header_.range_count) return false;
  } else {
    position = findSlot(e->hash, from);
    if (position >= slot_count_) return false;
  }
  const uint64_t to = h.head;
  std::memmove(arena_ + to, arena_ + from, size);
  auto* moved = reinterpret_cast<EntryHeader*>(arena_ + to);
  moved->referenced = 0;
  if (moved->table != 0) {
    ranges_[position] = toUnits(to);
  } else {
    slots_[position].offset = toUnits(to);
  }
  h.head = to + size == arena_size_ ? 0 : to + size;
  h.used += size;
  return true;
}

void Stripe::evictTail(int64_t now, bool compact) {
  StripeHeader& h = header_;
  if (h.used == 0) return;
  if (arena_size_ - h.tail < sizeof(EntryHeader)) {  // implicit padding at the end
    h.used -= arena_size_ - h.tail;
    h.tail = 0;
    return;
  }
  EntryHeader* e = entryAt(h.tail);
  if (e == nullptr) {
    wipeStripe(segment_, index_, true);  // the ring cannot be walked any further
    return;
  }
  if (e->state == EntryState::kWrap) {
    h.used -= arena_size_ - h.tail;
    h.tail = 0;
    return;
  }
  const uint64_t size = e->size;
  const uint64_t from = h.tail;
  const bool live = e->state == EntryState::kLive;
  const bool expired = e->expires_at <= now;
  // Second chance for entries read since the last pass (CLOCK); and, when
  // most of the ring is dead space (replaced entries), for every live one:
  // moving it is compaction, evicting it would shrink the cache for nothing.
  const bool mostly_dead =
      header_.live_bytes.load(std::memory_order_relaxed) < arena_size_ / 2;
  const bool second_chance = live && !expired && (e->referenced != 0 || (compact && mostly_dead));
  h.tail = h.tail + size == arena_size_ ? 0 : h.tail + size;
  h.used -= size;
  if (second_chance && reinsertAtHead(from, size)) return;
  if (live) {
    // Still intact at `from`: nothing has been written over it.
    kill(reinterpret_cast<EntryHeader*>(arena_ + from), from);
    bump(counters_.evictions);
    if (expired) bump(counters_.expired_evictions);
  }
}

uint64_t Stripe::allocate(uint64_t size, int64_t now) {
  SHOAL_CHECK(size <= maxEntrySize() && size % kEntryAlign == 0);
  StripeHeader& h = header_;
  for (;;) {
    if (corrupt_) {
      wipeStripe(segment_, index_, true);
      corrupt_ = false;
    }
    if (h.used == 0) {
      h.head = 0;
      h.tail = 0;
    }
    const bool full = h.used >= arena_size_;
    if (!full && h.head >= h.tail) {
      if (arena_size_ - h.head >= size) break;
      wrapHead();  // too little room before the end
      continue;
    }
    if (!full && h.head < h.tail && h.tail - h.head >= size) break;
    evictTail(now, true);
  }
  const uint64_t offset = h.head;
  h.head = h.head + size == arena_size_ ? 0 : h.head + size;
  h.used += size;
  return offset;
}

void Stripe::forEachEntry(const std::function<void(EntryHeader*, uint64_t)>& fn) {
  uint64_t pos = header_.tail;
  uint64_t remaining = header_.used;
  while (remaining > 0) {
    if (arena_size_ - pos < sizeof(EntryHeader)) {
      remaining -= std::min(remaining, arena_size_ - pos);
      pos = 0;
      continue;
    }
    EntryHeader* e = entryAt(pos);
    if (e == nullptr) return;  // corrupt: the caller wipes the stripe
    const uint64_t size = e->state == EntryState::kWrap ? arena_size_ - pos : e->size;
    if (e->state == EntryState::kLive) fn(e, pos);
    remaining -= std::min(remaining, size);
    pos = pos + size >= arena_size_ ? 0 : pos + size;
  }
}

void Stripe::writeEntry(uint64_t offset, const EntryHeader& header, std::span<const uint8_t> name,
                        std::span<const uint8_t> order, std::span<const uint8_t> payload) {
  uint8_t* p = arena_ + offset;
  std::memcpy(p, &header, sizeof header);
  p += sizeof header;
  if (!name.empty()) std::memcpy(p, name.data(), name.size());
  p += name.size();
  if (!order.empty()) std::memcpy(p, order.data(), order.size());
  p += order.size();
  if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
  header_.live_entries.fetch_add(1, std::memory_order_relaxed);
  header_.live_bytes.fetch_add(header.size, std::memory_order_relaxed);
}

void Stripe::ensureIndexRoom(int64_t now) {
  // Keep the load factor at or below 3/4 so probe runs stay short.
  // No compaction here: moving entries frees no index slot.
  while (header_.index_used + 1 > slot_count_ * 3 / 4 && header_.used > 0) evictTail(now, false);
}

void Stripe::ensureRangeRoom(int64_t now) {
  while (header_.range_count + 1 > range_capacity_ && header_.used > 0) evictTail(now, false);
}

}  // namespace shoal::shmcache
