#pragma once
// shoal's configuration: shoal.toml as typed, validated values.
//
// The supervisor loads it once at start (and on reload); nothing here runs on
// the data plane. conf/shoal.toml documents every key for operators and
// states exactly the built-in defaults. Loading is all-or-nothing: a file
// with any mistake (syntax, unknown table or key, wrong type, value out of
// range, unreadable file) yields no Config and one message naming the file,
// the line and the key, e.g.
//   shoal.toml:12: cache.stripes: must be a power of two between 1 and 65536 (got 3)
// Keys left out of the file keep their default. toml11 (which throws) is
// used only inside config.cc; no exception leaves this library.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/ip_prefix.h"

namespace shoal::config {

/// Durations are written "250ms", "3s", "2m" or "1h" in the file.
using Duration = std::chrono::milliseconds;

/// [server]: where and how clients are served.
struct ServerSection {
  /// UDP and TCP listeners; never empty, no duplicates, no port 0.
  std::vector<base::SocketAddress> listen;
  /// DNS over TLS listeners (RFC 7858; TCP only, port 853 unless given);
  /// empty: no TLS. No duplicates, no port 0, no port shared with `listen`.
  std::vector<base::SocketAddress> tls_listen;
  /// DNS over HTTPS listeners (RFC 8484: HTTP/2, /dns-query; port 443
  /// unless given), with the same certificate and key; empty: none. No
  /// duplicates, no port shared with `listen` or `tls_listen`.
  std::vector<base::SocketAddress> https_listen;
  /// Absolute paths of the PEM certificate chain and its private key for
  /// tls_listen and https_listen; empty: not set. Both set and readable
  /// when either is not empty. (Whether they parse and match is checked when they are
  /// loaded: supervisor::loadAll, --check-config included.)
  std::string tls_certificate;
  std::string tls_key;
  /// Worker processes, 1..256. Never 0 once loaded: 0 in the file means one
  /// per CPU core (std::thread::hardware_concurrency), resolved at load time.
  unsigned workers = 0;
  /// Our EDNS UDP payload size towards clients (RFC 6891 section 6.2.5).
  uint16_t udp_payload_size = 0;
  /// An idle client TCP connection is closed after this (RFC 7766 section 6.2.3).
  Duration tcp_idle_timeout{};
  /// Concurrent TCP clients per worker.
  uint32_t tcp_max_clients = 0;
  /// Client TCP/TLS connections per worker from one IPv4 address or one
  /// IPv6 /64.
  uint32_t tcp_max_per_client = 0;
  /// Answer octets queued on one connection (the client not reading them)
  /// before shoal stops reading its queries.
  uint64_t tcp_max_queued = 0;
  /// All client TCP/TLS buffers of one worker (queued answers, partial
  /// queries) before every connection stops reading.
  uint64_t tcp_max_buffers = 0;
  /// Collapse (issue 13; Linux, needs CAP_NET_ADMIN; off by default): an
  /// idle plain-TCP connection of an occasional client is saved to a tuple
  /// and its socket closed without a FIN (TCP repair), and rebuilt when its
  /// next segment arrives (nftables divert to NFQUEUE), with no handshake.
  bool tcp_collapse = false;
  /// Worker N's NFQUEUE queue number is tcp_collapse_queue + N.
  uint16_t tcp_collapse_queue = 0;
  /// Collapsed connections one worker holds; beyond, idle ones are closed.
  uint32_t tcp_collapsed_max = 0;
  /// How long a collapsed connection is kept; then forgotten (its client's
  /// next segment gets a reset, and it reconnects).
  Duration tcp_collapsed_timeout{};
  /// A worker whose loop has not turned for this long is killed and
  /// replaced; zero: never. 0 or 2s..10m.
  Duration hang_timeout{};
  /// The user shoal runs as once it has what needs root (issue 15,
  /// supervisor/privileges.h); empty: the user it was started as. The
  /// user must exist.
  std::string user;
  /// Its group; empty: the user's primary group. The group must exist.
  std::string group;
  /// DNS cookies for clients (RFC 7873, server cookies as RFC 9018).
  bool cookies = false;
  /// How often the server cookie secret changes (the previous one is
  /// still accepted). 1h..720h.
  Duration cookie_rotation{};
  bool operator==(const ServerSection&) const = default;
};

/// [cache]: the shared-memory cache (shmcache::Options plus TTL policy).
struct CacheSection {
  /// POSIX shared memory object name: "/" then no other "/".
  std::string name;
  /// Segment size in bytes, at least 1 MiB and 64 KiB per stripe.
  uint64_t size = 0;
  /// Lock stripes: a power of two, 1..65536.
  unsigned stripes = 0;
  /// TTL clamps in seconds; min_ttl <= max_ttl.
  uint32_t max_ttl = 0;
  uint32_t min_ttl = 0;
  /// Cap on the TTL of NXDOMAIN/NODATA answers (RFC 2308 section 5).
  uint32_t max_negative_ttl = 0;
  /// ECS partitions kept per name and type (RFC 7871 section 7.3), 1..1024.
  unsigned max_ecs_partitions = 0;
  /// How long past expiry data may be served when upstreams fail (RFC 8767);
  /// zero: never.
  Duration serve_stale{};
  /// RFC 8767 section 5, the client response timer: with serve_stale on,
  /// a client whose answer is not resolved within this gets the stale
  /// data while the refresh goes on; zero: only when resolution fails.
  Duration serve_stale_client_timeout{};
  /// Prefetch: an entry looked up this many times in the last tenth of
  /// its TTL is refreshed in the background before it expires; 0: off.
  unsigned prefetch_min_hits = 0;
  /// Fault the whole segment in at start (no page faults on the data path;
  /// a shortage of memory shows at start).
  bool prefault = true;
  bool operator==(const CacheSection&) const = default;
};

/// [resolver]: iterative resolution towards authoritative servers.
struct ResolverSection {
  /// Absolute path of a root hints file; empty: the built-in IANA hints.
  std::string root_hints;
  /// Absolute paths of trust anchor files (DS or DNSKEY records); empty:
  /// the built-in IANA root anchors.
  std::vector<std::string> trust_anchors;
  /// Source addresses for upstream queries; empty: chosen by the kernel.
  /// When not empty, it has an address of each enabled family.
  std::vector<base::IpAddress> outgoing_addresses;
  /// Deadline of a client query; past it the client gets SERVFAIL (or a
  /// stale answer).
  Duration query_timeout{};
  /// How long a resolution may go on, in the background past
  /// query_timeout, so that its answer is cached for the client's retry;
  /// >= query_timeout.
  Duration resolution_timeout{};
  bool qname_minimisation = false;  // RFC 9156
  /// Query upstreams over IPv4 / IPv6; at least one is on.
  bool ipv4 = false;
  bool ipv6 = false;
  /// Upstream addresses never queried (may be empty).
  std::vector<base::IpPrefix> deny_upstream;
  bool nxdomain_cut = false;  // RFC 8020
  /// Per-server retransmission timeout bounds; rto_min <= rto_max <= query_timeout.
  Duration rto_min{};
  Duration rto_max{};
  /// 0x20: random letter case in outgoing query names, checked in replies
  /// (with a fallback for servers that do not echo it).
  bool case_randomisation = false;
  /// DNS cookies towards authoritative servers (RFC 7873 section 5.1).
  bool cookies = false;
  /// DNS rebinding guard: addresses stripped from answers for names
  /// outside private_domains (Unbound's private-address); empty: off.
  std::vector<base::IpPrefix> private_addresses;
  /// Names (and their subdomains) allowed to resolve to private_addresses.
  /// Absolute, lowercase, trailing dot.
  std::vector<std::string> private_domains;
  bool operator==(const ResolverSection&) const = default;
};

/// [dnssec]: validation (RFC 4033-4035; the anchors are resolver.trust_anchors).
struct DnssecSection {
  bool validation = false;
  /// Accept the SHA-1 algorithms RSASHA1 (5) and RSASHA1-NSEC3-SHA1 (7);
  /// off: zones signed only with them are insecure.
  bool sha1_signatures = false;
  /// NSEC3 iterations above this make a denial insecure (RFC 9276).
  uint16_t nsec3_max_iterations = 0;
  /// Answer from validated NSEC/NSEC3 ranges (RFC 8198).
  bool aggressive_nsec = false;
  /// Negative trust anchors (RFC 7646): zones treated as insecure.
  /// Absolute names, lowercase, trailing dot.
  std::vector<std::string> negative_trust_anchors;
  /// How long bogus data is remembered (RFC 4035 section 4.7).
  Duration bogus_ttl{};
  bool operator==(const DnssecSection&) const = default;
};

/// [acl]: who may query.
struct AclSection {
  /// Clients allowed to query; others get REFUSED. Never empty.
  std::vector<base::IpPrefix> allow;
  bool operator==(const AclSection&) const = default;
};

/// [limits]: what one client, and all of them, may cost (issue 15).
struct LimitsSection {
  /// UDP queries per second from one client prefix, enforced by all
  /// workers together (token buckets in shared memory); 0: no limit.
  /// Queries carrying a valid server cookie are not limited.
  uint32_t rate = 0;
  /// The bucket's depth in queries; 0: one second's worth (rate).
  uint32_t rate_burst = 0;
  /// Of the queries over the limit, every slip-th gets an empty answer
  /// with TC=1 (the client retries over TCP); the others are dropped.
  /// 0: drop them all; 1: truncate them all.
  uint32_t rate_slip = 0;
  /// The client prefix one bucket covers.
  unsigned rate_ipv4_prefix = 0;
  unsigned rate_ipv6_prefix = 0;
  /// Cache misses one client address may have in flight in one worker;
  /// beyond, SERVFAIL. 0: no limit.
  uint32_t client_in_flight = 0;
  /// Resolutions one worker runs at once; beyond, a cache miss gets a
  /// stale answer if the cache has one, else SERVFAIL. 0: no limit.
  uint32_t resolutions = 0;
  bool operator==(const LimitsSection&) const = default;
};

/// [control]: the shoalctl control socket.
struct ControlSection {
  /// Absolute path of the Unix socket (at most 103 bytes).
  std::string socket;
  /// Members of this group may use the socket (and read the stats
  /// segment) besides root and shoal's own user; empty: nobody else. The
  /// group must exist.
  std::string group;
  bool operator==(const ControlSection&) const = default;
};

/// [log]: what the processes write to stderr (base/log.h).
struct LogSection {
  /// "error", "warning", "info" or "debug".
  std::string level;
  /// "text" (one line per event) or "json" (one JSON object per line).
  std::string format;
  /// The sampled query log: one client query in this many is logged with
  /// its answer (worker/query_log.h); 0: off.
  uint32_t queries = 0;
  bool operator==(const LogSection&) const = default;
};

/// [dnstap]: DNS messages to a dnstap collector (dnstap/sink.h).
struct DnstapSection {
  /// The collector's Unix socket (absolute, at most 103 bytes); empty: off.
  std::string socket;
  /// dnstap "identity"; empty: the host name.
  std::string identity;
  /// Which messages: "client_query", "client_response", "resolver_query",
  /// "resolver_response" (no duplicates).
  std::vector<std::string> messages;
  bool operator==(const DnstapSection&) const = default;
};

/// [metrics]: the Prometheus endpoint the supervisor serves from the stats
/// segment (docs/operations.md "Prometheus metrics").
struct MetricsSection {
  /// Where GET /metrics is served (HTTP, port 9153 unless given); empty:
  /// off.
  std::vector<base::SocketAddress> listen;
  /// Upstream servers exported one by one (the busiest by queries); the
  /// rest are summed as server="other". 1..1000.
  uint32_t top_servers = 0;
  bool operator==(const MetricsSection&) const = default;
};

/// [local_root]: the root zone kept locally (RFC 8806; docs/local-root.md).
struct LocalRootSection {
  bool enabled = false;
  /// Where the zone is transferred from (AXFR over TCP, port 53 unless
  /// given); empty: the addresses of the root hints in use, and with the
  /// built-in hints also ICANN's transfer servers. No duplicates, no port 0.
  std::vector<base::SocketAddress> sources;
  /// Connecting to a source, and each read from it, must progress within this.
  Duration timeout{};
  /// The least time between two refreshes (or retries), whatever the
  /// zone's SOA says.
  Duration refresh_min{};
  bool operator==(const LocalRootSection&) const = default;
};

/// [ecs]: EDNS Client Subnet (RFC 7871; docs/ecs.md).
struct EcsSection {
  bool enabled = false;
  /// Zones whose servers get the client's subnet (names at and below them);
  /// absolute names, lowercase, trailing dot. Empty with `servers`: nobody.
  std::vector<std::string> zones;
  /// Servers that get it, whatever the zone.
  std::vector<base::IpPrefix> servers;
  /// Source prefix lengths sent: 1..32 and 1..128.
  unsigned ipv4_source = 0;
  unsigned ipv6_source = 0;
  /// For a client in an RFC 6890 special-purpose block: nothing ("none"),
  /// or this prefix instead (length 0: the family alone).
  std::optional<base::IpPrefix> special_clients;
  /// Front ends whose ECS option is the client's subnet.
  std::vector<base::IpPrefix> trusted;
  bool operator==(const EcsSection&) const = default;
};

/// A zone whose questions go to upstream resolvers ([[forward]]), with
/// RD set, instead of being resolved from the root.
struct ForwardZone {
  std::string name;  // absolute, lowercase ("." for everything)
  /// The upstream resolvers ("address[:port]", port 53 by default), asked
  /// over plain DNS.
  std::vector<base::SocketAddress> addresses;
  /// Validate their answers (DNSSEC) like any other; false for upstreams
  /// trusted to validate: their answers are cached as insecure (no AD).
  bool validate = true;
  /// DNS over TLS (RFC 7858; port 853 by default): the upstreams'
  /// certificate must be valid for tls_name, issued by a CA in the PEM
  /// file tls_ca (empty: the system's trust store).
  bool tls = false;
  std::string tls_name;
  std::string tls_ca;
  bool operator==(const ForwardZone&) const = default;
};

struct Config {
  ServerSection server;
  CacheSection cache;
  ResolverSection resolver;
  DnssecSection dnssec;
  AclSection acl;
  LimitsSection limits;
  ControlSection control;
  LogSection log;
  MetricsSection metrics;
  DnstapSection dnstap;
  LocalRootSection local_root;
  EcsSection ecs;
  /// [[forward]] zones, in file order (names distinct).
  std::vector<ForwardZone> forward;
  /// Where it came from: the file path, or "<built-in defaults>".
  std::string source;

  /// Equal settings; `source` is not compared.
  bool operator==(const Config& other) const;
};

struct LoadResult {
  std::optional<Config> config;  // set on success
  /// On failure: "file:line: key: what", one line; a TOML syntax error adds
  /// toml11's excerpt of the offending line(s) after a newline.
  std::string error;
  bool ok() const { return config.has_value(); }
};

/// The built-in configuration (what conf/shoal.toml states), validated and
/// with workers resolved.
Config defaults();

/// Reads and validates `path`. Relative file names inside it (root_hints,
/// trust_anchors, tls_certificate, tls_key, control.socket) are taken
/// relative to the file's directory and stored absolute.
LoadResult loadFile(const std::string& path);

/// Validates TOML `text`; `source_name` names it in messages and gives the
/// directory relative file names are resolved against (the current
/// directory if it has none).
LoadResult loadString(std::string_view text, const std::string& source_name);

/// `config` as TOML (every key, effective values: workers resolved, paths
/// absolute); loading it gives an equal Config.
std::string toToml(const Config& config);

/// "250ms", "3s", "2m", "1h": a decimal integer and a unit, nothing else.
std::optional<Duration> parseDuration(std::string_view text);
/// The largest unit that represents `duration` exactly ("90s", "1h", "0s").
std::string formatDuration(Duration duration);
/// "1048576", "512K", "256M", "2G", "1T" (powers of 1024; suffix in either case).
std::optional<uint64_t> parseSize(std::string_view text);

}  // namespace shoal::config
