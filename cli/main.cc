// shoalctl: the operator's CLI. It talks to the supervisor over the control
// socket (control/protocol.h) and reads counters straight from the stats
// segment (stats/layout.h). See cli/command_line.h for the command line and
// cli/stats_views.h for the JSON of status, stats and top.

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/command_line.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace shoal::cli;
  const std::vector<std::string> args(argv + 1, argv + argc);
  const ParseResult parsed = parseCommandLine(args);
  if (!parsed.invocation) {
    std::fprintf(stderr, "shoalctl: %s\n\n", parsed.error.c_str());
    std::fwrite(usage().data(), 1, usage().size(), stderr);
    return 2;
  }
  const Invocation& invocation = *parsed.invocation;
  if (invocation.command == Command::kHelp) {
    std::fwrite(usage().data(), 1, usage().size(), stdout);
    return 0;
  }
  if (invocation.command == Command::kVersion) {
    std::printf("shoalctl %s\n", SHOAL_VERSION);
    return 0;
  }
  try {
    return runCommand(invocation);
  } catch (const UsageError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "shoalctl: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "shoalctl: %s\n", e.what());
    return 1;
  }
}
