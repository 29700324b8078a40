#!/usr/bin/env python3
"""Forward mode ([[forward]], issue 12) against the lab: a forward zone's
questions go to its upstreams only (the lab's authoritative servers stand
in for upstream resolvers: they answer a question with RD set like any
other), validated or not as the zone says, with the same hedging and
failover as for authoritative servers under loss. Needs root (exit 77
otherwise); uses a running lab, or starts and stops one."""

import contextlib

from shoal_harness import (Shoal, UNBOUND_ADDR, Unbound, close_shared_lab, kdig, resolve_many,
                           run_tests, shared_lab, wait_for)
from tls_test import HOSTNAME, stats_tls, tls_shoal

lab = shared_lab


def forward_shoal(forward, **resolver):
    config = lab().shoal_config(**resolver)
    config["forward"] = forward
    return Shoal(workers=2, config=config)


def packets(addrs):
    counters = lab().counters()
    return sum(counters[a] for a in addrs)


def test_a_forward_zone_without_validation_asks_only_its_upstreams():
    l = lab()
    sld = l.env["LAB_SLD_ADDRS"].split()
    upstreams = [a for a in sld if ":" not in a]
    iterated = l.env["LAB_ROOT_ADDRS"].split() + l.env["LAB_TLD_ADDRS"].split()
    with forward_shoal([{"name": "example.com.", "addresses": upstreams,
                         "validate": False}]) as shoal:
        before = packets(iterated)
        r = kdig(shoal.port, "www.example.com.", "A", "+dnssec")
        assert r.status == "NOERROR" and r.data("A") == ["192.0.2.10"], r
        assert "ad" not in r.flags, r  # not validated: never AD
        r = kdig(shoal.port, "mail.example.com.", "MX")
        assert r.status in ("NOERROR",), r
        assert packets(iterated) == before, "the root or a TLD was asked"
        servers = {s["address"]: s for s in shoal.ctl_json("servers")["servers"]}
        assert sum(servers[a]["queries"] for a in upstreams if a in servers) >= 2, servers
        # Outside the zone: resolved from the root as usual, validated.
        r = kdig(shoal.port, "www.example.org.", "A", "+dnssec")
        assert r.status == "NOERROR" and "ad" in r.flags, r
        assert packets(iterated) > before


def test_everything_forwarded_to_a_validating_resolver_on_its_port():
    l = lab()
    with Unbound(l.env) as unbound:
        upstream = f"{UNBOUND_ADDR}:{unbound.port}"
        with forward_shoal([{"name": ".", "addresses": [upstream]}]) as shoal:
            r = kdig(shoal.port, "www.example.com.", "A", "+dnssec")
            assert r.status == "NOERROR" and r.data("A") == ["192.0.2.10"], r
            assert "ad" in r.flags, r  # validated by shoal too, keys through the upstream
            r = kdig(shoal.port, "pdq.", "A", "+dnssec")
            assert r.status == "NXDOMAIN" and "ad" in r.flags, r
            # An unsigned zone under a signed TLD: insecure, not bogus (the
            # DS walked from the root down to its insecure delegation).
            r = kdig(shoal.port, "h000.bulk08.com.", "A", "+dnssec")
            assert r.status == "NOERROR" and "ad" not in r.flags, r
            r = kdig(shoal.port, "none.bulk08.com.", "A", "+dnssec")
            assert r.status == "NXDOMAIN" and "ad" not in r.flags, r
            # shoal asked nobody else: its only server is the upstream.
            servers = [s["address"] for s in shoal.ctl_json("servers")["servers"]]
            assert servers == [UNBOUND_ADDR], servers


def test_everything_forwarded_over_tls_to_another_resolver():
    """DNS over TLS to the upstream (RFC 7858, strict: its certificate
    verified for tls_name against tls_ca): another shoal serving DNS over
    TLS, resolving from the lab itself."""
    l = lab()
    # The upstream closes idle connections after 1 s, so that the
    # forwarder's next connection must resume the session.
    with tls_shoal(l.shoal_config(), server={"tcp_idle_timeout": "1s"}) as upstream:
        def forwarding(name):
            return forward_shoal([{"name": ".", "addresses": [f"127.0.0.1:{upstream.tls_port}"],
                                   "tls": True, "tls_name": name, "tls_ca": upstream.cert}])
        with forwarding(HOSTNAME) as shoal:
            r = kdig(shoal.port, "www.example.com.", "A", "+dnssec")
            assert r.status == "NOERROR" and r.data("A") == ["192.0.2.10"], r
            assert "ad" in r.flags, r  # validated here too, keys through the upstream
            assert stats_tls(upstream)["handshakes"] >= 1, stats_tls(upstream)
            r = kdig(shoal.port, "h001.bulk08.com.", "A", "+dnssec")
            assert r.status == "NOERROR" and "ad" not in r.flags, r
            servers = [s["address"] for s in shoal.ctl_json("servers")["servers"]]
            assert servers == ["127.0.0.1"], servers
            # Pipelined on persistent connections (RFC 7858 section 3.4):
            # 60 names, 10 at a time, over at most one connection per worker
            # and upstream slot (DotPool::kMaxConnections), not one each.
            names = [(f"h{i:03d}.bulk01.net.", "A") for i in range(60)]
            results = resolve_many(shoal.port, names, in_flight=10, timeout=5.0, tries=1)
            assert all(rcode == "NOERROR" for rcode, _, _ in results.values()), results
            up = shoal.ctl_json("stats")["upstream"]
            assert up["tls"] >= 60, up
            assert up["tls_connections"] <= 2 * 4, up
            assert up["tls"] >= 5 * up["tls_connections"], up
            # The upstream closes them when idle; the next connections
            # resume the TLS session with the ticket it gave.
            wait_for(lambda: upstream.ctl_json("stats")["tcp_clients"]["idle_closed"]
                     >= up["tls_connections"], 30, what="the upstream closing idle connections")
            handshakes = stats_tls(upstream)["handshakes"]
            names = [(f"h{i:03d}.bulk02.org.", "A") for i in range(20)]
            results = resolve_many(shoal.port, names, in_flight=10, timeout=5.0, tries=1)
            assert all(rcode == "NOERROR" for rcode, _, _ in results.values()), results
            after = shoal.ctl_json("stats")["upstream"]
            new_connections = after["tls_connections"] - up["tls_connections"]
            assert new_connections >= 1, after
            assert after["tls_resumed"] - up["tls_resumed"] == new_connections, after
            assert stats_tls(upstream)["handshakes"] - handshakes == new_connections
        failed_before = stats_tls(upstream)["handshake_failures"]
        # A certificate not valid for the name: nothing is sent over it.
        with forwarding("other.test") as shoal:
            r = kdig(shoal.port, "www.example.net.", "A", timeout=10)
            assert r.status == "SERVFAIL", r
        assert stats_tls(upstream)["handshake_failures"] > failed_before, stats_tls(upstream)


def test_upstreams_under_loss_are_hedged_and_validated():
    l = lab()
    bulk = ["10.53.7.1", "10.53.7.2"]
    names = [(f"h{i:03d}.bulk04.de.", "A") for i in range(100)]
    with forward_shoal([{"name": "bulk04.de.", "addresses": bulk}]) as shoal:
        try:
            for addr in bulk:
                l.drop(addr, 30)
            results = resolve_many(shoal.port, names, in_flight=10, timeout=5.0, tries=1)
        finally:
            for addr in bulk:
                l.drop(addr, 0)
        failed = {q: r for q, r in results.items() if r[0] != "NOERROR"}
        assert len(results) == len(names) and not failed, failed
        servers = {s["address"]: s for s in shoal.ctl_json("servers")["servers"]}
        assert all(a in servers for a in bulk), servers
        assert sum(servers[a]["timeouts"] for a in bulk) > 0, servers
        assert sum(servers[a]["hedges"] for a in bulk) > 0, servers
        # Validated: the bulk zones are signed, their DS in the TLD.
        r = kdig(shoal.port, "h000.bulk04.de.", "A", "+dnssec")
        assert r.status == "NOERROR" and "ad" in r.flags, r


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
