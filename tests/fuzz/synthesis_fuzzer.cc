// Fuzzes the answers synthesised from NSEC/NSEC3 ranges (RFC 8198:
// resolver/aggressive.h, dnssec/aggressive.h, resolver/ranges.h). Zone
// entries and range payloads come from shared memory, which other
// processes write: they are input, and must never be read out of bounds,
// crash or run unbounded; every answer written must parse back.
//
// Input layout (integers big-endian; a length past the end is cut to what
// is left):
//
//   u16 Q | Q octets: qname (uncompressed wire) | u16 qtype
//   | u16 Z | Z octets: the zone entry payload of the root zone
//   | chunks: u16 N | N octets: owner (uncompressed wire), the rest the
//     range payload stored under it in the root's ordered set
//
// The entries are inserted as secure into a small real cache, then
// synthesise() runs for qname, its parent and "a." + qname.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "resolver/aggressive.h"
#include "resolver/cache_format.h"
#include "resolver/cache_reader.h"
#include "shmcache/cache.h"

namespace {

using namespace shoal;

constexpr int64_t kNow = 1'800'000'000;

class Input {
 public:
  explicit Input(std::span<const uint8_t> data) : data_(data) {}
  std::span<const uint8_t> chunk() {
    if (data_.size() < 2) {
      data_ = {};
      return {};
    }
    size_t n = (size_t{data_[0]} << 8) | data_[1];
    data_ = data_.subspan(2);
    n = std::min(n, data_.size());
    auto out = data_.first(n);
    data_ = data_.subspan(n);
    return out;
  }
  uint16_t u16() {
    if (data_.size() < 2) return 1;
    const uint16_t v = static_cast<uint16_t>((data_[0] << 8) | data_[1]);
    data_ = data_.subspan(2);
    return v;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::span<const uint8_t> data_;
};

shmcache::Cache& cache() {
  static std::unique_ptr<shmcache::Cache> instance = [] {
    shmcache::Options options;
    options.name = "/shoal-fuzz-synthesis-" + std::to_string(getpid());
    options.size = 8u << 20;
    options.stripes = 4;
    auto opened = shmcache::Cache::open(options, kNow);
    if (!opened) __builtin_trap();
    shmcache::Cache::unlink(options.name);  // gone when the process ends
    return std::move(*opened);
  }();
  return *instance;
}

shmcache::Meta secure() {
  shmcache::Meta meta;
  meta.expires_at = kNow + 300;
  meta.original_ttl = 300;
  meta.rank = static_cast<uint8_t>(resolver::Rank::kAuthority);
  meta.security = shmcache::Security::kSecure;
  return meta;
}

void check(const resolver::Synthesised& s) {
  using resolver::Synthesis;
  switch (s.kind) {
    case Synthesis::kNone:
      return;
    case Synthesis::kWildcard:
      if (!resolver::RrsetView::parse(s.payload)) __builtin_trap();
      return;
    case Synthesis::kNxdomain:
    case Synthesis::kNodata:
      if (!resolver::NegativeView::parse(s.payload)) __builtin_trap();
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in({data, size});
  auto qname = dns::Name::fromUncompressed(in.chunk());
  const uint16_t qtype = in.u16();
  shmcache::Cache& c = cache();
  c.clear();
  const dns::Name root;
  const auto root_key = root.lookupKey();
  (void)c.insert({root_key.bytes(), 0, static_cast<uint8_t>(resolver::Kind::kDenialZone)},
                 shmcache::Partition::global(), secure(), in.chunk(), kNow);
  for (int i = 0; i < 64 && !in.empty(); ++i) {
    const auto piece = in.chunk();
    auto owner = dns::Name::fromUncompressed(piece);
    if (!owner) continue;
    const auto key = owner->lookupKey();
    (void)c.insertRange(root_key.bytes(), key.bytes(), secure(), piece.subspan(owner->length()),
                        kNow);
    // The same payload as a cached wildcard RRset, for kWildcard.
    (void)c.insert({key.bytes(), qtype, static_cast<uint8_t>(resolver::Kind::kRrset)},
                   shmcache::Partition::global(), secure(), piece.subspan(owner->length()), kNow);
  }
  if (!qname) return 0;
  static std::vector<uint8_t> scratch(resolver::kCacheScratchSize);
  const std::span<uint8_t> lookup(scratch.data(), resolver::kLookupScratch);
  const std::span<uint8_t> space(scratch.data() + resolver::kLookupScratch,
                                 scratch.size() - resolver::kLookupScratch);
  dnssec::Policy policy;
  policy.nsec3_max_iterations = 10;  // keeps each input cheap
  check(resolver::synthesise(c, *qname, qtype, policy, kNow, lookup, space));
  if (!qname->isRoot()) check(resolver::synthesise(c, qname->parent(), qtype, policy, kNow, lookup, space));
  constexpr uint8_t kA[] = {'a'};
  if (auto child = qname->prepend(kA)) {
    check(resolver::synthesise(c, *child, qtype, policy, kNow, lookup, space));
  }
  return 0;
}
