#include "cli/stats_views.h"

#include <time.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli/format.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

// Rounded for reading; JSON keeps them as numbers.
double rounded(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

json optional(std::optional<double> value, int digits = 2) {
  return value ? json(rounded(*value, digits)) : json(nullptr);
}

json seconds(double value) { return value >= 0 ? json(rounded(value, 3)) : json(nullptr); }

json latencyJson(const LatencySummary& s) {
  return {{"count", s.count},
          {"mean", rounded(s.mean_ms, 3)},
          {"p50", rounded(s.p50_ms, 3)},
          {"p90", rounded(s.p90_ms, 3)},
          {"p99", rounded(s.p99_ms, 3)}};
}

std::string latencyText(const LatencySummary& s) {
  if (s.count == 0) return "-";
  return "p50 " + formatMs(s.p50_ms) + "  p90 " + formatMs(s.p90_ms) + "  p99 " +
         formatMs(s.p99_ms) + "  (mean " + formatMs(s.mean_ms) + ", " +
         std::to_string(s.count) + " answers)";
}

std::string u64(uint64_t n) { return std::to_string(n); }

std::string clockTime(int64_t wall_ms) {
  const time_t t = static_cast<time_t>(wall_ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  return strprintf("%02d:%02d:%02d", local.tm_hour, local.tm_min, local.tm_sec);
}

std::string cacheText(const Snapshot& s, std::optional<double> fill) {
  return s.cache_name + ": " + formatBytes(s.cache_size) + ", " + u64(s.cache_entries) +
         " entries, " + formatBytes(s.cache_bytes) + " of " + formatBytes(s.cache_capacity) +
         " used (" + formatPercent(fill) + ")";
}

std::string rcodeText(const stats::Totals& t) {
  std::string out;
  for (size_t i = 0; i < t.answers_by_rcode.size(); ++i) {
    if (i > 5 && t.answers_by_rcode[i] == 0) continue;
    if (!out.empty()) out += "  ";
    out += rcodeName(i) + " " + u64(t.answers_by_rcode[i]);
  }
  return out;
}

std::string windowText(const StatsReport& r) {
  if (!r.window) return "not available yet (fewer than two samples)";
  const SampleWindow& w = *r.window;
  const uint64_t looked_up = w.cache_hits + w.cache_misses;
  std::string text = "qps " +
                     formatRate(w.actual_s > 0 ? static_cast<double>(w.queries) / w.actual_s : 0) +
                     ", hit rate " + formatPercent(percentOf(w.cache_hits, looked_up)) +
                     ", loss " + formatPercent(percentOf(w.upstream_timeouts, w.upstream_queries));
  // A young ring (or a supervisor that skipped samples) gives less.
  if (w.actual_s + 1 < static_cast<double>(w.requested_s)) {
    text += strprintf(w.actual_s < 10 ? " (over the %.1fs sampled so far)"
                                      : " (over the %.0fs sampled so far)",
                      w.actual_s);
  }
  return text;
}

/// The negative trust anchors on one line: how many, the first few.
std::string anchorsText(const StatusReport& r) {
  if (!r.negative_anchors) return "unknown (" + r.anchors_error + ")";
  const std::vector<AnchorInfo>& anchors = *r.negative_anchors;
  if (anchors.empty()) return "none";
  constexpr size_t kShown = 3;
  std::string out = std::to_string(anchors.size()) + ":";
  for (size_t i = 0; i < anchors.size() && i < kShown; ++i) {
    const AnchorInfo& a = anchors[i];
    out += (i == 0 ? " " : ", ") + a.name + " (" +
           (a.expires_in_s ? formatUptime(*a.expires_in_s) + " left" : a.source) + ")";
  }
  if (anchors.size() > kShown) {
    out += ", +" + std::to_string(anchors.size() - kShown) + " (shoalctl nta list)";
  }
  return out;
}

json anchorsJson(const StatusReport& r) {
  if (!r.negative_anchors) return nullptr;
  json out = json::array();
  for (const AnchorInfo& a : *r.negative_anchors) {
    out.push_back({{"name", a.name},
                   {"source", a.source},
                   {"expires_in_s", a.expires_in_s ? json(rounded(*a.expires_in_s, 0)) : json()},
                   {"reason", a.reason}});
  }
  return out;
}

/// The local root on one line: its state, the serial in use, where from,
/// how old; why not when it is not in use.
std::string localRootText(const StatusReport& r) {
  if (!r.local_root) return "unknown (" + r.local_root_error + ")";
  const LocalRootInfo& lr = *r.local_root;
  std::string out = lr.state;
  if (lr.serial) {
    out += ": serial " + std::to_string(*lr.serial) + " from " + lr.source;
    // The method, without its details ("IXFR (1 step, ...)" -> "IXFR").
    const std::string method = lr.transfer.substr(0, lr.transfer.find(' '));
    if (!method.empty()) out += " by " + method;
    if (lr.age_s) out += ", loaded " + formatUptime(*lr.age_s) + " ago";
    if (lr.state == "ok") {
      out += " (" + u64(lr.rrsets) + " RRsets, " + u64(lr.ranges) + " ranges)";
    }
  }
  if (lr.state != "ok" && lr.state != "disabled") {
    constexpr size_t kShownError = 160;
    std::string error = lr.last_error.size() > kShownError
                            ? lr.last_error.substr(0, kShownError) + "..."
                            : lr.last_error;
    if (!error.empty()) out += (lr.serial ? "; " : ": ") + error;
    if (lr.state != "loading") out += " (resolving from the root servers)";
  }
  return out;
}

json localRootJson(const StatusReport& r) {
  if (!r.local_root) return nullptr;
  const LocalRootInfo& lr = *r.local_root;
  return {{"state", lr.state},
          {"serial", lr.serial ? json(*lr.serial) : json(nullptr)},
          {"source", lr.source},
          {"transfer", lr.transfer},
          {"age_s", lr.age_s ? json(rounded(*lr.age_s, 0)) : json(nullptr)},
          {"last_attempt", lr.last_attempt},
          {"next_attempt", lr.next_attempt},
          {"last_error", lr.last_error},
          {"rrsets", lr.rrsets},
          {"ranges", lr.ranges}};
}

}  // namespace

std::string statusText(const StatusReport& r) {
  const Snapshot& s = r.now;
  std::string out = "shoal " + s.version + " is running: supervisor pid " +
                    std::to_string(s.supervisor_pid) + ", up " + formatUptime(r.uptime_s) + "\n";
  out += "config      " + s.config_path + "\n";
  out += "control     " + s.control_socket + "\n";
  out += "cache       " + cacheText(s, r.fill_percent) + "\n";
  out += "applied     " + u64(s.upgrades) + " upgrades, " + u64(s.reloads) + " reloads, " +
         u64(s.restarts) + " restarts\n";
  out += "nta         " + anchorsText(r) + "\n";
  out += "local root  " + localRootText(r) + "\n";
  out += strprintf("qps         %s (over %.1f s)\n", formatRate(r.qps).c_str(), r.interval_s);
  out += "\n";
  Table table({{"WORKER", Table::Align::kRight},
               {"PID", Table::Align::kRight},
               {"STATE"},
               {"UPTIME", Table::Align::kRight},
               {"RESTARTS", Table::Align::kRight},
               {"QPS", Table::Align::kRight}});
  for (const WorkerStatus& w : r.workers) {
    table.addRow({std::to_string(w.info.index), w.info.pid > 0 ? std::to_string(w.info.pid) : "-",
                  w.state, formatUptime(w.uptime_s), std::to_string(w.info.restarts),
                  formatRate(w.qps)});
  }
  out += table.render();
  return out;
}

std::string statusJson(const StatusReport& r) {
  const Snapshot& s = r.now;
  json workers = json::array();
  for (const WorkerStatus& w : r.workers) {
    workers.push_back({{"index", w.info.index},
                       {"pid", w.info.pid},
                       {"state", w.state},
                       {"alive", w.info.alive},
                       {"uptime_s", seconds(w.uptime_s)},
                       {"restarts", w.info.restarts},
                       {"qps", rounded(w.qps, 2)}});
  }
  json out = {
      {"running", s.supervisor_alive},
      {"supervisor_pid", s.supervisor_pid},
      {"version", s.version},
      {"config", s.config_path},
      {"cache_name", s.cache_name},
      {"control_socket", s.control_socket},
      {"started_at_ms", s.started_ms},
      {"uptime_s", seconds(r.uptime_s)},
      {"upgrades", s.upgrades},
      {"reloads", s.reloads},
      {"restarts", s.restarts},
      {"cache",
       {{"size_bytes", s.cache_size},
        {"entries", s.cache_entries},
        {"bytes", s.cache_bytes},
        {"capacity_bytes", s.cache_capacity},
        {"fill_percent", optional(r.fill_percent)}}},
      {"interval_s", rounded(r.interval_s, 3)},
      {"qps", rounded(r.qps, 2)},
      {"negative_trust_anchors", anchorsJson(r)},
      {"local_root", localRootJson(r)},
      {"workers", workers}};
  if (!r.negative_anchors) out["negative_trust_anchors_error"] = r.anchors_error;
  if (!r.local_root) out["local_root_error"] = r.local_root_error;
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string statsText(const StatsReport& r) {
  const stats::Totals& t = r.totals;
  const uint64_t queries = t.queries();
  const uint64_t looked_up = t.cache_hits + t.cache_misses;
  const uint64_t upstream = t.upstream_udp + t.upstream_tcp;
  std::string out;
  out += "queries         " + u64(queries) + "  (udp " + u64(t.queries_udp) + " " +
         formatPercent(percentOf(t.queries_udp, queries)) + ", tcp " + u64(t.queries_tcp) + " " +
         formatPercent(percentOf(t.queries_tcp, queries)) + ")\n";
  out += "answers         " + rcodeText(t) + "\n";
  out += "cache           hits " + u64(t.cache_hits) + ", misses " + u64(t.cache_misses) +
         ", hit rate " + formatPercent(percentOf(t.cache_hits, looked_up)) + "\n";
  out += strprintf("%-16s", ("last " + std::to_string(r.requested_window_s) + "s").c_str()) +
         windowText(r) + "\n";
  out += "upstream        queries " + u64(t.upstream_queries) + ", timeouts " +
         u64(t.upstream_timeouts) + ", errors " + u64(t.upstream_errors) + ", loss " +
         formatPercent(percentOf(t.upstream_timeouts, t.upstream_queries)) + "\n";
  out += "                tcp fallbacks " + u64(t.tcp_fallbacks) + ", udp " +
         formatPercent(percentOf(t.upstream_udp, upstream)) + " / tcp " +
         formatPercent(percentOf(t.upstream_tcp, upstream)) + "\n";
  out += "tcp clients     open " + u64(t.tcp_open) + ", accepted " + u64(t.tcp_accepted) + ", refused " + u64(t.tcp_rejected) +
         " (per-client cap " + u64(t.tcp_client_limited) + "), closed idle " +
         u64(t.tcp_idle_closed) + " (for room " + u64(t.tcp_idle_evicted) + "), not reading " +
         u64(t.tcp_stalled_closed) + ", paused " + u64(t.tcp_paused) + ", bad length " +
         u64(t.tcp_bad_length) + "\n";
  out += "                by bucket: keep-active " + u64(t.tcp_keep_active) + ", collapse " +
         u64(t.tcp_collapse) + ", dont-bother " + u64(t.tcp_dont_bother) + " (shoalctl clients)\n";
  if (t.tcp_collapsed > 0 || t.tcp_collapse_skipped > 0) {
    out += "collapsed       now " + u64(t.tcp_collapsed_held) + ", in all " + u64(t.tcp_collapsed) +
           ", revived " + u64(t.tcp_revived) + " (failed " + u64(t.tcp_revive_failed) +
           ", mean " +
           (t.tcp_revived > 0 ? u64(t.tcp_revive_us / t.tcp_revived) + " us" : std::string("-")) +
           "), forgotten " + u64(t.tcp_collapsed_expired) + ", closed instead " +
           u64(t.tcp_collapse_skipped) + ", queue drops " + u64(t.tcp_collapse_queue_drops) + "\n";
  }
  out += "tls             handshakes " + u64(t.tls_handshakes) + ", failed " +
         u64(t.tls_handshake_failures) + "\n";
  out += "doh             queries " + u64(t.doh_queries) + ", http errors " + u64(t.doh_errors) +
         "\n";
  if (t.dnstap_frames > 0 || t.dnstap_dropped > 0) {
    out += "dnstap          frames " + u64(t.dnstap_frames) + ", dropped " + u64(t.dnstap_dropped) +
           " (the collector slow or gone)\n";
  }
  if (t.upstream_tls_connections > 0) {
    out += "tls upstream    queries " + u64(t.upstream_tls) + ", connections " +
           u64(t.upstream_tls_connections) + " (resumed " + u64(t.upstream_tls_resumed) +
           "), queries per connection " +
           strprintf("%.1f", static_cast<double>(t.upstream_tls) /
                                 static_cast<double>(t.upstream_tls_connections)) +
           ", sent again " + u64(t.upstream_tls_resent) + "\n";
  }
  out += "client retries  " + u64(t.client_retries) + " (" +
         formatPercent(percentOf(t.client_retries, t.queries_udp)) +
         " of udp queries: asked again within 5 s, an answer lost or late)\n";
  out += "refused (acl)   " + u64(t.acl_refused) + "\n";
  out += "malformed       " + u64(t.malformed) + "\n";
  out += "dropped         " + u64(t.dropped) + "\n";
  out += "                hedged " + u64(t.hedges_sent) + " (" +
         formatPercent(percentOf(t.hedges_sent, t.upstream_queries)) + "), won " +
         u64(t.hedges_won) + ", late replies " + u64(t.late_replies) +
         ", in the background " + u64(t.background_resolutions) + "\n";
  out += "stale answers   " + u64(t.stale_answers) + "\n";
  out += "prefetched      " + u64(t.prefetches) + " (popular entries refreshed before they expired)\n";
  out += "limits          rate limited " + u64(t.rate_limited) + " (slipped " +
         u64(t.rate_slipped) + "), in flight per client " + u64(t.client_limited) +
         ", overload stale " + u64(t.overload_stale) + ", servfail " +
         u64(t.overload_servfails) + "\n";
  out += "cookies         valid " + u64(t.cookies_valid) + ", client only " +
         u64(t.cookies_client_only) + " (client queries)\n";
  out += "spoofing        0x20 mismatches " + u64(t.case_mismatches) + ", cookie mismatches " +
         u64(t.cookie_mismatches) + ", upstream badcookie " + u64(t.upstream_bad_cookies) +
         ", rebinding blocked " + u64(t.rebinding_blocked) + "\n";
  out += "dnssec          secure " + u64(t.dnssec_secure) + ", insecure " +
         u64(t.dnssec_insecure) + ", bogus " + u64(t.dnssec_bogus) + ", capped " +
         u64(t.dnssec_capped) + " (resolutions)\n";
  out += "synthesised     nxdomain " + u64(t.synthesisedNxdomain()) + ", nodata " +
         u64(t.synthesisedNodata()) + ", wildcard " + u64(t.synthesisedWildcard()) +
         " (from NSEC/NSEC3 ranges, RFC 8198)\n";
  out += "                local root " + u64(t.localRootAnswers()) + ", ranges in cache " +
         u64(r.cache_ranges) + ", ranges stored " + u64(t.ranges_stored) + "\n";
  out += "                held for ranges " + u64(t.range_holds) +
         " (questions that waited for another's answer to the same zone part)\n";
  out += "ecs             queries " + u64(t.ecs_queries) + ", replies global " +
         u64(t.ecs_scope_global) + ", partitioned " + u64(t.ecs_scope_partition) +
         ", mismatched " + u64(t.ecs_mismatched) + " (EDNS Client Subnet, RFC 7871)\n";
  out += "                hits partitioned " + u64(t.ecs_partition_hits) + ", global " +
         u64(t.cache_hits - std::min(t.cache_hits, t.ecs_partition_hits)) + "\n";
  out += "replayed        " + u64(t.journal_replayed) +
         " (read by a worker that died, answered by its replacement)\n";
  out += "latency ms hit  " + latencyText(r.hit) + "\n";
  out += "          miss  " + latencyText(r.miss) + "\n";
  return out;
}

std::string statsJson(const StatsReport& r) {
  const stats::Totals& t = r.totals;
  const uint64_t queries = t.queries();
  const uint64_t upstream = t.upstream_udp + t.upstream_tcp;
  json rcodes = json::object();
  for (size_t i = 0; i < t.answers_by_rcode.size(); ++i) {
    if (i <= 5 || t.answers_by_rcode[i] != 0) rcodes[rcodeName(i)] = t.answers_by_rcode[i];
  }
  json window = nullptr;
  if (r.window) {
    const SampleWindow& w = *r.window;
    window = {{"requested_s", w.requested_s},
              {"actual_s", rounded(w.actual_s, 3)},
              {"queries", w.queries},
              {"qps", rounded(w.actual_s > 0 ? static_cast<double>(w.queries) / w.actual_s : 0, 2)},
              {"cache_hits", w.cache_hits},
              {"cache_misses", w.cache_misses},
              {"hit_percent", optional(percentOf(w.cache_hits, w.cache_hits + w.cache_misses))},
              {"upstream_queries", w.upstream_queries},
              {"upstream_timeouts", w.upstream_timeouts},
              {"loss_percent", optional(percentOf(w.upstream_timeouts, w.upstream_queries))}};
  }
  const json out = {
      {"running", r.supervisor_alive},
      {"supervisor_pid", r.supervisor_pid},
      {"queries",
       {{"total", queries},
        {"udp", t.queries_udp},
        {"tcp", t.queries_tcp},
        {"udp_percent", optional(percentOf(t.queries_udp, queries))},
        {"tcp_percent", optional(percentOf(t.queries_tcp, queries))}}},
      {"answers_by_rcode", rcodes},
      {"cache",
       {{"hits", t.cache_hits},
        {"misses", t.cache_misses},
        {"hit_percent", optional(percentOf(t.cache_hits, t.cache_hits + t.cache_misses))}}},
      {"window", window},
      {"upstream",
       {{"queries", t.upstream_queries},
        {"timeouts", t.upstream_timeouts},
        {"errors", t.upstream_errors},
        {"loss_percent", optional(percentOf(t.upstream_timeouts, t.upstream_queries))},
        {"tcp_fallbacks", t.tcp_fallbacks},
        {"hedges_sent", t.hedges_sent},
        {"hedges_won", t.hedges_won},
        {"late_replies", t.late_replies},
        {"background_resolutions", t.background_resolutions},
        {"udp", t.upstream_udp},
        {"tcp", t.upstream_tcp},
        {"udp_percent", optional(percentOf(t.upstream_udp, upstream))},
        {"tcp_percent", optional(percentOf(t.upstream_tcp, upstream))},
        {"tls", t.upstream_tls},
        {"tls_connections", t.upstream_tls_connections},
        {"tls_resumed", t.upstream_tls_resumed},
        {"tls_resent", t.upstream_tls_resent}}},
      {"tcp_clients",
       {{"open", t.tcp_open},
        {"accepted", t.tcp_accepted},
        {"refused", t.tcp_rejected},
        {"client_limited", t.tcp_client_limited},
        {"idle_closed", t.tcp_idle_closed},
        {"idle_evicted", t.tcp_idle_evicted},
        {"stalled_closed", t.tcp_stalled_closed},
        {"paused", t.tcp_paused},
        {"keep_active", t.tcp_keep_active},
        {"collapse", t.tcp_collapse},
        {"dont_bother", t.tcp_dont_bother},
        {"collapsed", t.tcp_collapsed},
        {"collapsed_now", t.tcp_collapsed_held},
        {"revived", t.tcp_revived},
        {"revive_failed", t.tcp_revive_failed},
        {"revive_us", t.tcp_revive_us},
        {"collapsed_expired", t.tcp_collapsed_expired},
        {"collapse_skipped", t.tcp_collapse_skipped},
        {"collapse_queue_drops", t.tcp_collapse_queue_drops},
        {"bad_length", t.tcp_bad_length}}},
      {"tls", {{"handshakes", t.tls_handshakes}, {"handshake_failures", t.tls_handshake_failures}}},
      {"doh", {{"queries", t.doh_queries}, {"http_errors", t.doh_errors}}},
      {"dnstap", {{"frames", t.dnstap_frames}, {"dropped", t.dnstap_dropped}}},
      {"acl_refused", t.acl_refused},
      {"client_retries", t.client_retries},
      {"malformed", t.malformed},
      {"dropped", t.dropped},
      {"stale_answers", t.stale_answers},
      {"prefetches", t.prefetches},
      {"limits",
       {{"rate_limited", t.rate_limited},
        {"rate_slipped", t.rate_slipped},
        {"client_in_flight_limited", t.client_limited},
        {"overload_stale", t.overload_stale},
        {"overload_servfails", t.overload_servfails}}},
      {"cookies", {{"valid", t.cookies_valid}, {"client_only", t.cookies_client_only}}},
      {"spoofing",
       {{"case_mismatches", t.case_mismatches},
        {"cookie_mismatches", t.cookie_mismatches},
        {"upstream_bad_cookies", t.upstream_bad_cookies},
        {"rebinding_blocked", t.rebinding_blocked}}},
      {"dnssec",
       {{"secure", t.dnssec_secure},
        {"insecure", t.dnssec_insecure},
        {"bogus", t.dnssec_bogus},
        {"capped", t.dnssec_capped}}},
      {"synthesised",
       {{"nxdomain", t.synthesisedNxdomain()},
        {"nodata", t.synthesisedNodata()},
        {"wildcard", t.synthesisedWildcard()},
        {"local_root", t.localRootAnswers()},
        {"ranges_in_cache", r.cache_ranges},
        {"ranges_stored", t.ranges_stored},
        {"held_for_ranges", t.range_holds}}},
      {"ecs",
       {{"queries", t.ecs_queries},
        {"replies_global", t.ecs_scope_global},
        {"replies_partitioned", t.ecs_scope_partition},
        {"mismatched", t.ecs_mismatched},
        {"hits_partitioned", t.ecs_partition_hits},
        {"hits_global", t.cache_hits - std::min(t.cache_hits, t.ecs_partition_hits)}}},
      {"journal", {{"replayed", t.journal_replayed}, {"not_journaled", t.journal_skipped}}},
      {"latency_ms", {{"hit", latencyJson(r.hit)}, {"miss", latencyJson(r.miss)}}}};
  return out.dump();
}

std::vector<std::string> topLines(const TopFrame& f) {
  std::vector<std::string> lines;
  lines.push_back("shoal " + f.version + "  pid " + std::to_string(f.supervisor_pid) +
                  (f.supervisor_alive ? "" : " (not running)") + "  up " +
                  formatUptime(f.uptime_s) + "  cache " + u64(f.cache_entries) + " entries, " +
                  formatPercent(f.fill_percent) + " full  " + clockTime(f.wall_ms));
  lines.push_back("qps " + formatRate(f.qps) + "  hit rate " + formatPercent(f.hit_percent) +
                  "  upstream " + formatRate(f.upstream_qps) + "/s  loss " +
                  formatPercent(f.loss_percent) + strprintf("  (last %.1fs)", f.interval_s));
  lines.push_back("hedged " + formatRate(f.hedge_qps) + "/s (won " +
                  formatPercent(f.hedge_won_percent) + ")  client retries " +
                  formatRate(f.retry_qps) + "/s (" + formatPercent(f.retry_percent) +
                  " of udp)  stale " + formatRate(f.stale_qps) + "/s  prefetched " +
                  formatRate(f.prefetch_qps) + "/s");
  lines.push_back("synthesised " + formatRate(f.synthesised_qps) + "/s  local root " +
                  formatRate(f.local_root_qps) + "/s  ranges " + u64(f.cache_ranges) +
                  "  (RFC 8198 answers from NSEC/NSEC3 ranges)");
  lines.push_back("latency ms  hits " + latencyText(f.hit));
  lines.push_back("          misses " + latencyText(f.miss));
  lines.emplace_back();
  Table table({{"WORKER", Table::Align::kRight},
               {"PID", Table::Align::kRight},
               {"STATE"},
               {"QPS", Table::Align::kRight},
               {"HIT%", Table::Align::kRight},
               {"P50 ms", Table::Align::kRight},
               {"P99 ms", Table::Align::kRight},
               {"RESTARTS", Table::Align::kRight},
               {"UPTIME", Table::Align::kRight}});
  for (const TopWorker& w : f.workers) {
    const bool any = w.latency.count > 0;
    table.addRow({std::to_string(w.index), w.pid > 0 ? std::to_string(w.pid) : "-", w.state,
                  formatRate(w.qps), formatPercent(w.hit_percent),
                  any ? formatMs(w.latency.p50_ms) : "-", any ? formatMs(w.latency.p99_ms) : "-",
                  std::to_string(w.restarts), formatUptime(w.uptime_s)});
  }
  const std::string rendered = table.render();
  size_t start = 0;
  while (start < rendered.size()) {
    const size_t end = rendered.find('\n', start);
    lines.push_back(rendered.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string topJson(const TopFrame& f) {
  json workers = json::array();
  for (const TopWorker& w : f.workers) {
    workers.push_back({{"index", w.index},
                       {"pid", w.pid},
                       {"state", w.state},
                       {"uptime_s", seconds(w.uptime_s)},
                       {"restarts", w.restarts},
                       {"qps", rounded(w.qps, 2)},
                       {"hit_percent", optional(w.hit_percent)},
                       {"p50_ms", rounded(w.latency.p50_ms, 3)},
                       {"p99_ms", rounded(w.latency.p99_ms, 3)}});
  }
  const json out = {{"time_ms", f.wall_ms},
                    {"interval_s", rounded(f.interval_s, 3)},
                    {"running", f.supervisor_alive},
                    {"supervisor_pid", f.supervisor_pid},
                    {"version", f.version},
                    {"uptime_s", seconds(f.uptime_s)},
                    {"qps", rounded(f.qps, 2)},
                    {"upstream_qps", rounded(f.upstream_qps, 2)},
                    {"hit_percent", optional(f.hit_percent)},
                    {"loss_percent", optional(f.loss_percent)},
                    {"synthesised_qps", rounded(f.synthesised_qps, 2)},
                    {"local_root_qps", rounded(f.local_root_qps, 2)},
                    {"hedge_qps", rounded(f.hedge_qps, 2)},
                    {"hedge_won_percent", optional(f.hedge_won_percent)},
                    {"client_retry_qps", rounded(f.retry_qps, 2)},
                    {"client_retry_percent", optional(f.retry_percent)},
                    {"stale_qps", rounded(f.stale_qps, 2)},
                    {"prefetch_qps", rounded(f.prefetch_qps, 2)},
                    {"cache", {{"ranges", f.cache_ranges},
                               {"entries", f.cache_entries},
                               {"fill_percent", optional(f.fill_percent)}}},
                    {"latency_ms", {{"hit", latencyJson(f.hit)}, {"miss", latencyJson(f.miss)}}},
                    {"workers", workers}};
  return out.dump();
}

}  // namespace shoal::cli
