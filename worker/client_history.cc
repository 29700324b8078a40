#include "worker/client_history.h"

#include <algorithm>
#include <cmath>

namespace shoal::worker {

const char* toString(ClientBucket bucket) {
  switch (bucket) {
    case ClientBucket::kKeepActive: return "keep-active";
    case ClientBucket::kDontBother: return "dont-bother";
    case ClientBucket::kCollapse: break;
  }
  return "collapse";
}

ClientKey ClientKey::of(const base::IpAddress& address) {
  ClientKey key;
  key.v6 = !address.isV4();
  const auto& b = address.bytes();
  const size_t octets = key.v6 ? 8 : 4;
  for (size_t i = 0; i < octets; ++i) key.bits = key.bits << 8 | b[i];
  return key;
}

base::IpAddress ClientKey::address() const {
  uint8_t bytes[16] = {};
  const size_t octets = v6 ? 8 : 4;
  for (size_t i = 0; i < octets; ++i) {
    bytes[i] = static_cast<uint8_t>(bits >> (8 * (octets - 1 - i)));
  }
  return v6 ? base::IpAddress::v6(bytes) : base::IpAddress::v4(bytes);
}

double ClientHistory::decayed(const Entry& e, int64_t now_ms) {
  if (now_ms <= e.last_ms) return e.rate;
  const double elapsed = static_cast<double>(now_ms - e.last_ms);
  return e.rate * std::exp(-elapsed / static_cast<double>(kRateWindowMs));
}

ClientBucket ClientHistory::classify(const Entry& e) {
  if (e.closed >= 3 && e.closed_queries <= e.closed) return ClientBucket::kDontBother;
  if (e.rate >= kFrequentRate) return ClientBucket::kKeepActive;
  return ClientBucket::kCollapse;
}

ClientHistory::Entry& ClientHistory::touch(const ClientKey& key, int64_t now_ms) {
  auto found = entries_.find(key);
  if (found == entries_.end()) {
    if (entries_.size() >= kCapacity) {
      // The least recently seen goes; one with connections still open is
      // kept (its count must come back down), unless every one has some.
      auto victim = std::prev(lru_.end());
      for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
        if (it->open == 0) {
          victim = std::prev(it.base());
          break;
        }
      }
      entries_.erase(victim->key);
      lru_.erase(victim);
    }
    lru_.push_front(Entry{key});
    found = entries_.emplace(key, lru_.begin()).first;
  } else if (found->second != lru_.begin()) {
    lru_.splice(lru_.begin(), lru_, found->second);
  }
  Entry& e = *found->second;
  e.rate = decayed(e, now_ms);
  e.last_ms = std::max(e.last_ms, now_ms);
  return e;
}

ClientBucket ClientHistory::onConnect(const ClientKey& key, int64_t now_ms) {
  Entry& e = touch(key, now_ms);
  const ClientBucket bucket = classify(e);  // from what came before this connection
  ++e.connections;
  ++e.open;
  return bucket;
}

void ClientHistory::onQuery(const ClientKey& key, int64_t now_ms) {
  Entry& e = touch(key, now_ms);
  ++e.queries;
  e.rate += 1000.0 / static_cast<double>(kRateWindowMs);  // one query over the window
}

void ClientHistory::onClose(const ClientKey& key, uint64_t queries) {
  const auto found = entries_.find(key);
  if (found == entries_.end()) return;
  Entry& e = *found->second;
  if (e.open > 0) --e.open;
  ++e.closed;
  e.closed_queries += queries;
}

void ClientHistory::onCollapse(const ClientKey& key) {
  const auto found = entries_.find(key);
  if (found != entries_.end() && found->second->open > 0) --found->second->open;
}

ClientBucket ClientHistory::onRevive(const ClientKey& key, int64_t now_ms) {
  Entry& e = touch(key, now_ms);
  ++e.open;
  return classify(e);
}

std::vector<ClientHistory::Entry> ClientHistory::top(size_t count, int64_t now_ms) const {
  std::vector<Entry> all;
  all.reserve(lru_.size());
  for (const Entry& e : lru_) {
    Entry copy = e;
    copy.rate = decayed(e, now_ms);
    copy.bucket = classify(copy);  // what its next connection would get
    all.push_back(copy);
  }
  const size_t n = std::min(count, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(n), all.end(),
                    [](const Entry& a, const Entry& b) {
                      return a.rate != b.rate ? a.rate > b.rate : a.open > b.open;
                    });
  all.resize(n);
  return all;
}

}  // namespace shoal::worker
