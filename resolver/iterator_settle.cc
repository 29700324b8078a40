// The iterator's second half: what a reply becomes. Validation (settle,
// with the DS/DNSKEY sub-tasks a reply may wait for, and the keys fetched
// while a zone is first asked), then what is cached (RRsets with their
// DNSSEC status, negative answers, the ranges of RFC 8198, referrals with
// their DS) and what the client is answered (applyVerdict), and the range
// flights that hold a burst of questions to an unknown part of a signed
// zone until the ranges of one answer are in. The first half, iterator.cc,
// finds servers, sends and matches replies.

#include <algorithm>

#include "dns/constants.h"
#include "resolver/iterator.h"
#include "resolver/aggressive.h"
#include "resolver/iterator_internal.h"
#include "resolver/ranges.h"

namespace shoal::resolver {

using namespace iterator_internal;  // NOLINT: the iterator's own limits

bool Iterator::awaitKey(Task& task, const KeyQuestion& question) {
  for (const auto& asked : task.awaited) {
    if (asked.type == question.type && asked.name == question.name) return false;
  }
  if (task.depth >= kMaxKeyDepth || waitsFor(task, question.name, question.type)) return false;
  task.awaited.push_back(question);
  Task& sub = startSubTask(task, question.name, question.type);
  // Priming validates the root NS set with the root's keys: they are
  // fetched from the hints too, not through priming (which waits for them).
  if (task.use_hints) sub.use_hints = true;
  return true;
}

void Iterator::prefetchKeys(Task& task, int64_t now_ms) {
  // The zone's DNSKEY RRset is fetched while its servers are asked the
  // question, not after the answer came: validating the answer then finds
  // the keys (or their fetch under way) instead of starting it, which saves
  // a round trip to the zone per cold zone. No task waits for it.
  const dns::Name& zone = task.cut.zone;
  if (task.depth >= kMaxKeyDepth || !validator_.wantsKeys(zone, now_ms / 1000) ||
      waitsFor(task, zone, dns::rrtype::kDnskey)) {
    return;
  }
  bool created = false;
  const uint32_t id =
      joinOrStart(zone, dns::rrtype::kDnskey, task.depth + 1, task.deadline_ms, &created);
  if (!created) return;
  Task* sub = findTask(id);
  sub->work = task.work;
  sub->use_hints = task.use_hints;
  ++stats_.key_prefetches;
}

bool Iterator::holdForRanges(Task& task, int64_t now_ms) {
  // Junk comes in bursts: random labels under one zone, many at once. Each
  // answer brings NSEC/NSEC3 ranges that answer most of the others from
  // the cache, but only once it is validated; asked all together, every
  // name costs a query. So a client question to a part of a signed zone
  // whose ranges are not known yet waits while another question to that
  // part is on its way, and is then answered from the ranges or sent. The
  // part: the whole zone when its keys are not cached yet (first contact;
  // its DNSKEY is fetched alongside the first question), else the gap
  // between the zone's known ranges where the name falls, once the zone
  // has given a secure denial. Names of zones without denials never wait;
  // a task waits again only if the answer it waited for brought ranges, at
  // most kMaxRangeWaits times, and a flight holds anyone at most
  // kRangeHoldMs.
  if (!config_.aggressive_nsec || !validator_.enabled() || task.depth != 0 ||
      task.range_waits >= kMaxRangeWaits || !task.security.isSecure() ||
      task.cur_qtype == dns::rrtype::kDs || task.cur_qtype == dns::rrtype::kDnskey) {
    return false;
  }
  const dns::Name& zone = task.cut.zone;
  if (!task.cur_qname.isSubdomainOf(zone) || task.cur_qname == zone) return false;
  const int64_t now_s = now_ms / 1000;
  if (gap_scratch_.empty()) gap_scratch_.resize(2 * 65536);
  std::string key;
  if (auto gap = rangeGap(records_.cache(), zone, task.cur_qname, now_s, gap_scratch_)) {
    key = std::move(*gap);
  } else {
    // First contact. The zone's keys may come back (and be validated)
    // before the first question's answer: names arriving then still join
    // its flight, or they would all be asked.
    const auto zone_key = zone.lookupKey();
    key = "*";
    key.append(reinterpret_cast<const char*>(zone_key.bytes().data()), zone_key.length());
    if (!validator_.wantsKeys(zone, now_s) && !range_flights_.contains(key)) return false;
  }
  auto it = range_flights_.find(key);
  if (it == range_flights_.end()) {
    if (range_flights_.size() < kMaxRangeFlights) {
      range_flights_.emplace(std::move(key), RangeFlight{task.id, task.cur_qname, task.cur_qtype,
                                                         now_ms, stats_.ranges_stored, {}});
    }
    return false;  // it leads: asked now
  }
  RangeFlight& flight = it->second;
  // The leader's own question (a minimised one many names share) joins
  // the query on its way instead.
  if (flight.leader == task.id ||
      sameQuestion(flight.qname, flight.qtype, task.cur_qname, task.cur_qtype)) {
    return false;
  }
  if (std::find(flight.waiters.begin(), flight.waiters.end(), task.id) != flight.waiters.end()) {
    return true;
  }
  if (flight.waiters.size() >= kMaxRangeWaiters) return false;
  flight.waiters.push_back(task.id);
  ++task.range_waits;
  ++stats_.range_holds;
  return true;
}

bool Iterator::releaseRangeFlights(int64_t now_ms) {
  // A flight ends when its leader's question is settled (answered,
  // validated and cached, or given up) or it has held long enough; its
  // waiters then look in the cache again. If no range was learnt meanwhile
  // (the answer was data, or failed), the part holds real names: they do
  // not wait again.
  bool woke = false;
  for (auto it = range_flights_.begin(); it != range_flights_.end();) {
    const RangeFlight& flight = it->second;
    const Task* leader = findTask(flight.leader);
    const bool asking = leader != nullptr && leader->question_ready &&
                        !leader->pending.empty() &&
                        sameQuestion(leader->cur_qname, leader->cur_qtype, flight.qname,
                                     flight.qtype);
    const bool open = leader != nullptr && now_ms - flight.since_ms < kRangeHoldMs &&
                      (asking || leader->held.has_value());
    if (open) {
      ++it;
      continue;
    }
    const bool learnt = stats_.ranges_stored > flight.ranges_at_start;
    for (uint32_t id : flight.waiters) {
      Task* waiter = findTask(id);
      if (waiter == nullptr) continue;
      if (!learnt) waiter->range_waits = kMaxRangeWaits;
      ready_.push_back(id);
      woke = true;
    }
    it = range_flights_.erase(it);
  }
  return woke;
}

bool Iterator::waitsFor(const Task& task, const dns::Name& qname, uint16_t qtype) const {
  // Joining a task that waits (directly or not) for this one would make
  // both wait forever: look at every ancestor, through every parent (a
  // joined task has several).
  std::vector<const Task*> ancestors{&task};
  std::vector<uint32_t> seen{task.id};
  while (!ancestors.empty()) {
    const Task* t = ancestors.back();
    ancestors.pop_back();
    if (sameQuestion(t->qname, t->qtype, qname, qtype)) return true;
    for (uint32_t parent : t->parents) {
      if (std::find(seen.begin(), seen.end(), parent) != seen.end()) continue;
      seen.push_back(parent);
      if (auto it = tasks_.find(parent); it != tasks_.end()) ancestors.push_back(it->second.get());
    }
  }
  return false;
}

Iterator::Task& Iterator::startSubTask(Task& task, const dns::Name& qname, uint16_t qtype) {
  bool created = false;
  const uint32_t id = joinOrStart(qname, qtype, task.depth + 1, task.deadline_ms, &created);
  Task* sub = findTask(id);
  // A new sub-task spends the work budget of the client query it serves.
  if (created) sub->work = task.work;
  sub->parents.push_back(task.id);
  task.children.push_back(id);
  ++task.waiting_on;
  return *sub;
}

void Iterator::settle(Task& task, Held held, int64_t now_ms) {
  if (!validator_.enabled()) {
    applyVerdict(task, held, ReplyVerdict{}, now_ms);
    return;
  }
  if (task.cut.forward && !task.cut.validate) {
    // A forward zone whose upstreams validate (or are trusted): insecure,
    // cached for the TTLs the reply gives, never AD.
    ReplyVerdict unvalidated;
    unvalidated.overall =
        dnssec::Verdict::insecure(0, "from an upstream resolver without validation");
    const RrsetVerdict each{unvalidated.overall, UINT32_MAX};
    unvalidated.links.assign(held.reply.links.size(), each);
    if (held.reply.data) unvalidated.data = each;
    unvalidated.negative = each;
    applyVerdict(task, held, unvalidated, now_ms);
    return;
  }
  ReplyVerdict verdict = validator_.judge(held.reply, held.sent, now_ms / 1000, task.budget);
  if (verdict.need) {
    if (awaitKey(task, *verdict.need)) {
      // The question is answered: queries still out to other servers
      // (sent after a retransmission timeout) are not waited for, and a
      // late reply cannot start a second validation of the same question.
      for (uint64_t token : std::vector<uint64_t>(task.pending)) detachPending(task.id, token);
      task.held = std::move(held);
      return;  // woken when the key question is answered
    }
    // Asked already and still missing (the servers failed, or it could not
    // be cached), or a loop: the chain of trust cannot be built.
    const bool dnskey = verdict.need->type == dns::rrtype::kDnskey;
    verdict.overall = dnssec::Verdict::bogus(
        dnskey ? dnssec::ede::kDnskeyMissing : dnssec::ede::kDnssecIndeterminate,
        "no usable " + std::string(dnskey ? "DNSKEY" : "DS") + " for " +
            verdict.need->name.toText());
    verdict.need.reset();
    // Often passing (the zone's servers unreachable for a moment): the
    // data is remembered as bogus only briefly, not for bogus_ttl.
    const RrsetVerdict brief{verdict.overall, std::min<uint32_t>(kKeyFailureTtl, validator_.bogusTtl())};
    verdict.links.assign(held.reply.links.size(), brief);
    if (held.reply.data) verdict.data = brief;
    verdict.negative = brief;
  }
  if (task.budget.exhausted) ++stats_.validation_capped;
  applyVerdict(task, held, verdict, now_ms);
}

namespace {

/// The cache status and TTL for an RRset judged `verdict` (no verdict:
/// validation is off).
EntryStatus statusOf(const std::optional<RrsetVerdict>& verdict) {
  if (!verdict) return {};
  return {static_cast<shmcache::Security>(verdict->verdict.security), verdict->verdict.ede};
}

Rrset cappedBy(const Rrset& rrset, const std::optional<RrsetVerdict>& verdict) {
  Rrset out = rrset;
  if (verdict && verdict->verdict.security != dnssec::Security::kIndeterminate) {
    out.ttl = std::min(out.ttl, verdict->ttl);
  }
  return out;
}

}  // namespace

void Iterator::applyVerdict(Task& task, const Held& held, const ReplyVerdict& verdict,
                            int64_t now_ms) {
  const int64_t now_s = now_ms / 1000;
  const Classified& reply = held.reply;
  const bool validating = validator_.enabled();
  if (held.minimised && !verdict.overall.isSecure()) {
    // Not proven: the server may deny an empty non-terminal (RFC 9156
    // section 2.3). Ask the full question.
    task.qmin = false;
    task.question_ready = false;
    sendNext(task, now_ms);
    return;
  }
  const shmcache::Partition& partition = held.partition;
  task.ecs_scope = std::max(task.ecs_scope, partition.prefix);
  if (validating) task.security = worst(task.security, verdict.overall);
  // The records that proved a denial become ranges (RFC 8198).
  if (verdict.denial && config_.aggressive_nsec) {
    stats_.ranges_stored +=
        storeDenial(records_.cache(), *verdict.denial, config_.max_negative_ttl, now_s);
  }
  const Rank answer_rank = reply.authoritative ? Rank::kAuthoritativeAnswer : Rank::kAnswer;
  for (size_t i = 0; i < reply.links.size(); ++i) {
    std::optional<RrsetVerdict> v;
    if (i < verdict.links.size()) v = verdict.links[i];
    if (validating && !v) v = RrsetVerdict{verdict.overall, validator_.bogusTtl()};
    const Rrset link = cappedBy(reply.links[i], v);
    records_.storeRrset(link, answer_rank, now_s, statusOf(v), {}, partition);
    task.chain.push_back(withTtlLimits(link, records_));
  }
  // Every link counts, also those that came in one reply with the data.
  task.chain_hops += static_cast<int>(reply.links.size());
  if (task.chain_hops > kMaxChain) {
    fail(task, dns::ede::kOther, "CNAME chain too long", now_ms);
    return;
  }
  switch (reply.kind) {
    case ReplyKind::kAnswer: {
      std::optional<RrsetVerdict> v = verdict.data;
      if (validating && !v) v = RrsetVerdict{verdict.overall, validator_.bogusTtl()};
      Rrset data = cappedBy(*reply.data, v);
      // A task waiting for keys reads them from the cache: keys with TTL 0
      // are kept for a second, long enough to validate with.
      if (data.ttl == 0 && (data.type == dns::rrtype::kDnskey || data.type == dns::rrtype::kDs)) {
        data.ttl = 1;
      }
      // A wildcard expansion keeps the proof that the name itself does not
      // exist, for DO clients (RFC 4035 section 3.1.3.3).
      std::vector<NegativeRecord> proofs;
      if (expandedFromWildcard(data)) {
        proofs = proofRecords(reply);
        // A secure wildcard is kept under its own name too, to answer
        // other names it covers from the ranges (RFC 8198 section 5.3).
        if (config_.aggressive_nsec && v && v->verdict.isSecure()) {
          if (auto wildcard = wildcardOwner(data)) {
            Rrset source = data;
            source.owner = *wildcard;
            records_.storeRrset(source, answer_rank, now_s, statusOf(v), {}, partition);
          }
        }
      }
      records_.storeRrset(data, answer_rank, now_s, statusOf(v), proofs, partition);
      if (data.type == dns::rrtype::kNs) cacheGlue(reply.glue, now_ms);
      Outcome outcome = answerOutcome(task);
      outcome.answer.push_back(withTtlLimits(data, records_));
      outcome.authority = std::move(proofs);
      outcome.negative_ttl = outcome.answer.back().ttl;
      finish(task, std::move(outcome), now_ms);
      return;
    }
    case ReplyKind::kChain:
      for (const auto& link : task.chain) {
        if (link.owner == reply.next_name) {
          fail(task, dns::ede::kOther, "CNAME loop", now_ms);
          return;
        }
      }
      task.sname = reply.next_name;
      task.qmin_name.reset();
      task.question_ready = false;
      if (!task.sname.isSubdomainOf(task.cut.zone)) task.cut.valid = false;
      advance(task, now_ms);
      return;
    default: {
      const bool nxdomain = reply.kind == ReplyKind::kNxdomain;
      std::optional<RrsetVerdict> v = verdict.negative;
      if (validating && !v) v = RrsetVerdict{verdict.overall, validator_.bogusTtl()};
      uint32_t ttl = reply.negative_ttl;
      if (v && v->verdict.security != dnssec::Security::kIndeterminate) ttl = std::min(ttl, v->ttl);
      auto records = negativeRecords(reply);
      records_.storeNegative(held.sent.qname, nxdomain ? 0 : held.sent.qtype, nxdomain, ttl, records,
                             now_s, statusOf(v), partition);
      Outcome outcome = answerOutcome(task);
      if (nxdomain) outcome.rcode = dns::rcode::kNxDomain;
      outcome.authority = std::move(records);
      outcome.negative_ttl = std::min(ttl, config_.max_negative_ttl);
      finish(task, std::move(outcome), now_ms);
      return;
    }
  }
}

void Iterator::cacheGlue(const std::vector<Rrset>& glue, int64_t now_ms) {
  for (const auto& rrset : glue) records_.storeRrset(rrset, Rank::kGlue, now_ms / 1000);
}

void Iterator::handleReferral(Task& task, const SentQuestion& sent, const Classified& referral,
                              int64_t now_ms) {
  const int64_t now_s = now_ms / 1000;
  const Rrset& ns = *referral.ns;
  // Glue first: a worker that finds the NS set in the shared cache then
  // finds its addresses too (findCut would otherwise go up a level).
  cacheGlue(referral.glue, now_ms);
  records_.storeRrset(ns, Rank::kReferral, now_s);
  // The DS, or the proof that there is none, validated when the parent's
  // keys are at hand: it saves a DS query when the child's trust is needed.
  // Without a verdict (validation off, or the parent's keys not cached
  // yet) it is kept of unknown status: never served while validating,
  // validated when needed; a proof of no DS kept so also tells the key
  // prefetch that the child needs no keys.
  const auto v = validator_.judgeReferralDs(referral, sent, now_s, task.budget);
  if (referral.ds) {
    records_.storeRrset(cappedBy(*referral.ds, v), Rank::kAuthority, now_s, statusOf(v));
  } else if (!referral.proofs.empty()) {
    uint32_t ttl = UINT32_MAX;
    for (const auto& proof : referral.proofs) ttl = std::min(ttl, proof.ttl);
    if (v) ttl = v->ttl;
    records_.storeNegative(ns.owner, dns::rrtype::kDs, false, ttl, proofRecords(referral), now_s,
                           statusOf(v));
  }
  Cut cut = referralCut(ns, referral.glue, records_, {config_.ipv4, config_.ipv6}, now_s);
  task.cut = std::move(cut);
  task.question_ready = false;
  // Others may have learnt the answer while this task walked down (a
  // straggler of a burst whose ranges are cached by now): one cache read
  // before asking the new cut.
  advance(task, now_ms);
}

}  // namespace shoal::resolver
