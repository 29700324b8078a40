#pragma once
// What the shared cache holds in EDNS Client Subnet partitions (RFC 7871
// section 7.3), for operators (shoalctl ecs): how many, for which names,
// and every partition of one name and type. Slow path, allocates: each
// call scans the whole cache one stripe at a time
// (Cache::collectPartitioned), so it is for the control socket, never the
// data path. Names come out of shared memory as lookup keys; one that does
// not decode is shown as such, never trusted.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmcache/cache.h"

namespace shoal::resolver {

/// One name and type with partitions, for the "most partitions" list.
struct EcsNameRow {
  std::string name;  // presentation form, trailing dot
  std::string type;  // "A", "TYPE65"; "*" for NXDOMAIN (it answers every type)
  size_t partitions = 0;
  uint64_t hits = 0;  // lookups that chose one of its partitions
};

struct EcsSummary {
  size_t entries = 0;  // unexpired partitioned entries
  size_t names = 0;    // distinct names and types among them
  size_t ipv4 = 0, ipv6 = 0;
  /// The names and types with the most partitions (then the most hits),
  /// most first, at most `top` of them.
  std::vector<EcsNameRow> top;
};

/// Counts every unexpired partitioned entry at `now_s` (CLOCK_REALTIME
/// seconds). Partitions of RRsets and NODATA of one type count together
/// under that type: they are the subnets that get their own answer.
EcsSummary summarizeEcs(shmcache::Cache& cache, int64_t now_s, size_t top);

/// One partition of a name and type.
struct EcsPartitionRow {
  std::string prefix;  // "192.0.2.0/24", "2001:db8::/56" (the address masked to the scope)
  unsigned scope = 0;  // the scope prefix length the authority returned
  std::string kind;    // "rrset", "nodata", "nxdomain", or "kind N"
  int64_t ttl = 0;     // seconds left (> 0: expired entries are not listed)
  uint32_t hits = 0;
};

/// The global (unpartitioned) entry of the name and type, if one is live.
struct EcsGlobalEntry {
  std::string kind;
  int64_t ttl = 0;
};

struct EcsNameResult {
  std::string name;  // normalised presentation form, with the trailing dot
  std::string type;  // mnemonic
  std::optional<EcsGlobalEntry> global;
  /// IPv4 first, then by address, then by scope.
  std::vector<EcsPartitionRow> partitions;
  std::string error;  // non-empty: the name did not parse; nothing else is set
};

/// Every unexpired partition of `name_text` (presentation format, trailing
/// dot optional) and `type`: RRsets and NODATA of the type, and NXDOMAIN
/// (which answers every type); and the unexpired global entry of the same,
/// if any (an RRset before NODATA before NXDOMAIN).
EcsNameResult inspectEcsName(shmcache::Cache& cache, std::string_view name_text, uint16_t type,
                             int64_t now_s);

}  // namespace shoal::resolver
