#!/usr/bin/env python3
"""Collapsed connections for bench/collapse-bench.sh (issue 13): what a
collapsed connection costs (user and kernel memory) and how long its
revival takes, against the same connection kept open.

  run ADDRESS PORT COUNT CONFIG SHOALCTL NETNS PIDS...

shoal listens on ADDRESS:PORT inside network namespace NETNS (reached
over a veth pair) with server.tcp_collapse on and a 1 s idle timeout; the
clients run here, 4 processes of COUNT/4 connections. Steps:
  1. warm-up: COUNT connections, one query each, then closed (shoal's
     connection slab is then at its peak, as it stays);
  2. COUNT connections, one query each: live and idle (kernel slabs, RSS);
  3. until shoal says they are all collapsed (shoalctl stats): kernel
     slabs, RSS; shoal's server sockets counted in the namespace (ss);
  4. 1000 of them asked again one after another: the time from sending the
     query to its answer on a collapsed connection (revived on the way),
     then again at once on the same, now live, connection;
  5. once the sampled connections have collapsed again, the divert sets
     emptied (nft flush set): the kmalloc slab memory their elements held
     (/proc/slabinfo, active objects x object size), plus the sets' hash
     tables, which come from pages, computed from the kernel's sizing.
User memory per collapsed connection: the RSS of step 3 less the warmed-up
RSS (the store of collapsed tuples). Prints one JSON line. Run it on a
quiet machine: other work moves the kernel counters.

Standard library only."""

import json
import multiprocessing
import socket
import statistics
import struct
import subprocess
import sys
import time

# The same client pieces as the idle-connection benchmark (this directory).
from tcp_idle_bench import IP_BIND_ADDRESS_NO_PORT, frame, query, read_message, rss_kib

PROCESSES = 4
SAMPLES = 1000


def ask(s, qid):
    s.sendall(frame(query(qid)))
    reply = read_message(s)
    if reply is None or struct.unpack("!H", reply[:2])[0] != qid:
        raise RuntimeError("a connection was not answered")


def slab_caches():
    caches = {}
    with open("/proc/slabinfo") as f:
        for line in f:
            fields = line.split()
            if fields and not line.startswith(("slabinfo", "#")):
                caches[fields[0]] = int(fields[1]) * int(fields[3])
    return caches


def slab_bytes():
    return sum(slab_caches().values())


def kmalloc_bytes():
    return sum(v for k, v in slab_caches().items() if k.startswith("kmalloc"))


def table_share(per_set):
    buckets = 1
    while buckets < per_set * 4 / 3:
        buckets *= 2
    return round(buckets * 8 / per_set)


def holder(index, address, port, count, commands, results, source):
    """Opens `count` connections; then obeys: "ask" (one query each),
    "sample N" (timed queries on N connections: collapsed, then live),
    "close"."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(10)
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((source, 0))
            s.connect((address, port))
            socks.append(s)
        results.put(("open", len(socks)))
        while True:
            command = commands.get()
            if command == "ask":
                for i, s in enumerate(socks):
                    ask(s, 1 + i % 60000)
                results.put(("asked", len(socks)))
            elif command.startswith("sample"):
                n = int(command.split()[1])
                collapsed, live = [], []
                for i, s in enumerate(socks[:n]):
                    t0 = time.perf_counter()
                    ask(s, 2)
                    t1 = time.perf_counter()
                    ask(s, 3)
                    t2 = time.perf_counter()
                    collapsed.append((t1 - t0) * 1000)
                    live.append((t2 - t1) * 1000)
                results.put(("sampled", (collapsed, live)))
            elif command == "close":
                break
    except Exception as e:  # noqa: BLE001 - reported to the parent
        results.put(("error", f"holder {index}: {e!r} after {len(socks)}"))
    for s in socks:
        s.close()


class Clients:
    def __init__(self, address, port, count, sources):
        ctx = multiprocessing.get_context("fork")
        self.results = ctx.Queue()
        counts = [count // PROCESSES + (1 if i < count % PROCESSES else 0)
                  for i in range(PROCESSES)]
        self.commands = [ctx.Queue() for _ in counts]
        self.procs = [ctx.Process(target=holder,
                                  args=(i, address, port, n, self.commands[i], self.results,
                                        sources[i]))
                      for i, n in enumerate(counts)]
        for p in self.procs:
            p.start()
        self.count = sum(self.collect("open"))

    def collect(self, kind, procs=None):
        out = []
        for _ in range(procs or len(self.procs)):
            got, value = self.results.get(timeout=600)
            if got == "error":
                raise SystemExit(f"collapse_bench: {value}")
            assert got == kind, (got, kind)
            out.append(value)
        return out

    def ask_all(self):
        for q in self.commands:
            q.put("ask")
        self.collect("asked")

    def sample(self, n):
        self.commands[0].put(f"sample {n}")
        return self.collect("sampled", procs=1)[0]

    def close(self):
        for q in self.commands:
            q.put("close")
        for p in self.procs:
            p.join()


def stats(shoalctl, config):
    out = subprocess.run([shoalctl, "--config", config, "--json", "stats"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["tcp_clients"]


def wait(what, predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"collapse_bench: timed out waiting for {what}")
        time.sleep(0.2)


def server_sockets(netns, port):
    out = subprocess.run(["ip", "netns", "exec", netns, "ss", "-Htn", "state", "established",
                          f"( sport = :{port} )"], check=True, capture_output=True,
                         text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def run(address, port, count, control, shoalctl, netns, pids):
    # 1. warm-up
    # each phase from addresses of its own (the warm-up's ports are in
    # TIME_WAIT); the caller gave the host side of the veth these
    warm = Clients(address, port, count, [f"10.78.0.{11 + i}" for i in range(PROCESSES)])
    warm.ask_all()
    warm.close()
    wait("the warm-up connections closed", lambda: server_sockets(netns, port) == 0)
    time.sleep(1)
    rss_warm = rss_kib(pids)
    collapsed_before = stats(shoalctl, control)["collapsed"]
    # 2. live and idle
    clients = Clients(address, port, count, [f"10.78.0.{21 + i}" for i in range(PROCESSES)])
    clients.ask_all()
    n = clients.count
    slab_live, rss_live = slab_bytes(), rss_kib(pids)
    sockets_live = server_sockets(netns, port)
    # 3. collapsed
    wait("every connection collapsed",
         lambda: stats(shoalctl, control)["collapsed_now"] >= n, timeout=300)
    time.sleep(0.5)
    slab_collapsed, rss_collapsed = slab_bytes(), rss_kib(pids)
    sockets_collapsed = server_sockets(netns, port)
    s = stats(shoalctl, control)
    # 4. revival
    samples = min(SAMPLES, n // PROCESSES)
    revived_before = s["revived"]
    revive_us_before = s["revive_us"]
    collapsed_ms, live_ms = clients.sample(samples)
    s2 = stats(shoalctl, control)
    # 5. the divert sets emptied (once the sampled connections, idle again,
    # have collapsed again): what their elements held (the sockets are gone
    # already). The elements are kmalloc objects: only those caches are
    # counted (the others move with whatever else the machine does).
    # (or closed: a client this busy may count as keep-active by now,
    # whose idle connections close at 3 idle timeouts)
    wait("the sampled connections idle out", lambda: server_sockets(netns, port) == 0,
         timeout=60)
    time.sleep(0.5)
    held = stats(shoalctl, control)["collapsed_now"]
    kmalloc_before = kmalloc_bytes()
    for family in ("ip", "ip6"):
        for worker in range(len(pids)):
            subprocess.run(["ip", "netns", "exec", netns, "nft", "flush", "set", family, "shoal",
                            f"w{worker}"], check=True)
    time.sleep(2)  # elements are freed after an RCU grace period
    kmalloc_after = kmalloc_bytes()
    clients.close()
    result = {
        "connections": n,
        "server_sockets_live": sockets_live,
        "server_sockets_collapsed": sockets_collapsed,
        "collapsed": s["collapsed"] - collapsed_before,
        "elements_flushed": held,
        "kernel_element_bytes_per_collapsed": round((kmalloc_before - kmalloc_after) / held),
        # the sets' hash tables (rhashtable: 8-octet buckets, a power of two
        # at least 4/3 of the elements once it has shrunk to fit; allocated
        # from pages, not slabs): computed, not measured
        "kernel_table_bytes_per_collapsed": table_share(held // len(pids)),
        "server_end_bytes_per_live_freed_by_collapse": round((slab_live - slab_collapsed) / n),
        "user_bytes_per_collapsed": round((rss_collapsed - rss_warm) * 1024 / n),
        "revived": s2["revived"] - revived_before,
        "revive_failed": s2["revive_failed"],
        "shoal_revive_us_mean": round((s2["revive_us"] - revive_us_before) /
                                      max(1, s2["revived"] - revived_before), 1),
        "query_on_collapsed_ms_p50": round(statistics.median(collapsed_ms), 3),
        "query_on_collapsed_ms_p99": round(percentile(collapsed_ms, 0.99), 3),
        "query_on_live_ms_p50": round(statistics.median(live_ms), 3),
        "query_on_live_ms_p99": round(percentile(live_ms, 0.99), 3),
        "samples": len(collapsed_ms),
    }
    result["kernel_bytes_per_collapsed"] = (result["kernel_element_bytes_per_collapsed"] +
                                            result["kernel_table_bytes_per_collapsed"])
    result["total_bytes_per_collapsed"] = (result["kernel_bytes_per_collapsed"] +
                                           result["user_bytes_per_collapsed"])
    result["revival_ms_p50"] = round(result["query_on_collapsed_ms_p50"] -
                                     result["query_on_live_ms_p50"], 3)
    print(json.dumps(result), flush=True)


def main():
    if len(sys.argv) < 9 or sys.argv[1] != "run":
        raise SystemExit(__doc__)
    run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7],
        [int(p) for p in sys.argv[8:]])


if __name__ == "__main__":
    main()
