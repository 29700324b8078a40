#pragma once
// The hot path: answer a client query straight from the shared cache.
// No allocation, no ldns, no exceptions: the query is parsed in place, the
// cache copies into a caller-provided scratch buffer and the answer is
// written into the caller's output buffer.

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/ip_address.h"
#include "resolver/aggressive.h"
#include "resolver/ecs.h"
#include "dns/cookie.h"
#include "resolver/response_writer.h"

namespace shoal::shmcache {
class Cache;
}

namespace shoal::resolver {

struct AnswerLimits {
  uint16_t udp_payload_size = 1232;  // our EDNS buffer size
  bool nxdomain_cut = true;          // RFC 8020: NXDOMAIN below a cached NXDOMAIN
  /// DNSSEC validation is on: AD from the stored status of every entry the
  /// answer uses, bogus entries SERVFAIL (with their Extended DNS Error)
  /// unless the client set CD, entries of unknown status are misses.
  bool validating = false;
  /// RFC 8198: answers synthesised from validated NSEC/NSEC3 ranges; the
  /// NSEC3 iteration limit of the validation policy bounds their use.
  bool aggressive_nsec = false;
  uint16_t nsec3_max_iterations = 50;
  /// EDNS Client Subnet (RFC 7871): off by default.
  EcsPolicy ecs;
  /// The TCP idle timeout in units of 100 ms, told to TCP clients that send
  /// edns-tcp-keepalive (RFC 7828 section 3.3.2).
  uint16_t tcp_keepalive = 100;
};

enum class HotPathResult : uint8_t {
  kAnswered,   // `length` octets of response are in `out`
  kMiss,       // needs resolution: hand the query to the Engine
  kError,      // an error response (FORMERR, NOTIMP, REFUSED, BADVERS) is in `out`
  kDrop,       // not worth an answer (too short, a response, ...): count and drop
};

/// What the query's DNS cookie proves (RFC 7873 section 5.2).
enum class CookieState : uint8_t {
  kNone,        // no COOKIE option (or cookies are off)
  kClientOnly,  // a client cookie, without a valid server cookie of ours
  kValid,       // our server cookie, valid: the source address is proven
};

struct HotPathAnswer {
  HotPathResult result = HotPathResult::kMiss;
  size_t length = 0;
  /// kMiss: the query as read here, for the engine (it is not parsed twice).
  ClientRequest request;
  /// kAnswered: synthesised from validated NSEC/NSEC3 ranges (RFC 8198),
  /// and whether the local root zone's ranges proved it.
  Synthesis synthesised = Synthesis::kNone;
  bool local_root = false;
  /// kAnswered: the longest ECS scope of the entries used (0: global only).
  uint8_t scope = 0;
  /// kAnswered: lookups of the question's entry in the last tenth of its
  /// TTL (prefetchDue()); `request` is filled, for the prefetch.
  uint32_t late_hits = 0;
  /// Set whatever the result (except a FORMERR for a malformed cookie).
  CookieState cookie = CookieState::kNone;
};

/// Whether a hit with `late_hits` (HotPathAnswer::late_hits) should refresh
/// its entry in the background before it expires: a popular name (asked
/// `min_hits` times in the last tenth of its TTL) never misses. Once at
/// `min_hits`, and again every 8 times that many (a refresh that failed).
/// `min_hits` 0: never.
constexpr bool prefetchDue(uint32_t late_hits, uint32_t min_hits) {
  return min_hits > 0 &&
         (late_hits == min_hits || (late_hits > min_hits && late_hits % (8 * min_hits) == 0));
}

/// kError with `length` octets, or kDrop when there is nothing to send.
inline HotPathAnswer errorAnswer(size_t length) {
  return {length == 0 ? HotPathResult::kDrop : HotPathResult::kError, length, {}};
}

/// Writes REFUSED for `query` (a client outside the ACL); kDrop if the
/// query is not worth an answer.
HotPathAnswer refuse(std::span<const uint8_t> query, std::span<uint8_t> out);

/// Tries to answer `query` (from `client`, over TCP or UDP) from `cache`.
/// `out` must hold at least 65535 octets for TCP, the UDP limit otherwise;
/// `scratch` at least 65535 octets. `tcp_keepalive`: the idle timeout of
/// this TCP connection (units of 100 ms) for a client that asks for
/// edns-tcp-keepalive; 0: limits.tcp_keepalive. `cookies`: the server
/// cookie secrets when DNS cookies are on (RFC 7873, RFC 9018): a query's
/// cookie is checked and answered with a new server cookie; a malformed
/// one is FORMERR (section 5.2.2). Null: cookies off.
HotPathAnswer answerFromCache(std::span<const uint8_t> query, const base::IpAddress& client,
                              bool tcp, shmcache::Cache& cache, const AnswerLimits& limits,
                              int64_t now_s, std::span<uint8_t> out, std::span<uint8_t> scratch,
                              uint16_t tcp_keepalive = 0,
                              const dns::CookieSecrets* cookies = nullptr);

/// An empty response with TC set to the query of `request` (over the rate
/// limit: the client may retry over TCP), or BADCOOKIE with our server
/// cookie when `bad_cookie` and the request has a cookie (RFC 7873
/// section 5.2.3: it may retry with the cookie). Returns the length.
size_t writeSlip(const ClientRequest& request, uint16_t our_udp_size, bool bad_cookie,
                 std::span<uint8_t> out);

/// SERVFAIL with `ede` to the query of `request` (a limit refused it).
size_t writeServfail(const ClientRequest& request, uint16_t our_udp_size, const Ede& ede,
                     std::span<uint8_t> out);

}  // namespace shoal::resolver
