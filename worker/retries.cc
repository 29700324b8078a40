#include "worker/retries.h"

namespace shoal::worker {

namespace {

constexpr size_t kHeaderSize = 12;

/// 64-bit FNV-1a, then a final mix (the slot index uses the low bits).
struct Hash {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(std::span<const uint8_t> bytes) {
    for (const uint8_t b : bytes) {
      h ^= b;
      h *= 0x100000001b3ull;
    }
  }
  uint64_t done() const {
    uint64_t x = h;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x == 0 ? 1 : x;  // 0 marks an empty slot
  }
};

/// The end of the question (the name, type and class) of `query`, or 0.
size_t questionEnd(std::span<const uint8_t> query) {
  if (query.size() < kHeaderSize || (query[4] == 0 && query[5] == 0)) return 0;
  size_t at = kHeaderSize;
  for (size_t labels = 0; labels < 128; ++labels) {
    if (at >= query.size()) return 0;
    const uint8_t length = query[at];
    if (length == 0) return at + 1 + 4 <= query.size() ? at + 1 + 4 : 0;
    if (length > 63) return 0;  // a pointer or a reserved form: not from a stub
    at += 1 + length;
  }
  return 0;
}

}  // namespace

bool RetryDetector::isRetry(std::span<const uint8_t> query, const base::IpAddress& client,
                            int64_t now_ms) {
  const size_t end = questionEnd(query);
  if (end == 0) return false;
  Hash hash;
  hash.add(client.bytes());
  hash.add(query.subspan(0, 2));  // the ID
  hash.add(query.subspan(kHeaderSize, end - kHeaderSize));
  const uint64_t key = hash.done();
  Slot& slot = slots_[key % kSlots];
  const bool retry = slot.key == key && now_ms - slot.seen_ms <= kWindowMs && now_ms >= slot.seen_ms;
  slot = Slot{key, now_ms};
  return retry;
}

}  // namespace shoal::worker
