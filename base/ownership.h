#pragma once
// Whether shoal may trust a file that already exists where it keeps its
// shared state (issue 15): the cache and stats segments in /dev/shm, the
// instance lock file beside them, the control socket. /dev/shm is writable
// by every local user, so anyone could create /dev/shm/shoal-cache before
// shoal starts and feed it a poisoned cache; shoal refuses such a file
// with a clear error instead of attaching to it.
//
// Trusted means: owned by the effective user (shoal's user: the supervisor
// switches to it before it opens anything, supervisor/privileges.h) and
// writable by nobody else (no group or other write bit).

#include <sys/stat.h>

#include <string>

namespace shoal::base {

/// Empty when `st` describes a file we may trust; otherwise why not, e.g.
/// "owned by uid 1000, not by shoal's user (uid 110)" or
/// "mode 0666: writable by others".
std::string untrustedBecause(const struct stat& st);

/// The same for an open file descriptor (fstat fails: that error).
std::string untrustedBecause(int fd);

}  // namespace shoal::base
