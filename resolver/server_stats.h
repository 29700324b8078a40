#pragma once
// What every worker knows about each authoritative server address: smoothed
// RTT and its variance (RFC 6298), queries, timeouts and consecutive
// timeouts, whether it mishandles EDNS, until when it is backed off, and the
// zones it was last asked about (with until when it is lame for each).
// Kept in the shared cache (kind kServer), so all workers learn from each
// other; read-modify-write races between workers may lose an update, which
// only makes an estimate a little older.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "base/ip_address.h"
#include "dns/name.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

/// A zone a server was asked about, in uncompressed wire form. SHM_LAYOUT
/// (part of ServerState).
struct ServerZone {
  int64_t lame_until_ms = 0;  // lame for this zone until then; 0: never marked
  uint8_t length = 0;         // wire octets of `wire`; 0: empty slot
  std::array<uint8_t, dns::kMaxNameLength> wire{};
};

/// How many zones a server remembers (most recent first).
inline constexpr size_t kServerZones = 2;

/// Queries and losses in one slot of kLossSlotS wall seconds. SHM_LAYOUT
/// (part of ServerState).
struct LossSlot {
  uint32_t slot = 0;     // wall seconds / kLossSlotS; 0: never used
  uint32_t queries = 0;  // answered or lost
  uint32_t lost = 0;     // timed out (a late answer does not undo it)
};
inline constexpr int64_t kLossSlotS = 20;
/// A ring of slots covering five minutes and the slot under way.
inline constexpr size_t kLossSlots = 16;

/// Loss over a window: queries and the share lost.
struct LossWindow {
  uint64_t queries = 0;
  uint64_t lost = 0;
  double percent() const { return queries == 0 ? 0.0 : 100.0 * double(lost) / double(queries); }
};

/// The payload of a kServer entry, copied in and out of the cache as bytes.
/// Another size is another format: get() ignores entries of another size,
/// so changing this struct needs no migration. Flags are bytes, not bool:
/// shared memory is input, and any byte must be a valid value.
struct ServerState {  // SHM_LAYOUT
  int64_t srtt_us = 0;
  int64_t rttvar_us = 0;
  int64_t last_reply_ms = 0;
  int64_t backoff_until_ms = 0;  // unresponsive: avoid until then
  uint32_t queries = 0;          // answered, timed out or failed
  uint32_t replies = 0;
  uint32_t timeouts = 0;
  uint32_t consecutive_timeouts = 0;
  uint8_t known = 0;    // any RTT sample yet (0/1)
  uint8_t no_edns = 0;  // answered FORMERR/NOTIMP to EDNS (0/1)
  uint8_t no_case_pad = 0;
  /// Its last server cookie (RFC 7873 section 5.3): 0, or 8..32 octets.
  uint8_t cookie_length = 0;
  uint32_t hedges = 0;      // hedged queries sent to it (a second copy of a question)
  uint32_t hedges_won = 0;  // of those, answered before the query they hedged
  /// The zones the server was last asked about, most recent first. A zone
  /// the server is lame for is kept in preference to one it is not.
  std::array<ServerZone, kServerZones> zones{};
  /// Loss by time (lossOver()).
  std::array<LossSlot, kLossSlots> loss{};
  std::array<uint8_t, 32> cookie{};
  /// Did not echo the 0x20 case of a question: asked without until then
  /// (kNoCaseMs). Not for ever: a spoofer who once guessed ID and port but
  /// not the case must not turn 0x20 off for good.
  int64_t no_case_until_ms = 0;
};

/// How long a server that did not echo 0x20 is asked without it.
inline constexpr int64_t kNoCaseMs = 10 * 60 * 1000;
/// A server cookie is forgotten after this many timeouts in a row: a
/// server that stopped doing cookies (RFC 7873 section 5.3 makes us drop
/// its cookieless replies while we hold its cookie) is not lost for good.
inline constexpr uint32_t kCookieForgetTimeouts = 2;

static_assert(std::is_trivially_copyable_v<ServerState>);  // stored as a cache payload
static_assert(sizeof(ServerState) < 1024);

/// The queries and losses of `state` in the last `seconds` (60 or 300:
/// whole slots, plus the one under way) at wall second `now_s`.
LossWindow lossOver(const ServerState& state, int64_t seconds, int64_t now_s);

/// The zone name of a slot; nullopt for an empty or malformed slot.
std::optional<dns::Name> zoneName(const ServerZone& zone);
/// True if `state` marks the server lame for some zone at `now_ms`.
bool isLameAnywhere(const ServerState& state, int64_t now_ms);
/// True if `state` marks the server lame for `zone` at `now_ms` (a mark
/// any worker made: the state is shared).
bool isLameFor(const ServerState& state, const dns::Name& zone, int64_t now_ms);

/// A kServer entry decoded from a cache copy (shoalctl servers).
struct ServerEntry {
  base::IpAddress address;
  ServerState state;
};
/// Decodes the key and payload of an entry of kind kServer; nullopt if
/// either is not this build's format. Bounds-checked.
std::optional<ServerEntry> decodeServerEntry(std::span<const uint8_t> key,
                                             std::span<const uint8_t> payload);
/// Every kServer key starts with these octets (Cache::collect with subtree).
std::span<const uint8_t> serverKeyPrefix();

class ServerStats {
 public:
  ServerStats(shmcache::Cache& cache, int64_t rto_min_ms, int64_t rto_max_ms)
      : cache_(cache), rto_min_ms_(rto_min_ms), rto_max_ms_(rto_max_ms) {}

  ServerState get(const base::IpAddress& server, int64_t now_ms);
  /// A reply to a query sent for `zone` (the zone cut asked).
  void recordReply(const base::IpAddress& server, const dns::Name& zone, int64_t rtt_ms,
                   int64_t now_ms);
  /// A query sent for `zone` timed out or failed.
  void recordTimeout(const base::IpAddress& server, const dns::Name& zone, int64_t now_ms);
  /// A hedge (a second copy of a question) was sent to `server`; it won
  /// (answered first).
  void recordHedge(const base::IpAddress& server, int64_t now_ms);
  void recordHedgeWon(const base::IpAddress& server, int64_t now_ms);
  void recordNoEdns(const base::IpAddress& server, int64_t now_ms);
  /// The server did not echo a 0x20-cased question: ask it without.
  void recordNoCase(const base::IpAddress& server, int64_t now_ms);
  /// The server cookie of its reply (8..32 octets), sent back from now on.
  void recordCookie(const base::IpAddress& server, std::span<const uint8_t> cookie,
                    int64_t now_ms);
  /// The server is lame for `zone` until `until_ms` (for display across
  /// workers; each iterator keeps its own lame map for decisions).
  void recordLame(const base::IpAddress& server, const dns::Name& zone, int64_t until_ms,
                  int64_t now_ms);

  /// Retransmission timeout for a server (RFC 6298 section 2: SRTT +
  /// 4 RTTVAR, doubled per consecutive timeout), within [rto_min, rto_max].
  /// A server never measured gets that of all the servers this worker
  /// measured (its SRTT and RTTVAR over every reply), or
  /// kFirstContactRtoMs before any reply at all (Unbound waits 376 ms).
  int64_t rtoMs(const ServerState& state, int64_t now_ms) const;
  /// When to hedge a query to a server that has not answered yet: the
  /// high end of its RTT distribution (SRTT + 2 RTTVAR, at least
  /// kHedgeFloorMs), well below the RTO when the variance is low; for a
  /// server never measured, that of all the servers measured, or an eighth
  /// of its RTO before any reply at all. Doubled like the RTO. 0: do not
  /// hedge (not below the RTO).
  int64_t hedgeMs(const ServerState& state, int64_t now_ms) const;
  static constexpr int64_t kHedgeFloorMs = 10;
  static constexpr int64_t kFirstContactRtoMs = 250;
  /// A server that answered within this is alive: its RTO doubles at most
  /// twice with fewer than kLossTimeouts consecutive timeouts (else up to
  /// five times).
  static constexpr int64_t kAliveMs = 5000;
  static constexpr uint32_t kLossTimeouts = 6;
  /// The estimate used to rank servers: SRTT, an optimistic guess for
  /// servers never measured, penalised by recent timeouts.
  int64_t rankMs(const ServerState& state) const;

 private:
  void put(const base::IpAddress& server, const ServerState& state, int64_t now_ms);
  static uint32_t backoffDoublings(const ServerState& state, int64_t now_ms);

  shmcache::Cache& cache_;
  int64_t rto_min_ms_;
  int64_t rto_max_ms_;
  // Every RTT sample of this worker, smoothed like one server's.
  int64_t all_srtt_us_ = 0;
  int64_t all_rttvar_us_ = 0;
  bool all_known_ = false;
};

}  // namespace shoal::resolver
