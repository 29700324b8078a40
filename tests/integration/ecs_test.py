#!/usr/bin/env python3
"""EDNS Client Subnet (RFC 7871) against the lab (tests/lab): the geo.com.
zone is served by Knot's mod-geoip in subnet mode (www/many.geo.com answer
per client subnet, with a scope) and every query its server receives is
captured with its ECS option (`labctl geo-queries --json`), so each test
checks both what the client gets and what went on the wire.

The test process plays the trusted front end ([ecs] trusted =
["127.0.0.1"]): its queries carry the client's subnet in an ECS option
(built here, or kdig +subnet). Checked:
 1. each client subnet gets its own answer, the option echoed with the
    scope; repeats and other clients inside a cached partition (/16, /32)
    are answered from the cache (no geo query), over UDP and TCP; the
    source prefix is cut to ipv4_source / ipv6_source; a client outside
    every partition is asked for, never given another subnet's answer;
 2. clients in RFC 6890 special-purpose blocks (private, shared, loopback,
    link-local, documentation, ULA ...) cause no ECS upstream; an untrusted
    client's option is not its subnet (with special_clients a substitute:
    the substitute is sent, the option cannot move it);
 3. zones outside the allow-list get no ECS ([ecs] zones = []), servers
    on it do ([ecs] servers);
 4. [cache] max_ecs_partitions caps the partitions: the oldest go
    (partition_evictions counted), answers stay right; a partition in use
    survives the eviction of one not used since (least recently used);
 5. `shoalctl ecs` lists them (skipped while it does not exist);
 6. `shoalctl stats --json` "ecs" counts queries, replies and hits;
 7. questions in flight at the same time for different subnets are kept
    apart (never merged into one upstream query);
 8. an answer to a query sent without ECS is never given to ECS clients
    (RFC 7871 section 7.3.1), and a client's shorter source prefix narrows
    the special_clients substitute too (section 7.1.1).
Needs root and the lab's geo capture (exit 77 otherwise); uses a running
lab, or starts and stops one."""

import ipaddress
import json
import os
import socket
import struct
import subprocess
import time

from shoal_harness import (LABCTL, Shoal, Skip, build_query, close_shared_lab, kdig, run_tests,
                           skip_wire_name,
                           shared_lab, tcp_exchange, udp_exchange, wait_for, WAIT_S)

# One lab for the whole run (started on first use; see main).
lab = shared_lab

ECS_CODE = 8  # EDNS option code (RFC 7871 section 6)

# The trusted front end: the test process, from 127.0.0.1.
FRONT_END = {"enabled": True, "zones": ["geo.com."], "trusted": ["127.0.0.1"]}

# geo.com's data (tests/lab/README.md, "geo.com (mod-geoip, subnet mode)")
WWW_DEFAULT = "192.0.2.99"   # www.geo.com A without a matching subnet or ECS
MANY_DEFAULT = "192.0.2.98"  # many.geo.com A likewise
PLAIN = "192.0.2.77"         # plain.geo.com A, no geoip entry
GEO_TTL = 60                 # TTL of the geoip answers
ZONE_TTL = 3600              # TTL of the zone data


def ecs_shoal(workers=1, ecs=None, cache=None):
    """A shoal resolving through the lab with ECS on for geo.com. and the
    test process as its trusted front end; `ecs` / `cache`: keys that
    replace those of [ecs] / are added to [cache]."""
    config = lab().shoal_config()
    config["ecs"] = dict(FRONT_END, **(ecs or {}))
    if cache:
        config["cache"] = dict(cache)
    return Shoal(workers=workers, config=config)


# --------------------------------------------------------------------------
# The geo server's capture
# --------------------------------------------------------------------------


def geo_queries(reset=True):
    """The queries the geo server received since the last reset (oldest
    first, dicts as `labctl geo-queries --json` prints them); forgets them
    with `reset`. Skips the test when the lab has no capture."""
    p = subprocess.run([str(LABCTL), "geo-queries", "--json", *(["--reset"] if reset else [])],
                       capture_output=True, text=True, timeout=120)
    if p.returncode == 77:
        raise Skip(f"labctl geo-queries cannot run: {(p.stdout + p.stderr).strip()}")
    assert p.returncode == 0, f"labctl geo-queries: exit {p.returncode}\n{p.stdout}{p.stderr}"
    queries = json.loads(p.stdout)
    assert isinstance(queries, list), p.stdout
    return queries


def reset_geo():
    geo_queries(reset=True)


def wire(queries):
    """The captured queries as (qname, qtype, ECS) with ECS as
    "FAMILY/SOURCE/ADDRESS" or None: what a failing assertion shows."""
    return [(q["qname"], q["qtype"], ecs_text(q["ecs"])) for q in queries]


def ecs_text(ecs):
    if ecs is None:
        return None
    text = f"{ecs['family']}/{ecs['source']}/{ecs['address']}"
    return text + (f" scope={ecs['scope']}" if ecs["scope"] else "")


def subnet_text(subnet):
    """"11.1.2.0/24" -> "1/24/11.1.2.0", as ecs_text() shows a capture."""
    net = ipaddress.ip_network(subnet, strict=False)
    return f"{1 if net.version == 4 else 2}/{net.prefixlen}/{net.network_address}"


def expect_sent(name, subnet, qtype="A"):
    """Asserts that the geo server received exactly one query since the last
    reset, for `name` `qtype`, with ECS `subnet` (None: without ECS); resets."""
    got = wire(geo_queries())
    want = [(name, qtype, None if subnet is None else subnet_text(subnet))]
    assert got == want, f"the geo server received {got}, expected {want}"


def expect_nothing_sent(what):
    got = wire(geo_queries())
    assert got == [], f"{what}: answered from the cache expected, the geo server received {got}"


# --------------------------------------------------------------------------
# Queries with an ECS option, and their answers
# --------------------------------------------------------------------------


def ecs_option(subnet, scope=0):
    """An ECS option (code, length, data) for `subnet` ("11.1.2.0/24",
    "2a01:1:2::/56"): the address cut to the prefix, in as many octets as
    the prefix needs (RFC 7871 section 6)."""
    net = ipaddress.ip_network(subnet, strict=False)
    octets = (net.prefixlen + 7) // 8
    data = struct.pack("!HBB", 1 if net.version == 4 else 2, net.prefixlen, scope) + \
        net.network_address.packed[:octets]
    return struct.pack("!HH", ECS_CODE, len(data)) + data


def ecs_query(name, rtype="A", subnet=None, qid=None):
    """build_query() with EDNS, plus an ECS option for `subnet` (none when
    None): the OPT record is the query's last record, its RDLENGTH the
    last two octets."""
    query = build_query(name, rtype, qid=qid)
    if subnet is None:
        return query
    option = ecs_option(subnet)
    return query[:-2] + struct.pack("!H", len(option)) + option


class Answer:
    """A parsed reply: rcode, the A records of the answer section as
    (rdata, ttl), and the ECS option of its OPT record: a dict (family,
    source, scope, address: the octets as sent) or None."""

    def __init__(self, data):
        self.data = data
        qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
        self.id = qid
        self.rcode = flags & 0xF
        self.a = []
        self.ecs = None
        self.opt = False
        pos = 12
        for _ in range(qd):
            pos = skip_name(data, pos) + 4
        for index in range(an + ns + ar):
            pos = skip_name(data, pos)
            rtype, _cls, ttl, length = struct.unpack("!HHIH", data[pos:pos + 10])
            rdata = data[pos + 10:pos + 10 + length]
            pos += 10 + length
            if index < an and rtype == 1:
                self.a.append((str(ipaddress.IPv4Address(rdata)), ttl))
            if index >= an + ns and rtype == 41:
                self.opt = True
                self.ecs = find_ecs(rdata)

    @property
    def addresses(self):
        return sorted(a for a, _ttl in self.a)

    def __repr__(self):
        return (f"Answer(id={self.id}, rcode={self.rcode}, A={self.a}, opt={self.opt}, "
                f"ecs={self.ecs})")


def skip_name(data, pos):
    return skip_wire_name(data, pos)


def find_ecs(rdata):
    at = 0
    while at + 4 <= len(rdata):
        code, length = struct.unpack("!HH", rdata[at:at + 4])
        value = rdata[at + 4:at + 4 + length]
        at += 4 + length
        if code == ECS_CODE:
            family, source, scope = struct.unpack("!HBB", value[:4])
            return {"family": family, "source": source, "scope": scope, "address": value[4:]}
    return None


def ask(shoal, name, subnet=None, rtype="A", tcp=False):
    """One query to `shoal` from 127.0.0.1 (UDP, or TCP), with an ECS option
    for `subnet` (none when None); the parsed answer. Asked once: every
    query counts on the wire."""
    query = ecs_query(name, rtype, subnet)
    if tcp:
        replies = tcp_exchange(shoal.port, [query], timeout=WAIT_S)
        reply = replies[0] if replies else None
    else:
        reply = udp_exchange(shoal.port, query, timeout=WAIT_S)
    assert reply is not None, f"{name} {rtype} (ECS {subnet}): no answer"
    answer = Answer(reply)
    assert answer.id == struct.unpack("!H", query[:2])[0], answer
    return answer


def check_answer(answer, addresses, subnet, scope, what, max_ttl=None):
    """Asserts NOERROR with exactly `addresses`, and the echoed ECS option:
    the client's own (family, source prefix, address octets as sent) with
    `scope` (RFC 7871 section 7.2.1); no option when `subnet` is None."""
    assert answer.rcode == 0 and answer.addresses == sorted(addresses), \
        f"{what}: expected {addresses}, got {answer}"
    if max_ttl is not None:
        assert all(0 < ttl <= max_ttl for _a, ttl in answer.a), \
            f"{what}: TTL above {max_ttl}: {answer}"
    if subnet is None:
        assert answer.ecs is None, \
            f"{what}: an ECS option in the answer to a query without one: {answer}"
        return
    option = ecs_option(subnet)
    family, source, _scope = struct.unpack("!HBB", option[4:8])
    want = {"family": family, "source": source, "scope": scope, "address": option[8:]}
    assert answer.ecs == want, f"{what}: echoed ECS {answer.ecs}, expected {want}"


# --------------------------------------------------------------------------
# 1. Each subnet its own answer, cached per partition
# --------------------------------------------------------------------------


def test_each_subnet_gets_its_own_answer_cached_per_partition():
    with ecs_shoal() as shoal:
        reset_geo()
        # first time: asked with the client's subnet, answered for it
        for subnet, address in (("11.1.2.0/24", "192.0.2.1"), ("11.2.0.0/24", "192.0.2.2")):
            what = f"www.geo.com A for {subnet}"
            check_answer(ask(shoal, "www.geo.com", subnet), [address], subnet, 16, what, GEO_TTL)
            expect_sent("www.geo.com.", subnet)
        # again, over UDP and TCP: from the cache, the same answers
        for subnet, address in (("11.1.2.0/24", "192.0.2.1"), ("11.2.0.0/24", "192.0.2.2")):
            for tcp in (False, True):
                what = f"www.geo.com A for {subnet} again{' over TCP' if tcp else ''}"
                check_answer(ask(shoal, "www.geo.com", subnet, tcp=tcp), [address], subnet, 16,
                             what, GEO_TTL)
        expect_nothing_sent("www.geo.com A for 11.1.2.0/24 and 11.2.0.0/24 again")
        # another client of 11.1.0.0/16 (the partition's scope): from the cache
        check_answer(ask(shoal, "www.geo.com", "11.1.77.0/24"), ["192.0.2.1"], "11.1.77.0/24",
                     16, "www.geo.com A for 11.1.77.0/24", GEO_TTL)
        # the same seen by an independent client (kdig prints ADDRESS/SOURCE/SCOPE)
        r = kdig(shoal.port, "www.geo.com", "A", "+subnet=11.1.77.0/24")
        assert r.data("A") == ["192.0.2.1"] and "CLIENT-SUBNET: 11.1.77.0/24/16" in r.text, r
        expect_nothing_sent("www.geo.com A for 11.1.77.0/24 (inside 11.1.0.0/16)")
        # IPv6: 2a01:1::/32
        check_answer(ask(shoal, "www.geo.com", "2a01:1:2::/56"), ["192.0.2.6"], "2a01:1:2::/56",
                     32, "www.geo.com A for 2a01:1:2::/56", GEO_TTL)
        expect_sent("www.geo.com.", "2a01:1:2::/56")
        check_answer(ask(shoal, "www.geo.com", "2a01:1:ff00::/56"), ["192.0.2.6"],
                     "2a01:1:ff00::/56", 32, "www.geo.com A for 2a01:1:ff00::/56", GEO_TTL)
        expect_nothing_sent("www.geo.com A for 2a01:1:ff00::/56 (inside 2a01:1::/32)")
        # the front end's subnet is cut to ipv6_source (/56) before it is
        # sent; the option echoed is the client's own
        check_answer(ask(shoal, "plain.geo.com", "2a01:2:3:4::/64"), [PLAIN], "2a01:2:3:4::/64",
                     0, "plain.geo.com A for 2a01:2:3:4::/64", ZONE_TTL)
        expect_sent("plain.geo.com.", "2a01:2:3::/56")
        # a client outside every partition: asked for (cut to ipv4_source,
        # /24), never given the answer of 11.1 or 11.2
        check_answer(ask(shoal, "www.geo.com", "11.3.4.5/32"), [WWW_DEFAULT], "11.3.4.5/32", 0,
                     "www.geo.com A for 11.3.4.5/32", ZONE_TTL)
        expect_sent("www.geo.com.", "11.3.4.0/24")
        # and the partitions still answer their own clients only
        for subnet, address, scope in (("11.1.2.0/24", "192.0.2.1", 16),
                                       ("11.2.9.0/24", "192.0.2.2", 16),
                                       ("2a01:1:2::/56", "192.0.2.6", 32)):
            check_answer(ask(shoal, "www.geo.com", subnet), [address], subnet, scope,
                         f"www.geo.com A for {subnet} at the end", GEO_TTL)
        expect_nothing_sent("www.geo.com A for cached partitions at the end")


# --------------------------------------------------------------------------
# 2. Special-purpose clients, untrusted options
# --------------------------------------------------------------------------

# RFC 6890 special-purpose blocks (the IANA registries), as a front end's
# client subnet. Each asks a name of its own: an answer to a query without
# ECS is cached for the next client that sends none, whose question would
# not reach the geo server.
SPECIAL = ["10.1.2.0/24", "172.16.5.0/24", "192.168.1.0/24", "100.64.1.0/24",
           "127.0.0.0/24", "169.254.1.0/24", "192.0.2.0/24", "198.18.0.0/24", "240.0.0.0/24",
           "fd00:1:2::/56", "fe80::/56", "2001:db8:1::/56", "::ffff:10.1.2.3/128",
           "64:ff9b:1::/56"]


def test_special_purpose_clients_send_no_ecs():
    with ecs_shoal() as shoal:
        reset_geo()
        # a public client first: its partition is cached (and the geo
        # server is seen to receive ECS: the checks below can fail)
        check_answer(ask(shoal, "www.geo.com", "11.1.2.0/24"), ["192.0.2.1"], "11.1.2.0/24", 16,
                     "www.geo.com A for 11.1.2.0/24", GEO_TTL)
        expect_sent("www.geo.com.", "11.1.2.0/24")
        # a private client of the front end: no ECS upstream, the zone's
        # default answer (not the partition's); its option is echoed with
        # scope 0
        check_answer(ask(shoal, "www.geo.com", "10.1.2.0/24"), [WWW_DEFAULT], "10.1.2.0/24", 0,
                     "www.geo.com A for 10.1.2.0/24 (private)", ZONE_TTL)
        expect_sent("www.geo.com.", None)
        # another private client, and 127.0.0.1 itself without ECS: that
        # answer, from the cache
        check_answer(ask(shoal, "www.geo.com", "192.168.1.0/24"), [WWW_DEFAULT],
                     "192.168.1.0/24", 0, "www.geo.com A for 192.168.1.0/24", ZONE_TTL)
        check_answer(ask(shoal, "www.geo.com"), [WWW_DEFAULT], None, 0,
                     "www.geo.com A from 127.0.0.1 without ECS", ZONE_TTL)
        expect_nothing_sent("www.geo.com A for private clients after a private client")
        # a query from 127.0.0.1 without ECS (loopback: special-purpose)
        # for a name not cached: none upstream, none in the answer
        check_answer(ask(shoal, "many.geo.com"), [MANY_DEFAULT], None, 0,
                     "many.geo.com A from 127.0.0.1 without ECS", ZONE_TTL)
        expect_sent("many.geo.com.", None)
        # every other kind of special-purpose block, one name each (NXDOMAIN)
        for i, subnet in enumerate(SPECIAL):
            name = f"special{i}.geo.com"
            answer = ask(shoal, name, subnet)
            assert answer.rcode == 3 and answer.ecs is not None and answer.ecs["scope"] == 0, \
                (f"{name} A for {subnet}", answer)
            got = wire(geo_queries())
            assert got == [(name + ".", "A", None)], \
                f"{name} A for {subnet} (special-purpose): the geo server received {got}"
        # the same kind of question for a public client does carry it
        answer = ask(shoal, "public.geo.com", "11.7.0.0/24")
        assert answer.rcode == 3, answer
        expect_sent("public.geo.com.", "11.7.0.0/24")

    # not trusted: the option of a client (127.0.0.1, special-purpose) is
    # not its subnet, so nothing is sent
    with ecs_shoal(ecs={"trusted": []}) as shoal:
        reset_geo()
        check_answer(ask(shoal, "www.geo.com", "11.1.2.0/24"), [WWW_DEFAULT], "11.1.2.0/24", 0,
                     "www.geo.com A for 11.1.2.0/24 from an untrusted client", ZONE_TTL)
        expect_sent("www.geo.com.", None)
        check_answer(ask(shoal, "many.geo.com", "2a01:1:2::/56"), [MANY_DEFAULT],
                     "2a01:1:2::/56", 0, "many.geo.com A for 2a01:1:2::/56 untrusted", ZONE_TTL)
        expect_sent("many.geo.com.", None)

    # special_clients: a substitute network for special-purpose clients.
    # The untrusted client's option cannot move it elsewhere.
    with ecs_shoal(ecs={"trusted": [], "special_clients": "11.1.2.0/24"}) as shoal:
        reset_geo()
        check_answer(ask(shoal, "www.geo.com", "11.2.0.0/24"), ["192.0.2.1"], "11.2.0.0/24", 16,
                     "www.geo.com A for 11.2.0.0/24 from an untrusted client", GEO_TTL)
        expect_sent("www.geo.com.", "11.1.2.0/24")
        check_answer(ask(shoal, "many.geo.com"), [MANY_DEFAULT], None, 0,
                     "many.geo.com A from 127.0.0.1 with a substitute", ZONE_TTL)
        expect_sent("many.geo.com.", "11.1.2.0/24")
        # source /0: "do not locate me" is honoured (nothing sent)
        answer = ask(shoal, "zero.geo.com", "0.0.0.0/0")
        assert answer.rcode == 3 and answer.ecs is not None, answer
        expect_sent("zero.geo.com.", None)

    # special_clients = "0.0.0.0/0": the family alone (source /0)
    with ecs_shoal(ecs={"special_clients": "0.0.0.0/0"}) as shoal:
        reset_geo()
        check_answer(ask(shoal, "www.geo.com", "10.1.2.0/24"), [WWW_DEFAULT], "10.1.2.0/24", 0,
                     "www.geo.com A for 10.1.2.0/24 with the family alone", ZONE_TTL)
        expect_sent("www.geo.com.", "0.0.0.0/0")


# --------------------------------------------------------------------------
# 3. The allow-list
# --------------------------------------------------------------------------


def test_only_allowed_zones_and_servers_get_ecs():
    # ECS on, nothing allowed
    with ecs_shoal(ecs={"zones": []}) as shoal:
        reset_geo()
        check_answer(ask(shoal, "www.geo.com", "11.1.2.0/24"), [WWW_DEFAULT], "11.1.2.0/24", 0,
                     "www.geo.com A for 11.1.2.0/24, no zone allowed", ZONE_TTL)
        expect_sent("www.geo.com.", None)
        check_answer(ask(shoal, "www.geo.com", "11.2.0.0/24"), [WWW_DEFAULT], "11.2.0.0/24", 0,
                     "www.geo.com A for 11.2.0.0/24, no zone allowed", ZONE_TTL)
        expect_nothing_sent("www.geo.com A for 11.2.0.0/24 (the global answer)")
        assert ecs_stats(shoal)["queries"] == 0, ecs_stats(shoal)
    # another zone allowed (a sibling of geo.com.)
    with ecs_shoal(ecs={"zones": ["example.com."]}) as shoal:
        reset_geo()
        check_answer(ask(shoal, "www.geo.com", "11.1.2.0/24"), [WWW_DEFAULT], "11.1.2.0/24", 0,
                     "www.geo.com A for 11.1.2.0/24, example.com. allowed", ZONE_TTL)
        expect_sent("www.geo.com.", None)
    # the geo server allowed by address, whatever the zone
    with ecs_shoal(ecs={"zones": [], "servers": [lab().env["LAB_GEO_ADDR"] + "/32"]}) as shoal:
        reset_geo()
        check_answer(ask(shoal, "www.geo.com", "11.1.2.0/24"), ["192.0.2.1"], "11.1.2.0/24", 16,
                     "www.geo.com A for 11.1.2.0/24, the geo server allowed", GEO_TTL)
        expect_sent("www.geo.com.", "11.1.2.0/24")


# --------------------------------------------------------------------------
# 4. The cap on partitions per name and type
# --------------------------------------------------------------------------


def many(n):
    """The client subnet and the answer of many.geo.com's partition N."""
    return f"11.{n}.0.0/24", f"192.0.3.{n}"


def cache_stats(shoal):
    return shoal.ctl_json("cache", "stats")


def ecs_listing(shoal, *args):
    """`shoalctl ecs [NAME TYPE] --json`, or None when this shoalctl (or
    its supervisor) does not know the command."""
    rc, out, err = shoal.ctl("ecs", *args, json_output=True)
    if rc != 0 and "unknown command" in (out + err).lower():
        return None
    assert rc == 0, f"shoalctl --json ecs {' '.join(args)}: exit {rc}\n{out}{err}"
    answer = json.loads(out)
    assert isinstance(answer, dict), out
    return answer


def partitions_of(shoal, name, rtype="A"):
    """The prefixes of NAME TYPE's partitions by `shoalctl ecs`, or None."""
    listing = ecs_listing(shoal, name, rtype)
    return None if listing is None else [p["prefix"] for p in listing["partitions"]]


def test_the_cap_evicts_the_oldest_partitions():
    with ecs_shoal(cache={"max_ecs_partitions": 4}) as shoal:
        before = cache_stats(shoal)["partition_evictions"]
        reset_geo()
        for n in range(10, 20):
            subnet, address = many(n)
            check_answer(ask(shoal, "many.geo.com", subnet), [address], subnet, 16,
                         f"many.geo.com A for {subnet}", GEO_TTL)
            expect_sent("many.geo.com.", subnet)
        evictions = cache_stats(shoal)["partition_evictions"] - before
        assert evictions >= 6, \
            f"{evictions} partition evictions after 10 partitions with a cap of 4"
        kept = partitions_of(shoal, "many.geo.com")
        if kept is not None:
            assert kept == [f"11.{n}.0.0/16" for n in range(16, 20)], kept
        # the last four are answered from the cache, newest first
        for n in range(19, 15, -1):
            subnet, address = many(n)
            check_answer(ask(shoal, "many.geo.com", subnet), [address], subnet, 16,
                         f"many.geo.com A for {subnet} again", GEO_TTL)
        expect_nothing_sent("many.geo.com A for the 4 most recent partitions")
        # the first six were evicted: each is asked again, and right
        for n in range(10, 16):
            subnet, address = many(n)
            check_answer(ask(shoal, "many.geo.com", subnet), [address], subnet, 16,
                         f"many.geo.com A for {subnet} after its eviction", GEO_TTL)
            expect_sent("many.geo.com.", subnet)
        assert cache_stats(shoal)["partition_evictions"] - before >= 12, cache_stats(shoal)
        kept = partitions_of(shoal, "many.geo.com")
        if kept is not None:
            assert len(kept) == 4, kept
        # and every partition still answers its own clients only
        for n in range(10, 20):
            subnet, address = many(n)
            answer = ask(shoal, "many.geo.com", f"11.{n}.200.0/24")
            check_answer(answer, [address], f"11.{n}.200.0/24", 16,
                         f"many.geo.com A for 11.{n}.200.0/24 at the end", GEO_TTL)
        reset_geo()


def test_a_partition_in_use_survives_eviction():
    """The least recently used partition goes first. The cache records use
    to the second: the partitions are filled in one second, used in a later
    one (waited for on the clock, not guessed), then a new one comes."""
    with ecs_shoal(cache={"max_ecs_partitions": 4}) as shoal:
        reset_geo()
        for n in range(10, 14):
            subnet, address = many(n)
            check_answer(ask(shoal, "many.geo.com", subnet), [address], subnet, 16,
                         f"many.geo.com A for {subnet}", GEO_TTL)
        filled = int(time.time())
        assert len(geo_queries()) == 4
        wait_for(lambda: int(time.time()) > filled, 5, interval=0.01, what="the next second")
        subnet, address = many(10)
        check_answer(ask(shoal, "many.geo.com", subnet), [address], subnet, 16,
                     f"many.geo.com A for {subnet}, used again", GEO_TTL)
        expect_nothing_sent("many.geo.com A for 11.10.0.0/24, used again")
        subnet, address = many(14)
        check_answer(ask(shoal, "many.geo.com", subnet), [address], subnet, 16,
                     f"many.geo.com A for {subnet}", GEO_TTL)
        expect_sent("many.geo.com.", subnet)
        kept = partitions_of(shoal, "many.geo.com")
        if kept is not None:
            assert "11.10.0.0/16" in kept and "11.14.0.0/16" in kept and len(kept) == 4, kept
        subnet, address = many(10)
        check_answer(ask(shoal, "many.geo.com", subnet), [address], subnet, 16,
                     f"many.geo.com A for {subnet} after 11.14.0.0/16 came", GEO_TTL)
        expect_nothing_sent("many.geo.com A for 11.10.0.0/24 (used last; 11.11-13 were not)")


# --------------------------------------------------------------------------
# 5. shoalctl ecs
# --------------------------------------------------------------------------


def test_shoalctl_ecs_lists_the_partitions():
    with ecs_shoal() as shoal:
        implemented = ecs_listing(shoal) is not None
        if implemented:
            check_ecs_listing(shoal)
    if not implemented:
        raise Skip("shoalctl ecs is not implemented in this build (unknown command)")


def check_ecs_listing(shoal):
    """Asks for 3 partitions of www.geo.com A and 1 of many.geo.com A, and
    checks what `shoalctl ecs` shows of them."""
    reset_geo()
    for subnet in ("11.1.2.0/24", "11.2.0.0/24", "2a01:1:2::/56", "11.1.77.0/24",
                   "11.1.3.0/24"):
        assert ask(shoal, "www.geo.com", subnet).rcode == 0
    assert ask(shoal, "many.geo.com", "11.12.0.0/24").addresses == ["192.0.3.12"]
    assert len(geo_queries()) == 4
    summary = ecs_listing(shoal)
    assert summary["ok"] is True, summary
    assert (summary["entries"], summary["names"], summary["ipv4"], summary["ipv6"]) == \
        (4, 2, 3, 1), summary
    assert summary["max_partitions"] == 16 and summary["evictions"] == 0, summary
    assert summary["top"][:2] == [
        {"name": "www.geo.com.", "type": "A", "partitions": 3, "hits": 2},
        {"name": "many.geo.com.", "type": "A", "partitions": 1, "hits": 0}], summary
    listing = ecs_listing(shoal, "www.geo.com", "A")
    assert listing["name"] == "www.geo.com." and listing["type"] == "A", listing
    assert listing["global"] is None, listing  # nobody asked without ECS
    rows = [(p["prefix"], p["scope"], p["kind"], p["hits"]) for p in listing["partitions"]]
    assert rows == [("11.1.0.0/16", 16, "rrset", 2), ("11.2.0.0/16", 16, "rrset", 0),
                    ("2a01:1::/32", 32, "rrset", 0)], listing
    assert all(0 < p["ttl"] <= GEO_TTL for p in listing["partitions"]), listing
    # an answer asked without a subnet (a loopback client) is kept for
    # clients without one (RFC 7871 section 7.3.1), shown as "no subnet",
    # not as the global entry
    assert ask(shoal, "www.geo.com").addresses == [WWW_DEFAULT]
    listing = ecs_listing(shoal, "www.geo.com", "A")
    assert listing["global"] is None, listing
    rows = [(p["prefix"], p["scope"], p["kind"]) for p in listing["partitions"]]
    assert ("no subnet", 0, "rrset") in rows and len(rows) == 4, listing
    assert all(0 < p["ttl"] <= ZONE_TTL for p in listing["partitions"]), listing
    # a name without partitions
    listing = ecs_listing(shoal, "plain.geo.com", "A")
    assert listing["partitions"] == [], listing
    # the human form
    rc, out, err = shoal.ctl("ecs", "www.geo.com", "A")
    assert rc == 0 and "11.1.0.0/16" in out and "2a01:1::/32" in out, (rc, out, err)
    rc, out, err = shoal.ctl("ecs")
    assert rc == 0 and "www.geo.com." in out, (rc, out, err)


# --------------------------------------------------------------------------
# 6. Counters
# --------------------------------------------------------------------------


def ecs_stats(shoal):
    stats = shoal.ctl_json("stats")
    assert "ecs" in stats, f"no \"ecs\" in shoalctl stats --json: {sorted(stats)}"
    return stats["ecs"]


def test_stats_count_ecs_queries_replies_and_hits():
    with ecs_shoal() as shoal:
        reset_geo()
        steps = [("11.1.2.0/24", "192.0.2.1"),   # sent, partitioned reply
                 ("11.2.0.0/24", "192.0.2.2"),   # sent, partitioned reply
                 ("11.1.77.0/24", "192.0.2.1"),  # partition hit
                 ("11.2.3.0/24", "192.0.2.2"),   # partition hit
                 ("11.1.2.0/24", "192.0.2.1"),   # partition hit
                 ("11.3.0.0/24", WWW_DEFAULT),   # sent, global reply (scope 0)
                 ("10.1.2.0/24", WWW_DEFAULT),   # not sent: global hit
                 (None, WWW_DEFAULT)]            # not sent: global hit
        for subnet, address in steps:
            answer = ask(shoal, "www.geo.com", subnet)
            assert answer.addresses == [address], (subnet, answer)
        assert [q["ecs"] is not None for q in geo_queries()] == [True, True, True]
        expected = {"queries": 3, "replies_partitioned": 2, "replies_global": 1,
                    "hits_partitioned": 3, "mismatched": 0}

        def counted():
            stats = ecs_stats(shoal)
            return stats if all(stats[k] >= v for k, v in expected.items()) else None
        try:
            stats = wait_for(counted, WAIT_S, interval=0.1, what="the ECS counters")
        except AssertionError:
            raise AssertionError(f"ECS counters {ecs_stats(shoal)}, expected {expected}") from None
        assert {k: stats[k] for k in expected} == expected, stats
        assert stats["hits_global"] >= 2, stats


# --------------------------------------------------------------------------
# 7. In flight at the same time
# --------------------------------------------------------------------------


def test_questions_in_flight_are_kept_apart_by_subnet():
    geo = lab().env["LAB_GEO_ADDR"]
    clients = {1: ("11.1.2.0/24", "192.0.2.1", 16), 2: ("11.2.0.0/24", "192.0.2.2", 16),
               3: ("11.1.77.0/24", "192.0.2.1", 16), 4: ("2a01:1:2::/56", "192.0.2.6", 32),
               5: ("10.1.2.0/24", WWW_DEFAULT, 0), 6: (None, WWW_DEFAULT, 0),
               7: ("11.15.0.0/24", "192.0.3.15", 16)}
    with ecs_shoal() as shoal:
        # the delegation to geo.com. first, so that only geo.com is waited for
        assert ask(shoal, "plain.geo.com").addresses == [PLAIN]
        reset_geo()
        # every answer of the geo server is held: all the questions are in
        # flight together
        lab().delay(geo, 300)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(WAIT_S)
                for qid, (subnet, _a, _s) in clients.items():
                    s.sendto(ecs_query("www.geo.com", "A", subnet, qid=qid),
                             ("127.0.0.1", shoal.port))
                answers = {}
                while len(answers) < len(clients):
                    answer = Answer(s.recv(65535))
                    answers[answer.id] = answer
        finally:
            lab().delay(geo, 0)
        for qid, (subnet, address, scope) in clients.items():
            check_answer(answers[qid], [address], subnet, scope,
                         f"www.geo.com A for {subnet}, asked together with the others")
        # each public subnet went to the geo server with its own ECS (a
        # query may be sent twice: the delay may exceed the first timeout)
        sent = {ecs_text(q["ecs"]) for q in geo_queries() if q["qname"] == "www.geo.com."}
        want = {subnet_text(s) for s, _a, _s in clients.values()
                if s is not None and not s.startswith("10.")} | {None}
        assert sent == want, f"ECS sent {sorted(sent, key=str)}, expected {sorted(want, key=str)}"


# --------------------------------------------------------------------------
# 8. Nothing sent is not scope 0; a client's shorter prefix narrows all
# --------------------------------------------------------------------------


def test_an_answer_to_a_query_without_ecs_is_not_for_ecs_clients():
    """RFC 7871 section 7.3.1: what is cached as /0 because no address was
    sent (a special-purpose client, or a client's source /0) must be kept
    apart from a reply's scope 0, and serve only queries that send none;
    section 7.3.2: without a matching network, resolve."""
    with ecs_shoal() as shoal:
        reset_geo()
        check_answer(ask(shoal, "www.geo.com"), [WWW_DEFAULT], None, 0,
                     "www.geo.com A from 127.0.0.1 without ECS", ZONE_TTL)
        expect_sent("www.geo.com.", None)
        check_answer(ask(shoal, "www.geo.com", "11.2.0.0/24"), ["192.0.2.2"], "11.2.0.0/24", 16,
                     "www.geo.com A for 11.2.0.0/24 after a client without ECS", GEO_TTL)
        expect_sent("www.geo.com.", "11.2.0.0/24")
        check_answer(ask(shoal, "many.geo.com", "0.0.0.0/0"), [MANY_DEFAULT], "0.0.0.0/0", 0,
                     "many.geo.com A for source /0", ZONE_TTL)
        expect_sent("many.geo.com.", None)
        check_answer(ask(shoal, "many.geo.com", "11.12.0.0/24"), ["192.0.3.12"], "11.12.0.0/24",
                     16, "many.geo.com A for 11.12.0.0/24 after a source /0 client", GEO_TTL)
        expect_sent("many.geo.com.", "11.12.0.0/24")
        # clients that send none still share that answer
        check_answer(ask(shoal, "www.geo.com", "10.9.0.0/24"), [WWW_DEFAULT], "10.9.0.0/24", 0,
                     "www.geo.com A for 10.9.0.0/24", ZONE_TTL)
        expect_nothing_sent("www.geo.com A for a private client after one without ECS")


def test_a_clients_shorter_prefix_narrows_the_substitute():
    """RFC 7871 section 7.1.1: the outgoing SOURCE PREFIX-LENGTH is the
    shorter of the client's and the resolver's; 7.1.2: never more bits
    than the client's query had. shoal's own doc: a client's option "may
    ask for less, never for more"."""
    with ecs_shoal(ecs={"trusted": [], "special_clients": "11.1.2.0/24"}) as shoal:
        reset_geo()
        check_answer(ask(shoal, "www.geo.com", "11.9.0.0/16"), ["192.0.2.1"], "11.9.0.0/16", 16,
                     "www.geo.com A for 11.9.0.0/16 with the substitute 11.1.2.0/24", GEO_TTL)
        expect_sent("www.geo.com.", "11.1.0.0/16")
        answer = ask(shoal, "many.geo.com", "11.0.0.0/8")
        assert answer.rcode == 0, answer
        expect_sent("many.geo.com.", "11.0.0.0/8")


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
