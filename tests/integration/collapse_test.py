#!/usr/bin/env python3
"""Collapsed connections (issue 13, server.tcp_collapse): shoal runs in a
network namespace of this test's own, reached over a veth pair like a real
network. An idle TCP connection of an occasional client is collapsed at
the idle timeout (its server socket gone, no FIN, no reset: the client's
socket stays connected), and the client's next query on the same socket
brings it back, with no new handshake, and is answered; again and again;
over IPv4 and IPv6. A client that closes a collapsed connection, one
forgotten after tcp_collapsed_timeout (the client then gets a reset), and
shoal without CAP_NET_ADMIN (it says so and closes idle connections as
before) are covered too. Needs root (namespaces, nftables)."""

import contextlib
import os
import signal
import socket
import subprocess
import time

from shoal_harness import (Shoal, Skip, build_query, need_root, parse_header, run_tests,
                           tcp_frame, tcp_read_message, wait_for)

NS = f"shoal-collapse-{os.getpid()}"
HOST_V4, NS_V4 = "10.77.0.1", "10.77.0.2"
HOST_V6, NS_V6 = "fd77::1", "fd77::2"
PORT = 53
# every client is refused (its answer echoes the question): no upstream needed
REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32"]}}


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def in_ns(*args, check=True):
    return sh("ip", "netns", "exec", NS, *args, check=check)


@contextlib.contextmanager
def namespace():
    need_root()
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "netns", "add", NS)
    host, peer = f"vc{os.getpid() % 100000}", f"vn{os.getpid() % 100000}"
    sh("ip", "link", "del", host, check=False)
    try:
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", NS)
        sh("ip", "addr", "add", f"{HOST_V4}/30", "dev", host)
        sh("ip", "-6", "addr", "add", f"{HOST_V6}/64", "dev", host, "nodad")
        sh("ip", "link", "set", host, "up")
        in_ns("ip", "link", "set", "lo", "up")
        in_ns("ip", "addr", "add", f"{NS_V4}/30", "dev", peer)
        in_ns("ip", "-6", "addr", "add", f"{NS_V6}/64", "dev", peer, "nodad")
        in_ns("ip", "link", "set", peer, "up")
        yield
    finally:
        sh("ip", "link", "del", host, check=False)  # both ends, at once
        sh("ip", "netns", "del", NS, check=False)


def collapsing_shoal(workers=2, timeout="10m", launcher=None, extra=None):
    config = {"server": {"listen": [f"{NS_V4}:{PORT}", f"[{NS_V6}]:{PORT}"],
                         "tcp_idle_timeout": "1s", "tcp_collapse": True,
                         "tcp_collapsed_timeout": timeout}}
    config.update(REFUSE_ALL)
    for section, keys in (extra or {}).items():
        config.setdefault(section, {}).update(keys)
    return Shoal(workers=workers, config=config,
                 launcher=launcher or ["ip", "netns", "exec", NS])


def tcp(shoal):
    return shoal.ctl_json("stats")["tcp_clients"]


def ask(sock, qid, name="collapse.example"):
    sock.sendall(tcp_frame(build_query(name, "A", qid=qid)))
    reply = tcp_read_message(sock)
    header = parse_header(reply)
    assert header[0] == qid and header[2] == "REFUSED", header  # the ACL refuses us
    return reply


def server_sockets(client_port):
    """shoal's established sockets for the client's port, seen from inside."""
    out = in_ns("ss", "-Htn", "state", "established", f"( dport = :{client_port} )").stdout
    return [line for line in out.splitlines() if line.strip()]


def wait_counter(shoal, key, at_least, what):
    wait_for(lambda: tcp(shoal)[key] >= at_least, 10, what=what)


def round_trip(shoal, family, server, rounds=3):
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect((server, PORT))
    client_port = sock.getsockname()[1]
    ask(sock, 1)
    accepted = tcp(shoal)["accepted"]  # counted by now: it answered
    for i in range(rounds):
        before = tcp(shoal)
        # the server side goes from the kernel (another connection's
        # collapse may count meanwhile: this one's socket is what tells)
        wait_for(lambda: not server_sockets(client_port), 10, what="the connection collapsed")
        assert tcp(shoal)["collapsed"] > before["collapsed"]
        # and the client noticed nothing
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            data = sock.recv(1)
            raise AssertionError(f"the client got {data!r} (a FIN?) from a collapsed connection")
        sock.setblocking(True)
        sock.settimeout(10)
        t0 = time.monotonic()
        ask(sock, 100 + i)
        took_ms = (time.monotonic() - t0) * 1000
        after = tcp(shoal)
        assert after["revived"] == before["revived"] + 1, (before, after)
        assert len(server_sockets(client_port)) == 1
        print(f"  {server}: collapsed and revived, query answered in {took_ms:.2f} ms", flush=True)
    # no handshake: the same socket throughout, one accept in all
    assert tcp(shoal)["accepted"] == accepted, (accepted, tcp(shoal))
    return sock


def test_idle_connections_collapse_and_come_back():
    with namespace(), collapsing_shoal() as shoal:
        shoal.wait_log(r"worker \d+: tcp_collapse on", count=2)
        v4 = round_trip(shoal, socket.AF_INET, NS_V4)
        v6 = round_trip(shoal, socket.AF_INET6, NS_V6)
        listing = in_ns("nft", "list", "ruleset").stdout
        assert "table ip shoal" in listing and "table ip6 shoal" in listing, listing
        stats = tcp(shoal)
        assert stats["revive_failed"] == 0 and stats["revive_us"] > 0, stats
        # the client closes a collapsed connection: it comes back to close
        wait_counter(shoal, "collapsed_now", 2, "both connections collapsed")
        v4.close()
        v6.close()
        wait_for(lambda: tcp(shoal)["collapsed_now"] == 0, 10, what="closed ones gone")
        out = shoal.ctl("stats")[1]
        assert "collapsed " in out, out
        print("  " + next(l for l in out.splitlines() if l.startswith("collapsed")), flush=True)
    # shoal stopped: its rules went with it
    # (the namespace is gone too; a fresh check runs in the next test)


def test_a_forgotten_connection_gets_a_reset():
    with namespace(), collapsing_shoal(timeout="2s") as shoal:
        shoal.wait_log(r"worker \d+: tcp_collapse on", count=2)
        sock = socket.create_connection((NS_V4, PORT), timeout=10)
        ask(sock, 1)
        wait_counter(shoal, "collapsed", 1, "the connection collapsed")
        wait_counter(shoal, "collapsed_expired", 1, "the collapsed connection forgotten")
        # the sweep deleted its divert element too
        wait_for(lambda: "elements" not in in_ns("nft", "list", "table", "ip", "shoal").stdout,
                 10, what="the divert element timed out")
        sock.sendall(tcp_frame(build_query("late.example", "A", qid=2)))
        try:
            data = sock.recv(2)
        except ConnectionResetError:
            data = None
        assert not data, f"expected a reset, got {data!r}"
        assert tcp(shoal)["revived"] == 0


def test_a_new_worker_drops_its_predecessors_collapsed_connections():
    with namespace(), collapsing_shoal(workers=1) as shoal:
        shoal.wait_log(r"worker \d+: tcp_collapse on")
        sock = socket.create_connection((NS_V4, PORT), timeout=10)
        client_port = sock.getsockname()[1]
        ask(sock, 1)
        wait_for(lambda: not server_sockets(client_port), 10, what="the connection collapsed")
        os.kill(shoal.worker_pids()[0], signal.SIGKILL)
        # the successor binds the queue and empties the set
        shoal.wait_log(r"worker \d+: tcp_collapse on", count=2)
        assert "elements" not in in_ns("nft", "list", "table", "ip", "shoal").stdout
        sock.sendall(tcp_frame(build_query("after.example", "A", qid=2)))
        try:
            data = sock.recv(2)
        except ConnectionResetError:
            data = None
        assert not data, f"expected a reset, got {data!r}"
        # its client reconnects, and is served
        ask(socket.create_connection((NS_V4, PORT), timeout=10), 3)


def test_rules_removed_at_stop_and_without_the_capability_idle_connections_close():
    with namespace():
        with collapsing_shoal(workers=1) as shoal:
            shoal.wait_log(r"worker \d+: tcp_collapse on")
        assert "shoal" not in in_ns("nft", "list", "tables").stdout, "rules left behind"
        nocap = ["ip", "netns", "exec", NS, "setpriv", "--bounding-set=-net_admin",
                 "--inh-caps=-net_admin"]
        with collapsing_shoal(workers=1, launcher=nocap) as shoal:
            shoal.wait_log(r"tcp_collapse unavailable")
            sock = socket.create_connection((NS_V4, PORT), timeout=10)
            ask(sock, 1)
            wait_counter(shoal, "idle_closed", 1, "the idle connection closed")
            assert sock.recv(1) == b"", "expected the server's FIN"
            assert tcp(shoal)["collapsed"] == 0


if __name__ == "__main__":
    run_tests(globals())
