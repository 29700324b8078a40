#pragma once
// Who shoal runs as (issue 15). The supervisor may start as root; before it
// opens anything (lock file, cache and stats segments, control socket,
// listening sockets) it switches to server.user / server.group and keeps
// only the capabilities its config needs:
//   CAP_NET_BIND_SERVICE  ports below 1024 (listen, tls_listen, https_listen,
//                         metrics), also for a reload that binds a new one;
//   CAP_NET_ADMIN         tcp_collapse (nftables rules, TCP repair).
// They stay ambient so that an upgrade (execve of the new binary) keeps
// them. Each worker, after fork, keeps only what collapse needs with
// tcp_collapse (restrictWorker), nothing otherwise, and sets no_new_privs.
//
// Started as the user already (systemd's User= with AmbientCapabilities=),
// the same trimming applies to what it was given.

#include <sys/types.h>

#include <string>

#include "config/config.h"

namespace shoal::supervisor {

/// The capabilities `config` needs in the supervisor.
struct Needs {
  bool bind_low_ports = false;  // CAP_NET_BIND_SERVICE
  bool net_admin = false;       // CAP_NET_ADMIN
};
Needs needsOf(const config::Config& config);

/// Switches to the configured user and group (initgroups, setresgid,
/// setresuid) keeping `needs`, or, already that user, trims the
/// capabilities to `needs`. Makes the control socket's directory first if
/// it is missing (given to the user). Throws StartupError on failure
/// (unknown user, not root and another user configured, a setuid call
/// failing). Logs what it did.
void dropPrivileges(const config::Config& config);

/// What a worker needs: with tcp_collapse, CAP_NET_ADMIN (TCP repair) and,
/// for a listen port below 1024, CAP_NET_BIND_SERVICE (a revived
/// connection binds it again); nothing otherwise.
Needs workerNeedsOf(const config::Config& config);

/// In a freshly forked child (a worker; the local-root process, which
/// needs nothing): only `needs`, none ambient or inheritable,
/// no_new_privs. Nothing to narrow when running as root without
/// server.user. Throws std::runtime_error.
void restrictChild(const Needs& needs);

}  // namespace shoal::supervisor
