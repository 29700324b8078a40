#include "localroot/runner.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "resolver/builtin_roots.h"

namespace shoal::localroot {
namespace {

constexpr int64_t kStart = 1'700'000'000;

base::SocketAddress address(std::string_view text) {
  return *base::SocketAddress::parse(text, 53);
}

/// What one fake source does.
struct FakeSource {
  bool answers = true;         // SOA queries and transfers get through
  uint32_t serial = 100;       // its zone's serial
  bool verifies = true;        // its zone passes verification
  bool ixfr_verifies = true;   // a zone it gives by IXFR passes verification
};

/// Records in a fake zone: a full transfer, or differences applied.
constexpr size_t kFullRecords = 3;
constexpr size_t kIncrementalRecords = 4;

/// Sources, verification and the cache, faked; the clock is the test's.
class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() {
    sources_[address("192.0.2.1")] = {};
    sources_[address("192.0.2.2")] = {};
  }

  Runner make(int64_t refresh_min_s = 60) {
    RunnerOptions options;
    options.sources = {address("192.0.2.1"), address("192.0.2.2")};
    options.refresh_min_s = refresh_min_s;
    RunnerHooks hooks;
    hooks.query_serial = [this](const base::SocketAddress& s) {
      ++soa_queries_;
      const FakeSource& source = sources_.at(s);
      return source.answers ? SerialResult{source.serial, {}}
                            : SerialResult{std::nullopt, "timed out"};
    };
    hooks.transfer = [this](const base::SocketAddress& s, const ZoneData* current) {
      transfers_.push_back(s.toString());
      bases_.push_back(current == nullptr ? 0 : current->records.size());
      const FakeSource& source = sources_.at(s);
      if (!source.answers) return TransferResult{std::nullopt, "connection refused", "AXFR"};
      ZoneData zone;
      zone.source = s.toString();
      zone.records.resize(current != nullptr ? kIncrementalRecords : kFullRecords);
      transferred_[zone.source] = source;  // what the fake verifier sees
      if (current != nullptr) return TransferResult{std::move(zone), {}, "IXFR (1 step)", true};
      return TransferResult{std::move(zone), {}, "AXFR"};
    };
    hooks.verify = [this](const ZoneData& data, int64_t now_s) {
      const FakeSource& source = transferred_.at(data.source);
      if (!source.verifies) return VerifyResult{std::nullopt, "ZONEMD digest mismatch"};
      if (data.records.size() == kIncrementalRecords && !source.ixfr_verifies) {
        return VerifyResult{std::nullopt, "ZONEMD digest mismatch after IXFR"};
      }
      VerifiedZone zone;
      zone.soa = {source.serial, 1800, 900, 7200, 86400};
      zone.valid_until = valid_until_ ? valid_until_ : now_s + 30 * 86400;
      zone.source = data.source;
      return VerifyResult{std::move(zone), {}};
    };
    hooks.load = [this](const VerifiedZone& zone, int64_t) {
      loads_.push_back(zone.soa.serial);
      LoadReport report;
      report.rrsets = 10;
      report.shortest_ttl = shortest_ttl_;
      return report;
    };
    hooks.log = [this](const std::string& line) { log_ += line + "\n"; };
    hooks.report = [this](const Status& status) { reports_.push_back(status.state); };
    return Runner(std::move(options), std::move(hooks));
  }

  FakeSource& source(std::string_view text) { return sources_.at(address(text)); }
  bool logged(const std::string& text) const { return log_.find(text) != std::string::npos; }

  struct Less {
    bool operator()(const base::SocketAddress& a, const base::SocketAddress& b) const {
      return a.toString() < b.toString();
    }
  };
  std::map<base::SocketAddress, FakeSource, Less> sources_;
  std::map<std::string, FakeSource> transferred_;
  std::vector<std::string> transfers_;
  std::vector<size_t> bases_;  // per transfer: records of the zone given as base (0: none)
  std::vector<uint32_t> loads_;
  std::vector<State> reports_;
  std::string log_;
  int soa_queries_ = 0;
  uint32_t shortest_ttl_ = 86400;
  int64_t valid_until_ = 0;
};

TEST_F(RunnerTest, FirstTransferFromTheFirstSourceThatVerifies) {
  source("192.0.2.1").verifies = false;
  Runner runner = make();
  const int64_t next = runner.tick(kStart);
  const Status& s = runner.status();
  EXPECT_EQ(s.state, State::kOk);
  EXPECT_EQ(s.serial, 100u);
  EXPECT_EQ(s.source, "192.0.2.2:53");
  EXPECT_EQ(s.loaded_at, kStart);
  EXPECT_EQ(s.last_attempt, kStart);
  EXPECT_EQ(s.last_error, "");
  EXPECT_EQ(transfers_, (std::vector<std::string>{"192.0.2.1:53", "192.0.2.2:53"}));
  EXPECT_EQ(loads_, (std::vector<uint32_t>{100}));
  EXPECT_TRUE(logged("the copy of . from 192.0.2.1:53 (3 records, AXFR) is not used: "
                     "ZONEMD digest mismatch"))
      << log_;
  EXPECT_TRUE(logged("serial 100 from 192.0.2.2:53 in use")) << log_;
  EXPECT_EQ(next, kStart + 1800);  // the SOA refresh
  EXPECT_EQ(s.next_attempt, next);
  EXPECT_EQ(reports_.front(), State::kLoading);  // said before the transfer
  EXPECT_EQ(reports_.back(), State::kOk);
  // Nothing before it is due.
  EXPECT_EQ(runner.tick(kStart + 100), next);
  EXPECT_EQ(transfers_.size(), 2u);
}

TEST_F(RunnerTest, NoSourceAnswersThenOneDoes) {
  source("192.0.2.1").answers = false;
  source("192.0.2.2").answers = false;
  Runner runner = make();
  const int64_t next = runner.tick(kStart);
  EXPECT_EQ(runner.status().state, State::kFailed);
  EXPECT_FALSE(runner.status().serial);
  EXPECT_EQ(runner.status().last_error,
            "192.0.2.1:53: connection refused; 192.0.2.2:53: connection refused");
  EXPECT_EQ(next, kStart + Runner::kRetryWithoutZoneS);
  EXPECT_TRUE(logged("no usable copy of . (192.0.2.1:53: connection refused; 192.0.2.2:53: "
                     "connection refused); resolving from the root servers by iteration"))
      << log_;
  EXPECT_TRUE(loads_.empty());
  source("192.0.2.2").answers = true;
  runner.tick(next);
  EXPECT_EQ(runner.status().state, State::kOk);
  EXPECT_EQ(runner.status().last_error, "");
  EXPECT_TRUE(logged("no longer iterating from the root servers")) << log_;
}

TEST_F(RunnerTest, RefreshWithTheSameSerialReloads) {
  Runner runner = make();
  int64_t at = runner.tick(kStart);
  at = runner.tick(at);
  EXPECT_EQ(transfers_.size(), 1u);  // no new transfer
  EXPECT_EQ(soa_queries_, 1);        // the first source answered
  EXPECT_EQ(loads_, (std::vector<uint32_t>{100, 100}));  // but loaded again
  EXPECT_EQ(runner.status().refreshed_at, kStart + 1800);
  EXPECT_EQ(runner.status().loaded_at, kStart);
  EXPECT_EQ(at, kStart + 3600);
}

TEST_F(RunnerTest, ReloadsComeBeforeHalfTheShortestLifetime) {
  shortest_ttl_ = 600;  // e.g. cache.max_negative_ttl = 600
  Runner runner = make();
  EXPECT_EQ(runner.tick(kStart), kStart + 300);
}

TEST_F(RunnerTest, RefreshMinIsAFloor) {
  shortest_ttl_ = 10;
  Runner runner = make(/*refresh_min_s=*/120);
  EXPECT_EQ(runner.tick(kStart), kStart + 120);
}

TEST_F(RunnerTest, NewerSerialIsTransferredFromItsSourceFirst) {
  Runner runner = make();
  int64_t at = runner.tick(kStart);
  source("192.0.2.2").serial = 101;
  source("192.0.2.1").answers = false;  // the SOA comes from .2
  at = runner.tick(at);
  EXPECT_EQ(transfers_, (std::vector<std::string>{"192.0.2.1:53", "192.0.2.2:53"}));
  EXPECT_EQ(runner.status().serial, 101u);
  EXPECT_EQ(runner.status().source, "192.0.2.2:53");
  EXPECT_EQ(loads_, (std::vector<uint32_t>{100, 101}));
  EXPECT_TRUE(logged("serial 101 at 192.0.2.2:53 is newer than 100: transferring")) << log_;
}

TEST_F(RunnerTest, ARefreshTransfersByIxfrFromTheZoneHeld) {
  Runner runner = make();
  int64_t at = runner.tick(kStart);
  source("192.0.2.1").serial = 101;
  at = runner.tick(at);
  source("192.0.2.1").serial = 102;
  runner.tick(at);
  // The first transfer has no base; each later one starts from the
  // records of the one before (the IXFR result the second time).
  EXPECT_EQ(bases_, (std::vector<size_t>{0, kFullRecords, kIncrementalRecords}));
  EXPECT_EQ(runner.status().serial, 102u);
  EXPECT_EQ(runner.status().transfer, "IXFR (1 step)");
  EXPECT_TRUE(logged("serial 101 from 192.0.2.1:53 verified (4 records, IXFR (1 step); ZONEMD "
                     "digest and DNSSEC)"))
      << log_;
}

TEST_F(RunnerTest, AnIxfrResultThatFailsVerificationIsFetchedWhole) {
  Runner runner = make();
  int64_t at = runner.tick(kStart);
  source("192.0.2.1").serial = 101;
  source("192.0.2.1").ixfr_verifies = false;
  runner.tick(at);
  EXPECT_EQ(transfers_, (std::vector<std::string>{"192.0.2.1:53", "192.0.2.1:53", "192.0.2.1:53"}));
  EXPECT_EQ(bases_, (std::vector<size_t>{0, kFullRecords, 0}));
  EXPECT_EQ(runner.status().state, State::kOk);
  EXPECT_EQ(runner.status().serial, 101u);
  EXPECT_EQ(runner.status().transfer, "AXFR");
  EXPECT_TRUE(logged("(4 records, IXFR (1 step)) is not used: ZONEMD digest mismatch after IXFR"))
      << log_;
  EXPECT_TRUE(logged("transferring the whole zone from 192.0.2.1:53")) << log_;
}

TEST_F(RunnerTest, SerialArithmeticWraps) {
  source("192.0.2.1").serial = 0xfffffff0u;
  Runner runner = make();
  int64_t at = runner.tick(kStart);
  // 0x80000001 ahead modulo 2^32, that is 2^31 - 1 behind: older.
  source("192.0.2.1").serial = 0x7ffffff1u;
  at = runner.tick(at);
  EXPECT_EQ(transfers_.size(), 1u);
  EXPECT_EQ(runner.status().serial, 0xfffffff0u);
  source("192.0.2.1").serial = 5;  // wrapped past zero: ahead by 21
  runner.tick(at);
  EXPECT_EQ(transfers_.size(), 2u);
  EXPECT_EQ(runner.status().serial, 5u);
}

TEST_F(RunnerTest, ANewerZoneThatFailsKeepsTheOldOne) {
  Runner runner = make();
  int64_t at = runner.tick(kStart);
  source("192.0.2.1").serial = 101;
  source("192.0.2.1").verifies = false;
  source("192.0.2.2").serial = 101;
  source("192.0.2.2").verifies = false;
  const int64_t next = runner.tick(at);
  EXPECT_EQ(runner.status().state, State::kOk);
  EXPECT_EQ(runner.status().serial, 100u);
  EXPECT_NE(runner.status().last_error.find("ZONEMD digest mismatch"), std::string::npos);
  EXPECT_EQ(next, at + 900);  // the SOA retry
  EXPECT_EQ(loads_, (std::vector<uint32_t>{100, 100}));  // still kept alive
  EXPECT_TRUE(logged("refresh failed")) << log_;
}

TEST_F(RunnerTest, ExpiresWithoutAGoodRefreshThenRecovers) {
  Runner runner = make();
  int64_t at = runner.tick(kStart);  // SOA expire is 7200 in the fake zone
  source("192.0.2.1").answers = false;
  source("192.0.2.2").answers = false;
  while (runner.status().state == State::kOk) {
    ASSERT_LT(at, kStart + 7200 + 900);
    at = runner.tick(at);
  }
  EXPECT_EQ(runner.status().state, State::kExpired);
  EXPECT_GE(at - 900, kStart + 7200);
  EXPECT_TRUE(logged("SOA expire 7200 s")) << log_;
  const size_t loads = loads_.size();
  at = runner.tick(at);  // still nothing: no reload of the stale zone
  EXPECT_EQ(runner.status().state, State::kExpired);
  EXPECT_EQ(loads_.size(), loads);
  EXPECT_NE(runner.status().last_error.find("connection refused"), std::string::npos);
  source("192.0.2.1").answers = true;  // back: a full transfer, in use again
  runner.tick(at);
  EXPECT_EQ(runner.status().state, State::kOk);
  EXPECT_EQ(loads_.size(), loads + 1);
}

TEST_F(RunnerTest, ExpiredSignaturesStopTheReloads) {
  valid_until_ = kStart + 3000;
  Runner runner = make();
  int64_t at = runner.tick(kStart);
  EXPECT_EQ(runner.status().state, State::kOk);
  at = runner.tick(at);  // kStart + 1800: fine
  EXPECT_EQ(runner.status().state, State::kOk);
  at = runner.tick(at);  // kStart + 3600: the ZONEMD signature is over
  EXPECT_EQ(runner.status().state, State::kExpired);
  EXPECT_EQ(runner.status().last_error, "the ZONEMD signature of serial 100 has expired");
  EXPECT_EQ(loads_.size(), 2u);
}

TEST_F(RunnerTest, NoSources) {
  RunnerOptions options;
  RunnerHooks hooks;
  std::vector<State> reports;
  hooks.log = [](const std::string&) {};
  hooks.report = [&reports](const Status& s) { reports.push_back(s.state); };
  Runner runner(options, std::move(hooks));
  runner.tick(kStart);
  EXPECT_EQ(runner.status().state, State::kFailed);
  EXPECT_EQ(runner.status().last_error, "no transfer source is configured");
}

TEST(DefaultSourcesTest, HintsAndIcann) {
  const auto hints = resolver::parseRootHints(resolver::builtinRootHints());
  ASSERT_TRUE(hints.ok());
  const auto both = defaultSources(hints, true, true, true);
  EXPECT_EQ(both.size(), 13u * 2 + 4);
  EXPECT_EQ(both.front().port, 53);
  const auto has = [](const std::vector<base::SocketAddress>& list, std::string_view text) {
    return std::find(list.begin(), list.end(), address(text)) != list.end();
  };
  EXPECT_TRUE(has(both, "192.0.32.132"));          // lax.xfr.dns.icann.org
  EXPECT_TRUE(has(both, "[2620:0:2830:202::132]"));  // iad.xfr.dns.icann.org
  EXPECT_TRUE(has(both, "192.33.4.12"));           // c.root-servers.net
  const auto v4 = defaultSources(hints, true, true, false);
  EXPECT_EQ(v4.size(), 13u + 2);
  for (const auto& s : v4) EXPECT_TRUE(s.ip.isV4()) << s.toString();
  // Other hints: only their addresses (an alternative root, the lab).
  const auto lab = resolver::parseRootHints(
      ". 3600000 NS a.root.test.\na.root.test. 3600000 A 10.53.1.1\n"
      "a.root.test. 3600000 AAAA fd53::1:1\n");
  ASSERT_TRUE(lab.ok());
  const auto own = defaultSources(lab, false, true, true);
  EXPECT_EQ(own, (std::vector<base::SocketAddress>{address("10.53.1.1"), address("[fd53::1:1]")}));
}

}  // namespace
}  // namespace shoal::localroot
