#include "localroot/zone.h"

#include <algorithm>
#include <map>
#include <utility>

#include "dns/constants.h"
#include "dns/wire_io.h"

namespace shoal::localroot {

uint16_t typeCovered(std::span<const uint8_t> rrsig_rdata) {
  return rrsig_rdata.size() < 2 ? 0 : dns::load16(rrsig_rdata.data());
}

std::vector<dns::Rrset> groupRrsets(const std::vector<dns::Record>& records) {
  // Keyed by (owner's lookup key, type): case-insensitive, and the order a
  // std::map gives is irrelevant since the output keeps first appearance.
  using Key = std::pair<std::vector<uint8_t>, uint16_t>;
  std::map<Key, size_t> index;
  std::vector<dns::Rrset> rrsets;
  const auto keyOf = [](const dns::Name& owner, uint16_t type) {
    const auto key = owner.lookupKey();
    return Key{{key.bytes().begin(), key.bytes().end()}, type};
  };
  const auto add = [](std::vector<std::vector<uint8_t>>& list, const std::vector<uint8_t>& rdata) {
    if (std::find(list.begin(), list.end(), rdata) == list.end()) list.push_back(rdata);
  };
  for (const auto& record : records) {
    if (record.type == dns::rrtype::kRrsig) continue;
    auto [it, inserted] = index.try_emplace(keyOf(record.owner, record.type), rrsets.size());
    if (inserted) {
      dns::Rrset& rrset = rrsets.emplace_back();
      rrset.owner = record.owner;
      rrset.type = record.type;
      rrset.ttl = record.ttl;
    }
    dns::Rrset& rrset = rrsets[it->second];
    rrset.ttl = std::min(rrset.ttl, record.ttl);
    add(rrset.rdatas, record.rdata);
  }
  // RRSIGs second: in a transfer they may come before the data they cover.
  for (const auto& record : records) {
    if (record.type != dns::rrtype::kRrsig) continue;
    const auto it = index.find(keyOf(record.owner, typeCovered(record.rdata)));
    if (it != index.end()) add(rrsets[it->second].sigs, record.rdata);
  }
  return rrsets;
}

}  // namespace shoal::localroot
