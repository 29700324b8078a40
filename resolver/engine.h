#pragma once
// The resolution engine of one worker: a sans-I/O state machine.
//
// The worker's I/O layer feeds it events (a client query, an upstream
// reply, an upstream error, the clock) and, after each event, drains the
// actions it produced: packets to send to authoritative servers and answers
// to send to clients. The engine never touches a socket, a timer or the
// clock itself, so tests drive it with a fake transport and a fake clock
// (like Knot Resolver's kr_resolve_begin/consume/produce loop).
//
// Cache hits never reach the engine: the worker answers them on the hot
// path with answerFromCache (resolver/answer.h). The engine handles misses:
// iterative resolution from the closest cached zone cut (or the root hints),
// writing what it learns into the shared cache.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/ip_address.h"
#include "base/ip_prefix.h"
#include "dns/cookie.h"
#include "dns/name.h"
#include "resolver/ecs.h"
#include "resolver/response_writer.h"
#include "resolver/roots.h"
#include "resolver/validator.h"

namespace shoal::shmcache {
class Cache;
}

namespace shoal::resolver {

/// A zone whose questions go to upstream resolvers, with RD set, rather
/// than being resolved from the root (config [[forward]]).
struct ForwardSpec {
  dns::Name zone;
  /// The upstreams and their ports. Their statistics are kept per address
  /// (two upstreams on one address share them).
  std::vector<base::SocketAddress> addresses;
  bool validate = true;  // false: answers cached as insecure, unvalidated
  /// DNS over TLS (RFC 7858): every query over a TLS connection whose
  /// certificate is valid for `tls_name`, issued by a CA of `tls_ca`
  /// (empty: the system's).
  bool tls = false;
  std::string tls_name;
  std::string tls_ca;
};

struct EngineConfig {
  int64_t query_timeout_ms = 3000;  // a client's overall deadline
  /// How long a resolution may go on: past query_timeout it carries on in
  /// the background (its client had a stale answer or SERVFAIL), so that
  /// its result is in the cache when the client asks again. Until then it
  /// never gives up while a server is left to try.
  int64_t resolution_timeout_ms = 10000;
  int64_t rto_min_ms = 50;          // per-server retransmission timeout floor
  int64_t rto_max_ms = 1000;        // and ceiling
  bool qname_minimisation = true;
  bool ipv4 = true;                 // query IPv4 servers
  bool ipv6 = true;                 // query IPv6 servers
  std::vector<base::IpPrefix> deny_upstream;  // never query these
  bool nxdomain_cut = true;         // RFC 8020
  bool aggressive_nsec = true;      // RFC 8198 (while validating)
  uint32_t min_ttl = 0;
  uint32_t max_ttl = 86400;
  uint32_t max_negative_ttl = 3600;
  /// Serve-stale (RFC 8767): when resolution fails or the client's deadline
  /// passes, answer from data expired at most this long ago (0 = never).
  uint32_t serve_stale_s = 0;
  /// RFC 8767 section 5: with serve_stale_s, a client whose answer is not
  /// resolved within this gets the stale data while the refresh goes on
  /// (0: only at failure or query_timeout). A client joining a refresh
  /// already older than this gets it at once.
  int64_t stale_client_timeout_ms = 1800;
  uint16_t udp_payload_size = 1232; // advertised to clients and upstreams
  RootHints hints;
  /// DNSSEC validation (resolver/validator.h); no anchors: off.
  ValidationConfig validation;
  /// EDNS Client Subnet (RFC 7871, resolver/ecs.h): off by default.
  EcsPolicy ecs;
  /// Forward zones: a name at or below one (the longest) is asked of its
  /// upstream resolvers, whatever the cache knows of its delegations.
  std::vector<ForwardSpec> forwards;
  /// 0x20 (issue 15): letters of outgoing query names in random case; a
  /// reply must echo them exactly. A server that does not is asked again
  /// without and remembered for a while (ServerState::no_case_until_ms).
  bool case_randomisation = false;
  /// DNS cookies towards servers (RFC 7873 section 5.1) with client
  /// cookies from this secret (a CSPRNG's, shared by the workers).
  bool cookies = false;
  dns::CookieSecret cookie_secret{};
  /// DNS rebinding guard: an answer with an A/AAAA record in one of these
  /// prefixes for a name outside private_domains is SERVFAIL (EDE 15,
  /// Blocked) and none of it is cached. Empty: off.
  std::vector<base::IpPrefix> private_addresses;
  std::vector<dns::Name> private_domains;
  /// Resolutions (tasks) in flight at most; at the cap a new client query
  /// gets a stale answer if the cache has one, else SERVFAIL at once
  /// (issue 15's overload policy). 0: no cap.
  uint32_t max_resolutions = 0;
};

/// A client query the hot path could not answer from the cache, as the hot
/// path read it (HotPathAnswer::request).
struct ClientQuery {
  uint64_t id = 0;  // the I/O layer's handle, echoed back
  ClientRequest request;
  base::IpAddress client;
};

/// A query to send to an authoritative server. Over UDP the I/O layer uses
/// a fresh socket with a random source port, connected to the server; over
/// TCP a fresh connection with the 2-octet length prefix.
struct UpstreamSend {
  uint64_t token = 0;  // echoed in onUpstreamReply / onUpstreamError
  base::IpAddress server;
  uint16_t port = 53;
  bool tcp = false;
  std::vector<uint8_t> packet;
  /// DNS over TLS (tcp is set too): the name the server's certificate must
  /// be valid for, and the CA file (empty: the system's trust store).
  bool tls = false;
  std::string tls_name;
  std::string tls_ca;
};

/// The finished response for a client (already sized: TC set when it did
/// not fit the client's UDP payload size).
struct ClientAnswer {
  uint64_t id = 0;
  std::vector<uint8_t> packet;
};

/// Upstream tokens the I/O layer should forget (their query was answered
/// or timed out: late replies are dropped).
struct Cancel {
  uint64_t token = 0;
};

class Engine {
 public:
  /// `cache` must outlive the engine. `random` seeds query IDs and server
  /// exploration (the worker passes a value from getrandom()).
  Engine(EngineConfig config, shmcache::Cache& cache, uint64_t random_seed);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void onClientQuery(const ClientQuery& query, int64_t now_ms);
  /// Refreshes the answer to `request` in the background, its cached
  /// entry ignored (prefetch: the hot path answered it in the last tenth
  /// of its TTL, often: resolver::prefetchDue). Nothing when the question
  /// is already being resolved, or the worker is busy.
  void prefetch(const ClientRequest& request, int64_t now_ms);
  /// A reply from the server that `token` was sent to (the I/O layer
  /// checked the source address and port).
  void onUpstreamReply(uint64_t token, std::span<const uint8_t> packet, int64_t now_ms);
  /// The send failed, the connection was refused or reset.
  void onUpstreamError(uint64_t token, int64_t now_ms);
  /// Fires every timeout due at or before now.
  void onTimer(int64_t now_ms);
  /// When onTimer should next be called, if anything is pending.
  std::optional<int64_t> nextDeadline() const;

  /// Actions produced since the last drain.
  std::vector<UpstreamSend> takeSends();
  std::vector<ClientAnswer> takeAnswers();
  std::vector<Cancel> takeCancels();

  /// Client queries still waiting for an answer (a draining worker exits
  /// when none is left; background fetches are dropped with it).
  size_t pending() const;
  /// Tasks in flight, background ones included (tests check for leaks).
  size_t tasksInFlight() const;

  struct Stats {
    uint64_t client_queries = 0, answers = 0, servfails = 0, upstream_queries = 0;
    uint64_t upstream_timeouts = 0, upstream_errors = 0, tcp_fallbacks = 0, coalesced = 0;
    uint64_t deadline_servfails = 0, malformed_replies = 0;
    uint64_t coalesced_upstream = 0;  // queries that joined an identical one in flight
    uint64_t stale_answers = 0;       // served expired data (RFC 8767)
    // DNSSEC: answers by status, and validations stopped by a work cap.
    uint64_t secure = 0, insecure = 0, bogus = 0, validation_capped = 0;
    uint64_t work_capped = 0;  // client queries stopped by the upstream-query cap (NXNSAttack)
    uint64_t key_prefetches = 0;  // DNSKEY fetches started alongside a zone's first query
    // RFC 8198: answers synthesised from ranges, by kind; those proven by
    // the local root zone (RFC 8806); NSEC/NSEC3 ranges stored.
    uint64_t synth_nxdomain = 0, synth_nodata = 0, synth_wildcard = 0, local_root_answers = 0;
    uint64_t ranges_stored = 0;
    uint64_t range_holds = 0;  // client questions held for another's ranges (RangeFlight)
    // ECS (RFC 7871): queries sent with the client's subnet; their replies
    // by scope (0 or none: global; > 0: kept in a partition); replies
    // dropped because their ECS option was not what was sent.
    uint64_t ecs_queries = 0, ecs_scope_global = 0, ecs_scope_partition = 0, ecs_mismatched = 0;
    // Loss: hedged queries (a second copy of a question sent before the
    // first timed out) and those answered first; replies that came after
    // their question was answered by another (they still update the
    // server's RTT and loss); resolutions carried on in the background
    // after their clients' deadline.
    uint64_t hedges_sent = 0, hedges_won = 0, late_replies = 0, background_resolutions = 0;
    uint64_t prefetches = 0;  // background refreshes of popular entries about to expire
    // Spoofing (issue 15): replies whose question did not echo the 0x20
    // case (asked again without), whose COOKIE did not echo ours
    // (dropped), BADCOOKIE replies (asked again with the new cookie), and
    // answers refused by the rebinding guard.
    uint64_t case_mismatches = 0, cookie_mismatches = 0, bad_cookies = 0, rebinding_blocked = 0;
    // Overload (max_resolutions): client queries answered stale, or SERVFAIL.
    uint64_t overload_stale = 0, overload_servfails = 0;
  };
  const Stats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::resolver
