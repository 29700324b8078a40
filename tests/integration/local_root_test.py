#!/usr/bin/env python3
"""The local root (RFC 8806) against the lab: the root zone transferred from
the lab's root servers, verified (ZONEMD, DNSSEC) and loaded, so that TLD
and junk-TLD queries send nothing to the root; a copy whose ZONEMD does not
match (the lab's rootbad server) is not used and shoal iterates; with every
source down shoal iterates; shoalctl status shows it; the process is
restarted when it dies and follows a reload. Needs root (exit 77
otherwise); uses a running lab, or starts and stops one."""

import os
import re
import signal

from shoal_harness import (Shoal, children_of, close_shared_lab, control_request, kdig,
                           process_name, run_tests, shared_lab, wait_for, WAIT_S)

# One lab for the whole run (started on first use; see main).
lab = shared_lab

# Addresses inside the lab's network where nothing listens.
DEAD_SOURCES = ["10.53.9.1", "10.53.9.2:5300"]


def lr_shoal(workers=2, local_root=None, cache=None, **resolver):
    """A shoal resolving through the lab with the local root on (the
    harness turns it off by default); without `sources` they are the lab's
    root hints (10.53.1.1 and 10.53.1.2, IPv4 only)."""
    config = lab().shoal_config(**resolver)
    config["local_root"] = {"enabled": True, **(local_root or {})}
    if cache:
        config["cache"] = cache
    return Shoal(workers=workers, config=config)


def local_root(shoal):
    answer = control_request(shoal.control_socket, {"command": "local_root"})
    assert answer["ok"], answer
    return answer["local_root"]


def wait_state(shoal, state):
    return wait_for(lambda: (lr := local_root(shoal))["state"] == state and lr, WAIT_S,
                    interval=0.1, what=f"local root state {state}")


def packets(addrs):
    counters = lab().counters()
    return sum(counters[a] for a in addrs)


def root_addrs():
    return lab().env["LAB_ROOT_ADDRS"].split()


def lab_serial():
    r = kdig(53, ".", "SOA", "+norec", server=lab().env["LAB_ROOT_ADDR"])
    assert r.status == "NOERROR", r
    return int(r.data("SOA")[0].split()[2])


def test_transfer_from_the_lab_root_and_status():
    with lr_shoal() as shoal:
        serial = int(shoal.wait_log(r"local root: serial (\d+) from 10\.53\.1\.1:53 in use")[0])
        assert serial == lab_serial()
        assert re.search(r"local root: serial \d+ from 10\.53\.1\.1:53 verified \(\d+ records, "
                         r"AXFR; ZONEMD digest and DNSSEC\)", shoal.log()), shoal.log()
        lr = wait_state(shoal, "ok")
        assert lr["serial"] == serial and lr["source"] == "10.53.1.1:53", lr
        # 566 TLD delegations: NS, DS, NSEC each, glue, the apex.
        assert lr["rrsets"] > 1000 and lr["ranges"] > 500, lr
        assert lr["last_error"] == "" and lr["age_s"] is not None and lr["pid"] > 0, lr
        rc, out, err = shoal.ctl("status", "--interval", "0.1")
        assert rc == 0, err
        assert re.search(rf"^local root  ok: serial {serial} from 10\.53\.1\.1:53 by AXFR, loaded "
                         rf"[\d.hms ]+ ago \(\d+ RRsets, \d+ ranges\)$", out, re.M), out
        status = shoal.ctl_json("status", "--interval", "0.1")
        assert status["local_root"]["state"] == "ok", status
        assert status["local_root"]["serial"] == serial, status
        assert status["local_root"]["source"] == "10.53.1.1:53", status
        assert status["local_root"]["transfer"] == "AXFR", status
        assert status["local_root"]["age_s"] >= 0, status


def test_tld_and_junk_tld_queries_never_go_to_the_root():
    l = lab()
    with lr_shoal() as shoal:
        shoal.wait_log(r"local root: serial \d+ from \S+ in use")
        before_root = packets(root_addrs())
        before_tld = packets(l.env["LAB_TLD_ADDRS"].split())
        # Names under TLDs: the referral, the DS and the root's keys are
        # cache hits; only the TLD servers are asked.
        for name, address in (("nic.de.", "192.0.2.53"), ("nic.pccw.", "192.0.2.53"),
                              ("nic.xyz.", "192.0.2.53"), ("www.example.com.", "192.0.2.10")):
            r = kdig(shoal.port, name, "A", "+dnssec")
            assert r.status == "NOERROR" and r.data("A") == [address], (name, r)
            assert "ad" in r.flags, (name, r)
        # The root's own data: answered from the local copy.
        for name, rtype in ((".", "DNSKEY"), ("com.", "DS"), (".", "SOA"), (".", "NS")):
            r = kdig(shoal.port, name, rtype, "+dnssec")
            assert r.status == "NOERROR" and r.data(rtype) and "ad" in r.flags, (name, rtype, r)
        assert packets(l.env["LAB_TLD_ADDRS"].split()) > before_tld
        # Junk TLDs: NXDOMAIN, proven by the root's NSEC ranges (RFC 8198).
        for name in ("untitled.pdf.", "wpad.lan.", "router.modem.", "pdq.", "a.b.c.home."):
            r = kdig(shoal.port, name, "A", "+dnssec")
            assert r.status == "NXDOMAIN", (name, r)
            assert "ad" in r.flags and r.data("NSEC", "AUTHORITY"), (name, r)
        assert packets(root_addrs()) == before_root, "queries went to the root"


def test_a_new_serial_arrives_by_ixfr():
    """The lab's root gets a new version (one TXT record more or changed,
    signed: the SOA, the ZONEMD, an NSEC and their signatures change); the
    refresh fetches it by IXFR from the serial held, verifies the result as
    a whole and puts it in use: its new data is answered from the local
    copy."""
    l = lab()
    # A refresh every second: the cache lifetimes (capped by
    # max_negative_ttl) bring the refresh down to refresh_min.
    with lr_shoal(local_root={"sources": [l.env["LAB_ROOT_ADDR"]], "refresh_min": "1s"},
                  cache={"max_negative_ttl": 2}) as shoal:
        serial = int(shoal.wait_log(r"local root: serial (\d+) from 10\.53\.1\.1:53 in use")[0])
        new = l.root_bump()
        assert new == serial + 1, (serial, new)
        line = shoal.wait_log(rf"local root: serial {new} from 10\.53\.1\.1:53 verified "
                              r"\((\d+) records, IXFR \(1 step, (\d+) records deleted, (\d+) "
                              r"added\); ZONEMD digest and DNSSEC\)")[-1]
        records, deleted, added = (int(x) for x in line)
        # Only the change travelled: old and new SOA, ZONEMD, the NSEC
        # before the new name and their RRSIGs, and the new name's records.
        assert deleted <= 8 and added <= 12 and records > 1000, line
        shoal.wait_log(rf"local root: serial {new} from 10\.53\.1\.1:53 in use")
        lr = wait_state(shoal, "ok")
        assert lr["serial"] == new and lr["transfer"].startswith("IXFR (1 step"), lr
        rc, out, _ = shoal.ctl("status", "--interval", "0.1")
        assert re.search(rf"^local root  ok: serial {new} from 10\.53\.1\.1:53 by IXFR, ", out,
                         re.M), out
        before = packets(root_addrs())
        r = kdig(shoal.port, "ixfr-probe.", "TXT", "+dnssec")
        assert r.status == "NOERROR" and "ad" in r.flags, r
        txt = r.data("TXT")
        assert len(txt) == 1 and re.fullmatch(r'"bump \d+"', txt[0]), r
        assert packets(root_addrs()) == before, "the new data was asked from the root"


def test_zonemd_mismatch_is_not_used_and_shoal_iterates():
    l = lab()
    bad = l.env["LAB_ROOT_BAD_XFR_ADDR"]
    with lr_shoal(local_root={"sources": [bad]}) as shoal:
        shoal.wait_log(rf"local root: the copy of \. from {re.escape(bad)}:53 \(\d+ records, AXFR\) "
                       r"is not used: ZONEMD: the zone's digest does not match its ZONEMD record")
        shoal.wait_log(r"local root: no usable copy of \. \(.*\); resolving from the root "
                       r"servers by iteration")
        lr = wait_state(shoal, "failed")
        assert lr["serial"] is None and "does not match" in lr["last_error"], lr
        rc, out, _ = shoal.ctl("status", "--interval", "0.1")
        assert re.search(r"^local root  failed: .*does not match.* \(resolving from the root "
                         r"servers\)$", out, re.M), out
        before = packets(root_addrs())
        r = kdig(shoal.port, "www.example.com.", "A", "+dnssec")
        assert r.status == "NOERROR" and r.data("A") == ["192.0.2.10"] and "ad" in r.flags, r
        assert packets(root_addrs()) > before, "no iteration from the root"


def test_every_source_down_means_iteration():
    with lr_shoal(local_root={"sources": DEAD_SOURCES, "timeout": "1s"}) as shoal:
        shoal.wait_log(r"local root: transfer of \. from 10\.53\.9\.2:5300 \(AXFR\) failed: connect: ")
        shoal.wait_log(r"local root: no usable copy of \. \(10\.53\.9\.1:53: connect: .*; "
                       r"10\.53\.9\.2:5300: connect: .*\); resolving from the root servers by "
                       r"iteration; next attempt in 900 s")
        lr = wait_state(shoal, "failed")
        assert lr["serial"] is None, lr
        before = packets(root_addrs())
        r = kdig(shoal.port, "www.example.org.", "A", "+dnssec")
        assert r.status == "NOERROR" and r.data("A") == ["192.0.2.30"] and "ad" in r.flags, r
        assert packets(root_addrs()) > before, "no iteration from the root"


def test_reload_with_good_sources_puts_it_in_use():
    l = lab()
    with lr_shoal(local_root={"sources": DEAD_SOURCES[:1], "timeout": "1s"}) as shoal:
        wait_state(shoal, "failed")
        shoal.write_config({"local_root": {"sources": [l.env["LAB_ROOT_ADDR"]]}})
        rc, out, err = shoal.ctl("reload")
        assert rc == 0, (out, err)
        shoal.wait_log("reload: restarting the local root process with the new settings")
        shoal.wait_log(r"local root: serial \d+ from 10\.53\.1\.1:53 in use")
        assert wait_state(shoal, "ok")["source"] == "10.53.1.1:53"


def test_a_killed_local_root_process_is_restarted():
    with lr_shoal() as shoal:
        pid = wait_state(shoal, "ok")["pid"]
        assert pid in children_of(shoal.pid) and pid not in shoal.worker_pids(), pid
        assert process_name(pid) == "shoal-localroot", process_name(pid)
        os.kill(pid, signal.SIGKILL)
        shoal.wait_log(rf"local root process \(pid {pid}\) killed by signal 9")
        shoal.wait_log(r"local root: serial \d+ from \S+ in use", count=2)
        lr = wait_state(shoal, "ok")
        assert lr["pid"] not in (0, pid) and lr["restarts"] == 1, lr
        r = kdig(shoal.port, "nic.de.", "A")
        assert r.status == "NOERROR", r


def test_disabled():
    config = lab().shoal_config()
    config["local_root"] = {"enabled": False}
    with Shoal(workers=1, config=config) as shoal:
        assert local_root(shoal) == {"state": "disabled"}
        rc, out, _ = shoal.ctl("status", "--interval", "0.1")
        assert "local root  disabled\n" in out, out
        before = packets(root_addrs())
        r = kdig(shoal.port, "nic.de.", "A")
        assert r.status == "NOERROR", r
        assert packets(root_addrs()) > before
        assert "local root" not in shoal.log(), shoal.log()


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
