#!/usr/bin/env python3
"""Crash recovery under load (issue 5): with dnsperf sending a steady rate
of cached names, a random worker is killed with SIGKILL every 2 s. Every
query must still be answered (the supervisor keeps each slot's sockets, so
what is queued in a dead worker's socket waits for its replacement), every
kill must be followed by a replacement, and the shared cache must be
consistent afterwards. Needs root and the lab (exit 77 otherwise), and
dnsperf."""

import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time

from shoal_harness import Shoal, Skip, close_shared_lab, run_tests, shared_lab

DURATION_S = 20
RATE_QPS = 2000
KILL_EVERY_S = 2.0
CLIENTS = 16  # dnsperf source ports: SO_REUSEPORT spreads them over both workers
# dnsperf's cap on outstanding queries. Its default (100) is reached within
# ~0.1 s of a slot's death (the queries queued in the dead slot's socket
# count as outstanding) and then dnsperf stops sending: the rate would not
# be steady. The cap is set well above RATE_QPS x its 5 s timeout.
MAX_OUTSTANDING = 20000
SEED = int(os.environ.get("SHOAL_CRASH_SEED", random.randrange(1 << 30)))

# One lab for the whole run (started on first use; see main).
lab = shared_lab


def need_dnsperf():
    if not shutil.which("dnsperf"):
        raise Skip("dnsperf not installed")


def dnsperf(port, *args, timeout=120):
    """Runs dnsperf over the lab's query file; returns its parsed summary:
    sent, completed, lost, and {rcode: count}."""
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", lab().env["LAB_QUERIES"],
           "-c", str(CLIENTS), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out

    def number(label):
        m = re.search(rf"{label}:\s+(\d+)", out)
        assert m, f"no '{label}' in dnsperf output:\n{out}"
        return int(m.group(1))

    rcodes = {}
    m = re.search(r"Response codes:\s+(.*)", out)
    if m:
        for code, count in re.findall(r"([A-Z]+) (\d+)", m.group(1)):
            rcodes[code] = int(count)
    return {"sent": number("Queries sent"), "completed": number("Queries completed"),
            "lost": number("Queries lost"), "rcodes": rcodes, "text": out}


def killer(shoal, stop, kills):
    """Every KILL_EVERY_S, SIGKILLs one running worker chosen at random
    (SHOAL_CRASH_SEED replays a run's choices)."""
    rng = random.Random(SEED)
    while not stop.wait(KILL_EVERY_S):
        pids = shoal.worker_pids()
        if not pids:
            continue  # both slots waiting out a backoff
        victim = rng.choice(pids)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            continue
        kills.append((time.monotonic(), victim))


def test_sigkill_a_worker_every_2s_under_load_loses_nothing():
    need_dnsperf()
    with Shoal(workers=2, config=lab().shoal_config(ipv6=False)) as shoal:
        warm = dnsperf(shoal.port, "-n", "1")
        assert warm["lost"] == 0 and warm["rcodes"].get("NOERROR") == warm["sent"], warm["text"]
        first_pids = set(shoal.worker_pids())

        stop = threading.Event()
        kills = []
        thread = threading.Thread(target=killer, args=(shoal, stop, kills), daemon=True)
        thread.start()
        try:
            load = dnsperf(shoal.port, "-l", str(DURATION_S), "-Q", str(RATE_QPS),
                           "-q", str(MAX_OUTSTANDING), timeout=DURATION_S + 60)
        finally:
            stop.set()
            thread.join()

        # Every kill is reported and followed by a replacement (a crash-loop
        # backoff may delay it). The last kill may be a moment old: wait for
        # the supervisor to log it ("restarting now" or "crash loop:
        # restarting in N ms"), for both slots to be served by workers that
        # are not among the victims, and for the "started" line of each (the
        # supervisor logs it just after the fork: the pid shows first).
        killed = {pid for _t, pid in kills}
        for pid in killed:
            shoal.wait_log(rf"worker \d+ \(pid {pid}\) killed by signal 9 .*restarting")
        shoal.wait_workers(2, replacing=killed)
        started = shoal.wait_log(r"worker \d+ started: pid (\d+)", count=2 + len(kills))
        delays = [int(d) for d in re.findall(r"restarting in (\d+) ms", shoal.log())]
        print(f"  seed {SEED}: {len(kills)} kills, restart delays (ms) {delays or [0]}; dnsperf: sent {load['sent']}, completed "
              f"{load['completed']}, lost {load['lost']}, rcodes {load['rcodes']}")
        assert len(kills) >= DURATION_S / KILL_EVERY_S - 2, kills
        assert len(started) == 2 + len(kills), (started, kills)
        assert not ({int(p) for p in started[2:]} & first_pids)
        assert not (set(shoal.worker_pids()) & killed)

        # the cache is consistent: every name answered, NOERROR, nothing lost
        after = dnsperf(shoal.port, "-n", "1")
        assert after["lost"] == 0 and after["rcodes"].get("NOERROR") == after["sent"], \
            after["text"]
        # Known cause of losses (see docs/operations.md): a slot killed again
        # and again within 10 s of its start backs off 1, 2, 4, 8... s; its
        # socket's queries wait that long, and past dnsperf's 5 s timeout
        # they count as lost. Kept strict: issue 5 asks for a replacement
        # within 1 s and 0 lost.
        assert load["lost"] == 0, \
            (f"{load['lost']} of {load['sent']} queries lost across {len(kills)} kills "
             f"(seed {SEED}; longest restart backoff {max(delays or [0])} ms)")
        assert load["rcodes"].get("NOERROR") == load["completed"], load["text"]


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
