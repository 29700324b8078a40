#pragma once
// The local root's refresh state machine (RFC 8806 section 3, RFC 1996
// timers): when to transfer, when to ask the SOA, when to reload the cache,
// when to give up. Sans-I/O: the network, the verification and the cache
// are hooks, so that tests drive it with a fake clock and fake sources;
// supervisor/local_root.cc wires them to transfer.h, verify.h and load.h in
// the local-root process.
//
//   start            transfer from the first source that gives a zone that
//                    verifies (sources in order); none: state "failed",
//                    retry after kRetryWithoutZoneS
//   every refresh    ask the sources for the SOA serial (first answer
//                    wins); newer (RFC 1982) -> transfer (IXFR from the
//                    version held, AXFR if the source has no IXFR for it;
//                    an IXFR result that does not verify is fetched again
//                    by AXFR), verify, load;
//                    same -> reload the zone held in memory (its entries
//                    would age out otherwise). The interval is the SOA
//                    refresh, shortened so a reload comes before half the
//                    shortest cache lifetime, never below refresh_min_s
//   failure          (no source answers, the newer zone does not verify):
//                    keep the zone in use and retry after the SOA retry
//   SOA expire       without a good refresh (or once the zone's ZONEMD
//                    signature expires): state "expired", no more reloads,
//                    so the cached data ages out and the resolver iterates
//                    again; transfers are still tried at every retry
// Every transfer, verification result, fallback and recovery is logged.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/ip_prefix.h"
#include "localroot/load.h"
#include "localroot/transfer.h"
#include "localroot/verify.h"
#include "resolver/roots.h"

namespace shoal::localroot {

enum class State : uint8_t { kDisabled, kLoading, kOk, kFailed, kExpired };
const char* toString(State state);

/// What shoalctl shows.
struct Status {
  State state = State::kDisabled;
  std::optional<uint32_t> serial;  // of the zone in use (or last used)
  std::string source;              // where it came from
  std::string transfer;            // how: "AXFR", "IXFR (...)" (TransferResult::method)
  int64_t loaded_at = 0;           // wall seconds it was transferred and loaded; 0: never
  int64_t refreshed_at = 0;        // last good refresh (transfer, or SOA still current)
  int64_t last_attempt = 0;        // last transfer or SOA query
  int64_t next_attempt = 0;
  std::string last_error;          // of the last attempt that failed; cleared by a good one
  LoadReport load;                 // of the last load
};

struct RunnerOptions {
  dns::Name apex;  // the root
  std::vector<base::SocketAddress> sources;
  /// No refresh or retry comes sooner than this after the last.
  int64_t refresh_min_s = 60;
};

/// The effects the runner asks for. All are required.
struct RunnerHooks {
  std::function<SerialResult(const base::SocketAddress&)> query_serial;
  /// `current`: the version held (IXFR from it), or null (AXFR).
  std::function<TransferResult(const base::SocketAddress&, const ZoneData* current)> transfer;
  std::function<VerifyResult(const ZoneData&, int64_t now_s)> verify;
  std::function<LoadReport(const VerifiedZone&, int64_t now_s)> load;
  /// One line for the log.
  std::function<void(const std::string&)> log;
  /// The status changed (also called before a long step: "loading").
  std::function<void(const Status&)> report;
};

class Runner {
 public:
  /// Retry interval while no zone was ever loaded: the root zone's own SOA
  /// retry (its servers are unreachable or refuse; iteration works
  /// meanwhile).
  static constexpr int64_t kRetryWithoutZoneS = 900;

  Runner(RunnerOptions options, RunnerHooks hooks);

  /// Does what is due at wall second `now_s` (may block in the hooks) and
  /// returns when it wants to be called next.
  int64_t tick(int64_t now_s);

  const Status& status() const { return status_; }

 private:
  /// A zone transferred and verified: what the cache gets, and the records
  /// as transferred (the base of the next IXFR).
  struct Fetched {
    VerifiedZone verified;
    ZoneData data;
    std::string method;
  };
  /// Transfers and verifies from the sources, `preferred` first (by IXFR
  /// from the zone held, when there is one); the zone, or nothing (errors
  /// in `errors`).
  std::optional<Fetched> fetch(int64_t now_s, const base::SocketAddress* preferred,
                               std::string& errors);
  /// One source: transfer (from `current` when set) and verify.
  std::optional<Fetched> fetchFrom(int64_t now_s, const base::SocketAddress& source,
                                   const ZoneData* current, std::string& errors);
  /// Asks every source for the serial until one answers.
  std::optional<std::pair<uint32_t, base::SocketAddress>> askSerial(std::string& errors);
  void install(Fetched fetched, int64_t now_s);
  void reload(int64_t now_s);
  void refresh(int64_t now_s);
  void failed(int64_t now_s, const std::string& error);
  int64_t refreshInterval() const;
  int64_t retryInterval() const;
  void setState(State state);

  RunnerOptions options_;
  RunnerHooks hooks_;
  Status status_;
  std::optional<VerifiedZone> zone_;
  std::optional<ZoneData> data_;  // zone_ as transferred
  int64_t next_s_ = 0;  // 0: at the first tick
};

/// The default sources (config local_root.sources left empty): the
/// addresses of the root hints in use, port 53, of the families enabled;
/// with the built-in IANA hints also ICANN's transfer servers (RFC 8806
/// appendix A: lax.xfr.dns.icann.org and iad.xfr.dns.icann.org).
std::vector<base::SocketAddress> defaultSources(const resolver::RootHints& hints,
                                                bool builtin_hints, bool ipv4, bool ipv6);

}  // namespace shoal::localroot
