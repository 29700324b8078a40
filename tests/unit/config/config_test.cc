#include "config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace shoal::config {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

base::SocketAddress S(const char* text) { return base::SocketAddress::parse(text).value(); }
base::IpPrefix P(const char* text) { return base::IpPrefix::parse(text).value(); }
base::IpAddress A(const char* text) { return base::IpAddress::parse(text).value(); }

/// The error of loading `text` as "shoal.toml" (which must fail).
std::string errorOf(const std::string& text) {
  const LoadResult result = loadString(text, "shoal.toml");
  EXPECT_FALSE(result.ok()) << text;
  return result.error;
}

unsigned expectedWorkers() {
  return std::clamp(std::thread::hardware_concurrency(), 1u, 256u);
}

/// A scratch directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "shoal-config-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  /// Writes `content` to `name` in the directory; returns its path.
  std::string write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << content;
    return file;
  }

 private:
  std::string path_;
};

TEST(ConfigTest, DefaultsAreValid) {
  const Config c = defaults();
  EXPECT_EQ(c.source, "<built-in defaults>");
  ASSERT_EQ(c.server.listen.size(), 1u);
  EXPECT_EQ(c.server.listen[0], S("127.0.0.1:53"));
  EXPECT_TRUE(c.server.tls_listen.empty());
  EXPECT_EQ(c.server.tls_certificate, "");
  EXPECT_EQ(c.server.tls_key, "");
  EXPECT_EQ(c.server.workers, expectedWorkers());
  EXPECT_EQ(c.server.udp_payload_size, 1232);
  EXPECT_EQ(c.server.tcp_idle_timeout, 10s);
  EXPECT_EQ(c.server.tcp_max_clients, 4096u);
  EXPECT_EQ(c.cache.name, "/shoal-cache");
  EXPECT_EQ(c.cache.size, uint64_t{256} << 20);
  EXPECT_EQ(c.cache.stripes, 256u);
  EXPECT_EQ(c.cache.max_ttl, 86400u);
  EXPECT_EQ(c.cache.min_ttl, 0u);
  EXPECT_EQ(c.cache.max_negative_ttl, 3600u);
  EXPECT_EQ(c.cache.max_ecs_partitions, 16u);
  EXPECT_EQ(c.cache.serve_stale, 0s);
  EXPECT_EQ(c.resolver.root_hints, "");
  EXPECT_TRUE(c.resolver.trust_anchors.empty());
  EXPECT_TRUE(c.resolver.outgoing_addresses.empty());
  EXPECT_EQ(c.resolver.query_timeout, 3s);
  EXPECT_TRUE(c.resolver.qname_minimisation);
  EXPECT_TRUE(c.resolver.ipv4);
  EXPECT_TRUE(c.resolver.ipv6);
  EXPECT_EQ(c.resolver.deny_upstream, (std::vector<base::IpPrefix>{
                                          P("127.0.0.0/8"), P("::1/128"), P("0.0.0.0/8"),
                                          P("::/128")}));
  EXPECT_TRUE(c.resolver.nxdomain_cut);
  EXPECT_EQ(c.resolver.rto_min, 50ms);
  EXPECT_EQ(c.resolver.rto_max, 1s);
  EXPECT_EQ(c.acl.allow, (std::vector<base::IpPrefix>{P("127.0.0.0/8"), P("::1/128")}));
  EXPECT_EQ(c.control.socket, "/run/shoal/control.sock");
}

TEST(ConfigTest, EmptyFileMeansDefaults) {
  const LoadResult result = loadString("", "empty.toml");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(*result.config, defaults());
  EXPECT_EQ(result.config->source, "empty.toml");
  // A table with nothing in it changes nothing either.
  EXPECT_EQ(*loadString("[server]\n[cache]\n", "x").config, defaults());
}

TEST(ConfigTest, ShippedConfFileStatesTheDefaults) {
  const std::string path = std::string(SHOAL_SOURCE_DIR) + "/conf/shoal.toml";
  const LoadResult result = loadFile(path);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(*result.config, defaults());
  EXPECT_EQ(result.config->source, path);
  // Every key is in the file: none is left to the built-in defaults.
  std::ostringstream file;
  file << std::ifstream(path).rdbuf();
  const std::string text = file.str();
  std::istringstream printed(toToml(defaults()));
  std::string line;
  int keys = 0;
  while (std::getline(printed, line)) {
    const size_t equals = line.find(" = ");
    if (line.empty() || line[0] == '#' || equals == std::string::npos) continue;
    EXPECT_NE(text.find("\n" + line.substr(0, equals) + " = "), std::string::npos) << line;
    ++keys;
  }
  EXPECT_EQ(keys, 83);
}

TEST(ConfigTest, EveryKeyIsRead) {
  TempDir dir;
  const std::string hints = dir.write("root.hints", ". 3600000 NS a.root-servers.net.\n");
  const std::string key1 = dir.write("a.key", "");
  const std::string key2 = dir.write("b.key", "");
  const std::string cert = dir.write("cert.pem", "");
  const std::string tls_key = dir.write("key.pem", "");
  const std::string text = R"([server]
listen = ["192.0.2.53:5353", "[2001:db8::53]", "127.0.0.1"]
tls_listen = ["192.0.2.53", "[2001:db8::53]:8853"]
tls_certificate = ")" + cert + R"("
tls_key = ")" + tls_key + R"("
workers = 7
udp_payload_size = 1400
tcp_idle_timeout = "250ms"
tcp_max_clients = 100
tcp_max_per_client = 7
tcp_max_queued = "1M"
tcp_max_buffers = 33554432
tcp_collapse = true
tcp_collapse_queue = 100
tcp_collapsed_max = 1000
tcp_collapsed_timeout = "30s"

[cache]
name = "/other-cache"
size = "2G"
stripes = 1024
max_ttl = 3600
min_ttl = 60
max_negative_ttl = 900
max_ecs_partitions = 64
serve_stale = "2h"
prefault = false

[resolver]
root_hints = ")" + hints + R"("
trust_anchors = [")" + key1 + R"(", ")" + key2 + R"("]
outgoing_addresses = ["198.51.100.10", "2001:db8:1::10"]
query_timeout = "5s"
qname_minimisation = false
ipv4 = false
ipv6 = true
deny_upstream = []
nxdomain_cut = false
rto_min = "10ms"
rto_max = "2s"

[dnssec]
validation = false
sha1_signatures = false
nsec3_max_iterations = 100
negative_trust_anchors = ["Broken.Example", "other.test."]
bogus_ttl = "5m"

[acl]
allow = ["0.0.0.0/0", "::/0"]

[control]
socket = "/tmp/shoal.sock"

[local_root]
enabled = false
sources = ["192.0.2.1", "[2001:db8::1]:5300"]
timeout = "2s"
refresh_min = "10m"

[ecs]
enabled = true
zones = ["Geo.Com", "cdn.example.net."]
servers = ["192.0.2.53", "2001:db8:53::/48"]
ipv4_source = 20
ipv6_source = 48
special_clients = "203.0.113.0/24"
trusted = ["127.0.0.1", "::1"]
)";
  const LoadResult result = loadString(text, "every.toml");
  ASSERT_TRUE(result.ok()) << result.error;
  const Config& c = *result.config;
  EXPECT_EQ(c.server.listen, (std::vector<base::SocketAddress>{
                                 S("192.0.2.53:5353"), S("[2001:db8::53]:53"), S("127.0.0.1:53")}));
  EXPECT_EQ(c.server.tls_listen,
            (std::vector<base::SocketAddress>{S("192.0.2.53:853"), S("[2001:db8::53]:8853")}));
  EXPECT_EQ(c.server.tls_certificate, cert);
  EXPECT_EQ(c.server.tls_key, tls_key);
  EXPECT_EQ(c.server.workers, 7u);
  EXPECT_EQ(c.server.udp_payload_size, 1400);
  EXPECT_EQ(c.server.tcp_idle_timeout, 250ms);
  EXPECT_EQ(c.server.tcp_max_clients, 100u);
  EXPECT_EQ(c.server.tcp_max_per_client, 7u);
  EXPECT_EQ(c.server.tcp_max_queued, uint64_t{1} << 20);
  EXPECT_EQ(c.server.tcp_max_buffers, uint64_t{32} << 20);
  EXPECT_TRUE(c.server.tcp_collapse);
  EXPECT_EQ(c.server.tcp_collapse_queue, 100);
  EXPECT_EQ(c.server.tcp_collapsed_max, 1000u);
  EXPECT_EQ(c.server.tcp_collapsed_timeout, 30s);
  EXPECT_EQ(c.cache.name, "/other-cache");
  EXPECT_EQ(c.cache.size, uint64_t{2} << 30);
  EXPECT_EQ(c.cache.stripes, 1024u);
  EXPECT_EQ(c.cache.max_ttl, 3600u);
  EXPECT_EQ(c.cache.min_ttl, 60u);
  EXPECT_EQ(c.cache.max_negative_ttl, 900u);
  EXPECT_EQ(c.cache.max_ecs_partitions, 64u);
  EXPECT_EQ(c.cache.serve_stale, 2h);
  EXPECT_FALSE(c.cache.prefault);
  EXPECT_EQ(c.resolver.root_hints, hints);
  EXPECT_EQ(c.resolver.trust_anchors, (std::vector<std::string>{key1, key2}));
  EXPECT_EQ(c.resolver.outgoing_addresses,
            (std::vector<base::IpAddress>{A("198.51.100.10"), A("2001:db8:1::10")}));
  EXPECT_EQ(c.resolver.query_timeout, 5s);
  EXPECT_FALSE(c.resolver.qname_minimisation);
  EXPECT_FALSE(c.resolver.ipv4);
  EXPECT_TRUE(c.resolver.ipv6);
  EXPECT_TRUE(c.resolver.deny_upstream.empty());
  EXPECT_FALSE(c.resolver.nxdomain_cut);
  EXPECT_EQ(c.resolver.rto_min, 10ms);
  EXPECT_EQ(c.resolver.rto_max, 2s);
  EXPECT_FALSE(c.dnssec.validation);
  EXPECT_FALSE(c.dnssec.sha1_signatures);
  EXPECT_EQ(c.dnssec.nsec3_max_iterations, 100);
  EXPECT_EQ(c.dnssec.negative_trust_anchors,
            (std::vector<std::string>{"broken.example.", "other.test."}));
  EXPECT_EQ(c.dnssec.bogus_ttl, 5min);
  EXPECT_EQ(c.acl.allow, (std::vector<base::IpPrefix>{P("0.0.0.0/0"), P("::/0")}));
  EXPECT_EQ(c.control.socket, "/tmp/shoal.sock");
  EXPECT_FALSE(c.local_root.enabled);
  EXPECT_EQ(c.local_root.sources,
            (std::vector<base::SocketAddress>{S("192.0.2.1:53"), S("[2001:db8::1]:5300")}));
  EXPECT_EQ(c.local_root.timeout, 2s);
  EXPECT_EQ(c.local_root.refresh_min, 10min);
  EXPECT_TRUE(c.ecs.enabled);
  EXPECT_EQ(c.ecs.zones, (std::vector<std::string>{"geo.com.", "cdn.example.net."}));
  EXPECT_EQ(c.ecs.servers,
            (std::vector<base::IpPrefix>{P("192.0.2.53/32"), P("2001:db8:53::/48")}));
  EXPECT_EQ(c.ecs.ipv4_source, 20u);
  EXPECT_EQ(c.ecs.ipv6_source, 48u);
  EXPECT_EQ(c.ecs.special_clients, P("203.0.113.0/24"));
  EXPECT_EQ(c.ecs.trusted, (std::vector<base::IpPrefix>{P("127.0.0.1/32"), P("::1/128")}));

  // And it prints back to the same settings.
  const LoadResult again = loadString(toToml(c), "printed.toml");
  ASSERT_TRUE(again.ok()) << again.error << "\n" << toToml(c);
  EXPECT_EQ(*again.config, c);
}

TEST(ConfigTest, LocalRootDefaultsAndMistakes) {
  const Config d = defaults();
  EXPECT_TRUE(d.local_root.enabled);
  EXPECT_TRUE(d.local_root.sources.empty());  // the root hints' addresses
  EXPECT_EQ(d.local_root.timeout, 5s);
  EXPECT_EQ(d.local_root.refresh_min, 1min);
  EXPECT_EQ(errorOf("[local_root]\nenabled = \"yes\"\n"),
            "shoal.toml:2: local_root.enabled: expected a boolean (true or false), got a string "
            "\"yes\"");
  EXPECT_EQ(errorOf("[local_root]\n\nsources = [\"lax.xfr.dns.icann.org\"]\n"),
            "shoal.toml:3: local_root.sources: \"lax.xfr.dns.icann.org\" is not an address with an "
            "optional port such as \"192.0.2.1:53\" or \"[2001:db8::1]:53\"");
  EXPECT_EQ(errorOf("[local_root]\nsources = [\"192.0.2.1\", \"192.0.2.1:53\"]\n"),
            "shoal.toml:2: local_root.sources: 192.0.2.1:53 is listed twice");
  EXPECT_EQ(errorOf("[local_root]\nsources = [\"192.0.2.1:0\"]\n"),
            "shoal.toml:2: local_root.sources: \"192.0.2.1:0\": port 0 is not allowed");
  EXPECT_EQ(errorOf("[local_root]\ntimeout = \"50ms\"\n"),
            "shoal.toml:2: local_root.timeout: must be between 100ms and 1m (got 50ms)");
  EXPECT_EQ(errorOf("[local_root]\nrefresh_min = \"2d\"\n"),
            "shoal.toml:2: local_root.refresh_min: expected a duration: an integer and a unit (ms, "
            "s, m, h) such as \"250ms\" or \"3s\" (got \"2d\")");
  EXPECT_EQ(errorOf("[local_root]\nsource = []\n"),
            "shoal.toml:2: local_root.source: unknown key");
}

TEST(ConfigTest, EcsDefaultsAndMistakes) {
  const Config d = defaults();
  EXPECT_FALSE(d.ecs.enabled);
  EXPECT_TRUE(d.ecs.zones.empty());
  EXPECT_TRUE(d.ecs.servers.empty());
  EXPECT_EQ(d.ecs.ipv4_source, 24u);
  EXPECT_EQ(d.ecs.ipv6_source, 56u);
  EXPECT_FALSE(d.ecs.special_clients.has_value());
  EXPECT_TRUE(d.ecs.trusted.empty());
  const LoadResult zero = loadString("[ecs]\nspecial_clients = \"0.0.0.0/0\"\n", "x");
  ASSERT_TRUE(zero.ok()) << zero.error;
  EXPECT_EQ(zero.config->ecs.special_clients, P("0.0.0.0/0"));
  EXPECT_EQ(errorOf("[ecs]\nipv4_source = 33\n"),
            "shoal.toml:2: ecs.ipv4_source: must be between 1 and 32 (got 33)");
  EXPECT_EQ(errorOf("[ecs]\nipv6_source = 0\n"),
            "shoal.toml:2: ecs.ipv6_source: must be between 1 and 128 (got 0)");
  EXPECT_EQ(errorOf("[ecs]\nzones = [\"a..b\"]\n"),
            "shoal.toml:2: ecs.zones: \"a..b\" is not a domain name");
  EXPECT_EQ(errorOf("[ecs]\nspecial_clients = \"10.0.0.1\"\n"),
            "shoal.toml:2: ecs.special_clients: \"10.0.0.1\" is neither \"none\" nor an address "
            "prefix such as \"0.0.0.0/0\" or \"192.0.2.0/24\"");
  EXPECT_EQ(errorOf("[ecs]\ntrusted = [\"dnsdist\"]\n"),
            "shoal.toml:2: ecs.trusted: \"dnsdist\" is not an address prefix such as "
            "\"192.0.2.0/24\", \"2001:db8::/32\" or a single address");
}

TEST(ConfigTest, WorkersZeroMeansOnePerCore) {
  const LoadResult result = loadString("[server]\nworkers = 0\n", "shoal.toml");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.config->server.workers, expectedWorkers());
  EXPECT_GE(result.config->server.workers, 1u);
  EXPECT_EQ(loadString("[server]\nworkers = 256\n", "x").config->server.workers, 256u);
}

TEST(ConfigTest, OtherAcceptedForms) {
  // Dotted keys and inline tables are TOML too; sizes in plain bytes or any case.
  const LoadResult result = loadString(
      "server.workers = 3\ncache = { size = 16777216, stripes = 1 }\n", "shoal.toml");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.config->server.workers, 3u);
  EXPECT_EQ(result.config->cache.size, uint64_t{16} << 20);
  EXPECT_EQ(result.config->cache.stripes, 1u);
  EXPECT_EQ(loadString("[cache]\nsize = \"64m\"\n", "x").config->cache.size, uint64_t{64} << 20);
  EXPECT_EQ(loadString("[cache]\nsize = \"1048576\"\nstripes = 16\n", "x").config->cache.size,
            uint64_t{1} << 20);
  // ipv6 alone; outgoing addresses need only the enabled family.
  const LoadResult v6 = loadString(
      "[resolver]\nipv4 = false\noutgoing_addresses = [\"2001:db8::1\"]\n", "x");
  ASSERT_TRUE(v6.ok()) << v6.error;
  EXPECT_FALSE(v6.config->resolver.ipv4);
}

TEST(ConfigTest, RelativeFileNamesFollowTheConfigFile) {
  TempDir dir;
  const std::string hints = dir.write("root.hints", "");
  fs::create_directory(dir.path() + "/anchors");
  const std::string anchor = dir.write("anchors/root.key", "");
  const std::string cert = dir.write("cert.pem", "");
  const std::string key = dir.write("anchors/key.pem", "");
  const std::string path = dir.write(
      "shoal.toml",
      "[server]\ntls_listen = [\"127.0.0.1\"]\ntls_certificate = \"cert.pem\"\n"
      "tls_key = \"anchors/key.pem\"\n"
      "[resolver]\nroot_hints = \"root.hints\"\ntrust_anchors = [\"./anchors/../anchors/root.key\"]\n"
      "[control]\nsocket = \"run/control.sock\"\n");
  const LoadResult result = loadFile(path);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.config->server.tls_certificate, cert);
  EXPECT_EQ(result.config->server.tls_key, key);
  EXPECT_EQ(result.config->resolver.root_hints, hints);
  EXPECT_EQ(result.config->resolver.trust_anchors, std::vector<std::string>{anchor});
  EXPECT_EQ(result.config->control.socket, dir.path() + "/run/control.sock");
}

TEST(ConfigTest, ErrorsNameFileLineAndKey) {
  // The example of the header, line for line.
  EXPECT_EQ(errorOf("# shoal\n\n[server]\nworkers = 2\n\n\n\n[cache]\nname = \"/c\"\n\n\n"
                    "stripes = 3\n"),
            "shoal.toml:12: cache.stripes: must be a power of two between 1 and 65536 (got 3)");
  EXPECT_EQ(errorOf("[server]\nworkers = 1000\n"),
            "shoal.toml:2: server.workers: must be between 0 and 256 (got 1000)");
  EXPECT_EQ(errorOf("[server]\nworkers = -1\n"),
            "shoal.toml:2: server.workers: must be between 0 and 256 (got -1)");
  EXPECT_EQ(errorOf("[server]\nudp_payload_size = 511\n"),
            "shoal.toml:2: server.udp_payload_size: must be between 512 and 4096 (got 511)");
  EXPECT_EQ(errorOf("[server]\ntcp_max_queued = \"1K\"\n"),
            "shoal.toml:2: server.tcp_max_queued: must be between 16K and 64M (got 1K)");
  EXPECT_EQ(errorOf("[server]\ntcp_max_buffers = \"1T\"\n"),
            "shoal.toml:2: server.tcp_max_buffers: must be between 1M and 64G (got 1T)");
  EXPECT_EQ(errorOf("[server]\ntcp_max_per_client = 0\n"),
            "shoal.toml:2: server.tcp_max_per_client: must be between 1 and 1000000 (got 0)");
  EXPECT_EQ(errorOf("[metrics]\ntop_servers = 0\n"),
            "shoal.toml:2: metrics.top_servers: must be between 1 and 1000 (got 0)");
  EXPECT_NE(errorOf("[metrics]\nlisten = [\"localhost:9153\"]\n").find(
                "shoal.toml:2: metrics.listen: \"localhost:9153\" is not an address"),
            std::string::npos);
  EXPECT_EQ(errorOf("[server]\ntcp_collapse = 1\n"),
            "shoal.toml:2: server.tcp_collapse: expected a boolean (true or false), got an integer 1");
  EXPECT_EQ(errorOf("[server]\ntcp_collapse_queue = 65500\n"),
            "shoal.toml:2: server.tcp_collapse_queue: must be between 0 and 65279 (got 65500)");
  EXPECT_EQ(errorOf("[server]\ntcp_collapsed_max = 0\n"),
            "shoal.toml:2: server.tcp_collapsed_max: must be between 1 and 16000000 (got 0)");
  EXPECT_EQ(errorOf("[server]\ntcp_collapsed_timeout = \"100ms\"\n"),
            "shoal.toml:2: server.tcp_collapsed_timeout: must be between 1s and 24h (got 100ms)");
  EXPECT_EQ(errorOf("[cache]\nmax_ecs_partitions = 0\n"),
            "shoal.toml:2: cache.max_ecs_partitions: must be between 1 and 1024 (got 0)");
  EXPECT_EQ(errorOf("[cache]\nstripes = 131072\n"),
            "shoal.toml:2: cache.stripes: must be a power of two between 1 and 65536 (got 131072)");
  EXPECT_EQ(errorOf("[cache]\nstripes = 0\n"),
            "shoal.toml:2: cache.stripes: must be a power of two between 1 and 65536 (got 0)");
}

TEST(ConfigTest, ListenErrors) {
  EXPECT_EQ(errorOf("[server]\nlisten = [\"127.0.0.1:99999\"]\n"),
            "shoal.toml:2: server.listen: \"127.0.0.1:99999\" is not an address with an optional "
            "port such as \"192.0.2.1:53\" or \"[2001:db8::1]:53\"");
  EXPECT_EQ(errorOf("[server]\nlisten = [\"localhost:53\"]\n"),
            "shoal.toml:2: server.listen: \"localhost:53\" is not an address with an optional "
            "port such as \"192.0.2.1:53\" or \"[2001:db8::1]:53\"");
  // The element's own line in a multi-line array.
  EXPECT_EQ(errorOf("[server]\nlisten = [\n  \"127.0.0.1:53\",\n  \"[::1]:0\",\n]\n"),
            "shoal.toml:4: server.listen: \"[::1]:0\": port 0 is not allowed");
  EXPECT_EQ(errorOf("[server]\nlisten = [\"127.0.0.1\", \"127.0.0.1:53\"]\n"),
            "shoal.toml:2: server.listen: 127.0.0.1:53 is listed twice");
  EXPECT_EQ(errorOf("[server]\nlisten = []\n"),
            "shoal.toml:2: server.listen: must list at least one address");
  EXPECT_EQ(errorOf("[server]\nlisten = \"127.0.0.1:53\"\n"),
            "shoal.toml:2: server.listen: expected an array of strings, got a string "
            "\"127.0.0.1:53\"");
  EXPECT_EQ(errorOf("[server]\nlisten = [\"127.0.0.1:53\", 53]\n"),
            "shoal.toml:2: server.listen: expected an array of strings, got an integer 53 in it");
}

TEST(ConfigTest, TlsNeedsACertificateAKeyAndAPortOfItsOwn) {
  TempDir dir;
  const std::string cert = dir.write("cert.pem", "");
  const std::string key = dir.write("key.pem", "");
  const std::string files = "tls_certificate = \"" + cert + "\"\ntls_key = \"" + key + "\"\n";
  // Only readable here: whether they parse and match is loadAll's check.
  const LoadResult ok =
      loadString("[server]\ntls_listen = [\"127.0.0.1\", \"[::1]:8853\"]\n" + files, "x");
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.config->server.tls_listen,
            (std::vector<base::SocketAddress>{S("127.0.0.1:853"), S("[::1]:8853")}));
  // The files alone serve nothing, and are no mistake.
  EXPECT_TRUE(loadString("[server]\n" + files, "x").ok());

  // tls_listen without its files: blamed on the key the file sets.
  EXPECT_EQ(errorOf("[server]\ntls_listen = [\"127.0.0.1\"]\ntls_key = \"" + key + "\"\n"),
            "shoal.toml:2: server.tls_listen: needs server.tls_certificate (a PEM file) to "
            "serve TLS");
  EXPECT_EQ(errorOf("[server]\ntls_listen = [\"127.0.0.1\"]\ntls_certificate = \"\"\n"
                    "tls_key = \"" + key + "\"\n"),
            "shoal.toml:3: server.tls_certificate: must name a PEM file when server.tls_listen "
            "is not empty");
  EXPECT_EQ(errorOf("[server]\ntls_listen = [\"127.0.0.1\"]\ntls_certificate = \"" + cert +
                    "\"\n"),
            "shoal.toml:2: server.tls_listen: needs server.tls_key (a PEM file) to serve TLS");

  const std::string missing = dir.path() + "/missing.pem";
  EXPECT_EQ(errorOf("[server]\ntls_certificate = \"" + missing + "\"\n"),
            "shoal.toml:2: server.tls_certificate: cannot read \"" + missing +
                "\": No such file or directory");
  EXPECT_EQ(errorOf("[server]\ntls_key = \"" + dir.path() + "\"\n"),
            "shoal.toml:2: server.tls_key: cannot read \"" + dir.path() + "\": Is a directory");
  EXPECT_EQ(errorOf("[server]\ntls_key = 5\n"),
            "shoal.toml:2: server.tls_key: expected a string, got an integer 5");

  EXPECT_EQ(errorOf("[server]\ntls_listen = [\"dns.example\"]\n"),
            "shoal.toml:2: server.tls_listen: \"dns.example\" is not an address with an optional "
            "port such as \"192.0.2.1:853\" or \"[2001:db8::1]:853\"");
  EXPECT_EQ(errorOf("[server]\ntls_listen = [\"127.0.0.1:0\"]\n" + files),
            "shoal.toml:2: server.tls_listen: \"127.0.0.1:0\": port 0 is not allowed");
  EXPECT_EQ(errorOf("[server]\ntls_listen = [\"127.0.0.1\", \"127.0.0.1:853\"]\n" + files),
            "shoal.toml:2: server.tls_listen: 127.0.0.1:853 is listed twice");
  EXPECT_EQ(errorOf("[server]\ntls_listen = \"127.0.0.1\"\n"),
            "shoal.toml:2: server.tls_listen: expected an array of strings, got a string "
            "\"127.0.0.1\"");

  // A port serves plain DNS or TLS, never both (SO_REUSEPORT would split
  // the connections between them), wildcards included.
  EXPECT_EQ(errorOf("[server]\nlisten = [\"127.0.0.1:853\"]\ntls_listen = [\"127.0.0.1\"]\n" +
                    files),
            "shoal.toml:3: server.tls_listen: 127.0.0.1:853 and 127.0.0.1:853 (server.listen) "
            "share a port: a port serves one of DNS, DNS over TLS and DNS over HTTPS");
  EXPECT_EQ(errorOf("[server]\ntls_listen = [\"127.0.0.1:53\"]\n" + files),
            "shoal.toml:2: server.tls_listen: 127.0.0.1:53 and 127.0.0.1:53 (server.listen) "
            "share a port: a port serves one of DNS, DNS over TLS and DNS over HTTPS");
  EXPECT_EQ(errorOf("[server]\nlisten = [\"[::]:853\", \"0.0.0.0:853\"]\n"
                    "tls_listen = [\"192.0.2.1\"]\n" + files),
            "shoal.toml:3: server.tls_listen: 192.0.2.1:853 and 0.0.0.0:853 (server.listen) "
            "share a port: a port serves one of DNS, DNS over TLS and DNS over HTTPS");
  EXPECT_NE(errorOf("[server]\nlisten = [\"[::1]:853\"]\ntls_listen = [\"[::]\"]\n" + files)
                .find("share a port"),
            std::string::npos);
  // DNS over HTTPS: port 443 by default, its own port too, the same files.
  const LoadResult https =
      loadString("[server]\nhttps_listen = [\"127.0.0.1\", \"[::1]:8443\"]\n" + files, "x");
  ASSERT_TRUE(https.ok()) << https.error;
  EXPECT_EQ(https.config->server.https_listen,
            (std::vector<base::SocketAddress>{S("127.0.0.1:443"), S("[::1]:8443")}));
  EXPECT_EQ(errorOf("[server]\nhttps_listen = [\"127.0.0.1\"]\n"),
            "shoal.toml:2: server.https_listen: needs server.tls_certificate (a PEM file) to "
            "serve TLS");
  EXPECT_EQ(errorOf("[server]\ntls_listen = [\"127.0.0.1:8443\"]\n"
                    "https_listen = [\"127.0.0.1:8443\"]\n" + files),
            "shoal.toml:3: server.https_listen: 127.0.0.1:8443 and 127.0.0.1:8443 "
            "(server.tls_listen) share a port: a port serves one of DNS, DNS over TLS and DNS "
            "over HTTPS");
  // Another address, or another family's wildcard, is another socket.
  EXPECT_TRUE(loadString("[server]\nlisten = [\"127.0.0.1:853\", \"[::]:853\"]\n"
                         "tls_listen = [\"127.0.0.2\"]\n" + files, "x")
                  .ok());
}

TEST(ConfigTest, SizeErrors) {
  EXPECT_EQ(errorOf("[cache]\nsize = \"12Q\"\n"),
            "shoal.toml:2: cache.size: expected a size: a number of bytes, optionally with a K, "
            "M, G or T suffix (powers of 1024), such as \"256M\" (got \"12Q\")");
  for (const char* bad : {"\"\"", "\"M\"", "\"1.5G\"", "\"1 G\"", "\"1GB\"", "\"-1M\"", "-5",
                          "\"99999999999999999999\"", "\"20000000T\""}) {
    EXPECT_NE(errorOf(std::string("[cache]\nsize = ") + bad + "\n")
                  .find("shoal.toml:2: cache.size: expected a size"),
              std::string::npos)
        << bad;
  }
  EXPECT_EQ(errorOf("[cache]\nsize = \"512K\"\n"),
            "shoal.toml:2: cache.size: must be at least 1M (got 512K)");
  EXPECT_EQ(errorOf("[cache]\nsize = 1000\n"),
            "shoal.toml:2: cache.size: must be at least 1M (got 1000)");
  EXPECT_EQ(errorOf("[cache]\nsize = 1.5\n"),
            "shoal.toml:2: cache.size: expected a size: an integer number of bytes or a string "
            "such as \"256M\", got a floating-point number 1.5");
  // Too small for the stripes: blamed on the key the file sets.
  EXPECT_EQ(errorOf("[cache]\nsize = \"1M\"\n"),
            "shoal.toml:2: cache.size: must be at least 16M for 256 stripes (64K per stripe; "
            "got 1M)");
  EXPECT_EQ(errorOf("[cache]\nstripes = 8192\n"),
            "shoal.toml:2: cache.stripes: 8192 stripes need a cache.size of at least 512M (64K "
            "per stripe; cache.size is 256M)");
}

TEST(ConfigTest, TtlErrors) {
  EXPECT_EQ(errorOf("[cache]\nmax_ttl = 100\nmin_ttl = 200\n"),
            "shoal.toml:3: cache.min_ttl: must not exceed cache.max_ttl = 100 (got 200)");
  EXPECT_EQ(errorOf("[cache]\nmin_ttl = 200\nmax_ttl = 100\n"),
            "shoal.toml:2: cache.min_ttl: must not exceed cache.max_ttl = 100 (got 200)");
  EXPECT_EQ(errorOf("[cache]\nmax_ttl = 0\nmin_ttl = 1\n"),
            "shoal.toml:3: cache.min_ttl: must not exceed cache.max_ttl = 0 (got 1)");
  EXPECT_EQ(errorOf("[cache]\nmin_ttl = 90000\n"),
            "shoal.toml:2: cache.min_ttl: must not exceed cache.max_ttl = 86400 (got 90000)");
  EXPECT_EQ(errorOf("[cache]\nmax_negative_ttl = 2147483648\n"),
            "shoal.toml:2: cache.max_negative_ttl: must be between 0 and 2147483647 (got "
            "2147483648)");
}

TEST(ConfigTest, DurationErrors) {
  EXPECT_EQ(errorOf("[resolver]\nquery_timeout = \"3 s\"\n"),
            "shoal.toml:2: resolver.query_timeout: expected a duration: an integer and a unit "
            "(ms, s, m, h) such as \"250ms\" or \"3s\" (got \"3 s\")");
  for (const char* bad : {"\"3\"", "\"\"", "\"s\"", "\"1.5s\"", "\"-1s\"", "\"3S\"", "\"3sec\"",
                          "\"3d\"", "\"1h30m\"", "\" 3s\"", "\"99999999999999999999ms\""}) {
    EXPECT_NE(errorOf(std::string("[resolver]\nquery_timeout = ") + bad + "\n")
                  .find("shoal.toml:2: resolver.query_timeout: expected a duration: "),
              std::string::npos)
        << bad;
  }
  EXPECT_EQ(errorOf("[resolver]\nquery_timeout = 3\n"),
            "shoal.toml:2: resolver.query_timeout: expected a duration string such as \"3s\", "
            "got an integer 3");
  EXPECT_EQ(errorOf("[resolver]\nquery_timeout = \"2m\"\n"),
            "shoal.toml:2: resolver.query_timeout: must be between 100ms and 1m (got 2m)");
  EXPECT_EQ(errorOf("[server]\ntcp_idle_timeout = \"0s\"\n"),
            "shoal.toml:2: server.tcp_idle_timeout: must be between 100ms and 1h (got 0s)");
  EXPECT_EQ(errorOf("[resolver]\nrto_min = \"2s\"\n"),
            "shoal.toml:2: resolver.rto_min: must not exceed resolver.rto_max = 1s (got 2s)");
  EXPECT_EQ(errorOf("[resolver]\nrto_max = \"5s\"\n"),
            "shoal.toml:2: resolver.rto_max: must not exceed resolver.query_timeout = 3s (got 5s)");
  EXPECT_EQ(errorOf("[resolver]\nquery_timeout = \"500ms\"\n"),
            "shoal.toml:2: resolver.query_timeout: must be at least resolver.rto_max = 1s (got "
            "500ms)");
  EXPECT_EQ(errorOf("[resolver]\nresolution_timeout = \"2s\"\n"),
            "shoal.toml:2: resolver.resolution_timeout: must be at least resolver.query_timeout = "
            "3s (got 2s)");
  EXPECT_EQ(errorOf("[resolver]\nquery_timeout = \"20s\"\n"),
            "shoal.toml:2: resolver.query_timeout: must not exceed resolver.resolution_timeout = "
            "10s (got 20s)");
}

TEST(ConfigTest, ForwardZones) {
  auto loaded = loadString(
      "[[forward]]\nname = \".\"\naddresses = [\"192.0.2.53\", \"2001:db8::53\"]\n\n"
      "[[forward]]\nname = \"Corp.Example\"\naddresses = [\"198.51.100.1:5353\"]\n"
      "validate = false\n",
      "shoal.toml");
  ASSERT_TRUE(loaded.config) << loaded.error;
  const auto& forward = loaded.config->forward;
  ASSERT_EQ(forward.size(), 2u);
  EXPECT_EQ(forward[0].name, ".");
  EXPECT_EQ(forward[0].addresses.size(), 2u);
  EXPECT_TRUE(forward[0].validate);
  EXPECT_EQ(forward[1].name, "corp.example.");
  EXPECT_FALSE(forward[1].validate);
  EXPECT_EQ(forward[1].addresses.front().port, 5353);
  // Printed back, it reads the same.
  auto again = loadString(toToml(*loaded.config), "shoal.toml");
  ASSERT_TRUE(again.config) << again.error;
  EXPECT_TRUE(*again.config == *loaded.config);

  EXPECT_EQ(errorOf("[[forward]]\naddresses = [\"192.0.2.53\"]\n"),
            "shoal.toml:1: forward: needs a name: the zone forwarded (\".\" for everything)");
  EXPECT_EQ(errorOf("[[forward]]\nname = \"corp.\"\n"),
            "shoal.toml:1: forward: needs addresses: the upstream resolvers of corp.");
  EXPECT_EQ(errorOf("[[forward]]\nname = \"corp.\"\naddresses = []\n"),
            "shoal.toml:3: forward.addresses: must list at least one upstream resolver");
  EXPECT_EQ(errorOf("[[forward]]\nname = \"corp.\"\naddresses = [\"192.0.2.53:0\"]\n"),
            "shoal.toml:3: forward.addresses: \"192.0.2.53:0\": port 0 is not allowed");
  EXPECT_EQ(errorOf("[[forward]]\nname = \"corp.\"\naddresses = [\"192.0.2.53\"]\ntls = true\n"),
            "shoal.toml:1: forward: tls = true needs tls_name: the name the upstreams' "
            "certificate is valid for");
  EXPECT_EQ(errorOf("[[forward]]\nname = \"corp.\"\naddresses = [\"192.0.2.53\"]\n"
                    "tls_name = \"dns.corp\"\n"),
            "shoal.toml:4: forward: tls_name and tls_ca need tls = true");
  EXPECT_EQ(errorOf("[[forward]]\nname = \"corp.\"\naddresses = [\"192.0.2.53\"]\ntls = true\n"
                    "tls_name = \"dns.corp\"\ntls_ca = \"/nonexistent/ca.pem\"\n"),
            "shoal.toml:6: forward.tls_ca: cannot read /nonexistent/ca.pem");
  EXPECT_EQ(errorOf("[[forward]]\nname = \"corp.\"\naddresses = [\"192.0.2.53\"]\ntlz = 1\n"),
            "shoal.toml:4: forward.tlz: unknown key (the keys of [[forward]] are name, addresses, "
            "validate, tls, tls_name and tls_ca)");
  // Over TLS the default port is 853.
  auto tls = loadString("[[forward]]\nname = \".\"\naddresses = [\"192.0.2.53\"]\ntls = true\n"
                        "tls_name = \"dns.example.net\"\n",
                        "shoal.toml");
  ASSERT_TRUE(tls.config) << tls.error;
  EXPECT_EQ(tls.config->forward[0].addresses[0].port, 853);
  EXPECT_EQ(tls.config->forward[0].tls_name, "dns.example.net");
  auto tls_again = loadString(toToml(*tls.config), "shoal.toml");
  ASSERT_TRUE(tls_again.config) << tls_again.error;
  EXPECT_TRUE(*tls_again.config == *tls.config);
  EXPECT_EQ(errorOf("[[forward]]\nname = \"corp.\"\naddresses = [\"192.0.2.53\"]\n"
                    "[[forward]]\nname = \"CORP\"\naddresses = [\"192.0.2.54\"]\n"),
            "shoal.toml:4: forward: the zone corp. is forwarded twice");
  EXPECT_EQ(errorOf("[forward]\nname = \".\"\n"),
            "shoal.toml:1: forward: expected tables written [[forward]], got a table");
}

TEST(ConfigTest, UnknownTablesAndKeys) {
  EXPECT_EQ(errorOf("[server]\nlistn = [\"127.0.0.1:53\"]\n"),
            "shoal.toml:2: server.listn: unknown key");
  EXPECT_EQ(errorOf("[server]\nworkers = 1\n\n[serverx]\nworkers = 2\n"),
            "shoal.toml:4: serverx: unknown table (the tables are server, cache, resolver, dnssec, acl, "
            "limits, control, log, metrics, dnstap, local_root, ecs and [[forward]])");
  EXPECT_EQ(errorOf("[server.tls]\nport = 853\n"), "shoal.toml:1: server.tls: unknown table");
  EXPECT_EQ(errorOf("[dnssec]\nnegative_trust_anchors = [\"a..b\"]\n"),
            "shoal.toml:2: dnssec.negative_trust_anchors: \"a..b\" is not a domain name");
  EXPECT_EQ(errorOf("[dnssec]\nbogus_ttl = \"0s\"\n"),
            "shoal.toml:2: dnssec.bogus_ttl: must be between 1s and 1h (got 0s)");
  EXPECT_EQ(errorOf("workers = 4\n"),
            "shoal.toml:1: workers: unknown key (keys belong in a table such as [server])");
  EXPECT_EQ(errorOf("server = 4\n"), "shoal.toml:1: server: expected a table, got an integer 4");
  EXPECT_EQ(errorOf("[[server]]\nworkers = 4\n"),
            "shoal.toml:1: server: expected a table, got an array");
}

TEST(ConfigTest, WrongTypesNameTheExpectedType) {
  EXPECT_EQ(errorOf("[server]\nworkers = \"4\"\n"),
            "shoal.toml:2: server.workers: expected an integer, got a string \"4\"");
  EXPECT_EQ(errorOf("[resolver]\nipv6 = \"yes\"\n"),
            "shoal.toml:2: resolver.ipv6: expected a boolean (true or false), got a string "
            "\"yes\"");
  EXPECT_EQ(errorOf("[resolver]\nipv6 = 1\n"),
            "shoal.toml:2: resolver.ipv6: expected a boolean (true or false), got an integer 1");
  EXPECT_EQ(errorOf("[cache]\nname = 5\n"),
            "shoal.toml:2: cache.name: expected a string, got an integer 5");
  EXPECT_EQ(errorOf("[acl]\nallow = \"127.0.0.1\"\n"),
            "shoal.toml:2: acl.allow: expected an array of strings, got a string \"127.0.0.1\"");
  EXPECT_EQ(errorOf("[control]\nsocket = { path = \"/x\" }\n"),
            "shoal.toml:2: control.socket: expected a string, got a table");
}

TEST(ConfigTest, TheFirstMistakeInTheFileIsReported) {
  EXPECT_EQ(errorOf("[server]\nworkers = 1000\nlistn = 1\n"),
            "shoal.toml:2: server.workers: must be between 0 and 256 (got 1000)");
  EXPECT_EQ(errorOf("[server]\nlistn = 1\nworkers = 1000\n"),
            "shoal.toml:2: server.listn: unknown key");
  EXPECT_EQ(errorOf("[cache]\nstripes = 3\n[server]\nworkers = 1000\n"),
            "shoal.toml:2: cache.stripes: must be a power of two between 1 and 65536 (got 3)");
}

TEST(ConfigTest, SyntaxErrorsGiveToml11sLocation) {
  const std::string error = errorOf("[server]\nworkers = 4\nlisten = = 3\n");
  EXPECT_EQ(error.rfind("shoal.toml:3: TOML syntax error: ", 0), 0u) << error;
  EXPECT_NE(error.find("listen = = 3"), std::string::npos) << error;
  const std::string twice = errorOf("[server]\nworkers = 4\nworkers = 5\n");
  EXPECT_EQ(twice.rfind("shoal.toml:3: TOML syntax error: ", 0), 0u) << twice;
  EXPECT_NE(twice.find("already exists"), std::string::npos) << twice;
  EXPECT_EQ(errorOf("[server\n").rfind("shoal.toml:1: TOML syntax error: ", 0), 0u);
  // toml11 takes an integer too large for 64 bits as the largest one.
  EXPECT_EQ(errorOf("[server]\nworkers = 99_999_999_999_999_999_999\n"),
            "shoal.toml:2: server.workers: integer out of range (got 99999999999999999999)");
  EXPECT_EQ(errorOf("[cache]\nsize = 99999999999999999999\n"),
            "shoal.toml:2: cache.size: integer out of range (got 99999999999999999999)");
}

// Found by config_fuzzer: toml11 3.7 read out of bounds on a literal
// string that is not UTF-8 (a heap-buffer-overflow under ASan). The input
// is tests/fuzz/corpus/config/regression-invalid-utf8-literal-key.
TEST(ConfigTest, TextThatIsNotUtf8IsASyntaxError) {
  const std::string found =
      "# shoal.toml: comments in every place TOMcase_randomisationL allows them\n"
      "[server]            # the table\n"
      "listen = [          # an array over lines\n"
      "  \"127.0.0.1:53\",   # IPv4\n"
      "  \"[::1]:53\",       # IPv6\n"
      "]\n"
      "workers = 4 # inline\n"
      "'udp\xdf" "payload_size' = 1_232case_randomisation\n"
      "\n"
      "[cache] # sizes\n"
      "size = \"64m\"\n"
      "\"max_ttl\" = 86_400\n"
      "serve_stale = \"1h\"\n"
      "[log]\n"
      "level = 'warning'\n"
      "format = \"\"\"text\"\"\"\n";
  const std::string kNotUtf8 = ": TOML syntax error: not valid UTF-8 (a TOML file is UTF-8)";
  EXPECT_EQ(errorOf(found), "shoal.toml:8" + kNotUtf8);
  // Literal strings as values, one line and several.
  EXPECT_EQ(errorOf("[log]\nlevel = 'debug\xff'\n"), "shoal.toml:2" + kNotUtf8);
  EXPECT_EQ(errorOf("[dnstap]\nidentity = '''a\n\xc3\x28'''\n"), "shoal.toml:3" + kNotUtf8);
  // An overlong form, a surrogate, a code point above U+10FFFF, a sequence
  // cut by the end of the file.
  for (const char* bad : {"# \xc0\xaf\n", "# \xed\xa0\x80\n", "# \xf4\x90\x80\x80\n", "# \xe2\x82"}) {
    EXPECT_EQ(errorOf(bad), "shoal.toml:1" + kNotUtf8);
  }
  // Well-formed UTF-8 (2, 3 and 4 octets) is fine where TOML takes it.
  EXPECT_TRUE(loadString("# r\xc3\xa9solveur \xe2\x82\xac \xf0\x9d\x84\x9e\n[log]\nlevel = 'info'\n",
                         "shoal.toml")
                  .ok());
}

TEST(ConfigTest, FileErrors) {
  EXPECT_EQ(loadFile("/nonexistent/shoal.toml").error,
            "/nonexistent/shoal.toml: cannot open: No such file or directory");
  TempDir dir;
  EXPECT_EQ(loadFile(dir.path()).error, dir.path() + ": cannot read: Is a directory");

  const std::string missing = dir.path() + "/missing.hints";
  EXPECT_EQ(errorOf("[resolver]\nroot_hints = \"" + missing + "\"\n"),
            "shoal.toml:2: resolver.root_hints: cannot read \"" + missing +
                "\": No such file or directory");
  EXPECT_EQ(errorOf("[resolver]\nroot_hints = \"" + dir.path() + "\"\n"),
            "shoal.toml:2: resolver.root_hints: cannot read \"" + dir.path() +
                "\": Is a directory");
  const std::string good = dir.write("good.key", "");
  EXPECT_EQ(errorOf("[resolver]\ntrust_anchors = [\n  \"" + good + "\",\n  \"" + missing +
                    "\",\n]\n"),
            "shoal.toml:4: resolver.trust_anchors: cannot read \"" + missing +
                "\": No such file or directory");
  EXPECT_EQ(errorOf("[resolver]\ntrust_anchors = [\"\"]\n"),
            "shoal.toml:2: resolver.trust_anchors: must not be an empty file name");
}

TEST(ConfigTest, UnreadableRootHintsFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  TempDir dir;
  const std::string hints = dir.write("root.hints", "");
  ASSERT_EQ(::chmod(hints.c_str(), 0), 0);
  EXPECT_EQ(errorOf("[resolver]\nroot_hints = \"" + hints + "\"\n"),
            "shoal.toml:2: resolver.root_hints: cannot read \"" + hints +
                "\": Permission denied");
}

TEST(ConfigTest, AddressAndPrefixErrors) {
  EXPECT_EQ(errorOf("[acl]\nallow = [\"10.0.0.0/33\"]\n"),
            "shoal.toml:2: acl.allow: \"10.0.0.0/33\" is not an address prefix such as "
            "\"192.0.2.0/24\", \"2001:db8::/32\" or a single address");
  EXPECT_EQ(errorOf("[resolver]\ndeny_upstream = [\n  \"127.0.0.0/8\",\n  \"fe80::/10%eth0\"]\n"),
            "shoal.toml:4: resolver.deny_upstream: \"fe80::/10%eth0\" is not an address prefix "
            "such as \"192.0.2.0/24\", \"2001:db8::/32\" or a single address");
  EXPECT_EQ(errorOf("[acl]\nallow = []\n"),
            "shoal.toml:2: acl.allow: must list at least one prefix (\"0.0.0.0/0\" and \"::/0\" "
            "allow everyone)");
  EXPECT_EQ(errorOf("[resolver]\noutgoing_addresses = [\"192.0.2.1:53\"]\n"),
            "shoal.toml:2: resolver.outgoing_addresses: \"192.0.2.1:53\" is not an IP address");
  EXPECT_EQ(errorOf("[resolver]\noutgoing_addresses = [\"192.0.2.1\"]\n"),
            "shoal.toml:2: resolver.outgoing_addresses: has no IPv6 address but resolver.ipv6 "
            "is true: add one, or set ipv6 = false");
  EXPECT_EQ(errorOf("[resolver]\nipv4 = false\nipv6 = false\n"),
            "shoal.toml:2: resolver.ipv4: resolver.ipv4 and resolver.ipv6 cannot both be false");
}

TEST(ConfigTest, NameAndPathErrors) {
  for (const char* bad : {"shoal", "/", "/a/b", "", "//x"}) {
    EXPECT_EQ(errorOf(std::string("[cache]\nname = \"") + bad + "\"\n"),
              std::string("shoal.toml:2: cache.name: must start with \"/\" and contain no other "
                          "\"/\", such as \"/shoal-cache\" (got \"") +
                  bad + "\")");
  }
  const std::string long_path = "/run/" + std::string(110, 'x');
  EXPECT_EQ(errorOf("[control]\nsocket = \"" + long_path + "\"\n"),
            "shoal.toml:2: control.socket: must be at most 103 bytes long, the limit of a Unix "
            "socket path (got \"" + long_path + "\")");
  EXPECT_EQ(errorOf("[control]\nsocket = \"\"\n"),
            "shoal.toml:2: control.socket: must not be an empty file name");
}

TEST(ConfigTest, HangTimeoutIsOffOrAtLeastTwoSeconds) {
  EXPECT_EQ(defaults().server.hang_timeout, std::chrono::seconds(10));
  const auto off = loadString("[server]\nhang_timeout = \"0s\"\n", "shoal.toml");
  ASSERT_TRUE(off.ok()) << off.error;
  EXPECT_EQ(off.config->server.hang_timeout.count(), 0);
  EXPECT_EQ(errorOf("[server]\nhang_timeout = \"1s\"\n"),
            "shoal.toml:2: server.hang_timeout: must be 0s (off) or at least 2s (a worker "
            "reports every second), got 1s");
}

TEST(ConfigTest, ControlGroupMustExist) {
  const auto loaded = loadString("[control]\ngroup = \"root\"\n", "shoal.toml");
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  EXPECT_EQ(loaded.config->control.group, "root");
  EXPECT_EQ(errorOf("[control]\ngroup = \"no-such-group-here\"\n"),
            "shoal.toml:2: control.group: no such group \"no-such-group-here\"");
  EXPECT_EQ(errorOf("[control]\ngroup = 5\n"),
            "shoal.toml:2: control.group: expected a string, got an integer 5");
}

TEST(ConfigTest, ToTomlRoundTrips) {
  const Config d = defaults();
  const std::string printed = toToml(d);
  const LoadResult again = loadString(printed, "printed.toml");
  ASSERT_TRUE(again.ok()) << again.error << "\n" << printed;
  EXPECT_EQ(*again.config, d);
  EXPECT_NE(printed.find("size = \"256M\"\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("rto_min = \"50ms\"\n"), std::string::npos) << printed;

  // Odd values: a size with no exact unit, characters TOML must escape.
  Config odd = d;
  odd.cache.size = (uint64_t{300} << 20) + 1;
  odd.control.socket = "/tmp/we\"ird\\dir\t/control.sock";
  odd.server.tcp_idle_timeout = 1500ms;
  odd.cache.serve_stale = 90min;
  const LoadResult odd_again = loadString(toToml(odd), "odd.toml");
  ASSERT_TRUE(odd_again.ok()) << odd_again.error << "\n" << toToml(odd);
  EXPECT_EQ(*odd_again.config, odd);
  EXPECT_NE(toToml(odd).find("size = 314572801\n"), std::string::npos);
}

TEST(ConfigTest, DurationAndSizeText) {
  EXPECT_EQ(parseDuration("250ms"), 250ms);
  EXPECT_EQ(parseDuration("3s"), 3s);
  EXPECT_EQ(parseDuration("2m"), 2min);
  EXPECT_EQ(parseDuration("1h"), 1h);
  EXPECT_EQ(parseDuration("0s"), 0s);
  EXPECT_EQ(parseDuration("007s"), 7s);
  EXPECT_FALSE(parseDuration("ms"));
  EXPECT_FALSE(parseDuration("3"));
  EXPECT_FALSE(parseDuration("3ms "));
  EXPECT_EQ(formatDuration(0ms), "0s");
  EXPECT_EQ(formatDuration(1500ms), "1500ms");
  EXPECT_EQ(formatDuration(90s), "90s");
  EXPECT_EQ(formatDuration(120s), "2m");
  EXPECT_EQ(formatDuration(2h), "2h");
  EXPECT_EQ(parseSize("0"), 0u);
  EXPECT_EQ(parseSize("1k"), 1024u);
  EXPECT_EQ(parseSize("3G"), uint64_t{3} << 30);
  EXPECT_EQ(parseSize("2T"), uint64_t{2} << 40);
  EXPECT_EQ(parseSize("16777215T"), uint64_t{16777215} << 40);
  EXPECT_FALSE(parseSize("16777216T"));
  EXPECT_FALSE(parseSize("1KB"));
  EXPECT_FALSE(parseSize("K"));
}

}  // namespace
}  // namespace shoal::config
