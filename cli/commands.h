#pragma once
// Running a parsed shoalctl invocation: where to find shoal (the control
// socket and the stats segment), then one function per kind of command.

#include <stdexcept>
#include <string>

#include "cli/command_line.h"

namespace shoal::config {
struct Config;
}

namespace shoal::cli {

/// Arguments that are well formed but cannot be used (probe: a server that
/// cannot be asked at all, an interval and timeout that need more sockets
/// than the process may open): main prints what() and exits with 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The configuration of --config FILE, or the built-in defaults. Throws
/// std::runtime_error when the file cannot be loaded.
config::Config configOf(const Invocation& invocation);

/// Where shoal is: from --socket / --stats, else from the configuration
/// (--config FILE, or the built-in defaults).
struct Targets {
  std::string socket_path;
  std::string stats_name;
};
/// Throws std::runtime_error when --config cannot be loaded.
Targets resolveTargets(const Invocation& invocation);

/// Runs every command but help and version; returns the exit code (0 ok,
/// 1 failed). Prints results on stdout and errors on stderr ("shoalctl:
/// ..."). Throws std::runtime_error (and ClientError) with a one-line
/// message for failures that main turns into exit code 1, UsageError for
/// exit code 2.
int runCommand(const Invocation& invocation);

/// "shoal is not running (last supervisor pid 123)".
std::string notRunningText(int32_t supervisor_pid);

}  // namespace shoal::cli
