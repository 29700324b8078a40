#include "collapse/store.h"

namespace shoal::collapse {

bool TupleStore::put(const ConnTuple& tuple, const RepairState& state, int64_t now_ms) {
  if (full()) return false;
  entries_[tuple] = Taken{state, now_ms};
  return true;
}

std::optional<TupleStore::Taken> TupleStore::take(const ConnTuple& tuple, int64_t now_ms) {
  auto it = entries_.find(tuple);
  if (it == entries_.end()) return std::nullopt;
  const Taken taken = it->second;
  entries_.erase(it);
  if (now_ms - taken.collapsed_ms >= lifetime_ms_) return std::nullopt;
  return taken;
}

size_t TupleStore::expire(int64_t now_ms) {
  return std::erase_if(entries_, [&](const auto& entry) {
    return now_ms - entry.second.collapsed_ms >= lifetime_ms_;
  });
}

std::vector<ConnTuple> TupleStore::tuples() const {
  std::vector<ConnTuple> out;
  out.reserve(entries_.size());
  for (const auto& entry : entries_) out.push_back(entry.first);
  return out;
}

}  // namespace shoal::collapse
