#include "cli/command_line.h"

#include <ostream>

#include <gtest/gtest.h>

namespace shoal::cli {
namespace {

ParseResult parse(std::vector<std::string> args) { return parseCommandLine(args); }

Invocation parseOk(std::vector<std::string> args) {
  const ParseResult r = parseCommandLine(args);
  EXPECT_TRUE(r.invocation.has_value()) << r.error;
  return r.invocation.value_or(Invocation{});
}

// Every way to earn exit code 2, with the message the operator sees.
struct BadCase {
  std::vector<std::string> args;
  std::string error_part;
};

// How gtest shows a case: the arguments, not the object's bytes.
void PrintTo(const BadCase& c, std::ostream* os) {
  *os << "shoalctl";
  for (const auto& arg : c.args) *os << " " << arg;
}

class BadArguments : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadArguments, AreRefusedWithAReason) {
  const ParseResult r = parse(GetParam().args);
  EXPECT_FALSE(r.invocation.has_value());
  EXPECT_NE(r.error.find(GetParam().error_part), std::string::npos) << r.error;
}

INSTANTIATE_TEST_SUITE_P(
    CommandLine, BadArguments,
    ::testing::Values(
        BadCase{{}, "no command given"},
        BadCase{{"--json"}, "no command given"},
        BadCase{{"bogus"}, "unknown command 'bogus'"},
        BadCase{{"Status"}, "unknown command 'Status'"},
        BadCase{{"status", "--bogus"}, "unknown option '--bogus'"},
        BadCase{{"-x", "status"}, "unknown option '-x'"},
        BadCase{{"status", "--config"}, "option --config needs a value"},
        BadCase{{"status", "--socket"}, "option --socket needs a value"},
        BadCase{{"status", "--stats"}, "option --stats needs a value"},
        BadCase{{"status", "--config="}, "--config needs a non-empty value"},
        BadCase{{"status", "--json=yes"}, "option --json takes no value"},
        BadCase{{"cache"}, "cache: expected lookup, flush or stats"},
        BadCase{{"cache", "purge"}, "unknown subcommand 'purge'"},
        BadCase{{"cache", "lookup"}, "cache lookup: missing NAME"},
        BadCase{{"cache", "lookup", ""}, "cache lookup: missing NAME"},
        BadCase{{"cache", "flush"}, "cache flush: missing NAME"},
        BadCase{{"cache", "lookup", "example.", "FOO"}, "unknown TYPE 'FOO'"},
        BadCase{{"cache", "lookup", "example.", "TYPE65536"}, "unknown TYPE"},
        BadCase{{"cache", "lookup", "example.", "TYPE"}, "unknown TYPE"},
        BadCase{{"cache", "lookup", "example.", "A", "extra"}, "unexpected argument 'extra'"},
        BadCase{{"cache", "flush", "example.", "A"}, "unexpected argument 'A'"},
        BadCase{{"cache", "stats", "x"}, "unexpected argument 'x'"},
        BadCase{{"status", "now"}, "unexpected argument 'now'"},
        BadCase{{"reload", "/etc/shoal.toml"}, "unexpected argument"},
        BadCase{{"status", "--interval", "abc"}, "--interval: expected seconds"},
        BadCase{{"status", "--interval", "0"}, "--interval"},
        BadCase{{"status", "--interval", "-1"}, "--interval"},
        BadCase{{"status", "--interval", "nan"}, "--interval"},
        BadCase{{"status", "--interval", "1e3"}, "--interval"},
        BadCase{{"top", "--interval", "3601"}, "--interval"},
        BadCase{{"top", "--iterations", "0"}, "--iterations: expected a positive"},
        BadCase{{"top", "--iterations", "-3"}, "--iterations"},
        BadCase{{"top", "--iterations", "1.5"}, "--iterations"},
        BadCase{{"top", "--iterations", "x"}, "--iterations"},
        BadCase{{"top", "--iterations", "99999999999999999999999"}, "--iterations"},
        BadCase{{"stats", "--window", "0"}, "--window: expected whole seconds between 1 and 599"},
        BadCase{{"stats", "--window", "600"}, "--window"},
        BadCase{{"stats", "--window", "10s"}, "--window"},
        BadCase{{"stats", "--window="}, "--window"},
        BadCase{{"status", "--window", "5"}, "option --window does not apply to 'status'"},
        BadCase{{"stats", "--interval", "1"}, "option --interval does not apply to 'stats'"},
        BadCase{{"status", "--iterations", "2"}, "option --iterations does not apply"},
        BadCase{{"cache", "lookup", "a.", "--subtree"},
                "option --subtree does not apply to 'cache lookup'"},
        BadCase{{"cache", "flush", "a.", "--stripes"},
                "option --stripes does not apply to 'cache flush'"},
        BadCase{{"servers", "--subtree"}, "does not apply to 'servers'"},
        BadCase{{"ecs", "www.geo.com"}, "ecs: missing TYPE after NAME"},
        BadCase{{"ecs", ""}, "ecs: missing NAME"},
        BadCase{{"ecs", "", "A"}, "ecs: missing NAME"},
        BadCase{{"ecs", "www.geo.com", "FOO"}, "ecs: unknown TYPE 'FOO'"},
        BadCase{{"ecs", "www.geo.com", "TYPE65536"}, "ecs: unknown TYPE"},
        BadCase{{"ecs", "www.geo.com", "A", "extra"}, "unexpected argument 'extra'"},
        BadCase{{"ecs", "--subtree"}, "option --subtree does not apply to 'ecs'"},
        BadCase{{"ecs", "www.geo.com", "A", "--stripes"}, "option --stripes does not apply"},
        BadCase{{"nta"}, "nta: expected add, remove or list"},
        BadCase{{"nta", "show"}, "nta: unknown subcommand 'show'"},
        BadCase{{"nta", "add"}, "nta add: missing NAME"},
        BadCase{{"nta", "add", ""}, "nta add: missing NAME"},
        BadCase{{"nta", "remove"}, "nta remove: missing NAME"},
        BadCase{{"nta", "add", "a.", "b."}, "unexpected argument 'b.'"},
        BadCase{{"nta", "list", "a."}, "unexpected argument 'a.'"},
        BadCase{{"nta", "add", "a.", "--lifetime"}, "option --lifetime needs a value"},
        BadCase{{"nta", "add", "a.", "--lifetime", "8d"}, "--lifetime: expected a duration"},
        BadCase{{"nta", "add", "a.", "--lifetime", "0s"}, "--lifetime"},
        BadCase{{"nta", "add", "a.", "--lifetime", "3600"}, "--lifetime"},
        BadCase{{"nta", "add", "a.", "--lifetime", "1500ms"}, "--lifetime"},
        BadCase{{"nta", "add", "a.", "--lifetime", "-1h"}, "--lifetime"},
        BadCase{{"nta", "add", "a.", "--lifetime", "169h"}, "--lifetime"},
        BadCase{{"nta", "add", "a.", "--lifetime", "1w"}, "--lifetime"},
        BadCase{{"nta", "add", "a.", "--reason", std::string(257, 'x')},
                "--reason: at most 256 octets"},
        BadCase{{"nta", "add", "a.", "--reason", "two\nlines"}, "--reason: no control"},
        BadCase{{"nta", "remove", "a.", "--lifetime", "1h"},
                "option --lifetime does not apply to 'nta remove'"},
        BadCase{{"nta", "list", "--reason", "x"}, "option --reason does not apply to 'nta list'"}),
    // Readable test names: "case_7", not the object's bytes.
    [](const ::testing::TestParamInfo<BadCase>& param) {
      return "case_" + std::to_string(param.index);
    });

TEST(CommandLine, GlobalOptionsGoBeforeOrAfterTheCommand) {
  const Invocation before = parseOk({"--json", "--socket", "/tmp/s", "stats"});
  const Invocation after = parseOk({"stats", "--json", "--socket=/tmp/s"});
  for (const Invocation& inv : {before, after}) {
    EXPECT_EQ(inv.command, Command::kStats);
    EXPECT_TRUE(inv.json);
    EXPECT_EQ(inv.socket_path, "/tmp/s");
    EXPECT_EQ(inv.window_s, 10u);
  }
}

TEST(CommandLine, ConfigSocketAndStatsTogether) {
  const Invocation inv =
      parseOk({"--config", "/etc/shoal.toml", "--socket", "/s", "--stats", "/x.stats", "status"});
  EXPECT_EQ(inv.config_path, "/etc/shoal.toml");
  EXPECT_EQ(inv.socket_path, "/s");
  EXPECT_EQ(inv.stats_name, "/x.stats");
  EXPECT_FALSE(inv.interval_s.has_value());
}

TEST(CommandLine, CommandOptions) {
  EXPECT_EQ(parseOk({"stats", "--window", "30"}).window_s, 30u);
  EXPECT_EQ(parseOk({"stats", "--window=599"}).window_s, 599u);
  EXPECT_DOUBLE_EQ(parseOk({"status", "--interval", "0.25"}).interval_s.value_or(0), 0.25);
  const Invocation top = parseOk({"top", "--interval=2", "--iterations", "3"});
  EXPECT_EQ(top.command, Command::kTop);
  EXPECT_DOUBLE_EQ(top.interval_s.value_or(0), 2);
  EXPECT_EQ(top.iterations, 3u);
  EXPECT_TRUE(parseOk({"cache", "stats", "--stripes"}).stripes);
}

TEST(CommandLine, CacheCommands) {
  const Invocation lookup = parseOk({"cache", "lookup", "www.example.", "aaaa"});
  EXPECT_EQ(lookup.command, Command::kCacheLookup);
  EXPECT_EQ(lookup.name, "www.example.");
  EXPECT_EQ(lookup.type, "AAAA");
  EXPECT_EQ(parseOk({"cache", "lookup", "www.example."}).type, "");
  const Invocation flush = parseOk({"cache", "flush", "example.", "--subtree"});
  EXPECT_EQ(flush.command, Command::kCacheFlush);
  EXPECT_TRUE(flush.subtree);
  EXPECT_FALSE(parseOk({"cache", "flush", "example."}).subtree);
  EXPECT_EQ(parseOk({"cache", "stats"}).command, Command::kCacheStats);
}

TEST(CommandLine, EcsCommand) {
  const Invocation summary = parseOk({"ecs"});
  EXPECT_EQ(summary.command, Command::kEcs);
  EXPECT_TRUE(summary.name.empty());
  EXPECT_TRUE(summary.type.empty());
  const Invocation name = parseOk({"ecs", "www.geo.com", "aaaa", "--json"});
  EXPECT_EQ(name.command, Command::kEcs);
  EXPECT_EQ(name.name, "www.geo.com");
  EXPECT_EQ(name.type, "AAAA");
  EXPECT_TRUE(name.json);
  EXPECT_EQ(parseOk({"--json", "ecs", "geo.com.", "type65"}).type, "TYPE65");
  EXPECT_EQ(parseOk({"ecs", "--", "-odd.geo.com", "A"}).name, "-odd.geo.com");
  EXPECT_NE(usage().find("ecs [NAME TYPE]"), std::string_view::npos);
}

TEST(CommandLine, NtaCommands) {
  const Invocation add = parseOk({"nta", "add", "bogus.example", "--lifetime", "2h", "--reason",
                                  "broken rollover, ticket 42"});
  EXPECT_EQ(add.command, Command::kNtaAdd);
  EXPECT_EQ(add.name, "bogus.example");
  EXPECT_EQ(add.lifetime_s, 7200u);
  EXPECT_EQ(add.reason, "broken rollover, ticket 42");
  const Invocation plain = parseOk({"nta", "add", "bogus.example", "--json"});
  EXPECT_FALSE(plain.lifetime_s.has_value());  // the supervisor's default
  EXPECT_TRUE(plain.reason.empty());
  EXPECT_TRUE(plain.json);
  const Invocation remove = parseOk({"nta", "remove", "bogus.example."});
  EXPECT_EQ(remove.command, Command::kNtaRemove);
  EXPECT_EQ(remove.name, "bogus.example.");
  EXPECT_EQ(parseOk({"nta", "list"}).command, Command::kNtaList);
  EXPECT_EQ(parseOk({"--lifetime=7d", "nta", "add", "x."}).lifetime_s, 7u * 86400);
}

TEST(CommandLine, Lifetimes) {
  EXPECT_EQ(parseLifetime("1s"), 1u);
  EXPECT_EQ(parseLifetime("90s"), 90u);
  EXPECT_EQ(parseLifetime("30m"), 1800u);
  EXPECT_EQ(parseLifetime("2h"), 7200u);
  EXPECT_EQ(parseLifetime("168h"), 604800u);
  EXPECT_EQ(parseLifetime("1d"), 86400u);
  EXPECT_EQ(parseLifetime("7d"), 604800u);
  EXPECT_EQ(parseLifetime("2000ms"), 2u);
  for (const char* bad : {"", "d", "0d", "8d", "169h", "604801s", "1.5h", "h", "10", "1 h",
                          "99999999999999999999d", "1500ms", "-1d", "1D"}) {
    EXPECT_EQ(parseLifetime(bad), std::nullopt) << bad;
  }
}

TEST(CommandLine, DoubleDashEndsOptions) {
  const Invocation inv = parseOk({"cache", "flush", "--", "-odd.example."});
  EXPECT_EQ(inv.name, "-odd.example.");
}

TEST(CommandLine, EverySimpleCommand) {
  EXPECT_EQ(parseOk({"ping"}).command, Command::kPing);
  EXPECT_EQ(parseOk({"status"}).command, Command::kStatus);
  EXPECT_EQ(parseOk({"top"}).command, Command::kTop);
  EXPECT_EQ(parseOk({"servers"}).command, Command::kServers);
  EXPECT_EQ(parseOk({"reload"}).command, Command::kReload);
  EXPECT_EQ(parseOk({"restart"}).command, Command::kRestart);
  EXPECT_EQ(parseOk({"upgrade"}).command, Command::kUpgrade);
}

TEST(CommandLine, HelpAndVersionWinOverTheRest) {
  EXPECT_EQ(parseOk({"--help"}).command, Command::kHelp);
  EXPECT_EQ(parseOk({"-h"}).command, Command::kHelp);
  EXPECT_EQ(parseOk({"bogus", "--help"}).command, Command::kHelp);
  EXPECT_EQ(parseOk({"--version"}).command, Command::kVersion);
  EXPECT_NE(usage().find("Usage: shoalctl"), std::string_view::npos);
}

TEST(CommandLine, LastOfARepeatedOptionWins) {
  EXPECT_EQ(parseOk({"stats", "--window", "5", "--window", "7"}).window_s, 7u);
}

TEST(CommandLine, TypeNames) {
  EXPECT_EQ(normalizeType("a"), "A");
  EXPECT_EQ(normalizeType("Nsec3param"), "NSEC3PARAM");
  EXPECT_EQ(normalizeType("type65"), "TYPE65");
  EXPECT_EQ(normalizeType("TYPE0"), "TYPE0");
  EXPECT_EQ(normalizeType("TYPE65535"), "TYPE65535");
  EXPECT_EQ(normalizeType("TYPE65536"), std::nullopt);
  EXPECT_EQ(normalizeType("TYPE-1"), std::nullopt);
  EXPECT_EQ(normalizeType(""), std::nullopt);
  EXPECT_EQ(normalizeType("AAAAA"), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(
    Probe, BadArguments,
    ::testing::Values(
        BadCase{{"probe"}, "probe: missing NAME"},
        BadCase{{"probe", ""}, "probe: missing NAME"},
        BadCase{{"probe", "a..b"}, "probe: bad NAME 'a..b'"},
        BadCase{{"probe", std::string(64, 'x') + ".com"}, "label longer than 63 octets"},
        BadCase{{"probe", "www.example.com", "FOO"}, "probe: unknown TYPE 'FOO'"},
        BadCase{{"probe", "www.example.com", "A", "extra"}, "unexpected argument 'extra'"},
        BadCase{{"probe", "x.", "--count", "0"}, "--count: expected a whole number"},
        BadCase{{"probe", "x.", "--count", "100001"}, "from 1 to 100000"},
        BadCase{{"probe", "x.", "--count", "1.5"}, "--count"},
        BadCase{{"probe", "x.", "--count"}, "option --count needs a value"},
        BadCase{{"probe", "x.", "--interval", "0"}, "--interval: expected a duration from 1ms"},
        BadCase{{"probe", "x.", "--interval", "0.0001"}, "--interval"},
        BadCase{{"probe", "x.", "--interval", "61m"}, "--interval"},
        BadCase{{"probe", "x.", "--interval", "1d"}, "--interval: expected seconds"},
        BadCase{{"probe", "x.", "--interval", "1.5s"}, "--interval"},
        BadCase{{"probe", "x.", "--timeout", "0ms"}, "--timeout: expected a duration"},
        BadCase{{"probe", "x.", "--timeout", "2m"}, "--timeout"},
        BadCase{{"probe", "x.", "--timeout", "later"}, "--timeout"},
        BadCase{{"probe", "x.", "--server", "example.net"}, "--server: expected an IP address"},
        BadCase{{"probe", "x.", "--server", "127.0.0.1:65536"}, "--server"},
        BadCase{{"probe", "x.", "--server", "127.0.0.1:0"}, "--server"},
        BadCase{{"probe", "x.", "--server", "[::1"}, "--server"},
        BadCase{{"probe", "x.", "--tcp=yes"}, "option --tcp takes no value"},
        BadCase{{"status", "--tcp"}, "option --tcp does not apply to 'status'"},
        BadCase{{"top", "--count", "3"}, "option --count does not apply to 'top'"},
        BadCase{{"status", "--interval", "10ms"}, "--interval: expected seconds between 0.05"},
        BadCase{{"probe", "x.", "--subtree"}, "option --subtree does not apply to 'probe'"}),
    [](const ::testing::TestParamInfo<BadCase>& param) {
      return "case_" + std::to_string(param.index);
    });

TEST(CommandLine, ProbeDefaults) {
  const Invocation inv = parseOk({"probe", "www.example.com"});
  EXPECT_EQ(inv.command, Command::kProbe);
  EXPECT_EQ(inv.name, "www.example.com");
  EXPECT_EQ(inv.type, "A");
  EXPECT_EQ(inv.count, 10u);
  EXPECT_FALSE(inv.interval_s.has_value());  // 1 s, the probe's default
  EXPECT_DOUBLE_EQ(inv.timeout_s, 5);
  EXPECT_FALSE(inv.server.has_value());
  EXPECT_FALSE(inv.tcp);
}

TEST(CommandLine, ProbeOptions) {
  const Invocation inv =
      parseOk({"--json", "probe", "Example.COM.", "aaaa", "--count", "100000", "--interval",
               "200ms", "--timeout=0.5", "--server", "[::1]:5353", "--tcp"});
  EXPECT_EQ(inv.name, "Example.COM.");
  EXPECT_EQ(inv.type, "AAAA");
  EXPECT_EQ(inv.count, 100000u);
  EXPECT_DOUBLE_EQ(inv.interval_s.value_or(0), 0.2);
  EXPECT_DOUBLE_EQ(inv.timeout_s, 0.5);
  ASSERT_TRUE(inv.server.has_value());
  EXPECT_EQ(inv.server->toString(), "[::1]:5353");
  EXPECT_TRUE(inv.tcp);
  EXPECT_TRUE(inv.json);
  // a bare address gets port 53; the root and TYPEnnn are fine
  EXPECT_EQ(parseOk({"probe", ".", "--server", "192.0.2.53"}).server->toString(),
            "192.0.2.53:53");
  EXPECT_EQ(parseOk({"probe", ".", "--server", "2001:db8::53"}).server->toString(),
            "[2001:db8::53]:53");
  EXPECT_EQ(parseOk({"probe", ".", "--server", "[::1]"}).server->toString(), "[::1]:53");
  EXPECT_EQ(parseOk({"probe", ".", "type65"}).type, "TYPE65");
  // a NAME starting with "-" after "--"
  EXPECT_EQ(parseOk({"probe", "--count", "1", "--", "-x.example"}).name, "-x.example");
  EXPECT_DOUBLE_EQ(parseOk({"probe", "x.", "--interval", "1ms"}).interval_s.value_or(0), 0.001);
  EXPECT_DOUBLE_EQ(parseOk({"probe", "x.", "--timeout", "60s"}).timeout_s, 60);
}

TEST(CommandLine, IntervalTakesSecondsOrADuration) {
  EXPECT_DOUBLE_EQ(parseOk({"top", "--interval", "250ms"}).interval_s.value_or(0), 0.25);
  EXPECT_DOUBLE_EQ(parseOk({"status", "--interval", "2s"}).interval_s.value_or(0), 2);
  EXPECT_DOUBLE_EQ(parseOk({"top", "--interval", "1h"}).interval_s.value_or(0), 3600);
  EXPECT_EQ(parseTime("1m"), 60);
  EXPECT_EQ(parseTime("0.5"), 0.5);
  EXPECT_EQ(parseTime("1.5s"), std::nullopt);
  EXPECT_EQ(parseTime("-1"), std::nullopt);
  EXPECT_EQ(parseTime(""), std::nullopt);
}

}  // namespace
}  // namespace shoal::cli
