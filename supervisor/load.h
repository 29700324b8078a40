#pragma once
// What the supervisor loads before it touches the system: the validated
// configuration and the root hints and trust anchors it names (built in or
// from files). Shared by running and by --check-config, so that a file that
// passes the check also starts.

#include <stdexcept>
#include <string>

#include "config/config.h"
#include "resolver/roots.h"

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
};

/// Loads `config_path` (empty: the built-in defaults) and the root hints
/// and trust anchors it configures. Throws StartupError naming the file
/// and what is wrong.
Loaded loadAll(const std::string& config_path);

}  // namespace shoal::supervisor
