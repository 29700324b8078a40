#!/usr/bin/env python3
"""Aggressive use of the DNSSEC-validated cache (RFC 8198) against the lab
(tests/lab): once shoal has seen the NSEC and NSEC3 records of the lab's
zones, junk names are answered from those ranges without asking anyone.

The warm-up is a walk: every zone used is read by AXFR, and one name is
asked inside each of its NSEC gaps (and, for NSEC3 zones, one name whose
hash falls in each NSEC3 range), so that every range reaches the cache.
Then:
 1. fresh random junk under NSEC zones (the root chain: non-existent TLDs,
    com., example.com.) and NSEC3 zones (net., example.net.) costs zero
    packets in the lab, every answer NXDOMAIN with AD, from the hot path,
    counted as synthesised;
 2. an independent validator (Debian's unbound, forwarding everything to
    shoal, without aggressive NSEC of its own) accepts the synthesised
    NXDOMAIN, NODATA and wildcard answers (AD, no validation failure);
 3. DO decides whether the SOA, the NSEC/NSEC3 proof and their RRSIGs are
    shown; AD only for clients that ask (DO or AD);
 4. with [dnssec] aggressive_nsec = false the same junk goes upstream;
 5. opt-out NSEC3 ranges (the org. TLD) never prove NXDOMAIN: such names go
    upstream, answered as the independent validator answers them;
 6. a burst of junk under zones seen the first time (a cold shoal, all the
    names in one NSEC gap of example.com. and one NSEC3 range of
    example.net.) costs one question per zone: the others wait for its
    validated ranges and are answered from them.
Needs root (exit 77 otherwise); uses a running lab, or starts and stops one.
The junk names are random: AGGRESSIVE_SEED=N repeats a run (its seed is
printed)."""

import base64
import bisect
import hashlib
import os
import random
import subprocess
import time

from shoal_harness import (Shoal, Unbound, build_query, close_shared_lab, encode_name, kdig,
                           parse_header, resolve_many, run_tests, shared_lab, udp_exchange,
                           WAIT_S)

# One lab for the whole run (started on first use; see main).
lab = shared_lab

SEED = int(os.environ.get("AGGRESSIVE_SEED") or random.randrange(1 << 30))

# The zones walked, and the lab role of the server that serves each one.
SERVER_ROLE = {".": "ROOT", "com.": "TLD", "net.": "TLD", "org.": "TLD",
               "example.com.": "SLD", "example.net.": "SLD", "example.org.": "SLD"}
SIGNED_ZONES = [".", "com.", "example.com.", "net.", "example.net."]  # NSEC, then NSEC3

DNSSEC_TYPES = {"RRSIG", "NSEC", "NSEC3", "DNSKEY", "DS", "NSEC3PARAM"}
AD_BIT = 0x0020
# kdig: NO_DO is EDNS without DO and without AD; DO is EDNS with DO (and
# kdig's default AD flag). See dnssec_test.py.
NO_DO = ("+edns", "+noadflag")
DO = ("+dnssec",)


def lab_shoal(workers=2, dnssec=None, **resolver):
    """A shoal resolving through the lab, with `dnssec` as its [dnssec] section."""
    config = lab().shoal_config(**resolver)
    if dnssec:
        config["dnssec"] = dict(dnssec)
    return Shoal(workers=workers, config=config)


# --------------------------------------------------------------------------
# Names: canonical order (RFC 4034 section 6.1), NSEC3 hashes (RFC 5155)
# --------------------------------------------------------------------------


def labels(name):
    return [label for label in name.lower().split(".") if label]


def child(label, name):
    return f"{label}.{name}" if name != "." else f"{label}."


def canonical(name):
    """Sort key: labels from the root, lowercased, compared as octets."""
    return [label.encode() for label in reversed(labels(name))]


def below(name, ancestor):
    """True if `name` is a proper subdomain of `ancestor`."""
    n, a = canonical(name), canonical(ancestor)
    return len(n) > len(a) and n[:len(a)] == a


def nsec3_hash(name, salt=b"", iterations=0):
    digest = hashlib.sha1(encode_name(name.lower()) + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return digest


def b32hex(text):
    return base64.b32hexdecode(text.upper())


def in_range(value, owner, following):
    """owner < value < following, in a chain that wraps around at its end."""
    if owner < following:
        return owner < value < following
    return value > owner or value < following


# --------------------------------------------------------------------------
# The lab's zones, read by AXFR (once per run)
# --------------------------------------------------------------------------

_zones = {}


def zone_records(zone):
    """[(owner, type, rdata)] of `zone`, by AXFR from its lab server."""
    if zone not in _zones:
        server = lab().env[f"LAB_{SERVER_ROLE[zone]}_ADDR"]
        p = subprocess.run(["kdig", f"@{server}", zone, "AXFR"], capture_output=True, text=True,
                           timeout=60)
        records = []
        for line in p.stdout.splitlines():
            if not line.strip() or line.startswith(";"):
                continue
            fields = line.split(None, 4)
            if len(fields) == 5:
                records.append((fields[0].lower(), fields[3], fields[4].strip()))
        assert any(t == "SOA" for _o, t, _d in records), \
            f"AXFR of {zone} from {server} failed:\n{p.stdout}{p.stderr}"
        _zones[zone] = records
    return _zones[zone]


def zone_names(zone):
    """Every owner name of `zone` (delegations and glue included)."""
    return {owner for owner, _t, _d in zone_records(zone)}


def nsec3_params(zone):
    """(salt, iterations) of an NSEC3 zone, from its NSEC3PARAM record."""
    for _owner, rtype, rdata in zone_records(zone):
        if rtype == "NSEC3PARAM":
            _alg, _flags, iterations, salt = rdata.split()
            return (b"" if salt == "-" else bytes.fromhex(salt)), int(iterations)
    raise AssertionError(f"{zone} has no NSEC3PARAM")


def nsec3_chain(zone):
    """[(owner hash, next hash, flags)] of an NSEC3 zone, sorted."""
    chain = []
    for owner, rtype, rdata in zone_records(zone):
        if rtype == "NSEC3":
            _alg, flags, _iterations, _salt, following = rdata.split()[:5]
            chain.append((b32hex(owner.split(".")[0]), b32hex(following), int(flags)))
    assert chain, f"{zone} has no NSEC3 records"
    return sorted(chain)


def nsec_walk(zone):
    """One name inside every NSEC gap of `zone` (RFC 4034 canonical order),
    none of them below a delegation or a DNAME."""
    nsecs = []
    for owner, rtype, rdata in zone_records(zone):
        if rtype == "NSEC":
            following, *types = rdata.split()
            nsecs.append((owner, following.lower(), set(types)))
    assert nsecs, f"{zone} has no NSEC records"
    cuts = [owner for owner, _f, types in nsecs
            if owner != zone and ("DNAME" in types or ("NS" in types and "SOA" not in types))]
    names = []
    for owner, following, _types in nsecs:
        low, high = canonical(owner), canonical(following)
        first, _, parent = owner.partition(".")
        if owner == zone:
            candidates = [child("0", zone), child("-", zone)]
        else:
            candidates = [f"{first}0.{parent}", f"{first}-.{parent}", child("0", owner)]

        def fits(name):
            key = canonical(name)
            return low < key and (high <= low or key < high) and \
                not any(name == cut or below(name, cut) for cut in cuts)
        name = next((c for c in candidates if fits(c)), None)
        assert name, f"no name to ask in the NSEC gap {owner} -> {following} of {zone}"
        names.append(name)
    return names


def nsec3_walk(zone):
    """One name below `zone` whose NSEC3 hash falls in each NSEC3 range."""
    salt, iterations = nsec3_params(zone)
    chain = nsec3_chain(zone)
    owners = [owner for owner, _n, _f in chain]
    found = {}
    for i in range(1_000_000):
        name = child(f"gap{i}", zone)
        digest = nsec3_hash(name, salt, iterations)
        # the range starting at the greatest owner below the hash (the
        # last one, that wraps around, for a hash below every owner)
        index = (bisect.bisect_left(owners, digest) - 1) % len(chain)
        if index not in found and in_range(digest, *chain[index][:2]):
            found[index] = name
            if len(found) == len(chain):
                return list(found.values())
    raise AssertionError(f"no names found for {len(chain) - len(found)} NSEC3 ranges of {zone}")


_walks = {}


def walk(zone):
    """The walk of an NSEC or NSEC3 zone."""
    if zone not in _walks:
        nsec3 = any(t == "NSEC3" for _o, t, _d in zone_records(zone))
        _walks[zone] = nsec3_walk(zone) if nsec3 else nsec_walk(zone)
    return _walks[zone]


# --------------------------------------------------------------------------
# Junk names
# --------------------------------------------------------------------------

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Shapes seen in real junk traffic (issue 10): names under TLDs that do not
# exist. None of these TLDs is in the lab's root.
REALISTIC = ["untitled.pdf.", "wpad.lan.", "router.modem.", "printer.local.", "desktop.home.",
             "isatap.corp.", "_ldap._tcp.dc._msdcs.localdomain.", "fritz.box."]
EXTENSIONS = ["pdf", "docx", "jpg", "lan", "local", "home", "corp", "internal", "localdomain",
              "belkin", "dlink"]


class Junk:
    """Random junk names, never the same twice in a run, never a lab name."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.used = set()
        self.realistic = list(REALISTIC)

    def label(self, low=8, high=14):
        length = self.rng.randint(low, high)
        return self.rng.choice(ALPHABET[:26]) + "".join(
            self.rng.choice(ALPHABET) for _ in range(length - 1))

    def _fresh(self, make):
        """A name from `make` not used yet and neither at nor below a name
        the warm-ups ask (whose NXDOMAIN is cached: RFC 8020 would answer
        the names below it, not the ranges)."""
        asked = warm_up_names()
        for _ in range(1000):
            name = make()
            ancestors = {suffix(name, n) for n in range(1, len(labels(name)) + 1)}
            if name not in self.used and not ancestors & asked:
                self.used.add(name)
                return name
        raise AssertionError("no fresh junk name found")

    def take(self, name):
        """`name` itself if not used yet (a realistic one), else a fresh one."""
        if name in self.used:
            return self.tld()
        if name in self.realistic:
            self.realistic.remove(name)
        self.used.add(name)
        return name

    def tld(self):
        """A name under a TLD that does not exist (the root's NSEC chain)."""
        def make():
            shape = self.rng.randrange(4)
            if shape == 0 and self.realistic:
                return self.realistic.pop(0)
            if shape == 1:  # a single random label
                return self.label() + "."
            if shape == 2:  # a file name
                return f"{self.label(4, 10)}.{self.rng.choice(EXTENSIONS)}{self.label(1, 3)}."
            return f"{self.rng.choice(['wpad', 'isatap', 'www', 'mail'])}.{self.label(3, 8)}."
        while True:
            name = self._fresh(make)
            if labels(name)[-1] + "." not in zone_names("."):
                return name

    def under(self, zone, depth=None):
        """A random name below `zone`: one label, or two (its next closer
        name is then the one under the zone)."""
        depth = depth or self.rng.choice([1, 1, 2])
        return self._fresh(lambda: child(".".join(self.label() for _ in range(depth)), zone))


# --------------------------------------------------------------------------
# Asking shoal, counting
# --------------------------------------------------------------------------


def ask(port, name, rtype="A", flags=0x0100 | AD_BIT):
    """One query over UDP (EDNS, no DO; RD and AD by default): (rcode, AD,
    ancount), or (None, False, 0) without an answer."""
    reply = None
    for _ in range(3):  # like a stub
        reply = udp_exchange(port, build_query(name, rtype, flags=flags), timeout=5)
        if reply is not None:
            break
    if reply is None:
        return None, False, 0
    _qid, got_flags, rcode, _qd, an, _ns, _ar = parse_header(reply)
    return rcode, bool(got_flags & AD_BIT), an


def synthesised(shoal):
    """shoal's counters of answers synthesised from ranges, from `shoalctl
    stats --json` ({"nxdomain", "nodata", "wildcard", ...}), or None when
    this shoalctl does not show them."""
    return shoal.ctl_json("stats").get("synthesised")


SYNTH_KINDS = ("nxdomain", "nodata", "wildcard")


def synth_delta(before, after):
    return {k: after[k] - before[k] for k in SYNTH_KINDS}


def counted_synthesised(shoal, before, expected):
    """The synthesised answers counted since `before`, once at least as
    many as `expected` in total are (the hot path counts each before it
    sends it; the resolver's counts are published after each event), or
    what is counted after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while True:
        delta = synth_delta(before, synthesised(shoal))
        if sum(delta.values()) >= sum(expected.values()) or time.monotonic() > deadline:
            return delta
        time.sleep(0.2)


def hot_path(shoal):
    """(hits, misses): client queries answered on the hot path, and those
    handed to the resolver (`shoalctl stats --json`, all workers)."""
    cache = shoal.ctl_json("stats")["cache"]
    return cache["hits"], cache["misses"]


# Asked after the walk: what the NODATA and wildcard answers below are
# proven from.
WARM_UP_EXTRA = [("www.example.net.", 33),      # SRV, NSEC3 NODATA: www's NSEC3
                 ("x.wild.example.com.", "A"),  # the wildcard's A and TXT
                 ("x.wild.example.com.", "TXT")]


_warm_up_names = set()


def warm_up_names():
    """Every name a warm-up may ask."""
    if not _warm_up_names:
        _warm_up_names.update({name for zone in SERVER_ROLE for name in walk(zone)},
                              {name for name, _t in WARM_UP_EXTRA})
    return _warm_up_names


def warm_up(shoal, zones=SIGNED_ZONES):
    """Walks `zones` (a name in every NSEC gap / NSEC3 range) and asks
    WARM_UP_EXTRA; asserts every answer is NXDOMAIN or NOERROR. Returns
    the number of names."""
    warm_up_names()  # every AXFR done now, not while lab packets are counted
    questions = [(name, "A") for zone in zones for name in walk(zone)] + WARM_UP_EXTRA
    t0 = time.monotonic()
    results = resolve_many(shoal.port, questions, in_flight=50)
    bad = {q: r for q, r in results.items() if r[0] not in ("NXDOMAIN", "NOERROR")}
    assert not bad and len(results) == len(questions), \
        f"warm-up: {len(bad)} of {len(questions)} answers not NXDOMAIN/NOERROR: " \
        f"{sorted(bad.items())[:20]}"
    print(f"  warm-up: {len(questions)} names in {len(zones)} zones "
          f"({', '.join(zones)}) in {time.monotonic() - t0:.2f} s", flush=True)
    return len(questions)


def families(junk, per_family):
    """{family: [junk names]} for the five kinds of junk."""
    return {"non-existent TLDs (root, NSEC)": [junk.tld() for _ in range(per_family * 2)],
            "under com. (NSEC)": [junk.under("com.") for _ in range(per_family)],
            "under example.com. (NSEC)": [junk.under("example.com.") for _ in range(per_family)],
            "under net. (NSEC3)": [junk.under("net.") for _ in range(per_family)],
            "under example.net. (NSEC3)": [junk.under("example.net.")
                                           for _ in range(per_family)]}


def ask_family(shoal, names):
    """Asks every name (A, with AD); returns ({name: (rcode, AD, ancount)},
    lab packets it cost, per server address)."""
    before = lab().counters()
    answers = {name: ask(shoal.port, name) for name in names}
    after = lab().counters()
    packets = {addr: after[addr] - before.get(addr, 0) for addr in after
               if after[addr] != before.get(addr, 0)}
    return answers, packets


def show_answer(answer):
    rcode, ad, an = answer
    return f"{rcode or 'no answer'}{' AD' if ad else ''} ({an} answers)"


# --------------------------------------------------------------------------
# 1. Junk costs nothing once the ranges are known
# --------------------------------------------------------------------------


def test_junk_costs_no_upstream_packet_after_a_walk():
    junk = Junk(SEED)
    with lab_shoal() as shoal:
        warm_up(shoal)
        batch = families(junk, 40)
        total = sum(len(names) for names in batch.values())
        synth_before = synthesised(shoal)
        hits_before, misses_before = hot_path(shoal)
        problems = []
        for family, names in batch.items():
            answers, packets = ask_family(shoal, names)
            wrong = {n: a for n, a in answers.items() if a[:2] != ("NXDOMAIN", True)}
            print(f"  {family:<32} {len(names):>3} names: {sum(packets.values())} lab packets, "
                  f"{len(names) - len(wrong)} NXDOMAIN AD", flush=True)
            if packets:
                problems.append(f"{family}: {sum(packets.values())} lab packets {packets} for "
                                f"{len(names)} names, e.g. {names[:5]}")
            if wrong:
                problems.append(f"{family}: not NXDOMAIN AD: " + ", ".join(
                    f"{n} {show_answer(a)}" for n, a in sorted(wrong.items())[:10]))
        assert not problems, (f"seed {SEED}: junk after the walk was not answered from the "
                              f"ranges alone:\n  " + "\n  ".join(problems))
        hits_after, misses_after = hot_path(shoal)
        assert misses_after == misses_before and hits_after - hits_before == total, \
            (f"the hot path did not answer all {total} junk names: hits "
             f"{hits_before} -> {hits_after}, misses {misses_before} -> {misses_after}")
        if synth_before is None:
            print("  NOTE: shoalctl stats --json shows no 'synthesised' counters: "
                  "checked packets and hot-path hits only", flush=True)
            return
        delta = counted_synthesised(shoal, synth_before, {"nxdomain": total, "nodata": 0,
                                                          "wildcard": 0})
        assert delta == {"nxdomain": total, "nodata": 0, "wildcard": 0}, \
            f"synthesised answers {delta}, expected {total} NXDOMAIN"
        # the ranges counted: stored by the resolver, and in the cache (the
        # supervisor refreshes that figure once a second)
        deadline = time.monotonic() + WAIT_S
        while True:
            after = synthesised(shoal)
            if after.get("ranges_in_cache", 1) > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert after.get("ranges_stored", 1) > 0 and after.get("ranges_in_cache", 1) > 0, \
            f"no ranges counted after the walk: {after}"


# --------------------------------------------------------------------------
# 2. An independent validator accepts the synthesised proofs
# --------------------------------------------------------------------------


def test_independent_validator_accepts_synthesised_proofs():
    junk = Junk(SEED + 2)
    realistic = [junk.take("untitled.pdf."), junk.take("wpad.lan.")]
    with lab_shoal() as shoal:
        warm_up(shoal)
        with Unbound(lab().env, forward_to=shoal.port) as unbound:
            # unbound learns the keys through shoal first (from its cache)
            for name, rtype in ((".", "DNSKEY"), ("www.example.com.", "A"),
                                ("www.example.net.", "A"), ("nic.pccw.", "A"),
                                (junk.tld(), "A"), (junk.under("com."), "A"),
                                (junk.under("example.com."), "A"), (junk.under("net."), "A"),
                                (junk.under("example.net."), "A")):
                r = unbound.query(name, rtype, *DO)
                assert r.status in ("NOERROR", "NXDOMAIN") and "ad" in r.flags, \
                    (f"unbound forwarding to shoal: {name} {rtype} not answered securely", r)
            # (name, type, rcode, kind, answer data)
            wild = junk.under("wild.example.com.", depth=1)
            cases = [(junk.tld(), "A", "NXDOMAIN", "nxdomain", None),
                     (realistic[0], "A", "NXDOMAIN", "nxdomain", None),
                     (realistic[1], "A", "NXDOMAIN", "nxdomain", None),
                     (junk.tld(), "AAAA", "NXDOMAIN", "nxdomain", None),
                     (junk.under("com."), "A", "NXDOMAIN", "nxdomain", None),
                     (junk.under("example.com."), "A", "NXDOMAIN", "nxdomain", None),
                     (junk.under("example.com.", depth=2), "TXT", "NXDOMAIN", "nxdomain", None),
                     (junk.under("net."), "A", "NXDOMAIN", "nxdomain", None),
                     (junk.under("example.net."), "A", "NXDOMAIN", "nxdomain", None),
                     (junk.under("example.net.", depth=2), "MX", "NXDOMAIN", "nxdomain", None),
                     # NODATA: NSEC at the name, NSEC3 matching the name, an
                     # empty non-terminal, the apex of the root, com and net
                     ("www.example.com.", "TYPE99", "NOERROR", "nodata", None),
                     ("example.com.", "SRV", "NOERROR", "nodata", None),
                     ("b.ent.example.com.", "A", "NOERROR", "nodata", None),
                     ("www.example.net.", "TYPE99", "NOERROR", "nodata", None),
                     ("example.net.", "TXT", "NOERROR", "nodata", None),
                     (".", "TXT", "NOERROR", "nodata", None),
                     ("com.", "TXT", "NOERROR", "nodata", None),
                     ("net.", "TXT", "NOERROR", "nodata", None),
                     # a wildcard expansion, and wildcard NODATA
                     (wild, "A", "NOERROR", "wildcard", ["192.0.2.77"]),
                     (wild, "TXT", "NOERROR", "wildcard", ['"wildcard"']),
                     (wild, "MX", "NOERROR", "nodata", None)]
            synth_before = synthesised(shoal)
            packets_before = lab().upstream_packets()
            rows, failed = [], []
            for name, rtype, rcode, kind, data in cases:
                r = unbound.query(name, rtype, *DO)
                problems = []
                if r.status != rcode:
                    problems.append(f"{r.status or 'no answer'}, expected {rcode}")
                if "ad" not in r.flags:
                    problems.append("no AD")
                if data is not None and r.data(rtype) != data:
                    problems.append(f"data {r.data(rtype)}, expected {data}")
                if data is None and [rr for rr in r.answer if rr[2] != "RRSIG"]:
                    problems.append(f"answer section {r.answer}")
                rows.append(f"{name} {rtype}: unbound {r.status}{' AD' if 'ad' in r.flags else ''}"
                            f" ({kind}){'  <- ' + '; '.join(problems) if problems else ''}")
                if problems:
                    failed.append(r)
            packets = lab().upstream_packets() - packets_before
            print("  " + "\n  ".join(rows), flush=True)
            assert not failed, ("unbound (validating, forwarding to shoal) did not accept "
                                "shoal's synthesised answers:\n" + "\n".join(rows) +
                                "\n" + "\n".join(map(repr, failed)))
            log = unbound.log()
            failures = [line for line in log.splitlines() if "validation failure" in line]
            assert not failures, ("unbound logged validation failures (a bad proof retried "
                                  "with CD?):\n" + "\n".join(failures))
            assert packets == 0, (f"{packets} lab packets while unbound asked shoal "
                                  f"{len(cases)} questions: not all answered from ranges")
            if synth_before is None:
                print("  NOTE: shoalctl stats --json shows no 'synthesised' counters",
                      flush=True)
                return
            expected = {k: sum(1 for c in cases if c[3] == k) for k in SYNTH_KINDS}
            delta = synth_delta(synth_before, synthesised(shoal))
            assert all(delta[k] >= expected[k] for k in SYNTH_KINDS), \
                f"synthesised answers {delta}, expected at least {expected}"


# --------------------------------------------------------------------------
# 3. DO shows the proof; AD only when asked
# --------------------------------------------------------------------------


def dnssec_records(reply):
    return sorted((s, o, t) for s, rrs in reply.sections.items() for o, _ttl, t, _d in rrs
                  if t in DNSSEC_TYPES)


def signed(reply, section, owner, rtype):
    """True if `section` holds an RRSIG over (owner, rtype)."""
    return any(o == owner and t == "RRSIG" and d.split()[0] == rtype
               for o, _ttl, t, d in reply.sections[section])


def suffix(name, count):
    """The last `count` labels of `name`, as a name."""
    return ".".join(labels(name)[len(labels(name)) - count:]) + "." if count else "."


def common_labels(a, b):
    n = 0
    for x, y in zip(canonical(a), canonical(b)):
        if x != y:
            break
        n += 1
    return n


def nsec_nxdomain_proven(name, proofs):
    """RFC 4035 section 5.4: an NSEC covers `name`, and one covers the
    wildcard at the closest encloser. `proofs`: [(owner, rdata)]. Returns
    what is missing, or None."""
    def covering(target):
        return [(o, d.split()[0].lower()) for o, d in proofs
                if in_range(canonical(target), canonical(o), canonical(d.split()[0]))]
    cover = covering(name)
    if not cover:
        return f"no NSEC covers {name}"
    owner, following = cover[0]
    closest_encloser = suffix(name, max(common_labels(name, owner),
                                        common_labels(name, following)))
    wildcard = child("*", closest_encloser)
    if not covering(wildcard):
        return f"no NSEC covers the wildcard {wildcard}"
    return None


def nsec3_nxdomain_proven(name, zone, proofs):
    """RFC 5155 section 8.4: an NSEC3 matches the closest encloser, one
    without opt-out covers the next closer name, one covers the wildcard at
    the closest encloser. Returns what is missing, or None."""
    salt, iterations = nsec3_params(zone)
    records = [(b32hex(o.split(".")[0]), b32hex(d.split()[4]), int(d.split()[1]))
               for o, d in proofs]

    def digest(target):
        return nsec3_hash(target, salt, iterations)
    for count in range(len(labels(name)) - 1, len(labels(zone)) - 1, -1):
        closest_encloser = suffix(name, count)
        if any(h == digest(closest_encloser) for h, _n, _f in records):
            break
    else:
        return f"no NSEC3 matches an ancestor of {name} in {zone}"
    next_closer = suffix(name, count + 1)
    if not any(in_range(digest(next_closer), h, n) and not f & 1 for h, n, f in records):
        return f"no NSEC3 without opt-out covers the next closer name {next_closer}"
    wildcard = child("*", closest_encloser)
    if not any(in_range(digest(wildcard), h, n) for h, n, _f in records):
        return f"no NSEC3 covers the wildcard {wildcard}"
    return None


def check_negative_proof(reply, name, zone, denial, what):
    """The authority section of a synthesised NXDOMAIN with DO: the zone's
    SOA and the NSEC/NSEC3 records proving the name error, each signed,
    nothing else."""
    authority = reply.authority
    soas = [o for o, _ttl, t, _d in authority if t == "SOA"]
    assert soas == [zone] and signed(reply, "AUTHORITY", zone, "SOA"), \
        (f"{what}: no signed SOA of {zone} in the authority section", reply)
    proofs = [(o, d) for o, _ttl, t, d in authority if t == denial]
    assert proofs, (f"{what}: no {denial} records", reply)
    for owner, _d in proofs:
        assert signed(reply, "AUTHORITY", owner, denial), (f"{what}: {owner} {denial} unsigned",
                                                          reply)
    others = {t for _o, _ttl, t, _d in authority} - {"SOA", denial, "RRSIG"}
    assert not others, (f"{what}: unexpected {others} in the authority section", reply)
    missing = (nsec_nxdomain_proven(name, proofs) if denial == "NSEC"
               else nsec3_nxdomain_proven(name, zone, proofs))
    assert missing is None, (f"{what}: not a proof: {missing}", reply)
    # RFC 8198 section 5.4, RFC 9077: no TTL above the SOA's MINIMUM and TTL
    soa_ttl, soa_rdata = next((ttl, d) for _o, ttl, t, d in authority if t == "SOA")
    bound = min(soa_ttl, int(soa_rdata.split()[-1]))
    assert all(ttl <= bound for _o, ttl, _t, _d in authority), \
        (f"{what}: TTLs above the SOA's MINIMUM and TTL ({bound})", reply)


def test_do_shows_the_proof_and_ad_only_when_asked():
    junk = Junk(SEED + 3)
    with lab_shoal() as shoal:
        warm_up(shoal)
        synth_before = synthesised(shoal)
        packets_before = lab().upstream_packets()
        asked = {k: 0 for k in SYNTH_KINDS}
        # (zone, denial, a fresh junk name maker)
        negative = [(".", "NSEC", junk.tld), ("com.", "NSEC", lambda: junk.under("com.")),
                    ("example.com.", "NSEC", lambda: junk.under("example.com.")),
                    ("net.", "NSEC3", lambda: junk.under("net.")),
                    ("example.net.", "NSEC3", lambda: junk.under("example.net."))]
        for zone, denial, make in negative:
            name = make()
            what = f"{name} A with DO"
            r = kdig(shoal.port, name, "A", *DO)
            asked["nxdomain"] += 1
            assert r.status == "NXDOMAIN" and "ad" in r.flags and not r.answer, (what, r)
            check_negative_proof(r, name, zone, denial, what)
            for options, ad in ((NO_DO, False), (("+edns", "+adflag"), True),
                                (("+noedns", "+adflag"), True), (("+noedns", "+noadflag"), False)):
                name = make()
                what = f"{name} A {' '.join(options)}"
                r = kdig(shoal.port, name, "A", *options)
                asked["nxdomain"] += 1
                assert r.status == "NXDOMAIN" and ("ad" in r.flags) == ad, (what, r)
                assert not dnssec_records(r), (f"{what}: DNSSEC records without DO", r)
                assert [o for o, _ttl, t, _d in r.authority if t == "SOA"] == [zone], \
                    (f"{what}: no SOA of {zone}", r)
        # NODATA (the name's own NSEC / NSEC3) with DO, and without
        for name, rtype, zone, denial in (("www.example.com.", "TYPE99", "example.com.", "NSEC"),
                                          ("www.example.net.", "TYPE99", "example.net.",
                                           "NSEC3")):
            r = kdig(shoal.port, name, rtype, *DO)
            asked["nodata"] += 1
            what = f"{name} {rtype} with DO"
            assert r.status == "NOERROR" and "ad" in r.flags and not r.answer, (what, r)
            assert signed(r, "AUTHORITY", zone, "SOA"), (f"{what}: no signed SOA", r)
            # the record of the name itself, without type 99 (SPF) or CNAME
            if denial == "NSEC":
                owner, bitmap_at = name, 1
            else:
                digest = nsec3_hash(name, *nsec3_params(zone))
                owner = child(base64.b32hexencode(digest).decode().lower(), zone)
                bitmap_at = 5
            matching = [d.split()[bitmap_at:] for o, _ttl, t, d in r.authority
                        if t == denial and o == owner]
            assert matching and signed(r, "AUTHORITY", owner, denial) and \
                not {"SPF", "TYPE99", "CNAME"} & set(matching[0]), \
                (f"{what}: no signed {denial} of {name} ({owner}) denying the type", r)
            r = kdig(shoal.port, name, rtype, *NO_DO)
            asked["nodata"] += 1
            assert r.status == "NOERROR" and "ad" not in r.flags and not dnssec_records(r), \
                (f"{name} {rtype} without DO", r)
        # a wildcard expansion: signed with 3 labels, and the NSEC proving
        # that the name itself does not exist
        name = junk.under("wild.example.com.", depth=1)
        r = kdig(shoal.port, name, "A", *DO)
        asked["wildcard"] += 1
        what = f"{name} A with DO (wildcard)"
        assert r.status == "NOERROR" and "ad" in r.flags and r.data("A") == ["192.0.2.77"], \
            (what, r)
        sigs = [d for o, _ttl, t, d in r.answer if t == "RRSIG" and d.split()[0] == "A"]
        assert sigs and all(d.split()[2] == "3" for d in sigs) and \
            {o for o, _ttl, _t, _d in r.answer} == {name}, (f"{what}: not expanded to {name}", r)
        proofs = [(o, d) for o, _ttl, t, d in r.authority if t == "NSEC"]
        assert any(in_range(canonical(name), canonical(o), canonical(d.split()[0]))
                   for o, d in proofs) and signed(r, "AUTHORITY", "*.wild.example.com.", "NSEC"), \
            (f"{what}: no signed NSEC proving that {name} does not exist", r)
        name = junk.under("wild.example.com.", depth=1)
        r = kdig(shoal.port, name, "A", *NO_DO)
        asked["wildcard"] += 1
        assert r.data("A") == ["192.0.2.77"] and "ad" not in r.flags and not dnssec_records(r), \
            (f"{name} A without DO (wildcard)", r)
        packets = lab().upstream_packets() - packets_before
        assert packets == 0, f"{packets} lab packets for answers that the ranges prove"
        if synth_before is None:
            print("  NOTE: shoalctl stats --json shows no 'synthesised' counters", flush=True)
            return
        delta = counted_synthesised(shoal, synth_before, asked)
        assert delta == asked, f"synthesised answers {delta}, asked {asked}"


# --------------------------------------------------------------------------
# 4. aggressive_nsec = false: junk goes upstream
# --------------------------------------------------------------------------


def test_junk_goes_upstream_with_aggressive_nsec_off():
    junk = Junk(SEED + 4)
    with lab_shoal(dnssec={"aggressive_nsec": False}) as shoal:
        warm_up(shoal)
        synth_before = synthesised(shoal)
        problems = []
        for family, names in families(junk, 10).items():
            answers, packets = ask_family(shoal, names)
            wrong = {n: a for n, a in answers.items() if a[:2] != ("NXDOMAIN", True)}
            print(f"  {family:<32} {len(names):>3} names: {sum(packets.values())} lab packets",
                  flush=True)
            # each name is asked of one server at least (QNAME minimisation
            # asks the zone's server for the one label below it)
            if sum(packets.values()) < len(names):
                problems.append(f"{family}: {sum(packets.values())} lab packets for "
                                f"{len(names)} names: some were answered without asking")
            if wrong:
                problems.append(f"{family}: not NXDOMAIN AD: " + ", ".join(
                    f"{n} {show_answer(a)}" for n, a in sorted(wrong.items())[:10]))
        assert not problems, "\n".join(problems)
        if synth_before is not None:
            after = synthesised(shoal)
            assert synth_delta(synth_before, after) == dict.fromkeys(SYNTH_KINDS, 0), after
            assert after.get("ranges_stored", 0) == 0, \
                f"ranges stored with aggressive_nsec = false: {after}"


# --------------------------------------------------------------------------
# 5. Opt-out ranges never prove NXDOMAIN
# --------------------------------------------------------------------------


def test_opt_out_ranges_do_not_prove_nxdomain():
    junk = Junk(SEED + 5)
    zone = "org."
    chain = nsec3_chain(zone)
    salt, iterations = nsec3_params(zone)
    assert all(flags & 1 for _o, _n, flags in chain), \
        f"the lab's {zone} is expected to be NSEC3 opt-out in every range"
    with lab_shoal() as shoal:
        # every range of org. (and of example.org., signed without opt-out)
        # seen in a denial, then secure NODATA answers at org.'s names that
        # are not delegations: their NSEC3 records become ranges, with the
        # zone entry
        warm_up(shoal, zones=[zone, "example.org."])
        learnt = []
        cuts = {o for o, t, _d in zone_records(zone) if t == "NS" and o != zone}
        for name in sorted({o for o, t, _d in zone_records(zone) if t in ("SOA", "A")
                            and not any(o == c or below(o, c) for c in cuts)}):
            r = kdig(shoal.port, name, "TXT", *DO)
            assert r.status == "NOERROR" and "ad" in r.flags and not r.answer, \
                (f"{name} TXT: a secure NODATA expected", r)
            digest = nsec3_hash(name, salt, iterations)
            learnt += [(h, n) for h, n, _f in chain if h == digest]
        # names whose whole NXDOMAIN proof lies in those ranges (closest
        # encloser org., next closer name and wildcard *.org. covered), so
        # that only their opt-out flag keeps shoal from answering from them
        def in_learnt(name):
            digest = nsec3_hash(name, salt, iterations)
            return any(in_range(digest, h, n) for h, n in learnt)
        assert in_learnt(child("*", zone)), \
            f"no range learnt from {zone}'s NODATA answers covers *.{zone}: test needs a new setup"
        names = []
        for _ in range(10000):
            name = junk.under(zone, depth=1)
            if in_learnt(name):
                names.append(name)
                if len(names) == 20:
                    break
        assert len(names) == 20, f"not 20 names in the learnt ranges of {zone}"
        synth_before = synthesised(shoal)
        answers, packets = ask_family(shoal, names)
        assert sum(packets.values()) >= len(names), \
            (f"{sum(packets.values())} lab packets for {len(names)} names under {zone} covered "
             f"only by opt-out ranges: some were answered from them: {packets}")
        wrong = {n: a for n, a in answers.items() if a[0] != "NXDOMAIN"}
        assert not wrong, f"not NXDOMAIN: {wrong}"
        if synth_before is not None:
            delta = synth_delta(synth_before, synthesised(shoal))
            assert delta == dict.fromkeys(SYNTH_KINDS, 0), \
                f"answers synthesised from opt-out ranges: {delta}"
        # the same answers as the independent validator's (rcode and AD)
        with Unbound(lab().env) as unbound:
            for name in names[:3]:
                theirs = unbound.query(name, "A", *DO)
                ours = kdig(shoal.port, name, "A", *DO)
                assert (ours.status, "ad" in ours.flags) == (theirs.status, "ad" in theirs.flags), \
                    (f"{name}: shoal {ours.status} {sorted(ours.flags)}, unbound {theirs.status} "
                     f"{sorted(theirs.flags)}", ours, theirs)
        # while names under example.org. (not opt-out) are answered from its ranges
        names = [junk.under("example.org.") for _ in range(20)]
        answers, packets = ask_family(shoal, names)
        wrong = {n: a for n, a in answers.items() if a[:2] != ("NXDOMAIN", True)}
        assert not packets and not wrong, \
            (f"names under example.org. (NSEC3 without opt-out): lab packets {packets}, "
             f"not NXDOMAIN AD: {wrong}")


# --------------------------------------------------------------------------
# 6. A burst at first contact costs one question per range
# --------------------------------------------------------------------------


def nsec_gap_of(name, zone):
    """(owner, next) of the NSEC record of `zone` whose gap holds `name`."""
    key = canonical(name)
    for owner, rtype, rdata in zone_records(zone):
        if rtype != "NSEC":
            continue
        low, high = canonical(owner), canonical(rdata.split()[0])
        if low < key and (high <= low or key < high):
            return owner, rdata.split()[0].lower()
    raise AssertionError(f"no NSEC gap of {zone} holds {name}")


def nsec3_range_of(name, zone):
    """The owner hash of the NSEC3 range of `zone` that covers `name`."""
    salt, iterations = nsec3_params(zone)
    digest = nsec3_hash(name, salt, iterations)
    for owner, following, _flags in nsec3_chain(zone):
        if in_range(digest, owner, following):
            return owner
    raise AssertionError(f"no NSEC3 range of {zone} covers {name}")


def names_in_one_range(junk, zone, count, range_of):
    """`count` random junk names one label below `zone`, all in the range
    (by `range_of`) of the first."""
    first = junk.under(zone, depth=1)
    names = [first]
    for _ in range(20000):
        if len(names) == count:
            return names
        name = junk.under(zone, depth=1)
        if range_of(name, zone) == range_of(first, zone):
            names.append(name)
    raise AssertionError(f"not {count} junk names in one range of {zone}")


def test_a_burst_at_first_contact_costs_one_question_per_zone():
    junk = Junk(SEED + 6)
    per_zone = 30
    names = (names_in_one_range(junk, "example.com.", per_zone, nsec_gap_of) +
             names_in_one_range(junk, "example.net.", per_zone, nsec3_range_of))
    random.Random(SEED + 6).shuffle(names)
    sld = lab().env["LAB_SLD_ADDRS"].split()
    # one worker: the burst is one engine's (each worker would ask once)
    with lab_shoal(workers=1) as shoal:
        before = lab().counters()
        results = resolve_many(shoal.port, [(name, "A") for name in names], in_flight=100)
        after = lab().counters()
        wrong = {q: r for q, r in results.items() if r[0] != "NXDOMAIN" or r[2] != 1}
        assert len(results) == len(names) and not wrong, \
            f"seed {SEED}: not NXDOMAIN at the first try: {sorted(wrong.items())[:10]}"
        packets = {a: after[a] - before.get(a, 0) for a in sld if after[a] != before.get(a, 0)}
        counts = synthesised(shoal)
        print(f"  {len(names)} names at once, cold: {sum(packets.values())} packets to the "
              f"zones' servers {packets}; held for ranges "
              f"{counts.get('held_for_ranges') if counts else '?'}", flush=True)
        # per zone: one junk name and the zone's DNSKEY; without the hold
        # every name in the burst is asked
        assert sum(packets.values()) <= 4, \
            (f"seed {SEED}: {sum(packets.values())} packets to the servers of example.com. "
             f"and example.net. for a burst of {len(names)} names in one range of each: "
             f"{packets}")
        if counts is not None:
            assert counts["held_for_ranges"] >= 1, counts


if __name__ == "__main__":
    print(f"junk names from seed {SEED} (AGGRESSIVE_SEED={SEED} repeats them)", flush=True)
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
