#include "resolver/answer.h"

#include <algorithm>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "resolver/cache_format.h"
#include "resolver/cache_reader.h"
#include "resolver/response_writer.h"
#include "resolver/sentinel.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

namespace {

constexpr int kMaxChain = 8;  // CNAME links followed from the cache

/// Writes what the cache reader finds into the response.
class WriteVisitor : public CacheVisitor {
 public:
  WriteVisitor(ResponseWriter& writer, const ClientRequest& request)
      : writer_(writer), request_(request) {}

  /// A link of the chain carried wildcard proofs for a DO client: they
  /// belong in the authority section after the whole answer, which this
  /// one-pass writer cannot do; the engine answers instead.
  bool needs_engine = false;

  bool onRrset(const dns::Name& owner, uint16_t type, const CachedEntry& entry,
               const RrsetView& rrset) override {
    const bool data = type == request_.question.type;
    if (rrset.proofCount() > 0 && request_.dnssec_ok && !data) {
      needs_engine = true;
      return false;
    }
    size_t pos = rrset.firstRdata();
    for (size_t i = 0; i < rrset.count(); ++i) {
      const auto item = rrset.rdata(pos);
      if (!writer_.add(dns::Section::kAnswer, owner, type, entry.ttl, item.rdata)) return false;
      pos = item.next;
    }
    if (!request_.dnssec_ok) return true;  // RRSIGs and proofs are for DO clients
    pos = rrset.firstSig();
    for (size_t i = 0; i < rrset.sigCount(); ++i) {
      const auto item = rrset.rdata(pos);
      if (!writer_.add(dns::Section::kAnswer, owner, dns::rrtype::kRrsig, entry.ttl, item.rdata)) {
        return false;
      }
      pos = item.next;
    }
    // RFC 4035 section 3.1.3.3: a wildcard expansion comes with the proof
    // that no closer name exists.
    pos = rrset.firstProof();
    for (size_t i = 0; i < rrset.proofCount(); ++i) {
      const auto proof = rrset.proof(pos);
      if (!writer_.add(dns::Section::kAuthority, proof.owner, proof.type, entry.ttl, proof.rdata)) {
        return false;
      }
      pos = proof.next;
    }
    return true;
  }

  bool onNegative(bool nxdomain, const CachedEntry& entry, const NegativeView& records) override {
    (void)nxdomain;
    size_t pos = records.first();
    for (size_t i = 0; i < records.count(); ++i) {
      const auto item = records.record(pos);
      pos = item.next;
      // RFC 2308 section 5: negative answers carry the remaining negative TTL.
      if (!writer_.add(dns::Section::kAuthority, item.owner, item.type, entry.ttl, item.rdata)) {
        return false;
      }
    }
    return true;
  }

 private:
  ResponseWriter& writer_;
  const ClientRequest& request_;
};

}  // namespace

HotPathAnswer refuse(std::span<const uint8_t> query, std::span<uint8_t> out) {
  auto msg = dns::Message::parse(query);
  return errorAnswer(writeErrorResponse(query, msg ? &*msg : nullptr, dns::rcode::kRefused, out));
}

size_t writeSlip(const ClientRequest& request, uint16_t our_udp_size, bool bad_cookie,
                 std::span<uint8_t> out) {
  ResponseWriter writer(out, request, our_udp_size);
  if (!writer.started()) return 0;
  if (bad_cookie && request.cookie) return writer.finish(dns::rcode::kBadCookie, false);
  writer.truncate();
  return writer.finish(dns::rcode::kNoError, false);
}

size_t writeServfail(const ClientRequest& request, uint16_t our_udp_size, const Ede& ede,
                     std::span<uint8_t> out) {
  ResponseWriter writer(out, request, our_udp_size, &ede);
  return writer.started() ? writer.finish(dns::rcode::kServFail, false) : 0;
}

HotPathAnswer answerFromCache(std::span<const uint8_t> query, const base::IpAddress& client,
                              bool tcp, shmcache::Cache& cache, const AnswerLimits& limits,
                              int64_t now_s, std::span<uint8_t> out, std::span<uint8_t> scratch,
                              uint16_t tcp_keepalive, const dns::CookieSecrets* cookies) {
  auto parsed = dns::Message::parse(query);
  if (!parsed) return errorAnswer(writeErrorResponse(query, nullptr, dns::rcode::kFormErr, out));
  const dns::Message& msg = *parsed;
  const dns::Header& header = msg.header();
  auto error = [&](uint16_t rcode) { return errorAnswer(writeErrorResponse(query, &msg, rcode, out)); };
  if (header.has(dns::flag::kQr)) return {HotPathResult::kDrop, 0, {}};
  if (header.opcode() != dns::opcode::kQuery) return error(dns::rcode::kNotImp);
  if (!msg.question()) return error(dns::rcode::kFormErr);
  if (msg.edns() && msg.edns()->version != 0) return error(dns::rcode::kBadVers);
  const dns::Question& q = *msg.question();
  if (q.qclass != dns::rrclass::kIn) return error(dns::rcode::kRefused);
  if (q.type == dns::rrtype::kAxfr || q.type == dns::rrtype::kIxfr || q.type == dns::rrtype::kOpt) {
    return error(dns::rcode::kNotImp);
  }
  HotPathAnswer answer{HotPathResult::kMiss, 0, requestOf(msg, tcp, limits.udp_payload_size)};
  if (tcp && msg.edns() && dns::findOption(*msg.edns(), dns::ednsopt::kTcpKeepalive)) {
    answer.request.tcp_keepalive = tcp_keepalive != 0 ? tcp_keepalive : limits.tcp_keepalive;
  }
  if (cookies != nullptr && msg.edns()) {
    if (auto raw = dns::findOption(*msg.edns(), dns::ednsopt::kCookie)) {
      auto cookie = dns::parseCookie(raw->data);
      if (!cookie) return error(dns::rcode::kFormErr);  // RFC 7873 section 5.2.2
      // RFC 9018 timestamps are 32-bit serial numbers.
      const auto now32 = static_cast<uint32_t>(now_s);
      answer.cookie = dns::isValid(dns::checkServerCookie(*cookies, *cookie, client, now32))
                          ? CookieState::kValid
                          : CookieState::kClientOnly;
      // Always a fresh server cookie (RFC 9018 section 4.3 allows it; it
      // costs one SipHash), from the current secret.
      answer.request.cookie = true;
      answer.request.cookie_out.client = cookie->client;
      const dns::ServerCookie server =
          dns::makeServerCookie(cookies->current, cookie->client, client, now32);
      std::copy(server.begin(), server.end(), answer.request.cookie_out.server.begin());
      answer.request.cookie_out.server_length = static_cast<uint8_t>(server.size());
    }
  }
  if (limits.ecs.enabled) {
    // RFC 7871 section 7.1.1 (and 6): a malformed ECS option is FORMERR.
    std::optional<dns::ClientSubnet> option;
    if (msg.edns()) {
      if (auto raw = dns::findOption(*msg.edns(), dns::ednsopt::kClientSubnet)) {
        auto parsed_option = dns::parseClientSubnet(raw->data);
        if (!parsed_option) return error(dns::rcode::kFormErr);
        option = *parsed_option;
      }
    }
    answer.request.ecs = clientEcs(limits.ecs, client, option ? &*option : nullptr);
  }
  // ANY goes to the engine, and so do key sentinel names (RFC 8509): only
  // the engine knows the trust anchors.
  if (q.type == dns::rrtype::kAny || mayBeSentinel(q.name)) return answer;

  ResponseWriter writer(out, answer.request, limits.udp_payload_size);
  if (!writer.started()) return answer;
  WriteVisitor visitor(writer, answer.request);
  CacheReadOptions options;
  options.nxdomain_cut = limits.nxdomain_cut;
  options.validating = limits.validating;
  options.aggressive = limits.aggressive_nsec;
  options.policy.nsec3_max_iterations = limits.nsec3_max_iterations;
  options.max_links = kMaxChain;
  options.client = answer.request.ecs.lookupAddress();
  options.client_prefix = answer.request.ecs.subnet.source_prefix;
  const CacheReadResult read = readCache(cache, q.name, q.type, options, now_s, scratch, visitor);
  uint16_t rcode = dns::rcode::kNoError;
  switch (read.result) {
    case CacheRead::kMiss:
    case CacheRead::kMoved:
      return answer;
    case CacheRead::kStopped:  // no room: truncated; or a case for the engine
      if (visitor.needs_engine) return answer;
      break;
    case CacheRead::kNxdomain:
      rcode = dns::rcode::kNxDomain;
      break;
    case CacheRead::kAnswer:
    case CacheRead::kNodata:
      break;
  }
  if (read.bogus && !answer.request.checkingDisabled()) {
    // Remembered bogus data (RFC 4035 section 4.7): SERVFAIL with its EDE.
    const Ede ede{read.bogus_ede != 0 ? read.bogus_ede : dns::ede::kDnssecBogus,
                  "DNSSEC validation failed (cached)"};
    ResponseWriter failure(out, answer.request, limits.udp_payload_size, &ede);
    if (!failure.started()) return answer;
    answer.length = failure.finish(dns::rcode::kServFail, false);
  } else {
    writer.setEcsScope(read.scope);
    answer.length = writer.finish(rcode, limits.validating && read.all_secure);
  }
  // Returned as it is (no copy of the request; it is unused on a hit).
  answer.result = HotPathResult::kAnswered;
  answer.synthesised = read.synthesised;
  answer.local_root = read.local_root;
  answer.scope = read.scope;
  answer.late_hits = read.question_late_hits;
  return answer;
}

}  // namespace shoal::resolver
