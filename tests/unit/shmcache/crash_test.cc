// shmcache when a process dies holding a stripe lock (kill -9): the next
// locker must get the lock (no deadlock), wipe that stripe, count the repair
// and never serve what the dead process left half written.
//
// Deterministic cases lock a stripe's robust mutex directly through the
// internal Segment and are killed while blocked; the random case kills
// processes that hammer the cache with large entries after 0-2 ms, hundreds
// of times, while the test process and a sibling keep checking every value.
//
// A deadlocked pthread_mutex_lock cannot be interrupted: the test process
// guards its own cache calls with alarm() (Watchdog), and waits for children
// with a deadline, killing them after it.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shmcache/cache.h"
#include "shmcache/segment.h"
#include "tests/unit/shmcache/test_util.h"

namespace shoal::shmcache {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::string_literals;

constexpr int64_t kNow = 1000;
constexpr int64_t kForever = int64_t{1} << 40;
constexpr uint64_t kBigKeyId = 1000000;    // key ids of the big entries
constexpr uint64_t kBigRangeId = 2000000;  // of the big ordered-set entries

// ---------------------------------------------------------------------------
// Watchdog.

const char* volatile watchdog_what = "";
char watchdog_segment[256];  // removed on the way out: TearDown will not run

void onWatchdog(int) {
  static constexpr char kPrefix[] = "\nwatchdog: did not finish in time (deadlock?): ";
  [[maybe_unused]] auto r = write(2, kPrefix, sizeof kPrefix - 1);
  const char* what = watchdog_what;
  r = write(2, what, std::strlen(what));
  r = write(2, "\n", 1);
  if (watchdog_segment[0] != '\0') shm_unlink(watchdog_segment);
  _exit(3);
}

/// Ends the test process with a message if the scope does not finish within
/// `seconds`, removing `segment`. Children do not inherit the alarm.
class Watchdog {
 public:
  Watchdog(unsigned seconds, const char* what, const std::string& segment) {
    watchdog_what = what;
    std::snprintf(watchdog_segment, sizeof watchdog_segment, "%s", segment.c_str());
    std::signal(SIGALRM, onWatchdog);
    alarm(seconds);
  }
  ~Watchdog() { alarm(0); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
};

// ---------------------------------------------------------------------------
// Checksummed payloads: [key id][body length][body][checksum], so that a
// reader can tell an intact value of the right key from anything else.

constexpr size_t kPayloadOverhead = 3 * sizeof(uint64_t);

uint64_t checksum(const uint8_t* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

std::vector<uint8_t> makePayload(uint64_t key_id, size_t body_length, uint64_t seed) {
  std::vector<uint8_t> out(kPayloadOverhead + body_length);
  const uint64_t length = body_length;
  std::memcpy(out.data(), &key_id, 8);
  std::memcpy(out.data() + 8, &length, 8);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < body_length; i += 8) {
    const uint64_t w = rng();
    std::memcpy(out.data() + 16 + i, &w, std::min<size_t>(8, body_length - i));
  }
  const uint64_t sum = checksum(out.data(), 16 + body_length);
  std::memcpy(out.data() + 16 + body_length, &sum, 8);
  return out;
}

/// Empty if `payload` is an intact value of `key_id`, else what is wrong.
std::string checkPayload(std::span<const uint8_t> payload, uint64_t key_id) {
  if (payload.size() < kPayloadOverhead) return "payload too short";
  uint64_t id, length, sum;
  std::memcpy(&id, payload.data(), 8);
  std::memcpy(&length, payload.data() + 8, 8);
  if (length + kPayloadOverhead != payload.size()) return "payload length mismatch";
  std::memcpy(&sum, payload.data() + 16 + length, 8);
  if (sum != checksum(payload.data(), 16 + length)) return "checksum mismatch (torn value)";
  if (id != key_id) {
    return "key " + std::to_string(key_id) + " returned key " + std::to_string(id) + "'s value";
  }
  return {};
}

struct TestKey {
  std::vector<uint8_t> name;
  uint16_t type = 1;
};

std::vector<TestKey> makeKeys(size_t n, const std::string& prefix) {
  std::vector<TestKey> keys;
  for (size_t i = 0; i < n; ++i) {
    const std::string name = "com\0"s + prefix + std::to_string(i) + "\0www\0"s;
    keys.push_back({{name.begin(), name.end()}, static_cast<uint16_t>(i % 3 == 0 ? 28 : 1)});
  }
  return keys;
}

Meta foreverMeta() {
  Meta m;
  m.expires_at = kForever;
  m.rank = 1;
  m.security = Security::kSecure;
  return m;
}

// ---------------------------------------------------------------------------
// Processes.

/// Waits for `pid` until `deadline`, then kills it. Returns its wait status,
/// or -1 if it had to be killed.
int waitUntil(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -2;
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool exitedCleanly(int status) { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

std::string describeStatus(int status) {
  if (status == -1) return "did not finish in time (deadlock?) and was killed";
  if (status == -2) return "could not be waited for";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "died of signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

/// Forks a child that attaches to the segment, locks the given stripes'
/// mutexes directly, optionally scribbles over the first one's state (a
/// half-done write), tells the parent, and blocks until killed. Returns its
/// pid once it holds the locks, or -1.
pid_t forkLockHolder(const std::string& segment, const std::vector<size_t>& stripes,
                     bool scribble) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto seg = Segment::attach(segment);
    if (!seg) _exit(10);
    for (size_t i : stripes) (*seg)->stripe(i).mutex.lock();
    if (scribble) {
      // What a writer killed half way may leave: index slots pointing
      // anywhere, ring bookkeeping out of range, a garbled arena.
      const size_t i = stripes.front();
      Segment& s = **seg;
      std::mt19937_64 rng(42);
      for (size_t k = 0; k < s.header().index_slots; k += 3) {
        s.slots(i)[k] = IndexSlot{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
      }
      for (size_t k = 0; k < s.header().range_capacity; k += 2) {
        s.ranges(i)[k] = static_cast<uint32_t>(rng());
      }
      for (size_t k = 0; k + 8 <= s.header().arena_size; k += 64) {
        const uint64_t w = rng();
        std::memcpy(s.arena(i) + k, &w, 8);
      }
      s.stripe(i).head = rng();
      s.stripe(i).tail = rng();
      s.stripe(i).used = rng() % s.header().arena_size;
      s.stripe(i).index_used = 3;
      s.stripe(i).range_count = 7;
    }
    const char ready = 'L';
    if (write(fds[1], &ready, 1) != 1) _exit(11);
    for (;;) pause();
  }
  close(fds[1]);
  char ready = 0;
  const bool ok = read(fds[0], &ready, 1) == 1 && ready == 'L';
  close(fds[0]);
  if (!ok) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

/// Kills and reaps a child when the scope ends, unless released first (a
/// failed ASSERT must not leave processes running).
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  pid_t release() { return std::exchange(pid_, -1); }

 private:
  pid_t pid_;
};

void killAndReap(pid_t pid) {
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << describeStatus(status);
}

class CrashTest : public testing_util::SegmentFixture {
 protected:
  /// Inserts every key and notes the stripe it went to (from the fill
  /// counters, so the test does not depend on the hash).
  void insertAll(Cache& cache, const std::vector<TestKey>& keys, std::vector<size_t>& stripe_of) {
    stripe_of.assign(keys.size(), 0);
    for (size_t k = 0; k < keys.size(); ++k) {
      const auto before = cache.fill();
      const auto payload = makePayload(k, 100 + k % 200, k);
      ASSERT_TRUE(
          cache.insert({keys[k].name, keys[k].type, 0}, Partition::global(), foreverMeta(), payload,
                       kNow)
              .ok());
      const auto after = cache.fill();
      for (size_t i = 0; i < after.size(); ++i) {
        if (after[i].live_entries > before[i].live_entries) stripe_of[k] = i;
      }
    }
  }

  /// Looks every key up: those in `wiped` must be gone, the others intact.
  void expectOnlyStripeWiped(Cache& cache, const std::vector<TestKey>& keys,
                             const std::vector<size_t>& stripe_of, const std::vector<bool>& wiped) {
    std::vector<uint8_t> out(4096);
    for (size_t k = 0; k < keys.size(); ++k) {
      auto f = cache.lookup({keys[k].name, keys[k].type, 0}, nullptr, kNow, out);
      if (wiped[stripe_of[k]]) {
        EXPECT_FALSE(f.ok()) << "key " << k << " survived the wipe of stripe " << stripe_of[k];
      } else {
        ASSERT_TRUE(f.ok()) << "key " << k << " in an untouched stripe went missing";
        EXPECT_EQ(checkPayload(std::span(out).first(f->payload_length), k), "");
      }
    }
  }
};

TEST_F(CrashTest, LockHolderKilledStripeIsWipedAndUsable) {
  auto cache = open(4u << 20, 8);
  ASSERT_NE(cache, nullptr);
  const auto keys = makeKeys(400, "held");
  std::vector<size_t> stripe_of;
  insertAll(*cache, keys, stripe_of);
  constexpr size_t kStripe = 3;
  ASSERT_GT(cache->fill()[kStripe].live_entries, 0u);

  const pid_t holder = forkLockHolder(name_, {kStripe}, false);
  ASSERT_GT(holder, 0);
  ASSERT_NO_FATAL_FAILURE(killAndReap(holder));

  Watchdog watchdog(20, "operations after the lock holder was killed", name_);
  std::vector<bool> wiped(8, false);
  wiped[kStripe] = true;
  expectOnlyStripeWiped(*cache, keys, stripe_of, wiped);
  EXPECT_EQ(cache->counters().owner_died, 1u);
  const auto fill = cache->fill();
  for (size_t i = 0; i < fill.size(); ++i) EXPECT_EQ(fill[i].wipes, i == kStripe ? 1u : 0u);
  EXPECT_EQ(fill[kStripe].live_entries, 0u);
  EXPECT_EQ(fill[kStripe].live_bytes, 0u);

  // The mutex is consistent again: the stripe works, and is not repaired twice.
  insertAll(*cache, keys, stripe_of);
  expectOnlyStripeWiped(*cache, keys, stripe_of, std::vector<bool>(8, false));
  EXPECT_EQ(cache->counters().owner_died, 1u);
  EXPECT_EQ(cache->counters().corrupt, 0u);
}

TEST_F(CrashTest, WaiterBlockedOnKilledHolderProceeds) {
  auto cache = open(4u << 20, 8);
  ASSERT_NE(cache, nullptr);
  const auto keys = makeKeys(200, "wait");
  std::vector<size_t> stripe_of;
  insertAll(*cache, keys, stripe_of);
  const size_t target = stripe_of[0];

  const pid_t holder = forkLockHolder(name_, {target}, false);
  ASSERT_GT(holder, 0);
  // A worker that needs the same stripe: it blocks in lookup.
  const pid_t waiter = fork();
  ASSERT_GE(waiter, 0);
  if (waiter == 0) {
    std::vector<uint8_t> out(4096);
    auto f = cache->lookup({keys[0].name, keys[0].type, 0}, nullptr, kNow, out);
    // The holder died: the stripe was wiped under the waiter's lock.
    _exit(f.ok() ? 20 : f.error() == Error::kNotFound ? 0 : 21);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int status = 0;
  EXPECT_EQ(waitpid(waiter, &status, WNOHANG), 0) << "the waiter should be blocked on the lock";
  ASSERT_NO_FATAL_FAILURE(killAndReap(holder));
  status = waitUntil(waiter, Clock::now() + std::chrono::seconds(10));
  EXPECT_TRUE(exitedCleanly(status)) << "waiter " << describeStatus(status);
  EXPECT_EQ(cache->counters().owner_died, 1u);
  EXPECT_EQ(cache->fill()[target].wipes, 1u);
}

TEST_F(CrashTest, HolderOfEveryStripeKilled) {
  constexpr unsigned kStripes = 16;
  auto cache = open(4u << 20, kStripes);
  ASSERT_NE(cache, nullptr);
  const auto keys = makeKeys(400, "all");
  std::vector<size_t> stripe_of;
  insertAll(*cache, keys, stripe_of);
  std::vector<size_t> all;
  for (size_t i = 0; i < kStripes; ++i) all.push_back(i);
  const pid_t holder = forkLockHolder(name_, all, false);
  ASSERT_GT(holder, 0);
  ASSERT_NO_FATAL_FAILURE(killAndReap(holder));

  Watchdog watchdog(20, "inserts after the holder of every stripe was killed", name_);
  expectOnlyStripeWiped(*cache, keys, stripe_of, std::vector<bool>(kStripes, true));
  insertAll(*cache, keys, stripe_of);
  EXPECT_EQ(cache->counters().owner_died, kStripes);
  for (const StripeFill& f : cache->fill()) {
    EXPECT_EQ(f.wipes, 1u);
    EXPECT_GT(f.live_entries, 0u);
  }
}

TEST_F(CrashTest, HalfWrittenStripeIsWipedBeforeAnyRead) {
  auto cache = open(4u << 20, 8);
  ASSERT_NE(cache, nullptr);
  const auto keys = makeKeys(400, "half");
  std::vector<size_t> stripe_of;
  insertAll(*cache, keys, stripe_of);
  constexpr size_t kStripe = 5;
  const pid_t holder = forkLockHolder(name_, {kStripe}, /*scribble=*/true);
  ASSERT_GT(holder, 0);
  ASSERT_NO_FATAL_FAILURE(killAndReap(holder));

  Watchdog watchdog(20, "operations on a stripe left half written", name_);
  std::vector<bool> wiped(8, false);
  wiped[kStripe] = true;
  expectOnlyStripeWiped(*cache, keys, stripe_of, wiped);
  // Ordered sets and the slow paths that walk every stripe work too.
  const auto set = testing_util::bytes("com\0zone\0"s);
  const auto order = testing_util::bytes("b\0"s);
  std::vector<uint8_t> order_out(64), out(4096);
  EXPECT_FALSE(cache->findRange(set, order, kNow, order_out, out).ok());
  uint64_t live = 0;
  for (const StripeFill& f : cache->fill()) live += f.live_entries;
  EXPECT_EQ(cache->collect({}, true).size(), live);
  insertAll(*cache, keys, stripe_of);
  expectOnlyStripeWiped(*cache, keys, stripe_of, std::vector<bool>(8, false));
  EXPECT_EQ(cache->counters().owner_died, 1u);
  EXPECT_EQ(cache->counters().corrupt, 0u) << "the garbage was read before the wipe";
  EXPECT_EQ(cache->fill()[kStripe].wipes, 1u);
}

// ---------------------------------------------------------------------------
// Random kills.

/// The shared state of the random test (anonymous shared mapping).
struct Shared {
  std::atomic<bool> stop;
  std::atomic<int> running;       // the iteration whose victim has started
  std::atomic<uint64_t> hammered;  // operations of all victims
  std::atomic<uint64_t> checked;  // values the sibling verified
  char error[512];
};

struct Traffic {
  std::vector<TestKey> small;                 // 100-300 octet values
  std::vector<TestKey> big;                   // 16-64 KiB values
  std::vector<std::vector<uint8_t>> small_payloads;
  std::vector<std::vector<uint8_t>> big_payloads;  // two per big key
  std::vector<std::vector<uint8_t>> orders;   // one ordered set
  std::vector<std::vector<uint8_t>> big_range_payloads;  // one per order
  std::vector<uint8_t> set;
};

Traffic makeTraffic(size_t max_entry) {
  Traffic t;
  t.small = makeKeys(2000, "small");
  t.big = makeKeys(48, "big");
  for (size_t k = 0; k < t.small.size(); ++k) {
    t.small_payloads.push_back(makePayload(k, 100 + k % 200, k));
  }
  std::mt19937_64 rng(7);
  for (size_t k = 0; k < t.big.size(); ++k) {
    for (int v = 0; v < 2; ++v) {
      const size_t length = std::min<size_t>(16384 + rng() % 49152, max_entry - 256);
      t.big_payloads.push_back(makePayload(kBigKeyId + k, length, rng()));
    }
  }
  const auto set = "org\0signed\0"s;
  t.set.assign(set.begin(), set.end());
  for (size_t j = 0; j < 200; ++j) {
    const auto order = std::to_string(j * 37 % 1000) + "\0"s;
    t.orders.emplace_back(order.begin(), order.end());
    const size_t length = std::min<size_t>(8192 + rng() % 16384, max_entry - 256);
    t.big_range_payloads.push_back(makePayload(kBigRangeId + j, length, rng()));
  }
  return t;
}

/// One verified operation; returns what is wrong, or "".
std::string verifiedOp(Cache& cache, const Traffic& t, std::mt19937_64& rng,
                       std::vector<uint8_t>& out, std::vector<uint8_t>& order_out, bool& checked) {
  checked = false;
  const unsigned what = static_cast<unsigned>(rng() % 10);
  if (what < 4) {
    const size_t k = rng() % t.small.size();
    auto f = cache.lookup({t.small[k].name, t.small[k].type, 0}, nullptr, kNow, out);
    if (!f) return f.error() == Error::kNotFound ? "" : "lookup: "s + toString(f.error());
    checked = true;
    return checkPayload(std::span(out).first(f->payload_length), k);
  }
  if (what < 6) {
    const size_t k = rng() % t.big.size();
    auto f = cache.lookup({t.big[k].name, t.big[k].type, 0}, nullptr, kNow, out);
    if (!f) return f.error() == Error::kNotFound ? "" : "lookup: "s + toString(f.error());
    checked = true;
    return checkPayload(std::span(out).first(f->payload_length), kBigKeyId + k);
  }
  if (what < 8) {
    const size_t k = rng() % t.small.size();
    auto s = cache.insert({t.small[k].name, t.small[k].type, 0}, Partition::global(),
                          foreverMeta(), t.small_payloads[k], kNow);
    return s.ok() ? "" : "insert: "s + toString(s.error());
  }
  const size_t j = rng() % t.orders.size();
  if (what < 9) {
    auto s = cache.insertRange(t.set, t.orders[j], foreverMeta(), t.small_payloads[j], kNow);
    return s.ok() ? "" : "insertRange: "s + toString(s.error());
  }
  auto f = cache.findRange(t.set, t.orders[j], kNow, order_out, out);
  if (!f) return f.error() == Error::kNotFound ? "" : "findRange: "s + toString(f.error());
  checked = true;
  // Order j holds small_payloads[j] (id j) or big_range_payloads[j] (id
  // kBigRangeId + j): the id tells which order key must come with it.
  uint64_t id;
  std::memcpy(&id, out.data(), 8);
  const uint64_t j_found = id >= kBigRangeId ? id - kBigRangeId : id;
  if (j_found >= t.orders.size()) return "findRange returned a value that is no range entry";
  if (f->order_length != t.orders[j_found].size() ||
      std::memcmp(order_out.data(), t.orders[j_found].data(), f->order_length) != 0) {
    return "findRange: order key and value disagree";
  }
  return checkPayload(std::span(out).first(f->payload_length), id);
}

/// A process that writes large entries in a tight loop, so that it holds a
/// stripe lock most of the time; it runs until killed.
[[noreturn]] void hammer(Cache& cache, const Traffic& t, Shared& shared, int iteration,
                         uint64_t seed) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  cache.setCounterSlot(2 + static_cast<unsigned>(iteration % 60));
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(128 * 1024), order_out(1024);
  shared.running.store(iteration);
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < give_up) {
    shared.hammered.fetch_add(1, std::memory_order_relaxed);
    for (int n = 0; n < 64; ++n) {
      const size_t k = rng() % t.big.size();
      const Key key{t.big[k].name, t.big[k].type, 0};
      switch (rng() % 8) {
        case 0: case 1: case 2: case 3:
          (void)cache.insert(key, Partition::global(), foreverMeta(),
                             t.big_payloads[2 * k + rng() % 2], kNow);
          break;
        case 4: case 5:
          (void)cache.lookup(key, nullptr, kNow, out);
          break;
        case 6: {
          const size_t j = rng() % t.orders.size();
          (void)cache.insertRange(t.set, t.orders[j], foreverMeta(), t.big_range_payloads[j],
                                  kNow);
          break;
        }
        default:
          cache.remove(key);
      }
    }
  }
  _exit(0);
}

/// The surviving sibling: verified traffic until told to stop.
[[noreturn]] void sibling(Cache& cache, const Traffic& t, Shared& shared) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  cache.setCounterSlot(1);
  std::mt19937_64 rng(99);
  std::vector<uint8_t> out(128 * 1024), order_out(1024);
  while (!shared.stop.load()) {
    bool checked = false;
    const std::string e = verifiedOp(cache, t, rng, out, order_out, checked);
    if (!e.empty()) {
      std::snprintf(shared.error, sizeof shared.error, "%s", e.c_str());
      _exit(1);
    }
    if (checked) shared.checked.fetch_add(1);
  }
  _exit(0);
}

TEST_F(CrashTest, RandomKillsNeverCorruptNorDeadlock) {
  constexpr int kIterations = 300;
  auto cache = open(4u << 20, 8);
  ASSERT_NE(cache, nullptr);
  const Traffic t = makeTraffic(cache->maxEntrySize());
  void* mapped = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                      -1, 0);
  ASSERT_NE(mapped, MAP_FAILED);
  auto* shared = new (mapped) Shared();
  shared->running = -1;

  const pid_t survivor = fork();
  ASSERT_GE(survivor, 0);
  if (survivor == 0) sibling(*cache, t, *shared);
  ChildGuard survivor_guard(survivor);

  std::mt19937_64 rng(1234);
  std::vector<uint8_t> out(128 * 1024), order_out(1024);
  uint64_t checked_here = 0;
  {
    Watchdog watchdog(90, "the random kill loop", name_);
    for (int iteration = 0; iteration < kIterations; ++iteration) {
      const auto delay = std::chrono::microseconds(rng() % 2001);
      const pid_t victim = fork();
      ASSERT_GE(victim, 0);
      if (victim == 0) hammer(*cache, t, *shared, iteration, rng());
      ChildGuard victim_guard(victim);
      // Keep operating, and checking, while the victim starts and runs for
      // `delay`.
      auto until = Clock::time_point::max();
      do {
        bool checked = false;
        const std::string e = verifiedOp(*cache, t, rng, out, order_out, checked);
        ASSERT_EQ(e, "") << "iteration " << iteration;
        checked_here += checked ? 1 : 0;
        if (until == Clock::time_point::max() && shared->running.load() == iteration) {
          until = Clock::now() + delay;
        }
      } while (Clock::now() < until);
      killAndReap(victim_guard.release());
      if (HasFatalFailure()) break;
    }
  }
  shared->stop = true;
  const int status = waitUntil(survivor_guard.release(), Clock::now() + std::chrono::seconds(20));
  EXPECT_TRUE(exitedCleanly(status)) << "sibling " << describeStatus(status) << ": "
                                     << shared->error;

  Watchdog watchdog(30, "the final check", name_);
  // Lock every stripe once first: a stripe whose holder was killed last is
  // repaired (wiped) on that lock, and must be before its fill is read.
  (void)cache->collect({}, true);
  const Counters c = cache->counters();
  uint64_t wipes = 0, live = 0;
  for (const StripeFill& f : cache->fill()) {
    wipes += f.wipes;
    live += f.live_entries;
  }
  std::printf("[          ] %d kills after %llu victim batches: %llu repairs (owner died), %llu "
              "wipes, %llu + %llu values checked\n",
              kIterations, static_cast<unsigned long long>(shared->hammered.load()),
              static_cast<unsigned long long>(c.owner_died),
              static_cast<unsigned long long>(wipes), static_cast<unsigned long long>(checked_here),
              static_cast<unsigned long long>(shared->checked.load()));
  EXPECT_GT(c.owner_died, 0u) << "no process was ever killed holding a lock";
  EXPECT_GE(wipes, c.owner_died);
  EXPECT_EQ(c.corrupt, 0u);
  EXPECT_GT(checked_here + shared->checked, 1000u);
  // Whatever is left is intact and accounted for.
  const auto all = cache->collect({}, true);
  EXPECT_EQ(all.size(), live);
  for (size_t k = 0; k < t.small.size(); ++k) {
    auto f = cache->lookup({t.small[k].name, t.small[k].type, 0}, nullptr, kNow, out);
    if (f) {
      EXPECT_EQ(checkPayload(std::span(out).first(f->payload_length), k), "");
    }
  }
  for (size_t k = 0; k < t.big.size(); ++k) {
    auto f = cache->lookup({t.big[k].name, t.big[k].type, 0}, nullptr, kNow, out);
    if (f) {
      EXPECT_EQ(checkPayload(std::span(out).first(f->payload_length), kBigKeyId + k), "");
    }
  }
  munmap(mapped, sizeof(Shared));
}

}  // namespace
}  // namespace shoal::shmcache
