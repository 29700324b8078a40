#!/usr/bin/env python3
"""What clients see without any upstream: the ACL (REFUSED, counted),
malformed queries (FORMERR, NOTIMP or dropped, counted, the worker
survives), and TCP service (RFC 7766: length-prefixed, pipelined queries,
idle timeout, connection limit). Needs neither root nor the network."""

import os
import socket
import struct
import time

from shoal_harness import (Shoal, build_query, free_port, kdig, need_kdig, parse_header, run_tests,
                           tcp_exchange, tcp_frame, tcp_read_message, udp_exchange, wait_for)

REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32", "2001:db8::/32"]}}
# 127.0.0.1 may query (the default ACL) but no upstream may be asked: a
# well-formed query is answered SERVFAIL at once, without the network.
NO_UPSTREAM = {"resolver": {"deny_upstream": ["0.0.0.0/0", "::/0"]}}


def query(qid=7):
    return build_query("www.example.com", "A", qid=qid)


def test_clients_outside_the_acl_get_refused_over_udp_and_tcp():
    need_kdig()
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        for transport in ("+notcp", "+tcp"):
            r = kdig(shoal.port, "www.example.com", "A", transport)
            assert r.status == "REFUSED", r
            assert "qr" in r.flags and "ra" in r.flags, r
            assert "QUESTION SECTION" in r.text and "www.example.com." in r.text, r
        counters = shoal.counters()
        assert sum(c["queries.refused_acl"] for c in counters.values()) == 2, counters
        assert sum(c["answers.refused"] for c in counters.values()) == 2, counters
        assert sum(c["queries.misses"] for c in counters.values()) == 0, counters


def test_a_wildcard_listener_answers_from_the_address_each_query_arrived_at():
    # Listening on 0.0.0.0 and ::, an answer must leave from the address the
    # query was sent to (IP_PKTINFO / IPV6_PKTINFO), not from the one the
    # route prefers: 127.0.0.2 is local (all of 127/8 is), but a reply to a
    # client on 127.0.0.1 would otherwise come from 127.0.0.1 and the
    # client would drop it. (A farm's anycast address on lo is the same case.)
    # REFUSED comes from the hot path; SERVFAIL (no upstream allowed) from
    # the resolver, answered later from the miss path.
    for settings, rcode in ((REFUSE_ALL, "REFUSED"), (NO_UPSTREAM, "SERVFAIL")):
        port = free_port()
        config = dict(settings, server={"listen": [f"0.0.0.0:{port}", f"[::]:{port}"]},
                      acl={"allow": ["192.0.2.255/32"] if rcode == "REFUSED"
                           else ["127.0.0.0/8", "::1/128"]})
        with Shoal(workers=2, config=config, port=port) as shoal:
            for family, destination in ((socket.AF_INET, "127.0.0.1"),
                                        (socket.AF_INET, "127.0.0.2"),
                                        (socket.AF_INET, "127.0.0.53"),
                                        (socket.AF_INET6, "::1")):
                for qid in range(20):  # over both workers' sockets
                    with socket.socket(family, socket.SOCK_DGRAM) as s:
                        s.settimeout(10)
                        s.sendto(query(qid), (destination, shoal.port))
                        data, source = s.recvfrom(4096)
                    assert source[:2] == (destination, shoal.port), (rcode, destination, source)
                    assert parse_header(data)[:3:2] == (qid, rcode), parse_header(data)


def test_malformed_udp_queries_get_formerr_or_nothing_and_the_worker_lives():
    q = query()
    header = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    cases = {
        # name: (packet, expected rcode or None for no answer)
        "empty": (b"", None),
        "runt": (b"\x00\x07\x01", None),
        "header only": (struct.pack("!HHHHHH", 7, 0x0100, 0, 0, 0, 0), "FORMERR"),
        "two questions": (struct.pack("!HHHHHH", 7, 0x0100, 2, 0, 0, 0) + q[12:], "FORMERR"),
        "question cut short": (q[:20], "FORMERR"),
        "forward pointer": (header + b"\xc0\xff\x00\x01\x00\x01", "FORMERR"),
        "label too long": (header + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", "FORMERR"),
        "trailing garbage": (q + b"\x00\x00", "FORMERR"),
        "a response": (bytes([0, 7, 0x81, 0x80]) + q[4:], None),
        "opcode NOTIFY": (bytes([0, 7, 0x20, 0x00]) + q[4:], "NOTIMP"),
    }
    with Shoal(workers=1, config=NO_UPSTREAM) as shoal:
        pids = shoal.worker_pids()
        for _ in range(3):
            for name, (packet, expected) in cases.items():
                reply = udp_exchange(shoal.port, packet, timeout=0.3 if expected is None else 10)
                got = None if reply is None else parse_header(reply)
                if expected is None:
                    assert reply is None, (name, got)
                else:
                    assert got is not None and got[0] == 7 and got[2] == expected, (name, got)
                    assert got[1] & 0x8000, (name, got)  # QR set
            for _ in range(50):
                udp_exchange(shoal.port, os.urandom(os.urandom(1)[0] % 64), timeout=0.01)
        assert shoal.worker_pids() == pids, "a worker died"
        reply = udp_exchange(shoal.port, query(8))
        assert reply is not None and parse_header(reply)[:3:2] == (8, "SERVFAIL")
        counters = shoal.counters()[0]
        assert counters["queries.malformed"] >= 3 * 7, counters
        assert counters["queries.dropped"] >= 3 * 3, counters


def test_malformed_tcp_input_closes_at_worst_and_the_worker_lives():
    with Shoal(workers=1, config=NO_UPSTREAM) as shoal:
        pids = shoal.worker_pids()
        # a malformed message in a stream gets FORMERR; the stream goes on
        with socket.create_connection(("127.0.0.1", shoal.port), timeout=10) as s:
            s.sendall(tcp_frame(query(1)[:20]) + tcp_frame(query(2)))
            first, second = tcp_read_message(s), tcp_read_message(s)
            assert parse_header(first)[2] == "FORMERR" and parse_header(second)[2] == "SERVFAIL"
        # a zero-length message makes no sense: the connection is closed
        with socket.create_connection(("127.0.0.1", shoal.port), timeout=10) as s:
            s.sendall(b"\x00\x00")
            assert s.recv(10) == b""
        # garbage, then a reset in the middle of a message
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", shoal.port), timeout=10) as s:
                s.sendall(os.urandom(100))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert shoal.worker_pids() == pids, "a worker died"
        assert [parse_header(r)[2] for r in tcp_exchange(shoal.port, [query(3)])] == ["SERVFAIL"]


def test_tcp_pipelined_queries_all_answered_on_one_connection():
    with Shoal(workers=1, config=REFUSE_ALL) as shoal:
        ids = list(range(100, 150))
        replies = tcp_exchange(shoal.port, [query(i) for i in ids])
        assert sorted(parse_header(r)[0] for r in replies) == ids
        # one byte at a time: framing across reads
        with socket.create_connection(("127.0.0.1", shoal.port), timeout=10) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for byte in tcp_frame(query(9)) + tcp_frame(query(10)):
                s.send(bytes([byte]))
                time.sleep(0.001)
            assert [parse_header(tcp_read_message(s))[0] for _ in range(2)] == [9, 10]


def test_tcp_idle_connections_are_closed():
    config = dict(REFUSE_ALL, server={"tcp_idle_timeout": "300ms"})
    with Shoal(workers=1, config=config) as shoal:
        with socket.create_connection(("127.0.0.1", shoal.port), timeout=5) as s:
            s.sendall(tcp_frame(query(1)))
            assert parse_header(tcp_read_message(s))[0] == 1
            t0 = time.monotonic()
            assert s.recv(10) == b""  # closed by the server
            took = time.monotonic() - t0
            assert 0.2 < took < 2.0, took
        assert shoal.counters()[0]["tcp.idle_closed"] == 1


def test_tcp_connections_beyond_the_limit_replace_idle_ones_or_are_closed():
    """At tcp_max_clients a new connection takes the place of the least
    recently active idle one (RFC 7766 section 6.2.3); when every one is
    busy (here: half a query received) it is refused."""
    config = dict(REFUSE_ALL, server={"tcp_max_clients": 2})
    with Shoal(workers=1, config=config) as shoal:
        keep = [socket.create_connection(("127.0.0.1", shoal.port), timeout=10) for _ in range(2)]
        try:
            for qid, s in enumerate(keep, 1):  # both accepted, keep[0] the least recent
                s.sendall(tcp_frame(query(qid)))
                assert parse_header(tcp_read_message(s))[0] == qid
            with socket.create_connection(("127.0.0.1", shoal.port), timeout=10) as extra:
                extra.sendall(tcp_frame(query(3)))
                assert parse_header(tcp_read_message(extra))[0] == 3
                assert keep[0].recv(10) == b""  # the idle one made room
                tcp = wait_for(lambda: shoal.ctl_json("stats")["tcp_clients"], 30,
                               what="stats")
                assert tcp["idle_evicted"] == 1 and tcp["refused"] == 0, tcp
                # Both open connections busy: half a query each.
                frame = tcp_frame(query(4))
                keep[1].sendall(frame[:5])
                extra.sendall(frame[:5])
                with socket.create_connection(("127.0.0.1", shoal.port), timeout=10) as late:
                    try:
                        assert late.recv(10) == b""
                    except ConnectionResetError:
                        pass
                wait_for(lambda: shoal.ctl_json("stats")["tcp_clients"]["refused"] == 1, 30,
                         what="a refusal")
                # The busy ones were kept: their queries complete.
                for s in (keep[1], extra):
                    s.sendall(frame[5:])
                    assert parse_header(tcp_read_message(s))[0] == 4
        finally:
            for s in keep:
                s.close()


if __name__ == "__main__":
    run_tests(globals())
