// The Prometheus page (stats/prometheus.h): totals over every process
// slot, the histogram cumulative in seconds, upstream servers bounded with
// the rest summed into "other", label values escaped.

#include "stats/prometheus.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace shoal::stats {
namespace {

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shm_unlink(name_.c_str());
    segment_ = Segment::create(name_, false, 0600, static_cast<gid_t>(-1));
  }
  void TearDown() override { shm_unlink(name_.c_str()); }
  /// The line of `sample` (name and labels), or "" if absent.
  static std::string line(const std::string& page, const std::string& sample) {
    const size_t at = page.find("\n" + sample + " ");
    if (at == std::string::npos) return "";
    return page.substr(at + 1, page.find('\n', at + 1) - at - 1);
  }
  const std::string name_ = "/shoal-test-prom-" + std::to_string(getpid());
  std::unique_ptr<Segment> segment_;
};

TEST_F(PrometheusTest, TotalsOverEverySlot) {
  segment_->slot(0).counters.queries_udp += 5;
  segment_->slot(1).counters.queries_udp += 7;  // a predecessor's
  segment_->slot(2).counters.queries_tcp += 3;
  segment_->slot(0).counters.answers_by_rcode[3] += 4;
  segment_->slot(0).counters.cache_hits += 9;
  const std::vector<WorkerMetrics> workers = {{0, true, 2}, {1, false, 0}};
  const std::string page = renderPrometheus(*segment_, workers, {}, 10);
  EXPECT_EQ(line(page, "shoal_queries_total{transport=\"udp\"}"),
            "shoal_queries_total{transport=\"udp\"} 12");
  EXPECT_EQ(line(page, "shoal_queries_total{transport=\"tcp\"}"),
            "shoal_queries_total{transport=\"tcp\"} 3");
  EXPECT_EQ(line(page, "shoal_answer_rcodes_total{rcode=\"NXDOMAIN\"}"),
            "shoal_answer_rcodes_total{rcode=\"NXDOMAIN\"} 4");
  EXPECT_EQ(line(page, "shoal_cache_hits_total"), "shoal_cache_hits_total 9");
  EXPECT_EQ(line(page, "shoal_worker_up{worker=\"1\"}"), "shoal_worker_up{worker=\"1\"} 0");
  EXPECT_EQ(line(page, "shoal_worker_restarts_total{worker=\"0\"}"),
            "shoal_worker_restarts_total{worker=\"0\"} 2");
  EXPECT_NE(page.find("# TYPE shoal_queries_total counter\n"), std::string::npos);
  EXPECT_NE(page.find("# TYPE shoal_cache_entries gauge\n"), std::string::npos);
  // rcodes nobody used beyond the common six are left out
  EXPECT_EQ(line(page, "shoal_answer_rcodes_total{rcode=\"YXDOMAIN\"}"), "");
}

TEST_F(PrometheusTest, TheHistogramIsCumulativeInSeconds) {
  Histogram& h = segment_->slot(0).counters.latency_hit;
  h.record(0);    // bucket 0: < 1 us
  h.record(3);    // [2, 4) us
  h.record(700);  // [512, 1024) us
  const std::string page = renderPrometheus(*segment_, {}, {}, 10);
  EXPECT_EQ(line(page, "shoal_response_duration_seconds_bucket{path=\"hit\",le=\"1e-06\"}"),
            "shoal_response_duration_seconds_bucket{path=\"hit\",le=\"1e-06\"} 1");
  EXPECT_EQ(line(page, "shoal_response_duration_seconds_bucket{path=\"hit\",le=\"4e-06\"}"),
            "shoal_response_duration_seconds_bucket{path=\"hit\",le=\"4e-06\"} 2");
  EXPECT_EQ(line(page, "shoal_response_duration_seconds_bucket{path=\"hit\",le=\"0.001024\"}"),
            "shoal_response_duration_seconds_bucket{path=\"hit\",le=\"0.001024\"} 3");
  EXPECT_EQ(line(page, "shoal_response_duration_seconds_bucket{path=\"hit\",le=\"+Inf\"}"),
            "shoal_response_duration_seconds_bucket{path=\"hit\",le=\"+Inf\"} 3");
  EXPECT_EQ(line(page, "shoal_response_duration_seconds_count{path=\"hit\"}"),
            "shoal_response_duration_seconds_count{path=\"hit\"} 3");
  EXPECT_EQ(line(page, "shoal_response_duration_seconds_sum{path=\"hit\"}"),
            "shoal_response_duration_seconds_sum{path=\"hit\"} 0.000703");
}

TEST_F(PrometheusTest, ServersAreBoundedAndTheRestSummed) {
  std::vector<ServerMetrics> servers;
  for (int i = 0; i < 5; ++i) {
    ServerMetrics s;
    s.address = "192.0.2." + std::to_string(i);
    s.queries = static_cast<uint64_t>(10 * (i + 1));
    s.timeouts = 1;
    s.srtt_seconds = 0.012;
    if (i == 4) s.loss_1m = 0.25;
    servers.push_back(s);
  }
  const std::string page = renderPrometheus(*segment_, {}, servers, 2);
  // the two busiest by name, the other three summed
  EXPECT_EQ(line(page, "shoal_server_queries_total{server=\"192.0.2.4\"}"),
            "shoal_server_queries_total{server=\"192.0.2.4\"} 50");
  EXPECT_EQ(line(page, "shoal_server_queries_total{server=\"192.0.2.3\"}"),
            "shoal_server_queries_total{server=\"192.0.2.3\"} 40");
  EXPECT_EQ(line(page, "shoal_server_queries_total{server=\"192.0.2.2\"}"), "");
  EXPECT_EQ(line(page, "shoal_server_queries_total{server=\"other\"}"),
            "shoal_server_queries_total{server=\"other\"} 60");
  EXPECT_EQ(line(page, "shoal_server_timeouts_total{server=\"other\"}"),
            "shoal_server_timeouts_total{server=\"other\"} 3");
  EXPECT_EQ(line(page, "shoal_server_loss_ratio{server=\"192.0.2.4\",window=\"1m\"}"),
            "shoal_server_loss_ratio{server=\"192.0.2.4\",window=\"1m\"} 0.25");
  EXPECT_EQ(line(page, "shoal_server_srtt_seconds{server=\"192.0.2.3\"}"),
            "shoal_server_srtt_seconds{server=\"192.0.2.3\"} 0.012");
  EXPECT_EQ(line(page, "shoal_servers"), "shoal_servers 5");
}

TEST_F(PrometheusTest, LabelValuesAreEscaped) {
  ServerMetrics s;
  s.address = "a\"b\\c\nd";
  const std::vector<ServerMetrics> servers = {s};
  const std::string page = renderPrometheus(*segment_, {}, servers, 5);
  EXPECT_NE(page.find("shoal_server_queries_total{server=\"a\\\"b\\\\c\\nd\"} 0"),
            std::string::npos)
      << page;
}

}  // namespace
}  // namespace shoal::stats
