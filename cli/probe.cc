#include "cli/probe.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/format.h"
#include "config/config.h"
#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/writer.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

/// The EDNS(0) payload size a probe offers (DNS flag day 2020).
constexpr uint16_t kProbeUdpSize = 1232;

double rounded(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

double msBetween(ProbeClock::time_point from, ProbeClock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

bool isUnspecified(const base::IpAddress& ip) {
  const auto& b = ip.bytes();
  return std::all_of(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(ip.size()),
                     [](uint8_t octet) { return octet == 0; });
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "3 (no answer within 5s: 2, Connection refused: 1)".
std::string lostText(const ProbeReport& r) {
  std::string out = std::to_string(r.lost);
  if (r.lost == 0) return out;
  std::vector<std::string> why;
  if (r.timeouts > 0) {
    why.push_back("no answer within " + formatProbeDuration(probeDuration(r.timeout_s)) + ": " +
                  std::to_string(r.timeouts));
  }
  for (const auto& [error, n] : r.errors) why.push_back(error + ": " + std::to_string(n));
  out += " (";
  for (size_t i = 0; i < why.size(); ++i) out += (i > 0 ? ", " : "") + why[i];
  return out + ")";
}

std::string rcodesText(const ProbeReport& r) {
  if (r.rcodes.empty()) return "-";
  std::string out;
  for (const auto& [rcode, n] : r.rcodes) {
    if (!out.empty()) out += "  ";
    out += dns::rcodeToText(rcode) + " " + std::to_string(n);
  }
  return out;
}

std::string latencyText(const LatencyStats& l) {
  if (l.count == 0) return "-";
  return "min " + formatMs(l.min) + "  p50 " + formatMs(l.p50) + "  p90 " + formatMs(l.p90) +
         "  p99 " + formatMs(l.p99) + "  max " + formatMs(l.max) + "  (mean " +
         formatMs(l.mean) + ")";
}

}  // namespace

base::SocketAddress defaultProbeServer(const config::Config& config) {
  // A validated configuration always listens somewhere.
  base::SocketAddress server = config.server.listen.front();
  if (isUnspecified(server.ip)) {
    server.ip = *base::IpAddress::parse(server.ip.isV4() ? "127.0.0.1" : "::1");
  }
  return server;
}

std::vector<uint8_t> buildProbeQuery(const dns::Name& name, uint16_t type, uint16_t id) {
  std::array<uint8_t, 512> buffer{};
  dns::MessageWriter writer(buffer, buffer.size());
  writer.setId(id);
  writer.setFlags(dns::flag::kRd | dns::flag::kAd);
  // A name of at most 255 octets and an empty OPT fit in 512 octets.
  (void)writer.addQuestion(name, type, dns::rrclass::kIn);
  dns::EdnsOut edns;
  edns.udp_size = kProbeUdpSize;
  (void)writer.setEdns(edns);
  const size_t length = writer.finish();
  return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(length)};
}

MatchResult matchReply(std::span<const uint8_t> packet, uint16_t id, const dns::Name& name,
                       uint16_t type) {
  MatchResult result;
  const auto message = dns::Message::parse(packet);
  if (!message) return result;  // kMalformed
  const dns::Header& header = message->header();
  if (!header.has(dns::flag::kQr)) {
    result.match = ReplyMatch::kNotAResponse;
    return result;
  }
  if (header.id != id) {
    result.match = ReplyMatch::kWrongId;
    return result;
  }
  const auto& question = message->question();
  const uint16_t rcode = message->rcode();
  const bool same_question = question.has_value()
                                 ? question->name == name && question->type == type &&
                                       question->qclass == dns::rrclass::kIn
                                 : rcode != dns::rcode::kNoError;
  if (!same_question) {
    result.match = ReplyMatch::kWrongQuestion;
    return result;
  }
  result.match = ReplyMatch::kMatch;
  result.info = ReplyInfo{rcode, header.has(dns::flag::kAd), header.has(dns::flag::kTc)};
  return result;
}

double nearestRank(const std::vector<double>& sorted, double p) {
  const double n = static_cast<double>(sorted.size());
  const double rank = std::ceil(p / 100.0 * n);
  const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, n)) - 1;
  return sorted[index];
}

LatencyStats summarizeLatency(std::vector<double> samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.min = samples.front();
  s.max = samples.back();
  s.p50 = nearestRank(samples, 50);
  s.p90 = nearestRank(samples, 90);
  s.p99 = nearestRank(samples, 99);
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  return s;
}

ProbeSession::ProbeSession(ProbePlan plan, ProbeClock::time_point start)
    : plan_(std::move(plan)), start_(start) {
  latencies_ms_.reserve(plan_.count);
}

bool ProbeSession::sendDue(ProbeClock::time_point now) const {
  return !interrupted_ && next_ < plan_.count && now >= start_ + next_ * plan_.interval;
}

uint32_t ProbeSession::sent(uint16_t id, ProbeClock::time_point now) {
  const uint32_t seq = next_++;
  in_flight_.emplace(seq, Pending{id, now});
  return seq;
}

bool ProbeSession::received(uint32_t seq, std::span<const uint8_t> packet,
                            ProbeClock::time_point now) {
  const auto it = in_flight_.find(seq);
  if (it == in_flight_.end()) return false;
  const MatchResult m = matchReply(packet, it->second.id, plan_.name, plan_.type);
  if (m.match != ReplyMatch::kMatch) {
    ++mismatched_;
    return false;
  }
  ++answered_;
  ++rcodes_[m.info.rcode];
  if (m.info.ad) ++ad_set_;
  if (m.info.tc) ++truncated_;
  latencies_ms_.push_back(msBetween(it->second.sent_at, now));
  in_flight_.erase(it);
  return true;
}

void ProbeSession::failed(uint32_t seq, const std::string& why) {
  if (in_flight_.erase(seq) == 0) return;
  ++errors_[why];
}

std::vector<uint32_t> ProbeSession::expire(ProbeClock::time_point now) {
  std::vector<uint32_t> expired;
  while (!in_flight_.empty() && now >= in_flight_.begin()->second.sent_at + plan_.timeout) {
    expired.push_back(in_flight_.begin()->first);
    in_flight_.erase(in_flight_.begin());
    ++timeouts_;
  }
  return expired;
}

std::vector<uint32_t> ProbeSession::interrupt() {
  interrupted_ = true;
  std::vector<uint32_t> forgotten;
  for (const auto& [seq, pending] : in_flight_) forgotten.push_back(seq);
  in_flight_.clear();
  return forgotten;
}

bool ProbeSession::done() const {
  return in_flight_.empty() && (interrupted_ || next_ >= plan_.count);
}

std::optional<ProbeClock::time_point> ProbeSession::nextEvent() const {
  std::optional<ProbeClock::time_point> next;
  if (!interrupted_ && next_ < plan_.count) next = start_ + next_ * plan_.interval;
  if (!in_flight_.empty()) {
    const auto timeout = in_flight_.begin()->second.sent_at + plan_.timeout;
    if (!next || timeout < *next) next = timeout;
  }
  return next;
}

ProbeReport ProbeSession::report() const {
  ProbeReport r;
  r.name = plan_.name.toText();
  r.type = dns::typeToText(plan_.type);
  r.server = plan_.server.toString();
  r.transport = plan_.tcp ? "tcp" : "udp";
  r.count = plan_.count;
  r.interval_s = std::chrono::duration<double>(plan_.interval).count();
  r.timeout_s = std::chrono::duration<double>(plan_.timeout).count();
  r.interrupted = interrupted_;
  r.answered = answered_;
  r.timeouts = timeouts_;
  r.errors = errors_;
  r.lost = timeouts_;
  for (const auto& [error, n] : errors_) r.lost += n;
  r.sent = r.answered + r.lost;  // queries forgotten on an interrupt are not counted
  r.rcodes.assign(rcodes_.begin(), rcodes_.end());
  r.ad_set = ad_set_;
  r.truncated = truncated_;
  r.mismatched = mismatched_;
  r.latency = summarizeLatency(latencies_ms_);
  return r;
}

std::string formatProbeDuration(std::chrono::microseconds duration) {
  const int64_t us = duration.count();
  if (us >= 1'000'000 && us % 1'000'000 == 0) return std::to_string(us / 1'000'000) + "s";
  if (us % 1000 == 0) return std::to_string(us / 1000) + "ms";
  return strprintf("%.3fms", static_cast<double>(us) / 1000);
}

std::chrono::microseconds probeDuration(double seconds) {
  return std::chrono::microseconds(static_cast<int64_t>(std::llround(seconds * 1e6)));
}

std::string probeText(const ProbeReport& r) {
  std::string out = "probe " + r.name + " " + r.type + " at " + r.server + " over " +
                    r.transport + ": " + plural(r.count, "query", "queries") + ", one every " +
                    formatProbeDuration(probeDuration(r.interval_s)) + ", timeout " +
                    formatProbeDuration(probeDuration(r.timeout_s)) + "\n";
  if (r.interrupted) {
    out += "interrupted after " + plural(r.sent, "query", "queries") +
           " (those still in flight are not counted)\n";
  }
  out += "sent        " + std::to_string(r.sent) + "\n";
  out += "answered    " + std::to_string(r.answered) + " (" +
         formatPercent(percentOf(r.answered, r.sent)) + ")\n";
  out += "lost        " + lostText(r) + "\n";
  out += "rcodes      " + rcodesText(r) + "\n";
  out += "AD          set in " + std::to_string(r.ad_set) + " of " +
         plural(r.answered, "answer", "answers") + "\n";
  if (r.truncated > 0) {
    out += "truncated   " + std::to_string(r.truncated) +
           " (TC set: a client would ask again over TCP)\n";
  }
  if (r.mismatched > 0) {
    out += "mismatched  " + std::to_string(r.mismatched) +
           " (replies ignored: another ID or question, or malformed)\n";
  }
  out += "latency ms  " + latencyText(r.latency) + "\n";
  return out;
}

std::string probeJson(const ProbeReport& r) {
  json errors = json::object();
  for (const auto& [error, n] : r.errors) errors[error] = n;
  json rcodes = json::object();
  for (const auto& [rcode, n] : r.rcodes) rcodes[dns::rcodeToText(rcode)] = n;
  const auto percent = percentOf(r.answered, r.sent);
  json latency = nullptr;
  if (r.latency.count > 0) {
    const LatencyStats& l = r.latency;
    latency = {{"count", l.count},
               {"min", rounded(l.min, 3)},
               {"p50", rounded(l.p50, 3)},
               {"p90", rounded(l.p90, 3)},
               {"p99", rounded(l.p99, 3)},
               {"max", rounded(l.max, 3)},
               {"mean", rounded(l.mean, 3)}};
  }
  const json out = {{"name", r.name},
                    {"type", r.type},
                    {"server", r.server},
                    {"transport", r.transport},
                    {"count", r.count},
                    {"interval_s", rounded(r.interval_s, 6)},
                    {"timeout_s", rounded(r.timeout_s, 6)},
                    {"interrupted", r.interrupted},
                    {"sent", r.sent},
                    {"answered", r.answered},
                    {"answer_percent", percent ? json(rounded(*percent, 2)) : json(nullptr)},
                    {"lost", r.lost},
                    {"timeouts", r.timeouts},
                    {"errors", errors},
                    {"rcodes", rcodes},
                    {"ad_set", r.ad_set},
                    {"truncated", r.truncated},
                    {"mismatched", r.mismatched},
                    {"latency_ms", latency}};
  // A name is the operator's bytes: never fail on invalid UTF-8, escape it.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace shoal::cli
