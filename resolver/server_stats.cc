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
constexpr int64_t kMaxRttUs = int64_t{3600} * 1000 * 1000;  // keeps arithmetic in range

// SHM_LAYOUT: 's', family (4 or 6), the address octets.
constexpr uint8_t kKeyTag = 's';
constexpr std::array<uint8_t, 1> kKeyPrefix{kKeyTag};

struct Key {
  std::array<uint8_t, 18> bytes{};
  size_t length = 0;
};

Key keyOf(const base::IpAddress& a) {
  Key k;
  k.bytes[0] = kKeyTag;
  k.bytes[1] = a.isV4() ? 4 : 6;
  std::memcpy(k.bytes.data() + 2, a.bytes().data(), a.size());
  k.length = 2 + a.size();
  return k;
}

/// Keeps values read from shared memory within the ranges the arithmetic
/// below assumes (the segment is input too).
void sanitize(ServerState& s) {
  s.srtt_us = std::clamp<int64_t>(s.srtt_us, 0, kMaxRttUs);
  s.rttvar_us = std::clamp<int64_t>(s.rttvar_us, 0, kMaxRttUs);
  s.known = s.known != 0 ? 1 : 0;
  s.no_edns = s.no_edns != 0 ? 1 : 0;
  if (s.cookie_length != 0 && (s.cookie_length < 8 || s.cookie_length > s.cookie.size())) {
    s.cookie_length = 0;
  }
}

LossSlot& lossSlot(ServerState& s, int64_t now_ms) {
  const auto slot = static_cast<uint32_t>(now_ms / 1000 / kLossSlotS);
  LossSlot& at = s.loss[slot % kLossSlots];
  if (at.slot != slot) at = LossSlot{slot, 0, 0};
  return at;
}

bool lameAt(const ServerZone& z, int64_t now_ms) {
  return z.length != 0 && z.lame_until_ms > now_ms;
}

/// The slot of `zone` in `s`, moved to the front (most recent first). A new
/// zone evicts the older slot, unless only that one is lame.
ServerZone& noteZone(ServerState& s, const dns::Name& zone, int64_t now_ms) {
  static_assert(kServerZones == 2);
  for (size_t i = 0; i < kServerZones; ++i) {
    if (auto name = zoneName(s.zones[i]); name && *name == zone) {
      if (i != 0) std::swap(s.zones[0], s.zones[i]);
      return s.zones[0];
    }
  }
  // A new zone: the older slot goes, unless it alone is lame.
  const bool keep_older = lameAt(s.zones[1], now_ms) && !lameAt(s.zones[0], now_ms);
  if (!keep_older) s.zones[1] = s.zones[0];
  ServerZone fresh;
  fresh.length = static_cast<uint8_t>(zone.length());
  std::copy(zone.wire().begin(), zone.wire().end(), fresh.wire.begin());
  s.zones[0] = fresh;
  return s.zones[0];
}

}  // namespace

std::optional<dns::Name> zoneName(const ServerZone& zone) {
  if (zone.length == 0) return std::nullopt;
  auto name = dns::Name::fromUncompressed({zone.wire.data(), zone.length});
  if (!name || name->length() != zone.length) return std::nullopt;
  return *name;
}

bool isLameAnywhere(const ServerState& state, int64_t now_ms) {
  return std::any_of(state.zones.begin(), state.zones.end(),
                     [&](const ServerZone& z) { return lameAt(z, now_ms); });
}

bool isLameFor(const ServerState& state, const dns::Name& zone, int64_t now_ms) {
  // Names are parsed only for a slot that is lame now: the common case
  // costs two comparisons.
  return std::any_of(state.zones.begin(), state.zones.end(), [&](const ServerZone& z) {
    if (!lameAt(z, now_ms)) return false;
    const auto name = zoneName(z);
    return name && *name == zone;
  });
}

std::span<const uint8_t> serverKeyPrefix() { return kKeyPrefix; }

std::optional<ServerEntry> decodeServerEntry(std::span<const uint8_t> key,
                                             std::span<const uint8_t> payload) {
  if (payload.size() != sizeof(ServerState) || key.size() < 2 || key[0] != kKeyTag) {
    return std::nullopt;
  }
  std::optional<base::IpAddress> address;
  if (key[1] == 4 && key.size() == 6) address = base::IpAddress::v4(key.data() + 2);
  if (key[1] == 6 && key.size() == 18) address = base::IpAddress::v6(key.data() + 2);
  if (!address) return std::nullopt;
  ServerEntry entry{*address, {}};
  std::memcpy(&entry.state, payload.data(), sizeof entry.state);
  sanitize(entry.state);
  return entry;
}

LossWindow lossOver(const ServerState& state, int64_t seconds, int64_t now_s) {
  const int64_t current = now_s / kLossSlotS;
  const int64_t slots = std::clamp<int64_t>(seconds / kLossSlotS, 1, kLossSlots - 1);
  LossWindow window;
  for (const LossSlot& slot : state.loss) {
    if (slot.slot == 0 || slot.slot > current || current - slot.slot > slots) continue;
    window.queries += slot.queries;
    window.lost += std::min(slot.lost, slot.queries);
  }
  return window;
}

ServerState ServerStats::get(const base::IpAddress& server, int64_t now_ms) {
  const Key k = keyOf(server);
  ServerState state;
  std::array<uint8_t, sizeof(ServerState)> buf{};
  auto found = cache_.lookup({{k.bytes.data(), k.length}, 0, static_cast<uint8_t>(Kind::kServer)},
                             nullptr, now_ms / 1000, buf);
  // An entry of another size is another format (an older build): ignored.
  if (found && found->payload_length == sizeof(ServerState)) {
    std::memcpy(&state, buf.data(), sizeof state);
    sanitize(state);
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

void ServerStats::recordReply(const base::IpAddress& server, const dns::Name& zone, int64_t rtt_ms,
                              int64_t now_ms) {
  ServerState s = get(server, now_ms);
  const int64_t r = std::clamp<int64_t>(rtt_ms, 0, kMaxRttUs / 1000) * 1000;
  if (s.known == 0) {  // RFC 6298 section 2.2
    s.srtt_us = r;
    s.rttvar_us = r / 2;
    s.known = 1;
  } else {         // section 2.3, alpha 1/8, beta 1/4
    s.rttvar_us = (3 * s.rttvar_us + std::abs(s.srtt_us - r)) / 4;
    s.srtt_us = (7 * s.srtt_us + r) / 8;
  }
  if (!all_known_) {
    all_srtt_us_ = r;
    all_rttvar_us_ = r / 2;
    all_known_ = true;
  } else {
    all_rttvar_us_ = (3 * all_rttvar_us_ + std::abs(all_srtt_us_ - r)) / 4;
    all_srtt_us_ = (7 * all_srtt_us_ + r) / 8;
  }
  ++lossSlot(s, now_ms).queries;
  ++s.queries;
  ++s.replies;
  s.consecutive_timeouts = 0;
  s.backoff_until_ms = 0;
  s.last_reply_ms = now_ms;
  noteZone(s, zone, now_ms);
  put(server, s, now_ms);
}

void ServerStats::recordTimeout(const base::IpAddress& server, const dns::Name& zone,
                                int64_t now_ms) {
  ServerState s = get(server, now_ms);
  LossSlot& slot = lossSlot(s, now_ms);
  ++slot.queries;
  ++slot.lost;
  ++s.queries;
  ++s.timeouts;
  ++s.consecutive_timeouts;
  if (s.consecutive_timeouts >= kCookieForgetTimeouts) s.cookie_length = 0;
  if (s.consecutive_timeouts >= kBackoffAfter) {
    const uint32_t extra = std::min<uint32_t>(s.consecutive_timeouts - kBackoffAfter, 6);
    s.backoff_until_ms = now_ms + std::min<int64_t>(1000ll << extra, kMaxBackoffMs);
  }
  noteZone(s, zone, now_ms);
  put(server, s, now_ms);
}

void ServerStats::recordHedge(const base::IpAddress& server, int64_t now_ms) {
  ServerState s = get(server, now_ms);
  ++s.hedges;
  put(server, s, now_ms);
}

void ServerStats::recordHedgeWon(const base::IpAddress& server, int64_t now_ms) {
  ServerState s = get(server, now_ms);
  ++s.hedges_won;
  put(server, s, now_ms);
}

void ServerStats::recordNoEdns(const base::IpAddress& server, int64_t now_ms) {
  ServerState s = get(server, now_ms);
  s.no_edns = 1;
  put(server, s, now_ms);
}

void ServerStats::recordNoCase(const base::IpAddress& server, int64_t now_ms) {
  ServerState s = get(server, now_ms);
  s.no_case_until_ms = now_ms + kNoCaseMs;
  put(server, s, now_ms);
}

void ServerStats::recordCookie(const base::IpAddress& server, std::span<const uint8_t> cookie,
                               int64_t now_ms) {
  if (cookie.size() < 8 || cookie.size() > ServerState{}.cookie.size()) return;
  ServerState s = get(server, now_ms);
  if (s.cookie_length == cookie.size() &&
      std::equal(cookie.begin(), cookie.end(), s.cookie.begin())) {
    return;  // unchanged: no cache write
  }
  std::copy(cookie.begin(), cookie.end(), s.cookie.begin());
  s.cookie_length = static_cast<uint8_t>(cookie.size());
  put(server, s, now_ms);
}

void ServerStats::recordLame(const base::IpAddress& server, const dns::Name& zone, int64_t until_ms,
                             int64_t now_ms) {
  ServerState s = get(server, now_ms);
  noteZone(s, zone, now_ms).lame_until_ms = until_ms;
  put(server, s, now_ms);
}

int64_t ServerStats::rtoMs(const ServerState& s, int64_t now_ms) const {
  int64_t rto = std::min(kFirstContactRtoMs, rto_max_ms_);
  if (s.known != 0) {
    rto = (s.srtt_us + std::max<int64_t>(4 * s.rttvar_us, 10000)) / 1000;
  } else if (all_known_) {
    // A new server is most likely like the others: not faster than them.
    rto = std::min(rto, (all_srtt_us_ + std::max<int64_t>(4 * all_rttvar_us_, 10000)) / 1000);
  }
  rto <<= backoffDoublings(s, now_ms);
  return std::clamp(rto, rto_min_ms_, rto_max_ms_);
}

uint32_t ServerStats::backoffDoublings(const ServerState& s, int64_t now_ms) {
  // RFC 6298 section 5.5 doubles the RTO per timeout: a server that stops
  // answering is asked less and less often. One that answered a moment ago
  // is alive and losing packets: doubling on and on would only make each
  // loss cost more.
  // kLossTimeouts timeouts in a row are unlikely loss (0.2 % at 30 % loss,
  // 1.6 % at 50 %): the server is slow or going away, and backs off fully
  // (a fast server turned slow would otherwise be asked again every
  // rto_min until it answers).
  const bool alive = s.last_reply_ms > 0 && now_ms - s.last_reply_ms < kAliveMs;
  const uint32_t timeouts = s.consecutive_timeouts;
  return std::min<uint32_t>(timeouts, alive && timeouts < kLossTimeouts ? 2 : 5);
}

int64_t ServerStats::hedgeMs(const ServerState& s, int64_t now_ms) const {
  const int64_t rto = rtoMs(s, now_ms);
  // Nothing measured yet (a worker's first queries, to the root): a second
  // server early, before the guess of an RTO is known to be right.
  int64_t hedge = rto / 8;
  if (s.known != 0) {
    hedge = std::max<int64_t>((s.srtt_us + 2 * s.rttvar_us) / 1000, kHedgeFloorMs);
  } else if (all_known_) {
    hedge = std::max<int64_t>((all_srtt_us_ + 2 * all_rttvar_us_) / 1000, kHedgeFloorMs);
  }
  hedge <<= backoffDoublings(s, now_ms);
  return hedge < rto ? hedge : 0;
}

int64_t ServerStats::rankMs(const ServerState& s) const {
  const int64_t base = s.known != 0 ? s.srtt_us / 1000 : kUnknownRankMs;
  return base + int64_t{s.consecutive_timeouts} * rto_max_ms_;
}

}  // namespace shoal::resolver
