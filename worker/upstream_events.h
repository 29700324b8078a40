#pragma once
// Internal to worker/: how the upstream transports (worker/upstream.h,
// worker/dot_pool.h) report what became of an engine token.

#include <cstdint>
#include <span>

namespace shoal::worker {

class UpstreamEvents {
 public:
  /// The reply to the query of `token` (a DNS message, no length prefix).
  virtual void onUpstreamReply(uint64_t token, std::span<const uint8_t> reply) = 0;
  /// The query of `token` failed (unreachable, reset, TLS refused...).
  virtual void onUpstreamFailure(uint64_t token) = 0;

 protected:
  ~UpstreamEvents() = default;
};

}  // namespace shoal::worker
