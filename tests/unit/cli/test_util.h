#pragma once
// Helpers for the shoalctl tests: a synthetic stats segment per test
// (removed at the end) and a fake supervisor on a Unix socket that answers
// one request per connection with canned lines.

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "stats/stats.h"

namespace shoal::cli::testing_util {

/// What a shoalctl run left: its exit code and its streams.
struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs shoalctl with `args` (shell words), stdin and stdout not terminals.
/// `prefix`: shell commands run first, in the same shell ("ulimit -n 64;").
inline Outcome shoalctl(const std::string& args, const std::string& prefix = "") {
  const std::string out = "/tmp/shoalctl-test-" + std::to_string(getpid()) + ".out";
  const std::string err = "/tmp/shoalctl-test-" + std::to_string(getpid()) + ".err";
  const std::string command =
      prefix + std::string(SHOALCTL_PATH) + " " + args + " </dev/null >" + out + " 2>" + err;
  const int status = std::system(command.c_str());
  Outcome run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = slurp(out);
  run.err = slurp(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return run;
}

inline std::string uniqueName(const std::string& what) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "/shoal-test-cli-" + std::to_string(getpid()) + "-" + info->name() + what;
}

/// A pid that is surely not alive: a child that exited and was reaped.
inline int32_t deadPid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return child;
}

/// A fresh, writable stats segment, unlinked when the test ends.
class StatsFixture : public ::testing::Test {
 protected:
  void SetUp() override { segment_ = stats::Segment::create(name_, false, 0600, static_cast<gid_t>(-1)); }
  void TearDown() override {
    segment_.reset();
    shm_unlink(name_.c_str());
  }

  /// A running supervisor (this process) with `workers` ready workers, each
  /// a live process (this one).
  void fillHeader(unsigned workers) {
    stats::Header& h = segment_->header();
    h.supervisor_pid = getpid();
    h.workers = workers;
    h.started_ms = 1'000'000;
    stats::setText(h.version_text, "0.1.0");
    stats::setText(h.config_path, "/etc/shoal/shoal.toml");
    stats::setText(h.cache_name, "/shoal-cache");
    stats::setText(h.control_socket, "/run/shoal/control.sock");
    h.cache_size = 64u << 20;
    h.cache_entries = 1234;
    h.cache_bytes = 16u << 20;
    h.cache_capacity = 64u << 20;
    for (unsigned i = 0; i < workers; ++i) {
      stats::ProcessSlot& slot = segment_->slot(2 * i);
      slot.pid = getpid();
      slot.state = static_cast<uint32_t>(stats::WorkerState::kReady);
      slot.worker = i;
      slot.restarts = i;
      slot.started_ms = 2'000'000;
    }
  }

  /// Writes sample number `k` of a steady load: 100 queries a second, 80%
  /// hits, 10 upstream queries a second, 1 of them lost.
  void writeSample(uint64_t k) {
    stats::Sample& s = segment_->header().samples[k % stats::kSamples];
    s.at_ms = static_cast<int64_t>(5'000'000 + 1000 * k);
    s.queries = 100 * k;
    s.cache_hits = 80 * k;
    s.cache_misses = 20 * k;
    s.upstream_queries = 10 * k;
    s.upstream_timeouts = k;
    segment_->header().sample_seq = k + 1;
  }

  std::string name_ = uniqueName(".stats");
  std::unique_ptr<stats::Segment> segment_;
};

/// A Unix socket server on its own thread: for each connection it reads
/// one line into `requests`, then writes the next canned answer (as is)
/// and closes. An answer of "" closes without answering; "<hang>" waits
/// until the server is destroyed.
class FakeSupervisor {
 public:
  explicit FakeSupervisor(std::vector<std::string> answers) : answers_(std::move(answers)) {
    char dir[] = "/tmp/shoal-cli-test-XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/control.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    if (pipe(stop_) != 0) ADD_FAILURE() << "pipe";
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeSupervisor() {
    (void)!write(stop_[1], "x", 1);
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
    close(stop_[0]);
    close(stop_[1]);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  FakeSupervisor(const FakeSupervisor&) = delete;
  FakeSupervisor& operator=(const FakeSupervisor&) = delete;

  const std::string& path() const { return path_; }
  /// Read after the client finished (the thread wrote it before answering).
  const std::vector<std::string>& requests() const { return requests_; }

 private:
  void serve() {
    for (const std::string& answer : answers_) {
      const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      std::string line;
      char c = 0;
      while (read(client, &c, 1) == 1 && c != '\n') line += c;
      requests_.push_back(line);
      if (answer == "<hang>") {
        (void)!read(stop_[0], &c, 1);
      } else if (!answer.empty()) {
        (void)!write(client, answer.data(), answer.size());
      }
      close(client);
    }
  }

  std::vector<std::string> answers_;
  std::string dir_, path_;
  int fd_ = -1;
  int stop_[2] = {-1, -1};
  std::vector<std::string> requests_;
  std::thread thread_;
};

}  // namespace shoal::cli::testing_util
