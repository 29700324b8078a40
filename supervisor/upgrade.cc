// Binary upgrade: the supervisor re-executes its binary in place (execve:
// same pid, so systemd's MAINPID stays, and the running workers stay its
// children), passing on what must survive: the instance lock, the
// listening sockets, the control socket and the shoalctl connection that
// asked, and the running workers. The new image attaches to the cache and
// stats segments (kept: the cache stays warm), adopts the old workers and
// replaces them one at a time, then answers shoalctl.
//
// Before it lets go, the old image runs the new binary with --check-config
// on the same file: a binary that does not start, or rejects the config,
// is refused and nothing changes.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "stats/stats.h"
#include "supervisor/notify.h"
#include "supervisor/sockets.h"
#include "supervisor/supervisor.h"
#include "supervisor/util.h"

namespace shoal::supervisor {
namespace {

using base::logLine;
using base::logError;
using nlohmann::json;

constexpr const char* kStateVariable = "SHOAL_UPGRADE";
constexpr int64_t kCheckTimeoutMs = 20'000;

void setInherit(int fd, bool inherit) {
  if (fd >= 0) fcntl(fd, F_SETFD, inherit ? 0 : FD_CLOEXEC);
}

/// Runs `argv` and returns its exit status and what it printed (-1: could
/// not run it or it took too long; then `output` says why).
int runCheck(const std::vector<std::string>& argv, std::string& output) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    output = std::string("pipe: ") + std::strerror(errno);
    return -1;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    output = std::string("fork: ") + std::strerror(errno);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    dup2(pipe_fds[1], 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "cannot execute %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(pipe_fds[1]);
  const int64_t deadline = monotonicMs() + kCheckTimeoutMs;
  char buffer[512];
  for (;;) {
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int64_t left = deadline - monotonicMs();
    if (left <= 0) {
      kill(pid, SIGKILL);
      output = "it did not finish within " + std::to_string(kCheckTimeoutMs / 1000) + " s";
      break;
    }
    if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) break;
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    if (output.size() < 4096) output.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (!WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace

void Supervisor::upgrade(uint64_t client, std::string& error) {
  if (rollout_) {
    error = "a " + rollout_->what + " is in progress; try again when it is done";
    return;
  }
  if (exe_path_.empty() || access(exe_path_.c_str(), X_OK) != 0) {
    error = "cannot execute " + (exe_path_.empty() ? std::string("the shoal binary") : exe_path_) +
            ": " + std::strerror(errno);
    return;
  }
  // 1. The new binary must run and accept the config file.
  std::vector<std::string> check = {exe_path_};
  if (options_.config_path.empty()) {
    check.push_back("--version");
  } else {
    check.push_back("--check-config");
    check.push_back(options_.config_path);
  }
  std::string output;
  const int rc = runCheck(check, output);
  if (rc != 0) {
    error = "the new binary " + exe_path_ + " failed its check (" + check[1] + "): " + output;
    return;
  }
  logLine("upgrade: %s passed %s; re-executing", exe_path_.c_str(), check[1].c_str());
  // 2. What the new image takes over.
  json state;
  state["old_version"] = SHOAL_VERSION;
  state["lock_fd"] = lock_fd_;
  state["control_fd"] = control_.listenFd();
  const int client_fd = client != 0 ? control_.release(client) : -1;
  state["client_fd"] = client_fd;
  std::vector<int> passed = {lock_fd_, control_.listenFd(), client_fd};
  json slots = json::array();
  for (const Slot& slot : slots_) {
    json sockets = json::array();
    for (const auto& s : slot.sockets) {
      // "tls": a TLS address, whose "udp" is -1 (absent: an older image's
      // plain address).
      sockets.push_back(
          {{"udp", s.udp_fd}, {"tcp", s.tcp_fd}, {"tls", s.tls}, {"https", s.https},
           {"address", s.address}});
      passed.push_back(s.udp_fd);
      passed.push_back(s.tcp_fd);
    }
    slots.push_back({{"pid", slot.pid},
                     {"generation", slot.generation},
                     {"restarts", slot.restarts},
                     {"started_ms", slot.started_ms},
                     {"sockets", sockets}});
  }
  state["slots"] = slots;
  json retiring = json::array();
  for (const Retiring& r : retiring_) {
    retiring.push_back({{"pid", r.pid}, {"index", r.index}, {"generation", r.generation}});
  }
  state["retiring"] = retiring;
  for (const int fd : passed) setInherit(fd, true);
  setenv(kStateVariable, state.dump().c_str(), 1);
  notifyStatus("upgrading: re-executing " + exe_path_);
  std::vector<char*> args;
  for (const auto& a : options_.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  execv(exe_path_.c_str(), args.data());
  // Still here: the exec failed; nothing was handed over.
  error = "cannot execute " + exe_path_ + ": " + std::strerror(errno);
  unsetenv(kStateVariable);
  for (const int fd : passed) setInherit(fd, false);
  if (client_fd >= 0) {
    const uint64_t id = control_.adoptConnection(client_fd);
    control_.answer(id, failureAnswer("upgrade failed: " + error));
    error.clear();  // answered
  }
  notifyStatus(servingStatus());
}

void Supervisor::dropTlsSockets() {
  // Workers cannot serve a TLS listener without a context: rather than
  // let them fail to start, stop serving TLS until the next reload.
  for (Slot& slot : slots_) {
    std::erase_if(slot.sockets, [](worker::ListenSocket& s) {
      if (!s.tls) return false;
      logLine("upgrade: no TLS certificate in the config any more: closing tls %s",
              s.address.c_str());
      closeListenSocket(s);
      return true;
    });
  }
}

std::string takeInheritedState() {
  const char* text = std::getenv(kStateVariable);
  if (text == nullptr) return {};
  std::string state = text;
  unsetenv(kStateVariable);  // not for the workers, nor the next exec
  return state;
}

void Supervisor::adopt() {
  json state;
  try {
    state = json::parse(options_.inherited);
    lock_fd_ = state.at("lock_fd").get<int>();
    setInherit(lock_fd_, false);
    options_.cold = false;  // an upgrade never discards the cache
    openCache();
    openStats();
    openRateTable();
    for (const auto& s : state.at("slots")) {
      Slot slot;
      slot.pid = s.at("pid").get<pid_t>();
      slot.generation = s.at("generation").get<unsigned>() & 1u;
      slot.restarts = s.at("restarts").get<unsigned>();
      slot.started_ms = s.at("started_ms").get<int64_t>();
      for (const auto& k : s.at("sockets")) {
        worker::ListenSocket socket;
        socket.udp_fd = k.at("udp").get<int>();
        socket.tcp_fd = k.at("tcp").get<int>();
        socket.tls = k.value("tls", false);
        socket.https = k.value("https", false);
        socket.address = k.at("address").get<std::string>();
        setInherit(socket.udp_fd, false);
        setInherit(socket.tcp_fd, false);
        slot.sockets.push_back(socket);
      }
      if (slot.pid == 0) slot.restart_at_ms = monotonicMs();
      slots_.push_back(std::move(slot));
    }
    for (const auto& r : state.at("retiring")) {
      retire(r.at("pid").get<pid_t>(), r.at("index").get<size_t>(),
             r.at("generation").get<unsigned>() & 1u);
    }
  } catch (const json::exception& e) {
    throw StartupError(std::string("upgrade: the previous image's state is unreadable: ") +
                       e.what());
  }
  const auto& config = loaded_.config;
  control_.adopt(state.value("control_fd", -1), config.control.socket, config.control.group);
  const int client_fd = state.value("client_fd", -1);
  const uint64_t client = client_fd >= 0 ? control_.adoptConnection(client_fd) : 0;
  // The config file may have changed since the last start: apply it too.
  try {
    reconcile(config);
  } catch (const std::exception& e) {
    logLine("upgrade: keeping the running sockets: %s", e.what());
    if (!loaded_.tls) dropTlsSockets();
  }
  logTls();
  publishHeader();
  std::string error;
  if (!startRollout("upgrade", {}, client, error)) {
    logError("upgrade: %s", error.c_str());
    return;
  }
  if (rollout_) {
    json extra = {{"binary", exe_path_},
                  {"old_version", state.value("old_version", "")},
                  {"version", SHOAL_VERSION}};
    rollout_->extra_json = extra.dump();
  }
}

}  // namespace shoal::supervisor
