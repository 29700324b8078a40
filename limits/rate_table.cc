#include "limits/rate_table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "base/ownership.h"

namespace shoal::limits {
namespace {

constexpr uint64_t kMagic = 0x73686f616c726174ull;  // "shoalrat"
constexpr uint32_t kVersion = 1;                    // SHM_LAYOUT
constexpr size_t kHeaderSize = 64;
constexpr size_t kProbes = 4;
/// Credit is kept in sixteenths of a query (refills at low rates are not
/// lost to rounding), in the low 24 bits of the state; the high 40 bits
/// are the last refill in ms since the table's epoch (34 years).
constexpr uint64_t kUnit = 16;
constexpr unsigned kCreditBits = 24;
constexpr uint64_t kCreditMask = (uint64_t{1} << kCreditBits) - 1;
static_assert(RateTable::kMaxBurst * kUnit <= kCreditMask);

struct Header {  // SHM_LAYOUT
  uint64_t magic;
  uint32_t version;
  uint32_t header_size;
  uint64_t slots;
  int64_t epoch_ms;
};
static_assert(sizeof(Header) <= kHeaderSize);

uint64_t pack(uint64_t at_ms, uint64_t credit) { return at_ms << kCreditBits | credit; }

}  // namespace

struct RateTable::Slot {  // SHM_LAYOUT
  std::atomic<uint64_t> key;
  std::atomic<uint64_t> state;
};
static_assert(sizeof(std::atomic<uint64_t>) == 8 && std::atomic<uint64_t>::is_always_lock_free);

std::unique_ptr<RateTable> RateTable::create(const std::string& name, size_t slots) {
  if (slots == 0 || (slots & (slots - 1)) != 0) {
    throw std::runtime_error("rate table " + name + ": slots must be a power of two");
  }
  auto fail = [&](const std::string& what) {
    return std::runtime_error("rate table " + name + ": " + what + ": " + std::strerror(errno));
  };
  // An existing one of ours is stale (buckets refill in a second anyway);
  // someone else's is refused (/dev/shm is everyone's).
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd >= 0) {
    const std::string why = base::untrustedBecause(fd);
    close(fd);
    if (!why.empty()) {
      throw std::runtime_error("rate table " + name + " exists and is not shoal's: " + why +
                               "; remove /dev/shm" + name + " or change [cache] name");
    }
    shm_unlink(name.c_str());
  }
  fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw fail("shm_open");
  const size_t size = kHeaderSize + slots * sizeof(Slot);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    close(fd);
    throw fail("ftruncate");
  }
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) throw fail("mmap");
  auto* header = static_cast<Header*>(base);  // zeroes: every slot empty
  header->version = kVersion;
  header->header_size = kHeaderSize;
  header->slots = slots;
  // The epoch a little in the past: a refill time of 0 means "never".
  header->epoch_ms = monotonicMs() - 1;
  std::atomic_thread_fence(std::memory_order_release);
  header->magic = kMagic;
  return std::unique_ptr<RateTable>(new RateTable(base, size, slots));
}

void RateTable::remove(const std::string& name) { shm_unlink(name.c_str()); }

int64_t RateTable::monotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

RateTable::RateTable(void* base, size_t size, size_t slots)
    : base_(base), size_(size), mask_(slots - 1), epoch_ms_(static_cast<Header*>(base)->epoch_ms) {}

RateTable::~RateTable() { munmap(base_, size_); }

RateTable::Slot& RateTable::slot(size_t i) {
  return reinterpret_cast<Slot*>(static_cast<uint8_t*>(base_) + kHeaderSize)[i & mask_];
}

bool RateTable::take(uint64_t key, uint32_t rate, uint32_t burst, int64_t now_ms) {
  if (rate == 0) return true;
  burst = std::clamp<uint32_t>(burst == 0 ? rate : burst, 1, kMaxBurst);
  // Milliseconds since the table was made: 40 bits hold 34 years; a time
  // outside (another clock by mistake) is clamped, never wrapped.
  constexpr int64_t kMaxTime = (int64_t{1} << (64 - kCreditBits)) - 1;
  const uint64_t now = static_cast<uint64_t>(std::clamp<int64_t>(now_ms - epoch_ms_, 1, kMaxTime));
  const uint64_t full = uint64_t{burst} * kUnit;
  // Find the key's slot, or claim an empty one, or evict the stalest.
  Slot* found = nullptr;
  Slot* stalest = nullptr;
  uint64_t stalest_at = UINT64_MAX;
  for (size_t probe = 0; probe < kProbes && found == nullptr; ++probe) {
    Slot& s = slot(key + probe);
    uint64_t k = s.key.load(std::memory_order_acquire);
    if (k == 0) {
      // A new bucket starts full; the state is written before the key is
      // claimed by nobody else (a racing claimer of the same slot loses).
      if (s.key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
        s.state.store(pack(now, full), std::memory_order_release);
        found = &s;
        break;
      }
    }
    if (k == key) {
      found = &s;
      break;
    }
    const uint64_t at = s.state.load(std::memory_order_relaxed) >> kCreditBits;
    if (at < stalest_at) {
      stalest_at = at;
      stalest = &s;
    }
  }
  if (found == nullptr) {
    uint64_t k = stalest->key.load(std::memory_order_relaxed);
    if (!stalest->key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
      return true;  // lost a race for the slot: this one query goes unmetered
    }
    stalest->state.store(pack(now, full), std::memory_order_release);
    found = stalest;
  }
  uint64_t state = found->state.load(std::memory_order_acquire);
  for (;;) {
    uint64_t at = state >> kCreditBits;
    uint64_t credit = state & kCreditMask;
    if (now > at) {
      // Refill for the time elapsed, advancing the clock only by the time
      // the credit added stands for (no rounding loss at low rates).
      const uint64_t per_s = uint64_t{rate} * kUnit;
      const uint64_t added = (now - at) * per_s / 1000;
      if (credit + added >= full) {
        credit = full;
        at = now;
      } else if (added > 0) {
        credit += added;
        at += added * 1000 / per_s;
      }
    }
    const bool allowed = credit >= kUnit;
    if (allowed) credit -= kUnit;
    const uint64_t next = pack(at, credit);
    if (next == state ||
        found->state.compare_exchange_weak(state, next, std::memory_order_acq_rel)) {
      return allowed;
    }
  }
}

}  // namespace shoal::limits
