#include "supervisor/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "base/log.h"
#include "supervisor/load.h"

namespace shoal::supervisor {

using base::logLine;
using base::logWarning;

namespace {

/// Ports below this need CAP_NET_BIND_SERVICE (the kernel's default
/// net.ipv4.ip_unprivileged_port_start).
constexpr uint16_t kFirstUnprivilegedPort = 1024;

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

std::vector<cap_value_t> capsOf(const Needs& needs) {
  std::vector<cap_value_t> caps;
  if (needs.bind_low_ports) caps.push_back(CAP_NET_BIND_SERVICE);
  if (needs.net_admin) caps.push_back(CAP_NET_ADMIN);
  return caps;
}

/// Exactly `caps` in the effective, permitted and inheritable sets (those
/// we do not have are left out, and returned), and ambient when `ambient`
/// (so that they survive the upgrade's execve).
std::vector<cap_value_t> setCaps(const std::vector<cap_value_t>& caps, bool ambient) {
  std::vector<cap_value_t> have, missing;
  cap_t current = cap_get_proc();
  for (cap_value_t cap : caps) {
    cap_flag_value_t permitted = CAP_CLEAR;
    if (current != nullptr) cap_get_flag(current, cap, CAP_PERMITTED, &permitted);
    (permitted == CAP_SET ? have : missing).push_back(cap);
  }
  if (current != nullptr) cap_free(current);
  cap_t next = cap_init();  // all clear
  if (next == nullptr) throw StartupError(errnoText("cap_init"));
  if (!have.empty()) {
    const int n = static_cast<int>(have.size());
    cap_set_flag(next, CAP_EFFECTIVE, n, have.data(), CAP_SET);
    cap_set_flag(next, CAP_PERMITTED, n, have.data(), CAP_SET);
    // Inheritable only for the ambient set, which needs it (execve).
    if (ambient) cap_set_flag(next, CAP_INHERITABLE, n, have.data(), CAP_SET);
  }
  const int rc = cap_set_proc(next);
  cap_free(next);
  if (rc != 0) throw StartupError(errnoText("cap_set_proc"));
  if (cap_reset_ambient() != 0 && errno != EINVAL) {  // EINVAL: kernel without ambient
    throw StartupError(errnoText("clearing ambient capabilities"));
  }
  if (ambient) {
    for (cap_value_t cap : have) {
      if (cap_set_ambient(cap, CAP_SET) != 0) throw StartupError(errnoText("cap_set_ambient"));
    }
  }
  return missing;
}

std::string capsText(const std::vector<cap_value_t>& caps) {
  std::string out;
  for (cap_value_t cap : caps) {
    char* name = cap_to_name(cap);
    if (!out.empty()) out += ", ";
    out += name != nullptr ? name : "?";
    cap_free(name);
  }
  return out.empty() ? "none" : out;
}

bool lowPort(const std::vector<base::SocketAddress>& addresses) {
  for (const auto& a : addresses) {
    if (a.port < kFirstUnprivilegedPort) return true;
  }
  return false;
}

/// The control socket's directory (e.g. /run/shoal), made by root for the
/// user when it does not exist; an existing one is left alone.
void prepareControlDirectory(const std::string& socket, uid_t uid, gid_t gid) {
  const auto slash = socket.rfind('/');
  if (slash == std::string::npos || slash == 0) return;
  const std::string dir = socket.substr(0, slash);
  if (mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) return;
    throw StartupError("control socket directory " + dir + ": " + std::strerror(errno));
  }
  if (chown(dir.c_str(), uid, gid) != 0) {
    throw StartupError(errnoText("control socket directory " + dir + ": chown"));
  }
}

}  // namespace

Needs needsOf(const config::Config& config) {
  Needs needs;
  needs.bind_low_ports = lowPort(config.server.listen) || lowPort(config.server.tls_listen) ||
                         lowPort(config.server.https_listen) || lowPort(config.metrics.listen);
  needs.net_admin = config.server.tcp_collapse;
  return needs;
}

void dropPrivileges(const config::Config& config) {
  const Needs needs = needsOf(config);
  const std::string& user = config.server.user;
  if (user.empty()) {
    if (geteuid() == 0) {
      logWarning("running as root: set server.user to run as an unprivileged user");
      return;
    }
    const auto missing = setCaps(capsOf(needs), true);
    logLine("running as uid %d, capabilities: %s", static_cast<int>(geteuid()),
            capsText(capsOf(needs)).c_str());
    if (!missing.empty()) logWarning("not given %s", capsText(missing).c_str());
    return;
  }
  const passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) throw StartupError("server.user: no such user \"" + user + "\"");
  const uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  if (!config.server.group.empty()) {
    const group* gr = getgrnam(config.server.group.c_str());
    if (gr == nullptr) {
      throw StartupError("server.group: no such group \"" + config.server.group + "\"");
    }
    gid = gr->gr_gid;
  }
  if (geteuid() == uid && getuid() == uid) {
    // Already the user (systemd's User=, or after an upgrade): trim only.
    const auto missing = setCaps(capsOf(needs), true);
    logLine("running as %s (uid %d), capabilities: %s", user.c_str(), static_cast<int>(uid),
            capsText(capsOf(needs)).c_str());
    if (!missing.empty()) logWarning("not given %s", capsText(missing).c_str());
    return;
  }
  if (geteuid() != 0) {
    throw StartupError("server.user: cannot switch to \"" + user + "\" as uid " +
                       std::to_string(geteuid()) + " (start shoal as root or as that user)");
  }
  prepareControlDirectory(config.control.socket, uid, gid);
  // Keep the permitted set across setuid, then narrow it.
  if (prctl(PR_SET_KEEPCAPS, 1) != 0) throw StartupError(errnoText("PR_SET_KEEPCAPS"));
  if (initgroups(user.c_str(), gid) != 0) throw StartupError(errnoText("initgroups"));
  if (setresgid(gid, gid, gid) != 0) throw StartupError(errnoText("setresgid"));
  if (setresuid(uid, uid, uid) != 0) throw StartupError(errnoText("setresuid"));
  prctl(PR_SET_KEEPCAPS, 0);
  setCaps(capsOf(needs), true);
  // A directory left by a run as root would fail the bind with a bare
  // "Permission denied": say what to do instead.
  if (const auto slash = config.control.socket.rfind('/'); slash != std::string::npos && slash > 0) {
    const std::string dir = config.control.socket.substr(0, slash);
    if (access(dir.c_str(), W_OK | X_OK) != 0) {
      throw StartupError("control socket directory " + dir + " is not writable by user " + user +
                         ": give it to the user (chown) or remove it");
    }
  }
  logLine("running as %s (uid %d, gid %d), capabilities: %s", user.c_str(),
          static_cast<int>(uid), static_cast<int>(gid), capsText(capsOf(needs)).c_str());
}

Needs workerNeedsOf(const config::Config& config) {
  Needs needs;
  needs.net_admin = config.server.tcp_collapse;
  // Reviving a collapsed connection binds a socket to the listening port
  // again (collapse/tcp_repair.h).
  needs.bind_low_ports = config.server.tcp_collapse && lowPort(config.server.listen);
  return needs;
}

void restrictChild(const Needs& needs) {
  if (geteuid() == 0 && getuid() == 0) return;  // root without server.user: nothing to narrow
  setCaps(capsOf(needs), false);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    throw std::runtime_error(errnoText("PR_SET_NO_NEW_PRIVS"));
  }
}

}  // namespace shoal::supervisor
