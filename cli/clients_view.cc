#include "cli/clients_view.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/ip_address.h"
#include "cli/format.h"

namespace shoal::cli {

namespace {

std::string prefixOf(const stats::ClientRow& row) {
  const base::IpAddress address =
      row.v6 != 0 ? base::IpAddress::v6(row.address) : base::IpAddress::v4(row.address);
  return address.toString() + (row.v6 != 0 ? "/64" : "/32");
}

std::string ago(int64_t now_ms, int64_t then_ms) {
  if (then_ms <= 0) return "-";
  const double seconds = static_cast<double>(std::max<int64_t>(0, now_ms - then_ms)) / 1000.0;
  return formatUptime(seconds) + " ago";
}

}  // namespace

ClientsReport makeClientsReport(const stats::Segment& segment, const Snapshot& snapshot) {
  ClientsReport report;
  report.now_ms = snapshot.wall_ms;
  report.supervisor_alive = snapshot.supervisor_alive;
  report.supervisor_pid = snapshot.supervisor_pid;
  report.keep_active = snapshot.totals.tcp_keep_active;
  report.collapse = snapshot.totals.tcp_collapse;
  report.dont_bother = snapshot.totals.tcp_dont_bother;
  struct Merged {
    ClientLine line;
    uint64_t bucket_weight = 0;
  };
  std::map<std::string, Merged> merged;
  for (const WorkerInfo& worker : snapshot.workers) {
    if (!worker.alive) continue;
    for (const stats::ClientRow& row : stats::readClients(segment.slot(worker.slot))) {
      Merged& m = merged[prefixOf(row)];
      ClientLine& line = m.line;
      line.prefix = prefixOf(row);
      line.open += row.open;
      line.connections += row.connections;
      line.queries += row.queries;
      line.rate += static_cast<double>(row.rate_milli) / 1000.0;
      line.last_ms = std::max(line.last_ms, row.last_ms);
      ++line.workers;
      if (row.connections >= m.bucket_weight) {
        m.bucket_weight = row.connections;
        line.bucket = stats::clientBucketName(row.bucket);
      }
    }
  }
  for (auto& [prefix, m] : merged) report.clients.push_back(std::move(m.line));
  std::sort(report.clients.begin(), report.clients.end(), [](const ClientLine& a, const ClientLine& b) {
    return a.rate != b.rate ? a.rate > b.rate : a.open > b.open;
  });
  return report;
}

std::string clientsText(const ClientsReport& r) {
  std::string out = "tcp connections accepted by bucket: keep-active " +
                    std::to_string(r.keep_active) + ", collapse " + std::to_string(r.collapse) +
                    ", dont-bother " + std::to_string(r.dont_bother) + "\n";
  if (r.clients.empty()) return out + "no TCP client seen lately\n";
  out += strprintf("%-24s %-12s %6s %8s %9s %8s  %s\n", "CLIENT", "BUCKET", "OPEN", "CONNS",
                   "QUERIES", "RATE/s", "LAST SEEN");
  for (const ClientLine& c : r.clients) {
    out += strprintf("%-24s %-12s %6llu %8llu %9llu %8.2f  %s\n", c.prefix.c_str(),
                     c.bucket.c_str(), static_cast<unsigned long long>(c.open),
                     static_cast<unsigned long long>(c.connections),
                     static_cast<unsigned long long>(c.queries), c.rate,
                     ago(r.now_ms, c.last_ms).c_str());
  }
  return out;
}

std::string clientsJson(const ClientsReport& r) {
  nlohmann::json clients = nlohmann::json::array();
  for (const ClientLine& c : r.clients) {
    clients.push_back({{"client", c.prefix},
                       {"bucket", c.bucket},
                       {"open", c.open},
                       {"connections", c.connections},
                       {"queries", c.queries},
                       {"rate_per_s", c.rate},
                       {"last_seen_ms", c.last_ms},
                       {"workers", c.workers}});
  }
  const nlohmann::json out = {
      {"supervisor_alive", r.supervisor_alive},
      {"accepted_by_bucket",
       {{"keep_active", r.keep_active}, {"collapse", r.collapse}, {"dont_bother", r.dont_bother}}},
      {"clients", clients}};
  return out.dump();
}

}  // namespace shoal::cli
