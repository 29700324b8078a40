#pragma once
// Server selection: which address of a zone cut a task asks next. Servers
// the operator denies, servers lame for the zone (marked by this worker or,
// in the shared server table, by another) and servers already tried for
// the question are skipped; the rest are ranked by smoothed RTT (never
// measured: 200 ms), servers in backoff last; one time in twenty an
// untried server is picked at random, to keep the estimates fresh.

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/ip_address.h"
#include "base/ip_prefix.h"
#include "dns/name.h"
#include "resolver/server_stats.h"
#include "resolver/zone_cut.h"

namespace shoal::resolver {

struct SelectionConfig {
  Families families;
  std::vector<base::IpPrefix> deny_upstream;
};

struct Choice {
  base::IpAddress address;
  ServerState state;  // as read from the shared table (saves a lookup)
};

class ServerSelector {
 public:
  ServerSelector(SelectionConfig config, ServerStats& servers)
      : config_(std::move(config)), servers_(servers) {}

  /// The next server of `cut` to ask, or nullopt when none is left.
  std::optional<Choice> choose(const Cut& cut, const std::vector<base::IpAddress>& tried,
                               int64_t now_ms, std::mt19937_64& rng);

  /// `server` does not serve `zone` (REFUSED, upward referral): avoided
  /// for 5 minutes by this worker and, through the shared table, by all.
  void markLame(const dns::Name& zone, const base::IpAddress& server, int64_t now_ms);
  bool isLame(const dns::Name& zone, const base::IpAddress& server, int64_t now_ms) const;
  /// Not denied by the configuration (family off, deny_upstream).
  bool allowed(const base::IpAddress& server) const;

 private:
  SelectionConfig config_;
  ServerStats& servers_;
  std::map<std::pair<std::vector<uint8_t>, std::string>, int64_t> lame_;
};

}  // namespace shoal::resolver
