#include "cli/command_line.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "config/config.h"
#include "control/protocol.h"
#include "dns/name.h"
#include "stats/layout.h"

namespace shoal::cli {
namespace {

constexpr std::string_view kUsage =
    "Usage: shoalctl [OPTIONS] COMMAND [ARGS]\n"
    "The operator's CLI for shoal.\n"
    "\n"
    "Commands:\n"
    "  status [--interval S]         supervisor, cache fill and workers (qps measured over S\n"
    "                                seconds, default 0.5)\n"
    "  stats [--window N]            counters, hit rate, loss and latency; rates over the\n"
    "                                last N seconds (default 10, at most 599)\n"
    "  top [--interval S] [--iterations N]\n"
    "                                live view, refreshed every S seconds (default 1); q quits.\n"
    "                                Prints N plain frames when stdout is not a terminal\n"
    "                                (default 1) or with --iterations\n"
    "  servers                       upstream servers: RTT, loss, state\n"
    "  clients                       TCP clients seen lately (IPv4 address, IPv6 /64): bucket\n"
    "                                (keep-active, collapse, dont-bother), open connections,\n"
    "                                queries and rate\n"
    "  cache lookup NAME [TYPE]      cached entries of NAME (every type by default)\n"
    "  cache flush NAME [--subtree]  removes NAME (and every name below it) from the cache\n"
    "  cache stats [--stripes]       cache fill, evictions, recoveries (--stripes: each stripe)\n"
    "  ecs [NAME TYPE]               EDNS Client Subnet partitions in the cache: totals and\n"
    "                                the names with the most; with NAME TYPE, every partition\n"
    "                                of it (prefix, scope, TTL, hits) and its global entry\n"
    "  nta add NAME [--lifetime D] [--reason TEXT]\n"
    "                                treats NAME and every name below it as insecure (a\n"
    "                                negative trust anchor, RFC 7646) for D: 90s, 30m, 2h,\n"
    "                                7d (default 1d, at most 7d); flushes its cached answers\n"
    "  nta remove NAME               removes a negative trust anchor added with nta add\n"
    "  nta list                      negative trust anchors: the configuration's and the\n"
    "                                runtime ones, with the time they have left\n"
    "  reload                        rereads the configuration file\n"
    "  restart                       restarts the workers one by one\n"
    "  upgrade                       replaces the running binary without downtime\n"
    "  ping                          checks that the supervisor answers\n"
    "  probe NAME [TYPE] [--count N] [--interval I] [--timeout T] [--server ADDR[:PORT]] [--tcp]\n"
    "                                asks shoal for NAME and TYPE (default A) as a client would:\n"
    "                                N queries (default 10, at most 100000), one every I\n"
    "                                (default 1s), each waiting up to T (default 5s; I and T\n"
    "                                as 200ms, 2s or 0.5); reports the answer rate, rcodes, AD\n"
    "                                and latency percentiles. Asks the configuration's first\n"
    "                                listen address (--server: another), over UDP (--tcp: TCP).\n"
    "                                Exit status 1 when a query was lost\n"
    "\n"
    "Options (before or after the command):\n"
    "  --config FILE   shoal's configuration (control.socket, cache.name; server.listen for\n"
    "                  probe); default: the built-in defaults\n"
    "  --socket PATH   the control socket (overrides the configuration)\n"
    "  --stats NAME    the stats shared-memory object (default: \"<cache.name>.stats\")\n"
    "  --json          JSON output\n"
    "  --help          this text\n"
    "  --version       shoalctl's version\n"
    "\n"
    "Exit status: 0 success, 1 the command failed or shoal is not running,\n"
    "2 bad arguments.\n";

// Commands an option applies to, as a bit mask of Command values.
constexpr uint32_t bit(Command c) { return uint32_t{1} << static_cast<unsigned>(c); }
constexpr uint32_t kAnyCommand = ~uint32_t{0};

struct OptionSpec {
  std::string_view name;
  bool takes_value;
  uint32_t commands;  // where it applies
};

constexpr std::array<OptionSpec, 18> kOptions{{
    {"--config", true, kAnyCommand},
    {"--socket", true, kAnyCommand},
    {"--stats", true, kAnyCommand},
    {"--json", false, kAnyCommand},
    {"--help", false, kAnyCommand},
    {"-h", false, kAnyCommand},
    {"--version", false, kAnyCommand},
    {"--interval", true, bit(Command::kStatus) | bit(Command::kTop) | bit(Command::kProbe)},
    {"--iterations", true, bit(Command::kTop)},
    {"--window", true, bit(Command::kStats)},
    {"--subtree", false, bit(Command::kCacheFlush)},
    {"--stripes", false, bit(Command::kCacheStats)},
    {"--lifetime", true, bit(Command::kNtaAdd)},
    {"--reason", true, bit(Command::kNtaAdd)},
    {"--count", true, bit(Command::kProbe)},
    {"--timeout", true, bit(Command::kProbe)},
    {"--server", true, bit(Command::kProbe)},
    {"--tcp", false, bit(Command::kProbe)},
}};

constexpr std::array<std::pair<std::string_view, Command>, 13> kCommands{{
    {"ping", Command::kPing},
    {"status", Command::kStatus},
    {"stats", Command::kStats},
    {"top", Command::kTop},
    {"servers", Command::kServers},
    {"clients", Command::kClients},
    {"ecs", Command::kEcs},
    {"reload", Command::kReload},
    {"restart", Command::kRestart},
    {"upgrade", Command::kUpgrade},
    {"probe", Command::kProbe},
    {"cache", Command::kCacheStats},  // refined by the subcommand
    {"nta", Command::kNtaList},       // refined by the subcommand
}};

constexpr std::array<std::string_view, 34> kTypeNames{
    "A",     "NS",    "CNAME", "SOA",   "MB",         "MG",   "MR",    "PTR",    "HINFO",
    "MINFO", "MX",    "TXT",   "RP",    "AFSDB",      "RT",   "SIG",   "PX",     "AAAA",
    "NXT",   "SRV",   "NAPTR", "KX",    "DNAME",      "DS",   "RRSIG", "NSEC",   "DNSKEY",
    "NSEC3", "NSEC3PARAM",     "TLSA",  "SVCB",       "HTTPS", "CAA",  "ANY"};

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parseSeconds(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789.") != std::string::npos) {
    return std::nullopt;
  }
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// Stores an option's value; returns an error message, empty when fine.
std::string applyOption(Invocation& inv, std::string_view name, const std::string& value) {
  if (name == "--config") inv.config_path = value;
  if (name == "--socket") inv.socket_path = value;
  if (name == "--stats") inv.stats_name = value;
  if (name == "--json") inv.json = true;
  if (name == "--subtree") inv.subtree = true;
  if (name == "--stripes") inv.stripes = true;
  if ((name == "--config" || name == "--socket" || name == "--stats") && value.empty()) {
    return std::string(name) + " needs a non-empty value";
  }
  if (name == "--interval") {
    // Its range depends on the command (checkInterval, once it is known).
    const auto s = parseTime(value);
    if (!s) {
      return "--interval: expected seconds such as 0.5, or a duration such as 200ms or 2s (got '" +
             value + "')";
    }
    inv.interval_s = *s;
  }
  if (name == "--tcp") inv.tcp = true;
  if (name == "--count") {
    const auto n = parseUnsigned(value);
    if (!n || *n == 0 || *n > kMaxProbeCount) {
      return "--count: expected a whole number of queries from 1 to " +
             std::to_string(kMaxProbeCount) + " (got '" + value + "')";
    }
    inv.count = static_cast<uint32_t>(*n);
  }
  if (name == "--timeout") {
    const auto s = parseTime(value);
    if (!s || *s < kMinProbeTimeoutS || *s > kMaxProbeTimeoutS) {
      return "--timeout: expected a duration from 1ms to 60s, such as 500ms, 5s or 0.5 (got '" +
             value + "')";
    }
    inv.timeout_s = *s;
  }
  if (name == "--server") {
    const auto address = base::SocketAddress::parse(value, kDnsPort);
    if (!address || address->port == 0) {
      return "--server: expected an IP address and an optional port, such as 127.0.0.1, "
             "127.0.0.1:5353, ::1 or [::1]:5353 (got '" + value + "')";
    }
    inv.server = *address;
  }
  if (name == "--iterations") {
    const auto n = parseUnsigned(value);
    if (!n || *n == 0 || *n > kMaxIterations) {
      return "--iterations: expected a positive whole number (got '" + value + "')";
    }
    inv.iterations = *n;
  }
  if (name == "--lifetime") {
    const auto lifetime = parseLifetime(value);
    if (!lifetime) {
      return "--lifetime: expected a duration from 1s to 7d, such as 30m, 2h or 7d (got '" +
             value + "')";
    }
    inv.lifetime_s = *lifetime;
  }
  if (name == "--reason") {
    if (value.size() > control::kMaxAnchorReason) {
      return "--reason: at most " + std::to_string(control::kMaxAnchorReason) + " octets (got " +
             std::to_string(value.size()) + ")";
    }
    if (std::any_of(value.begin(), value.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        })) {
      return "--reason: no control characters (tabs, newlines, escapes)";
    }
    inv.reason = value;
  }
  if (name == "--window") {
    const auto n = parseUnsigned(value);
    if (!n || *n == 0 || *n >= stats::kSamples) {
      return "--window: expected whole seconds between 1 and " +
             std::to_string(stats::kSamples - 1) + " (got '" + value + "')";
    }
    inv.window_s = static_cast<unsigned>(*n);
  }
  return {};
}

struct Scanned {
  std::vector<std::string> positional;
  std::vector<const OptionSpec*> seen;  // every option given, in order
  bool help = false;
  bool version = false;
  std::string interval_text;  // --interval as given, for its range check
};

// Splits the arguments into options (applied to `inv`) and positionals.
std::string scanArguments(const std::vector<std::string>& args, Invocation& inv, Scanned& out) {
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || arg.size() < 2 || arg[0] != '-') {
      out.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string_view name = std::string_view(arg).substr(0, eq);
    const OptionSpec* spec = nullptr;
    for (const auto& o : kOptions) {
      if (o.name == name) spec = &o;
    }
    if (spec == nullptr) return "unknown option '" + std::string(name) + "'";
    std::string value;
    if (spec->takes_value) {
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return "option " + std::string(name) + " needs a value";
      }
    } else if (eq != std::string::npos) {
      return "option " + std::string(name) + " takes no value";
    }
    if (name == "--help" || name == "-h") out.help = true;
    if (name == "--version") out.version = true;
    if (name == "--interval") out.interval_text = value;
    out.seen.push_back(spec);
    if (std::string error = applyOption(inv, name, value); !error.empty()) return error;
  }
  return {};
}

// probe NAME [TYPE]: the name must parse (it goes on the wire as it is).
std::string readProbeQuestion(const std::vector<std::string>& positional, Invocation& inv) {
  if (positional.size() < 2 || positional[1].empty()) return "probe: missing NAME";
  const auto name = dns::Name::fromText(positional[1]);
  if (!name) {
    return "probe: bad NAME '" + positional[1] + "': " + dns::toString(name.error());
  }
  inv.name = positional[1];
  inv.type = "A";
  if (positional.size() > 2) {
    const auto type = normalizeType(positional[2]);
    if (!type) return "probe: unknown TYPE '" + positional[2] + "'";
    inv.type = *type;
  }
  return {};
}

// Sets the command and its arguments from the positionals.
std::string readCommand(const std::vector<std::string>& positional, Invocation& inv) {
  if (positional.empty()) return "no command given";
  const std::string& word = positional[0];
  const auto* entry = std::find_if(kCommands.begin(), kCommands.end(),
                                   [&](const auto& c) { return c.first == word; });
  if (entry == kCommands.end()) return "unknown command '" + word + "'";
  size_t used = 1;
  inv.command = entry->second;
  if (word == "cache") {
    if (positional.size() < 2) return "cache: expected lookup, flush or stats";
    const std::string& sub = positional[1];
    used = 2;
    if (sub == "lookup" || sub == "flush") {
      inv.command = sub == "lookup" ? Command::kCacheLookup : Command::kCacheFlush;
      if (positional.size() < 3 || positional[2].empty()) return "cache " + sub + ": missing NAME";
      inv.name = positional[2];
      used = 3;
      if (sub == "lookup" && positional.size() > 3) {
        const auto type = normalizeType(positional[3]);
        if (!type) return "cache lookup: unknown TYPE '" + positional[3] + "'";
        inv.type = *type;
        used = 4;
      }
    } else if (sub != "stats") {
      return "cache: unknown subcommand '" + sub + "' (expected lookup, flush or stats)";
    }
  }
  if (word == "ecs" && positional.size() > 1) {
    // NAME and TYPE go together: the partitions are kept per name and type.
    if (positional[1].empty()) return "ecs: missing NAME";
    if (positional.size() < 3) return "ecs: missing TYPE after NAME (shoalctl ecs NAME TYPE)";
    const auto type = normalizeType(positional[2]);
    if (!type) return "ecs: unknown TYPE '" + positional[2] + "'";
    inv.name = positional[1];
    inv.type = *type;
    used = 3;
  }
  if (word == "nta") {
    if (positional.size() < 2) return "nta: expected add, remove or list";
    const std::string& sub = positional[1];
    used = 2;
    if (sub == "add" || sub == "remove") {
      inv.command = sub == "add" ? Command::kNtaAdd : Command::kNtaRemove;
      if (positional.size() < 3 || positional[2].empty()) return "nta " + sub + ": missing NAME";
      inv.name = positional[2];
      used = 3;
    } else if (sub != "list") {
      return "nta: unknown subcommand '" + sub + "' (expected add, remove or list)";
    }
  }
  if (word == "probe") {
    if (std::string error = readProbeQuestion(positional, inv); !error.empty()) return error;
    used = positional.size() > 2 ? 3 : 2;
  }
  if (positional.size() > used) return "unexpected argument '" + positional[used] + "'";
  return {};
}

// --interval's range: probe sends up to 1000 queries a second; status and
// top redraw at most 20 times a second.
std::string checkInterval(const Invocation& inv, const std::string& text) {
  if (!inv.interval_s) return {};
  if (inv.command == Command::kProbe) {
    if (*inv.interval_s < kMinProbeIntervalS || *inv.interval_s > kMaxIntervalS) {
      return "--interval: expected a duration from 1ms to 1h, such as 200ms, 1s or 0.5 (got '" +
             text + "')";
    }
  } else if (*inv.interval_s < kMinIntervalS || *inv.interval_s > kMaxIntervalS) {
    return "--interval: expected seconds between 0.05 and 3600 (got '" + text + "')";
  }
  return {};
}

std::string_view commandWord(Command c) {
  switch (c) {
    case Command::kCacheLookup: return "cache lookup";
    case Command::kCacheFlush: return "cache flush";
    case Command::kCacheStats: return "cache stats";
    case Command::kNtaAdd: return "nta add";
    case Command::kNtaRemove: return "nta remove";
    case Command::kNtaList: return "nta list";
    default: break;
  }
  for (const auto& [word, command] : kCommands) {
    if (command == c) return word;
  }
  return "?";
}

}  // namespace

ParseResult parseCommandLine(const std::vector<std::string>& args) {
  Invocation inv;
  Scanned scanned;
  if (std::string error = scanArguments(args, inv, scanned); !error.empty()) return {{}, error};
  if (scanned.help || scanned.version) {
    inv.command = scanned.help ? Command::kHelp : Command::kVersion;
    return {inv, {}};
  }
  if (std::string error = readCommand(scanned.positional, inv); !error.empty()) {
    return {{}, error};
  }
  for (const OptionSpec* spec : scanned.seen) {
    if ((spec->commands & bit(inv.command)) == 0) {
      return {{},
              "option " + std::string(spec->name) + " does not apply to '" +
                  std::string(commandWord(inv.command)) + "'"};
    }
  }
  if (std::string error = checkInterval(inv, scanned.interval_text); !error.empty()) {
    return {{}, error};
  }
  return {inv, {}};
}

std::string_view usage() { return kUsage; }

std::optional<double> parseTime(std::string_view text) {
  if (const auto duration = config::parseDuration(text)) {
    return static_cast<double>(duration->count()) / 1000;
  }
  return parseSeconds(std::string(text));
}

std::optional<uint32_t> parseLifetime(std::string_view text) {
  uint64_t seconds = 0;
  if (!text.empty() && text.back() == 'd') {
    const auto days = parseUnsigned(text.substr(0, text.size() - 1));
    if (!days || *days > control::kMaxAnchorLifetimeS / 86'400) return std::nullopt;
    seconds = *days * 86'400;
  } else {
    const auto duration = config::parseDuration(text);
    if (!duration || duration->count() % 1000 != 0) return std::nullopt;
    seconds = static_cast<uint64_t>(duration->count() / 1000);
  }
  if (seconds == 0 || seconds > control::kMaxAnchorLifetimeS) return std::nullopt;
  return static_cast<uint32_t>(seconds);
}

std::optional<std::string> normalizeType(std::string_view text) {
  std::string name = upper(text);
  for (const std::string_view known : kTypeNames) {
    if (name == known) return name;
  }
  if (name.size() > 4 && name.compare(0, 4, "TYPE") == 0) {
    const auto n = parseUnsigned(std::string_view(name).substr(4));
    if (n && *n <= 0xFFFF) return "TYPE" + std::to_string(*n);
  }
  return std::nullopt;
}

}  // namespace shoal::cli
