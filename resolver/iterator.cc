#include "resolver/iterator.h"

#include <algorithm>

#include "base/check.h"
#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"

namespace shoal::resolver {

namespace {

constexpr int kMaxChain = 12;          // CNAME/DNAME links per client question
constexpr int kMaxDepth = 4;           // nested sub-tasks (NS addresses, priming)
constexpr int kMaxSentPerTask = 40;    // upstream queries per task
constexpr size_t kMaxInFlight = 3;     // outstanding queries per task
constexpr int kMaxRounds = 2;          // passes over a cut's servers
constexpr int64_t kLameMs = 300000;    // a lame (zone, server) is avoided this long
constexpr int kMaxNsLookupsAtOnce = 2;
constexpr uint8_t kTriedA = 1;
constexpr uint8_t kTriedAaaa = 2;

bool sameQuestion(const dns::Name& a, uint16_t at, const dns::Name& b, uint16_t bt) {
  return at == bt && a == b;
}

std::vector<uint8_t> keyBytes(const dns::Name& name) {
  const auto key = name.lookupKey();
  return {key.bytes().begin(), key.bytes().end()};
}

/// The SOA, NSEC and NSEC3 records (with their RRSIGs) of a negative answer.
std::vector<NegativeRecord> negativeRecords(const Reply& reply, uint32_t* ttl) {
  std::vector<NegativeRecord> out;
  *ttl = 0;
  for (const auto& rrset : reply.authority) {
    if (rrset.type != dns::rrtype::kSoa && rrset.type != dns::rrtype::kNsec &&
        rrset.type != dns::rrtype::kNsec3) {
      continue;
    }
    for (const auto& rd : rrset.rdatas) out.push_back({rrset.owner, rrset.type, rd});
    for (const auto& sig : rrset.sigs) out.push_back({rrset.owner, dns::rrtype::kRrsig, sig});
    if (rrset.type == dns::rrtype::kSoa && !rrset.rdatas.empty()) {
      // RFC 2308 section 5: the lesser of the SOA's TTL and its MINIMUM.
      const auto minimum = soaMinimum(rrset.rdatas.front());
      *ttl = std::min(rrset.ttl, minimum.value_or(0));
    }
  }
  return out;
}

/// The NS RRset of a referral: not authoritative, strictly below the zone
/// asked, on the path to the name asked. Anything else with NS (upwards,
/// sideways) is lame.
const Rrset* referralNs(const Reply& reply, const dns::Name& zone, const dns::Name& qname) {
  const Rrset* ns = findType(reply.authority, dns::rrtype::kNs);
  if (ns == nullptr || reply.aa() || !ns->owner.isSubdomainOf(zone) || ns->owner == zone ||
      !qname.isSubdomainOf(ns->owner)) {
    return nullptr;
  }
  return ns;
}

std::optional<dns::Name> cnameTarget(const Rrset& cname) {
  if (cname.rdatas.size() != 1) return std::nullopt;
  auto target = dns::Name::fromUncompressed(cname.rdatas.front());
  if (!target) return std::nullopt;
  return *target;
}

/// Copies of a reply's chain links, with each CNAME that follows a DNAME
/// marked as synthesised from it, so that a cache hit repeats the DNAME
/// (RFC 6672 section 3.4).
std::vector<Rrset> markSynthesised(const std::vector<const Rrset*>& links) {
  std::vector<Rrset> out;
  for (size_t i = 0; i < links.size(); ++i) {
    out.push_back(*links[i]);
    if (i > 0 && links[i]->type == dns::rrtype::kCname && links[i - 1]->type == dns::rrtype::kDname) {
      out.back().flags |= kFromDname;
    }
  }
  return out;
}

/// An RRset from a reply as the client gets it: with the TTL limits the
/// cache applies when it stores it.
Rrset withTtlLimits(const Rrset& rrset, const RecordCache& records) {
  Rrset out = rrset;
  out.ttl = records.limitTtl(out.ttl);
  return out;
}

}  // namespace

Iterator::Iterator(const EngineConfig& config, shmcache::Cache& cache, uint64_t seed)
    : config_(config),
      records_(cache, TtlLimits{config.min_ttl, config.max_ttl, config.max_negative_ttl}),
      servers_(cache, config.rto_min_ms, config.rto_max_ms),
      rng_(seed) {}

Iterator::~Iterator() = default;

Iterator::Task* Iterator::findTask(uint32_t id) {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second.get();
}

uint32_t Iterator::joinOrStart(const dns::Name& qname, uint16_t qtype, int depth, bool* created) {
  TaskKey key{keyBytes(qname), qtype};
  if (auto it = task_by_question_.find(key); it != task_by_question_.end()) {
    *created = false;
    return it->second;
  }
  auto task = std::make_unique<Task>();
  task->id = next_task_++;
  task->qname = qname;
  task->qtype = qtype;
  task->sname = qname;
  task->stype = qtype;
  task->depth = depth;
  task->qmin = config_.qname_minimisation;
  const uint32_t id = task->id;
  tasks_.emplace(id, std::move(task));
  task_by_question_.emplace(std::move(key), id);
  ready_.push_back(id);
  *created = true;
  return id;
}

void Iterator::addClient(const ClientQuery& query, int64_t now_ms) {
  auto msg = dns::Message::parse(query.packet);
  if (!msg || !msg->question()) return;  // the hot path answers malformed queries
  ++stats_.client_queries;
  Client client;
  client.id = query.id;
  client.request.id = msg->header().id;
  client.request.flags = msg->header().flags;
  client.request.question = *msg->question();
  client.request.tcp = query.tcp;
  if (msg->edns()) {
    client.request.edns = true;
    client.request.dnssec_ok = msg->edns()->dnssec_ok;
    client.request.udp_size = std::clamp<uint16_t>(msg->edns()->udp_size, 512, config_.udp_payload_size);
  }
  client.deadline_ms = now_ms + config_.query_timeout_ms;
  bool created = false;
  client.task = joinOrStart(client.request.question.name, client.request.question.type, 0, &created);
  if (!created) ++stats_.coalesced;
  findTask(client.task)->clients.push_back(client.id);
  timers_.emplace(client.deadline_ms, Timer{TimerKind::kClient, client.id});
  clients_[client.id] = std::move(client);
  drainReady(now_ms);
}

void Iterator::drainReady(int64_t now_ms) {
  while (!ready_.empty()) {
    const uint32_t id = ready_.back();
    ready_.pop_back();
    wake(id, now_ms);
  }
}

void Iterator::wake(uint32_t id, int64_t now_ms) {
  Task* task = findTask(id);
  if (task == nullptr || task->waiting_on > 0) return;
  const int64_t now_s = now_ms / 1000;
  // Sub-tasks that looked up name-server addresses are done: collect them.
  for (auto& server : task->cut.servers) {
    if (!server.resolving) continue;
    server.resolving = false;
    server.addresses = records_.fetchAddresses(server.name, config_.ipv4, config_.ipv6, now_s);
    const uint8_t enabled = static_cast<uint8_t>((config_.ipv4 ? kTriedA : 0) |
                                                 (config_.ipv6 ? kTriedAaaa : 0));
    // Still no address: the other family may have one, unless both were tried.
    if (server.addresses.empty() && (server.families_tried & enabled) == enabled) {
      server.unresolvable = true;
    }
  }
  advance(*task, now_ms);
}

void Iterator::advance(Task& task, int64_t now_ms) {
  for (int guard = 0; guard < kMaxChain + 2; ++guard) {
    switch (answerFromCache(task, now_ms)) {
      case CacheStep::kFinished: return;
      case CacheStep::kMoved: continue;
      case CacheStep::kMiss: break;
    }
    if (!task.cut.valid || !task.sname.isSubdomainOf(task.cut.zone)) {
      if (!findCut(task, now_ms)) return;  // waiting for priming, or failed
    }
    sendNext(task, now_ms);
    return;
  }
  fail(task, dns::ede::kOther, "CNAME chain too long", now_ms);
}

Iterator::CacheStep Iterator::answerFromCache(Task& task, int64_t now_ms) {
  const int64_t now_s = now_ms / 1000;
  if (auto rrset = records_.fetchRrset(task.sname, task.stype, now_s, kMinAnswerRank)) {
    Outcome outcome;
    outcome.answer = task.chain;
    outcome.answer.push_back(std::move(*rrset));
    finish(task, std::move(outcome), now_ms);
    return CacheStep::kFinished;
  }
  if (task.stype != dns::rrtype::kCname) {
    if (auto cname = records_.fetchRrset(task.sname, dns::rrtype::kCname, now_s, kMinAnswerRank)) {
      auto target = cnameTarget(*cname);
      if (target && ++task.chain_hops <= kMaxChain) {
        if ((cname->flags & kFromDname) != 0) {
          if (auto dname = records_.fetchCoveringDname(task.sname, now_s)) {
            task.chain.push_back(std::move(*dname));
          }
        }
        task.chain.push_back(std::move(*cname));
        task.sname = *target;
        task.qmin_name.reset();
        task.question_ready = false;
        return CacheStep::kMoved;
      }
    }
  }
  if (auto neg = records_.fetchNegative(task.sname, task.stype, config_.nxdomain_cut, now_s)) {
    Outcome outcome;
    outcome.rcode = neg->nxdomain ? dns::rcode::kNxDomain : dns::rcode::kNoError;
    outcome.answer = task.chain;
    outcome.authority = std::move(neg->records);
    outcome.negative_ttl = neg->ttl;
    finish(task, std::move(outcome), now_ms);
    return CacheStep::kFinished;
  }
  return CacheStep::kMiss;
}

bool Iterator::findCut(Task& task, int64_t now_ms) {
  const int64_t now_s = now_ms / 1000;
  task.cut = Cut{};
  task.tried.clear();
  task.rounds = 0;
  task.question_ready = false;
  // DS lives in the parent zone (RFC 4035 section 3.1.4.1).
  dns::Name name = task.stype == dns::rrtype::kDs && !task.sname.isRoot() ? task.sname.parent()
                                                                           : task.sname;
  for (;;) {
    if (auto ns = records_.fetchRrset(name, dns::rrtype::kNs, now_s)) {
      task.cut.zone = name;
      // Usable when a server has an address, or has a name outside the
      // zone that can be looked up. An NS set whose in-zone servers have
      // no glue in the cache (glue evicted before the NS set, or another
      // worker between storing the two) is useless: the parent's referral
      // brings the glue again, so go up to the parent.
      bool usable = false;
      for (const auto& rd : ns->rdatas) {
        auto ns_name = dns::Name::fromUncompressed(rd);
        if (!ns_name) continue;
        auto addresses = records_.fetchAddresses(*ns_name, config_.ipv4, config_.ipv6, now_s);
        usable = usable || !addresses.empty() || !ns_name->isSubdomainOf(name);
        task.cut.servers.push_back({*ns_name, std::move(addresses)});
      }
      if (usable) {
        task.cut.valid = true;
        return true;
      }
      task.cut = Cut{};
    }
    if (name.isRoot()) break;
    name = name.parent();
  }
  // Not even the root's NS set is cached. The priming task itself, and a
  // task whose priming did not leave a usable root NS set, use the hints.
  if (task.use_hints || task.priming_done) {
    task.cut.zone = dns::Name();
    task.cut.from_hints = true;
    for (const auto& root : config_.hints.servers) {
      NsServer server{root.name, {}};
      for (const auto& a : root.addresses) {
        if ((a.isV4() && config_.ipv4) || (!a.isV4() && config_.ipv6)) server.addresses.push_back(a);
      }
      task.cut.servers.push_back(std::move(server));
    }
    task.cut.valid = true;
    return true;
  }
  // No root NS in the cache: prime (RFC 8109) and come back.
  bool created = false;
  const uint32_t priming = joinOrStart(dns::Name(), dns::rrtype::kNs, task.depth + 1, &created);
  Task* sub = findTask(priming);
  sub->use_hints = true;
  sub->parents.push_back(task.id);
  task.children.push_back(priming);
  ++task.waiting_on;
  task.priming_done = true;  // when woken: what priming cached, else the hints
  if (sub->depth > kMaxDepth + 1) fail(*sub, dns::ede::kNoReachableAuthority, "priming too deep", now_ms);
  return false;
}

bool Iterator::allowedUpstream(const base::IpAddress& server) const {
  if (server.isV4() ? !config_.ipv4 : !config_.ipv6) return false;
  for (const auto& prefix : config_.deny_upstream) {
    if (prefix.contains(server)) return false;
  }
  return true;
}

void Iterator::markLame(const dns::Name& zone, const base::IpAddress& server, int64_t now_ms) {
  lame_[{keyBytes(zone), server.toString()}] = now_ms + kLameMs;
  // In the shared server table too: the other workers skip it as well
  // (sendNext), and shoalctl servers shows it.
  servers_.recordLame(server, zone, now_ms + kLameMs, now_ms);
}

bool Iterator::isLame(const dns::Name& zone, const base::IpAddress& server, int64_t now_ms) const {
  if (lame_.empty()) return false;  // the common case: no key to build
  auto it = lame_.find({keyBytes(zone), server.toString()});
  return it != lame_.end() && it->second > now_ms;
}

void Iterator::nextQuestion(Task& task) {
  task.question_ready = true;
  task.tried.clear();
  task.rounds = 0;
  if (!task.qmin || !config_.qname_minimisation) {
    task.cur_qname = task.sname;
    task.cur_qtype = task.stype;
    return;
  }
  // RFC 9156 section 3: one label more than what is known to exist below
  // the cut, asked with QTYPE A, until the full name is reached.
  size_t labels = task.cut.zone.labelCount();
  if (task.qmin_name && task.qmin_name->isSubdomainOf(task.cut.zone)) {
    labels = std::max(labels, task.qmin_name->labelCount());
  }
  ++labels;
  if (labels >= task.sname.labelCount()) {
    task.cur_qname = task.sname;
    task.cur_qtype = task.stype;
  } else {
    task.cur_qname = task.sname.suffix(labels);
    task.cur_qtype = dns::rrtype::kA;
  }
}

void Iterator::sendNext(Task& task, int64_t now_ms) {
  if (task.sent >= kMaxSentPerTask) {
    fail(task, dns::ede::kNoReachableAuthority, "too many upstream queries", now_ms);
    return;
  }
  if (!task.question_ready) nextQuestion(task);
  size_t in_flight = 0;
  for (uint64_t token : task.pending) {
    auto it = pending_.find(token);
    if (it != pending_.end() && !it->second.timed_out) ++in_flight;
  }
  if (in_flight >= kMaxInFlight) return;

  struct Candidate {
    base::IpAddress address;
    int64_t rank;
    bool backed_off;
    ServerState state;
  };
  std::vector<Candidate> candidates;
  for (const auto& server : task.cut.servers) {
    for (const auto& address : server.addresses) {
      if (!allowedUpstream(address) || isLame(task.cut.zone, address, now_ms)) continue;
      if (std::find(task.tried.begin(), task.tried.end(), address) != task.tried.end()) continue;
      const ServerState state = servers_.get(address, now_ms);
      if (isLameFor(state, task.cut.zone, now_ms)) continue;  // marked by another worker
      candidates.push_back({address, servers_.rankMs(state), state.backoff_until_ms > now_ms, state});
    }
  }
  if (candidates.empty() && task.rounds + 1 < kMaxRounds && !task.tried.empty()) {
    // Every server was asked once: go round again (they may have lost a
    // packet), unless they are lame.
    ++task.rounds;
    task.tried.clear();
    sendNext(task, now_ms);
    return;
  }
  if (candidates.empty()) {
    if (resolveNsAddresses(task, now_ms)) return;
    bool resolving = false;
    for (const auto& server : task.cut.servers) resolving = resolving || server.resolving;
    if (resolving || in_flight > 0 || !task.pending.empty()) return;  // wait
    fail(task, dns::ede::kNoReachableAuthority, "no reachable authority", now_ms);
    return;
  }
  // Lowest estimated RTT first; servers in backoff only if nothing else;
  // now and then an untried server at random, to keep estimates fresh.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.backed_off != b.backed_off) return !a.backed_off;
    return a.rank < b.rank;
  });
  size_t pick = 0;
  if (candidates.size() > 1 && std::uniform_int_distribution<int>(0, 19)(rng_) == 0) {
    pick = std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng_);
    if (candidates[pick].backed_off) pick = 0;
  }
  sendQuery(task, candidates[pick].address, false, !candidates[pick].state.no_edns, now_ms,
            &candidates[pick].state);
}

std::vector<uint8_t> Iterator::buildQuery(const dns::Name& qname, uint16_t qtype, uint16_t id,
                                          bool edns) {
  std::vector<uint8_t> buf(512);
  dns::MessageWriter w(buf, buf.size());
  w.setId(id);
  w.setFlags(0);  // RD clear: we iterate
  (void)w.addQuestion(qname, qtype, dns::rrclass::kIn);
  dns::EdnsOut opt;
  opt.udp_size = config_.udp_payload_size;
  opt.dnssec_ok = true;  // RRSIGs are cached with their RRsets for validation
  if (edns) (void)w.setEdns(opt);
  buf.resize(w.finish());
  return buf;
}

void Iterator::sendQuery(Task& task, const base::IpAddress& server, bool tcp, bool edns,
                         int64_t now_ms, const ServerState* known) {
  if (std::find(task.tried.begin(), task.tried.end(), server) == task.tried.end()) {
    task.tried.push_back(server);
  }
  std::string key = server.toString();
  key += tcp ? "|t|" : "|u|";
  key += edns ? "e|" : "n|";
  const auto qkey = task.cur_qname.lookupKey();
  key.append(reinterpret_cast<const char*>(qkey.bytes().data()), qkey.length());
  key += '|';
  key += std::to_string(task.cur_qtype);
  key += '|';
  const auto zkey = task.cut.zone.lookupKey();
  key.append(reinterpret_cast<const char*>(zkey.bytes().data()), zkey.length());
  if (auto it = pending_by_question_.find(key); it != pending_by_question_.end()) {
    // The same question is already on its way to this server: wait for
    // that reply instead of asking again.
    Pending& shared = pending_.at(it->second);
    if (std::find(shared.tasks.begin(), shared.tasks.end(), task.id) == shared.tasks.end()) {
      shared.tasks.push_back(task.id);
      task.pending.push_back(shared.token);
      ++stats_.coalesced_upstream;
    }
    return;
  }
  Pending p;
  p.token = next_token_++;
  p.tasks.push_back(task.id);
  p.key = key;
  p.server = server;
  p.tcp = tcp;
  p.edns = edns;
  p.qname = task.cur_qname;
  p.qtype = task.cur_qtype;
  p.msg_id = static_cast<uint16_t>(rng_());
  p.zone = task.cut.zone;
  p.sent_ms = now_ms;
  UpstreamSend send;
  send.token = p.token;
  send.server = server;
  send.tcp = tcp;
  send.packet = buildQuery(p.qname, p.qtype, p.msg_id, edns);
  const ServerState state = known != nullptr ? *known : servers_.get(server, now_ms);
  // TCP includes a handshake: allow it two RTOs.
  const int64_t rto = servers_.rtoMs(state) * (tcp ? 2 : 1);
  timers_.emplace(now_ms + rto, Timer{TimerKind::kRto, p.token});
  task.pending.push_back(p.token);
  pending_by_question_.emplace(std::move(key), p.token);
  ++task.sent;
  ++stats_.upstream_queries;
  pending_.emplace(p.token, std::move(p));
  sends_.push_back(std::move(send));
}

bool Iterator::resolveNsAddresses(Task& task, int64_t now_ms) {
  (void)now_ms;
  if (task.depth >= kMaxDepth) return false;
  int spawned = 0;
  for (auto& server : task.cut.servers) {
    if (!server.addresses.empty() || server.resolving || server.unresolvable) continue;
    // A first; AAAA when IPv4 is off or the server has no A (some have
    // only one family).
    uint16_t qtype = 0;
    if (config_.ipv4 && (server.families_tried & kTriedA) == 0) {
      qtype = dns::rrtype::kA;
      server.families_tried |= kTriedA;
    } else if (config_.ipv6 && (server.families_tried & kTriedAaaa) == 0) {
      qtype = dns::rrtype::kAaaa;
      server.families_tried |= kTriedAaaa;
    } else {
      server.unresolvable = true;
      continue;
    }
    // A name inside the zone without glue can only be found through the
    // zone's own servers, which are what we are looking for.
    bool cycle = server.name.isSubdomainOf(task.cut.zone);
    // Joining a task that waits (directly or not) for this one would make
    // both wait forever: look at every ancestor, through every parent (a
    // joined task has several).
    std::vector<const Task*> ancestors{&task};
    std::vector<uint32_t> seen{task.id};
    while (!cycle && !ancestors.empty()) {
      const Task* t = ancestors.back();
      ancestors.pop_back();
      cycle = sameQuestion(t->qname, t->qtype, server.name, qtype);
      for (uint32_t parent : t->parents) {
        if (std::find(seen.begin(), seen.end(), parent) != seen.end()) continue;
        seen.push_back(parent);
        if (const Task* p = findTask(parent)) ancestors.push_back(p);
      }
    }
    if (cycle) {
      server.unresolvable = true;
      continue;
    }
    bool created = false;
    const uint32_t id = joinOrStart(server.name, qtype, task.depth + 1, &created);
    Task* sub = findTask(id);
    sub->parents.push_back(task.id);
    task.children.push_back(id);
    ++task.waiting_on;
    server.resolving = true;
    if (++spawned == kMaxNsLookupsAtOnce) break;
  }
  return spawned > 0;
}

void Iterator::dropPending(uint64_t token) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  for (uint32_t id : it->second.tasks) {
    if (Task* task = findTask(id)) std::erase(task->pending, token);
  }
  if (auto q = pending_by_question_.find(it->second.key);
      q != pending_by_question_.end() && q->second == token) {
    pending_by_question_.erase(q);
  }
  pending_.erase(it);
  cancels_.push_back({token});
}

void Iterator::detachPending(uint32_t task_id, uint64_t token) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  std::erase(it->second.tasks, task_id);
  if (Task* task = findTask(task_id)) std::erase(task->pending, token);
  if (it->second.tasks.empty()) dropPending(token);
}

void Iterator::onReply(uint64_t token, std::span<const uint8_t> packet, int64_t now_ms) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  auto reply = digestReply(packet, it->second.zone);
  if (!reply) {
    // Not a lame mark: one garbled datagram says little about the server
    // (the task moves on to the next one; tried servers are not asked
    // again in this round).
    ++stats_.malformed_replies;
    const Pending p = it->second;
    dropPending(token);
    for (uint32_t id : p.tasks) {
      if (Task* task = findTask(id)) sendNext(*task, now_ms);
    }
    drainReady(now_ms);
    return;
  }
  const Pending& sent = it->second;
  // Anything that does not answer exactly what we asked is ignored (it may
  // be spoofed); the real answer or the timeout will come.
  if (!reply->header.has(dns::flag::kQr) || reply->header.id != sent.msg_id ||
      !reply->has_question || reply->question.qclass != dns::rrclass::kIn ||
      !sameQuestion(reply->question.name, reply->question.type, sent.qname, sent.qtype)) {
    ++stats_.malformed_replies;
    return;
  }
  const Pending p = sent;
  dropPending(token);
  servers_.recordReply(p.server, p.zone, now_ms - p.sent_ms, now_ms);
  for (uint32_t id : p.tasks) {
    if (Task* task = findTask(id)) handleReply(*task, p, *reply, now_ms);
  }
  drainReady(now_ms);
}

void Iterator::onError(uint64_t token, int64_t now_ms) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  const Pending p = it->second;
  dropPending(token);
  ++stats_.upstream_errors;
  servers_.recordTimeout(p.server, p.zone, now_ms);
  for (uint32_t id : p.tasks) {
    if (Task* task = findTask(id)) sendNext(*task, now_ms);
  }
  drainReady(now_ms);
}

void Iterator::handleReply(Task& task, const Pending& p, const Reply& reply, int64_t now_ms) {
  const int64_t now_s = now_ms / 1000;
  if (reply.tc() && !p.tcp) {
    ++stats_.tcp_fallbacks;
    task.cur_qname = p.qname;
    task.cur_qtype = p.qtype;
    sendQuery(task, p.server, true, p.edns, now_ms);
    return;
  }
  const uint16_t rcode = reply.rcode;
  if ((rcode == dns::rcode::kFormErr || rcode == dns::rcode::kNotImp) && p.edns) {
    // A server that mishandles EDNS: ask again without (RFC 6891 section 7).
    servers_.recordNoEdns(p.server, now_ms);
    task.cur_qname = p.qname;
    task.cur_qtype = p.qtype;
    sendQuery(task, p.server, p.tcp, false, now_ms);
    return;
  }
  if (rcode != dns::rcode::kNoError && rcode != dns::rcode::kNxDomain) {
    // REFUSED, NOTAUTH and the like say the server does not serve the zone:
    // lame, for every worker. SERVFAIL is often passing (a zone loading,
    // a backend down for a moment): the task moves on without marking it,
    // so that a later round, and other tasks, may ask it again.
    if (rcode != dns::rcode::kServFail) markLame(p.zone, p.server, now_ms);
    sendNext(task, now_ms);
    return;
  }
  const bool minimised = !sameQuestion(p.qname, p.qtype, task.sname, task.stype);
  const Rank answer_rank = reply.aa() ? Rank::kAuthoritativeAnswer : Rank::kAnswer;

  // Follow the answer: the data, or a CNAME chain (with the DNAME that
  // synthesised it, RFC 6672).
  dns::Name name = p.qname;
  std::vector<const Rrset*> links;
  const Rrset* data = nullptr;
  for (int hop = 0; hop < kMaxChain; ++hop) {
    if ((data = findRrset(reply.answer, name, p.qtype)) != nullptr) break;
    if (p.qtype == dns::rrtype::kCname) break;
    const Rrset* cname = findRrset(reply.answer, name, dns::rrtype::kCname);
    if (cname == nullptr) break;
    auto target = cnameTarget(*cname);
    if (!target) break;
    for (const auto& rrset : reply.answer) {
      if (rrset.type == dns::rrtype::kDname && name.isSubdomainOf(rrset.owner) &&
          !(name == rrset.owner) && std::find(links.begin(), links.end(), &rrset) == links.end()) {
        links.push_back(&rrset);
      }
    }
    links.push_back(cname);
    name = *target;
  }

  if (minimised) {
    for (const Rrset& link : markSynthesised(links)) records_.storeRrset(link, answer_rank, now_s);
    if (data != nullptr) records_.storeRrset(*data, answer_rank, now_s);
    if (rcode == dns::rcode::kNxDomain) {
      // Some servers answer NXDOMAIN for empty non-terminals: ask the full
      // question instead of trusting it (RFC 9156 section 2.3).
      task.qmin = false;
      task.question_ready = false;
      nextQuestion(task);
      sendQuery(task, p.server, p.tcp, p.edns, now_ms);
      return;
    }
    if (const Rrset* ns = referralNs(reply, p.zone, p.qname)) {
      handleReferral(task, reply, *ns, now_ms);
      return;
    }
    // The name exists (data, or NODATA at an empty non-terminal) and is
    // served by the same cut: one label deeper.
    task.qmin_name = p.qname;
    task.question_ready = false;
    sendNext(task, now_ms);
    return;
  }

  if (data != nullptr || !links.empty()) {
    for (const Rrset& link : markSynthesised(links)) {
      records_.storeRrset(link, answer_rank, now_s);
      task.chain.push_back(withTtlLimits(link, records_));
    }
    // Every link counts, also those that came in one reply with the data.
    task.chain_hops += static_cast<int>(links.size());
    if (task.chain_hops > kMaxChain) {
      fail(task, dns::ede::kOther, "CNAME chain too long", now_ms);
      return;
    }
    if (data != nullptr) {
      records_.storeRrset(*data, answer_rank, now_s);
      if (data->type == dns::rrtype::kNs) cacheGlue(reply, *data, now_ms);
      Outcome outcome;
      outcome.answer = task.chain;
      outcome.answer.push_back(withTtlLimits(*data, records_));
      finish(task, std::move(outcome), now_ms);
      return;
    }
    for (const auto& link : task.chain) {
      if (link.owner == name) {
        fail(task, dns::ede::kOther, "CNAME loop", now_ms);
        return;
      }
    }
    task.sname = name;
    task.qmin_name.reset();
    task.question_ready = false;
    if (!task.sname.isSubdomainOf(task.cut.zone)) task.cut.valid = false;
    advance(task, now_ms);
    return;
  }

  uint32_t negative_ttl = 0;
  if (rcode == dns::rcode::kNxDomain) {
    auto records = negativeRecords(reply, &negative_ttl);
    records_.storeNegative(p.qname, 0, true, negative_ttl, records, now_s);
    Outcome outcome;
    outcome.rcode = dns::rcode::kNxDomain;
    outcome.answer = task.chain;
    outcome.authority = std::move(records);
    outcome.negative_ttl = std::min(negative_ttl, config_.max_negative_ttl);
    finish(task, std::move(outcome), now_ms);
    return;
  }
  if (const Rrset* ns = referralNs(reply, p.zone, p.qname)) {
    handleReferral(task, reply, *ns, now_ms);
    return;
  }
  if (findType(reply.authority, dns::rrtype::kSoa) != nullptr || reply.aa()) {
    auto records = negativeRecords(reply, &negative_ttl);
    records_.storeNegative(p.qname, p.qtype, false, negative_ttl, records, now_s);
    Outcome outcome;
    outcome.answer = task.chain;
    outcome.authority = std::move(records);
    outcome.negative_ttl = std::min(negative_ttl, config_.max_negative_ttl);
    finish(task, std::move(outcome), now_ms);
    return;
  }
  // A referral upwards or sideways, or an empty non-authoritative answer:
  // this server is lame for the zone.
  markLame(p.zone, p.server, now_ms);
  sendNext(task, now_ms);
}

void Iterator::cacheGlue(const Reply& reply, const Rrset& ns, int64_t now_ms) {
  for (const auto& rd : ns.rdatas) {
    auto name = dns::Name::fromUncompressed(rd);
    if (!name) continue;
    for (uint16_t type : {dns::rrtype::kA, dns::rrtype::kAaaa}) {
      if (const Rrset* glue = findRrset(reply.additional, *name, type)) {
        records_.storeRrset(*glue, Rank::kGlue, now_ms / 1000);
      }
    }
  }
}

void Iterator::handleReferral(Task& task, const Reply& reply, const Rrset& ns, int64_t now_ms) {
  const int64_t now_s = now_ms / 1000;
  // Glue first: a worker that finds the NS set in the shared cache then
  // finds its addresses too (findCut would otherwise go up a level).
  cacheGlue(reply, ns, now_ms);
  records_.storeRrset(ns, Rank::kReferral, now_s);
  if (const Rrset* ds = findRrset(reply.authority, ns.owner, dns::rrtype::kDs)) {
    records_.storeRrset(*ds, Rank::kAuthority, now_s);
  }
  Cut cut;
  cut.zone = ns.owner;
  cut.valid = true;
  for (const auto& rd : ns.rdatas) {
    auto name = dns::Name::fromUncompressed(rd);
    if (!name) continue;
    NsServer server{*name, {}};
    // Glue was kept only if in bailiwick of the referring zone.
    for (uint16_t type : {dns::rrtype::kA, dns::rrtype::kAaaa}) {
      if (const Rrset* glue = findRrset(reply.additional, *name, type)) {
        for (const auto& a : glue->rdatas) {
          if (a.size() == 4) server.addresses.push_back(base::IpAddress::v4(a.data()));
          if (a.size() == 16) server.addresses.push_back(base::IpAddress::v6(a.data()));
        }
      }
    }
    if (server.addresses.empty()) {
      server.addresses = records_.fetchAddresses(*name, config_.ipv4, config_.ipv6, now_s);
    }
    cut.servers.push_back(std::move(server));
  }
  task.cut = std::move(cut);
  task.question_ready = false;
  sendNext(task, now_ms);
}

void Iterator::answerClient(Client& client, const Outcome& outcome) {
  if (outcome.rcode == dns::rcode::kServFail) {
    ++stats_.servfails;
  } else {
    ++stats_.answers;
  }
  answers_.push_back({client.id, buildResponse(client.request, outcome, config_.udp_payload_size)});
}

void Iterator::finish(Task& task, Outcome outcome, int64_t now_ms) {
  (void)now_ms;
  for (uint64_t token : std::vector<uint64_t>(task.pending)) detachPending(task.id, token);
  for (uint64_t id : task.clients) {
    auto it = clients_.find(id);
    if (it == clients_.end()) continue;
    answerClient(it->second, outcome);
    clients_.erase(it);
  }
  for (uint32_t parent_id : task.parents) {
    if (Task* parent = findTask(parent_id)) {
      std::erase(parent->children, task.id);
      if (--parent->waiting_on == 0) ready_.push_back(parent_id);
    }
  }
  const uint32_t id = task.id;
  task_by_question_.erase(TaskKey{keyBytes(task.qname), task.qtype});
  tasks_.erase(id);  // `task` is gone
}

std::optional<Outcome> Iterator::staleOutcome(const dns::Name& qname, uint16_t qtype,
                                              int64_t now_ms) {
  if (config_.serve_stale_s == 0) return std::nullopt;
  // RFC 8767 section 4: stale records are served with a TTL of 30 s.
  constexpr uint32_t kStaleTtl = 30;
  const int64_t now_s = now_ms / 1000;
  Outcome outcome;
  dns::Name name = qname;
  for (int hop = 0; hop <= kMaxChain; ++hop) {
    if (auto rrset = records_.fetchRrset(name, qtype, now_s, kMinAnswerRank, config_.serve_stale_s)) {
      rrset->ttl = std::min(rrset->ttl == 0 ? kStaleTtl : rrset->ttl, kStaleTtl);
      outcome.answer.push_back(std::move(*rrset));
      outcome.has_ede = true;
      outcome.ede_code = dns::ede::kStaleAnswer;
      outcome.ede_text = "stale answer: authorities unreachable";
      return outcome;
    }
    auto cname = records_.fetchRrset(name, dns::rrtype::kCname, now_s, kMinAnswerRank,
                                     config_.serve_stale_s);
    if (!cname || qtype == dns::rrtype::kCname) return std::nullopt;
    auto target = cnameTarget(*cname);
    if (!target) return std::nullopt;
    cname->ttl = std::min(cname->ttl == 0 ? kStaleTtl : cname->ttl, kStaleTtl);
    outcome.answer.push_back(std::move(*cname));
    name = *target;
  }
  return std::nullopt;
}

void Iterator::fail(Task& task, uint16_t ede, const char* why, int64_t now_ms) {
  if (auto stale = staleOutcome(task.qname, task.qtype, now_ms)) {
    stats_.stale_answers += task.clients.size();
    finish(task, std::move(*stale), now_ms);
    return;
  }
  Outcome outcome;
  outcome.rcode = dns::rcode::kServFail;
  outcome.has_ede = true;
  outcome.ede_code = ede;
  outcome.ede_text = why;
  outcome.answer = {};
  finish(task, std::move(outcome), now_ms);
}

void Iterator::abortIfOrphan(uint32_t id) {
  Task* task = findTask(id);
  if (task == nullptr || !task->clients.empty() || !task->parents.empty()) return;
  for (uint64_t token : std::vector<uint64_t>(task->pending)) detachPending(id, token);
  const std::vector<uint32_t> children = task->children;
  task_by_question_.erase(TaskKey{keyBytes(task->qname), task->qtype});
  tasks_.erase(id);
  for (uint32_t child_id : children) {
    if (Task* child = findTask(child_id)) {
      std::erase(child->parents, id);
      abortIfOrphan(child_id);
    }
  }
}

void Iterator::onTimer(int64_t now_ms) {
  while (!timers_.empty() && timers_.begin()->first <= now_ms) {
    const Timer timer = timers_.begin()->second;
    timers_.erase(timers_.begin());
    if (timer.kind == TimerKind::kRto) {
      auto it = pending_.find(timer.id);
      if (it == pending_.end() || it->second.timed_out) continue;
      // Keep listening for a late reply, but try the next server now (and
      // let new identical questions go out afresh).
      it->second.timed_out = true;
      if (auto q = pending_by_question_.find(it->second.key);
          q != pending_by_question_.end() && q->second == timer.id) {
        pending_by_question_.erase(q);
      }
      ++stats_.upstream_timeouts;
      servers_.recordTimeout(it->second.server, it->second.zone, now_ms);
      for (uint32_t id : std::vector<uint32_t>(it->second.tasks)) {
        if (Task* task = findTask(id)) sendNext(*task, now_ms);
      }
    } else {
      auto it = clients_.find(timer.id);
      if (it == clients_.end()) continue;
      const auto& question = it->second.request.question;
      if (auto stale = staleOutcome(question.name, question.type, now_ms)) {
        ++stats_.stale_answers;
        answerClient(it->second, *stale);
      } else {
        Outcome outcome;
        outcome.rcode = dns::rcode::kServFail;
        outcome.has_ede = true;
        outcome.ede_code = dns::ede::kNoReachableAuthority;
        outcome.ede_text = "resolution timed out";
        ++stats_.deadline_servfails;
        answerClient(it->second, outcome);
      }
      const uint32_t task_id = it->second.task;
      clients_.erase(it);
      if (Task* task = findTask(task_id)) {
        std::erase(task->clients, timer.id);
        abortIfOrphan(task_id);
      }
    }
    drainReady(now_ms);
  }
}

std::optional<int64_t> Iterator::nextDeadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

}  // namespace shoal::resolver
