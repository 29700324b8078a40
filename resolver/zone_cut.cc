#include "resolver/zone_cut.h"

#include "dns/constants.h"

namespace shoal::resolver {

std::optional<Cut> cachedCut(RecordCache& records, const dns::Name& sname, uint16_t stype,
                             Families families, int64_t now_s) {
  dns::Name name = stype == dns::rrtype::kDs && !sname.isRoot() ? sname.parent() : sname;
  for (;;) {
    if (auto ns = records.fetchRrset(name, dns::rrtype::kNs, now_s)) {
      Cut cut;
      cut.zone = name;
      // An NS set whose in-zone servers have no glue in the cache (glue
      // evicted before the NS set, or another worker between storing the
      // two) is useless: the parent's referral brings the glue again, so
      // go up to the parent.
      bool usable = false;
      for (const auto& rd : ns->rdatas) {
        auto ns_name = dns::Name::fromUncompressed(rd);
        if (!ns_name) continue;
        auto addresses = records.fetchAddresses(*ns_name, families.ipv4, families.ipv6, now_s);
        usable = usable || !addresses.empty() || !ns_name->isSubdomainOf(name);
        cut.servers.push_back({*ns_name, std::move(addresses)});
      }
      if (usable) {
        cut.valid = true;
        return cut;
      }
    }
    if (name.isRoot()) return std::nullopt;
    name = name.parent();
  }
}

Cut hintsCut(const RootHints& hints, Families families) {
  Cut cut;
  cut.from_hints = true;
  for (const auto& root : hints.servers) {
    NsServer server{root.name, {}};
    for (const auto& a : root.addresses) {
      if ((a.isV4() && families.ipv4) || (!a.isV4() && families.ipv6)) {
        server.addresses.push_back(a);
      }
    }
    cut.servers.push_back(std::move(server));
  }
  cut.valid = true;
  return cut;
}

Cut referralCut(const Rrset& ns, const std::vector<Rrset>& glue, RecordCache& records,
                Families families, int64_t now_s) {
  Cut cut;
  cut.zone = ns.owner;
  cut.valid = true;
  for (const auto& rd : ns.rdatas) {
    auto name = dns::Name::fromUncompressed(rd);
    if (!name) continue;
    NsServer server{*name, {}};
    // The classifier kept only glue in bailiwick of the referring zone.
    for (const auto& rrset : glue) {
      if (!(rrset.owner == *name)) continue;
      for (const auto& a : rrset.rdatas) {
        if (a.size() == 4) server.addresses.push_back(base::IpAddress::v4(a.data()));
        if (a.size() == 16) server.addresses.push_back(base::IpAddress::v6(a.data()));
      }
    }
    if (server.addresses.empty()) {
      server.addresses = records.fetchAddresses(*name, families.ipv4, families.ipv6, now_s);
    }
    cut.servers.push_back(std::move(server));
  }
  return cut;
}

}  // namespace shoal::resolver
