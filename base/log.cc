#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace shoal::base {

void logLine(const char* format, ...) {
  char line[1024];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  int n = std::snprintf(line, sizeof line,
                        "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ shoal[%d]: ", utc.tm_year + 1900,
                        utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                        ts.tv_nsec / 1000000, static_cast<int>(getpid()));
  if (n < 0) return;
  va_list args;
  va_start(args, format);
  const int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n), format, args);
  va_end(args);
  if (m > 0) n += m;
  if (static_cast<size_t>(n) > sizeof line - 1) n = sizeof line - 1;
  line[n++] = '\n';
  // One write per line; a short write to stderr is not worth a retry loop.
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, line, static_cast<size_t>(n));
}

}  // namespace shoal::base
