#include "config/config.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <toml.hpp>
#include <utility>

#include "base/check.h"
#include "dns/name.h"

namespace shoal::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kBuiltinSource = "<built-in defaults>";
constexpr uint64_t kMinCacheSize = uint64_t{1} << 20;
constexpr uint64_t kMinStripeSize = uint64_t{64} << 10;
constexpr int64_t kMaxTtl = 2147483647;  // RFC 2181 section 8
// sun_path holds 107 bytes and a NUL; shoal binds "<path>.new" first, then renames.
constexpr size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1 - 4;

// Every key with its default: what conf/shoal.toml states. defaults() loads
// it through the same checks as any file.
constexpr std::string_view kDefaultsToml = R"([server]
listen = ["127.0.0.1:53"]
tls_listen = []
https_listen = []
tls_certificate = ""
tls_key = ""
workers = 0
udp_payload_size = 1232
tcp_idle_timeout = "10s"
tcp_max_clients = 4096
tcp_max_per_client = 256
tcp_max_queued = "128K"
tcp_max_buffers = "64M"
tcp_collapse = false
tcp_collapse_queue = 5300
tcp_collapsed_max = 262144
tcp_collapsed_timeout = "10m"
hang_timeout = "10s"
user = ""
group = ""
cookies = true
cookie_rotation = "24h"

[cache]
name = "/shoal-cache"
size = "256M"
stripes = 256
max_ttl = 86400
min_ttl = 0
max_negative_ttl = 3600
max_ecs_partitions = 16
serve_stale = "0s"
serve_stale_client_timeout = "1800ms"
prefetch_min_hits = 3
prefault = true

[resolver]
root_hints = ""
trust_anchors = []
outgoing_addresses = []
query_timeout = "3s"
resolution_timeout = "10s"
qname_minimisation = true
ipv4 = true
ipv6 = true
deny_upstream = ["127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128"]
nxdomain_cut = true
rto_min = "50ms"
rto_max = "1s"
case_randomisation = true
cookies = true
private_addresses = []
private_domains = []

[dnssec]
validation = true
sha1_signatures = true
nsec3_max_iterations = 50
aggressive_nsec = true
negative_trust_anchors = []
bogus_ttl = "60s"

[acl]
allow = ["127.0.0.0/8", "::1/128"]

[limits]
rate = 0
rate_burst = 0
rate_slip = 2
rate_ipv4_prefix = 24
rate_ipv6_prefix = 56
client_in_flight = 256
resolutions = 4096

[control]
socket = "/run/shoal/control.sock"
group = ""

[log]
level = "info"
format = "text"
queries = 0

[metrics]
listen = []
top_servers = 20

[dnstap]
socket = ""
identity = ""
messages = ["client_query", "client_response", "resolver_query", "resolver_response"]

[local_root]
enabled = true
sources = []
timeout = "5s"
refresh_min = "1m"

[ecs]
enabled = false
zones = []
servers = []
ipv4_source = 24
ipv6_source = 56
special_clients = "none"
trusted = []
)";

// A mistake in the file; caught in load() and turned into LoadResult::error.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a value's messages need: where the text came from, the directory
// relative paths hang off, and the line of every key read (for checks that
// involve several keys).
struct Context {
  std::string source;
  fs::path base_dir;
  std::vector<std::pair<std::string, unsigned>> lines;  // "cache.size" -> line

  [[noreturn]] void fail(unsigned line, const std::string& key, const std::string& message) const {
    const std::string where = line == 0 ? source : source + ":" + std::to_string(line);
    throw ConfigError(where + ": " + key + ": " + message);
  }
  unsigned lineOf(const std::string& key) const {
    for (const auto& [name, line] : lines) {
      if (name == key) return line;
    }
    return 0;
  }
  /// A check on several keys, blamed on the first of `choices` the file
  /// sets (each with its own message), else on the first.
  [[noreturn]] void failAny(
      std::initializer_list<std::pair<std::string, std::string>> choices) const {
    for (const auto& [key, message] : choices) {
      if (const unsigned line = lineOf(key)) fail(line, key, message);
    }
    fail(0, choices.begin()->first, choices.begin()->second);
  }
};

const char* typeName(const toml::value& value) {
  switch (value.type()) {
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::floating: return "a floating-point number";
    case toml::value_t::string: return "a string";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    case toml::value_t::empty: return "nothing";
    default: return "a date or time";
  }
}

/// "an integer 4", "a string \"4\"", "an array".
std::string describe(const toml::value& value) {
  std::string out = typeName(value);
  if (!value.is_array() && !value.is_table() && !value.is_uninitialized()) {
    out += " " + toml::format(value);
  }
  return out;
}

unsigned lineOf(const toml::value& value) { return value.location().line(); }

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// "256M" when a K/M/G/T unit is exact, else the plain number.
std::string formatSize(uint64_t size) {
  constexpr char kUnits[] = {'T', 'G', 'M', 'K'};
  for (size_t i = 0; i < 4; ++i) {
    const uint64_t unit = uint64_t{1} << (10 * (4 - i));
    if (size != 0 && size % unit == 0) return std::to_string(size / unit) + kUnits[i];
  }
  return std::to_string(size);
}

// One key = value of the file, with typed accessors that fail with the
// file, line and key.
class Field {
 public:
  Field(const toml::value& value, std::string key, Context& context)
      : value_(value), key_(std::move(key)), context_(context) {}

  [[noreturn]] void fail(const std::string& message) const { failAt(value_, message); }
  [[noreturn]] void failAt(const toml::value& value, const std::string& message) const {
    context_.fail(lineOf(value), key_, message);
  }

  bool boolean() const {
    if (!value_.is_boolean()) expected("a boolean (true or false)");
    return value_.as_boolean();
  }

  const toml::value& value() const { return value_; }

  int64_t integer() const {
    if (!value_.is_integer()) expected("an integer");
    const int64_t n = value_.as_integer();
    // toml11 3.7 saturates a decimal literal that overflows int64.
    if (n == std::numeric_limits<int64_t>::max() || n == std::numeric_limits<int64_t>::min()) {
      const auto& location = value_.location();
      std::string text = location.line_str().substr(location.column() - 1, location.region());
      std::erase(text, '_');
      if (!text.empty() && text[0] == '+') text.erase(0, 1);
      const bool decimal = text.find_first_of("xob") == std::string::npos;
      if (decimal && text != std::to_string(n)) fail("integer out of range (got " + text + ")");
    }
    return n;
  }

  int64_t integer(int64_t min, int64_t max) const {
    const int64_t n = integer();
    if (n < min || n > max) {
      fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " +
           std::to_string(n) + ")");
    }
    return n;
  }

  const std::string& string() const {
    if (!value_.is_string()) expected("a string");
    return value_.as_string().str;
  }

  /// The elements of an array of strings (each a toml::value, for its line).
  const std::vector<toml::value>& strings() const {
    if (!value_.is_array()) expected("an array of strings");
    for (const auto& element : value_.as_array()) {
      if (!element.is_string()) {
        failAt(element, "expected an array of strings, got " + describe(element) + " in it");
      }
    }
    return value_.as_array();
  }

  Duration duration(Duration min, Duration max) const {
    if (!value_.is_string()) expected("a duration string such as \"3s\"");
    const auto d = parseDuration(value_.as_string().str);
    if (!d) {
      fail("expected a duration: an integer and a unit (ms, s, m, h) such as \"250ms\" or \"3s\" "
           "(got " + quote(value_.as_string().str) + ")");
    }
    if (*d < min || *d > max) {
      fail("must be between " + formatDuration(min) + " and " + formatDuration(max) + " (got " +
           value_.as_string().str + ")");
    }
    return *d;
  }

  uint64_t size() const {
    std::optional<uint64_t> bytes;
    if (value_.is_integer()) {
      if (const int64_t n = integer(); n >= 0) bytes = static_cast<uint64_t>(n);
    } else if (value_.is_string()) {
      bytes = parseSize(value_.as_string().str);
    } else {
      expected("a size: an integer number of bytes or a string such as \"256M\"");
    }
    if (!bytes) {
      fail("expected a size: a number of bytes, optionally with a K, M, G or T suffix "
           "(powers of 1024), such as \"256M\" (got " + toml::format(value_) + ")");
    }
    return *bytes;
  }

  /// A file name made absolute against the config file's directory.
  std::string path(const toml::value& element) const {
    const std::string& text = element.as_string().str;
    if (text.empty()) failAt(element, "must not be an empty file name");
    fs::path p(text);
    if (p.is_relative()) p = context_.base_dir / p;
    return p.lexically_normal().string();
  }

  /// `path` (from `element`) must be a readable regular file. Opened
  /// non-blocking so that a FIFO cannot hang the load.
  void checkReadable(const toml::value& element, const std::string& path) const {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    std::string problem = fd < 0 ? std::strerror(errno) : "";
    struct stat st {};
    if (fd >= 0) {
      if (::fstat(fd, &st) != 0) {
        problem = std::strerror(errno);
      } else if (S_ISDIR(st.st_mode)) {
        problem = std::strerror(EISDIR);
      } else if (!S_ISREG(st.st_mode)) {
        problem = "not a regular file";
      }
      ::close(fd);
    }
    if (!problem.empty()) failAt(element, "cannot read " + quote(path) + ": " + problem);
  }

 private:
  [[noreturn]] void expected(const std::string& what) const {
    fail("expected " + what + ", got " + describe(value_));
  }

  const toml::value& value_;
  std::string key_;
  Context& context_;

 public:
  /// A key inside this field's table (its errors at that key's line).
  Field child(const toml::value& value, std::string key) const {
    return Field(value, std::move(key), context_);
  }
};

/// Addresses with an optional port (`default_port` when none is given).
std::vector<base::SocketAddress> readSocketAddresses(const Field& f, uint16_t default_port) {
  const std::string example = std::to_string(default_port);
  std::vector<base::SocketAddress> out;
  for (const auto& element : f.strings()) {
    const std::string& text = element.as_string().str;
    const auto address = base::SocketAddress::parse(text, default_port);
    if (!address) {
      f.failAt(element, quote(text) + " is not an address with an optional port such as "
                        "\"192.0.2.1:" + example + "\" or \"[2001:db8::1]:" + example + "\"");
    }
    if (address->port == 0) f.failAt(element, quote(text) + ": port 0 is not allowed");
    if (std::find(out.begin(), out.end(), *address) != out.end()) {
      f.failAt(element, address->toString() + " is listed twice");
    }
    out.push_back(*address);
  }
  return out;
}

std::vector<base::SocketAddress> readListen(const Field& f) {
  auto out = readSocketAddresses(f, 53);
  if (out.empty()) f.fail("must list at least one address");
  return out;
}

std::vector<base::IpPrefix> readPrefixes(const Field& f) {
  std::vector<base::IpPrefix> out;
  for (const auto& element : f.strings()) {
    const std::string& text = element.as_string().str;
    const auto prefix = base::IpPrefix::parse(text);
    if (!prefix) {
      f.failAt(element, quote(text) + " is not an address prefix such as \"192.0.2.0/24\", "
                        "\"2001:db8::/32\" or a single address");
    }
    out.push_back(*prefix);
  }
  return out;
}

/// Domain names, absolute, lowercase, with the trailing dot.
std::vector<std::string> readNames(const Field& f) {
  std::vector<std::string> out;
  for (const auto& element : f.strings()) {
    const std::string& text = element.as_string().str;
    auto name = dns::Name::fromText(text);
    if (!name) f.failAt(element, quote(text) + " is not a domain name");
    std::string canonical = name->toText();
    std::transform(canonical.begin(), canonical.end(), canonical.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    out.push_back(std::move(canonical));
  }
  return out;
}

std::vector<base::IpAddress> readAddresses(const Field& f) {
  std::vector<base::IpAddress> out;
  for (const auto& element : f.strings()) {
    const std::string& text = element.as_string().str;
    const auto address = base::IpAddress::parse(text);
    if (!address) f.failAt(element, quote(text) + " is not an IP address");
    out.push_back(*address);
  }
  return out;
}

std::string readShmName(const Field& f) {
  const std::string& name = f.string();
  if (name.size() < 2 || name.front() != '/' || name.find('/', 1) != std::string::npos) {
    f.fail("must start with \"/\" and contain no other \"/\", such as \"/shoal-cache\" (got " +
           quote(name) + ")");
  }
  if (name.size() > 255) f.fail("must be at most 255 characters long");
  return name;
}

uint64_t readCacheSize(const Field& f) {
  const uint64_t size = f.size();
  if (size < kMinCacheSize) f.fail("must be at least 1M (got " + formatSize(size) + ")");
  return size;
}

uint64_t readBoundedSize(const Field& f, uint64_t min, uint64_t max) {
  const uint64_t size = f.size();
  if (size < min || size > max) {
    f.fail("must be between " + formatSize(min) + " and " + formatSize(max) + " (got " +
           formatSize(size) + ")");
  }
  return size;
}

unsigned readStripes(const Field& f) {
  const int64_t n = f.integer();
  if (n < 1 || n > 65536 || (n & (n - 1)) != 0) {
    f.fail("must be a power of two between 1 and 65536 (got " + std::to_string(n) + ")");
  }
  return static_cast<unsigned>(n);
}

std::string readFile(const Field& f, const toml::value& element) {
  const std::string path = f.path(element);
  f.checkReadable(element, path);
  return path;
}

/// A file name that may be left empty (not set).
std::string readOptionalFile(const Field& f) {
  return f.string().empty() ? std::string() : readFile(f, f.value());
}

std::string readControlSocket(const Field& f) {
  f.string();
  const std::string path = f.path(f.value());
  if (path.size() > kMaxSocketPath) {
    f.fail("must be at most " + std::to_string(kMaxSocketPath) +
           " bytes long, the limit of a Unix socket path (got " + quote(path) + ")");
  }
  return path;
}

std::string readControlGroup(const Field& f) {
  const std::string name = f.string();
  if (name.empty()) return name;
  // Resolved now, so that --check-config catches a group this machine lacks.
  if (getgrnam(name.c_str()) == nullptr) f.fail("no such group " + quote(name));
  return name;
}

std::string readUser(const Field& f) {
  const std::string name = f.string();
  if (name.empty()) return name;
  // Resolved now, so that --check-config catches a user this machine lacks.
  if (getpwnam(name.c_str()) == nullptr) f.fail("no such user " + quote(name));
  return name;
}

uint32_t ttl(const Field& f) { return static_cast<uint32_t>(f.integer(0, kMaxTtl)); }

// The known keys of each table and how each is read. A key missing from the
// file keeps its previous (default) value.
using Reader = void (*)(Config&, const Field&);
struct KeySpec {
  std::string_view key;
  Reader read;
};

constexpr KeySpec kServerKeys[] = {
    {"listen", [](Config& c, const Field& f) { c.server.listen = readListen(f); }},
    {"tls_listen", [](Config& c, const Field& f) {
       c.server.tls_listen = readSocketAddresses(f, 853);  // RFC 7858 section 3.1
     }},
    {"https_listen", [](Config& c, const Field& f) {
       c.server.https_listen = readSocketAddresses(f, 443);  // RFC 8484 (HTTPS)
     }},
    {"tls_certificate", [](Config& c, const Field& f) {
       c.server.tls_certificate = readOptionalFile(f);
     }},
    {"tls_key", [](Config& c, const Field& f) { c.server.tls_key = readOptionalFile(f); }},
    {"workers", [](Config& c, const Field& f) {
       c.server.workers = static_cast<unsigned>(f.integer(0, 256));
     }},
    {"udp_payload_size", [](Config& c, const Field& f) {
       c.server.udp_payload_size = static_cast<uint16_t>(f.integer(512, 4096));
     }},
    {"tcp_idle_timeout", [](Config& c, const Field& f) {
       c.server.tcp_idle_timeout = f.duration(100ms, 1h);
     }},
    {"tcp_max_clients", [](Config& c, const Field& f) {
       c.server.tcp_max_clients = static_cast<uint32_t>(f.integer(1, 1000000));
     }},
    {"tcp_max_per_client", [](Config& c, const Field& f) {
       c.server.tcp_max_per_client = static_cast<uint32_t>(f.integer(1, 1000000));
     }},
    {"tcp_max_queued", [](Config& c, const Field& f) {
       c.server.tcp_max_queued = readBoundedSize(f, uint64_t{16} << 10, uint64_t{64} << 20);
     }},
    {"tcp_max_buffers", [](Config& c, const Field& f) {
       c.server.tcp_max_buffers = readBoundedSize(f, uint64_t{1} << 20, uint64_t{64} << 30);
     }},
    {"tcp_collapse", [](Config& c, const Field& f) { c.server.tcp_collapse = f.boolean(); }},
    {"tcp_collapse_queue", [](Config& c, const Field& f) {
       c.server.tcp_collapse_queue = static_cast<uint16_t>(f.integer(0, 65535 - 256));
     }},
    {"tcp_collapsed_max", [](Config& c, const Field& f) {
       c.server.tcp_collapsed_max = static_cast<uint32_t>(f.integer(1, 16000000));
     }},
    {"tcp_collapsed_timeout", [](Config& c, const Field& f) {
       c.server.tcp_collapsed_timeout = f.duration(1s, 24h);
     }},
    {"hang_timeout", [](Config& c, const Field& f) {
       c.server.hang_timeout = f.duration(0s, 10min);
       if (c.server.hang_timeout.count() != 0 && c.server.hang_timeout < 2s) {
         f.fail("must be 0s (off) or at least 2s (a worker reports every second), got " +
                formatDuration(c.server.hang_timeout));
       }
     }},
    {"user", [](Config& c, const Field& f) { c.server.user = readUser(f); }},
    {"group", [](Config& c, const Field& f) { c.server.group = readControlGroup(f); }},
    {"cookies", [](Config& c, const Field& f) { c.server.cookies = f.boolean(); }},
    {"cookie_rotation", [](Config& c, const Field& f) {
       c.server.cookie_rotation = f.duration(1h, 24h * 30);
     }},
};

constexpr KeySpec kCacheKeys[] = {
    {"name", [](Config& c, const Field& f) { c.cache.name = readShmName(f); }},
    {"size", [](Config& c, const Field& f) { c.cache.size = readCacheSize(f); }},
    {"stripes", [](Config& c, const Field& f) { c.cache.stripes = readStripes(f); }},
    {"max_ttl", [](Config& c, const Field& f) { c.cache.max_ttl = ttl(f); }},
    {"min_ttl", [](Config& c, const Field& f) { c.cache.min_ttl = ttl(f); }},
    {"max_negative_ttl", [](Config& c, const Field& f) { c.cache.max_negative_ttl = ttl(f); }},
    {"max_ecs_partitions", [](Config& c, const Field& f) {
       c.cache.max_ecs_partitions = static_cast<unsigned>(f.integer(1, 1024));
     }},
    {"serve_stale", [](Config& c, const Field& f) { c.cache.serve_stale = f.duration(0s, 168h); }},
    {"prefetch_min_hits", [](Config& c, const Field& f) {
       c.cache.prefetch_min_hits = static_cast<unsigned>(f.integer(0, 1000000));
     }},
    {"serve_stale_client_timeout", [](Config& c, const Field& f) {
       c.cache.serve_stale_client_timeout = f.duration(0s, 60s);
     }},
    {"prefault", [](Config& c, const Field& f) { c.cache.prefault = f.boolean(); }},
};

constexpr KeySpec kResolverKeys[] = {
    {"root_hints", [](Config& c, const Field& f) { c.resolver.root_hints = readOptionalFile(f); }},
    {"trust_anchors", [](Config& c, const Field& f) {
       c.resolver.trust_anchors.clear();
       for (const auto& element : f.strings()) {
         c.resolver.trust_anchors.push_back(readFile(f, element));
       }
     }},
    {"outgoing_addresses", [](Config& c, const Field& f) {
       c.resolver.outgoing_addresses = readAddresses(f);
     }},
    {"resolution_timeout", [](Config& c, const Field& f) {
       c.resolver.resolution_timeout = f.duration(100ms, 300s);
     }},
    {"query_timeout", [](Config& c, const Field& f) {
       c.resolver.query_timeout = f.duration(100ms, 60s);
     }},
    {"qname_minimisation", [](Config& c, const Field& f) {
       c.resolver.qname_minimisation = f.boolean();
     }},
    {"ipv4", [](Config& c, const Field& f) { c.resolver.ipv4 = f.boolean(); }},
    {"ipv6", [](Config& c, const Field& f) { c.resolver.ipv6 = f.boolean(); }},
    {"deny_upstream", [](Config& c, const Field& f) {
       c.resolver.deny_upstream = readPrefixes(f);
     }},
    {"nxdomain_cut", [](Config& c, const Field& f) { c.resolver.nxdomain_cut = f.boolean(); }},
    {"rto_min", [](Config& c, const Field& f) { c.resolver.rto_min = f.duration(1ms, 10s); }},
    {"rto_max", [](Config& c, const Field& f) { c.resolver.rto_max = f.duration(1ms, 60s); }},
    {"case_randomisation", [](Config& c, const Field& f) {
       c.resolver.case_randomisation = f.boolean();
     }},
    {"cookies", [](Config& c, const Field& f) { c.resolver.cookies = f.boolean(); }},
    {"private_addresses", [](Config& c, const Field& f) {
       c.resolver.private_addresses = readPrefixes(f);
     }},
    {"private_domains", [](Config& c, const Field& f) {
       c.resolver.private_domains = readNames(f);
     }},
};

constexpr KeySpec kLimitsKeys[] = {
    {"rate", [](Config& c, const Field& f) {
       c.limits.rate = static_cast<uint32_t>(f.integer(0, 1000000));
     }},
    {"rate_burst", [](Config& c, const Field& f) {
       c.limits.rate_burst = static_cast<uint32_t>(f.integer(0, 1000000));
     }},
    {"rate_slip", [](Config& c, const Field& f) {
       c.limits.rate_slip = static_cast<uint32_t>(f.integer(0, 100));
     }},
    {"rate_ipv4_prefix", [](Config& c, const Field& f) {
       c.limits.rate_ipv4_prefix = static_cast<unsigned>(f.integer(8, 32));
     }},
    {"rate_ipv6_prefix", [](Config& c, const Field& f) {
       c.limits.rate_ipv6_prefix = static_cast<unsigned>(f.integer(16, 128));
     }},
    {"client_in_flight", [](Config& c, const Field& f) {
       c.limits.client_in_flight = static_cast<uint32_t>(f.integer(0, 1000000));
     }},
    {"resolutions", [](Config& c, const Field& f) {
       c.limits.resolutions = static_cast<uint32_t>(f.integer(0, 1000000));
     }},
};

constexpr KeySpec kDnssecKeys[] = {
    {"validation", [](Config& c, const Field& f) { c.dnssec.validation = f.boolean(); }},
    {"sha1_signatures", [](Config& c, const Field& f) { c.dnssec.sha1_signatures = f.boolean(); }},
    {"nsec3_max_iterations", [](Config& c, const Field& f) {
       c.dnssec.nsec3_max_iterations = static_cast<uint16_t>(f.integer(0, 2500));
     }},
    {"aggressive_nsec", [](Config& c, const Field& f) { c.dnssec.aggressive_nsec = f.boolean(); }},
    {"negative_trust_anchors", [](Config& c, const Field& f) {
       c.dnssec.negative_trust_anchors = readNames(f);
     }},
    {"bogus_ttl", [](Config& c, const Field& f) { c.dnssec.bogus_ttl = f.duration(1s, 1h); }},
};

constexpr KeySpec kAclKeys[] = {
    {"allow", [](Config& c, const Field& f) {
       c.acl.allow = readPrefixes(f);
       if (c.acl.allow.empty()) {
         f.fail("must list at least one prefix (\"0.0.0.0/0\" and \"::/0\" allow everyone)");
       }
     }},
};

constexpr KeySpec kControlKeys[] = {
    {"socket", [](Config& c, const Field& f) { c.control.socket = readControlSocket(f); }},
    {"group", [](Config& c, const Field& f) { c.control.group = readControlGroup(f); }},
};

constexpr KeySpec kLogKeys[] = {
    {"level", [](Config& c, const Field& f) {
       const std::string& text = f.string();
       if (text != "error" && text != "warning" && text != "info" && text != "debug") {
         f.fail(quote(text) + " is not one of \"error\", \"warning\", \"info\", \"debug\"");
       }
       c.log.level = text;
     }},
    {"format", [](Config& c, const Field& f) {
       const std::string& text = f.string();
       if (text != "text" && text != "json") {
         f.fail(quote(text) + " is not one of \"text\", \"json\"");
       }
       c.log.format = text;
     }},
    {"queries", [](Config& c, const Field& f) {
       c.log.queries = static_cast<uint32_t>(f.integer(0, 1000000000));
     }},
};

constexpr KeySpec kDnstapKeys[] = {
    {"socket", [](Config& c, const Field& f) {
       c.dnstap.socket = f.string().empty() ? std::string() : readControlSocket(f);
     }},
    {"identity", [](Config& c, const Field& f) {
       const std::string& text = f.string();
       if (text.size() > 255) f.fail("must be at most 255 bytes long");
       c.dnstap.identity = text;
     }},
    {"messages", [](Config& c, const Field& f) {
       std::vector<std::string> out;
       for (const auto& element : f.strings()) {
         const std::string& text = element.as_string().str;
         if (text != "client_query" && text != "client_response" && text != "resolver_query" &&
             text != "resolver_response") {
           f.failAt(element, quote(text) + " is not one of \"client_query\", "
                             "\"client_response\", \"resolver_query\", \"resolver_response\"");
         }
         if (std::find(out.begin(), out.end(), text) != out.end()) {
           f.failAt(element, quote(text) + " is listed twice");
         }
         out.push_back(text);
       }
       c.dnstap.messages = std::move(out);
     }},
};

constexpr KeySpec kMetricsKeys[] = {
    {"listen", [](Config& c, const Field& f) { c.metrics.listen = readSocketAddresses(f, 9153); }},
    {"top_servers", [](Config& c, const Field& f) {
       c.metrics.top_servers = static_cast<uint32_t>(f.integer(1, 1000));
     }},
};

constexpr KeySpec kLocalRootKeys[] = {
    {"enabled", [](Config& c, const Field& f) { c.local_root.enabled = f.boolean(); }},
    {"sources", [](Config& c, const Field& f) {
       c.local_root.sources = readSocketAddresses(f, 53);
     }},
    {"timeout", [](Config& c, const Field& f) { c.local_root.timeout = f.duration(100ms, 60s); }},
    {"refresh_min", [](Config& c, const Field& f) {
       c.local_root.refresh_min = f.duration(1s, 24h);
     }},
};

constexpr KeySpec kEcsKeys[] = {
    {"enabled", [](Config& c, const Field& f) { c.ecs.enabled = f.boolean(); }},
    {"zones", [](Config& c, const Field& f) { c.ecs.zones = readNames(f); }},
    {"servers", [](Config& c, const Field& f) { c.ecs.servers = readPrefixes(f); }},
    {"ipv4_source", [](Config& c, const Field& f) {
       c.ecs.ipv4_source = static_cast<unsigned>(f.integer(1, 32));
     }},
    {"ipv6_source", [](Config& c, const Field& f) {
       c.ecs.ipv6_source = static_cast<unsigned>(f.integer(1, 128));
     }},
    {"special_clients", [](Config& c, const Field& f) {
       const std::string& text = f.string();
       if (text == "none") {
         c.ecs.special_clients.reset();
         return;
       }
       const auto prefix = base::IpPrefix::parse(text);
       if (!prefix || (text.find('/') == std::string::npos)) {
         f.fail(quote(text) + " is neither \"none\" nor an address prefix such as "
                "\"0.0.0.0/0\" or \"192.0.2.0/24\"");
       }
       c.ecs.special_clients = *prefix;
     }},
    {"trusted", [](Config& c, const Field& f) { c.ecs.trusted = readPrefixes(f); }},
};

struct TableSpec {
  std::string_view name;
  std::span<const KeySpec> keys;
};

constexpr TableSpec kTables[] = {
    {"server", kServerKeys}, {"cache", kCacheKeys},     {"resolver", kResolverKeys},
    {"dnssec", kDnssecKeys}, {"acl", kAclKeys},         {"limits", kLimitsKeys}, {"control", kControlKeys}, {"log", kLogKeys}, {"metrics", kMetricsKeys}, {"dnstap", kDnstapKeys},
    {"local_root", kLocalRootKeys}, {"ecs", kEcsKeys},
};

// One key of the file; read in file order so that the first mistake in the
// file is the one reported.
struct Item {
  unsigned line = 0;
  std::string key;  // "server.workers"
  const toml::value* value = nullptr;
  Reader read = nullptr;  // null: `problem` says why
  std::string problem;
};

/// One [[forward]] table: the whole table at once (its keys depend on each
/// other: a zone needs its name and addresses).
void readForward(Config& c, const Field& f) {
  ForwardZone zone;
  bool named = false;
  const toml::value* addresses = nullptr;
  const toml::value* tls_name = nullptr;
  const toml::value* tls_ca = nullptr;
  for (const auto& [key, value] : f.value().as_table()) {
    const std::string& key_name = key;
    const Field field = f.child(value, "forward." + key_name);
    if (key_name == "name") {
      const std::string& text = field.string();
      auto name = dns::Name::fromText(text);
      if (!name) field.fail(quote(text) + " is not a domain name");
      zone.name = name->toText();
      std::transform(zone.name.begin(), zone.name.end(), zone.name.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      named = true;
    } else if (key_name == "addresses") {
      addresses = &value;  // read below: the default port depends on tls
    } else if (key_name == "validate") {
      zone.validate = field.boolean();
    } else if (key_name == "tls") {
      zone.tls = field.boolean();
    } else if (key_name == "tls_name") {
      zone.tls_name = field.string();
      if (zone.tls_name.empty()) field.fail("must name the upstreams' certificate");
      tls_name = &value;
    } else if (key_name == "tls_ca") {
      zone.tls_ca = field.string();
      if (!zone.tls_ca.empty() && !std::ifstream(zone.tls_ca).good()) {
        field.fail("cannot read " + zone.tls_ca);
      }
      tls_ca = &value;
    } else {
      field.fail("unknown key (the keys of [[forward]] are name, addresses, validate, tls, "
                 "tls_name and tls_ca)");
    }
  }
  if (addresses != nullptr) {
    const Field field = f.child(*addresses, "forward.addresses");
    zone.addresses = readSocketAddresses(field, zone.tls ? 853 : 53);
    if (zone.addresses.empty()) field.fail("must list at least one upstream resolver");
  }
  if (zone.tls && zone.tls_name.empty()) {
    f.fail("tls = true needs tls_name: the name the upstreams' certificate is valid for");
  }
  for (const toml::value* value : {tls_name, tls_ca}) {
    if (value != nullptr && !zone.tls) {
      f.child(*value, "forward").fail("tls_name and tls_ca need tls = true");
    }
  }
  if (!named) f.fail("needs a name: the zone forwarded (\".\" for everything)");
  if (zone.addresses.empty()) f.fail("needs addresses: the upstream resolvers of " + zone.name);
  for (const auto& other : c.forward) {
    if (other.name == zone.name) f.fail("the zone " + zone.name + " is forwarded twice");
  }
  c.forward.push_back(std::move(zone));
}

std::string unknown(const toml::value& value) {
  return value.is_table() ? "unknown table" : "unknown key";
}

std::vector<Item> collectItems(const toml::value& root) {
  std::vector<Item> items;
  for (const auto& [name, table] : root.as_table()) {
    // (clang 14 cannot capture a structured binding: compare through a copy)
    const std::string& table_name = name;
    if (table_name == "forward") {
      if (!table.is_array()) {
        items.push_back({lineOf(table), name, &table, nullptr,
                         "expected tables written [[forward]], got " + describe(table)});
        continue;
      }
      for (const auto& element : table.as_array()) {
        items.push_back({lineOf(element), name, &element, element.is_table() ? readForward : nullptr,
                         element.is_table() ? "" : "expected a table written [[forward]]"});
      }
      continue;
    }
    const auto spec = std::find_if(std::begin(kTables), std::end(kTables),
                                   [&](const TableSpec& t) { return t.name == table_name; });
    if (spec == std::end(kTables)) {
      items.push_back({lineOf(table), name, &table, nullptr,
                       table.is_table() ? "unknown table (the tables are server, cache, "
                                          "resolver, dnssec, acl, limits, control, log, metrics, dnstap, "
                                          "local_root, ecs "
                                          "and [[forward]])"
                                        : "unknown key (keys belong in a table such as [server])"});
      continue;
    }
    if (!table.is_table()) {
      items.push_back({lineOf(table), name, &table, nullptr, "expected a table, got " +
                                                                 describe(table)});
      continue;
    }
    for (const auto& [key, value] : table.as_table()) {
      const std::string& key_name = key;
      const auto k = std::find_if(spec->keys.begin(), spec->keys.end(),
                                  [&](const KeySpec& ks) { return ks.key == key_name; });
      const bool known = k != spec->keys.end();
      items.push_back({lineOf(value), name + "." + key, &value, known ? k->read : nullptr,
                       known ? "" : unknown(value)});
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.line, a.key) < std::tie(b.line, b.key);
  });
  return items;
}

void resolveWorkers(Config& config) {
  if (config.server.workers != 0) return;
  config.server.workers = std::clamp(std::thread::hardware_concurrency(), 1u, 256u);
}

/// Two listeners that the kernel would let share a port (SO_REUSEPORT):
/// the same port and address, or a wildcard address of the same family.
bool samePort(const base::SocketAddress& a, const base::SocketAddress& b) {
  if (a.port != b.port || a.ip.isV4() != b.ip.isV4()) return false;
  const auto unspecified = [](const base::IpAddress& ip) {
    return ip.masked(0) == ip;  // all zero bits
  };
  return a.ip == b.ip || unspecified(a.ip) || unspecified(b.ip);
}

// DNS over TLS and over HTTPS need the certificate and key, and ports of
// their own: a listener of another kind on the same port would take a part
// of the clients.
void checkTls(const ServerSection& s, const Context& context) {
  const std::pair<const char*, const std::vector<base::SocketAddress>*> kinds[] = {
      {"server.tls_listen", &s.tls_listen}, {"server.https_listen", &s.https_listen}};
  for (const auto& [kind, list] : kinds) {
    if (list->empty()) continue;
    const std::pair<const char*, const std::string*> files[] = {
        {"tls_certificate", &s.tls_certificate}, {"tls_key", &s.tls_key}};
    for (const auto& [key, value] : files) {
      if (!value->empty()) continue;
      const std::string name = std::string("server.") + key;
      context.failAny({{name, std::string("must name a PEM file when ") + kind + " is not empty"},
                       {kind, "needs " + name + " (a PEM file) to serve TLS"}});
    }
  }
  const std::pair<const char*, const std::vector<base::SocketAddress>*> ports[] = {
      {"server.listen", &s.listen}, {"server.tls_listen", &s.tls_listen},
      {"server.https_listen", &s.https_listen}};
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) {
      for (const auto& a : *ports[i].second) {
        for (const auto& b : *ports[j].second) {
          if (!samePort(a, b)) continue;
          const std::string message = b.toString() + " and " + a.toString() + " (" +
                                      ports[i].first +
                                      ") share a port: a port serves one of DNS, DNS over TLS "
                                      "and DNS over HTTPS";
          context.failAny({{ports[j].first, message}, {ports[i].first, message}});
        }
      }
    }
  }
}

// Checks that involve several keys (each key alone was checked as read).
void checkAcrossKeys(const Config& c, const Context& context) {
  checkTls(c.server, context);
  if (c.cache.min_ttl > c.cache.max_ttl) {
    context.failAny(
        {{"cache.min_ttl", "must not exceed cache.max_ttl = " + std::to_string(c.cache.max_ttl) +
                               " (got " + std::to_string(c.cache.min_ttl) + ")"},
         {"cache.max_ttl", "must be at least cache.min_ttl = " + std::to_string(c.cache.min_ttl) +
                               " (got " + std::to_string(c.cache.max_ttl) + ")"}});
  }
  if (c.cache.size / c.cache.stripes < kMinStripeSize) {
    const std::string need = formatSize(kMinStripeSize * c.cache.stripes);
    const std::string stripes = std::to_string(c.cache.stripes);
    context.failAny(
        {{"cache.stripes", stripes + " stripes need a cache.size of at least " + need +
                               " (64K per stripe; cache.size is " + formatSize(c.cache.size) +
                               ")"},
         {"cache.size", "must be at least " + need + " for " + stripes +
                            " stripes (64K per stripe; got " + formatSize(c.cache.size) + ")"}});
  }
  const ResolverSection& r = c.resolver;
  if (r.rto_min > r.rto_max) {
    context.failAny({{"resolver.rto_min", "must not exceed resolver.rto_max = " +
                                              formatDuration(r.rto_max) + " (got " + formatDuration(r.rto_min) + ")"},
                     {"resolver.rto_max", "must be at least resolver.rto_min = " +
                                              formatDuration(r.rto_min) + " (got " + formatDuration(r.rto_max) + ")"}});
  }
  if (r.rto_max > r.query_timeout) {
    context.failAny({{"resolver.rto_max", "must not exceed resolver.query_timeout = " +
                                              formatDuration(r.query_timeout) + " (got " + formatDuration(r.rto_max) + ")"},
                     {"resolver.query_timeout", "must be at least resolver.rto_max = " +
                                                    formatDuration(r.rto_max) + " (got " + formatDuration(r.query_timeout) + ")"}});
  }
  if (r.resolution_timeout < r.query_timeout) {
    context.failAny({{"resolver.resolution_timeout", "must be at least resolver.query_timeout = " +
                                                         formatDuration(r.query_timeout) + " (got " + formatDuration(r.resolution_timeout) + ")"},
                     {"resolver.query_timeout", "must not exceed resolver.resolution_timeout = " +
                                                    formatDuration(r.resolution_timeout) + " (got " + formatDuration(r.query_timeout) + ")"}});
  }
  if (!r.ipv4 && !r.ipv6) {
    const std::string message = "resolver.ipv4 and resolver.ipv6 cannot both be false";
    context.failAny({{"resolver.ipv4", message}, {"resolver.ipv6", message}});
  }
  for (const bool v4 : {true, false}) {
    if (r.outgoing_addresses.empty() || !(v4 ? r.ipv4 : r.ipv6)) continue;
    const bool found = std::any_of(r.outgoing_addresses.begin(), r.outgoing_addresses.end(),
                                   [&](const base::IpAddress& a) { return a.isV4() == v4; });
    if (found) continue;
    const std::string family = v4 ? "ipv4" : "ipv6";
    context.failAny(
        {{"resolver.outgoing_addresses",
          "has no " + std::string(v4 ? "IPv4" : "IPv6") + " address but resolver." + family +
              " is true: add one, or set " + family + " = false"},
         {"resolver." + family, "is true but resolver.outgoing_addresses has no " +
                                              std::string(v4 ? "IPv4" : "IPv6") + " address"}});
  }
}

fs::path baseDir(const std::string& source) {
  std::error_code ec;
  fs::path dir = fs::path(source).parent_path();
  if (dir.empty()) dir = fs::current_path(ec);
  fs::path absolute = fs::absolute(dir, ec);
  return ec ? dir : absolute;
}

/// toml11's message ("[error] what\n --> file\n excerpt") as
/// "file:line: TOML syntax error: what" followed by the excerpt.
std::string syntaxMessage(const std::string& source, const toml::exception& e) {
  std::string what = e.what();
  if (what.rfind("[error] ", 0) == 0) what.erase(0, 8);
  const size_t newline = what.find('\n');
  return source + ":" + std::to_string(e.location().line()) +
         ": TOML syntax error: " + what.substr(0, newline) +
         (newline == std::string::npos ? "" : what.substr(newline));
}

/// The offset of the first octet of `text` that starts no well-formed UTF-8
/// sequence (RFC 3629 section 4), or text.size(). A TOML file is UTF-8
/// (TOML 1.0.0), and toml11 3.7 reads out of bounds when a literal string
/// is not (toml11 issue 199, fixed in 3.8; found by config_fuzzer): such
/// text never reaches toml11.
size_t invalidUtf8At(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the second octet's range
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // no overlong forms
      if (lead == 0xED) high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // no overlong forms
      if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (text.size() - i < length) return i;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) return i;
    }
    i += length;
  }
  return i;
}

LoadResult load(std::string_view text, const std::string& source, Config config) {
  if (const size_t bad = invalidUtf8At(text); bad < text.size()) {
    const std::string_view before = text.substr(0, bad);
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    return {std::nullopt, source + ":" + std::to_string(line) +
                              ": TOML syntax error: not valid UTF-8 (a TOML file is UTF-8)"};
  }
  try {
    Context context{source, baseDir(source), {}};
    std::istringstream in{std::string(text)};
    const toml::value root = toml::parse(in, source);
    for (const Item& item : collectItems(root)) {
      if (!item.read) context.fail(item.line, item.key, item.problem);
      context.lines.emplace_back(item.key, item.line);
      item.read(config, Field(*item.value, item.key, context));
    }
    resolveWorkers(config);
    checkAcrossKeys(config, context);
    config.source = source;
    return {std::move(config), ""};
  } catch (const ConfigError& e) {
    return {std::nullopt, e.what()};
  } catch (const toml::exception& e) {
    return {std::nullopt, syntaxMessage(source, e)};
  } catch (const std::exception& e) {
    return {std::nullopt, source + ": " + e.what()};
  }
}

std::string toTomlList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quote(items[i]);
  return out + "]";
}

template <typename T>
std::string toTomlList(const std::vector<T>& items) {
  std::vector<std::string> texts;
  for (const T& item : items) texts.push_back(item.toString());
  return toTomlList(texts);
}

std::string toTomlBool(bool value) { return value ? "true" : "false"; }

}  // namespace

bool Config::operator==(const Config& other) const {
  return server == other.server && cache == other.cache && resolver == other.resolver &&
         dnssec == other.dnssec && acl == other.acl && limits == other.limits &&
         control == other.control &&
         local_root == other.local_root && ecs == other.ecs && forward == other.forward;
}

Config defaults() {
  LoadResult result = load(kDefaultsToml, kBuiltinSource, Config{});
  if (!result.ok()) std::fprintf(stderr, "shoal: built-in config: %s\n", result.error.c_str());
  SHOAL_CHECK(result.ok());
  return std::move(*result.config);
}

LoadResult loadString(std::string_view text, const std::string& source_name) {
  return load(text, source_name, defaults());
}

LoadResult loadFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) return {std::nullopt, path + ": cannot open: " + std::strerror(errno)};
  std::string text;
  char buf[16384];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) text.append(buf, n);
  const int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) return {std::nullopt, path + ": cannot read: " + std::strerror(error)};
  return loadString(text, path);
}

std::string toToml(const Config& c) {
  const std::string size = formatSize(c.cache.size);
  std::string out = "# shoal configuration: the effective values loaded from " + quote(c.source) +
                    "\n";
  out += "\n[server]\n";
  out += "listen = " + toTomlList(c.server.listen) + "\n";
  out += "tls_listen = " + toTomlList(c.server.tls_listen) + "\n";
  out += "https_listen = " + toTomlList(c.server.https_listen) + "\n";
  out += "tls_certificate = " + quote(c.server.tls_certificate) + "\n";
  out += "tls_key = " + quote(c.server.tls_key) + "\n";
  out += "workers = " + std::to_string(c.server.workers) + "\n";
  out += "udp_payload_size = " + std::to_string(c.server.udp_payload_size) + "\n";
  out += "tcp_idle_timeout = " + quote(formatDuration(c.server.tcp_idle_timeout)) + "\n";
  out += "hang_timeout = " + quote(formatDuration(c.server.hang_timeout)) + "\n";
  out += "tcp_max_clients = " + std::to_string(c.server.tcp_max_clients) + "\n";
  out += "tcp_max_per_client = " + std::to_string(c.server.tcp_max_per_client) + "\n";
  out += "tcp_max_queued = " + quote(formatSize(c.server.tcp_max_queued)) + "\n";
  out += "tcp_max_buffers = " + quote(formatSize(c.server.tcp_max_buffers)) + "\n";
  out += "tcp_collapse = " + toTomlBool(c.server.tcp_collapse) + "\n";
  out += "tcp_collapse_queue = " + std::to_string(c.server.tcp_collapse_queue) + "\n";
  out += "tcp_collapsed_max = " + std::to_string(c.server.tcp_collapsed_max) + "\n";
  out += "tcp_collapsed_timeout = " + quote(formatDuration(c.server.tcp_collapsed_timeout)) + "\n";
  out += "user = " + quote(c.server.user) + "\n";
  out += "group = " + quote(c.server.group) + "\n";
  out += "cookies = " + toTomlBool(c.server.cookies) + "\n";
  out += "cookie_rotation = " + quote(formatDuration(c.server.cookie_rotation)) + "\n";
  out += "\n[cache]\n";
  out += "name = " + quote(c.cache.name) + "\n";
  const bool has_unit = size.back() < '0' || size.back() > '9';
  out += "size = " + (has_unit ? quote(size) : size) + "\n";
  out += "stripes = " + std::to_string(c.cache.stripes) + "\n";
  out += "max_ttl = " + std::to_string(c.cache.max_ttl) + "\n";
  out += "min_ttl = " + std::to_string(c.cache.min_ttl) + "\n";
  out += "max_negative_ttl = " + std::to_string(c.cache.max_negative_ttl) + "\n";
  out += "max_ecs_partitions = " + std::to_string(c.cache.max_ecs_partitions) + "\n";
  out += "serve_stale = " + quote(formatDuration(c.cache.serve_stale)) + "\n";
  out += "prefetch_min_hits = " + std::to_string(c.cache.prefetch_min_hits) + "\n";
  out += "serve_stale_client_timeout = " +
         quote(formatDuration(c.cache.serve_stale_client_timeout)) + "\n";
  out += std::string("prefault = ") + (c.cache.prefault ? "true" : "false") + "\n";
  const ResolverSection& r = c.resolver;
  out += "\n[resolver]\n";
  out += "root_hints = " + quote(r.root_hints) + "\n";
  out += "trust_anchors = " + toTomlList(r.trust_anchors) + "\n";
  out += "outgoing_addresses = " + toTomlList(r.outgoing_addresses) + "\n";
  out += "query_timeout = " + quote(formatDuration(r.query_timeout)) + "\n";
  out += "resolution_timeout = " + quote(formatDuration(r.resolution_timeout)) + "\n";
  out += "qname_minimisation = " + toTomlBool(r.qname_minimisation) + "\n";
  out += "ipv4 = " + toTomlBool(r.ipv4) + "\n";
  out += "ipv6 = " + toTomlBool(r.ipv6) + "\n";
  out += "deny_upstream = " + toTomlList(r.deny_upstream) + "\n";
  out += "nxdomain_cut = " + toTomlBool(r.nxdomain_cut) + "\n";
  out += "rto_min = " + quote(formatDuration(r.rto_min)) + "\n";
  out += "rto_max = " + quote(formatDuration(r.rto_max)) + "\n";
  out += "case_randomisation = " + toTomlBool(r.case_randomisation) + "\n";
  out += "cookies = " + toTomlBool(r.cookies) + "\n";
  out += "private_addresses = " + toTomlList(r.private_addresses) + "\n";
  out += "private_domains = " + toTomlList(r.private_domains) + "\n";
  out += "\n[dnssec]\n";
  out += "validation = " + toTomlBool(c.dnssec.validation) + "\n";
  out += "sha1_signatures = " + toTomlBool(c.dnssec.sha1_signatures) + "\n";
  out += "nsec3_max_iterations = " + std::to_string(c.dnssec.nsec3_max_iterations) + "\n";
  out += "aggressive_nsec = " + toTomlBool(c.dnssec.aggressive_nsec) + "\n";
  out += "negative_trust_anchors = " + toTomlList(c.dnssec.negative_trust_anchors) + "\n";
  out += "bogus_ttl = " + quote(formatDuration(c.dnssec.bogus_ttl)) + "\n";
  out += "\n[acl]\n";
  out += "allow = " + toTomlList(c.acl.allow) + "\n";
  const LimitsSection& l = c.limits;
  out += "\n[limits]\n";
  out += "rate = " + std::to_string(l.rate) + "\n";
  out += "rate_burst = " + std::to_string(l.rate_burst) + "\n";
  out += "rate_slip = " + std::to_string(l.rate_slip) + "\n";
  out += "rate_ipv4_prefix = " + std::to_string(l.rate_ipv4_prefix) + "\n";
  out += "rate_ipv6_prefix = " + std::to_string(l.rate_ipv6_prefix) + "\n";
  out += "client_in_flight = " + std::to_string(l.client_in_flight) + "\n";
  out += "resolutions = " + std::to_string(l.resolutions) + "\n";
  out += "\n[control]\n";
  out += "socket = " + quote(c.control.socket) + "\n";
  out += "group = " + quote(c.control.group) + "\n";
  out += "\n[log]\n";
  out += "level = " + quote(c.log.level) + "\n";
  out += "format = " + quote(c.log.format) + "\n";
  out += "queries = " + std::to_string(c.log.queries) + "\n";
  out += "\n[metrics]\n";
  out += "listen = " + toTomlList(c.metrics.listen) + "\n";
  out += "top_servers = " + std::to_string(c.metrics.top_servers) + "\n";
  out += "\n[dnstap]\n";
  out += "socket = " + quote(c.dnstap.socket) + "\n";
  out += "identity = " + quote(c.dnstap.identity) + "\n";
  out += "messages = " + toTomlList(c.dnstap.messages) + "\n";
  out += "\n[local_root]\n";
  out += "enabled = " + toTomlBool(c.local_root.enabled) + "\n";
  out += "sources = " + toTomlList(c.local_root.sources) + "\n";
  out += "timeout = " + quote(formatDuration(c.local_root.timeout)) + "\n";
  out += "refresh_min = " + quote(formatDuration(c.local_root.refresh_min)) + "\n";
  out += "\n[ecs]\n";
  out += "enabled = " + toTomlBool(c.ecs.enabled) + "\n";
  out += "zones = " + toTomlList(c.ecs.zones) + "\n";
  out += "servers = " + toTomlList(c.ecs.servers) + "\n";
  out += "ipv4_source = " + std::to_string(c.ecs.ipv4_source) + "\n";
  out += "ipv6_source = " + std::to_string(c.ecs.ipv6_source) + "\n";
  out += "special_clients = " +
         quote(c.ecs.special_clients ? c.ecs.special_clients->toString() : "none") + "\n";
  out += "trusted = " + toTomlList(c.ecs.trusted) + "\n";
  for (const auto& zone : c.forward) {
    out += "\n[[forward]]\n";
    out += "name = " + quote(zone.name) + "\n";
    out += "addresses = " + toTomlList(zone.addresses) + "\n";
    out += "validate = " + toTomlBool(zone.validate) + "\n";
    if (zone.tls) {
      out += "tls = true\n";
      out += "tls_name = " + quote(zone.tls_name) + "\n";
      out += "tls_ca = " + quote(zone.tls_ca) + "\n";
    }
  }
  return out;
}

std::optional<Duration> parseDuration(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    int64_t ms;
  };
  constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  const size_t digits = std::min(text.find_first_not_of("0123456789"), text.size());
  if (digits == 0) return std::nullopt;
  for (const Unit& unit : kUnits) {
    if (text.substr(digits) != unit.suffix) continue;
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc() || value > std::numeric_limits<int64_t>::max() / unit.ms) break;
    return Duration(value * unit.ms);
  }
  return std::nullopt;
}

std::string formatDuration(Duration duration) {
  const int64_t ms = duration.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::optional<uint64_t> parseSize(std::string_view text) {
  const size_t digits = std::min(text.find_first_not_of("0123456789"), text.size());
  if (digits == 0 || text.size() - digits > 1) return std::nullopt;
  unsigned shift = 0;
  if (digits < text.size()) {
    const size_t unit = std::string_view("KMGT").find(static_cast<char>(text.back() & ~0x20));
    if (unit == std::string_view::npos) return std::nullopt;
    shift = 10 * static_cast<unsigned>(unit + 1);
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc() || value > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return std::nullopt;
  }
  return value << shift;
}

}  // namespace shoal::config
