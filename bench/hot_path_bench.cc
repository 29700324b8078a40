// The hot path alone: answerFromCache on a warm shared cache, no sockets.
// Google Benchmark gives the time per answer; bench/hot-path-bench.sh runs
// it under callgrind for an instruction count per answer, which does not
// depend on what else the machine is doing, and compares it with a build
// of another revision (the source compiles against older trees too: a
// setting they do not have is skipped).
//
//   build-bench/bin/hot_path_bench [--benchmark_filter=...]
//   build-bench/bin/hot_path_bench --calls N CASE   (N answers of CASE, for
//       callgrind; CASE: a, a-validating, a-do-validating, cname-validating)

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "resolver/answer.h"
#include "resolver/cache_format.h"
#include "shmcache/cache.h"

namespace {

using namespace shoal;
constexpr int64_t kNow = 1'700'000'000;

dns::Name N(const char* text) { return *dns::Name::fromText(text); }

/// Validation on, where this revision has the setting.
template <typename Limits>
void validating(Limits& limits) {
  if constexpr (requires { limits.validating; }) limits.validating = true;
}

struct Fixture {
  std::unique_ptr<shmcache::Cache> cache;
  std::vector<uint8_t> out = std::vector<uint8_t>(65535);
  std::vector<uint8_t> scratch = std::vector<uint8_t>(65535);

  Fixture() {
    shmcache::Options options;
    options.name = "/shoal-hot-path-bench-" + std::to_string(getpid());
    options.size = 16u << 20;
    options.stripes = 16;
    cache = std::move(*shmcache::Cache::open(options, kNow));
    shmcache::Cache::unlink(options.name);
    store("www.example.com", dns::rrtype::kA, {{192, 0, 2, 10}});
    const auto target = N("www.example.com");
    store("alias.example.com", dns::rrtype::kCname,
          {{target.wire().begin(), target.wire().end()}});
  }

  void store(const char* owner, uint16_t type, std::vector<std::vector<uint8_t>> rdatas) {
    resolver::Rrset rrset;
    rrset.owner = N(owner);
    rrset.type = type;
    rrset.rdatas = std::move(rdatas);
    rrset.sigs.push_back(std::vector<uint8_t>(82, 0x5a));  // an RRSIG-sized blob
    const auto key = rrset.owner.lookupKey();
    shmcache::Meta meta;
    meta.expires_at = kNow + 300;
    meta.rank = static_cast<uint8_t>(resolver::Rank::kAuthoritativeAnswer);
    meta.security = shmcache::Security::kSecure;
    (void)cache->insert({key.bytes(), type, static_cast<uint8_t>(resolver::Kind::kRrset)},
                        shmcache::Partition::global(), meta, resolver::encodeRrset(rrset), kNow);
  }
};

std::vector<uint8_t> query(const char* name, uint16_t type, bool dnssec_ok) {
  std::vector<uint8_t> q(512);
  dns::MessageWriter w(q, q.size());
  w.setId(0x1234);
  w.setFlags(dns::flag::kRd);
  (void)w.addQuestion(N(name), type, dns::rrclass::kIn);
  dns::EdnsOut edns;
  edns.dnssec_ok = dnssec_ok;
  (void)w.setEdns(edns);
  q.resize(w.finish());
  return q;
}

struct Case {
  const char* id;
  const char* name;
  bool dnssec_ok;
  bool validate;
};
constexpr Case kCases[] = {{"a", "www.example.com", false, false},
                           {"a-validating", "www.example.com", false, true},
                           {"a-do-validating", "www.example.com", true, true},
                           {"cname-validating", "alias.example.com", false, true}};

/// One answer of `c`; false if it was not answered from the cache.
class Runner {
 public:
  explicit Runner(const Case& c) : q_(query(c.name, dns::rrtype::kA, c.dnssec_ok)) {
    if (c.validate) validating(limits_);
  }
  bool once() {
    auto a = resolver::answerFromCache(q_, client_, false, *f_.cache, limits_, kNow, f_.out,
                                       f_.scratch);
    benchmark::DoNotOptimize(a.length);
    return a.result == resolver::HotPathResult::kAnswered;
  }

 private:
  Fixture f_;
  std::vector<uint8_t> q_;
  resolver::AnswerLimits limits_;
  base::IpAddress client_ = *base::IpAddress::parse("192.0.2.1");
};

void answer(benchmark::State& state, const Case& c) {
  Runner runner(c);
  for (auto _ : state) {
    if (!runner.once()) state.SkipWithError("not answered");
  }
}

void BM_A(benchmark::State& s) { answer(s, kCases[0]); }
void BM_A_Validating(benchmark::State& s) { answer(s, kCases[1]); }
void BM_A_Do_Validating(benchmark::State& s) { answer(s, kCases[2]); }
void BM_Cname_Validating(benchmark::State& s) { answer(s, kCases[3]); }
BENCHMARK(BM_A);
BENCHMARK(BM_A_Validating);
BENCHMARK(BM_A_Do_Validating);
BENCHMARK(BM_Cname_Validating);

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--calls") {
    const long calls = std::stol(argv[2]);
    for (const Case& c : kCases) {
      if (std::string(argv[3]) != c.id) continue;
      Runner runner(c);
      for (long i = 0; i < calls; ++i) {
        if (!runner.once()) {
          std::fprintf(stderr, "hot_path_bench: %s was not answered from the cache\n", c.id);
          return 1;
        }
      }
      return 0;
    }
    std::fprintf(stderr, "hot_path_bench: unknown case %s\n", argv[3]);
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
