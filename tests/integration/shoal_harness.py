"""shoal_harness - helpers for shoal's integration tests (Python 3 stdlib only).

The tests run the real `shoal` binary (SHOAL_BIN, else build/bin/shoal) with
a generated TOML config in a temporary directory, listening on 127.0.0.1 on
a free high port, and talk to it with real clients (kdig) or raw packets.

  Shoal        start/stop one shoal instance; worker pids; counters (SIGUSR1);
               wait_log() for a line it logs
  kdig()       run kdig and parse its answer
  DNS helpers  build_query(), parse_header(), udp_exchange(), tcp_exchange(),
               resolve_many() (thousands of queries, pipelined over UDP)
  Lab          the lab (tests/lab/labctl): use a running one or start one
  Unbound      Debian's unbound as an independent validator: iterating over
               the lab, or forwarding to a shoal (forward_to=port)
  shoalctl()   run shoalctl (SHOALCTL_BIN, else build/bin/shoalctl), also as
               another user; Shoal.ctl() / Shoal.ctl_json() for one instance
  Dnsperf      dnsperf in the background (dnsperf() in the foreground) and
               its parsed summary: sent, completed, lost, rcodes, latency
  run_tests()  run a module's test_* functions; exit 0, 1, or 77 (skipped)
"""

import contextlib
import itertools
import json
import os
import pwd
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

SKIP = 77  # ctest SKIP_RETURN_CODE
REPO = Path(__file__).resolve().parents[2]
LABCTL = REPO / "tests" / "lab" / "labctl"


class Skip(Exception):
    """Raised by a test (or a helper) that cannot run here."""


def shoal_bin():
    path = os.environ.get("SHOAL_BIN") or str(REPO / "build" / "bin" / "shoal")
    if not os.access(path, os.X_OK):
        raise Skip(f"no shoal binary at {path} (build it, or set SHOAL_BIN)")
    return path


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root")


def need_kdig():
    if not shutil.which("kdig"):
        raise Skip("kdig not installed (knot-dnsutils)")


# --------------------------------------------------------------------------
# Ports and processes
# --------------------------------------------------------------------------


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, below the kernel's
    ephemeral range (20000..32767 by default): a client socket of another
    test (kdig, dnsperf, shoal's own upstream queries) cannot take it
    between this check and shoal's bind."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    highest = ephemeral - 1 if ephemeral > 21000 else 59999
    for _ in range(200):
        port = random.randint(20000, highest)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found")


def children_of(pid):
    """Pids whose parent is `pid` (from /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command may contain spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return sorted(kids)


def process_name(pid):
    """The name of process `pid` (/proc/PID/comm), "" when it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rfind(")") + 2] != "Z"
    except OSError:
        return False


def started_at(pid):
    """When process `pid` started (was forked), in seconds of
    time.CLOCK_BOOTTIME: the kernel's record, in /proc/PID/stat (to the
    clock tick), not when a test got around to looking."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    ticks = int(stat[stat.rfind(")") + 2:].split()[19])  # field 22, starttime
    return ticks / os.sysconf("SC_CLK_TCK")


# Waits for an event (a log line, a pid, a counter, an answer) use a
# generous deadline: on a loaded 2-core machine running sanitizer builds
# things take far longer than on a desk. A deadline is for failing in the
# end, not a guess at how long something takes.
WAIT_S = 60


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


_instance = itertools.count()


def remove_cache(name):
    """Removes a cache segment (POSIX shm objects live in /dev/shm), the
    supervisor's lock file and the stats segment beside it."""
    for path in ("/dev/shm" + name, "/dev/shm" + name + ".lock", "/dev/shm" + name + ".stats"):
        with contextlib.suppress(OSError):
            os.unlink(path)


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def toml_text(sections):
    """Tables from {section: {key: value}}; a list of dicts is an array of
    tables ({"forward": [{...}, {...}]} -> [[forward]] twice)."""
    lines = []
    for section, keys in sections.items():
        for table in keys if isinstance(keys, list) else [keys]:
            lines.append(f"[[{section}]]" if isinstance(keys, list) else f"[{section}]")
            for key, value in table.items():
                lines.append(f"{key} = {toml_value(value)}")
            lines.append("")
    return "\n".join(lines)


class Shoal:
    """One shoal instance (supervisor + workers) on 127.0.0.1:port.

    `config` maps section -> {key: value} and is merged over the harness's
    base config (listen on the port, `workers`, a private small cache).
    Use as a context manager: the instance is stopped (killed if needed),
    its cache segment removed and, if the test failed, its log printed.
    """

    def __init__(self, workers=2, config=None, port=None, extra_args=(), cache_name=None,
                 cold=True, keep_cache=False, binary=None, launcher=()):
        self.port = port or free_port()
        self.binary = binary  # the shoal executable; default shoal_bin()
        self.workers = workers
        self.dir = Path(tempfile.mkdtemp(prefix="shoal-it-"))
        self.cache_name = cache_name or f"/shoal-it-{os.getpid()}-{next(_instance)}"
        self.cold = cold  # start with --cold
        self.keep_cache = keep_cache  # leave the segment for a next instance
        # the control socket (shoalctl) inside the instance's directory
        self.control_socket = str(self.dir / "control.sock")
        self.stats_name = self.cache_name + ".stats"  # the stats segment
        sections = {
            "server": {"listen": [f"127.0.0.1:{self.port}"], "workers": workers},
            "cache": {"name": self.cache_name, "size": "16M", "stripes": 16},
            "control": {"socket": self.control_socket},
            # The local root (RFC 8806) is on by default and would transfer
            # the root zone from the real root servers when the built-in
            # hints are in use: this machine may only reach loopback and
            # the lab. Tests of it turn it on with the lab's hints
            # (local_root_test.py).
            "local_root": {"enabled": False},
        }
        for section, keys in (config or {}).items():
            if isinstance(keys, list):  # an array of tables ([[forward]])
                sections[section] = list(keys)
            else:
                sections.setdefault(section, {}).update(keys)
        self.sections = sections  # what the config file holds (see write_config)
        self.config_path = self.dir / "shoal.toml"
        self.config_path.write_text(toml_text(sections))
        self.log_path = self.dir / "shoal.log"
        self.extra_args = list(extra_args)
        # run through this (e.g. `ip netns exec NS`, `setpriv ...`): it
        # must exec shoal, so that the process is shoal's supervisor
        self.launcher = list(launcher)
        self.proc = None
        self.returncode = None

    # -- life cycle --------------------------------------------------------

    def start(self, wait=True, timeout=WAIT_S):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*self.launcher, self.binary or shoal_bin(), "--config", str(self.config_path),
             *(["--cold"] if self.cold else []), *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log)
        if wait:
            self.wait_ready(self.workers, timeout)
        return self

    def wait_ready(self, count, timeout=WAIT_S):
        """Waits until `count` worker 'ready' lines are logged in total."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"shoal exited with {self.proc.returncode}:\n{self.log()}")
            return len(re.findall(r"worker \d+ ready", self.log())) >= count
        wait_for(ready, timeout, what=f"{count} worker(s) ready")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals the supervisor; returns (exit status, seconds it took)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"shoal did not stop within {timeout} s after {sig!r}")
        return self.returncode, time.monotonic() - t0

    def kill(self):
        if self.proc is None:
            return
        pids = children_of(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(5)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            # a start that failed (or timed out) leaves nothing running
            self.__exit__(*sys.exc_info())
            raise

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except AssertionError:
            pass
        finally:
            self.kill()
            if not self.keep_cache or exc_type is not None:
                remove_cache(self.cache_name)
        problems = self.problems()
        if exc_type is not None or problems:
            sys.stderr.write(f"--- shoal log ({self.log_path}) ---\n{self.log()}--- end ---\n")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if exc_type is None and problems:
            raise AssertionError("shoal logged problems:\n" + "\n".join(problems))
        return False

    # Lines that fail any test: sanitizer reports (a SHOAL_SANITIZE build),
    # failed checks and reported bugs (base/check.h).
    PROBLEM = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                         r"shoal: fatal:|shoal: bug:")

    def problems(self):
        return [line for line in self.log().splitlines() if self.PROBLEM.search(line)]

    # -- inspection --------------------------------------------------------

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def worker_pids(self):
        """The supervisor's children but its local-root process (named
        shoal-localroot: supervisor/local_root.h)."""
        return [pid for pid in children_of(self.proc.pid)
                if process_name(pid) != "shoal-localroot"]

    @property
    def pid(self):
        """The supervisor's pid."""
        return self.proc.pid

    def wait_workers(self, count, replacing=(), timeout=WAIT_S):
        """Waits until exactly `count` workers run and none of them is in
        `replacing` (pids of workers that must have been replaced); returns
        their pids."""
        old = set(replacing)

        def done():
            if self.proc.poll() is not None:
                raise AssertionError(f"shoal exited with {self.proc.returncode}:\n{self.log()}")
            pids = self.worker_pids()
            return pids if len(pids) == count and not (set(pids) & old) else None
        return wait_for(done, timeout, interval=0.05,
                        what=f"{count} worker(s), none of {sorted(old)}")

    def wait_log(self, pattern, count=1, timeout=WAIT_S):
        """Waits until the regex `pattern` matches at least `count` times in
        the log (the supervisor and the workers log asynchronously: what a
        test just caused may not be written yet); returns re.findall's list."""
        regex = re.compile(pattern)

        def found():
            matches = regex.findall(self.log())
            return matches if len(matches) >= count else None
        return wait_for(found, timeout, interval=0.05,
                        what=f"{count} line(s) matching {pattern!r} in the log")

    # -- configuration and shoalctl ----------------------------------------

    def write_config(self, changes=None, text=None):
        """Rewrites the config file (for a reload): `changes` (section ->
        {key: value}) merged over the current sections, or a raw `text`."""
        if text is None:
            for section, keys in (changes or {}).items():
                self.sections.setdefault(section, {}).update(keys)
            text = toml_text(self.sections)
        self.config_path.write_text(text)

    def ctl(self, *args, json_output=False, direct=False, timeout=150, **kwargs):
        """Runs `shoalctl --config <this config> [--json] ARGS...`; returns
        (exit status, stdout, stderr). `direct`: names the control socket
        and the stats segment instead of the config file, so that shoalctl
        does not read the file (it may be broken, for a reload test).
        kwargs go to shoalctl()."""
        where = (["--socket", self.control_socket, "--stats", self.stats_name] if direct
                 else ["--config", str(self.config_path)])
        return shoalctl(*where, *(["--json"] if json_output else []), *args, timeout=timeout,
                        **kwargs)

    def ctl_json(self, *args, timeout=150, **kwargs):
        """Runs `shoalctl --config <this config> --json ARGS...` (see ctl()),
        asserts it succeeded, and returns the parsed JSON object."""
        rc, out, err = self.ctl(*args, json_output=True, timeout=timeout, **kwargs)
        assert rc == 0, f"shoalctl --json {' '.join(args)}: exit {rc}\nstdout: {out}\nstderr: {err}"
        return parse_json_object(out, what=f"shoalctl --json {' '.join(args)}")

    def counters(self, timeout=WAIT_S):
        """Asks every worker for its counters (SIGUSR1 to the supervisor)
        and returns {slot: {"queries.udp": n, "answers.noerror": n, ...}}."""
        before = self.log().count(" counters: ")
        expected = len(self.worker_pids())
        self.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: self.log().count(" counters: ") >= before + expected, timeout,
                 what="worker counters")
        result = {}
        for line in self.log().splitlines():
            m = re.search(r"worker (\d+) counters: (.*)$", line)
            if not m:
                continue
            values = {}
            for group in m.group(2).split(" | "):
                words = group.split()
                for word in words[1:]:
                    key, _, value = word.partition("=")
                    values[f"{words[0]}.{key}"] = int(value)
            result[int(m.group(1))] = values  # the latest line wins
        return result


# --------------------------------------------------------------------------
# kdig
# --------------------------------------------------------------------------


class Reply:
    """A kdig answer: status ('NOERROR', ..., or None when there was no
    answer), header flags, and the records of each section as tuples
    (owner lowercased, ttl, type, rdata)."""

    def __init__(self, text):
        self.text = text
        self.status = None
        self.flags = set()
        self.sections = {"ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
        current = None
        for line in text.splitlines():
            m = re.search(r"status: ([A-Z0-9]+)", line)
            if m:
                self.status = m.group(1)
            m = re.match(r";; Flags: ([a-z ]*);", line)
            if m:
                self.flags = set(m.group(1).split())
            m = re.match(r";; ([A-Z]+) SECTION:", line)
            if m:
                current = m.group(1)
                continue
            if not line.strip() or line.startswith(";"):
                if not line.strip():
                    current = None
                continue
            if current in self.sections:
                fields = line.split(None, 4)
                if len(fields) == 5:
                    owner, ttl, _cls, rtype, rdata = fields
                    self.sections[current].append((owner.lower(), int(ttl), rtype, rdata.strip()))

    @property
    def answer(self):
        return self.sections["ANSWER"]

    @property
    def authority(self):
        return self.sections["AUTHORITY"]

    def data(self, rtype, section="ANSWER"):
        """Sorted rdata of the records of `rtype`."""
        return sorted(r[3] for r in self.sections[section] if r[2] == rtype)

    def rrs(self, section="ANSWER"):
        """Set of (owner, type, rdata), TTLs left out."""
        return {(o, t, d) for o, _ttl, t, d in self.sections[section]}

    def __repr__(self):
        return f"Reply(status={self.status}, flags={sorted(self.flags)}):\n{self.text}"


def kdig(port, name, rtype="A", *options, server="127.0.0.1", timeout=10):
    need_kdig()
    cmd = ["kdig", f"@{server}", "-p", str(port), f"+timeout={timeout}", "+retry=0",
           *options, name, rtype]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3 + 5)
    return Reply(p.stdout + p.stderr)


# --------------------------------------------------------------------------
# Raw DNS
# --------------------------------------------------------------------------

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def build_query(name, rtype="A", qid=None, rd=True, edns=True, flags=None):
    qid = random.randint(0, 65535) if qid is None else qid
    if flags is None:
        flags = 0x0100 if rd else 0
    header = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    qtype = TYPES[rtype] if isinstance(rtype, str) else rtype
    question = encode_name(name) + struct.pack("!HH", qtype, 1)
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0) if edns else b""
    return header + question + opt


def parse_header(data):
    """(id, flags, rcode name, qdcount, ancount, nscount, arcount)."""
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
    return qid, flags, RCODES.get(flags & 0xF, str(flags & 0xF)), qd, an, ns, ar


def skip_wire_name(data, pos):
    """The offset after the (possibly compressed) name at `pos` of `data`."""
    while True:
        length = data[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length
        if length == 0:
            return pos


def extended_error(data):
    """The EDNS Extended DNS Error (RFC 8914) of a response as "code: text",
    or None. Skips the question, answer and authority sections to the OPT
    record in the additional section (compressed names are followed by
    their pointer only)."""
    try:
        _qid, _flags, _rcode, qd, an, ns, ar = parse_header(data)
        pos = 12

        def skip_name(pos):
            return skip_wire_name(data, pos)

        for _ in range(qd):
            pos = skip_name(pos) + 4
        for _ in range(an + ns):
            pos = skip_name(pos)
            rdlength = struct.unpack("!H", data[pos + 8:pos + 10])[0]
            pos += 10 + rdlength
        for _ in range(ar):
            pos = skip_name(pos)
            rtype, = struct.unpack("!H", data[pos:pos + 2])
            rdlength = struct.unpack("!H", data[pos + 8:pos + 10])[0]
            rdata = data[pos + 10:pos + 10 + rdlength]
            pos += 10 + rdlength
            if rtype != 41:
                continue
            at = 0
            while at + 4 <= len(rdata):
                code, length = struct.unpack("!HH", rdata[at:at + 4])
                value = rdata[at + 4:at + 4 + length]
                at += 4 + length
                if code == 15 and len(value) >= 2:
                    info = struct.unpack("!H", value[:2])[0]
                    return f"{info}: {value[2:].decode(errors='replace')}"
    except (IndexError, struct.error):
        return "unparsable response"
    return None


def udp_exchange(port, payload, timeout=10.0, server="127.0.0.1"):
    """Sends one datagram; returns the reply bytes, or None on timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (server, port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def tcp_frame(payload):
    return struct.pack("!H", len(payload)) + payload


def tcp_read_message(sock):
    """One length-prefixed message, or None at EOF."""
    head = _read_exact(sock, 2)
    if head is None:
        return None
    return _read_exact(sock, struct.unpack("!H", head)[0])


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def tcp_exchange(port, payloads, timeout=10.0, server="127.0.0.1"):
    """Sends every payload on one connection at once (pipelined) and reads
    as many replies; returns them in arrival order."""
    with socket.create_connection((server, port), timeout=timeout) as s:
        s.sendall(b"".join(tcp_frame(p) for p in payloads))
        replies = []
        for _ in payloads:
            reply = tcp_read_message(s)
            if reply is None:
                break
            replies.append(reply)
        return replies


def resolve_many(port, questions, in_flight=100, timeout=3.0, tries=3, sockets=16,
                 server="127.0.0.1", errors=None):
    """Resolves many (name, type) questions over UDP with up to `in_flight`
    outstanding, from `sockets` source ports (so SO_REUSEPORT spreads them
    across workers), retrying a question up to `tries` times like a stub.
    Returns {(name, type): (rcode name or None, ancount, tries used)}; with
    an `errors` dict, also fills errors[(name, type)] with the extended DNS
    error of each answer that is not NOERROR (why it failed)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(sockets)]
    for s in socks:
        s.setblocking(False)
        s.connect((server, port))
    todo = [(q, 1) for q in questions]  # (question, attempt)
    todo.reverse()  # popped from the end
    result = {}
    pending = {}  # (socket index, id) -> (question, sent at, attempt)
    ids = itertools.count(random.randint(0, 65535))
    try:
        while todo or pending:
            now = time.monotonic()
            for key, (q, sent, attempt) in list(pending.items()):
                if now - sent > timeout:
                    del pending[key]
                    if attempt < tries:
                        todo.append((q, attempt + 1))
                    else:
                        result[q] = (None, 0, attempt)
            while todo and len(pending) < in_flight:
                qid = next(ids) & 0xFFFF
                index = qid % sockets
                if (index, qid) in pending:
                    continue
                q, attempt = todo.pop()
                socks[index].send(build_query(q[0], q[1], qid=qid))
                pending[(index, qid)] = (q, time.monotonic(), attempt)
            readable, _, _ = select.select(socks, [], [], 0.05)
            for s in readable:
                index = socks.index(s)
                while True:
                    try:
                        data = s.recv(65535)
                    except BlockingIOError:
                        break
                    except ConnectionRefusedError:
                        break
                    if len(data) < 12:
                        continue
                    qid, _flags, rcode, _qd, an, _ns, _ar = parse_header(data)
                    entry = pending.pop((index, qid), None)
                    if entry is not None:
                        result[entry[0]] = (rcode, an, entry[2])
                        if errors is not None and rcode != "NOERROR":
                            errors[entry[0]] = extended_error(data)
    finally:
        for s in socks:
            s.close()
    return result


# --------------------------------------------------------------------------
# shoalctl
# --------------------------------------------------------------------------


def shoalctl_bin():
    path = os.environ.get("SHOALCTL_BIN") or str(REPO / "build" / "bin" / "shoalctl")
    if not os.access(path, os.X_OK):
        raise Skip(f"no shoalctl binary at {path} (build it, or set SHOALCTL_BIN)")
    return path


def shoalctl(*args, user=None, group=None, groups=(), timeout=150, stdin=subprocess.DEVNULL):
    """Runs shoalctl with `args`; returns (exit status, stdout, stderr).
    With `user`, runs it as that user through setpriv(1) (needs root), with
    primary `group` (default: the user's own) and exactly the supplementary
    `groups` (names; default: none)."""
    cmd = [shoalctl_bin(), *args]
    if user is not None:
        need_root()
        if not shutil.which("setpriv"):
            raise Skip("setpriv not installed (util-linux)")
        if group is None:
            group = pwd.getpwnam(user).pw_gid
        cmd = ["setpriv", f"--reuid={user}", f"--regid={group}",
               f"--groups={','.join(groups)}" if groups else "--clear-groups", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=stdin)
    return p.returncode, p.stdout, p.stderr


def parse_json_object(text, what="output"):
    """The one JSON object in `text` (a clear assertion otherwise)."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise AssertionError(f"{what}: not JSON ({e}):\n{text}") from None
    assert isinstance(value, dict), f"{what}: not a JSON object:\n{text}"
    return value


def control_request(path, request, timeout=150):
    """Speaks the control protocol (control/protocol.h) directly: sends one
    JSON request line on the Unix socket `path`, returns the parsed answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return parse_json_object(data.decode(errors="replace"), what=f"answer to {request}")


# --------------------------------------------------------------------------
# dnsperf
# --------------------------------------------------------------------------


def need_dnsperf():
    if not shutil.which("dnsperf"):
        raise Skip("dnsperf not installed")


def parse_dnsperf(out):
    """dnsperf's summary: {"sent", "completed", "lost", "rcodes": {rcode:
    count}, "qps", "latency_avg_s", "latency_min_s", "latency_max_s",
    "text"}."""
    def number(label, kind=int, pattern=r"(\d+)"):
        m = re.search(rf"{label}:\s+{pattern}", out)
        assert m, f"no '{label}' in dnsperf output:\n{out}"
        return kind(m.group(1))

    rcodes = {}
    m = re.search(r"Response codes:\s+(.*)", out)
    if m:
        for code, count in re.findall(r"([A-Z]+) (\d+)", m.group(1)):
            rcodes[code] = int(count)
    result = {"sent": number("Queries sent"), "completed": number("Queries completed"),
              "lost": number("Queries lost"), "rcodes": rcodes, "text": out,
              "qps": number(r"Queries per second", float, r"([\d.]+)")}
    m = re.search(r"Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)", out)
    assert m, f"no latency in dnsperf output:\n{out}"
    result.update(latency_avg_s=float(m.group(1)), latency_min_s=float(m.group(2)),
                  latency_max_s=float(m.group(3)))
    return result


class Dnsperf:
    """dnsperf running in the background against 127.0.0.1:port over the
    query file `queries` ("name TYPE" lines); result() waits for it and
    returns parse_dnsperf()'s summary. Extra `args` are dnsperf's (-l
    seconds, -Q qps, -n runs, ...). `clients` source ports let SO_REUSEPORT
    spread the load over every worker."""

    def __init__(self, port, queries, *args, clients=16, server="127.0.0.1"):
        need_dnsperf()
        self.cmd = ["dnsperf", "-s", server, "-p", str(port), "-d", str(queries),
                    "-c", str(clients), *map(str, args)]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True)

    def result(self, timeout=180):
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            raise AssertionError(f"dnsperf still running after {timeout} s:\n{out}") from None
        assert self.proc.returncode == 0, \
            f"{' '.join(self.cmd)}: exit {self.proc.returncode}\n{out}"
        return parse_dnsperf(out)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def dnsperf(port, queries, *args, clients=16, timeout=180):
    """Runs dnsperf to its end (see Dnsperf); returns its summary."""
    run = Dnsperf(port, queries, *args, clients=clients)
    try:
        return run.result(timeout)
    finally:
        run.kill()


# --------------------------------------------------------------------------
# The independent validator (Debian's unbound)
# --------------------------------------------------------------------------

UNBOUND_ADDR = "127.0.0.154"  # labctl selfcheck's unbound uses 127.0.0.153:53


def free_port_on(addr):
    """A port free for UDP and TCP on `addr` (the kernel picks one)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((addr, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((addr, port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no free port on {addr}")


class Unbound:
    """Debian's unbound as an independent validating resolver on
    UNBOUND_ADDR:port, configured like labctl selfcheck's (lab root hints,
    the lab's DS trust anchor, validator + iterator). Context manager: stopped
    at the end; its log is printed if the block failed.

    With `forward_to` (a port on 127.0.0.1, e.g. a shoal's), it resolves
    nothing itself: it forwards every question (forward-zone ".") there and
    validates each answer with the lab's trust anchor, without aggressive
    NSEC (so it checks every denial proof itself) and with small caches."""

    def __init__(self, env, forward_to=None):
        if not shutil.which("unbound"):
            raise Skip("unbound not installed (the independent validator)")
        self.port = free_port_on(UNBOUND_ADDR)
        self.dir = Path(tempfile.mkdtemp(prefix="shoal-it-unbound-"))
        self.log_path = self.dir / "unbound.log"
        if forward_to is None:
            localhost, forward = "    do-not-query-localhost: yes\n", ""
        else:
            localhost = ("    do-not-query-localhost: no\n"
                         "    aggressive-nsec: no\n"
                         "    msg-cache-size: 256k\n"
                         "    rrset-cache-size: 256k\n")
            forward = ("forward-zone:\n"
                       "    name: \".\"\n"
                       f"    forward-addr: 127.0.0.1@{forward_to}\n")
        (self.dir / "unbound.conf").write_text(f"""server:
    interface: {UNBOUND_ADDR}
    port: {self.port}
    do-ip4: yes
    do-ip6: yes
    do-udp: yes
    do-tcp: yes
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "{self.dir}"
    pidfile: "{self.dir}/unbound.pid"
    logfile: "{self.log_path}"
    use-syslog: no
    verbosity: 1
    val-log-level: 2
    num-threads: 1
    root-hints: "{env['LAB_ROOT_HINTS']}"
    trust-anchor-file: "{env['LAB_TRUST_ANCHOR']}"
    module-config: "validator iterator"
    harden-dnssec-stripped: yes
    qname-minimisation: yes
    edns-buffer-size: 1232
{localhost}{forward}remote-control:
    control-enable: no
""")
        self.proc = None

    def __enter__(self):
        self._out = open(self.dir / "unbound.stderr", "wb")
        self.proc = subprocess.Popen(["unbound", "-d", "-c", str(self.dir / "unbound.conf")],
                                     stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def answers():
            if self.proc.poll() is not None:
                raise AssertionError(f"unbound exited with {self.proc.returncode}:\n{self.log()}")
            return self.query("localhost.", "A", timeout=1).status == "NOERROR"
        wait_for(answers, WAIT_S, interval=0.1, what="unbound to answer")
        return self

    def query(self, name, rtype, *options, timeout=10):
        """kdig's answer; asked twice when the first gets none (like a stub:
        the validator is the reference here, not the one under test)."""
        for _ in range(2):
            r = kdig(self.port, name, rtype, *options, server=UNBOUND_ADDR, timeout=timeout)
            if r.status is not None:
                break
        return r

    def log(self):
        text = ""
        for path in (self.dir / "unbound.stderr", self.log_path):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return text

    def __exit__(self, exc_type, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        if exc_type is not None:
            print(f"--- unbound log ({self.dir}):\n{self.log()[-6000:]}", flush=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


# --------------------------------------------------------------------------
# The lab
# --------------------------------------------------------------------------


class Lab:
    """The lab (tests/lab/labctl). A lab already running is used and left
    running; otherwise one is started and stopped at the end. Needs root."""

    def __init__(self):
        need_root()
        need_kdig()
        self.started = False
        self.dropped = set()
        self.delayed = set()

    def __enter__(self):
        status = subprocess.run([str(LABCTL), "status"], capture_output=True, text=True)
        if status.returncode != 0:
            p = subprocess.run([str(LABCTL), "start"], capture_output=True, text=True)
            if p.returncode != 0:
                raise AssertionError(f"labctl start failed:\n{p.stdout}{p.stderr}")
            self.started = True
        p = subprocess.run([str(LABCTL), "env", "--json"], capture_output=True, text=True,
                           check=True)
        self.env = json.loads(p.stdout)
        return self

    def __exit__(self, *exc):
        for addr in sorted(self.dropped):
            subprocess.run([str(LABCTL), "drop", addr, "0"], capture_output=True)
        for addr in sorted(self.delayed):
            subprocess.run([str(LABCTL), "delay", addr, "0"], capture_output=True)
        if self.started:
            subprocess.run([str(LABCTL), "stop"], capture_output=True)
        return False

    def shoal_config(self, **resolver):
        """The [resolver] section pointing shoal at the lab."""
        section = {"root_hints": self.env["LAB_ROOT_HINTS"],
                   "trust_anchors": [self.env["LAB_TRUST_ANCHOR"]],
                   "ipv6": False}
        section.update(resolver)
        return {"resolver": section}

    def counters(self):
        """DNS packets received so far per lab server address."""
        p = subprocess.run([str(LABCTL), "counters", "--json"], capture_output=True, text=True,
                           check=True)
        return json.loads(p.stdout)

    def upstream_packets(self):
        return sum(self.counters().values())

    def root_bump(self):
        """A new version of the lab's root zone (`labctl root-bump`): its
        serial, served by both root addresses when this returns."""
        p = subprocess.run([str(LABCTL), "root-bump"], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(f"labctl root-bump failed:\n{p.stdout}{p.stderr}")
        return int(p.stdout.strip())

    def drop(self, addr, percent):
        subprocess.run([str(LABCTL), "drop", addr, str(percent)], capture_output=True,
                       check=True)
        if percent:
            self.dropped.add(addr)
        else:
            self.dropped.discard(addr)

    def delay(self, addr, ms):
        subprocess.run([str(LABCTL), "delay", addr, str(ms)], capture_output=True, check=True)
        if ms:
            self.delayed.add(addr)
        else:
            self.delayed.discard(addr)

    def all_addrs(self):
        return self.env["LAB_ALL_ADDRS"].split()


_shared_lab = None


def shared_lab():
    """One lab for a whole test script, started on first use (a running one
    is used as it is); close_shared_lab() leaves things as they were."""
    global _shared_lab
    if _shared_lab is None:
        _shared_lab = Lab().__enter__()
    return _shared_lab


def close_shared_lab():
    global _shared_lab
    if _shared_lab is not None:
        _shared_lab.__exit__(None, None, None)
        _shared_lab = None


# --------------------------------------------------------------------------
# Running tests
# --------------------------------------------------------------------------


def run_tests(namespace, only=None):
    """Runs the test_* functions of a module in definition order. Exit
    status: 1 if any failed, 77 if all were skipped, else 0. Arguments on
    the command line select tests by name."""
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith("test_") and callable(fn)]
    selected = set(only if only is not None else sys.argv[1:])
    if selected:
        tests = [(n, f) for n, f in tests if n in selected]
    passed, failed, skipped = [], [], []
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped.append(name)
            print(f"SKIP {name}: {e}", flush=True)
            continue
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed.append(name)
            print(f"FAIL {name} ({time.monotonic() - t0:.2f} s)", flush=True)
            traceback.print_exc()
            continue
        passed.append(name)
        print(f"ok   {name} ({time.monotonic() - t0:.2f} s)", flush=True)
    print(f"{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped", flush=True)
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(SKIP)
    sys.exit(0)
