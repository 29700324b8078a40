#include "supervisor/load.h"

#include <pwd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "resolver/builtin_roots.h"

namespace shoal::supervisor {
namespace {

std::string readFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw StartupError(std::string(what) + " " + path + ": cannot read: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw StartupError(std::string(what) + " " + path + ": read error");
  return text.str();
}

}  // namespace

Loaded loadAll(const std::string& config_path, const std::string& user) {
  Loaded loaded;
  if (config_path.empty()) {
    loaded.config = config::defaults();
  } else {
    auto result = config::loadFile(config_path);
    if (!result.ok()) throw StartupError(result.error);
    loaded.config = std::move(*result.config);
  }
  if (!user.empty()) {
    // --user: what server.user would say (supervisor/privileges.h).
    if (getpwnam(user.c_str()) == nullptr) throw StartupError("--user: no such user \"" + user + "\"");
    loaded.config.server.user = user;
  }
  const auto& r = loaded.config.resolver;
  if (r.root_hints.empty()) {
    loaded.hints = resolver::parseRootHints(resolver::builtinRootHints());
    if (!loaded.hints.ok()) throw StartupError("built-in root hints: " + loaded.hints.error);
  } else {
    loaded.hints = resolver::parseRootHints(readFile(r.root_hints, "root hints"));
    if (!loaded.hints.ok()) {
      throw StartupError("root hints " + r.root_hints + ": " + loaded.hints.error);
    }
  }
  if (r.trust_anchors.empty()) {
    loaded.anchors = resolver::parseTrustAnchors(resolver::builtinTrustAnchors());
    if (!loaded.anchors.ok()) {
      throw StartupError("built-in trust anchors: " + loaded.anchors.error);
    }
  } else {
    for (const auto& path : r.trust_anchors) {
      auto anchors = resolver::parseTrustAnchors(readFile(path, "trust anchors"));
      if (!anchors.ok()) throw StartupError("trust anchors " + path + ": " + anchors.error);
      for (auto& anchor : anchors.anchors) loaded.anchors.anchors.push_back(std::move(anchor));
    }
  }
  const auto& server = loaded.config.server;
  if (!server.tls_listen.empty() || !server.https_listen.empty()) {
    auto tls = worker::TlsContext::load(server.tls_certificate, server.tls_key);
    if (!tls.context) throw StartupError(tls.error);
    loaded.tls = std::move(tls.context);
  }
  return loaded;
}

}  // namespace shoal::supervisor
