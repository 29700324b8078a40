#pragma once
// shoalctl probe, without I/O: a black-box probe through the front door,
// as a client would ask. This file holds everything but the sockets
// (cli/probe_run.h): the query, which reply answers it, the schedule of
// sends and timeouts, the tally, and the report as text and JSON.
//
// ProbeSession is driven by its caller with time points it reads from a
// clock (events in, decisions out), so tests drive it with made-up times:
//
//   while (!session.done()) {
//     for (seq : session.expire(now)) close seq's socket;     // lost: timed out
//     while (session.sendDue(now)) seq = session.sent(id, now), send it;
//     wait for a reply or session.nextEvent();
//     session.received(seq, packet, now) / session.failed(seq, why);
//   }
//
// Every query gets its own socket (a fresh source port, like a stub's), so
// a reply can only be for its query; received() still checks the ID and
// the question (RFC 5452 section 9.1) and ignores what does not match.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/ip_prefix.h"
#include "dns/name.h"

namespace shoal::config {
struct Config;
}

namespace shoal::cli {

using ProbeClock = std::chrono::steady_clock;

/// What to ask, where and how often.
struct ProbePlan {
  dns::Name name;
  uint16_t type = 1;  // A
  uint32_t count = 10;
  std::chrono::microseconds interval{1'000'000};
  std::chrono::microseconds timeout{5'000'000};
  base::SocketAddress server;
  bool tcp = false;
};

/// The address a probe asks by default: the first listen address of
/// `config`, the loopback address of its family when that is the
/// unspecified address (0.0.0.0 -> 127.0.0.1, :: -> ::1), with its port.
base::SocketAddress defaultProbeServer(const config::Config& config);

/// One query as a stub sends it: `id`, RD (recursion desired), AD (RFC 6840
/// section 5.7: the client understands AD, so a validating resolver sets it
/// in the answer), the question, and EDNS(0) with a 1232-octet payload
/// (the DNS flag day 2020 size) and DO clear.
std::vector<uint8_t> buildProbeQuery(const dns::Name& name, uint16_t type, uint16_t id);

/// Whether a packet answers the query, and if not why not.
enum class ReplyMatch : uint8_t {
  kMatch,
  kMalformed,      // Message::parse refused it
  kNotAResponse,   // QR clear
  kWrongId,        // another query's ID
  kWrongQuestion,  // another name, type or class
};

/// What the probe keeps of an answer.
struct ReplyInfo {
  uint16_t rcode = 0;  // the full 12-bit rcode (EDNS included)
  bool ad = false;     // authentic data (RFC 4035 section 3.2.3)
  bool tc = false;     // truncated: a client would retry over TCP
};

struct MatchResult {
  ReplyMatch match = ReplyMatch::kMalformed;
  ReplyInfo info;  // meaningful for kMatch
};

/// Matches `packet` against the query (`id`, `name`, `type`, class IN):
/// a response with the same ID and the same question (the name compared
/// case-insensitively). A reply without a question section matches only
/// when its rcode is an error (RFC 1035 lets a server drop the question
/// of a query it could not parse: FORMERR, NOTIMP).
MatchResult matchReply(std::span<const uint8_t> packet, uint16_t id, const dns::Name& name,
                       uint16_t type);

/// Latencies of the answered queries, in milliseconds. Percentiles are by
/// nearest rank (no interpolation): p50 of 10 answers is the 5th fastest,
/// p90 the 9th, p99 the slowest.
struct LatencyStats {
  uint64_t count = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};
/// Nearest-rank percentile `p` (0 < p <= 100) of `sorted` (ascending, not
/// empty): the value at rank ceil(p / 100 * n).
double nearestRank(const std::vector<double>& sorted, double p);
/// Summary of `samples` (any order); count 0 when empty.
LatencyStats summarizeLatency(std::vector<double> samples);

/// What a probe found: the plan as shown to the operator, then the counts.
/// Always sent == answered + lost; lost == timeouts + the sum of errors.
struct ProbeReport {
  std::string name;       // "www.example.com."
  std::string type;       // "A"
  std::string server;     // "127.0.0.1:5353"
  std::string transport;  // "udp" or "tcp"
  uint32_t count = 0;
  double interval_s = 0;
  double timeout_s = 0;
  bool interrupted = false;  // SIGINT/SIGTERM: stopped early, queries in flight not counted

  uint64_t sent = 0;
  uint64_t answered = 0;
  uint64_t lost = 0;
  uint64_t timeouts = 0;  // lost: no answer within the timeout
  std::map<std::string, uint64_t> errors;  // lost: the socket said why ("Connection refused")
  std::vector<std::pair<uint16_t, uint64_t>> rcodes;  // answers by rcode, ascending
  uint64_t ad_set = 0;      // answers with AD
  uint64_t truncated = 0;   // answers with TC (counted as answered)
  uint64_t mismatched = 0;  // replies ignored: not a response, another ID or question, malformed
  LatencyStats latency;
};

/// The schedule and the tally of one probe. Query k (from 0) is due at
/// start + k * interval, whatever happened to the ones before; each is
/// lost when no answer came within the timeout.
class ProbeSession {
 public:
  ProbeSession(ProbePlan plan, ProbeClock::time_point start);

  /// Whether the next query is due at `now`.
  bool sendDue(ProbeClock::time_point now) const;
  /// Records the next query as sent at `now` with `id`; returns its
  /// sequence number (0, 1, ...) for the calls below.
  uint32_t sent(uint16_t id, ProbeClock::time_point now);
  /// A packet that came on query `seq`'s socket at `now`. Returns true
  /// when it answers the query (the query is done: close its socket);
  /// false when it was ignored (counted as mismatched: keep waiting) or
  /// the query is no longer waiting.
  bool received(uint32_t seq, std::span<const uint8_t> packet, ProbeClock::time_point now);
  /// Query `seq` failed without an answer (a refused connection, an ICMP
  /// error): lost, for reason `why`.
  void failed(uint32_t seq, const std::string& why);
  /// The queries whose timeout has passed at `now`: counted lost, and
  /// returned so that the caller closes their sockets.
  std::vector<uint32_t> expire(ProbeClock::time_point now);
  /// Stops early (the operator pressed Ctrl-C): nothing more is sent and
  /// the queries in flight are forgotten (neither answered nor lost).
  /// Returns their sequence numbers.
  std::vector<uint32_t> interrupt();

  /// Every query sent and finished (or interrupted).
  bool done() const;
  /// When the caller must act next: the next send or the earliest timeout;
  /// nullopt when done.
  std::optional<ProbeClock::time_point> nextEvent() const;
  /// The queries waiting for an answer.
  size_t inFlight() const { return in_flight_.size(); }

  const ProbePlan& plan() const { return plan_; }
  ProbeReport report() const;

 private:
  struct Pending {
    uint16_t id;
    ProbeClock::time_point sent_at;
  };

  ProbePlan plan_;
  ProbeClock::time_point start_;
  uint32_t next_ = 0;  // sequence number of the next query to send
  bool interrupted_ = false;
  // Sent in sequence order with one timeout, so the first one times out first.
  std::map<uint32_t, Pending> in_flight_;

  uint64_t answered_ = 0;
  uint64_t timeouts_ = 0;
  std::map<std::string, uint64_t> errors_;
  std::map<uint16_t, uint64_t> rcodes_;
  uint64_t ad_set_ = 0;
  uint64_t truncated_ = 0;
  uint64_t mismatched_ = 0;
  std::vector<double> latencies_ms_;
};

/// The report for people, ending in "\n":
///
///   probe www.example.com. A at 127.0.0.1:5353 over udp: 10 queries, one every 1s, timeout 5s
///   sent        10
///   answered    10 (100.0%)
///   lost        0
///   rcodes      NOERROR 10
///   AD          set in 10 of 10 answers
///   latency ms  min 0.071  p50 0.102  p90 0.31  p99 0.55  max 0.55  (mean 0.13)
std::string probeText(const ProbeReport& report);

/// The report as one line of JSON (no newline):
///   {"name":"www.example.com.","type":"A","server":"127.0.0.1:5353","transport":"udp",
///    "count":10,"interval_s":1.0,"timeout_s":5.0,"interrupted":false,
///    "sent":10,"answered":10,"answer_percent":100.0 (null: nothing sent),"lost":0,
///    "timeouts":0,"errors":{"Connection refused":0,...},"rcodes":{"NOERROR":10,...},
///    "ad_set":10,"truncated":0,"mismatched":0,
///    "latency_ms":{"count":10,"min":..,"p50":..,"p90":..,"p99":..,"max":..,"mean":..}
///                 | null (nothing answered)}
std::string probeJson(const ProbeReport& report);

/// A duration of the plan as the operator writes it: "1s", "200ms", "1.5ms".
std::string formatProbeDuration(std::chrono::microseconds duration);
/// `seconds` (an option's value) in whole microseconds, rounded.
std::chrono::microseconds probeDuration(double seconds);

}  // namespace shoal::cli
