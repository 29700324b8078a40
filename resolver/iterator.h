#pragma once
// The iterative resolver behind Engine (internal to resolver/).
//
// Each Task resolves one question from the closest zone cut it knows: it
// checks the cache, finds the cut (cached NS, or the root hints after
// priming, RFC 8109), picks a server by smoothed RTT, sends a query
// (minimised, RFC 9156), and digests the reply: an answer (following CNAMEs
// and DNAMEs), a negative answer (RFC 2308), a referral to a child zone
// (NS + in-bailiwick glue), or a lame/broken reply (next server). A cut
// whose name servers have no known address spawns sub-tasks for those
// addresses (glueless delegations), bounded in depth and work.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/random.h"
#include "resolver/engine.h"
#include "resolver/classify.h"
#include "resolver/record_cache.h"
#include "resolver/reply.h"
#include "resolver/response.h"
#include "resolver/selection.h"
#include "resolver/server_stats.h"
#include "resolver/validator.h"
#include "resolver/zone_cut.h"

namespace shoal::resolver {

class Iterator {
 public:
  Iterator(const EngineConfig& config, shmcache::Cache& cache, uint64_t seed);
  ~Iterator();

  void addClient(const ClientQuery& query, int64_t now_ms);
  void addPrefetch(const ClientRequest& request, int64_t now_ms);
  void onReply(uint64_t token, std::span<const uint8_t> packet, int64_t now_ms);
  void onError(uint64_t token, int64_t now_ms);
  void onTimer(int64_t now_ms);
  std::optional<int64_t> nextDeadline() const;

  std::vector<UpstreamSend> takeSends() { return std::exchange(sends_, {}); }
  std::vector<ClientAnswer> takeAnswers() { return std::exchange(answers_, {}); }
  std::vector<Cancel> takeCancels() { return std::exchange(cancels_, {}); }
  /// Client queries waiting for an answer (background work, such as a key
  /// prefetch nobody waits for, does not count).
  size_t waitingClients() const { return clients_.size(); }
  size_t tasksInFlight() const { return tasks_.size(); }
  const Engine::Stats& stats() const { return stats_; }

 private:
  struct Client {
    uint64_t id = 0;
    ClientRequest request;
    int64_t deadline_ms = 0;
    uint32_t task = 0;
  };
  /// A reply classified and waiting for keys to be validated with.
  struct Held {
    Classified reply;
    SentQuestion sent;
    /// An NXDOMAIN for a minimised question (RFC 9156): it answers the
    /// client (RFC 8020) only if it validates secure; else the full
    /// question is asked.
    bool minimised = false;
    /// Where its answer is cached: the ECS partition of its scope (RFC
    /// 7871 section 7.3.1), global when no subnet was sent.
    shmcache::Partition partition;
  };
  struct Task {
    uint32_t id = 0;
    dns::Name qname;
    uint16_t qtype = 0;
    dns::Name sname;   // current target, after CNAME/DNAME
    uint16_t stype = 0;
    int depth = 0;
    int chain_hops = 0;
    int sent = 0;
    bool qmin = true;
    std::optional<dns::Name> qmin_name;  // last minimised name asked
    bool priming_done = false;
    bool use_hints = false;
    Cut cut;
    std::vector<base::IpAddress> tried;  // servers asked at this cut
    int rounds = 0;
    /// When this round over the cut's servers began, and the RTO of the
    /// server it began with: the next round waits for that much (servers
    /// that fail at once, refused or unreachable, are not asked again in a
    /// tight loop); a timer wakes the task then (round_timer).
    int64_t round_started_ms = 0;
    int64_t round_pace_ms = 0;
    bool round_timer = false;
    std::vector<Rrset> chain;  // CNAME/DNAME RRsets collected
    std::vector<uint64_t> pending;
    std::vector<uint64_t> clients;
    std::vector<uint32_t> parents;   // tasks waiting for this one
    std::vector<uint32_t> children;  // sub-tasks started for this one
    int waiting_on = 0;              // sub-tasks this one waits for
    bool question_ready = false;     // cur_qname/cur_qtype computed for this step
    dns::Name cur_qname;
    uint16_t cur_qtype = 0;
    // DNSSEC: the status of what the answer holds so far (the worst of its
    // links), the reply waiting for keys, the key questions already waited
    // for (asked once each), and the work budget (KeyTrap caps).
    dnssec::Verdict security;
    std::optional<Held> held;
    std::vector<KeyQuestion> awaited;
    dnssec::Budget budget;
    /// Times this task held its question back for another one on its way
    /// to the same unknown part of a signed zone (holdForRanges).
    int range_waits = 0;
    /// Past this the task gives up (fail()): the latest deadline of the
    /// clients and tasks it serves (EngineConfig::resolution_timeout_ms).
    int64_t deadline_ms = 0;
    int64_t started_ms = 0;  // client tasks: when the first client asked
    /// A prefetch: the cached answer to the question itself is ignored
    /// (it is what is being refreshed).
    bool refresh = false;
    /// EDNS Client Subnet: the client's subnet (client tasks only; tasks of
    /// different subnets are kept apart), and the longest scope of what the
    /// answer holds so far.
    ClientEcs ecs;
    uint8_t ecs_scope = 0;
    /// Upstream queries left for the client query this task serves,
    /// shared with the sub-tasks it started (NXNSAttack guard); null: none.
    std::shared_ptr<int> work;
  };
  struct Pending {
    uint64_t token = 0;
    std::vector<uint32_t> tasks;  // every task waiting for this reply
    std::string key;              // in pending_by_question_ while not timed out
    base::IpAddress server;
    bool tcp = false;
    bool edns = true;
    dns::Name qname;
    uint16_t qtype = 0;
    uint16_t msg_id = 0;
    /// The question name as sent: its letters in random case (0x20) when
    /// `cased`, and the reply must echo it exactly.
    dns::Name sent_qname;
    bool cased = false;
    /// The client cookie sent (RFC 7873), when `cookie`.
    bool cookie = false;
    bool with_server_cookie = false;  // and the server's last cookie
    dns::ClientCookie client_cookie{};
    dns::Name zone;
    int64_t sent_ms = 0;
    bool timed_out = false;
    bool hedge = false;      // a second copy of a question (sendHedge)
    bool hedged = false;     // a hedge of this one was sent
    /// Nobody waits any more (answered by another server) but the reply
    /// may still come: kept until its RTO for the server's statistics.
    bool lingering = false;
    std::optional<dns::ClientSubnet> ecs;  // the subnet the query carried
  };
  enum class TimerKind : uint8_t { kRto, kClient, kHedge, kStale, kRound };
  struct Timer {
    TimerKind kind;
    uint64_t id;  // token or client id
  };

  /// A question on its way to a part of a signed zone whose ranges are not
  /// known yet (the zone seen the first time, or a gap between its known
  /// ranges), and the client questions for the same part held back until
  /// its answer is settled: the ranges it brings may answer them (RFC
  /// 8198), so that a burst of junk under one zone costs one question per
  /// range, not one per name.
  struct RangeFlight {
    uint32_t leader = 0;
    dns::Name qname;
    uint16_t qtype = 0;
    int64_t since_ms = 0;
    uint64_t ranges_at_start = 0;  // stats_.ranges_stored when it began
    std::vector<uint32_t> waiters;
  };

  /// A task's question: owner lookup key, type, and the ECS subnet of its
  /// clients (empty: none).
  using TaskKey = std::tuple<std::vector<uint8_t>, uint16_t, std::string>;
  static TaskKey taskKey(const dns::Name& qname, uint16_t qtype, const ClientEcs* ecs);

  enum class CacheStep : uint8_t { kFinished, kMoved, kMiss };

  Task* findTask(uint32_t id);
  /// The task for (qname, qtype), started if none; its deadline is moved
  /// to `deadline_ms` if that is later.
  uint32_t joinOrStart(const dns::Name& qname, uint16_t qtype, int depth, int64_t deadline_ms,
                       bool* created, const ClientEcs* ecs = nullptr);
  void wake(uint32_t id, int64_t now_ms);
  void drainReady(int64_t now_ms);
  void abortIfOrphan(uint32_t id);
  void nextQuestion(Task& task);
  uint32_t startTask(const dns::Name& qname, uint16_t qtype, int depth);
  void advance(Task& task, int64_t now_ms);
  CacheStep answerFromCache(Task& task, int64_t now_ms);
  /// Folds the statuses of what the cache answered into the task's security.
  void noteSecurity(Task& task, const CacheReadResult& read);
  void countSynthesis(const CacheReadResult& read);
  /// An outcome carrying the task's chain and security.
  Outcome answerOutcome(const Task& task) const;
  bool findCut(Task& task, int64_t now_ms);
  /// The forward zone (the longest) that (sname, stype) is asked of, if
  /// any; a DS question at a forward zone's apex belongs to its parent.
  const ForwardSpec* forwardFor(const dns::Name& sname, uint16_t stype) const;
  /// The task's cut is not the one for its current name (none yet, a name
  /// outside it, or a forward zone that should take over or let go).
  bool needsCut(const Task& task) const;
  void sendNext(Task& task, int64_t now_ms);
  bool holdForRanges(Task& task, int64_t now_ms);
  bool releaseRangeFlights(int64_t now_ms);
  /// `known`: the server's state if the caller just read it (saves a
  /// shared-memory lookup).
  /// `hedge`: a second copy of the task's question, sent while the first
  /// is still out (never joined to a query in flight).
  void sendQuery(Task& task, const base::IpAddress& server, bool tcp, bool edns, int64_t now_ms,
                 const ServerState* known = nullptr, bool hedge = false);
  /// The hedge timer of `pending` fired: sends the task's question to
  /// another server (the same one if it is the only one), within the
  /// worker's hedge budget.
  void sendHedge(Pending& pending, int64_t now_ms);
  /// Queries of `task` out and not timed out.
  size_t inFlight(const Task& task) const;
  bool resolveNsAddresses(Task& task, int64_t now_ms);
  void handleReply(Task& task, const Pending& pending, const Reply& reply, int64_t now_ms);
  void handleReferral(Task& task, const SentQuestion& sent, const Classified& referral,
                      int64_t now_ms);
  /// A minimised question answered: one label deeper, or the referral.
  void handleMinimised(Task& task, const Pending& pending, const Classified& reply, int64_t now_ms);
  /// Validates a final reply (answer, chain, negative), caches what it
  /// holds with its status and moves the task on; holds the reply and
  /// waits when keys must be fetched first.
  void settle(Task& task, Held held, int64_t now_ms);
  void applyVerdict(Task& task, const Held& held, const ReplyVerdict& verdict, int64_t now_ms);
  /// Starts (or joins) the sub-task for a key question; false when it was
  /// already waited for, or would wait on itself.
  bool awaitKey(Task& task, const KeyQuestion& question);
  /// Starts the DNSKEY fetch of the task's zone cut if validation will need
  /// it (a task of its own, nobody waiting).
  void prefetchKeys(Task& task, int64_t now_ms);
  /// True if `task`, or a task it serves (directly or not), asks (qname, qtype).
  bool waitsFor(const Task& task, const dns::Name& qname, uint16_t qtype) const;
  /// Starts (or joins) the sub-task for (qname, qtype) and makes `task` wait for it.
  Task& startSubTask(Task& task, const dns::Name& qname, uint16_t qtype);
  void cacheGlue(const std::vector<Rrset>& glue, int64_t now_ms);
  void finish(Task& task, Outcome outcome, int64_t now_ms);
  void fail(Task& task, uint16_t ede, const char* why, int64_t now_ms);
  /// An answer from expired cache data (RFC 8767), if serve-stale is on and
  /// the cache still holds some for the question.
  /// Serve-stale (RFC 8767) for the question, from the partitions of
  /// `ecs` (RFC 7871 answers go stale like any other).
  std::optional<Outcome> staleOutcome(const dns::Name& qname, uint16_t qtype, const ClientEcs& ecs,
                                      int64_t now_ms, uint32_t max_stale_s = 0);
  /// The worker is at EngineConfig::max_resolutions: `client` gets a
  /// stale answer if the cache has one (up to kOverloadStaleS old), else
  /// SERVFAIL at once. Counted.
  void shed(Client& client, int64_t now_ms);
  void answerClient(Client& client, const Outcome& given);
  /// Answers `client` from stale data if there is some (RFC 8767); it
  /// leaves its task, which goes on. False when there is none.
  bool answerStale(uint64_t client_id, int64_t now_ms);
  /// A client left its task (answered early, at its deadline or from
  /// stale data): the task goes on in the background if nobody else waits
  /// and its deadline and the worker's load allow, else it is dropped.
  void leaveTask(uint64_t client_id, uint32_t task_id, int64_t now_ms);
  /// Removes the query entirely (answered, failed): no task waits any more.
  /// `linger`: a query still out and not timed out stays, without tasks,
  /// until its reply or RTO (the server's statistics).
  void dropPending(uint64_t token, bool linger = false);
  /// One task stops waiting; the query is cancelled when nobody waits.
  void detachPending(uint32_t task_id, uint64_t token);
  /// The query's wire form; `cookie` with the client cookie and the
  /// server's last cookie (RFC 7873 section 5.1) when not null.
  struct QueryCookie {
    dns::ClientCookie client;
    std::span<const uint8_t> server;
  };
  std::vector<uint8_t> buildQuery(const dns::Name& qname, uint16_t qtype, uint16_t id, bool edns,
                                  const dns::ClientSubnet* ecs, bool rd,
                                  const QueryCookie* cookie = nullptr);
  /// A reply failing the 0x20 (`case_echoed` false) or cookie checks
  /// (issue 15): counted and handled; true if it must not be used.
  bool spoofingSuspected(const Pending& sent, const Reply& reply, bool case_echoed, uint64_t token,
                         int64_t now_ms);
  /// Whether the rebinding guard refuses `reply` (EngineConfig::private_addresses).
  bool rebindingBlocked(const Reply& reply) const;

  const EngineConfig& config_;
  RecordCache records_;
  ServerStats servers_;
  ServerSelector selector_;
  Validator validator_;
  std::vector<uint16_t> anchor_tags_;  // of the root's trust anchors (RFC 8509)
  std::mt19937_64 rng_;          // server exploration: repeatable in tests
  base::SecureRandom secure_;    // what a spoofer must guess: IDs, 0x20 bits
  Engine::Stats stats_;

  uint32_t next_task_ = 1;
  uint64_t next_token_ = 1;
  std::unordered_map<uint32_t, std::unique_ptr<Task>> tasks_;
  std::map<TaskKey, uint32_t> task_by_question_;
  std::unordered_map<uint64_t, Client> clients_;
  std::unordered_map<uint64_t, Pending> pending_;
  // Identical questions to the same server share one query (coalescing):
  // (server, transport, EDNS, qname, qtype, zone) -> token.
  std::unordered_map<std::string, uint64_t> pending_by_question_;
  std::multimap<int64_t, Timer> timers_;
  std::map<std::string, RangeFlight> range_flights_;
  std::vector<uint8_t> gap_scratch_;
  double hedge_tokens_ = 0;  // hedges the worker may send now (kHedgeShare, kHedgeBurst)

  std::vector<uint32_t> ready_;  // tasks to (re)run at the end of the event
  std::vector<UpstreamSend> sends_;
  std::vector<ClientAnswer> answers_;
  std::vector<Cancel> cancels_;
};

}  // namespace shoal::resolver
