// shmcache with real processes: 2, 4 and 8 forked processes insert, look up
// and remove concurrently in one small segment, so that eviction runs all the
// time, with ECS partitions and ordered sets in the mix. Every payload
// carries its key's id, its metadata and a checksum; every value a process
// gets back must be intact and belong to the key it asked for.
//
// Children never return into GoogleTest: they _exit() with a status and
// leave a message in a shared block; the parent asserts that all exit 0.

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "shmcache/cache.h"
#include "tests/unit/shmcache/test_util.h"

namespace shoal::shmcache {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::string_literals;

// ---------------------------------------------------------------------------
// Checksummed payloads: [PayloadHeader][body][checksum of both, 8 octets].

constexpr uint64_t kPayloadMagic = 0x3144414f4c594150ull;  // "PAYLOAD1"

struct PayloadHeader {
  uint64_t magic;
  uint64_t key_id;  // index into the key table
  uint64_t writer;  // pid << 32 | sequence
  int64_t expires_at;
  uint32_t body_length;
  uint16_t flags;
  uint8_t partition_family;
  uint8_t partition_prefix;
  uint8_t rank;
  uint8_t security;
  uint8_t pad[6];
  uint8_t partition_address[16];
};
static_assert(sizeof(PayloadHeader) == 64);
constexpr size_t kPayloadOverhead = sizeof(PayloadHeader) + sizeof(uint64_t);

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

/// Writes a payload into `out` (resized) for `key_id` with `meta` and
/// `partition`, and a random body of `body_length` octets.
void makePayload(std::vector<uint8_t>& out, uint64_t key_id, uint64_t writer, const Meta& meta,
                 const Partition& partition, size_t body_length, std::mt19937_64& rng) {
  out.resize(kPayloadOverhead + body_length);
  PayloadHeader h{};
  h.magic = kPayloadMagic;
  h.key_id = key_id;
  h.writer = writer;
  h.expires_at = meta.expires_at;
  h.body_length = static_cast<uint32_t>(body_length);
  h.flags = meta.flags;
  h.partition_family = partition.family;
  h.partition_prefix = partition.prefix;
  h.rank = meta.rank;
  h.security = static_cast<uint8_t>(meta.security);
  std::memcpy(h.partition_address, partition.address.data(), 16);
  std::memcpy(out.data(), &h, sizeof h);
  uint8_t* body = out.data() + sizeof h;
  for (size_t i = 0; i < body_length; i += 8) {
    const uint64_t w = rng();
    std::memcpy(body + i, &w, std::min<size_t>(8, body_length - i));
  }
  const uint64_t sum = checksum(out.data(), sizeof h + body_length);
  std::memcpy(out.data() + sizeof h + body_length, &sum, 8);
}

/// Checks that `payload` is intact; returns its header, or an error text.
std::string readPayload(std::span<const uint8_t> payload, PayloadHeader& h) {
  if (payload.size() < kPayloadOverhead) {
    return "payload of " + std::to_string(payload.size()) + " octets is too short";
  }
  std::memcpy(&h, payload.data(), sizeof h);
  if (h.magic != kPayloadMagic) return "payload magic is wrong";
  if (h.body_length + kPayloadOverhead != payload.size()) {
    return "payload length " + std::to_string(payload.size()) + " but body_length " +
           std::to_string(h.body_length);
  }
  uint64_t sum;
  std::memcpy(&sum, payload.data() + sizeof h + h.body_length, 8);
  if (sum != checksum(payload.data(), sizeof h + h.body_length)) return "checksum mismatch (torn)";
  return {};
}

// ---------------------------------------------------------------------------
// The key table: plain keys (several types and kinds share a name, some are
// ECS keys) and ordered-set entries. Built before fork, so every process has
// the same one.

struct TestKey {
  std::vector<uint8_t> name;   // or the set
  std::vector<uint8_t> order;  // ordered-set entries only
  uint16_t type = 0;
  uint8_t kind = 0;
  bool range = false;
  bool ecs = false;
  size_t set = 0;  // ordered-set entries: which set
};

struct KeyTable {
  std::vector<TestKey> keys;
  size_t plain = 0;  // keys[0, plain) are plain, then sets * orders range keys
  size_t sets = 0;
  size_t orders = 0;
  std::vector<std::vector<uint8_t>> set_names;
  std::vector<size_t> hot_ecs;  // a few ECS keys, chosen more often
};

KeyTable makeKeys(size_t plain, size_t sets, size_t orders) {
  static const std::array<std::string, 6> kTlds = {"com\0"s, "net\0"s, "org\0"s,
                                                   "de\0"s,  "uk\0co\0"s, "arpa\0in-addr\0"s};
  static const std::array<std::pair<uint16_t, uint8_t>, 4> kTypes = {
      {{1, 0}, {28, 0}, {1, 1}, {16, 0}}};
  KeyTable t;
  t.plain = plain;
  t.sets = sets;
  t.orders = orders;
  for (size_t i = 0; i < plain; ++i) {
    const size_t n = i / kTypes.size();
    std::string name = kTlds[n % kTlds.size()] + "mp" + std::to_string(n) + '\0';
    if (n % 3 == 1) name += "www\0"s;
    if (n % 7 == 2) name += "a-much-longer-label-" + std::to_string(n * 31) + '\0';
    TestKey k;
    k.name.assign(name.begin(), name.end());
    k.type = kTypes[i % kTypes.size()].first;
    k.kind = kTypes[i % kTypes.size()].second;
    k.ecs = n % 5 == 0;
    if (k.ecs && t.hot_ecs.size() < 16) t.hot_ecs.push_back(i);
    t.keys.push_back(std::move(k));
  }
  for (size_t s = 0; s < sets; ++s) {
    const std::string set = "org\0zone"s + std::to_string(s) + '\0';
    t.set_names.emplace_back(set.begin(), set.end());
    for (size_t j = 0; j < orders; ++j) {
      const std::string order = std::to_string((j * 7919) % 100003) + "\0x"s + std::to_string(j);
      TestKey k;
      k.name = t.set_names.back();
      k.order.assign(order.begin(), order.end());
      k.range = true;
      k.set = s;
      t.keys.push_back(std::move(k));
    }
  }
  return t;
}

// ECS partitions and clients: a handful of /16 and /24 networks in 10/8 and
// /48s in 2001:db8::/32, so that several partitions of a key cover a client.
Partition randomPartition(std::mt19937_64& rng) {
  const auto a = static_cast<unsigned>(rng() % 3);
  const auto b = static_cast<unsigned>(rng() % 3);
  switch (rng() % 5) {
    case 0: return Partition::global();
    case 1: return Partition::of(*base::IpAddress::parse("10." + std::to_string(a) + ".0.0"), 16);
    case 2:
      return Partition::of(
          *base::IpAddress::parse("10." + std::to_string(a) + "." + std::to_string(b) + ".0"), 24);
    case 3:
      return Partition::of(*base::IpAddress::parse("2001:db8:" + std::to_string(a) + "::"), 48);
    default:
      return Partition::of(
          *base::IpAddress::parse("10." + std::to_string(a) + "." + std::to_string(b) + ".0"), 20);
  }
}

base::IpAddress randomClient(std::mt19937_64& rng) {
  const auto a = static_cast<unsigned>(rng() % 3);
  const auto b = static_cast<unsigned>(rng() % 3);
  if (rng() % 4 == 0) {
    return *base::IpAddress::parse("2001:db8:" + std::to_string(a) + "::" + std::to_string(b + 1));
  }
  return *base::IpAddress::parse("10." + std::to_string(a) + "." + std::to_string(b) + "." +
                                 std::to_string(rng() % 250 + 1));
}

// ---------------------------------------------------------------------------
// Verification of what the cache returned.

/// Checks a lookup's result against the key asked for.
std::string checkFound(const KeyTable& t, size_t key_id, const Found& f,
                       std::span<const uint8_t> out, const base::IpAddress* client, int64_t now,
                       uint32_t max_stale) {
  PayloadHeader h;
  if (auto e = readPayload(out.first(f.payload_length), h); !e.empty()) return e;
  if (h.key_id != key_id) {
    return "lookup of key " + std::to_string(key_id) + " returned key " + std::to_string(h.key_id) +
           "'s value";
  }
  if (f.meta.expires_at != h.expires_at || f.meta.flags != h.flags || f.meta.rank != h.rank ||
      static_cast<uint8_t>(f.meta.security) != h.security) {
    return "metadata does not match the payload";
  }
  if (f.partition.family != h.partition_family || f.partition.prefix != h.partition_prefix ||
      std::memcmp(f.partition.address.data(), h.partition_address, 16) != 0) {
    return "partition does not match the payload";
  }
  if (client == nullptr ? f.partition.family != 0 : !f.partition.covers(*client)) {
    return "returned a partition that does not cover the client";
  }
  if (!t.keys[key_id].ecs && f.partition.family != 0) return "ECS partition on a plain key";
  if (f.stale) {
    if (f.meta.expires_at > now || f.meta.expires_at + int64_t{max_stale} <= now) {
      return "stale flag wrong";
    }
  } else if (f.meta.expires_at <= now) {
    return "returned an expired entry as fresh";
  }
  return {};
}

std::string checkRange(const KeyTable& t, size_t set, const Found& f,
                       std::span<const uint8_t> order_out, std::span<const uint8_t> out,
                       int64_t now) {
  PayloadHeader h;
  if (auto e = readPayload(out.first(f.payload_length), h); !e.empty()) return e;
  if (h.key_id < t.plain || h.key_id >= t.keys.size()) return "range payload of a plain key";
  const TestKey& k = t.keys[h.key_id];
  if (k.set != set) {
    return "findRange in set " + std::to_string(set) + " returned set " + std::to_string(k.set);
  }
  if (f.order_length != k.order.size() ||
      std::memcmp(order_out.data(), k.order.data(), k.order.size()) != 0) {
    return "order key does not match the payload";
  }
  if (f.meta.expires_at != h.expires_at || f.meta.expires_at <= now ||
      f.meta.security != Security::kSecure || f.meta.rank != h.rank) {
    return "range metadata does not match the payload";
  }
  return {};
}

/// Checks an entry copied out by collect().
std::string checkCopy(const KeyTable& t, const EntryCopy& c) {
  PayloadHeader h;
  if (auto e = readPayload(c.payload, h); !e.empty()) return e;
  if (h.key_id >= t.keys.size()) return "collected payload with a bad key id";
  const TestKey& k = t.keys[h.key_id];
  if (c.name != k.name || c.order != k.order || (!k.range && (c.type != k.type || c.kind != k.kind))) {
    return "collected entry holds another key's payload";
  }
  if (c.meta.expires_at != h.expires_at || c.partition.family != h.partition_family ||
      c.partition.prefix != h.partition_prefix) {
    return "collected metadata does not match the payload";
  }
  return {};
}

// ---------------------------------------------------------------------------
// Processes.

/// Per-child results, in an anonymous shared mapping.
struct ChildReport {
  std::atomic<uint64_t> ops;
  std::atomic<uint64_t> hits;
  std::atomic<uint64_t> range_hits;
  std::atomic<uint64_t> inserts;
  std::atomic<uint64_t> collected;
  char error[512];
};

template <typename T>
T* sharedArray(size_t n) {
  void* p = mmap(nullptr, sizeof(T) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  T* array = static_cast<T*>(p);
  for (size_t i = 0; i < n; ++i) new (&array[i]) T();
  return array;
}

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
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string describeStatus(int status) {
  if (status == -1) return "did not finish in time (deadlock?) and was killed";
  if (status == -2) return "could not be waited for";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "died of signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

struct Workload {
  const KeyTable* keys;
  std::string segment;
  uint64_t ops;
  size_t max_body;
};

/// One child's life: a random mix of every operation, checking every value.
/// Returns 0, or 1 with `report.error` set.
int runChild(const Workload& w, unsigned index, ChildReport& report) {
  auto fail = [&](const std::string& what) {
    std::snprintf(report.error, sizeof report.error, "%s", what.c_str());
    return 1;
  };
  auto attached = Cache::attach(w.segment);
  if (!attached) return fail("attach: "s + toString(attached.error()));
  Cache& cache = **attached;
  cache.setCounterSlot(index + 1);
  const KeyTable& t = *w.keys;
  std::mt19937_64 rng(0x5eed0000u + index);
  std::vector<uint8_t> payload;
  std::vector<uint8_t> out(64 * 1024);
  std::vector<uint8_t> order_out(2048);
  const uint64_t writer = static_cast<uint64_t>(getpid()) << 32;
  auto bodyLength = [&](size_t key_bytes) {
    const size_t limit = w.max_body > key_bytes ? w.max_body - key_bytes : 0;
    const size_t n = rng() % 100 < 70 ? rng() % 400 : 1000 + rng() % 12000;
    return std::min(n, limit);
  };
  for (uint64_t op = 0; op < w.ops; ++op) {
    report.ops.fetch_add(1, std::memory_order_relaxed);
    const int64_t now = 1000 + static_cast<int64_t>(op / 200);
    const unsigned what = static_cast<unsigned>(rng() % 1000);
    // A few hot ECS keys collect more partitions than max_partitions.
    const size_t id = rng() % 4 == 0 ? t.hot_ecs[rng() % t.hot_ecs.size()] : rng() % t.plain;
    const TestKey& k = t.keys[id];
    const Key key{k.name, k.type, k.kind};
    if (what < 400) {  // lookup
      base::IpAddress client_address;
      const base::IpAddress* client = nullptr;
      if (k.ecs && rng() % 4 != 0) {
        client_address = randomClient(rng);
        client = &client_address;
      }
      const uint32_t max_stale = rng() % 4 == 0 ? 30 : 0;
      auto f = cache.lookup(key, client, now, out, max_stale);
      if (!f) {
        if (f.error() != Error::kNotFound) return fail("lookup: "s + toString(f.error()));
        continue;
      }
      if (auto e = checkFound(t, id, *f, out, client, now, max_stale); !e.empty()) {
        return fail("op " + std::to_string(op) + ": " + e);
      }
      report.hits.fetch_add(1, std::memory_order_relaxed);
    } else if (what < 650) {  // insert
      Meta meta;
      meta.expires_at = now + 1 + static_cast<int64_t>(rng() % 60);
      meta.original_ttl = 60;
      meta.rank = static_cast<uint8_t>(1 + rng() % 3);
      meta.security = static_cast<Security>(rng() % 4);
      meta.flags = static_cast<uint16_t>(rng());
      const Partition partition = k.ecs ? randomPartition(rng) : Partition::global();
      makePayload(payload, id, writer | op, meta, partition, bodyLength(k.name.size()), rng);
      auto s = cache.insert(key, partition, meta, payload, now);
      if (!s.ok() && s.error() != Error::kRankTooLow) {
        return fail("insert of " + std::to_string(payload.size()) + " octets: " + toString(s.error()));
      }
      if (s.ok()) report.inserts.fetch_add(1, std::memory_order_relaxed);
    } else if (what < 750) {  // insertRange
      const size_t set = rng() % t.sets;
      const size_t rid = t.plain + set * t.orders + rng() % t.orders;
      const TestKey& r = t.keys[rid];
      Meta meta;
      meta.expires_at = now + 1 + static_cast<int64_t>(rng() % 60);
      meta.rank = static_cast<uint8_t>(1 + rng() % 3);
      meta.security = Security::kSecure;
      makePayload(payload, rid, writer | op, meta, Partition::global(),
                  bodyLength(r.name.size() + r.order.size()), rng);
      auto s = cache.insertRange(r.name, r.order, meta, payload, now);
      if (!s.ok() && s.error() != Error::kRankTooLow) {
        return fail("insertRange: "s + toString(s.error()));
      }
      if (s.ok()) report.inserts.fetch_add(1, std::memory_order_relaxed);
    } else if (what < 900) {  // findRange, at an existing or an arbitrary order key
      const size_t set = rng() % t.sets;
      std::vector<uint8_t> order = t.keys[t.plain + set * t.orders + rng() % t.orders].order;
      if (rng() % 2 == 0) order.push_back(static_cast<uint8_t>(rng()));
      auto f = cache.findRange(t.set_names[set], order, now, order_out, out);
      if (!f) {
        if (f.error() != Error::kNotFound) return fail("findRange: "s + toString(f.error()));
        continue;
      }
      if (auto e = checkRange(t, set, *f, order_out, out, now); !e.empty()) {
        return fail("op " + std::to_string(op) + ": " + e);
      }
      report.range_hits.fetch_add(1, std::memory_order_relaxed);
    } else if (what < 995) {
      cache.remove(key);
    } else if (what < 998) {  // slow paths that walk every stripe
      for (const EntryCopy& c : cache.collect(k.name, false)) {
        if (auto e = checkCopy(t, c); !e.empty()) return fail("collect: " + e);
        report.collected.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      cache.removeName(k.name, rng() % 2 == 0);
    }
  }
  return 0;
}

struct Config {
  unsigned processes;
  size_t segment_size;
  unsigned stripes;
  uint64_t ops_per_process;
};

void PrintTo(const Config& c, std::ostream* os) {
  *os << c.processes << " processes, " << (c.segment_size >> 20) << " MiB, " << c.stripes
      << " stripes, " << c.ops_per_process << " operations each";
}

class MultiprocessTest : public testing_util::SegmentFixture,
                         public ::testing::WithParamInterface<Config> {
 protected:
  // A parameterised test's name has a '/', which shm object names must not.
  MultiprocessTest() { std::replace(name_.begin() + 1, name_.end(), '/', '.'); }
};

TEST_P(MultiprocessTest, ConcurrentTrafficNeverTearsOrMixesValues) {
  const Config& config = GetParam();
  auto cache = open(config.segment_size, config.stripes, /*max_partitions=*/4);
  ASSERT_NE(cache, nullptr);
  const KeyTable keys = makeKeys(/*plain=*/6000, /*sets=*/24, /*orders=*/100);
  Workload w{&keys, name_, config.ops_per_process, cache->maxEntrySize() - 64 - kPayloadOverhead - 8};
  ChildReport* reports = sharedArray<ChildReport>(config.processes);
  ASSERT_NE(reports, nullptr);

  std::vector<pid_t> children;
  for (unsigned i = 0; i < config.processes; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      _exit(runChild(w, i, reports[i]));
    }
    children.push_back(pid);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(45);
  for (unsigned i = 0; i < children.size(); ++i) {
    const int status = waitUntil(children[i], deadline);
    EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "child " << i << " " << describeStatus(status) << ": " << reports[i].error;
  }

  uint64_t hits = 0, range_hits = 0, inserts = 0, ops = 0;
  for (unsigned i = 0; i < config.processes; ++i) {
    hits += reports[i].hits;
    range_hits += reports[i].range_hits;
    inserts += reports[i].inserts;
    ops += reports[i].ops;
  }
  // Not a vacuous run: values were found and checked, and eviction ran.
  EXPECT_EQ(ops, config.processes * config.ops_per_process);
  EXPECT_GT(hits, ops / 50);
  EXPECT_GT(range_hits, ops / 100);
  const Counters c = cache->counters();
  EXPECT_GT(c.evictions, 0u);
  EXPECT_GT(c.partition_evictions, 0u);
  EXPECT_EQ(c.inserts, inserts);
  EXPECT_EQ(c.corrupt, 0u);
  EXPECT_EQ(c.owner_died, 0u);
  for (const StripeFill& f : cache->fill()) EXPECT_EQ(f.wipes, 0u);

  // What is left is intact, and the fill counters agree with the entries.
  const auto all = cache->collect({}, true);
  uint64_t live = 0, live_bytes = 0;
  for (const StripeFill& f : cache->fill()) {
    live += f.live_entries;
    live_bytes += f.live_bytes;
  }
  EXPECT_EQ(all.size(), live);
  EXPECT_GT(live_bytes, config.segment_size / 4) << "the arenas should be full";
  for (const EntryCopy& copy : all) {
    const std::string e = checkCopy(keys, copy);
    ASSERT_TRUE(e.empty()) << e;
  }
  std::vector<uint8_t> out(64 * 1024);
  for (size_t id = 0; id < keys.plain; ++id) {
    const TestKey& k = keys.keys[id];
    auto f = cache->lookup(Key{k.name, k.type, k.kind}, nullptr, 1000, out, 1u << 30);
    if (!f) continue;
    const std::string e = checkFound(keys, id, *f, out, nullptr, 1000, 1u << 30);
    ASSERT_TRUE(e.empty()) << e;
  }
  munmap(reports, sizeof(ChildReport) * config.processes);
  std::printf("[          ] %u processes: %llu ops, %llu hits, %llu range hits, %llu evictions\n",
              config.processes, static_cast<unsigned long long>(ops),
              static_cast<unsigned long long>(hits), static_cast<unsigned long long>(range_hits),
              static_cast<unsigned long long>(c.evictions));
}

INSTANTIATE_TEST_SUITE_P(
    Processes, MultiprocessTest,
    ::testing::Values(Config{2, 2u << 20, 4, 150000}, Config{4, 4u << 20, 32, 100000},
                      Config{8, 2u << 20, 64, 50000}),
    [](const ::testing::TestParamInfo<Config>& param) {
      return std::to_string(param.param.processes) + "Processes";
    });

}  // namespace
}  // namespace shoal::shmcache
