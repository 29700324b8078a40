#pragma once
// What the shared cache holds, for operators (shoalctl cache lookup, cache
// flush, servers): slow path, allocates, uses ldns to print records. Each
// function scans the whole cache one stripe at a time (Cache::collect,
// Cache::removeName), so it is for the control socket, never the data path.
// Every payload is decoded with bounds checks: a corrupt one is reported,
// never trusted.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/server_stats.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

/// One cache entry of a name.
struct InspectedEntry {
  std::string type;  // "A", "TYPE65"; "*" for NXDOMAIN (it covers every type); "" for a range
  /// "rrset", "nodata" (NOERROR, no data of this type; RFC 2308),
  /// "nxdomain" (the name does not exist), "range" (an ordered-set entry,
  /// NSEC/NSEC3 range), or "kind N" for a kind this build does not know.
  std::string kind;
  int64_t ttl = 0;  // seconds left; negative when stale (expired that long ago)
  uint32_t original_ttl = 0;
  unsigned rank = 0;      // resolver::Rank (1 glue .. 5 authoritative answer)
  /// "indeterminate", "insecure", "secure", "bogus", or for bogus data
  /// stored with its Extended DNS Error "bogus (EDE 7: Signature Expired)".
  std::string dnssec;
  std::string partition;  // "global", "192.0.2.0/24", "2001:db8::/56"
  bool stale = false;     // expired; kept for serve-stale until evicted
  /// Presentation format, TTL shown as max(ttl, 0): the RRset then its
  /// RRSIGs; for a negative entry the SOA and proof records (with their
  /// RRSIGs) stored with it; for a range, a description of the entry.
  std::vector<std::string> records;
  bool corrupt = false;  // the payload did not decode: `records` is empty
};

struct InspectResult {
  std::string name;                     // normalised presentation form, with the trailing dot
  std::vector<InspectedEntry> entries;  // by type, then kind, then partition
  std::string error;                    // non-empty: the name did not parse; nothing else is set
};

/// An ECS partition as text: "global", "192.0.2.0/24", "2001:db8::/56".
std::string partitionText(const shmcache::Partition& partition);

/// Every entry stored under `name_text` (presentation format, trailing dot
/// optional): RRsets of every type and ECS partition, negative answers, and
/// ordered-set entries whose set key is the name's lookup key. With `type`,
/// only entries of that type, plus NXDOMAIN (which answers every type).
/// Expired entries are included, marked stale. `now_s`: the cache's clock
/// (CLOCK_REALTIME seconds).
InspectResult inspectName(shmcache::Cache& cache, std::string_view name_text,
                          std::optional<uint16_t> type, int64_t now_s);

struct FlushResult {
  std::string name;  // normalised presentation form
  size_t removed = 0;
  std::string error;  // non-empty: the name did not parse; nothing was removed
};

/// Removes every entry of `name_text` (all types, kinds, partitions) or,
/// with `subtree`, of the name and every name below it ("example." takes
/// "www.example." but not "anexample."; lookup keys make that a prefix
/// match). Flushing the root's subtree empties the DNS data but keeps the
/// server statistics (shoalctl servers), which are not DNS data.
FlushResult flushName(shmcache::Cache& cache, std::string_view name_text, bool subtree);

/// One authoritative server address, as `shoalctl servers` shows it.
struct ServerRow {
  std::string address;
  /// The zones it was last asked about (at most two), most recent first.
  std::vector<std::string> zones;
  double srtt_ms = 0;  // 0 before the first reply
  int64_t rto_ms = 0;  // the retransmission timeout a worker would use now
  uint32_t queries = 0, replies = 0, timeouts = 0;
  double loss_percent = 0;            // timeouts / queries (0 without queries)
  /// Loss over the last minute and the last five (lossOver()): queries
  /// and the share that timed out.
  LossWindow loss_1m, loss_5m;
  uint32_t hedges = 0, hedges_won = 0;  // hedges sent to it, and answered first
  std::optional<double> last_seen_s;  // seconds since the last reply; nullopt: never
  /// "backed off" (too many consecutive timeouts), else "lame" (for a zone
  /// in lame_zones), else "no edns", else "ok".
  std::string state;
  double backoff_left_s = 0;            // seconds of backoff left, 0 if none
  std::vector<std::string> lame_zones;  // zones it is lame for now
};

/// Every server the workers hold statistics for (unexpired kServer
/// entries), sorted by address. `rto_min_ms`/`rto_max_ms`: the configured
/// bounds (config resolver.rto_min/rto_max, EngineConfig::rto_min_ms and
/// rto_max_ms), so that rto_ms is what the workers compute. `now_ms`:
/// CLOCK_REALTIME milliseconds, the workers' clock.
std::vector<ServerRow> listServers(shmcache::Cache& cache, int64_t now_ms, int64_t rto_min_ms,
                                   int64_t rto_max_ms);

}  // namespace shoal::resolver
