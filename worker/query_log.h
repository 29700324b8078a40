#pragma once
// Internal to worker/: the sampled query log ([log] queries = N): one
// client query in N is logged at info level when its answer leaves, as
//   query 192.0.2.7 udp www.example.com. A NOERROR hit 38us
// (client, transport, name, type, rcode, "hit" from the cache or "miss"
// resolved, time from the query's arrival). Sampling, not a capture: for
// every query use dnstap. Off (0) by default.

#include <cstdint>
#include <span>

#include "base/ip_address.h"

namespace shoal::worker {

class QueryLog {
 public:
  explicit QueryLog(uint32_t one_in) : one_in_(one_in) {}
  /// Whether this query is one of those logged.
  bool sample() { return one_in_ != 0 && ++seen_ % one_in_ == 0; }
  /// Logs a sampled query's `response` (the question and rcode are read
  /// from it; nothing is logged if it does not parse).
  static void write(const base::IpAddress& client, bool tcp, std::span<const uint8_t> response,
                    bool hit, uint64_t elapsed_us);

 private:
  uint32_t one_in_;
  uint64_t seen_ = 0;
};

}  // namespace shoal::worker
