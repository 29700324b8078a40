// shm_cache_bench: shmcache against LMDB (configured as Knot Resolver uses
// it, on tmpfs) on a resolver-like workload.
//
//   * >= 1,000,000 distinct DNS-like keys in lookup-key form ("com\0name\0www\0"
//     plus a type), values of 100-300 octets, all random but seeded;
//   * every key preloaded (not timed);
//   * then each process runs the same number of operations, 90% lookups of
//     existing keys and 10% inserts (half overwrites, half new keys), one
//     transaction per operation for LMDB (a resolver cannot batch them),
//     with 1 and 2 processes started together from a barrier. Workloads:
//     mixed90 (uniform keys), mixed90-zipf (Zipf 0.9), lookup100.
//
// Throughput is total operations over wall time from the common start to the
// last process's end (median of --repeat runs). Worker processes are long
// lived and warmed (every key read once) before the first run, as a
// resolver's workers would be. CPU time per operation is printed too: on a
// shared machine it shows what each engine costs whatever else runs.
//
// Prints one "name value" line per figure, the number last, e.g.
//   ratio shmcache/lmdb mixed90 1proc 3.41
// `--quick` runs a small smoke version in a few seconds.

#include <linux/futex.h>
#include <lmdb.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shmcache/cache.h"
#include "shmcache/segment.h"

namespace shoal::bench {
namespace {

namespace sc = shoal::shmcache;
using namespace std::string_literals;

struct Args {
  size_t keys = 1'000'000;
  size_t ops = 2'000'000;  // per process
  unsigned repeat = 3;     // runs per configuration; the median counts
  size_t segment_size = size_t{1} << 30;
  unsigned stripes = 1024;
  std::string dir = "/dev/shm";
  bool quick = false;
};

// What to remove if the benchmark fails half way.
struct Cleanup {
  pid_t parent = getpid();
  std::string segment;
  std::string lmdb_dir;
};
Cleanup& cleanup() {
  static Cleanup c;
  return c;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "shm_cache_bench: %s\n", what.c_str());
  if (getpid() != cleanup().parent) _exit(1);  // a worker: the parent cleans up
  if (!cleanup().segment.empty()) shm_unlink(cleanup().segment.c_str());
  if (!cleanup().lmdb_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(cleanup().lmdb_dir, ignored);
  }
  std::exit(1);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: shm_cache_bench [--quick] [--keys N] [--ops N] [--repeat N]\n"
               "                       [--segment-mib N] [--stripes N] [--dir DIR]\n");
  std::exit(2);
}

Args parseArgs(int argc, char** argv) {
  Args a;
  bool keys_set = false, ops_set = false, repeat_set = false, size_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> unsigned long long {
      if (i + 1 >= argc) usage();
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (arg == "--quick") {
      a.quick = true;
    } else if (arg == "--keys") {
      a.keys = value();
      keys_set = true;
    } else if (arg == "--ops") {
      a.ops = value();
      ops_set = true;
    } else if (arg == "--repeat") {
      a.repeat = static_cast<unsigned>(value());
      repeat_set = true;
    } else if (arg == "--segment-mib") {
      a.segment_size = static_cast<size_t>(value()) << 20;
      size_set = true;
    } else if (arg == "--stripes") {
      a.stripes = static_cast<unsigned>(value());
      size_set = true;
    } else if (arg == "--dir") {
      if (i + 1 >= argc) usage();
      a.dir = argv[++i];
    } else {
      usage();
    }
  }
  if (a.quick) {
    if (!keys_set) a.keys = 100'000;
    if (!ops_set) a.ops = 100'000;
    if (!repeat_set) a.repeat = 1;
    if (!size_set) {  // the same room per key as the full run
      a.segment_size = size_t{128} << 20;
      a.stripes = 128;
    }
  }
  if (a.keys == 0 || a.ops == 0 || a.repeat == 0) usage();
  return a;
}

int64_t clockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
int64_t nowNs() { return clockNs(CLOCK_MONOTONIC); }
/// CPU time of this process: what an operation costs, whatever else runs.
int64_t cpuNs() { return clockNs(CLOCK_PROCESS_CPUTIME_ID); }

// ---------------------------------------------------------------------------
// The data set.

/// Keys (lookup-key names and types) and their values, stored flat.
struct Dataset {
  std::vector<uint8_t> names;
  std::vector<uint32_t> name_offset;
  std::vector<uint8_t> name_length;
  std::vector<uint16_t> type;
  std::vector<uint8_t> pool;  // random octets the values are cut from
  std::vector<uint32_t> value_offset;
  std::vector<uint16_t> value_length;

  size_t size() const { return type.size(); }
  std::span<const uint8_t> name(size_t i) const {
    return {names.data() + name_offset[i], name_length[i]};
  }
  std::span<const uint8_t> value(size_t i) const {
    return {pool.data() + value_offset[i], value_length[i]};
  }
};

/// `count` distinct keys: a TLD (weighted roughly like real traffic, a few
/// two-label public suffixes and reverse zones), a registered label made of
/// a word and the key's number (so no two collide), and 0-2 host labels.
Dataset makeDataset(size_t count, uint64_t seed) {
  struct Weighted {
    const char* labels;  // reversed, NUL-separated, as in a lookup key
    size_t length;
    unsigned weight;
  };
  static const Weighted kTlds[] = {
      {"com\0", 4, 45},    {"net\0", 4, 8},      {"org\0", 4, 7},       {"de\0", 3, 5},
      {"uk\0co\0", 6, 4},  {"ru\0", 3, 3},       {"jp\0co\0", 6, 2},    {"br\0com\0", 7, 2},
      {"fr\0", 3, 2},      {"nl\0", 3, 2},       {"io\0", 3, 3},        {"info\0", 5, 2},
      {"cz\0", 3, 2},      {"au\0com\0", 7, 2},  {"arpa\0in-addr\0", 14, 6},
      {"arpa\0ip6\0", 9, 5}};
  static const char* const kHosts[] = {"www", "mail", "api",   "cdn",  "m",     "static", "img",
                                       "ns1", "ns2",  "_dmarc", "smtp", "login", "app",    "edge"};
  static const uint16_t kTypes[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 28, 28, 28, 28, 28,
                                    2, 15, 16, 5,  43, 48, 6, 33, 65};
  unsigned total_weight = 0;
  for (const auto& t : kTlds) total_weight += t.weight;

  Dataset d;
  std::mt19937_64 rng(seed);
  d.pool.resize(8u << 20);
  for (size_t i = 0; i < d.pool.size(); i += 8) {
    const uint64_t w = rng();
    std::memcpy(d.pool.data() + i, &w, 8);
  }
  d.names.reserve(count * 28);
  std::string name;
  for (size_t i = 0; i < count; ++i) {
    unsigned pick = static_cast<unsigned>(rng() % total_weight);
    const Weighted* tld = &kTlds[0];
    for (const auto& t : kTlds) {
      if (pick < t.weight) {
        tld = &t;
        break;
      }
      pick -= t.weight;
    }
    name.assign(tld->labels, tld->length);
    if (tld->labels[0] == 'a') {  // reverse zones: numeric labels
      for (int n = 0; n < 3; ++n) name += std::to_string(rng() % 256) + '\0';
      name += std::to_string(i) + '\0';
    } else {
      const size_t word = 3 + rng() % 10;
      for (size_t c = 0; c < word; ++c) name += static_cast<char>('a' + rng() % 26);
      name += std::to_string(i) + '\0';
      const unsigned hosts = static_cast<unsigned>(rng() % 10);  // 0: 30%, 1: 50%, 2: 20%
      const unsigned host_count = hosts < 3 ? 0 : hosts < 8 ? 1 : 2;
      for (unsigned h = 0; h < host_count; ++h) {
        if (rng() % 4 == 0) {
          const size_t n = 4 + rng() % 12;
          for (size_t c = 0; c < n; ++c) name += static_cast<char>('a' + rng() % 26);
        } else {
          name += kHosts[rng() % std::size(kHosts)];
        }
        name += '\0';
      }
    }
    d.name_offset.push_back(static_cast<uint32_t>(d.names.size()));
    d.name_length.push_back(static_cast<uint8_t>(name.size()));
    d.names.insert(d.names.end(), name.begin(), name.end());
    d.type.push_back(kTypes[rng() % std::size(kTypes)]);
    const auto length = static_cast<uint16_t>(100 + rng() % 201);
    d.value_length.push_back(length);
    d.value_offset.push_back(static_cast<uint32_t>(rng() % (d.pool.size() - length)));
  }
  return d;
}

// ---------------------------------------------------------------------------
// Workloads: per process, a precomputed list of operations.

enum class Pick { kUniform, kZipf };

struct Workload {
  std::string name;
  unsigned lookup_percent;
  Pick pick;
};

struct OpList {
  std::vector<uint32_t> key;
  std::vector<uint8_t> insert;  // 0: lookup, 1: insert
};

/// Zipf(s) over `n` ranks; ranks map to keys through a fixed permutation so
/// that popular keys are spread over the stripes and the B-tree.
class ZipfPicker {
 public:
  ZipfPicker(size_t n, double s, uint64_t seed) : cdf_(n), permutation_(n) {
    double sum = 0;
    for (size_t r = 0; r < n; ++r) {
      sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
      cdf_[r] = sum;
    }
    for (double& c : cdf_) c /= sum;
    for (size_t i = 0; i < n; ++i) permutation_[i] = static_cast<uint32_t>(i);
    std::mt19937_64 rng(seed);
    std::shuffle(permutation_.begin(), permutation_.end(), rng);
  }
  uint32_t pick(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const size_t r = static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) -
                                         cdf_.begin());
    return permutation_[std::min(r, permutation_.size() - 1)];
  }

 private:
  std::vector<double> cdf_;
  std::vector<uint32_t> permutation_;
};

/// Operations of process `p`: lookups of preloaded keys; inserts overwrite a
/// preloaded key or add one of this process's own new keys.
OpList makeOps(const Workload& w, size_t preloaded, size_t new_per_process, unsigned p,
               size_t ops, const ZipfPicker* zipf) {
  OpList list;
  list.key.reserve(ops);
  list.insert.reserve(ops);
  std::mt19937_64 rng(0xB0B0 + p * 7919 + w.lookup_percent);
  size_t next_new = 0;
  for (size_t i = 0; i < ops; ++i) {
    const bool insert = rng() % 100 >= w.lookup_percent;
    uint32_t key;
    if (insert && rng() % 2 == 0) {
      key = static_cast<uint32_t>(preloaded + p * new_per_process + next_new++ % new_per_process);
    } else {
      key = w.pick == Pick::kZipf ? zipf->pick(rng) : static_cast<uint32_t>(rng() % preloaded);
    }
    list.key.push_back(key);
    list.insert.push_back(insert ? 1 : 0);
  }
  return list;
}

// ---------------------------------------------------------------------------
// Engines. Each process opens its own handle after fork.

constexpr int64_t kTtl = 86400;

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  /// In the child, after fork: attach to the shared store.
  virtual void attach(unsigned process) = 0;
  /// Returns true on a hit (the value is copied out).
  virtual bool lookup(size_t key) = 0;
  virtual void insert(size_t key) = 0;
  virtual void detach() = 0;
};

class ShmEngine final : public Engine {
 public:
  ShmEngine(const Dataset& d, std::string segment, int64_t now)
      : d_(d), segment_(std::move(segment)), now_(now) {}
  const char* name() const override { return "shmcache"; }
  void attach(unsigned process) override {
    auto cache = sc::Cache::attach(segment_);
    if (!cache) die("attach: "s + sc::toString(cache.error()));
    cache_ = std::move(*cache);
    cache_->setCounterSlot(process + 1);
  }
  bool lookup(size_t i) override {
    auto f = cache_->lookup({d_.name(i), d_.type[i], 0}, nullptr, now_, buffer_);
    return f.ok() && f->payload_length == d_.value_length[i];
  }
  void insert(size_t i) override {
    sc::Meta meta;
    meta.expires_at = now_ + kTtl;
    meta.original_ttl = static_cast<uint32_t>(kTtl);
    meta.rank = 1;
    auto s = cache_->insert({d_.name(i), d_.type[i], 0}, sc::Partition::global(), meta,
                            d_.value(i), now_);
    if (!s.ok()) die("shmcache insert: "s + sc::toString(s.error()));
  }
  void detach() override { cache_.reset(); }

 private:
  const Dataset& d_;
  std::string segment_;
  int64_t now_;
  std::unique_ptr<sc::Cache> cache_;
  std::array<uint8_t, 4096> buffer_{};
};

/// LMDB value: a small header, as a cache needs (Knot Resolver's entry_h
/// holds time, TTL, rank and flags), then the payload.
struct LmdbHeader {
  int64_t expires_at;
  uint32_t original_ttl;
  uint8_t rank;
  uint8_t flags;
  uint16_t length;
};
static_assert(sizeof(LmdbHeader) == 16);

/// Environment flags that make LMDB as fast as it can be for a cache that
/// need not survive a crash: no syncs at all, a writable map, reader slots
/// tied to transactions (so read transactions can be reset and renewed, as
/// Knot Resolver's cdb_lmdb does), and no readahead.
constexpr unsigned kLmdbFlags =
    MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP | MDB_MAPASYNC | MDB_NOTLS | MDB_NORDAHEAD;

void lmdbCheck(int rc, const char* what) {
  if (rc != MDB_SUCCESS) die(std::string(what) + ": " + mdb_strerror(rc));
}

class LmdbEngine final : public Engine {
 public:
  LmdbEngine(const Dataset& d, std::string dir, size_t map_size, int64_t now)
      : d_(d), dir_(std::move(dir)), map_size_(map_size), now_(now) {}
  ~LmdbEngine() override { detach(); }
  const char* name() const override { return "lmdb"; }

  void attach(unsigned) override {
    lmdbCheck(mdb_env_create(&env_), "mdb_env_create");
    lmdbCheck(mdb_env_set_mapsize(env_, map_size_), "mdb_env_set_mapsize");
    lmdbCheck(mdb_env_set_maxreaders(env_, 126), "mdb_env_set_maxreaders");
    lmdbCheck(mdb_env_open(env_, dir_.c_str(), kLmdbFlags, 0600), "mdb_env_open");
    MDB_txn* txn = nullptr;
    lmdbCheck(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    lmdbCheck(mdb_dbi_open(txn, nullptr, 0, &dbi_), "mdb_dbi_open");
    lmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit");
    // One read transaction, reset after every lookup and renewed for the next.
    lmdbCheck(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &read_), "mdb_txn_begin(read)");
    mdb_txn_reset(read_);
  }

  bool lookup(size_t i) override {
    lmdbCheck(mdb_txn_renew(read_), "mdb_txn_renew");
    MDB_val key = keyOf(i);
    MDB_val value{};
    bool hit = false;
    if (mdb_get(read_, dbi_, &key, &value) == MDB_SUCCESS && value.mv_size >= sizeof(LmdbHeader)) {
      LmdbHeader h;
      std::memcpy(&h, value.mv_data, sizeof h);
      if (h.expires_at > now_ && h.length + sizeof h <= value.mv_size) {
        std::memcpy(buffer_.data(), static_cast<uint8_t*>(value.mv_data) + sizeof h, h.length);
        hit = h.length == d_.value_length[i];
      }
    }
    mdb_txn_reset(read_);
    return hit;
  }

  void insert(size_t i) override {
    MDB_txn* txn = nullptr;
    lmdbCheck(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin(write)");
    put(txn, i);
    lmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit");
  }

  /// Preloads keys [0, n) in large transactions (not measured).
  void preload(size_t n) {
    for (size_t done = 0; done < n;) {
      MDB_txn* txn = nullptr;
      lmdbCheck(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin(preload)");
      for (size_t end = std::min(n, done + 20000); done < end; ++done) put(txn, done);
      lmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit(preload)");
    }
  }

  /// Bytes of B-tree pages (branch, leaf, overflow) holding the data.
  size_t treeBytes() {
    MDB_txn* txn = nullptr;
    lmdbCheck(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin(stat)");
    MDB_stat st{};
    lmdbCheck(mdb_stat(txn, dbi_, &st), "mdb_stat");
    mdb_txn_abort(txn);
    return size_t{st.ms_psize} * (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
  }

  void detach() override {
    if (read_ != nullptr) mdb_txn_abort(read_);
    read_ = nullptr;
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
  }

 private:
  MDB_val keyOf(size_t i) {
    // Name in lookup form, then type and kind, like Knot Resolver's keys.
    const auto name = d_.name(i);
    std::memcpy(key_.data(), name.data(), name.size());
    key_[name.size()] = static_cast<uint8_t>(d_.type[i] >> 8);
    key_[name.size() + 1] = static_cast<uint8_t>(d_.type[i]);
    key_[name.size() + 2] = 0;
    return MDB_val{name.size() + 3, key_.data()};
  }

  void put(MDB_txn* txn, size_t i) {
    MDB_val key = keyOf(i);
    const auto payload = d_.value(i);
    MDB_val value{sizeof(LmdbHeader) + payload.size(), nullptr};
    lmdbCheck(mdb_put(txn, dbi_, &key, &value, MDB_RESERVE), "mdb_put");
    LmdbHeader h{now_ + kTtl, static_cast<uint32_t>(kTtl), 1, 0,
                 static_cast<uint16_t>(payload.size())};
    std::memcpy(value.mv_data, &h, sizeof h);
    std::memcpy(static_cast<uint8_t*>(value.mv_data) + sizeof h, payload.data(), payload.size());
  }

  const Dataset& d_;
  std::string dir_;
  size_t map_size_;
  int64_t now_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  MDB_txn* read_ = nullptr;
  std::array<uint8_t, 512> key_{};
  std::array<uint8_t, 4096> buffer_{};
};

// ---------------------------------------------------------------------------
// Worker processes. For each engine and process count, P long-lived workers
// attach, warm their mappings (a lookup of every key, so that no run pays
// for first-touch page faults, as a long-running resolver would not), then
// run rounds on command: each round starts every worker at once and is
// timed from that common start to the last worker's end.

constexpr unsigned kMaxProcesses = 2;

struct Control {
  std::atomic<unsigned> warmed;
  std::atomic<unsigned> round;  // incremented to start a round
  std::atomic<unsigned> workload;
  std::atomic<unsigned> done;
  std::atomic<bool> quit;
  std::atomic<int64_t> end_ns[kMaxProcesses];
  std::atomic<uint64_t> misses[kMaxProcesses];
  std::atomic<int64_t> cpu_ns[kMaxProcesses];  // CPU time the round took
  std::atomic<uint64_t> warm_misses[kMaxProcesses];
};

/// ops[workload][process]
using OpTable = std::vector<std::vector<OpList>>;

// Idle workers and the waiting parent sleep in the kernel (a shared futex),
// so that they take no CPU from the processes being measured.
static_assert(sizeof(std::atomic<unsigned>) == sizeof(int));

void futexWait(std::atomic<unsigned>& word, unsigned expected) {
  syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT, static_cast<int>(expected),
          nullptr, nullptr, 0);
}

void futexWakeAll(std::atomic<unsigned>& word) {
  syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}

[[noreturn]] void workerMain(Engine& engine, const OpTable& ops, size_t preloaded, unsigned p,
                             Control& control) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a failed benchmark
  engine.attach(p);
  uint64_t warm_misses = 0;
  for (size_t i = 0; i < preloaded; ++i) warm_misses += engine.lookup(i) ? 0u : 1u;
  control.warm_misses[p] = warm_misses;
  control.warmed.fetch_add(1);
  unsigned seen = 0;
  for (;;) {
    unsigned r;
    while ((r = control.round.load(std::memory_order_acquire)) == seen && !control.quit.load()) {
      futexWait(control.round, seen);
    }
    if (control.quit.load()) break;
    seen = r;
    const OpList& list = ops[control.workload.load()][p];
    const int64_t cpu_start = cpuNs();
    uint64_t misses = 0;
    for (size_t i = 0; i < list.key.size(); ++i) {
      if (list.insert[i] != 0) {
        engine.insert(list.key[i]);
      } else if (!engine.lookup(list.key[i])) {
        ++misses;
      }
    }
    control.end_ns[p] = nowNs();
    control.cpu_ns[p] = cpuNs() - cpu_start;
    control.misses[p] = misses;
    control.done.fetch_add(1, std::memory_order_release);
    futexWakeAll(control.done);
  }
  engine.detach();
  _exit(0);
}

class WorkerPool {
 public:
  WorkerPool(Engine& engine, const OpTable& ops, size_t preloaded, unsigned processes)
      : engine_(engine), processes_(processes) {
    void* p = mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) die("mmap failed");
    control_ = new (p) Control();
    for (unsigned i = 0; i < processes; ++i) {
      const pid_t pid = fork();
      if (pid < 0) die("fork failed");
      if (pid == 0) workerMain(engine, ops, preloaded, i, *control_);
      children_.push_back(pid);
    }
    while (control_->warmed.load() < processes) {
      for (pid_t pid : children_) {
        if (waitpid(pid, nullptr, WNOHANG) != 0) die(std::string(engine.name()) + " worker died");
      }
      usleep(1000);
    }
  }

  /// Preloaded keys the workers did not find when they warmed up (evicted).
  uint64_t warmMisses() const { return control_->warm_misses[0]; }

  ~WorkerPool() {
    control_->quit = true;
    control_->round.fetch_add(1);
    futexWakeAll(control_->round);
    for (pid_t pid : children_) {
      int status = 0;
      if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "shm_cache_bench: a %s worker failed\n", engine_.name());
      }
    }
    munmap(control_, sizeof(Control));
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  struct Round {
    double ops_per_second;
    double cpu_ns_per_op;
    uint64_t misses;
  };
  /// Runs workload `w` in every worker at once.
  Round run(unsigned w, size_t ops_per_process) {
    control_->done = 0;
    control_->workload = w;
    const int64_t start = nowNs();
    control_->round.fetch_add(1, std::memory_order_release);
    futexWakeAll(control_->round);
    for (unsigned done; (done = control_->done.load(std::memory_order_acquire)) < processes_;) {
      futexWait(control_->done, done);
    }
    int64_t end = start, cpu = 0;
    Round result{0, 0, 0};
    for (unsigned p = 0; p < processes_; ++p) {
      end = std::max<int64_t>(end, control_->end_ns[p]);
      cpu += control_->cpu_ns[p];
      result.misses += control_->misses[p];
    }
    result.cpu_ns_per_op =
        static_cast<double>(cpu) / static_cast<double>(ops_per_process * processes_);
    result.ops_per_second = static_cast<double>(ops_per_process * processes_) /
                            (static_cast<double>(end - start) / 1e9);
    return result;
  }

 private:
  Engine& engine_;
  unsigned processes_;
  Control* control_ = nullptr;
  std::vector<pid_t> children_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ---------------------------------------------------------------------------

void printConfig(const Args& args) {
  std::printf("config keys %zu\n", args.keys);
  std::printf("config ops-per-process %zu\n", args.ops);
  std::printf("config repeat %u\n", args.repeat);
  std::printf("config cpus %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("config shmcache-segment-mib %zu\n", args.segment_size >> 20);
  std::printf("config shmcache-stripes %u\n", args.stripes);
  std::printf("config lmdb-flags NOSYNC|NOMETASYNC|WRITEMAP|MAPASYNC|NOTLS|NORDAHEAD 0x%x\n",
              kLmdbFlags);
  std::fflush(stdout);
}

/// Prints the bytes shmcache spends per entry beyond its key and payload:
/// entry headers and padding (from the fill counters) and the hash index
/// (preallocated: index_slots per stripe, from the segment header).
void printShmOverhead(const sc::Cache& cache, const std::string& segment, size_t keys,
                      uint64_t payload_key_bytes) {
  uint64_t entries = 0, bytes = 0;
  for (const sc::StripeFill& f : cache.fill()) {
    entries += f.live_entries;
    bytes += f.live_bytes;
  }
  if (entries != keys) {
    die("the segment does not hold every key (" + std::to_string(entries) + " of " +
        std::to_string(keys) + "): give it more memory with --segment-mib");
  }
  auto seg = sc::Segment::attach(segment);
  if (!seg) die("Segment::attach failed");
  const auto& h = (*seg)->header();
  const uint64_t index_bytes = h.index_slots * sizeof(sc::IndexSlot) * h.stripe_count;
  const uint64_t range_bytes = h.range_capacity * sizeof(uint32_t) * h.stripe_count;
  const auto n = static_cast<double>(entries);
  std::printf("shmcache entry-header-and-padding bytes/entry %.1f\n",
              static_cast<double>(bytes - payload_key_bytes) / n);
  std::printf("shmcache hash-index bytes/entry %.1f\n", static_cast<double>(index_bytes) / n);
  std::printf("shmcache hash-index load %.3f\n",
              n / static_cast<double>(h.index_slots * h.stripe_count));
  std::printf("shmcache range-index-reserved bytes/entry %.1f\n",
              static_cast<double>(range_bytes) / n);
  std::printf("shmcache overhead bytes/entry %.1f\n",
              static_cast<double>(bytes + index_bytes - payload_key_bytes) / n);
}

/// Medians by [workload][engine (0: shmcache, 1: lmdb)][processes].
using Table = std::vector<std::array<std::array<double, kMaxProcesses + 1>, 2>>;

struct Results {
  Table ops_per_second;
  Table cpu_ns;
};

/// Runs every workload with `processes` workers per engine, alternating
/// engines run by run so that drift on the machine hits both.
void runAll(ShmEngine& shm, LmdbEngine& lmdb, const std::vector<Workload>& workloads,
            const OpTable& ops, const Args& args, unsigned processes, Results& results) {
  WorkerPool shm_pool(shm, ops, args.keys, processes);
  WorkerPool lmdb_pool(lmdb, ops, args.keys, processes);
  std::printf("shmcache %uproc preloaded-keys-evicted-before-start %llu\n", processes,
              static_cast<unsigned long long>(shm_pool.warmMisses()));
  std::printf("lmdb %uproc preloaded-keys-missing-before-start %llu\n", processes,
              static_cast<unsigned long long>(lmdb_pool.warmMisses()));
  for (size_t w = 0; w < workloads.size(); ++w) {
    std::array<std::vector<double>, 2> rate, cpu;
    std::array<uint64_t, 2> misses{};
    for (unsigned r = 0; r < args.repeat; ++r) {
      const WorkerPool::Round rounds[2] = {shm_pool.run(static_cast<unsigned>(w), args.ops),
                                           lmdb_pool.run(static_cast<unsigned>(w), args.ops)};
      for (size_t e = 0; e < 2; ++e) {
        rate[e].push_back(rounds[e].ops_per_second);
        cpu[e].push_back(rounds[e].cpu_ns_per_op);
        misses[e] += rounds[e].misses;
      }
    }
    const char* const name = workloads[w].name.c_str();
    for (size_t e = 0; e < 2; ++e) {
      const char* const engine = e == 0 ? "shmcache" : "lmdb";
      results.ops_per_second[w][e][processes] = median(rate[e]);
      results.cpu_ns[w][e][processes] = median(cpu[e]);
      std::printf("%s %s %uproc ops/s %.0f\n", engine, name, processes, median(rate[e]));
      std::printf("%s %s %uproc cpu-ns/op %.0f\n", engine, name, processes, median(cpu[e]));
      // Lookups are of preloaded keys: a miss means the entry was evicted.
      std::printf("%s %s %uproc lookup-misses %llu\n", engine, name, processes,
                  static_cast<unsigned long long>(misses[e]));
    }
    std::fflush(stdout);
  }
}

void printSummary(const std::vector<Workload>& workloads, const Results& results) {
  for (size_t w = 0; w < workloads.size(); ++w) {
    const char* const name = workloads[w].name.c_str();
    const auto& shm_ops = results.ops_per_second[w][0];
    const auto& lmdb_ops = results.ops_per_second[w][1];
    for (unsigned processes = 1; processes <= kMaxProcesses; ++processes) {
      std::printf("ratio shmcache/lmdb %s %uproc %.2f\n", name, processes,
                  shm_ops[processes] / lmdb_ops[processes]);
    }
    // The same from CPU time per operation: what each engine costs, less
    // sensitive to other load on the machine than wall time.
    for (unsigned processes = 1; processes <= kMaxProcesses; ++processes) {
      std::printf("ratio-cpu shmcache/lmdb %s %uproc %.2f\n", name, processes,
                  results.cpu_ns[w][1][processes] / results.cpu_ns[w][0][processes]);
    }
    std::printf("shmcache scaling %s 1->2proc %.2f\n", name, shm_ops[2] / shm_ops[1]);
    std::printf("lmdb scaling %s 1->2proc %.2f\n", name, lmdb_ops[2] / lmdb_ops[1]);
  }
}

int run(const Args& args) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const size_t new_per_process = std::max<size_t>(1, args.ops / 20);
  printConfig(args);
  const Dataset data = makeDataset(args.keys + kMaxProcesses * new_per_process, 1);
  uint64_t payload_key_bytes = 0;
  for (size_t i = 0; i < args.keys; ++i) {
    payload_key_bytes += data.name(i).size() + 3 + data.value_length[i];
  }

  // shmcache: create and preload.
  const std::string segment = "/shoal-bench-" + std::to_string(getpid());
  cleanup().segment = segment;
  sc::Options options;
  options.name = segment;
  options.size = args.segment_size;
  options.stripes = args.stripes;
  options.discard = true;
  auto opened = sc::Cache::open(options, now);
  if (!opened) die("cannot create the segment: "s + sc::toString(opened.error()));
  std::unique_ptr<sc::Cache> cache = std::move(*opened);
  ShmEngine shm(data, segment, now);
  shm.attach(0);
  for (size_t i = 0; i < args.keys; ++i) shm.insert(i);
  shm.detach();
  printShmOverhead(*cache, segment, args.keys, payload_key_bytes);

  // LMDB: a fresh environment on tmpfs, preloaded.
  const std::string dir = args.dir + "/shoal-bench-lmdb-" + std::to_string(getpid());
  cleanup().lmdb_dir = dir;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const size_t map_size = std::max<size_t>(size_t{4} << 30, args.keys * 2048);
  LmdbEngine lmdb(data, dir, map_size, now);
  lmdb.attach(0);
  lmdb.preload(args.keys);
  std::printf("lmdb overhead bytes/entry %.1f\n",
              static_cast<double>(lmdb.treeBytes() - payload_key_bytes) /
                  static_cast<double>(args.keys));
  lmdb.detach();
  std::fflush(stdout);

  const ZipfPicker zipf(args.keys, 0.9, 3);
  const std::vector<Workload> workloads = {{"mixed90", 90, Pick::kUniform},
                                           {"mixed90-zipf", 90, Pick::kZipf},
                                           {"lookup100", 100, Pick::kUniform}};
  OpTable ops(workloads.size());
  for (size_t w = 0; w < workloads.size(); ++w) {
    for (unsigned p = 0; p < kMaxProcesses; ++p) {
      ops[w].push_back(makeOps(workloads[w], args.keys, new_per_process, p, args.ops, &zipf));
    }
  }
  Results results{Table(workloads.size()), Table(workloads.size())};
  for (unsigned processes = 1; processes <= kMaxProcesses; ++processes) {
    runAll(shm, lmdb, workloads, ops, args, processes, results);
  }
  printSummary(workloads, results);

  uint64_t live = 0;
  for (const sc::StripeFill& f : cache->fill()) live += f.live_entries;
  std::printf("shmcache evictions %llu\n",
              static_cast<unsigned long long>(cache->counters().evictions));
  std::printf("shmcache live-entries-at-end %llu\n", static_cast<unsigned long long>(live));
  cache.reset();
  sc::Cache::unlink(segment);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) { return shoal::bench::run(shoal::bench::parseArgs(argc, argv)); }
