#pragma once
// Small helpers shared by the supervisor's files.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace shoal::supervisor {

/// How long a worker told to stop may take before it is killed (workers
/// bound their own drain to WorkerConfig::shutdown_grace_ms, well below).
inline constexpr int64_t kStopTimeoutMs = 5'000;

int64_t monotonicMs();
/// "killed by signal 9 (Killed)", "exited with status 1".
std::string describeStatus(int status);
/// The path of the running binary (/proc/self/exe), read at start: the
/// file an upgrade re-executes.
std::string currentExecutable();
std::optional<gid_t> groupId(const std::string& name);
/// The control protocol's failure answer: {"ok":false,"error":message}.
std::string failureAnswer(const std::string& message);

}  // namespace shoal::supervisor
