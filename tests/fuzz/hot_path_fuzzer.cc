// Fuzzes the hot path (resolver::answerFromCache) with EDNS Client Subnet
// on: client queries are untrusted input, and with ECS the hot path reads
// their ECS option, decides the client's subnet (resolver/ecs.h) and picks
// a cache partition. Invariants checked on every input:
//  - whatever is written parses back, with the question of the query;
//  - an ECS option in the answer echoes the query's family, source prefix
//    and address (RFC 7871 section 7.2.1), and its scope never exceeds
//    the longest partition in the cache;
//  - a subnet decided for sending never lies in a special-purpose block
//    and is never longer than the configured source prefix.
//
// Input layout: u8 flags | 16 octets client address (4 used for IPv4,
// chosen by flags bit 0) | the query packet.
// flags bit 1: the client is the trusted front end; bit 2: ECS off.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "resolver/answer.h"
#include "resolver/cache_format.h"
#include "resolver/cache_reader.h"
#include "resolver/ecs.h"
#include "shmcache/cache.h"

namespace {

using namespace shoal;

constexpr int64_t kNow = 1'800'000'000;

void require(bool cond) {
  if (!cond) __builtin_trap();
}

shmcache::Cache& cache() {
  static std::unique_ptr<shmcache::Cache> c = [] {
    shmcache::Options options;
    options.name = "/shoal-fuzz-hot-" + std::to_string(getpid());
    options.size = 2u << 20;
    options.stripes = 2;
    auto opened = shmcache::Cache::open(options, kNow);
    if (!opened) __builtin_trap();
    shmcache::Cache::unlink(options.name);  // the mapping stays
    auto store = [&](const char* owner, uint8_t last, const shmcache::Partition& partition) {
      resolver::Rrset rrset;
      rrset.owner = *dns::Name::fromText(owner);
      rrset.type = dns::rrtype::kA;
      rrset.rdatas = {{192, 0, 2, last}};
      const auto key = rrset.owner.lookupKey();
      shmcache::Meta meta;
      meta.expires_at = kNow + 300;
      meta.rank = static_cast<uint8_t>(resolver::Rank::kAuthoritativeAnswer);
      (void)(*opened)->insert({key.bytes(), dns::rrtype::kA,
                               static_cast<uint8_t>(resolver::Kind::kRrset)},
                              partition, meta, resolver::encodeRrset(rrset), kNow);
    };
    store("www.geo.com", 99, shmcache::Partition::global());
    store("www.geo.com", 1, shmcache::Partition::of(*base::IpAddress::parse("11.1.0.0"), 16));
    store("www.geo.com", 2, shmcache::Partition::of(*base::IpAddress::parse("11.2.3.0"), 24));
    store("www.geo.com", 6, shmcache::Partition::of(*base::IpAddress::parse("2a01:1::"), 32));
    store("only.geo.com", 7, shmcache::Partition::of(*base::IpAddress::parse("0.0.0.0"), 8));
    return std::move(*opened);
  }();
  return *c;
}

constexpr uint8_t kLongestPartition = 32;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 17) return 0;
  const uint8_t flags = data[0];
  const base::IpAddress client =
      (flags & 1) != 0 ? base::IpAddress::v6(data + 1) : base::IpAddress::v4(data + 1);
  const std::span<const uint8_t> query(data + 17, size - 17);

  resolver::AnswerLimits limits;
  limits.ecs.enabled = (flags & 4) == 0;
  limits.ecs.ipv4_source = 24;
  limits.ecs.ipv6_source = 56;
  if ((flags & 2) != 0) limits.ecs.trusted = {base::IpPrefix(client, client.maxPrefix())};
  static std::vector<uint8_t> out(65535);
  static std::vector<uint8_t> scratch(resolver::kCacheScratchSize);
  const auto answer =
      resolver::answerFromCache(query, client, false, cache(), limits, kNow + 1, out, scratch);

  // The subnet decided for the client: the network of a trusted front
  // end's option or the client's own address, never a special-purpose one
  // (cutting it shorter may then name a special block's prefix: that says
  // nothing private), cut to at most the configured source prefix.
  const resolver::ClientEcs& ecs = answer.request.ecs;
  if (ecs.send) {
    const auto& s = ecs.subnet;
    require(s.family == 1 || s.family == 2);
    require(s.source_prefix <= (s.family == 1 ? 24 : 56));
    require(ecs.lookupAddress() != nullptr);
    std::optional<base::IpAddress> told;
    if ((flags & 2) != 0) {
      if (auto sent = dns::Message::parse(query); sent.ok() && sent->edns()) {
        if (auto option = dns::findOption(*sent->edns(), dns::ednsopt::kClientSubnet)) {
          if (auto subnet = dns::parseClientSubnet(option->data); subnet.ok()) {
            told = subnet->family == 1 ? base::IpAddress::v4(subnet->address.data())
                                       : base::IpAddress::v6(subnet->address.data());
          }
        }
      }
    }
    const base::IpAddress origin = told ? *told : client;
    require(!resolver::isSpecialPurpose(origin));
    require(ecs.address == origin.masked(s.source_prefix) ||
            (!origin.isV4() && ecs.address.isV4()));  // an IPv4-mapped client
  }
  if (answer.result != resolver::HotPathResult::kAnswered &&
      answer.result != resolver::HotPathResult::kError) {
    return 0;
  }
  auto msg = dns::Message::parse({out.data(), answer.length});
  require(msg.ok());
  if (answer.result != resolver::HotPathResult::kAnswered) return 0;
  require(answer.scope <= kLongestPartition);
  auto sent = dns::Message::parse(query);
  require(sent.ok() && msg->question().has_value());
  if (!msg->edns()) return 0;
  const auto echoed = dns::findOption(*msg->edns(), dns::ednsopt::kClientSubnet);
  if (!echoed) return 0;
  require(limits.ecs.enabled && sent->edns().has_value());
  const auto asked = dns::findOption(*sent->edns(), dns::ednsopt::kClientSubnet);
  require(asked.has_value());
  auto a = dns::parseClientSubnet(asked->data);
  auto e = dns::parseClientSubnet(echoed->data);
  require(a.ok() && e.ok());
  require(a->family == e->family && a->source_prefix == e->source_prefix &&
          a->address == e->address);
  require(e->scope_prefix == answer.scope);
  return 0;
}
