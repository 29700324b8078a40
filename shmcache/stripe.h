#pragma once
// Operations on one locked stripe (internal to shmcache).
//
// The arena is a ring: entries are appended at `head` and reclaimed at
// `tail`. Eviction is CLOCK over that ring (FIFO with reinsertion): the
// entry at the tail is dropped if it is dead, expired or was not read since
// it was last passed over; an entry that was read gets its bit cleared and
// is moved to the head instead, when there is room. So expired entries go
// first, then the least recently used.
//
// The hash index uses linear probing with backward-shift deletion (no
// tombstones). Every partition of a key hashes to the same home slot, so a
// lookup walks one probe run to find the most specific partition.
//
// The ordered-set index is a sorted array of entry offsets, compared by
// (set key, order key) read from the entries.
//
// Every method expects the stripe's lock held. Every read of the arena is
// bounds-checked: shared memory is input too.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "shmcache/cache.h"
#include "shmcache/layout.h"
#include "shmcache/segment.h"

namespace shoal::shmcache {

class Stripe {
 public:
  Stripe(Segment& segment, size_t index, CounterBlock& counters);

  /// Entry header at an arena offset, or null if the offset is not a sane
  /// entry (counted as corruption).
  EntryHeader* entryAt(uint64_t offset);
  std::span<uint8_t> nameOf(EntryHeader* e);
  std::span<uint8_t> orderOf(EntryHeader* e);
  std::span<uint8_t> payloadOf(EntryHeader* e);

  /// Index operations.
  uint64_t home(uint32_t hash) const;
  uint64_t nextSlot(uint64_t i) const { return i + 1 == slot_count_ ? 0 : i + 1; }
  IndexSlot& slot(uint64_t i) { return slots_[i]; }
  bool addSlot(uint32_t hash, uint64_t offset);
  void removeSlot(uint64_t i);
  /// Slot index holding `offset` for `hash`, or slot_count_ if none.
  uint64_t findSlot(uint32_t hash, uint64_t offset);

  /// Ordered-set operations.
  /// Position of the first range entry whose (set, order) >= the given one.
  uint64_t rangeLowerBound(std::span<const uint8_t> set, std::span<const uint8_t> order,
                           bool after_all_orders);
  EntryHeader* rangeAt(uint64_t position);
  bool insertRangeAt(uint64_t position, uint64_t offset);
  void removeRangeAt(uint64_t position);
  /// Position of the range entry at `offset`, or range_count if none.
  uint64_t findRange(EntryHeader* e, uint64_t offset);

  /// Reserves `size` bytes at the head, evicting as needed. Returns the
  /// arena offset. `size` must be <= maxEntrySize().
  uint64_t allocate(uint64_t size, int64_t now);
  /// Makes room in the hash index (evicting) so one more slot fits.
  void ensureIndexRoom(int64_t now);
  void ensureRangeRoom(int64_t now);

  /// Calls `fn` for every live entry, oldest first. `fn` may kill entries.
  void forEachEntry(const std::function<void(EntryHeader*, uint64_t)>& fn);

  /// Writes a live entry at `offset` (from allocate) and counts its fill.
  void writeEntry(uint64_t offset, const EntryHeader& header, std::span<const uint8_t> name,
                  std::span<const uint8_t> order, std::span<const uint8_t> payload);

  /// Marks dead an entry that writeEntry wrote but no index took.
  void discardUnindexed(uint64_t offset);

  /// Marks an entry dead and removes it from its index.
  void kill(EntryHeader* e, uint64_t offset);
  uint64_t offsetOf(const EntryHeader* e) const;

  /// A quarter of the arena, and within EntryHeader::size (32 bits).
  uint64_t maxEntrySize() const { return std::min<uint64_t>(arena_size_ / 4, 0xFFFFFFF8u); }
  /// Set when a bounds check failed: the caller must wipe the stripe.
  bool corrupted() const { return corrupt_; }
  StripeHeader& header() { return header_; }
  CounterBlock& counters() { return counters_; }

 private:
  /// Reclaims the entry at the tail. `compact`: also move live entries that
  /// were not read when most of the ring is dead space.
  void evictTail(int64_t now, bool compact);
  bool reinsertAtHead(uint64_t from, uint64_t size);
  void wrapHead();

  Segment& segment_;
  size_t index_;
  StripeHeader& header_;
  IndexSlot* slots_;
  uint64_t slot_count_;
  uint32_t* ranges_;
  uint64_t range_capacity_;
  uint8_t* arena_;
  uint64_t arena_size_;
  CounterBlock& counters_;
  bool corrupt_ = false;
};

/// 64-bit hash of a key (name, type, kind); partitions are not hashed.
uint64_t hashKey(std::span<const uint8_t> name, uint16_t type, uint8_t kind);
/// 64-bit hash of an ordered set's key.
uint64_t hashSet(std::span<const uint8_t> set);

/// Compares (a_set, a_order) with (b_set, b_order), memcmp-lexicographic.
int compareRangeKeys(std::span<const uint8_t> a_set, std::span<const uint8_t> a_order,
                     std::span<const uint8_t> b_set, std::span<const uint8_t> b_order);

}  // namespace shoal::shmcache
