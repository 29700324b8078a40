#pragma once
// Saving an idle TCP connection to a few dozen octets and rebuilding it
// later, with Linux's repair mode (TCP_REPAIR, the mechanism CRIU uses to
// checkpoint connections; needs CAP_NET_ADMIN). Saved: both sequence
// numbers, the window state and the options negotiated at the handshake
// (MSS, window scales, SACK, timestamps). A socket closed in repair mode
// sends neither FIN nor RST: the client never learns that the server side
// is gone. A socket rebuilt in repair mode is "connected" without a SYN,
// with the saved state, and carries on as if nothing had happened.
//
// Only connections with nothing in either queue are saved (an idle DNS
// connection: every answer acknowledged, no query half-read), so no queue
// content is kept. Written here rather than taken from CRIU's libsoccr,
// which Debian does not ship as a library; it is a short sequence of
// socket options (linux/tcp.h, Documentation/networking/tcp.rst).

#include <netinet/tcp.h>

#include <cstdint>
#include <optional>
#include <string>

#include "collapse/tuple.h"

namespace shoal::collapse {

struct RepairState {
  uint32_t send_seq = 0;     // the next octet we would send
  uint32_t receive_seq = 0;  // the next octet we expect
  tcp_repair_window window{};
  uint32_t timestamp = 0;    // our TCP timestamp clock when saved (ms)
  uint16_t mss = 0;
  uint8_t send_wscale = 0;
  uint8_t receive_wscale = 0;
  uint8_t options = 0;  // kSack | kTimestamps | kWindowScale
  static constexpr uint8_t kSack = 1;
  static constexpr uint8_t kTimestamps = 2;
  static constexpr uint8_t kWindowScale = 4;
};

/// Whether this process may use repair mode (CAP_NET_ADMIN in its network
/// namespace): tried on a scratch socket. `error` says why not.
bool repairAllowed(std::string* error);

/// Saves the connection on `fd` and leaves the socket in repair mode, so
/// that closing it sends nothing. Nullopt (and `error`) if the connection
/// is not established or not idle (unread or unacknowledged data); the
/// socket is then left as it was.
std::optional<RepairState> saveIdle(int fd, std::string* error);

/// Takes a socket saveIdle() left in repair mode out of it again (the
/// connection goes on as before). False if the kernel refuses.
bool leaveRepair(int fd);

/// Rebuilds the connection `tuple` with `state`, `elapsed_ms` after it was
/// saved (the timestamp clock moves on by as much). Returns a connected,
/// non-blocking socket out of repair mode, or -1 (and `error`).
int restore(const ConnTuple& tuple, const RepairState& state, uint32_t elapsed_ms,
            std::string* error);

}  // namespace shoal::collapse
