#!/usr/bin/env python3
"""Operations under load (issue 5), against the lab with dnsperf:

  - `shoalctl restart` during a steady 2000 qps of cached names: 0 lost,
    every worker replaced, the hit rate after equal to the one before (the
    cache was kept);
  - `shoalctl upgrade` likewise, with a new binary file in place of the old:
    same supervisor pid (exec in place) now running the new file, new
    workers running it too, 0 lost, the cache warm;
  - stop and start on the same cache: the first queries are cache hits and
    nothing goes upstream;
  - SIGKILL to workers under load while shoalctl keeps reporting: status
    counts the restarts, the cache stays consistent (cache stats: corrupt 0);
  - reload (shoalctl and SIGHUP): a broken config is refused with file:line
    and the service is untouched; a changed one (workers 2 -> 3, another
    listen address) is applied by a rolling restart without losing queries.

Needs root, the lab (a running one is used, else one is started and
stopped) and dnsperf; exits 77 otherwise."""

import os
import random
import shutil
import signal
import socket
import time

from shoal_harness import (Dnsperf, Shoal, build_query, close_shared_lab, dnsperf, free_port,
                           kdig, need_dnsperf, parse_header, parse_json_object, remove_cache,
                           run_tests, shared_lab, shoal_bin, tcp_frame, tcp_read_message,
                           toml_text, udp_exchange, wait_for)

RATE_QPS = 2000
LOAD_S = 14  # the dnsperf run an operation happens in
OPERATION_AT_S = 3  # when, into that run, the operation starts
BEFORE_S = 4  # the run that measures the hit rate before
# dnsperf's cap on outstanding queries: well above RATE_QPS x its 5 s
# timeout, so that a pause in the service does not stop dnsperf sending
# (see crash_load_test.py).
MAX_OUTSTANDING = 20000
# A cached name is answered in well under a millisecond; an answer later
# than this during an operation means the service paused.
MAX_LATENCY_S = 1.0
# The hit rate after an operation must be at least this fraction of the one
# before. With 4000 names at 2000 qps, an emptied cache gives ~4000 misses
# over the ~22000 queries after the operation: a hit rate near 0.82 (what a
# `cache flush . --subtree` at the restart gives).
HIT_RATE_TOLERANCE = 0.95

# One lab for the whole run (started on first use; see main).
lab = shared_lab


def queries():
    return lab().env["LAB_QUERIES"]


def names():
    with open(queries()) as f:
        return [tuple(line.split()) for line in f if line.strip()]


def lab_shoal(workers=2, **kwargs):
    need_dnsperf()
    return Shoal(workers=workers, config=lab().shoal_config(), **kwargs)


# --------------------------------------------------------------------------
# What shoalctl reports
# --------------------------------------------------------------------------


class Counters:
    """The totals of `shoalctl stats --json` that these tests use: counters
    over every worker process that ever wrote this stats segment."""

    def __init__(self, shoal):
        self.json = shoal.ctl_json("stats")
        self.queries = count(self.json, "queries", "total")
        self.hits = count(self.json, "cache", "hits")
        self.misses = count(self.json, "cache", "misses")
        # this shoal's own queries to authoritative servers (the lab's packet
        # counters would also count other resolvers using the lab)
        self.upstream = count(self.json, "upstream", "queries")

    def __repr__(self):
        return (f"Counters(queries={self.queries}, hits={self.hits}, misses={self.misses}, "
                f"upstream={self.upstream})")


def count(stats, *path):
    """stats[path...], asserted to be a non-negative integer."""
    value = stats
    for key in path:
        assert isinstance(value, dict) and key in value, \
            f"no {'.'.join(path)} in shoalctl stats --json: {stats}"
        value = value[key]
    assert isinstance(value, int) and not isinstance(value, bool) and value >= 0, (path, value)
    return value


def hit_rate(a, b):
    """The cache hit rate between two Counters readings."""
    hits, misses = b.hits - a.hits, b.misses - a.misses
    assert hits >= 0 and misses >= 0 and b.queries >= a.queries, \
        f"counters went backwards: {a} then {b}"
    assert hits + misses > 0, f"no queries between {a} and {b}"
    return hits / (hits + misses)


def status(shoal):
    """`shoalctl --json status` (read from the stats segment), quickly."""
    return shoal.ctl_json("status", "--interval", "0.05")


def status_workers(shoal):
    """{index: worker} from `shoalctl status --json`."""
    return {w["index"]: w for w in status(shoal)["workers"]}


# --------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------


def warm(shoal):
    """Resolves every name of the query file once: all NOERROR."""
    run = dnsperf(shoal.port, queries(), "-n", "1")
    assert run["lost"] == 0 and run["rcodes"].get("NOERROR") == run["sent"] == len(names()), \
        run["text"]


def steady(shoal, seconds):
    return Dnsperf(shoal.port, queries(), "-l", seconds, "-Q", RATE_QPS, "-q", MAX_OUTSTANDING)


def summary(run):
    return (f"sent {run['sent']}, completed {run['completed']}, lost {run['lost']}, "
            f"rcodes {run['rcodes']}, latency max {run['latency_max_s'] * 1000:.1f} ms")


def operation_under_load(shoal, command):
    """Warms the cache, measures the hit rate over a steady run, then runs
    `shoalctl --json COMMAND` OPERATION_AT_S into a second steady run.
    Returns what happened; asserts the load itself went well (0 lost, all
    NOERROR, no late answer, the cache kept)."""
    warm(shoal)
    c0 = Counters(shoal)
    before = dnsperf(shoal.port, queries(), "-l", BEFORE_S, "-Q", RATE_QPS, "-q",
                     MAX_OUTSTANDING)
    c1 = Counters(shoal)
    assert before["lost"] == 0 and before["rcodes"].get("NOERROR") == before["sent"], \
        before["text"]
    rate_before = hit_rate(c0, c1)

    pids = shoal.worker_pids()
    sockets = listening_sockets(shoal.port)
    assert len(sockets) == 2 * len(pids), sockets  # one UDP, one TCP per worker slot
    load = steady(shoal, LOAD_S)
    try:
        time.sleep(OPERATION_AT_S)
        t0 = time.monotonic()
        rc, out, err = shoal.ctl(command, json_output=True)
        took = time.monotonic() - t0
        c2 = Counters(shoal)
        during = load.result(timeout=LOAD_S + 120)
    finally:
        load.kill()
    c3 = Counters(shoal)
    print(f"  {command}: took {took:.2f} s (exit {rc}); before: {summary(before)}, hit rate "
          f"{rate_before:.4f}, {c1.upstream - c0.upstream} upstream queries; "
          f"during: {summary(during)}")
    assert rc == 0, f"shoalctl {command}: exit {rc}\nstdout: {out}\nstderr: {err}"
    assert took < LOAD_S - OPERATION_AT_S - 2, \
        f"shoalctl {command} took {took:.1f} s: too long to measure the hit rate after it"
    rate_after = hit_rate(c2, c3)
    print(f"  after {command}: hit rate {rate_after:.4f} over {c3.queries - c2.queries} queries, "
          f"{c3.upstream - c2.upstream} upstream queries")

    assert during["lost"] == 0, f"{during['lost']} queries lost across {command}:\n{during['text']}"
    assert during["rcodes"].get("NOERROR") == during["completed"] == during["sent"], \
        during["text"]
    assert during["latency_max_s"] < MAX_LATENCY_S, \
        f"an answer took {during['latency_max_s']:.3f} s across {command}:\n{during['text']}"
    # the cache was kept: as many hits as before, nothing to ask upstream
    assert rate_before > 0.99, (c0, c1)
    assert rate_after >= HIT_RATE_TOLERANCE * rate_before, \
        f"hit rate {rate_after:.4f} after {command}, {rate_before:.4f} before: {c2} -> {c3}"
    assert c3.upstream - c2.upstream < 100, \
        f"{c3.upstream - c2.upstream} queries upstream after {command}: the cache was lost"
    # the successors serve on the very sockets of the workers they replaced
    now = listening_sockets(shoal.port)
    assert now == sockets, f"the listening sockets changed across {command}: {sockets} -> {now}"
    # the stats counted every query dnsperf sent (none lost from the counters either)
    assert c3.queries - c1.queries >= during["sent"], (c1, c3, during["sent"])
    return {"answer": parse_answer(out, command), "pids": pids, "took": took}


def parse_answer(out, command):
    answer = parse_json_object(out, what=f"shoalctl --json {command}")
    assert answer.get("ok") is True, answer
    return answer


def listening_sockets(port):
    """Inodes of the UDP sockets and TCP listeners bound to 127.0.0.1:port
    (from /proc/net): the same set after an operation means the sockets
    were handed over, not opened anew."""
    inodes = set()
    for table, listening in (("udp", None), ("tcp", "0A")):
        with open(f"/proc/net/{table}") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if local == f"0100007F:{port:04X}" and (listening is None or state == listening):
                    inodes.add((table, int(inode)))
    return inodes


def exe_inode(pid):
    st = os.stat(f"/proc/{pid}/exe")
    return st.st_dev, st.st_ino


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_rolling_restart_under_load_loses_nothing_and_keeps_the_cache():
    with lab_shoal(workers=2) as shoal:
        supervisor = shoal.pid
        result = operation_under_load(shoal, "restart")
        old = result["pids"]
        new = shoal.wait_workers(2, replacing=old)
        assert shoal.pid == supervisor and shoal.proc.poll() is None
        pairs = {(w["old_pid"], w["new_pid"]) for w in result["answer"]["workers"]}
        assert {p for p, _ in pairs} == set(old), (pairs, old)
        assert {n for _, n in pairs} == set(new), (pairs, new)
        st = status(shoal)
        assert st["restarts"] == 1 and st["supervisor_pid"] == supervisor, st
        assert sorted(w["pid"] for w in st["workers"]) == new, (st, new)
        assert answers(shoal.port)


def test_binary_upgrade_under_load_loses_nothing_and_keeps_the_cache():
    # shoal runs from a copy of the binary; before the upgrade another file
    # takes its path (a new inode: cp over a running binary gets ETXTBSY)
    shoal = lab_shoal(workers=2)
    binary = shoal.dir / "shoal"
    shutil.copy2(shoal_bin(), binary)
    shoal.binary = str(binary)
    with shoal:
        supervisor = shoal.pid
        old_exe = exe_inode(supervisor)
        assert all(exe_inode(p) == old_exe for p in shoal.worker_pids())
        staged = shoal.dir / "shoal.new"
        shutil.copy2(shoal_bin(), staged)
        os.replace(staged, binary)
        new_exe = (os.stat(binary).st_dev, os.stat(binary).st_ino)
        assert new_exe != old_exe

        result = operation_under_load(shoal, "upgrade")
        answer = result["answer"]
        assert answer.get("version") and answer.get("old_version"), answer
        assert os.path.samefile(answer["binary"], binary), (answer, binary)
        # the same process (exec in place) now runs the new file, so do its workers
        assert shoal.proc.poll() is None and shoal.pid == supervisor
        assert exe_inode(supervisor) == new_exe, "the supervisor did not re-execute the new binary"
        new = shoal.wait_workers(2, replacing=result["pids"])
        for pid in new:
            assert exe_inode(pid) == new_exe, f"worker {pid} does not run the new binary"
        st = status(shoal)
        assert st["supervisor_pid"] == supervisor and st["upgrades"] == 1, st
        assert sorted(w["pid"] for w in st["workers"]) == new, (st, new)
        assert answers(shoal.port)
        # and it stops as usual
        rc, _took = shoal.stop()
        assert rc == 0, shoal.log()


def test_restart_and_upgrade_finish_the_queries_in_flight():
    # Queries the old workers hold (waiting for a slow upstream) when the
    # operation starts are answered, over UDP and over TCP.
    l = lab()
    sld = l.env["LAB_SLD_ADDRS"].split()
    with lab_shoal(workers=1) as shoal:
        # the root's and com's answers are cached; only the SLD servers are slow
        assert answers(shoal.port, "www.example.com.", "192.0.2.10")
        try:
            for addr in sld:
                l.delay(addr, 700)
            for command, udp_name, tcp_name in (
                    ("restart", "www.example.net.", "www.example.org."),
                    ("upgrade", "www.example.info.", "www.glueless.com.")):
                old = shoal.worker_pids()
                before = shoal.counters()[0]
                with socket.create_connection(("127.0.0.1", shoal.port), timeout=30) as tcp, \
                        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.settimeout(30)
                    tcp.sendall(tcp_frame(build_query(tcp_name, "A", qid=5)))
                    udp.sendto(build_query(udp_name, "A", qid=6), ("127.0.0.1", shoal.port))
                    # read by the old worker, now waiting upstream
                    wait_for(lambda: (c := shoal.counters()[0])["queries.udp"] >
                             before["queries.udp"] and c["queries.tcp"] > before["queries.tcp"],
                             30, what="the old worker to read both queries")
                    t0 = time.monotonic()
                    rc, out, err = shoal.ctl(command)
                    took = time.monotonic() - t0
                    tcp_reply = tcp_read_message(tcp)
                    udp_reply = udp.recv(4096)
                print(f"  {command} with 2 queries in flight took {took:.2f} s")
                assert rc == 0, (command, rc, out, err)
                assert tcp_reply is not None, f"the TCP query in flight got no answer ({command})"
                for reply, qid in ((tcp_reply, 5), (udp_reply, 6)):
                    assert parse_header(reply)[:3:2] == (qid, "NOERROR"), \
                        (command, parse_header(reply))
                shoal.wait_workers(1, replacing=old)
        finally:
            for addr in sld:
                l.delay(addr, 0)


def test_a_query_read_by_a_killed_worker_is_answered_by_its_replacement():
    # The worker reads a UDP query, sends it upstream (slow), and is killed
    # with SIGKILL before the answer comes: the query is gone from the
    # socket, yet the replacement answers it from the journal
    # (worker/journal.h). Without the journal the client would get nothing
    # (it sends once and waits).
    l = lab()
    sld = l.env["LAB_SLD_ADDRS"].split()
    # The replacement resolves afresh against servers 1.5 s away: with the
    # name's DNSKEY, two exchanges that may not overlap (a lost race with
    # the retransmissions), so a deadline well past 3 s. The test is about
    # the journal, not the latency.
    config = lab().shoal_config(query_timeout="6s")
    need_dnsperf()
    with Shoal(workers=1, config=config) as shoal:
        assert answers(shoal.port, "www.example.com.", "192.0.2.10")
        before = shoal.ctl_json("stats")["journal"]["replayed"]
        read = shoal.counters()[0]["queries.udp"]
        try:
            for addr in sld:
                l.delay(addr, 1500)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.settimeout(30)
                udp.sendto(build_query("www.example.net.", "A", qid=77), ("127.0.0.1", shoal.port))
                # read (so in the journal: recvmmsg writes it there), now
                # waiting for the slow server; killed before, the query
                # would be read from the socket by the replacement instead
                wait_for(lambda: shoal.counters()[0]["queries.udp"] > read, 30,
                         what="the worker to read the query")
                (victim,) = shoal.worker_pids()
                os.kill(victim, signal.SIGKILL)
                reply = udp.recv(4096)
        finally:
            for addr in sld:
                l.delay(addr, 0)
        assert parse_header(reply)[:3:2] == (77, "NOERROR"), parse_header(reply)
        assert "its predecessor had read before it died" in shoal.log(), shoal.log()
        after = shoal.ctl_json("stats")["journal"]["replayed"]
        assert after == before + 1, (before, after)


def test_stop_and_start_first_queries_are_cache_hits():
    name = f"/shoal-it-ops-warm-{os.getpid()}"
    try:
        with lab_shoal(workers=2, cache_name=name, keep_cache=True) as shoal:
            warm(shoal)
            rc, _took = shoal.stop()
            assert rc == 0, shoal.log()
        with lab_shoal(workers=2, cache_name=name, keep_cache=True, cold=False) as shoal:
            cache = shoal.ctl_json("cache", "stats")
            assert cache["entries"] >= len(names()), cache  # warm before any query
            c0 = Counters(shoal)
            run = dnsperf(shoal.port, queries(), "-n", "1")
            c1 = Counters(shoal)
            assert run["lost"] == 0 and run["rcodes"].get("NOERROR") == run["sent"], run["text"]
            assert c1.hits - c0.hits == run["sent"] and c1.misses == c0.misses, \
                (c0, c1, run["sent"])
            assert c1.upstream == c0.upstream, \
                f"{c0} -> {c1}: queries went upstream after a warm start"
    finally:
        remove_cache(name)


def test_sigkill_under_load_restarts_are_reported_and_the_cache_stays_consistent():
    # crash_load_test.py checks the 0 lost over a longer run; this one checks
    # what shoalctl says meanwhile and afterwards.
    duration, every = 12, 1.5
    rng = random.Random(int(os.environ.get("SHOAL_CRASH_SEED", random.randrange(1 << 30))))
    with lab_shoal(workers=2) as shoal:
        warm(shoal)
        assert all(w["restarts"] == 0 for w in status_workers(shoal).values())
        load = steady(shoal, duration)
        kills = []  # worker index of each kill
        slowest = 0.0
        try:
            deadline = time.monotonic() + duration - 2
            while time.monotonic() < deadline:
                time.sleep(every)
                t0 = time.monotonic()
                workers = status_workers(shoal)  # the stats segment is readable
                Counters(shoal)
                assert shoal.ctl_json("ping")["ok"] is True  # and the supervisor answers
                slowest = max(slowest, time.monotonic() - t0)
                ready = [w for w in workers.values() if w["state"] == "ready"]
                if not ready:
                    continue
                victim = rng.choice(ready)
                try:
                    os.kill(victim["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    continue
                kills.append(victim["index"])
            run = load.result(timeout=duration + 120)
        finally:
            load.kill()
        print(f"  {len(kills)} kills {kills}; slowest status+stats+ping {slowest * 1000:.0f} ms; "
              f"{summary(run)}")
        assert len(kills) >= 4, kills
        assert slowest < 2.0, f"shoalctl status, stats, ping took {slowest:.2f} s during the kills"
        # What a killed worker had read is answered by its replacement
        # (worker/journal.h): nothing is lost.
        assert run["lost"] == 0, run["text"]
        assert run["rcodes"].get("NOERROR") == run["completed"], run["text"]

        shoal.wait_workers(2)
        def all_ready():
            workers = status_workers(shoal)
            return workers if all(w["state"] == "ready" for w in workers.values()) else None
        workers = wait_for(all_ready, 30, interval=0.1, what="both workers ready")
        for index, worker in workers.items():
            assert worker["restarts"] == kills.count(index), (index, worker, kills)
        cache = shoal.ctl_json("cache", "stats")
        print(f"  cache stats: entries {cache['entries']}, owner_died {cache['owner_died']}, "
              f"corrupt {cache['corrupt']}, wipes {cache['wipes']}")
        assert cache["corrupt"] == 0, cache
        assert isinstance(cache["owner_died"], int) and cache["owner_died"] >= 0, cache
        assert cache["entries"] >= len(names()), cache
        after = dnsperf(shoal.port, queries(), "-n", "1")
        assert after["lost"] == 0 and after["rcodes"].get("NOERROR") == after["sent"], \
            after["text"]


def answers(port, name="h000.bulk00.com.", address="198.18.0.1"):
    r = kdig(port, name, "A")
    return r.status == "NOERROR" and r.data("A") == [address]


def broken_config(shoal, key="workers", value='"many"'):
    """The config text with server.`key` = `value`; returns (text, line of it)."""
    lines = toml_text(shoal.sections).splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} = "))
    lines[index] = f"{key} = {value}"
    return "\n".join(lines) + "\n", index + 1


def test_reload_a_broken_config_is_refused_and_changes_nothing():
    with lab_shoal(workers=2) as shoal:
        assert answers(shoal.port)
        pids = shoal.worker_pids()
        good = shoal.config_path.read_text()
        text, line = broken_config(shoal)
        shoal.write_config(text=text)
        where = f"{shoal.config_path}:{line}: server.workers: expected an integer"
        # shoalctl names the socket (with --config it would trip on the file
        # itself): the supervisor reads the file and refuses it
        rc, out, err = shoal.ctl("reload", direct=True)
        assert rc == 1 and out == "", (rc, out, err)
        assert err.startswith("shoalctl: ") and where in err, err
        rc, out, err = shoal.ctl("reload", direct=True, json_output=True)
        assert rc == 1 and where in err, (rc, out, err)
        assert where in parse_json_object(out, "reload --json")["error"], out
        # the same by SIGHUP: logged, nothing else
        shoal.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: where in shoal.log(), 30, what=f"'{where}' in the log")
        time.sleep(1)
        assert shoal.worker_pids() == pids, (pids, shoal.worker_pids())
        assert shoal.proc.poll() is None
        assert answers(shoal.port)
        st = shoal.ctl_json("status", "--interval", "0.05", direct=True)
        assert len(st["workers"]) == 2 and st["reloads"] == 0, st
        # the good file back: a reload succeeds, and the service still answers
        shoal.write_config(text=good)
        answer = shoal.ctl_json("reload")
        assert answer["changed"] == [], answer
        assert status(shoal)["reloads"] == 1
        assert answers(shoal.port)


def test_reload_more_workers_under_load_is_a_rolling_restart_that_loses_nothing():
    with lab_shoal(workers=2) as shoal:
        warm(shoal)
        old = shoal.worker_pids()
        sockets = listening_sockets(shoal.port)
        shoal.write_config({"server": {"workers": 3}})
        load = steady(shoal, 8)
        try:
            time.sleep(2)
            t0 = time.monotonic()
            answer = shoal.ctl_json("reload")
            took = time.monotonic() - t0
            run = load.result(timeout=120)
        finally:
            load.kill()
        print(f"  reload took {took:.2f} s: {answer}; {summary(run)}")
        assert "server.workers" in answer["changed"], answer
        new = shoal.wait_workers(3, replacing=old)
        assert sorted(status_workers(shoal)) == [0, 1, 2]
        assert sorted(w["pid"] for w in status_workers(shoal).values()) == new
        assert run["lost"] == 0, run["text"]
        assert run["rcodes"].get("NOERROR") == run["sent"], run["text"]
        now = listening_sockets(shoal.port)
        assert sockets < now and len(now) == 6, (sockets, now)  # kept, and a third pair
        # all three serve
        after = dnsperf(shoal.port, queries(), "-n", "1", clients=30)
        assert after["lost"] == 0 and after["rcodes"].get("NOERROR") == after["sent"]


def test_sighup_applies_a_new_listen_address_then_closes_a_removed_one():
    with lab_shoal(workers=2) as shoal:
        warm(shoal)
        old_port, new_port = shoal.port, free_port()
        pids = shoal.worker_pids()
        reloads = status(shoal)["reloads"]
        kept = listening_sockets(old_port)
        shoal.write_config({"server": {"listen": [f"127.0.0.1:{old_port}",
                                                   f"127.0.0.1:{new_port}"]}})
        load = steady(shoal, 6)  # on the address that stays
        try:
            time.sleep(1.5)
            shoal.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: udp_exchange(new_port, build_query("h000.bulk00.com.", "A"), 0.5),
                     60, interval=0.2, what=f"an answer on the new port {new_port}")
            run = load.result(timeout=120)
        finally:
            load.kill()
        print(f"  SIGHUP adding 127.0.0.1:{new_port}: {summary(run)}")
        assert run["lost"] == 0 and run["rcodes"].get("NOERROR") == run["sent"], run["text"]
        assert answers(new_port) and answers(old_port)
        assert listening_sockets(old_port) == kept, "the sockets of the address kept were reopened"
        assert len(listening_sockets(new_port)) == 4, listening_sockets(new_port)
        shoal.wait_workers(2, replacing=pids)
        # counted once the supervisor has reaped the last old worker (nobody
        # waits for a SIGHUP's answer): maybe a moment after it is gone
        wait_for(lambda: status(shoal)["reloads"] == reloads + 1, 30, interval=0.1,
                 what=f"{reloads + 1} reloads in shoalctl status")
        on_new = dnsperf(new_port, queries(), "-n", "1")
        assert on_new["lost"] == 0 and on_new["rcodes"].get("NOERROR") == on_new["sent"]
        # now without the first address: it closes, the second stays
        pids = shoal.worker_pids()
        shoal.write_config({"server": {"listen": [f"127.0.0.1:{new_port}"]}})
        answer = shoal.ctl_json("reload")
        assert answer["changed"] == ["server.listen"], answer
        shoal.wait_workers(2, replacing=pids)
        assert answers(new_port)
        assert listening_sockets(old_port) == set(), listening_sockets(old_port)
        reply = udp_exchange(old_port, build_query("h000.bulk00.com.", "A"), 1.0)
        assert reply is None, f"the removed address 127.0.0.1:{old_port} still answers: " \
                              f"{parse_header(reply)}"


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
