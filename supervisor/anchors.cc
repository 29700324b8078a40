// Negative trust anchors at run time (RFC 7646; control requests nta.add,
// nta.remove, nta.list: control/protocol.h). The anchors themselves live in
// the shared cache (resolver/negative_anchors.h), where every worker's
// validator sees them at once. The supervisor is their only writer: it adds
// and removes them, flushes the zone's subtree each time so that what was
// cached bogus (or secure) under it is fetched and judged again, and does
// the same when one expires: otherwise answers cached insecure under an
// expired anchor would outlive it by up to their TTL.

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "control/protocol.h"
#include "dns/name.h"
#include "resolver/inspect.h"
#include "resolver/negative_anchors.h"
#include "shmcache/cache.h"
#include "supervisor/supervisor.h"
#include "supervisor/util.h"
#include "worker/clock.h"

namespace shoal::supervisor {
namespace {

using base::logLine;
using nlohmann::json;

static_assert(control::kMaxAnchorLifetimeS == resolver::kMaxAnchorLifetimeS);
static_assert(control::kDefaultAnchorLifetimeS == resolver::kDefaultAnchorLifetimeS);
static_assert(control::kMaxAnchorReason == resolver::kMaxAnchorReason);

std::string plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string Supervisor::configAnchorCovering(const std::string& name) const {
  const auto parsed = dns::Name::fromText(name);
  if (!parsed) return {};
  for (const auto& text : loaded_.config.dnssec.negative_trust_anchors) {
    const auto anchor = dns::Name::fromText(text);
    if (anchor && parsed->isSubdomainOf(*anchor)) return text;
  }
  return {};
}

void Supervisor::loadAnchors() {
  anchor_expiry_.clear();
  std::string names;
  for (const auto& a : resolver::listNegativeAnchors(*cache_, worker::wallS())) {
    anchor_expiry_[a.name] = a.expires_at;
    names += " " + a.name;
  }
  if (!anchor_expiry_.empty()) {
    logLine("negative trust anchors added at run time, still in the cache:%s", names.c_str());
  }
}

void Supervisor::expireAnchors() {
  const int64_t now = worker::wallS();
  for (auto it = anchor_expiry_.begin(); it != anchor_expiry_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    const auto flushed = resolver::flushName(*cache_, it->first, true);
    logLine("negative trust anchor %s expired: flushed %s below it", it->first.c_str(),
            plural(flushed.removed, "cache entry", "cache entries").c_str());
    it = anchor_expiry_.erase(it);
  }
}

std::string Supervisor::addAnchor(const json& request) {
  const std::string name = request.at("name").get<std::string>();
  int64_t lifetime = resolver::kDefaultAnchorLifetimeS;
  if (request.contains("lifetime_s") && !request["lifetime_s"].is_null()) {
    const json& value = request["lifetime_s"];
    if (!value.is_number_integer()) return failureAnswer("lifetime_s must be whole seconds");
    lifetime = value.get<int64_t>();
  }
  if (lifetime <= 0 || lifetime > resolver::kMaxAnchorLifetimeS) {
    return failureAnswer("the lifetime must be between 1 s and 7 days (RFC 7646 section 2), not " +
                         std::to_string(lifetime) + " s");
  }
  const std::string reason = request.value("reason", std::string());
  const int64_t now = worker::wallS();
  const auto added = resolver::addNegativeAnchor(*cache_, name, static_cast<uint32_t>(lifetime),
                                                 reason, now);
  if (!added.error.empty()) return failureAnswer(added.error);
  // The anchor is in place before the flush: what is fetched again from
  // here on is judged under it.
  const auto flushed = resolver::flushName(*cache_, added.name, true);
  anchor_expiry_[added.name] = now + lifetime;
  json warnings = json::array();
  if (!loaded_.config.dnssec.validation) {
    warnings.push_back("validation is off (dnssec.validation = false): the anchor has no effect");
  }
  if (const std::string covering = configAnchorCovering(added.name); !covering.empty()) {
    warnings.push_back(added.name + " is already covered by " + covering +
                       " from dnssec.negative_trust_anchors");
  }
  logLine("negative trust anchor %s added for %lld s%s%s: flushed %s below it",
          added.name.c_str(), static_cast<long long>(lifetime), reason.empty() ? "" : ": ",
          reason.c_str(), plural(flushed.removed, "cache entry", "cache entries").c_str());
  return json{{"ok", true},
              {"name", added.name},
              {"lifetime_s", lifetime},
              {"expires_in_s", lifetime},
              {"reason", reason},
              {"flushed", flushed.removed},
              {"warnings", warnings}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Supervisor::removeAnchor(const json& request) {
  const std::string name = request.at("name").get<std::string>();
  const auto removed = resolver::removeNegativeAnchor(*cache_, name);
  if (!removed.error.empty()) return failureAnswer(removed.error);
  const std::string covering = configAnchorCovering(removed.name);
  if (removed.changed == 0) {
    anchor_expiry_.erase(removed.name);
    if (covering == removed.name) {
      return failureAnswer(removed.name + " is a negative trust anchor of the configuration "
                           "(dnssec.negative_trust_anchors): remove it there and reload");
    }
    return failureAnswer(removed.name + " is not a negative trust anchor added with shoalctl "
                         "(see shoalctl nta list)");
  }
  const auto flushed = resolver::flushName(*cache_, removed.name, true);
  anchor_expiry_.erase(removed.name);
  json warnings = json::array();
  if (!covering.empty()) {
    warnings.push_back(removed.name + " stays insecure: it is covered by " + covering +
                       " from dnssec.negative_trust_anchors");
  }
  logLine("negative trust anchor %s removed: flushed %s below it", removed.name.c_str(),
          plural(flushed.removed, "cache entry", "cache entries").c_str());
  return json{{"ok", true},
              {"name", removed.name},
              {"flushed", flushed.removed},
              {"warnings", warnings}}
      .dump();
}

json Supervisor::anchorsJson() const {
  json anchors = json::array();
  for (const auto& name : loaded_.config.dnssec.negative_trust_anchors) {
    anchors.push_back({{"name", name},
                       {"source", "config"},
                       {"expires_in_s", nullptr},
                       {"reason", ""}});
  }
  const int64_t now = worker::wallS();
  for (const auto& a : resolver::listNegativeAnchors(*cache_, now)) {
    anchors.push_back({{"name", a.name},
                       {"source", "runtime"},
                       {"expires_in_s", a.expires_at - now},
                       {"added_s_ago", a.added_at > 0 ? json(now - a.added_at) : json(nullptr)},
                       {"reason", a.reason}});
  }
  return anchors;
}

}  // namespace shoal::supervisor
