// shoalctl: the operator's CLI. It will talk to the supervisor over the
// control socket and read counters from shared memory (issue 5); today it
// knows its version and its usage.

#include <cstdio>
#include <string_view>

namespace {

constexpr const char* kUsage =
    "Usage: shoalctl [--help | --version]\n"
    "The operator's CLI for shoal.\n"
    "\n"
    "The control commands (status, stats, top, servers, cache, reload,\n"
    "restart, upgrade) arrive with the supervisor's control socket.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("shoalctl %s\n", SHOAL_VERSION);
    return 0;
  }
  if (argc > 1) std::fprintf(stderr, "shoalctl: unknown command '%s'\n\n", argv[1]);
  std::fputs(kUsage, stderr);
  return 2;
}
