#pragma once
// One-line event logging to stderr, shared by the supervisor and its
// workers: "2024-05-01T12:00:00.123Z shoal[1234]: worker 0 started". Each
// line is written with a single write(2), so lines of concurrent processes
// sharing stderr never interleave. Not for the per-packet path: events only
// (start, stop, deaths, errors, counters on demand).

namespace shoal::base {

/// printf-style; the line is cut at 1 KiB and a newline is appended.
/// Not async-signal-safe: never call it from a signal handler.
void logLine(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace shoal::base
