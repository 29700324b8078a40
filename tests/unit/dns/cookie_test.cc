#include "dns/cookie.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "dns/constants.h"
#include "tests/unit/dns/test_util.h"

namespace shoal::dns {

inline void PrintTo(ServerCookieVerdict v, std::ostream* os) { *os << static_cast<int>(v); }
inline void PrintTo(ReplyCookieVerdict v, std::ostream* os) { *os << static_cast<int>(v); }

namespace {

using testing_util::bytes;
using testing_util::hex;
using V = ServerCookieVerdict;

template <size_t N>
std::array<uint8_t, N> arr(const std::string& hex_text) {
  const std::vector<uint8_t> v = hex(hex_text);
  EXPECT_EQ(v.size(), N) << hex_text;
  std::array<uint8_t, N> out{};
  std::memcpy(out.data(), v.data(), std::min(N, v.size()));
  return out;
}

base::IpAddress ip(const char* text) {
  auto a = base::IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(base::IpAddress());
}

Cookie parsed(const std::string& hex_text) {
  auto c = parseCookie(hex(hex_text));
  EXPECT_TRUE(c.ok()) << hex_text;
  return c.ok() ? *c : Cookie();
}

std::vector<uint8_t> vec(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

// The RFC 9018 appendix A inputs.
const CookieSecret kSecret = arr<16>("e5e973e5a6b2a43f48e7dc849e37bfcf");
const CookieSecret kA4Old = arr<16>("dd3bdf9344b678b185a6f5cb60fca715");
const CookieSecret kA4New = arr<16>("445536bcd2513298075a5d379663c962");

CookieSecrets only(const CookieSecret& current) { return CookieSecrets{current, {}, false}; }
CookieSecrets rolled(const CookieSecret& current, const CookieSecret& previous) {
  return CookieSecrets{current, previous, true};
}

// --- SipHash-2-4 ------------------------------------------------------------

std::array<uint8_t, 8> opensslSipHash(const CookieSecret& key, std::span<const uint8_t> data) {
  std::array<uint8_t, 8> out{};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  size_t size = 8;
  size_t length = 0;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                         OSSL_PARAM_construct_end()};
  EXPECT_EQ(EVP_MAC_init(ctx, key.data(), key.size(), params), 1);
  EXPECT_EQ(EVP_MAC_update(ctx, data.data(), data.size()), 1);
  EXPECT_EQ(EVP_MAC_final(ctx, out.data(), &length, out.size()), 1);
  EXPECT_EQ(length, 8u);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return out;
}

TEST(CookieSipHashTest, ReferenceVectors) {
  // The SipHash paper's vectors: key 00..0f, message 00..(n-1); results as
  // 64-bit values, little-endian on output.
  CookieSecret key{};
  std::vector<uint8_t> message;
  for (uint8_t i = 0; i < 16; ++i) key[i] = i;
  for (uint8_t i = 0; i < 64; ++i) message.push_back(i);
  const std::pair<size_t, uint64_t> vectors[] = {
      {0, 0x726fdb47dd0e0e31}, {7, 0xab0200f58b01d137}, {8, 0x93f5f5799a932462},
      {15, 0xa129ca6149be45e5}, {63, 0x958a324ceb064572}};
  for (const auto& [n, want] : vectors) {
    const auto got = sipHash24(key, {message.data(), n});
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | got[static_cast<size_t>(i)];
    EXPECT_EQ(value, want) << n;
  }
}

TEST(CookieSipHashTest, AgreesWithOpenSsl) {
  std::vector<uint8_t> message;
  for (int i = 0; i < 70; ++i) message.push_back(static_cast<uint8_t>(i * 37 + 11));
  for (const CookieSecret& key : {kSecret, kA4Old, kA4New}) {
    for (size_t n = 0; n <= message.size(); ++n) {
      EXPECT_EQ(sipHash24(key, {message.data(), n}), opensslSipHash(key, {message.data(), n})) << n;
    }
  }
}

// --- RFC 9018 appendix A, byte for byte ------------------------------------

TEST(CookieRfc9018Test, A1LearningANewServerCookie) {
  const Cookie query = parsed("2464c4abcf10c957");
  EXPECT_EQ(checkServerCookie(only(kSecret), query, ip("198.51.100.100"), 1559731985), V::kNone);
  const ServerCookie made =
      makeServerCookie(kSecret, query.client, ip("198.51.100.100"), 1559731985);
  EXPECT_EQ(vec(made), hex("010000005cf79f111f8130c3eee29480"));
  // The whole option of the reply.
  EdnsOptionsBuilder options;
  ASSERT_TRUE(addQueryCookie(options, query.client, made).ok());
  EXPECT_EQ(vec(options.bytes()), hex("000a0018 2464c4abcf10c957010000005cf79f111f8130c3eee29480"));
}

TEST(CookieRfc9018Test, A2TheSameClientLearningARenewedServerCookie) {
  // 40 minutes later: still valid, but over half an hour old.
  const Cookie query = parsed("2464c4abcf10c957010000005cf79f111f8130c3eee29480");
  const base::IpAddress client = ip("198.51.100.100");
  EXPECT_EQ(checkServerCookie(only(kSecret), query, client, 1559731985), V::kValid);
  EXPECT_EQ(checkServerCookie(only(kSecret), query, client, 1559734385), V::kRefresh);
  EXPECT_EQ(vec(makeServerCookie(kSecret, query.client, client, 1559734385)),
            hex("010000005cf7a871d4a564a1442aca77"));
}

TEST(CookieRfc9018Test, A3AnotherClientLearningARenewedServerCookie) {
  // Reserved octets 01abcdef..: hashed as received. The reply comes 1h52m
  // after the cookie was made, past the 1-hour window: expired under the
  // defaults (a new cookie is made either way), a refresh with a longer one.
  const Cookie query = parsed("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
  const base::IpAddress client = ip("203.0.113.203");
  EXPECT_EQ(checkServerCookie(only(kSecret), query, client, 1559727985), V::kValid);
  EXPECT_EQ(checkServerCookie(only(kSecret), query, client, 1559734700), V::kExpired);
  EXPECT_EQ(checkServerCookie(only(kSecret), query, client, 1559734700, {.max_age = 7200}),
            V::kRefresh);
  EXPECT_EQ(vec(makeServerCookie(kSecret, query.client, client, 1559734700)),
            hex("010000005cf7a9acf73a7810aca2381e"));
}

TEST(CookieRfc9018Test, A4Ipv6QueryWithRolledOverSecret) {
  const Cookie query = parsed("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
  const base::IpAddress client = ip("2001:db8:220:1:59de:d0f4:8769:82b8");
  EXPECT_EQ(checkServerCookie(only(kA4Old), query, client, 1559741961), V::kValid);
  EXPECT_EQ(checkServerCookie(only(kA4New), query, client, 1559741961), V::kBadHash);
  // Made with the previous secret: accepted, and reissued with the new one.
  EXPECT_EQ(checkServerCookie(rolled(kA4New, kA4Old), query, client, 1559741961), V::kRefresh);
  EXPECT_EQ(vec(makeServerCookie(kA4New, query.client, client, 1559741961)),
            hex("010000005cf7c609a6bb79d16625507a"));
}

// --- The option's lengths (RFC 7873 section 5.2.2) ---------------------------

TEST(CookieLengthTest, OnlyClientAloneOrWithAServerCookieOf8To32) {
  for (size_t n = 0; n <= 48; ++n) {
    const std::vector<uint8_t> body(n, 0x5a);
    const bool legal = n == 8 || (n >= 16 && n <= 40);
    EXPECT_EQ(parseCookie(body).ok(), legal) << n;
    const ReplyCookie reply = checkReplyCookie(EdnsOption{ednsopt::kCookie, body}, ClientCookie{});
    EXPECT_EQ(reply.verdict == ReplyCookieVerdict::kMalformed, !legal) << n;
  }
}

TEST(CookieLengthTest, ServerCookiesOtherThanVersion1Of16AreUnknown) {
  const base::IpAddress client = ip("192.0.2.1");
  const ClientCookie cc = arr<8>("0102030405060708");
  const ServerCookie good = makeServerCookie(kSecret, cc, client, 1000);
  Cookie cookie;
  cookie.client = cc;
  std::memcpy(cookie.server.data(), good.data(), good.size());
  cookie.server_length = 16;
  EXPECT_EQ(checkServerCookie(only(kSecret), cookie, client, 1000), V::kValid);
  for (int length : {8, 15, 17, 24, 32}) {
    cookie.server_length = static_cast<uint8_t>(length);
    EXPECT_EQ(checkServerCookie(only(kSecret), cookie, client, 1000), V::kUnknown) << length;
  }
  cookie.server_length = 16;
  cookie.server[0] = 2;  // a later version
  EXPECT_EQ(checkServerCookie(only(kSecret), cookie, client, 1000), V::kUnknown);
  EXPECT_FALSE(isValid(V::kUnknown));
}

// --- Rotation, hashes, addresses -------------------------------------------

struct Issued {
  Cookie cookie;
  base::IpAddress client;
};

Issued issue(const CookieSecret& secret, const char* client, uint32_t now) {
  Issued out{Cookie(), ip(client)};
  out.cookie.client = arr<8>("8f0facd9f4012d71");
  const ServerCookie made = makeServerCookie(secret, out.cookie.client, out.client, now);
  std::memcpy(out.cookie.server.data(), made.data(), made.size());
  out.cookie.server_length = 16;
  return out;
}

TEST(CookieRotationTest, PreviousSecretAcceptedOlderNot) {
  const CookieSecret s1 = arr<16>("000102030405060708090a0b0c0d0e0f");
  const CookieSecret s2 = arr<16>("101112131415161718191a1b1c1d1e1f");
  const CookieSecret s3 = arr<16>("202122232425262728292a2b2c2d2e2f");
  const Issued q = issue(s1, "192.0.2.7", 5000);
  EXPECT_EQ(checkServerCookie(only(s1), q.cookie, q.client, 5010), V::kValid);
  EXPECT_EQ(checkServerCookie(rolled(s2, s1), q.cookie, q.client, 5010), V::kRefresh);
  EXPECT_EQ(checkServerCookie(rolled(s3, s2), q.cookie, q.client, 5010), V::kBadHash);
  EXPECT_EQ(checkServerCookie(only(s2), q.cookie, q.client, 5010), V::kBadHash);
  // A previous secret still has to respect the time windows.
  EXPECT_EQ(checkServerCookie(rolled(s2, s1), q.cookie, q.client, 5000 + 3601), V::kExpired);
}

TEST(CookieRotationTest, HashCoversClientCookieAddressAndTimestamp) {
  Issued q = issue(kSecret, "192.0.2.7", 5000);
  EXPECT_EQ(checkServerCookie(only(kSecret), q.cookie, ip("192.0.2.8"), 5000), V::kBadHash);
  EXPECT_EQ(checkServerCookie(only(kSecret), q.cookie, ip("::ffff:192.0.2.8"), 5000), V::kBadHash);
  Issued other_client_cookie = q;
  other_client_cookie.cookie.client[7] ^= 1;
  EXPECT_EQ(checkServerCookie(only(kSecret), other_client_cookie.cookie, q.client, 5000),
            V::kBadHash);
  Issued moved_time = q;
  moved_time.cookie.server[7] ^= 1;  // timestamp's last octet
  EXPECT_EQ(checkServerCookie(only(kSecret), moved_time.cookie, q.client, 5000), V::kBadHash);
  Issued reserved_set = q;
  reserved_set.cookie.server[1] = 0xab;
  EXPECT_EQ(checkServerCookie(only(kSecret), reserved_set.cookie, q.client, 5000), V::kBadHash);
}

TEST(CookieRotationTest, Ipv4MappedClientsHashAsIpv4) {
  // A dual-stack socket sees ::ffff:198.51.100.100; the cookie is the one
  // RFC 9018 A.1 computes from the 4-octet address.
  const ClientCookie cc = arr<8>("2464c4abcf10c957");
  EXPECT_EQ(vec(makeServerCookie(kSecret, cc, ip("::ffff:198.51.100.100"), 1559731985)),
            hex("010000005cf79f111f8130c3eee29480"));
  const Issued v6 = issue(kSecret, "2001:db8::53", 100);
  const Issued v4 = issue(kSecret, "192.0.2.53", 100);
  EXPECT_EQ(checkServerCookie(only(kSecret), v6.cookie, v6.client, 100), V::kValid);
  EXPECT_EQ(checkServerCookie(only(kSecret), v4.cookie, ip("::ffff:192.0.2.53"), 100), V::kValid);
  EXPECT_EQ(checkServerCookie(only(kSecret), v6.cookie, ip("2001:db8::54"), 100), V::kBadHash);
}

// --- Time windows (RFC 9018 section 4.3) -------------------------------------

TEST(CookieWindowTest, PastFutureAndRefreshEdges) {
  const uint32_t t = 1'700'000'000;
  const Issued q = issue(kSecret, "198.51.100.1", t);
  auto at = [&](uint32_t now, const CookieWindows& w = {}) {
    return checkServerCookie(only(kSecret), q.cookie, q.client, now, w);
  };
  EXPECT_EQ(at(t), V::kValid);
  EXPECT_EQ(at(t + 1800), V::kValid);
  EXPECT_EQ(at(t + 1801), V::kRefresh);
  EXPECT_EQ(at(t + 3600), V::kRefresh);
  EXPECT_EQ(at(t + 3601), V::kExpired);
  EXPECT_EQ(at(t - 300), V::kValid);  // made by a server whose clock is ahead
  EXPECT_EQ(at(t - 301), V::kFuture);
  // Parameters.
  const CookieWindows tight{.max_age = 60, .max_future = 0, .refresh_after = 10};
  EXPECT_EQ(at(t + 10, tight), V::kValid);
  EXPECT_EQ(at(t + 11, tight), V::kRefresh);
  EXPECT_EQ(at(t + 61, tight), V::kExpired);
  EXPECT_EQ(at(t - 1, tight), V::kFuture);
  EXPECT_EQ(at(t - 3600, {.max_future = 3600}), V::kValid);
  EXPECT_EQ(at(t - 3601, {.max_future = 3600}), V::kFuture);
  EXPECT_FALSE(isValid(V::kExpired));
  EXPECT_FALSE(isValid(V::kFuture));
  EXPECT_TRUE(isValid(V::kRefresh));
}

TEST(CookieWindowTest, TimestampWrapsAround) {
  // RFC 1982: 0xffffff00 + 0x200 is 0x100, and 0x100 is after 0xffffff00.
  const Issued late = issue(kSecret, "198.51.100.1", 0xffffff00u);
  EXPECT_EQ(checkServerCookie(only(kSecret), late.cookie, late.client, 0x00000100u), V::kValid);
  EXPECT_EQ(checkServerCookie(only(kSecret), late.cookie, late.client, 0x00000100u + 1800),
            V::kRefresh);
  EXPECT_EQ(checkServerCookie(only(kSecret), late.cookie, late.client, 0xffffff00u + 3601u),
            V::kExpired);
  const Issued early = issue(kSecret, "198.51.100.1", 0x00000010u);
  // Made at 0x10 by a server 32 s ahead of us: fine; 528 s ahead: not.
  EXPECT_EQ(checkServerCookie(only(kSecret), early.cookie, early.client, 0xfffffff0u), V::kValid);
  EXPECT_EQ(checkServerCookie(only(kSecret), early.cookie, early.client, 0xfffffe00u), V::kFuture);
  // Half the serial space away is undefined in RFC 1982: refused.
  EXPECT_EQ(checkServerCookie(only(kSecret), early.cookie, early.client, 0x80000010u),
            V::kFuture);
  EXPECT_EQ(checkServerCookie(only(kSecret), early.cookie, early.client, 0x80000011u),
            V::kFuture);
  EXPECT_EQ(checkServerCookie(only(kSecret), early.cookie, early.client, 0x8000000fu),
            V::kExpired);
}

// --- Client side (RFC 7873 sections 4.1, 5.1, 5.3) ---------------------------

TEST(CookieClientTest, StablePerServerDifferentAcrossServersAndSources) {
  const CookieSecret secret = arr<16>("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  const base::IpAddress me4 = ip("192.0.2.10");
  const base::IpAddress me6 = ip("2001:db8::10");
  const ClientCookie a = makeClientCookie(secret, me4, ip("198.51.100.53"));
  EXPECT_EQ(a, makeClientCookie(secret, me4, ip("198.51.100.53")));
  EXPECT_NE(a, makeClientCookie(secret, me4, ip("198.51.100.54")));
  EXPECT_NE(a, makeClientCookie(secret, ip("192.0.2.11"), ip("198.51.100.53")));
  EXPECT_NE(a, makeClientCookie(kSecret, me4, ip("198.51.100.53")));
  const ClientCookie b = makeClientCookie(secret, me6, ip("2001:db8:53::1"));
  EXPECT_EQ(b, makeClientCookie(secret, me6, ip("2001:db8:53::1")));
  EXPECT_NE(b, makeClientCookie(secret, me6, ip("2001:db8:53::2")));
  EXPECT_NE(b, a);
  // The value itself: SipHash-2-4(secret; client IP | server IP).
  EXPECT_EQ(a, sipHash24(secret, bytes({192, 0, 2, 10, 198, 51, 100, 53})));
}

TEST(CookieClientTest, QueryOptionWithAndWithoutServerCookie) {
  const ClientCookie cc = arr<8>("2464c4abcf10c957");
  EdnsOptionsBuilder first;
  ASSERT_TRUE(addQueryCookie(first, cc, {}).ok());
  EXPECT_EQ(vec(first.bytes()), hex("000a0008 2464c4abcf10c957"));
  const std::vector<uint8_t> server = hex("010000005cf79f111f8130c3eee29480");
  EdnsOptionsBuilder next;
  ASSERT_TRUE(addQueryCookie(next, cc, server).ok());
  EXPECT_EQ(vec(next.bytes()), hex("000a0018 2464c4abcf10c957 010000005cf79f111f8130c3eee29480"));
  // A 32-octet server cookie (another implementation's) is sent as learned.
  EdnsOptionsBuilder longest;
  ASSERT_TRUE(addQueryCookie(longest, cc, std::vector<uint8_t>(32, 0xee)).ok());
  EXPECT_EQ(longest.bytes().size(), 4u + 40u);
  // A stored server cookie of an illegal length is not sent.
  for (size_t n : {1u, 7u, 33u}) {
    EdnsOptionsBuilder b;
    ASSERT_TRUE(addQueryCookie(b, cc, std::vector<uint8_t>(n, 1)).ok());
    EXPECT_EQ(vec(b.bytes()), hex("000a0008 2464c4abcf10c957")) << n;
  }
}

TEST(CookieClientTest, ReplyMustEchoOurClientCookie) {
  const ClientCookie sent = arr<8>("2464c4abcf10c957");
  EXPECT_EQ(checkReplyCookie(std::nullopt, sent).verdict, ReplyCookieVerdict::kAbsent);
  const std::vector<uint8_t> good = hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480");
  const ReplyCookie match = checkReplyCookie(EdnsOption{ednsopt::kCookie, good}, sent);
  ASSERT_EQ(match.verdict, ReplyCookieVerdict::kMatch);
  EXPECT_EQ(vec({match.cookie.server.data(), match.cookie.server_length}),
            hex("010000005cf79f111f8130c3eee29480"));
  std::vector<uint8_t> forged = good;
  forged[3] ^= 0x01;
  EXPECT_EQ(checkReplyCookie(EdnsOption{ednsopt::kCookie, forged}, sent).verdict,
            ReplyCookieVerdict::kMismatch);
  const std::vector<uint8_t> echo_only = hex("2464c4abcf10c957");
  const ReplyCookie bare = checkReplyCookie(EdnsOption{ednsopt::kCookie, echo_only}, sent);
  EXPECT_EQ(bare.verdict, ReplyCookieVerdict::kMatch);
  EXPECT_EQ(bare.cookie.server_length, 0);
  EXPECT_EQ(checkReplyCookie(EdnsOption{ednsopt::kCookie, bytes({0x24, 0x64})}, sent).verdict,
            ReplyCookieVerdict::kMalformed);
}

}  // namespace
}  // namespace shoal::dns
