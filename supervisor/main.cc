// shoal: the resolver daemon. The supervisor's entry point parses the command
// line; it will read the config, create the shared cache, open the sockets
// and fork the workers (issues 3-5). Today it offers the commands that
// exist: help, version and the built-in defaults.

#include <cstdio>
#include <cstring>
#include <string_view>

#include "dns/constants.h"
#include "resolver/builtin_roots.h"
#include "resolver/roots.h"

namespace {

constexpr const char* kUsage =
    "Usage: shoal [OPTION]\n"
    "A recursive DNS resolver for large ISP resolver farms.\n"
    "\n"
    "Options:\n"
    "  --help            show this help and exit\n"
    "  --version         show the version and exit\n"
    "  --print-defaults  load and print the built-in root hints and root trust\n"
    "                    anchors, then exit (non-zero if they do not load)\n"
    "\n"
    "The resolver service itself (--config FILE) is not built yet: see\n"
    "docs/architecture.md for what exists and what is planned.\n";

int printDefaults() {
  using namespace shoal;
  const auto hints = resolver::parseRootHints(resolver::builtinRootHints());
  if (!hints.ok()) {
    std::fprintf(stderr, "shoal: built-in root hints: %s\n", hints.error.c_str());
    return 1;
  }
  const auto anchors = resolver::parseTrustAnchors(resolver::builtinTrustAnchors());
  if (!anchors.ok()) {
    std::fprintf(stderr, "shoal: built-in trust anchors: %s\n", anchors.error.c_str());
    return 1;
  }
  std::printf("root hints: %zu servers\n", hints.servers.size());
  for (const auto& server : hints.servers) {
    std::printf("  %s", server.name.toText().c_str());
    for (const auto& address : server.addresses) std::printf(" %s", address.toString().c_str());
    std::printf("\n");
  }
  std::printf("trust anchors: %zu\n", anchors.anchors.size());
  for (const auto& anchor : anchors.anchors) {
    std::printf("  %s %s key tag %u algorithm %u\n", anchor.owner.toText().c_str(),
                dns::typeToText(anchor.type).c_str(), anchor.keyTag(), anchor.algorithm());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs(kUsage, argc == 1 ? stdout : stderr);
    return argc == 1 ? 0 : 2;
  }
  const std::string_view arg = argv[1];
  if (arg == "--help" || arg == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (arg == "--version") {
    std::printf("shoal %s\n", SHOAL_VERSION);
    return 0;
  }
  if (arg == "--print-defaults") return printDefaults();
  std::fprintf(stderr, "shoal: unknown option '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
