#include "supervisor/util.h"

#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace shoal::supervisor {

int64_t monotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string describeStatus(int status) {
  char text[96];
  if (WIFSIGNALED(status)) {
    const int signum = WTERMSIG(status);
    std::snprintf(text, sizeof text, "killed by signal %d (%s)%s", signum, strsignal(signum),
                  WCOREDUMP(status) ? ", core dumped" : "");
  } else if (WIFEXITED(status)) {
    std::snprintf(text, sizeof text, "exited with status %d", WEXITSTATUS(status));
  } else {
    std::snprintf(text, sizeof text, "ended (status %#x)", static_cast<unsigned>(status));
  }
  return text;
}

std::string currentExecutable() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return {};
  std::string text(path, static_cast<size_t>(n));
  // Replaced under us already (e.g. by a package upgrade): the path is what
  // an upgrade wants, without the kernel's marker.
  const std::string deleted = " (deleted)";
  if (text.size() > deleted.size() && text.ends_with(deleted)) {
    text.resize(text.size() - deleted.size());
  }
  return text;
}

std::string failureAnswer(const std::string& message) {
  return nlohmann::json{{"ok", false}, {"error", message}}.dump();
}

std::optional<gid_t> groupId(const std::string& name) {
  const group* g = getgrnam(name.c_str());
  if (g == nullptr) return std::nullopt;
  return g->gr_gid;
}

}  // namespace shoal::supervisor
