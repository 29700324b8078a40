#!/usr/bin/env python3
"""Many idle client connections (issue 13): 100,000 TCP connections held
open across 6 workers (this machine allows 20,000 open files per process,
so 6 client processes hold them too), every one still served afterwards,
and what each costs a worker in memory. Needs neither root nor the
network: the clients bind 127.0.0.x source addresses so that the ports of
one address do not run out."""

import multiprocessing
import os
import socket
import struct

from shoal_harness import Shoal, build_query, run_tests, wait_for

REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32"]}}
WORKERS = 6
CONNECTIONS = 100_000
CLIENT_PROCESSES = 6
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: the port is picked at connect, per 4-tuple


def sanitizer_build():
    with open(os.environ.get("SHOAL_BIN", "../../build/bin/shoal"), "rb") as f:
        return b"__asan_init" in f.read()


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tcp_memory_pages():
    """Pages the kernel's TCP sockets use (/proc/net/sockstat "mem")."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
    return 0


def hold(index, port, count, ready, go, result):
    """One client process: `count` connections from its own source
    addresses, held idle until `go`, then one query on each."""
    socks = []
    try:
        for i in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((f"127.0.{index + 1}.{1 + i % 8}", 0))
            s.connect(("127.0.0.1", port))
            socks.append(s)
        ready.put(len(socks))
        go.wait()
        query = build_query("x.example", "A", qid=7)
        frame = struct.pack("!H", len(query)) + query
        for s in socks:
            s.sendall(frame)
        answered = 0
        for s in socks:
            s.settimeout(60)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            if len(data) >= 14 and struct.unpack("!H", data[2:4])[0] == 7:
                answered += 1
        result.put(answered)
    except Exception as e:  # reported to the test, which fails
        ready.put(f"client {index}: {e!r} after {len(socks)} connections")
        result.put(0)
    finally:
        for s in socks:
            s.close()


def test_a_hundred_thousand_idle_connections_are_held_and_served():
    config = dict(REFUSE_ALL, server={"tcp_idle_timeout": "10m", "tcp_max_clients": 19000,
                                      "tcp_max_per_client": 19000})
    with Shoal(workers=WORKERS, config=config) as shoal:
        pids = shoal.worker_pids()
        assert len(pids) == WORKERS, pids
        rss_before = sum(vm_rss_kib(p) for p in pids)
        kernel_before = tcp_memory_pages()
        ctx = multiprocessing.get_context("fork")
        ready, result, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        per = CONNECTIONS // CLIENT_PROCESSES
        counts = [per + (1 if i < CONNECTIONS % CLIENT_PROCESSES else 0)
                  for i in range(CLIENT_PROCESSES)]
        procs = [ctx.Process(target=hold, args=(i, shoal.port, n, ready, go, result))
                 for i, n in enumerate(counts)]
        for p in procs:
            p.start()
        try:
            held = [ready.get(timeout=600) for _ in procs]
            assert all(isinstance(n, int) for n in held), held
            assert sum(held) == CONNECTIONS, held
            wait_for(lambda: shoal.ctl_json("stats")["tcp_clients"]["accepted"] >= CONNECTIONS,
                     300, interval=0.5, what="every connection accepted")
            stats = shoal.ctl_json("stats")["tcp_clients"]
            assert stats["accepted"] == CONNECTIONS and stats["refused"] == 0, stats
            assert stats["idle_closed"] == 0 and stats["idle_evicted"] == 0, stats
            rss = sum(vm_rss_kib(p) for p in pids) - rss_before
            kernel = (tcp_memory_pages() - kernel_before) * 4096
            print(f"{CONNECTIONS} idle connections over {WORKERS} workers: "
                  f"{rss * 1024 / CONNECTIONS:.0f} B of worker RSS each; "
                  f"TCP socket buffers (both ends, sockstat mem) {kernel / CONNECTIONS:.0f} B each")
            if not sanitizer_build():
                # The record (384 B), libuv's epoll entry and the allocator's
                # share: well under 1 KiB. (ASan's redzones inflate it.)
                assert rss * 1024 / CONNECTIONS < 1024, rss
            # Every one of them is still served.
            go.set()
            answered = [result.get(timeout=600) for _ in procs]
            assert sum(answered) == CONNECTIONS, answered
        finally:
            go.set()
            for p in procs:
                p.join(timeout=120)
                if p.is_alive():
                    p.kill()


if __name__ == "__main__":
    run_tests(globals())
