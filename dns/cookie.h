#pragma once
// DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018):
// the computations and checks, sans-I/O, no allocation. The COOKIE option
// itself is parsed by parseCookie and written by EdnsOptionsBuilder
// (dns/edns.h); this file says what its contents mean.
//
// Server side, per query with a COOKIE option (RFC 7873 section 5.2):
//   parseCookie fails               -> FORMERR (section 5.2.2)
//   checkServerCookie(...)          -> kValid: answer, echo the cookie or a
//                                      new one; kRefresh: answer with
//                                      makeServerCookie(current secret);
//                                      anything else: the query carried only
//                                      a client cookie as far as the server
//                                      is concerned (sections 5.2.3, 5.2.4):
//                                      answer or BADCOOKIE by policy, with a
//                                      new server cookie either way.
// Client side, towards authoritative servers (sections 5.1, 5.3):
//   makeClientCookie per server, addQueryCookie into the query's OPT,
//   checkReplyCookie on the reply before anything else is believed.
//
// Times are Unix seconds modulo 2^32, compared with serial number
// arithmetic (RFC 1982), as the RFC 9018 timestamp is.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/ip_address.h"
#include "dns/edns.h"
#include "dns/wire_error.h"

namespace shoal::dns {

/// A 128-bit SipHash key: the server secret (RFC 9018 section 4.4) or the
/// client secret (RFC 7873 section 4.1). Comes from a CSPRNG.
using CookieSecret = std::array<uint8_t, 16>;
/// The 8-octet client cookie (RFC 7873 section 4.1).
using ClientCookie = std::array<uint8_t, 8>;
/// An RFC 9018 server cookie: version, reserved, timestamp, hash (16 octets).
using ServerCookie = std::array<uint8_t, 16>;

/// SipHash-2-4 of `data` under `key`, its 64-bit result in little-endian
/// octet order (the order RFC 9018 section 4.4 puts on the wire).
std::array<uint8_t, 8> sipHash24(const CookieSecret& key, std::span<const uint8_t> data);

/// RFC 9018 section 4: version 1, reserved zero, `now` as the timestamp and
/// SipHash-2-4(secret; client cookie | version | reserved | timestamp |
/// client IP). The IP is 4 octets for IPv4 (an IPv4-mapped IPv6 address
/// counts as IPv4) and 16 for IPv6.
ServerCookie makeServerCookie(const CookieSecret& secret, const ClientCookie& client_cookie,
                              const base::IpAddress& client, uint32_t now);

/// The server's secrets (RFC 9018 section 4.4 rollover): cookies are made
/// with `current`; those made with `previous` are still accepted, then
/// refreshed. The struct is trivially copyable: it can live in shared memory.
struct CookieSecrets {
  CookieSecret current{};
  CookieSecret previous{};
  bool has_previous = false;
};

/// How far a cookie's timestamp may be from now (RFC 9018 section 4.3:
/// "within a 1-hour period in the past and a 5-minute period into the
/// future"; a new cookie "at least if ... more than half an hour old").
/// Both edges belong to the window. In seconds.
struct CookieWindows {
  uint32_t max_age = 3600;        // older than this: expired
  uint32_t max_future = 300;      // further ahead than this: rejected
  uint32_t refresh_after = 1800;  // older than this: valid, send a new one
};

/// What a server makes of the server cookie a query carried.
enum class ServerCookieVerdict : uint8_t {
  kValid,        // made by us with the current secret, fresh enough
  kRefresh,      // valid, but old or made with the previous secret: reissue
  kNone,         // the query carried a client cookie only
  kUnknown,      // not 16 octets or not version 1: not one we can verify
  kBadHash,      // neither secret made it for this client cookie and IP
  kExpired,      // our hash, but older than max_age
  kFuture,       // our hash, but further ahead than max_future
};

/// True for kValid and kRefresh: the client proved it saw our reply
/// (RFC 7873 section 5.2.5). Any other verdict is treated as a query with
/// only a client cookie (sections 5.2.3 and 5.2.4).
inline bool isValid(ServerCookieVerdict verdict) {
  return verdict == ServerCookieVerdict::kValid || verdict == ServerCookieVerdict::kRefresh;
}

/// Checks the server cookie in `cookie` (from parseCookie) from `client` at
/// `now` (RFC 9018 section 4.3): the hash under the current secret, then the
/// previous one, then the timestamp against `windows`. The reserved octets
/// are hashed as received, whatever they are (RFC 9018 appendix A.3).
ServerCookieVerdict checkServerCookie(const CookieSecrets& secrets, const Cookie& cookie,
                                      const base::IpAddress& client, uint32_t now,
                                      const CookieWindows& windows = {});

/// The client cookie shoal sends to `server` from `client` (RFC 7873
/// section 4.1: a pseudorandom function of Client IP | Server IP | Client
/// Secret; here SipHash-2-4 keyed by the client secret). Stable for one
/// (secret, client, server); different per server and per source address,
/// so it changes when the client's address does (RFC 9018 section 3).
ClientCookie makeClientCookie(const CookieSecret& client_secret, const base::IpAddress& client,
                              const base::IpAddress& server);

/// Appends a query's COOKIE option (RFC 7873 section 5.1): `client`, then
/// `server_cookie` (the one the server last returned) when it has a legal
/// length of 8 to 32 octets; otherwise the client cookie alone. Fails only
/// when `options` is full (kNoSpace).
WireStatus addQueryCookie(EdnsOptionsBuilder& options, const ClientCookie& client,
                          std::span<const uint8_t> server_cookie);

/// What a client makes of the COOKIE option of a reply (RFC 7873 section 5.3).
enum class ReplyCookieVerdict : uint8_t {
  kAbsent,     // no COOKIE option: the server does not do cookies
  kMalformed,  // a COOKIE option of an illegal length: discard the reply
  kMismatch,   // not our client cookie: discard the reply (forged)
  kMatch,      // ours; remember `cookie.server` (if any) for this server
};

/// The verdict on a reply's COOKIE option, with the option as parsed.
struct ReplyCookie {
  ReplyCookieVerdict verdict = ReplyCookieVerdict::kAbsent;
  Cookie cookie;  // parsed option, meaningful for kMatch and kMismatch
};

/// Checks the reply's first COOKIE option (`findOption(opt, kCookie)`)
/// against the client cookie that was sent. On kMatch with a BADCOOKIE
/// rcode the query is retried with the new server cookie (RFC 7873
/// section 5.3); the caller counts the retries.
ReplyCookie checkReplyCookie(std::optional<EdnsOption> option, const ClientCookie& sent);

}  // namespace shoal::dns
