#pragma once
// The scenario driver: one worker's resolution machinery (the hot path and
// the Engine) over a fresh shmcache segment, wired to a FakeNet through a
// fake transport and a fake clock, in the spirit of Unbound's testbound
// replay, but in-process and written in C++.
//
// A client query goes where the worker sends it: answerFromCache first, the
// Engine on a miss. The event loop then drains the engine's sends (handing
// each to the FakeNet and scheduling what comes back at now + latency),
// honours its cancels, jumps the clock to the next event (a scheduled reply
// or the engine's next deadline) and collects the answers, until every
// client has one or nothing is left to happen (silence: a failure).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/zone_text.h"
#include "resolver/engine.h"
#include "shmcache/cache.h"
#include "tests/unit/resolver/fake_net.h"

namespace shoal::resolver::testing_util {

inline constexpr int64_t kStartMs = 1'700'000'000'000;

/// How a client asks.
struct QueryOptions {
  bool edns = true;
  uint16_t udp_size = 1232;
  bool dnssec_ok = false;
  bool tcp = false;
  bool rd = true;
  bool cd = false;  // checking disabled (RFC 4035 section 3.2.2)
  bool ad = false;  // "I understand AD" (RFC 6840 section 5.7)
  uint16_t id = 0x4242;
  std::string client = "198.51.100.7";
  /// An EDNS Client Subnet option to send (RFC 7871).
  std::optional<dns::ClientSubnet> ecs = std::nullopt;
};

/// A client's answer, parsed.
struct ClientResult {
  bool answered = false;
  bool from_cache = false;   // the hot path answered (no engine involved)
  int64_t elapsed_ms = 0;    // fake time from the query to the answer
  uint64_t upstream_packets = 0;  // sent while this query was outstanding
  std::vector<uint8_t> packet;

  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t rcode = 0;
  std::optional<dns::Question> question;
  bool has_edns = false;
  std::optional<dns::ClientSubnet> ecs;  // the answer's ECS option
  std::optional<uint16_t> ede_code;
  std::string ede_text;
  std::vector<dns::Record> answer, authority, additional;

  bool aa() const { return (flags & dns::flag::kAa) != 0; }
  bool tc() const { return (flags & dns::flag::kTc) != 0; }
  bool ra() const { return (flags & dns::flag::kRa) != 0; }
  bool rd() const { return (flags & dns::flag::kRd) != 0; }
  bool ad() const { return (flags & dns::flag::kAd) != 0; }
  bool cd() const { return (flags & dns::flag::kCd) != 0; }
  /// The answer section as presentation text, one record per entry.
  std::vector<std::string> answerText() const;
  /// The rdata of the answer records of `type`, as text ("192.0.2.1").
  std::vector<std::string> rdataOf(uint16_t type) const;
};

/// Parses a client's answer packet (the test fails if it does not parse).
/// `answered` and the timing fields are left for the caller.
ClientResult parseClientAnswer(std::span<const uint8_t> packet);

/// One packet the engine sent upstream.
struct SentQuery {
  int64_t at_ms = 0;
  base::IpAddress server;
  uint16_t port = 53;
  bool tcp = false;
  bool tls = false;  // DNS over TLS (tcp too): delivered as TCP by the fake network
  std::string tls_name;
  bool edns = false;
  dns::Name qname;  // as sent, in its case (0x20)
  uint16_t qtype = 0;
  std::optional<dns::Cookie> cookie;  // the query's COOKIE option (RFC 7873)
};

/// The engine configuration tests start from: the fake root's hints,
/// timeouts of the defaults.
EngineConfig defaultConfig(const FakeNet& net);

class Scenario {
 public:
  /// `config.hints` empty: the FakeNet's root hints are used.
  Scenario(FakeNet& net, EngineConfig config, uint64_t seed = 1);
  explicit Scenario(FakeNet& net) : Scenario(net, defaultConfig(net)) {}
  ~Scenario();
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;

  /// Asks and runs the event loop until this client has its answer (or
  /// nothing is left to happen, or `max_wait_ms` of fake time passed).
  ClientResult resolve(std::string_view name, uint16_t type, const QueryOptions& options = {},
                       int64_t max_wait_ms = 60000);

  /// Asks without running the loop; returns a handle for result().
  uint64_t submit(std::string_view name, uint16_t type, const QueryOptions& options = {});
  /// Submits a raw client packet.
  uint64_t submitPacket(std::vector<uint8_t> packet, const QueryOptions& options = {});
  /// Runs until every submitted client has an answer, nothing is left to
  /// happen, or `max_wait_ms` of fake time passed.
  void run(int64_t max_wait_ms = 60000);
  const ClientResult& result(uint64_t handle) const;

  /// Lets `ms` of fake time pass, processing whatever falls due meanwhile.
  void advance(int64_t ms);

  int64_t now() const { return now_ms_; }
  /// Replaces the engine with a fresh one on the same cache: another
  /// worker, which shares only what the cache holds.
  void newWorker(uint64_t seed = 2);
  /// The same with another configuration (from now on also the hot path's:
  /// validation, aggressive NSEC), e.g. a worker reloaded with other settings.
  void newWorker(EngineConfig config, uint64_t seed = 2);
  Engine& engine() { return *engine_; }
  /// Prefetch as the worker does it (WorkerConfig::prefetch_min_hits);
  /// 0: off.
  uint32_t prefetch_min_hits = 0;
  shmcache::Cache& cache() { return *cache_; }
  const EngineConfig& config() const { return config_; }
  /// Every packet the engine sent, in order.
  const std::vector<SentQuery>& sent() const { return sent_; }
  /// Packets sent to `server` so far.
  size_t sentTo(std::string_view server) const;
  /// The sent queries as "server qname TYPE" lines (for failure messages).
  std::string sentLog() const;

  /// Builds a client query packet.
  static std::vector<uint8_t> buildQuery(std::string_view name, uint16_t type,
                                         const QueryOptions& options);

 private:
  struct Scheduled {
    uint64_t token = 0;
    std::vector<uint8_t> packet;
    bool error = false;
  };
  struct Outstanding {
    int64_t asked_ms = 0;
    uint64_t sent_before = 0;
  };

  void pump();            // drains the engine's actions
  bool step(int64_t limit_ms);  // processes the next event; false if none before the limit
  bool waiting() const;
  void record(uint64_t handle, std::span<const uint8_t> packet, bool from_cache);

  FakeNet& net_;
  EngineConfig config_;
  std::string segment_name_;
  std::unique_ptr<shmcache::Cache> cache_;
  std::unique_ptr<Engine> engine_;
  int64_t now_ms_ = kStartMs;
  uint64_t next_handle_ = 1;
  uint64_t seq_ = 0;
  std::multimap<std::pair<int64_t, uint64_t>, Scheduled> scheduled_;  // (time, seq)
  std::vector<SentQuery> sent_;
  std::map<uint64_t, Outstanding> outstanding_;
  std::map<uint64_t, ClientResult> results_;
  std::vector<uint8_t> out_ = std::vector<uint8_t>(65535);
  std::vector<uint8_t> scratch_ = std::vector<uint8_t>(65535);
};

}  // namespace shoal::resolver::testing_util
