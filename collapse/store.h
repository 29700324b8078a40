#pragma once
// The collapsed connections a worker holds: for each, the tuple and its
// saved TCP state, nothing else (sans-I/O: the kernel side is in
// tcp_repair.h and divert.h). Bounded: at `capacity` nothing more is
// collapsed (the connection is closed as before), and an entry older than
// `lifetime_ms` is forgotten (expire() says which, for their divert
// elements to go too).
//
// Compact, because collapsing is only worth it if a collapsed connection
// costs next to nothing (issue 13: 256 octets in all, kernel included):
// one 64-octet record per connection in a dense array, chained from a
// table of 32-bit indices (removal moves the last record into the hole);
// the server-side address is an index into the few local addresses the
// worker listens on, the client's kept whole. std::unordered_map would
// spend about twice that (a node per entry, its hash, a bucket pointer).
// The array is reserved for `capacity` up front: untouched, that costs
// address space only, not memory.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "collapse/tcp_repair.h"
#include "collapse/tuple.h"

namespace shoal::collapse {

class TupleStore {
 public:
  TupleStore(size_t capacity, int64_t lifetime_ms);

  bool full() const { return records_.size() >= capacity_; }
  size_t size() const { return records_.size(); }
  size_t capacity() const { return capacity_; }
  /// Keeps `state` for `tuple`, collapsed at `now_ms` (replacing any entry
  /// of the same tuple). False when full, or when the tuple's local
  /// address would be the 256th distinct one.
  [[nodiscard]] bool put(const ConnTuple& tuple, const RepairState& state, int64_t now_ms);
  struct Taken {
    RepairState state;
    int64_t collapsed_ms = 0;  // to the second
  };
  /// Removes and returns the tuple's entry if it is there and not expired
  /// (an expired one is removed and not returned).
  std::optional<Taken> take(const ConnTuple& tuple, int64_t now_ms);
  /// Removes the entries older than the lifetime; returns their tuples.
  std::vector<ConnTuple> expire(int64_t now_ms);
  /// Every tuple held.
  std::vector<ConnTuple> tuples() const;
  /// Octets of memory per entry at the current size (records, index,
  /// local addresses), for `shoalctl stats` and the benchmark's arithmetic.
  static constexpr size_t kRecordSize = 64;

 private:
  struct Local {
    uint8_t family = 0;
    uint16_t port = 0;
    uint8_t address[16] = {};
  };
  struct Record {  // 64 octets
    uint8_t remote[16];
    uint16_t remote_port;
    uint8_t local;    // index into locals_
    uint8_t wscales;  // send | receive << 4
    uint32_t send_seq, receive_seq;
    uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;
    uint32_t timestamp;
    uint16_t mss;
    uint8_t options;
    uint8_t unused;
    uint32_t collapsed_s;
    uint32_t next;  // the next record in its chain, or kNone
  };
  static_assert(sizeof(Record) == kRecordSize);
  static constexpr uint32_t kNone = UINT32_MAX;

  ConnTuple tupleOf(const Record& r) const;
  size_t bucketOf(const ConnTuple& tuple) const;
  /// The index of the record for `tuple`, and the link that points to it.
  uint32_t find(const ConnTuple& tuple, uint32_t** link);
  void removeAt(uint32_t index, uint32_t* link);
  void rehash(size_t buckets);
  int localIndex(const ConnTuple& tuple, bool add);

  size_t capacity_;
  int64_t lifetime_ms_;
  std::vector<Local> locals_;
  std::vector<Record> records_;
  std::vector<uint32_t> buckets_;  // a power of two, at least records_.size()
};

}  // namespace shoal::collapse
