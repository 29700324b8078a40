#include "collapse/divert.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace shoal::collapse {
namespace {

// Netlink messages are read into buffers of this size (libmnl suggests
// the page size, at most 8 KiB: MNL_SOCKET_BUFFER_SIZE).
constexpr size_t kNetlinkBuffer = 8192;
// Batches: a worker's element changes (at most 2 messages of 500 IPv6
// elements, 52 octets each), and the supervisor's rules (2 sets and 2
// rules per worker and family, 256 workers).
constexpr size_t kSmallBatch = 64 * 1024;
constexpr size_t kInstallBatch = 1024 * 1024;

constexpr const char* kTable = "shoal";
constexpr const char* kChain = "divert";
// Before connection tracking (-200): a segment of a collapsed connection
// is sent to its worker before anything else looks at it.
constexpr int kPriority = -300;
// nftables' data types, for `nft list` to print the set's elements.
constexpr uint32_t kTypeBits = 6;
constexpr uint32_t kTypeIpv4 = 7;
constexpr uint32_t kTypeIpv6 = 8;
constexpr uint32_t kTypeService = 13;

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

/// One netlink socket and a batch of nftables messages: sent at once,
/// applied all or nothing by the kernel, each acknowledged.
class Netlink {
 public:
  bool open(std::string* error) {
    socket_ = mnl_socket_open(NETLINK_NETFILTER);
    if (socket_ == nullptr) {
      *error = errnoText("netlink");
      return false;
    }
    if (mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
      *error = errnoText("netlink bind");
      return false;
    }
    // A kernel that never answers must not hang the caller.
    timeval timeout{1, 0};
    setsockopt(mnl_socket_get_fd(socket_), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    port_id_ = mnl_socket_get_portid(socket_);
    return true;
  }
  ~Netlink() {
    if (socket_ != nullptr) mnl_socket_close(socket_);
  }
  mnl_socket* release() {
    mnl_socket* s = socket_;
    socket_ = nullptr;
    return s;
  }
  mnl_socket* socket() const { return socket_; }
  unsigned portId() const { return port_id_; }

 private:
  mnl_socket* socket_ = nullptr;
  unsigned port_id_ = 0;
};

class Batch {
 public:
  /// Messages go into `buffer` (kept by the caller, reused) up to `limit`
  /// octets.
  Batch(uint32_t seq, std::vector<char>& buffer, size_t limit) : seq_(seq) {
    // libmnl writes a message before next() checks it against the limit:
    // the buffer holds twice the limit.
    if (buffer.size() < 2 * limit) buffer.resize(2 * limit);
    batch_ = mnl_nlmsg_batch_start(buffer.data(), limit);
    nftnl_batch_begin(current(), seq_++);
    next();
  }
  ~Batch() { mnl_nlmsg_batch_stop(batch_); }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  /// A message header to fill in; the payload is added by the caller.
  nlmsghdr* header(uint16_t type, uint16_t family, uint16_t flags) {
    last_seq_ = seq_;
    return nftnl_nlmsg_build_hdr(current(), type, family, flags | NLM_F_ACK, seq_++);
  }
  /// After the caller filled the message in; false when the buffer is full.
  bool next() { return mnl_nlmsg_batch_next(batch_); }

  /// Sends the batch and reads every acknowledgement; the first error.
  bool run(mnl_socket* socket, unsigned port_id, std::string* error) {
    nftnl_batch_end(current(), seq_++);
    next();
    // Whatever an earlier batch left unread (acknowledgements after its
    // first error) must not be taken for this one's.
    std::vector<char> reply(kNetlinkBuffer);
    while (recv(mnl_socket_get_fd(socket), reply.data(), reply.size(), MSG_DONTWAIT) > 0) {
    }
    if (mnl_socket_sendto(socket, mnl_nlmsg_batch_head(batch_), mnl_nlmsg_batch_size(batch_)) <
        0) {
      *error = errnoText("netlink send");
      return false;
    }
    // Every message asked for an acknowledgement: read until the last
    // one's, or the first error (the kernel then applies nothing; an error
    // may come for a message that asked for nothing, e.g. the batch's
    // start without CAP_NET_ADMIN).
    for (;;) {
      const ssize_t n = mnl_socket_recvfrom(socket, reply.data(), reply.size());
      if (n <= 0) {
        *error = errnoText("netlink receive");
        return false;
      }
      int remaining = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(reply.data()); mnl_nlmsg_ok(h, remaining);
           h = mnl_nlmsg_next(h, &remaining)) {
        if (h->nlmsg_pid != port_id || h->nlmsg_type != NLMSG_ERROR) continue;
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
        if (e->error != 0) {
          errno = -e->error;
          *error = errnoText("nftables");
          return false;
        }
        if (h->nlmsg_seq == last_seq_) return true;
      }
    }
  }
  uint32_t seq() const { return seq_; }

 private:
  char* current() { return static_cast<char*>(mnl_nlmsg_batch_current(batch_)); }

  mnl_nlmsg_batch* batch_ = nullptr;
  uint32_t seq_;
  uint32_t last_seq_ = 0;
};

std::string setName(unsigned slot) { return "w" + std::to_string(slot); }

void addPayload(nftnl_rule* rule, uint32_t base, uint32_t offset, uint32_t length, uint32_t reg) {
  nftnl_expr* e = nftnl_expr_alloc("payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, length);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
  nftnl_rule_add_expr(rule, e);
}

/// `meta l4proto tcp <family's tuple> @set queue num N bypass`
nftnl_rule* divertRule(uint16_t family, const std::string& set, uint32_t set_id, uint16_t queue,
                       bool native_queue) {
  nftnl_rule* rule = nftnl_rule_alloc();
  nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, kTable);
  nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, kChain);
  nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, family);

  nftnl_expr* meta = nftnl_expr_alloc("meta");
  nftnl_expr_set_u32(meta, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
  nftnl_expr_set_u32(meta, NFTNL_EXPR_META_DREG, NFT_REG_1);
  nftnl_rule_add_expr(rule, meta);
  nftnl_expr* cmp = nftnl_expr_alloc("cmp");
  nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
  const uint8_t tcp = IPPROTO_TCP;
  nftnl_expr_set(cmp, NFTNL_EXPR_CMP_DATA, &tcp, sizeof tcp);
  nftnl_rule_add_expr(rule, cmp);

  // The concatenation, one 32-bit register per 4 octets (a port takes one).
  const bool v4 = family == NFPROTO_IPV4;
  const uint32_t address = v4 ? 4 : 16;
  const uint32_t words = address / 4;
  addPayload(rule, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 12 : 8, address, NFT_REG32_00);
  addPayload(rule, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NFT_REG32_00 + words);
  addPayload(rule, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, address, NFT_REG32_00 + words + 1);
  addPayload(rule, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_00 + 2 * words + 1);

  nftnl_expr* lookup = nftnl_expr_alloc("lookup");
  nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
  nftnl_expr_set_str(lookup, NFTNL_EXPR_LOOKUP_SET, set.c_str());
  nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
  nftnl_rule_add_expr(rule, lookup);

  if (native_queue) {
    nftnl_expr* q = nftnl_expr_alloc("queue");
    nftnl_expr_set_u16(q, NFTNL_EXPR_QUEUE_NUM, queue);
    nftnl_expr_set_u16(q, NFTNL_EXPR_QUEUE_TOTAL, 1);
    nftnl_expr_set_u16(q, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
    nftnl_rule_add_expr(rule, q);
  } else {
    nftnl_expr* target = nftnl_expr_alloc("target");
    nftnl_expr_set_str(target, NFTNL_EXPR_TG_NAME, "NFQUEUE");
    nftnl_expr_set_u32(target, NFTNL_EXPR_TG_REV, 3);
    // libnftnl takes the buffer (and frees it).
    auto* info = static_cast<xt_NFQ_info_v3*>(std::calloc(1, sizeof(xt_NFQ_info_v3)));
    info->queuenum = queue;
    info->queues_total = 1;
    info->flags = NFQ_FLAG_BYPASS;
    nftnl_expr_set(target, NFTNL_EXPR_TG_INFO, info, sizeof *info);
    nftnl_rule_add_expr(rule, target);
  }
  return rule;
}

void deleteTables(Netlink& nl, uint32_t seq) {
  std::vector<char> buffer;
  for (const uint16_t family : {uint16_t{NFPROTO_IPV4}, uint16_t{NFPROTO_IPV6}}) {
    Batch batch(seq, buffer, kSmallBatch);
    nftnl_table* table = nftnl_table_alloc();
    nftnl_table_set_str(table, NFTNL_TABLE_NAME, kTable);
    nftnl_table_set_u32(table, NFTNL_TABLE_FAMILY, family);
    nftnl_table_nlmsg_build_payload(batch.header(NFT_MSG_DELTABLE, family, 0), table);
    nftnl_table_free(table);
    batch.next();
    std::string ignored;  // absent: nothing to delete
    batch.run(nl.socket(), nl.portId(), &ignored);
    seq = batch.seq();
  }
}

bool installTables(Netlink& nl, unsigned workers, uint16_t first_queue, bool native_queue,
                   std::string* error) {
  std::vector<char> buffer;
  Batch batch(1000, buffer, kInstallBatch);
  uint32_t set_id = 1;
  for (const uint16_t family : {uint16_t{NFPROTO_IPV4}, uint16_t{NFPROTO_IPV6}}) {
    nftnl_table* table = nftnl_table_alloc();
    nftnl_table_set_str(table, NFTNL_TABLE_NAME, kTable);
    nftnl_table_set_u32(table, NFTNL_TABLE_FAMILY, family);
    nftnl_table_nlmsg_build_payload(batch.header(NFT_MSG_NEWTABLE, family, NLM_F_CREATE), table);
    nftnl_table_free(table);
    if (!batch.next()) {
      *error = "too many workers for one netlink batch";
      return false;
    }

    nftnl_chain* chain = nftnl_chain_alloc();
    nftnl_chain_set_str(chain, NFTNL_CHAIN_TABLE, kTable);
    nftnl_chain_set_str(chain, NFTNL_CHAIN_NAME, kChain);
    nftnl_chain_set_str(chain, NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(chain, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
    nftnl_chain_set_s32(chain, NFTNL_CHAIN_PRIO, kPriority);
    nftnl_chain_set_u32(chain, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nftnl_chain_nlmsg_build_payload(batch.header(NFT_MSG_NEWCHAIN, family, NLM_F_CREATE), chain);
    nftnl_chain_free(chain);
    if (!batch.next()) {
      *error = "too many workers for one netlink batch";
      return false;
    }

    const bool v4 = family == NFPROTO_IPV4;
    const uint32_t address_type = v4 ? kTypeIpv4 : kTypeIpv6;
    const uint32_t key_type = address_type << (3 * kTypeBits) | kTypeService << (2 * kTypeBits) |
                              address_type << kTypeBits | kTypeService;
    for (unsigned slot = 0; slot < workers; ++slot) {
      const std::string name = setName(slot);
      nftnl_set* set = nftnl_set_alloc();
      nftnl_set_set_str(set, NFTNL_SET_TABLE, kTable);
      nftnl_set_set_str(set, NFTNL_SET_NAME, name.c_str());
      nftnl_set_set_u32(set, NFTNL_SET_FAMILY, family);
      nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, v4 ? 16 : 40);
      nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, key_type);
      nftnl_set_set_u32(set, NFTNL_SET_ID, set_id);
      nftnl_set_nlmsg_build_payload(
          batch.header(NFT_MSG_NEWSET, family, NLM_F_CREATE | NLM_F_EXCL), set);
      nftnl_set_free(set);
      if (!batch.next()) {
        *error = "too many workers for one netlink batch";
        return false;
      }

      nftnl_rule* rule = divertRule(family, name, set_id, static_cast<uint16_t>(first_queue + slot),
                                    native_queue);
      nftnl_rule_nlmsg_build_payload(
          batch.header(NFT_MSG_NEWRULE, family, NLM_F_APPEND | NLM_F_CREATE), rule);
      nftnl_rule_free(rule);
      if (!batch.next()) {
        *error = "too many workers for one netlink batch";
        return false;
      }
      ++set_id;
    }
  }
  return batch.run(nl.socket(), nl.portId(), error);
}

}  // namespace

bool DivertRules::install(unsigned workers, uint16_t first_queue, std::string* error) {
  Netlink nl;
  if (!nl.open(error)) return false;
  deleteTables(nl, 1);
  // nftables' own queue expression first; kernels built without it
  // (CONFIG_NFT_QUEUE unset) still have xtables' NFQUEUE target.
  std::string native_error;
  if (installTables(nl, workers, first_queue, true, &native_error)) return true;
  if (errno == EPERM) {  // no CAP_NET_ADMIN: nothing else will do
    *error = native_error;
    return false;
  }
  if (installTables(nl, workers, first_queue, false, error)) return true;
  *error = "queue expression: " + native_error + "; NFQUEUE target: " + *error;
  return false;
}

void DivertRules::remove() {
  Netlink nl;
  std::string ignored;
  if (nl.open(&ignored)) deleteTables(nl, 1);
}

std::unique_ptr<DivertSet> DivertSet::open(unsigned slot, std::string* error) {
  Netlink nl;
  if (!nl.open(error)) return nullptr;
  std::unique_ptr<DivertSet> set(new DivertSet());
  set->port_id_ = nl.portId();
  set->socket_ = nl.release();
  set->set_name_ = setName(slot);
  set->seq_ = 1;
  // The sets must exist; they are emptied only once the worker has its
  // queue (Collapser), not while a predecessor may still serve from them.
  if (!set->exists(error)) return nullptr;
  return set;
}

bool DivertSet::exists(std::string* error) {
  for (const uint16_t family : {uint16_t{NFPROTO_IPV4}, uint16_t{NFPROTO_IPV6}}) {
    alignas(nlmsghdr) char request[512];
    const uint32_t seq = seq_++;
    nlmsghdr* h = nftnl_nlmsg_build_hdr(request, NFT_MSG_GETSET, family, NLM_F_ACK, seq);
    mnl_attr_put_strz(h, NFTA_SET_TABLE, kTable);
    mnl_attr_put_strz(h, NFTA_SET_NAME, set_name_.c_str());
    if (mnl_socket_sendto(socket_, h, h->nlmsg_len) < 0) {
      *error = errnoText("netlink send");
      return false;
    }
    // The set (a NEWSET message) and then the acknowledgement, or an error.
    std::vector<char> reply(kNetlinkBuffer);
    for (bool done = false; !done;) {
      const ssize_t n = mnl_socket_recvfrom(socket_, reply.data(), reply.size());
      if (n <= 0) {
        *error = errnoText("netlink receive");
        return false;
      }
      int remaining = static_cast<int>(n);
      for (auto* r = reinterpret_cast<nlmsghdr*>(reply.data()); mnl_nlmsg_ok(r, remaining);
           r = mnl_nlmsg_next(r, &remaining)) {
        if (r->nlmsg_seq != seq || r->nlmsg_type != NLMSG_ERROR) continue;
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(r));
        if (e->error != 0) {
          errno = -e->error;
          *error = std::string("set ") + (family == NFPROTO_IPV4 ? "ip" : "ip6") + " shoal " +
                   set_name_ + ": " + errnoText("nftables");
          return false;
        }
        done = true;
      }
    }
  }
  return true;
}

DivertSet::~DivertSet() {
  if (socket_ != nullptr) mnl_socket_close(socket_);
}

bool DivertSet::change(uint16_t message, std::span<const ConnTuple> tuples, uint8_t family,
                       std::string* error) {
  const uint16_t nf_family = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
  // At most kPerMessage elements a message (an element takes 28 octets
  // for IPv4, 52 for IPv6, and the element list's length is 16 bits) and a
  // batch of such messages per transaction, within the batch's buffer.
  constexpr size_t kPerMessage = 500;
  size_t at = 0;
  while (at < tuples.size()) {
    Batch batch(seq_, buffer_, kSmallBatch);
    size_t in_batch = 0;
    while (at < tuples.size() && in_batch < 2) {
      nftnl_set* set = nftnl_set_alloc();
      nftnl_set_set_str(set, NFTNL_SET_TABLE, kTable);
      nftnl_set_set_str(set, NFTNL_SET_NAME, set_name_.c_str());
      nftnl_set_set_u32(set, NFTNL_SET_FAMILY, nf_family);
      size_t count = 0;
      for (; at < tuples.size() && count < kPerMessage; ++at) {
        if (tuples[at].family != family) continue;
        uint8_t key[40];
        const size_t key_length = tuples[at].setKey(key);
        nftnl_set_elem* element = nftnl_set_elem_alloc();
        nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, key, static_cast<uint32_t>(key_length));
        nftnl_set_elem_add(set, element);
        ++count;
      }
      if (count > 0) {
        nftnl_set_elems_nlmsg_build_payload(
            batch.header(message, nf_family, message == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0),
            set);
        ++in_batch;
        if (!batch.next()) {
          nftnl_set_free(set);
          *error = "netlink batch full";
          return false;
        }
      }
      nftnl_set_free(set);
    }
    if (in_batch == 0) break;
    const bool ok = batch.run(socket_, port_id_, error);
    seq_ = batch.seq();
    if (!ok) return false;
  }
  return true;
}

bool DivertSet::add(const ConnTuple& tuple, std::string* error) {
  return change(NFT_MSG_NEWSETELEM, {&tuple, 1}, tuple.family, error);
}

bool DivertSet::remove(const ConnTuple& tuple, std::string* error) {
  if (change(NFT_MSG_DELSETELEM, {&tuple, 1}, tuple.family, error)) return true;
  return error->find(std::strerror(ENOENT)) != std::string::npos;  // gone already
}

bool DivertSet::removeMany(std::span<const ConnTuple> tuples, std::string* error) {
  // A batch is all or nothing: should one element be missing, each goes
  // on its own.
  bool ok = true;
  for (const uint8_t family : {uint8_t{AF_INET}, uint8_t{AF_INET6}}) {
    if (change(NFT_MSG_DELSETELEM, tuples, family, error)) continue;
    for (const ConnTuple& tuple : tuples) {
      if (tuple.family == family && !remove(tuple, error)) ok = false;
    }
  }
  return ok;
}

bool DivertSet::flush(std::string* error) {
  for (const uint16_t family : {uint16_t{NFPROTO_IPV4}, uint16_t{NFPROTO_IPV6}}) {
    Batch batch(seq_, buffer_, kSmallBatch);
    // A deletion naming no element empties the set.
    nlmsghdr* h = batch.header(NFT_MSG_DELSETELEM, family, 0);
    mnl_attr_put_strz(h, NFTA_SET_ELEM_LIST_TABLE, kTable);
    mnl_attr_put_strz(h, NFTA_SET_ELEM_LIST_SET, set_name_.c_str());
    batch.next();
    const bool ok = batch.run(socket_, port_id_, error);
    seq_ = batch.seq();
    if (!ok) {
      *error = "set " + std::string(family == NFPROTO_IPV4 ? "ip" : "ip6") + " shoal " +
               set_name_ + ": " + *error;
      return false;
    }
  }
  return true;
}

}  // namespace shoal::collapse
