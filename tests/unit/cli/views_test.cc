// The human and JSON output, from plain values and sample answers: no
// running shoal needed.

#include <gtest/gtest.h>

#include <limits>

#include <nlohmann/json.hpp>

#include "cli/control_views.h"
#include "cli/format.h"
#include "cli/stats_views.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Format, Basics) {
  EXPECT_EQ(formatUptime(12.54), "12.5s");
  EXPECT_EQ(formatUptime(312), "5m 12s");
  EXPECT_EQ(formatUptime(2 * 3600 + 300), "2h 5m");
  // A control answer is input: absurd values are shown as unknown, never
  // converted out of range (found by control_answer_fuzzer).
  EXPECT_EQ(formatUptime(1e300), "-");
  EXPECT_EQ(formatUptime(std::numeric_limits<double>::infinity()), "-");
  EXPECT_EQ(formatUptime(3 * 86400 + 4 * 3600), "3d 4h");
  EXPECT_EQ(formatUptime(-1), "-");
  EXPECT_EQ(formatBytes(512), "512 B");
  EXPECT_EQ(formatBytes(1536), "1.5 KiB");
  EXPECT_EQ(formatBytes(uint64_t{2} << 30), "2.0 GiB");
  EXPECT_EQ(formatPercent(std::nullopt), "-");
  EXPECT_EQ(formatPercent(83.333), "83.3%");
  EXPECT_EQ(formatPercent(0.0), "0.0%");
  EXPECT_EQ(formatPercent(0.01), "<0.1%");
  EXPECT_EQ(percentOf(1, 0), std::nullopt);
  EXPECT_DOUBLE_EQ(percentOf(1, 4).value_or(0), 25);
  EXPECT_EQ(formatMs(0.0123), "0.012");
  EXPECT_EQ(formatMs(1.254), "1.25");
  EXPECT_EQ(formatMs(123.4), "123");
  EXPECT_EQ(formatRate(0), "0");
  EXPECT_EQ(formatRate(12.34), "12.3");
  EXPECT_EQ(formatRate(12345.6), "12346");
}

TEST(Format, TableAlignsColumns) {
  Table t({{"NAME"}, {"N", Table::Align::kRight}, {"LAST"}});
  t.addRow({"a", "1", "x"});
  t.addRow({"longer", "100", "y"});
  EXPECT_EQ(t.render(),
            "NAME      N  LAST\n"
            "a         1  x\n"
            "longer  100  y\n");
}

StatsReport sampleStats() {
  StatsReport r;
  r.supervisor_pid = 123;
  r.supervisor_alive = true;
  r.totals.queries_udp = 900;
  r.totals.queries_tcp = 100;
  r.totals.cache_hits = 800;
  r.totals.cache_misses = 200;
  r.totals.answers_by_rcode[0] = 950;
  r.totals.answers_by_rcode[3] = 40;
  r.totals.answers_by_rcode[2] = 10;
  r.totals.answers_by_rcode[9] = 2;
  r.totals.upstream_queries = 400;
  r.totals.upstream_timeouts = 4;
  r.totals.upstream_errors = 1;
  r.totals.upstream_udp = 390;
  r.totals.upstream_tcp = 10;
  r.totals.tcp_fallbacks = 3;
  r.totals.acl_refused = 5;
  r.totals.malformed = 6;
  r.totals.dropped = 7;
  r.totals.stale_answers = 8;
  r.totals.tls_handshakes = 11;
  r.totals.tls_handshake_failures = 12;
  // Synthesised answers: hot path and resolver counts are summed.
  r.totals.synth_nxdomain = 20;
  r.totals.engine_synth_nxdomain = 1;
  r.totals.synth_nodata = 3;
  r.totals.synth_wildcard = 2;
  r.totals.engine_synth_wildcard = 1;
  r.totals.local_root_answers = 9;
  r.totals.engine_local_root_answers = 1;
  r.totals.ranges_stored = 30;
  r.totals.range_holds = 31;
  r.totals.ecs_queries = 40;
  r.totals.ecs_scope_global = 41;
  r.totals.ecs_scope_partition = 42;
  r.totals.ecs_mismatched = 43;
  r.totals.ecs_partition_hits = 44;
  r.cache_ranges = 25;
  r.requested_window_s = 10;
  r.window = SampleWindow{10, 10, 500, 450, 50, 20, 1};
  r.hit = LatencySummary{800, 0.02, 0.012, 0.03, 0.1};
  r.miss = LatencySummary{200, 30, 12.5, 80, 400};
  return r;
}

TEST(StatsViews, Json) {
  const json j = json::parse(statsJson(sampleStats()));
  EXPECT_EQ(j["running"], true);
  EXPECT_EQ(j["queries"]["total"], 1000);
  EXPECT_EQ(j["queries"]["udp_percent"], 90.0);
  EXPECT_EQ(j["answers_by_rcode"]["NOERROR"], 950);
  EXPECT_EQ(j["answers_by_rcode"]["NXDOMAIN"], 40);
  EXPECT_EQ(j["answers_by_rcode"]["REFUSED"], 0);  // named ones always
  EXPECT_EQ(j["answers_by_rcode"]["9"], 2);        // others when not 0
  EXPECT_FALSE(j["answers_by_rcode"].contains("6"));
  EXPECT_EQ(j["cache"]["hit_percent"], 80.0);
  EXPECT_EQ(j["window"]["actual_s"], 10.0);
  EXPECT_EQ(j["window"]["qps"], 50.0);
  EXPECT_EQ(j["window"]["hit_percent"], 90.0);
  EXPECT_EQ(j["window"]["loss_percent"], 5.0);
  EXPECT_EQ(j["upstream"]["loss_percent"], 1.0);
  EXPECT_EQ(j["upstream"]["tcp_fallbacks"], 3);
  EXPECT_EQ(j["upstream"]["tcp_percent"], 2.5);
  EXPECT_EQ(j["acl_refused"], 5);
  EXPECT_EQ(j["stale_answers"], 8);
  EXPECT_EQ(j["tls"]["handshakes"], 11);
  EXPECT_EQ(j["tls"]["handshake_failures"], 12);
  EXPECT_EQ(j["latency_ms"]["miss"]["p99"], 400.0);
  EXPECT_EQ(j["latency_ms"]["hit"]["count"], 800);
  EXPECT_EQ(j["synthesised"]["nxdomain"], 21);
  EXPECT_EQ(j["synthesised"]["nodata"], 3);
  EXPECT_EQ(j["synthesised"]["wildcard"], 3);
  EXPECT_EQ(j["synthesised"]["local_root"], 10);
  EXPECT_EQ(j["synthesised"]["ranges_in_cache"], 25);
  EXPECT_EQ(j["synthesised"]["ranges_stored"], 30);
  EXPECT_EQ(j["synthesised"]["held_for_ranges"], 31);
  EXPECT_EQ(j["ecs"]["queries"], 40);
  EXPECT_EQ(j["ecs"]["replies_global"], 41);
  EXPECT_EQ(j["ecs"]["replies_partitioned"], 42);
  EXPECT_EQ(j["ecs"]["mismatched"], 43);
  EXPECT_EQ(j["ecs"]["hits_partitioned"], 44);
}

TEST(StatsViews, JsonWithoutSamplesOrQueries) {
  const json j = json::parse(statsJson(StatsReport{}));
  EXPECT_TRUE(j["window"].is_null());
  EXPECT_TRUE(j["cache"]["hit_percent"].is_null());
  EXPECT_TRUE(j["upstream"]["loss_percent"].is_null());
}

TEST(StatsViews, Text) {
  const std::string text = statsText(sampleStats());
  EXPECT_TRUE(contains(text, "queries         1000  (udp 900 90.0%, tcp 100 10.0%)")) << text;
  EXPECT_TRUE(contains(text, "NOERROR 950  FORMERR 0  SERVFAIL 10  NXDOMAIN 40")) << text;
  EXPECT_TRUE(contains(text, "9 2")) << text;
  EXPECT_TRUE(contains(text, "hit rate 80.0%")) << text;
  EXPECT_TRUE(contains(text, "last 10s        qps 50.0, hit rate 90.0%, loss 5.0%\n")) << text;
  EXPECT_TRUE(contains(text, "loss 1.0%")) << text;
  EXPECT_TRUE(contains(text, "refused (acl)   5")) << text;
  EXPECT_TRUE(contains(text, "tls             handshakes 11, failed 12\n")) << text;
  EXPECT_TRUE(contains(text, "synthesised     nxdomain 21, nodata 3, wildcard 3")) << text;
  EXPECT_TRUE(contains(text, "local root 10, ranges in cache 25, ranges stored 30")) << text;
  EXPECT_TRUE(contains(text, "held for ranges 31")) << text;
  EXPECT_TRUE(contains(text, "ecs             queries 40, replies global 41, partitioned 42, "
                             "mismatched 43")) << text;
  EXPECT_TRUE(contains(text, "hits partitioned 44")) << text;
  EXPECT_TRUE(contains(text, "p50 12.5  p90 80.0  p99 400")) << text;
  EXPECT_TRUE(contains(statsText(StatsReport{}), "not available yet"));
  StatsReport young = sampleStats();
  young.window->actual_s = 3;
  EXPECT_TRUE(contains(statsText(young), "(over the 3.0s sampled so far)")) << statsText(young);
}

StatusReport sampleStatus() {
  StatusReport r;
  r.now.supervisor_pid = 123;
  r.now.supervisor_alive = true;
  r.now.version = "0.1.0";
  r.now.config_path = "/etc/shoal/shoal.toml";
  r.now.cache_name = "/shoal-cache";
  r.now.cache_entries = 42;
  r.now.cache_bytes = 1 << 20;
  r.now.cache_capacity = 4 << 20;
  r.uptime_s = 3700;
  r.fill_percent = 25;
  r.interval_s = 0.5;
  r.qps = 1500;
  WorkerStatus w;
  w.info.index = 0;
  w.info.pid = 456;
  w.info.alive = true;
  w.info.restarts = 2;
  w.state = "ready";
  w.uptime_s = 65;
  w.qps = 1500;
  r.workers.push_back(w);
  w.info.index = 1;
  w.info.pid = 0;
  w.info.alive = false;
  w.info.restarts = 0;
  w.state = "empty";
  w.uptime_s = -1;
  w.qps = 0;
  r.workers.push_back(w);
  return r;
}

TEST(StatusViews, Text) {
  const std::string text = statusText(sampleStatus());
  EXPECT_TRUE(contains(text, "shoal 0.1.0 is running: supervisor pid 123, up 1h 1m")) << text;
  EXPECT_TRUE(contains(text, "/shoal-cache: 0 B, 42 entries, 1.0 MiB of 4.0 MiB used (25.0%)"))
      << text;
  EXPECT_TRUE(contains(text, "WORKER  PID  STATE  UPTIME  RESTARTS   QPS")) << text;
  EXPECT_TRUE(contains(text, "     0  456  ready   1m 5s         2  1500")) << text;
  EXPECT_TRUE(contains(text, "     1    -  empty       -         0     0")) << text;
}

TEST(StatusViews, NegativeTrustAnchors) {
  StatusReport r = sampleStatus();
  r.anchors_error = "cannot connect to /run/shoal/control.sock: Permission denied";
  EXPECT_TRUE(contains(statusText(r), "nta         unknown (cannot connect to "
                                      "/run/shoal/control.sock: Permission denied)\n"))
      << statusText(r);
  json j = json::parse(statusJson(r));
  EXPECT_TRUE(j["negative_trust_anchors"].is_null());
  EXPECT_EQ(j["negative_trust_anchors_error"], r.anchors_error);
  r.negative_anchors.emplace();
  EXPECT_TRUE(contains(statusText(r), "nta         none\n")) << statusText(r);
  r.negative_anchors->push_back({"broken.example.", "config", std::nullopt, ""});
  r.negative_anchors->push_back({"bogus.example.", "runtime", 86000.0, "ticket 42"});
  EXPECT_TRUE(contains(statusText(r),
                       "nta         2: broken.example. (config), bogus.example. (23h 53m left)\n"))
      << statusText(r);
  j = json::parse(statusJson(r));
  ASSERT_EQ(j["negative_trust_anchors"].size(), 2u);
  EXPECT_FALSE(j.contains("negative_trust_anchors_error"));
  EXPECT_EQ(j["negative_trust_anchors"][0]["source"], "config");
  EXPECT_TRUE(j["negative_trust_anchors"][0]["expires_in_s"].is_null());
  EXPECT_EQ(j["negative_trust_anchors"][1]["expires_in_s"], 86000.0);
  EXPECT_EQ(j["negative_trust_anchors"][1]["reason"], "ticket 42");
  for (const char* more : {"a.", "b."}) r.negative_anchors->push_back({more, "runtime", 60.0, ""});
  EXPECT_TRUE(contains(statusText(r), "nta         4: broken.example. (config), bogus.example. "
                                      "(23h 53m left), a. (1m 0s left), +1 (shoalctl nta list)\n"))
      << statusText(r);
}

TEST(StatusViews, LocalRoot) {
  StatusReport r = sampleStatus();
  r.local_root_error = "cannot connect to /run/shoal/control.sock: Permission denied";
  EXPECT_TRUE(contains(statusText(r), "local root  unknown (cannot connect to "
                                      "/run/shoal/control.sock: Permission denied)\n"))
      << statusText(r);
  json j = json::parse(statusJson(r));
  EXPECT_TRUE(j["local_root"].is_null());
  EXPECT_EQ(j["local_root_error"], r.local_root_error);

  r.local_root = LocalRootInfo{"ok", 2024052200u, "10.53.1.1:53",
                               "IXFR (1 step, 6 records deleted, 6 added)", 125.0, 1700000000, 1700001800,
                               "", 2512, 567};
  EXPECT_TRUE(contains(statusText(r), "local root  ok: serial 2024052200 from 10.53.1.1:53 by "
                                      "IXFR, loaded 2m 5s ago (2512 RRsets, 567 ranges)\n"))
      << statusText(r);
  j = json::parse(statusJson(r));
  EXPECT_FALSE(j.contains("local_root_error"));
  EXPECT_EQ(j["local_root"]["state"], "ok");
  EXPECT_EQ(j["local_root"]["serial"], 2024052200u);
  EXPECT_EQ(j["local_root"]["source"], "10.53.1.1:53");
  EXPECT_EQ(j["local_root"]["transfer"], "IXFR (1 step, 6 records deleted, 6 added)");
  EXPECT_EQ(j["local_root"]["age_s"], 125.0);
  EXPECT_EQ(j["local_root"]["rrsets"], 2512);

  r.local_root = LocalRootInfo{"failed", std::nullopt, "", "", std::nullopt, 1700000000, 1700000900,
                               "10.53.8.1:53: ZONEMD: the zone's digest does not match", 0, 0};
  EXPECT_TRUE(contains(statusText(r), "local root  failed: 10.53.8.1:53: ZONEMD: the zone's "
                                      "digest does not match (resolving from the root servers)\n"))
      << statusText(r);
  j = json::parse(statusJson(r));
  EXPECT_TRUE(j["local_root"]["serial"].is_null());
  EXPECT_TRUE(j["local_root"]["age_s"].is_null());

  r.local_root = LocalRootInfo{"disabled", std::nullopt, "", "", std::nullopt, 0, 0, "", 0, 0};
  EXPECT_TRUE(contains(statusText(r), "local root  disabled\n")) << statusText(r);
}

TEST(StatusViews, Json) {
  const json j = json::parse(statusJson(sampleStatus()));
  EXPECT_EQ(j["running"], true);
  EXPECT_EQ(j["supervisor_pid"], 123);
  EXPECT_EQ(j["config"], "/etc/shoal/shoal.toml");
  EXPECT_EQ(j["uptime_s"], 3700.0);
  EXPECT_EQ(j["cache"]["entries"], 42);
  EXPECT_EQ(j["cache"]["fill_percent"], 25.0);
  EXPECT_EQ(j["qps"], 1500.0);
  ASSERT_EQ(j["workers"].size(), 2u);
  EXPECT_EQ(j["workers"][0]["pid"], 456);
  EXPECT_EQ(j["workers"][0]["state"], "ready");
  EXPECT_EQ(j["workers"][0]["restarts"], 2);
  EXPECT_TRUE(j["workers"][1]["uptime_s"].is_null());
}

TopFrame sampleFrame() {
  TopFrame f;
  f.wall_ms = 1'700'000'000'000;
  f.interval_s = 1;
  f.supervisor_pid = 123;
  f.supervisor_alive = true;
  f.version = "0.1.0";
  f.qps = 2000;
  f.hit_percent = 95;
  f.loss_percent = 0.5;
  f.synthesised_qps = 300;
  f.local_root_qps = 120;
  f.cache_ranges = 77;
  f.hedge_qps = 12;
  f.hedge_won_percent = 75;
  f.retry_qps = 4;
  f.retry_percent = 0.2;
  f.stale_qps = 1;
  f.prefetch_qps = 3;
  f.hit = LatencySummary{1900, 0.02, 0.01, 0.03, 0.05};
  TopWorker w;
  w.index = 0;
  w.pid = 456;
  w.state = "ready";
  w.qps = 2000;
  w.hit_percent = 95;
  w.latency = LatencySummary{2000, 1, 0.01, 0.5, 30};
  f.workers.push_back(w);
  return f;
}

TEST(TopViews, LinesAndJson) {
  const std::vector<std::string> lines = topLines(sampleFrame());
  ASSERT_GE(lines.size(), 9u);
  EXPECT_TRUE(contains(lines[0], "shoal 0.1.0  pid 123")) << lines[0];
  EXPECT_TRUE(contains(lines[1], "qps 2000  hit rate 95.0%")) << lines[1];
  EXPECT_TRUE(contains(lines[2], "hedged 12.0/s (won 75.0%)  client retries 4.0/s (0.2% of "
                                 "udp)  stale 1.0/s  prefetched 3.0/s"))
      << lines[2];
  EXPECT_TRUE(contains(lines[3], "synthesised 300/s  local root 120/s  ranges 77")) << lines[3];
  EXPECT_TRUE(contains(lines[7], "WORKER")) << lines[7];
  EXPECT_TRUE(contains(lines[8], "456  ready  2000  95.0%   0.010    30.0")) << lines[8];
  const json j = json::parse(topJson(sampleFrame()));
  EXPECT_EQ(j["qps"], 2000.0);
  EXPECT_EQ(j["hit_percent"], 95.0);
  EXPECT_EQ(j["loss_percent"], 0.5);
  EXPECT_EQ(j["synthesised_qps"], 300.0);
  EXPECT_EQ(j["local_root_qps"], 120.0);
  EXPECT_EQ(j["hedge_qps"], 12.0);
  EXPECT_EQ(j["hedge_won_percent"], 75.0);
  EXPECT_EQ(j["client_retry_qps"], 4.0);
  EXPECT_EQ(j["prefetch_qps"], 3.0);
  EXPECT_EQ(j["cache"]["ranges"], 77);
  EXPECT_TRUE(j["uptime_s"].is_null());
  EXPECT_EQ(j["latency_ms"]["hit"]["p99"], 0.05);
  EXPECT_EQ(j["workers"][0]["p99_ms"], 30.0);
  EXPECT_EQ(j["time_ms"], 1'700'000'000'000);
}

// --- answers from the control socket ---------------------------------------

TEST(ControlViews, Requests) {
  Invocation inv;
  inv.command = Command::kCacheLookup;
  inv.name = "www.example.";
  EXPECT_EQ(json::parse(controlRequest(inv)),
            json::parse(R"({"command":"cache.lookup","name":"www.example."})"));
  inv.type = "AAAA";
  EXPECT_EQ(json::parse(controlRequest(inv))["type"], "AAAA");
  inv.command = Command::kCacheFlush;
  inv.subtree = true;
  EXPECT_EQ(json::parse(controlRequest(inv)),
            json::parse(R"({"command":"cache.flush","name":"www.example.","subtree":true})"));
  const std::pair<Command, const char*> simple[] = {
      {Command::kPing, "ping"},           {Command::kServers, "servers"},
      {Command::kCacheStats, "cache.stats"}, {Command::kReload, "reload"},
      {Command::kEcs, "ecs"},
      {Command::kRestart, "restart"},     {Command::kUpgrade, "upgrade"}};
  for (const auto& [command, name] : simple) {
    inv = Invocation{};
    inv.command = command;
    const std::string line = controlRequest(inv);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(json::parse(line), json({{"command", name}}));
  }
  inv.command = Command::kCacheFlush;
  inv.name = std::string("bad\xff.");  // never throws on bytes that are not UTF-8
  EXPECT_NO_THROW(controlRequest(inv));
  inv = Invocation{};
  inv.command = Command::kNtaAdd;
  inv.name = "bogus.example";
  EXPECT_EQ(json::parse(controlRequest(inv)),
            json::parse(R"({"command":"nta.add","name":"bogus.example"})"));
  inv.lifetime_s = 7200;
  inv.reason = "ticket 42";
  EXPECT_EQ(json::parse(controlRequest(inv)),
            json::parse(R"({"command":"nta.add","name":"bogus.example","lifetime_s":7200,
                            "reason":"ticket 42"})"));
  inv.command = Command::kNtaRemove;
  EXPECT_EQ(json::parse(controlRequest(inv)),
            json::parse(R"({"command":"nta.remove","name":"bogus.example"})"));
  inv.command = Command::kNtaList;
  EXPECT_EQ(json::parse(controlRequest(inv)), json::parse(R"({"command":"nta.list"})"));
}

TEST(ControlViews, NegativeTrustAnchors) {
  EXPECT_EQ(ntaAddText(json::parse(R"({"ok":true,"name":"bogus.example.","lifetime_s":86400,
                "expires_in_s":86400,"reason":"","flushed":12,"warnings":[]})")),
            "added negative trust anchor bogus.example. for 1d: flushed 12 cache entries "
            "below it\n");
  EXPECT_EQ(ntaAddText(json::parse(R"({"ok":true,"name":"a.example.","lifetime_s":5400,
                "flushed":1,"warnings":["validation is off"]})")),
            "added negative trust anchor a.example. for 90m: flushed 1 cache entry below it\n"
            "warning: validation is off\n");
  EXPECT_EQ(ntaRemoveText(json::parse(R"({"ok":true,"name":"bogus.example.","flushed":3})")),
            "removed negative trust anchor bogus.example.: flushed 3 cache entries below it\n");
  const std::string list = ntaListText(json::parse(R"({"ok":true,"anchors":[
    {"name":"broken.example.","source":"config","expires_in_s":null,"reason":""},
    {"name":"bogus.example.","source":"runtime","expires_in_s":3540,"added_s_ago":60,
     "reason":"ticket 42"}]})"));
  EXPECT_EQ(list,
            "NAME             SOURCE   EXPIRES IN  REASON\n"
            "broken.example.  config        never\n"
            "bogus.example.   runtime      59m 0s  ticket 42\n");
  EXPECT_EQ(ntaListText(json::parse(R"({"ok":true,"anchors":[]})")),
            "no negative trust anchors\n");
  EXPECT_EQ(formatLifetime(604800), "7d");
  EXPECT_EQ(formatLifetime(7200), "2h");
  EXPECT_EQ(formatLifetime(1800), "30m");
  EXPECT_EQ(formatLifetime(61), "61s");
}

TEST(ControlViews, AnswersOkAndErrors) {
  EXPECT_THROW(parseAnswer("not json"), std::runtime_error);
  EXPECT_THROW(parseAnswer("[1,2]"), std::runtime_error);
  const json denied = parseAnswer(R"({"ok":false,"error":"permission denied: uid 1000"})");
  EXPECT_FALSE(answerOk(denied));
  EXPECT_EQ(answerError(denied), "permission denied: uid 1000");
  EXPECT_FALSE(answerOk(parseAnswer(R"({"ok":"yes"})")));
  EXPECT_EQ(answerError(parseAnswer(R"({"ok":false})")),
            "shoal refused the command without saying why");
  EXPECT_TRUE(answerOk(parseAnswer(R"({"ok":true})")));
}

TEST(ControlViews, ServersSortedByQueries) {
  const json answer = json::parse(R"({"ok":true,"servers":[
    {"address":"10.53.0.2","zones":["example."],"srtt_ms":12.5,"rto_ms":50,"queries":10,
     "replies":10,"timeouts":0,"loss_percent":0.0,"last_seen_s":3.2,"state":"ok",
     "backoff_left_s":0},
    {"address":"10.53.0.1","zones":[".","arpa.","net.","org."],"srtt_ms":1.25,"rto_ms":40,
     "queries":500,"replies":450,"timeouts":50,"loss_percent":10.0,"last_seen_s":0.5,
     "state":"ok","backoff_left_s":0},
    {"address":"2001:db8::53","zones":["lame."],"srtt_ms":0,"rto_ms":1000,"queries":3,
     "replies":0,"timeouts":3,"loss_percent":100.0,"last_seen_s":null,
     "state":"backed off","backoff_left_s":12}]})");
  const std::string text = serversText(answer);
  const size_t first = text.find("10.53.0.1"), second = text.find("10.53.0.2"),
               third = text.find("2001:db8::53");
  EXPECT_LT(first, second) << text;
  EXPECT_LT(second, third) << text;
  EXPECT_TRUE(contains(text, "ADDRESS")) << text;
  EXPECT_TRUE(contains(text, ". arpa. net. +1")) << text;
  EXPECT_TRUE(contains(text, "10.0%")) << text;
  EXPECT_TRUE(contains(text, "never")) << text;
  EXPECT_TRUE(contains(text, "backed off (12.0s left)")) << text;
  EXPECT_TRUE(contains(text, "3.2s ago")) << text;
  EXPECT_EQ(serversText(json::parse(R"({"ok":true,"servers":[]})")),
            "no upstream servers known yet\n");
}

TEST(ControlViews, CacheLookup) {
  const json answer = json::parse(R"({"ok":true,"name":"www.example.","entries":[
    {"type":"A","kind":"rrset","ttl":280,"original_ttl":300,"rank":4,"dnssec":"insecure",
     "partition":"global","stale":false,
     "records":["www.example. 280 IN A 192.0.2.1","www.example. 280 IN A 192.0.2.2"]},
    {"type":"AAAA","kind":"negative","ttl":0,"original_ttl":60,"rank":"answer",
     "dnssec":"indeterminate","partition":"192.0.2.0/24","stale":true,"records":[]}]})");
  const std::string text = cacheLookupText(answer);
  EXPECT_TRUE(contains(text, "www.example. A  rrset  ttl 280 of 300  rank 4  dnssec insecure  "
                             "partition global\n"))
      << text;
  EXPECT_TRUE(contains(text, "    www.example. 280 IN A 192.0.2.2\n")) << text;
  EXPECT_TRUE(contains(text, "rank answer")) << text;
  EXPECT_TRUE(contains(text, "partition 192.0.2.0/24  STALE\n")) << text;
  EXPECT_EQ(cacheLookupText(json::parse(R"({"ok":true,"name":"x.","entries":[]})")),
            "x.: nothing cached\n");
}

TEST(ControlViews, CacheFlush) {
  EXPECT_EQ(cacheFlushText(json::parse(
                R"({"ok":true,"name":"example.","subtree":true,"removed":12})")),
            "removed 12 entries for example. and every name below it\n");
  EXPECT_EQ(cacheFlushText(json::parse(
                R"({"ok":true,"name":"www.example.","subtree":false,"removed":1})")),
            "removed 1 entry for www.example.\n");
}

json cacheStatsAnswer() {
  json a = json::parse(R"({"ok":true,"name":"/shoal-cache","size_bytes":67108864,
    "stripes":4,"entries":100,"bytes":1048576,"capacity_bytes":4194304,"fill_percent":25.0,
    "lookups":1000,"hits":900,"stale_hits":5,"misses":100,"inserts":150,"evictions":20,
    "expired_evictions":15,"partition_evictions":1,"owner_died":2,"corrupt":0,"wipes":1})");
  a["stripe_fill"] = json::array();
  for (const int n : {10, 20, 30, 40}) {
    a["stripe_fill"].push_back({{"entries", n}, {"bytes", n * 1000}, {"wipes", n == 40 ? 1 : 0}});
  }
  return a;
}

TEST(ControlViews, CacheStatsSummarisesStripes) {
  const std::string text = cacheStatsText(cacheStatsAnswer(), false);
  EXPECT_TRUE(contains(text, "cache /shoal-cache: 64.0 MiB segment, 4 stripes")) << text;
  EXPECT_TRUE(contains(text, "1.0 MiB of 4.0 MiB capacity (25.0% full)")) << text;
  EXPECT_TRUE(contains(text, "hits 900 (90.0%), stale hits 5, misses 100")) << text;
  EXPECT_TRUE(contains(text, "evictions      20 (expired 15, partition 1)")) << text;
  EXPECT_TRUE(contains(text, "owner died     2 recoveries")) << text;
  EXPECT_TRUE(contains(text, "stripe entries min 10 / avg 25.0 / max 40")) << text;
  EXPECT_TRUE(contains(text, "stripe wipes   1 in total")) << text;
  EXPECT_FALSE(contains(text, "STRIPE")) << text;
  const std::string all = cacheStatsText(cacheStatsAnswer(), true);
  EXPECT_TRUE(contains(all, "STRIPE  ENTRIES  BYTES  WIPES")) << all;
  EXPECT_TRUE(contains(all, "     3       40  40000      1")) << all;
}

TEST(ControlViews, EcsRequests) {
  Invocation inv;
  inv.command = Command::kEcs;
  EXPECT_EQ(json::parse(controlRequest(inv)), json::parse(R"({"command":"ecs"})"));
  inv.name = "www.geo.com";
  inv.type = "A";
  EXPECT_EQ(json::parse(controlRequest(inv)),
            json::parse(R"({"command":"ecs","name":"www.geo.com","type":"A"})"));
}

TEST(ControlViews, EcsSummary) {
  const json answer = json::parse(R"({"ok":true,"entries":42,"names":7,"ipv4":30,"ipv6":12,
    "evictions":3,"max_partitions":16,"top":[
    {"name":"www.geo.com.","type":"A","partitions":16,"hits":1200},
    {"name":"cdn.geo.com.","type":"AAAA","partitions":9,"hits":15},
    {"name":"nx.geo.com.","type":"*","partitions":2,"hits":0}]})");
  EXPECT_EQ(ecsText(answer),
            "partitioned entries  42 (IPv4 30, IPv6 12)\n"
            "names and types      7\n"
            "evictions            3 (least recently used partitions dropped over the cap)\n"
            "cap                  16 partitions per name and type\n"
            "\n"
            "NAME          TYPE  PARTITIONS  HITS\n"
            "www.geo.com.  A             16  1200\n"
            "cdn.geo.com.  AAAA           9    15\n"
            "nx.geo.com.   *              2     0\n");
  EXPECT_EQ(answerText(Command::kEcs, answer, false), ecsText(answer));
  const std::string empty = ecsText(json::parse(R"({"ok":true,"entries":0,"names":0,"ipv4":0,
    "ipv6":0,"evictions":0,"max_partitions":16,"top":[]})"));
  EXPECT_TRUE(contains(empty, "partitioned entries  0 (IPv4 0, IPv6 0)\n")) << empty;
  EXPECT_TRUE(contains(empty, "\nno ECS partitions cached\n")) << empty;
}

TEST(ControlViews, EcsName) {
  const json answer = json::parse(R"({"ok":true,"name":"www.geo.com.","type":"A",
    "max_partitions":16,"global":{"kind":"rrset","ttl":120},"partitions":[
    {"prefix":"11.1.0.0/16","scope":16,"kind":"rrset","ttl":55,"hits":3},
    {"prefix":"11.2.3.0/24","scope":24,"kind":"nodata","ttl":7,"hits":0},
    {"prefix":"2a01:1::/32","scope":32,"kind":"rrset","ttl":100,"hits":12}]})");
  EXPECT_EQ(ecsText(answer),
            "www.geo.com. A: 3 ECS partitions (cap 16)\n"
            "global entry: rrset, ttl 120\n"
            "PREFIX       SCOPE  KIND    TTL  HITS\n"
            "11.1.0.0/16     16  rrset    55     3\n"
            "11.2.3.0/24     24  nodata    7     0\n"
            "2a01:1::/32     32  rrset   100    12\n");
  EXPECT_EQ(ecsText(json::parse(R"({"ok":true,"name":"x.","type":"MX","max_partitions":4,
                "global":null,"partitions":[{"prefix":"10.0.0.0/8","scope":8,"kind":"rrset",
                "ttl":1,"hits":1}]})")),
            "x. MX: 1 ECS partition (cap 4)\n"
            "global entry: none\n"
            "PREFIX      SCOPE  KIND   TTL  HITS\n"
            "10.0.0.0/8      8  rrset    1     1\n");
  EXPECT_EQ(ecsText(json::parse(R"({"ok":true,"name":"x.","type":"A","max_partitions":16,
                "global":{"kind":"nxdomain","ttl":30},"partitions":[]})")),
            "x. A: 0 ECS partitions (cap 16)\nglobal entry: nxdomain, ttl 30\n");
}

TEST(ControlViews, EcsMissingOrMistypedFields) {
  // An answer from another version is input: dashes, never an exception.
  EXPECT_EQ(ecsText(json::parse(R"({"ok":true,"name":"x."})")),
            "x. -: 0 ECS partitions (cap -)\nglobal entry: -\n");
  EXPECT_NO_THROW(ecsText(json::parse(R"({"ok":true})")));
  EXPECT_NO_THROW(ecsText(json::parse(R"({"ok":true,"top":[1,"x",null,{"partitions":"many"}]})")));
  EXPECT_NO_THROW(ecsText(json::parse(R"({"ok":true,"name":null,"global":7,
                                          "partitions":[[],{"ttl":{"a":1}}]})")));
}

TEST(ControlViews, LongCommands) {
  EXPECT_EQ(reloadText(json::parse(
                R"({"ok":true,"config":"/etc/shoal.toml","changed":["server.workers",
                "acl.allow"],"warnings":["cache.size needs a restart with --cold"]})")),
            "reloaded /etc/shoal.toml: changed server.workers, acl.allow\n"
            "warning: cache.size needs a restart with --cold\n");
  EXPECT_EQ(reloadText(json::parse(R"({"ok":true,"config":"/c","changed":[],"warnings":[]})")),
            "reloaded /c: nothing changed\n");
  EXPECT_EQ(restartText(json::parse(R"({"ok":true,"workers":[{"index":0,"old_pid":1,
                "new_pid":2},{"index":1,"old_pid":3,"new_pid":4}]})")),
            "restarted 2 workers\n  worker 0: pid 1 -> 2\n  worker 1: pid 3 -> 4\n");
  EXPECT_EQ(upgradeText(json::parse(R"({"ok":true,"binary":"/usr/sbin/shoal",
                "old_version":"0.1.0","version":"0.2.0"})")),
            "upgraded to /usr/sbin/shoal 0.2.0 (was 0.1.0)\n");
  EXPECT_EQ(pingText(json::parse(R"({"ok":true,"pid":123,"version":"0.1.0"})")),
            "shoal 0.1.0 answers (supervisor pid 123)\n");
}

TEST(ControlViews, MissingFieldsShowAsDashes) {
  const json empty = json::parse(R"({"ok":true})");
  EXPECT_EQ(upgradeText(empty), "upgraded to - - (was -)\n");
  EXPECT_NO_THROW(cacheStatsText(empty, false));
  EXPECT_NO_THROW(serversText(json::parse(R"({"ok":true,"servers":[{"queries":"x"}]})")));
  EXPECT_EQ(restartText(empty), "restarted 0 workers\n");
}

}  // namespace
}  // namespace shoal::cli
