#include "tests/unit/resolver/signed_zone.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "dns/constants.h"
#include "dns/rdata.h"
#include "dns/writer.h"

namespace shoal::resolver::testing_util {

namespace {

using dnssec::testing_util::SignSpec;
using dnssec::testing_util::TestKey;

constexpr uint8_t kNsec3Sha1 = 1;
constexpr uint8_t kNsec3OptOutFlag = 1;

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

dns::Name lower(dns::Name name) {
  name.toLowerCase();
  return name;
}

/// RFC 4034 section 4.1.2: window blocks of the types present.
std::vector<uint8_t> typeBitmap(const std::set<uint16_t>& types) {
  std::vector<uint8_t> out;
  for (unsigned window = 0; window < 256; ++window) {
    uint8_t bits[32] = {};
    int last = -1;
    for (uint16_t type : types) {
      if ((type >> 8) != window) continue;
      const int octet = (type & 0xFF) / 8;
      bits[octet] = static_cast<uint8_t>(bits[octet] | (0x80 >> (type % 8)));
      last = std::max(last, octet);
    }
    if (last < 0) continue;
    out.push_back(static_cast<uint8_t>(window));
    out.push_back(static_cast<uint8_t>(last + 1));
    out.insert(out.end(), bits, bits + last + 1);
  }
  return out;
}

/// RFC 5155 section 5: IH(salt, x, k), SHA-1, with OpenSSL (independent of
/// dnssec/nsec3.cc).
std::vector<uint8_t> nsec3Hash(const dns::Name& name, uint16_t iterations,
                               std::span<const uint8_t> salt) {
  const dns::Name canonical = lower(name);
  std::vector<uint8_t> input(canonical.wire().begin(), canonical.wire().end());
  std::vector<uint8_t> digest(EVP_MAX_MD_SIZE);
  for (unsigned i = 0; i <= iterations; ++i) {
    input.insert(input.end(), salt.begin(), salt.end());
    unsigned int size = 0;
    if (EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha1(), nullptr) != 1) {
      ADD_FAILURE() << "SHA-1 failed";
      return {};
    }
    input.assign(digest.begin(), digest.begin() + size);
  }
  return input;
}

/// RFC 4648 section 7, lowercase, no padding.
std::string base32Hex(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuv";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t octet : data) {
    buffer = (buffer << 8) | octet;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kDigits[(buffer >> (bits - 5)) & 0x1F]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kDigits[(buffer << (5 - bits)) & 0x1F]);
  return out;
}

bool lessCanonical(const dns::Name& a, const dns::Name& b) { return a.compareCanonical(b) < 0; }

struct NameLess {
  bool operator()(const dns::Name& a, const dns::Name& b) const { return lessCanonical(a, b); }
};

/// The delegations of a zone (names below the apex with NS) and whether a
/// record is authoritative (not glue, not occluded by a cut).
struct Cuts {
  dns::Name apex;
  std::vector<dns::Name> names;

  Cuts(const dns::Name& zone_apex, const std::vector<dns::Record>& records) : apex(zone_apex) {
    for (const auto& r : records) {
      if (r.type == dns::rrtype::kNs && !(r.owner == apex) && !isCut(r.owner)) {
        names.push_back(r.owner);
      }
    }
  }
  bool isCut(const dns::Name& name) const {
    return std::any_of(names.begin(), names.end(), [&](const dns::Name& n) { return n == name; });
  }
  bool authoritative(const dns::Record& r) const {
    for (const auto& cut : names) {
      if (r.owner == cut) {
        if (r.type != dns::rrtype::kNs && r.type != dns::rrtype::kDs &&
            r.type != dns::rrtype::kNsec && r.type != dns::rrtype::kRrsig) {
          return false;
        }
      } else if (r.owner.isSubdomainOf(cut)) {
        return false;
      }
    }
    return true;
  }
};

/// The types present at each authoritative name, in canonical order.
using NameTypes = std::map<dns::Name, std::set<uint16_t>, NameLess>;

/// RFC 9077: denial records live min(SOA TTL, SOA MINIMUM).
uint32_t negativeTtl(const std::vector<dns::Record>& records, const dns::Name& apex) {
  for (const auto& r : records) {
    if (r.type != dns::rrtype::kSoa || !(r.owner == apex) || r.rdata.size() < 4) continue;
    const size_t n = r.rdata.size();
    const uint32_t minimum = (uint32_t{r.rdata[n - 4]} << 24) | (uint32_t{r.rdata[n - 3]} << 16) |
                             (uint32_t{r.rdata[n - 2]} << 8) | r.rdata[n - 1];
    return std::min(r.ttl, minimum);
  }
  return 3600;
}

/// The NSEC chain (RFC 4034 section 4) over `names`.
std::vector<dns::Record> nsecChain(const NameTypes& names, uint32_t ttl) {
  std::vector<dns::Record> chain;
  for (auto it = names.begin(); it != names.end(); ++it) {
    auto next = std::next(it) == names.end() ? names.begin() : std::next(it);
    std::set<uint16_t> types = it->second;
    types.insert(dns::rrtype::kRrsig);
    types.insert(dns::rrtype::kNsec);
    std::vector<uint8_t> rdata(next->first.wire().begin(), next->first.wire().end());
    const auto bitmap = typeBitmap(types);
    rdata.insert(rdata.end(), bitmap.begin(), bitmap.end());
    chain.push_back({it->first, dns::rrtype::kNsec, dns::rrclass::kIn, ttl, rdata});
  }
  return chain;
}

/// The NSEC3 chain (RFC 5155 section 7.1) over `names` and every empty
/// non-terminal above them; opt-out leaves out the insecure delegations
/// (RFC 5155 section 6).
std::vector<dns::Record> nsec3Chain(const dns::Name& apex, const NameTypes& names,
                                    const Cuts& cuts, const SignOptions& options, uint32_t ttl) {
  const bool opt_out = options.denial == DenialKind::kNsec3OptOut;
  NameTypes hashed;
  for (const auto& [owner, types] : names) {
    const bool insecure_cut = cuts.isCut(owner) && types.count(dns::rrtype::kDs) == 0;
    if (opt_out && insecure_cut) continue;
    std::set<uint16_t> with_sigs = types;
    if (!insecure_cut) with_sigs.insert(dns::rrtype::kRrsig);
    hashed[owner].insert(with_sigs.begin(), with_sigs.end());
    for (dns::Name n = owner; !(n == apex);) {
      n = n.parent();
      hashed[n];  // an empty non-terminal, unless it has records of its own
    }
  }
  std::vector<std::pair<std::vector<uint8_t>, std::set<uint16_t>>> entries;
  for (const auto& [owner, types] : hashed) {
    entries.emplace_back(nsec3Hash(owner, options.nsec3_iterations, options.nsec3_salt), types);
  }
  std::sort(entries.begin(), entries.end());
  std::vector<dns::Record> chain;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& next = entries[(i + 1) % entries.size()].first;
    std::vector<uint8_t> rdata{kNsec3Sha1, opt_out ? kNsec3OptOutFlag : uint8_t{0}};
    put16(rdata, options.nsec3_iterations);
    rdata.push_back(static_cast<uint8_t>(options.nsec3_salt.size()));
    rdata.insert(rdata.end(), options.nsec3_salt.begin(), options.nsec3_salt.end());
    rdata.push_back(static_cast<uint8_t>(next.size()));
    rdata.insert(rdata.end(), next.begin(), next.end());
    const auto bitmap = typeBitmap(entries[i].second);
    rdata.insert(rdata.end(), bitmap.begin(), bitmap.end());
    const std::string label = base32Hex(entries[i].first);
    auto owner =
        apex.prepend(std::span(reinterpret_cast<const uint8_t*>(label.data()), label.size()));
    EXPECT_TRUE(owner.ok());
    if (owner.ok()) chain.push_back({*owner, dns::rrtype::kNsec3, dns::rrclass::kIn, ttl, rdata});
  }
  return chain;
}

/// The NSEC3 parameters of a chain, read from one of its records.
struct Nsec3Params {
  uint16_t iterations = 0;
  std::vector<uint8_t> salt;
};

std::optional<Nsec3Params> nsec3Params(const std::vector<dns::Record>& records) {
  for (const auto& r : records) {
    if (r.type != dns::rrtype::kNsec3 || r.rdata.size() < 5) continue;
    Nsec3Params p;
    p.iterations = static_cast<uint16_t>((r.rdata[2] << 8) | r.rdata[3]);
    const size_t salt_length = r.rdata[4];
    if (r.rdata.size() < 5 + salt_length) continue;
    p.salt.assign(r.rdata.begin() + 5, r.rdata.begin() + 5 + static_cast<long>(salt_length));
    return p;
  }
  return std::nullopt;
}

/// The first label of an NSEC3 owner, lowercased.
std::string hashLabel(const dns::Name& owner) {
  const auto label = owner.label(0);
  std::string out(label.begin(), label.end());
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// Finds the records of a zone's denial chain that match or cover names.
class Chain {
 public:
  Chain(const std::vector<dns::Record>& records, const dns::Name& apex)
      : apex_(apex), params_(nsec3Params(records)) {
    for (const auto& r : records) {
      if (r.type == (params_ ? dns::rrtype::kNsec3 : dns::rrtype::kNsec)) links_.push_back(&r);
    }
  }
  bool empty() const { return links_.empty(); }
  bool nsec3() const { return params_.has_value(); }

  /// NSEC: the record whose owner is the greatest at or before `name`.
  /// NSEC3: the record whose hash is the greatest at or before H(name),
  /// wrapping around to the last.
  const dns::Record* find(const dns::Name& name) const {
    const dns::Record* best = nullptr;
    if (!params_) {
      for (const dns::Record* r : links_) {
        if (r->owner.compareCanonical(name) <= 0 &&
            (best == nullptr || lessCanonical(best->owner, r->owner))) {
          best = r;
        }
      }
      return best;
    }
    const std::string h = base32Hex(nsec3Hash(name, params_->iterations, params_->salt));
    const dns::Record* last = nullptr;
    for (const dns::Record* r : links_) {
      const std::string label = hashLabel(r->owner);
      if (last == nullptr || hashLabel(last->owner) < label) last = r;
      if (label <= h && (best == nullptr || hashLabel(best->owner) < label)) best = r;
    }
    return best != nullptr ? best : last;
  }
  /// True if `record` (from find) matches `name` rather than covering it.
  bool matches(const dns::Record* record, const dns::Name& name) const {
    if (record == nullptr) return false;
    if (!params_) return record->owner == name;
    return hashLabel(record->owner) ==
           base32Hex(nsec3Hash(name, params_->iterations, params_->salt));
  }
  /// NSEC3: the closest ancestor of `name` (or itself) with a matching record.
  dns::Name closestProvable(const dns::Name& name) const {
    dns::Name n = name;
    while (!(n == apex_) && !matches(find(n), n)) n = n.parent();
    return n;
  }

 private:
  dns::Name apex_;
  std::optional<Nsec3Params> params_;
  std::vector<const dns::Record*> links_;
};

dns::Name wildcardAt(const dns::Name& encloser) {
  const uint8_t star[] = {'*'};
  auto w = encloser.prepend(star);
  EXPECT_TRUE(w.ok());
  return w.ok() ? *w : encloser;
}

/// The name one label below `encloser` on the way to `qname`.
dns::Name nextCloser(const dns::Name& qname, const dns::Name& encloser) {
  return qname.suffix(std::min(qname.labelCount(), encloser.labelCount() + 1));
}

}  // namespace

uint16_t typeCovered(std::span<const uint8_t> rrsig_rdata) {
  if (rrsig_rdata.size() < 2) return 0;
  return static_cast<uint16_t>((rrsig_rdata[0] << 8) | rrsig_rdata[1]);
}

SignedZone SignedZone::sign(std::string_view origin, std::string_view text,
                            const SignOptions& options) {
  SignedZone zone;
  zone.options_ = options;
  std::string o(origin);
  if (o.empty() || o.back() != '.') o += '.';
  auto parsed = dns::parseRecords("$ORIGIN " + o + "\n$TTL 3600\n" + std::string(text));
  EXPECT_TRUE(parsed.ok()) << origin << ": " << parsed.error;
  auto apex = dns::Name::fromText(o);
  EXPECT_TRUE(apex.ok()) << origin;
  zone.apex_ = apex.ok() ? lower(*apex) : dns::Name();
  zone.records_ = std::move(parsed.records);

  zone.ksk_ = std::make_unique<TestKey>(TestKey::generate(options.algorithm, zone.apex_, 257));
  if (options.separate_zsk) {
    // Distinct tags: a KSK/ZSK tag collision would make tests about
    // colliding tags ambiguous.
    do {
      zone.zsk_ = std::make_unique<TestKey>(TestKey::generate(options.algorithm, zone.apex_, 256));
    } while (zone.zsk_->tag() == zone.ksk_->tag());
  }
  const uint32_t negative_ttl = negativeTtl(zone.records_, zone.apex_);
  zone.records_.push_back({zone.apex_, dns::rrtype::kDnskey, dns::rrclass::kIn, 3600,
                           zone.ksk_->dnskey()});
  if (zone.zsk_) {
    zone.records_.push_back({zone.apex_, dns::rrtype::kDnskey, dns::rrclass::kIn, 3600,
                             zone.zsk_->dnskey()});
  }
  const bool nsec3 = options.denial != DenialKind::kNsec;
  if (nsec3) {
    std::vector<uint8_t> param{kNsec3Sha1, 0};
    put16(param, options.nsec3_iterations);
    param.push_back(static_cast<uint8_t>(options.nsec3_salt.size()));
    param.insert(param.end(), options.nsec3_salt.begin(), options.nsec3_salt.end());
    zone.records_.push_back({zone.apex_, dns::rrtype::kNsec3param, dns::rrclass::kIn, 0, param});
  }

  // The authoritative names and their types.
  const Cuts cuts(zone.apex_, zone.records_);
  NameTypes names;
  for (const auto& r : zone.records_) {
    if (cuts.authoritative(r)) names[lower(r.owner)].insert(r.type);
  }
  const std::vector<dns::Record> chain =
      nsec3 ? nsec3Chain(zone.apex_, names, cuts, options, negative_ttl)
            : nsecChain(names, negative_ttl);
  zone.records_.insert(zone.records_.end(), chain.begin(), chain.end());

  // Sign every authoritative RRset but the NS of a delegation.
  std::vector<std::pair<dns::Name, uint16_t>> rrsets;
  for (const auto& r : zone.records_) {
    if (!cuts.authoritative(r) || r.type == dns::rrtype::kRrsig) continue;
    if (r.type == dns::rrtype::kNs && cuts.isCut(r.owner)) continue;
    const std::pair<dns::Name, uint16_t> key{r.owner, r.type};
    if (std::find(rrsets.begin(), rrsets.end(), key) == rrsets.end()) rrsets.push_back(key);
  }
  for (const auto& [owner, type] : rrsets) {
    const dns::Rrset rrset = zone.rrsetOf(owner, type);
    SignSpec spec;
    spec.inception = options.window.inception;
    spec.expiration = options.window.expiration;
    zone.records_.push_back({owner, dns::rrtype::kRrsig, dns::rrclass::kIn, rrset.ttl,
                             zone.keyFor(type).sign(rrset, spec)});
  }
  return zone;
}

dns::Name SignedZone::name(std::string_view text) const {
  std::string t(text);
  if (t.empty() || t.back() != '.') t += "." + apex_.toText();
  if (t.size() >= 2 && t.substr(t.size() - 2) == "..") t.pop_back();
  auto n = dns::Name::fromText(t);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : dns::Name();
}

dns::Rrset SignedZone::rrsetOf(const dns::Name& owner, uint16_t type) const {
  dns::Rrset rrset;
  rrset.owner = owner;
  rrset.type = type;
  bool first = true;
  for (const auto& r : records_) {
    if (r.type != type || !(r.owner == owner)) continue;
    if (first) rrset.ttl = r.ttl;
    first = false;
    rrset.rdatas.push_back(r.rdata);
  }
  EXPECT_FALSE(first) << "no RRset " << owner.toText() << " " << dns::typeToText(type);
  return rrset;
}

const TestKey& SignedZone::keyFor(uint16_t type) const {
  return type == dns::rrtype::kDnskey ? *ksk_ : zsk();
}

std::vector<uint8_t> SignedZone::dsRdata() const { return ksk_->ds(2); }

std::string SignedZone::dsText() const {
  dns::Record ds{apex_, dns::rrtype::kDs, dns::rrclass::kIn, 3600, dsRdata()};
  return dns::recordToText(ds);
}

TrustAnchor SignedZone::dsAnchor() const { return {apex_, dns::rrtype::kDs, dsRdata()}; }

TrustAnchor SignedZone::dnskeyAnchor() const {
  return {apex_, dns::rrtype::kDnskey, ksk_->dnskey()};
}

void SignedZone::corruptSignatures(std::string_view owner, uint16_t type) {
  const dns::Name n = name(owner);
  int flipped = 0;
  for (auto& r : records_) {
    if (r.type == dns::rrtype::kRrsig && r.owner == n && typeCovered(r.rdata) == type) {
      dnssec::testing_util::flipLastOctet(r.rdata);
      ++flipped;
    }
  }
  EXPECT_GT(flipped, 0) << "no RRSIG over " << owner << " " << dns::typeToText(type);
}

void SignedZone::eraseSignatures(const dns::Name& owner, uint16_t type) {
  std::erase_if(records_, [&](const dns::Record& r) {
    return r.type == dns::rrtype::kRrsig && r.owner == owner && typeCovered(r.rdata) == type;
  });
}

std::vector<uint8_t> SignedZone::signatureOver(std::string_view owner, uint16_t type,
                                               const Window& window) const {
  const dns::Rrset rrset = rrsetOf(name(owner), type);
  SignSpec spec;
  spec.inception = window.inception;
  spec.expiration = window.expiration;
  return keyFor(type).sign(rrset, spec);
}

void SignedZone::resign(std::string_view owner, uint16_t type, const Window& window) {
  const dns::Name n = name(owner);
  auto sig = signatureOver(owner, type, window);
  const uint32_t ttl = rrsetOf(n, type).ttl;
  eraseSignatures(n, type);
  records_.push_back({n, dns::rrtype::kRrsig, dns::rrclass::kIn, ttl, std::move(sig)});
}

void SignedZone::stripSignatures() {
  std::erase_if(records_, [](const dns::Record& r) { return r.type == dns::rrtype::kRrsig; });
}

void SignedZone::unsign() {
  std::erase_if(records_, [](const dns::Record& r) {
    return r.type == dns::rrtype::kRrsig || r.type == dns::rrtype::kDnskey ||
           r.type == dns::rrtype::kNsec || r.type == dns::rrtype::kNsec3 ||
           r.type == dns::rrtype::kNsec3param;
  });
}

void SignedZone::addDnskeys(const std::vector<std::vector<uint8_t>>& rdatas) {
  for (const auto& rd : rdatas) {
    records_.push_back({apex_, dns::rrtype::kDnskey, dns::rrclass::kIn, 3600, rd});
  }
  resign(apex_.toText(), dns::rrtype::kDnskey, options_.window);
}

std::vector<dns::Record> signaturesFor(const std::vector<dns::Record>& zone_records,
                                       const dns::Name& owner, uint16_t type, const dns::Name& as) {
  std::vector<dns::Record> out;
  for (const auto& r : zone_records) {
    if (r.type != dns::rrtype::kRrsig || !(r.owner == owner) || typeCovered(r.rdata) != type) {
      continue;
    }
    out.push_back(r);
    out.back().owner = as;
  }
  return out;
}

std::vector<dns::Record> denialFor(const std::vector<dns::Record>& zone_records,
                                   const dns::Name& apex, Proof proof, const dns::Name& qname,
                                   const dns::Name& closest_encloser) {
  const Chain chain(zone_records, apex);
  if (chain.empty()) return {};
  std::vector<const dns::Record*> picked;
  auto add = [&](const dns::Name& name) {
    const dns::Record* r = chain.find(name);
    if (r != nullptr && std::find(picked.begin(), picked.end(), r) == picked.end()) {
      picked.push_back(r);
    }
  };
  const dns::Name& ce = closest_encloser;
  if (!chain.nsec3()) {
    switch (proof) {
      case Proof::kNxdomain: add(qname); add(wildcardAt(ce)); break;
      case Proof::kNodata: add(qname); break;
      case Proof::kWildcardAnswer: add(qname); break;
      case Proof::kWildcardNodata: add(qname); add(wildcardAt(ce)); break;
      case Proof::kNoDs: add(qname); break;
    }
  } else {
    switch (proof) {
      case Proof::kNxdomain:
        add(ce);
        add(nextCloser(qname, ce));
        add(wildcardAt(ce));
        break;
      case Proof::kNodata:
      case Proof::kNoDs:
        if (chain.matches(chain.find(qname), qname)) {
          add(qname);
        } else {
          // No NSEC3 for qname (an opt-out delegation): the closest
          // provable encloser proof (RFC 5155 section 7.2.4).
          const dns::Name provable = chain.closestProvable(qname);
          add(provable);
          add(nextCloser(qname, provable));
        }
        break;
      case Proof::kWildcardAnswer: add(nextCloser(qname, ce)); break;
      case Proof::kWildcardNodata:
        add(ce);
        add(nextCloser(qname, ce));
        add(wildcardAt(ce));
        break;
    }
  }
  std::vector<dns::Record> out;
  for (const dns::Record* r : picked) {
    out.push_back(*r);
    for (auto& sig : signaturesFor(zone_records, r->owner, r->type, r->owner)) {
      out.push_back(std::move(sig));
    }
  }
  return out;
}

std::vector<uint8_t> rewriteResponse(
    std::span<const uint8_t> packet,
    const std::function<bool(dns::Section, const dns::Record&)>& drop) {
  auto msg = dns::Message::parse(packet);
  if (!msg) {
    ADD_FAILURE() << "rewriteResponse: the packet does not parse";
    return {packet.begin(), packet.end()};
  }
  std::vector<uint8_t> buf(65535);
  dns::MessageWriter w(buf, buf.size());
  w.setId(msg->header().id);
  w.setFlags(static_cast<uint16_t>(msg->header().flags & 0xFFF0u));
  w.setRcode(msg->rcode());
  if (msg->question()) {
    (void)w.addQuestion(msg->question()->name, msg->question()->type, msg->question()->qclass);
  }
  dns::EdnsOut edns;
  if (msg->edns()) {
    edns.udp_size = msg->edns()->udp_size;
    edns.dnssec_ok = msg->edns()->dnssec_ok;
    (void)w.setEdns(edns);
  }
  std::vector<uint8_t> rdata(dns::kMaxRdataLength);
  for (auto section :
       {dns::Section::kAnswer, dns::Section::kAuthority, dns::Section::kAdditional}) {
    for (const dns::RrView& rr : msg->section(section)) {
      if (rr.type == dns::rrtype::kOpt) continue;
      auto length = dns::decompressRdata(*msg, rr, rdata);
      if (!length) continue;
      dns::Record record{msg->ownerOf(rr), rr.type, rr.rrclass, rr.ttl,
                         {rdata.begin(), rdata.begin() + static_cast<long>(*length)}};
      if (drop(section, record)) continue;
      (void)w.addRr(section, record.owner, record.type, record.rrclass, record.ttl, record.rdata);
    }
  }
  buf.resize(w.finish());
  return buf;
}

}  // namespace shoal::resolver::testing_util
