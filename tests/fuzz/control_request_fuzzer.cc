// libFuzzer target: control requests as the supervisor reads them
// (control/protocol.h): one line from the control socket, from any local
// user allowed on it, is input. The supervisor's dispatch
// (Supervisor::onRequest, supervisor/commands.cc and anchors.cc) lives in
// the shoal executable, not in a library; this target repeats its reading
// of a request (nlohmann::json::parse, the "command" string, at("name"),
// the optional "type", value("subtree", false), the "lifetime_s" and
// "reason" of nta.add, the "name"/"type" pairing of ecs) and drives the
// library functions those arguments reach, on a small real cache: dns type
// names (dns::typeFromText), resolver::inspectName, flushName,
// inspectEcsName, summarizeEcs, addNegativeAnchor, removeNegativeAnchor,
// listNegativeAnchors; and dumps the answers as the supervisor does.
// Keep the reading here in step with onRequest.
//
// As in onRequest, a json::exception is the request's fault (the
// supervisor answers "bad request"); any other exception, a crash, or an
// answer that is not one JSON object with a boolean "ok" is a bug.
// Commands that act on processes (reload, restart, upgrade) or answer from
// the supervisor's own state (ping, status, servers, local_root,
// cache.stats) take no arguments: they are answered "ok" here.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/protocol.h"
#include "dns/constants.h"
#include "dns/name.h"
#include "resolver/cache_format.h"
#include "resolver/inspect.h"
#include "resolver/inspect_ecs.h"
#include "resolver/negative_anchors.h"
#include "shmcache/cache.h"

namespace {

using namespace shoal;
using nlohmann::json;

constexpr int64_t kNow = 1'800'000'000;  // seconds

void require(bool cond) {
  if (!cond) __builtin_trap();
}

std::string failure(const std::string& message) {
  return json{{"ok", false}, {"error", message}}.dump();
}

std::string okAnswer() { return json{{"ok", true}}.dump(); }

shmcache::Cache& cache() {
  static std::unique_ptr<shmcache::Cache> c = [] {
    shmcache::Options options;
    options.name = "/shoal-fuzz-control-" + std::to_string(getpid());
    options.size = 1u << 20;
    options.stripes = 2;
    options.max_partitions = 4;
    options.discard = true;
    auto opened = shmcache::Cache::open(options, kNow);
    if (!opened) __builtin_trap();
    shmcache::Cache::unlink(options.name);  // the mapping stays
    return std::move(*opened);
  }();
  return *c;
}

void put(shmcache::Cache& c, const char* owner, uint16_t type, resolver::Kind kind,
         const shmcache::Partition& partition, std::span<const uint8_t> payload, int64_t ttl) {
  const auto name = dns::Name::fromText(owner);
  const auto key = name->lookupKey();
  shmcache::Meta meta;
  meta.expires_at = kNow + ttl;
  meta.original_ttl = 300;
  meta.rank = static_cast<uint8_t>(resolver::Rank::kAnswer);
  meta.security = shmcache::Security::kSecure;
  (void)c.insert({key.bytes(), type, static_cast<uint8_t>(kind)}, partition, meta, payload, kNow);
}

/// The same few entries before every input: RRsets (global and in ECS
/// partitions, one stale), a NODATA, an NXDOMAIN, a corrupt payload and a
/// runtime negative trust anchor.
void fill(shmcache::Cache& c) {
  c.clear();
  resolver::Rrset a;
  a.owner = *dns::Name::fromText("www.example.");
  a.type = dns::rrtype::kA;
  a.rdatas = {{192, 0, 2, 1}, {192, 0, 2, 2}};
  const auto rrset = resolver::encodeRrset(a);
  const auto global = shmcache::Partition::global();
  put(c, "www.example.", dns::rrtype::kA, resolver::Kind::kRrset, global, rrset, 300);
  put(c, "www.example.", dns::rrtype::kA, resolver::Kind::kRrset,
      shmcache::Partition::of(*base::IpAddress::parse("198.51.100.0"), 24), rrset, 60);
  put(c, "www.example.", dns::rrtype::kA, resolver::Kind::kRrset,
      shmcache::Partition::of(*base::IpAddress::parse("2001:db8::"), 48), rrset, 60);
  put(c, "old.example.", dns::rrtype::kA, resolver::Kind::kRrset, global, rrset, -30);
  resolver::NegativeRecord soa{*dns::Name::fromText("example."), dns::rrtype::kSoa,
                               std::vector<uint8_t>(22, 0)};
  soa.rdata[0] = 0;  // root mname, root rname: 2 octets, then 5 u32 fields
  const auto negative = resolver::encodeNegative({soa});
  put(c, "www.example.", dns::rrtype::kAaaa, resolver::Kind::kNodata, global, negative, 300);
  put(c, "nx.example.", 0, resolver::Kind::kNxdomain, global, negative, 300);
  constexpr uint8_t kCorrupt[] = {0xFF, 0x00, 0x07};
  put(c, "bad.example.", dns::rrtype::kTxt, resolver::Kind::kRrset, global, kCorrupt, 300);
  (void)resolver::addNegativeAnchor(c, "bogus.example.", 3600, "fuzz", kNow - 10);
}

json inspected(const resolver::InspectResult& result) {
  json entries = json::array();
  for (const auto& e : result.entries) {
    entries.push_back({{"type", e.type}, {"kind", e.kind}, {"ttl", e.ttl},
                       {"original_ttl", e.original_ttl}, {"rank", e.rank},
                       {"dnssec", e.dnssec}, {"partition", e.partition}, {"stale", e.stale},
                       {"corrupt", e.corrupt}, {"records", e.records}});
  }
  return {{"ok", true}, {"name", result.name}, {"entries", entries}};
}

std::string ecsAnswer(shmcache::Cache& c, const json& request) {
  const auto given = [&](const char* key) {
    return request.contains(key) && !request[key].is_null();
  };
  if (given("name") != given("type")) return failure("ecs: name and type go together");
  if (!given("name")) {
    const auto summary = resolver::summarizeEcs(c, kNow, control::kEcsTop);
    json top = json::array();
    for (const auto& row : summary.top) {
      top.push_back({{"name", row.name}, {"type", row.type}, {"partitions", row.partitions},
                     {"hits", row.hits}});
    }
    return json{{"ok", true}, {"entries", summary.entries}, {"top", top}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
  }
  const std::string type_text = request["type"].get<std::string>();
  const auto type = dns::typeFromText(type_text);
  if (!type) return failure("unknown type " + type_text);
  const auto result = resolver::inspectEcsName(c, request["name"].get<std::string>(), *type, kNow);
  if (!result.error.empty()) return failure(result.error);
  json partitions = json::array();
  for (const auto& p : result.partitions) {
    partitions.push_back({{"prefix", p.prefix}, {"scope", p.scope}, {"kind", p.kind},
                          {"ttl", p.ttl}, {"hits", p.hits}});
  }
  return json{{"ok", true}, {"name", result.name}, {"type", result.type},
              {"global", result.global ? json{{"kind", result.global->kind},
                                              {"ttl", result.global->ttl}}
                                       : json(nullptr)},
              {"partitions", partitions}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string addAnchor(shmcache::Cache& c, const json& request) {
  const std::string name = request.at("name").get<std::string>();
  int64_t lifetime = resolver::kDefaultAnchorLifetimeS;
  if (request.contains("lifetime_s") && !request["lifetime_s"].is_null()) {
    const json& value = request["lifetime_s"];
    if (!value.is_number_integer()) return failure("lifetime_s must be whole seconds");
    lifetime = value.get<int64_t>();
  }
  if (lifetime <= 0 || lifetime > resolver::kMaxAnchorLifetimeS) return failure("lifetime");
  const std::string reason = request.value("reason", std::string());
  const auto added =
      resolver::addNegativeAnchor(c, name, static_cast<uint32_t>(lifetime), reason, kNow);
  if (!added.error.empty()) return failure(added.error);
  require(added.changed == 1 && resolver::anchorName(added.name) == added.name);
  const auto flushed = resolver::flushName(c, added.name, true);
  // The anchor outlives the flush of its own subtree, and covers the name.
  const auto anchored = dns::Name::fromText(added.name);
  require(anchored.ok() && resolver::coveredByNegativeAnchor(c, *anchored, kNow));
  return json{{"ok", true}, {"name", added.name}, {"lifetime_s", lifetime},
              {"reason", reason}, {"flushed", flushed.removed}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string removeAnchor(shmcache::Cache& c, const json& request) {
  const std::string name = request.at("name").get<std::string>();
  const auto removed = resolver::removeNegativeAnchor(c, name);
  if (!removed.error.empty()) return failure(removed.error);
  if (removed.changed == 0) return failure(removed.name + " is not a negative trust anchor");
  const auto flushed = resolver::flushName(c, removed.name, true);
  return json{{"ok", true}, {"name", removed.name}, {"flushed", flushed.removed}}.dump();
}

std::string anchorList(shmcache::Cache& c) {
  json anchors = json::array();
  for (const auto& a : resolver::listNegativeAnchors(c, kNow)) {
    anchors.push_back({{"name", a.name}, {"expires_in_s", a.expires_at - kNow},
                       {"added_s_ago", a.added_at > 0 ? json(kNow - a.added_at) : json(nullptr)},
                       {"reason", a.reason}});
  }
  return json{{"ok", true}, {"anchors", anchors}}.dump(-1, ' ', false,
                                                       json::error_handler_t::replace);
}

/// Supervisor::onRequest, for what reads arguments.
std::string handle(shmcache::Cache& c, const std::string& line) {
  json request;
  try {
    request = json::parse(line);
  } catch (const json::exception&) {
    return failure("the request is not JSON");
  }
  if (!request.is_object() || !request.contains("command") || !request["command"].is_string()) {
    return failure("the request has no \"command\"");
  }
  const std::string command = request["command"].get<std::string>();
  try {
    if (command == "cache.lookup") {
      const std::string name = request.at("name").get<std::string>();
      std::optional<uint16_t> type;
      if (request.contains("type") && !request["type"].is_null()) {
        type = dns::typeFromText(request["type"].get<std::string>());
        if (!type) return failure("unknown type " + request["type"].get<std::string>());
      }
      const auto result = resolver::inspectName(c, name, type, kNow);
      return result.error.empty() ? inspected(result).dump() : failure(result.error);
    }
    if (command == "cache.flush") {
      const std::string name = request.at("name").get<std::string>();
      const bool subtree = request.value("subtree", false);
      const auto result = resolver::flushName(c, name, subtree);
      if (!result.error.empty()) return failure(result.error);
      // What was flushed is gone; runtime negative trust anchors stay.
      const auto after = resolver::inspectName(c, result.name, std::nullopt, kNow);
      require(after.error.empty());
      for (const auto& entry : after.entries) require(entry.kind == "nta");
      return json{{"ok", true}, {"name", result.name}, {"subtree", subtree},
                  {"removed", result.removed}}
          .dump();
    }
    if (command == "ecs") return ecsAnswer(c, request);
    if (command == "nta.add") return addAnchor(c, request);
    if (command == "nta.remove") return removeAnchor(c, request);
    if (command == "nta.list") return anchorList(c);
    for (const char* plain :
         {"ping", "status", "servers", "local_root", "cache.stats", "reload", "restart", "upgrade"}) {
      if (command == plain) return okAnswer();
    }
    return failure("unknown command \"" + command + "\"");
  } catch (const json::exception& e) {
    return failure("bad request: " + std::string(e.what()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // ControlServer hands over the line before the first newline, at most
  // kMaxRequest octets.
  if (size > control::kMaxRequest) return 0;
  std::string line(reinterpret_cast<const char*>(data), size);
  if (const auto newline = line.find('\n'); newline != std::string::npos) line.resize(newline);
  shmcache::Cache& c = cache();
  fill(c);
  const std::string answer = handle(c, line);
  const json parsed = json::parse(answer, nullptr, false);
  require(parsed.is_object() && parsed.contains("ok") && parsed["ok"].is_boolean());
  if (!parsed["ok"].get<bool>()) require(parsed.contains("error") && parsed["error"].is_string());
  return 0;
}
