#pragma once
// Opening the stats segment (see layout.h), and what readers compute from
// it: totals over every process slot, and percentiles from the histograms.
// Not on the data path: the supervisor and shoalctl use it, and they may
// throw (the workers only get a ProcessSlot reference).

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stats/layout.h"

namespace shoal::stats {

/// The stats object that goes with a cache segment: "/shoal-cache" ->
/// "/shoal-cache.stats".
std::string segmentName(const std::string& cache_name);

class Segment {
 public:
  /// The supervisor: attaches to a compatible segment of that name and keeps
  /// its counters (`keep`: after an upgrade), or creates it anew. `mode` and
  /// `group` (-1: unchanged) set who may read it.
  /// Throws std::runtime_error with a one-line message.
  static std::unique_ptr<Segment> create(const std::string& name, bool keep, mode_t mode,
                                         gid_t group);
  /// Readers (shoalctl): maps it read-only. Throws std::runtime_error with
  /// a message when it is missing, unreadable or of another layout.
  static std::unique_ptr<Segment> attachReadOnly(const std::string& name);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  Header& header() { return *header_; }
  const Header& header() const { return *header_; }
  ProcessSlot& slot(size_t i) { return header_->slots[i]; }
  const ProcessSlot& slot(size_t i) const { return header_->slots[i]; }

 private:
  Segment(Header* header, size_t size) : header_(header), size_(size) {}
  Header* header_;
  size_t size_;
};

/// Copies a string into a fixed header field (truncated, NUL-terminated).
template <size_t N>
void setText(char (&field)[N], const std::string& text) {
  const size_t n = text.size() < N - 1 ? text.size() : N - 1;
  for (size_t i = 0; i < n; ++i) field[i] = text[i];
  field[n] = '\0';
}
template <size_t N>
std::string getText(const char (&field)[N]) {
  size_t n = 0;
  while (n < N && field[n] != '\0') ++n;
  return std::string(field, n);
}

/// A plain copy of WorkerCounters (summed over slots).
struct Totals {
  uint64_t queries_udp = 0, queries_tcp = 0, cache_hits = 0, cache_misses = 0;
  uint64_t acl_refused = 0, malformed = 0, dropped = 0, client_retries = 0;
  std::array<uint64_t, 16> answers_by_rcode{};
  uint64_t answers_udp = 0, answers_tcp = 0, answers_orphaned = 0, send_errors = 0;
  uint64_t tcp_accepted = 0, tcp_rejected = 0, tcp_idle_closed = 0, tcp_bad_length = 0;
  uint64_t tls_handshakes = 0, tls_handshake_failures = 0;
  uint64_t journal_replayed = 0, journal_skipped = 0;
  uint64_t upstream_udp = 0, upstream_tcp = 0, upstream_socket_errors = 0, upstream_swept = 0;
  uint64_t tcp_keep_active = 0, tcp_collapse = 0, tcp_dont_bother = 0;
  uint64_t tcp_collapsed = 0, tcp_revived = 0, tcp_revive_failed = 0, tcp_collapsed_expired = 0;
  uint64_t tcp_collapse_skipped = 0, tcp_collapse_queue_drops = 0, tcp_revive_us = 0;
  uint64_t tcp_collapsed_held = 0, tcp_open = 0;
  uint64_t dnstap_frames = 0, dnstap_dropped = 0;
  uint64_t doh_queries = 0, doh_errors = 0;
  uint64_t tcp_client_limited = 0, tcp_idle_evicted = 0, tcp_stalled_closed = 0, tcp_paused = 0;
  uint64_t upstream_tls = 0, upstream_tls_connections = 0, upstream_tls_resumed = 0;
  uint64_t upstream_tls_resent = 0;
  uint64_t resolutions = 0, resolution_servfails = 0, upstream_queries = 0, upstream_timeouts = 0;
  uint64_t upstream_errors = 0, tcp_fallbacks = 0, coalesced = 0, coalesced_upstream = 0;
  uint64_t deadline_servfails = 0, malformed_replies = 0, stale_answers = 0;
  uint64_t dnssec_secure = 0, dnssec_insecure = 0, dnssec_bogus = 0, dnssec_capped = 0;
  uint64_t synth_nxdomain = 0, synth_nodata = 0, synth_wildcard = 0, local_root_answers = 0;
  uint64_t engine_synth_nxdomain = 0, engine_synth_nodata = 0, engine_synth_wildcard = 0;
  uint64_t engine_local_root_answers = 0, ranges_stored = 0, range_holds = 0;
  uint64_t ecs_queries = 0, ecs_scope_global = 0, ecs_scope_partition = 0, ecs_mismatched = 0;
  uint64_t ecs_partition_hits = 0;
  uint64_t hedges_sent = 0, hedges_won = 0, late_replies = 0, background_resolutions = 0;
  uint64_t prefetches = 0;
  uint64_t rate_limited = 0, rate_slipped = 0, cookies_valid = 0, cookies_client_only = 0;
  uint64_t client_limited = 0, case_mismatches = 0, cookie_mismatches = 0;
  uint64_t upstream_bad_cookies = 0, rebinding_blocked = 0, overload_stale = 0;
  uint64_t overload_servfails = 0;
  std::array<uint64_t, kLatencyBuckets> latency_hit{}, latency_miss{};
  uint64_t latency_hit_sum_us = 0, latency_miss_sum_us = 0;

  uint64_t queries() const { return queries_udp + queries_tcp; }
  // Answers synthesised from ranges: hot path and resolver together.
  uint64_t synthesisedNxdomain() const { return synth_nxdomain + engine_synth_nxdomain; }
  uint64_t synthesisedNodata() const { return synth_nodata + engine_synth_nodata; }
  uint64_t synthesisedWildcard() const { return synth_wildcard + engine_synth_wildcard; }
  uint64_t synthesised() const {
    return synthesisedNxdomain() + synthesisedNodata() + synthesisedWildcard();
  }
  uint64_t localRootAnswers() const { return local_root_answers + engine_local_root_answers; }
  void add(const WorkerCounters& c);
};

/// Sum over every process slot (live or dead: counters are never reset;
/// gauges, tcp_open and tcp_collapsed_held, over live processes only).
Totals totalsOf(const Segment& segment);
/// Sum over the two process slots of worker `index`.
Totals totalsOfWorker(const Segment& segment, size_t index);

/// The latency below which `fraction` (0..1) of the samples fall, in
/// microseconds, interpolated inside the bucket; 0 when empty.
double percentileUs(const std::array<uint64_t, kLatencyBuckets>& buckets, double fraction);

/// `b` minus `a`, field by field (for rates between two readings).
Totals difference(const Totals& b, const Totals& a);

/// "collapse", "keep-active", "dont-bother" (ClientRow::bucket).
const char* clientBucketName(uint8_t bucket);

/// A consistent copy of a process slot's client table (retried while its
/// worker rewrites it; empty if it never settles).
std::vector<ClientRow> readClients(const ProcessSlot& slot);

}  // namespace shoal::stats
