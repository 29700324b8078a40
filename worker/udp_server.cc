// Client UDP (worker/udp_server.h).

#include "worker/udp_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "worker/journal.h"
#include "worker/sockaddr.h"

namespace shoal::worker {

using base::logLine;
using base::logError;
using base::logWarning;
namespace {

/// Bounds the answers queued on one socket when the kernel buffer is full;
/// past it answers are dropped (the client retries) rather than piling up.
constexpr size_t kMaxSendQueue = 4096;
/// recvmmsg calls per readiness event before other sockets get a turn.
constexpr int kReadRounds = 4;

void onUdpPoll(uv_poll_t* handle, int status, int events) {
  auto* listener = static_cast<UdpListener*>(handle->data);
  if (status < 0) return;  // a socket error (e.g. an ICMP report): nothing to do
  if ((events & UV_WRITABLE) != 0) listener->server->onWritable(*listener);
  if ((events & UV_READABLE) != 0) listener->server->onReadable(*listener);
}

void onUdpClosed(uv_handle_t* handle) {
  auto* listener = static_cast<UdpListener*>(handle->data);
  close(listener->fd);  // the worker's copy; the supervisor keeps its own
  delete listener;
}

}  // namespace

UdpServer::UdpServer(uv_loop_t& loop, QueryPath& path, Journal* journal,
                     stats::WorkerCounters& counters, unsigned slot)
    : loop_(loop),
      path_(path),
      counters_(counters),
      slot_(slot),
      journal_(journal),
      answer_slots_(new uint8_t[kAnswerBatch * kAnswerSlot]) {
  if (journal_ == nullptr) {
    own_journal_ = std::make_unique<Journal>();
    journal_ = own_journal_.get();
  }
}

bool UdpServer::open(const ListenSocket& socket) {
  auto* listener = new UdpListener;
  listener->server = this;
  listener->index = static_cast<uint32_t>(listeners_.size());
  listener->fd = socket.udp_fd;
  const int rc = uv_poll_init_socket(&loop_, &listener->handle, socket.udp_fd);
  if (rc != 0) {
    delete listener;
    logError("worker %u: udp %s: %s", slot_, socket.address.c_str(), uv_strerror(rc));
    return false;
  }
  listener->handle.data = listener;
  listeners_.push_back(listener);  // closed by close() from here on
  // On 0.0.0.0 or :: the kernel must say where each query arrived, so
  // that its answer leaves from there.
  listener->wildcard = boundToWildcard(socket.udp_fd);
  if (listener->wildcard && !enablePacketInfo(socket.udp_fd)) {
    logWarning("worker %u: udp %s: cannot enable packet info; answers leave from the routed address",
            slot_, socket.address.c_str());
    listener->wildcard = false;
  }
  listener->reading = true;
  updatePoll(*listener);
  return true;
}

void UdpServer::updatePoll(UdpListener& listener) {
  const int events =
      (listener.reading ? UV_READABLE : 0) | (listener.send_queue.empty() ? 0 : UV_WRITABLE);
  if (events == 0) {
    uv_poll_stop(&listener.handle);
  } else {
    uv_poll_start(&listener.handle, events, onUdpPoll);
  }
}

void UdpServer::stopReading() {
  // Stop reading; queued answers still leave (the worker waits: idle()).
  for (UdpListener* listener : listeners_) {
    listener->reading = false;
    updatePoll(*listener);
  }
}

void UdpServer::close() {
  clearJournal();  // a clean stop: nothing for a successor to replay
  journal_->owner.store(0);
  for (UdpListener* listener : listeners_) {
    uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(&listener->handle);
    if (!uv_is_closing(handle)) uv_close(handle, onUdpClosed);
  }
  listeners_.clear();
}

bool UdpServer::idle() const {
  for (const UdpListener* listener : listeners_) {
    if (!listener->send_queue.empty()) return false;
  }
  return true;
}

void UdpServer::onReadable(UdpListener& listener) {
  JournalBatch& b = journal_->batch;
  for (int round = 0; round < kReadRounds && listener.reading; ++round) {
    // Every entry is ready (clearJournal, then resetBatchEntry after use).
    b.listener = listener.index;
    const int n = recvmmsg(listener.fd, b.msgs, kJournalBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;  // EAGAIN: drained; an error: the next event says again
    for (int k = 0; k < n; ++k) {
      const mmsghdr& m = b.msgs[k];
      if ((m.msg_hdr.msg_flags & MSG_TRUNC) != 0 || m.msg_len == 0) {
        ++counters_.dropped;  // longer than any query, or empty
        continue;
      }
      const LocalAddress local =
          listener.wildcard ? localAddressOf(m.msg_hdr) : LocalAddress{};
      onDatagram(listener, {b.data[k], m.msg_len},
                 reinterpret_cast<const sockaddr*>(&b.from[k]), local);
    }
    flushAnswers();
    // The batch is answered (misses were copied to pending entries).
    for (int k = 0; k < n; ++k) resetBatchEntry(b, static_cast<size_t>(k));
    if (static_cast<size_t>(n) < kJournalBatch) return;
  }
}

void UdpServer::onDatagram(UdpListener& listener, std::span<const uint8_t> packet,
                           const sockaddr* from, const LocalAddress& local) {
  const auto client = addressOf(from);
  if (!client) {
    ++counters_.dropped;
    return;
  }
  ClientOrigin origin;
  origin.listener = listener.index;
  origin.from = from;
  origin.local = &local;
  const auto outcome = path_.handleQuery(packet, *client, origin);
  if (!outcome.response.empty()) queueAnswer(listener, outcome.response, from, local);
}

void UdpServer::queueAnswer(UdpListener& listener, std::span<const uint8_t> packet,
                            const sockaddr* to, const LocalAddress& local) {
  const socklen_t to_length = to->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (packet.size() > kAnswerSlot) {
    send(listener, packet, to, local);
    return;
  }
  if (answers_queued_ == kAnswerBatch) flushAnswers();
  QueuedAnswer& q = answer_queue_[answers_queued_];
  q.listener = &listener;
  std::memcpy(&q.to, to, to_length);
  q.to_length = to_length;
  q.length = packet.size();
  q.local = local;
  q.control_length = local.family != 0 ? writePacketInfo(local, q.control) : 0;
  std::memcpy(answer_slots_.get() + answers_queued_ * kAnswerSlot, packet.data(), packet.size());
  ++answers_queued_;
}

void UdpServer::flushAnswers() {
  // One sendmmsg per socket run (a batch comes from one socket, so normally
  // one call). What the kernel does not take now goes through send(),
  // which queues it when the socket would block.
  size_t start = 0;
  while (start < answers_queued_) {
    UdpListener* listener = answer_queue_[start].listener;
    size_t end = start;
    std::array<mmsghdr, kAnswerBatch> msgs{};
    std::array<iovec, kAnswerBatch> iovs{};
    for (; end < answers_queued_ && answer_queue_[end].listener == listener; ++end) {
      QueuedAnswer& q = answer_queue_[end];
      iovs[end - start] = {answer_slots_.get() + end * kAnswerSlot, q.length};
      msghdr& h = msgs[end - start].msg_hdr;
      h.msg_name = &q.to;
      h.msg_namelen = q.to_length;
      h.msg_iov = &iovs[end - start];
      h.msg_iovlen = 1;
      if (q.control_length != 0) {
        h.msg_control = q.control;
        h.msg_controllen = q.control_length;
      }
    }
    size_t done = 0;
    if (listener->send_queue.empty()) {  // keep the order behind queued answers
      const int sent =
          sendmmsg(listener->fd, msgs.data(), static_cast<unsigned>(end - start), MSG_DONTWAIT);
      done = sent > 0 ? static_cast<size_t>(sent) : 0;
    }
    counters_.answers_udp += done;
    for (size_t i = start + done; i < end; ++i) {
      const QueuedAnswer& q = answer_queue_[i];
      send(*listener, {answer_slots_.get() + i * kAnswerSlot, q.length},
           reinterpret_cast<const sockaddr*>(&q.to), q.local);
    }
    start = end;
  }
  answers_queued_ = 0;
}

namespace {

/// One datagram to `to`, from `local` when it is known (sendmsg with a
/// pktinfo control message); -1 and errno as sendmsg.
ssize_t sendFrom(int fd, std::span<const uint8_t> packet, const sockaddr* to, socklen_t to_length,
                 const LocalAddress& local) {
  iovec iov{const_cast<uint8_t*>(packet.data()), packet.size()};
  msghdr h{};
  h.msg_name = const_cast<sockaddr*>(to);
  h.msg_namelen = to_length;
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  uint8_t control[kPacketInfoSpace];
  if (local.family != 0) {
    h.msg_control = control;
    h.msg_controllen = writePacketInfo(local, control);
  }
  return sendmsg(fd, &h, MSG_DONTWAIT);
}

}  // namespace

void UdpServer::answer(uint32_t listener, std::span<const uint8_t> packet, const sockaddr* to,
                       const LocalAddress& local) {
  if (listener < listeners_.size()) send(*listeners_[listener], packet, to, local);
}

void UdpServer::send(UdpListener& listener, std::span<const uint8_t> packet, const sockaddr* to,
                     const LocalAddress& local) {
  const socklen_t to_length = sockaddrLength(to);
  if (listener.send_queue.empty()) {
    if (sendFrom(listener.fd, packet, to, to_length, local) >= 0) {
      ++counters_.answers_udp;
      return;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
      ++counters_.send_errors;
      return;
    }
  }
  if (listener.send_queue.size() >= kMaxSendQueue) {
    ++counters_.send_errors;
    return;
  }
  // The socket would block: queue a copy (slow path only).
  UdpListener::Pending& pending = listener.send_queue.emplace_back();
  pending.bytes.assign(packet.begin(), packet.end());
  std::memcpy(&pending.to, to, to_length);
  pending.to_length = to_length;
  pending.local = local;
  ++counters_.answers_udp;
  if (listener.send_queue.size() == 1) updatePoll(listener);
}

void UdpServer::onWritable(UdpListener& listener) {
  while (!listener.send_queue.empty()) {
    const auto& p = listener.send_queue.front();
    if (sendFrom(listener.fd, p.bytes, reinterpret_cast<const sockaddr*>(&p.to), p.to_length,
                 p.local) < 0 &&
        (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      break;  // still full: wait for the next writable event
    }
    listener.send_queue.pop_front();
  }
  if (listener.send_queue.empty()) {
    updatePoll(listener);
    path_.onTransportIdle();
  }
}

}  // namespace shoal::worker
