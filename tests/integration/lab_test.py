#!/usr/bin/env python3
"""shoal against the lab (tests/lab): answers equal the zone data, the
cache serves repeats from any worker without upstream packets, TC then TCP,
TCP-only and glueless zones, lame delegations, dead servers give SERVFAIL
within the deadline, thousands of names resolve. Needs root (exit 77
otherwise); uses a running lab, or starts and stops one."""

import os
import signal
import socket
import time

from shoal_harness import (Shoal, build_query, close_shared_lab, encode_name, kdig, parse_header,
                           remove_cache, resolve_many, run_tests, shared_lab, tcp_frame,
                           tcp_read_message, udp_exchange, wait_for)

# One lab for the whole run (started on first use; see main).
lab = shared_lab


def rrs(*records):
    return {(owner, rtype, rdata) for owner, rtype, rdata in records}


# (name, type, status, expected answer, authoritative role to compare with
# or None when the answer spans zones). The expectations are the zone data
# labctl generates; where a role is given, the authoritative server's own
# answer (+norec) must equal them too.
CASES = [
    ("www.example.com.", "A", "NOERROR", rrs(("www.example.com.", "A", "192.0.2.10")), "SLD"),
    ("www.example.com.", "AAAA", "NOERROR", rrs(("www.example.com.", "AAAA", "2001:db8::10")),
     "SLD"),
    ("www.example.com.", "MX", "NOERROR", rrs(("www.example.com.", "MX", "10 mail.example.com.")),
     "SLD"),
    ("www.example.com.", "TXT", "NOERROR", rrs(("www.example.com.", "TXT", '"www.example.com"')),
     "SLD"),
    ("example.com.", "A", "NOERROR", rrs(("example.com.", "A", "192.0.2.1")), "SLD"),
    ("c1.example.com.", "A", "NOERROR",
     rrs(("c1.example.com.", "CNAME", "c2.example.com."),
         ("c2.example.com.", "CNAME", "www.example.com."),
         ("www.example.com.", "A", "192.0.2.10")), "SLD"),
    ("cross.example.com.", "AAAA", "NOERROR",
     rrs(("cross.example.com.", "CNAME", "www.example.net."),
         ("www.example.net.", "AAAA", "2001:db8::20")), None),
    ("foo.wild.example.com.", "A", "NOERROR", rrs(("foo.wild.example.com.", "A", "192.0.2.77")),
     "SLD"),
    ("www.dname.example.com.", "A", "NOERROR",
     rrs(("dname.example.com.", "DNAME", "example.net."),
         ("www.dname.example.com.", "CNAME", "www.example.net."),
         ("www.example.net.", "A", "192.0.2.20")), None),
    ("ent.example.com.", "A", "NOERROR", set(), "SLD"),  # empty non-terminal: NODATA
    ("nx.example.com.", "A", "NXDOMAIN", set(), "SLD"),
    ("www.example.org.", "A", "NOERROR", rrs(("www.example.org.", "A", "192.0.2.30")), "SLD"),
    ("www.example.info.", "TXT", "NOERROR",
     rrs(("www.example.info.", "TXT", '"www.example.info"')), "SLD"),
    ("www.glueless.com.", "A", "NOERROR", rrs(("www.glueless.com.", "A", "192.0.2.63")), "SLD"),
    ("www.halflame.com.", "A", "NOERROR", rrs(("www.halflame.com.", "A", "192.0.2.62")), "SLD"),
    ("www.lame.com.", "A", "SERVFAIL", set(), None),
    ("www.tcponly.com.", "A", "NOERROR", rrs(("www.tcponly.com.", "A", "192.0.2.64")),
     "TCPONLY"),
    ("h042.bulk05.uk.", "A", "NOERROR", rrs(("h042.bulk05.uk.", "A", "198.18.5.43")), "BULK"),
]


def lab_shoal(workers=2, shoal=None, **resolver):
    """A shoal resolving through the lab; `shoal` holds extra Shoal() arguments."""
    return Shoal(workers=workers, config=lab().shoal_config(**resolver), **(shoal or {}))


def test_sends_nothing_at_start_up():
    with lab_shoal():
        before = lab().upstream_packets()
        time.sleep(1.0)
        assert lab().upstream_packets() == before


def test_answers_equal_the_zone_data():
    mismatches = []  # every case is checked; all mismatches are reported
    with lab_shoal() as shoal:
        for name, rtype, status, expected, role in CASES:
            if role is not None:
                auth = kdig(53, name, rtype, "+norec", *(["+tcp"] if role == "TCPONLY" else []),
                            server=lab().env[f"LAB_{role}_ADDR"])
                assert auth.status == status and auth.rrs() == expected, (name, rtype, auth)
            # resolved over UDP, then from the cache over TCP and UDP
            for transport in ("+notcp", "+tcp", "+notcp"):
                r = kdig(shoal.port, name, rtype, transport, timeout=5)
                negative = status == "NXDOMAIN" or (status == "NOERROR" and not expected)
                if (r.status != status or r.rrs() != expected or "ra" not in r.flags
                        or "aa" in r.flags or (negative and not r.data("SOA", "AUTHORITY"))):
                    mismatches.append(f"{name} {rtype} {transport}: expected {status} "
                                      f"{sorted(expected)}, got {r!r}")
    assert not mismatches, "\n".join(mismatches)


def test_case_of_the_question_is_preserved():
    # kdig prints names lowercased: look at the bytes.
    asked = encode_name("WwW.ExAmPlE.CoM")
    with lab_shoal() as shoal:
        for attempt in range(2):  # resolved, then from the cache
            reply = udp_exchange(shoal.port, build_query("WwW.ExAmPlE.CoM", "A", qid=attempt))
            assert reply is not None, attempt
            qid, _flags, rcode, qd, an, *_ = parse_header(reply)
            assert (qid, rcode, qd, an) == (attempt, "NOERROR", 1, 1), parse_header(reply)
            assert reply[12:12 + len(asked)] == asked, (attempt, reply)


def test_ipv6_transport_to_upstreams():
    with lab_shoal(ipv4=False, ipv6=True) as shoal:
        r = kdig(shoal.port, "www.example.net.", "AAAA")
        assert r.status == "NOERROR" and r.data("AAAA") == ["2001:db8::20"], r
        counters = lab().counters()
        assert any(":" in addr and n > 0 for addr, n in counters.items())


def test_outgoing_addresses_are_the_source_of_upstream_queries():
    host = lab().env["LAB_HOST_ADDR"]
    with lab_shoal(workers=1, outgoing_addresses=[host]) as shoal:
        r = kdig(shoal.port, "www.example.com.", "A")
        assert r.status == "NOERROR" and r.data("A") == ["192.0.2.10"], r
        c = shoal.counters()[0]
        assert c["upstream.udp"] > 0 and c["upstream.socket_errors"] == 0, c
    # an address the host does not have: every bind fails, the client gets SERVFAIL
    with lab_shoal(workers=1, outgoing_addresses=["10.53.255.254"], query_timeout="1s") as shoal:
        r = kdig(shoal.port, "www.example.com.", "A")
        assert r.status == "SERVFAIL", r
        c = shoal.counters()[0]
        assert c["upstream.udp"] == 0 and c["upstream.socket_errors"] > 0, c


def test_large_answer_truncated_over_udp_then_complete_over_tcp():
    with lab_shoal() as shoal:
        r = kdig(shoal.port, "big.example.com.", "TXT", "+notcp", "+ignore", "+edns=0",
                 "+bufsize=1232")
        assert r.status == "NOERROR" and "tc" in r.flags, r
        for options in (["+tcp"], []):  # explicit TCP, and kdig's own retry after TC
            r = kdig(shoal.port, "big.example.com.", "TXT", *options)
            assert r.status == "NOERROR" and len(r.data("TXT")) == 30, r
            assert "tc" not in r.flags


def test_repeat_is_served_from_cache_by_any_worker_without_upstream_packets():
    with lab_shoal(workers=2) as shoal:
        first = kdig(shoal.port, "www.example.info.", "A")
        assert first.status == "NOERROR" and first.data("A") == ["192.0.2.40"], first
        before = lab().upstream_packets()
        for _ in range(24):  # kdig uses a new source port each time: both workers get some
            r = kdig(shoal.port, "www.example.info.", "A")
            assert r.status == "NOERROR" and r.data("A") == ["192.0.2.40"], r
        assert lab().upstream_packets() == before, "repeats went upstream"
        counters = shoal.counters()
        assert sum(c["queries.misses"] for c in counters.values()) == 1, counters
        resolver_slot = next(s for s, c in counters.items() if c["queries.misses"] == 1)
        others = [c for s, c in counters.items() if s != resolver_slot]
        assert others and all(c["queries.hits"] > 0 for c in others), counters


def test_each_worker_serves_traffic():
    with lab_shoal(workers=2) as shoal:
        questions = [(f"h{i:03d}.bulk00.com.", "A") for i in range(40)]
        results = resolve_many(shoal.port, questions)
        assert all(r[0] == "NOERROR" and r[1] == 1 for r in results.values()), results
        counters = shoal.counters()
        assert len(counters) == 2 and all(c["queries.udp"] > 0 for c in counters.values()), \
            counters


def test_tcp_answers_come_back_out_of_order():
    l = lab()
    with lab_shoal(workers=1) as shoal:
        assert kdig(shoal.port, "www.example.com.", "A").status == "NOERROR"  # now cached
        for addr in l.env["LAB_SLD_ADDRS"].split():
            l.delay(addr, 400)
        try:
            with socket.create_connection(("127.0.0.1", shoal.port), timeout=30) as s:
                s.sendall(tcp_frame(build_query("www.example.org.", "A", qid=1)) +
                          tcp_frame(build_query("www.example.com.", "A", qid=2)))
                order = [parse_header(tcp_read_message(s))[:3:2] for _ in range(2)]
        finally:
            for addr in l.env["LAB_SLD_ADDRS"].split():
                l.delay(addr, 0)
        assert order == [(2, "NOERROR"), (1, "NOERROR")], order


def test_sigterm_lets_queries_in_flight_finish():
    l = lab()
    with lab_shoal(workers=1) as shoal:
        assert kdig(shoal.port, "www.example.com.", "A").status == "NOERROR"  # root, com cached
        before = shoal.counters()[0]
        for addr in l.env["LAB_SLD_ADDRS"].split():
            l.delay(addr, 500)
        try:
            with socket.create_connection(("127.0.0.1", shoal.port), timeout=30) as s:
                s.sendall(tcp_frame(build_query("www.example.org.", "A", qid=5)))
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                udp.settimeout(30)
                udp.sendto(build_query("www.example.net.", "A", qid=6), ("127.0.0.1", shoal.port))
                # both read by the worker (a stopping worker reads no more),
                # now waiting for the slow servers
                wait_for(lambda: (c := shoal.counters()[0])["queries.udp"] > before["queries.udp"]
                         and c["queries.tcp"] > before["queries.tcp"], 30,
                         what="the worker to read both queries")
                t0 = time.monotonic()
                shoal.proc.send_signal(signal.SIGTERM)
                tcp_reply = tcp_read_message(s)
                udp_reply = udp.recv(4096)
                udp.close()
                rc = shoal.proc.wait(30)
                took = time.monotonic() - t0
        finally:
            for addr in l.env["LAB_SLD_ADDRS"].split():
                l.delay(addr, 0)
        assert parse_header(tcp_reply)[:3:2] == (5, "NOERROR"), parse_header(tcp_reply)
        assert parse_header(udp_reply)[:3:2] == (6, "NOERROR"), parse_header(udp_reply)
        assert rc == 0 and took < 2.0, (rc, took)
        assert "stopping: 2 resolution(s) in flight, 1 tcp connection(s)" in shoal.log()


def test_cache_survives_a_restart_unless_cold():
    name = f"/shoal-it-warm-{os.getpid()}"
    try:
        with lab_shoal(shoal={"cache_name": name, "keep_cache": True}) as shoal:
            r = kdig(shoal.port, "www.example.org.", "A")
            assert r.status == "NOERROR" and r.data("A") == ["192.0.2.30"], r
        before = lab().upstream_packets()
        with lab_shoal(shoal={"cache_name": name, "cold": False, "keep_cache": True}) as shoal:
            r = kdig(shoal.port, "www.example.org.", "A")
            assert r.status == "NOERROR" and r.data("A") == ["192.0.2.30"], r
            assert lab().upstream_packets() == before, "a warm restart went upstream"
            assert sum(c["queries.hits"] for c in shoal.counters().values()) == 1
        with lab_shoal(shoal={"cache_name": name, "cold": True}) as shoal:
            r = kdig(shoal.port, "www.example.org.", "A")
            assert r.status == "NOERROR" and r.data("A") == ["192.0.2.30"], r
            assert lab().upstream_packets() > before, "--cold kept the cache"
    finally:
        remove_cache(name)


def test_dead_servers_give_servfail_within_the_deadline():
    l = lab()
    with lab_shoal(query_timeout="1500ms") as shoal:
        for addr in l.all_addrs():
            l.drop(addr, 100)
        try:
            t0 = time.monotonic()
            r = kdig(shoal.port, "www.example.com.", "A", timeout=5)
            took = time.monotonic() - t0
        finally:
            for addr in l.all_addrs():
                l.drop(addr, 0)
        assert r.status == "SERVFAIL", r
        assert took < 1.5 + 0.5, took


def test_the_query_file_resolves_with_zero_failures():
    l = lab()
    with open(l.env["LAB_QUERIES"]) as f:
        questions = [tuple(line.split()) for line in f if line.strip()]
    assert len(questions) >= 4000
    with lab_shoal(workers=2) as shoal:
        t0 = time.monotonic()
        errors = {}
        results = resolve_many(shoal.port, questions, in_flight=200, timeout=3.0, errors=errors)
        took = time.monotonic() - t0
        # with the extended DNS error saying why, when there is one
        failed = {q: r + (errors.get(q),) for q, r in results.items()
                  if r[0] != "NOERROR" or r[1] != 1}
        retried = sum(1 for r in results.values() if r[2] > 1)
        print(f"  {len(questions)} names in {took:.1f} s, {retried} retried by the client")
        assert len(results) == len(questions) and not failed, dict(list(failed.items())[:20])
        # a sample of the data itself
        for name, rtype in questions[:10]:
            n, zone = int(name[1:4]), int(name.split(".")[1][4:])
            r = kdig(shoal.port, name, rtype)
            assert r.data("A") == [f"198.18.{zone}.{n + 1}"], r


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
