#include "resolver/iterator.h"

#include <algorithm>

#include "base/check.h"
#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "resolver/iterator_internal.h"
#include "resolver/sentinel.h"

namespace shoal::resolver {

using namespace iterator_internal;  // NOLINT: the iterator's own limits

Iterator::Iterator(const EngineConfig& config, shmcache::Cache& cache, uint64_t seed)
    : config_(config),
      records_(cache, TtlLimits{config.min_ttl, config.max_ttl, config.max_negative_ttl}),
      servers_(cache, config.rto_min_ms, config.rto_max_ms),
      selector_({{config.ipv4, config.ipv6}, config.deny_upstream}, servers_),
      validator_(config.validation, records_),
      rng_(seed),
      hedge_tokens_(kHedgeBurst) {
  for (const auto& anchor : config.validation.anchors) {
    if (anchor.owner.isRoot()) anchor_tags_.push_back(anchor.keyTag());
  }
}

Iterator::~Iterator() = default;

Iterator::Task* Iterator::findTask(uint32_t id) {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second.get();
}

Iterator::TaskKey Iterator::taskKey(const dns::Name& qname, uint16_t qtype, const ClientEcs* ecs) {
  std::string subnet;
  if (ecs != nullptr && ecs->send) {
    // Clients of different subnets may get different answers (RFC 7871):
    // their questions are not joined.
    subnet.push_back(static_cast<char>(ecs->subnet.family));
    subnet.push_back(static_cast<char>(ecs->subnet.source_prefix));
    subnet.append(reinterpret_cast<const char*>(ecs->subnet.address.data()),
                  (ecs->subnet.source_prefix + 7u) / 8u);
  }
  return {keyBytes(qname), qtype, std::move(subnet)};
}

uint32_t Iterator::joinOrStart(const dns::Name& qname, uint16_t qtype, int depth,
                               int64_t deadline_ms, bool* created, const ClientEcs* ecs) {
  TaskKey key = taskKey(qname, qtype, ecs);
  if (auto it = task_by_question_.find(key); it != task_by_question_.end()) {
    *created = false;
    Task* joined = findTask(it->second);
    joined->deadline_ms = std::max(joined->deadline_ms, deadline_ms);
    return it->second;
  }
  auto task = std::make_unique<Task>();
  task->id = next_task_++;
  task->qname = qname;
  task->qtype = qtype;
  task->sname = qname;
  task->stype = qtype;
  task->depth = depth;
  task->deadline_ms = deadline_ms;
  task->qmin = config_.qname_minimisation;
  if (ecs != nullptr && ecs->send) task->ecs = *ecs;
  if (validator_.enabled()) task->security = dnssec::Verdict::secure();
  const uint32_t id = task->id;
  tasks_.emplace(id, std::move(task));
  task_by_question_.emplace(std::move(key), id);
  ready_.push_back(id);
  *created = true;
  return id;
}

void Iterator::addClient(const ClientQuery& query, int64_t now_ms) {
  ++stats_.client_queries;
  Client client;
  client.id = query.id;
  client.request = query.request;
  client.deadline_ms = now_ms + config_.query_timeout_ms;
  // At the cap a new question is shed; one already being resolved is
  // joined (it costs nothing more).
  if (config_.max_resolutions != 0 && tasks_.size() >= config_.max_resolutions &&
      !task_by_question_.contains(taskKey(client.request.question.name,
                                          client.request.question.type, &client.request.ecs))) {
    shed(client, now_ms);
    return;
  }
  bool created = false;
  client.task = joinOrStart(client.request.question.name, client.request.question.type, 0,
                            now_ms + std::max(config_.resolution_timeout_ms, config_.query_timeout_ms),
                            &created, &client.request.ecs);
  Task* task = findTask(client.task);
  if (!created) ++stats_.coalesced;
  if (created) {
    task->work = std::make_shared<int>(kMaxQueriesPerClientQuery);
    task->started_ms = now_ms;
  }
  task->clients.push_back(client.id);
  timers_.emplace(client.deadline_ms, Timer{TimerKind::kClient, client.id});
  const uint64_t id = client.id;
  clients_[id] = std::move(client);
  const int64_t stale_after = config_.stale_client_timeout_ms;
  if (config_.serve_stale_s > 0 && stale_after > 0 && stale_after < config_.query_timeout_ms) {
    // RFC 8767 section 5: the client response timer. A refresh already
    // older than it answers this client from stale data at once.
    if (!created && now_ms - task->started_ms >= stale_after && answerStale(id, now_ms)) {
      drainReady(now_ms);
      return;
    }
    timers_.emplace(now_ms + stale_after, Timer{TimerKind::kStale, id});
  }
  drainReady(now_ms);
}

void Iterator::shed(Client& client, int64_t now_ms) {
  const auto& q = client.request.question;
  if (auto stale = staleOutcome(q.name, q.type, client.request.ecs, now_ms, kOverloadStaleS)) {
    ++stats_.overload_stale;
    stale->ede_text = "stale answer: resolver overloaded";
    answerClient(client, *stale);
    return;
  }
  ++stats_.overload_servfails;
  Outcome outcome;
  outcome.rcode = dns::rcode::kServFail;
  outcome.has_ede = true;
  outcome.ede_code = dns::ede::kOther;
  outcome.ede_text = "resolver overloaded";
  answerClient(client, outcome);
}

void Iterator::addPrefetch(const ClientRequest& request, int64_t now_ms) {
  if (tasks_.size() >= kMaxBackgroundTasks) return;
  bool created = false;
  const uint32_t id = joinOrStart(request.question.name, request.question.type, 0,
                                  now_ms + config_.resolution_timeout_ms, &created, &request.ecs);
  if (!created) return;  // being resolved already
  Task* task = findTask(id);
  task->refresh = true;
  task->started_ms = now_ms;
  task->work = std::make_shared<int>(kMaxQueriesPerClientQuery);
  ++stats_.prefetches;
  drainReady(now_ms);
}

bool Iterator::answerStale(uint64_t client_id, int64_t now_ms) {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return false;
  const auto& question = it->second.request.question;
  auto stale = staleOutcome(question.name, question.type, it->second.request.ecs, now_ms);
  if (!stale) return false;
  ++stats_.stale_answers;
  answerClient(it->second, *stale);
  const uint32_t task_id = it->second.task;
  clients_.erase(it);
  leaveTask(client_id, task_id, now_ms);  // the refresh goes on
  return true;
}

void Iterator::leaveTask(uint64_t client_id, uint32_t task_id, int64_t now_ms) {
  Task* task = findTask(task_id);
  if (task == nullptr) return;
  std::erase(task->clients, client_id);
  if (!task->clients.empty() || !task->parents.empty()) return;
  if (now_ms < task->deadline_ms && tasks_.size() <= kMaxBackgroundTasks) {
    // Carries on in the background: its answer is cached for the client's
    // retry (it fails at its deadline otherwise).
    ++stats_.background_resolutions;
    return;
  }
  abortIfOrphan(task_id);
}

void Iterator::drainReady(int64_t now_ms) {
  do {
    while (!ready_.empty()) {
      const uint32_t id = ready_.back();
      ready_.pop_back();
      wake(id, now_ms);
    }
  } while (releaseRangeFlights(now_ms));
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
  if (task.held) {
    Held held = std::move(*task.held);
    task.held.reset();
    settle(task, std::move(held), now_ms);
    return;
  }
  for (int guard = 0; guard < kMaxChain + 2; ++guard) {
    switch (answerFromCache(task, now_ms)) {
      case CacheStep::kFinished: return;
      case CacheStep::kMoved: continue;
      case CacheStep::kMiss: break;
    }
    if (needsCut(task)) {
      if (!findCut(task, now_ms)) return;  // waiting for priming, or failed
    }
    sendNext(task, now_ms);
    return;
  }
  fail(task, dns::ede::kOther, "CNAME chain too long", now_ms);
}

Iterator::CacheStep Iterator::answerFromCache(Task& task, int64_t now_ms) {
  if (task.refresh && task.chain.empty() && task.sname == task.qname && task.stype == task.qtype) {
    return CacheStep::kMiss;  // a prefetch: the cached answer is what it replaces
  }
  CacheReadOptions options;
  options.nxdomain_cut = config_.nxdomain_cut;
  options.validating = validator_.enabled();
  options.aggressive = config_.aggressive_nsec;
  options.policy = config_.validation.policy;
  options.max_links = std::max(kMaxChain - task.chain_hops, 0);
  options.client = task.ecs.lookupAddress();
  options.client_prefix = task.ecs.subnet.source_prefix;
  CachedAnswer cached = records_.readAnswer(task.sname, task.stype, options, now_ms / 1000);
  const CacheRead result = cached.read.result;
  if (result == CacheRead::kMiss || result == CacheRead::kStopped) return CacheStep::kMiss;
  task.chain_hops += cached.read.links;
  task.ecs_scope = std::max(task.ecs_scope, cached.read.scope);
  noteSecurity(task, cached.read);
  countSynthesis(cached.read);
  if (result == CacheRead::kMoved) {
    for (auto& link : cached.rrsets) task.chain.push_back(std::move(link));
    task.sname = cached.read.next_name;
    task.qmin_name.reset();
    task.question_ready = false;
    return CacheStep::kMoved;
  }
  Outcome outcome = answerOutcome(task);
  for (auto& rrset : cached.rrsets) outcome.answer.push_back(std::move(rrset));
  if (result != CacheRead::kAnswer) {
    if (result == CacheRead::kNxdomain) outcome.rcode = dns::rcode::kNxDomain;
    outcome.authority = std::move(cached.negative);
    outcome.negative_ttl = cached.negative_ttl;
  } else {
    outcome.authority = std::move(cached.proofs);
    outcome.negative_ttl = cached.proof_ttl;
  }
  finish(task, std::move(outcome), now_ms);
  return CacheStep::kFinished;
}

void Iterator::noteSecurity(Task& task, const CacheReadResult& read) {
  if (!validator_.enabled() || read.all_secure) return;
  task.security = worst(task.security, read.bogus ? dnssec::Verdict::bogus(
                                                        read.bogus_ede != 0 ? read.bogus_ede
                                                                            : dnssec::ede::kDnssecBogus,
                                                        "cached data is bogus")
                                                  : dnssec::Verdict::insecure(0, "cached data"));
}

void Iterator::countSynthesis(const CacheReadResult& read) {
  switch (read.synthesised) {
    case Synthesis::kNone:
      return;
    case Synthesis::kNxdomain:
      ++stats_.synth_nxdomain;
      break;
    case Synthesis::kNodata:
      ++stats_.synth_nodata;
      break;
    case Synthesis::kWildcard:
      ++stats_.synth_wildcard;
      break;
  }
  if (read.local_root) ++stats_.local_root_answers;
}

Outcome Iterator::answerOutcome(const Task& task) const {
  Outcome outcome;
  outcome.answer = task.chain;
  outcome.scope = task.ecs_scope;
  if (validator_.enabled()) {
    outcome.security = task.security.security;
    if (task.security.isBogus()) {
      outcome.ede_code = task.security.ede;
      outcome.ede_text = task.security.reason;
    }
  }
  return outcome;
}

const ForwardSpec* Iterator::forwardFor(const dns::Name& sname, uint16_t stype) const {
  const ForwardSpec* best = nullptr;
  for (const auto& forward : config_.forwards) {
    if (!sname.isSubdomainOf(forward.zone)) continue;
    if (stype == dns::rrtype::kDs && sname == forward.zone && !sname.isRoot()) continue;
    if (best == nullptr || forward.zone.labelCount() > best->zone.labelCount()) best = &forward;
  }
  return best;
}

bool Iterator::needsCut(const Task& task) const {
  if (!task.cut.valid || !task.sname.isSubdomainOf(task.cut.zone)) return true;
  if (config_.forwards.empty()) return false;
  const ForwardSpec* forward = forwardFor(task.sname, task.stype);
  if (forward == nullptr) return task.cut.forward;
  return !task.cut.forward || !(task.cut.zone == forward->zone);
}

bool Iterator::findCut(Task& task, int64_t now_ms) {
  task.tried.clear();
  task.rounds = 0;
  task.question_ready = false;
  const Families families{config_.ipv4, config_.ipv6};
  if (const ForwardSpec* forward = forwardFor(task.sname, task.stype)) {
    // The upstream resolvers, whatever the cache knows of delegations.
    Cut cut;
    cut.zone = forward->zone;
    cut.valid = true;
    cut.forward = true;
    cut.validate = forward->validate;
    cut.keys_prefetched = !forward->validate;  // no keys wanted
    cut.tls = forward->tls;
    cut.tls_name = forward->tls_name;
    cut.tls_ca = forward->tls_ca;
    NsServer upstreams;
    upstreams.name = forward->zone;
    for (const auto& address : forward->addresses) {
      if (!(address.ip.isV4() ? families.ipv4 : families.ipv6)) continue;
      if (std::find(upstreams.addresses.begin(), upstreams.addresses.end(), address.ip) ==
          upstreams.addresses.end()) {
        upstreams.addresses.push_back(address.ip);
        cut.ports.push_back(address);
      }
    }
    upstreams.unresolvable = upstreams.addresses.empty();
    cut.servers.push_back(std::move(upstreams));
    task.cut = std::move(cut);
    return true;
  }
  if (auto cut = cachedCut(records_, task.sname, task.stype, families, now_ms / 1000)) {
    task.cut = std::move(*cut);
    return true;
  }
  // Not even the root's NS set is cached. The priming task itself, and a
  // task whose priming did not leave a usable root NS set, use the hints.
  if (task.use_hints || task.priming_done) {
    task.cut = hintsCut(config_.hints, families);
    return true;
  }
  task.cut = Cut{};
  // No root NS in the cache: prime (RFC 8109) and come back.
  bool created = false;
  const uint32_t priming =
      joinOrStart(dns::Name(), dns::rrtype::kNs, task.depth + 1, task.deadline_ms, &created);
  Task* sub = findTask(priming);
  sub->use_hints = true;
  sub->parents.push_back(task.id);
  task.children.push_back(priming);
  ++task.waiting_on;
  task.priming_done = true;  // when woken: what priming cached, else the hints
  if (sub->depth > kMaxDepth + 1) fail(*sub, dns::ede::kNoReachableAuthority, "priming too deep", now_ms);
  return false;
}

void Iterator::nextQuestion(Task& task) {
  task.question_ready = true;
  task.tried.clear();
  task.rounds = 0;
  if (!task.qmin || !config_.qname_minimisation || task.cut.forward) {
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

size_t Iterator::inFlight(const Task& task) const {
  size_t in_flight = 0;
  for (uint64_t token : task.pending) {
    auto it = pending_.find(token);
    if (it != pending_.end() && !it->second.timed_out) ++in_flight;
  }
  return in_flight;
}

void Iterator::sendNext(Task& task, int64_t now_ms) {
  if (now_ms >= task.deadline_ms) {
    // Every server was tried again and again: the clients had their answer
    // at query_timeout, this was the background's last chance.
    fail(task, dns::ede::kNoReachableAuthority, "resolution timed out", now_ms);
    return;
  }
  if (task.sent >= kMaxSentPerTask) {
    fail(task, dns::ede::kNoReachableAuthority, "too many upstream queries", now_ms);
    return;
  }
  if (task.work && *task.work <= 0) {
    ++stats_.work_capped;
    fail(task, dns::ede::kOther, "work limit: too many upstream queries for one question", now_ms);
    return;
  }
  if (!task.question_ready) nextQuestion(task);
  if (!task.cut.keys_prefetched) {
    task.cut.keys_prefetched = true;
    prefetchKeys(task, now_ms);
  }
  // One query out at a time (a hedge aside): the next goes when it is
  // answered, fails or times out.
  const size_t in_flight = inFlight(task);
  if (in_flight > 0) return;
  if (task.pending.empty() && task.tried.empty() && holdForRanges(task, now_ms)) return;

  auto choice = selector_.choose(task.cut, task.tried, now_ms, rng_);
  if (!choice && !task.tried.empty()) {
    // Every server was asked in this round: go round again, as long as the
    // deadline allows (packets get lost; the RTO doubles per server with
    // its consecutive timeouts), unless they are lame. Never an early
    // SERVFAIL while a server is left to try. Rounds are paced by the RTO:
    // servers that fail at once are not asked again in a tight loop.
    if (const int64_t next = task.round_started_ms + task.round_pace_ms; now_ms < next) {
      if (!task.round_timer) {
        task.round_timer = true;
        timers_.emplace(next, Timer{TimerKind::kRound, task.id});
      }
      return;
    }
    ++task.rounds;
    task.tried.clear();
    choice = selector_.choose(task.cut, task.tried, now_ms, rng_);
    if (choice && choice->state.backoff_until_ms > now_ms &&
        now_ms - choice->state.last_reply_ms >= ServerStats::kAliveMs && task.clients.empty() &&
        task.parents.empty()) {
      // Every server is backed off (timeout after timeout) and none has
      // answered lately: nobody waits, and asking again in the background
      // would only pound dead servers.
      fail(task, dns::ede::kNoReachableAuthority, "authorities unreachable", now_ms);
      return;
    }
  }
  if (choice && task.tried.empty()) {
    task.round_started_ms = now_ms;
    task.round_pace_ms = servers_.rtoMs(choice->state, now_ms);
  }
  if (!choice) {
    if (resolveNsAddresses(task, now_ms)) return;
    bool resolving = false;
    for (const auto& server : task.cut.servers) resolving = resolving || server.resolving;
    // Queries that timed out stay in task.pending for a late reply, but
    // no timer is left to wake the task for them: waiting here stalled it
    // until the clients' deadline (SERVFAIL at query_timeout, not at once).
    if (resolving || in_flight > 0) return;  // wait
    fail(task, dns::ede::kNoReachableAuthority, "no reachable authority", now_ms);
    return;
  }
  sendQuery(task, choice->address, false, !choice->state.no_edns, now_ms, &choice->state);
}

namespace {

/// `name` with each letter's case drawn at random (0x20; the bits come
/// from the CSPRNG: an off-path spoofer must guess them as well).
dns::Name randomCase(const dns::Name& name, base::SecureRandom& random) {
  const auto wire = name.wire();
  uint8_t bytes[dns::kMaxNameLength];
  std::copy(wire.begin(), wire.end(), bytes);
  uint64_t bits = random.next64();
  unsigned left = 64;
  for (size_t i = 0; i < wire.size();) {
    const size_t length = bytes[i++];
    for (size_t end = i + length; i < end && i < wire.size(); ++i) {
      const uint8_t lower = static_cast<uint8_t>(bytes[i] | 0x20);
      if (lower < 'a' || lower > 'z') continue;
      if (left == 0) {
        bits = random.next64();
        left = 64;
      }
      bytes[i] = (bits & 1) != 0 ? static_cast<uint8_t>(lower & ~0x20) : lower;
      bits >>= 1;
      --left;
    }
  }
  auto cased = dns::Name::fromUncompressed({bytes, wire.size()});
  return cased ? *cased : name;
}

}  // namespace

std::vector<uint8_t> Iterator::buildQuery(const dns::Name& qname, uint16_t qtype, uint16_t id,
                                          bool edns, const dns::ClientSubnet* ecs, bool rd,
                                          const QueryCookie* cookie) {
  std::vector<uint8_t> buf(512);
  dns::MessageWriter w(buf, buf.size());
  w.setId(id);
  w.setFlags(rd ? dns::flag::kRd : 0);  // RD clear when we iterate, set for a forwarder
  (void)w.addQuestion(qname, qtype, dns::rrclass::kIn);
  dns::EdnsOut opt;
  opt.udp_size = config_.udp_payload_size;
  opt.dnssec_ok = true;  // RRSIGs are cached with their RRsets for validation
  if (ecs != nullptr) (void)opt.options.addClientSubnet(*ecs);
  if (cookie != nullptr) (void)dns::addQueryCookie(opt.options, cookie->client, cookie->server);
  if (edns) (void)w.setEdns(opt);
  buf.resize(w.finish());
  return buf;
}

void Iterator::sendQuery(Task& task, const base::IpAddress& server, bool tcp, bool edns,
                         int64_t now_ms, const ServerState* known, bool hedge) {
  const bool tls = task.cut.forward && task.cut.tls;
  tcp = tcp || tls;  // DNS over TLS is a TCP connection
  if (std::find(task.tried.begin(), task.tried.end(), server) == task.tried.end()) {
    task.tried.push_back(server);
  }
  // ECS (RFC 7871) only with the client's own question (not a minimised
  // one: nothing more is told than needed), to allowed zones and servers.
  std::optional<dns::ClientSubnet> ecs;
  if (edns && task.ecs.send && sameQuestion(task.cur_qname, task.cur_qtype, task.sname, task.stype) &&
      ecsAllowed(config_.ecs, task.cut.zone, server)) {
    ecs = task.ecs.subnet;
  }
  std::string key = server.toString();
  key += tcp ? "|t|" : "|u|";
  key += edns ? "e|" : "n|";
  if (ecs) {
    key.push_back(static_cast<char>(ecs->family));
    key.push_back(static_cast<char>(ecs->source_prefix));
    key.append(reinterpret_cast<const char*>(ecs->address.data()), 16);
    key += '|';
  }
  const auto qkey = task.cur_qname.lookupKey();
  key.append(reinterpret_cast<const char*>(qkey.bytes().data()), qkey.length());
  key += '|';
  key += std::to_string(task.cur_qtype);
  key += '|';
  const auto zkey = task.cut.zone.lookupKey();
  key.append(reinterpret_cast<const char*>(zkey.bytes().data()), zkey.length());
  if (hedge) key += "|h";
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
  p.msg_id = secure_.next16();
  const ServerState state = known != nullptr ? *known : servers_.get(server, now_ms);
  p.sent_qname = p.qname;
  if (config_.case_randomisation && state.no_case_until_ms <= now_ms) {
    p.sent_qname = randomCase(p.qname, secure_);
    p.cased = true;
  }
  std::optional<QueryCookie> cookie;
  if (config_.cookies && edns) {
    // Our source address is the kernel's choice, unknown here: the client
    // cookie is per server and per secret (RFC 7873 section 4.1 with a
    // constant client address; the secret changes at each start).
    const uint8_t zeroes[16] = {};
    const auto us = server.isV4() ? base::IpAddress::v4(zeroes) : base::IpAddress::v6(zeroes);
    cookie = QueryCookie{dns::makeClientCookie(config_.cookie_secret, us, server),
                         {state.cookie.data(), state.cookie_length}};
    p.cookie = true;
    p.with_server_cookie = state.cookie_length != 0;
    p.client_cookie = cookie->client;
  }
  p.zone = task.cut.zone;
  p.sent_ms = now_ms;
  p.ecs = ecs;
  p.hedge = hedge;
  if (ecs) ++stats_.ecs_queries;
  UpstreamSend send;
  send.token = p.token;
  send.server = server;
  send.tcp = tcp;
  for (const auto& upstream : task.cut.ports) {
    if (upstream.ip == server) send.port = upstream.port;
  }
  if (tls) {
    send.tls = true;
    send.tls_name = task.cut.tls_name;
    send.tls_ca = task.cut.tls_ca;
  }
  send.packet = buildQuery(p.sent_qname, p.qtype, p.msg_id, edns, p.ecs ? &*p.ecs : nullptr,
                           task.cut.forward, cookie ? &*cookie : nullptr);
  // TCP includes a handshake: allow it two RTOs; TLS another one or two.
  const int64_t rto = servers_.rtoMs(state, now_ms) * (tls ? 4 : tcp ? 2 : 1);
  timers_.emplace(now_ms + rto, Timer{TimerKind::kRto, p.token});
  if (hedge) {
    hedge_tokens_ -= 1;
    ++stats_.hedges_sent;
    servers_.recordHedge(server, now_ms);
  } else {
    hedge_tokens_ = std::min(kHedgeBurst, hedge_tokens_ + kHedgeShare);
    // Over TCP a lost segment is the kernel's to resend.
    if (const int64_t delay = tcp ? 0 : servers_.hedgeMs(state, now_ms); delay > 0) {
      timers_.emplace(now_ms + delay, Timer{TimerKind::kHedge, p.token});
    }
  }
  task.pending.push_back(p.token);
  pending_by_question_.emplace(std::move(key), p.token);
  ++task.sent;
  if (task.work) --*task.work;
  ++stats_.upstream_queries;
  pending_.emplace(p.token, std::move(p));
  sends_.push_back(std::move(send));
}

void Iterator::sendHedge(Pending& pending, int64_t now_ms) {
  if (pending.timed_out || pending.lingering || pending.hedged || pending.hedge) return;
  if (hedge_tokens_ < 1) return;  // the budget: at most kHedgeShare of the queries
  Task* task = nullptr;
  for (uint32_t id : pending.tasks) {
    if (Task* t = findTask(id); t != nullptr && !t->held) {
      task = t;
      break;
    }
  }
  // Only the task's current question, while it is its only query out.
  if (task == nullptr || inFlight(*task) != 1 || pending.qtype != task->cur_qtype ||
      !(pending.qname == task->cur_qname) || !(pending.zone == task->cut.zone) ||
      task->sent >= kMaxSentPerTask || (task->work && *task->work <= 0)) {
    return;
  }
  auto choice = selector_.choose(task->cut, task->tried, now_ms, rng_);
  if (!choice) {
    // Every server tried: the same one again, if it is the zone's only one.
    size_t addresses = 0;
    for (const auto& server : task->cut.servers) addresses += server.addresses.size();
    if (addresses != 1 || (!task->cut.forward && !selector_.allowed(pending.server))) return;
    choice = Choice{pending.server, servers_.get(pending.server, now_ms)};
  }
  pending.hedged = true;
  const base::IpAddress server = choice->address;
  const bool edns = !choice->state.no_edns;
  sendQuery(*task, server, false, edns, now_ms, &choice->state, /*hedge=*/true);
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
    if (server.name.isSubdomainOf(task.cut.zone) || waitsFor(task, server.name, qtype) ||
        task.cut.ns_lookups >= kMaxNsLookupsPerCut) {
      server.unresolvable = true;
      continue;
    }
    ++task.cut.ns_lookups;
    startSubTask(task, server.name, qtype);
    server.resolving = true;
    if (++spawned == kMaxNsLookupsAtOnce) break;
  }
  return spawned > 0;
}

void Iterator::dropPending(uint64_t token, bool linger) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  for (uint32_t id : it->second.tasks) {
    if (Task* task = findTask(id)) std::erase(task->pending, token);
  }
  if (auto q = pending_by_question_.find(it->second.key);
      q != pending_by_question_.end() && q->second == token) {
    pending_by_question_.erase(q);
  }
  if (linger && !it->second.timed_out && !it->second.lingering) {
    it->second.tasks.clear();
    it->second.lingering = true;
    return;
  }
  pending_.erase(it);
  cancels_.push_back({token});
}

void Iterator::detachPending(uint32_t task_id, uint64_t token) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  std::erase(it->second.tasks, task_id);
  if (Task* task = findTask(task_id)) std::erase(task->pending, token);
  if (it->second.tasks.empty()) dropPending(token, /*linger=*/true);
}

void Iterator::onReply(uint64_t token, std::span<const uint8_t> packet, int64_t now_ms) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  // 0x20: the question must come back in the case it was sent. Then the
  // case it was asked in is put back into the packet before anything is
  // read, so that every name compressed against the question (the
  // referral's NS owner, a CNAME's target...) is cached, shown and used
  // as before, not in random case.
  bool case_echoed = true;
  std::vector<uint8_t> restored;
  if (it->second.cased) {
    const auto sent = it->second.sent_qname.wire();
    constexpr size_t kQuestionAt = dns::kHeaderSize;  // a question name is never a pointer
    case_echoed = packet.size() >= kQuestionAt + sent.size() &&
                  std::equal(sent.begin(), sent.end(), packet.begin() + kQuestionAt);
    if (case_echoed) {
      restored.assign(packet.begin(), packet.end());
      const auto asked = it->second.qname.wire();  // the same length
      std::copy(asked.begin(), asked.end(), restored.begin() + kQuestionAt);
      packet = restored;
    }
  }
  auto reply = digestReply(packet, it->second.zone);
  if (!reply) {
    // Not a lame mark: one garbled datagram says little about the server
    // (the task moves on to the next one; tried servers are not asked
    // again in this round).
    ++stats_.malformed_replies;
    const Pending p = it->second;
    dropPending(token);
    for (uint32_t id : p.tasks) {
      if (Task* task = findTask(id); task != nullptr && !task->held) sendNext(*task, now_ms);
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
  if (spoofingSuspected(sent, *reply, case_echoed, token, now_ms)) return;
  if (sent.lingering) {
    // Another server answered first: this one is not lost, only late.
    ++stats_.late_replies;
    servers_.recordReply(sent.server, sent.zone, now_ms - sent.sent_ms, now_ms);
    dropPending(token);
    return;
  }
  // RFC 7871 section 7.3: a reply whose ECS option is not what was sent
  // is dropped (it may be spoofed, or the server broken).
  if (sent.ecs && (reply->ecs_malformed ||
                   (reply->ecs && !ecsReplyMatches(*sent.ecs, *reply->ecs)))) {
    ++stats_.malformed_replies;
    ++stats_.ecs_mismatched;
    return;
  }
  const Pending p = sent;
  dropPending(token);
  servers_.recordReply(p.server, p.zone, now_ms - p.sent_ms, now_ms);
  if (p.hedge) {
    // Its task still waited: the hedge answered before the query it hedged.
    ++stats_.hedges_won;
    servers_.recordHedgeWon(p.server, now_ms);
  }
  if (p.ecs) ++(reply->ecs && reply->ecs->scope_prefix > 0 ? stats_.ecs_scope_partition
                                                            : stats_.ecs_scope_global);
  for (uint32_t id : p.tasks) {
    if (Task* task = findTask(id); task != nullptr && !task->held) handleReply(*task, p, *reply, now_ms);
  }
  drainReady(now_ms);
}

bool Iterator::spoofingSuspected(const Pending& sent, const Reply& reply, bool case_echoed,
                                 uint64_t token, int64_t now_ms) {
  if (sent.cookie) {
    // RFC 7873 section 5.3: a malformed cookie, another client cookie, or
    // none from a server that gave us one: spoofed, or not for us.
    // Dropped; the real reply or the timeout will come (a server that
    // stopped doing cookies loses its cookie after kCookieForgetTimeouts).
    if (reply.cookie_malformed || (reply.cookie && reply.cookie->client != sent.client_cookie) ||
        (!reply.cookie && sent.with_server_cookie)) {
      ++stats_.cookie_mismatches;
      return true;
    }
    if (reply.cookie && reply.cookie->server_length != 0) {
      servers_.recordCookie(sent.server,
                            {reply.cookie->server.data(), reply.cookie->server_length}, now_ms);
    }
  }
  const bool bad_cookie = sent.cookie && reply.cookie && reply.rcode == dns::rcode::kBadCookie;
  const bool case_lost = sent.cased && !case_echoed;
  if (!bad_cookie && !case_lost) return false;
  if (sent.lingering) {
    dropPending(token);
    return true;
  }
  // The state the question is asked again with carries what this reply
  // taught, whether or not the shared cache kept it: at most one retry of
  // each kind, never a loop.
  ServerState state = servers_.get(sent.server, now_ms);
  bool again = true;
  if (bad_cookie) {
    // RFC 7873 section 5.3: asked again once, with the server cookie it
    // gave. Refused although we sent its cookie, or given none: the next
    // server is tried.
    ++stats_.bad_cookies;
    const dns::Cookie& cookie = *reply.cookie;
    again = !sent.with_server_cookie && cookie.server_length != 0;
    if (again) {
      std::copy(cookie.server.begin(), cookie.server.begin() + cookie.server_length,
                state.cookie.begin());
      state.cookie_length = cookie.server_length;
    }
  } else {
    // Its case differs: a server that does not echo 0x20, or a spoofer
    // who guessed ID and port but not the case (the reply is not used).
    // Asked again without 0x20 (draft-vixie-dnsext-dns0x20 section 4), and
    // so for kNoCaseMs.
    ++stats_.case_mismatches;
    servers_.recordNoCase(sent.server, now_ms);
    state.no_case_until_ms = now_ms + kNoCaseMs;
  }
  const Pending p = sent;
  dropPending(token);
  for (uint32_t id : p.tasks) {
    Task* task = findTask(id);
    if (task == nullptr || task->held) continue;
    if (!again) {
      sendNext(*task, now_ms);
      continue;
    }
    task->cur_qname = p.qname;
    task->cur_qtype = p.qtype;
    sendQuery(*task, p.server, p.tcp, p.edns, now_ms, &state);
  }
  drainReady(now_ms);
  return true;
}

bool Iterator::rebindingBlocked(const Reply& reply) const {
  if (config_.private_addresses.empty()) return false;
  for (const Rrset& rrset : reply.answer) {
    if (rrset.type != dns::rrtype::kA && rrset.type != dns::rrtype::kAaaa) continue;
    bool allowed = false;
    for (const auto& domain : config_.private_domains) {
      if (rrset.owner.isSubdomainOf(domain)) allowed = true;
    }
    if (allowed) continue;
    for (const auto& rdata : rrset.rdatas) {
      const bool v4 = rrset.type == dns::rrtype::kA;
      if (rdata.size() != (v4 ? 4u : 16u)) continue;
      const auto address = v4 ? base::IpAddress::v4(rdata.data()) : base::IpAddress::v6(rdata.data());
      for (const auto& prefix : config_.private_addresses) {
        if (prefix.contains(address)) return true;
      }
    }
  }
  return false;
}

void Iterator::onError(uint64_t token, int64_t now_ms) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  const Pending p = it->second;
  dropPending(token);
  ++stats_.upstream_errors;
  servers_.recordTimeout(p.server, p.zone, now_ms);
  for (uint32_t id : p.tasks) {
    if (Task* task = findTask(id); task != nullptr && !task->held) sendNext(*task, now_ms);
  }
  drainReady(now_ms);
}

void Iterator::handleReply(Task& task, const Pending& p, const Reply& reply, int64_t now_ms) {
  const SentQuestion sent{p.qname, p.qtype, p.zone, p.tcp, p.edns, task.cut.forward};
  Classified classified = classifyReply(reply, sent);
  switch (classified.kind) {
    case ReplyKind::kRetryTcp:
      ++stats_.tcp_fallbacks;
      task.cur_qname = p.qname;
      task.cur_qtype = p.qtype;
      sendQuery(task, p.server, true, p.edns, now_ms);
      return;
    case ReplyKind::kRetryNoEdns:
      // A server that mishandles EDNS: ask again without (RFC 6891 section 7).
      servers_.recordNoEdns(p.server, now_ms);
      task.cur_qname = p.qname;
      task.cur_qtype = p.qtype;
      sendQuery(task, p.server, p.tcp, false, now_ms);
      return;
    case ReplyKind::kServerFailure:
      // Often passing (a zone loading, a backend down for a moment): no
      // lame mark, so that a later round, and other tasks, ask it again.
      sendNext(task, now_ms);
      return;
    case ReplyKind::kLame:
      selector_.markLame(p.zone, p.server, now_ms);
      sendNext(task, now_ms);
      return;
    default:
      break;
  }
  if (!sameQuestion(p.qname, p.qtype, task.sname, task.stype)) {
    handleMinimised(task, p, classified, now_ms);
    return;
  }
  // After the minimised names: their replies answer nobody and are not kept.
  if (rebindingBlocked(reply)) {
    ++stats_.rebinding_blocked;
    fail(task, dns::ede::kBlocked, "private address in a public name's answer", now_ms);
    return;
  }
  if (classified.kind == ReplyKind::kReferral) {
    if (task.cut.forward) {
      // An upstream resolver does not refer: it is not recursing for us.
      selector_.markLame(p.zone, p.server, now_ms);
      sendNext(task, now_ms);
      return;
    }
    handleReferral(task, sent, classified, now_ms);
    return;
  }
  Held held{std::move(classified), sent, false, shmcache::Partition::global()};
  // Cached in the partition of the scope returned (RFC 7871 section 7.3.1);
  // a server that gave no scope answered for everyone. Asked without a
  // subnet where one could have gone, the answer is for clients without
  // one only (it may be the authority's guess from our own address).
  if (p.ecs) {
    held.partition = partitionFor(*p.ecs, reply.ecs ? reply.ecs->scope_prefix : 0);
  } else if (ecsAllowed(config_.ecs, p.zone, p.server)) {
    held.partition = shmcache::Partition::noSubnet();
  }
  settle(task, std::move(held), now_ms);
}

void Iterator::handleMinimised(Task& task, const Pending& p, const Classified& reply,
                               int64_t now_ms) {
  if (reply.kind == ReplyKind::kNxdomain) {
    // A secure NXDOMAIN proves that nothing exists below the minimised
    // name (RFC 8020): validated, it answers the client and covers every
    // other name below it. An NSEC chain cannot deny an empty
    // non-terminal, so a signed zone cannot lie this way.
    if (validator_.enabled()) {
      settle(task,
             Held{reply, {p.qname, p.qtype, p.zone, p.tcp, p.edns}, true,
                  shmcache::Partition::global()},
             now_ms);
      return;
    }
    // Some servers answer NXDOMAIN for empty non-terminals: ask the full
    // question instead of trusting it (RFC 9156 section 2.3).
    task.qmin = false;
    task.question_ready = false;
    nextQuestion(task);
    sendQuery(task, p.server, p.tcp, p.edns, now_ms);
    return;
  }
  if (reply.kind == ReplyKind::kReferral) {
    handleReferral(task, {p.qname, p.qtype, p.zone, p.tcp, p.edns}, reply, now_ms);
    return;
  }
  // The name exists (data, or NODATA at an empty non-terminal) and is
  // served by the same cut: one label deeper. What the reply holds for the
  // minimised name is not kept: it was not validated.
  task.qmin_name = p.qname;
  task.question_ready = false;
  sendNext(task, now_ms);
}

void Iterator::answerClient(Client& client, const Outcome& given) {
  const Outcome* chosen = &given;
  Outcome sentinel_failure;
  const auto& q = client.request.question;
  if (given.security == dnssec::Security::kSecure &&
      (q.type == dns::rrtype::kA || q.type == dns::rrtype::kAaaa)) {
    if (auto sentinel = sentinelOf(q.name); sentinel && sentinelFails(*sentinel, anchor_tags_)) {
      // RFC 8509 section 3.2.
      sentinel_failure.rcode = dns::rcode::kServFail;
      chosen = &sentinel_failure;
    }
  }
  const Outcome& outcome = *chosen;
  const bool cd = (client.request.flags & dns::flag::kCd) != 0;
  const bool bogus = outcome.security == dnssec::Security::kBogus;
  if (outcome.rcode == dns::rcode::kServFail || (bogus && !cd)) {
    ++stats_.servfails;
  } else {
    ++stats_.answers;
  }
  switch (outcome.security) {
    case dnssec::Security::kSecure: ++stats_.secure; break;
    case dnssec::Security::kInsecure: ++stats_.insecure; break;
    case dnssec::Security::kBogus: ++stats_.bogus; break;
    case dnssec::Security::kIndeterminate: break;
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
  task_by_question_.erase(taskKey(task.qname, task.qtype, &task.ecs));
  tasks_.erase(id);  // `task` is gone
}

std::optional<Outcome> Iterator::staleOutcome(const dns::Name& qname, uint16_t qtype,
                                              const ClientEcs& ecs, int64_t now_ms,
                                              uint32_t max_stale_s) {
  max_stale_s = std::max(max_stale_s, config_.serve_stale_s);
  if (max_stale_s == 0) return std::nullopt;
  // RFC 8767 section 4: stale records are served with a TTL of 30 s.
  static constexpr uint32_t kStaleTtl = 30;
  auto staleTtl = [](uint32_t ttl) { return std::min(ttl == 0 ? kStaleTtl : ttl, kStaleTtl); };
  CacheReadOptions options;
  options.nxdomain_cut = config_.nxdomain_cut;
  options.validating = validator_.enabled();
  options.aggressive = config_.aggressive_nsec;
  options.policy = config_.validation.policy;
  options.max_links = kMaxChain;
  options.max_stale_s = max_stale_s;
  options.client = ecs.lookupAddress();
  options.client_prefix = ecs.subnet.source_prefix;
  CachedAnswer cached = records_.readAnswer(qname, qtype, options, now_ms / 1000);
  const CacheRead result = cached.read.result;
  if (result == CacheRead::kMiss || result == CacheRead::kMoved || result == CacheRead::kStopped ||
      cached.read.bogus) {
    return std::nullopt;
  }
  Outcome outcome;
  outcome.scope = cached.read.scope;
  for (auto& rrset : cached.rrsets) {
    rrset.ttl = staleTtl(rrset.ttl);
    outcome.answer.push_back(std::move(rrset));
  }
  if (result != CacheRead::kAnswer) {
    if (result == CacheRead::kNxdomain) outcome.rcode = dns::rcode::kNxDomain;
    outcome.authority = std::move(cached.negative);
    outcome.negative_ttl = staleTtl(cached.negative_ttl);
  }
  if (validator_.enabled()) {
    outcome.security = cached.read.all_secure ? dnssec::Security::kSecure : dnssec::Security::kInsecure;
  }
  outcome.has_ede = true;
  outcome.ede_code = result == CacheRead::kNxdomain ? dns::ede::kStaleNxdomainAnswer
                                                    : dns::ede::kStaleAnswer;
  outcome.ede_text = "stale answer: authorities unreachable";
  return outcome;
}

void Iterator::fail(Task& task, uint16_t ede, const char* why, int64_t now_ms) {
  if (auto stale = staleOutcome(task.qname, task.qtype, task.ecs, now_ms)) {
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
  task_by_question_.erase(taskKey(task->qname, task->qtype, &task->ecs));
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
    if (timer.kind == TimerKind::kRound) {
      if (Task* task = findTask(static_cast<uint32_t>(timer.id))) {
        task->round_timer = false;
        if (!task->held && task->waiting_on == 0) sendNext(*task, now_ms);
      }
      drainReady(now_ms);
      continue;
    }
    if (timer.kind == TimerKind::kStale) {
      answerStale(timer.id, now_ms);
      drainReady(now_ms);
      continue;
    }
    if (timer.kind == TimerKind::kHedge) {
      auto it = pending_.find(timer.id);
      if (it != pending_.end()) sendHedge(it->second, now_ms);
      drainReady(now_ms);
      continue;
    }
    if (timer.kind == TimerKind::kRto) {
      auto it = pending_.find(timer.id);
      if (it == pending_.end() || it->second.timed_out) continue;
      if (it->second.lingering) {
        // Nobody waited for it any more, and it never came: a loss all the
        // same.
        ++stats_.upstream_timeouts;
        servers_.recordTimeout(it->second.server, it->second.zone, now_ms);
        dropPending(timer.id);
        continue;
      }
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
        if (Task* task = findTask(id); task != nullptr && !task->held) sendNext(*task, now_ms);
      }
    } else {
      auto it = clients_.find(timer.id);
      if (it == clients_.end() || answerStale(timer.id, now_ms)) {
        drainReady(now_ms);
        continue;
      }
      Outcome outcome;
      outcome.rcode = dns::rcode::kServFail;
      outcome.has_ede = true;
      outcome.ede_code = dns::ede::kNoReachableAuthority;
      outcome.ede_text = "resolution timed out";
      ++stats_.deadline_servfails;
      answerClient(it->second, outcome);
      const uint32_t task_id = it->second.task;
      clients_.erase(it);
      leaveTask(timer.id, task_id, now_ms);
    }
    drainReady(now_ms);
  }
}

std::optional<int64_t> Iterator::nextDeadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

}  // namespace shoal::resolver
