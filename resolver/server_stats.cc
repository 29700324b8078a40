#include "resolver/server_stats.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "resolver/cache_format.h"

namespace shoal::resolver {

namespace {

constexpr int64_t kEntryLifetimeS = 3600;
constexpr int64_t kUnknownRankMs = 200;  // untried servers look fairly fast
constexpr uint32_t kBackoffAfter = 3;    // consecutive timeouts
constexpr int64_t kMaxBackoffMs = 60000;

struct Key {
  std::array<uint8_t, 18> bytes{};
  size_t length = 0;
};

Key keyOf(const base::IpAddress& a) {
  Key k;
  k.bytes[0] = 's';
  k.bytes[1] = a.isV4() ? 4 : 6;
  std::memcpy(k.bytes.data() + 2, a.bytes().data(), a.size());
  k.length = 2 + a.size();
  return k;
}

}  // namespace

ServerState ServerStats::get(const base::IpAddress& server, int64_t now_ms) {
  const Key k = keyOf(server);
  ServerState state;
  std::array<uint8_t, sizeof(ServerState)> buf{};
  auto found = cache_.lookup({{k.bytes.data(), k.length}, 0, static_cast<uint8_t>(Kind::kServer)},
                             nullptr, now_ms / 1000, buf);
  if (found && found->payload_length == sizeof(ServerState)) {
    std::memcpy(&state, buf.data(), sizeof state);
  }
  return state;
}

void ServerStats::put(const base::IpAddress& server, const ServerState& state, int64_t now_ms) {
  const Key k = keyOf(server);
  shmcache::Meta meta;
  meta.expires_at = now_ms / 1000 + kEntryLifetimeS;
  meta.original_ttl = kEntryLifetimeS;
  std::array<uint8_t, sizeof(ServerState)> buf{};
  std::memcpy(buf.data(), &state, sizeof state);
  (void)cache_.insert({{k.bytes.data(), k.length}, 0, static_cast<uint8_t>(Kind::kServer)},
                      shmcache::Partition::global(), meta, buf, now_ms / 1000);
}

void ServerStats::recordReply(const base::IpAddress& server, int64_t rtt_ms, int64_t now_ms) {
  ServerState s = get(server, now_ms);
  const int64_t r = std::max<int64_t>(rtt_ms, 0) * 1000;
  if (!s.known) {  // RFC 6298 section 2.2
    s.srtt_us = r;
    s.rttvar_us = r / 2;
    s.known = true;
  } else {         // section 2.3, alpha 1/8, beta 1/4
    s.rttvar_us = (3 * s.rttvar_us + std::abs(s.srtt_us - r)) / 4;
    s.srtt_us = (7 * s.srtt_us + r) / 8;
  }
  ++s.queries;
  ++s.replies;
  s.consecutive_timeouts = 0;
  s.backoff_until_ms = 0;
  s.last_reply_ms = now_ms;
  put(server, s, now_ms);
}

void ServerStats::recordTimeout(const base::IpAddress& server, int64_t now_ms) {
  ServerState s = get(server, now_ms);
  ++s.queries;
  ++s.timeouts;
  ++s.consecutive_timeouts;
  if (s.consecutive_timeouts >= kBackoffAfter) {
    const uint32_t extra = std::min<uint32_t>(s.consecutive_timeouts - kBackoffAfter, 6);
    s.backoff_until_ms = now_ms + std::min<int64_t>(1000ll << extra, kMaxBackoffMs);
  }
  put(server, s, now_ms);
}

void ServerStats::recordNoEdns(const base::IpAddress& server, int64_t now_ms) {
  ServerState s = get(server, now_ms);
  s.no_edns = true;
  put(server, s, now_ms);
}

int64_t ServerStats::rtoMs(const ServerState& s) const {
  int64_t rto = s.known ? (s.srtt_us + std::max<int64_t>(4 * s.rttvar_us, 10000)) / 1000
                        : rto_max_ms_ / 2;
  const uint32_t doublings = std::min<uint32_t>(s.consecutive_timeouts, 5);
  rto <<= doublings;
  return std::clamp(rto, rto_min_ms_, rto_max_ms_);
}

int64_t ServerStats::rankMs(const ServerState& s) const {
  const int64_t base = s.known ? s.srtt_us / 1000 : kUnknownRankMs;
  return base + int64_t{s.consecutive_timeouts} * rto_max_ms_;
}

}  // namespace shoal::resolver
