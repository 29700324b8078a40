#pragma once
// What a worker needs from the configuration, as plain values: the
// engine's settings, the hot path's limits, the ACL, TCP limits, the TLS
// context and the source addresses of upstream queries. Built once by the
// supervisor from the validated config::Config (before forking), so the
// worker never sees TOML.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/ip_address.h"
#include "base/ip_prefix.h"
#include "resolver/answer.h"
#include "dnstap/sink.h"
#include "resolver/engine.h"

namespace shoal::config {
struct Config;
}
namespace shoal::limits {
class RateTable;
}

namespace shoal::worker {

class TlsContext;

/// Secrets every worker shares (issue 15), drawn from the CSPRNG once by
/// the supervisor before it forks (workers inherit them; an upgrade draws
/// new ones): the client cookie secret towards servers, the master from
/// which each period's server cookie secret derives (so that workers
/// rotate together without talking: serverCookieSecrets()), and the key
/// of the rate table's hash (a client cannot aim at another's bucket).
struct Secrets {
  dns::CookieSecret client_cookie{};
  dns::CookieSecret server_cookie_master{};
  dns::CookieSecret rate_key{};
  /// Fresh ones from getrandom(2).
  static Secrets generate();
};

/// The server cookie secrets (RFC 9018 section 4.4) of the period that
/// contains `now_s` (current) and of the one before (previous): each a
/// SipHash-2-4 of the period number under the master.
dns::CookieSecrets serverCookieSecrets(const dns::CookieSecret& master, int64_t rotation_s,
                                       int64_t now_s);

struct WorkerConfig {
  resolver::EngineConfig engine;
  resolver::AnswerLimits limits;
  /// Prefetch (resolver::prefetchDue): lookups in the last tenth of a TTL
  /// that refresh the entry in the background; 0: off.
  uint32_t prefetch_min_hits = 0;
  /// Clients allowed to query; everybody else gets REFUSED.
  std::vector<base::IpPrefix> acl_allow;
  /// Source addresses for upstream queries, by family (empty: any).
  std::vector<base::IpAddress> outgoing_v4;
  std::vector<base::IpAddress> outgoing_v6;
  size_t tcp_max_clients = 1000;
  /// Connections from one IPv4 address or IPv6 /64.
  uint32_t tcp_max_per_client = 256;
  /// Answer octets queued on one connection before reading from it pauses.
  size_t tcp_max_queued = 128 << 10;
  /// Client TCP/TLS buffer octets (queued answers, partial queries) of the
  /// worker before every connection pauses reading.
  size_t tcp_max_buffers = 64 << 20;
  int64_t tcp_idle_timeout_ms = 10000;
  /// Queries in flight per TCP connection before reading pauses (RFC 7766
  /// section 6.2.1.1 lets a server limit pipelining).
  uint32_t tcp_max_pipelined = 100;
  /// Collapse of idle plain-TCP connections (worker/collapser.h); off
  /// when false. Worker N's NFQUEUE queue: tcp_collapse_queue + N.
  bool tcp_collapse = false;
  uint16_t tcp_collapse_queue = 5300;
  size_t tcp_collapsed_max = 262144;
  int64_t tcp_collapsed_timeout_ms = 600000;
  /// dnstap ([dnstap]): off when socket_path is empty.
  dnstap::Options dnstap;
  /// The sampled query log ([log] queries): one query in this many; 0: off.
  uint32_t query_log_one_in = 0;
  /// On SIGTERM, how long in-flight queries may take to finish.
  int64_t shutdown_grace_ms = 2000;
  /// DNS over TLS: the context of every TLS listener's connections (null:
  /// no TLS listener). Built by the supervisor, shared across the fork.
  std::shared_ptr<TlsContext> tls;
  /// Server cookies for clients (RFC 7873, RFC 9018) with secrets derived
  /// from `secrets.server_cookie_master`, changed every cookie_rotation_s.
  bool server_cookies = false;
  int64_t cookie_rotation_s = 86400;
  Secrets secrets;
  /// The UDP rate limit ([limits]): queries per second per client prefix
  /// and the bucket depth (0: rate), in `rate_table` (mapped by the
  /// supervisor; null: off); every rate_slip-th limited query answered.
  limits::RateTable* rate_table = nullptr;
  uint32_t rate = 0;
  uint32_t rate_burst = 0;
  uint32_t rate_slip = 2;
  uint8_t rate_ipv4_prefix = 24;
  uint8_t rate_ipv6_prefix = 56;
  /// Cache misses one client address may have in flight (0: no limit).
  uint32_t client_in_flight = 0;
};

/// Maps every field the worker uses from `config`; `hints` are the root
/// hints and `anchors` the trust anchors the supervisor loaded (built in
/// or from the configured files), `tls` the context it built from the
/// certificate and key (or null).
WorkerConfig workerConfigFrom(const config::Config& config, resolver::RootHints hints,
                              const resolver::TrustAnchors& anchors,
                              std::shared_ptr<TlsContext> tls, const Secrets& secrets);

}  // namespace shoal::worker
