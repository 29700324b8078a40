#pragma once
// shoalctl probe, the I/O: plain non-blocking sockets and ppoll(2) around
// a ProbeSession (cli/probe.h), which decides everything else.
//
// Each query goes out on a socket of its own, as a stub's would: UDP
// connected to the server (a fresh source port, so SO_REUSEPORT spreads
// the queries over the workers, and an ICMP port unreachable comes back as
// ECONNREFUSED on that query alone), or a fresh TCP connection carrying
// one length-prefixed query (RFC 1035 section 4.2.2; the latency then
// includes the handshake). IDs come from getrandom(2). SIGINT and SIGTERM
// are read from a signalfd: they stop the probe and the report is printed.

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/probe.h"

namespace shoal::cli {

/// The plan of `invocation` (a parsed probe command): the server is
/// --server, else defaultProbeServer() of --config FILE (or of the
/// built-in defaults). Throws std::runtime_error when --config cannot be
/// loaded, UsageError when the name or type does not parse.
ProbePlan probePlanOf(const Invocation& invocation);

/// Runs the probe and prints its report (text or --json) on stdout.
/// Returns the exit code: 0 when every query sent was answered, 1
/// otherwise. Throws UsageError (cli/commands.h: a server that cannot be
/// asked at all, an interval and timeout that need more sockets than the
/// process may open) and std::runtime_error on system failures.
int runProbe(const Invocation& invocation);

}  // namespace shoal::cli
