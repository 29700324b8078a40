#pragma once
// The IANA root hints and root trust anchors compiled into shoal, so that it
// resolves with no configuration at all.

#include <string_view>

namespace shoal::resolver {

/// named.root as published by IANA (the text of Debian's dns-root-data
/// 2024071801): 13 servers, IPv4 and IPv6.
std::string_view builtinRootHints();
/// The root zone's trust anchors as DS records: KSK-2017 (tag 20326) and
/// KSK-2024 (tag 38696), from IANA's root-anchors.xml.
std::string_view builtinTrustAnchors();

}  // namespace shoal::resolver
