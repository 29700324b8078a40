#!/usr/bin/env python3
"""The load and the report of bench/tcp-qps-bench.sh (cache-hit queries per
second and CPU per answer over TCP, DNS over TLS and DNS over HTTPS, issue
13).

    tcp_qps_bench.py load --mode udp|tcp|dot|doh-post|doh-get --port P
                          --names FILE --tree PID --out FILE
                          [--seconds S | --once] [--clients C]
                          [--in-flight Q] [--doh-uri URI] [--labctl PATH]
                          [--shoalctl BIN --shoal-config FILE]
        Runs dnsperf (-m MODE; doh-post and doh-get: -m doh with
        -O doh-method=POST or GET and -O doh-uri=URI, default
        https://shoal.test/dns-query) against 127.0.0.1:P with the query
        file, for S seconds (-l S) or once through it (-n 1), C clients
        (TCP, DoT and DoH: C connections), at most Q queries in flight
        (DoH: HTTP/2 streams, all connections together); doh-post only:
        TCP_NODELAY set on dnsperf's sockets as it starts (set_nodelay says
        why). Around it: the
        CPU time (utime + stime of /proc/PID/stat, all threads) of the
        process PID and its children (shoal: the supervisor, its workers
        and any other child), read just before dnsperf starts and just
        after it ends (also per thread); dnsperf's own CPU time (getrusage
        of the child); the machine's busy time (/proc/stat), less these
        two: the rest (another program on the cores shows there); the
        lab's packet counters (reset before, read after: anything but
        0 means a query went upstream, i.e. was not a cache hit); for
        shoal, `shoalctl --json stats` before and after (cache hits and
        misses, TCP connections accepted, TLS handshakes, DoH queries and
        requests answered with an HTTP error). Writes one JSON object to
        --out and prints a one-line summary.

    tcp_qps_bench.py report --results DIR --rounds R --seconds S
                            --clients C --in-flight Q --names N
                            [--modes tcp,dot,doh-post,doh-get] [--meta K=V]...
                            [--json FILE]
        Reads DIR/<resolver>.<mode>.<round>.json (the modes given, all
        four by default) and prints per resolver, transport and round; the
        markdown table for docs/benchmarks.md (medians of the rounds); what
        looks wrong (answers other than NOERROR, queries lost, packets
        upstream, cache misses, requests answered with an HTTP error or
        fewer DoH queries counted by shoal than answers, a process that
        came or went during a load, a quarter of a core or more busy with
        something else); and the whole as one JSON line (also written to
        --json).

Standard library only.
"""
import argparse
import ctypes
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree

TITLES = {"shoal": "shoal", "unbound": "Unbound"}
MODES = {"tcp": "TCP", "dot": "DoT", "doh-post": "DoH POST", "doh-get": "DoH GET"}
# dnsperf's -m and its DoH method (-O doh-method), by mode.
DNSPERF_MODES = {"udp": ("udp", None), "tcp": ("tcp", None), "dot": ("dot", None),
                 "doh-post": ("doh", "POST"), "doh-get": ("doh", "GET")}
TICK = os.sysconf("SC_CLK_TCK")
# The modes whose dnsperf sockets get TCP_NODELAY (set_nodelay).
NODELAY_MODES = {"doh-post"}
SYS_PIDFD_GETFD = 438  # pidfd_getfd(2), Linux 5.6 (the common number, x86-64 included)


def tree(root):
    """The process root and its children (pids)."""
    pids = [root]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == root:  # field 4, ppid
            pids.append(int(entry))
    return sorted(pids)


def cpu_ticks(path):
    """utime + stime of /proc/PID/stat (a process, all its threads) or
    /proc/PID/task/TID/stat (one thread), in clock ticks."""
    with open(path) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15


def cpu_of(pids):
    """{pid: ticks}, {"pid/tid": ticks} of every thread."""
    procs, threads = {}, {}
    for pid in pids:
        try:
            procs[pid] = cpu_ticks(f"/proc/{pid}/stat")
            for tid in os.listdir(f"/proc/{pid}/task"):
                threads[f"{pid}/{tid}"] = cpu_ticks(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            pass
    return procs, threads


def machine_busy_ticks():
    """Busy time of all cores (/proc/stat "cpu": all but idle and iowait),
    in clock ticks."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]  # user .. steal, less idle, iowait


def lab_packets(labctl, reset=True):
    if not labctl:
        return None
    cmd = [labctl, "counters", "--json"] + (["--reset"] if reset else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return sum(json.loads(out).values())


def shoal_stats(args):
    if not args.shoalctl:
        return None
    out = subprocess.run([args.shoalctl, "--config", args.shoal_config, "--json", "stats"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def set_nodelay(pid, want, timeout=5.0):
    """Sets TCP_NODELAY on the TCP sockets of process pid (dnsperf) through
    duplicates of its descriptors (pidfd_getfd(2): root, Linux 5.6), polling
    until `want` sockets have it, the process has ended or `timeout` seconds
    have passed. Returns how many have it.

    Why: dnsperf 2.10 sets no TCP_NODELAY, and sends a DoH POST as two
    writes, the HEADERS frame then the DATA frame; Nagle's algorithm holds
    the DATA frame until the server acknowledges the HEADERS frame, which,
    having nothing to answer yet, it does only when its delayed ACK fires (up
    to 40 ms). A POST load then measures that timer (both resolvers alike:
    28 ms average latency, 7,000 answers/s, the cores mostly idle), not the
    resolver. Browsers and curl set TCP_NODELAY; so this does for dnsperf.
    dnsperf opens its C sockets at start, before its first query."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    pidfd = os.pidfd_open(pid)
    done = set()
    deadline = time.monotonic() + timeout
    try:
        while len(done) < want and time.monotonic() < deadline:
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                break  # it has ended
            for fd in fds:
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if not target.startswith("socket:") or target in done:
                    continue
                local = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
                if local < 0:
                    continue
                with socket.socket(fileno=local) as sock:  # closes the duplicate only
                    if sock.type == socket.SOCK_STREAM:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        done.add(target)
            time.sleep(0.001)
    finally:
        os.close(pidfd)
    return len(done)


def parse_dnsperf(text):
    # The query figures; the connection figures ("Connection Statistics:",
    # TCP and DoT) follow with an "Average Latency" of their own.
    stats, _, conns = text.partition("Connection Statistics:")

    def num(pattern, cast=float, default=None, where=stats):
        m = re.search(pattern, where, re.M)
        return cast(m.group(1)) if m else default
    rcodes = {}
    m = re.search(r"^\s*Response codes:\s*(.*)$", stats, re.M)
    if m:
        for name, count in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            rcodes[name] = int(count)
    return {
        "sent": num(r"Queries sent:\s+(\d+)", int, 0),
        "completed": num(r"Queries completed:\s+(\d+)", int, 0),
        "lost": num(r"Queries lost:\s+(\d+)", int, 0),
        "interrupted": num(r"Queries interrupted:\s+(\d+)", int, 0),
        "rcodes": rcodes,
        "run_time_s": num(r"Run time \(s\):\s+([0-9.]+)"),
        "qps": num(r"Queries per second:\s+([0-9.]+)"),
        "latency_avg_s": num(r"Average Latency \(s\):\s+([0-9.]+)"),
        "latency_max_s": num(r"Average Latency \(s\):\s+[0-9.]+ \(min [0-9.]+, max ([0-9.]+)\)"),
        "latency_stddev_s": num(r"Latency StdDev \(s\):\s+([0-9.]+)"),
        "reconnections": num(r"Reconnections:\s+(\d+)", int, where=conns),
        # DoH: the HTTP status of every answer ("200: 1234, 404: 5").
        "http_codes": {code: int(n) for code, n in re.findall(
            r"(\w+): (\d+)", num(r"HTTP/2 return codes:\s+(.*)$", str, "", where=conns))},
    }


def delta(after, before, *path):
    a, b = after, before
    for key in path:
        a, b = a[key], b[key]
    return a - b


def cmd_load(args):
    mode, method = DNSPERF_MODES[args.mode]
    cmd = ["dnsperf", "-m", mode, "-s", "127.0.0.1", "-p", str(args.port),
           "-d", args.names, "-c", str(args.clients), "-q", str(args.in_flight), "-t", "5"]
    if method:
        cmd += ["-O", f"doh-method={method}", "-O", f"doh-uri={args.doh_uri}"]
    cmd += ["-n", "1"] if args.once else ["-l", str(args.seconds)]
    stats_before = shoal_stats(args)
    lab_packets(args.labctl)
    pids = tree(args.tree)
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = cpu_of(pids)
    busy_before = machine_busy_ticks()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    nodelay = set_nodelay(proc.pid, args.clients) if args.mode in NODELAY_MODES else None
    stdout, stderr = proc.communicate()
    busy_after = machine_busy_ticks()
    cpu_after = cpu_of(pids)
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    pids_after = tree(args.tree)
    packets = lab_packets(args.labctl)
    stats_after = shoal_stats(args)
    if proc.returncode != 0:
        sys.stderr.write(stdout + stderr)
        print(f"tcp_qps_bench: dnsperf exited {proc.returncode}", file=sys.stderr)
        return 1
    result = parse_dnsperf(stdout)
    (cpu_before, threads_before), (cpu_after, threads_after) = cpu_before, cpu_after
    per_pid = {str(p): (cpu_after[p] - cpu_before[p]) / TICK for p in cpu_before if p in cpu_after}
    per_thread = {t: (threads_after[t] - threads_before[t]) / TICK
                  for t in threads_before if t in threads_after}
    busy = [v for v in per_thread.values() if v >= 0.01]
    cpu_s = sum(per_pid.values())
    result.update({
        "mode": args.mode, "port": args.port, "clients": args.clients,
        "in_flight": args.in_flight, "seconds": None if args.once else args.seconds,
        "resolver_cpu_s": round(cpu_s, 3),
        "resolver_cpu_s_per_process": per_pid,
        "resolver_cpu_s_per_thread": per_thread,
        "processes_changed": pids != pids_after or len(cpu_after) != len(cpu_before),
        "cpu_us_per_answer": round(cpu_s * 1e6 / result["completed"], 3) if result["completed"] else None,
        "dnsperf_nodelay_sockets": nodelay,
        "dnsperf_cpu_s": round((usage_after.ru_utime + usage_after.ru_stime)
                               - (usage_before.ru_utime + usage_before.ru_stime), 3),
        "lab_packets": packets,
        # Everything the machine's cores did meanwhile, and what of it was
        # neither the resolver nor dnsperf (interrupts and softirqs not
        # charged to them, other programs: a build on the same cores shows
        # here).
        "machine_busy_s": round((busy_after - busy_before) / TICK, 3),
    })
    result["other_cpu_s"] = round(result["machine_busy_s"] - cpu_s - result["dnsperf_cpu_s"], 3)
    if stats_before and stats_after:
        result["shoal"] = {
            "cache_hits": delta(stats_after, stats_before, "cache", "hits"),
            "cache_misses": delta(stats_after, stats_before, "cache", "misses"),
            "queries_tcp": delta(stats_after, stats_before, "queries", "tcp"),
            "tcp_accepted": delta(stats_after, stats_before, "tcp_clients", "accepted"),
            "tcp_refused": delta(stats_after, stats_before, "tcp_clients", "refused"),
            "tcp_paused": delta(stats_after, stats_before, "tcp_clients", "paused"),
            "tls_handshakes": delta(stats_after, stats_before, "tls", "handshakes"),
            "tls_handshake_failures": delta(stats_after, stats_before, "tls", "handshake_failures"),
            "doh_queries": delta(stats_after, stats_before, "doh", "queries"),
            "doh_http_errors": delta(stats_after, stats_before, "doh", "http_errors"),
        }
    with open(args.out, "w") as out:
        json.dump(result, out)
    other = {k: v for k, v in result["rcodes"].items() if k != "NOERROR"}
    print(f"{args.mode}: {result['completed']} answers ({result['qps']:,.0f}/s), "
          f"NOERROR {result['rcodes'].get('NOERROR', 0)}"
          + (f", other {other}" if other else "") + f", lost {result['lost']}, "
          f"latency {result['latency_avg_s'] * 1000:.3f} ms, "
          + (f"HTTP {result['http_codes']}, " if result["http_codes"] else "")
          + (f"TCP_NODELAY on {nodelay} sockets, " if nodelay is not None else "")
          + f"resolver CPU {cpu_s:.2f} s "
          f"({result['cpu_us_per_answer']} us/answer"
          + (f"; threads busy: {', '.join(f'{v:.2f}' for v in busy)} s" if len(busy) > 1 else "")
          + f"), dnsperf CPU {result['dnsperf_cpu_s']:.2f} s, other CPU {result['other_cpu_s']:.2f} s, "
          f"lab packets {packets}")
    return 0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec, suffix=""):
    return "n/a" if value is None else format(value, spec) + suffix


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def problems_of(name, mode, r, run):
    out = []
    where = f"{TITLES[name]} {MODES[mode]} round {r}"
    other = {k: v for k, v in run["rcodes"].items() if k != "NOERROR"}
    if other:
        out.append(f"{where}: answers other than NOERROR: {other}")
    if run["lost"] or run.get("interrupted"):
        out.append(f"{where}: {run['lost']} queries lost, {run.get('interrupted') or 0} interrupted")
    if run["lab_packets"]:
        out.append(f"{where}: {run['lab_packets']} packets reached the lab (not all cache hits)")
    if run["processes_changed"]:
        out.append(f"{where}: a process came or went during the load (crash or restart?)")
    other_cores = run["other_cpu_s"] / run["run_time_s"] if run["run_time_s"] else 0
    if other_cores > 0.25:
        out.append(f"{where}: {other_cores:.2f} cores busy with neither the resolver nor dnsperf "
                   "(another program on the machine?)")
    if run.get("dnsperf_nodelay_sockets") is not None and run["dnsperf_nodelay_sockets"] < run["clients"]:
        out.append(f"{where}: TCP_NODELAY set on {run['dnsperf_nodelay_sockets']} of dnsperf's "
                   f"{run['clients']} connections")
    codes = {k: v for k, v in (run.get("http_codes") or {}).items() if k != "200"}
    if codes:
        out.append(f"{where}: HTTP statuses other than 200: {codes}")
    if run.get("reconnections"):
        out.append(f"{where}: dnsperf reconnected {run['reconnections']} times")
    s = run.get("shoal")
    if s:
        if s["cache_misses"]:
            out.append(f"{where}: {s['cache_misses']} cache misses")
        if s["tcp_refused"] or s["tls_handshake_failures"]:
            out.append(f"{where}: {s['tcp_refused']} connections refused, "
                       f"{s['tls_handshake_failures']} failed handshakes")
        if s.get("doh_http_errors"):
            out.append(f"{where}: {s['doh_http_errors']} requests answered with an HTTP error")
        # Every answer dnsperf got over DoH is a DoH query shoal counted
        # (it may count a few more: queries in flight when the load ended).
        if mode.startswith("doh") and s.get("doh_queries", 0) < run["completed"]:
            out.append(f"{where}: shoal counted {s.get('doh_queries', 0)} DoH queries, "
                       f"dnsperf got {run['completed']} answers")
    return out


def cmd_report(args):
    runs = {}
    modes = [m for m in MODES if m in args.modes.split(",")]
    for name in TITLES:
        for mode in modes:
            for r in range(1, args.rounds + 1):
                path = os.path.join(args.results, f"{name}.{mode}.{r}.json")
                if os.path.exists(path):
                    with open(path) as f:
                        runs.setdefault(name, {}).setdefault(mode, []).append((r, json.load(f)))
    meta = dict(kv.split("=", 1) for kv in args.meta)
    problems = []
    summary = {}
    for name, by_mode in runs.items():
        summary[name] = {}
        for mode, rs in by_mode.items():
            for r, run in rs:
                problems += problems_of(name, mode, r, run)
                print(f"{TITLES[name]:8} {MODES[mode]} round {r}: {run['qps']:,.0f} answers/s, "
                      f"{run['cpu_us_per_answer']} us CPU/answer, latency "
                      f"{run['latency_avg_s'] * 1000:.3f} ms, rcodes {run['rcodes']}, lost {run['lost']}, "
                      f"cores: resolver {run['resolver_cpu_s'] / run['run_time_s']:.2f}, dnsperf "
                      f"{run['dnsperf_cpu_s'] / run['run_time_s']:.2f}, rest "
                      f"{run['other_cpu_s'] / run['run_time_s']:.2f}")
            vals = [run for _, run in rs]
            summary[name][mode] = {
                "qps": round(median([v["qps"] for v in vals]), 1),
                "qps_rounds": [round(v["qps"]) for v in vals],
                "cpu_us_per_answer": round(median([v["cpu_us_per_answer"] for v in vals]), 2),
                "cpu_us_per_answer_rounds": [v["cpu_us_per_answer"] for v in vals],
                "latency_avg_ms": round(median([v["latency_avg_s"] for v in vals]) * 1000, 3),
                "resolver_cores": round(median([v["resolver_cpu_s"] / v["run_time_s"] for v in vals]), 2),
                "dnsperf_cores": round(median([v["dnsperf_cpu_s"] / v["run_time_s"] for v in vals]), 2),
                "other_cores": round(median([v["other_cpu_s"] / v["run_time_s"] for v in vals]), 2),
                "answers": sum(v["completed"] for v in vals),
                "rcodes": {k: sum(v["rcodes"].get(k, 0) for v in vals)
                           for k in sorted({k for v in vals for k in v["rcodes"]})},
                "lost": sum(v["lost"] for v in vals),
                "lab_packets": sum(v["lab_packets"] or 0 for v in vals),
            }
            if mode.startswith("doh"):
                summary[name][mode]["http_codes"] = {
                    k: sum((v.get("http_codes") or {}).get(k, 0) for v in vals)
                    for k in sorted({k for v in vals for k in v.get("http_codes") or {}})}
            if vals[0].get("shoal"):
                summary[name][mode]["shoal_stats"] = {
                    k: sum(v["shoal"][k] for v in vals) for k in vals[0]["shoal"]}

    def cell(name, mode, key):
        return summary.get(name, {}).get(mode, {}).get(key)

    print()
    print(f"| cache hits, {args.names} names, {args.clients} connections, {args.in_flight} in flight, "
          f"{args.seconds} s a load, medians of {args.rounds} rounds | shoal | Unbound | shoal/Unbound |")
    print("|---|---|---|---|")
    rows = []
    for mode in modes:
        rows.append((f"{MODES[mode]} queries/s", mode, "qps", ",.0f", ""))
        rows.append((f"{MODES[mode]} CPU per answer", mode, "cpu_us_per_answer", ".2f", " µs"))
    for mode in modes:
        rows.append((f"{MODES[mode]} average latency", mode, "latency_avg_ms", ".3f", " ms"))
    for mode in modes:
        rows.append((f"{MODES[mode]}: cores used by the resolver / dnsperf / the rest "
                     f"(of {meta.get('cores', '?')})", mode, None, None, None))
    ratios = {}
    for label, mode, key, spec, suffix in rows:
        if key is None:
            s = summary.get("shoal", {}).get(mode, {})
            u = summary.get("unbound", {}).get(mode, {})
            print(f"| {label} | " + " | ".join(
                " / ".join(fmt(x.get(k), ".2f") for k in ("resolver_cores", "dnsperf_cores", "other_cores"))
                for x in (s, u)) + " | |")
            continue
        a, b = cell("shoal", mode, key), cell("unbound", mode, key)
        ratios[f"{mode}_{key}"] = ratio(a, b)
        print(f"| {label} | {fmt(a, spec, suffix)} | {fmt(b, spec, suffix)} | {fmt(ratio(a, b), '.2f')} |")
    answers = {n: sum(m["answers"] for m in summary.get(n, {}).values()) for n in TITLES}
    other = {n: sum(c for m in summary.get(n, {}).values() for k, c in m["rcodes"].items() if k != "NOERROR")
             for n in TITLES}
    print(f"| answers other than NOERROR / lost (all loads) | {other['shoal']} of {answers['shoal']:,} / "
          f"{sum(m['lost'] for m in summary.get('shoal', {}).values())} | {other['unbound']} of "
          f"{answers['unbound']:,} / {sum(m['lost'] for m in summary.get('unbound', {}).values())} | |")
    print()
    print("dnsperf runs on the same cores as the resolver: queries/s is bounded by the load "
          "generator as well; CPU per answer is the resolver's own (all its processes)."
          + (" DoH POST: dnsperf with TCP_NODELAY set on its sockets (tcp_qps_bench.py set_nodelay: "
             "without it Nagle's algorithm holds each POST's DATA frame for the server's delayed ACK)."
             if "doh-post" in modes else ""))
    if problems:
        print("What looks wrong:")
        for p in problems:
            print(f"  - {p}")
    else:
        print("Checks: every answer NOERROR, no query lost, no packet to the lab during any load, "
              "no process came or went" + (", no cache miss at shoal" if "shoal" in summary else "")
              + (", every DoH answer an HTTP 200" if any(m.startswith("doh") for m in modes) else "") + ".")
    line = json.dumps({"bench": "tcp-qps", "meta": meta, "names": args.names, "clients": args.clients,
                       "in_flight": args.in_flight, "seconds": args.seconds, "rounds": args.rounds,
                       "modes": modes, "results": summary, "ratios_shoal_unbound": ratios,
                       "problems": problems})
    print(line)
    if args.json:
        with open(args.json, "w") as out:
            out.write(line + "\n")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    load = sub.add_parser("load")
    load.add_argument("--mode", choices=tuple(DNSPERF_MODES), required=True)
    load.add_argument("--port", type=int, required=True)
    load.add_argument("--names", required=True)
    load.add_argument("--tree", type=int, required=True)
    load.add_argument("--out", required=True)
    load.add_argument("--seconds", type=int, default=20)
    load.add_argument("--once", action="store_true")
    load.add_argument("--clients", type=int, default=20)
    load.add_argument("--in-flight", type=int, default=200)
    load.add_argument("--doh-uri", default="https://shoal.test/dns-query")
    load.add_argument("--labctl")
    load.add_argument("--shoalctl")
    load.add_argument("--shoal-config")
    report = sub.add_parser("report")
    report.add_argument("--results", required=True)
    report.add_argument("--rounds", type=int, required=True)
    report.add_argument("--seconds", type=int, required=True)
    report.add_argument("--clients", type=int, required=True)
    report.add_argument("--in-flight", type=int, required=True)
    report.add_argument("--names", type=int, required=True)
    report.add_argument("--modes", default=",".join(MODES),
                        help="the transports loaded, comma-separated (default: all)")
    report.add_argument("--meta", action="append", default=[])
    report.add_argument("--json")
    args = parser.parse_args()
    return cmd_load(args) if args.cmd == "load" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
