#!/usr/bin/env python3
"""Loss (issue 12) against the lab, with packets dropped by nftables in the
lab's namespace (labctl drop): at 30 % loss on every authoritative server a
cold shoal answers every name without the client retrying, and the
counters say what the loss cost (timeouts, hedges, per-server loss over the
last minute); an answer that comes after the client's deadline is cached
for its retry. Needs root (exit 77 otherwise); uses a running lab, or
starts and stops one."""

import contextlib
import socket

from shoal_harness import (Shoal, build_query, close_shared_lab, control_request, kdig,
                           resolve_many, run_tests, shared_lab, wait_for, WAIT_S)

lab = shared_lab


def lab_shoal(workers=2, **resolver):
    return Shoal(workers=workers, config=lab().shoal_config(**resolver))


@contextlib.contextmanager
def loss(addrs, percent):
    """`percent` % of the packets to each of `addrs` dropped, until the end
    of the block (also when it fails)."""
    l = lab()
    try:
        for addr in addrs:
            l.drop(addr, percent)
        yield
    finally:
        for addr in addrs:
            l.drop(addr, 0)


def bulk_names(count, skip=0):
    with open(lab().env["LAB_QUERIES"]) as f:
        questions = [tuple(line.split()) for line in f if line.strip()]
    return questions[skip:skip + count]


def test_thirty_percent_loss_answers_every_name_and_counts_it():
    l = lab()
    questions = bulk_names(200)
    with lab_shoal() as shoal:
        with loss(l.all_addrs(), 30):
            errors = {}
            # One try each: the client never retries, shoal alone hides the
            # loss (the stub would wait 1 to 5 s for a retry).
            results = resolve_many(shoal.port, questions, in_flight=20, timeout=5.0, tries=1,
                                   errors=errors)
        failed = {q: r + (errors.get(q),) for q, r in results.items() if r[0] != "NOERROR"}
        assert len(results) == len(questions) and not failed, dict(list(failed.items())[:20])

        stats = shoal.ctl_json("stats")
        upstream = stats["totals"]["upstream"] if "totals" in stats else stats["upstream"]
        assert upstream["timeouts"] > 0, upstream
        assert upstream["hedges_sent"] > 0 and upstream["hedges_won"] > 0, upstream
        assert upstream["hedges_sent"] <= upstream["queries"], upstream

        servers = shoal.ctl_json("servers")["servers"]
        lossy = [s for s in servers if s["queries_1m"] > 0 and s["loss_1m_percent"] > 0]
        assert lossy, servers
        assert all(s["queries_5m"] >= s["queries_1m"] for s in servers), servers
        assert sum(s["hedges"] for s in servers) > 0, servers
        rc, out, err = shoal.ctl("servers")
        assert rc == 0 and "HEDGES/WON" in out and " 1m " in out, (out, err)


def test_an_answer_after_the_deadline_is_cached_for_the_retry():
    l = lab()
    sld = l.env["LAB_SLD_ADDRS"].split()
    with lab_shoal(query_timeout="1s") as shoal:
        # example.com's servers answer once: they are alive, and the path
        # to them is cached.
        r = kdig(shoal.port, "www.example.com.", "A")
        assert r.status == "NOERROR", r
        with loss(sld, 100):
            r = kdig(shoal.port, "example.com.", "A", timeout=5)
            assert r.status == "SERVFAIL", r
            wait_for(lambda: shoal.ctl_json("stats")["upstream"]["background_resolutions"] > 0,
                     WAIT_S, what="a resolution carried on in the background")
        # The servers answer again: the resolution still under way gets its
        # answer and caches it, without the client asking.
        def cached():
            answer = control_request(shoal.control_socket,
                                     {"command": "cache.lookup", "name": "example.com.",
                                      "type": "A"})
            return answer.get("ok") and answer.get("entries")
        wait_for(cached, WAIT_S, interval=0.05, what="example.com A in the cache")
        hits = shoal.ctl_json("stats")["cache"]["hits"]
        r = kdig(shoal.port, "example.com.", "A")
        assert r.status == "NOERROR" and r.data("A") == ["192.0.2.1"], r
        assert shoal.ctl_json("stats")["cache"]["hits"] == hits + 1


def test_a_query_sent_again_is_counted_as_a_client_retry():
    with lab_shoal(workers=1) as shoal:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            s.connect(("127.0.0.1", shoal.port))
            query = build_query("www.example.com.", "A", qid=4242)
            s.send(query)  # as if the answer had been lost: the same again
            s.send(query)
            s.recv(65535)
            s.recv(65535)
            other = build_query("www.example.com.", "A", qid=4243)
            s.send(other)
            s.recv(65535)
        stats = shoal.ctl_json("stats")
        assert stats["client_retries"] == 1, stats
        rc, out, err = shoal.ctl("stats")
        assert "client retries  1 (33.3% of udp queries" in out, out


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
