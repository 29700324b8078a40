// libFuzzer target: the configuration loader (config/config.h), TOML text
// in, a typed and validated Config or one error out. toml11 throws; the
// loader must turn every exception into LoadResult::error, never crash,
// never let one escape (an escaping exception ends the process here, as
// it would end the supervisor on a reload). Checked on every input:
//  - a refused text gets an error that starts with the source name;
//  - an accepted one survives toToml: loading what it prints gives the same
//    settings, every section compared (Config::operator== leaves out log,
//    metrics and dnstap), and printing that again gives the same text;
//  - parseDuration and parseSize on the raw text: a duration that parses
//    prints (formatDuration) to a text that parses back to it.
//
// The source is named /etc/shoal/shoal.toml, so relative file names in the
// input resolve against /etc/shoal whatever the fuzzer's directory. As in
// the supervisor, the loader opens every file named by the input
// (read-only, non-blocking, closed at once) to check that it is readable,
// and looks up control.group.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"

namespace {

using namespace shoal::config;

const std::string kSource = "/etc/shoal/shoal.toml";

void require(bool cond) {
  if (!cond) __builtin_trap();
}

bool sameSettings(const Config& a, const Config& b) {
  return a == b && a.log == b.log && a.metrics == b.metrics && a.dnstap == b.dnstap;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto duration = parseDuration(text)) {
    require(duration->count() >= 0);
    require(parseDuration(formatDuration(*duration)) == duration);
  }
  (void)parseSize(text);

  const LoadResult loaded = loadString(text, kSource);
  if (!loaded.ok()) {
    require(!loaded.error.empty() && loaded.error.starts_with(kSource));
    return 0;
  }
  require(loaded.error.empty() && loaded.config->source == kSource);
  const std::string printed = toToml(*loaded.config);
  const LoadResult again = loadString(printed, kSource);
  require(again.ok());
  require(sameSettings(*loaded.config, *again.config));
  require(toToml(*again.config) == printed);
  return 0;
}
