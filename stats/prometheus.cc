#include "stats/prometheus.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <vector>

namespace shoal::stats {
namespace {

// stats/ knows no DNS (it depends on base only): the 16 rcodes' names are
// spelt here as dns::rcodeToText spells them.
const char* const kRcodes[16] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
                                 "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
                                 "NOTZONE", "DSOTYPENI", "RCODE12", "RCODE13", "RCODE14",
                                 "RCODE15"};

/// The page being written: each family's HELP and TYPE once, then its
/// samples.
class Page {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const char* name, const std::string& labels, uint64_t value) {
    line(name, labels);
    char text[24];
    std::snprintf(text, sizeof text, "%" PRIu64, value);
    out_ += text;
    out_ += '\n';
  }
  void sample(const char* name, const std::string& labels, double value) {
    line(name, labels);
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", value);
    out_ += text;
    out_ += '\n';
  }
  /// A family with one unlabelled sample.
  void single(const char* name, const char* type, const char* help, uint64_t value) {
    family(name, type, help);
    sample(name, "", value);
  }
  std::string take() { return std::move(out_); }

 private:
  void line(const char* name, const std::string& labels) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
  }
  std::string out_;
};

/// name="value", the value escaped (backslash, double quote, newline).
std::string label(const char* name, const std::string& value) {
  std::string out = name;
  out += "=\"";
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

void histogram(Page& page, const char* name, const char* path,
               const std::array<uint64_t, kLatencyBuckets>& buckets, uint64_t sum_us) {
  // Bucket i holds [2^(i-1), 2^i) microseconds; the last, everything above.
  uint64_t cumulative = 0;
  std::string bucket_name = std::string(name) + "_bucket";
  for (size_t i = 0; i + 1 < kLatencyBuckets; ++i) {
    cumulative += buckets[i];
    char le[32];
    std::snprintf(le, sizeof le, "%.9g", static_cast<double>(uint64_t{1} << i) / 1e6);
    page.sample(bucket_name.c_str(), label("path", path) + "," + label("le", le), cumulative);
  }
  cumulative += buckets[kLatencyBuckets - 1];
  page.sample(bucket_name.c_str(), label("path", path) + "," + label("le", "+Inf"), cumulative);
  page.sample((std::string(name) + "_sum").c_str(), label("path", path),
              static_cast<double>(sum_us) / 1e6);
  page.sample((std::string(name) + "_count").c_str(), label("path", path), cumulative);
}

}  // namespace

std::string renderPrometheus(const Segment& segment, std::span<const WorkerMetrics> workers,
                             std::span<const ServerMetrics> servers, size_t top_servers) {
  const Header& h = segment.header();
  const Totals t = totalsOf(segment);
  Page p;

  p.family("shoal_build_info", "gauge", "The running version (always 1).");
  p.sample("shoal_build_info", label("version", getText(h.version_text)), uint64_t{1});
  p.family("shoal_start_time_seconds", "gauge",
           "When the supervisor first started (Unix time; kept across upgrades).");
  p.sample("shoal_start_time_seconds", "", static_cast<double>(h.started_ms.load()) / 1000);
  p.single("shoal_workers", "gauge", "Worker processes configured.", h.workers.load());
  p.family("shoal_worker_up", "gauge", "1 while the worker serves.");
  for (const auto& w : workers) {
    p.sample("shoal_worker_up", label("worker", std::to_string(w.index)), uint64_t{w.up ? 1u : 0u});
  }
  p.family("shoal_worker_restarts_total", "counter",
           "Times the worker was started again (after a crash or a rollout).");
  for (const auto& w : workers) {
    p.sample("shoal_worker_restarts_total", label("worker", std::to_string(w.index)), w.restarts);
  }
  p.family("shoal_rollouts_total", "counter", "Rolling replacements of every worker, by cause.");
  p.sample("shoal_rollouts_total", label("cause", "reload"), h.reloads.load());
  p.sample("shoal_rollouts_total", label("cause", "restart"), h.restarts.load());
  p.sample("shoal_rollouts_total", label("cause", "upgrade"), h.upgrades.load());

  // Queries and answers.
  p.family("shoal_queries_total", "counter",
           "Client queries received, by transport (tcp includes DNS over TLS and HTTPS).");
  p.sample("shoal_queries_total", label("transport", "udp"), t.queries_udp);
  p.sample("shoal_queries_total", label("transport", "tcp"), t.queries_tcp);
  p.single("shoal_https_queries_total", "counter", "DNS queries received over HTTPS (RFC 8484).",
           t.doh_queries);
  p.family("shoal_answers_total", "counter", "Responses sent to clients, by transport.");
  p.sample("shoal_answers_total", label("transport", "udp"), t.answers_udp);
  p.sample("shoal_answers_total", label("transport", "tcp"), t.answers_tcp);
  p.family("shoal_answer_rcodes_total", "counter", "Responses sent to clients, by rcode.");
  for (size_t i = 0; i < 16; ++i) {
    if (i < 6 || t.answers_by_rcode[i] != 0) {
      p.sample("shoal_answer_rcodes_total", label("rcode", kRcodes[i]), t.answers_by_rcode[i]);
    }
  }
  p.family("shoal_queries_dropped_total", "counter",
           "Client queries not answered, by reason (refused by the ACL are answered REFUSED).");
  p.sample("shoal_queries_dropped_total", label("reason", "malformed"), t.malformed);
  p.sample("shoal_queries_dropped_total", label("reason", "dropped"), t.dropped);
  p.single("shoal_acl_refused_total", "counter", "Client queries refused by the ACL.",
           t.acl_refused);
  p.single("shoal_client_retries_total", "counter",
           "UDP queries a client sent again within 5 s (its answer lost or late).",
           t.client_retries);

  // Cache.
  p.single("shoal_cache_hits_total", "counter", "Queries answered from the cache (hot path).",
           t.cache_hits);
  p.single("shoal_cache_misses_total", "counter", "Queries handed to the resolver.",
           t.cache_misses);
  p.single("shoal_cache_entries", "gauge", "Entries in the shared cache.", h.cache_entries.load());
  p.single("shoal_cache_used_bytes", "gauge", "Bytes of cache entries.", h.cache_bytes.load());
  p.single("shoal_cache_size_bytes", "gauge", "Size of the shared cache segment.",
           h.cache_size.load());
  p.single("shoal_cache_ranges", "gauge", "Validated NSEC/NSEC3 ranges in the cache (RFC 8198).",
           h.cache_ranges.load());
  p.single("shoal_stale_answers_total", "counter", "Answers served stale (RFC 8767).",
           t.stale_answers);
  p.single("shoal_prefetches_total", "counter",
           "Popular entries refreshed before they expired.", t.prefetches);

  // Abuse and spoofing (docs/security.md).
  p.family("shoal_rate_limited_total", "counter",
           "UDP queries over the per-prefix rate limit, by what they got.");
  p.sample("shoal_rate_limited_total", label("action", "slipped"), t.rate_slipped);
  p.sample("shoal_rate_limited_total", label("action", "dropped"),
           t.rate_limited >= t.rate_slipped ? t.rate_limited - t.rate_slipped : 0);
  p.family("shoal_client_cookies_total", "counter", "Queries with a DNS cookie, by kind.");
  p.sample("shoal_client_cookies_total", label("kind", "valid"), t.cookies_valid);
  p.sample("shoal_client_cookies_total", label("kind", "client_only"), t.cookies_client_only);
  p.single("shoal_client_in_flight_limited_total", "counter",
           "Cache misses refused by the per-client in-flight limit.", t.client_limited);
  p.family("shoal_overload_total", "counter",
           "Client queries over the per-worker resolution cap, by answer.");
  p.sample("shoal_overload_total", label("answer", "stale"), t.overload_stale);
  p.sample("shoal_overload_total", label("answer", "servfail"), t.overload_servfails);
  p.family("shoal_spoofing_suspected_total", "counter",
           "Upstream replies failing a check, by check.");
  p.sample("shoal_spoofing_suspected_total", label("check", "case"), t.case_mismatches);
  p.sample("shoal_spoofing_suspected_total", label("check", "cookie"), t.cookie_mismatches);
  p.single("shoal_upstream_bad_cookies_total", "counter",
           "BADCOOKIE replies from servers (asked again with their cookie).",
           t.upstream_bad_cookies);
  p.single("shoal_rebinding_blocked_total", "counter",
           "Answers refused by the DNS rebinding guard.", t.rebinding_blocked);

  // Latency.
  p.family("shoal_response_duration_seconds", "histogram",
           "Time from a query's arrival to its answer leaving the worker, by path.");
  histogram(p, "shoal_response_duration_seconds", "hit", t.latency_hit, t.latency_hit_sum_us);
  histogram(p, "shoal_response_duration_seconds", "miss", t.latency_miss, t.latency_miss_sum_us);

  // The resolver and upstream.
  p.single("shoal_resolutions_total", "counter", "Resolutions the resolver ran.", t.resolutions);
  p.single("shoal_resolution_servfails_total", "counter", "Resolutions that ended in SERVFAIL.",
           t.resolution_servfails);
  p.family("shoal_upstream_queries_total", "counter", "Queries sent to servers, by transport.");
  p.sample("shoal_upstream_queries_total", label("transport", "udp"), t.upstream_udp);
  p.sample("shoal_upstream_queries_total", label("transport", "tcp"), t.upstream_tcp);
  p.sample("shoal_upstream_queries_total", label("transport", "tls"), t.upstream_tls);
  p.single("shoal_upstream_timeouts_total", "counter", "Queries to servers that timed out.",
           t.upstream_timeouts);
  p.single("shoal_upstream_errors_total", "counter",
           "Queries to servers that failed at once (unreachable, refused connection).",
           t.upstream_errors);
  p.single("shoal_upstream_tcp_fallbacks_total", "counter", "Truncated replies asked again over TCP.",
           t.tcp_fallbacks);
  p.family("shoal_hedges_total", "counter", "Hedged queries (a second server asked), by outcome.");
  p.sample("shoal_hedges_total", label("outcome", "sent"), t.hedges_sent);
  p.sample("shoal_hedges_total", label("outcome", "won"), t.hedges_won);

  // Per server, bounded.
  std::vector<const ServerMetrics*> order;
  for (const auto& s : servers) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const ServerMetrics* a, const ServerMetrics* b) {
    return a->queries > b->queries;
  });
  const size_t shown = std::min(order.size(), top_servers);
  ServerMetrics other;
  for (size_t i = shown; i < order.size(); ++i) {
    other.queries += order[i]->queries;
    other.replies += order[i]->replies;
    other.timeouts += order[i]->timeouts;
    other.hedges += order[i]->hedges;
  }
  const bool has_other = order.size() > shown;
  const struct {
    const char* name;
    const char* help;
    uint64_t ServerMetrics::*field;
  } counters[] = {
      {"shoal_server_queries_total", "Queries sent to the server (while its statistics live).",
       &ServerMetrics::queries},
      {"shoal_server_replies_total", "Replies from the server.", &ServerMetrics::replies},
      {"shoal_server_timeouts_total", "Queries to the server that timed out.",
       &ServerMetrics::timeouts},
      {"shoal_server_hedges_total", "Hedged queries sent to the server.", &ServerMetrics::hedges},
  };
  for (const auto& c : counters) {
    p.family(c.name, "counter", c.help);
    for (size_t i = 0; i < shown; ++i) {
      p.sample(c.name, label("server", order[i]->address), order[i]->*c.field);
    }
    if (has_other) p.sample(c.name, label("server", "other"), other.*c.field);
  }
  p.family("shoal_server_srtt_seconds", "gauge", "Smoothed round-trip time to the server.");
  for (size_t i = 0; i < shown; ++i) {
    p.sample("shoal_server_srtt_seconds", label("server", order[i]->address), order[i]->srtt_seconds);
  }
  p.family("shoal_server_rto_seconds", "gauge", "Retransmission timeout a worker uses for it now.");
  for (size_t i = 0; i < shown; ++i) {
    p.sample("shoal_server_rto_seconds", label("server", order[i]->address), order[i]->rto_seconds);
  }
  p.family("shoal_server_loss_ratio", "gauge",
           "Share of queries to the server that timed out, over a window.");
  for (size_t i = 0; i < shown; ++i) {
    const auto& s = *order[i];
    if (s.loss_1m) {
      p.sample("shoal_server_loss_ratio", label("server", s.address) + "," + label("window", "1m"),
               *s.loss_1m);
    }
    if (s.loss_5m) {
      p.sample("shoal_server_loss_ratio", label("server", s.address) + "," + label("window", "5m"),
               *s.loss_5m);
    }
  }
  p.single("shoal_servers", "gauge", "Servers with statistics in the cache.", order.size());

  // DNSSEC and synthesis.
  p.family("shoal_dnssec_resolutions_total", "counter", "Resolutions by validation outcome.");
  p.sample("shoal_dnssec_resolutions_total", label("result", "secure"), t.dnssec_secure);
  p.sample("shoal_dnssec_resolutions_total", label("result", "insecure"), t.dnssec_insecure);
  p.sample("shoal_dnssec_resolutions_total", label("result", "bogus"), t.dnssec_bogus);
  p.single("shoal_dnssec_capped_total", "counter",
           "Validations stopped by a work cap (KeyTrap, NSEC3 iterations).", t.dnssec_capped);
  p.family("shoal_synthesised_answers_total", "counter",
           "Answers synthesised from validated NSEC/NSEC3 ranges (RFC 8198), by kind.");
  p.sample("shoal_synthesised_answers_total", label("kind", "nxdomain"), t.synthesisedNxdomain());
  p.sample("shoal_synthesised_answers_total", label("kind", "nodata"), t.synthesisedNodata());
  p.sample("shoal_synthesised_answers_total", label("kind", "wildcard"), t.synthesisedWildcard());
  p.single("shoal_local_root_answers_total", "counter",
           "Answers proven by the local copy of the root zone (RFC 8806).", t.localRootAnswers());

  // EDNS Client Subnet.
  p.single("shoal_ecs_queries_total", "counter", "Queries sent upstream with a client subnet.",
           t.ecs_queries);
  p.family("shoal_ecs_replies_total", "counter",
           "Replies to those, by scope: global (0 or none) or a partition of the cache.");
  p.sample("shoal_ecs_replies_total", label("scope", "global"), t.ecs_scope_global);
  p.sample("shoal_ecs_replies_total", label("scope", "partition"), t.ecs_scope_partition);
  p.single("shoal_ecs_mismatched_total", "counter",
           "Replies dropped for an ECS option that was not what was sent.", t.ecs_mismatched);
  p.single("shoal_ecs_partition_hits_total", "counter",
           "Cache hits answered from a subnet partition.", t.ecs_partition_hits);

  // Client connections.
  p.family("shoal_tcp_connections_total", "counter", "Client TCP/TLS connections, by outcome.");
  p.sample("shoal_tcp_connections_total", label("outcome", "accepted"), t.tcp_accepted);
  p.sample("shoal_tcp_connections_total", label("outcome", "refused"), t.tcp_rejected);
  p.sample("shoal_tcp_connections_total", label("outcome", "idle_closed"), t.tcp_idle_closed);
  p.sample("shoal_tcp_connections_total", label("outcome", "evicted"), t.tcp_idle_evicted);
  p.sample("shoal_tcp_connections_total", label("outcome", "not_reading"), t.tcp_stalled_closed);
  p.family("shoal_tcp_connections_by_bucket_total", "counter",
           "Client connections accepted, by their client's bucket.");
  p.sample("shoal_tcp_connections_by_bucket_total", label("bucket", "keep-active"), t.tcp_keep_active);
  p.sample("shoal_tcp_connections_by_bucket_total", label("bucket", "collapse"), t.tcp_collapse);
  p.sample("shoal_tcp_connections_by_bucket_total", label("bucket", "dont-bother"), t.tcp_dont_bother);
  p.single("shoal_tcp_connections", "gauge", "Client TCP/TLS connections open now.", t.tcp_open);
  p.single("shoal_tcp_collapsed", "gauge", "Client connections collapsed now.",
           t.tcp_collapsed_held);
  p.family("shoal_tcp_collapses_total", "counter", "Collapsed connections, by what became of them.");
  p.sample("shoal_tcp_collapses_total", label("event", "collapsed"), t.tcp_collapsed);
  p.sample("shoal_tcp_collapses_total", label("event", "revived"), t.tcp_revived);
  p.sample("shoal_tcp_collapses_total", label("event", "revive_failed"), t.tcp_revive_failed);
  p.sample("shoal_tcp_collapses_total", label("event", "forgotten"), t.tcp_collapsed_expired);
  p.family("shoal_tls_handshakes_total", "counter", "Client TLS handshakes, by outcome.");
  p.sample("shoal_tls_handshakes_total", label("outcome", "completed"), t.tls_handshakes);
  p.sample("shoal_tls_handshakes_total", label("outcome", "failed"), t.tls_handshake_failures);
  p.single("shoal_https_errors_total", "counter", "DNS over HTTPS requests answered with an HTTP error.",
           t.doh_errors);
  p.family("shoal_dnstap_frames_total", "counter",
           "dnstap messages, by outcome: queued for the collector, or dropped (its queue full).");
  p.sample("shoal_dnstap_frames_total", label("outcome", "sent"), t.dnstap_frames);
  p.sample("shoal_dnstap_frames_total", label("outcome", "dropped"), t.dnstap_dropped);
  return p.take();
}

}  // namespace shoal::stats
