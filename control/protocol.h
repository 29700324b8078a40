#pragma once
// The control protocol between shoalctl and the supervisor.
//
// Transport: a Unix stream socket (config key control.socket; mode 0660
// with group control.group, 0600 when no group is set). The supervisor
// checks the peer's credentials (SO_PEERCRED, SO_PEERGROUPS): root, the
// supervisor's own user and members of control.group are served; anyone
// else gets one error line (once it has sent its request) and the
// connection is closed.
//
// Framing: the client sends one request, a JSON object on one line ending
// in "\n"; the supervisor answers with one JSON object on one line and
// closes the connection. Requests are at most kMaxRequest bytes.
// Long commands (reload, restart, upgrade) answer only when done.
//
// Every answer has "ok": true, or "ok": false and "error": "<one line for
// the operator>". Requests ("command" and arguments) and answers:
//
//   {"command":"ping"}
//     -> {"ok":true,"pid":123,"version":"0.1.0","cache":"/shoal-cache",
//         "stats":"/shoal-cache.stats"}
//   {"command":"status"}
//     -> {"ok":true,"pid":..,"version":"..","config":"/path","started_at":<unix s>,
//         "generation":<upgrades+restarts+reloads applied>,
//         "rollout":"" or the restart/reload/upgrade in progress,
//         "retiring":<old workers still draining>,
//         "negative_trust_anchors":<how many: the config's and the runtime ones>,
//         "local_root":<as below>,
//         "workers":[{"index":0,"pid":456,"state":"ready","uptime_s":12.5,
//                     "restarts":0}, ...]}
//   {"command":"local_root"}
//     -> {"ok":true,"local_root":{"state":"ok","serial":2024052200,
//         "source":"192.0.2.1:53","transfer":"IXFR (1 step, 6 records deleted, 6 added)",
//         "loaded_at":<unix s>,"age_s":300,
//         "refreshed_at":<unix s>,"last_attempt":<unix s>,"next_attempt":<unix s>,
//         "last_error":"","rrsets":2500,"ranges":1450,"pid":789,"restarts":0}}
//         The local copy of the root zone (RFC 8806; docs/local-root.md).
//         state: "disabled" (local_root.enabled = false: only "state" is
//         set), "loading" (first transfer under way), "ok" (in use),
//         "failed" (no copy verified or no source answered: iterating),
//         "expired" (not refreshed within the SOA expire: iterating).
//         serial, source, loaded_at, age_s: the copy in use (or last used);
//         null / 0 before any. transfer: how the copy in use came ("AXFR",
//         "IXFR (...)", "IXFR answered with the whole zone", "AXFR (IXFR
//         failed: why)"). last_error: why the last attempt failed.
//   {"command":"servers"}
//     -> {"ok":true,"servers":[{"address":"10.53.0.1","zones":["."],
//         "srtt_ms":1.2,"rto_ms":50,"queries":10,"replies":9,"timeouts":1,
//         "loss_percent":10.0,"queries_1m":4,"loss_1m_percent":25.0,
//         "queries_5m":10,"loss_5m_percent":10.0,"hedges":2,"hedges_won":1,
//         "last_seen_s":3.2 (null: never),
//         "state":"ok"|"backed off"|"lame"|"no edns", "backoff_left_s":0,
//         "lame_zones":[...]}]}
//   {"command":"cache.lookup","name":"www.example.","type":"A"}   (type optional)
//     -> {"ok":true,"name":"www.example.","entries":[{"type":"A" ("*" for
//         NXDOMAIN),"kind":"rrset"|"nodata"|"nxdomain"|"range","ttl":280,
//         "original_ttl":300,"rank":..,
//         "dnssec":"indeterminate"|"insecure"|"secure"|"bogus",
//         "partition":"global"|"192.0.2.0/24","stale":false,"corrupt":false,
//         "records":["www.example. 280 IN A 192.0.2.1", ...]}]}
//         (resolver/inspect.h says what each field holds)
//   {"command":"cache.flush","name":"example.","subtree":true}
//     -> {"ok":true,"name":"example.","subtree":true,"removed":12}
//   {"command":"cache.stats"}
//     -> {"ok":true,"name":"/shoal-cache","size_bytes":..,"stripes":256,
//         "entries":..,"bytes":..,"capacity_bytes":..,"fill_percent":..,
//         "lookups":..,"hits":..,"stale_hits":..,"misses":..,"inserts":..,
//         "evictions":..,"expired_evictions":..,"partition_evictions":..,
//         "owner_died":..,"corrupt":..,"wipes":..,
//         "stripe_fill":[{"entries":..,"bytes":..,"wipes":..}, ...]}
//   {"command":"ecs"}
//     -> {"ok":true,"entries":42,"names":7,"ipv4":30,"ipv6":12,"evictions":3,
//         "max_partitions":16,"top":[{"name":"www.geo.com.","type":"A",
//         "partitions":16,"hits":1200}, ...]}
//         EDNS Client Subnet partitions in the cache (RFC 7871 section 7.3;
//         resolver/inspect_ecs.h): unexpired partitioned entries, the
//         names and types they belong to ("*": NXDOMAIN), IPv4 and IPv6
//         ones, the cache's partition_evictions, the configured
//         cache.max_ecs_partitions, and at most kEcsTop names and types
//         with the most partitions (then hits), most first.
//   {"command":"ecs","name":"www.geo.com","type":"A"}   (both or neither)
//     -> {"ok":true,"name":"www.geo.com.","type":"A","max_partitions":16,
//         "global":{"kind":"rrset","ttl":120} or null,
//         "partitions":[{"prefix":"11.1.0.0/16","scope":16,
//         "kind":"rrset"|"nodata"|"nxdomain","ttl":55,"hits":3}, ...]}
//         Every unexpired partition of the name and type (NXDOMAIN ones
//         too: they answer every type), IPv4 first, by address; "global":
//         the unexpired entry that answers clients outside them, if any.
//   {"command":"nta.add","name":"example.","lifetime_s":3600,"reason":"ticket 42"}
//         (lifetime_s optional: kDefaultAnchorLifetimeS; at most
//         kMaxAnchorLifetimeS; reason optional, at most kMaxAnchorReason octets)
//     -> {"ok":true,"name":"example.","lifetime_s":3600,"expires_in_s":3600,
//         "reason":"ticket 42","flushed":12,"warnings":[...]}
//         A negative trust anchor (RFC 7646) in the shared cache: the zone and
//         everything below it are insecure for every worker until it expires
//         or is removed; adding one again renews it. "flushed": the cache
//         entries of the zone's subtree removed so that they are judged again.
//   {"command":"nta.remove","name":"example."}
//     -> {"ok":true,"name":"example.","flushed":3,"warnings":[...]}
//         (ok=false when the name is no runtime anchor, e.g. one of the config)
//   {"command":"nta.list"}
//     -> {"ok":true,"anchors":[{"name":"example.","source":"config",
//         "expires_in_s":null,"reason":""},{"name":"bogus.example.",
//         "source":"runtime","expires_in_s":3590,"added_s_ago":10,
//         "reason":"ticket 42"}, ...]}
//         (dnssec.negative_trust_anchors first, then the runtime ones in
//         canonical order)
//   {"command":"reload"}
//     -> {"ok":true,"workers":[<as restart>],"config":"/path",
//         "changed":["server.workers", ...],
//         "warnings":["cache.name, cache.size and cache.stripes apply at the next start only ..."]}
//     -> {"ok":false,"error":"shoal.toml:3: server.workers: ..."}  (nothing changed)
//   {"command":"restart"}
//     -> {"ok":true,"workers":[{"index":0,"old_pid":1,"new_pid":2}, ...]}
//   {"command":"upgrade"}
//     -> {"ok":true,"workers":[<as restart>],"binary":"/usr/sbin/shoal",
//         "old_version":"..","version":".."}
//
// Unknown commands and bad arguments get ok=false with the reason.

#include <cstddef>
#include <cstdint>

namespace shoal::control {

inline constexpr size_t kMaxRequest = 4096;
/// How long shoalctl waits for an answer to a long command (reload,
/// restart, upgrade) before giving up.
inline constexpr int kLongCommandTimeoutMs = 120'000;

/// ecs: how many names and types the summary lists.
inline constexpr size_t kEcsTop = 10;

/// nta.add: the lifetime of a negative trust anchor without "lifetime_s"
/// (a day), the longest one (RFC 7646 section 2: they must expire; a
/// week), and the longest "reason" in octets (no control characters).
inline constexpr uint32_t kDefaultAnchorLifetimeS = 86'400;
inline constexpr uint32_t kMaxAnchorLifetimeS = 7 * 86'400;
inline constexpr size_t kMaxAnchorReason = 256;

}  // namespace shoal::control
