// Client UDP: datagrams arrive in recvmmsg batches into the worker's batch
// buffer; the hot path's answers to a batch leave together with one sendmmsg
// from the socket the queries came in on when the batch ends (one system
// call for up to 20 answers, where Unbound makes one per answer). Answers
// the kernel does not take, and answers from the engine, go through
// uv_udp_try_send, queued with uv_udp_send (one copy) only when the socket
// would block.

#include <sys/socket.h>

#include <array>
#include <cstring>

#include "base/log.h"
#include "worker/sockaddr.h"
#include "worker/worker_loop.h"

namespace shoal::worker {

using base::logLine;
namespace {

/// Bounds the answers queued on one socket when the kernel buffer is full;
/// past it answers are dropped (the client retries) rather than piling up.
constexpr size_t kMaxSendQueue = 4096;

struct UdpSend {
  uv_udp_send_t req{};
  uv_buf_t buf{};
  std::vector<uint8_t> bytes;
};

void onUdpSent(uv_udp_send_t* req, int /*status*/) { delete static_cast<UdpSend*>(req->data); }

void onUdpAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  *buf = static_cast<UdpListener*>(handle->data)->worker->udpReceiveBuffer();
}

void onUdpReceive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                  unsigned flags) {
  // UV_UDP_MMSG_FREE: the batch is done; the buffer is the worker's, kept.
  // nread == 0 without an address: nothing more to read (an empty datagram
  // has one, and is counted and dropped like any runt). nread < 0: a socket
  // error (e.g. an ICMP report): nothing to do on a listening socket.
  auto* listener = static_cast<UdpListener*>(handle->data);
  if ((flags & UV_UDP_MMSG_FREE) != 0) {
    listener->worker->flushUdpAnswers();  // the batch is complete
    return;
  }
  if (nread < 0 || from == nullptr) return;
  listener->worker->onUdpDatagram(
      *listener, {reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)}, from);
}

void onUdpClosed(uv_handle_t* handle) { delete static_cast<UdpListener*>(handle->data); }

}  // namespace

bool Worker::openUdp(const ListenSocket& socket) {
  auto* listener = new UdpListener;
  listener->worker = this;
  listener->index = static_cast<uint32_t>(udp_.size());
  int rc = uv_udp_init_ex(&loop_, &listener->handle, UV_UDP_RECVMMSG);
  if (rc != 0) {
    delete listener;
    logLine("worker %u: udp %s: %s", slot_, socket.address.c_str(), uv_strerror(rc));
    return false;
  }
  listener->handle.data = listener;
  udp_.push_back(listener);  // closed by finishStop from here on
  rc = uv_udp_open(&listener->handle, socket.udp_fd);
  if (rc == 0) rc = uv_udp_recv_start(&listener->handle, onUdpAlloc, onUdpReceive);
  if (rc != 0) {
    logLine("worker %u: udp %s: %s", slot_, socket.address.c_str(), uv_strerror(rc));
    return false;
  }
  return true;
}

void Worker::stopUdp() {
  for (UdpListener* listener : udp_) uv_udp_recv_stop(&listener->handle);
}

void Worker::closeUdp() {
  for (UdpListener* listener : udp_) {
    uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(&listener->handle);
    if (!uv_is_closing(handle)) uv_close(handle, onUdpClosed);
  }
  udp_.clear();
}

uv_buf_t Worker::udpReceiveBuffer() {
  return uv_buf_init(reinterpret_cast<char*>(udp_recv_.get()),
                     static_cast<unsigned>(kUdpChunks * kUdpChunk));
}

void Worker::onUdpDatagram(UdpListener& listener, std::span<const uint8_t> packet,
                           const sockaddr* from) {
  const auto client = addressOf(from);
  if (!client) {
    ++counters_.dropped;
    return;
  }
  ClientOrigin origin;
  origin.udp = &listener;
  origin.udp_from = from;
  const auto response = handleQuery(packet, *client, origin);
  if (!response.empty()) queueUdpAnswer(listener, response, from);
}

void Worker::queueUdpAnswer(UdpListener& listener, std::span<const uint8_t> packet,
                            const sockaddr* to) {
  const socklen_t to_length = to->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (packet.size() > kAnswerSlot) {
    sendUdp(listener, packet, to);
    return;
  }
  if (answers_queued_ == kAnswerBatch) flushUdpAnswers();
  QueuedAnswer& q = answer_queue_[answers_queued_];
  q.listener = &listener;
  std::memcpy(&q.to, to, to_length);
  q.to_length = to_length;
  q.length = packet.size();
  std::memcpy(answer_slots_.get() + answers_queued_ * kAnswerSlot, packet.data(), packet.size());
  ++answers_queued_;
}

void Worker::flushUdpAnswers() {
  // One sendmmsg per socket run (a recvmmsg batch comes from one socket, so
  // normally one call). What the kernel does not take now goes through
  // sendUdp, which queues it when the socket would block.
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
    }
    uv_os_fd_t fd = -1;
    int sent = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&listener->handle), &fd) == 0) {
      sent = sendmmsg(fd, msgs.data(), static_cast<unsigned>(end - start), MSG_DONTWAIT);
    }
    const size_t done = sent > 0 ? static_cast<size_t>(sent) : 0;
    counters_.answers_udp += done;
    for (size_t i = start + done; i < end; ++i) {
      const QueuedAnswer& q = answer_queue_[i];
      sendUdp(*listener, {answer_slots_.get() + i * kAnswerSlot, q.length},
              reinterpret_cast<const sockaddr*>(&q.to));
    }
    start = end;
  }
  answers_queued_ = 0;
}

void Worker::sendUdp(UdpListener& listener, std::span<const uint8_t> packet, const sockaddr* to) {
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(packet.data())),
                             static_cast<unsigned>(packet.size()));
  int rc = uv_udp_try_send(&listener.handle, &buf, 1, to);
  if (rc >= 0) {
    ++counters_.answers_udp;
    return;
  }
  if (rc != UV_EAGAIN || listener.handle.send_queue_count >= kMaxSendQueue) {
    ++counters_.send_errors;
    return;
  }
  // The socket would block: queue a copy (slow path only).
  auto* send = new UdpSend;
  send->bytes.assign(packet.begin(), packet.end());
  send->buf = uv_buf_init(reinterpret_cast<char*>(send->bytes.data()),
                          static_cast<unsigned>(send->bytes.size()));
  send->req.data = send;
  rc = uv_udp_send(&send->req, &listener.handle, &send->buf, 1, to, onUdpSent);
  if (rc < 0) {
    delete send;
    ++counters_.send_errors;
    return;
  }
  ++counters_.answers_udp;
}

}  // namespace shoal::worker
