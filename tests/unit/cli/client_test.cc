#include "cli/client.h"

#include <gtest/gtest.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/cli/test_util.h"

namespace shoal::cli {
namespace {

using testing_util::FakeSupervisor;

std::string errorOf(const std::string& path, int timeout_ms = 2000) {
  try {
    exchange(path, R"({"command":"ping"})", timeout_ms);
  } catch (const ClientError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Client, SendsOneLineAndReadsOneLine) {
  FakeSupervisor server({"{\"ok\":true,\"pid\":1}\ntrailing garbage"});
  EXPECT_EQ(exchange(server.path(), R"({"command":"ping"})", 2000), R"({"ok":true,"pid":1})");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0], R"({"command":"ping"})");
}

TEST(Client, AcceptsAnAnswerEndedByTheClose) {
  FakeSupervisor server({R"({"ok":false,"error":"permission denied: uid 1000"})"});
  EXPECT_EQ(exchange(server.path(), "{}", 2000),
            R"({"ok":false,"error":"permission denied: uid 1000"})");
}

TEST(Client, LongAnswer) {
  const std::string big = "{\"ok\":true,\"x\":\"" + std::string(300'000, 'a') + "\"}\n";
  FakeSupervisor server({big});
  EXPECT_EQ(exchange(server.path(), "{}", 5000).size(), big.size() - 1);
}

TEST(Client, CloseWithoutAnswer) {
  FakeSupervisor server({""});
  EXPECT_NE(errorOf(server.path()).find("closed the connection"), std::string::npos);
}

TEST(Client, TimesOut) {
  FakeSupervisor server({"<hang>"});
  const std::string error = errorOf(server.path(), 200);
  EXPECT_NE(error.find("no answer from shoal on " + server.path()), std::string::npos) << error;
}

TEST(Client, NobodyListening) {
  EXPECT_EQ(errorOf("/nonexistent/control.sock"),
            "cannot connect to /nonexistent/control.sock: No such file or directory; "
            "is shoal running?");
  // A socket file left behind by a dead supervisor.
  const std::string path = "/tmp/shoal-cli-test-" + std::to_string(getpid()) + ".sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  close(fd);
  EXPECT_EQ(errorOf(path), "cannot connect to " + path + ": Connection refused; is shoal running?");
  unlink(path.c_str());
}

TEST(Client, PermissionDeniedOnTheSocket) {
  FakeSupervisor server({"{}"});
  ASSERT_EQ(chmod(server.path().c_str(), 0), 0);
  const std::string expected =
      "permission denied on " + server.path() + ": you must be root or in the control group";
  if (geteuid() != 0) {
    EXPECT_EQ(errorOf(server.path()), expected);
  } else {
    // Root may connect anywhere: try as nobody, in a child.
    const pid_t child = fork();
    if (child == 0) {
      const bool dropped = setgroups(0, nullptr) == 0 && setgid(65534) == 0 && setuid(65534) == 0;
      _exit(dropped && errorOf(server.path()) == expected ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  chmod(server.path().c_str(), 0600);
  exchange(server.path(), "{}", 2000);  // lets the server thread finish
}

TEST(Client, PathTooLong) {
  EXPECT_NE(errorOf("/" + std::string(200, 'x')).find("path too long"), std::string::npos);
}

}  // namespace
}  // namespace shoal::cli
