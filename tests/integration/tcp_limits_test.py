#!/usr/bin/env python3
"""Client TCP limits (issue 13): clients that send without reading cannot
grow a worker (answers queue up to tcp_max_queued per connection, then
shoal stops reading; a connection whose answers make no progress for a
whole idle timeout is closed), other clients are served meanwhile, one
address cannot hold more than tcp_max_per_client connections, and TCP
clients asking for edns-tcp-keepalive are told the idle timeout of their
connection's bucket (RFC 7828). Needs neither root nor the network."""

import select
import socket

from shoal_harness import (Shoal, build_query, kdig, need_kdig, parse_header, run_tests,
                           tcp_exchange, tcp_frame, tcp_read_message, wait_for)

REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32"]}}
NO_UPSTREAM = {"resolver": {"deny_upstream": ["0.0.0.0/0", "::/0"]}}

# A query with a long name: its REFUSED answer (the question echoed) is
# about as long, so answers pile up as fast as queries go in.
LONG_NAME = ".".join(["a" * 60] * 4)


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def tcp_stats(shoal):
    return shoal.ctl_json("stats")["tcp_clients"]


def push_without_reading(port, clients, limit):
    """`clients` connections each send pipelined queries as fast as shoal
    takes them, never reading an answer, until shoal stops taking them
    (no socket writable for 2 s) or each has sent `limit` octets. Returns
    the sockets (still open) and the octets each sent."""
    batch = b"".join(tcp_frame(build_query(LONG_NAME, "A", qid=i)) for i in range(256))
    socks = []
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        socks.append(s)
    sent = {s: 0 for s in socks}
    busy = list(socks)
    while busy:
        _, writable, _ = select.select([], busy, [], 2.0)
        if not writable:
            break  # shoal reads from none of them any more
        for s in writable:
            try:
                sent[s] += s.send(batch)
            except BlockingIOError:
                pass
            except OSError:  # closed by shoal: it did not read for an idle timeout
                busy.remove(s)
                continue
            if sent[s] >= limit:
                busy.remove(s)
    return socks, [sent[s] for s in socks]


def test_clients_that_never_read_are_bounded_paused_and_closed():
    need_kdig()
    config = dict(REFUSE_ALL, server={"tcp_idle_timeout": "2s", "tcp_max_queued": "64K"})
    with Shoal(workers=1, config=config) as shoal:
        [worker] = shoal.worker_pids()
        before = vm_rss_kib(worker)
        limit = 64 << 20  # unbounded queueing would take all of this from each
        socks, sent = push_without_reading(shoal.port, 20, limit)
        try:
            assert all(n < limit for n in sent), sent
            grown = vm_rss_kib(worker) - before
            # 20 x (64K of answers + at most one 64K read held back) and
            # allocator slack; the clients pushed hundreds of megabytes.
            assert grown < 32 * 1024, (grown, sent)
            assert sum(sent) > 20 * 256 * 1024, sent  # the cap was really reached
            stats = tcp_stats(shoal)
            assert stats["paused"] >= 20, stats
            # Other clients are served meanwhile.
            assert kdig(shoal.port, "www.example.com", "A", "+tcp").status == "REFUSED"
            assert kdig(shoal.port, "www.example.com", "A", "+notcp").status == "REFUSED"
            # No answer moves for a whole idle timeout: each is closed.
            wait_for(lambda: tcp_stats(shoal)["stalled_closed"] >= 20, 60,
                     what="the connections that never read to be closed")
            for s in socks:
                s.setblocking(True)
                s.settimeout(10)
                try:
                    while s.recv(1 << 20):  # what shoal had sent, then the end
                        pass
                except ConnectionResetError:
                    pass
        finally:
            for s in socks:
                s.close()


def test_a_client_that_stops_reading_then_reads_gets_every_answer():
    """Paused at the cap while the client reads nothing, resumed as it
    reads again: every answer arrives, none twice."""
    config = dict(REFUSE_ALL, server={"tcp_max_queued": "16K"})
    with Shoal(workers=1, config=config) as shoal:
        count = 40000  # about 11 MB of answers: more than the kernel's buffers hold
        data = b"".join(tcp_frame(build_query(LONG_NAME, "A", qid=i % 65536))
                        for i in range(count))
        with socket.create_connection(("127.0.0.1", shoal.port), timeout=30) as s:
            s.setblocking(False)
            sent = 0
            # Not reading: shoal's queue for this connection reaches its cap.
            while tcp_stats(shoal)["paused"] == 0:
                assert sent < len(data), "all sent and never paused"
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    select.select([], [s], [], 0.05)
            # Now reading (and sending the rest).
            got = 0
            buffer = bytearray()
            pos = 0
            while got < count:
                if sent < len(data):
                    try:
                        sent += s.send(data[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                readable, _, _ = select.select([s], [], [], 10)
                assert readable, f"stuck after {got} answers"
                chunk = s.recv(1 << 16)
                assert chunk, f"closed after {got} answers"
                buffer += chunk
                while len(buffer) - pos >= 2:
                    n = int.from_bytes(buffer[pos:pos + 2], "big")
                    if len(buffer) - pos < 2 + n:
                        break
                    assert parse_header(bytes(buffer[pos + 2:pos + 14]))[0] == got % 65536
                    got += 1
                    pos += 2 + n
                del buffer[:pos]
                pos = 0
        stats = tcp_stats(shoal)
        assert stats["paused"] >= 1 and stats["stalled_closed"] == 0, stats


def test_one_address_holds_at_most_tcp_max_per_client_connections():
    config = dict(REFUSE_ALL, server={"tcp_max_per_client": 5})
    with Shoal(workers=1, config=config) as shoal:
        socks = [socket.create_connection(("127.0.0.1", shoal.port), timeout=10)
                 for _ in range(30)]
        try:
            served = 0
            for qid, s in enumerate(socks):
                try:
                    s.sendall(tcp_frame(build_query("x.example", "A", qid=qid)))
                    reply = tcp_read_message(s)
                    if reply is not None and parse_header(reply)[0] == qid:
                        served += 1
                except OSError:  # refused: closed, or reset with our query unread
                    pass
            assert served == 5, served
            stats = tcp_stats(shoal)
            assert stats["client_limited"] == 25 and stats["accepted"] == 5, stats
        finally:
            for s in socks:
                s.close()
        # Their places free again once they are gone.
        wait_for(lambda: len(tcp_exchange(shoal.port, [build_query("y.example", "A", qid=1)]))
                 == 1, 30, what="a new connection served")


def test_tcp_clients_asking_for_keepalive_are_told_the_idle_timeout():
    need_kdig()
    config = dict(NO_UPSTREAM, server={"tcp_idle_timeout": "2500ms"})
    with Shoal(workers=1, config=config) as shoal:
        r = kdig(shoal.port, "www.example.com", "A", "+tcp", "+ednsopt=11")
        assert r.status == "SERVFAIL", r
        assert ";; Option (11): 0019" in r.text, r.text  # 25 x 100 ms (RFC 7828)
        r = kdig(shoal.port, "www.example.com", "A", "+tcp")
        assert "Option (11)" not in r.text, r.text  # not asked for: not sent
        r = kdig(shoal.port, "www.example.com", "A", "+notcp", "+ednsopt=11")
        assert r.status == "SERVFAIL" and "Option (11)" not in r.text, r.text  # never over UDP
        # A third one-shot connection closed: the client is dont-bother,
        # its connections close a tenth of the timeout after the answer,
        # and that is what it is told
        kdig(shoal.port, "www.example.com", "A", "+tcp")

        def closed_three():
            for c in shoal.ctl_json("clients")["clients"]:
                if c["client"] == "127.0.0.1/32" and c["connections"] == 3 and c["open"] == 0:
                    return c
            return None
        wait_for(closed_three, 30, what="three connections of 127.0.0.1 closed")
        r = kdig(shoal.port, "www.example.com", "A", "+tcp", "+ednsopt=11")
        assert ";; Option (11): 0002" in r.text, r.text  # 250 ms


def test_clients_are_sorted_into_buckets_shown_and_timed_out_by_them():
    """A one-shot client (one query per connection) becomes dont-bother
    and its connections close a tenth of the idle timeout after the
    answer; a client that keeps asking on its connection is keep-active;
    `shoalctl clients` shows both."""
    config = dict(REFUSE_ALL, server={"tcp_idle_timeout": "20s"})
    with Shoal(workers=1, config=config) as shoal:
        for qid in range(4):  # 127.0.0.1: open, ask once, leave
            with socket.create_connection(("127.0.0.1", shoal.port), timeout=10) as c:
                c.sendall(tcp_frame(build_query("x.example", "A", qid=qid)))
                assert parse_header(tcp_read_message(c))[0] == qid
        frequent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        frequent.bind(("127.0.0.2", 0))
        frequent.settimeout(10)
        frequent.connect(("127.0.0.1", shoal.port))
        try:
            for qid in range(30):  # 127.0.0.2: one connection, many queries
                frequent.sendall(tcp_frame(build_query("y.example", "A", qid=qid)))
                assert parse_header(tcp_read_message(frequent))[0] == qid

            def listed():
                clients = {c["client"]: c for c in shoal.ctl_json("clients")["clients"]}
                return clients if {"127.0.0.1/32", "127.0.0.2/32"} <= clients.keys() else None
            clients = wait_for(listed, 30, what="both clients in shoalctl clients")
            assert clients["127.0.0.1/32"]["bucket"] == "dont-bother", clients
            assert clients["127.0.0.1/32"]["connections"] == 4, clients
            assert clients["127.0.0.2/32"]["bucket"] == "keep-active", clients
            assert clients["127.0.0.2/32"]["open"] == 1, clients
            assert clients["127.0.0.2/32"]["queries"] == 30, clients
            rc, text, _ = shoal.ctl("clients")
            assert rc == 0 and "127.0.0.2/32" in text and "keep-active" in text, text
            # The one-shot client's next connection is closed after 2 s
            # (20 s / 10), well before the idle timeout.
            with socket.create_connection(("127.0.0.1", shoal.port), timeout=15) as c:
                c.sendall(tcp_frame(build_query("x.example", "A", qid=99)))
                assert parse_header(tcp_read_message(c))[0] == 99
                assert c.recv(10) == b""  # closed by shoal (a timeout raises)
            buckets = shoal.ctl_json("clients")["accepted_by_bucket"]
            assert buckets["dont_bother"] >= 1 and buckets["collapse"] >= 3, buckets
            assert tcp_stats(shoal)["idle_closed"] >= 1
        finally:
            frequent.close()


if __name__ == "__main__":
    run_tests(globals())
