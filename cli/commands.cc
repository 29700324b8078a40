#include "cli/commands.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "cli/client.h"
#include "cli/clients_view.h"
#include "cli/control_views.h"
#include "cli/probe_run.h"
#include "cli/snapshot.h"
#include "cli/stats_views.h"
#include "cli/top.h"
#include "config/config.h"
#include "control/protocol.h"
#include "stats/stats.h"

namespace shoal::cli {
namespace {

/// Default time between the two readings of `status`.
constexpr double kStatusIntervalS = 0.5;
/// How long `status` waits for the supervisor's list of negative trust anchors.
constexpr int kStatusAnchorsTimeoutMs = 2'000;

void printOut(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

void printError(const std::string& text) { std::fprintf(stderr, "shoalctl: %s\n", text.c_str()); }

bool readsStats(Command c) {
  return c == Command::kStatus || c == Command::kStats || c == Command::kTop ||
         c == Command::kClients;
}

// Maps the stats segment; a reader outside the control group learns why.
std::unique_ptr<stats::Segment> attachStats(const std::string& name) {
  try {
    return stats::Segment::attachReadOnly(name);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (what.find(std::strerror(EACCES)) == std::string::npos) throw;
    throw std::runtime_error(what + ": you must be root or in the control group");
  }
}

bool isLongCommand(Command c) {
  return c == Command::kReload || c == Command::kRestart || c == Command::kUpgrade;
}

int runSocketCommand(const Invocation& inv, const std::string& socket_path) {
  const int timeout_ms =
      isLongCommand(inv.command) ? control::kLongCommandTimeoutMs : kShortCommandTimeoutMs;
  const nlohmann::json answer =
      parseAnswer(exchange(socket_path, controlRequest(inv), timeout_ms));
  if (inv.json) printOut(answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                         "\n");
  if (!answerOk(answer)) {
    printError(answerError(answer));
    return 1;
  }
  if (!inv.json) printOut(answerText(inv.command, answer, inv.stripes));
  return 0;
}

// The negative trust anchors are the supervisor's (the config's list and
// the shared cache), not in the stats segment: `status` asks for them,
// briefly, and shows "unknown" with the reason when it cannot.
void askAnchors(const std::string& socket_path, StatusReport& report) {
  try {
    const nlohmann::json answer = parseAnswer(
        exchange(socket_path, R"({"command":"nta.list"})", kStatusAnchorsTimeoutMs));
    if (answerOk(answer)) {
      report.negative_anchors = anchorsOf(answer);
    } else {
      report.anchors_error = answerError(answer);
    }
  } catch (const std::exception& e) {
    report.anchors_error = e.what();
  }
}

// The local root's state is the supervisor's too (its local-root process
// reports to it): asked the same way.
void askLocalRoot(const std::string& socket_path, StatusReport& report) {
  try {
    const nlohmann::json answer = parseAnswer(
        exchange(socket_path, R"({"command":"local_root"})", kStatusAnchorsTimeoutMs));
    if (answerOk(answer)) {
      report.local_root = localRootOf(answer);
    } else {
      report.local_root_error = answerError(answer);
    }
  } catch (const std::exception& e) {
    report.local_root_error = e.what();
  }
}

int runStatus(const Invocation& inv, const stats::Segment& segment) {
  const Snapshot before = takeSnapshot(segment, processAlive);
  if (!before.supervisor_alive) {
    if (inv.json) printOut(statusJson(makeStatusReport(before, before)) + "\n");
    printError(notRunningText(before.supervisor_pid));
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(inv.interval_s.value_or(
      kStatusIntervalS)));
  StatusReport report = makeStatusReport(before, takeSnapshot(segment, processAlive));
  askAnchors(inv.socket_path.value_or(report.now.control_socket), report);
  askLocalRoot(inv.socket_path.value_or(report.now.control_socket), report);
  printOut(inv.json ? statusJson(report) + "\n" : statusText(report));
  return 0;
}

int runClients(const Invocation& inv, const stats::Segment& segment) {
  const ClientsReport report = makeClientsReport(segment, takeSnapshot(segment, processAlive));
  printOut(inv.json ? clientsJson(report) + "\n" : clientsText(report));
  if (!report.supervisor_alive) {
    printError(notRunningText(report.supervisor_pid));
    return 1;
  }
  return 0;
}

int runStats(const Invocation& inv, const stats::Segment& segment) {
  const StatsReport report =
      makeStatsReport(takeSnapshot(segment, processAlive), segment.header(), inv.window_s);
  printOut(inv.json ? statsJson(report) + "\n" : statsText(report));
  if (!report.supervisor_alive) {
    printError(notRunningText(report.supervisor_pid) + ": these are the counters of its last run");
  }
  return 0;
}

}  // namespace

std::string notRunningText(int32_t supervisor_pid) {
  if (supervisor_pid <= 0) return "shoal is not running (no supervisor has used this stats segment)";
  return "shoal is not running (last supervisor pid " + std::to_string(supervisor_pid) + ")";
}

config::Config configOf(const Invocation& inv) {
  if (!inv.config_path) return config::defaults();
  config::LoadResult loaded = config::loadFile(*inv.config_path);
  if (!loaded.ok()) throw std::runtime_error(loaded.error);
  return std::move(*loaded.config);
}

Targets resolveTargets(const Invocation& inv) {
  Targets targets;
  if (inv.socket_path) targets.socket_path = *inv.socket_path;
  if (inv.stats_name) targets.stats_name = *inv.stats_name;
  // The configuration is read only for what the command needs and the
  // options did not name.
  const bool needs_socket = !readsStats(inv.command) && targets.socket_path.empty();
  const bool needs_stats = readsStats(inv.command) && targets.stats_name.empty();
  if (!needs_socket && !needs_stats) return targets;
  const config::Config config = configOf(inv);
  if (targets.socket_path.empty()) targets.socket_path = config.control.socket;
  if (targets.stats_name.empty()) targets.stats_name = stats::segmentName(config.cache.name);
  return targets;
}

int runCommand(const Invocation& inv) {
  // A probe asks the front door, neither the socket nor the stats segment.
  if (inv.command == Command::kProbe) return runProbe(inv);
  const Targets targets = resolveTargets(inv);
  switch (inv.command) {
    case Command::kStatus:
    case Command::kStats:
    case Command::kClients:
    case Command::kTop: {
      const auto segment = attachStats(targets.stats_name);
      if (inv.command == Command::kStatus) return runStatus(inv, *segment);
      if (inv.command == Command::kStats) return runStats(inv, *segment);
      if (inv.command == Command::kClients) return runClients(inv, *segment);
      const int32_t pid = segment->header().supervisor_pid.load(std::memory_order_acquire);
      if (!processAlive(pid)) {
        printError(notRunningText(pid));
        return 1;
      }
      return runTop(*segment, inv);
    }
    case Command::kHelp:
    case Command::kVersion: throw std::logic_error("help and version are main's");
    default: return runSocketCommand(inv, targets.socket_path);
  }
}

}  // namespace shoal::cli
