#pragma once
// What every worker knows about each authoritative server address: smoothed
// RTT and its variance (RFC 6298), queries, timeouts and consecutive
// timeouts, whether it mishandles EDNS, and until when it is backed off.
// Kept in the shared cache (kind kServer), so all workers learn from each
// other; read-modify-write races between workers may lose an update, which
// only makes an estimate a little older.

#include <cstdint>
#include <type_traits>

#include "base/ip_address.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

struct ServerState {
  bool known = false;          // any RTT sample yet
  int64_t srtt_us = 0;
  int64_t rttvar_us = 0;
  uint32_t queries = 0;         // answered, timed out or failed
  uint32_t replies = 0;
  uint32_t timeouts = 0;
  uint32_t consecutive_timeouts = 0;
  int64_t last_reply_ms = 0;
  int64_t backoff_until_ms = 0;  // unresponsive: avoid until then
  bool no_edns = false;          // answered FORMERR/NOTIMP to EDNS
};

static_assert(std::is_trivially_copyable_v<ServerState>);  // stored as a cache payload

class ServerStats {
 public:
  ServerStats(shmcache::Cache& cache, int64_t rto_min_ms, int64_t rto_max_ms)
      : cache_(cache), rto_min_ms_(rto_min_ms), rto_max_ms_(rto_max_ms) {}

  ServerState get(const base::IpAddress& server, int64_t now_ms);
  void recordReply(const base::IpAddress& server, int64_t rtt_ms, int64_t now_ms);
  void recordTimeout(const base::IpAddress& server, int64_t now_ms);
  void recordNoEdns(const base::IpAddress& server, int64_t now_ms);

  /// Retransmission timeout for a server (RFC 6298 section 2: SRTT +
  /// 4 RTTVAR, doubled per consecutive timeout), within [rto_min, rto_max].
  int64_t rtoMs(const ServerState& state) const;
  /// The estimate used to rank servers: SRTT, an optimistic guess for
  /// servers never measured, penalised by recent timeouts.
  int64_t rankMs(const ServerState& state) const;

 private:
  void put(const base::IpAddress& server, const ServerState& state, int64_t now_ms);

  shmcache::Cache& cache_;
  int64_t rto_min_ms_;
  int64_t rto_max_ms_;
};

}  // namespace shoal::resolver
