#pragma once
// Internal to worker/: client UDP. Datagrams are read with recvmmsg, up to
// kJournalBatch per call, straight into the worker's journal
// (worker/journal.h: what a killed worker had read is answered by its
// replacement); the hot path's answers to a batch leave together with one
// sendmmsg when the batch is done (one system call for up to 32 answers,
// where Unbound makes one per answer). Answers the kernel does not take,
// and answers from the engine, go out with sendto, queued (one copy) only
// when the socket would block.
//
// The socket is watched with a uv_poll_t rather than a uv_udp_t: libuv's
// own recvmmsg receives into buffers and address arrays of its choosing,
// and the journal needs the kernel to write them into shared memory.

#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "stats/layout.h"
#include "worker/journal.h"
#include "worker/query_path.h"
#include "worker/sockaddr.h"
#include "worker/worker.h"

namespace shoal::worker {

class UdpServer;

/// Answers batched per recvmmsg batch (at most one per datagram received).
inline constexpr size_t kAnswerBatch = kJournalBatch;
/// Largest UDP answer a batch slot holds (the EDNS payload limit is 4096).
inline constexpr size_t kAnswerSlot = 4096;

/// One UDP socket of the worker. Freed in its uv_close callback.
struct UdpListener {
  uv_poll_t handle{};
  UdpServer* server = nullptr;
  uint32_t index = 0;  // in UdpServer::listeners_; ClientOrigin::listener
  int fd = -1;         // the worker's copy of the slot's socket (closed with the handle)
  bool reading = false;
  bool wildcard = false;  // bound to 0.0.0.0 or ::: answers leave from pktinfo's address
  /// Answers the kernel would not take yet (socket buffer full).
  struct Pending {
    std::vector<uint8_t> bytes;
    sockaddr_storage to{};
    socklen_t to_length = 0;
    LocalAddress local;
  };
  std::deque<Pending> send_queue;
};

class UdpServer {
 public:
  /// `journal`: this slot's journal (nullptr: a private one, no replay).
  UdpServer(uv_loop_t& loop, QueryPath& path, Journal* journal, stats::WorkerCounters& counters,
            unsigned slot);
  UdpServer(const UdpServer&) = delete;
  UdpServer& operator=(const UdpServer&) = delete;

  /// Starts reading the UDP socket of `socket`; false (logged) on failure.
  bool open(const ListenSocket& socket);
  /// Answers what the previous process of this slot read and did not
  /// answer (it died), then takes the journal over (journal.cc).
  void replayJournal();
  /// Journals a miss until it is answered; -1 when not journaled.
  int32_t journalPending(std::span<const uint8_t> query, const ClientOrigin& origin);
  void releasePending(int32_t index);
  /// The engine's answer to a client of socket `listener`.
  void answer(uint32_t listener, std::span<const uint8_t> packet, const sockaddr* to,
              const LocalAddress& local);
  /// Stops reading; queued answers still leave.
  void stopReading();
  /// No answer waiting in a send queue.
  bool idle() const;
  /// A clean stop: empties the journal (nothing for a successor to
  /// replay), gives it up, closes the sockets.
  void close();

  // Entry points for the libuv callbacks.
  void onReadable(UdpListener& listener);
  void onWritable(UdpListener& listener);

 private:
  void onDatagram(UdpListener& listener, std::span<const uint8_t> packet, const sockaddr* from,
                  const LocalAddress& local);
  /// Hot-path answers of one recvmmsg batch wait here and leave together
  /// with one sendmmsg when the batch ends (or the batch buffer is full).
  void queueAnswer(UdpListener& listener, std::span<const uint8_t> packet, const sockaddr* to,
                   const LocalAddress& local);
  /// The end of a recvmmsg batch: sends the answers queued for it.
  void flushAnswers();
  void send(UdpListener& listener, std::span<const uint8_t> packet, const sockaddr* to,
            const LocalAddress& local);
  void updatePoll(UdpListener& listener);
  void clearJournal();

  uv_loop_t& loop_;
  QueryPath& path_;
  stats::WorkerCounters& counters_;
  unsigned slot_;
  std::vector<UdpListener*> listeners_;
  Journal* journal_;                      // received UDP, not yet answered
  std::unique_ptr<Journal> own_journal_;  // when the supervisor gave none
  std::vector<int32_t> free_pending_;     // free entries of journal_->pending
  // sendmmsg batch: answers copied into fixed slots, no allocation.
  std::unique_ptr<uint8_t[]> answer_slots_;  // kAnswerBatch x kAnswerSlot
  struct QueuedAnswer {
    UdpListener* listener;
    sockaddr_storage to;
    socklen_t to_length;
    size_t length;
    LocalAddress local;     // where the query arrived (wildcard sockets)
    size_t control_length;  // 0, or its pktinfo in `control`
    uint8_t control[kPacketInfoSpace];
  };
  std::array<QueuedAnswer, kAnswerBatch> answer_queue_{};
  size_t answers_queued_ = 0;
};

}  // namespace shoal::worker
