#pragma once
// The shoal command line, parsed into a value (no globals, no exceptions:
// a bad command line is an error string and exit status 2).

#include <optional>
#include <string>

namespace shoal::supervisor {

enum class Mode {
  kRun,            // shoal [--config FILE] [--cold]
  kCheckConfig,    // shoal --check-config FILE
  kPrintConfig,    // shoal --print-config [--config FILE]
  kPrintDefaults,  // shoal --print-defaults
  kVersion,        // shoal --version
  kHelp,           // shoal --help
};

struct CommandLine {
  Mode mode = Mode::kRun;
  std::string config_path;  // empty: built-in defaults
  bool cold = false;        // discard the cache segment at start
  std::string user;         // --user NAME: run as NAME (server.user)
};

struct ParsedCommandLine {
  std::optional<CommandLine> command;
  std::string error;  // set when `command` is not
};

ParsedCommandLine parseCommandLine(int argc, char** argv);

extern const char* const kUsage;

}  // namespace shoal::supervisor
