#include "dnssec/verdict.h"

namespace shoal::dnssec {

const char* toString(Security security) {
  switch (security) {
    case Security::kIndeterminate: return "indeterminate";
    case Security::kInsecure: return "insecure";
    case Security::kSecure: return "secure";
    case Security::kBogus: return "bogus";
  }
  return "unknown";
}

}  // namespace shoal::dnssec
