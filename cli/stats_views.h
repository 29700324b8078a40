#pragma once
// Human and JSON output of the commands read from the stats segment:
// status, stats and top. Inputs are plain values (cli/snapshot.h); the
// JSON functions return one line of JSON text without a newline.
//
// JSON shapes (numbers are plain numbers; rates and percentages are
// rounded; null means "not defined": nothing to divide by, or unknown):
//
// status:
//   {"running":true,"supervisor_pid":123,"version":"0.1.0","config":"/etc/shoal/shoal.toml",
//    "cache_name":"/shoal-cache","control_socket":"/run/shoal/control.sock",
//    "started_at_ms":<unix ms>,"uptime_s":3600.5,"upgrades":0,"reloads":1,"restarts":0,
//    "cache":{"size_bytes":..,"entries":..,"bytes":..,"capacity_bytes":..,"fill_percent":12.5},
//    "interval_s":0.5,"qps":1234.5,
//    "negative_trust_anchors":[{"name":"example.","source":"config"|"runtime",
//                               "expires_in_s":3600 (null: config),"reason":".."}, ...]
//        | null (the supervisor could not be asked: "negative_trust_anchors_error"),
//    "local_root":{"state":"disabled"|"loading"|"ok"|"failed"|"expired","serial":2024052200
//                  (null: none yet),"source":"192.0.2.1:53","transfer":"AXFR"|"IXFR (..)"|..,
//                  "age_s":300 (null: none),
//                  "last_attempt":<unix s>,"next_attempt":<unix s>,"last_error":"..",
//                  "rrsets":..,"ranges":..}
//        | null (the supervisor could not be asked: "local_root_error"),
//    "workers":[{"index":0,"pid":456,"state":"ready","alive":true,"uptime_s":12.5,
//                "restarts":0,"qps":300.2}, ...]}
//   state: "starting" | "ready" | "draining" | "exited" | "empty" | "dead"
//
// stats:
//   {"running":true,"supervisor_pid":123,
//    "queries":{"total":..,"udp":..,"tcp":..,"udp_percent":..,"tcp_percent":..},
//    "answers_by_rcode":{"NOERROR":..,"FORMERR":..,"SERVFAIL":..,"NXDOMAIN":..,
//                        "NOTIMP":..,"REFUSED":.., "<n>":.. (other rcodes, when not 0)},
//    "cache":{"hits":..,"misses":..,"hit_percent":..},
//    "window":{"requested_s":10,"actual_s":10.0,"queries":..,"qps":..,"cache_hits":..,
//              "cache_misses":..,"hit_percent":..,"upstream_queries":..,
//              "upstream_timeouts":..,"loss_percent":..} | null (fewer than 2 samples),
//    "upstream":{"queries":..,"timeouts":..,"errors":..,"loss_percent":..,
//                "tcp_fallbacks":..,"udp":..,"tcp":..,"udp_percent":..,"tcp_percent":..},
//    "acl_refused":..,"malformed":..,"dropped":..,"stale_answers":..,
//    "journal":{"replayed","not_journaled"},
//    "latency_ms":{"hit":{"count":..,"mean":..,"p50":..,"p90":..,"p99":..},
//                  "miss":{same}}}
//
// top (one object per frame and line; rates over "interval_s"):
//   {"time_ms":<unix ms>,"interval_s":1.0,"running":true,"supervisor_pid":123,
//    "version":"0.1.0","uptime_s":..,"qps":..,"upstream_qps":..,"hit_percent":..,
//    "loss_percent":..,"cache":{"entries":..,"fill_percent":..},
//    "latency_ms":{"hit":{"count":..,"mean":..,"p50":..,"p90":..,"p99":..},"miss":{same}},
//    "workers":[{"index":0,"pid":456,"state":"ready","uptime_s":..,"restarts":0,
//                "qps":..,"hit_percent":..,"p50_ms":..,"p99_ms":..}, ...]}

#include <string>
#include <vector>

#include "cli/snapshot.h"

namespace shoal::cli {

std::string statusText(const StatusReport& report);
std::string statusJson(const StatusReport& report);

std::string statsText(const StatsReport& report);
std::string statsJson(const StatsReport& report);

/// A frame of `top` as lines (no newlines, no escapes): a few summary
/// lines, a blank line, the worker table header and one line per worker.
std::vector<std::string> topLines(const TopFrame& frame);
std::string topJson(const TopFrame& frame);

}  // namespace shoal::cli
