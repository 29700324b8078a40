#include "worker/collapser.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "base/log.h"
#include "collapse/tcp_repair.h"

namespace shoal::worker {

using base::logLine;
using base::logWarning;
namespace {

constexpr uint64_t kTimerMs = 1000;  // queue binding retries, expiry sweeps

void onQueueReadable(uv_poll_t* handle, int status, int /*events*/) {
  if (status < 0) return;
  static_cast<Collapser*>(handle->data)->onQueueReadable();
}

void onTimer(uv_timer_t* handle) { static_cast<Collapser*>(handle->data)->onTimer(); }

}  // namespace

std::unique_ptr<Collapser> Collapser::create(uv_loop_t& loop, const WorkerConfig& config,
                                             stats::WorkerCounters& counters, unsigned slot,
                                             Revived revived, void* context) {
  if (!config.tcp_collapse) return nullptr;
  std::string error;
  if (!collapse::repairAllowed(&error)) {
    logWarning("worker %u: tcp_collapse unavailable (%s): idle connections are closed instead", slot,
            error.c_str());
    return nullptr;
  }
  auto set = collapse::DivertSet::open(slot, &error);
  if (!set) {
    logWarning("worker %u: tcp_collapse unavailable (divert set: %s): idle connections are closed "
            "instead",
            slot, error.c_str());
    return nullptr;
  }
  std::unique_ptr<Collapser> c(new Collapser(loop, config, counters, slot, revived, context));
  c->set_ = std::move(set);
  uv_timer_init(&loop, &c->timer_);
  c->timer_.data = c.get();
  uv_timer_start(&c->timer_, worker::onTimer, kTimerMs, kTimerMs);
  c->bindQueue();
  return c;
}

Collapser::Collapser(uv_loop_t& loop, const WorkerConfig& config, stats::WorkerCounters& counters,
                     unsigned slot, Revived revived, void* context)
    : loop_(loop),
      counters_(counters),
      slot_(slot),
      queue_number_(static_cast<uint16_t>(config.tcp_collapse_queue + slot)),
      lifetime_ms_(config.tcp_collapsed_timeout_ms),
      revived_(revived),
      context_(context),
      store_(config.tcp_collapsed_max, config.tcp_collapsed_timeout_ms) {
  counters_.tcp_collapsed_held.set(0);
}

Collapser::~Collapser() = default;

void Collapser::bindQueue() {
  if (queue_ || closed_) return;
  std::string error;
  queue_ = collapse::PacketQueue::open(queue_number_, &error);
  if (!queue_) {
    if (error != bind_error_) {
      logWarning("worker %u: tcp_collapse: NFQUEUE %s; retrying every second", slot_, error.c_str());
      bind_error_ = error;
    }
    return;
  }
  // Whatever the set holds was a predecessor's: those connections are gone.
  if (!set_->flush(&error)) complain("emptying the divert set: " + error);
  uv_poll_init(&loop_, &poll_, queue_->fd());
  poll_.data = this;
  uv_poll_start(&poll_, UV_READABLE, worker::onQueueReadable);
  polling_ = true;
  logLine("worker %u: tcp_collapse on (NFQUEUE %u, at most %zu collapsed, kept %lld s)", slot_,
          queue_number_, store_.capacity(), static_cast<long long>(lifetime_ms_ / 1000));
}

bool Collapser::collapse(int fd) {
  if (!queue_ || closed_ || store_.full()) {
    ++counters_.tcp_collapse_skipped;
    return false;
  }
  const auto tuple = collapse::ConnTuple::ofSocket(fd);
  if (!tuple) {
    ++counters_.tcp_collapse_skipped;
    return false;
  }
  // Divert first: from here every segment of the connection comes to the
  // queue, so the state saved below cannot change under us.
  std::string error;
  if (!set_->add(*tuple, &error)) {
    ++counters_.tcp_collapse_skipped;
    complain("divert " + tuple->toText() + ": " + error);
    return false;
  }
  const auto state = collapse::saveIdle(fd, &error);
  if (!state) {
    // Not idle after all (an answer not acknowledged yet, a segment that
    // came in meanwhile): kept open, and left alone by the queue again.
    std::string ignored;
    set_->remove(*tuple, &ignored);
    ++counters_.tcp_collapse_skipped;
    return false;
  }
  if (!store_.put(*tuple, *state, static_cast<int64_t>(uv_now(&loop_)))) {
    // (a 256th distinct local address): the connection stays as it was
    collapse::leaveRepair(fd);
    std::string ignored;
    set_->remove(*tuple, &ignored);
    ++counters_.tcp_collapse_skipped;
    return false;
  }
  ++counters_.tcp_collapsed;
  counters_.tcp_collapsed_held.set(store_.size());
  return true;
}

void Collapser::onQueueReadable() {
  if (!queue_) return;
  const bool ok = queue_->receive(
      [this](uint32_t id, std::span<const uint8_t> packet) { onSegment(id, packet); });
  if (queue_->overflows() != queue_drops_seen_) {
    counters_.tcp_collapse_queue_drops += queue_->overflows() - queue_drops_seen_;
    queue_drops_seen_ = queue_->overflows();
  }
  if (!ok) complain("reading NFQUEUE: " + std::string(std::strerror(errno)));
  counters_.tcp_collapsed_held.set(store_.size());
}

void Collapser::onSegment(uint32_t id, std::span<const uint8_t> packet) {
  const auto tuple = collapse::ConnTuple::ofIncoming(packet);
  const auto now = static_cast<int64_t>(uv_now(&loop_));
  std::optional<collapse::TupleStore::Taken> taken;
  if (tuple) {
    taken = store_.take(*tuple, now);
    if (!taken) {
      // Not held (expired before the sweep saw it, or a segment that raced
      // a revival): its element must not divert the tuple any longer.
      std::string ignored;
      set_->remove(*tuple, &ignored);
    }
  }
  if (taken) {
    const uint64_t started = uv_hrtime();
    std::string error;
    const auto elapsed = static_cast<uint32_t>(std::min<int64_t>(now - taken->collapsed_ms, UINT32_MAX));
    const int fd = collapse::restore(*tuple, taken->state, elapsed, &error);
    std::string ignored;
    set_->remove(*tuple, &ignored);
    if (fd >= 0) {
      revived_(context_, fd);
      ++counters_.tcp_revived;
      counters_.tcp_revive_us += (uv_hrtime() - started) / 1000;
    } else {
      ++counters_.tcp_revive_failed;
      complain("reviving " + tuple->toText() + ": " + error);
    }
  }
  // Let it through: to the rebuilt socket; or, for a tuple we no longer
  // hold (forgotten, or a segment that raced the revival), to the kernel,
  // which delivers it or resets the connection.
  queue_->verdict(id, true);
}

void Collapser::onTimer() {
  bindQueue();
  const auto now = static_cast<int64_t>(uv_now(&loop_));
  if (now < next_sweep_ms_) return;
  next_sweep_ms_ = now + std::max<int64_t>(1000, lifetime_ms_ / 8);
  const auto gone = store_.expire(now);
  if (!gone.empty()) {
    // Their segments meet the kernel again (a reset: the client reconnects).
    std::string error;
    if (!set_->removeMany(gone, &error)) complain("forgetting collapsed connections: " + error);
    counters_.tcp_collapsed_expired += gone.size();
  }
  counters_.tcp_collapsed_held.set(store_.size());
}

void Collapser::complain(const std::string& what) {
  const auto now = static_cast<int64_t>(uv_now(&loop_));
  if (now - complained_ms_ < 60000) return;
  complained_ms_ = now;
  logWarning("worker %u: tcp_collapse: %s", slot_, what.c_str());
}

void Collapser::close() {
  if (closed_) return;
  closed_ = true;
  if (polling_) uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  // Unbinding the queue: the divert rule's bypass lets the segments of our
  // collapsed connections through, to a reset; a successor empties the set.
  queue_.reset();
  counters_.tcp_collapsed_held.set(0);
}

}  // namespace shoal::worker
