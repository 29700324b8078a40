#include "tests/unit/resolver/fake_net.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "tests/unit/resolver/signed_zone.h"

namespace shoal::resolver::testing_util {

namespace {

constexpr int kMaxChase = 16;  // CNAME/DNAME links a server follows inside a zone

std::vector<uint8_t> addressKey(const base::IpAddress& a) {
  std::vector<uint8_t> key(a.bytes().begin(), a.bytes().end());
  key.push_back(static_cast<uint8_t>(a.family()));
  return key;
}

std::optional<dns::Name> nameInRdata(const dns::Record& record) {
  auto name = dns::Name::fromUncompressed(record.rdata);
  if (!name) return std::nullopt;
  return *name;
}

/// `name` with its suffix `from` replaced by `to` (DNAME substitution,
/// RFC 6672 section 2.2); nullopt when the result is too long.
std::optional<dns::Name> substitute(const dns::Name& name, const dns::Name& from,
                                    const dns::Name& to) {
  dns::Name out = to;
  const size_t keep = name.labelCount() - from.labelCount();
  for (size_t i = keep; i-- > 0;) {
    auto longer = out.prepend(name.label(i));
    if (!longer) return std::nullopt;
    out = *longer;
  }
  return out;
}

}  // namespace

base::IpAddress Ip(std::string_view text) {
  auto a = base::IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(base::IpAddress{});
}

struct FakeNet::Response {
  uint16_t rcode = dns::rcode::kNoError;
  bool aa = false;
  bool edns = true;  // echo the OPT record if the query had one
  bool dnssec = false;  // a signed zone asked with DO: RRSIGs and proofs
  std::vector<dns::Record> answer, authority, additional;
};

void FakeNet::addZone(std::string_view origin, std::string_view text,
                      const std::vector<std::string>& servers) {
  std::string o(origin);
  if (o.empty() || o.back() != '.') o += '.';
  auto parsed = dns::parseRecords("$ORIGIN " + o + "\n$TTL 3600\n" + std::string(text));
  ASSERT_TRUE(parsed.ok()) << origin << ": " << parsed.error;
  addZone(origin, std::move(parsed.records), servers);
}

void FakeNet::addZone(std::string_view origin, std::vector<dns::Record> records,
                      const std::vector<std::string>& servers) {
  std::string o(origin);
  if (o.empty() || o.back() != '.') o += '.';
  Zone zone;
  auto apex = dns::Name::fromText(o);
  ASSERT_TRUE(apex.ok()) << origin;
  zone.apex = *apex;
  zone.records = std::move(records);
  zone.is_signed = std::any_of(zone.records.begin(), zone.records.end(),
                               [](const dns::Record& r) { return r.type == dns::rrtype::kRrsig; });
  for (const auto& s : servers) zone.servers.push_back(Ip(s));
  zones_.push_back(std::move(zone));
  ASSERT_FALSE(rrset(zones_.back(), zones_.back().apex, dns::rrtype::kSoa).empty())
      << origin << " has no SOA";
}

void FakeNet::addToZone(std::string_view origin, std::string_view text) {
  std::string o(origin);
  if (o.empty() || o.back() != '.') o += '.';
  auto apex = dns::Name::fromText(o);
  ASSERT_TRUE(apex.ok()) << origin;
  auto parsed = dns::parseRecords("$ORIGIN " + o + "\n$TTL 3600\n" + std::string(text));
  ASSERT_TRUE(parsed.ok()) << origin << ": " << parsed.error;
  for (auto& zone : zones_) {
    if (!(zone.apex == *apex)) continue;
    for (auto& r : parsed.records) zone.records.push_back(std::move(r));
    return;
  }
  ADD_FAILURE() << "no zone " << origin;
}

Behavior& FakeNet::server(std::string_view address) { return server(Ip(address)); }

Behavior& FakeNet::server(const base::IpAddress& address) { return behaviors_[addressKey(address)]; }

void FakeNet::onFirstContact(std::vector<std::string> group,
                             std::function<void(Behavior&)> change) {
  first_contact_group_.clear();
  for (const auto& s : group) first_contact_group_.push_back(addressKey(Ip(s)));
  first_contact_change_ = std::move(change);
}

uint64_t FakeNet::received(const base::IpAddress& server) const {
  auto it = received_.find(addressKey(server));
  return it == received_.end() ? 0 : it->second;
}

RootHints FakeNet::rootHints() const {
  RootHints hints;
  for (const auto& zone : zones_) {
    if (!zone.apex.isRoot()) continue;
    for (const auto& ns : rrset(zone, zone.apex, dns::rrtype::kNs)) {
      auto name = nameInRdata(ns);
      if (!name) continue;
      RootServer server{*name, {}};
      for (const auto& a : rrset(zone, *name, dns::rrtype::kA)) {
        server.addresses.push_back(base::IpAddress::v4(a.rdata.data()));
      }
      for (const auto& a : rrset(zone, *name, dns::rrtype::kAaaa)) {
        server.addresses.push_back(base::IpAddress::v6(a.rdata.data()));
      }
      hints.servers.push_back(std::move(server));
    }
  }
  if (hints.servers.empty()) hints.error = "no root zone";
  return hints;
}

const FakeNet::Zone* FakeNet::findZone(const base::IpAddress& server,
                                       const dns::Name& qname) const {
  const Zone* best = nullptr;
  for (const auto& zone : zones_) {
    if (std::find(zone.servers.begin(), zone.servers.end(), server) == zone.servers.end()) continue;
    if (!qname.isSubdomainOf(zone.apex)) continue;
    if (best == nullptr || zone.apex.labelCount() > best->apex.labelCount()) best = &zone;
  }
  return best;
}

std::vector<dns::Record> FakeNet::rrset(const Zone& zone, const dns::Name& owner,
                                        uint16_t type) const {
  std::vector<dns::Record> out;
  for (const auto& r : zone.records) {
    if (r.type == type && r.owner == owner) out.push_back(r);
  }
  return out;
}

bool FakeNet::hasAny(const Zone& zone, const dns::Name& owner) const {
  return std::any_of(zone.records.begin(), zone.records.end(),
                     [&](const dns::Record& r) { return r.owner == owner; });
}

bool FakeNet::hasDescendant(const Zone& zone, const dns::Name& name) const {
  return std::any_of(zone.records.begin(), zone.records.end(), [&](const dns::Record& r) {
    return r.owner.isSubdomainOf(name) && !(r.owner == name);
  });
}

dns::Record FakeNet::soa(const Zone& zone) const {
  // The SOA's own TTL (not min(TTL, MINIMUM)): the resolver must apply
  // RFC 2308 section 5 itself.
  return rrset(zone, zone.apex, dns::rrtype::kSoa).front();
}

void FakeNet::addSignatures(const Zone& zone, const dns::Name& owner, uint16_t type,
                            const dns::Name& as, std::vector<dns::Record>& section,
                            const Response& response) const {
  if (!response.dnssec) return;
  for (auto& sig : signaturesFor(zone.records, owner, type, as)) section.push_back(std::move(sig));
}

void FakeNet::addNegative(const Zone& zone, const dns::Name& qname, Proof proof,
                          const dns::Name& encloser, Response& response) const {
  response.authority.push_back(soa(zone));
  addSignatures(zone, zone.apex, dns::rrtype::kSoa, zone.apex, response.authority, response);
  if (!response.dnssec) return;
  for (auto& r : denialFor(zone.records, zone.apex, proof, qname, encloser)) {
    response.authority.push_back(std::move(r));
  }
}

void FakeNet::addGlue(const Zone& zone, const std::vector<dns::Record>& ns,
                      Response& response) const {
  for (const auto& record : ns) {
    auto name = nameInRdata(record);
    if (!name || !name->isSubdomainOf(zone.apex)) continue;
    for (uint16_t type : {dns::rrtype::kA, dns::rrtype::kAaaa}) {
      for (auto& glue : rrset(zone, *name, type)) response.additional.push_back(std::move(glue));
    }
  }
}

void FakeNet::referral(const Zone& zone, const dns::Name& cut, Response& response) const {
  response.aa = false;
  auto ns = rrset(zone, cut, dns::rrtype::kNs);
  for (const auto& r : ns) response.authority.push_back(r);
  auto ds = rrset(zone, cut, dns::rrtype::kDs);
  for (const auto& r : ds) response.authority.push_back(r);
  if (response.dnssec && !(cut == zone.apex)) {
    // RFC 4035 section 3.1.4: the DS with its RRSIGs, or the proof that
    // there is none.
    if (!ds.empty()) {
      addSignatures(zone, cut, dns::rrtype::kDs, cut, response.authority, response);
    } else {
      for (auto& r : denialFor(zone.records, zone.apex, Proof::kNoDs, cut, cut)) {
        response.authority.push_back(std::move(r));
      }
    }
  }
  addGlue(zone, ns, response);
}

void FakeNet::lookup(const Zone& zone, const dns::Name& qname, uint16_t qtype,
                     const Behavior& behavior, Response& response, int depth) const {
  if (depth > kMaxChase) return;
  // A zone cut or a DNAME on the way down (RFC 1034 section 4.3.2 step 3b,
  // RFC 6672 section 3.2).
  for (size_t labels = zone.apex.labelCount() + 1; labels <= qname.labelCount(); ++labels) {
    const dns::Name n = qname.suffix(labels);
    const bool at_qname = labels == qname.labelCount();
    if (!rrset(zone, n, dns::rrtype::kNs).empty() && !(at_qname && qtype == dns::rrtype::kDs)) {
      // A chased target below a cut: the answer so far is all we give.
      if (depth == 0) referral(zone, n, response);
      return;
    }
    if (at_qname) break;
    auto dname = rrset(zone, n, dns::rrtype::kDname);
    if (dname.empty()) continue;
    auto to = nameInRdata(dname.front());
    auto target = to ? substitute(qname, n, *to) : std::nullopt;
    if (!target) {
      response.rcode = 6;  // YXDOMAIN
      return;
    }
    const uint32_t ttl = dname.front().ttl;
    response.answer.push_back(dname.front());
    addSignatures(zone, n, dns::rrtype::kDname, n, response.answer, response);
    dns::Record cname{qname, dns::rrtype::kCname, dns::rrclass::kIn, ttl,
                      {target->wire().begin(), target->wire().end()}};
    response.answer.push_back(std::move(cname));
    if (target->isSubdomainOf(zone.apex)) lookup(zone, *target, qtype, behavior, response, depth + 1);
    return;
  }

  // The records at qname, or at the wildcard that covers it (RFC 4592).
  const dns::Name* source = &qname;
  dns::Name wildcard;
  dns::Name encloser = qname;  // the closest encloser, for wildcard proofs
  if (!hasAny(zone, qname)) {
    if (hasDescendant(zone, qname)) {  // an empty non-terminal
      if (behavior.nxdomain_for_ent) response.rcode = dns::rcode::kNxDomain;
      addNegative(zone, qname, Proof::kNodata, qname, response);
      return;
    }
    encloser = qname.parent();
    while (!(encloser == zone.apex) && !hasAny(zone, encloser) && !hasDescendant(zone, encloser)) {
      encloser = encloser.parent();
    }
    const uint8_t star[] = {'*'};
    auto w = encloser.prepend(star);
    if (!w || !hasAny(zone, *w)) {
      response.rcode = dns::rcode::kNxDomain;
      addNegative(zone, qname, Proof::kNxdomain, encloser, response);
      return;
    }
    wildcard = *w;
    source = &wildcard;
  }
  const bool expanded = source == &wildcard;
  auto wildcardProof = [&] {
    if (!expanded || !response.dnssec) return;
    for (auto& r : denialFor(zone.records, zone.apex, Proof::kWildcardAnswer, qname, encloser)) {
      response.authority.push_back(std::move(r));
    }
  };
  auto data = rrset(zone, *source, qtype);
  if (!data.empty()) {
    if (qtype == dns::rrtype::kNs) addGlue(zone, data, response);
    for (auto& r : data) {
      r.owner = qname;  // the case of the query, as real servers compress to it
      response.answer.push_back(std::move(r));
    }
    addSignatures(zone, *source, qtype, qname, response.answer, response);
    wildcardProof();
    return;
  }
  auto cname = rrset(zone, *source, dns::rrtype::kCname);
  if (!cname.empty() && qtype != dns::rrtype::kCname) {
    cname.front().owner = qname;
    auto target = nameInRdata(cname.front());
    response.answer.push_back(cname.front());
    addSignatures(zone, *source, dns::rrtype::kCname, qname, response.answer, response);
    wildcardProof();
    if (!target) return;
    for (const auto& r : response.answer) {
      if (r.type == dns::rrtype::kCname && r.owner == *target) return;  // a loop: stop
    }
    if (target->isSubdomainOf(zone.apex)) lookup(zone, *target, qtype, behavior, response, depth + 1);
    return;
  }
  // NODATA
  addNegative(zone, qname, expanded ? Proof::kWildcardNodata : Proof::kNodata, encloser, response);
}

std::optional<std::vector<uint8_t>> FakeNet::answer(const base::IpAddress& server,
                                                    std::span<const uint8_t> query, bool tcp) {
  auto parsed = dns::Message::parse(query);
  if (!parsed || parsed->header().has(dns::flag::kQr)) return std::nullopt;
  const dns::Message& msg = *parsed;
  Behavior& behavior = this->server(server);
  const bool edns = msg.edns().has_value();

  // RFC 7873 section 5.2: a well-formed COOKIE option is answered with one.
  std::optional<dns::Cookie> cookie;
  if (edns && behavior.cookies) {
    if (auto option = dns::findOption(*msg.edns(), dns::ednsopt::kCookie)) {
      if (auto body = dns::parseCookie(option->data)) cookie = *body;
    }
  }

  Response response;
  if (!msg.question()) {
    response.rcode = dns::rcode::kFormErr;
  } else if (cookie && behavior.badcookie_next > 0) {
    --behavior.badcookie_next;
    response.rcode = dns::rcode::kBadCookie;
  } else if (behavior.servfail_next > 0) {
    --behavior.servfail_next;
    response.rcode = dns::rcode::kServFail;
  } else if (behavior.refused) {
    response.rcode = dns::rcode::kRefused;
  } else if (behavior.formerr_on_edns && edns) {
    response.rcode = dns::rcode::kFormErr;
    response.edns = false;
  } else if (const Zone* zone = findZone(server, msg.question()->name); zone == nullptr) {
    response.rcode = dns::rcode::kRefused;
  } else if (behavior.upward_referral) {
    for (const auto& z : zones_) {
      if (z.apex.isRoot()) referral(z, z.apex, response);
    }
  } else {
    response.aa = true;
    response.dnssec = zone->is_signed && edns && msg.edns()->dnssec_ok;
    lookup(*zone, msg.question()->name, msg.question()->type, behavior, response, 0);
    for (const auto& r : behavior.extra_answer) response.answer.push_back(r);
    for (const auto& r : behavior.extra_additional) response.additional.push_back(r);
  }

  size_t limit = 512;
  if (edns) limit = std::max<size_t>(msg.edns()->udp_size, 512);
  if (tcp) limit = 65535;
  std::vector<uint8_t> buf(65535);
  dns::MessageWriter w(buf, limit);
  w.setId(msg.header().id);
  w.setFlags(static_cast<uint16_t>(dns::flag::kQr | (response.aa ? dns::flag::kAa : 0) |
                                   (msg.header().flags & dns::flag::kRd)));
  w.setRcode(response.rcode);
  if (msg.question()) {
    (void)w.addQuestion(msg.question()->name, msg.question()->type, msg.question()->qclass);
  }
  dns::EdnsOut opt;
  opt.udp_size = 1232;
  opt.dnssec_ok = edns && msg.edns()->dnssec_ok;
  if (cookie) {
    dns::Cookie out;
    out.client = cookie->client;
    const size_t length = std::min(behavior.server_cookie.size(), out.server.size());
    std::copy_n(behavior.server_cookie.begin(), length, out.server.begin());
    out.server_length = static_cast<uint8_t>(length);
    (void)opt.options.addCookie(out);
  }
  if (edns && response.edns) (void)w.setEdns(opt);
  const auto after_question = w.mark();
  bool fits = tcp || !behavior.udp_always_truncated;
  auto write = [&](dns::Section section, const std::vector<dns::Record>& records) {
    for (const auto& r : records) {
      if (!fits) return;
      fits = w.addRr(section, r.owner, r.type, r.rrclass, r.ttl, r.rdata).ok();
    }
  };
  write(dns::Section::kAnswer, response.answer);
  write(dns::Section::kAuthority, response.authority);
  write(dns::Section::kAdditional, response.additional);
  if (!fits) {
    w.rollback(after_question);
    w.setTruncated();
  }
  buf.resize(w.finish());
  return buf;
}

std::vector<Delivery> FakeNet::transmit(const base::IpAddress& server,
                                        std::span<const uint8_t> query, bool tcp) {
  const auto key = addressKey(server);
  ++received_[key];
  if (std::find(first_contact_group_.begin(), first_contact_group_.end(), key) !=
      first_contact_group_.end()) {
    first_contact_group_.clear();
    first_contact_change_(this->server(server));
  }
  Behavior& behavior = this->server(server);
  if (behavior.dead) return {};
  if (behavior.unreachable) return {Delivery{behavior.latency_ms, {}, true}};
  if (behavior.drop_next > 0) {
    --behavior.drop_next;
    return {};
  }
  if (behavior.drop_percent > 0 &&
      std::uniform_int_distribution<int>(0, 99)(rng_) < behavior.drop_percent) {
    return {};
  }
  auto reply = answer(server, query, tcp);
  if (!reply) return {};
  std::vector<Delivery> out;
  out.push_back({tcp ? 2 * behavior.latency_ms : behavior.latency_ms, std::move(*reply)});
  if (behavior.tamper) behavior.tamper(query, out);
  return out;
}

}  // namespace shoal::resolver::testing_util
