#include "worker/router.h"

namespace shoal::worker {

bool ClientRouter::allows(const base::IpAddress& client) const {
  for (const auto& prefix : acl_) {
    if (prefix.contains(client)) return true;
  }
  return false;
}

std::string ClientRouter::keyOf(const base::IpAddress& client) {
  return std::string(reinterpret_cast<const char*>(client.bytes().data()), client.size());
}

uint64_t ClientRouter::add(const ClientRef& ref) {
  const uint64_t id = next_++;
  clients_.emplace(id, ref);
  ++in_flight_[keyOf(ref.client)];
  return id;
}

std::optional<ClientRef> ClientRouter::take(uint64_t id) {
  const auto it = clients_.find(id);
  if (it == clients_.end()) return std::nullopt;
  ClientRef ref = it->second;
  clients_.erase(it);
  if (const auto count = in_flight_.find(keyOf(ref.client)); count != in_flight_.end()) {
    if (--count->second == 0) in_flight_.erase(count);
  }
  return ref;
}

uint32_t ClientRouter::inFlight(const base::IpAddress& client) const {
  const auto it = in_flight_.find(keyOf(client));
  return it == in_flight_.end() ? 0 : it->second;
}

}  // namespace shoal::worker
