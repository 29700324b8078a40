#include "resolver/response.h"

#include <algorithm>

#include "dns/constants.h"
#include "dns/writer.h"

namespace shoal::resolver {

namespace {

bool isDnssecType(uint16_t type) {
  return type == dns::rrtype::kRrsig || type == dns::rrtype::kNsec || type == dns::rrtype::kNsec3;
}

bool writeRecords(dns::MessageWriter& w, const ClientRequest& request, const Outcome& outcome) {
  for (const auto& rrset : outcome.answer) {
    for (const auto& rd : rrset.rdatas) {
      if (!w.addRr(dns::Section::kAnswer, rrset.owner, rrset.type, dns::rrclass::kIn, rrset.ttl, rd)) {
        return false;
      }
    }
    if (!request.dnssec_ok) continue;
    for (const auto& sig : rrset.sigs) {
      if (!w.addRr(dns::Section::kAnswer, rrset.owner, dns::rrtype::kRrsig, dns::rrclass::kIn,
                   rrset.ttl, sig)) {
        return false;
      }
    }
  }
  for (const auto& rec : outcome.authority) {
    if (isDnssecType(rec.type) && !request.dnssec_ok) continue;
    if (!w.addRr(dns::Section::kAuthority, rec.owner, rec.type, dns::rrclass::kIn,
                 outcome.negative_ttl, rec.rdata)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<uint8_t> buildResponse(const ClientRequest& request, const Outcome& given,
                                   uint16_t our_udp_size) {
  const bool checking_disabled = (request.flags & dns::flag::kCd) != 0;
  Outcome bogus;
  if (given.security == dnssec::Security::kBogus && !checking_disabled) {
    bogus.rcode = dns::rcode::kServFail;
    bogus.has_ede = true;
    bogus.ede_code = given.ede_code != 0 ? given.ede_code : dns::ede::kDnssecBogus;
    bogus.ede_text = given.ede_text;
  }
  const Outcome& outcome = bogus.has_ede ? bogus : given;
  // RFC 6840 section 5.7: AD for a client that signalled it understands it
  // (DO or AD in the query).
  const bool ad = outcome.security == dnssec::Security::kSecure &&
                  (request.dnssec_ok || (request.flags & dns::flag::kAd) != 0);
  const size_t limit = request.tcp ? 65535 : std::max<size_t>(request.udp_size, 512);
  std::vector<uint8_t> buf(limit);
  dns::MessageWriter w(buf, limit);
  w.setId(request.id);
  w.setFlags(static_cast<uint16_t>(dns::flag::kQr | dns::flag::kRa | (ad ? dns::flag::kAd : 0) |
                                   (request.flags & (dns::flag::kRd | dns::flag::kCd))));
  w.setRcode(outcome.rcode);
  (void)w.addQuestion(request.question.name, request.question.type, request.question.qclass);
  dns::EdnsOut edns;
  edns.udp_size = our_udp_size;
  edns.dnssec_ok = request.dnssec_ok;
  if (outcome.has_ede && outcome.security != dnssec::Security::kBogus) {
    (void)edns.options.addExtendedError(outcome.ede_code, outcome.ede_text);
  }
  if (request.edns) (void)w.setEdns(edns);
  const auto after_question = w.mark();
  if (!writeRecords(w, request, outcome)) {
    // RFC 2181 section 9: a required RRset did not fit.
    w.rollback(after_question);
    w.setTruncated();
  }
  buf.resize(w.finish());
  return buf;
}

}  // namespace shoal::resolver
