#pragma once
// Client retransmissions, the operator's view of loss from the clients'
// side: a UDP query that arrives again from the same client address with
// the same ID and question within a few seconds was sent again because
// the client's timer fired (its query or our answer was lost, or the
// answer was late). A fixed table of hashes, per worker, on the hot path:
// no allocation, one hash and one slot per query. Collisions only make a
// retry missed or, with odds of 2^-64 per slot, a new query counted.
//
// A retry from another source port may land on another worker (SO_REUSEPORT
// hashes the port) and is then not seen: the count is a floor.

#include <array>
#include <cstdint>
#include <span>

#include "base/ip_address.h"

namespace shoal::worker {

class RetryDetector {
 public:
  /// Queries remembered; a slot is reused when another query hashes to it.
  static constexpr size_t kSlots = 16384;
  /// A query seen again within this is a retry.
  static constexpr int64_t kWindowMs = 5000;

  /// True if `query` (a client's DNS message) repeats one from `client`
  /// seen within kWindowMs: the same ID and question octets. Remembers it
  /// either way. A message too short or malformed to read a question from
  /// is never a retry.
  bool isRetry(std::span<const uint8_t> query, const base::IpAddress& client, int64_t now_ms);

 private:
  struct Slot {
    uint64_t key = 0;
    int64_t seen_ms = 0;
  };
  std::array<Slot, kSlots> slots_{};
};

}  // namespace shoal::worker
