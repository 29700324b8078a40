#include "collapse/store.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace shoal::collapse {
namespace {

constexpr size_t kMinBuckets = 64;

}  // namespace

TupleStore::TupleStore(size_t capacity, int64_t lifetime_ms)
    : capacity_(capacity), lifetime_ms_(lifetime_ms) {
  records_.reserve(capacity_);
  buckets_.assign(kMinBuckets, kNone);
}

int TupleStore::localIndex(const ConnTuple& tuple, bool add) {
  const size_t length = tuple.family == AF_INET ? 4 : 16;
  for (size_t i = 0; i < locals_.size(); ++i) {
    const Local& l = locals_[i];
    if (l.family == tuple.family && l.port == tuple.local_port &&
        std::memcmp(l.address, tuple.local, length) == 0) {
      return static_cast<int>(i);
    }
  }
  if (!add || locals_.size() >= 255) return -1;
  Local l;
  l.family = tuple.family;
  l.port = tuple.local_port;
  std::memcpy(l.address, tuple.local, length);
  locals_.push_back(l);
  return static_cast<int>(locals_.size() - 1);
}

ConnTuple TupleStore::tupleOf(const Record& r) const {
  const Local& l = locals_[r.local];
  ConnTuple t;
  t.family = l.family;
  t.local_port = l.port;
  std::memcpy(t.local, l.address, sizeof t.local);
  t.remote_port = r.remote_port;
  std::memcpy(t.remote, r.remote, l.family == AF_INET ? 4 : 16);
  return t;
}

size_t TupleStore::bucketOf(const ConnTuple& tuple) const {
  return ConnTupleHash()(tuple) & (buckets_.size() - 1);
}

uint32_t TupleStore::find(const ConnTuple& tuple, uint32_t** link) {
  const int local = localIndex(tuple, false);
  uint32_t* at = &buckets_[bucketOf(tuple)];
  if (local < 0) {
    *link = at;
    return kNone;
  }
  const size_t length = tuple.family == AF_INET ? 4 : 16;
  while (*at != kNone) {
    const Record& r = records_[*at];
    if (r.local == local && r.remote_port == tuple.remote_port &&
        std::memcmp(r.remote, tuple.remote, length) == 0) {
      *link = at;
      return *at;
    }
    at = &records_[*at].next;
  }
  *link = at;
  return kNone;
}

void TupleStore::rehash(size_t buckets) {
  buckets_.assign(buckets, kNone);
  for (uint32_t i = 0; i < records_.size(); ++i) {
    uint32_t& head = buckets_[bucketOf(tupleOf(records_[i]))];
    records_[i].next = head;
    head = i;
  }
}

bool TupleStore::put(const ConnTuple& tuple, const RepairState& state, int64_t now_ms) {
  uint32_t* link = nullptr;
  if (const uint32_t index = find(tuple, &link); index != kNone) removeAt(index, link);
  if (full()) return false;
  const int local = localIndex(tuple, true);
  if (local < 0) return false;
  if (records_.size() + 1 > buckets_.size()) rehash(buckets_.size() * 2);
  Record r{};
  std::memcpy(r.remote, tuple.remote, tuple.family == AF_INET ? 4 : 16);
  r.remote_port = tuple.remote_port;
  r.local = static_cast<uint8_t>(local);
  r.wscales = static_cast<uint8_t>((state.send_wscale & 0x0f) | (state.receive_wscale & 0x0f) << 4);
  r.send_seq = state.send_seq;
  r.receive_seq = state.receive_seq;
  r.snd_wl1 = state.window.snd_wl1;
  r.snd_wnd = state.window.snd_wnd;
  r.max_window = state.window.max_window;
  r.rcv_wnd = state.window.rcv_wnd;
  r.rcv_wup = state.window.rcv_wup;
  r.timestamp = state.timestamp;
  r.mss = state.mss;
  r.options = state.options;
  r.collapsed_s = static_cast<uint32_t>(now_ms / 1000);
  uint32_t& head = buckets_[bucketOf(tuple)];
  r.next = head;
  head = static_cast<uint32_t>(records_.size());
  records_.push_back(r);
  return true;
}

void TupleStore::removeAt(uint32_t index, uint32_t* link) {
  *link = records_[index].next;
  const auto last = static_cast<uint32_t>(records_.size() - 1);
  if (index != last) {
    // The last record moves into the hole: re-point the link to it.
    uint32_t* at = &buckets_[bucketOf(tupleOf(records_[last]))];
    while (*at != last) at = &records_[*at].next;
    *at = index;
    records_[index] = records_[last];
  }
  records_.pop_back();
}

std::optional<TupleStore::Taken> TupleStore::take(const ConnTuple& tuple, int64_t now_ms) {
  uint32_t* link = nullptr;
  const uint32_t index = find(tuple, &link);
  if (index == kNone) return std::nullopt;
  const Record r = records_[index];
  removeAt(index, link);
  const int64_t collapsed_ms = int64_t{r.collapsed_s} * 1000;
  if (now_ms - collapsed_ms >= lifetime_ms_) return std::nullopt;
  Taken taken;
  taken.collapsed_ms = collapsed_ms;
  RepairState& s = taken.state;
  s.send_seq = r.send_seq;
  s.receive_seq = r.receive_seq;
  s.window.snd_wl1 = r.snd_wl1;
  s.window.snd_wnd = r.snd_wnd;
  s.window.max_window = r.max_window;
  s.window.rcv_wnd = r.rcv_wnd;
  s.window.rcv_wup = r.rcv_wup;
  s.timestamp = r.timestamp;
  s.mss = r.mss;
  s.send_wscale = r.wscales & 0x0f;
  s.receive_wscale = static_cast<uint8_t>(r.wscales >> 4);
  s.options = r.options;
  return taken;
}

std::vector<ConnTuple> TupleStore::expire(int64_t now_ms) {
  std::vector<ConnTuple> gone;
  for (size_t i = records_.size(); i-- > 0;) {
    if (now_ms - int64_t{records_[i].collapsed_s} * 1000 < lifetime_ms_) continue;
    const ConnTuple tuple = tupleOf(records_[i]);
    uint32_t* link = nullptr;
    const uint32_t index = find(tuple, &link);
    removeAt(index, link);  // (moves the last record, already looked at, here)
    gone.push_back(tuple);
  }
  // Shrink the index with the store (never below the start).
  size_t buckets = buckets_.size();
  while (buckets > kMinBuckets && records_.size() < buckets / 4) buckets /= 2;
  if (buckets != buckets_.size()) rehash(buckets);
  return gone;
}

std::vector<ConnTuple> TupleStore::tuples() const {
  std::vector<ConnTuple> out;
  out.reserve(records_.size());
  for (const Record& r : records_) out.push_back(tupleOf(r));
  return out;
}

}  // namespace shoal::collapse
