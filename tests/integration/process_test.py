#!/usr/bin/env python3
"""The process model: the supervisor forks `workers` workers, replaces a
dead one on the same sockets (with backoff when a slot keeps dying), and
stops everything with exit status 0 on SIGTERM/SIGINT. Every query here is
answered REFUSED by the ACL (127.0.0.1 is not allowed), so no upstream
server is needed. Needs neither root nor the network."""

import os
import signal
import socket
import time

from shoal_harness import (Shoal, alive, build_query, parse_header, run_tests, started_at,
                           wait_for)

# Nobody is allowed: every query gets REFUSED on the hot path, at once.
REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32"]}}


def refused_from_many_ports(port, count=40, timeout=10.0):
    """Sends one query from each of `count` sockets (distinct source ports,
    so SO_REUSEPORT spreads them over every worker's socket) and returns how
    many got REFUSED."""
    socks = []
    try:
        for i in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(build_query("example.com", "A", qid=i), ("127.0.0.1", port))
            socks.append(s)
        refused = 0
        for i, s in enumerate(socks):
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            qid, _flags, rcode, *_ = parse_header(data)
            refused += qid == i and rcode == "REFUSED"
        return refused
    finally:
        for s in socks:
            s.close()


def test_two_workers_are_children_of_the_supervisor():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        pids = shoal.worker_pids()
        assert len(pids) == 2, pids
        for pid in pids:
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
            assert f"PPid:\t{shoal.proc.pid}\n" in status, status
            assert os.readlink(f"/proc/{pid}/exe") == os.readlink(f"/proc/{shoal.proc.pid}/exe")
        assert refused_from_many_ports(shoal.port) == 40


def test_sigterm_stops_everything_with_status_0_within_2s():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        pids = shoal.worker_pids()
        rc, took = shoal.stop(signal.SIGTERM)
        assert rc == 0, (rc, shoal.log())
        assert took < 2.0, took
        assert not any(alive(pid) for pid in pids)
        assert "stopped" in shoal.log()


def test_single_worker_sigterm_and_sigint_stop_promptly():
    # What replay harnesses (Deckard) rely on: supervisor + one worker,
    # foreground, a signal stops it at once with status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        with Shoal(workers=1, config=REFUSE_ALL) as shoal:
            assert len(shoal.worker_pids()) == 1
            assert refused_from_many_ports(shoal.port, count=5) == 5
            rc, took = shoal.stop(sig)
            assert rc == 0 and took < 1.0, (sig, rc, took)


def test_killed_worker_is_replaced_on_the_same_socket():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        before = shoal.worker_pids()
        victim = before[0]
        killed_at = time.clock_gettime(time.CLOCK_BOOTTIME)
        os.kill(victim, signal.SIGKILL)
        # Queries sent at once queue in the dead worker's socket (the
        # supervisor keeps it open) and its replacement answers them.
        assert refused_from_many_ports(shoal.port, count=40) == 40
        after = shoal.wait_workers(2, replacing=[victim])
        replacement = (set(after) - set(before)).pop()
        assert alive(replacement)
        # forked within 1 s of the kill (issue 5), by the kernel's clock:
        # the time this test took to send and check the queries is not in it
        took = started_at(replacement) - killed_at
        assert took < 1.0, f"the replacement started {took:.2f} s after the kill"
        log = shoal.log()
        assert f"(pid {victim}) killed by signal 9" in log, log
        shoal.wait_ready(3)
        # Both slots serve: the replacement took over the dead one's socket.
        assert refused_from_many_ports(shoal.port, count=40) == 40
        counters = shoal.counters()
        assert len(counters) == 2 and all(c["queries.udp"] > 0 for c in counters.values()), \
            counters


def test_a_hung_worker_is_killed_and_replaced():
    # A worker whose loop stops turning (SIGSTOP stands in for a deadlock or
    # an endless loop) is killed after server.hang_timeout and replaced on
    # its socket; a query sent to it meanwhile is answered by the
    # replacement, and the other worker is left alone.
    config = dict(REFUSE_ALL, server={"hang_timeout": "2s"})
    with Shoal(workers=1, config=config) as shoal:
        (victim,) = shoal.worker_pids()
        os.kill(victim, signal.SIGSTOP)
        t0 = time.monotonic()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(8)
            s.sendto(build_query("example.com", "A", qid=9), ("127.0.0.1", shoal.port))
            data = s.recv(4096)
        took = time.monotonic() - t0
        assert parse_header(data)[:3:2] == (9, "REFUSED"), parse_header(data)
        assert 1.5 < took < 5.0, took  # the hang timeout, then a prompt restart
        log = shoal.log()
        assert f"(pid {victim}) is hung" in log, log
        assert victim not in shoal.worker_pids()
    # Off: a stopped worker is left alone.
    config = dict(REFUSE_ALL, server={"hang_timeout": "0s"})
    with Shoal(workers=1, config=config) as shoal:
        (victim,) = shoal.worker_pids()
        os.kill(victim, signal.SIGSTOP)
        time.sleep(3)
        assert shoal.worker_pids() == [victim]
        os.kill(victim, signal.SIGCONT)


def test_a_slot_that_keeps_dying_backs_off():
    # A worker that dies within 1 s of its start (a crash loop) for the
    # second time in a row is restarted after 100 ms, not at once. Whether
    # a death was that quick is the supervisor's measure (the "after N ms"
    # it logs): on a loaded machine the first worker may live past 1 s
    # before this test gets to kill it, and then it takes one kill more.
    with Shoal(workers=1, config=REFUSE_ALL) as shoal:
        (pid,) = shoal.worker_pids()
        quick_deaths = 0
        for _ in range(5):
            os.kill(pid, signal.SIGKILL)
            ((lived, outcome),) = shoal.wait_log(
                rf"\(pid {pid}\) killed by signal 9 \(\w+\) after (\d+) ms; ([^\n]*)")
            quick_deaths = quick_deaths + 1 if int(lived) < 1000 else 0
            if quick_deaths == 2:
                assert outcome == "crash loop: restarting in 100 ms", outcome
                break
            assert outcome == "restarting now", outcome
            (pid,) = shoal.wait_workers(1, replacing=[pid])
        else:
            raise AssertionError(f"no two deaths within 1 s of the start in a row:\n{shoal.log()}")
        shoal.wait_workers(1, replacing=[pid])
        assert refused_from_many_ports(shoal.port, count=5) == 5


def test_workers_follow_a_killed_supervisor():
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        pids = shoal.worker_pids()
        shoal.proc.kill()
        shoal.proc.wait(30)
        wait_for(lambda: not any(alive(pid) for pid in pids), 30, what="workers to exit")


def test_workers_keep_running_queries_while_siblings_restart():
    with Shoal(workers=3, config=REFUSE_ALL) as shoal:
        for _ in range(3):
            os.kill(shoal.worker_pids()[1], signal.SIGKILL)
            assert refused_from_many_ports(shoal.port, count=30) == 30
        shoal.wait_workers(3)
        rc, _ = shoal.stop()
        assert rc == 0


def test_listen_address_in_use_is_a_clear_error():
    shoal = Shoal(workers=1, config=REFUSE_ALL)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", shoal.port))
        busy.listen()
        try:
            shoal.start(wait=False)
            assert shoal.proc.wait(30) == 1
            log = shoal.log()
        finally:
            shoal.__exit__(None, None, None)
    assert f"shoal: listen 127.0.0.1:{shoal.port} (tcp): bind: Address already in use" in log, log
    assert "started" not in log, log


def test_second_supervisor_on_the_same_cache_refuses_to_start():
    # Both would own the segment (a --cold start rebuilds it under the other)
    # and, with SO_REUSEPORT, share a port: the second must refuse, and the
    # first must keep answering.
    with Shoal(workers=1, config=REFUSE_ALL) as first:
        second = Shoal(workers=1, config=REFUSE_ALL, port=first.port,
                       cache_name=first.cache_name, keep_cache=True)
        try:
            second.start(wait=False)
            assert second.proc.wait(30) == 1
            log = second.log()
        finally:
            second.__exit__(None, None, None)
        assert f"cache {first.cache_name} is in use by another shoal (pid {first.proc.pid})" in log, log
        assert refused_from_many_ports(first.port, count=5) == 5
        assert first.proc.poll() is None


if __name__ == "__main__":
    run_tests(globals())
