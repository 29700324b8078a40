#pragma once
// One-line event logging to stderr, shared by the supervisor and its
// workers: "2024-05-01T12:00:00.123Z shoal[1234]: worker 0 started". Each
// line is written with a single write(2), so lines of concurrent processes
// sharing stderr never interleave. Not for the per-packet path: events only
// (start, stop, deaths, errors, counters on demand), and the sampled query
// log ([log] queries, worker/query_log.h).
//
// Levels ([log] level): error, warning, info (the default), debug; lines
// below the level are not written. Warnings and errors say so after the
// process tag ("shoal[1234]: warning: ..."). With [log] format = "json"
// each line is a JSON object: {"time":"...","pid":1234,"level":"info",
// "message":"..."}. Set by the supervisor before it forks: the workers
// inherit it.

#include <cstdint>

namespace shoal::base {

enum class LogLevel : uint8_t { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
  bool json = false;
};
void setLogOptions(const LogOptions& options);
const LogOptions& logOptions();
inline bool logEnabled(LogLevel level) { return level <= logOptions().level; }

/// printf-style, at info level; the line is cut at 1 KiB and a newline is
/// appended. Not async-signal-safe: never call it from a signal handler.
void logLine(const char* format, ...) __attribute__((format(printf, 1, 2)));
/// The same at `level`.
void logAt(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));
void logWarning(const char* format, ...) __attribute__((format(printf, 1, 2)));
void logError(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace shoal::base
