#pragma once
// What the supervisor loads before it touches the system: the validated
// configuration, the root hints and trust anchors it names (built in or
// from files) and the TLS certificate and key. Shared by running and by
// --check-config, so that a file that passes the check also starts.

#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.h"
#include "resolver/roots.h"
#include "worker/tls.h"

namespace shoal::supervisor {

/// A start-up failure: the message is one line for the operator.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Loaded {
  config::Config config;
  resolver::RootHints hints;
  resolver::TrustAnchors anchors;
  /// DNS over TLS: built from server.tls_certificate and tls_key when
  /// server.tls_listen is not empty (else null). Built here, before any
  /// fork, so that every worker shares it (and its session ticket keys).
  std::shared_ptr<worker::TlsContext> tls;
};

/// Loads `config_path` (empty: the built-in defaults), the root hints and
/// trust anchors it configures and its TLS certificate and key. Throws
/// StartupError naming the file and what is wrong.
Loaded loadAll(const std::string& config_path, const std::string& user = "");

}  // namespace shoal::supervisor
