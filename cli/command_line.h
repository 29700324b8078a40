#pragma once
// shoalctl's command line, parsed into a value:
//
//   shoalctl [--config FILE] [--socket PATH] [--stats NAME] [--json] COMMAND [ARGS]
//
// Global options may also come after the command ("shoalctl stats --json");
// "--" ends the options (for a NAME that starts with "-"). Options take
// their value as the next argument or after "=" ("--window=30").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_prefix.h"

namespace shoal::cli {

enum class Command {
  kHelp,
  kVersion,
  kPing,
  kStatus,
  kStats,
  kTop,
  kServers,
  kClients,
  kCacheLookup,
  kCacheFlush,
  kCacheStats,
  kEcs,
  kReload,
  kRestart,
  kUpgrade,
  kNtaAdd,
  kNtaRemove,
  kNtaList,
  kProbe,
};

/// What to do, with every option resolved to a value.
struct Invocation {
  Command command = Command::kHelp;
  std::optional<std::string> config_path;  // --config
  std::optional<std::string> socket_path;  // --socket
  std::optional<std::string> stats_name;   // --stats
  bool json = false;                       // --json
  std::optional<double> interval_s;        // --interval (status, top, probe)
  std::optional<uint64_t> iterations;      // --iterations (top)
  unsigned window_s = 10;                  // --window (stats)
  std::string name;                        // cache lookup / flush, nta add / remove, ecs, probe
  std::string type;                        // cache lookup, ecs, probe: upper case; empty: all
  bool subtree = false;                    // --subtree (cache flush)
  bool stripes = false;                    // --stripes (cache stats)
  std::optional<uint32_t> lifetime_s;      // --lifetime (nta add); unset: the supervisor's default
  std::string reason;                      // --reason (nta add)
  uint32_t count = 10;                     // --count (probe)
  double timeout_s = 5;                    // --timeout (probe)
  std::optional<base::SocketAddress> server;  // --server (probe); unset: the config's listen
  bool tcp = false;                        // --tcp (probe)
};

struct ParseResult {
  std::optional<Invocation> invocation;
  /// Without an invocation: one line saying what is wrong (shown with the
  /// usage; the exit code is 2).
  std::string error;
};

/// Parses the arguments after argv[0].
ParseResult parseCommandLine(const std::vector<std::string>& args);

/// The usage text (--help), ending in "\n".
std::string_view usage();

/// An RR type as the control protocol names it: a mnemonic ("aaaa" ->
/// "AAAA") or RFC 3597 "TYPEnnn" (0..65535); nullopt when unknown.
std::optional<std::string> normalizeType(std::string_view text);

/// A negative trust anchor's lifetime: a whole number and a unit, "90s",
/// "30m", "2h", "7d", from 1 s to control::kMaxAnchorLifetimeS; nullopt
/// otherwise.
std::optional<uint32_t> parseLifetime(std::string_view text);

/// A time option (--interval, --timeout): seconds ("0.5") or an integer
/// and a unit ("200ms", "2s", "1m", "1h"); nullopt otherwise. Ranges are
/// the caller's.
std::optional<double> parseTime(std::string_view text);

/// Limits of the numeric options.
inline constexpr double kMinIntervalS = 0.05;
inline constexpr double kMaxIntervalS = 3600;
inline constexpr uint64_t kMaxIterations = 1'000'000'000;
/// probe: --count, --interval and --timeout.
inline constexpr uint32_t kMaxProbeCount = 100'000;
inline constexpr double kMinProbeIntervalS = 0.001;
inline constexpr double kMinProbeTimeoutS = 0.001;
inline constexpr double kMaxProbeTimeoutS = 60;
/// The port of --server when it names none.
inline constexpr uint16_t kDnsPort = 53;

}  // namespace shoal::cli
