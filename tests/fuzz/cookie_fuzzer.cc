// libFuzzer target: the COOKIE option (RFC 7873, RFC 9018; dns/cookie.h).
// The input is the option body as a query or a reply carries it:
//   parseCookie accepts exactly 8 or 16..40 octets, and then the option
//     written back (EdnsOptionsBuilder::addCookie, addQueryCookie) is the
//     input, octet for octet;
//   checkServerCookie calls nothing valid but a 16-octet version 1 cookie;
//     the input is valid at its own timestamp if it is the cookie
//     makeServerCookie gives for its client cookie and address; that cookie
//     is valid then and expired 3601 s later;
//   checkReplyCookie agrees with parseCookie and compares client cookies.
//
// Any invariant violation calls __builtin_trap().

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "base/ip_address.h"
#include "dns/constants.h"
#include "dns/cookie.h"
#include "dns/edns.h"
#include "dns/wire_io.h"

namespace shoal::dns {
namespace {

void require(bool cond) {
  if (!cond) __builtin_trap();
}

const CookieSecrets kSecrets{{0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f, 0x48, 0xe7, 0xdc,
                              0x84, 0x9e, 0x37, 0xbf, 0xcf},
                             {0xdd, 0x3b, 0xdf, 0x93, 0x44, 0xb6, 0x78, 0xb1, 0x85, 0xa6, 0xf5,
                              0xcb, 0x60, 0xfc, 0xa7, 0x15},
                             true};

// The client address comes from the input's last octet, so that both
// families and the mapped form are reached.
base::IpAddress clientFor(std::span<const uint8_t> body) {
  uint8_t raw[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 100};
  const uint8_t last = body.empty() ? 0 : body.back();
  if (last % 3 == 0) return base::IpAddress::v4(raw + 12);
  if (last % 3 == 1) {
    std::memset(raw, 0, 10);
    raw[10] = raw[11] = 0xff;  // ::ffff:198.51.100.100
  }
  return base::IpAddress::v6(raw);
}

bool sameBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// The option written for `cookie` must be the body it was parsed from.
void checkRoundTrip(const Cookie& cookie, std::span<const uint8_t> body) {
  EdnsOptionsBuilder built;
  require(built.addCookie(cookie).ok());
  require(load16(built.bytes().data()) == ednsopt::kCookie);
  require(sameBytes(built.bytes().subspan(4), body));
  EdnsOptionsBuilder query;
  require(addQueryCookie(query, cookie.client, {cookie.server.data(), cookie.server_length}).ok());
  require(sameBytes(query.bytes(), built.bytes()));
}

void checkServerSide(const Cookie& cookie, std::span<const uint8_t> body) {
  const base::IpAddress client = clientFor(body);
  const uint32_t stamp = cookie.server_length >= 8 ? load32(cookie.server.data() + 4) : 0;
  const ServerCookieVerdict verdict = checkServerCookie(kSecrets, cookie, client, stamp);
  const ServerCookie made = makeServerCookie(kSecrets.current, cookie.client, client, stamp);
  const bool is_made = cookie.server_length == 16 && sameBytes(made, {cookie.server.data(), 16});
  // At its own time a cookie is valid exactly when its hash is ours: with
  // reserved octets zero that is the one makeServerCookie gives.
  if (is_made) require(verdict == ServerCookieVerdict::kValid);
  if (cookie.server_length == 0) require(verdict == ServerCookieVerdict::kNone);
  if (isValid(verdict)) require(cookie.server_length == 16 && cookie.server[0] == 1);
  Cookie fresh = cookie;
  std::memcpy(fresh.server.data(), made.data(), made.size());
  fresh.server_length = 16;
  require(checkServerCookie(kSecrets, fresh, client, stamp) == ServerCookieVerdict::kValid);
  require(checkServerCookie(kSecrets, fresh, client, stamp + 3601) ==
          ServerCookieVerdict::kExpired);
}

void checkClientSide(const Cookie& cookie, std::span<const uint8_t> body) {
  const ReplyCookie ours = checkReplyCookie(EdnsOption{ednsopt::kCookie, body}, cookie.client);
  require(ours.verdict == ReplyCookieVerdict::kMatch);
  require(ours.cookie.server_length == cookie.server_length);
  ClientCookie other = cookie.client;
  other[0] ^= 0x80;
  require(checkReplyCookie(EdnsOption{ednsopt::kCookie, body}, other).verdict ==
          ReplyCookieVerdict::kMismatch);
}

}  // namespace
}  // namespace shoal::dns

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal::dns;
  const std::span<const uint8_t> body(data, size);
  const auto cookie = parseCookie(body);
  require(cookie.ok() == (size == 8 || (size >= 16 && size <= 40)));
  if (!cookie.ok()) {
    require(checkReplyCookie(EdnsOption{ednsopt::kCookie, body}, ClientCookie{}).verdict ==
            ReplyCookieVerdict::kMalformed);
    return 0;
  }
  checkRoundTrip(*cookie, body);
  checkServerSide(*cookie, body);
  checkClientSide(*cookie, body);
  return 0;
}
