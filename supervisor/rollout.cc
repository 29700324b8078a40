// Replacing workers one at a time (shoalctl restart, reload, upgrade), and
// reload: re-reading the config file and applying it.
//
// One slot at a time: the successor is forked on the slot's sockets while
// the old worker still serves; once the successor reports ready (its stats
// slot says so) the old worker is told to stop (SIGTERM: it stops reading,
// answers what it has in flight within shutdown_grace_ms, exits). Both
// read the same sockets (one open file description, shared across fork),
// so what is queued in them when the old one stops reading is read by the
// successor: nothing is lost. The next slot starts when the old worker has
// exited, so that at most one extra process runs at a time.

#include <signal.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "shmcache/cache.h"
#include "stats/stats.h"
#include "supervisor/notify.h"
#include "supervisor/sockets.h"
#include "supervisor/supervisor.h"
#include "supervisor/util.h"

namespace shoal::supervisor {
namespace {

using base::logLine;
using base::logError;
using base::logWarning;

/// How long a successor may take to report ready.
constexpr int64_t kReadyTimeoutMs = 10'000;

/// The keys whose values differ, as "section.key" (for the reload answer).
std::vector<std::string> changedKeys(const config::Config& a, const config::Config& b) {
  std::vector<std::string> keys;
  auto note = [&keys](bool same, const char* key) {
    if (!same) keys.push_back(key);
  };
  note(a.server.listen == b.server.listen, "server.listen");
  note(a.server.tls_listen == b.server.tls_listen, "server.tls_listen");
  note(a.server.https_listen == b.server.https_listen, "server.https_listen");
  note(a.server.tls_certificate == b.server.tls_certificate, "server.tls_certificate");
  note(a.server.tls_key == b.server.tls_key, "server.tls_key");
  note(a.server.workers == b.server.workers, "server.workers");
  note(a.server.udp_payload_size == b.server.udp_payload_size, "server.udp_payload_size");
  note(a.server.tcp_idle_timeout == b.server.tcp_idle_timeout, "server.tcp_idle_timeout");
  note(a.server.tcp_max_clients == b.server.tcp_max_clients, "server.tcp_max_clients");
  note(a.server.tcp_max_per_client == b.server.tcp_max_per_client, "server.tcp_max_per_client");
  note(a.server.tcp_max_queued == b.server.tcp_max_queued, "server.tcp_max_queued");
  note(a.server.tcp_max_buffers == b.server.tcp_max_buffers, "server.tcp_max_buffers");
  note(a.server.tcp_collapse == b.server.tcp_collapse, "server.tcp_collapse");
  note(a.server.tcp_collapse_queue == b.server.tcp_collapse_queue, "server.tcp_collapse_queue");
  note(a.server.tcp_collapsed_max == b.server.tcp_collapsed_max, "server.tcp_collapsed_max");
  note(a.server.tcp_collapsed_timeout == b.server.tcp_collapsed_timeout,
       "server.tcp_collapsed_timeout");
  note(a.cache.name == b.cache.name, "cache.name");
  note(a.cache.size == b.cache.size, "cache.size");
  note(a.cache.stripes == b.cache.stripes, "cache.stripes");
  note(a.cache.max_ttl == b.cache.max_ttl, "cache.max_ttl");
  note(a.cache.min_ttl == b.cache.min_ttl, "cache.min_ttl");
  note(a.cache.max_negative_ttl == b.cache.max_negative_ttl, "cache.max_negative_ttl");
  note(a.cache.max_ecs_partitions == b.cache.max_ecs_partitions, "cache.max_ecs_partitions");
  note(a.cache.serve_stale == b.cache.serve_stale, "cache.serve_stale");
  note(a.cache.serve_stale_client_timeout == b.cache.serve_stale_client_timeout,
       "cache.serve_stale_client_timeout");
  note(a.cache.prefetch_min_hits == b.cache.prefetch_min_hits, "cache.prefetch_min_hits");
  note(a.cache.prefault == b.cache.prefault, "cache.prefault");
  note(a.resolver == b.resolver, "resolver");
  note(a.dnssec == b.dnssec, "dnssec");
  note(a.acl == b.acl, "acl.allow");
  note(a.control.socket == b.control.socket, "control.socket");
  note(a.control.group == b.control.group, "control.group");
  note(a.metrics == b.metrics, "metrics");
  note(a.log == b.log, "log");
  note(a.dnstap == b.dnstap, "dnstap");
  note(a.local_root == b.local_root, "local_root");
  note(a.ecs == b.ecs, "ecs");
  note(a.forward == b.forward, "forward");
  return keys;
}

}  // namespace

bool Supervisor::startRollout(const std::string& what, std::vector<size_t> indexes,
                              uint64_t client, std::string& error) {
  if (rollout_) {
    error = "a " + rollout_->what + " is in progress; try again when it is done";
    return false;
  }
  if (indexes.empty()) {
    for (size_t i = 0; i < slots_.size(); ++i) indexes.push_back(i);
  }
  Rollout rollout;
  rollout.what = what;
  rollout.queue = std::move(indexes);
  if (client != 0) rollout.clients.push_back(client);
  rollout_ = std::move(rollout);
  logLine("%s: replacing %zu worker(s) one at a time", what.c_str(), rollout_->queue.size());
  notifyStatus(servingStatus() + "; " + what + " in progress");
  stepRollout();
  return true;
}

void Supervisor::stepRollout() {
  while (rollout_ && !stopping_) {
    Rollout& r = *rollout_;
    const int64_t now = monotonicMs();
    if (r.current && r.waiting_exit == 0) {
      // Waiting for the successor to serve.
      Slot& slot = slots_[*r.current];
      const auto& process = stats_->slot(2 * *r.current + slot.generation);
      const auto state = static_cast<stats::WorkerState>(process.state.load());
      if (state != stats::WorkerState::kReady) {
        if (now < r.deadline_ms) return;
        logLine("%s: worker %zu's successor (pid %d) not ready after %lld ms", r.what.c_str(),
                *r.current, static_cast<int>(slot.pid), static_cast<long long>(kReadyTimeoutMs));
        finishRollout(false, "worker " + std::to_string(*r.current) +
                                 "'s successor did not start serving within " +
                                 std::to_string(kReadyTimeoutMs / 1000) + " s");
        return;
      }
      r.replaced.push_back({*r.current, r.old_pid, slot.pid});
      if (r.old_pid == 0) {  // there was none, or it died meanwhile
        r.current.reset();
        continue;
      }
      tell(r.old_pid);
      r.waiting_exit = r.old_pid;
      return;  // reap() calls onRolloutChildExit when it is gone
    }
    if (r.waiting_exit != 0) return;
    if (r.queue.empty()) {
      finishRollout(true, {});
      return;
    }
    const size_t index = r.queue.front();
    r.queue.erase(r.queue.begin());
    if (index >= slots_.size()) continue;  // removed by a reload meanwhile
    Slot& slot = slots_[index];
    r.current = index;
    r.old_pid = slot.pid;
    r.old_generation = slot.generation;
    r.deadline_ms = now + kReadyTimeoutMs;
    if (slot.pid != 0) {
      track(slot.pid, index, slot.generation);
      slot.generation ^= 1u;  // the successor writes the other stats slot
      slot.pid = 0;
    }
    slot.restart_at_ms = -1;
    slot.quick_deaths = 0;
    spawn(index);
    if (slot.pid == 0) {  // fork failed
      const std::string why = std::strerror(errno);
      onSuccessorDied(index);
      if (rollout_) finishRollout(false, "fork failed: " + why);
      return;
    }
  }
}

bool Supervisor::onRolloutChildExit(pid_t pid) {
  if (!rollout_) return false;
  Rollout& r = *rollout_;
  if (r.waiting_exit == pid) {
    r.waiting_exit = 0;
    r.current.reset();
    return true;
  }
  if (r.current && r.waiting_exit == 0 && r.old_pid == pid) {
    // The old worker died while its successor was starting: nothing to
    // tell it any more; the successor takes the slot when it serves.
    r.old_pid = 0;
    return true;
  }
  return false;
}

void Supervisor::onSuccessorDied(size_t index) {
  if (!rollout_ || rollout_->current != index || rollout_->waiting_exit != 0) return;
  Rollout& r = *rollout_;
  Slot& slot = slots_[index];
  if (r.old_pid != 0) {
    // Keep the old worker: back in its slot, no longer retiring.
    slot.pid = r.old_pid;
    slot.generation = r.old_generation;
    std::erase_if(retiring_, [&r](const Retiring& x) { return x.pid == r.old_pid; });
  } else {
    slot.restart_at_ms = monotonicMs();  // nobody serves the slot: a normal restart
  }
  finishRollout(false, "worker " + std::to_string(index) +
                           "'s successor died before it served (see the log)");
}

void Supervisor::track(pid_t pid, size_t index, unsigned generation) {
  Retiring r;
  r.pid = pid;
  r.index = index;
  r.generation = generation;
  retiring_.push_back(r);
}

void Supervisor::tell(pid_t pid) {
  for (Retiring& r : retiring_) {
    if (r.pid != pid) continue;
    r.kill_at_ms = monotonicMs() + kStopTimeoutMs;
    kill(pid, SIGTERM);
  }
}

void Supervisor::retire(pid_t pid, size_t index, unsigned generation) {
  track(pid, index, generation);
  tell(pid);
}

void Supervisor::finishRollout(bool ok, const std::string& error) {
  if (!rollout_) return;
  Rollout r = std::move(*rollout_);
  rollout_.reset();
  std::string line;
  if (ok) {
    nlohmann::json answer =
        r.extra_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.extra_json);
    answer["ok"] = true;
    answer["workers"] = nlohmann::json::array();
    for (const auto& w : r.replaced) {
      answer["workers"].push_back(
          {{"index", w.index}, {"old_pid", w.old_pid}, {"new_pid", w.new_pid}});
    }
    line = answer.dump();
    logLine("%s: done", r.what.c_str());
    if (stats_) {
      auto& h = stats_->header();
      auto& counter = r.what == "upgrade" ? h.upgrades : r.what == "reload" ? h.reloads : h.restarts;
      counter.store(counter.load() + 1);
    }
  } else {
    line = failureAnswer(r.what + " failed: " + error);
    logError("%s failed: %s", r.what.c_str(), error.c_str());
  }
  for (const uint64_t client : r.clients) control_.answer(client, line);
  notifyStatus(servingStatus());
}

bool Supervisor::reload(uint64_t client, std::string& error) {
  if (rollout_) {
    error = "a " + rollout_->what + " is in progress; try again when it is done";
    return false;
  }
  notifyReloading();
  Loaded fresh;
  try {
    fresh = loadAll(options_.config_path, options_.user);
  } catch (const std::exception& e) {
    error = e.what();
    notifyReady(servingStatus());
    return false;
  }
  const config::Config old = loaded_.config;
  config::Config& next = fresh.config;
  std::vector<std::string> warnings;
  // The cache segment's geometry is fixed while it lives: keep the running
  // one and say so (a stop and a start applies it, with an empty cache).
  if (next.cache.name != old.cache.name || next.cache.size != old.cache.size ||
      next.cache.stripes != old.cache.stripes) {
    warnings.push_back(
        "cache.name, cache.size and cache.stripes apply at the next start only (the cache "
        "segment keeps its geometry while it lives); still using " +
        old.cache.name + ", " + std::to_string(old.cache.size) + " bytes, " +
        std::to_string(old.cache.stripes) + " stripes");
    next.cache.name = old.cache.name;
    next.cache.size = old.cache.size;
    next.cache.stripes = old.cache.stripes;
  }
  const auto changed = changedKeys(old, next);
  const auto metrics_before = metrics_.addresses();
  try {
    // The metrics endpoint first (it throws before changing anything), put
    // back if the sockets cannot be opened.
    if (next.metrics.listen != metrics_before) metrics_.listen(next.metrics.listen);
    try {
      reconcile(next);  // opens every new socket before touching anything
    } catch (...) {
      try {
        metrics_.listen(metrics_before);
      } catch (const std::exception& e) {
        logError("reload: the metrics endpoint cannot be put back: %s", e.what());
      }
      throw;
    }
  } catch (const std::exception& e) {
    error = e.what();
    notifyReady(servingStatus());
    return false;
  }
  loaded_ = std::move(fresh);
  applyLogOptions(loaded_.config.log);  // the new workers of the rollout inherit it
  reconfigureLocalRoot(old);
  const config::ServerSection& now = loaded_.config.server;
  if (now.tcp_collapse != old.server.tcp_collapse ||
      (now.tcp_collapse && (now.workers != old.server.workers ||
                            now.tcp_collapse_queue != old.server.tcp_collapse_queue))) {
    // New rules: connections collapsed so far get a reset at their next
    // segment, and reconnect.
    applyDivert(loaded_.config);
  }
  // The certificate and key were read again: a renewed certificate is in
  // service once the rollout below has replaced every worker.
  worker_config_ = worker::workerConfigFrom(loaded_.config, loaded_.hints, loaded_.anchors, loaded_.tls,
                                               secrets_);
  try {
    openRateTable();
  } catch (const StartupError& e) {
    logError("reload: %s: serving without the rate limit", e.what());
  }
  logTls();
  publishHeader();
  const std::string extra =
      nlohmann::json{{"config", loaded_.config.source}, {"changed", changed}, {"warnings", warnings}}
          .dump();
  for (const auto& w : warnings) logWarning("reload: %s", w.c_str());
  logLine("reload: %zu setting(s) changed", changed.size());
  if (!startRollout("reload", {}, client, error)) return false;
  if (rollout_) rollout_->extra_json = extra;
  notifyReady(servingStatus());
  return true;
}

void Supervisor::reconcile(const config::Config& config) {
  // Every address of a slot, whether it is TLS and whether HTTPS, in
  // openSockets' order.
  struct Wanted {
    const base::SocketAddress* address;
    bool tls;
    bool https;
  };
  std::vector<Wanted> wanted;
  for (const auto& address : config.server.listen) wanted.push_back({&address, false, false});
  for (const auto& address : config.server.tls_listen) wanted.push_back({&address, true, false});
  for (const auto& address : config.server.https_listen) wanted.push_back({&address, true, true});
  const size_t count = config.server.workers;
  // Phase 1: open what is new, for every slot that stays or comes; throws
  // (and closes what it opened) before anything running is changed.
  std::vector<std::vector<worker::ListenSocket>> next(count);
  std::vector<worker::ListenSocket> opened;
  try {
    for (size_t i = 0; i < count; ++i) {
      for (const auto& [address, tls, https] : wanted) {
        const std::string text = address->toString();
        const worker::ListenSocket* existing = nullptr;
        if (i < slots_.size()) {
          for (const auto& s : slots_[i].sockets) {
            if (s.address == text && s.tls == tls && s.https == https) existing = &s;
          }
        }
        if (existing != nullptr) {
          next[i].push_back(*existing);
        } else {
          next[i].push_back(openListenSocket(*address, tls, https));
          opened.push_back(next[i].back());
        }
      }
    }
    // The control socket: a new path or group is opened before the old
    // one closes.
    if (config.control.socket != control_.path() || config.control.group != control_.group()) {
      control_.listen(config.control.socket, config.control.group);
    }
  } catch (...) {
    for (auto& s : opened) closeListenSocket(s);
    throw;
  }
  // Phase 2: commit. The supervisor's copies of removed sockets close now;
  // a worker still using them keeps its own descriptors until it is
  // replaced. (Every entry has a TCP listener; a TLS one has no UDP socket.)
  for (size_t i = 0; i < slots_.size(); ++i) {
    for (auto& s : slots_[i].sockets) {
      const bool kept =
          i < count && std::any_of(next[i].begin(), next[i].end(),
                                   [&s](const worker::ListenSocket& n) { return n.tcp_fd == s.tcp_fd; });
      if (!kept) closeListenSocket(s);
    }
  }
  // Slots beyond the new count: their workers drain and go.
  for (size_t i = count; i < slots_.size(); ++i) {
    if (slots_[i].pid != 0) retire(slots_[i].pid, i, slots_[i].generation);
  }
  slots_.resize(count);
  for (size_t i = 0; i < count; ++i) slots_[i].sockets = std::move(next[i]);
}

}  // namespace shoal::supervisor
