#pragma once
// Running a parsed shoalctl invocation: where to find shoal (the control
// socket and the stats segment), then one function per kind of command.

#include <string>

#include "cli/command_line.h"

namespace shoal::cli {

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
/// message for failures that main turns into exit code 1.
int runCommand(const Invocation& invocation);

/// "shoal is not running (last supervisor pid 123)".
std::string notRunningText(int32_t supervisor_pid);

}  // namespace shoal::cli
