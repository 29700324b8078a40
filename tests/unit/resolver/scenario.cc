#include "tests/unit/resolver/scenario.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/rdata.h"
#include "dns/writer.h"
#include "resolver/answer.h"

namespace shoal::resolver::testing_util {

namespace {

/// The hot path's RFC 8020 switch, once AnswerLimits has one (it has no
/// nxdomain_cut field yet: the hot path always applies RFC 8020).
template <typename Limits>
void setNxdomainCut(Limits& limits, bool on) {
  if constexpr (requires { limits.nxdomain_cut = on; }) limits.nxdomain_cut = on;
}

std::string uniqueSegmentName() {
  static int counter = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info != nullptr ? info->name() : "none";
  if (test.size() > 80) test.resize(80);
  return "/shoal-engine-" + std::to_string(getpid()) + "-" + test + "-" + std::to_string(++counter);
}

/// The rdata part of a record's presentation text ("192.0.2.1").
std::string rdataText(const dns::Record& record) {
  std::string text = dns::recordToText(record);
  // "owner ttl class type rdata...": skip four fields.
  size_t pos = 0;
  for (int field = 0; field < 4 && pos != std::string::npos; ++field) {
    pos = text.find_first_of(" \t", pos);
    if (pos != std::string::npos) pos = text.find_first_not_of(" \t", pos);
  }
  std::string out = pos == std::string::npos ? std::string() : text.substr(pos);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

std::vector<std::string> ClientResult::answerText() const {
  std::vector<std::string> out;
  for (const auto& r : answer) {
    std::string text = dns::recordToText(r);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    out.push_back(std::move(text));
  }
  return out;
}

std::vector<std::string> ClientResult::rdataOf(uint16_t type) const {
  std::vector<std::string> out;
  for (const auto& r : answer) {
    if (r.type == type) out.push_back(rdataText(r));
  }
  return out;
}

EngineConfig defaultConfig(const FakeNet& net) {
  EngineConfig config;
  config.hints = net.rootHints();
  config.query_timeout_ms = 3000;
  config.rto_min_ms = 50;
  config.rto_max_ms = 1000;
  return config;
}

Scenario::Scenario(FakeNet& net, EngineConfig config, uint64_t seed)
    : net_(net), config_(std::move(config)), segment_name_(uniqueSegmentName()) {
  if (config_.hints.servers.empty()) config_.hints = net.rootHints();
  shmcache::Options options;
  options.name = segment_name_;
  options.size = 8u << 20;
  options.stripes = 8;
  options.max_partitions = 4;
  options.discard = true;
  auto cache = shmcache::Cache::open(options, now_ms_ / 1000);
  if (!cache.ok()) {
    ADD_FAILURE() << "cannot open the cache segment: " << shmcache::toString(cache.error());
    std::abort();
  }
  cache_ = std::move(*cache);
  // The mapping outlives the name: unlinking now leaves nothing behind even
  // if the test dies (the destructor unlinks again, harmlessly).
  shmcache::Cache::unlink(segment_name_);
  engine_ = std::make_unique<Engine>(config_, *cache_, seed);
}

void Scenario::newWorker(uint64_t seed) {
  engine_ = std::make_unique<Engine>(config_, *cache_, seed);
}

void Scenario::newWorker(EngineConfig config, uint64_t seed) {
  if (config.hints.servers.empty()) config.hints = net_.rootHints();
  config_ = std::move(config);
  newWorker(seed);
}

Scenario::~Scenario() {
  engine_.reset();
  cache_.reset();
  shmcache::Cache::unlink(segment_name_);
}

std::vector<uint8_t> Scenario::buildQuery(std::string_view name, uint16_t type,
                                          const QueryOptions& options) {
  auto qname = dns::Name::fromText(name);
  EXPECT_TRUE(qname.ok()) << name;
  std::vector<uint8_t> buf(512);
  dns::MessageWriter w(buf, buf.size());
  w.setId(options.id);
  w.setFlags(static_cast<uint16_t>((options.rd ? dns::flag::kRd : 0) |
                                   (options.cd ? dns::flag::kCd : 0) |
                                   (options.ad ? dns::flag::kAd : 0)));
  (void)w.addQuestion(qname.ok() ? *qname : dns::Name(), type, dns::rrclass::kIn);
  dns::EdnsOut edns;
  edns.udp_size = options.udp_size;
  edns.dnssec_ok = options.dnssec_ok;
  if (options.ecs) (void)edns.options.addClientSubnet(*options.ecs);
  if (options.edns) (void)w.setEdns(edns);
  buf.resize(w.finish());
  return buf;
}

uint64_t Scenario::submit(std::string_view name, uint16_t type, const QueryOptions& options) {
  return submitPacket(buildQuery(name, type, options), options);
}

uint64_t Scenario::submitPacket(std::vector<uint8_t> packet, const QueryOptions& options) {
  const uint64_t handle = next_handle_++;
  outstanding_[handle] = {now_ms_, sent_.size()};
  const base::IpAddress client = Ip(options.client);
  AnswerLimits limits;
  limits.udp_payload_size = config_.udp_payload_size;
  setNxdomainCut(limits, config_.nxdomain_cut);
  limits.validating = !config_.validation.anchors.empty();  // as worker_config.cc sets it
  limits.ecs = config_.ecs;
  // Unlike a worker's, this hot path never synthesises from NSEC/NSEC3
  // ranges (aggressive_nsec off, and scratch_ too small for it): here such
  // answers come from the engine. engine_aggressive_test.cc asks the hot
  // path itself for them.
  const HotPathAnswer hot = answerFromCache(packet, client, options.tcp, *cache_, limits,
                                            now_ms_ / 1000, out_, scratch_);
  switch (hot.result) {
    case HotPathResult::kAnswered:
    case HotPathResult::kError:
      record(handle, {out_.data(), hot.length}, true);
      // As the worker does (worker/query.cc).
      if (hot.result == HotPathResult::kAnswered &&
          prefetchDue(hot.late_hits, prefetch_min_hits)) {
        engine_->prefetch(hot.request, now_ms_);
        pump();
      }
      return handle;
    case HotPathResult::kDrop:
      outstanding_.erase(handle);
      results_[handle] = ClientResult{};
      return handle;
    case HotPathResult::kMiss:
      break;
  }
  engine_->onClientQuery({handle, hot.request, client}, now_ms_);
  pump();
  return handle;
}

void Scenario::record(uint64_t handle, std::span<const uint8_t> packet, bool from_cache) {
  auto it = outstanding_.find(handle);
  if (it == outstanding_.end()) {
    ADD_FAILURE() << "an answer for client " << handle << " that is not waiting";
    return;
  }
  ClientResult r = parseClientAnswer(packet);
  r.answered = true;
  r.from_cache = from_cache;
  r.elapsed_ms = now_ms_ - it->second.asked_ms;
  r.upstream_packets = sent_.size() - it->second.sent_before;
  outstanding_.erase(it);
  results_[handle] = std::move(r);
}

ClientResult parseClientAnswer(std::span<const uint8_t> packet) {
  ClientResult r;
  r.packet.assign(packet.begin(), packet.end());
  auto msg = dns::Message::parse(r.packet);
  if (!msg) {
    ADD_FAILURE() << "a client's answer does not parse: " << dns::toString(msg.error());
    return r;
  }
  r.id = msg->header().id;
  r.flags = msg->header().flags;
  r.rcode = msg->rcode();
  r.question = msg->question();
  if (msg->edns()) {
    r.has_edns = true;
    if (auto ecs = dns::findOption(*msg->edns(), dns::ednsopt::kClientSubnet)) {
      if (auto parsed = dns::parseClientSubnet(ecs->data)) r.ecs = *parsed;
    }
    if (auto ede = dns::findOption(*msg->edns(), dns::ednsopt::kExtendedError)) {
      if (auto parsed = dns::parseExtendedError(ede->data)) {
        r.ede_code = parsed->info_code;
        r.ede_text = std::string(parsed->text);
      }
    }
  }
  std::vector<uint8_t> rdata(dns::kMaxRdataLength);
  for (auto section : {dns::Section::kAnswer, dns::Section::kAuthority, dns::Section::kAdditional}) {
    auto& out = section == dns::Section::kAnswer      ? r.answer
                : section == dns::Section::kAuthority ? r.authority
                                                      : r.additional;
    for (const dns::RrView& rr : msg->section(section)) {
      if (rr.type == dns::rrtype::kOpt) continue;
      auto length = dns::decompressRdata(*msg, rr, rdata);
      EXPECT_TRUE(length.ok()) << "bad rdata in an answer";
      if (!length) continue;
      out.push_back({msg->ownerOf(rr), rr.type, rr.rrclass, rr.ttl,
                     {rdata.begin(), rdata.begin() + static_cast<long>(*length)}});
    }
  }
  return r;
}

void Scenario::pump() {
  for (UpstreamSend& send : engine_->takeSends()) {
    SentQuery q;
    q.at_ms = now_ms_;
    q.server = send.server;
    q.port = send.port;
    q.tls = send.tls;
    q.tls_name = send.tls_name;
    q.tcp = send.tcp;
    // Authoritative servers are asked on port 53 (forward upstreams may
    // have another: SentQuery::port).
    if (config_.forwards.empty()) {
      EXPECT_EQ(send.port, 53);
    }
    if (auto msg = dns::Message::parse(send.packet); msg && msg->question()) {
      q.edns = msg->edns().has_value();
      q.qname = msg->question()->name;
      q.qtype = msg->question()->type;
      if (msg->edns()) {
        if (auto option = dns::findOption(*msg->edns(), dns::ednsopt::kCookie)) {
          auto cookie = dns::parseCookie(option->data);
          EXPECT_TRUE(cookie.ok()) << "the engine sent a malformed COOKIE option";
          if (cookie) q.cookie = *cookie;
        }
      }
    } else {
      ADD_FAILURE() << "the engine sent an unparsable query";
    }
    sent_.push_back(q);
    for (auto& d : net_.transmit(send.server, send.packet, send.tcp)) {
      scheduled_.emplace(std::make_pair(now_ms_ + d.delay_ms, seq_++),
                         Scheduled{send.token, std::move(d.packet), d.error});
    }
  }
  // After the sends: a query sent and cancelled in the same drain is
  // forgotten too.
  for (const Cancel& c : engine_->takeCancels()) {
    for (auto it = scheduled_.begin(); it != scheduled_.end();) {
      it = it->second.token == c.token ? scheduled_.erase(it) : std::next(it);
    }
  }
  for (ClientAnswer& a : engine_->takeAnswers()) record(a.id, a.packet, false);
}

bool Scenario::step(int64_t limit_ms) {
  std::optional<int64_t> next;
  if (!scheduled_.empty()) next = scheduled_.begin()->first.first;
  if (auto deadline = engine_->nextDeadline()) next = next ? std::min(*next, *deadline) : *deadline;
  if (!next || *next > limit_ms) return false;
  now_ms_ = std::max(now_ms_, *next);
  while (!scheduled_.empty() && scheduled_.begin()->first.first <= now_ms_) {
    Scheduled s = std::move(scheduled_.begin()->second);
    scheduled_.erase(scheduled_.begin());
    if (s.error) {
      engine_->onUpstreamError(s.token, now_ms_);
    } else {
      engine_->onUpstreamReply(s.token, s.packet, now_ms_);
    }
    pump();
  }
  if (auto deadline = engine_->nextDeadline(); deadline && *deadline <= now_ms_) {
    engine_->onTimer(now_ms_);
    pump();
  }
  return true;
}

bool Scenario::waiting() const { return !outstanding_.empty(); }

void Scenario::run(int64_t max_wait_ms) {
  const int64_t limit = now_ms_ + max_wait_ms;
  for (int guard = 0; waiting() && guard < 1'000'000; ++guard) {
    if (!step(limit)) break;
  }
  for (const auto& [handle, o] : outstanding_) {
    ADD_FAILURE() << "client " << handle << " got no answer (silence) after "
                  << now_ms_ - o.asked_ms << " ms; sent:\n"
                  << sentLog();
  }
}

ClientResult Scenario::resolve(std::string_view name, uint16_t type, const QueryOptions& options,
                               int64_t max_wait_ms) {
  const uint64_t handle = submit(name, type, options);
  run(max_wait_ms);
  outstanding_.erase(handle);
  return result(handle);
}

const ClientResult& Scenario::result(uint64_t handle) const {
  static const ClientResult kNone;
  auto it = results_.find(handle);
  return it == results_.end() ? kNone : it->second;
}

void Scenario::advance(int64_t ms) {
  const int64_t target = now_ms_ + ms;
  while (step(target)) {
  }
  now_ms_ = target;
}

size_t Scenario::sentTo(std::string_view server) const {
  const auto address = Ip(server);
  return static_cast<size_t>(std::count_if(sent_.begin(), sent_.end(),
                                           [&](const SentQuery& q) { return q.server == address; }));
}

std::string Scenario::sentLog() const {
  std::ostringstream out;
  for (const auto& q : sent_) {
    out << "  +" << (q.at_ms - kStartMs) << "ms " << q.server.toString() << (q.tcp ? " tcp " : " ")
        << q.qname.toText() << " " << dns::typeToText(q.qtype) << (q.edns ? "" : " (no EDNS)")
        << "\n";
  }
  return out.str();
}

}  // namespace shoal::resolver::testing_util
