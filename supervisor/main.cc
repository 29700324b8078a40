// shoal: the resolver daemon's entry point. Parses the command line and
// runs the supervisor (which forks the workers), or one of the one-shot
// commands. Exceptions are allowed in the supervisor only and end here as a
// one-line message and exit status 1; a bad command line exits 2.

#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "dns/constants.h"
#include "resolver/builtin_roots.h"
#include "resolver/roots.h"
#include "supervisor/command_line.h"
#include "supervisor/load.h"
#include "supervisor/supervisor.h"

namespace {

using namespace shoal;

int printDefaults() {
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

int checkConfig(const std::string& path) {
  const auto loaded = supervisor::loadAll(path);
  std::string tls;
  if (loaded.tls) {
    const auto& server = loaded.config.server;
    tls = ", " + std::to_string(server.tls_listen.size()) + " TLS address(es)";
    if (!server.https_listen.empty()) {
      tls += ", " + std::to_string(server.https_listen.size()) + " HTTPS address(es)";
    }
    tls += " with certificate " + loaded.tls->description();
  }
  std::printf(
      "%s: OK (%u worker(s), %zu listen address(es)%s, %zu root server(s), %zu trust "
      "anchor(s))\n",
      path.c_str(), loaded.config.server.workers, loaded.config.server.listen.size(),
      tls.c_str(), loaded.hints.servers.size(), loaded.anchors.anchors.size());
  return 0;
}

int printConfig(const std::string& path) {
  const auto loaded = supervisor::loadAll(path);
  std::fputs(config::toToml(loaded.config).c_str(), stdout);
  return 0;
}

int dispatch(const supervisor::CommandLine& command, std::vector<std::string> argv) {
  switch (command.mode) {
    case supervisor::Mode::kHelp:
      std::fputs(supervisor::kUsage, stdout);
      return 0;
    case supervisor::Mode::kVersion:
      std::printf("shoal %s\n", SHOAL_VERSION);
      return 0;
    case supervisor::Mode::kPrintDefaults:
      return printDefaults();
    case supervisor::Mode::kCheckConfig:
      return checkConfig(command.config_path);
    case supervisor::Mode::kPrintConfig:
      return printConfig(command.config_path);
    case supervisor::Mode::kRun:
      break;
  }
  supervisor::RunOptions options;
  options.config_path = command.config_path;
  options.cold = command.cold;
  options.user = command.user;
  options.argv = argv;
  options.inherited = supervisor::takeInheritedState();
  supervisor::Supervisor supervisor(supervisor::loadAll(command.config_path, command.user),
                                    std::move(options));
  return supervisor.run();
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = supervisor::parseCommandLine(argc, argv);
  if (!parsed.command) {
    std::fprintf(stderr, "shoal: %s\n\n%s", parsed.error.c_str(), supervisor::kUsage);
    return 2;
  }
  try {
    return dispatch(*parsed.command, std::vector<std::string>(argv, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shoal: %s\n", e.what());
    return 1;
  }
}
