#pragma once
// RAII ownership of ldns objects. ldns serves the slow path only (zone and
// trust-anchor files, DNSSEC); the hot path never includes this header.

#include <ldns/ldns.h>

#include <memory>

namespace shoal::dns {

struct LdnsRrDeleter {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
struct LdnsRrListDeleter {
  void operator()(ldns_rr_list* list) const { ldns_rr_list_deep_free(list); }
};
struct LdnsRdfDeleter {
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
struct LdnsZoneDeleter {
  void operator()(ldns_zone* zone) const { ldns_zone_deep_free(zone); }
};
struct LdnsBufferDeleter {
  void operator()(ldns_buffer* buffer) const { ldns_buffer_free(buffer); }
};

using LdnsRr = std::unique_ptr<ldns_rr, LdnsRrDeleter>;
using LdnsRrList = std::unique_ptr<ldns_rr_list, LdnsRrListDeleter>;
using LdnsRdf = std::unique_ptr<ldns_rdf, LdnsRdfDeleter>;
using LdnsZone = std::unique_ptr<ldns_zone, LdnsZoneDeleter>;
using LdnsBuffer = std::unique_ptr<ldns_buffer, LdnsBufferDeleter>;

}  // namespace shoal::dns
