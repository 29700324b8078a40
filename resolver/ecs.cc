#include "resolver/ecs.h"

#include <algorithm>
#include <cstring>

namespace shoal::resolver {

namespace {

struct Block {
  std::array<uint8_t, 16> network;
  uint8_t length;
};

// IANA IPv4 Special-Purpose Address Registry (RFC 6890, RFC 8190 and the
// registrations since), plus multicast and the limited broadcast: no
// client of the public Internet has such an address. Blocks inside a
// listed one (192.0.0.0/29 in 192.0.0.0/24) are not repeated.
constexpr Block kV4[] = {
    {{0}, 8},                     // "this network" (RFC 791)
    {{10}, 8},                    // private (RFC 1918)
    {{100, 64}, 10},              // shared address space, CGN (RFC 6598)
    {{127}, 8},                   // loopback
    {{169, 254}, 16},             // link local (RFC 3927)
    {{172, 16}, 12},              // private
    {{192, 0, 0}, 24},            // IETF protocol assignments (RFC 6890)
    {{192, 0, 2}, 24},            // documentation TEST-NET-1 (RFC 5737)
    {{192, 31, 196}, 24},         // AS112-v4 (RFC 7535)
    {{192, 52, 193}, 24},         // AMT (RFC 7450)
    {{192, 88, 99}, 24},          // deprecated 6to4 relay anycast (RFC 7526)
    {{192, 168}, 16},             // private
    {{192, 175, 48}, 24},         // direct delegation AS112 (RFC 7534)
    {{198, 18}, 15},              // benchmarking (RFC 2544)
    {{198, 51, 100}, 24},         // documentation TEST-NET-2
    {{203, 0, 113}, 24},          // documentation TEST-NET-3
    {{224}, 4},                   // multicast (RFC 5771)
    {{240}, 4},                   // reserved (RFC 1112), includes 255.255.255.255
};

// IANA IPv6 Special-Purpose Address Registry, plus multicast and the
// deprecated site-local block. IPv4-mapped addresses (::ffff:0:0/96) are
// judged by the IPv4 table.
constexpr Block kV6[] = {
    {{}, 127},                                    // ::/128 unspecified, ::1/128 loopback
    {{0, 0x64, 0xff, 0x9b}, 96},                  // IPv4/IPv6 translation (RFC 6052)
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48},            // local-use translation (RFC 8215)
    {{0x01, 0x00}, 64},                           // discard-only (RFC 6666)
    {{0x01, 0x00, 0, 0, 0, 1}, 64},               // dummy IPv6 prefix (IANA, 2024)
    {{0x20, 0x01, 0x00, 0x00}, 23},               // IETF protocol assignments (RFC 2928):
                                                  // Teredo, benchmarking, AMT, AS112,
                                                  // ORCHID, DRIP
    {{0x20, 0x01, 0x0d, 0xb8}, 32},               // documentation (RFC 3849)
    {{0x20, 0x02}, 16},                           // 6to4 (RFC 3056)
    {{0x26, 0x20, 0x00, 0x4f, 0x80, 0x00}, 48},   // direct delegation AS112 (RFC 7534)
    {{0x3f, 0xff}, 20},                           // documentation (RFC 9637)
    {{0x5f, 0x00}, 16},                           // segment routing SIDs (RFC 9602)
    {{0xfc}, 7},                                  // unique local (RFC 4193)
    {{0xfe, 0x80}, 10},                           // link local (RFC 4291)
    {{0xfe, 0xc0}, 10},                           // site local, deprecated (RFC 3879)
    {{0xff}, 8},                                  // multicast
};

bool inBlock(const std::array<uint8_t, 16>& address, const Block& block) {
  const unsigned full = block.length / 8;
  if (std::memcmp(address.data(), block.network.data(), full) != 0) return false;
  const unsigned rest = block.length % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address[full] & mask) == (block.network[full] & mask);
}

bool isV4Mapped(const base::IpAddress& address) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return !address.isV4() && std::memcmp(address.bytes().data(), kPrefix, 12) == 0;
}

/// An IPv4-mapped IPv6 address (a dual-stack socket) as the IPv4 address.
base::IpAddress unmapped(const base::IpAddress& address) {
  if (!isV4Mapped(address)) return address;
  return base::IpAddress::v4(address.bytes().data() + 12);
}

base::IpAddress addressOf(const dns::ClientSubnet& subnet) {
  return subnet.family == 1 ? base::IpAddress::v4(subnet.address.data())
                            : base::IpAddress::v6(subnet.address.data());
}

dns::ClientSubnet subnetOf(const base::IpAddress& address, unsigned prefix) {
  dns::ClientSubnet out;
  out.family = address.isV4() ? 1 : 2;
  out.source_prefix = static_cast<uint8_t>(std::min(prefix, address.maxPrefix()));
  const auto masked = address.masked(out.source_prefix);
  std::memcpy(out.address.data(), masked.bytes().data(), address.size());
  return out;
}

}  // namespace

bool isSpecialPurpose(const base::IpAddress& raw) {
  const base::IpAddress address = unmapped(raw);
  if (address.isV4()) {
    return std::any_of(std::begin(kV4), std::end(kV4),
                       [&](const Block& b) { return inBlock(address.bytes(), b); });
  }
  return std::any_of(std::begin(kV6), std::end(kV6),
                     [&](const Block& b) { return inBlock(address.bytes(), b); });
}

ClientEcs clientEcs(const EcsPolicy& policy, const base::IpAddress& raw_source,
                    const dns::ClientSubnet* option) {
  ClientEcs out;
  if (!policy.enabled) return out;
  if (option != nullptr) {
    out.echo = true;
    out.echoed = *option;
  }
  const base::IpAddress source = unmapped(raw_source);
  const bool trusted = option != nullptr &&
                       std::any_of(policy.trusted.begin(), policy.trusted.end(),
                                   [&](const base::IpPrefix& p) { return p.contains(source); });
  // The client's address and how many of its bits may be told.
  base::IpAddress client = source;
  unsigned limit = source.isV4() ? policy.ipv4_source : policy.ipv6_source;
  if (trusted) {
    client = addressOf(*option);
    limit = std::min<unsigned>(client.isV4() ? policy.ipv4_source : policy.ipv6_source,
                               option->source_prefix);
  } else if (option != nullptr && (option->family == 1) == source.isV4()) {
    // Anyone may ask for less to be told about them, never for more.
    limit = std::min<unsigned>(limit, option->source_prefix);
  }
  if (limit == 0) {
    // Source /0: the client (or its front end) wants no address sent.
    return out;
  }
  if (isSpecialPurpose(client)) {
    if (!policy.special_substitute) return out;
    const base::IpPrefix& sub = *policy.special_substitute;
    // A client that asked for less gets less of the substitute too.
    const unsigned length =
        option != nullptr ? std::min<unsigned>(sub.length(), option->source_prefix) : sub.length();
    out.send = true;
    out.subnet = subnetOf(sub.network(), length);
    out.address = addressOf(out.subnet);
    return out;
  }
  out.send = true;
  out.subnet = subnetOf(client, limit);
  out.address = addressOf(out.subnet);
  return out;
}

bool ecsAllowed(const EcsPolicy& policy, const dns::Name& zone, const base::IpAddress& server) {
  if (!policy.enabled) return false;
  for (const auto& allowed : policy.zones) {
    if (zone.isSubdomainOf(allowed)) return true;
  }
  return std::any_of(policy.servers.begin(), policy.servers.end(),
                     [&](const base::IpPrefix& p) { return p.contains(server); });
}

bool ecsReplyMatches(const dns::ClientSubnet& sent, const dns::ClientSubnet& got) {
  if (sent.family != got.family || sent.source_prefix != got.source_prefix) return false;
  const size_t octets = (sent.source_prefix + 7u) / 8u;
  return std::memcmp(sent.address.data(), got.address.data(), octets) == 0;
}

shmcache::Partition partitionFor(const dns::ClientSubnet& sent, uint8_t scope) {
  const uint8_t prefix = std::min(scope, sent.source_prefix);
  if (prefix == 0) return shmcache::Partition::global();
  return shmcache::Partition::of(addressOf(sent), prefix);
}

}  // namespace shoal::resolver
