#!/usr/bin/env python3
"""The clients and the chaos of bench/chaos-soak.sh (issue 15).

    chaos_soak.py --port P --tls-port T --https-port H --cert FILE
                  --supervisor PID --shoal-bin PATH --shoalctl PATH
                  --config FILE --queries FILE --lab-dir DIR --out FILE
                  [--duration S] [--seed N] [rates and periods]
        Plays stub resolvers against a running shoal for --duration seconds
        while it kills, reloads and upgrades it, samples its memory, and
        writes everything it saw to --out (JSON), which
        bench/chaos_report.py reads.

The traffic (open loop: Poisson arrivals at fixed mean rates, so that a
stalled resolver does not slow the clients down):
  udp    each query from a socket of its own (a new source port, as stubs
         do: SO_REUSEPORT spreads them over the workers), 3 tries of 1 s
         each on that socket, any reply with the query's ID and question
         taken (also a late reply to an earlier try);
  tcp    pipelined DNS over TCP on a few long-lived connections;
  dot    the same over TLS (the certificate verified, ALPN "dot");
  doh    HTTP/2 over TLS (ALPN "h2"), POST and GET on /dns-query, one
         stream per query, on a few long-lived connections.
  Over tcp, dot and doh a query that gets no answer on its try (its
  connection closed or was reset, a GOAWAY left its stream unprocessed, an
  HTTP status other than 200, or no answer within --stream-timeout) is sent
  once more on a new connection. Each connection is closed by its client
  after 20 to 200 queries and a new one opened (handshake churn).
Every transport carries the same mix of questions:
  plain  the lab's 4000 bulk names (85 %) and its feature names: CNAME
         chains, DNAME, wildcard, an empty non-terminal, NXDOMAIN, a TTL of
         2 s, glueless, TCP-only, half-lame, unsigned and insecure zones,
         and three names that must fail (bogus and expired signatures, a
         lame delegation); a 3 KB TXT over the stream transports only;
  junk   names that do not exist, from bench/junk_mix.py (half under
         TLDs the lab does not have, half under NSEC and NSEC3 zones);
  ecs    www.geo.com and many.geo.com A with an EDNS Client Subnet option
         for a /24 (or an IPv6 /56) in one of the 43 networks geo.com
         answers for (scope 16 or 32): more partitions than the cache keeps
         per name, expiring every minute (TTL 60).
Every answer is checked against the lab's data: the rcode (SERVFAIL only
for the three names that must fail, NXDOMAIN for junk) and, for A queries,
the addresses.

"Lost": no answer after every try (3 for UDP, 2 for the stream transports).
A try that got no answer is a first-try failure, attributed to what
happened meanwhile (from the try's send to its failure, give or take
0.2 s): a kill, a reload, the upgrade, or nothing.

The chaos: SIGKILL to a random worker every --kill-every seconds; the
upgrade (`shoalctl upgrade`, a fresh copy of the binary installed over the
path shoal runs from) at --upgrade-at seconds; a reload (`shoalctl reload`,
alternating server.tcp_idle_timeout between two values so that each reload
changes a setting) every --reload-every seconds from --reload-every minus
20 s on. A reload or upgrade that fails because a kill hit the worker it
was starting is retried at once (at most 3 tries) and counted.

Memory: every --sample-every seconds, VmRSS, RssAnon and RssShmem and the
open descriptors of the supervisor and of each worker (from /proc), and
the shared cache's entries, bytes and fill (`shoalctl status --json`).

Python 3 standard library, and python3-h2 (Debian) for DNS over HTTPS.
"""
import argparse
import asyncio
import base64
import collections
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "tests", "integration")]
import ecs_bench  # noqa: E402  (ECS option, A records and ECS of a reply)
import junk_mix  # noqa: E402  (names that do not exist, against the lab's zones)
import loss_bench  # noqa: E402  (reply parser: ID, rcode, question)
import tcp_qps_bench  # noqa: E402  (CPU time of processes and of the machine)
from shoal_harness import (build_query, children_of, process_name,  # noqa: E402
                           started_at)

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
TRANSPORTS = ("udp", "tcp", "dot", "doh")
TITLES = {"udp": "UDP", "tcp": "TCP", "dot": "DoT", "doh": "DoH"}
KINDS = ("plain", "junk", "ecs")
HOSTNAME = "shoal.test"  # the certificate's name
UDP_TRIES, UDP_TIMEOUT = 3, 1.0
STREAM_TRIES = 2
NEAR = 0.2  # seconds either side of a try in which a kill or an operation counts
LAG_GRACE_YIELDS = 3  # loop turns given to an answer already read when a deadline fires


# --------------------------------------------------------------------------
# Questions and what the lab must answer
# --------------------------------------------------------------------------

def addr(n):
    return f"192.0.2.{n}"


# (name, type, rcode, A addresses or None (not checked), stream transports only)
FEATURES = [
    ("www.example.com.", "A", "NOERROR", {addr(10)}, False),
    ("www.example.com.", "AAAA", "NOERROR", None, False),
    ("c1.example.com.", "A", "NOERROR", {addr(10)}, False),            # CNAME chain
    ("cross.example.com.", "A", "NOERROR", {addr(20)}, False),         # CNAME to .net
    ("www.dname.example.com.", "A", "NOERROR", {addr(20)}, False),     # DNAME
    ("short.example.com.", "A", "NOERROR", {addr(5)}, False),          # TTL 2
    ("a.b.ent.example.com.", "A", "NOERROR", {addr(99)}, False),
    ("ent.example.com.", "A", "NOERROR", set(), False),                # NODATA
    ("nxdomain.example.com.", "A", "NXDOMAIN", set(), False),
    ("www.example.net.", "A", "NOERROR", {addr(20)}, False),
    ("www.example.org.", "A", "NOERROR", {addr(30)}, False),
    ("www.example.info.", "A", "NOERROR", {addr(40)}, False),          # unsigned
    ("www.insecure.com.", "A", "NOERROR", {addr(50)}, False),
    ("www.optout-insecure.org.", "A", "NOERROR", {addr(51)}, False),
    ("www.halflame.com.", "A", "NOERROR", {addr(62)}, False),          # one server REFUSED
    ("www.glueless.com.", "A", "NOERROR", {addr(63)}, False),
    ("www.tcponly.com.", "A", "NOERROR", {addr(64)}, False),           # upstream over TCP
    ("www.bogus-sig.com.", "A", "SERVFAIL", None, False),              # must fail
    ("www.expired.com.", "A", "SERVFAIL", None, False),                # must fail
    ("www.lame.com.", "A", "SERVFAIL", None, False),                   # must fail
    ("big.example.com.", "TXT", "NOERROR", None, True),                # 3 KB: TC over UDP
] + [(f"w{i}.wild.example.com.", "A", "NOERROR", {addr(77)}, False) for i in range(10)]

BULK = re.compile(r"^h(\d{3})\.bulk(\d{2})\.[a-z]+\.$")
# The client networks geo.com has an answer of its own for (lab README):
# www.geo.com for 11.1.0.0/16, 11.2.0.0/16, 11.N.0.0/16 (N = 10..49) and
# 2a01:1::/32 ("v6"), many.geo.com for 11.N.0.0/16 only; each answer with
# a scope of 16 (32). Other networks get the zone's data with scope 0,
# which by RFC 7871 (section 7.3.1) is an answer for every client: once
# cached, the global answer would rightly be given to the networks above
# too. So only these are asked.
ECS_NETS = {"www.geo.com.": [1, 2] + list(range(10, 50)) + ["v6"],
            "many.geo.com.": list(range(10, 50))}


def ecs_expect(name, net):
    """The A address geo.com gives `name` for client network 11.net.0.0/16
    (or 2a01:1::/32)."""
    if net == "v6":
        return addr(6)
    if 10 <= net <= 49:
        return f"192.0.3.{net}"
    return addr(net)


class Questions:
    """Draws questions of each kind; each is (kind, name, type, subnet,
    expected rcode, expected A addresses or None)."""

    def __init__(self, queries_file, lab_dir, junk_count, seed):
        self.rng = random.Random(seed)
        self.bulk = []
        for line in open(queries_file):
            fields = line.split()
            if fields:
                self.bulk.append(fields[0].lower().rstrip(".") + ".")
        lab = junk_mix.Lab(lab_dir)
        rng = random.Random(seed + 1)
        self.junk = []
        for part, share in (("tld", 2), ("nsec", 1), ("nsec3", 1)):
            names, _zones = junk_mix.make_part(rng, lab, part, max(1, junk_count * share // 4))
            self.junk += names
        self.rng.shuffle(self.junk)
        self.junk_next = 0

    def draw(self, kind, stream):
        rng = self.rng
        if kind == "junk":
            name, qtype = self.junk[self.junk_next % len(self.junk)]
            self.junk_next += 1
            return (kind, name, qtype, None, "NXDOMAIN", None)
        if kind == "ecs":
            name = rng.choice(sorted(ECS_NETS))
            net = rng.choice(ECS_NETS[name])
            if net == "v6":
                subnet = f"2a01:1:{rng.randrange(65536):x}::/56"
            else:
                subnet = f"11.{net}.{rng.randrange(256)}.0/24"
            return (kind, name, "A", subnet, "NOERROR", {ecs_expect(name, net)})
        if rng.random() < 0.85:
            name = rng.choice(self.bulk)
            m = BULK.match(name)
            return (kind, name, "A", None, "NOERROR",
                    {f"198.18.{int(m.group(2))}.{int(m.group(1)) + 1}"} if m else None)
        while True:
            name, qtype, rcode, addrs, streams_only = rng.choice(FEATURES)
            if stream or not streams_only:
                return (kind, name, qtype, None, rcode, addrs)


def make_query(qid, name, qtype, subnet):
    """A stub's query: RD, EDNS(0) with a 1232-octet buffer, DO clear, the
    client's subnet (ECS, RFC 7871) when given."""
    wire = build_query(name, QTYPES[qtype], qid=qid, edns=False)
    options = b""
    if subnet:
        payload = ecs_bench.ecs_payload(subnet)
        options = struct.pack(">HH", 8, len(payload)) + payload
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(options)) + options
    return wire[:10] + struct.pack(">H", 1) + wire[12:] + opt


def question_of(wire):
    """The question section of a query we built (lower case)."""
    return wire[12:loss_bench.skip_name(wire, 12) + 4].lower()


def read_reply(data, qid, question):
    """(rcode name, A addresses, TC) of a reply to (qid, question), or None
    when it is not one."""
    try:
        reply_id, rcode, reply_question, _records, _ede = loss_bench.parse_reply(data)
        if reply_id != qid or reply_question != question:
            return None
        parsed = ecs_bench.parse(data)
    except (ValueError, struct.error, IndexError):
        return None
    tc = bool(struct.unpack(">H", data[2:4])[0] & 0x0200)
    return parsed["rcode"], parsed["addrs"], tc


# --------------------------------------------------------------------------
# Stream transports: DNS over TCP, DNS over TLS, DNS over HTTPS
# --------------------------------------------------------------------------

class Closed(Exception):
    """The try's connection (or stream) ended without its answer."""


class DnsStream:
    """One DNS over TCP or TLS connection: queries pipelined, answers
    matched by ID (RFC 7766)."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.pending = {}  # ID -> future of the reply
        self.dead = None  # why it ended
        self.task = asyncio.create_task(self.read())

    async def read(self):
        reason = "closed by the server"
        try:
            while True:
                head = await self.reader.readexactly(2)
                body = await self.reader.readexactly(struct.unpack(">H", head)[0])
                fut = self.pending.pop(struct.unpack(">H", body[:2])[0], None)
                if fut is not None and not fut.done():
                    fut.set_result(body)
        except asyncio.IncompleteReadError:
            pass
        except (OSError, ssl.SSLError) as e:
            reason = f"{type(e).__name__}: {e}"[:80]
        except asyncio.CancelledError:
            reason = "closed by the client"
        finally:
            self.end(reason)

    def end(self, reason):
        self.dead = self.dead or reason
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(Closed(self.dead))
        self.pending.clear()
        self.writer.close()

    async def ask(self, wire):
        if self.dead or self.writer.is_closing():
            raise Closed(self.dead or "closing")
        qid = random.randrange(65536)
        while qid in self.pending:
            qid = random.randrange(65536)
        fut = asyncio.get_running_loop().create_future()
        self.pending[qid] = fut
        wire = struct.pack(">H", qid) + wire[2:]
        self.writer.write(struct.pack(">H", len(wire)) + wire)
        try:
            return await fut, qid
        finally:
            if self.pending.get(qid) is fut:
                del self.pending[qid]

    async def close_when_idle(self, timeout):
        if self.pending:
            await asyncio.wait(list(self.pending.values()), timeout=timeout)
        self.task.cancel()


class DohStream:
    """One DNS over HTTPS connection (RFC 8484): HTTP/2 through h2, one
    stream per query, POST or GET."""

    def __init__(self, reader, writer):
        import h2.config
        import h2.connection
        self.reader, self.writer = reader, writer
        self.h2 = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.h2.initiate_connection()
        self.flush()
        self.streams = {}  # stream ID -> [future, status, body]
        self.dead = None
        self.task = asyncio.create_task(self.read())

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)

    async def read(self):
        import h2.events
        import h2.exceptions
        reason = "closed by the server"
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for event in self.h2.receive_data(data):
                    stream = self.streams.get(getattr(event, "stream_id", None))
                    if isinstance(event, h2.events.ResponseReceived) and stream:
                        stream[1] = dict(event.headers).get(":status")
                    elif isinstance(event, h2.events.DataReceived):
                        if stream:
                            stream[2] += event.data
                        self.h2.acknowledge_received_data(event.flow_controlled_length,
                                                          event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded) and stream:
                        del self.streams[event.stream_id]
                        if not stream[0].done():
                            if stream[1] == "200":
                                stream[0].set_result(bytes(stream[2]))
                            else:
                                stream[0].set_exception(Closed(f"HTTP status {stream[1]}"))
                    elif isinstance(event, h2.events.StreamReset) and stream:
                        del self.streams[event.stream_id]
                        if not stream[0].done():
                            stream[0].set_exception(Closed(f"stream reset ({event.error_code})"))
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        # GOAWAY: streams above last_stream_id were not
                        # processed; the others may still be answered.
                        self.dead = self.dead or "GOAWAY"
                        for sid in [s for s in self.streams if s > (event.last_stream_id or 0)]:
                            fut = self.streams.pop(sid)[0]
                            if not fut.done():
                                fut.set_exception(Closed("GOAWAY, stream not processed"))
                self.flush()
        except (OSError, ssl.SSLError) as e:
            reason = f"{type(e).__name__}: {e}"[:80]
        except h2.exceptions.ProtocolError as e:
            reason = f"HTTP/2 protocol error: {e}"[:80]
        except asyncio.CancelledError:
            reason = "closed by the client"
        finally:
            self.end(reason)

    def end(self, reason):
        self.dead = self.dead or reason
        for stream in self.streams.values():
            if not stream[0].done():
                stream[0].set_exception(Closed(self.dead))
        self.streams.clear()
        self.writer.close()

    @property
    def pending(self):
        return self.streams

    async def ask(self, wire, method):
        import h2.exceptions
        if self.dead or self.writer.is_closing():
            raise Closed(self.dead or "closing")
        qid = struct.unpack(">H", wire[:2])[0]
        try:
            sid = self.h2.get_next_available_stream_id()
            headers = [(":method", method), (":scheme", "https"), (":authority", HOSTNAME)]
            if method == "GET":
                dns = base64.urlsafe_b64encode(wire).rstrip(b"=").decode()
                headers += [(":path", f"/dns-query?dns={dns}"), ("accept", "application/dns-message")]
                self.h2.send_headers(sid, headers, end_stream=True)
            else:
                headers += [(":path", "/dns-query"), ("accept", "application/dns-message"),
                            ("content-type", "application/dns-message"),
                            ("content-length", str(len(wire)))]
                self.h2.send_headers(sid, headers)
                self.h2.send_data(sid, wire, end_stream=True)
        except h2.exceptions.H2Error as e:
            raise Closed(f"HTTP/2: {type(e).__name__}") from None
        fut = asyncio.get_running_loop().create_future()
        self.streams[sid] = [fut, None, bytearray()]
        self.flush()
        try:
            return await fut, qid
        finally:
            if sid in self.streams and self.streams[sid][0] is fut:
                del self.streams[sid]
                try:  # given up: tell the server
                    self.h2.reset_stream(sid)
                    self.flush()
                except h2.exceptions.H2Error:
                    pass

    async def close_when_idle(self, timeout):
        if self.streams:
            await asyncio.wait([s[0] for s in self.streams.values()], timeout=timeout)
        self.task.cancel()


class StreamSlot:
    """One stub on a stream transport: one connection at a time, opened
    when needed, replaced after `quota` queries (the old one closes once
    its answers are in)."""

    def __init__(self, soak, transport, rng):
        self.soak, self.transport, self.rng = soak, transport, rng
        self.conn = None
        self.connecting = None
        self.used = 0
        self.quota = rng.randint(20, 200)

    def usable(self, conn):
        return conn is not None and not conn.dead and not conn.writer.is_closing()

    async def connection(self):
        conn = self.conn
        if self.usable(conn) and self.used < self.quota:
            self.used += 1
            return conn
        if self.usable(conn):  # quota reached: a fresh one
            asyncio.create_task(conn.close_when_idle(self.soak.args.stream_timeout + 1))
            self.soak.count_connection(self.transport, "rotated")
        self.conn = None
        if self.connecting is None:
            self.connecting = asyncio.ensure_future(self.connect())
            self.connecting.add_done_callback(self.connected)
        conn = await asyncio.shield(self.connecting)
        self.used += 1
        return conn

    def connected(self, task):
        self.connecting = None
        if not task.cancelled() and task.exception() is None:
            self.conn = task.result()
            self.used = 0
            self.quota = self.rng.randint(20, 200)
        elif not task.cancelled():
            self.soak.count_connection(self.transport, "failed")

    async def connect(self):
        soak = self.soak
        port = {"tcp": soak.args.port, "dot": soak.args.tls_port,
                "doh": soak.args.https_port}[self.transport]
        ctx = {"tcp": None, "dot": soak.dot_ctx, "doh": soak.doh_ctx}[self.transport]
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname=HOSTNAME if ctx else None)
        soak.count_connection(self.transport, "opened")
        if self.transport == "doh":
            if writer.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
                writer.close()
                raise Closed("no h2 in ALPN")
            return DohStream(reader, writer)
        return DnsStream(reader, writer)


# --------------------------------------------------------------------------
# The soak
# --------------------------------------------------------------------------

class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.wall0 = time.time()
        self.end = self.t0 + args.duration
        rates = {"udp": args.udp_qps, "tcp": args.tcp_qps, "dot": args.dot_qps, "doh": args.doh_qps}
        self.rates = {t: r for t, r in rates.items() if r > 0}
        self.mix = {"plain": args.plain_share, "junk": args.junk_share, "ecs": args.ecs_share}
        total = sum(self.rates.values()) * args.duration
        self.questions = Questions(args.queries, args.lab_dir,
                                   int(total * self.mix["junk"] / sum(self.mix.values())) + 100,
                                   args.seed)
        self.dot_ctx = self.tls_context(["dot"])
        self.doh_ctx = self.tls_context(["h2"])
        self.slots = {t: [StreamSlot(self, t, random.Random(args.seed + 10 + i))
                          for i in range(args.connections)]
                      for t in ("tcp", "dot", "doh")}
        self.tasks = set()
        self.results = []  # one tuple per query, see record()
        self.failures = []  # the tries that got no answer
        self.unexpected = []  # answers other than the lab's
        self.kills = []  # (t, pid)
        self.operations = []  # {what, start, end, ok, tries, answer}
        self.samples = []
        self.connections = collections.Counter()
        self.lag = {"max_s": 0.0, "over_100ms": 0, "over_500ms": 0, "worst_at": None}
        self.reload_value = 0

    def now(self):
        return self.loop.time() - self.t0

    def tls_context(self, alpn):
        ctx = ssl.create_default_context(cafile=self.args.cert)
        ctx.set_alpn_protocols(alpn)
        return ctx

    def count_connection(self, transport, what):
        self.connections[f"{transport} {what}"] += 1

    def spawn(self, coro):
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- one query -----------------------------------------------------------

    async def udp_query(self, q):
        kind, name, qtype, subnet, _rcode, _addrs = q
        sent = self.now()
        qid = random.randrange(65536)
        wire = make_query(qid, name, qtype, subnet)
        question = question_of(wire)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", self.args.port))
            for attempt in range(1, UDP_TRIES + 1):
                t_try = self.now()
                deadline = self.loop.time() + UDP_TIMEOUT
                why = "no answer within 1 s"
                try:
                    sock.send(wire)
                except OSError as e:
                    why = f"send: {e.strerror}"
                reply = None
                while reply is None and why.startswith("no answer"):
                    remaining = deadline - self.loop.time()
                    try:
                        if remaining <= 0:
                            raise asyncio.TimeoutError
                        data = await asyncio.wait_for(self.loop.sock_recv(sock, 65535), remaining)
                    except asyncio.TimeoutError:
                        # The loop may have been late: take what already arrived.
                        try:
                            data = sock.recv(65535)
                        except (BlockingIOError, OSError):
                            break
                    except OSError as e:  # ICMP port unreachable: nothing bound
                        why = f"recv: {e.strerror}"
                        break
                    reply = read_reply(data, qid, question)
                if reply is not None:
                    return self.record(q, "udp", sent, attempt, reply)
                self.fail(q, "udp", attempt, t_try, why)
            return self.record(q, "udp", sent, UDP_TRIES, None)
        finally:
            sock.close()

    async def stream_query(self, transport, q):
        kind, name, qtype, subnet, _rcode, _addrs = q
        sent = self.now()
        slot = self.rng.choice(self.slots[transport])
        method = "GET" if transport == "doh" and self.rng.random() < 0.3 else "POST"
        for attempt in range(1, STREAM_TRIES + 1):
            t_try = self.now()
            qid = random.randrange(65536)
            wire = make_query(qid, name, qtype, subnet)
            task = asyncio.ensure_future(self.stream_try(slot, transport, wire, method))
            done, _ = await asyncio.wait({task}, timeout=self.args.stream_timeout)
            for _ in range(LAG_GRACE_YIELDS):  # an answer the loop has read but not handed over
                if done:
                    break
                await asyncio.sleep(0)
                done = {task} if task.done() else set()
            if not done:
                task.cancel()
                self.fail(q, transport, attempt, t_try,
                          f"no answer within {self.args.stream_timeout:g} s")
                continue
            try:
                data, used_id = task.result()
            except Closed as e:
                self.fail(q, transport, attempt, t_try, str(e))
                continue
            except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as e:
                self.fail(q, transport, attempt, t_try, f"connect: {type(e).__name__}")
                continue
            reply = read_reply(data, used_id, question_of(wire))
            if reply is None:
                self.fail(q, transport, attempt, t_try, "a reply that does not match")
                continue
            return self.record(q, transport, sent, attempt, reply)
        return self.record(q, transport, sent, STREAM_TRIES, None)

    async def stream_try(self, slot, transport, wire, method):
        conn = await slot.connection()
        if not slot.usable(conn):
            # It ended before the query left (the client saw its end first):
            # no try yet, a new connection.
            conn = await slot.connection()
        if transport == "doh":
            return await conn.ask(wire, method)
        return await conn.ask(wire)

    def fail(self, q, transport, attempt, t_try, why):
        self.failures.append((round(t_try, 3), round(self.now(), 3), transport, q[0], q[1], q[2],
                              attempt, why))

    def record(self, q, transport, sent, tries, reply):
        kind, name, qtype, subnet, want_rcode, want_addrs = q
        latency = self.now() - sent
        if reply is None:
            self.results.append((transport, kind, tries, None, False, None, round(sent, 3)))
            return
        rcode, addrs, tc = reply
        ok = rcode == want_rcode and (want_addrs is None or qtype != "A" or set(addrs) == want_addrs)
        if not ok and len(self.unexpected) < 2000:
            self.unexpected.append({"t": round(sent, 3), "transport": transport, "kind": kind,
                                    "name": name, "type": qtype, "subnet": subnet,
                                    "rcode": rcode, "addrs": addrs, "want_rcode": want_rcode,
                                    "want_addrs": sorted(want_addrs) if want_addrs else want_addrs,
                                    "tc": tc})
        self.results.append((transport, kind, tries, rcode, ok, round(latency, 5), round(sent, 3)))

    # -- the clients ---------------------------------------------------------

    async def generator(self, transport, rate, seed):
        rng = random.Random(seed)
        kinds = list(self.mix)
        weights = [self.mix[k] for k in kinds]
        at = self.loop.time()
        while True:
            at += rng.expovariate(rate)
            if at >= self.end:
                return
            delay = at - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            q = self.questions.draw(rng.choices(kinds, weights)[0], transport != "udp")
            if transport == "udp":
                self.spawn(self.udp_query(q))
            else:
                self.spawn(self.stream_query(transport, q))

    async def lag_monitor(self):
        """How late the client's own loop runs (a late loop makes late
        clients): the most it overslept a 50 ms nap."""
        while self.loop.time() < self.end + 10:
            before = self.loop.time()
            await asyncio.sleep(0.05)
            late = self.loop.time() - before - 0.05
            if late > self.lag["max_s"]:
                self.lag["max_s"], self.lag["worst_at"] = round(late, 3), round(self.now(), 1)
            self.lag["over_100ms"] += late > 0.1
            self.lag["over_500ms"] += late > 0.5

    # -- the chaos -----------------------------------------------------------

    def workers(self):
        return [p for p in children_of(self.args.supervisor) if process_name(p) != "shoal-localroot"]

    async def killer(self):
        rng = random.Random(self.args.seed + 2)
        at = self.loop.time()
        while True:
            at += self.args.kill_every
            if at >= self.end:
                return
            await asyncio.sleep(max(0.0, at - self.loop.time()))
            pids = await asyncio.to_thread(self.workers)
            if not pids:
                self.kills.append((round(self.now(), 3), None))
                continue
            victim = rng.choice(pids)
            try:
                os.kill(victim, signal.SIGKILL)
                self.kills.append((round(self.now(), 3), victim))
            except ProcessLookupError:
                pass

    def shoalctl(self, *args, timeout=120):
        p = subprocess.run([self.args.shoalctl, "--config", self.args.config, "--json", *args],
                           capture_output=True, text=True, timeout=timeout)
        try:
            answer = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            answer = None
        return p.returncode, answer, (p.stdout + p.stderr).strip()[-400:]

    def install_binary(self):
        """A fresh copy of the binary over the path shoal runs from, as a
        package upgrade does (a new inode; the old one lives on in the
        running processes)."""
        path = self.args.shoal_bin
        shutil.copy2(path, path + ".new")
        os.replace(path + ".new", path)

    def set_idle_timeout(self):
        """Each reload changes one setting: server.tcp_idle_timeout, 10 s or
        11 s in turn."""
        self.reload_value ^= 1
        with open(self.args.config) as f:
            text = f.read()
        text = re.sub(r'(?m)^tcp_idle_timeout = .*\n', "", text)
        text = text.replace("[server]\n", f'[server]\ntcp_idle_timeout = "{10 + self.reload_value}s"\n', 1)
        with open(self.args.config, "w") as f:
            f.write(text)

    async def operation(self, what):
        entry = {"what": what, "start": round(self.now(), 3), "tries": [], "ok": False}
        self.operations.append(entry)
        if what == "upgrade":
            await asyncio.to_thread(self.install_binary)
        else:
            await asyncio.to_thread(self.set_idle_timeout)
        for _ in range(3):
            rc, answer, text = await asyncio.to_thread(self.shoalctl, what)
            entry["tries"].append({"end": round(self.now(), 3), "rc": rc,
                                   "error": None if rc == 0 else text})
            if rc == 0:
                entry["ok"] = True
                entry["answer"] = answer
                break
            # A kill that hit the successor it was starting fails it: at once again.
            if "died before it served" not in text and "in progress" not in text:
                break
        entry["end"] = round(self.now(), 3)

    async def operations_schedule(self):
        plan = []
        upgrade_at = self.args.upgrade_at
        if upgrade_at is None:
            upgrade_at = min(20.0, self.args.duration / 6)
        if 0 < upgrade_at < self.args.duration:
            plan.append((upgrade_at, "upgrade"))
        at = self.args.reload_every - 20
        while self.args.reload_every > 0 and at < self.args.duration:
            if at > 0:
                plan.append((at, "reload"))
            at += self.args.reload_every
        for at, what in sorted(plan):
            delay = self.t0 + at - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.loop.time() >= self.end:
                return
            await self.operation(what)

    # -- memory ----------------------------------------------------------------

    @staticmethod
    def proc_figures(pid):
        out = {"pid": pid}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                        out[key] = int(value.split()[0])  # KiB
            out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
            boot = time.clock_gettime(time.CLOCK_BOOTTIME)
            out["age_s"] = round(boot - started_at(pid), 1)
        except (OSError, ValueError, IndexError):
            return None
        return out if "VmRSS" in out else None

    def sample(self):
        t = round(self.now(), 2)
        supervisor = self.proc_figures(self.args.supervisor)
        workers = [f for f in map(self.proc_figures, self.workers()) if f]
        rc, status, _ = self.shoalctl("status", timeout=60)
        cache = (status or {}).get("cache") if rc == 0 else None
        rc, stats, _ = self.shoalctl("stats", timeout=60)
        counters = None
        if rc == 0 and stats:
            counters = {"queries": stats["queries"]["total"],
                        "answers_by_rcode": stats["answers_by_rcode"],
                        "journal_replayed": stats["journal"]["replayed"],
                        "client_retries": stats["client_retries"],
                        "upstream_queries": stats["upstream"]["queries"],
                        "upstream_timeouts": stats["upstream"]["timeouts"],
                        "tcp_open": stats["tcp_clients"]["open"],
                        "tls_handshakes": stats["tls"]["handshakes"],
                        "doh_queries": stats["doh"]["queries"]}
        with open("/proc/loadavg") as f:
            load = float(f.read().split()[0])
        return {"t": t, "supervisor": supervisor, "workers": workers, "cache": cache,
                "counters": counters, "load": load}

    async def sampler(self):
        every = self.args.sample_every or max(1.0, min(5.0, self.args.duration / 60))
        at = self.loop.time()
        while at < self.end:
            self.samples.append(await asyncio.to_thread(self.sample))
            at += every
            await asyncio.sleep(max(0.0, at - self.loop.time()))

    # -- CPU -------------------------------------------------------------------

    def cpu(self):
        """Seconds of CPU: shoal's (the supervisor, the workers it reaped,
        the live ones), this client's (with the shoalctl it ran), the
        machine's."""
        shoal = 0.0
        try:
            with open(f"/proc/{self.args.supervisor}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            shoal = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            for pid in self.workers():
                shoal += tcp_qps_bench.cpu_ticks(f"/proc/{pid}/stat")
        except (OSError, ValueError):
            pass
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"shoal": shoal / tcp_qps_bench.TICK,
                "client": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                "machine": tcp_qps_bench.machine_busy_ticks() / tcp_qps_bench.TICK}

    # -- the run -----------------------------------------------------------------

    async def run(self):
        cpu_before = await asyncio.to_thread(self.cpu)
        chaos = [asyncio.create_task(c) for c in (self.killer(), self.operations_schedule(),
                                                   self.sampler())]
        monitor = asyncio.create_task(self.lag_monitor())
        generators = [asyncio.create_task(self.generator(t, r, self.args.seed + 100 + i))
                      for i, (t, r) in enumerate(sorted(self.rates.items()))]
        await asyncio.gather(*generators)
        sent_end = self.now()
        await asyncio.gather(*chaos)
        while self.tasks:  # the last queries' tries
            await asyncio.wait(list(self.tasks))
        drained = self.now()
        cpu_after = await asyncio.to_thread(self.cpu)
        cpu = {k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_before}
        cpu["other"] = round(cpu["machine"] - cpu["shoal"] - cpu["client"], 1)
        cpu["cores"] = os.cpu_count()
        final = await asyncio.to_thread(self.sample)
        final["final"] = True
        self.samples.append(final)
        monitor.cancel()
        for slots in self.slots.values():
            for slot in slots:
                if slot.conn is not None:
                    slot.conn.task.cancel()
        await asyncio.sleep(0)
        return {"sent_end_s": round(sent_end, 3), "drained_s": round(drained, 3), "cpu_s": cpu}


def attribute(t0, t1, kills, operations):
    """What happened while a try waited: "kill", the operation ("reload",
    "upgrade"), or "nothing"."""
    for t, pid in kills:
        if pid is not None and t0 - NEAR <= t <= t1 + NEAR:
            return "kill"
    for op in operations:
        if op["start"] - NEAR <= t1 and t0 <= op.get("end", op["start"]) + NEAR:
            return op["what"]
    return "nothing"


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))]


def summarise(soak, timing):
    by_transport, by_kind = {}, {}
    for transport, kind, tries, rcode, ok, latency, _sent in soak.results:
        for table, key in ((by_transport, transport), (by_kind, kind)):
            s = table.setdefault(key, {"sent": 0, "answered": 0, "lost": 0, "tries": {},
                                       "rcodes": {}, "unexpected": 0, "latencies": []})
            s["sent"] += 1
            if rcode is None:
                s["lost"] += 1
                continue
            s["answered"] += 1
            s["tries"][str(tries)] = s["tries"].get(str(tries), 0) + 1
            s["rcodes"][rcode] = s["rcodes"].get(rcode, 0) + 1
            s["unexpected"] += not ok
            s["latencies"].append(latency)
    for table in (by_transport, by_kind):
        for s in table.values():
            lat = s.pop("latencies")
            s["latency_ms"] = {"p50": percentile(lat, 50), "p99": percentile(lat, 99),
                               "p999": percentile(lat, 99.9), "max": max(lat) if lat else None}
            s["latency_ms"] = {k: round(v * 1000, 2) if v is not None else None
                               for k, v in s["latency_ms"].items()}
    first = {}
    for t0, t1, transport, _kind, _name, _type, attempt, why in soak.failures:
        cause = attribute(t0, t1, soak.kills, soak.operations)
        key = f"{transport} try {attempt}"
        entry = first.setdefault(key, {"count": 0, "causes": {}, "reasons": {}})
        entry["count"] += 1
        entry["causes"][cause] = entry["causes"].get(cause, 0) + 1
        short = re.sub(r"\d+", "N", why)[:60]
        entry["reasons"][short] = entry["reasons"].get(short, 0) + 1
    lost = [r for r in soak.results if r[3] is None]
    return {
        "duration_s": soak.args.duration, "seed": soak.args.seed,
        "rates_qps": soak.rates, "mix": soak.mix, "connections_per_transport": soak.args.connections,
        "stream_timeout_s": soak.args.stream_timeout, "kill_every_s": soak.args.kill_every,
        "timing": timing, "wall_start": soak.wall0,
        "by_transport": by_transport, "by_kind": by_kind, "failed_tries": first,
        "failures": [dict(zip(("t", "failed_at", "transport", "kind", "name", "type", "try",
                               "why", "cause"), f + (attribute(f[0], f[1], soak.kills,
                                                               soak.operations),)))
                     for f in soak.failures[:5000]],
        "lost": [dict(zip(("transport", "kind", "tries", "sent_at"), (r[0], r[1], r[2], r[6])))
                 for r in lost[:2000]],
        "unexpected": soak.unexpected,
        "kills": soak.kills, "operations": soak.operations, "samples": soak.samples,
        "connections": dict(soak.connections), "client_loop_lag": soak.lag,
    }


async def run_soak(args):
    soak = Soak(args)
    timing = await soak.run()
    return summarise(soak, timing)


def cmd_run(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result = asyncio.run(run_soak(args))
    with open(args.out, "w") as out:
        json.dump(result, out)
    t = result["by_transport"]
    print(f"chaos-soak: {sum(s['sent'] for s in t.values())} queries, "
          f"{sum(s['lost'] for s in t.values())} lost, "
          f"{sum(1 for k in result['kills'] if k[1])} kills, "
          f"{len(result['operations'])} operations; the last answer "
          f"{result['timing']['drained_s'] - result['timing']['sent_end_s']:.1f} s after the last query")
    return 0


def main():
    run = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--tls-port", type=int, required=True)
    run.add_argument("--https-port", type=int, required=True)
    run.add_argument("--cert", required=True)
    run.add_argument("--supervisor", type=int, required=True)
    run.add_argument("--shoal-bin", required=True)
    run.add_argument("--shoalctl", required=True)
    run.add_argument("--config", required=True)
    run.add_argument("--queries", required=True)
    run.add_argument("--lab-dir", required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--duration", type=float, default=600)
    run.add_argument("--seed", type=int, default=15)
    run.add_argument("--udp-qps", type=float, default=300)
    run.add_argument("--tcp-qps", type=float, default=40)
    run.add_argument("--dot-qps", type=float, default=40)
    run.add_argument("--doh-qps", type=float, default=40)
    run.add_argument("--plain-share", type=float, default=70)
    run.add_argument("--junk-share", type=float, default=15)
    run.add_argument("--ecs-share", type=float, default=15)
    run.add_argument("--connections", type=int, default=4)
    run.add_argument("--stream-timeout", type=float, default=2.0)
    run.add_argument("--kill-every", type=float, default=3.0)
    run.add_argument("--reload-every", type=float, default=60.0)
    run.add_argument("--upgrade-at", type=float, default=None,
                     help="seconds into the run (default: 20, or a sixth of a shorter run)")
    run.add_argument("--sample-every", type=float, default=None,
                     help="seconds (default 5, or a sixtieth of a shorter run)")
    return cmd_run(run.parse_args())


if __name__ == "__main__":
    sys.exit(main())
