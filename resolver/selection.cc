#include "resolver/selection.h"

#include <algorithm>

namespace shoal::resolver {

namespace {

constexpr int64_t kLameMs = 300000;  // a lame (zone, server) is avoided this long

std::vector<uint8_t> keyBytes(const dns::Name& name) {
  const auto key = name.lookupKey();
  return {key.bytes().begin(), key.bytes().end()};
}

}  // namespace

bool ServerSelector::allowed(const base::IpAddress& server) const {
  if (server.isV4() ? !config_.families.ipv4 : !config_.families.ipv6) return false;
  return std::none_of(config_.deny_upstream.begin(), config_.deny_upstream.end(),
                      [&](const base::IpPrefix& prefix) { return prefix.contains(server); });
}

void ServerSelector::markLame(const dns::Name& zone, const base::IpAddress& server,
                              int64_t now_ms) {
  lame_[{keyBytes(zone), server.toString()}] = now_ms + kLameMs;
  // In the shared server table too: the other workers skip it as well, and
  // shoalctl servers shows it.
  servers_.recordLame(server, zone, now_ms + kLameMs, now_ms);
}

bool ServerSelector::isLame(const dns::Name& zone, const base::IpAddress& server,
                            int64_t now_ms) const {
  if (lame_.empty()) return false;  // the common case: no key to build
  auto it = lame_.find({keyBytes(zone), server.toString()});
  return it != lame_.end() && it->second > now_ms;
}

std::optional<Choice> ServerSelector::choose(const Cut& cut,
                                             const std::vector<base::IpAddress>& tried,
                                             int64_t now_ms, std::mt19937_64& rng) {
  struct Candidate {
    base::IpAddress address;
    int64_t rank;
    bool backed_off;
    ServerState state;
  };
  std::vector<Candidate> candidates;
  for (const auto& server : cut.servers) {
    for (const auto& address : server.addresses) {
      // A forward zone's upstreams are the operator's own choice: only the
      // address families apply (filtered with the cut), not deny_upstream.
      if ((!cut.forward && !allowed(address)) || isLame(cut.zone, address, now_ms)) continue;
      if (std::find(tried.begin(), tried.end(), address) != tried.end()) continue;
      const ServerState state = servers_.get(address, now_ms);
      if (isLameFor(state, cut.zone, now_ms)) continue;  // marked by another worker
      candidates.push_back({address, servers_.rankMs(state), state.backoff_until_ms > now_ms, state});
    }
  }
  if (candidates.empty()) return std::nullopt;
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.backed_off != b.backed_off) return !a.backed_off;
    return a.rank < b.rank;
  });
  size_t pick = 0;
  if (candidates.size() > 1 && std::uniform_int_distribution<int>(0, 19)(rng) == 0) {
    pick = std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng);
    if (candidates[pick].backed_off) pick = 0;
  }
  return Choice{candidates[pick].address, candidates[pick].state};
}

}  // namespace shoal::resolver
