#pragma once
// The client side of the control protocol (control/protocol.h): one request
// line to the supervisor's Unix socket, one answer line back.

#include <stdexcept>
#include <string>

namespace shoal::cli {

/// The supervisor could not be reached or did not answer; what() is one
/// line for the operator ("cannot connect to /run/shoal/control.sock:
/// Connection refused; is shoal running?").
class ClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How long a short command (everything but reload, restart, upgrade) may
/// take before shoalctl gives up.
inline constexpr int kShortCommandTimeoutMs = 10'000;
/// The longest answer accepted.
inline constexpr size_t kMaxAnswer = 64u << 20;

/// Connects to the socket at `path`, sends `request` (one JSON object,
/// without the trailing newline) and returns the answer line without its
/// newline. The whole exchange takes at most `timeout_ms`. Throws
/// ClientError.
std::string exchange(const std::string& path, const std::string& request, int timeout_ms);

}  // namespace shoal::cli
