#!/usr/bin/env python3
"""Hardening (issue 15): what shoal does against local users, spoofers and
abusive clients, checked on the real binaries.

  - privileges: started as root with server.user = "nobody", the supervisor
    and its workers run as nobody (workers with no capability and
    no_new_privs), the shared files are nobody's, queries are answered
    (the lab), a reload and an upgrade keep it so; with tcp_collapse the
    workers keep CAP_NET_ADMIN alone and still collapse connections;
  - untrusted files: a cache or stats segment, lock file, rate table or
    control socket planted by another user (or writable by others) makes
    shoal refuse to start, naming the file, which is left untouched;
  - the UDP rate limit: token buckets per client prefix shared by all
    workers, slipped answers (TC=1, or BADCOOKIE to a query with a client
    cookie), TCP and queries with a valid server cookie not limited;
  - server cookies (RFC 7873, RFC 9018): issued, recognised, malformed ones
    refused with FORMERR, none when turned off;
  - towards servers: 0x20 case randomisation with its fallback, client
    cookies and the server cookie sent back, replies with a wrong client
    cookie or from another port ignored (a fake forwarder in this process);
  - the rebinding guard (the lab's 192.0.2.0/24 addresses): blocked with
    Extended DNS Error 15, allowed under private_domains;
  - overload: the per-worker resolution cap (SERVFAIL at once, or a stale
    answer) and the per-client in-flight limit.

Needs root (the lab, setuid, /dev/shm files of other users); exit 77
otherwise. Uses a running lab, or starts and stops one."""

import contextlib
import grp
import os
import pwd
import re
import select
import shutil
import socket
import stat
import struct
import subprocess
import threading
import time
from pathlib import Path

from shoal_harness import (WAIT_S, Shoal, Skip, close_shared_lab, encode_name, free_port,
                           need_root, remove_cache, run_tests, shared_lab, shoal_bin,
                           tcp_frame, tcp_read_message, wait_for)

lab = shared_lab

COOKIE = 10  # the EDNS COOKIE option (RFC 7873)
EDE = 15  # Extended DNS Errors (RFC 8914)
BADCOOKIE = 23
TYPE_A, TYPE_AAAA, TYPE_OPT = 1, 28, 41
FLAG_QR, FLAG_AA, FLAG_TC, FLAG_RD, FLAG_RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080

# --------------------------------------------------------------------------
# DNS messages, with EDNS options and names in the case they were sent in
# --------------------------------------------------------------------------


def make_query(name, rtype=TYPE_A, qid=0, options=(), edns=True, flags=FLAG_RD):
    """A query; `options` are EDNS options as (code, bytes)."""
    header = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    question = encode_name(name) + struct.pack("!HH", rtype, 1)
    if not edns:
        return header + question
    rdata = b"".join(struct.pack("!HH", code, len(value)) + value for code, value in options)
    return header + question + b"\0" + struct.pack("!HHIH", TYPE_OPT, 1232, 0, len(rdata)) + rdata


def read_name(data, pos):
    """(name as sent, dotted, in its case; the offset after it)."""
    labels, end, jumps = [], None, 0
    while True:
        length = data[pos]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            jumps += 1
            if jumps > 64:
                raise ValueError("compression loop")
            continue
        pos += 1
        if length == 0:
            break
        labels.append(data[pos:pos + length].decode("latin-1"))
        pos += length
    return ".".join(labels) + ".", end if end is not None else pos


class Message:
    """A parsed DNS message: id, flags, rcode (extended with the OPT
    record's bits), question (name in its case, type), records per section
    as (owner, type, ttl, rdata bytes), EDNS options {code: [values]}."""

    def __init__(self, data):
        self.raw = data
        self.id, self.flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
        pos = 12
        self.qname, self.qtype, self.qname_wire = None, None, b""
        for _ in range(qd):
            start = pos
            self.qname, pos = read_name(data, pos)
            self.qname_wire = data[start:pos]
            self.qtype = struct.unpack("!H", data[pos:pos + 2])[0]
            pos += 4
        self.sections = {"answer": [], "authority": [], "additional": []}
        self.edns = False
        self.options = {}
        ext_rcode = 0
        for section, count in (("answer", an), ("authority", ns), ("additional", ar)):
            for _ in range(count):
                owner, pos = read_name(data, pos)
                rtype, rclass, ttl, length = struct.unpack("!HHIH", data[pos:pos + 10])
                rdata = data[pos + 10:pos + 10 + length]
                if len(rdata) != length:
                    raise ValueError("truncated record")
                pos += 10 + length
                if rtype == TYPE_OPT:
                    self.edns = True
                    ext_rcode = ttl >> 24
                    at = 0
                    while at + 4 <= len(rdata):
                        code, size = struct.unpack("!HH", rdata[at:at + 4])
                        self.options.setdefault(code, []).append(rdata[at + 4:at + 4 + size])
                        at += 4 + size
                    continue
                self.sections[section].append((owner, rtype, ttl, rdata))
        self.rcode = (ext_rcode << 4) | (self.flags & 0xF)

    @property
    def answer(self):
        return self.sections["answer"]

    def addresses(self):
        """The A and AAAA records of the answer, as text, sorted."""
        out = []
        for _owner, rtype, _ttl, rdata in self.answer:
            if rtype == TYPE_A:
                out.append(socket.inet_ntop(socket.AF_INET, rdata))
            elif rtype == TYPE_AAAA:
                out.append(socket.inet_ntop(socket.AF_INET6, rdata))
        return sorted(out)

    def cookie(self):
        values = self.options.get(COOKIE, [])
        assert len(values) <= 1, f"{len(values)} COOKIE options"
        return values[0] if values else None

    def ede(self):
        """(info code, text) of the Extended DNS Error, or None."""
        values = self.options.get(EDE)
        if not values:
            return None
        return struct.unpack("!H", values[0][:2])[0], values[0][2:].decode(errors="replace")

    def __repr__(self):
        return (f"Message(id={self.id}, flags={self.flags:#06x}, rcode={self.rcode}, "
                f"q={self.qname!r}, answer={self.addresses()}, ede={self.ede()}, "
                f"cookie={self.cookie().hex() if self.cookie() else None})")


def exchange(port, payload, timeout=10.0, source="127.0.0.1"):
    """One datagram to shoal from `source`; the parsed reply (None: none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            return Message(s.recv(65535))
        except socket.timeout:
            return None


def tcp_exchange(port, payloads, timeout=30.0):
    """Every payload pipelined on one TCP connection; the parsed replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(tcp_frame(p) for p in payloads))
        replies = []
        for _ in payloads:
            data = tcp_read_message(s)
            if data is None:
                break
            replies.append(Message(data))
        return replies


def burst(port, payloads, sockets=1, source="127.0.0.1"):
    """Sends `payloads` back to back over UDP, round robin over `sockets`
    source ports (so SO_REUSEPORT spreads them over the workers); returns
    a Burst to collect the replies with."""
    return Burst(port, payloads, sockets, source)


class Burst:
    def __init__(self, port, payloads, sockets, source):
        self.socks = []
        for _ in range(sockets):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            self.socks.append(s)
        self.replies = {}  # (socket index, id) -> (Message, monotonic time it came)
        self.sent = []  # (socket index, id)
        self.started = time.monotonic()
        for i, payload in enumerate(payloads):
            index = i % sockets
            self.socks[index].send(payload)
            self.sent.append((index, struct.unpack("!H", payload[:2])[0]))
        self.sent_at = time.monotonic()

    def collect(self, until, timeout=WAIT_S, what="replies"):
        """Reads replies until `until(self)` holds (a clear failure after
        `timeout`); returns the replies."""
        deadline = time.monotonic() + timeout
        while not until(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}: {len(self.replies)} "
                                     f"of {len(self.sent)} replies came")
            readable, _, _ = select.select(self.socks, [], [], min(left, 0.05))
            for s in readable:
                index = self.socks.index(s)
                while True:
                    try:
                        data = s.recv(65535)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    message = Message(data)
                    key = (index, message.id)
                    assert key not in self.replies, f"two replies to query {key}"
                    self.replies[key] = (message, time.monotonic())
        return self.replies

    def close(self):
        for s in self.socks:
            s.close()


# --------------------------------------------------------------------------
# A fake upstream (forwarder) in this process
# --------------------------------------------------------------------------


class FakeUpstream:
    """A DNS server on 127.0.0.1 (UDP, a thread of its own) used as the
    upstream of a [[forward]] zone. It records every query (name as
    received, type, COOKIE option, when) and answers each A question with
    `addresses` (TTL `ttl`), echoing the question as received and giving a
    server cookie when the query had a client cookie. `mode` changes that:
      "lowercase"     the question echoed lowercased (a server that does
                      not keep the 0x20 case)
      "wrong_cookie"  first a reply with another client cookie and another
                      address (WRONG_ADDRESS), then the right one
      "other_port"    the reply sent from another socket (another port)
    `delay` (seconds) holds every reply that long."""

    WRONG_ADDRESS = "203.0.113.66"

    def __init__(self, mode="echo", addresses=("198.51.100.7",), ttl=3600, delay=0.0):
        self.mode = mode
        self.addresses = list(addresses)
        self.ttl = ttl
        self.delay = delay
        self.server_cookie = os.urandom(16)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))
        self.lock = threading.Lock()
        self.queries = []  # dicts: name, type, cookie, at
        self.replies_sent = []  # (monotonic time, from port)
        self.overrides = {}  # lowercased name -> (addresses, ttl)
        self._stop = threading.Event()
        self._due = []  # (time, socket, payload, to)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        self.sock.close()
        self.other.close()
        return False

    def address(self):
        return f"127.0.0.1:{self.port}"

    def received(self, name=None):
        with self.lock:
            return [q for q in self.queries if name is None or q["name"].lower() == name.lower()]

    def _run(self):
        while not self._stop.is_set():
            now = time.monotonic()
            due = [d for d in self._due if d[0] <= now]
            self._due = [d for d in self._due if d[0] > now]
            for _at, sock, payload, to in due:
                sock.sendto(payload, to)
                with self.lock:
                    self.replies_sent.append((time.monotonic(), sock.getsockname()[1]))
            wait = 0.05 if not self._due else max(0.0, min(0.05, min(d[0] for d in self._due)
                                                           - time.monotonic()))
            readable, _, _ = select.select([self.sock], [], [], wait)
            if not readable:
                continue
            try:
                data, peer = self.sock.recvfrom(65535)
                query = Message(data)
            except (OSError, ValueError, IndexError, struct.error):
                continue
            with self.lock:
                self.queries.append({"name": query.qname, "type": query.qtype,
                                     "cookie": query.cookie(), "at": time.monotonic(),
                                     "wire": query.qname_wire})
            at = time.monotonic() + self.delay
            if self.mode == "wrong_cookie" and query.cookie():
                self._due.append((at, self.sock, self._reply(query, wrong_cookie=True), peer))
            sock = self.other if self.mode == "other_port" else self.sock
            self._due.append((at, sock, self._reply(query), peer))

    def _reply(self, query, wrong_cookie=False):
        qname_wire = query.qname_wire
        if self.mode == "lowercase":
            qname_wire = qname_wire.lower()
        addresses, ttl = self.overrides.get(query.qname.lower(), (self.addresses, self.ttl))
        if wrong_cookie:
            addresses = [self.WRONG_ADDRESS]
        records = b""
        count = 0
        if query.qtype == TYPE_A:
            for address in addresses:
                records += b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, 1, ttl, 4) + \
                    socket.inet_aton(address)
                count += 1
        options = b""
        client_cookie = query.cookie()
        if client_cookie is not None:
            client = client_cookie[:8]
            if wrong_cookie:
                client = bytes(b ^ 0xFF for b in client)
            value = client + self.server_cookie
            options = struct.pack("!HH", COOKIE, len(value)) + value
        header = struct.pack("!HHHHHH", query.id, FLAG_QR | FLAG_AA | FLAG_RD | FLAG_RA
                             | (query.flags & 0x0010), 1, count, 0, 1 if query.edns else 0)
        opt = b""
        if query.edns:
            opt = b"\0" + struct.pack("!HHIH", TYPE_OPT, 1232, 0, len(options)) + options
        return header + qname_wire + struct.pack("!HH", query.qtype, 1) + records + opt


def forward_shoal(upstream, workers=2, config=None, metrics=False, **resolver):
    """A shoal whose zone test. is forwarded (without validation) to the
    fake `upstream`; the rest goes nowhere (the built-in root hints are
    not reachable from here, and nothing else is asked). With `metrics`,
    a Prometheus endpoint too (prometheus())."""
    sections = {"forward": [{"name": "test.", "addresses": [upstream.address()],
                             "validate": False}],
                "resolver": dict(resolver)}
    if metrics:
        sections["metrics"] = {"listen": [f"127.0.0.1:{free_port()}"]}
    for section, keys in (config or {}).items():
        sections.setdefault(section, {}).update(keys)
    return Shoal(workers=workers, config=sections)


def prometheus(shoal):
    """{(name, labels): value} of the shoal's Prometheus page."""
    from metrics_test import samples, scrape
    status, _type, page = scrape(int(shoal.sections["metrics"]["listen"][0].rsplit(":", 1)[1]))
    assert status == 200, (status, page)
    return samples(page)


def stats(shoal):
    return shoal.ctl_json("stats")


def counter(shoal, group, key):
    value = stats(shoal)[group][key]
    assert isinstance(value, int), (group, key, value)
    return value


def wait_counter(shoal, group, key, at_least, what=None):
    """Waits until stats[group][key] >= at_least (the engine's counters are
    published after each turn of the worker's loop); returns it."""
    def reached():
        value = counter(shoal, group, key)
        return value if value >= at_least else None
    return wait_for(reached, WAIT_S, interval=0.05, what=what or f"{group}.{key} >= {at_least}")


def remove_limits(shoal):
    with contextlib.suppress(OSError):
        os.unlink("/dev/shm" + shoal.cache_name + ".limits")


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------


def proc_status(pid):
    """/proc/PID/status as {field: value}."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def ids(status, field):
    return [int(x) for x in status[field].split()]


def caps(status, field):
    return int(status[field], 16)


CAP_NET_BIND_SERVICE = 1 << 10
CAP_NET_ADMIN = 1 << 12


def nobody():
    try:
        user = pwd.getpwnam("nobody")
        group = grp.getgrnam("nogroup")
    except KeyError:
        raise Skip("no user nobody or group nogroup here") from None
    return user.pw_uid, group.gr_gid


def run_as_nobody(shoal):
    """Configures `shoal` (not started) to switch to nobody:nogroup: its
    directory readable by all, the control socket in a subdirectory that
    does not exist yet (shoal makes it for the user)."""
    os.chmod(shoal.dir, 0o755)
    shoal.control_socket = str(shoal.dir / "run" / "control.sock")
    shoal.write_config({"server": {"user": "nobody", "group": "nogroup"},
                        "control": {"socket": shoal.control_socket}})
    os.chmod(shoal.config_path, 0o644)


def assert_runs_as(pid, uid, gid, what):
    st = proc_status(pid)
    assert ids(st, "Uid") == [uid] * 4 and ids(st, "Gid") == [gid] * 4, (what, st["Uid"], st["Gid"])
    groups = [int(g) for g in st["Groups"].split()]
    assert all(g == gid for g in groups), (what, "supplementary groups", st["Groups"])
    return st


def assert_worker_confined(pid, uid, gid, allowed_caps=0):
    st = assert_runs_as(pid, uid, gid, f"worker {pid}")
    for field in ("CapEff", "CapPrm"):
        assert caps(st, field) == allowed_caps, (f"worker {pid}", field, st[field], st)
    # none ambient or inheritable
    assert caps(st, "CapAmb") == 0, (f"worker {pid}", st["CapAmb"])
    assert caps(st, "CapInh") == 0, (f"worker {pid}", st["CapInh"])
    assert st["NoNewPrivs"] == "1", (f"worker {pid}", st["NoNewPrivs"])


def owner(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid


# --------------------------------------------------------------------------
# Privileges
# --------------------------------------------------------------------------


def lab_answers(shoal, name="www.example.com.", address="192.0.2.10"):
    reply = exchange(shoal.port, make_query(name, qid=7))
    assert reply is not None and reply.rcode == 0 and reply.addresses() == [address], reply
    return reply


def test_runs_as_the_configured_user_through_reload_and_upgrade():
    need_root()
    uid, gid = nobody()
    config = lab().shoal_config()
    config["limits"] = {"rate": 100000}  # the rate table too, without limiting anything
    shoal = Shoal(workers=2, config=config)
    # the upgrade re-executes this copy (readable by nobody, like the directory)
    binary = shoal.dir / "shoal"
    shutil.copy2(shoal_bin(), binary)
    shoal.binary = str(binary)
    run_as_nobody(shoal)
    assert not os.path.exists(os.path.dirname(shoal.control_socket))
    try:
        with shoal:
            shoal.wait_log(r"running as nobody \(uid %d, gid %d\), capabilities: none" % (uid, gid))
            assert_runs_as(shoal.pid, uid, gid, "supervisor")
            st = proc_status(shoal.pid)
            assert caps(st, "CapEff") == 0 and caps(st, "CapPrm") == 0 and \
                caps(st, "CapAmb") == 0, st
            workers = shoal.wait_workers(2)
            for pid in workers:
                assert_worker_confined(pid, uid, gid)
            # the files it made are nobody's, and nobody else may write them
            for suffix in ("", ".stats", ".lock", ".limits"):
                path = "/dev/shm" + shoal.cache_name + suffix
                assert owner(path) == (uid, gid), (path, owner(path))
                assert os.stat(path).st_mode & 0o022 == 0, (path, oct(os.stat(path).st_mode))
            run_dir = os.path.dirname(shoal.control_socket)
            assert owner(run_dir)[0] == uid, (run_dir, owner(run_dir))
            assert owner(shoal.control_socket)[0] == uid, owner(shoal.control_socket)
            lab_answers(shoal)

            # a reload (one more worker: a rolling restart) keeps all that
            shoal.write_config({"server": {"workers": 3}})
            answer = shoal.ctl_json("reload")
            assert answer.get("ok", True), answer
            workers = shoal.wait_workers(3, replacing=workers)
            for pid in workers:
                assert_worker_confined(pid, uid, gid)
            lab_answers(shoal, "www.example.org.", "192.0.2.30")

            # an upgrade: the supervisor re-executes itself, still as nobody
            supervisor = shoal.pid
            rc, out, err = shoal.ctl("upgrade")
            assert rc == 0, (rc, out, err)
            shoal.wait_log(r"running as nobody \(uid %d\), capabilities: none" % uid)
            workers = shoal.wait_workers(3, replacing=workers)
            assert shoal.pid == supervisor and shoal.proc.poll() is None
            assert_runs_as(supervisor, uid, gid, "supervisor after the upgrade")
            st = proc_status(supervisor)
            assert caps(st, "CapEff") == 0 and caps(st, "CapPrm") == 0, st
            for pid in workers:
                assert_worker_confined(pid, uid, gid)
            lab_answers(shoal, "www.example.net.", "192.0.2.20")
            lab_answers(shoal)  # still in the cache
            assert shoal.ctl_json("status")["upgrades"] == 1
            rc, _took = shoal.stop()
            assert rc == 0, shoal.log()
    finally:
        remove_limits(shoal)


def collapse_as_nobody(port):
    """tcp_collapse as nobody, shoal on `port` in collapse_test's network
    namespace: the supervisor and its workers keep CAP_NET_ADMIN (and,
    below 1024, CAP_NET_BIND_SERVICE), and connections are collapsed and
    revived (collapse_test.round_trip)."""
    need_root()
    uid, gid = nobody()
    try:
        import collapse_test
    except ImportError as e:
        raise Skip(f"collapse_test: {e}") from None
    if not shutil.which("nft"):
        raise Skip("nft not installed")
    saved = collapse_test.PORT
    collapse_test.PORT = port  # collapsing_shoal and round_trip use it
    try:
        with collapse_test.namespace():
            shoal = collapse_test.collapsing_shoal(workers=2)
            run_as_nobody(shoal)
            with shoal:
                want = CAP_NET_ADMIN | (CAP_NET_BIND_SERVICE if port < 1024 else 0)
                names = "cap_net_bind_service, cap_net_admin" if port < 1024 else "cap_net_admin"
                shoal.wait_log(r"(?m)running as nobody \(uid %d, gid %d\), capabilities: %s$"
                               % (uid, gid, names))
                st = assert_runs_as(shoal.pid, uid, gid, "supervisor")
                # ambient: kept across the upgrade's execve
                assert caps(st, "CapEff") == want and caps(st, "CapPrm") == want and \
                    caps(st, "CapAmb") == want, st
                # workers: TCP repair, and binding the listening port again
                # to revive a connection on a port below 1024
                for pid in shoal.wait_workers(2):
                    assert_worker_confined(pid, uid, gid, allowed_caps=want)
                assert "tcp_collapse on" in shoal.log(), shoal.log()
                # and collapsing works with what they kept
                collapse_test.round_trip(shoal, socket.AF_INET, collapse_test.NS_V4, rounds=2)
                assert "warning" not in shoal.log(), shoal.log()
    finally:
        collapse_test.PORT = saved


def test_tcp_collapse_as_nobody_on_a_high_port():
    collapse_as_nobody(5353)


def test_tcp_collapse_as_nobody_on_port_53():
    collapse_as_nobody(53)


# --------------------------------------------------------------------------
# Untrusted files
# --------------------------------------------------------------------------


def snapshot(path):
    st = os.lstat(path)
    content = None
    if stat.S_ISREG(st.st_mode):
        content = Path(path).read_bytes()
    return (st.st_ino, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_size,
            st.st_mtime_ns, content)


def refused(shoal, path):
    """Starts `shoal`, which must exit with an error naming `path`."""
    shoal.start(wait=False)
    try:
        rc = shoal.proc.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"shoal still runs with {path} planted:\n{shoal.log()}") from None
    log = shoal.log()
    assert rc != 0, (rc, log)
    named = re.compile(re.escape(path) + r"[ :;]")
    lines = [line for line in log.splitlines() if "is not shoal's" in line and named.search(line)]
    assert lines, f"no error naming {path} as not shoal's:\n{log}"
    assert "worker 0 ready" not in log, log
    print(f"  {lines[0].split(': ', 1)[1]}")
    return lines[0]


def test_files_planted_by_others_are_refused_and_left_alone():
    need_root()
    uid, gid = nobody()
    cases = []  # (suffix, planted as nobody's or writable by others)
    for suffix in ("", ".stats", ".lock", ".limits"):
        cases.append((suffix, "nobody"))
        cases.append((suffix, "mode 0666"))
    failures = []
    for suffix, how in cases:
        shoal = Shoal(workers=1, config={"limits": {"rate": 100}})
        path = "/dev/shm" + shoal.cache_name + suffix
        try:
            Path(path).write_bytes(b"planted by someone else\n" + os.urandom(32))
            if how == "nobody":
                os.chown(path, uid, gid)
                os.chmod(path, 0o600)
            else:
                os.chmod(path, 0o666)
            before = snapshot(path)
            try:
                log = refused(shoal, path)
                if how == "nobody":
                    assert f"owned by uid {uid}, not by shoal's user (uid 0)" in log, log
                else:
                    assert "mode 0666: writable by others" in log, log
                assert snapshot(path) == before, f"{path} was changed"
            except AssertionError as e:
                failures.append(f"{path} ({how}): {e}")
        finally:
            shoal.kill()
            with contextlib.suppress(OSError):
                os.unlink(path)
            remove_cache(shoal.cache_name)
            remove_limits(shoal)
            shutil.rmtree(shoal.dir, ignore_errors=True)
    assert not failures, "\n\n".join(failures)


def test_a_control_socket_of_another_user_is_refused_and_left_alone():
    need_root()
    uid, gid = nobody()
    shoal = Shoal(workers=1)
    path = shoal.control_socket
    planted = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        planted.bind(path)
        planted.listen(1)
        os.chown(path, uid, gid)
        before = snapshot(path)
        log = refused(shoal, path)
        assert f"owned by uid {uid}" in log, log
        assert snapshot(path) == before, f"{path} was changed"
        # still the planted listener's: a client reaches it
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
    finally:
        planted.close()
        shoal.kill()
        remove_cache(shoal.cache_name)
        shutil.rmtree(shoal.dir, ignore_errors=True)


def test_own_stale_files_are_taken_over():
    # The other side: files of shoal's own user (root here), not writable by
    # others, left by an earlier run, are used.
    need_root()
    shoal = Shoal(workers=1, config={"limits": {"rate": 100}})
    try:
        for suffix, mode in (("", 0o600), (".stats", 0o600), (".lock", 0o640), (".limits", 0o600)):
            path = "/dev/shm" + shoal.cache_name + suffix
            Path(path).write_bytes(b"")
            os.chmod(path, mode)
        with shoal:
            lock = Path("/dev/shm" + shoal.cache_name + ".lock").read_text()
            assert lock == str(shoal.pid), lock
            assert os.stat("/dev/shm" + shoal.cache_name).st_size == 16 << 20
            assert os.stat("/dev/shm" + shoal.cache_name + ".stats").st_size > 0
            assert os.stat("/dev/shm" + shoal.cache_name + ".limits").st_size > 0
            assert shoal.ctl_json("status")["supervisor_pid"] == shoal.pid
    finally:
        remove_limits(shoal)


# --------------------------------------------------------------------------
# Server cookies
# --------------------------------------------------------------------------


def check_server_cookie(reply, client_cookie):
    cookie = reply.cookie()
    assert cookie is not None, f"no COOKIE option: {reply}"
    assert len(cookie) == 24 and cookie[:8] == client_cookie, cookie.hex()
    server = cookie[8:]
    version, reserved, timestamp = server[0], server[1:4], struct.unpack("!I", server[4:8])[0]
    assert version == 1 and reserved == b"\0\0\0", server.hex()  # RFC 9018 section 4.2
    assert abs(timestamp - time.time()) < 300, (timestamp, time.time())
    return server


def test_server_cookies():
    with FakeUpstream() as upstream, forward_shoal(upstream, metrics=True) as shoal:
        name = "www.test."
        client = os.urandom(8)
        reply = exchange(shoal.port, make_query(name, qid=1, options=[(COOKIE, client)]))
        assert reply is not None and reply.rcode == 0 and reply.addresses() == ["198.51.100.7"], \
            reply
        server = check_server_cookie(reply, client)
        valid_before = counter(shoal, "cookies", "valid")
        # sent back: recognised, from any worker (new source ports)
        for qid in range(2, 12):
            reply = exchange(shoal.port, make_query(name, qid=qid,
                                                    options=[(COOKIE, client + server)]))
            assert reply is not None and reply.rcode == 0 and reply.addresses(), reply
            check_server_cookie(reply, client)
        wait_counter(shoal, "cookies", "valid", valid_before + 10)
        # another client cookie with that server cookie: not valid, but answered
        # with a fresh cookie (the server cookie is bound to the client cookie)
        other = os.urandom(8)
        reply = exchange(shoal.port, make_query(name, qid=20, options=[(COOKIE, other + server)]))
        assert reply is not None and reply.rcode == 0, reply
        fresh = check_server_cookie(reply, other)
        assert fresh != server
        assert counter(shoal, "cookies", "valid") == valid_before + 10
        page = prometheus(shoal)
        assert page[("shoal_client_cookies_total", '{kind="valid"}')] == valid_before + 10, page
        # malformed: FORMERR (RFC 7873 section 5.2.2)
        for bad in (os.urandom(5), os.urandom(8 + 7), os.urandom(8 + 33)):
            reply = exchange(shoal.port, make_query(name, qid=30, options=[(COOKIE, bad)]))
            assert reply is not None and reply.rcode == 1, (len(bad), reply)
        # over TCP too
        reply, = tcp_exchange(shoal.port, [make_query(name, qid=40, options=[(COOKIE, client)])])
        check_server_cookie(reply, client)
        # no cookie: none back
        reply = exchange(shoal.port, make_query(name, qid=50))
        assert reply is not None and reply.cookie() is None, reply

    with FakeUpstream() as upstream, forward_shoal(upstream, config={"server": {"cookies": False}}) \
            as shoal:
        reply = exchange(shoal.port, make_query("www.test.", qid=1, options=[(COOKIE, client)]))
        assert reply is not None and reply.rcode == 0 and reply.addresses(), reply
        assert reply.cookie() is None, reply


# --------------------------------------------------------------------------
# Towards servers: 0x20, client cookies, only the queried address
# --------------------------------------------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def ask(shoal, name, qid=1, timeout=10.0):
    reply = exchange(shoal.port, make_query(name, qid=qid), timeout=timeout)
    assert reply is not None, f"no reply for {name}"
    return reply


def test_queries_to_servers_have_random_case_and_cookies():
    with FakeUpstream() as upstream, forward_shoal(upstream) as shoal:
        names = [f"{LETTERS[i:]}{LETTERS[:i]}.test." for i in range(8)]
        for i, name in enumerate(names):
            reply = ask(shoal, name, qid=i)
            assert reply.rcode == 0 and reply.addresses() == ["198.51.100.7"], reply
            # the client sees its own question back
            assert reply.qname == name, reply
        queries = upstream.received()
        assert len(queries) >= len(names), queries
        upper = sum(1 for q in queries for c in q["name"] if c.isupper())
        lower = sum(1 for q in queries for c in q["name"] if c.islower())
        assert upper > 0 and lower > 0, [q["name"] for q in queries]
        assert {q["name"].lower() for q in queries} == set(names)
        # a client cookie in every query, the same one (per server); from
        # the second name on, with the server cookie it gave
        first = upstream.received(names[0])[0]["cookie"]
        assert first is not None and len(first) == 8, first
        for name in names[1:]:
            for q in upstream.received(name):
                assert q["cookie"] is not None and len(q["cookie"]) == 24, (name, q)
                assert q["cookie"][:8] == first and q["cookie"][8:] == upstream.server_cookie, \
                    (name, q["cookie"].hex(), first.hex(), upstream.server_cookie.hex())
        assert counter(shoal, "spoofing", "case_mismatches") == 0
        assert counter(shoal, "spoofing", "cookie_mismatches") == 0


def test_a_server_that_does_not_echo_the_case_is_asked_again_without_it():
    with FakeUpstream(mode="lowercase") as upstream, forward_shoal(upstream, metrics=True) as shoal:
        name = "abcdefghijklmnopqrstuvwxyz.test."
        reply = ask(shoal, name)
        assert reply.rcode == 0 and reply.addresses() == ["198.51.100.7"], reply
        queries = [q["name"] for q in upstream.received(name)]
        assert len(queries) >= 2, queries
        assert any(c.isupper() for c in queries[0]), queries
        assert queries[-1] == name, queries  # as the client asked
        wait_counter(shoal, "spoofing", "case_mismatches", 1)
        # remembered: the next name goes without 0x20 at once
        mismatches = counter(shoal, "spoofing", "case_mismatches")
        other = "zyxwvutsrqponmlkjihgfedcba.test."
        reply = ask(shoal, other, qid=2)
        assert reply.rcode == 0 and reply.addresses() == ["198.51.100.7"], reply
        assert [q["name"] for q in upstream.received(other)] == [other], upstream.received(other)
        assert counter(shoal, "spoofing", "case_mismatches") == mismatches
        page = prometheus(shoal)
        assert page[("shoal_spoofing_suspected_total", '{check="case"}')] == mismatches, page


def test_a_reply_with_a_wrong_client_cookie_is_ignored():
    with FakeUpstream(mode="wrong_cookie") as upstream, forward_shoal(upstream) as shoal:
        for i in range(3):
            name = f"w{i}.{LETTERS}.test."
            reply = ask(shoal, name, qid=i)
            assert reply.rcode == 0 and reply.addresses() == ["198.51.100.7"], reply
        wait_counter(shoal, "spoofing", "cookie_mismatches", 3)
        # the wrong cookie's data went nowhere, not even into the cache
        for i in range(3):
            reply = ask(shoal, f"w{i}.{LETTERS}.test.", qid=10 + i)
            assert reply.addresses() == ["198.51.100.7"], reply


def test_a_reply_from_another_port_is_never_accepted():
    with FakeUpstream(mode="other_port") as upstream, \
            forward_shoal(upstream, query_timeout="1s") as shoal:
        t0 = time.monotonic()
        reply = ask(shoal, "www.test.", timeout=15)
        took = time.monotonic() - t0
        assert reply.rcode == 2 and not reply.answer, reply
        assert upstream.received("www.test."), "the upstream was not asked"
        sent = [port for _at, port in upstream.replies_sent]
        assert sent and all(port != upstream.port for port in sent), sent
        assert took < 5, took  # the query timeout, not the client's
        print(f"  SERVFAIL after {took:.2f} s; {len(sent)} replies from port {sent[0]} ignored")


# --------------------------------------------------------------------------
# The rate limit
# --------------------------------------------------------------------------

RATE, RATE_BURST = 20, 20


def rate_shoal(upstream):
    return forward_shoal(upstream, workers=2, metrics=True,
                         config={"limits": {"rate": RATE, "rate_burst": RATE_BURST,
                                            "rate_slip": 2}})


def limited_burst(shoal, payloads, sockets, source="127.0.0.1"):
    """Sends the burst and waits until shoal has read every query and sent
    every reply it meant to: its counters say how many (answered normally
    = queries - rate limited, plus the slipped ones), read again until two
    readings agree (a worker counts a query before it answers it). Returns
    (Burst, counter deltas)."""
    base = stats(shoal)
    b = burst(shoal.port, payloads, sockets=sockets, source=source)

    def delta():
        now = stats(shoal)
        return {"queries": now["queries"]["udp"] - base["queries"]["udp"],
                "limited": now["limits"]["rate_limited"] - base["limits"]["rate_limited"],
                "slipped": now["limits"]["rate_slipped"] - base["limits"]["rate_slipped"]}

    final = {}

    def all_in(b):
        d = delta()
        if d["queries"] < len(payloads) or \
                len(b.replies) < d["queries"] - d["limited"] + d["slipped"]:
            return False
        final.update(d)
        return delta() == d
    b.collect(all_in, what=f"shoal to read {len(payloads)} queries and answer")
    b.finished = time.monotonic()
    b.elapsed = b.finished - b.started
    return b, final


def test_rate_limit_is_shared_by_workers_and_slips():
    with FakeUpstream() as upstream, rate_shoal(upstream) as shoal:
        try:
            name = "www.test."
            # cached through TCP, not limited; a server cookie too
            client = os.urandom(8)
            reply, = tcp_exchange(shoal.port, [make_query(name, qid=1,
                                                          options=[(COOKIE, client)])])
            assert reply.rcode == 0 and reply.addresses() == ["198.51.100.7"], reply
            server = check_server_cookie(reply, client)
            shoal.wait_log(r"rate limit: 20 queries/s per /24")

            n = 200
            payloads = [make_query(name, qid=i) for i in range(n)]
            before = shoal.counters()
            b, d = limited_burst(shoal, payloads, sockets=40)
            emptied = b.started  # the bucket refills from here on, RATE a second
            after = shoal.counters()
            b.close()
            per_worker = {slot: after[slot]["queries.udp"] - before.get(slot, {}).get(
                "queries.udp", 0) for slot in after}
            assert len(per_worker) == 2 and all(v > 0 for v in per_worker.values()), per_worker
            replies = [m for m, _t in b.replies.values()]
            normal = [m for m in replies if m.rcode == 0 and not m.flags & FLAG_TC]
            slipped = [m for m in replies if m not in normal]
            allowed = RATE_BURST + RATE * b.elapsed + 1
            print(f"  {n} queries over {per_worker} in {b.elapsed * 1000:.0f} ms: "
                  f"{len(normal)} answered, {len(slipped)} slipped, "
                  f"{n - len(replies)} dropped; counters {d}")
            assert RATE_BURST <= len(normal) <= allowed, (len(normal), allowed)
            assert all(m.addresses() == ["198.51.100.7"] for m in normal)
            for m in slipped:
                assert m.rcode == 0 and m.flags & FLAG_TC and not m.answer, m
            assert d["limited"] == n - len(normal), (d, len(normal))
            assert d["slipped"] == len(slipped), (d, len(slipped))
            # every second one of each worker's limited queries
            assert abs(len(slipped) - d["limited"] / 2) <= 2, (len(slipped), d)
            page = prometheus(shoal)
            assert page[("shoal_rate_limited_total", '{action="slipped"}')] == d["slipped"]
            assert page[("shoal_rate_limited_total", '{action="dropped"}')] == \
                d["limited"] - d["slipped"], page

            # Still over the limit: a client cookie only gets BADCOOKIE when
            # slipped (with a server cookie to retry with) ...
            payloads = [make_query(name, qid=1000 + i, options=[(COOKIE, client)])
                        for i in range(100)]
            b, d = limited_burst(shoal, payloads, sockets=20)
            b.close()
            replies = [m for m, _t in b.replies.values()]
            slipped = [m for m in replies if m.rcode != 0 or m.flags & FLAG_TC]
            refilled = RATE * (b.finished - emptied) + 1
            assert d["limited"] >= 100 - refilled and d["slipped"] == len(slipped), \
                (d, len(slipped), refilled)
            assert slipped, d
            for m in slipped:
                assert m.rcode == BADCOOKIE and not m.answer, m
                check_server_cookie(m, client)
            # ... and a valid server cookie is not limited at all, while the
            # plain queries sent between them still are
            payloads = []
            for i in range(100):
                payloads.append(make_query(name, qid=2000 + i,
                                           options=[(COOKIE, client + server)]))
                payloads.append(make_query(name, qid=3000 + i))
            b, d = limited_burst(shoal, payloads, sockets=20)
            b.close()
            with_cookie = {qid: m for (_s, qid), (m, _t) in b.replies.items() if qid < 3000}
            assert len(with_cookie) == 100, f"{len(with_cookie)} of 100 answered"
            for m in with_cookie.values():
                assert m.rcode == 0 and not m.flags & FLAG_TC and m.addresses(), m
                check_server_cookie(m, client)
            refilled = RATE * (b.finished - emptied) + 1
            assert d["limited"] >= 100 - refilled, (d, refilled)
            limited = counter(shoal, "limits", "rate_limited")

            # TCP: never limited
            replies = []
            for c in range(4):
                replies += tcp_exchange(shoal.port, [make_query(name, qid=4000 + c * 50 + i)
                                                     for i in range(50)])
            assert len(replies) == 200, len(replies)
            assert all(m.rcode == 0 and m.addresses() for m in replies)
            assert counter(shoal, "limits", "rate_limited") == limited
        finally:
            remove_limits(shoal)


def test_rate_limit_is_per_prefix():
    # Another address in the exhausted /24 shares its bucket; an address in
    # another /24 (127.0.1.x) has its own.
    with FakeUpstream() as upstream, rate_shoal(upstream) as shoal:
        try:
            name = "www.test."
            reply, = tcp_exchange(shoal.port, [make_query(name, qid=1)])
            assert reply.rcode == 0, reply
            b, d = limited_burst(shoal, [make_query(name, qid=i) for i in range(100)], 10)
            b.close()
            assert d["limited"] >= 100 - RATE_BURST - RATE * b.elapsed - 1, (d, b.elapsed)
            emptied = b.started
            b, d = limited_burst(shoal, [make_query(name, qid=i) for i in range(40)], 10,
                                 source="127.0.0.9")
            b.close()
            refilled = RATE * (b.finished - emptied) + 1
            assert d["limited"] >= 40 - refilled, (d, refilled)
            b, d = limited_burst(shoal, [make_query(name, qid=i) for i in range(RATE_BURST)], 10,
                                 source="127.0.1.1")
            b.close()
            assert d["limited"] == 0 and len(b.replies) == RATE_BURST, (d, len(b.replies))
            assert all(m.rcode == 0 and not m.flags & FLAG_TC and m.addresses()
                       for m, _t in b.replies.values())
        finally:
            remove_limits(shoal)


def test_rate_table_is_removed_at_stop():
    with FakeUpstream() as upstream:
        shoal = rate_shoal(upstream)
        path = "/dev/shm" + shoal.cache_name + ".limits"
        try:
            with shoal:
                assert os.path.exists(path)
                assert shoal.stop()[0] == 0
            assert not os.path.exists(path), f"{path} left behind after a stop"
        finally:
            remove_limits(shoal)


# --------------------------------------------------------------------------
# The rebinding guard
# --------------------------------------------------------------------------


def test_rebinding_guard():
    l = lab()
    config = l.shoal_config(private_addresses=["192.0.2.0/24"])
    with Shoal(workers=2, config=config) as shoal:
        reply = exchange(shoal.port, make_query("www.example.com.", qid=1))
        assert reply is not None and reply.rcode == 2 and not reply.answer, reply
        assert reply.ede() is not None and reply.ede()[0] == 15, reply
        wait_counter(shoal, "spoofing", "rebinding_blocked", 1)
        reply = exchange(shoal.port, make_query("www.example.com.", TYPE_AAAA, qid=2))
        assert reply is not None and reply.rcode == 0 and reply.addresses() == ["2001:db8::10"], \
            reply
        # asked again: still blocked (nothing was cached)
        reply = exchange(shoal.port, make_query("www.example.com.", qid=3))
        assert reply is not None and reply.rcode == 2 and reply.ede()[0] == 15, reply
    config = l.shoal_config(private_addresses=["192.0.2.0/24"], private_domains=["example.com."])
    with Shoal(workers=2, config=config) as shoal:
        reply = exchange(shoal.port, make_query("www.example.com.", qid=1))
        assert reply is not None and reply.rcode == 0 and reply.addresses() == ["192.0.2.10"], \
            reply
        # example.org is not among them
        reply = exchange(shoal.port, make_query("www.example.org.", qid=2))
        assert reply is not None and reply.rcode == 2 and reply.ede()[0] == 15, reply
        wait_counter(shoal, "spoofing", "rebinding_blocked", 1)


def test_rebinding_guard_refuses_a_mixed_answer_and_caches_none_of_it():
    # docs/security.md: one private address refuses the whole answer (a
    # signed RRset cannot lose records), and nothing of the reply is cached.
    with FakeUpstream(addresses=("192.0.2.5", "198.51.100.7")) as upstream, \
            forward_shoal(upstream, private_addresses=["192.0.2.0/24"]) as shoal:
        reply = ask(shoal, "mixed.test.")
        assert reply.rcode == 2 and not reply.answer and reply.ede()[0] == 15, reply
        assert shoal.ctl_json("cache", "lookup", "mixed.test.")["entries"] == []
        # public addresses only: answered
        upstream.overrides["public.test."] = (["198.51.100.7", "198.51.100.8"], 3600)
        reply = ask(shoal, "public.test.", qid=2)
        assert reply.rcode == 0 and reply.addresses() == ["198.51.100.7", "198.51.100.8"], reply


def test_rebinding_guard_turned_on_by_a_reload_and_a_flush():
    # The guard judges answers as they are resolved; what the cache held
    # before a reload turned it on is served until flushed
    # (docs/security.md), then refused like any fresh answer.
    with FakeUpstream(addresses=("192.0.2.5",)) as upstream, \
            forward_shoal(upstream, workers=1) as shoal:
        reply = ask(shoal, "lan.test.")
        assert reply.rcode == 0 and reply.addresses() == ["192.0.2.5"], reply
        old = shoal.worker_pids()
        shoal.write_config({"resolver": {"private_addresses": ["192.0.2.0/24"]}})
        assert shoal.ctl_json("reload")["ok"] is True
        shoal.wait_workers(1, replacing=old)
        reply = ask(shoal, "other-lan.test.", qid=2)
        assert reply.rcode == 2 and reply.ede()[0] == 15, reply  # the guard is on
        reply = ask(shoal, "lan.test.", qid=3)
        assert reply.rcode == 0 and reply.addresses() == ["192.0.2.5"], reply  # from the cache
        status, out, err = shoal.ctl("cache", "flush", "lan.test.")
        assert status == 0, (out, err)
        reply = ask(shoal, "lan.test.", qid=4)
        assert reply.rcode == 2 and reply.ede()[0] == 15, \
            f"192.0.2.5 served after the flush with the guard on: {reply}"


# --------------------------------------------------------------------------
# Overload
# --------------------------------------------------------------------------

UPSTREAM_DELAY_S = 1.0


def test_resolution_cap_sheds_at_once():
    with FakeUpstream(delay=UPSTREAM_DELAY_S) as upstream, \
            forward_shoal(upstream, workers=1, config={"limits": {"resolutions": 2}},
                          metrics=True) as shoal:
        names = [f"n{i}.{LETTERS}.test." for i in range(30)]
        b = burst(shoal.port, [make_query(name, qid=i) for i, name in enumerate(names)])
        b.collect(lambda b: len(b.replies) == len(names), what="30 answers")
        b.close()
        replies = {qid: (m, t) for (_s, qid), (m, t) in b.replies.items()}
        answered = [m for m, _t in replies.values() if m.rcode == 0]
        shed = [(m, t) for m, t in replies.values() if m.rcode != 0]
        print(f"  {len(answered)} answered, {len(shed)} shed")
        assert len(answered) == 2 and all(m.addresses() == ["198.51.100.7"] for m in answered), \
            replies
        first_reply = min(at for at, _port in upstream.replies_sent)
        for m, t in shed:
            assert m.rcode == 2 and m.ede() == (0, "resolver overloaded"), m
            assert t < first_reply, "a shed query waited for the upstream"
        wait_counter(shoal, "limits", "overload_servfails", len(shed))
        assert counter(shoal, "limits", "overload_servfails") == len(shed)
        page = prometheus(shoal)
        assert page[("shoal_overload_total", '{answer="servfail"}')] == len(shed), page
        # only the two resolutions went upstream (retransmitted: it is slow)
        asked = {q["name"].lower() for q in upstream.received()}
        assert len(asked) == 2, asked


def test_resolution_cap_answers_stale_when_it_can():
    with FakeUpstream(delay=0) as upstream, \
            forward_shoal(upstream, workers=1, config={"limits": {"resolutions": 1}}) as shoal:
        upstream.overrides["old.test."] = (["198.51.100.9"], 1)
        reply = ask(shoal, "old.test.")
        assert reply.addresses() == ["198.51.100.9"], reply
        upstream.delay = UPSTREAM_DELAY_S

        def expired():
            entries = shoal.ctl_json("cache", "lookup", "old.test.", "A")["entries"]
            return entries and all(e["stale"] and e["ttl"] < 0 for e in entries)
        wait_for(expired, WAIT_S, interval=0.1, what="old.test. expired in the cache")
        b = burst(shoal.port, [make_query("slow.test.", qid=1), make_query("old.test.", qid=2)])
        b.collect(lambda b: len(b.replies) == 2, what="2 answers")
        b.close()
        stale, _t = b.replies[(0, 2)]
        assert stale.rcode == 0 and stale.addresses() == ["198.51.100.9"], stale
        assert stale.ede() is not None and "overloaded" in stale.ede()[1], stale
        assert b.replies[(0, 1)][0].addresses() == ["198.51.100.7"]
        wait_counter(shoal, "limits", "overload_stale", 1)


def test_client_in_flight_limit():
    with FakeUpstream(delay=UPSTREAM_DELAY_S) as upstream, \
            forward_shoal(upstream, workers=1,
                          config={"limits": {"resolutions": 0, "client_in_flight": 2}},
                          metrics=True) as shoal:
        names = [f"c{i}.{LETTERS}.test." for i in range(20)]
        b = burst(shoal.port, [make_query(name, qid=i) for i, name in enumerate(names)])
        # another client meanwhile is not limited
        other = exchange(shoal.port, make_query(f"other.{LETTERS}.test.", qid=99),
                         source="127.0.0.2")
        b.collect(lambda b: len(b.replies) == len(names), what="20 answers")
        b.close()
        replies = [m for m, _t in b.replies.values()]
        answered = [m for m in replies if m.rcode == 0]
        limited = [m for m in replies if m.rcode != 0]
        assert len(answered) == 2, replies
        for m in limited:
            assert m.rcode == 2 and m.ede() == (0, "too many queries in flight from this client"), m
        assert other is not None and other.rcode == 0 and other.addresses(), other
        wait_counter(shoal, "limits", "client_in_flight_limited", len(limited))
        assert counter(shoal, "limits", "client_in_flight_limited") == len(limited)
        page = prometheus(shoal)
        assert page[("shoal_client_in_flight_limited_total", "")] == len(limited), page


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
