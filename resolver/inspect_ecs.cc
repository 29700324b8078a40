#include "resolver/inspect_ecs.h"

#include <algorithm>
#include <array>
#include <map>
#include <tuple>
#include <utility>

#include "dns/constants.h"
#include "dns/name.h"
#include "resolver/cache_format.h"
#include "resolver/inspect.h"

namespace shoal::resolver {

namespace {

constexpr uint8_t kindByte(Kind kind) { return static_cast<uint8_t>(kind); }

/// The kinds that answer a question: the only ones stored in partitions.
constexpr std::array<uint8_t, 3> kAnswerKinds{kindByte(Kind::kRrset), kindByte(Kind::kNodata),
                                              kindByte(Kind::kNxdomain)};

std::string kindText(uint8_t kind) {
  switch (static_cast<Kind>(kind)) {
    case Kind::kRrset: return "rrset";
    case Kind::kNodata: return "nodata";
    case Kind::kNxdomain: return "nxdomain";
    default: return "kind " + std::to_string(kind);
  }
}

std::string nameText(std::span<const uint8_t> lookup_key) {
  const auto name = dns::Name::fromLookupKey(lookup_key);
  return name ? name->toText() : "<undecodable name>";
}

/// An entry's place in the "most partitions" list: its name and the type
/// it answers (NXDOMAIN answers every type, so it is a type of its own).
struct GroupKey {
  std::vector<uint8_t> name;
  uint16_t type = 0;
  bool nxdomain = false;
  auto operator<=>(const GroupKey&) const = default;
};

struct Group {
  size_t partitions = 0;
  uint64_t hits = 0;
};

/// Partitions are listed IPv4 first, then by address, then by scope.
using PartitionOrder = std::tuple<uint8_t, std::array<uint8_t, 16>, uint8_t, uint8_t>;

PartitionOrder orderOf(const shmcache::EntryCopy& copy) {
  return {copy.partition.family, copy.partition.address, copy.partition.prefix, copy.kind};
}

}  // namespace

EcsSummary summarizeEcs(shmcache::Cache& cache, int64_t now_s, size_t top) {
  EcsSummary summary;
  std::map<GroupKey, Group> groups;
  for (auto& copy : cache.collectPartitioned(now_s)) {
    ++summary.entries;
    if (copy.partition.family == 1) ++summary.ipv4;
    if (copy.partition.family == 2) ++summary.ipv6;
    const bool nxdomain = copy.kind == kindByte(Kind::kNxdomain);
    Group& group = groups[GroupKey{std::move(copy.name), nxdomain ? uint16_t{0} : copy.type,
                                   nxdomain}];
    ++group.partitions;
    group.hits += copy.hits;
  }
  summary.names = groups.size();
  std::vector<std::pair<const GroupKey*, Group>> rows;
  rows.reserve(groups.size());
  for (const auto& [key, group] : groups) rows.emplace_back(&key, group);
  // Ties go to the name and type in canonical (lookup key) order, so that
  // the list is stable from one call to the next.
  const auto most_first = [](const auto& a, const auto& b) {
    if (a.second.partitions != b.second.partitions) return a.second.partitions > b.second.partitions;
    if (a.second.hits != b.second.hits) return a.second.hits > b.second.hits;
    return *a.first < *b.first;
  };
  const size_t shown = std::min(top, rows.size());
  std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(shown), rows.end(),
                    most_first);
  for (size_t i = 0; i < shown; ++i) {
    const GroupKey& key = *rows[i].first;
    summary.top.push_back({nameText(key.name), key.nxdomain ? "*" : dns::typeToText(key.type),
                           rows[i].second.partitions, rows[i].second.hits});
  }
  return summary;
}

EcsNameResult inspectEcsName(shmcache::Cache& cache, std::string_view name_text, uint16_t type,
                             int64_t now_s) {
  EcsNameResult result;
  const auto name = dns::Name::fromText(name_text);
  if (!name) {
    result.error = "bad name '" + std::string(name_text) + "': " + dns::toString(name.error());
    return result;
  }
  result.name = name->toText();
  result.type = dns::typeToText(type);
  const auto key = name->lookupKey();
  // One scan for the name's partitions and its global entry alike.
  auto copies = cache.collect(key.bytes(), false, kAnswerKinds);
  std::erase_if(copies, [&](const shmcache::EntryCopy& c) {
    const bool answers = c.type == type || c.kind == kindByte(Kind::kNxdomain);
    return !answers || c.meta.expires_at <= now_s;
  });
  std::sort(copies.begin(), copies.end(),
            [](const shmcache::EntryCopy& a, const shmcache::EntryCopy& b) {
              return orderOf(a) < orderOf(b);
            });
  for (const auto& copy : copies) {
    const int64_t ttl = copy.meta.expires_at - now_s;
    if (copy.partition.family == 0) {
      // Sorted by kind within the global partition: an RRset comes first.
      if (!result.global) result.global = EcsGlobalEntry{kindText(copy.kind), ttl};
      continue;
    }
    result.partitions.push_back({partitionText(copy.partition), copy.partition.prefix,
                                 kindText(copy.kind), ttl, copy.hits});
  }
  return result;
}

}  // namespace shoal::resolver
