// The worker's loop: start-up on the inherited sockets, driving the engine
// (drain its actions after every event, keep one timer armed for its next
// deadline), signals, and the graceful stop.

#include "worker/worker_loop.h"

#include <signal.h>
#include <sys/random.h>

#include <cinttypes>

#include "resolver/cache_reader.h"
#include "resolver/engine.h"
#include "shmcache/cache.h"
#include "worker/clock.h"
#include "base/log.h"

namespace shoal::worker {

using base::logLine;
using base::logError;
namespace {

constexpr uint64_t kSweepIntervalMs = 1000;

Worker* workerOf(const void* data) { return static_cast<Worker*>(const_cast<void*>(data)); }

void onEngineTimer(uv_timer_t* timer) { workerOf(timer->data)->onEngineTimer(); }
void onSweepTimer(uv_timer_t* timer) { workerOf(timer->data)->onSweepTimer(); }
void onStopTimer(uv_timer_t* timer) { workerOf(timer->data)->finishStop(); }
void onSignal(uv_signal_t* handle, int signum) { workerOf(handle->data)->onSignal(signum); }

uint64_t randomSeed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
    seed = static_cast<uint64_t>(wallMs()) ^ (static_cast<uint64_t>(getpid()) << 32);
  }
  return seed;
}

/// For the handles embedded in Worker (no memory to free on close).
void closeHandle(void* handle) {
  auto* h = static_cast<uv_handle_t*>(handle);
  if (!uv_is_closing(h)) uv_close(h, nullptr);
}

}  // namespace

Worker::Worker(const WorkerConfig& config, shmcache::Cache& cache, stats::ProcessSlot& stats,
               Journal* journal, unsigned slot)
    : config_(config),
      cache_(cache),
      slot_(slot),
      journal_(journal),
      stats_(stats),
      counters_(stats.counters),
      out_(new uint8_t[kMaxMessage]),
      scratch_(new uint8_t[resolver::kCacheScratchSize]),
      router_(config_.acl_allow) {}

Worker::~Worker() {
  if (loop_open_) uv_loop_close(&loop_);
}

int Worker::run(std::span<const ListenSocket> sockets) {
  if (const int rc = uv_loop_init(&loop_); rc != 0) {
    logError("worker %u: cannot start its loop: %s", slot_, uv_strerror(rc));
    return 1;
  }
  loop_open_ = true;
  engine_ = std::make_unique<resolver::Engine>(config_.engine, cache_, randomSeed());
  for (uv_timer_t* timer : {&engine_timer_, &sweep_timer_, &stop_timer_}) {
    uv_timer_init(&loop_, timer);
    timer->data = this;
  }
  udp_ = std::make_unique<UdpServer>(loop_, *this, journal_, counters_, slot_);
  tcp_ = std::make_unique<TcpServer>(loop_, config_, *this, counters_, slot_);
  upstream_ = std::make_unique<UpstreamTransport>(loop_, config_, *this, counters_, slot_);
  if (!config_.dnstap.socket_path.empty()) {
    std::string error;
    dnstap_ = dnstap::Sink::open(config_.dnstap, &error);
    if (!dnstap_) logError("worker %u: dnstap off: %s", slot_, error.c_str());
  }
  const std::pair<uv_signal_t*, int> signals[] = {
      {&sigterm_, SIGTERM}, {&sigint_, SIGINT}, {&sigusr1_, SIGUSR1}};
  for (const auto& [handle, signum] : signals) {
    uv_signal_init(&loop_, handle);
    handle->data = this;
    uv_signal_start(handle, worker::onSignal, signum);
  }
  // The supervisor forks with its signals blocked (it reads them from a
  // signalfd); unblock them now that our handlers are in place, so a
  // SIGTERM that arrived in between stops us cleanly.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  const bool ok = openListeners(sockets);
  if (ok) {
    uv_timer_start(&sweep_timer_, worker::onSweepTimer, kSweepIntervalMs, kSweepIntervalMs);
    engine_base_ = stats::Totals{};
    engine_base_.add(counters_);
    synth_base_ = {counters_.engine_synth_nxdomain.get(), counters_.engine_synth_nodata.get(),
                   counters_.engine_synth_wildcard.get(), counters_.engine_local_root_answers.get(),
                   counters_.ranges_stored.get(), counters_.range_holds.get()};
    upstream_->prepare();
    beat();
    udp_->replayJournal();
    stats_.state.store(static_cast<uint32_t>(stats::WorkerState::kReady),
                       std::memory_order_release);
    logLine("worker %u ready: %zu listen address(es), recvmmsg batches of %zu, journaled",
            slot_, sockets.size(), kJournalBatch);
  } else {
    finishStop();
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Everything is closed; let the last close callbacks run.
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_loop_close(&loop_);
  loop_open_ = false;
  if (ok) logCounters();
  return ok ? 0 : 1;
}

bool Worker::openListeners(std::span<const ListenSocket> sockets) {
  for (const ListenSocket& socket : sockets) {
    if (!socket.tls && !udp_->open(socket)) return false;
    if (!tcp_->open(socket)) return false;
  }
  return true;
}

void Worker::drain() {
  // Re-entry (an answer resumes a paused TCP connection whose held-back
  // queries reach the engine) is absorbed: the outer loop below runs until
  // the engine has nothing left.
  if (draining_ || finished_) return;
  draining_ = true;
  for (;;) {
    auto sends = engine_->takeSends();
    const auto cancels = engine_->takeCancels();
    const auto answers = engine_->takeAnswers();
    if (sends.empty() && cancels.empty() && answers.empty() && failed_upstreams_.empty()) break;
    // Sends before cancels: a token sent and cancelled in one batch closes.
    for (auto& send : sends) {
      if (dnstap_) {
        const auto transport = send.tls ? dnstap::Transport::kTls
                               : send.tcp ? dnstap::Transport::kTcp
                                          : dnstap::Transport::kUdp;
        const dnstap::Endpoint server{send.server, send.port};
        const int64_t now_us = wallUs();
        tap(dnstap::Kind::kResolverQuery, transport, {}, server, send.packet, now_us, 0);
        if (dnstap_->wants(dnstap::Kind::kResolverResponse)) {
          tapped_[send.token] = {server, transport, now_us};
        }
      }
      if (!upstream_->send(send)) failed_upstreams_.push_back(send.token);
    }
    for (const auto& cancel : cancels) {
      tapped_.erase(cancel.token);
      upstream_->cancel(cancel.token);
    }
    // Bounded whatever happens to the replies (entries for tokens that got
    // neither a reply nor a failure would otherwise stay).
    if (tapped_.size() > 65536) tapped_.clear();
    for (const auto& answer : answers) answerClient(answer);
    if (!failed_upstreams_.empty()) {
      const auto failed = std::move(failed_upstreams_);
      failed_upstreams_.clear();
      const int64_t now = wallMs();
      for (const uint64_t token : failed) engine_->onUpstreamError(token, now);
    }
  }
  draining_ = false;
  publishEngineStats();
  armTimer();
  if (stopping_) maybeFinishStop();
}

void Worker::armTimer() {
  if (finished_) return;
  const auto deadline = engine_->nextDeadline();
  if (!deadline) {
    uv_timer_stop(&engine_timer_);
    return;
  }
  const int64_t delay = *deadline - wallMs();
  uv_update_time(&loop_);
  uv_timer_start(&engine_timer_, worker::onEngineTimer,
                 delay > 0 ? static_cast<uint64_t>(delay) : 0, 0);
}

void Worker::beat() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  stats_.heartbeat_ms.store(static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000,
                            std::memory_order_relaxed);
}

void Worker::onEngineTimer() {
  if (finished_) return;
  engine_->onTimer(wallMs());
  drain();
}

void Worker::onUpstreamReply(uint64_t token, std::span<const uint8_t> reply) {
  if (finished_) return;
  if (const auto it = tapped_.find(token); it != tapped_.end()) {
    tap(dnstap::Kind::kResolverResponse, it->second.transport, {}, it->second.server, reply,
        it->second.sent_us, wallUs());
    tapped_.erase(it);
  }
  engine_->onUpstreamReply(token, reply, wallMs());
  drain();
}

void Worker::onUpstreamFailure(uint64_t token) {
  if (finished_) return;
  tapped_.erase(token);
  // Reported from drain()'s own loop when it runs (a pooled connection can
  // break while drain() sends on it): the engine is never re-entered.
  failed_upstreams_.push_back(token);
  drain();
}

void Worker::onSweepTimer() {
  beat();  // the loop turns: not hung
  tcp_->publishClients(stats_.clients);
  // Sockets the engine never cancelled (it should cancel every token it is
  // done with): closed once every deadline of their query is long past.
  const int64_t now = wallMs();
  upstream_->sweep(now, now - config_.engine.query_timeout_ms - config_.engine.rto_max_ms - 1000);
}

void Worker::onSignal(int signum) {
  if (signum == SIGUSR1) {
    logCounters();
    return;
  }
  beginStop();
}

void Worker::beginStop() {
  if (stopping_) return;
  stopping_ = true;
  stats_.state.store(static_cast<uint32_t>(stats::WorkerState::kDraining),
                     std::memory_order_release);
  logLine("worker %u stopping: %zu resolution(s) in flight, %zu tcp connection(s)", slot_,
          engine_->pending(), tcp_->connections());
  udp_->stopReading();  // keep the sockets: in-flight answers leave from them
  tcp_->stop();
  uv_timer_start(&stop_timer_, worker::onStopTimer,
                 static_cast<uint64_t>(config_.shutdown_grace_ms), 0);
  maybeFinishStop();
}

void Worker::maybeFinishStop() {
  if (!stopping_ || finished_ || draining_) return;
  if (engine_->pending() != 0 || tcp_->connections() != 0) return;
  if (!udp_->idle()) return;
  finishStop();
}

void Worker::finishStop() {
  if (finished_) return;
  finished_ = true;
  if (udp_) udp_->close();
  if (tcp_) tcp_->closeAll();
  if (upstream_) upstream_->closeAll();
  for (void* handle : {static_cast<void*>(&engine_timer_), static_cast<void*>(&sweep_timer_),
                       static_cast<void*>(&stop_timer_), static_cast<void*>(&sigterm_),
                       static_cast<void*>(&sigint_), static_cast<void*>(&sigusr1_)}) {
    closeHandle(handle);
  }
}

void Worker::publishEngineStats() {
  const auto& e = engine_->stats();
  const stats::Totals& b = engine_base_;
  stats::WorkerCounters& c = counters_;
  c.resolutions.set(b.resolutions + e.client_queries);
  c.resolution_servfails.set(b.resolution_servfails + e.servfails);
  c.upstream_queries.set(b.upstream_queries + e.upstream_queries);
  c.upstream_timeouts.set(b.upstream_timeouts + e.upstream_timeouts);
  c.upstream_errors.set(b.upstream_errors + e.upstream_errors);
  c.tcp_fallbacks.set(b.tcp_fallbacks + e.tcp_fallbacks);
  c.coalesced.set(b.coalesced + e.coalesced);
  c.coalesced_upstream.set(b.coalesced_upstream + e.coalesced_upstream);
  c.deadline_servfails.set(b.deadline_servfails + e.deadline_servfails);
  c.malformed_replies.set(b.malformed_replies + e.malformed_replies);
  c.stale_answers.set(b.stale_answers + e.stale_answers);
  c.hedges_sent.set(b.hedges_sent + e.hedges_sent);
  c.hedges_won.set(b.hedges_won + e.hedges_won);
  c.late_replies.set(b.late_replies + e.late_replies);
  c.background_resolutions.set(b.background_resolutions + e.background_resolutions);
  c.prefetches.set(b.prefetches + e.prefetches);
  c.dnssec_secure.set(b.dnssec_secure + e.secure);
  c.dnssec_insecure.set(b.dnssec_insecure + e.insecure);
  c.dnssec_bogus.set(b.dnssec_bogus + e.bogus);
  c.dnssec_capped.set(b.dnssec_capped + e.validation_capped);
  c.engine_synth_nxdomain.set(synth_base_[0] + e.synth_nxdomain);
  c.engine_synth_nodata.set(synth_base_[1] + e.synth_nodata);
  c.engine_synth_wildcard.set(synth_base_[2] + e.synth_wildcard);
  c.engine_local_root_answers.set(synth_base_[3] + e.local_root_answers);
  c.ranges_stored.set(synth_base_[4] + e.ranges_stored);
  c.range_holds.set(synth_base_[5] + e.range_holds);
  c.ecs_queries.set(b.ecs_queries + e.ecs_queries);
  c.ecs_scope_global.set(b.ecs_scope_global + e.ecs_scope_global);
  c.ecs_scope_partition.set(b.ecs_scope_partition + e.ecs_scope_partition);
  c.ecs_mismatched.set(b.ecs_mismatched + e.ecs_mismatched);
  c.case_mismatches.set(b.case_mismatches + e.case_mismatches);
  c.cookie_mismatches.set(b.cookie_mismatches + e.cookie_mismatches);
  c.upstream_bad_cookies.set(b.upstream_bad_cookies + e.bad_cookies);
  c.rebinding_blocked.set(b.rebinding_blocked + e.rebinding_blocked);
  c.overload_stale.set(b.overload_stale + e.overload_stale);
  c.overload_servfails.set(b.overload_servfails + e.overload_servfails);
}

void Worker::logCounters() const {
  stats::Totals c;
  c.add(counters_);
  const auto& e = engine_->stats();
  const auto& r = c.answers_by_rcode;
  logLine("worker %u counters: queries udp=%" PRIu64 " tcp=%" PRIu64 " hits=%" PRIu64
          " misses=%" PRIu64 " refused_acl=%" PRIu64 " malformed=%" PRIu64 " dropped=%" PRIu64
          " | answers udp=%" PRIu64 " tcp=%" PRIu64 " noerror=%" PRIu64 " servfail=%" PRIu64
          " nxdomain=%" PRIu64 " refused=%" PRIu64 " orphaned=%" PRIu64 " send_errors=%" PRIu64
          " | tcp accepted=%" PRIu64 " rejected=%" PRIu64 " idle_closed=%" PRIu64
          " | tls handshakes=%" PRIu64 " failed=%" PRIu64
          " | upstream udp=%" PRIu64 " tcp=%" PRIu64 " socket_errors=%" PRIu64 " swept=%" PRIu64
          " | engine queries=%" PRIu64 " servfails=%" PRIu64 " timeouts=%" PRIu64
          " coalesced=%" PRIu64,
          slot_, c.queries_udp, c.queries_tcp, c.cache_hits, c.cache_misses, c.acl_refused,
          c.malformed, c.dropped, c.answers_udp, c.answers_tcp, r[0], r[2], r[3], r[5],
          c.answers_orphaned, c.send_errors, c.tcp_accepted, c.tcp_rejected, c.tcp_idle_closed,
          c.tls_handshakes, c.tls_handshake_failures,
          c.upstream_udp, c.upstream_tcp, c.upstream_socket_errors, c.upstream_swept,
          e.client_queries, e.servfails, e.upstream_timeouts, e.coalesced);
}

int runWorker(const WorkerConfig& config, std::span<const ListenSocket> sockets,
              shmcache::Cache& cache, stats::ProcessSlot& stats, Journal* journal,
              unsigned slot) {
  Worker worker(config, cache, stats, journal, slot);
  return worker.run(sockets);
}

}  // namespace shoal::worker
