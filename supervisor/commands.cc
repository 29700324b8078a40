// Control requests (protocol: control/protocol.h). Quick ones are answered
// at once; reload, restart and upgrade are answered when done (rollout.cc,
// upgrade.cc). Cache inspection goes through resolver/inspect.h: the
// supervisor reads the cache, it never parses a DNS packet; so does ecs,
// through resolver/inspect_ecs.h. Negative trust anchors (nta.*) are in
// anchors.cc.

#include <nlohmann/json.hpp>

#include "control/protocol.h"
#include "dns/constants.h"
#include "resolver/inspect.h"
#include "resolver/inspect_ecs.h"
#include "shmcache/cache.h"
#include "stats/prometheus.h"
#include "stats/stats.h"
#include "supervisor/supervisor.h"
#include "supervisor/util.h"
#include "worker/clock.h"

namespace shoal::supervisor {
namespace {

using nlohmann::json;

const char* stateName(stats::WorkerState state) {
  switch (state) {
    case stats::WorkerState::kEmpty:
      return "empty";
    case stats::WorkerState::kStarting:
      return "starting";
    case stats::WorkerState::kReady:
      return "ready";
    case stats::WorkerState::kDraining:
      return "draining";
    case stats::WorkerState::kExited:
      return "exited";
  }
  return "unknown";
}

json inspected(const resolver::InspectResult& result) {
  json entries = json::array();
  for (const auto& e : result.entries) {
    entries.push_back({{"type", e.type},
                       {"kind", e.kind},
                       {"ttl", e.ttl},
                       {"original_ttl", e.original_ttl},
                       {"rank", e.rank},
                       {"dnssec", e.dnssec},
                       {"partition", e.partition},
                       {"stale", e.stale},
                       {"corrupt", e.corrupt},
                       {"records", e.records}});
  }
  return {{"ok", true}, {"name", result.name}, {"entries", entries}};
}

/// The answer to "ecs" (control/protocol.h): totals and the names with the
/// most partitions, or with "name" and "type" every partition of those.
/// `max_partitions`: the configured cap, shown beside the counts.
std::string ecsAnswer(shmcache::Cache& cache, const json& request, unsigned max_partitions) {
  const auto given = [&](const char* key) {
    return request.contains(key) && !request[key].is_null();
  };
  if (given("name") != given("type")) {
    return failureAnswer("ecs: \"name\" and \"type\" go together (both or neither)");
  }
  const int64_t now = worker::wallS();
  if (!given("name")) {
    const auto summary = resolver::summarizeEcs(cache, now, control::kEcsTop);
    json top = json::array();
    for (const auto& row : summary.top) {
      top.push_back({{"name", row.name}, {"type", row.type}, {"partitions", row.partitions},
                     {"hits", row.hits}});
    }
    return json{{"ok", true},
                {"entries", summary.entries},
                {"names", summary.names},
                {"ipv4", summary.ipv4},
                {"ipv6", summary.ipv6},
                {"evictions", cache.counters().partition_evictions},
                {"max_partitions", max_partitions},
                {"top", top}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
  }
  const std::string type_text = request["type"].get<std::string>();  // throws if not a string
  const auto type = dns::typeFromText(type_text);
  if (!type) return failureAnswer("unknown type " + type_text);
  const auto result =
      resolver::inspectEcsName(cache, request["name"].get<std::string>(), *type, now);
  if (!result.error.empty()) return failureAnswer(result.error);
  json partitions = json::array();
  for (const auto& p : result.partitions) {
    partitions.push_back({{"prefix", p.prefix}, {"scope", p.scope}, {"kind", p.kind},
                          {"ttl", p.ttl}, {"hits", p.hits}});
  }
  return json{{"ok", true},
              {"name", result.name},
              {"type", result.type},
              {"max_partitions", max_partitions},
              {"global", result.global ? json{{"kind", result.global->kind},
                                              {"ttl", result.global->ttl}}
                                       : json(nullptr)},
              {"partitions", partitions}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

void Supervisor::onRequest(uint64_t id, const std::string& line) {
  json request;
  try {
    request = json::parse(line);
  } catch (const json::exception&) {
    control_.answer(id, failureAnswer("the request is not JSON"));
    return;
  }
  if (!request.is_object() || !request.contains("command") || !request["command"].is_string()) {
    control_.answer(id, failureAnswer("the request has no \"command\""));
    return;
  }
  const std::string command = request["command"].get<std::string>();
  try {
    if (command == "ping") {
      control_.answer(id, json{{"ok", true}, {"pid", getpid()}, {"version", SHOAL_VERSION},
                               {"cache", loaded_.config.cache.name},
                               {"stats", stats::segmentName(loaded_.config.cache.name)}}
                              .dump());
    } else if (command == "status") {
      control_.answer(id, statusJson());
    } else if (command == "servers") {
      control_.answer(id, serversJson());
    } else if (command == "local_root") {
      control_.answer(id, json{{"ok", true}, {"local_root", localRootJson()}}
                              .dump(-1, ' ', false, json::error_handler_t::replace));
    } else if (command == "cache.lookup") {
      const std::string name = request.at("name").get<std::string>();
      std::optional<uint16_t> type;
      if (request.contains("type") && !request["type"].is_null()) {
        type = dns::typeFromText(request["type"].get<std::string>());
        if (!type) {
          control_.answer(id, failureAnswer("unknown type " + request["type"].get<std::string>()));
          return;
        }
      }
      const auto result = resolver::inspectName(*cache_, name, type, worker::wallS());
      control_.answer(id, result.error.empty() ? inspected(result).dump() : failureAnswer(result.error));
    } else if (command == "cache.flush") {
      const std::string name = request.at("name").get<std::string>();
      const bool subtree = request.value("subtree", false);
      const auto result = resolver::flushName(*cache_, name, subtree);
      control_.answer(id, result.error.empty()
                              ? json{{"ok", true}, {"name", result.name}, {"subtree", subtree},
                                     {"removed", result.removed}}
                                    .dump()
                              : failureAnswer(result.error));
    } else if (command == "ecs") {
      control_.answer(id, ecsAnswer(*cache_, request, loaded_.config.cache.max_ecs_partitions));
    } else if (command == "cache.stats") {
      control_.answer(id, cacheStatsJson());
    } else if (command == "nta.add") {
      control_.answer(id, addAnchor(request));
    } else if (command == "nta.remove") {
      control_.answer(id, removeAnchor(request));
    } else if (command == "nta.list") {
      control_.answer(id, json{{"ok", true}, {"anchors", anchorsJson()}}
                              .dump(-1, ' ', false, json::error_handler_t::replace));
    } else if (command == "reload") {
      std::string error;
      if (!reload(id, error)) control_.answer(id, failureAnswer("reload failed, nothing changed: " + error));
    } else if (command == "restart") {
      std::string error;
      if (!startRollout("restart", {}, id, error)) control_.answer(id, failureAnswer(error));
    } else if (command == "upgrade") {
      std::string error;
      upgrade(id, error);  // returns only on failure
      if (!error.empty()) control_.answer(id, failureAnswer("upgrade failed: " + error));
    } else {
      control_.answer(id, failureAnswer("unknown command \"" + command + "\""));
    }
  } catch (const json::exception& e) {
    control_.answer(id, failureAnswer("bad request: " + std::string(e.what())));
  }
}

std::string Supervisor::statusJson() const {
  const int64_t now = worker::wallMs();
  json workers = json::array();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = slots_[i];
    const auto& process = stats_->slot(2 * i + slot.generation);
    const auto state = static_cast<stats::WorkerState>(process.state.load());
    workers.push_back({{"index", i},
                       {"pid", slot.pid},
                       {"state", slot.pid != 0 ? stateName(state) : "restarting"},
                       {"uptime_s", slot.pid != 0 ? static_cast<double>(now - process.started_ms.load()) / 1000.0 : 0.0},
                       {"restarts", slot.restarts}});
  }
  const auto& h = stats_->header();
  return json{{"ok", true},
              {"pid", getpid()},
              {"version", SHOAL_VERSION},
              {"config", loaded_.config.source},
              {"started_at", h.started_ms.load() / 1000},
              {"generation", h.upgrades.load() + h.reloads.load() + h.restarts.load()},
              {"rollout", rollout_ ? rollout_->what : ""},
              {"retiring", retiring_.size()},
              {"negative_trust_anchors", anchorsJson().size()},
              {"local_root", localRootJson()},
              {"workers", workers}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Supervisor::metricsPage() {
  std::vector<stats::WorkerMetrics> workers;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = slots_[i];
    const auto& process = stats_->slot(2 * i + slot.generation);
    const auto state = static_cast<stats::WorkerState>(process.state.load());
    workers.push_back({static_cast<unsigned>(i), slot.pid != 0 && state == stats::WorkerState::kReady,
                       slot.restarts});
  }
  // The server rows come from a walk over the whole cache (each stripe
  // locked in turn): kept for a few seconds, so that frequent or concurrent
  // scrapes do not walk it again and again.
  const int64_t now = monotonicMs();
  if (metrics_servers_at_ms_ < 0 || now - metrics_servers_at_ms_ >= kMetricsServersMs) {
    metrics_servers_ = serverMetrics();
    metrics_servers_at_ms_ = now;
  }
  return stats::renderPrometheus(*stats_, workers, metrics_servers_,
                                 loaded_.config.metrics.top_servers);
}

std::vector<stats::ServerMetrics> Supervisor::serverMetrics() {
  const auto& engine = worker_config_.engine;
  std::vector<stats::ServerMetrics> servers;
  for (const auto& row :
       resolver::listServers(*cache_, worker::wallMs(), engine.rto_min_ms, engine.rto_max_ms)) {
    stats::ServerMetrics m;
    m.address = row.address;
    m.queries = row.queries;
    m.replies = row.replies;
    m.timeouts = row.timeouts;
    m.hedges = row.hedges;
    m.srtt_seconds = row.srtt_ms / 1000;
    m.rto_seconds = static_cast<double>(row.rto_ms) / 1000;
    if (row.loss_1m.queries > 0) m.loss_1m = row.loss_1m.percent() / 100;
    if (row.loss_5m.queries > 0) m.loss_5m = row.loss_5m.percent() / 100;
    m.backed_off = row.state == "backed off";
    servers.push_back(std::move(m));
  }
  return servers;
}

std::string Supervisor::serversJson() {
  const auto& engine = worker_config_.engine;
  json servers = json::array();
  for (const auto& row :
       resolver::listServers(*cache_, worker::wallMs(), engine.rto_min_ms, engine.rto_max_ms)) {
    servers.push_back({{"address", row.address},
                       {"zones", row.zones},
                       {"srtt_ms", row.srtt_ms},
                       {"rto_ms", row.rto_ms},
                       {"queries", row.queries},
                       {"replies", row.replies},
                       {"timeouts", row.timeouts},
                       {"loss_percent", row.loss_percent},
                       {"queries_1m", row.loss_1m.queries},
                       {"loss_1m_percent", row.loss_1m.percent()},
                       {"queries_5m", row.loss_5m.queries},
                       {"loss_5m_percent", row.loss_5m.percent()},
                       {"hedges", row.hedges},
                       {"hedges_won", row.hedges_won},
                       {"last_seen_s", row.last_seen_s ? json(*row.last_seen_s) : json(nullptr)},
                       {"state", row.state},
                       {"backoff_left_s", row.backoff_left_s},
                       {"lame_zones", row.lame_zones}});
  }
  return json{{"ok", true}, {"servers", servers}}.dump();
}

std::string Supervisor::cacheStatsJson() const {
  const shmcache::Counters c = cache_->counters();
  json stripes = json::array();
  uint64_t entries = 0, bytes = 0, wipes = 0;
  for (const auto& fill : cache_->fill()) {
    entries += fill.live_entries;
    bytes += fill.live_bytes;
    wipes += fill.wipes;
    stripes.push_back({{"entries", fill.live_entries}, {"bytes", fill.live_bytes},
                       {"wipes", fill.wipes}});
  }
  const uint64_t capacity = cache_->arenaBytesPerStripe() * cache_->stripeCount();
  return json{{"ok", true},
              {"name", loaded_.config.cache.name},
              {"size_bytes", cache_->segmentSize()},
              {"stripes", cache_->stripeCount()},
              {"entries", entries},
              {"bytes", bytes},
              {"capacity_bytes", capacity},
              {"fill_percent", capacity ? 100.0 * static_cast<double>(bytes) /
                                              static_cast<double>(capacity)
                                        : 0.0},
              {"max_entry_bytes", cache_->maxEntrySize()},
              {"lookups", c.lookups},
              {"hits", c.hits},
              {"stale_hits", c.stale_hits},
              {"misses", c.misses},
              {"expired", c.expired},
              {"inserts", c.inserts},
              {"replaced", c.replaced},
              {"rank_refused", c.rank_refused},
              {"too_large", c.too_large},
              {"evictions", c.evictions},
              {"expired_evictions", c.expired_evictions},
              {"partition_evictions", c.partition_evictions},
              {"owner_died", c.owner_died},
              {"corrupt", c.corrupt},
              {"wipes", wipes},
              {"stripe_fill", stripes}}
      .dump();
}

}  // namespace shoal::supervisor
