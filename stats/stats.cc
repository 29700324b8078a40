#include "stats/stats.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>

#include "base/ownership.h"

namespace shoal::stats {
namespace {

constexpr size_t kSize = (sizeof(Header) + 4095) / 4096 * 4096;

std::runtime_error systemError(const std::string& what, const std::string& name) {
  return std::runtime_error("stats segment " + name + ": " + what + ": " + std::strerror(errno));
}

bool compatible(const Header& h, size_t file_size) {
  return file_size >= sizeof(Header) && h.magic == kMagic && h.version == kVersion &&
         h.header_size == sizeof(Header) && h.segment_size == file_size;
}

void addCounters(std::array<uint64_t, kLatencyBuckets>& to, const Histogram& from) {
  for (size_t i = 0; i < kLatencyBuckets; ++i) to[i] += from.buckets[i].get();
}

}  // namespace

void Histogram::record(uint64_t us) {
  const size_t bucket = std::min<size_t>(std::bit_width(us), kLatencyBuckets - 1);
  ++buckets[bucket];
  sum_us += us;
}

std::string segmentName(const std::string& cache_name) { return cache_name + ".stats"; }

std::unique_ptr<Segment> Segment::create(const std::string& name, bool keep, mode_t mode,
                                         gid_t group) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) throw systemError("shm_open", name);
  // It may have been there before us (/dev/shm is everyone's): refused
  // unless it is ours (base/ownership.h).
  if (const std::string why = base::untrustedBecause(fd); !why.empty()) {
    close(fd);
    throw std::runtime_error("stats segment " + name + " exists and is not shoal's: " + why +
                             "; remove /dev/shm" + name + " or change [cache] name");
  }
  struct stat st {};
  bool reuse = false;
  if (keep && fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) == kSize) {
    void* probe = mmap(nullptr, kSize, PROT_READ, MAP_SHARED, fd, 0);
    if (probe != MAP_FAILED) {
      reuse = compatible(*static_cast<const Header*>(probe), kSize);
      munmap(probe, kSize);
    }
  }
  if (!reuse) {
    // A process of the old build may still map the old object (during an
    // upgrade): never rewrite it in place; unlink it and start a new one.
    close(fd);
    shm_unlink(name.c_str());
    fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) throw systemError("shm_open", name);
    if (ftruncate(fd, static_cast<off_t>(kSize)) != 0) {
      close(fd);
      throw systemError("ftruncate", name);
    }
  }
  // Who may read it: the owner and the control group (shoalctl reads it).
  if (fchmod(fd, mode) != 0 ||
      (group != static_cast<gid_t>(-1) && fchown(fd, static_cast<uid_t>(-1), group) != 0)) {
    close(fd);
    throw systemError("setting its owner and mode", name);
  }
  void* base = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) throw systemError("mmap", name);
  auto* header = static_cast<Header*>(base);
  if (!reuse) {
    // ftruncate gave zeroes, a valid empty value for every field.
    header->version = kVersion;
    header->header_size = sizeof(Header);
    header->segment_size = kSize;
    std::atomic_thread_fence(std::memory_order_release);
    header->magic = kMagic;
  }
  return std::unique_ptr<Segment>(new Segment(header, kSize));
}

std::unique_ptr<Segment> Segment::attachReadOnly(const std::string& name) {
  const int fd = shm_open(name.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == ENOENT) {
      throw std::runtime_error("no stats segment " + name + ": shoal is not running (or uses " +
                               "another [cache] name)");
    }
    throw systemError("cannot open", name);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) != kSize) {
    close(fd);
    throw std::runtime_error("stats segment " + name +
                             " has another size: shoal and shoalctl are of different versions");
  }
  void* base = mmap(nullptr, kSize, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) throw systemError("mmap", name);
  auto* header = static_cast<Header*>(base);
  if (!compatible(*header, kSize)) {
    munmap(base, kSize);
    throw std::runtime_error("stats segment " + name +
                             " has another layout: shoal and shoalctl are of different versions");
  }
  return std::unique_ptr<Segment>(new Segment(header, kSize));
}

Segment::~Segment() { munmap(header_, size_); }

void Totals::add(const WorkerCounters& c) {
  queries_udp += c.queries_udp.get();
  queries_tcp += c.queries_tcp.get();
  cache_hits += c.cache_hits.get();
  cache_misses += c.cache_misses.get();
  acl_refused += c.acl_refused.get();
  client_retries += c.client_retries.get();
  malformed += c.malformed.get();
  dropped += c.dropped.get();
  for (size_t i = 0; i < 16; ++i) answers_by_rcode[i] += c.answers_by_rcode[i].get();
  answers_udp += c.answers_udp.get();
  answers_tcp += c.answers_tcp.get();
  answers_orphaned += c.answers_orphaned.get();
  send_errors += c.send_errors.get();
  tcp_accepted += c.tcp_accepted.get();
  tcp_rejected += c.tcp_rejected.get();
  tcp_idle_closed += c.tcp_idle_closed.get();
  tcp_bad_length += c.tcp_bad_length.get();
  tcp_client_limited += c.tcp_client_limited.get();
  tcp_idle_evicted += c.tcp_idle_evicted.get();
  tcp_stalled_closed += c.tcp_stalled_closed.get();
  tcp_paused += c.tcp_paused.get();
  tcp_keep_active += c.tcp_keep_active.get();
  tcp_collapse += c.tcp_collapse.get();
  tcp_dont_bother += c.tcp_dont_bother.get();
  tcp_collapsed += c.tcp_collapsed.get();
  tcp_revived += c.tcp_revived.get();
  tcp_revive_failed += c.tcp_revive_failed.get();
  tcp_collapsed_expired += c.tcp_collapsed_expired.get();
  tcp_collapse_skipped += c.tcp_collapse_skipped.get();
  tcp_collapse_queue_drops += c.tcp_collapse_queue_drops.get();
  tcp_revive_us += c.tcp_revive_us.get();
  tcp_collapsed_held += c.tcp_collapsed_held.get();
  tcp_open += c.tcp_open.get();
  dnstap_frames += c.dnstap_frames.get();
  dnstap_dropped += c.dnstap_dropped.get();
  doh_queries += c.doh_queries.get();
  doh_errors += c.doh_errors.get();
  tls_handshakes += c.tls_handshakes.get();
  tls_handshake_failures += c.tls_handshake_failures.get();
  journal_replayed += c.journal_replayed.get();
  journal_skipped += c.journal_skipped.get();
  upstream_udp += c.upstream_udp.get();
  upstream_tcp += c.upstream_tcp.get();
  upstream_socket_errors += c.upstream_socket_errors.get();
  upstream_swept += c.upstream_swept.get();
  upstream_tls += c.upstream_tls.get();
  upstream_tls_connections += c.upstream_tls_connections.get();
  upstream_tls_resumed += c.upstream_tls_resumed.get();
  upstream_tls_resent += c.upstream_tls_resent.get();
  resolutions += c.resolutions.get();
  resolution_servfails += c.resolution_servfails.get();
  upstream_queries += c.upstream_queries.get();
  upstream_timeouts += c.upstream_timeouts.get();
  upstream_errors += c.upstream_errors.get();
  tcp_fallbacks += c.tcp_fallbacks.get();
  coalesced += c.coalesced.get();
  coalesced_upstream += c.coalesced_upstream.get();
  deadline_servfails += c.deadline_servfails.get();
  malformed_replies += c.malformed_replies.get();
  stale_answers += c.stale_answers.get();
  hedges_sent += c.hedges_sent.get();
  hedges_won += c.hedges_won.get();
  late_replies += c.late_replies.get();
  background_resolutions += c.background_resolutions.get();
  prefetches += c.prefetches.get();
  rate_limited += c.rate_limited.get();
  rate_slipped += c.rate_slipped.get();
  cookies_valid += c.cookies_valid.get();
  cookies_client_only += c.cookies_client_only.get();
  client_limited += c.client_limited.get();
  case_mismatches += c.case_mismatches.get();
  cookie_mismatches += c.cookie_mismatches.get();
  upstream_bad_cookies += c.upstream_bad_cookies.get();
  rebinding_blocked += c.rebinding_blocked.get();
  overload_stale += c.overload_stale.get();
  overload_servfails += c.overload_servfails.get();
  dnssec_secure += c.dnssec_secure.get();
  dnssec_insecure += c.dnssec_insecure.get();
  dnssec_bogus += c.dnssec_bogus.get();
  dnssec_capped += c.dnssec_capped.get();
  synth_nxdomain += c.synth_nxdomain.get();
  synth_nodata += c.synth_nodata.get();
  synth_wildcard += c.synth_wildcard.get();
  local_root_answers += c.local_root_answers.get();
  engine_synth_nxdomain += c.engine_synth_nxdomain.get();
  engine_synth_nodata += c.engine_synth_nodata.get();
  engine_synth_wildcard += c.engine_synth_wildcard.get();
  engine_local_root_answers += c.engine_local_root_answers.get();
  ranges_stored += c.ranges_stored.get();
  range_holds += c.range_holds.get();
  ecs_queries += c.ecs_queries.get();
  ecs_scope_global += c.ecs_scope_global.get();
  ecs_scope_partition += c.ecs_scope_partition.get();
  ecs_mismatched += c.ecs_mismatched.get();
  ecs_partition_hits += c.ecs_partition_hits.get();
  addCounters(latency_hit, c.latency_hit);
  addCounters(latency_miss, c.latency_miss);
  latency_hit_sum_us += c.latency_hit.sum_us.get();
  latency_miss_sum_us += c.latency_miss.sum_us.get();
}

namespace {

/// Counters are summed over every slot, live or dead (they never go back);
/// gauges only over live processes (a dead one's last value is not now's).
void addSlot(Totals& t, const ProcessSlot& slot) {
  t.add(slot.counters);
  const auto state = static_cast<WorkerState>(slot.state.load());
  if (state == WorkerState::kExited || state == WorkerState::kEmpty) {
    t.tcp_collapsed_held -= slot.counters.tcp_collapsed_held.get();
    t.tcp_open -= slot.counters.tcp_open.get();
  }
}

}  // namespace

Totals totalsOf(const Segment& segment) {
  Totals t;
  for (size_t i = 0; i < kProcessSlots; ++i) addSlot(t, segment.slot(i));
  return t;
}

Totals totalsOfWorker(const Segment& segment, size_t index) {
  Totals t;
  if (index < kMaxWorkers) {
    addSlot(t, segment.slot(2 * index));
    addSlot(t, segment.slot(2 * index + 1));
  }
  return t;
}

double percentileUs(const std::array<uint64_t, kLatencyBuckets>& buckets, double fraction) {
  uint64_t total = 0;
  for (const uint64_t n : buckets) total += n;
  if (total == 0) return 0;
  const double rank = fraction * static_cast<double>(total);
  double seen = 0;
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    const double n = static_cast<double>(buckets[i]);
    if (n > 0 && seen + n >= rank) {
      const double low = i == 0 ? 0 : static_cast<double>(uint64_t{1} << (i - 1));
      const double high = i == 0 ? 1 : static_cast<double>(uint64_t{1} << i);
      return low + (high - low) * std::clamp((rank - seen) / n, 0.0, 1.0);
    }
    seen += n;
  }
  return static_cast<double>(uint64_t{1} << (kLatencyBuckets - 1));
}

Totals difference(const Totals& b, const Totals& a) {
  // Totals is all uint64_t fields and arrays of them: subtract word by word.
  static_assert(sizeof(Totals) % sizeof(uint64_t) == 0);
  Totals d;
  const auto* pb = reinterpret_cast<const uint64_t*>(&b);
  const auto* pa = reinterpret_cast<const uint64_t*>(&a);
  auto* pd = reinterpret_cast<uint64_t*>(&d);
  for (size_t i = 0; i < sizeof(Totals) / sizeof(uint64_t); ++i) {
    pd[i] = pb[i] >= pa[i] ? pb[i] - pa[i] : 0;
  }
  return d;
}

const char* clientBucketName(uint8_t bucket) {
  switch (bucket) {
    case 1: return "keep-active";
    case 2: return "dont-bother";
    default: return "collapse";
  }
}

std::vector<ClientRow> readClients(const ProcessSlot& slot) {
  const ClientTable& table = slot.clients;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const uint64_t before = table.sequence.load(std::memory_order_acquire);
    if ((before & 1) != 0) continue;  // being written
    const uint32_t count = std::min<uint32_t>(table.count.load(std::memory_order_relaxed),
                                              static_cast<uint32_t>(kClientRows));
    std::vector<ClientRow> rows(table.rows, table.rows + count);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (table.sequence.load(std::memory_order_relaxed) == before) return rows;
  }
  return {};
}

}  // namespace shoal::stats
