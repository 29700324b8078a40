#include "resolver/roots.h"

#include <algorithm>

#include "dns/constants.h"
#include "dns/zone_text.h"

namespace shoal::resolver {

RootHints parseRootHints(std::string_view text) {
  RootHints out;
  auto parsed = dns::parseRecords(text);
  if (!parsed.ok()) {
    out.error = parsed.error;
    return out;
  }
  const dns::Name root;
  for (const auto& rr : parsed.records) {
    if (rr.type != dns::rrtype::kNs) continue;
    if (!(rr.owner == root)) {
      out.error = "NS record for " + rr.owner.toText() + " in root hints: only the root's";
      return out;
    }
    auto name = dns::Name::fromUncompressed(rr.rdata);
    if (!name) {
      out.error = "bad NS rdata in root hints";
      return out;
    }
    out.servers.push_back({*name, {}});
  }
  size_t with_address = 0;
  for (auto& server : out.servers) {
    for (const auto& rr : parsed.records) {
      if (!(rr.owner == server.name)) continue;
      if (rr.type == dns::rrtype::kA && rr.rdata.size() == 4) {
        server.addresses.push_back(base::IpAddress::v4(rr.rdata.data()));
      } else if (rr.type == dns::rrtype::kAaaa && rr.rdata.size() == 16) {
        server.addresses.push_back(base::IpAddress::v6(rr.rdata.data()));
      }
    }
    if (!server.addresses.empty()) ++with_address;
  }
  if (with_address == 0) out.error = "root hints name no server with an address";
  return out;
}

uint16_t TrustAnchor::keyTag() const {
  if (type == dns::rrtype::kDs) {
    return rdata.size() >= 2 ? static_cast<uint16_t>((rdata[0] << 8) | rdata[1]) : 0;
  }
  // RFC 4034 appendix B (algorithm 1 is obsolete and not special-cased).
  uint32_t ac = 0;
  for (size_t i = 0; i < rdata.size(); ++i) ac += (i & 1) ? rdata[i] : static_cast<uint32_t>(rdata[i]) << 8;
  ac += (ac >> 16) & 0xFFFF;
  return static_cast<uint16_t>(ac & 0xFFFF);
}

uint8_t TrustAnchor::algorithm() const {
  if (type == dns::rrtype::kDs) return rdata.size() >= 3 ? rdata[2] : 0;
  return rdata.size() >= 4 ? rdata[3] : 0;
}

TrustAnchors parseTrustAnchors(std::string_view text) {
  TrustAnchors out;
  auto parsed = dns::parseRecords(text);
  if (!parsed.ok()) {
    out.error = parsed.error;
    return out;
  }
  for (auto& rr : parsed.records) {
    if (rr.type == dns::rrtype::kDs) {
      // key tag (2), algorithm (1), digest type (1), digest.
      if (rr.rdata.size() < 5) {
        out.error = "DS for " + rr.owner.toText() + " is too short";
        return out;
      }
      const uint8_t digest_type = rr.rdata[3];
      const size_t digest = rr.rdata.size() - 4;
      const size_t want = digest_type == 1 ? 20 : digest_type == 2 ? 32 : digest_type == 4 ? 48 : 0;
      if (want != 0 && digest != want) {
        out.error = "DS for " + rr.owner.toText() + ": digest length does not match its type";
        return out;
      }
    } else if (rr.type == dns::rrtype::kDnskey) {
      if (rr.rdata.size() < 5) {
        out.error = "DNSKEY for " + rr.owner.toText() + " is too short";
        return out;
      }
    } else {
      out.error = "trust anchors must be DS or DNSKEY records, not " + dns::typeToText(rr.type);
      return out;
    }
    out.anchors.push_back({rr.owner, rr.type, std::move(rr.rdata)});
  }
  if (out.anchors.empty()) out.error = "no trust anchor found";
  return out;
}

}  // namespace shoal::resolver
