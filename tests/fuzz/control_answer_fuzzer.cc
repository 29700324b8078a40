// Fuzzes shoalctl's reading of the supervisor's answers (cli/
// control_views.h): a line from the control socket, from a supervisor of
// possibly another version, is input. parseAnswer may refuse it (it throws
// std::runtime_error, which shoalctl reports); an answer it accepts must be
// printable for every command without any other exception or crash
// (missing or mistyped fields show as "-").

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "cli/control_views.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal::cli;
  const std::string line(reinterpret_cast<const char*>(data), size);
  nlohmann::json answer;
  try {
    answer = parseAnswer(line);
  } catch (const std::runtime_error&) {
    return 0;  // refused with a message: fine
  }
  (void)answerOk(answer);
  (void)answerError(answer);
  for (const Command command :
       {Command::kPing, Command::kServers, Command::kCacheLookup, Command::kCacheFlush,
        Command::kCacheStats, Command::kEcs, Command::kReload, Command::kRestart,
        Command::kUpgrade}) {
    (void)answerText(command, answer, false);
    (void)answerText(command, answer, true);
  }
  return 0;
}
