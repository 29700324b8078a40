#pragma once
// The shared segment's layout. Every structure here lives in shared memory,
// is read by processes of possibly another build, and must therefore only
// change together with kLayoutVersion. Lines that depend on the layout are
// marked SHM_LAYOUT.
//
//   segment: [SegmentHeader][stripe 0][stripe 1]...[stripe N-1]
//   stripe:  [StripeHeader][IndexSlot x index_slots][uint32 x range_capacity][arena]
//   arena:   a ring of entries, each [EntryHeader][name][order][payload], 8-aligned
//
// A segment created with ftruncate is all zeroes; zero is a valid empty
// value for every field except the mutexes and the geometry, which
// initialise() writes. So a 16 GiB segment costs nothing until it fills.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmcache/robust_mutex.h"

namespace shoal::shmcache {

inline constexpr uint64_t kMagic = 0x31484341434c4853ull;  // "SHLCACH1"  SHM_LAYOUT
inline constexpr uint32_t kLayoutVersion = 2;               // SHM_LAYOUT
inline constexpr size_t kMaxCounterSlots = 64;             // SHM_LAYOUT
inline constexpr size_t kEntryAlign = 8;                    // SHM_LAYOUT

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<int32_t>::is_always_lock_free);

/// One process's counters. Written with relaxed atomics by that process
/// only (bump(): a load and a store, no locked read-modify-write, since
/// nobody else writes them); read without any lock by shoalctl.
struct alignas(64) CounterBlock {  // SHM_LAYOUT
  std::atomic<uint64_t> lookups;
  std::atomic<uint64_t> hits;
  std::atomic<uint64_t> stale_hits;
  std::atomic<uint64_t> misses;
  std::atomic<uint64_t> expired;          // lookups that found only expired data
  std::atomic<uint64_t> inserts;
  std::atomic<uint64_t> replaced;
  std::atomic<uint64_t> rank_refused;
  std::atomic<uint64_t> too_large;
  std::atomic<uint64_t> evictions;
  std::atomic<uint64_t> expired_evictions;
  std::atomic<uint64_t> partition_evictions;  // per-name ECS limit
  std::atomic<uint64_t> owner_died;           // stripes repaired after a crash
  std::atomic<uint64_t> corrupt;              // entries that failed validation
  std::atomic<int32_t> pid;                   // last process that used the slot
};

/// Adds to a counter that only this process writes.
inline void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct SegmentHeader {  // SHM_LAYOUT
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_size;
  uint64_t segment_size;
  uint32_t stripe_count;
  uint32_t max_partitions;
  uint64_t stripe_size;    // bytes per stripe, all parts included
  uint64_t stripes_offset; // of stripe 0, from the segment start
  uint64_t index_slots;    // per stripe
  uint64_t range_capacity; // per stripe
  uint64_t arena_offset;   // within a stripe
  uint64_t arena_size;     // per stripe, a multiple of kEntryAlign
  int64_t created_at;      // wall clock seconds
  CounterBlock counters[kMaxCounterSlots];
};

struct alignas(64) StripeHeader {  // SHM_LAYOUT
  RobustMutex mutex;
  // Ring state, under the mutex.
  uint64_t head;  // where the next entry goes
  uint64_t tail;  // the oldest entry
  uint64_t used;  // bytes from tail to head, dead entries and padding included
  uint64_t index_used;
  uint64_t range_count;
  // Ticks at every insert and use of an ECS partition: the order in which
  // the per-key partition limit evicts (EntryHeader::last_used).
  uint64_t partition_clock;
  // Fill, written under the mutex, readable without it.
  std::atomic<uint64_t> live_entries;
  std::atomic<uint64_t> live_bytes;
  std::atomic<uint64_t> wipes;  // times this stripe was wiped after a crash
};

/// Hash index slot. `offset` is (arena offset / kEntryAlign) + 1; 0 = empty.
struct IndexSlot {  // SHM_LAYOUT
  uint32_t hash;
  uint32_t offset;
};

enum class EntryState : uint8_t { kEmpty = 0, kLive = 1, kDead = 2, kWrap = 3 };  // SHM_LAYOUT

struct EntryHeader {  // SHM_LAYOUT
  uint32_t size;  // whole entry, header and padding included
  uint32_t hash;
  EntryState state;
  uint8_t kind;
  uint8_t rank;
  uint8_t security;
  uint8_t referenced;  // CLOCK bit: read since it was last passed over
  uint8_t partition_family;
  uint8_t partition_prefix;
  uint8_t table;  // 0: hash-indexed entry, 1: ordered-set entry
  uint16_t type;
  uint16_t flags;
  uint16_t name_length;
  uint16_t order_length;  // ordered-set entries only
  uint32_t payload_length;
  uint32_t original_ttl;
  int64_t expires_at;
  int64_t inserted_at;
  uint8_t partition_address[16];
  // ECS partitions (partition_family != 0): lookups that chose this
  // entry, saturating. Global entries count only the lookups in the last
  // tenth of their TTL (prefetch), so most hits on them dirty no cache
  // line.
  uint32_t hits;
  // ECS partitions only: the stripe's partition_clock (low 32 bits) when
  // it was inserted or last chosen: the per-key partition limit evicts the
  // least recently used.
  uint32_t last_used;
};
static_assert(sizeof(EntryHeader) == 72);  // SHM_LAYOUT
static_assert(std::is_trivially_copyable_v<EntryHeader>);
static_assert(std::is_trivially_copyable_v<IndexSlot>);

}  // namespace shoal::shmcache
