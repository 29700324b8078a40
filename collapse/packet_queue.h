#pragma once
// A worker's NFQUEUE queue (nfnetlink_queue, through libnetfilter_queue's
// libmnl interface): the segments DivertRules sends it arrive here, each
// held by the kernel until its verdict. Only the headers are copied up.
// The socket is non-blocking, for the worker's event loop to watch.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct mnl_socket;

namespace shoal::collapse {

class PacketQueue {
 public:
  /// Binds queue `number`; null and `error` when it cannot (no
  /// CAP_NET_ADMIN, or another process holds the queue).
  static std::unique_ptr<PacketQueue> open(uint16_t number, std::string* error);
  ~PacketQueue();
  PacketQueue(const PacketQueue&) = delete;
  PacketQueue& operator=(const PacketQueue&) = delete;

  int fd() const;
  /// Reads what is queued (without blocking) and calls `on_packet(id,
  /// headers)` for each segment; every id must get a verdict. Returns
  /// false on a socket error other than "nothing to read"; segments the
  /// kernel dropped because the queue was full count in `overflows`.
  bool receive(const std::function<void(uint32_t id, std::span<const uint8_t> packet)>& on_packet);
  /// Lets the segment go on (accept) or drops it.
  bool verdict(uint32_t id, bool accept);
  uint64_t overflows() const { return overflows_; }

 private:
  PacketQueue() = default;
  mnl_socket* socket_ = nullptr;
  unsigned port_id_ = 0;
  uint16_t number_ = 0;
  uint64_t overflows_ = 0;
  std::vector<char> buffer_;
};

}  // namespace shoal::collapse
