#!/usr/bin/env python3
"""DNSSEC validation of shoal against the lab (tests/lab): rcode and AD of
every answer equal those of an independent validator (Debian's unbound, with
the lab's root hints and trust anchor), bogus answers are SERVFAIL with the
right Extended DNS Error, CD gets the data, DO decides whether signatures
and denial proofs are shown (a wildcard expansion's proof too), AD only for clients that ask (DO or AD), the
same verdicts again from the cache, validation off, negative trust anchors (from
the config, and added and removed at run time with shoalctl).
Needs root (exit 77 otherwise); uses a running lab, or starts and stops one."""

import re

from shoal_harness import Shoal, Unbound, close_shared_lab, kdig, run_tests, shared_lab

# One lab for the whole run (started on first use; see main).
lab = shared_lab


def lab_shoal(workers=2, dnssec=None, **resolver):
    """A shoal resolving through the lab (its trust anchor included), with
    `dnssec` (a dict) as its [dnssec] section."""
    config = lab().shoal_config(**resolver)
    if dnssec:
        config["dnssec"] = dict(dnssec)
    return Shoal(workers=workers, config=config)


# --------------------------------------------------------------------------
# Answers: rcode, AD, EDE
# --------------------------------------------------------------------------


def ede_of(reply):
    """The Extended DNS Error info code kdig printed (";; EDE: 6 (DNSSEC
    Bogus): '...'"), or None."""
    m = re.search(r"^;; EDE: (\d+)", reply.text, re.M)
    return int(m.group(1)) if m else None


def verdict(reply):
    """(rcode, AD, EDE) of a kdig answer."""
    return reply.status, "ad" in reply.flags, ede_of(reply)


def show(v):
    rcode, ad, ede = v
    return f"{rcode or 'no answer'}{' AD' if ad else ''}{f' EDE {ede}' if ede is not None else ''}"


# kdig sends no EDNS and sets AD unless told otherwise: every query here
# says which it means. NO_DO: EDNS (room for an Extended DNS Error), no DO,
# no AD; DO: EDNS with DO (AD as kdig sets it by default).
NO_DO = ("+edns", "+noadflag")
DO = ("+dnssec",)


def covered(rdata):
    """The type an RRSIG covers (the first field of its rdata)."""
    return rdata.split()[0]


# The independent validator: shoal_harness.Unbound.

# --------------------------------------------------------------------------
# 1. shoal and the independent validator agree
# --------------------------------------------------------------------------

# (name, type, extra kdig options, EDE shoal must give when the answer is
# SERVFAIL). Covers every kind of zone of the lab: NSEC, NSEC3, NSEC3
# opt-out, unsigned under signed and unsigned parents, bogus signatures,
# expired signatures, and the hard parts of resolution.
BOGUS, EXPIRED = 6, 7
COMPARED = [
    # example.com: NSEC, KSK+ZSK
    ("example.com.", "A", (), None),
    ("example.com.", "AAAA", (), None),
    ("example.com.", "MX", (), None),
    ("example.com.", "TXT", (), None),
    ("www.example.com.", "A", (), None),
    ("www.example.com.", "AAAA", (), None),
    ("www.example.com.", "MX", (), None),
    ("www.example.com.", "TXT", (), None),
    ("c1.example.com.", "A", (), None),           # CNAME chain in the zone
    ("cross.example.com.", "A", (), None),        # CNAME to another zone and TLD
    ("x.wild.example.com.", "A", (), None),       # wildcard
    ("x.wild.example.com.", "TXT", (), None),
    ("x.wild.example.com.", "MX", (), None),      # wildcard NODATA
    ("www.dname.example.com.", "A", (), None),    # DNAME
    ("b.ent.example.com.", "A", (), None),        # empty non-terminal: NODATA
    ("nxdomain.example.com.", "A", (), None),     # NSEC NXDOMAIN
    ("www.example.com.", "SRV", (), None),        # NSEC NODATA
    ("big.example.com.", "TXT", ("+tcp",), None),  # ~3 KB over TCP
    ("example.com.", "DS", (), None),
    ("example.com.", "DNSKEY", (), None),
    # NSEC3 zones, NSEC3 opt-out TLD, unsigned TLD
    ("www.example.net.", "A", (), None),
    ("www.example.net.", "AAAA", (), None),
    ("nope.example.net.", "A", (), None),         # NSEC3 NXDOMAIN
    ("www.example.net.", "MX", (), None),         # NSEC3 NODATA
    ("www.example.org.", "A", (), None),
    ("nope.example.org.", "A", (), None),
    ("www.example.info.", "A", (), None),
    ("nope.example.info.", "A", (), None),        # insecure NXDOMAIN
    # insecure delegations: NSEC no-DS proof, NSEC3 opt-out
    ("www.insecure.com.", "A", (), None),
    ("insecure.com.", "DS", (), None),
    ("www.optout-insecure.org.", "A", (), None),
    # bogus: corrupted signatures (the DNSKEY RRset's own one is intact)
    ("www.bogus-sig.com.", "A", (), BOGUS),
    ("www.bogus-sig.com.", "TXT", (), BOGUS),
    ("nope.bogus-sig.com.", "A", (), BOGUS),
    ("bogus-sig.com.", "DNSKEY", (), None),
    # bogus: expired signatures
    ("www.expired.com.", "A", (), EXPIRED),
    ("www.expired.com.", "AAAA", (), EXPIRED),
    # delegations that are hard to follow
    ("www.halflame.com.", "A", (), None),
    ("www.glueless.com.", "A", (), None),
    ("www.tcponly.com.", "A", (), None),
    ("www.ecs.com.", "A", (), None),
    # the root: NXDOMAIN in the pccw..pe gap, a CSK-signed TLD
    ("pdq.", "A", (), None),
    ("nic.pccw.", "A", (), None),
    ("nic.pccw.", "AAAA", (), None),
    # bulk zones: signed NSEC (com), signed NSEC3 (net, uk), unsigned under
    # signed NSEC, NSEC3 and opt-out parents, under the unsigned TLD
    ("h001.bulk00.com.", "A", (), None),
    ("nope.bulk00.com.", "A", (), None),
    ("h001.bulk01.net.", "A", (), None),
    ("nope.bulk01.net.", "A", (), None),
    ("h007.bulk04.de.", "A", (), None),
    ("h001.bulk05.uk.", "A", (), None),
    ("h001.bulk08.com.", "A", (), None),
    ("h001.bulk09.net.", "A", (), None),
    ("h001.bulk10.org.", "A", (), None),
    ("h099.bulk03.info.", "A", (), None),
]


def answer_rrs(reply):
    """The answer section as a set of (owner, type, rdata), TTLs left out."""
    return reply.rrs("ANSWER")


def test_verdicts_equal_the_independent_validators():
    rows = []  # (question, shoal's verdict, unbound's verdict, problems)
    with lab_shoal() as shoal, Unbound(lab().env) as unbound:
        for name, rtype, options, servfail_ede in COMPARED:
            theirs = unbound.query(name, rtype, *DO, *options)
            ours = kdig(shoal.port, name, rtype, *DO, *options)
            problems = []
            if theirs.status is None:
                problems.append("unbound did not answer")
            if verdict(ours)[:2] != verdict(theirs)[:2]:
                problems.append("rcode/AD differ")
            elif ours.status == "SERVFAIL" and servfail_ede is not None \
                    and ede_of(ours) != servfail_ede:
                problems.append(f"EDE {ede_of(ours)}, expected {servfail_ede}")
            elif ours.status != "SERVFAIL" and answer_rrs(ours) != answer_rrs(theirs):
                only_ours = sorted(answer_rrs(ours) - answer_rrs(theirs))
                only_theirs = sorted(answer_rrs(theirs) - answer_rrs(ours))
                problems.append(f"answers differ: only shoal {only_ours}, "
                                f"only unbound {only_theirs}")
            rows.append((f"{name} {rtype}{' ' + ' '.join(options) if options else ''}",
                         show(verdict(ours)), show(verdict(theirs)), "; ".join(problems)))
        failed = [r for r in rows if r[3]]
        width = max(len(r[0]) for r in rows)
        table = [f"{'question':<{width}}  {'shoal':<22} {'unbound':<22} problem"]
        table += [f"{q:<{width}}  {s:<22} {u:<22} {p}" for q, s, u, p in rows]
        print("  " + "\n  ".join(table), flush=True)
        assert not failed, (f"{len(failed)} of {len(rows)} answers differ from the "
                            f"independent validator's:\n" + "\n".join(table))
    # the lab's bogus zones really are bogus (unbound said SERVFAIL) and the
    # secure ones secure: the comparison above is not vacuous
    verdicts = {r[0]: r[2] for r in rows}
    assert verdicts["www.bogus-sig.com. A"].startswith("SERVFAIL"), verdicts
    assert verdicts["www.expired.com. A"].startswith("SERVFAIL"), verdicts
    assert verdicts["www.example.com. A"] == "NOERROR AD", verdicts
    assert verdicts["www.insecure.com. A"] == "NOERROR", verdicts


# --------------------------------------------------------------------------
# 2. CD: the data of bogus zones, without AD
# --------------------------------------------------------------------------

BOGUS_DATA = [("www.bogus-sig.com.", "192.0.2.60", BOGUS),
              ("www.expired.com.", "192.0.2.61", EXPIRED)]


def test_checking_disabled_gets_the_data_of_bogus_zones_without_ad():
    # CD first (nothing cached yet), then without CD (the CD answer must not
    # have been cached as good), then CD again (the bogus verdict is cached)
    with lab_shoal() as shoal:
        for name, address, ede in BOGUS_DATA:
            for options in (NO_DO, DO):
                r = kdig(shoal.port, name, "A", "+cdflag", *options)
                assert r.status == "NOERROR" and r.data("A") == [address], (options, r)
                assert "ad" not in r.flags and "cd" in r.flags, (options, r)
            r = kdig(shoal.port, name, "A", *DO)
            assert verdict(r) == ("SERVFAIL", False, ede) and not r.answer, r
            for options in (NO_DO, DO):
                r = kdig(shoal.port, name, "A", "+cdflag", *options)
                assert r.status == "NOERROR" and r.data("A") == [address], (options, r)
                assert "ad" not in r.flags, (options, r)
            r = kdig(shoal.port, name, "A", *NO_DO)
            assert verdict(r) == ("SERVFAIL", False, ede), r


def test_checking_disabled_after_a_bogus_answer():
    with lab_shoal() as shoal:
        for name, address, ede in BOGUS_DATA:
            r = kdig(shoal.port, name, "A", *DO)
            assert verdict(r) == ("SERVFAIL", False, ede), r
            r = kdig(shoal.port, name, "A", *DO, "+cdflag")
            assert r.status == "NOERROR" and r.data("A") == [address], r
            assert "ad" not in r.flags, r


# --------------------------------------------------------------------------
# 3. DO: signatures and denial proofs only for clients that ask
# --------------------------------------------------------------------------

DNSSEC_TYPES = {"RRSIG", "NSEC", "NSEC3", "DNSKEY", "DS"}


def dnssec_records(reply):
    return sorted((s, o, t) for s, rrs in reply.sections.items() for o, _ttl, t, _d in rrs
                  if t in DNSSEC_TYPES)


def test_do_decides_whether_signatures_and_proofs_are_shown():
    # (name, type, rcode, denial record type or None for a positive answer)
    cases = [("www.example.com.", "A", "NOERROR", None),
             ("c1.example.com.", "A", "NOERROR", None),
             ("x.wild.example.com.", "TXT", "NOERROR", None),
             ("nxdomain.example.com.", "A", "NXDOMAIN", "NSEC"),
             ("www.example.com.", "SRV", "NOERROR", "NSEC"),
             ("nope.example.net.", "A", "NXDOMAIN", "NSEC3"),
             ("nope.example.org.", "A", "NXDOMAIN", "NSEC3"),
             ("pdq.", "A", "NXDOMAIN", "NSEC")]
    with lab_shoal() as shoal:
        # resolved without DO, then from the cache with DO, then without again
        for name, rtype, rcode, denial in cases:
            for do in (False, True, False):
                r = kdig(shoal.port, name, rtype, *(DO if do else NO_DO))
                what = f"{name} {rtype} {'with' if do else 'without'} DO"
                assert r.status == rcode, (what, r)
                if not do:
                    assert not dnssec_records(r), (what, r)
                    assert "ad" not in r.flags, (what, r)
                    continue
                assert "ad" in r.flags, (what, r)
                if denial is None:
                    rtypes = {t for _o, _ttl, t, _d in r.answer if t != "RRSIG"}
                    signed = {covered(d) for _o, _ttl, t, d in r.answer if t == "RRSIG"}
                    assert rtype in rtypes and rtypes <= signed, (what, r)
                else:
                    authority = {t for _o, _ttl, t, _d in r.authority}
                    signed = {covered(d) for _o, _ttl, t, d in r.authority if t == "RRSIG"}
                    assert {"SOA", denial} <= authority, (what, r)
                    assert {"SOA", denial} <= signed, (what, r)


def test_wildcard_answer_holds_its_proof_with_do():
    # RFC 4035 section 3.1.3.3 (which section 3.2 applies to recursive
    # servers too): an answer expanded from a wildcard comes with the NSEC
    # proving that no closer name exists; without it a validating stub
    # cannot check the answer. *.wild.example.com's NSEC covers x.wild.
    with lab_shoal() as shoal:
        for rtype in ("A", "TXT"):
            for attempt in ("resolved", "from the cache"):
                r = kdig(shoal.port, "x.wild.example.com.", rtype, *DO)
                what = f"x.wild.example.com {rtype} with DO, {attempt}"
                assert r.status == "NOERROR" and "ad" in r.flags, (what, r)
                sigs = [d for _o, _ttl, t, d in r.answer if t == "RRSIG" and covered(d) == rtype]
                # signed with 3 labels for a 4-label owner: an expansion of *.wild
                assert sigs and all(d.split()[2] == "3" for d in sigs), (what, r)
                assert ("*.wild.example.com.", "NSEC") in {(o, t) for o, _, t, _ in r.authority} \
                    and "NSEC" in {covered(d) for _o, _ttl, t, d in r.authority
                                   if t == "RRSIG"}, \
                    (f"{what}: no NSEC proving that no closer name exists", r)
        r = kdig(shoal.port, "x.wild.example.com.", "A", *NO_DO)
        assert r.data("A") == ["192.0.2.77"] and not dnssec_records(r), r


def test_no_proofs_for_insecure_answers_without_do():
    with lab_shoal() as shoal:
        for name in ("www.insecure.com.", "nope.insecure.com.", "www.example.info."):
            r = kdig(shoal.port, name, "A", *NO_DO)
            assert r.status in ("NOERROR", "NXDOMAIN") and not dnssec_records(r), r
            assert "ad" not in r.flags, r


# --------------------------------------------------------------------------
# 4. The same verdicts again, from the cache
# --------------------------------------------------------------------------


def test_verdicts_are_the_same_from_the_cache():
    questions = [("www.example.com.", "A"), ("c1.example.com.", "A"),
                 ("x.wild.example.com.", "A"), ("nxdomain.example.com.", "A"),
                 ("nope.example.net.", "A"), ("www.example.org.", "A"),
                 ("b.ent.example.com.", "A"), ("www.insecure.com.", "A"),
                 ("www.example.info.", "A"), ("www.optout-insecure.org.", "A"),
                 ("www.bogus-sig.com.", "A"), ("www.expired.com.", "A"),
                 ("h001.bulk00.com.", "A"), ("h001.bulk08.com.", "A")]
    with lab_shoal(workers=2) as shoal:
        first = {q: verdict(kdig(shoal.port, *q, *DO)) for q in questions}
        # the lab's verdicts, so that every kind is in the round
        assert first[("www.example.com.", "A")] == ("NOERROR", True, None), first
        assert first[("www.insecure.com.", "A")] == ("NOERROR", False, None), first
        assert first[("www.bogus-sig.com.", "A")] == ("SERVFAIL", False, BOGUS), first
        assert first[("www.expired.com.", "A")] == ("SERVFAIL", False, EXPIRED), first
        before = shoal.counters()
        # twice each: kdig's new source ports spread them over both workers
        again = [(q, verdict(kdig(shoal.port, *q, *DO))) for q in questions * 2]
        after = shoal.counters()
        differ = [f"{q[0]} {q[1]}: first {show(first[q])}, then {show(v)}"
                  for q, v in again if v != first[q]]
        assert not differ, "\n".join(differ)

        def total(counters, key):
            return sum(c[key] for c in counters.values())
        assert total(after, "queries.misses") == total(before, "queries.misses"), \
            (before, after)
        assert total(after, "queries.hits") - total(before, "queries.hits") == len(again), \
            (before, after)
        for key in ("upstream.udp", "upstream.tcp"):
            assert total(after, key) == total(before, key), (key, before, after)


# --------------------------------------------------------------------------
# 5. AD only for clients that ask for it
# --------------------------------------------------------------------------


def test_ad_only_when_asked():
    with lab_shoal() as shoal:
        for name, rtype in (("www.example.com.", "A"), ("nxdomain.example.com.", "A")):
            # resolved by the first query, then from the cache
            for _ in range(2):
                for edns in ([], ["+edns"]):  # without EDNS, and EDNS without DO
                    r = kdig(shoal.port, name, rtype, *edns, "+noadflag")
                    assert "ad" not in r.flags and not dnssec_records(r), (edns, r)
                    r = kdig(shoal.port, name, rtype, *edns, "+adflag")
                    assert "ad" in r.flags and not dnssec_records(r), (edns, r)
                r = kdig(shoal.port, name, rtype, "+dnssec", "+noadflag")
                assert "ad" in r.flags, r
        # insecure: no AD, however it is asked
        for options in (["+adflag"], ["+dnssec"], ["+dnssec", "+adflag"]):
            r = kdig(shoal.port, "www.insecure.com.", "A", *options)
            assert r.status == "NOERROR" and "ad" not in r.flags, (options, r)


# --------------------------------------------------------------------------
# 6. Validation off
# --------------------------------------------------------------------------


def test_validation_off_answers_everything_without_ad():
    with lab_shoal(dnssec={"validation": False}) as shoal:
        for name, address, _ede in BOGUS_DATA:
            r = kdig(shoal.port, name, "A", *DO)
            assert verdict(r) == ("NOERROR", False, None) and r.data("A") == [address], r
        for name, rtype, options, _ in COMPARED:
            r = kdig(shoal.port, name, rtype, "+dnssec", "+adflag", *options)
            assert r.status in ("NOERROR", "NXDOMAIN") and "ad" not in r.flags, \
                (name, rtype, r)


# --------------------------------------------------------------------------
# 7. Negative trust anchors
# --------------------------------------------------------------------------


def test_negative_trust_anchor_makes_a_bogus_zone_insecure():
    with lab_shoal(dnssec={"negative_trust_anchors": ["bogus-sig.com"]}) as shoal:
        for name, rtype, data in (("www.bogus-sig.com.", "A", ["192.0.2.60"]),
                                  ("www.bogus-sig.com.", "TXT", ['"www.bogus-sig.com"'])):
            r = kdig(shoal.port, name, rtype, *DO)
            assert verdict(r) == ("NOERROR", False, None) and r.data(rtype) == data, r
        r = kdig(shoal.port, "nope.bogus-sig.com.", "A", *DO)
        assert verdict(r) == ("NXDOMAIN", False, None), r
        # the rest keeps its verdicts
        r = kdig(shoal.port, "www.example.com.", "A", *DO)
        assert verdict(r) == ("NOERROR", True, None) and r.data("A") == ["192.0.2.10"], r
        r = kdig(shoal.port, "www.expired.com.", "A", *DO)
        assert verdict(r) == ("SERVFAIL", False, EXPIRED), r
        # and again from the cache
        r = kdig(shoal.port, "www.bogus-sig.com.", "A", *DO)
        assert verdict(r) == ("NOERROR", False, None) and r.data("A") == ["192.0.2.60"], r
        # shoalctl lists it as the configuration's, and cannot remove it
        anchors = shoal.ctl_json("nta", "list")["anchors"]
        assert anchors == [{"name": "bogus-sig.com.", "source": "config", "expires_in_s": None,
                            "reason": ""}], anchors
        rc, out, err = shoal.ctl("nta", "remove", "bogus-sig.com")
        assert rc == 1 and "dnssec.negative_trust_anchors" in err, (rc, out, err)


def ctl_ok(shoal, *args):
    """Runs shoalctl ARGS against `shoal`, asserts it succeeded, returns stdout."""
    rc, out, err = shoal.ctl(*args)
    assert rc == 0, f"shoalctl {' '.join(args)}: exit {rc}\nstdout: {out}\nstderr: {err}"
    return out


def asked_of_every_worker(shoal, name, expected, times=16):
    """Asks `name` A `times` times, each from a new socket (so that
    SO_REUSEPORT spreads the queries over the workers); asserts every answer
    has the `expected` verdict and that every worker answered some."""
    before = shoal.counters()
    for _ in range(times):
        r = kdig(shoal.port, name, "A", *DO)
        assert verdict(r) == expected, (show(verdict(r)), r)
    after = shoal.counters()
    for slot in before:
        assert after[slot]["queries.udp"] > before[slot]["queries.udp"], \
            f"worker {slot} answered none of the {times} queries: {before} {after}"


def test_negative_trust_anchor_added_and_removed_with_shoalctl():
    with lab_shoal() as shoal:
        name = "www.bogus-sig.com."
        asked_of_every_worker(shoal, name, ("SERVFAIL", False, BOGUS))
        out = ctl_ok(shoal, "nta", "add", "Bogus-Sig.com", "--reason", "broken signatures")
        assert out.startswith("added negative trust anchor bogus-sig.com. for 1d: flushed "), out
        assert int(out.split("flushed ")[1].split()[0]) > 0, out  # the bogus answer went
        # every worker sees it at once: insecure data, no AD
        asked_of_every_worker(shoal, name, ("NOERROR", False, None))
        r = kdig(shoal.port, name, "A", *DO)
        assert r.data("A") == ["192.0.2.60"], r
        # the rest keeps its verdicts
        r = kdig(shoal.port, "www.example.com.", "A", *DO)
        assert verdict(r) == ("NOERROR", True, None), r
        # listed, with its lifetime and reason; status shows it
        anchors = shoal.ctl_json("nta", "list")["anchors"]
        assert [(a["name"], a["source"], a["reason"]) for a in anchors] == \
            [("bogus-sig.com.", "runtime", "broken signatures")], anchors
        assert 86000 < anchors[0]["expires_in_s"] <= 86400, anchors
        out = ctl_ok(shoal, "nta", "list")
        assert re.search(r"^bogus-sig\.com\.\s+runtime\s+(1d 0h|23h 59m)\s+broken signatures$", out,
                         re.M), out
        out = ctl_ok(shoal, "status")
        assert re.search(r"^nta\s+1: bogus-sig\.com\. \((1d 0h|23h 59m) left\)$", out, re.M), out
        st = shoal.ctl_json("status")
        assert [a["name"] for a in st["negative_trust_anchors"]] == ["bogus-sig.com."], st
        # cache flush leaves it alone
        ctl_ok(shoal, "cache", "flush", "bogus-sig.com", "--subtree")
        assert len(shoal.ctl_json("nta", "list")["anchors"]) == 1
        # removed: validated again, bogus again, everywhere
        out = ctl_ok(shoal, "nta", "remove", "bogus-sig.com.")
        assert out.startswith("removed negative trust anchor bogus-sig.com.: flushed "), out
        asked_of_every_worker(shoal, name, ("SERVFAIL", False, BOGUS))
        assert shoal.ctl_json("nta", "list")["anchors"] == []
        rc, out, err = shoal.ctl("nta", "remove", "bogus-sig.com.")
        assert rc == 1 and "is not a negative trust anchor" in err, (rc, out, err)
        # bad arguments: exit 2, nothing sent
        for args in (["nta", "add"], ["nta", "add", "x.", "--lifetime", "8d"],
                     ["nta", "remove", "x.", "--reason", "r"], ["nta", "drop", "x."]):
            rc, out, err = shoal.ctl(*args)
            assert rc == 2 and "Usage: shoalctl" in err, (args, rc, out, err)
        # refused by the supervisor: exit 1 with the reason
        rc, out, err = shoal.ctl("nta", "add", ".")
        assert rc == 1 and "dnssec.validation" in err, (rc, out, err)
        # an anchor ends by itself: its subtree is flushed then and validated again
        ctl_ok(shoal, "nta", "add", "bogus-sig.com", "--lifetime", "2s")
        r = kdig(shoal.port, name, "A", *DO)
        assert verdict(r) == ("NOERROR", False, None), r
        shoal.wait_log(r"negative trust anchor bogus-sig\.com\. expired: flushed \d+ cache entr")
        r = kdig(shoal.port, name, "A", *DO)
        assert verdict(r) == ("SERVFAIL", False, BOGUS), r
        assert shoal.ctl_json("nta", "list")["anchors"] == []


# --------------------------------------------------------------------------
# 8. The root key trust anchor sentinel (RFC 8509)
# --------------------------------------------------------------------------


def test_key_sentinel_says_which_root_key_is_trusted():
    with lab_shoal() as shoal:
        # the lab's root anchor: ". IN DS <tag> 13 2 <digest>"
        tag = int(open(lab().env["LAB_TRUST_ANCHOR"]).read().split()[3])
        other = (tag + 1) % 65536
        cases = ((f"root-key-sentinel-is-ta-{tag:05d}", "NOERROR"),
                 (f"root-key-sentinel-not-ta-{tag:05d}", "SERVFAIL"),
                 (f"root-key-sentinel-is-ta-{other:05d}", "SERVFAIL"),
                 (f"root-key-sentinel-not-ta-{other:05d}", "NOERROR"),
                 # not a sentinel label (four digits): answered as usual
                 (f"root-key-sentinel-is-ta-{other % 10000:04d}", "NOERROR"))
        # *.wild.example.com is signed: every name below wild answers securely;
        # twice: resolved, then from the cache (which must not bypass the check)
        for _ in range(2):
            for label, status in cases:
                r = kdig(shoal.port, f"{label}.wild.example.com.", "A", *DO)
                assert r.status == status, (label, r)
        # an insecure answer is never turned into SERVFAIL
        r = kdig(shoal.port, f"root-key-sentinel-is-ta-{other:05d}.www.insecure.com.", "A", *DO)
        assert r.status != "SERVFAIL", r


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
