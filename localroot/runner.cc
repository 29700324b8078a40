#include "localroot/runner.h"

#include <algorithm>
#include <utility>

#include "localroot/serial.h"

namespace shoal::localroot {

namespace {

/// ICANN's root zone transfer servers (RFC 8806 appendix A), which allow
/// AXFR of the root zone to anyone: lax.xfr.dns.icann.org and
/// iad.xfr.dns.icann.org (also known as xfr.cjr.dns.icann.org).
constexpr const char* kIcannTransferServers[] = {"192.0.32.132", "192.0.47.132",
                                                 "2620:0:2d0:202::132", "2620:0:2830:202::132"};

std::string sourceText(const base::SocketAddress& source) { return source.toString(); }

/// Several sources' errors in one line: "a: why; b: why".
void append(std::string& errors, const base::SocketAddress& source, const std::string& error) {
  if (!errors.empty()) errors += "; ";
  errors += sourceText(source) + ": " + error;
}

}  // namespace

const char* toString(State state) {
  switch (state) {
    case State::kDisabled: return "disabled";
    case State::kLoading: return "loading";
    case State::kOk: return "ok";
    case State::kFailed: return "failed";
    case State::kExpired: return "expired";
  }
  return "unknown";
}

Runner::Runner(RunnerOptions options, RunnerHooks hooks)
    : options_(std::move(options)), hooks_(std::move(hooks)) {
  options_.refresh_min_s = std::max<int64_t>(options_.refresh_min_s, 1);
}

int64_t Runner::tick(int64_t now_s) {
  if (next_s_ != 0 && now_s < next_s_) return next_s_;
  status_.last_attempt = now_s;
  if (zone_ && status_.state != State::kExpired) {
    refresh(now_s);
  } else {
    if (status_.state == State::kDisabled) setState(State::kLoading);
    std::string errors;
    if (auto zone = fetch(now_s, nullptr, errors)) {
      install(std::move(*zone), now_s);
    } else {
      failed(now_s, errors);
    }
  }
  status_.next_attempt = next_s_;
  hooks_.report(status_);
  return next_s_;
}

std::optional<Runner::Fetched> Runner::fetch(int64_t now_s, const base::SocketAddress* preferred,
                                             std::string& errors) {
  std::vector<base::SocketAddress> order;
  if (preferred != nullptr) order.push_back(*preferred);
  for (const auto& source : options_.sources) {
    if (preferred == nullptr || !(source == *preferred)) order.push_back(source);
  }
  if (order.empty()) errors = "no transfer source is configured";
  // IXFR from the version held, even expired: the result is verified.
  const ZoneData* current = data_ ? &*data_ : nullptr;
  for (const auto& source : order) {
    if (auto fetched = fetchFrom(now_s, source, current, errors)) return fetched;
  }
  return std::nullopt;
}

std::optional<Runner::Fetched> Runner::fetchFrom(int64_t now_s, const base::SocketAddress& source,
                                                 const ZoneData* current, std::string& errors) {
  TransferResult transferred = hooks_.transfer(source, current);
  if (!transferred.zone) {
    hooks_.log("local root: transfer of " + options_.apex.toText() + " from " +
               sourceText(source) + " (" + transferred.method + ") failed: " + transferred.error);
    append(errors, source, transferred.error);
    return std::nullopt;
  }
  const size_t records = transferred.zone->records.size();
  VerifyResult verified = hooks_.verify(*transferred.zone, now_s);
  if (!verified.zone) {
    hooks_.log("local root: the copy of " + options_.apex.toText() + " from " +
               sourceText(source) + " (" + std::to_string(records) + " records, " +
               transferred.method + ") is not used: " + verified.error);
    if (transferred.incremental) {
      // The differences did not give the zone the source signed: the whole
      // zone might.
      hooks_.log("local root: transferring the whole zone from " + sourceText(source));
      return fetchFrom(now_s, source, nullptr, errors);
    }
    append(errors, source, verified.error);
    return std::nullopt;
  }
  hooks_.log("local root: serial " + std::to_string(verified.zone->soa.serial) + " from " +
             sourceText(source) + " verified (" + std::to_string(records) + " records, " +
             transferred.method + "; ZONEMD digest and DNSSEC)");
  return Fetched{std::move(*verified.zone), std::move(*transferred.zone),
                 std::move(transferred.method)};
}

std::optional<std::pair<uint32_t, base::SocketAddress>> Runner::askSerial(std::string& errors) {
  for (const auto& source : options_.sources) {
    SerialResult answer = hooks_.query_serial(source);
    if (answer.serial) return std::make_pair(*answer.serial, source);
    append(errors, source, answer.error);
  }
  if (options_.sources.empty()) errors = "no transfer source is configured";
  return std::nullopt;
}

void Runner::install(Fetched fetched, int64_t now_s) {
  const bool recovered = status_.state == State::kFailed || status_.state == State::kExpired;
  zone_ = std::move(fetched.verified);
  data_ = std::move(fetched.data);
  status_.serial = zone_->soa.serial;
  status_.source = zone_->source;
  status_.transfer = std::move(fetched.method);
  status_.loaded_at = now_s;
  status_.refreshed_at = now_s;
  status_.last_error.clear();
  reload(now_s);
  if (status_.state != State::kOk) return;  // reload() said why
  const LoadReport& load = status_.load;
  hooks_.log("local root: serial " + std::to_string(*status_.serial) + " from " + status_.source +
             " in use: " + std::to_string(load.rrsets) + " RRsets and " +
             std::to_string(load.ranges) + " NSEC ranges in the cache (" +
             std::to_string(load.refused) + " refused, " + std::to_string(load.skipped) +
             " left out)" + (recovered ? "; no longer iterating from the root servers" : ""));
  if (load.ranges_lost > 0) {
    hooks_.log("local root: warning: " + std::to_string(load.ranges_lost) + " of " +
               std::to_string(load.ranges + load.ranges_lost) +
               " NSEC ranges did not stay in the cache: a zone's ranges share one stripe, "
               "which is too small (raise cache.size or lower cache.stripes); names they "
               "would prove absent are resolved from the root servers");
  }
  next_s_ = now_s + refreshInterval();
}

void Runner::reload(int64_t now_s) {
  if (zone_->valid_until <= now_s) {
    setState(State::kExpired);
    status_.last_error = "the ZONEMD signature of serial " + std::to_string(zone_->soa.serial) +
                         " has expired";
    hooks_.log("local root: " + status_.last_error +
               ": no longer used; resolving from the root servers by iteration");
    next_s_ = now_s + retryInterval();
    return;
  }
  status_.load = hooks_.load(*zone_, now_s);
  setState(State::kOk);
}

void Runner::refresh(int64_t now_s) {
  std::string errors;
  const auto answer = askSerial(errors);
  if (!answer) {
    failed(now_s, "no source answered the SOA query: " + errors);
    return;
  }
  const auto& [serial, source] = *answer;
  if (!serialNewer(serial, zone_->soa.serial)) {
    // Still current (or the source lags behind): a good refresh.
    status_.refreshed_at = now_s;
    status_.last_error.clear();
    reload(now_s);
    if (status_.state == State::kOk) next_s_ = now_s + refreshInterval();
    return;
  }
  hooks_.log("local root: serial " + std::to_string(serial) + " at " + sourceText(source) +
             " is newer than " + std::to_string(zone_->soa.serial) + ": transferring");
  if (auto zone = fetch(now_s, &source, errors)) {
    install(std::move(*zone), now_s);
  } else {
    failed(now_s, errors);
  }
}

void Runner::failed(int64_t now_s, const std::string& error) {
  status_.last_error = error;
  if (!zone_ || status_.state == State::kExpired) {
    if (status_.state != State::kExpired) setState(State::kFailed);
    next_s_ = now_s + retryInterval();
    hooks_.log("local root: no usable copy of " + options_.apex.toText() + " (" + error +
               "); resolving from the root servers by iteration; next attempt in " +
               std::to_string(next_s_ - now_s) + " s");
    return;
  }
  // A zone is in use: keep it until the SOA expire (RFC 1035 section 3.3.13).
  if (now_s - status_.refreshed_at >= zone_->soa.expire) {
    setState(State::kExpired);
    next_s_ = now_s + retryInterval();
    hooks_.log("local root: serial " + std::to_string(zone_->soa.serial) +
               " not refreshed for " + std::to_string(now_s - status_.refreshed_at) +
               " s (SOA expire " + std::to_string(zone_->soa.expire) + " s; " + error +
               "): no longer used; resolving from the root servers by iteration");
    return;
  }
  reload(now_s);
  if (status_.state != State::kOk) return;
  next_s_ = now_s + retryInterval();
  hooks_.log("local root: refresh failed (" + error + "); keeping serial " +
             std::to_string(zone_->soa.serial) + "; next attempt in " +
             std::to_string(next_s_ - now_s) + " s");
}

int64_t Runner::refreshInterval() const {
  int64_t interval = zone_ ? zone_->soa.refresh : kRetryWithoutZoneS;
  if (status_.load.shortest_ttl > 0) {
    interval = std::min<int64_t>(interval, status_.load.shortest_ttl / 2);
  }
  return std::max(interval, options_.refresh_min_s);
}

int64_t Runner::retryInterval() const {
  if (!zone_) return std::max(kRetryWithoutZoneS, options_.refresh_min_s);
  return std::max(std::min<int64_t>(zone_->soa.retry, refreshInterval()), options_.refresh_min_s);
}

void Runner::setState(State state) {
  if (status_.state == state) return;
  status_.state = state;
  if (state == State::kLoading) hooks_.report(status_);
}

std::vector<base::SocketAddress> defaultSources(const resolver::RootHints& hints,
                                                bool builtin_hints, bool ipv4, bool ipv6) {
  std::vector<base::SocketAddress> out;
  const auto add = [&](const base::IpAddress& address) {
    if (!(address.isV4() ? ipv4 : ipv6)) return;
    const base::SocketAddress source{address, 53};
    if (std::find(out.begin(), out.end(), source) == out.end()) out.push_back(source);
  };
  for (const auto& server : hints.servers) {
    for (const auto& address : server.addresses) add(address);
  }
  if (builtin_hints) {
    for (const char* text : kIcannTransferServers) {
      if (const auto address = base::IpAddress::parse(text)) add(*address);
    }
  }
  return out;
}

}  // namespace shoal::localroot
