// The iterative resolution engine. See engine.h for the event/action model.
//
// Vocabulary: a *client* is a query from a stub waiting for an answer; a
// *task* resolves one question (qname, qtype) and may serve many clients
// (coalescing) and other tasks (a task that needs a name server's address
// or the root priming waits on a sub-task); a *pending* query is one packet
// in flight to an authoritative server on behalf of a task.

#include "resolver/engine.h"

#include <algorithm>
#include <map>
#include <random>
#include <unordered_map>

#include "base/check.h"
#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "resolver/iterator.h"

namespace shoal::resolver {

struct Engine::Impl {
  Impl(EngineConfig c, shmcache::Cache& cache, uint64_t seed)
      : config(std::move(c)), iterator(config, cache, seed) {}

  EngineConfig config;
  Iterator iterator;
};

Engine::Engine(EngineConfig config, shmcache::Cache& cache, uint64_t random_seed)
    : impl_(std::make_unique<Impl>(std::move(config), cache, random_seed)) {}
Engine::~Engine() = default;

void Engine::onClientQuery(const ClientQuery& query, int64_t now_ms) {
  impl_->iterator.addClient(query, now_ms);
}
void Engine::prefetch(const ClientRequest& request, int64_t now_ms) {
  impl_->iterator.addPrefetch(request, now_ms);
}
void Engine::onUpstreamReply(uint64_t token, std::span<const uint8_t> packet, int64_t now_ms) {
  impl_->iterator.onReply(token, packet, now_ms);
}
void Engine::onUpstreamError(uint64_t token, int64_t now_ms) {
  impl_->iterator.onError(token, now_ms);
}
void Engine::onTimer(int64_t now_ms) { impl_->iterator.onTimer(now_ms); }
std::optional<int64_t> Engine::nextDeadline() const { return impl_->iterator.nextDeadline(); }
std::vector<UpstreamSend> Engine::takeSends() { return impl_->iterator.takeSends(); }
std::vector<ClientAnswer> Engine::takeAnswers() { return impl_->iterator.takeAnswers(); }
std::vector<Cancel> Engine::takeCancels() { return impl_->iterator.takeCancels(); }
size_t Engine::pending() const { return impl_->iterator.waitingClients(); }
size_t Engine::tasksInFlight() const { return impl_->iterator.tasksInFlight(); }
const Engine::Stats& Engine::stats() const { return impl_->iterator.stats(); }

}  // namespace shoal::resolver
