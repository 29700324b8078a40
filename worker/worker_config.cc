#include "worker/worker_config.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "base/random.h"
#include "config/config.h"

namespace shoal::worker {

WorkerConfig workerConfigFrom(const config::Config& config, resolver::RootHints hints,
                              const resolver::TrustAnchors& anchors,
                              std::shared_ptr<TlsContext> tls, const Secrets& secrets) {
  WorkerConfig out;
  const auto& r = config.resolver;
  auto& e = out.engine;
  e.query_timeout_ms = r.query_timeout.count();
  e.resolution_timeout_ms = r.resolution_timeout.count();
  for (const auto& zone : config.forward) {
    resolver::ForwardSpec forward;
    if (auto name = dns::Name::fromText(zone.name)) forward.zone = *name;  // checked by config
    forward.addresses = zone.addresses;
    forward.validate = zone.validate;
    forward.tls = zone.tls;
    forward.tls_name = zone.tls_name;
    forward.tls_ca = zone.tls_ca;
    e.forwards.push_back(std::move(forward));
  }
  e.rto_min_ms = r.rto_min.count();
  e.rto_max_ms = r.rto_max.count();
  e.qname_minimisation = r.qname_minimisation;
  e.ipv4 = r.ipv4;
  e.ipv6 = r.ipv6;
  e.deny_upstream = r.deny_upstream;
  e.nxdomain_cut = r.nxdomain_cut;
  e.aggressive_nsec = config.dnssec.aggressive_nsec;
  e.min_ttl = config.cache.min_ttl;
  e.max_ttl = config.cache.max_ttl;
  e.max_negative_ttl = config.cache.max_negative_ttl;
  e.stale_client_timeout_ms = config.cache.serve_stale_client_timeout.count();
  e.serve_stale_s = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(config.cache.serve_stale).count());
  e.udp_payload_size = config.server.udp_payload_size;
  e.case_randomisation = r.case_randomisation;
  e.cookies = r.cookies;
  e.cookie_secret = secrets.client_cookie;
  e.private_addresses = r.private_addresses;
  for (const auto& text : r.private_domains) {
    if (auto name = dns::Name::fromText(text)) e.private_domains.push_back(*name);
  }
  e.max_resolutions = config.limits.resolutions;
  e.hints = std::move(hints);
  const auto& d = config.dnssec;
  if (d.validation) e.validation.anchors = anchors.anchors;
  for (const auto& text : d.negative_trust_anchors) {
    if (auto name = dns::Name::fromText(text)) e.validation.negative_anchors.push_back(*name);
  }
  e.validation.policy.sha1_signatures = d.sha1_signatures;
  e.validation.policy.nsec3_max_iterations = d.nsec3_max_iterations;
  e.validation.bogus_ttl = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(d.bogus_ttl).count());

  resolver::EcsPolicy& ecs = e.ecs;
  ecs.enabled = config.ecs.enabled;
  for (const auto& text : config.ecs.zones) {
    if (auto name = dns::Name::fromText(text)) ecs.zones.push_back(*name);
  }
  ecs.servers = config.ecs.servers;
  ecs.ipv4_source = static_cast<uint8_t>(config.ecs.ipv4_source);
  ecs.ipv6_source = static_cast<uint8_t>(config.ecs.ipv6_source);
  ecs.special_substitute = config.ecs.special_clients;
  ecs.trusted = config.ecs.trusted;
  ecs.max_partitions = config.cache.max_ecs_partitions;

  out.limits.udp_payload_size = config.server.udp_payload_size;
  out.prefetch_min_hits = config.cache.prefetch_min_hits;
  out.limits.ecs = ecs;
  out.limits.nxdomain_cut = r.nxdomain_cut;
  out.limits.validating = d.validation && !anchors.anchors.empty();
  out.limits.aggressive_nsec = d.aggressive_nsec;
  out.limits.nsec3_max_iterations = d.nsec3_max_iterations;

  out.acl_allow = config.acl.allow;
  for (const auto& address : r.outgoing_addresses) {
    (address.isV4() ? out.outgoing_v4 : out.outgoing_v6).push_back(address);
  }
  out.tcp_max_clients = config.server.tcp_max_clients;
  out.tcp_max_per_client = config.server.tcp_max_per_client;
  out.tcp_max_queued = config.server.tcp_max_queued;
  out.tcp_max_buffers = config.server.tcp_max_buffers;
  // RFC 7828: the idle timeout in units of 100 ms, for clients that ask.
  out.limits.tcp_keepalive = static_cast<uint16_t>(
      std::min<int64_t>(config.server.tcp_idle_timeout.count() / 100, 65535));
  out.tcp_idle_timeout_ms = config.server.tcp_idle_timeout.count();
  out.query_log_one_in = config.log.queries;
  out.dnstap.socket_path = config.dnstap.socket;
  out.dnstap.identity = config.dnstap.identity;
  if (out.dnstap.identity.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) out.dnstap.identity = host;
  }
  out.dnstap.version = std::string("shoal ") + SHOAL_VERSION_TEXT;
  const char* const kinds[4] = {"client_query", "client_response", "resolver_query",
                                "resolver_response"};
  for (int i = 0; i < 4; ++i) {
    out.dnstap.kinds[i] = std::find(config.dnstap.messages.begin(), config.dnstap.messages.end(),
                                    kinds[i]) != config.dnstap.messages.end();
  }
  out.tcp_collapse = config.server.tcp_collapse;
  out.tcp_collapse_queue = config.server.tcp_collapse_queue;
  out.tcp_collapsed_max = config.server.tcp_collapsed_max;
  out.tcp_collapsed_timeout_ms = config.server.tcp_collapsed_timeout.count();
  out.tls = std::move(tls);
  out.server_cookies = config.server.cookies;
  out.cookie_rotation_s =
      std::chrono::duration_cast<std::chrono::seconds>(config.server.cookie_rotation).count();
  out.secrets = secrets;
  out.rate = config.limits.rate;
  out.rate_burst = config.limits.rate_burst;
  out.rate_slip = config.limits.rate_slip;
  out.rate_ipv4_prefix = static_cast<uint8_t>(config.limits.rate_ipv4_prefix);
  out.rate_ipv6_prefix = static_cast<uint8_t>(config.limits.rate_ipv6_prefix);
  out.client_in_flight = config.limits.client_in_flight;
  return out;
}

Secrets Secrets::generate() {
  Secrets s;
  base::secureRandomFill(s.client_cookie);
  base::secureRandomFill(s.server_cookie_master);
  base::secureRandomFill(s.rate_key);
  return s;
}

dns::CookieSecrets serverCookieSecrets(const dns::CookieSecret& master, int64_t rotation_s,
                                       int64_t now_s) {
  const int64_t period = now_s / std::max<int64_t>(rotation_s, 1);
  auto derive = [&](int64_t n) {
    dns::CookieSecret out{};
    for (uint8_t half = 0; half < 2; ++half) {
      uint8_t input[9];
      std::memcpy(input, &n, sizeof n);
      input[8] = half;
      const auto hash = dns::sipHash24(master, input);
      std::copy(hash.begin(), hash.end(), out.begin() + half * 8);
    }
    return out;
  };
  dns::CookieSecrets secrets;
  secrets.current = derive(period);
  secrets.previous = derive(period - 1);
  secrets.has_previous = true;
  return secrets;
}

}  // namespace shoal::worker
