#include "cli/control_views.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/format.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

const json* field(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

double number(const json& object, const char* key, double fallback = 0) {
  const json* v = field(object, key);
  return v != nullptr && v->is_number() ? v->get<double>() : fallback;
}

uint64_t count(const json& object, const char* key) {
  const double n = number(object, key);
  return n > 0 && n < static_cast<double>(std::numeric_limits<uint64_t>::max())
             ? static_cast<uint64_t>(n)
             : 0;
}

// A value as text: strings as they are, numbers and the rest as JSON,
// missing or null as "-".
std::string text(const json& object, const char* key) {
  const json* v = field(object, key);
  if (v == nullptr || v->is_null()) return "-";
  if (v->is_string()) return v->get<std::string>();
  return v->dump();
}

std::string joined(const json& list, const std::string& separator, size_t limit) {
  if (!list.is_array()) return "-";
  std::string out;
  size_t shown = 0;
  for (const json& item : list) {
    if (shown == limit) {
      out += separator + "+" + std::to_string(list.size() - limit);
      break;
    }
    if (shown++ > 0) out += separator;
    out += item.is_string() ? item.get<std::string>() : item.dump();
  }
  return out.empty() ? "-" : out;
}

const json& arrayOf(const json& object, const char* key) {
  static const json kEmpty = json::array();
  const json* v = field(object, key);
  return v != nullptr && v->is_array() ? *v : kEmpty;
}

std::string serverState(const json& s) {
  std::string state = text(s, "state");
  const double left = number(s, "backoff_left_s");
  if (left > 0) state += " (" + formatUptime(left) + " left)";
  return state;
}

std::string stripeSummary(const json& stripes, const char* key) {
  uint64_t low = std::numeric_limits<uint64_t>::max(), high = 0, sum = 0;
  for (const json& s : stripes) {
    const uint64_t n = count(s, key);
    low = std::min(low, n);
    high = std::max(high, n);
    sum += n;
  }
  if (stripes.empty()) return "-";
  const double avg = static_cast<double>(sum) / static_cast<double>(stripes.size());
  return strprintf("min %llu / avg %.1f / max %llu", static_cast<unsigned long long>(low), avg,
                   static_cast<unsigned long long>(high));
}

std::string stripesText(const json& stripes, bool all) {
  if (stripes.empty()) return "";
  if (!all) {
    uint64_t wipes = 0;
    for (const json& s : stripes) wipes += count(s, "wipes");
    return "stripe entries " + stripeSummary(stripes, "entries") + "\n" +
           "stripe bytes   " + stripeSummary(stripes, "bytes") + "\n" +
           "stripe wipes   " + std::to_string(wipes) + " in total\n";
  }
  Table table({{"STRIPE", Table::Align::kRight},
               {"ENTRIES", Table::Align::kRight},
               {"BYTES", Table::Align::kRight},
               {"WIPES", Table::Align::kRight}});
  size_t i = 0;
  for (const json& s : stripes) {
    table.addRow({std::to_string(i++), text(s, "entries"), text(s, "bytes"), text(s, "wipes")});
  }
  return "\n" + table.render();
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string ecsSummaryText(const json& a) {
  std::string out = "partitioned entries  " + text(a, "entries") + " (IPv4 " + text(a, "ipv4") +
                    ", IPv6 " + text(a, "ipv6") + ")\n";
  out += "names and types      " + text(a, "names") + "\n";
  out += "evictions            " + text(a, "evictions") +
         " (least recently used partitions dropped over the cap)\n";
  out += "cap                  " + text(a, "max_partitions") + " partitions per name and type\n";
  const json& top = arrayOf(a, "top");
  if (top.empty()) return out + "\nno ECS partitions cached\n";
  Table table({{"NAME"},
               {"TYPE"},
               {"PARTITIONS", Table::Align::kRight},
               {"HITS", Table::Align::kRight}});
  for (const json& row : top) {
    table.addRow({text(row, "name"), text(row, "type"), text(row, "partitions"),
                  text(row, "hits")});
  }
  return out + "\n" + table.render();
}

std::string ecsNameText(const json& a) {
  const json& partitions = arrayOf(a, "partitions");
  std::string out = text(a, "name") + " " + text(a, "type") + ": " +
                    plural(partitions.size(), "ECS partition", "ECS partitions") + " (cap " +
                    text(a, "max_partitions") + ")\n";
  const json* global = field(a, "global");
  if (global == nullptr) {
    out += "global entry: -\n";
  } else if (global->is_object()) {
    out += "global entry: " + text(*global, "kind") + ", ttl " + text(*global, "ttl") + "\n";
  } else {
    out += "global entry: none\n";
  }
  if (partitions.empty()) return out;
  Table table({{"PREFIX"},
               {"SCOPE", Table::Align::kRight},
               {"KIND"},
               {"TTL", Table::Align::kRight},
               {"HITS", Table::Align::kRight}});
  for (const json& p : partitions) {
    table.addRow({text(p, "prefix"), text(p, "scope"), text(p, "kind"), text(p, "ttl"),
                  text(p, "hits")});
  }
  return out + table.render();
}

}  // namespace

std::string controlRequest(const Invocation& inv) {
  json request;
  switch (inv.command) {
    case Command::kPing: request["command"] = "ping"; break;
    case Command::kServers: request["command"] = "servers"; break;
    case Command::kReload: request["command"] = "reload"; break;
    case Command::kRestart: request["command"] = "restart"; break;
    case Command::kUpgrade: request["command"] = "upgrade"; break;
    case Command::kCacheStats: request["command"] = "cache.stats"; break;
    case Command::kCacheLookup:
      request["command"] = "cache.lookup";
      request["name"] = inv.name;
      if (!inv.type.empty()) request["type"] = inv.type;
      break;
    case Command::kCacheFlush:
      request["command"] = "cache.flush";
      request["name"] = inv.name;
      request["subtree"] = inv.subtree;
      break;
    case Command::kEcs:
      request["command"] = "ecs";
      if (!inv.name.empty()) {
        request["name"] = inv.name;
        request["type"] = inv.type;
      }
      break;
    case Command::kNtaAdd:
      request["command"] = "nta.add";
      request["name"] = inv.name;
      if (inv.lifetime_s) request["lifetime_s"] = *inv.lifetime_s;
      if (!inv.reason.empty()) request["reason"] = inv.reason;
      break;
    case Command::kNtaRemove:
      request["command"] = "nta.remove";
      request["name"] = inv.name;
      break;
    case Command::kNtaList: request["command"] = "nta.list"; break;
    default: throw std::logic_error("not a control socket command");
  }
  // Names are the operator's bytes: never fail on invalid UTF-8, escape it.
  return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parseAnswer(const std::string& line) {
  json answer = json::parse(line, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    throw std::runtime_error("malformed answer from shoal: " + line.substr(0, 200));
  }
  return answer;
}

bool answerOk(const json& answer) {
  const json* ok = field(answer, "ok");
  return ok != nullptr && ok->is_boolean() && ok->get<bool>();
}

std::string answerError(const json& answer) {
  const json* error = field(answer, "error");
  if (error != nullptr && error->is_string() && !error->get<std::string>().empty()) {
    return error->get<std::string>();
  }
  return "shoal refused the command without saying why";
}

std::string answerText(Command command, const json& answer, bool all_stripes) {
  switch (command) {
    case Command::kPing: return pingText(answer);
    case Command::kServers: return serversText(answer);
    case Command::kCacheLookup: return cacheLookupText(answer);
    case Command::kCacheFlush: return cacheFlushText(answer);
    case Command::kCacheStats: return cacheStatsText(answer, all_stripes);
    case Command::kEcs: return ecsText(answer);
    case Command::kReload: return reloadText(answer);
    case Command::kRestart: return restartText(answer);
    case Command::kUpgrade: return upgradeText(answer);
    case Command::kNtaAdd: return ntaAddText(answer);
    case Command::kNtaRemove: return ntaRemoveText(answer);
    case Command::kNtaList: return ntaListText(answer);
    default: return answer.dump() + "\n";
  }
}

std::string pingText(const json& a) {
  return "shoal " + text(a, "version") + " answers (supervisor pid " + text(a, "pid") + ")\n";
}

/// A server's loss over a window; "-" without queries in it (or from a
/// supervisor that does not report windows).
std::string windowLoss(const json& s, const char* queries, const char* percent) {
  const json* loss = field(s, percent);
  if (count(s, queries) == 0 || loss == nullptr || !loss->is_number()) return "-";
  return formatPercent(loss->get<double>());
}

std::string serversText(const json& a) {
  std::vector<const json*> servers;
  for (const json& s : arrayOf(a, "servers")) servers.push_back(&s);
  if (servers.empty()) return "no upstream servers known yet\n";
  std::stable_sort(servers.begin(), servers.end(), [](const json* x, const json* y) {
    return number(*x, "queries") > number(*y, "queries");
  });
  Table table({{"ADDRESS"},
               {"ZONES"},
               {"SRTT ms", Table::Align::kRight},
               {"RTO ms", Table::Align::kRight},
               {"QUERIES", Table::Align::kRight},
               {"TIMEOUTS", Table::Align::kRight},
               {"LOSS", Table::Align::kRight},
               {"1m", Table::Align::kRight},
               {"5m", Table::Align::kRight},
               {"HEDGES/WON", Table::Align::kRight},
               {"LAST SEEN", Table::Align::kRight},
               {"STATE"}});
  for (const json* s : servers) {
    const json* seen = field(*s, "last_seen_s");
    const json* loss = field(*s, "loss_percent");
    table.addRow({text(*s, "address"), joined(arrayOf(*s, "zones"), " ", 3),
                  formatMs(number(*s, "srtt_ms")), formatMs(number(*s, "rto_ms")),
                  text(*s, "queries"), text(*s, "timeouts"),
                  loss != nullptr && loss->is_number()
                      ? formatPercent(loss->get<double>())
                      : formatPercent(percentOf(count(*s, "timeouts"), count(*s, "queries"))),
                  windowLoss(*s, "queries_1m", "loss_1m_percent"),
                  windowLoss(*s, "queries_5m", "loss_5m_percent"),
                  text(*s, "hedges") + "/" + text(*s, "hedges_won"),
                  seen != nullptr && seen->is_number()
                      ? formatUptime(seen->get<double>()) + " ago"
                      : "never",
                  serverState(*s)});
  }
  return table.render();
}

std::string cacheLookupText(const json& a) {
  const json& entries = arrayOf(a, "entries");
  const std::string name = text(a, "name");
  if (entries.empty()) return name + ": nothing cached\n";
  std::string out;
  for (const json& e : entries) {
    out += name + " " + text(e, "type") + "  " + text(e, "kind") + "  ttl " + text(e, "ttl") +
           " of " + text(e, "original_ttl") + "  rank " + text(e, "rank") + "  dnssec " +
           text(e, "dnssec") + "  partition " + text(e, "partition");
    const json* stale = field(e, "stale");
    if (stale != nullptr && stale->is_boolean() && stale->get<bool>()) out += "  STALE";
    out += "\n";
    for (const json& record : arrayOf(e, "records")) {
      out += "    " + (record.is_string() ? record.get<std::string>() : record.dump()) + "\n";
    }
  }
  return out;
}

std::string cacheFlushText(const json& a) {
  const json* subtree = field(a, "subtree");
  const bool below = subtree != nullptr && subtree->is_boolean() && subtree->get<bool>();
  const uint64_t removed = count(a, "removed");
  return "removed " + std::to_string(removed) + (removed == 1 ? " entry" : " entries") +
         " for " + text(a, "name") + (below ? " and every name below it" : "") + "\n";
}

std::string cacheStatsText(const json& a, bool all_stripes) {
  const uint64_t lookups = count(a, "lookups");
  std::string out = "cache " + text(a, "name") + ": " + formatBytes(count(a, "size_bytes")) +
                    " segment, " + text(a, "stripes") + " stripes\n";
  out += "entries        " + text(a, "entries") + "\n";
  const json* fill = field(a, "fill_percent");
  out += "bytes          " + formatBytes(count(a, "bytes")) + " of " +
         formatBytes(count(a, "capacity_bytes")) + " capacity (" +
         (fill != nullptr && fill->is_number()
              ? formatPercent(fill->get<double>())
              : formatPercent(percentOf(count(a, "bytes"), count(a, "capacity_bytes")))) +
         " full)\n";
  out += "lookups        " + std::to_string(lookups) + ": hits " + text(a, "hits") + " (" +
         formatPercent(percentOf(count(a, "hits"), lookups)) + "), stale hits " +
         text(a, "stale_hits") + ", misses " + text(a, "misses") + "\n";
  out += "inserts        " + text(a, "inserts") + "\n";
  out += "evictions      " + text(a, "evictions") + " (expired " + text(a, "expired_evictions") +
         ", partition " + text(a, "partition_evictions") + ")\n";
  out += "owner died     " + text(a, "owner_died") + " recoveries, corrupt " +
         text(a, "corrupt") + ", wipes " + text(a, "wipes") + "\n";
  out += stripesText(arrayOf(a, "stripe_fill"), all_stripes);
  return out;
}

std::string ecsText(const json& a) {
  return field(a, "name") != nullptr ? ecsNameText(a) : ecsSummaryText(a);
}

std::string reloadText(const json& a) {
  const json& changed = arrayOf(a, "changed");
  std::string out = "reloaded " + text(a, "config") + ": " +
                    (changed.empty() ? "nothing changed" : "changed " + joined(changed, ", ", 50)) +
                    "\n";
  for (const json& w : arrayOf(a, "warnings")) {
    out += "warning: " + (w.is_string() ? w.get<std::string>() : w.dump()) + "\n";
  }
  return out;
}

std::string restartText(const json& a) {
  const json& workers = arrayOf(a, "workers");
  std::string out = "restarted " + std::to_string(workers.size()) +
                    (workers.size() == 1 ? " worker" : " workers") + "\n";
  for (const json& w : workers) {
    out += "  worker " + text(w, "index") + ": pid " + text(w, "old_pid") + " -> " +
           text(w, "new_pid") + "\n";
  }
  return out;
}

std::string upgradeText(const json& a) {
  return "upgraded to " + text(a, "binary") + " " + text(a, "version") + " (was " +
         text(a, "old_version") + ")\n";
}

std::string formatLifetime(uint64_t seconds) {
  if (seconds > 0 && seconds % 86'400 == 0) return std::to_string(seconds / 86'400) + "d";
  if (seconds > 0 && seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds > 0 && seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

std::string ntaAddText(const json& a) {
  const uint64_t flushed = count(a, "flushed");
  std::string out = "added negative trust anchor " + text(a, "name") + " for " +
                    formatLifetime(count(a, "lifetime_s")) + ": flushed " +
                    std::to_string(flushed) + (flushed == 1 ? " cache entry" : " cache entries") +
                    " below it\n";
  for (const json& w : arrayOf(a, "warnings")) {
    out += "warning: " + (w.is_string() ? w.get<std::string>() : w.dump()) + "\n";
  }
  return out;
}

std::string ntaRemoveText(const json& a) {
  const uint64_t flushed = count(a, "flushed");
  std::string out = "removed negative trust anchor " + text(a, "name") + ": flushed " +
                    std::to_string(flushed) + (flushed == 1 ? " cache entry" : " cache entries") +
                    " below it\n";
  for (const json& w : arrayOf(a, "warnings")) {
    out += "warning: " + (w.is_string() ? w.get<std::string>() : w.dump()) + "\n";
  }
  return out;
}

std::vector<AnchorInfo> anchorsOf(const json& a) {
  std::vector<AnchorInfo> out;
  for (const json& item : arrayOf(a, "anchors")) {
    AnchorInfo anchor;
    anchor.name = text(item, "name");
    anchor.source = text(item, "source");
    const json* expires = field(item, "expires_in_s");
    if (expires != nullptr && expires->is_number()) anchor.expires_in_s = expires->get<double>();
    const json* reason = field(item, "reason");
    if (reason != nullptr && reason->is_string()) anchor.reason = reason->get<std::string>();
    out.push_back(std::move(anchor));
  }
  return out;
}

LocalRootInfo localRootOf(const json& a) {
  static const json kNone = json::object();
  const json* lr = field(a, "local_root");
  const json& o = lr != nullptr && lr->is_object() ? *lr : kNone;
  LocalRootInfo info;
  info.state = text(o, "state");
  const json* serial = field(o, "serial");
  if (serial != nullptr && serial->is_number_unsigned() && serial->get<uint64_t>() <= std::numeric_limits<uint32_t>::max()) {
    info.serial = serial->get<uint32_t>();
  }
  const json* source = field(o, "source");
  if (source != nullptr && source->is_string()) info.source = source->get<std::string>();
  const json* transfer = field(o, "transfer");
  if (transfer != nullptr && transfer->is_string()) info.transfer = transfer->get<std::string>();
  const json* age = field(o, "age_s");
  if (age != nullptr && age->is_number()) info.age_s = age->get<double>();
  info.last_attempt = static_cast<int64_t>(number(o, "last_attempt"));
  info.next_attempt = static_cast<int64_t>(number(o, "next_attempt"));
  const json* error = field(o, "last_error");
  if (error != nullptr && error->is_string()) info.last_error = error->get<std::string>();
  info.rrsets = count(o, "rrsets");
  info.ranges = count(o, "ranges");
  return info;
}

std::string ntaListText(const json& a) {
  const std::vector<AnchorInfo> anchors = anchorsOf(a);
  if (anchors.empty()) return "no negative trust anchors\n";
  Table table({{"NAME"}, {"SOURCE"}, {"EXPIRES IN", Table::Align::kRight}, {"REASON"}});
  for (const AnchorInfo& anchor : anchors) {
    table.addRow({anchor.name, anchor.source,
                  anchor.expires_in_s ? formatUptime(*anchor.expires_in_s) : "never",
                  anchor.reason});
  }
  return table.render();
}

}  // namespace shoal::cli
