#pragma once
// Per-client-prefix token buckets shared by every worker (issue 15), so
// that one limit holds however the kernel spreads a client's datagrams
// over the workers' SO_REUSEPORT sockets.
//
// A POSIX shared memory object the supervisor creates before it forks;
// workers use the mapping they inherit. Lock-free: each slot is a 64-bit
// key and a 64-bit state updated by compare-and-swap, so a worker killed
// at any instant leaves every slot valid (at worst one bucket misses one
// update) and never blocks another. Open addressing over 4 slots; a full
// neighbourhood gives the least recently refilled slot to the new key.
// Approximate by design, like every rate limiter of its class: two
// prefixes may share a slot for a while after an eviction.
//
// Layout (SHM_LAYOUT: bump kVersion on change): a 64-octet header, then
// `slots` slots of 16 octets.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace shoal::limits {

class RateTable {
 public:
  /// Creates the object `name` (e.g. "/shoal-cache.limits") anew with
  /// `slots` slots (a power of two), mode 0600. An existing object that
  /// is not ours (base/ownership.h) is refused; ours is replaced. Throws
  /// std::runtime_error with the reason.
  static std::unique_ptr<RateTable> create(const std::string& name, size_t slots);
  /// Removes the object `name` (at stop; nothing lost: buckets refill).
  static void remove(const std::string& name);
  ~RateTable();
  RateTable(const RateTable&) = delete;
  RateTable& operator=(const RateTable&) = delete;

  /// Takes one query from the bucket of `key` (never 0) refilled at `rate`
  /// per second up to `burst` queries (burst at most kMaxBurst) at
  /// `now_ms`, a time of monotonicMs() (CLOCK_MONOTONIC: the same in every
  /// process, unlike a process's own clocks, and never stepped). False when
  /// the bucket is empty: the query is over the limit.
  bool take(uint64_t key, uint32_t rate, uint32_t burst, int64_t now_ms);
  /// CLOCK_MONOTONIC in ms: the clock of take().
  static int64_t monotonicMs();

  size_t slots() const { return mask_ + 1; }
  static constexpr uint32_t kMaxBurst = 1000000;

 private:
  RateTable(void* base, size_t size, size_t slots);
  struct Slot;
  Slot& slot(size_t i);
  void* base_;
  size_t size_;
  size_t mask_;
  int64_t epoch_ms_;
};

}  // namespace shoal::limits
