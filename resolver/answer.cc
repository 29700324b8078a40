#include "resolver/answer.h"

#include <algorithm>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "resolver/cache_format.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

namespace {

constexpr int kMaxChain = 8;  // CNAME links followed from the cache
constexpr uint16_t kMinUdpSize = 512;

/// The response's EDNS and size limit for a query.
struct ClientLimits {
  size_t size;
  bool edns;
  bool dnssec_ok;
};

ClientLimits limitsFor(const dns::Message& msg, bool tcp, const AnswerLimits& limits) {
  ClientLimits out{kMinUdpSize, msg.edns().has_value(), false};
  if (out.edns) {
    out.dnssec_ok = msg.edns()->dnssec_ok;
    out.size = std::clamp<size_t>(msg.edns()->udp_size, kMinUdpSize, limits.udp_payload_size);
  }
  if (tcp) out.size = 65535;
  return out;
}

/// Header, optional question and OPT only: for FORMERR, NOTIMP, REFUSED,
/// BADVERS. Works from the raw header when the packet did not parse.
HotPathAnswer writeError(std::span<const uint8_t> query, const dns::Message* msg, uint16_t rcode,
                         std::span<uint8_t> out) {
  if (query.size() < dns::kHeaderSize) return {HotPathResult::kDrop, 0};
  const auto header = dns::Header::fromWire(query.data());
  if (header.has(dns::flag::kQr)) return {HotPathResult::kDrop, 0};
  dns::MessageWriter w(out, kMinUdpSize);
  w.setId(header.id);
  w.setFlags(static_cast<uint16_t>(dns::flag::kQr | dns::flag::kRa |
                                   (header.flags & (dns::flag::kRd | dns::flag::kCd)) |
                                   (header.flags & 0x7800u)));  // opcode echoed
  w.setRcode(rcode);
  dns::EdnsOut edns;
  if (msg != nullptr) {
    if (msg->question()) {
      (void)w.addQuestion(msg->question()->name, msg->question()->type, msg->question()->qclass);
    }
    if (msg->edns()) (void)w.setEdns(edns);
  }
  return {HotPathResult::kError, w.finish()};
}

bool isAnswer(const shmcache::Found& f) {
  return f.meta.rank >= static_cast<uint8_t>(kMinAnswerRank);
}

/// What the DNSSEC status of the entries used so far allows.
struct Trust {
  bool validating;
  bool checking_disabled;  // the client's CD bit
  bool all_secure = true;
  uint16_t bogus_ede = 0;  // set: answer SERVFAIL with this code

  /// False when the entry cannot be served from here (a miss).
  bool admit(const shmcache::Found& f) {
    if (!validating) return true;
    switch (f.meta.security) {
      case shmcache::Security::kSecure: return true;
      case shmcache::Security::kInsecure: all_secure = false; return true;
      case shmcache::Security::kBogus:
        all_secure = false;
        if (!checking_disabled && bogus_ede == 0) {
          bogus_ede = f.meta.flags != 0 ? f.meta.flags : dns::ede::kDnssecBogus;
        }
        return true;
      case shmcache::Security::kIndeterminate: return false;
    }
    return false;
  }
};

/// SERVFAIL with an Extended DNS Error for a query whose cached answer is
/// bogus (RFC 4035 section 4.7: remembered, not fetched again at once).
HotPathAnswer writeBogus(const dns::Message& msg, uint16_t ede, size_t limit,
                         uint16_t our_udp_size, std::span<uint8_t> out) {
  const dns::Header& header = msg.header();
  dns::MessageWriter w(out, limit);
  w.setId(header.id);
  w.setFlags(static_cast<uint16_t>(dns::flag::kQr | dns::flag::kRa |
                                   (header.flags & (dns::flag::kRd | dns::flag::kCd))));
  w.setRcode(dns::rcode::kServFail);
  const dns::Question& q = *msg.question();
  if (!w.addQuestion(q.name, q.type, q.qclass)) return {HotPathResult::kMiss, 0};
  dns::EdnsOut edns;
  edns.udp_size = our_udp_size;
  if (msg.edns()) {
    edns.dnssec_ok = msg.edns()->dnssec_ok;
    (void)edns.options.addExtendedError(ede, "DNSSEC validation failed (cached)");
    if (!w.setEdns(edns)) return {HotPathResult::kMiss, 0};
  }
  return {HotPathResult::kAnswered, w.finish()};
}

uint32_t remainingTtl(const shmcache::Found& f, int64_t now) {
  return f.meta.expires_at > now ? static_cast<uint32_t>(f.meta.expires_at - now) : 0;
}

/// Writes an RRset payload's records (and RRSIGs with DO). False if it did
/// not fit.
bool writeRrset(dns::MessageWriter& w, dns::Section section, const dns::Name& owner,
                uint16_t type, uint32_t ttl, const RrsetView& rrset, bool dnssec_ok) {
  size_t pos = rrset.firstRdata();
  for (size_t i = 0; i < rrset.count(); ++i) {
    const auto item = rrset.rdata(pos);
    if (!w.addRr(section, owner, type, dns::rrclass::kIn, ttl, item.rdata)) return false;
    pos = item.next;
  }
  if (dnssec_ok) {
    pos = rrset.firstSig();
    for (size_t i = 0; i < rrset.sigCount(); ++i) {
      const auto item = rrset.rdata(pos);
      if (!w.addRr(section, owner, dns::rrtype::kRrsig, dns::rrclass::kIn, ttl, item.rdata)) {
        return false;
      }
      pos = item.next;
    }
  }
  return true;
}

bool writeNegative(dns::MessageWriter& w, uint32_t ttl, const NegativeView& neg, bool dnssec_ok) {
  size_t pos = neg.first();
  for (size_t i = 0; i < neg.count(); ++i) {
    const auto item = neg.record(pos);
    pos = item.next;
    const bool dnssec = item.type == dns::rrtype::kRrsig || item.type == dns::rrtype::kNsec ||
                        item.type == dns::rrtype::kNsec3;
    if (dnssec && !dnssec_ok) continue;
    // RFC 2308 section 5: negative answers carry the remaining negative TTL.
    if (!w.addRr(dns::Section::kAuthority, item.owner, item.type, dns::rrclass::kIn, ttl,
                 item.rdata)) {
      return false;
    }
  }
  return true;
}

enum class Step : uint8_t { kDone, kNext, kMiss, kTruncated };

/// Writes the cached DNAME owned by the closest ancestor of `name`:
/// kNext when written, kMiss when absent, kTruncated when it did not fit.
Step writeCoveringDname(dns::MessageWriter& w, shmcache::Cache& cache, const dns::Name& name,
                        int64_t now_s, std::span<uint8_t> scratch, bool dnssec_ok) {
  for (dns::Name owner = name; !owner.isRoot();) {
    owner = owner.parent();
    const auto key = owner.lookupKey();
    auto found = cache.lookup({key.bytes(), dns::rrtype::kDname, static_cast<uint8_t>(Kind::kRrset)},
                              nullptr, now_s, scratch);
    if (!found) continue;
    auto rrset = RrsetView::parse(scratch.first(found->payload_length));
    if (!rrset) return Step::kMiss;
    return writeRrset(w, dns::Section::kAnswer, owner, dns::rrtype::kDname,
                      remainingTtl(*found, now_s), *rrset, dnssec_ok)
               ? Step::kNext
               : Step::kTruncated;
  }
  return Step::kMiss;
}

}  // namespace

HotPathAnswer refuse(std::span<const uint8_t> query, std::span<uint8_t> out) {
  auto msg = dns::Message::parse(query);
  return writeError(query, msg ? &*msg : nullptr, dns::rcode::kRefused, out);
}

HotPathAnswer answerFromCache(std::span<const uint8_t> query, const base::IpAddress& client,
                              bool tcp, shmcache::Cache& cache, const AnswerLimits& limits,
                              int64_t now_s, std::span<uint8_t> out, std::span<uint8_t> scratch) {
  (void)client;  // ECS partitions: the global partition only, until ECS lands
  auto parsed = dns::Message::parse(query);
  if (!parsed) return writeError(query, nullptr, dns::rcode::kFormErr, out);
  const dns::Message& msg = *parsed;
  const dns::Header& header = msg.header();
  if (header.has(dns::flag::kQr)) return {HotPathResult::kDrop, 0};
  if (header.opcode() != dns::opcode::kQuery) {
    return writeError(query, &msg, dns::rcode::kNotImp, out);
  }
  if (!msg.question()) return writeError(query, &msg, dns::rcode::kFormErr, out);
  if (msg.edns() && msg.edns()->version != 0) {
    return writeError(query, &msg, dns::rcode::kBadVers, out);
  }
  const dns::Question& q = *msg.question();
  if (q.qclass != dns::rrclass::kIn) return writeError(query, &msg, dns::rcode::kRefused, out);
  if (q.type == dns::rrtype::kAxfr || q.type == dns::rrtype::kIxfr || q.type == dns::rrtype::kOpt) {
    return writeError(query, &msg, dns::rcode::kNotImp, out);
  }
  if (q.type == dns::rrtype::kAny) return {HotPathResult::kMiss, 0};

  const ClientLimits cl = limitsFor(msg, tcp, limits);
  dns::MessageWriter w(out, cl.size);
  w.setId(header.id);
  w.setFlags(static_cast<uint16_t>(dns::flag::kQr | dns::flag::kRa |
                                   (header.flags & (dns::flag::kRd | dns::flag::kCd))));
  if (!w.addQuestion(q.name, q.type, q.qclass)) return {HotPathResult::kMiss, 0};
  dns::EdnsOut edns;
  edns.udp_size = limits.udp_payload_size;
  edns.dnssec_ok = cl.dnssec_ok;
  if (cl.edns && !w.setEdns(edns)) return {HotPathResult::kMiss, 0};
  const auto after_question = w.mark();
  Trust trust{limits.validating, (header.flags & dns::flag::kCd) != 0};

  dns::Name name = q.name;
  uint16_t rcode = dns::rcode::kNoError;
  Step step = Step::kNext;
  for (int hop = 0; hop <= kMaxChain && step == Step::kNext; ++hop) {
    const auto key_bytes = name.lookupKey();
    const auto key = key_bytes.bytes();
    // The data itself.
    auto found = cache.lookup({key, q.type, static_cast<uint8_t>(Kind::kRrset)}, nullptr, now_s, scratch);
    if (found && (!isAnswer(*found) || !trust.admit(*found))) return {HotPathResult::kMiss, 0};
    if (found) {
      auto rrset = RrsetView::parse(scratch.first(found->payload_length));
      if (!rrset) return {HotPathResult::kMiss, 0};
      step = writeRrset(w, dns::Section::kAnswer, name, q.type, remainingTtl(*found, now_s), *rrset,
                        cl.dnssec_ok)
                 ? Step::kDone
                 : Step::kTruncated;
      break;
    }
    // A CNAME to follow.
    if (q.type != dns::rrtype::kCname) {
      found = cache.lookup({key, dns::rrtype::kCname, static_cast<uint8_t>(Kind::kRrset)}, nullptr,
                           now_s, scratch);
      if (found && (!isAnswer(*found) || !trust.admit(*found))) return {HotPathResult::kMiss, 0};
      if (found) {
        auto rrset = RrsetView::parse(scratch.first(found->payload_length));
        if (!rrset || rrset->count() != 1) return {HotPathResult::kMiss, 0};
        auto target = dns::Name::fromUncompressed(rrset->rdata(rrset->firstRdata()).rdata);
        if (!target) return {HotPathResult::kMiss, 0};
        if ((rrset->flags() & kFromDname) != 0) {
          // RFC 6672 section 3.4: the DNAME goes before the CNAME it
          // synthesised. Its lookup reuses scratch, so read the CNAME again.
          const Step s = writeCoveringDname(w, cache, name, now_s, scratch, cl.dnssec_ok);
          if (s != Step::kNext) {
            step = s;
            break;
          }
          found = cache.lookup({key, dns::rrtype::kCname, static_cast<uint8_t>(Kind::kRrset)},
                               nullptr, now_s, scratch);
          if (!found) return {HotPathResult::kMiss, 0};
          rrset = RrsetView::parse(scratch.first(found->payload_length));
          if (!rrset) return {HotPathResult::kMiss, 0};
        }
        if (!writeRrset(w, dns::Section::kAnswer, name, dns::rrtype::kCname,
                        remainingTtl(*found, now_s), *rrset, cl.dnssec_ok)) {
          step = Step::kTruncated;
          break;
        }
        name = *target;
        continue;
      }
    }
    // A negative answer: no data of this type, or no such name (also for an
    // ancestor, RFC 8020).
    found = cache.lookup({key, q.type, static_cast<uint8_t>(Kind::kNodata)}, nullptr, now_s, scratch);
    dns::Name probe = name;
    while (!found) {
      const auto probe_key = probe.lookupKey();
      found = cache.lookup({probe_key.bytes(), 0, static_cast<uint8_t>(Kind::kNxdomain)}, nullptr,
                           now_s, scratch);
      if (found) {
        rcode = dns::rcode::kNxDomain;
        break;
      }
      if (!limits.nxdomain_cut || probe.labelCount() <= 1) break;
      probe = probe.parent();
    }
    if (!found) {
      step = Step::kMiss;
      break;
    }
    if (!trust.admit(*found)) return {HotPathResult::kMiss, 0};
    auto neg = NegativeView::parse(scratch.first(found->payload_length));
    if (!neg) return {HotPathResult::kMiss, 0};
    step = writeNegative(w, remainingTtl(*found, now_s), *neg, cl.dnssec_ok) ? Step::kDone
                                                                            : Step::kTruncated;
  }
  if (step == Step::kMiss || step == Step::kNext) return {HotPathResult::kMiss, 0};
  if (trust.bogus_ede != 0) {
    return writeBogus(msg, trust.bogus_ede, cl.size, limits.udp_payload_size, out);
  }
  // RFC 6840 section 5.7: AD only for clients that signal they understand it.
  if (trust.validating && trust.all_secure && (cl.dnssec_ok || header.has(dns::flag::kAd))) {
    w.setFlags(static_cast<uint16_t>(w.header().flags | dns::flag::kAd));
  }
  if (step == Step::kTruncated) {
    // RFC 2181 section 9: a required RRset did not fit; the client retries
    // over TCP.
    w.rollback(after_question);
    w.setTruncated();
    rcode = dns::rcode::kNoError;
  }
  w.setRcode(rcode);
  return {HotPathResult::kAnswered, w.finish()};
}

}  // namespace shoal::resolver
