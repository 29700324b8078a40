#pragma once
// Internal to worker/: collapsed client TCP connections (issue 13). An
// idle plain-TCP connection of an occasional client is not closed at its
// idle timeout but collapsed: its tuple goes into the worker's divert set
// (its segments now come to this worker's NFQUEUE queue instead of
// meeting a reset), its TCP state is saved in repair mode, and its socket
// is closed without a FIN. The client's next segment arrives on the
// queue: the socket is rebuilt from the saved state, handed back to the
// TCP server as a connection, the tuple leaves the set, and the segment is
// let through to the rebuilt socket, which reads the query as if nothing
// had happened. The kernel mechanics are in collapse/.
//
// Off unless server.tcp_collapse; without CAP_NET_ADMIN, or without the
// supervisor's divert rules, it logs why and the worker closes idle
// connections as before. The queue of a worker's slot may still be held
// by its predecessor during a rolling restart: binding is retried every
// second, and collapsing starts once it is bound (the set is emptied
// first: the predecessor's collapsed connections died with it, their
// clients reconnect).

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "collapse/divert.h"
#include "collapse/packet_queue.h"
#include "collapse/store.h"
#include "stats/layout.h"
#include "worker/worker_config.h"

namespace shoal::worker {

class Collapser {
 public:
  /// A rebuilt connection's socket (connected, non-blocking), for the TCP
  /// server to take over; it closes it if it cannot.
  using Revived = void (*)(void* context, int fd);

  /// Null (logged) when server.tcp_collapse is off or repair mode is not
  /// allowed.
  static std::unique_ptr<Collapser> create(uv_loop_t& loop, const WorkerConfig& config,
                                           stats::WorkerCounters& counters, unsigned slot,
                                           Revived revived, void* context);
  Collapser(const Collapser&) = delete;
  Collapser& operator=(const Collapser&) = delete;
  ~Collapser();

  /// Collapses the idle connection on `fd`. True: the socket is in repair
  /// mode, the caller closes it now (nothing is sent). False (counted): it
  /// was not collapsed, the caller closes it as usual.
  bool collapse(int fd);
  /// The worker stops: the queue is released (segments of collapsed
  /// connections then meet a reset), the handles closed. Call before the
  /// loop's last run.
  void close();
  size_t held() const { return store_.size(); }

  // libuv callbacks.
  void onQueueReadable();
  void onTimer();

 private:
  Collapser(uv_loop_t& loop, const WorkerConfig& config, stats::WorkerCounters& counters,
            unsigned slot, Revived revived, void* context);
  /// Binds the queue if not bound yet (retried from the timer).
  void bindQueue();
  void onSegment(uint32_t id, std::span<const uint8_t> packet);
  /// Logs `what` at most once a minute (errors come in bursts).
  void complain(const std::string& what);

  uv_loop_t& loop_;
  stats::WorkerCounters& counters_;
  unsigned slot_;
  uint16_t queue_number_;
  int64_t lifetime_ms_;
  Revived revived_;
  void* context_;
  std::unique_ptr<collapse::DivertSet> set_;
  std::unique_ptr<collapse::PacketQueue> queue_;
  collapse::TupleStore store_;
  uv_poll_t poll_{};
  uv_timer_t timer_{};
  bool polling_ = false;
  bool closed_ = false;
  uint64_t queue_drops_seen_ = 0;
  int64_t next_sweep_ms_ = 0;
  int64_t complained_ms_ = INT64_MIN / 2;
  std::string bind_error_;  // the last reason the queue could not be bound
};

}  // namespace shoal::worker
