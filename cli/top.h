#pragma once
// shoalctl top: a live view of the counters in the stats segment.
//
// On a terminal it takes the alternate screen, hides the cursor and puts
// stdin in non-canonical mode so that "q" quits at once; the terminal is
// restored on every way out (q, SIGINT, SIGTERM, an exception). SIGINT,
// SIGTERM and SIGWINCH are blocked and read from a signalfd, so no signal
// handler and no global is needed. When stdout is not a terminal, with
// --iterations or with --json, it prints plain frames instead (one JSON
// object per line with --json).

#include "cli/command_line.h"
#include "stats/stats.h"

namespace shoal::cli {

/// Default refresh interval in seconds.
inline constexpr double kTopIntervalS = 1.0;

/// Runs top until "q", a signal or the last of --iterations; returns the
/// exit code. Throws std::runtime_error on system errors.
int runTop(const stats::Segment& segment, const Invocation& invocation);

}  // namespace shoal::cli
