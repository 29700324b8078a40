#include "worker/router.h"

namespace shoal::worker {

bool ClientRouter::allows(const base::IpAddress& client) const {
  for (const auto& prefix : acl_) {
    if (prefix.contains(client)) return true;
  }
  return false;
}

uint64_t ClientRouter::add(const ClientRef& ref) {
  const uint64_t id = next_++;
  clients_.emplace(id, ref);
  return id;
}

std::optional<ClientRef> ClientRouter::take(uint64_t id) {
  const auto it = clients_.find(id);
  if (it == clients_.end()) return std::nullopt;
  ClientRef ref = it->second;
  clients_.erase(it);
  return ref;
}

}  // namespace shoal::worker
