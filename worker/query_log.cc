#include "worker/query_log.h"

#include <string>

#include "base/log.h"
#include "dns/constants.h"
#include "dns/message.h"

namespace shoal::worker {

void QueryLog::write(const base::IpAddress& client, bool tcp, std::span<const uint8_t> response,
                     bool hit, uint64_t elapsed_us) {
  const auto message = dns::Message::parse(response);
  if (!message || !message->question()) return;
  const dns::Question& q = *message->question();
  const std::string rcode_text = dns::rcodeToText(message->rcode());
  base::logLine("query %s %s %s %s %s %s %lluus", client.toString().c_str(), tcp ? "tcp" : "udp",
                q.name.toText().c_str(), dns::typeToText(q.type).c_str(), rcode_text.c_str(),
                hit ? "hit" : "miss", static_cast<unsigned long long>(elapsed_us));
}

}  // namespace shoal::worker
