// The shoalctl binary end to end against a synthetic stats segment and a
// fake supervisor: exit codes, streams and the output of each command.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "tests/unit/cli/test_util.h"

namespace shoal::cli {
namespace {

using nlohmann::json;
using testing_util::FakeSupervisor;

using testing_util::Outcome;
using testing_util::shoalctl;

TEST(Shoalctl, HelpVersionAndBadArguments) {
  Outcome help = shoalctl("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Usage: shoalctl"), std::string::npos);
  Outcome version = shoalctl("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("shoalctl ", 0), 0u);
  for (const char* bad : {"", "bogus", "cache lookup", "cache lookup a. BOGUS", "status extra",
                          "stats --window x", "status --frobnicate", "top --iterations 0"}) {
    Outcome run = shoalctl(bad);
    EXPECT_EQ(run.exit_code, 2) << bad;
    EXPECT_EQ(run.err.rfind("shoalctl: ", 0), 0u) << bad << ": " << run.err;
    EXPECT_NE(run.err.find("Usage:"), std::string::npos) << bad;
    EXPECT_TRUE(run.out.empty()) << bad;
  }
}

TEST(Shoalctl, ConfigThatDoesNotLoad) {
  Outcome run = shoalctl("--config /nonexistent/shoal.toml status");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("/nonexistent/shoal.toml"), std::string::npos) << run.err;
}

using ShoalctlStats = testing_util::StatsFixture;

TEST_F(ShoalctlStats, StatusOfARunningShoal) {
  fillHeader(2);
  Outcome run = shoalctl("--stats " + name_ + " status --interval 0.05");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("shoal 0.1.0 is running: supervisor pid " + std::to_string(getpid())),
            std::string::npos)
      << run.out;
  Outcome j = shoalctl("status --json --interval 0.05 --stats=" + name_);
  EXPECT_EQ(j.exit_code, 0) << j.err;
  const json status = json::parse(j.out);
  EXPECT_EQ(status["running"], true);
  EXPECT_EQ(status["workers"].size(), 2u);
}

TEST_F(ShoalctlStats, StatusAsksTheSupervisorForNegativeTrustAnchors) {
  fillHeader(1);
  // One line each: the fake sends its answers as they are.
  FakeSupervisor server({R"({"ok":true,"anchors":[{"name":"bogus.example.",)"
                         R"("source":"runtime","expires_in_s":3540,"reason":"ticket 42"}]})",
                         R"({"ok":true,"local_root":{"state":"ok","serial":2024052200,)"
                         R"("source":"192.0.2.1:53","age_s":300,"rrsets":2500,"ranges":1450}})"});
  stats::setText(segment_->header().control_socket, server.path().c_str());
  Outcome run = shoalctl("--stats " + name_ + " status --interval 0.05");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("nta         1: bogus.example. (59m 0s left)\n"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("local root  ok: serial 2024052200 from 192.0.2.1:53, loaded 5m 0s ago "
                         "(2500 RRsets, 1450 ranges)\n"),
            std::string::npos)
      << run.out;
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(json::parse(server.requests()[0]), json::parse(R"({"command":"nta.list"})"));
  EXPECT_EQ(json::parse(server.requests()[1]), json::parse(R"({"command":"local_root"})"));
  // Nobody answers there any more: status still works and says why it does not know.
  Outcome j = shoalctl("--stats " + name_ + " --socket /nonexistent/control.sock status --json "
                       "--interval 0.05");
  EXPECT_EQ(j.exit_code, 0) << j.err;
  const json status = json::parse(j.out);
  EXPECT_TRUE(status["negative_trust_anchors"].is_null());
  EXPECT_NE(status["negative_trust_anchors_error"].get<std::string>().find("/nonexistent"),
            std::string::npos);
  EXPECT_TRUE(status["local_root"].is_null());
  EXPECT_NE(status["local_root_error"].get<std::string>().find("/nonexistent"), std::string::npos);
}

TEST_F(ShoalctlStats, StatusWhenTheSupervisorIsGone) {
  fillHeader(1);
  const int32_t dead = testing_util::deadPid();
  segment_->header().supervisor_pid = dead;
  Outcome run = shoalctl("--stats " + name_ + " status");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "shoalctl: shoal is not running (last supervisor pid " + std::to_string(dead) + ")\n");
  Outcome top = shoalctl("--stats " + name_ + " top --iterations 1");
  EXPECT_EQ(top.exit_code, 1);
}

TEST_F(ShoalctlStats, MissingSegment) {
  Outcome run = shoalctl("--stats /shoal-test-cli-nonexistent.stats stats");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("shoal is not running"), std::string::npos) << run.err;
}

TEST_F(ShoalctlStats, StatsHumanAndJson) {
  fillHeader(1);
  for (uint64_t k = 0; k < 5; ++k) writeSample(k);
  segment_->slot(0).counters.queries_udp += 10;
  Outcome run = shoalctl("--stats " + name_ + " stats --window 3");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("last 3s"), std::string::npos) << run.out;
  Outcome j = shoalctl("--stats " + name_ + " --json stats");
  EXPECT_EQ(j.exit_code, 0) << j.err;
  const json stats = json::parse(j.out);
  EXPECT_EQ(stats["queries"]["udp"], 10);
  EXPECT_EQ(stats["window"]["requested_s"], 10);
  EXPECT_EQ(stats["window"]["actual_s"], 4.0);
}

TEST_F(ShoalctlStats, TopPrintsPlainFramesIntoAPipe) {
  fillHeader(1);
  Outcome run = shoalctl("--stats " + name_ + " top --interval 0.05 --iterations 2 --json");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::istringstream lines(run.out);
  std::string line;
  int frames = 0;
  while (std::getline(lines, line)) {
    const json frame = json::parse(line);
    EXPECT_EQ(frame["workers"].size(), 1u);
    ++frames;
  }
  EXPECT_EQ(frames, 2);
  Outcome text = shoalctl("--stats " + name_ + " top --interval 0.05");
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("WORKER"), std::string::npos);
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos);  // no escapes into a pipe
}

TEST(ShoalctlSocket, AnswersAndRefusals) {
  FakeSupervisor server(
      {R"({"ok":true,"name":"example.","subtree":true,"removed":3})",
       R"({"ok":false,"error":"permission denied: uid 1000 is not in group shoal"})",
       R"({"ok":false,"error":"shoal.toml:3: server.workers: must be 1..256"})",
       R"({"ok":true,"pid":7,"version":"0.1.0"})", "garbage"});
  Outcome flush = shoalctl("--socket " + server.path() + " cache flush example. --subtree");
  EXPECT_EQ(flush.exit_code, 0) << flush.err;
  EXPECT_EQ(flush.out, "removed 3 entries for example. and every name below it\n");
  Outcome denied = shoalctl("--socket " + server.path() + " servers");
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_EQ(denied.err, "shoalctl: permission denied: uid 1000 is not in group shoal\n");
  Outcome reload = shoalctl("--socket " + server.path() + " --json reload");
  EXPECT_EQ(reload.exit_code, 1);
  EXPECT_EQ(json::parse(reload.out)["ok"], false);
  EXPECT_NE(reload.err.find("server.workers"), std::string::npos);
  Outcome ping = shoalctl("--socket " + server.path() + " ping --json");
  EXPECT_EQ(ping.exit_code, 0);
  EXPECT_EQ(json::parse(ping.out), json::parse(R"({"ok":true,"pid":7,"version":"0.1.0"})"));
  Outcome garbage = shoalctl("--socket " + server.path() + " ping");
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.err.find("malformed answer"), std::string::npos);
  ASSERT_EQ(server.requests().size(), 5u);
  EXPECT_EQ(json::parse(server.requests()[0]),
            json::parse(R"({"command":"cache.flush","name":"example.","subtree":true})"));
}

TEST(ShoalctlSocket, NegativeTrustAnchors) {
  FakeSupervisor server(
      {R"({"ok":true,"name":"bogus.example.","lifetime_s":7200,"expires_in_s":7200,)"
       R"("reason":"ticket 42","flushed":5,"warnings":[]})",
       R"({"ok":false,"error":"broken.example. is a negative trust anchor of the configuration (dnssec.negative_trust_anchors): remove it there and reload"})",
       R"({"ok":true,"anchors":[]})"});
  Outcome add = shoalctl("--socket " + server.path() +
                         " nta add bogus.example --lifetime 2h --reason 'ticket 42'");
  EXPECT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(add.out, "added negative trust anchor bogus.example. for 2h: flushed 5 cache "
                     "entries below it\n");
  Outcome remove = shoalctl("--socket " + server.path() + " nta remove broken.example.");
  EXPECT_EQ(remove.exit_code, 1);
  EXPECT_NE(remove.err.find("remove it there and reload"), std::string::npos) << remove.err;
  Outcome list = shoalctl("--socket " + server.path() + " nta list --json");
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(json::parse(list.out)["anchors"], json::array());
  ASSERT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(json::parse(server.requests()[0]),
            json::parse(R"({"command":"nta.add","name":"bogus.example","lifetime_s":7200,
                            "reason":"ticket 42"})"));
  for (const char* bad : {"nta add", "nta add x. --lifetime 8d", "nta remove x. --lifetime 1h",
                          "nta frob", "nta list x."}) {
    Outcome run = shoalctl("--socket " + server.path() + " " + bad);
    EXPECT_EQ(run.exit_code, 2) << bad;
    EXPECT_NE(run.err.find("Usage:"), std::string::npos) << bad;
  }
  Outcome down = shoalctl("--socket /nonexistent/control.sock nta list");
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("is shoal running?"), std::string::npos) << down.err;
}

TEST(ShoalctlSocket, Ecs) {
  FakeSupervisor server(
      {R"({"ok":true,"entries":2,"names":1,"ipv4":1,"ipv6":1,"evictions":0,)"
       R"("max_partitions":16,"top":[{"name":"www.geo.com.","type":"A","partitions":2,"hits":5}]})",
       R"({"ok":true,"name":"www.geo.com.","type":"A","max_partitions":16,"global":null,)"
       R"("partitions":[{"prefix":"11.1.0.0/16","scope":16,"kind":"rrset","ttl":55,"hits":5}]})",
       R"({"ok":false,"error":"bad name 'a..b': empty label"})"});
  Outcome summary = shoalctl("--socket " + server.path() + " ecs");
  EXPECT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("www.geo.com.  A              2     5\n"), std::string::npos)
      << summary.out;
  Outcome name = shoalctl("--socket " + server.path() + " ecs www.geo.com a --json");
  EXPECT_EQ(name.exit_code, 0) << name.err;
  EXPECT_EQ(json::parse(name.out)["partitions"][0]["prefix"], "11.1.0.0/16");
  Outcome bad = shoalctl("--socket " + server.path() + " ecs a..b A");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "shoalctl: bad name 'a..b': empty label\n");
  ASSERT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(json::parse(server.requests()[0]), json::parse(R"({"command":"ecs"})"));
  EXPECT_EQ(json::parse(server.requests()[1]),
            json::parse(R"({"command":"ecs","name":"www.geo.com","type":"A"})"));
  for (const char* args : {"ecs www.geo.com", "ecs www.geo.com NOTATYPE", "ecs a. A b",
                           "ecs --subtree"}) {
    Outcome run = shoalctl("--socket " + server.path() + " " + args);
    EXPECT_EQ(run.exit_code, 2) << args;
    EXPECT_EQ(run.err.rfind("shoalctl: ", 0), 0u) << args;
    EXPECT_EQ(run.out, "") << args;
    EXPECT_NE(run.err.find("Usage:"), std::string::npos) << args;
  }
}

TEST(ShoalctlSocket, SupervisorDown) {
  Outcome run = shoalctl("--socket /nonexistent/control.sock reload");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "shoalctl: cannot connect to /nonexistent/control.sock: No such file or directory; "
            "is shoal running?\n");
}

}  // namespace
}  // namespace shoal::cli

namespace shoal::cli {
namespace {

TEST(Targets, TheConfigIsReadOnlyForWhatTheOptionsDoNotName) {
  Invocation inv;
  inv.command = Command::kReload;
  inv.config_path = "/nonexistent/shoal.toml";  // would fail to load
  inv.socket_path = "/tmp/s.sock";
  EXPECT_EQ(resolveTargets(inv).socket_path, "/tmp/s.sock");
  inv.command = Command::kStats;
  EXPECT_THROW(resolveTargets(inv), std::runtime_error);
  inv.stats_name = "/x.stats";
  EXPECT_EQ(resolveTargets(inv).stats_name, "/x.stats");
  // Nothing named: the built-in defaults.
  const Targets defaults = resolveTargets(Invocation{});
  EXPECT_EQ(defaults.socket_path, "/run/shoal/control.sock");
  inv = Invocation{};
  inv.command = Command::kStatus;
  EXPECT_EQ(resolveTargets(inv).stats_name, "/shoal-cache.stats");
}

}  // namespace
}  // namespace shoal::cli
