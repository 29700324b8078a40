#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace shoal::base {
namespace {

LogOptions g_options;

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "info";
}

__attribute__((format(printf, 2, 0))) void write(LogLevel level, const char* format,
                                                 va_list args) {
  if (!logEnabled(level)) return;
  char message[1024];
  const int m = std::vsnprintf(message, sizeof message, format, args);
  if (m < 0) return;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char time_text[96];
  std::snprintf(time_text, sizeof time_text, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                utc.tm_sec, ts.tv_nsec / 1000000);
  char line[2200];
  size_t n = 0;
  auto put = [&](const char* text) {
    while (*text != '\0' && n < sizeof line - 2) line[n++] = *text++;
  };
  if (g_options.json) {
    char head[256];
    std::snprintf(head, sizeof head, "{\"time\":\"%s\",\"pid\":%d,\"level\":\"%s\",\"message\":\"",
                  time_text, static_cast<int>(getpid()), levelName(level));
    put(head);
    // JSON string escaping (RFC 8259 section 7).
    for (const char* c = message; *c != '\0' && n < sizeof line - 10; ++c) {
      const auto u = static_cast<unsigned char>(*c);
      if (u == '"' || u == '\\') {
        line[n++] = '\\';
        line[n++] = static_cast<char>(u);
      } else if (u < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
        put(escaped);
      } else {
        line[n++] = static_cast<char>(u);
      }
    }
    put("\"}");
  } else {
    char head[160];
    std::snprintf(head, sizeof head, "%s shoal[%d]: ", time_text, static_cast<int>(getpid()));
    put(head);
    if (level != LogLevel::kInfo) {
      put(levelName(level));
      put(": ");
    }
    put(message);
  }
  line[n++] = '\n';
  // One write per line; a short write to stderr is not worth a retry loop.
  [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line, n);
}

}  // namespace

void setLogOptions(const LogOptions& options) { g_options = options; }
const LogOptions& logOptions() { return g_options; }

void logLine(const char* format, ...) {
  va_list args;
  va_start(args, format);
  write(LogLevel::kInfo, format, args);
  va_end(args);
}

void logAt(LogLevel level, const char* format, ...) {
  va_list args;
  va_start(args, format);
  write(level, format, args);
  va_end(args);
}

void logWarning(const char* format, ...) {
  va_list args;
  va_start(args, format);
  write(LogLevel::kWarning, format, args);
  va_end(args);
}

void logError(const char* format, ...) {
  va_list args;
  va_start(args, format);
  write(LogLevel::kError, format, args);
  va_end(args);
}

}  // namespace shoal::base
