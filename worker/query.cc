// The query path shared by every client transport: ACL, then the hot path
// (resolver::answerFromCache into the worker's buffers: no allocation),
// and only on a cache miss the hand-off to the engine, which is the slow
// path (the id -> client map allocates).

#include <cstring>

#include "limits/rate_table.h"
#include "resolver/answer.h"
#include "resolver/cache_reader.h"
#include "worker/clock.h"
#include "worker/sockaddr.h"
#include "worker/worker_loop.h"

namespace shoal::worker {
namespace {

/// Microseconds since `since` (0 if the wall clock stepped back).
uint64_t elapsedUs(int64_t since) {
  const int64_t now = wallUs();
  return now > since ? static_cast<uint64_t>(now - since) : 0;
}

}  // namespace

void Worker::countSynthesis(resolver::Synthesis kind, bool local_root) {
  switch (kind) {
    case resolver::Synthesis::kNone:
      return;
    case resolver::Synthesis::kNxdomain:
      ++counters_.synth_nxdomain;
      break;
    case resolver::Synthesis::kNodata:
      ++counters_.synth_nodata;
      break;
    case resolver::Synthesis::kWildcard:
      ++counters_.synth_wildcard;
      break;
  }
  if (local_root) ++counters_.local_root_answers;
}

namespace {

dnstap::Transport transportOf(const ClientOrigin& origin) {
  if (!origin.tcp) return dnstap::Transport::kUdp;
  if (origin.stream >= 0) return dnstap::Transport::kHttps;
  return origin.tls ? dnstap::Transport::kTls : dnstap::Transport::kTcp;
}

}  // namespace

void Worker::tap(dnstap::Kind kind, dnstap::Transport transport,
                 const dnstap::Endpoint& initiator, const dnstap::Endpoint& responder,
                 std::span<const uint8_t> message, int64_t query_us, int64_t response_us) {
  if (!dnstap_ || !dnstap_->wants(kind)) return;
  if (dnstap_->log(kind, transport, initiator, responder, message, query_us, response_us)) {
    ++counters_.dnstap_frames;
  } else {
    ++counters_.dnstap_dropped;
  }
}

QueryOutcome Worker::handleQuery(std::span<const uint8_t> query, const base::IpAddress& client,
                                 const ClientOrigin& origin) {
  const bool tcp = origin.tcp;
  ++(tcp ? counters_.queries_tcp : counters_.queries_udp);
  if (!router_.allows(client)) {
    ++counters_.acl_refused;
    const auto refused = resolver::refuse(query, {out_.get(), kMaxMessage});
    if (refused.result == resolver::HotPathResult::kDrop) {
      ++counters_.dropped;
      return {};
    }
    countResponse({out_.get(), refused.length});
    return {{out_.get(), refused.length}};
  }
  // One clock read serves the cache's "now" and the response time.
  const int64_t received_us = wallUs();
  const auto transport = transportOf(origin);
  const dnstap::Endpoint from{client, origin.from != nullptr ? portOf(origin.from) : origin.port};
  if (dnstap_) tap(dnstap::Kind::kClientQuery, transport, from, {}, query, received_us, 0);
  const int64_t now_ms = received_us / 1000;
  // Over UDP the client's own timer resends: the operator's loss indicator.
  if (!tcp && retries_->isRetry(query, client, now_ms)) ++counters_.client_retries;
  const bool logged = query_log_.sample();
  const auto result = resolver::answerFromCache(
      query, client, tcp, cache_, config_.limits, now_ms / 1000, {out_.get(), kMaxMessage},
      {scratch_.get(), resolver::kCacheScratchSize}, origin.tcp_keepalive,
      config_.server_cookies ? cookieSecrets(now_ms / 1000) : nullptr);
  if (result.cookie == resolver::CookieState::kValid) {
    ++counters_.cookies_valid;
  } else if (result.cookie == resolver::CookieState::kClientOnly) {
    ++counters_.cookies_client_only;
  }
  // The UDP rate limit, before anything leaves or is resolved. A valid
  // server cookie proves the address, as TCP does: not limited.
  if (!tcp && config_.rate_table != nullptr && result.result != resolver::HotPathResult::kDrop &&
      result.cookie != resolver::CookieState::kValid && !withinRate(client)) {
    return slip(result);
  }
  switch (result.result) {
    case resolver::HotPathResult::kAnswered:
      ++counters_.cache_hits;
      if (result.scope > 0) ++counters_.ecs_partition_hits;
      countSynthesis(result.synthesised, result.local_root);
      countResponse({out_.get(), result.length});
      counters_.latency_hit.record(elapsedUs(received_us));
      if (logged) QueryLog::write(client, tcp, {out_.get(), result.length}, true, elapsedUs(received_us));
      if (dnstap_) {
        tap(dnstap::Kind::kClientResponse, transport, from, {}, {out_.get(), result.length},
            received_us, wallUs());
      }
      if (resolver::prefetchDue(result.late_hits, config_.prefetch_min_hits)) {
        // A popular entry about to expire: refreshed in the background so
        // that it never misses. The answer in out_ is not touched: draining
        // only sends upstream queries (the prefetch has no client).
        engine_->prefetch(result.request, now_ms);
        drain();
      }
      return {{out_.get(), result.length}};
    case resolver::HotPathResult::kError:
      ++counters_.malformed;
      countResponse({out_.get(), result.length});
      if (dnstap_) {
        tap(dnstap::Kind::kClientResponse, transport, from, {}, {out_.get(), result.length},
            received_us, wallUs());
      }
      return {{out_.get(), result.length}};
    case resolver::HotPathResult::kDrop:
      ++counters_.dropped;
      return {};
    case resolver::HotPathResult::kMiss:
      break;
  }
  // Slow path: remember where the answer goes, then let the engine resolve.
  ++counters_.cache_misses;
  if (config_.client_in_flight != 0 && router_.inFlight(client) >= config_.client_in_flight) {
    ++counters_.client_limited;
    const resolver::Ede ede{dns::ede::kOther, "too many queries in flight from this client"};
    const size_t n = resolver::writeServfail(result.request, config_.limits.udp_payload_size, ede,
                                             {out_.get(), kMaxMessage});
    if (n == 0) return {};
    countResponse({out_.get(), n});
    return {{out_.get(), n}};
  }
  ClientRef ref;
  ref.tcp = tcp;
  ref.received_us = received_us;
  ref.client = client;
  ref.client_port = from.port;
  ref.transport = static_cast<uint8_t>(transport);
  ref.logged = logged;
  if (tcp) {
    ref.connection = origin.connection;
    ref.stream = origin.stream;
  } else {
    ref.pending = udp_->journalPending(query, origin);
    ref.listener = origin.listener;
    if (origin.local != nullptr) ref.local = *origin.local;
    std::memcpy(&ref.address, origin.from, sockaddrLength(origin.from));
  }
  resolver::ClientQuery client_query;
  client_query.id = router_.add(ref);
  client_query.request = result.request;
  client_query.client = client;
  engine_->onClientQuery(client_query, now_ms);
  drain();
  return {{}, true};
}

bool Worker::withinRate(const base::IpAddress& client) {
  const auto masked =
      client.masked(client.isV4() ? config_.rate_ipv4_prefix : config_.rate_ipv6_prefix);
  uint8_t input[17];
  input[0] = client.isV4() ? 4 : 6;
  std::memcpy(input + 1, masked.bytes().data(), masked.size());
  // Keyed: nobody can pick a prefix that lands in another's bucket.
  const auto hash = dns::sipHash24(config_.secrets.rate_key, {input, 1 + masked.size()});
  uint64_t key = 0;
  std::memcpy(&key, hash.data(), sizeof key);
  return config_.rate_table->take(key == 0 ? 1 : key, config_.rate, config_.rate_burst,
                                  limits::RateTable::monotonicMs());
}

QueryOutcome Worker::slip(const resolver::HotPathAnswer& result) {
  ++counters_.rate_limited;
  // An error response (FORMERR...) has no request to answer from: dropped.
  if (config_.rate_slip == 0 || result.result == resolver::HotPathResult::kError ||
      ++slips_ % config_.rate_slip != 0) {
    return {};
  }
  const size_t n = resolver::writeSlip(result.request, config_.limits.udp_payload_size,
                                       result.cookie == resolver::CookieState::kClientOnly,
                                       {out_.get(), kMaxMessage});
  if (n == 0) return {};
  ++counters_.rate_slipped;
  countResponse({out_.get(), n});
  return {{out_.get(), n}};
}

const dns::CookieSecrets* Worker::cookieSecrets(int64_t now_s) {
  const int64_t period = now_s / std::max<int64_t>(config_.cookie_rotation_s, 1);
  if (period != cookie_period_) {
    cookie_secrets_ =
        serverCookieSecrets(config_.secrets.server_cookie_master, config_.cookie_rotation_s, now_s);
    cookie_period_ = period;
  }
  return &cookie_secrets_;
}

void Worker::countResponse(std::span<const uint8_t> response) {
  if (response.size() >= 4) ++counters_.answers_by_rcode[response[3] & 0x0F];
}

void Worker::answerClient(const resolver::ClientAnswer& answer) {
  if (finished_) return;
  const auto ref = router_.take(answer.id);
  if (!ref) return;
  countResponse(answer.packet);
  counters_.latency_miss.record(elapsedUs(ref->received_us));
  if (ref->logged) {
    QueryLog::write(ref->client, ref->tcp, answer.packet, false, elapsedUs(ref->received_us));
  }
  if (dnstap_) {
    tap(dnstap::Kind::kClientResponse, static_cast<dnstap::Transport>(ref->transport),
        {ref->client, ref->client_port}, {}, answer.packet, ref->received_us, wallUs());
  }
  if (ref->tcp) {
    tcp_->answer(ref->connection, ref->stream, answer.packet);
  } else {
    udp_->answer(ref->listener, answer.packet, reinterpret_cast<const sockaddr*>(&ref->address),
                 ref->local);
    udp_->releasePending(ref->pending);
  }
}

}  // namespace shoal::worker
