#pragma once
// The stats segment: a small POSIX shared-memory object beside the cache
// segment ("<cache name>.stats"), created by the supervisor, written by the
// workers (each its own slot, no locks) and by the supervisor (its header
// and the once-a-second samples), and read by shoalctl straight from memory,
// without asking any process: it works while the workers are busy.
//
// Everything here is read by processes of possibly another build (shoalctl,
// the next binary after an upgrade): change it only together with
// kStatsVersion. Lines that depend on it are marked STATS_LAYOUT.
//
// Each worker slot index owns two process slots (the "generations" a and
// b): a worker replaced after a crash writes the slot its predecessor
// wrote (that one is dead), while a rolling restart gives the successor
// the other one, so that the old and the new process, both alive for a
// moment, never write the same counters. Counters are never reset while
// the segment lives: the sum over every slot is monotonic, so readers
// compute rates from two readings.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shoal::stats {

inline constexpr uint64_t kMagic = 0x31535441544c4853ull;  // "SHLTATS1"  STATS_LAYOUT
inline constexpr uint32_t kVersion = 14;                    // STATS_LAYOUT
inline constexpr size_t kMaxWorkers = 256;                  // STATS_LAYOUT (config allows 256)
inline constexpr size_t kProcessSlots = 2 * kMaxWorkers;    // STATS_LAYOUT
/// Latency buckets: bucket 0 is < 1 us; bucket i (i >= 1) is
/// [2^(i-1), 2^i) microseconds; the last one is everything above.
inline constexpr size_t kLatencyBuckets = 32;  // STATS_LAYOUT
/// Samples of the totals, one a second: the last kSamples seconds.
inline constexpr size_t kSamples = 600;  // STATS_LAYOUT

static_assert(std::atomic<uint64_t>::is_always_lock_free);

/// A counter written by one process only: a relaxed load and store (no
/// locked read-modify-write on the data path); read without locks.
class Counter {
 public:
  Counter& operator++() {
    add(1);
    return *this;
  }
  Counter& operator+=(uint64_t n) {
    add(n);
    return *this;
  }
  void add(uint64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_;
};
static_assert(sizeof(Counter) == 8);

/// Response time histogram, microseconds from the query's arrival to its
/// answer leaving the worker.
struct Histogram {  // STATS_LAYOUT
  Counter buckets[kLatencyBuckets];
  Counter sum_us;
  void record(uint64_t us);
};

/// One worker process's counters (see worker/ for what each one counts).
struct WorkerCounters {  // STATS_LAYOUT
  // Client queries, by transport.
  Counter queries_udp, queries_tcp;
  // What became of them.
  Counter cache_hits;    // answered on the hot path
  Counter cache_misses;  // handed to the resolver
  Counter acl_refused, malformed, dropped;
  // UDP queries a client sent again (same address, ID and question within
  // 5 s: worker/retries.h): its timer fired, an answer was lost or late.
  Counter client_retries;
  // Responses to clients.
  Counter answers_by_rcode[16];
  Counter answers_udp, answers_tcp, answers_orphaned, send_errors;
  // Client TCP.
  Counter tcp_accepted, tcp_rejected, tcp_idle_closed, tcp_bad_length;
  // Client TCP limits (worker/tcp_server.cc): connections refused for the
  // per-client cap; idle ones closed to make room for a new one (RFC 7766
  // section 6.2.3); ones closed because the client did not read its
  // answers for the idle timeout; reads paused at a buffer cap.
  Counter tcp_client_limited, tcp_idle_evicted, tcp_stalled_closed, tcp_paused;
  // Client TCP connections accepted, by the bucket of their client
  // (worker/client_history.h).
  Counter tcp_keep_active, tcp_collapse, tcp_dont_bother;
  // Collapse (worker/collapser.h): idle connections collapsed; brought
  // back by their client's next segment; revivals that failed (the client
  // gets a reset); collapsed ones forgotten at tcp_collapsed_timeout; idle
  // connections closed rather than collapsed (data still queued,
  // tcp_collapsed_max reached, an error); segments lost to a full queue;
  // microseconds spent reviving, in all; and held: collapsed now (set, not
  // added: a gauge).
  Counter tcp_collapsed, tcp_revived, tcp_revive_failed, tcp_collapsed_expired,
      tcp_collapse_skipped, tcp_collapse_queue_drops, tcp_revive_us, tcp_collapsed_held;
  // Client TCP/TLS connections open now (set once a second: a gauge).
  Counter tcp_open;
  // dnstap (dnstap/sink.h): frames queued for the collector, and dropped
  // (its queue full: the collector slow or gone).
  Counter dnstap_frames, dnstap_dropped;
  // DNS over HTTPS (its connections and queries count as TCP and TLS too):
  // DNS queries received, requests answered with an HTTP error.
  Counter doh_queries, doh_errors;
  // DNS over TLS (its connections and queries count as TCP too).
  Counter tls_handshakes;          // completed
  Counter tls_handshake_failures;  // connections closed before their handshake completed
  // The UDP journal (worker/journal.h).
  Counter journal_replayed;  // queries a dead predecessor had read, answered
  Counter journal_skipped;   // misses not journaled (too long, or too many)
  // Upstream transport.
  Counter upstream_udp, upstream_tcp, upstream_socket_errors, upstream_swept;
  // DNS over TLS to forwarders (worker/dot_pool.h): queries, connections
  // opened, handshakes that resumed a session, queries sent again after a
  // connection that had served them broke.
  Counter upstream_tls, upstream_tls_connections, upstream_tls_resumed, upstream_tls_resent;
  // The resolver (copied from the engine's own counters after each event).
  Counter resolutions, resolution_servfails, upstream_queries, upstream_timeouts,
      upstream_errors, tcp_fallbacks, coalesced, coalesced_upstream, deadline_servfails,
      malformed_replies, stale_answers;
  // DNSSEC: resolutions answered secure, insecure, bogus; validations a
  // work cap stopped (KeyTrap, NSEC3 hashing).
  Counter dnssec_secure, dnssec_insecure, dnssec_bogus, dnssec_capped;
  // Answers synthesised from validated NSEC/NSEC3 ranges (RFC 8198), by
  // kind, and those proven by the local root zone (RFC 8806): on the hot
  // path, and in the resolver (copied from the engine); ranges the
  // resolver stored; client questions the resolver held back for the
  // ranges another question to the same zone part was bringing.
  Counter synth_nxdomain, synth_nodata, synth_wildcard, local_root_answers;
  Counter engine_synth_nxdomain, engine_synth_nodata, engine_synth_wildcard,
      engine_local_root_answers, ranges_stored, range_holds;
  // EDNS Client Subnet (RFC 7871): queries sent with a client subnet, their
  // replies by scope (0 or none: global; > 0: a partition) and those
  // dropped for an ECS option that was not what was sent (resolver); hot
  // path answers from a partitioned entry.
  Counter ecs_queries, ecs_scope_global, ecs_scope_partition, ecs_mismatched;
  Counter ecs_partition_hits;
  // Loss (resolver): hedged queries sent and those answered first; replies
  // that came after another server answered; resolutions carried on in the
  // background after their clients' deadline.
  Counter hedges_sent, hedges_won, late_replies, background_resolutions;
  Counter prefetches;  // popular entries refreshed before they expired
  // Abuse and spoofing (issue 15). Clients: UDP queries over the rate
  // limit, and of those the ones answered (TC=1 or BADCOOKIE; the rest
  // were dropped); queries with a valid server cookie of ours, and with a
  // client cookie only; cache misses refused (SERVFAIL) by the per-client
  // in-flight limit. Resolver (copied from the engine): replies whose
  // question lost its 0x20 case, whose cookie was not ours, BADCOOKIE
  // replies; answers the rebinding guard refused; client queries over the
  // resolution cap answered stale or SERVFAIL.
  Counter rate_limited, rate_slipped, cookies_valid, cookies_client_only, client_limited;
  Counter case_mismatches, cookie_mismatches, upstream_bad_cookies, rebinding_blocked;
  Counter overload_stale, overload_servfails;
  // Response times.
  Histogram latency_hit, latency_miss;
};

enum class WorkerState : uint32_t {  // STATS_LAYOUT
  kEmpty = 0,     // never used
  kStarting = 1,  // forked, not serving yet
  kReady = 2,     // serving
  kDraining = 3,  // told to stop: finishing its in-flight queries
  kExited = 4,
};

/// TCP clients the worker holds or has seen lately (shoalctl clients):
/// the busiest kClientRows, rewritten every second.
inline constexpr size_t kClientRows = 32;  // STATS_LAYOUT
struct ClientRow {  // STATS_LAYOUT
  uint8_t address[16];  // the IPv4 address, or the IPv6 /64 (zero padded)
  uint8_t v6;           // 0: IPv4 /32, 1: IPv6 /64
  uint8_t bucket;       // 0 collapse, 1 keep-active, 2 dont-bother
  uint8_t pad[2];
  uint32_t open;           // connections open now
  uint64_t connections;    // opened, in all (while remembered)
  uint64_t queries;        // over TCP, in all
  uint64_t rate_milli;     // queries per second x 1000, over about a minute
  int64_t last_ms;         // wall clock, last seen
};
/// The rows, written by the worker under a sequence count (odd: being
/// written; a reader copies and retries when it changed).
struct ClientTable {  // STATS_LAYOUT
  std::atomic<uint64_t> sequence;
  std::atomic<uint32_t> count;
  ClientRow rows[kClientRows];
};

struct alignas(64) ProcessSlot {  // STATS_LAYOUT
  std::atomic<int32_t> pid;
  std::atomic<uint32_t> state;      // WorkerState, written by the supervisor and the worker
  std::atomic<uint32_t> worker;     // the worker slot index it serves
  std::atomic<uint32_t> restarts;   // of this worker index, as the supervisor counts them
  std::atomic<int64_t> started_ms;  // wall clock
  /// CLOCK_MONOTONIC ms, written by the worker's loop every second: the
  /// supervisor kills a worker whose heartbeat is older than hang_timeout.
  std::atomic<int64_t> heartbeat_ms;
  WorkerCounters counters;
  ClientTable clients;
};

/// Totals at one second, for "the last N seconds" (written by the supervisor).
struct Sample {  // STATS_LAYOUT
  std::atomic<int64_t> at_ms;  // wall clock; 0: empty
  std::atomic<uint64_t> queries, cache_hits, cache_misses, upstream_queries, upstream_timeouts;
};

struct alignas(64) Header {  // STATS_LAYOUT
  uint64_t magic;
  uint32_t version;
  uint32_t header_size;
  uint64_t segment_size;
  // The supervisor (rewritten at start, upgrade and reload).
  std::atomic<int32_t> supervisor_pid;
  std::atomic<uint32_t> workers;  // configured worker slots
  /// Wall clock of a clean stop; 0 while running. (A pid check alone is
  /// fooled by a zombie or a reused pid.)
  std::atomic<int64_t> stopped_ms;
  std::atomic<int64_t> started_ms;  // wall clock, first start of this segment's supervisor
  std::atomic<uint64_t> upgrades, reloads, restarts;
  char version_text[32];  // NUL-terminated
  char config_path[512];
  char cache_name[256];
  char control_socket[128];
  // Cache fill, refreshed with the samples.
  std::atomic<uint64_t> cache_size, cache_entries, cache_bytes, cache_capacity;
  std::atomic<uint64_t> cache_ranges;  // NSEC/NSEC3 range entries (RFC 8198)
  std::atomic<uint64_t> sample_seq;  // samples written so far; the next goes to seq % kSamples
  Sample samples[kSamples];
  ProcessSlot slots[kProcessSlots];
};

}  // namespace shoal::stats
