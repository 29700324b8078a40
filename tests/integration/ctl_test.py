#!/usr/bin/env python3
"""shoalctl against a running shoal (issue 5): every command, human and
--json (the JSON parsed and its values checked against what the test did),
bad arguments (exit 2 and usage), a supervisor that is down (exit 1 and a
clear message), and the control socket's permissions (a user outside the
allowed group is refused, by the file mode and by the supervisor's own
credentials check; a member of the group is served).

The tests that need real data (cache lookup and flush, servers, hit rates)
resolve through the lab; they and the permission tests need root (exit 77
otherwise). The others need neither root nor the network: their queries are
refused by the ACL or answered SERVFAIL without any upstream."""

import grp
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

from shoal_harness import (Shoal, build_query, close_shared_lab, control_request, kdig, need_root,
                           parse_header, parse_json_object, remove_cache, resolve_many, run_tests,
                           shared_lab, shoal_bin, shoalctl, shoalctl_bin, tcp_exchange,
                           udp_exchange, wait_for)

# Nobody may query: every query is REFUSED on the hot path, at once.
REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32"]}}
# 127.0.0.1 may query but no upstream may be asked: SERVFAIL at once (a miss).
NO_UPSTREAM = {"resolver": {"deny_upstream": ["0.0.0.0/0", "::/0"]}}
GROUP = "shoaltest"

# One lab for the whole run (started on first use; see main).
lab = shared_lab


def lab_shoal(workers=2, resolver=None, **kwargs):
    """A shoal resolving through the lab; `resolver`: more [resolver] keys."""
    return Shoal(workers=workers, config=lab().shoal_config(**(resolver or {})), **kwargs)


def ok(result, what=""):
    """Asserts a shoalctl run (rc, out, err) succeeded; returns stdout."""
    rc, out, err = result
    assert rc == 0, f"shoalctl {what}: exit {rc}\nstdout: {out}\nstderr: {err}"
    return out


def ctl_json(shoal, *args, **kwargs):
    return shoal.ctl_json(*args, **kwargs)


def send_udp(port, count, name="example.com", rtype="A", timeout=3.0):
    """Sends `count` queries, each from its own socket (so SO_REUSEPORT
    spreads them over the workers); returns the rcodes of the answers."""
    socks = []
    try:
        for i in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(build_query(name, rtype, qid=i), ("127.0.0.1", port))
            socks.append(s)
        rcodes = []
        for s in socks:
            try:
                rcodes.append(parse_header(s.recv(4096))[2])
            except socket.timeout:
                rcodes.append(None)
        return rcodes
    finally:
        for s in socks:
            s.close()


class Sender:
    """Sends batches of queries in a thread while in the `with` block
    (entered once a first batch was answered: the load is flowing)."""

    def __init__(self, port, batch=20):
        self.port, self.batch = port, batch
        self.stop = threading.Event()
        self.flowing = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            if any(send_udp(self.port, self.batch, timeout=1.0)):
                self.flowing.set()

    def __enter__(self):
        self.thread.start()
        if not self.flowing.wait(60):
            self.__exit__()
            raise AssertionError("no answer to the queries sent for 60 s")
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        return False


def counter(stats, *path):
    """stats[path...], asserted to be a non-negative integer."""
    value = stats
    for key in path:
        assert isinstance(value, dict) and key in value, \
            f"no {'.'.join(path)} in shoalctl stats --json: {json.dumps(stats)}"
        value = value[key]
    assert isinstance(value, int) and not isinstance(value, bool) and value >= 0, (path, value)
    return value


def stats_when(shoal, predicate, timeout=60):
    """`shoalctl --json stats` once `predicate` holds for it (the workers
    update some counters just after answering)."""
    return wait_for(lambda: (lambda st: st if predicate(st) else None)(ctl_json(shoal, "stats")),
                    timeout, interval=0.05, what="shoalctl stats")


def delta(before, after, *path):
    return counter(after, *path) - counter(before, *path)


# --------------------------------------------------------------------------
# status, stats, top (no upstream needed)
# --------------------------------------------------------------------------


def status(shoal, **kwargs):
    """`shoalctl --json status` (read from the stats segment), quickly."""
    return ctl_json(shoal, "status", "--interval", "0.05", **kwargs)


def test_status_lists_every_worker_with_its_live_pid():
    with Shoal(workers=3, config=REFUSE_ALL) as shoal:
        st = status(shoal)
        pids = shoal.worker_pids()
        version = subprocess.run([shoal_bin(), "--version"], capture_output=True,
                                 text=True).stdout.split()[1]
        assert st["running"] is True and st["supervisor_pid"] == shoal.pid, st
        assert st["version"] == version, st
        assert os.path.samefile(st["config"], shoal.config_path), st
        assert st["cache_name"] == shoal.cache_name, st
        assert st["control_socket"] == shoal.control_socket, st
        assert st["cache"]["size_bytes"] == 16 << 20, st
        assert (st["upgrades"], st["reloads"], st["restarts"]) == (0, 0, 0), st
        workers = st["workers"]
        assert [w["index"] for w in workers] == [0, 1, 2], workers
        assert sorted(w["pid"] for w in workers) == pids, (workers, pids)
        for w in workers:
            assert w["state"] == "ready" and w["alive"] is True and w["restarts"] == 0, w
            assert 0 <= w["uptime_s"] < 60, w
        # a killed worker: its replacement is listed, with one restart
        victim = next(w for w in workers if w["index"] == 1)
        os.kill(victim["pid"], signal.SIGKILL)
        new = shoal.wait_workers(3, replacing=[victim["pid"]])
        def replacement_listed():
            st = status(shoal)
            return st if sorted(w["pid"] for w in st["workers"]) == new and \
                all(w["state"] == "ready" for w in st["workers"]) else None
        st = wait_for(replacement_listed, 30, interval=0.1, what="status listing the replacement")
        restarts = {w["index"]: w["restarts"] for w in st["workers"]}
        assert restarts == {0: 0, 1: 1, 2: 0}, st
        # qps, overall and per worker, measured over --interval
        with Sender(shoal.port):
            busy = ctl_json(shoal, "status", "--interval", "0.5")
        total = sum(w["qps"] for w in busy["workers"])
        assert busy["qps"] > 10 and abs(total - busy["qps"]) <= 0.02 * busy["qps"] + 1, busy
        # human: every pid, the version
        out = ok(shoal.ctl("status"), "status")
        assert f"supervisor pid {shoal.pid}" in out and version in out, out
        for pid in new:
            assert re.search(rf"\b{pid}\b", out), (pid, out)


def test_stats_count_exactly_the_queries_sent():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        before = ctl_json(shoal, "stats")
        assert before["running"] is True and before["supervisor_pid"] == shoal.pid, before
        assert send_udp(shoal.port, 37) == ["REFUSED"] * 37
        replies = tcp_exchange(shoal.port, [build_query("example.com", "A", qid=i)
                                            for i in range(5)])
        assert [parse_header(r)[2] for r in replies] == ["REFUSED"] * 5
        wait_for(lambda: delta(before, ctl_json(shoal, "stats"), "queries", "total") >= 42,
                 30, interval=0.1, what="42 queries in shoalctl stats")
        time.sleep(0.3)  # nothing more comes
        after = ctl_json(shoal, "stats")
        assert delta(before, after, "queries", "total") == 42, (before, after)
        assert delta(before, after, "queries", "udp") == 37, after
        assert delta(before, after, "queries", "tcp") == 5, after
        assert delta(before, after, "acl_refused") == 42, after
        assert delta(before, after, "answers_by_rcode", "REFUSED") == 42, after
        assert delta(before, after, "answers_by_rcode", "NOERROR") == 0, after
        assert delta(before, after, "cache", "hits") == 0, after
        assert delta(before, after, "cache", "misses") == 0, after
        assert delta(before, after, "upstream", "queries") == 0, after
        # the human form shows the same count
        out = ok(shoal.ctl("stats"), "stats")
        total = counter(after, "queries", "total")
        assert re.search(rf"^queries\s+{total}\b", out, re.M), out
        assert re.search(r"REFUSED 42\b", out), out
        # --window N: the last N seconds, from the once-a-second samples
        # (the supervisor's: wait for one taken after the queries)
        def sampled():
            window = ctl_json(shoal, "stats", "--window", "60")["window"]
            return window if window is not None and window["queries"] >= 42 else None
        window = wait_for(sampled, 30, interval=0.2, what="a sample with the 42 queries")
        assert window["requested_s"] == 60, window
        # (two samples of the 1 s timer may lie a millisecond less apart: CI
    # saw 0.999; the window's length is whatever the samples span)
    assert 0.9 <= window["actual_s"] <= 61 and window["queries"] == 42, window


def test_stats_hits_misses_and_latency_percentiles():
    with Shoal(workers=1, config=NO_UPSTREAM) as shoal:
        before = ctl_json(shoal, "stats")
        assert send_udp(shoal.port, 20, name="nowhere.example") == ["SERVFAIL"] * 20
        wait_for(lambda: delta(before, ctl_json(shoal, "stats"), "queries", "total") >= 20,
                 30, interval=0.1, what="20 queries in shoalctl stats")
        after = ctl_json(shoal, "stats")
        assert delta(before, after, "queries", "total") == 20, after
        assert delta(before, after, "cache", "misses") == 20, after
        assert delta(before, after, "answers_by_rcode", "SERVFAIL") == 20, after
        # malformed queries are counted (and answered FORMERR)
        header_only = bytes([0, 7, 1, 0]) + bytes(8)
        for _ in range(3):
            reply = udp_exchange(shoal.port, header_only)
            assert reply is not None and parse_header(reply)[2] == "FORMERR"
        wait_for(lambda: delta(after, ctl_json(shoal, "stats"), "malformed") >= 3, 30,
                 interval=0.1, what="3 malformed in shoalctl stats")
        assert delta(after, ctl_json(shoal, "stats"), "malformed") == 3
        miss = after["latency_ms"]["miss"]
        assert miss["count"] == 20, miss
        assert 0 < miss["p50"] <= miss["p90"] <= miss["p99"] < 1000, miss
        assert after["latency_ms"]["hit"]["count"] == 0, after


def test_top_prints_one_frame_per_iteration():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        t0 = time.monotonic()
        out = ok(shoal.ctl("top", "--iterations", "2", "--interval", "0.5"), "top")
        took = time.monotonic() - t0
        assert 0.4 < took < 10, took
        assert "\x1b[" not in out, f"terminal escapes without a tty: {out!r}"
        titles = re.findall(rf"^shoal \S+\s+pid {shoal.pid}\b", out, re.M)
        assert len(titles) == 2, f"{len(titles)} frames:\n{out}"
        for pid in shoal.worker_pids():
            assert len(re.findall(rf"\b{pid}\b", out)) == 2, (pid, out)
        # --json: one object per frame and line; the qps of what was sent meanwhile
        with Sender(shoal.port):
            out = ok(shoal.ctl("top", "--iterations", "3", "--interval", "0.3",
                               json_output=True), "top --json")
        lines = out.splitlines()
        assert len(lines) == 3, out
        frames = [parse_json_object(line, "a frame of shoalctl --json top") for line in lines]
        for frame in frames:
            assert frame["supervisor_pid"] == shoal.pid and frame["running"] is True, frame
            assert sorted(w["pid"] for w in frame["workers"]) == shoal.worker_pids(), frame
            assert 0.25 <= frame["interval_s"] < 2, frame
        assert any(frame["qps"] > 0 for frame in frames), frames
        assert frames[0]["time_ms"] < frames[1]["time_ms"] < frames[2]["time_ms"], frames


def test_top_in_a_terminal_refreshes_until_q():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        master, slave = pty.openpty()
        proc = subprocess.Popen([shoalctl_bin(), "--config", str(shoal.config_path), "top",
                                 "--interval", "0.2"],
                                stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        try:
            screen = b""
            deadline = time.monotonic() + 30
            while screen.count(b"q quits") < 3 and time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    screen += os.read(master, 65536)
            assert screen.count(b"q quits") >= 3, f"fewer than 3 refreshes in 30 s: {screen!r}"
            assert b"\x1b[" in screen, "no full-screen drawing in a terminal"
            assert proc.poll() is None, "top ended by itself"
            os.write(master, b"q")
            rc = proc.wait(30)
            assert rc == 0, rc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)


# --------------------------------------------------------------------------
# reload, restart, upgrade (no upstream needed; under load: operations_test)
# --------------------------------------------------------------------------


def test_restart_replaces_every_worker():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        old = shoal.worker_pids()
        answer = ctl_json(shoal, "restart")
        new = shoal.wait_workers(2, replacing=old)
        pairs = sorted((w["index"], w["old_pid"], w["new_pid"]) for w in answer["workers"])
        assert [p[0] for p in pairs] == [0, 1], answer
        assert sorted(p[1] for p in pairs) == old and sorted(p[2] for p in pairs) == new, answer
        assert status(shoal)["restarts"] == 1
        out = ok(shoal.ctl("restart"), "restart")
        newer = shoal.wait_workers(2, replacing=new)
        for pid in newer:
            assert re.search(rf"\b{pid}\b", out), (pid, out)
        assert send_udp(shoal.port, 10) == ["REFUSED"] * 10


def test_reload_of_an_unchanged_config_succeeds():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        answer = ctl_json(shoal, "reload")
        assert answer["changed"] == [] and os.path.samefile(answer["config"], shoal.config_path), \
            answer
        ok(shoal.ctl("reload"), "reload")
        assert status(shoal)["reloads"] == 2
        assert send_udp(shoal.port, 10) == ["REFUSED"] * 10


def test_reload_of_a_broken_config_fails_with_file_and_line():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        pids = shoal.worker_pids()
        shoal.write_config(text="[server]\nworkers = 2\nbogus = 1\n")
        where = f"{shoal.config_path}:3: server.bogus: unknown key"
        # shoalctl names the socket: the supervisor reads the file and refuses it
        rc, out, err = shoal.ctl("reload", direct=True)
        assert rc == 1 and out == "", (rc, out, err)
        assert err.startswith("shoalctl: ") and where in err, err
        rc, out, err = shoal.ctl("reload", direct=True, json_output=True)
        assert rc == 1, (rc, out, err)
        answer = parse_json_object(out, "reload --json")
        assert answer["ok"] is False and where in answer["error"], answer
        # named by the (broken) file, shoalctl cannot even find the socket: it says why
        rc, out, err = shoal.ctl("reload")
        assert rc == 1 and where in err, (rc, out, err)
        assert shoal.worker_pids() == pids
        assert status(shoal, direct=True)["reloads"] == 0
        assert send_udp(shoal.port, 10) == ["REFUSED"] * 10


def test_upgrade_in_place_keeps_the_supervisor():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        old = shoal.worker_pids()
        out = ok(shoal.ctl("upgrade"), "upgrade")
        assert out.strip(), "upgrade printed nothing"
        assert shoal.proc.poll() is None
        new = shoal.wait_workers(2, replacing=old)
        st = status(shoal)
        assert st["supervisor_pid"] == shoal.pid and st["upgrades"] == 1, st
        assert sorted(w["pid"] for w in st["workers"]) == new, (st, new)
        answer = ctl_json(shoal, "upgrade")
        assert answer["version"] == answer["old_version"] == st["version"], answer
        assert os.path.samefile(answer["binary"], shoal_bin()), answer
        assert status(shoal)["upgrades"] == 2
        assert send_udp(shoal.port, 10) == ["REFUSED"] * 10


def test_upgrade_to_a_file_that_cannot_run_fails_and_changes_nothing():
    shoal = Shoal(workers=2, config=REFUSE_ALL)
    binary = shoal.dir / "shoal"
    shutil.copy2(shoal_bin(), binary)
    shoal.binary = str(binary)
    with shoal:
        pids = shoal.worker_pids()
        staged = shoal.dir / "garbage"
        staged.write_bytes(b"\x00this is not an executable\n" * 100)
        staged.chmod(0o755)
        os.replace(staged, binary)
        rc, out, err = shoal.ctl("upgrade")
        assert rc == 1, (rc, out, err)
        assert err.startswith("shoalctl: ") and err.strip(), err
        assert shoal.proc.poll() is None, shoal.log()
        assert shoal.worker_pids() == pids
        st = status(shoal)
        assert st["supervisor_pid"] == shoal.pid and st["upgrades"] == 0, st
        assert send_udp(shoal.port, 10) == ["REFUSED"] * 10


# --------------------------------------------------------------------------
# cache and servers (the lab)
# --------------------------------------------------------------------------


def entries_of(answer, rtype=None):
    return [e for e in answer["entries"] if rtype is None or e["type"] == rtype]


def test_cache_lookup_shows_the_records_and_flush_removes_them():
    with lab_shoal() as shoal:
        for rtype in ("A", "AAAA"):
            assert kdig(shoal.port, "www.example.com.", rtype).status == "NOERROR"
        assert kdig(shoal.port, "nx.example.com.", "A").status == "NXDOMAIN"
        time.sleep(1.1)  # the TTLs shown are what is left

        answer = ctl_json(shoal, "cache", "lookup", "www.example.com")
        assert answer["name"].rstrip(".") == "www.example.com", answer
        a, aaaa = entries_of(answer, "A"), entries_of(answer, "AAAA")
        assert len(a) == 1 and len(aaaa) == 1, answer
        for entry, rdata in ((a[0], "192.0.2.10"), (aaaa[0], "2001:db8::10")):
            assert entry["kind"] == "rrset" and not entry["stale"], entry
            assert 3590 < entry["ttl"] < entry["original_ttl"] == 3600, entry
            assert all(int(r.split()[1]) == entry["ttl"] for r in entry["records"]), entry
            assert entry["dnssec"] in ("indeterminate", "insecure", "secure", "bogus"), entry
            assert entry["partition"] == "global", entry
            # the records of its type (its RRSIGs may follow)
            own = [r for r in entry["records"] if r.split()[3] == entry["type"]]
            assert len(own) == 1, entry
            assert re.match(rf"www\.example\.com\.\s+\d+\s+IN\s+{entry['type']}\s+{rdata}$",
                            own[0]), entry
            assert all(r.split()[3] in (entry["type"], "RRSIG") for r in entry["records"]), entry
        # with a type: that type only; the trailing dot is optional
        only_a = ctl_json(shoal, "cache", "lookup", "www.example.com.", "A")
        assert {e["type"] for e in only_a["entries"]} == {"A"}, only_a
        # a negative entry
        nx = ctl_json(shoal, "cache", "lookup", "nx.example.com")
        assert nx["entries"], nx
        assert all(e["kind"] in ("negative", "nxdomain") for e in nx["entries"]), nx
        assert any(" SOA " in r for e in nx["entries"] for r in e["records"]), nx
        # a name never asked: nothing
        assert ctl_json(shoal, "cache", "lookup", "never.example.com")["entries"] == []
        out = ok(shoal.ctl("cache", "lookup", "www.example.com"), "cache lookup")
        assert "192.0.2.10" in out and "2001:db8::10" in out, out

        # flush one name: its entries go, the next query goes upstream
        flushed = ctl_json(shoal, "cache", "flush", "www.example.com")
        assert flushed["removed"] >= 2 and flushed["subtree"] is False, flushed
        assert ctl_json(shoal, "cache", "lookup", "www.example.com")["entries"] == []
        assert ctl_json(shoal, "cache", "lookup", "nx.example.com")["entries"], \
            "flushing www.example.com removed nx.example.com"
        before = ctl_json(shoal, "stats")
        assert kdig(shoal.port, "www.example.com.", "A").status == "NOERROR"
        # (the upstream queries are counted just after the answer has left)
        after = stats_when(shoal, lambda s: delta(before, s, "queries", "total") == 1
                           and delta(before, s, "upstream", "queries") > 0)
        assert delta(before, after, "cache", "misses") == 1, "a flushed name was a cache hit"
        assert delta(before, after, "upstream", "queries") > 0, after
        assert entries_of(ctl_json(shoal, "cache", "lookup", "www.example.com"), "A")

        # flush a subtree: everything below example.com, nothing beside it
        for name in ("c1.example.com.", "www.example.net."):
            assert kdig(shoal.port, name, "A").status == "NOERROR"
        out = ok(shoal.ctl("cache", "flush", "example.com", "--subtree"), "cache flush --subtree")
        assert re.search(r"\d", out), out
        for name in ("www.example.com", "c1.example.com", "c2.example.com", "nx.example.com",
                     "example.com"):
            assert ctl_json(shoal, "cache", "lookup", name)["entries"] == [], name
        assert entries_of(ctl_json(shoal, "cache", "lookup", "www.example.net"), "A"), \
            "flushing example.com --subtree removed www.example.net"
        again = ctl_json(shoal, "cache", "flush", "example.com", "--subtree")
        assert again["subtree"] is True and again["removed"] == 0, again


def test_cache_stats_add_up():
    with lab_shoal() as shoal:
        questions = [(f"h{i:03d}.bulk01.net.", "A") for i in range(50)]
        results = resolve_many(shoal.port, questions)
        assert all(r[0] == "NOERROR" for r in results.values()), results
        cache = ctl_json(shoal, "cache", "stats")
        assert cache["name"] == shoal.cache_name and cache["stripes"] == 16, cache
        assert cache["entries"] >= 50 and 0 < cache["bytes"] <= cache["capacity_bytes"], cache
        assert 0 < cache["fill_percent"] <= 100, cache
        assert cache["corrupt"] == 0 and cache["owner_died"] == 0, cache
        fill = cache["stripe_fill"]
        assert len(fill) == 16, cache
        assert sum(s["entries"] for s in fill) == cache["entries"], cache
        assert sum(s["bytes"] for s in fill) == cache["bytes"], cache
        assert cache["inserts"] >= cache["entries"], cache
        assert cache["hits"] + cache["misses"] <= cache["lookups"], cache
        out = ok(shoal.ctl("cache", "stats"), "cache stats")
        assert re.search(rf"\b{cache['entries']}\b", out), out


def test_servers_lists_the_lab_servers_asked():
    with lab_shoal() as shoal:
        assert kdig(shoal.port, "www.example.com.", "A").status == "NOERROR"
        answer = ctl_json(shoal, "servers")
        servers = {s["address"]: s for s in answer["servers"]}
        env = lab().env
        for role in ("ROOT", "TLD", "SLD"):
            asked = [servers[a] for a in env[f"LAB_{role}_ADDRS"].split() if a in servers]
            assert asked and any(s["queries"] > 0 for s in asked), (role, answer)
        root = [servers[a] for a in env["LAB_ROOT_ADDRS"].split() if a in servers]
        assert all("." in s["zones"] for s in root), root
        sld = [servers[a] for a in env["LAB_SLD_ADDRS"].split() if a in servers]
        assert any("example.com." in s["zones"] or "example.com" in s["zones"] for s in sld), sld
        for s in servers.values():
            assert s["address"] in lab().all_addrs(), s
            assert s["state"] in ("ok", "backed off", "lame", "no edns"), s
            assert 0 <= s["replies"] <= s["queries"] and s["timeouts"] <= s["queries"], s
            assert 0 <= s["loss_percent"] <= 100 and s["srtt_ms"] >= 0, s
        out = ok(shoal.ctl("servers"), "servers")
        for address, s in servers.items():
            if s["queries"] > 0:
                assert address in out, (address, out)


def test_stats_against_the_lab_hits_misses_upstream_and_latency():
    with lab_shoal() as shoal:
        questions = [(f"h{i:03d}.bulk02.org.", "A") for i in range(60)]
        before = ctl_json(shoal, "stats")
        assert all(r[0] == "NOERROR" for r in resolve_many(shoal.port, questions).values())
        middle = ctl_json(shoal, "stats")
        assert all(r[0] == "NOERROR" for r in resolve_many(shoal.port, questions).values())
        after = stats_when(shoal, lambda s: s["latency_ms"]["hit"]["count"] == 60)
        assert delta(before, middle, "cache", "misses") == 60, middle
        assert delta(before, middle, "upstream", "queries") > 0, middle
        assert delta(middle, after, "cache", "hits") == 60, after
        assert delta(middle, after, "cache", "misses") == 0, after
        assert delta(middle, after, "upstream", "queries") == 0, after
        assert after["cache"]["hit_percent"] == 50.0, after
        hit, miss = after["latency_ms"]["hit"], after["latency_ms"]["miss"]
        assert hit["count"] == 60 and miss["count"] == 60, after
        assert 0 < hit["p50"] < miss["p50"], after  # the cache is faster than the lab
        # the last seconds, from the samples (wait for one taken after the queries)
        def sampled():
            window = ctl_json(shoal, "stats", "--window", "30")["window"]
            return window if window is not None and window["cache_hits"] >= 60 else None
        window = wait_for(sampled, 30, interval=0.2, what="a sample with the 60 cache hits")
        assert window["cache_hits"] == 60 and window["cache_misses"] == 60, window
        assert window["hit_percent"] == 50.0 and window["upstream_queries"] > 0, window


def test_servers_report_timeouts_of_dead_servers():
    l = lab()
    bulk = l.env["LAB_BULK_ADDRS"].split()
    with lab_shoal(resolver={"query_timeout": "1500ms"}) as shoal:
        assert kdig(shoal.port, "h000.bulk05.uk.", "A").status == "NOERROR"  # uk., bulk known
        before = ctl_json(shoal, "stats")
        try:
            for addr in bulk:
                l.drop(addr, 100)
            r = kdig(shoal.port, "h001.bulk05.uk.", "A", timeout=5)
        finally:
            for addr in bulk:
                l.drop(addr, 0)
        assert r.status == "SERVFAIL", r
        # (the engine's counters are published just after the answer has left)
        after = stats_when(shoal, lambda s: delta(before, s, "upstream", "timeouts") > 0)
        assert after["upstream"]["loss_percent"] > 0, after
        servers = {s["address"]: s for s in ctl_json(shoal, "servers")["servers"]}
        dead = [servers[a] for a in bulk if a in servers]
        assert dead and all(s["timeouts"] > 0 for s in dead if s["queries"] > 1), servers
        assert any(s["timeouts"] > 0 and s["loss_percent"] > 0 for s in dead), dead
        out = ok(shoal.ctl("servers"), "servers")
        assert any(s["address"] in out for s in dead), out


# --------------------------------------------------------------------------
# Bad arguments, supervisor down
# --------------------------------------------------------------------------


def test_bad_arguments_exit_2_with_usage():
    # a socket and a stats segment that do not exist: a command that got
    # past its arguments fails to reach shoal (exit 1), not exit 2
    with tempfile.TemporaryDirectory() as d:
        where = ["--socket", os.path.join(d, "none.sock"),
                 "--stats", f"/shoal-it-none-{os.getpid()}"]
        cases = [
            [],
            ["bogus"],
            ["--bogus", "status"],
            ["status", "--bogus"],
            ["status", "--subtree"],
            ["status", "extra"],
            ["cache"],
            ["cache", "lookup"],
            ["cache", "lookup", "www.example.com", "NOTATYPE"],
            ["cache", "lookup", "www.example.com", "A", "extra"],
            ["cache", "flush"],
            ["cache", "bogus"],
            ["stats", "--window"],
            ["stats", "--window", "abc"],
            ["stats", "--window", "0"],
            ["top", "--iterations", "x"],
            ["top", "--interval", "-1"],
            ["reload", "--json=yes"],
            ["--socket"],
            ["nta"],
            ["nta", "add"],
            ["nta", "add", "example.com", "--lifetime", "8d"],
            ["nta", "add", "example.com", "--lifetime", "soon"],
            ["nta", "add", "example.com", "--reason", "two\nlines"],
            ["nta", "remove", "example.com", "--lifetime", "1h"],
            ["nta", "list", "example.com"],
            ["ecs", "www.example.com"],
            ["ecs", "www.example.com", "NOTATYPE"],
            ["ecs", "www.example.com", "A", "extra"],
            ["ecs", "--subtree"],
        ]
        for args in cases:
            rc, out, err = shoalctl(*where, *args)
            assert rc == 2, (args, rc, out, err)
            assert err.startswith("shoalctl: ") and "Usage: shoalctl" in err and out == "", \
                (args, out, err)
        # the same commands with good arguments get past them
        for args in (["status"], ["stats", "--window", "10"], ["top", "--iterations", "1"],
                     ["cache", "lookup", "www.example.com"],
                     ["cache", "lookup", "www.example.com", "aaaa"],
                     ["cache", "lookup", "www.example.com", "TYPE65"],
                     ["cache", "flush", "example.com", "--subtree"], ["cache", "stats"],
                     ["servers", "--json"], ["ping"], ["reload"], ["restart"], ["upgrade"],
                     ["nta", "add", "example.com", "--lifetime", "30m", "--reason", "why"],
                     ["nta", "remove", "example.com"], ["nta", "list"], ["ecs"],
                     ["ecs", "www.example.com", "aaaa"]):
            rc, out, err = shoalctl(*where, *args)
            assert rc == 1 and "Usage" not in err, (args, rc, out, err)
    # --help: the usage on stdout, exit 0
    rc, out, err = shoalctl("--help")
    assert rc == 0 and out.startswith("Usage: shoalctl") and err == "", (rc, out, err)
    for command in ("status", "stats", "top", "servers", "cache lookup", "cache flush",
                    "cache stats", "nta add", "nta remove", "nta list", "ecs", "reload",
                    "restart", "upgrade"):
        assert command in out, (command, out)


def test_supervisor_down_is_a_clear_error():
    with tempfile.TemporaryDirectory() as d:
        missing = os.path.join(d, "missing.sock")
        stale = os.path.join(d, "stale.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(stale)  # a socket file nobody listens on
        for path in (missing, stale):
            for args in (["ping"], ["servers"], ["cache", "stats"], ["cache", "lookup", "x"],
                         ["reload"], ["restart"], ["upgrade"], ["--json", "servers"],
                         ["nta", "add", "x."], ["nta", "remove", "x."], ["nta", "list"]):
                rc, out, err = shoalctl("--socket", path, *args, timeout=20)
                assert rc == 1 and out == "", (path, args, rc, out, err)
                assert err.startswith("shoalctl: ") and path in err, (path, args, err)
                assert "is shoal running?" in err, err
                assert len(err.strip().splitlines()) == 1, err
        # no stats segment: status, stats and top say so
        name = f"/shoal-it-none-{os.getpid()}"
        for args in (["status"], ["stats"], ["top"], ["--json", "status"]):
            rc, out, err = shoalctl("--stats", name, *args, timeout=20)
            assert rc == 1 and out == "", (args, rc, out, err)
            assert err.startswith("shoalctl: ") and name in err, (args, err)
    # a shoal that has stopped, named by its config file: the stats segment
    # is still there, the supervisor is not
    shoal = Shoal(workers=1, config=REFUSE_ALL, keep_cache=True)
    try:
        with shoal:
            pid = shoal.pid
            ok(shoal.ctl("status"), "status")
        where = ["--socket", shoal.control_socket, "--stats", shoal.stats_name]
        for args in (["status"], ["top"], ["ping"], ["cache", "stats"]):
            rc, out, err = shoalctl(*where, *args, timeout=20)
            assert rc == 1 and err.startswith("shoalctl: "), (args, rc, out, err)
            assert re.search(r"not running|is shoal running\?", err), (args, err)
        rc, out, err = shoalctl(*where, "status", timeout=20)
        assert f"shoal is not running (last supervisor pid {pid})" in err, err
        # stats shows the counters of the last run, and says that it is not running
        rc, out, err = shoalctl(*where, "--json", "stats", timeout=20)
        assert parse_json_object(out, "stats of a stopped shoal")["running"] is False, out
        assert "not running" in err, err
    finally:
        remove_cache(shoal.cache_name)


# --------------------------------------------------------------------------
# Who may use the control socket
# --------------------------------------------------------------------------


def as_nobody(shoal, *args, group="nogroup", groups=()):
    """shoalctl as user nobody, naming the socket and the stats segment (the
    config file sits in a directory nobody may not read)."""
    return shoalctl("--socket", shoal.control_socket, "--stats", shoal.stats_name, *args,
                    user="nobody", group=group, groups=groups, timeout=30)


# A client speaking the protocol itself (run as nobody): prints what the
# supervisor answers after connect() succeeded.
RAW_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"command":"ping"}\n')
except (BrokenPipeError, ConnectionResetError):
    pass  # refused before reading the request: the answer is there to read
data = b""
while True:
    try:
        chunk = s.recv(4096)
    except ConnectionResetError:  # it closed with our request unread: after its answer
        break
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode(errors="replace"))
"""


def refused(result, what):
    rc, out, err = result
    assert rc == 1 and out == "", (what, rc, out, err)
    assert err.startswith("shoalctl: ") and "permission denied" in err.lower(), (what, err)


def test_control_socket_refuses_users_outside_the_group():
    need_root()
    with Shoal(workers=1, config=REFUSE_ALL) as shoal:
        os.chmod(shoal.dir, 0o755)  # so that only the socket's own mode decides
        st = os.stat(shoal.control_socket)
        # without a group: 0600, or 0660 with shoal's own group
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) in (0o600, 0o660), \
            oct(st.st_mode)
        assert st.st_uid == os.geteuid() and st.st_gid == os.getegid(), st
        # the file mode: connect() is refused by the kernel
        refused(as_nobody(shoal, "ping"), "ping, socket mode 0660")
        # the supervisor's own check (SO_PEERCRED): the socket open to all
        os.chmod(shoal.control_socket, 0o666)
        for args in (["ping"], ["reload"], ["restart"], ["upgrade"], ["servers"],
                     ["cache", "flush", "example.com", "--subtree"]):
            refused(as_nobody(shoal, *args), f"{args}, socket mode 0666")
        # ... and the refusal came from the supervisor, over the connection
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            sys.executable, "-c", RAW_CLIENT, shoal.control_socket],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p
        answer = parse_json_object(p.stdout.strip(), "the supervisor's answer to nobody")
        assert answer["ok"] is False and "permission denied" in answer["error"].lower(), answer
        # nothing was done
        st = status(shoal)
        assert (st["reloads"], st["restarts"], st["upgrades"]) == (0, 0, 0), st
        # the stats segment is not for others either
        mode = stat.S_IMODE(os.stat("/dev/shm" + shoal.stats_name).st_mode)
        assert not mode & 0o007, oct(mode)
        for args in (["status"], ["stats"], ["top"]):
            refused(as_nobody(shoal, *args), args)
        # root is served, and so is the supervisor's own user (root here)
        ok(shoal.ctl("ping"), "ping as root")
        assert control_request(shoal.control_socket, {"command": "ping"})["ok"] is True


def test_control_socket_serves_members_of_the_group():
    need_root()
    created = False
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "-f", GROUP], check=True)
        created = True
    try:
        gid = grp.getgrnam(GROUP).gr_gid
        shoal = Shoal(workers=2, config={**REFUSE_ALL, "control": {"group": GROUP}})
        os.chmod(shoal.dir, 0o755)
        with shoal:
            st = os.stat(shoal.control_socket)
            assert st.st_gid == gid and stat.S_IMODE(st.st_mode) == 0o660, st
            st = os.stat("/dev/shm" + shoal.stats_name)
            assert st.st_gid == gid and st.st_mode & 0o040 and not st.st_mode & 0o007, st
            # a member by its primary group, then by a supplementary group
            for kwargs in ({"group": GROUP}, {"group": "nogroup", "groups": [GROUP]}):
                ping = parse_json_object(ok(as_nobody(shoal, "--json", "ping", **kwargs),
                                            f"ping {kwargs}"), "ping")
                assert ping["ok"] is True and ping["pid"] == shoal.pid, ping
                answer = parse_json_object(ok(as_nobody(shoal, "--json", "cache", "stats",
                                                        **kwargs), "cache stats"), "cache stats")
                assert answer["ok"] is True and answer["name"] == shoal.cache_name, answer
                st = parse_json_object(ok(as_nobody(shoal, "--json", "status", "--interval",
                                                    "0.05", **kwargs), "status"), "status")
                assert sorted(w["pid"] for w in st["workers"]) == shoal.worker_pids(), st
                ok(as_nobody(shoal, "stats", **kwargs), "stats")
            # a member may restart (the group is for operators)
            old = shoal.worker_pids()
            ok(as_nobody(shoal, "restart", group=GROUP), "restart by a member")
            shoal.wait_workers(2, replacing=old)
            # not a member: refused
            refused(as_nobody(shoal, "ping"), "ping by a non-member")
            refused(as_nobody(shoal, "status"), "status by a non-member")
    finally:
        if created:
            subprocess.run(["groupdel", GROUP], check=False)


def test_the_protocol_answers_every_request_with_ok():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        ping = control_request(shoal.control_socket, {"command": "ping"})
        assert ping["ok"] is True and ping["pid"] == shoal.pid and ping["version"], ping
        st = control_request(shoal.control_socket, {"command": "status"})
        assert st["ok"] is True and st["pid"] == shoal.pid, st
        assert sorted(w["pid"] for w in st["workers"]) == shoal.worker_pids(), st
        for request in ({"command": "bogus"}, {"no": "command"}, {"command": "cache.lookup"},
                        {"command": "cache.lookup", "name": "x.", "type": "NOTATYPE"}):
            answer = control_request(shoal.control_socket, request)
            assert answer["ok"] is False and answer["error"], (request, answer)
        # not JSON at all: an error line, and the supervisor carries on
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(shoal.control_socket)
            s.sendall(b"this is not json\n")
            answer = parse_json_object(s.recv(65536).decode(), "answer to garbage")
            assert answer["ok"] is False, answer
        assert control_request(shoal.control_socket, {"command": "ping"})["ok"] is True
        assert len(shoal.worker_pids()) == 2


def test_ecs_answers_and_refuses_malformed_requests():
    # No ECS traffic here (every query is refused): an empty picture, in the
    # shape control/protocol.h gives, and an error for every bad request.
    with Shoal(workers=1, config=REFUSE_ALL) as shoal:
        summary = ctl_json(shoal, "ecs")
        assert summary == {"ok": True, "entries": 0, "names": 0, "ipv4": 0, "ipv6": 0,
                           "evictions": 0, "max_partitions": 16, "top": []}, summary
        name = ctl_json(shoal, "ecs", "WWW.Example.com", "aaaa")
        assert name == {"ok": True, "name": "WWW.Example.com.", "type": "AAAA",
                        "max_partitions": 16, "global": None, "partitions": []}, name
        text = ok(shoal.ctl("ecs"), "ecs")
        assert "partitioned entries  0 (IPv4 0, IPv6 0)" in text and \
            "no ECS partitions cached" in text, text
        text = ok(shoal.ctl("ecs", "www.example.com", "A"), "ecs NAME TYPE")
        assert text.startswith("www.example.com. A: 0 ECS partitions (cap 16)\n"
                               "global entry: none\n"), text
        rc, out, err = shoal.ctl("ecs", "a..b", "A")
        assert rc == 1 and err.startswith("shoalctl: bad name 'a..b'") and \
            err.count("\n") == 1, (rc, out, err)
        for request in ({"command": "ecs", "name": "x."}, {"command": "ecs", "type": "A"},
                        {"command": "ecs", "name": 5, "type": "A"},
                        {"command": "ecs", "name": "x.", "type": ["A"]},
                        {"command": "ecs", "name": "x.", "type": "NOTATYPE"},
                        {"command": "ecs", "name": "x." * 200, "type": "A"},
                        {"command": "ecs", "name": "", "type": "A"}):
            answer = control_request(shoal.control_socket, request)
            assert answer["ok"] is False and answer["error"], (request, answer)
        # null is "not given", as for cache.lookup's type
        answer = control_request(shoal.control_socket,
                                 {"command": "ecs", "name": None, "type": None})
        assert answer["ok"] is True and answer["top"] == [], answer
        assert control_request(shoal.control_socket, {"command": "ping"})["ok"] is True
        assert len(shoal.worker_pids()) == 1


# --------------------------------------------------------------------------
# probe: the front door, asked as a client asks (issue 12)
# --------------------------------------------------------------------------


def probe_json(*args, shoal=None, expect_rc=0):
    """`shoalctl --json probe ARGS...`, through `shoal`'s config (its listen
    address) when given; asserts the exit status and returns the report."""
    run = shoal.ctl if shoal is not None else shoalctl
    rc, out, err = run("--json", "probe", *args, timeout=120)
    assert rc == expect_rc, f"shoalctl probe {' '.join(args)}: exit {rc}\n{out}{err}"
    report = parse_json_object(out, what=f"shoalctl --json probe {' '.join(args)}")
    assert report["sent"] == report["answered"] + report["lost"], report
    assert report["lost"] == report["timeouts"] + sum(report["errors"].values()), report
    return report


def test_probe_of_lab_names_answers_every_query():
    with lab_shoal() as shoal:
        before = ctl_json(shoal, "stats")
        r = probe_json("www.example.com", "--count", "5", "--interval", "20ms", shoal=shoal)
        assert r["server"] == f"127.0.0.1:{shoal.port}" and r["transport"] == "udp", r
        assert r["name"] == "www.example.com." and r["type"] == "A", r
        assert r["count"] == r["sent"] == r["answered"] == 5 and r["lost"] == 0, r
        assert r["answer_percent"] == 100.0 and r["rcodes"] == {"NOERROR": 5}, r
        # example.com is signed: every answer validated, AD set (the probe asks for AD)
        assert r["ad_set"] == 5 and r["truncated"] == 0 and r["mismatched"] == 0, r
        lat = r["latency_ms"]
        assert lat["count"] == 5, r
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], r
        # shoal counted exactly these queries, over UDP
        after = stats_when(shoal, lambda s: delta(before, s, "queries", "total") >= 5)
        assert delta(before, after, "queries", "total") == 5, after
        assert delta(before, after, "queries", "udp") == 5, after

        # over TCP, an unsigned zone: answered, no AD
        before = after
        r = probe_json("www.example.info", "AAAA", "--count", "3", "--interval", "10ms", "--tcp",
                       shoal=shoal)
        assert r["transport"] == "tcp" and r["type"] == "AAAA", r
        assert r["answered"] == 3 and r["rcodes"] == {"NOERROR": 3} and r["ad_set"] == 0, r
        after = stats_when(shoal, lambda s: delta(before, s, "queries", "total") >= 3)
        assert delta(before, after, "queries", "tcp") == 3, after

        # every answer is an answer, whatever its rcode; too big for UDP: TC
        r = probe_json("nxdomain.example.com", "--count", "2", "--interval", "10ms", shoal=shoal)
        assert r["answered"] == 2 and r["rcodes"] == {"NXDOMAIN": 2}, r
        r = probe_json("www.bogus-sig.com", "--count", "2", "--interval", "10ms", shoal=shoal)
        assert r["answered"] == 2 and r["rcodes"] == {"SERVFAIL": 2} and r["ad_set"] == 0, r
        r = probe_json("big.example.com", "TXT", "--count", "2", "--interval", "10ms",
                       shoal=shoal)
        assert r["answered"] == 2 and r["truncated"] == 2, r
        r = probe_json("big.example.com", "TXT", "--count", "2", "--interval", "10ms", "--tcp",
                       shoal=shoal)
        assert r["answered"] == 2 and r["truncated"] == 0, r

        # the text report
        rc, out, err = shoal.ctl("probe", "www.example.com", "--count", "2", "--interval", "10ms")
        assert rc == 0 and err == "", (rc, out, err)
        assert out.startswith(f"probe www.example.com. A at 127.0.0.1:{shoal.port} over udp: "
                              "2 queries, one every 10ms, timeout 5s\n"), out
        for line in ("sent        2", "answered    2 (100.0%)", "lost        0",
                     "rcodes      NOERROR 2", "AD          set in 2 of 2 answers"):
            assert f"\n{line}\n" in out, (line, out)
        assert re.search(r"\nlatency ms  min [\d.]+  p50 [\d.]+  p90 [\d.]+  p99 [\d.]+  "
                         r"max [\d.]+  \(mean [\d.]+\)\n$", out), out


def test_probe_of_a_dead_port_reports_every_query_lost():
    from shoal_harness import free_port
    # a shoal that answers (REFUSED: nobody may query), then stops: its
    # address, taken from its config, is a dead port
    with Shoal(workers=1, config=REFUSE_ALL) as shoal:
        r = probe_json("www.example.com", "--count", "2", "--interval", "10ms", shoal=shoal)
        assert r["answered"] == 2 and r["rcodes"] == {"REFUSED": 2}, r
        assert shoal.stop()[0] == 0
        for tcp in ([], ["--tcp"]):
            r = probe_json("www.example.com", "--count", "3", "--interval", "10ms", *tcp,
                           shoal=shoal, expect_rc=1)
            assert r["server"] == f"127.0.0.1:{shoal.port}", r
            assert r["sent"] == r["lost"] == 3 and r["answered"] == 0, (tcp, r)
            # loopback says so at once: ICMP port unreachable (UDP), a reset (TCP)
            assert r["errors"] == {"Connection refused": 3} and r["timeouts"] == 0, (tcp, r)
            assert r["rcodes"] == {} and r["latency_ms"] is None, (tcp, r)
            assert r["answer_percent"] == 0.0, r
    rc, out, err = shoalctl("probe", "x.example", "--server", f"127.0.0.1:{free_port()}",
                            "--count", "2", "--interval", "10ms")
    assert rc == 1 and "\nlost        2 (Connection refused: 2)\n" in out, (rc, out, err)
    # a port that takes the queries and never answers: lost when the timeout passes
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        r = probe_json("x.example", "--server", f"127.0.0.1:{silent.getsockname()[1]}",
                       "--count", "3", "--interval", "10ms", "--timeout", "300ms", expect_rc=1)
    assert r["sent"] == r["lost"] == r["timeouts"] == 3 and r["errors"] == {}, r


def test_probe_bad_arguments_exit_2_with_usage():
    for args in (["probe"], ["probe", "bad..name"], ["probe", "x.example", "NOTATYPE"],
                 ["probe", "x.example", "--count", "0"],
                 ["probe", "x.example", "--count", "100001"],
                 ["probe", "x.example", "--interval", "0ms"],
                 ["probe", "x.example", "--interval", "soon"],
                 ["probe", "x.example", "--timeout", "61s"],
                 ["probe", "x.example", "--server", "not-an-address"],
                 ["probe", "x.example", "A", "extra"], ["status", "--tcp"]):
        rc, out, err = shoalctl(*args)
        assert rc == 2, (args, rc, out, err)
        assert err.startswith("shoalctl: ") and "Usage: shoalctl" in err and out == "", \
            (args, out, err)
    # well formed, but nothing can be sent there: exit 2 as well, with the reason
    rc, out, err = shoalctl("probe", "x.example", "--server", "255.255.255.255", "--count", "1")
    assert rc == 2 and out == "", (rc, out, err)
    assert err.startswith("shoalctl: cannot ask 255.255.255.255:53: "), err
    rc, out, err = shoalctl("--help")
    assert rc == 0 and "  probe NAME [TYPE]" in out, out


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
