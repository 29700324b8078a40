#include "collapse/packet_queue.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

namespace shoal::collapse {
namespace {

// Netlink messages are read into buffers of this size (libmnl suggests
// the page size, at most 8 KiB: MNL_SOCKET_BUFFER_SIZE).
constexpr size_t kNetlinkBuffer = 8192;

// IPv4 or IPv6 header with options, and the TCP header's ports: the tuple
// is all a worker reads of a segment.
constexpr int kCopyRange = 128;
constexpr uint32_t kQueueLength = 8192;

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

/// Sends a configuration message and waits for its acknowledgement.
bool configure(mnl_socket* socket, unsigned port_id, nlmsghdr* h, std::string* error) {
  h->nlmsg_flags |= NLM_F_ACK;
  if (mnl_socket_sendto(socket, h, h->nlmsg_len) < 0) {
    *error = errnoText("nfqueue send");
    return false;
  }
  std::vector<char> reply(kNetlinkBuffer);
  const ssize_t n = mnl_socket_recvfrom(socket, reply.data(), reply.size());
  if (n < 0 || mnl_cb_run(reply.data(), static_cast<size_t>(n), h->nlmsg_seq, port_id, nullptr,
                          nullptr) < 0) {
    *error = errnoText("nfqueue");
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<PacketQueue> PacketQueue::open(uint16_t number, std::string* error) {
  std::unique_ptr<PacketQueue> q(new PacketQueue());
  q->number_ = number;
  q->socket_ = mnl_socket_open(NETLINK_NETFILTER);
  if (q->socket_ == nullptr) {
    *error = errnoText("netlink");
    return nullptr;
  }
  if (mnl_socket_bind(q->socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
    *error = errnoText("netlink bind");
    return nullptr;
  }
  q->port_id_ = mnl_socket_get_portid(q->socket_);
  timeval timeout{1, 0};
  setsockopt(mnl_socket_get_fd(q->socket_), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  q->buffer_.resize(kNetlinkBuffer);
  char* buf = q->buffer_.data();
  uint32_t seq = 1;

  nlmsghdr* h = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number);
  h->nlmsg_seq = seq++;
  nfq_nlmsg_cfg_put_cmd(h, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
  if (!configure(q->socket_, q->port_id_, h, error)) {
    *error = "queue " + std::to_string(number) + ": " + *error;
    return nullptr;
  }
  h = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number);
  h->nlmsg_seq = seq++;
  nfq_nlmsg_cfg_put_params(h, NFQNL_COPY_PACKET, kCopyRange);
  nfq_nlmsg_cfg_put_qmaxlen(h, kQueueLength);
  if (!configure(q->socket_, q->port_id_, h, error)) return nullptr;

  // From here on the socket is the event loop's: non-blocking, and a full
  // receive buffer is reported as such (ENOBUFS) rather than dropped
  // silently.
  const int fd = mnl_socket_get_fd(q->socket_);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return q;
}

PacketQueue::~PacketQueue() {
  if (socket_ != nullptr) mnl_socket_close(socket_);  // unbinds the queue
}

int PacketQueue::fd() const { return mnl_socket_get_fd(socket_); }

bool PacketQueue::receive(
    const std::function<void(uint32_t id, std::span<const uint8_t> packet)>& on_packet) {
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_, buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == ENOBUFS) {
        ++overflows_;  // the kernel dropped messages: those segments are retransmitted
        continue;
      }
      return false;
    }
    int remaining = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer_.data()); mnl_nlmsg_ok(h, remaining);
         h = mnl_nlmsg_next(h, &remaining)) {
      if (h->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) continue;
      nlattr* attr[NFQA_MAX + 1] = {};
      if (nfq_nlmsg_parse(h, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr) continue;
      const auto* header =
          static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
      const uint32_t id = ntohl(header->packet_id);
      std::span<const uint8_t> payload;
      if (attr[NFQA_PAYLOAD] != nullptr) {
        payload = {static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
                   mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
      }
      on_packet(id, payload);
    }
  }
}

bool PacketQueue::verdict(uint32_t id, bool accept) {
  alignas(nlmsghdr) char buf[128];  // header, nfgenmsg, the verdict attribute
  nlmsghdr* h = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, number_);
  nfq_nlmsg_verdict_put(h, static_cast<int>(id), accept ? NF_ACCEPT : NF_DROP);
  return mnl_socket_sendto(socket_, h, h->nlmsg_len) >= 0;
}

}  // namespace shoal::collapse
