#include "resolver/response.h"

#include "dns/constants.h"

namespace shoal::resolver {

namespace {

void writeRecords(ResponseWriter& w, const Outcome& outcome) {
  for (const auto& rrset : outcome.answer) {
    for (const auto& rd : rrset.rdatas) {
      if (!w.add(dns::Section::kAnswer, rrset.owner, rrset.type, rrset.ttl, rd)) return;
    }
    for (const auto& sig : rrset.sigs) {
      if (!w.add(dns::Section::kAnswer, rrset.owner, dns::rrtype::kRrsig, rrset.ttl, sig)) return;
    }
  }
  for (const auto& rec : outcome.authority) {
    if (!w.add(dns::Section::kAuthority, rec.owner, rec.type, outcome.negative_ttl, rec.rdata)) {
      return;
    }
  }
}

}  // namespace

std::vector<uint8_t> buildResponse(const ClientRequest& request, const Outcome& outcome,
                                   uint16_t our_udp_size) {
  std::vector<uint8_t> buf(request.sizeLimit());
  if (outcome.security == dnssec::Security::kBogus && !request.checkingDisabled()) {
    const Ede ede{outcome.ede_code != 0 ? outcome.ede_code : dns::ede::kDnssecBogus,
                  outcome.ede_text};
    ResponseWriter w(buf, request, our_udp_size, &ede);
    buf.resize(w.finish(dns::rcode::kServFail, false));
    return buf;
  }
  // A CD client gets bogus data as it is, without the failure's EDE.
  const bool with_ede = outcome.has_ede && outcome.security != dnssec::Security::kBogus;
  const Ede ede{outcome.ede_code, outcome.ede_text};
  ResponseWriter w(buf, request, our_udp_size, with_ede ? &ede : nullptr);
  writeRecords(w, outcome);
  w.setEcsScope(outcome.scope);
  buf.resize(w.finish(outcome.rcode, outcome.security == dnssec::Security::kSecure));
  return buf;
}

}  // namespace shoal::resolver
