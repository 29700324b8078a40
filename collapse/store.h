#pragma once
// The collapsed connections a worker holds: for each, the tuple and its
// saved TCP state, nothing else (sans-I/O: the kernel side is in
// tcp_repair.h and divert.h). Bounded: at `capacity` nothing more is
// collapsed (the connection is closed as before), and an entry older than
// `lifetime_ms` is forgotten, as the kernel forgets its divert element.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "collapse/tcp_repair.h"
#include "collapse/tuple.h"

namespace shoal::collapse {

class TupleStore {
 public:
  TupleStore(size_t capacity, int64_t lifetime_ms) : capacity_(capacity), lifetime_ms_(lifetime_ms) {}

  bool full() const { return entries_.size() >= capacity_; }
  size_t capacity() const { return capacity_; }
  size_t size() const { return entries_.size(); }
  /// Keeps `state` for `tuple`, collapsed at `now_ms`. False when full.
  bool put(const ConnTuple& tuple, const RepairState& state, int64_t now_ms);
  struct Taken {
    RepairState state;
    int64_t collapsed_ms = 0;
  };
  /// Removes and returns the tuple's entry if it is there and not
  /// expired.
  std::optional<Taken> take(const ConnTuple& tuple, int64_t now_ms);
  /// Forgets entries older than the lifetime; returns how many.
  size_t expire(int64_t now_ms);
  /// Every tuple held (for a worker that stops: their divert elements go).
  std::vector<ConnTuple> tuples() const;
  /// Octets per entry in this table (entry, node and bucket), for the
  /// benchmark's arithmetic and `shoalctl stats`.
  static constexpr size_t kEntryOverhead = sizeof(ConnTuple) + sizeof(Taken) + 3 * sizeof(void*);

 private:
  size_t capacity_;
  int64_t lifetime_ms_;
  std::unordered_map<ConnTuple, Taken, ConnTupleHash> entries_;
};

}  // namespace shoal::collapse
