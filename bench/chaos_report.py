#!/usr/bin/env python3
"""The report of bench/chaos-soak.sh (issue 15).

    chaos_report.py --run FILE --log FILE --sanitizer-dir DIR
                    --exit-status N [--asan] [--json FILE]
        Reads the run bench/chaos_soak.py wrote, shoal's log (stderr of the
        supervisor and its workers) and the sanitizer's report files
        (ASAN_OPTIONS / UBSAN_OPTIONS log_path); prints the figures, the
        markdown table for docs/benchmarks.md and the verdict; exits 0 when
        the soak passed, 1 otherwise.

The verdict: no query lost after every try; every answer the lab's (rcode
and, for A, the addresses); no sanitizer report (files, and sanitizer,
fatal or bug lines in the log); no worker death but ours (none hung,
none killed for draining too long, no crash); every kill reported by the
supervisor; the upgrade and every reload done; a clean stop (exit status
0); and no memory growth between the second minute and the last one
(growth_checks).

Standard library only.
"""
import argparse
import collections
import json
import os
import re
import statistics
import sys
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_soak import KINDS, TITLES, TRANSPORTS, percentile  # noqa: E402


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z shoal\[(\d+)\]: (.*)$")
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"shoal: fatal:|shoal: bug:")


def parse_log(path, our_kills):
    """What shoal said: deaths (ours and others), restarts, replays, the
    operations, problems."""
    out = {"kills_seen": 0, "restart_delays_ms": [], "crash_loop_lines": [], "replayed": 0,
           "replay_lines": 0, "unexpected_deaths": [], "problems": [], "hung": [],
           "drain_kills": [], "kill_to_ready_ms": [], "reloads_done": 0, "upgrades_done": 0,
           "rollout_failures": [], "stopped": False, "lines": 0}
    killed = {pid for _t, pid in our_kills if pid}
    stopping = False  # after the supervisor's "stopping N worker(s)"
    started = {}  # worker index -> [(time, pid)]
    ready = {}  # pid -> time
    deaths = []  # (time, index, pid)
    with open(path, errors="replace") as f:
        for line in f:
            out["lines"] += 1
            if SANITIZER.search(line):
                out["problems"].append(line.strip()[:300])
            m = LOG_LINE.match(line.strip())
            if not m:
                continue
            when = datetime.fromisoformat(m.group(1)).replace(tzinfo=timezone.utc).timestamp()
            text = m.group(3)
            if (d := re.match(r"(?:warning: |error: )?worker (\d+) \(pid (\d+)(?:, ([a-z ]+))?\) (.*)$",
                              text)):
                index, pid, role, how = int(d.group(1)), int(d.group(2)), d.group(3), d.group(4)
                if "is hung" in how:
                    out["hung"].append(text)
                    continue
                if "still draining" in how:
                    out["drain_kills"].append(text)
                    continue
                if pid in killed:
                    out["kills_seen"] += 1
                    deaths.append((when, index, pid))
                    if (r := re.search(r"restarting in (\d+) ms", how)):
                        out["restart_delays_ms"].append(int(r.group(1)))
                        out["crash_loop_lines"].append(text)
                    elif "restarting now" in how:
                        out["restart_delays_ms"].append(0)
                    continue
                if (role in ("replaced", "being replaced") or stopping) and how == "exited with status 0":
                    continue
                out["unexpected_deaths"].append(text)
                continue
            if re.match(r"[A-Za-z ]+: stopping \d+ worker", text):
                stopping = True
            elif (s := re.match(r"worker (\d+) started: pid (\d+)", text)):
                started.setdefault(int(s.group(1)), []).append((when, int(s.group(2))))
            elif re.match(r"worker (\d+) ready", text):
                ready[int(m.group(2))] = when
            elif (r := re.match(r"worker \d+: answered (\d+) quer", text)):
                out["replayed"] += int(r.group(1))
                out["replay_lines"] += 1
            elif text == "reload: done":
                out["reloads_done"] += 1
            elif text == "upgrade: done":
                out["upgrades_done"] += 1
            elif re.match(r"(error: )?(reload|upgrade|restart) failed", text):
                out["rollout_failures"].append(text)
            elif text == "stopped":
                out["stopped"] = True
    for when, index, _pid in deaths:
        after = [(t, p) for t, p in started.get(index, []) if t >= when - 0.001]
        if after and after[0][1] in ready:
            out["kill_to_ready_ms"].append(round((ready[after[0][1]] - when) * 1000))
    return out


def sanitizer_files(directory):
    reports = []
    if directory and os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            with open(path, errors="replace") as f:
                text = f.read()
            if text.strip():
                first = next((l for l in text.splitlines() if "ERROR" in l or "runtime error" in l),
                             text.splitlines()[0])
                reports.append(f"{name}: {first.strip()[:240]}")
    return reports


def windows(duration):
    """The two windows compared for growth: the second minute and the last
    one (for runs shorter than 5 minutes: the second fifth and the last)."""
    width = min(60.0, duration / 5.0)
    return (width, 2 * width), (duration - width, duration)


def window_figures(samples, lo, hi):
    inside = [s for s in samples if lo <= s["t"] <= hi and not s.get("final")]
    if not inside:
        return None

    def med(values):
        values = [v for v in values if v is not None]
        return round(statistics.median(values)) if values else None

    sup = [s["supervisor"] for s in inside if s["supervisor"]]
    workers = [s["workers"] for s in inside]
    caches = [s["cache"] for s in inside if s["cache"]]
    return {
        "samples": len(inside),
        "supervisor_rss_kib": med([x["VmRSS"] for x in sup]),
        "supervisor_anon_kib": med([x.get("RssAnon") for x in sup]),
        "supervisor_fds": med([x["fds"] for x in sup]),
        "workers_live": med([len(w) for w in workers]),
        "workers_rss_kib": med([sum(x["VmRSS"] for x in w) for w in workers if w]),
        "workers_anon_kib": med([sum(x.get("RssAnon", 0) for x in w) for w in workers if w]),
        "worker_anon_kib": med([x.get("RssAnon") for w in workers for x in w]),
        "worker_shmem_kib": med([x.get("RssShmem") for w in workers for x in w]),
        "worker_fds": med([x["fds"] for w in workers for x in w]),
        "worker_age_s": med([x["age_s"] for w in workers for x in w]),
        "cache_entries": med([c["entries"] for c in caches]),
        "cache_bytes": med([c["bytes"] for c in caches]),
        "cache_fill_percent": (round(statistics.median([c["fill_percent"] for c in caches
                                                        if c["fill_percent"] is not None]), 2)
                               if caches else None),
    }


def growth_checks(first, last, asan):
    """(text, passed) for each memory figure compared. Tolerances: the
    supervisor's anonymous memory may grow by 5 % or 2 MiB (whichever is
    more), the live workers' together by 10 % or 8 MiB (workers restart
    all the time: they are compared at the ages they reach in each window);
    the supervisor's descriptors not at all (±2 for the sockets of the
    moment)."""
    checks = []
    slack = 2 if not asan else 4  # MiB; ASan's allocator holds freed blocks in quarantine

    def check(label, a, b, pct, mib):
        if a is None or b is None:
            checks.append((f"{label}: not sampled", False))
            return
        limit = max(a * (1 + pct / 100.0), a + mib * 1024)
        checks.append((f"{label}: {a / 1024:.1f} -> {b / 1024:.1f} MiB "
                       f"(limit {limit / 1024:.1f} MiB)", b <= limit))
    check("supervisor RssAnon", first["supervisor_anon_kib"], last["supervisor_anon_kib"], 5, slack)
    check("live workers' RssAnon, summed", first["workers_anon_kib"], last["workers_anon_kib"],
          10, 4 * slack)
    a, b = first["supervisor_fds"], last["supervisor_fds"]
    checks.append((f"supervisor descriptors: {a} -> {b}", a is not None and b is not None and b <= a + 2))
    return checks


def fmt_ms(v):
    return "-" if v is None else f"{v:g}"


def cmd_report(args):
    run = json.load(open(args.run))
    log = parse_log(args.log, run["kills"])
    reports = sanitizer_files(args.sanitizer_dir)
    duration = run["duration_s"]
    (a0, a1), (b0, b1) = windows(duration)
    first, last = window_figures(run["samples"], a0, a1), window_figures(run["samples"], b0, b1)
    kills = [k for k in run["kills"] if k[1]]
    t, k = run["by_transport"], run["by_kind"]
    sent = sum(s["sent"] for s in t.values())
    lost = sum(s["lost"] for s in t.values())
    answered = sum(s["answered"] for s in t.values())
    unexpected = sum(s["unexpected"] for s in t.values())
    rcodes = collections.Counter()
    for s in t.values():
        rcodes.update(s["rcodes"])
    ops = run["operations"]
    reloads = [o for o in ops if o["what"] == "reload"]
    upgrades = [o for o in ops if o["what"] == "upgrade"]
    op_retries = sum(len(o["tries"]) - 1 for o in ops)
    last_counters = next((s["counters"] for s in reversed(run["samples"]) if s.get("counters")), {})

    print()
    print(f"chaos-soak: {duration:g} s, seed {run['seed']}; rates {run['rates_qps']} qps, mix "
          f"{run['mix']}; {len(kills)} kills (every {run['kill_every_s']:g} s), "
          f"{len(reloads)} reloads, {len(upgrades)} upgrade(s)")
    print(f"{'':10}{'sent':>9}{'answered':>10}{'lost':>6}  tries 1/2/3            "
          f"first-try failures (near: kill/reload/upgrade/nothing)   p50/p99/max ms")
    for name in TRANSPORTS:
        if name not in t:
            continue
        s = t[name]
        tries = "/".join(str(s["tries"].get(str(i), 0)) for i in (1, 2, 3))
        f1 = run["failed_tries"].get(f"{name} try 1", {"count": 0, "causes": {}})
        causes = "/".join(str(f1["causes"].get(c, 0)) for c in ("kill", "reload", "upgrade", "nothing"))
        lat = s["latency_ms"]
        print(f"{name:10}{s['sent']:>9}{s['answered']:>10}{s['lost']:>6}  {tries:22} "
              f"{f1['count']:>6} ({causes}){'':24}{fmt_ms(lat['p50'])}/{fmt_ms(lat['p99'])}/"
              f"{fmt_ms(lat['max'])}")
    for key, entry in sorted(run["failed_tries"].items()):
        print(f"  failed {key}: {entry['count']}: causes {entry['causes']}; {entry['reasons']}")
    for name in KINDS:
        if name in k:
            s = k[name]
            print(f"{name:10}{s['sent']:>9} rcodes {s['rcodes']}, not the lab's answer {s['unexpected']}")
    for u in run["unexpected"][:10]:
        print(f"  unexpected: {u}")
    for l in run["lost"][:20]:
        print(f"  lost: {l}")
    print(f"connections: {run['connections']}")
    cpu = run["timing"].get("cpu_s", {})
    if cpu:
        span = run["timing"]["drained_s"]
        print(f"CPU over {span:.0f} s, in cores: shoal {cpu['shoal'] / span:.2f}, the soak's clients "
              f"{cpu['client'] / span:.2f}, the rest of the machine {cpu['other'] / span:.2f} "
              f"(of {cpu['cores']}); load average median "
              f"{statistics.median([s['load'] for s in run['samples'] if 'load' in s] or [0]):.1f}")
    early = sum(1 for f in run["failures"] if f["try"] == 1 and f["t"] < 10)
    print(f"first tries without an answer in the first 10 s (the cold start): {early}")
    print(f"client loop lag: {run['client_loop_lag']}")
    delays = log["restart_delays_ms"]
    ready = log["kill_to_ready_ms"]
    print(f"kills: {len(kills)} sent, {log['kills_seen']} reported by the supervisor; restarts at once "
          f"{sum(1 for d in delays if d == 0)}, after a crash-loop backoff "
          f"{sum(1 for d in delays if d)} ({sorted(d for d in delays if d)} ms); death to successor "
          f"ready: median {percentile(ready, 50)} ms, max {max(ready) if ready else None} ms")
    print(f"journal: {log['replayed']} queries a killed worker had read answered by its successor "
          f"({log['replay_lines']} times); shoal's counters: {last_counters}")
    for o in ops:
        print(f"{o['what']} at {o['start']:.1f} s: {'ok' if o['ok'] else 'FAILED'} in "
              f"{o['end'] - o['start']:.2f} s, {len(o['tries'])} tr{'y' if len(o['tries']) == 1 else 'ies'}"
              + "".join(f"; try {i + 1}: {x['error']}" for i, x in enumerate(o['tries']) if x['error']))
    for label, w in (("first", first), ("last", last)):
        print(f"memory, {label} window: {w}")
    print(f"sanitizer reports: {len(reports) + len(log['problems'])}")
    for r in reports + log["problems"]:
        print(f"  {r}")
    for x in log["unexpected_deaths"] + log["hung"] + log["drain_kills"]:
        print(f"  shoal said: {x}")

    asan = bool(args.asan)
    checks = [
        (f"queries lost (no answer after every try): {lost} of {sent}", lost == 0 and sent > 0),
        (f"answers other than the lab's (rcode or address): {unexpected} of {answered}", unexpected == 0),
        (f"sanitizer reports: {len(reports) + len(log['problems'])}"
         + ("" if asan else " (not a sanitizer build: nothing to report)"),
         not reports and not log["problems"]),
        (f"worker deaths not ours, hung workers: {len(log['unexpected_deaths'])}, {len(log['hung'])}",
         not log["unexpected_deaths"] and not log["hung"]),
        (f"every kill reported and followed by a successor: {log['kills_seen']} of {len(kills)}",
         log["kills_seen"] == len(kills)),
        (f"the upgrade and every reload done: {sum(o['ok'] for o in ops)} of {len(ops)}"
         f" ({op_retries} retried after a kill hit a successor)", all(o["ok"] for o in ops)),
        (f"shoal stopped cleanly: exit status {args.exit_status}", args.exit_status == 0 and log["stopped"]),
    ]
    if first and last:
        checks += growth_checks(first, last, asan)
    else:
        checks.append(("memory windows: not enough samples", False))
    passed = all(ok for _, ok in checks)

    print()
    print("| chaos soak | figure |")
    print("|---|---|")
    print(f"| queries sent (UDP / TCP / DoT / DoH) | {sent:,} ("
          + " / ".join(f"{t[x]['sent']:,}" if x in t else "0" for x in TRANSPORTS) + ") |")
    print(f"| lost after every try | **{lost}** |")
    for name in TRANSPORTS:
        if name in t:
            f1 = run["failed_tries"].get(f"{name} try 1", {"count": 0, "causes": {}})
            f2 = run["failed_tries"].get(f"{name} try 2", {"count": 0})
            c = f1["causes"]
            print(f"| {TITLES[name]}: first tries without an answer "
                  f"(near a kill / reload / upgrade / nothing); second tries | {f1['count']} "
                  f"({c.get('kill', 0)} / {c.get('reload', 0)} / {c.get('upgrade', 0)} / "
                  f"{c.get('nothing', 0)}); {f2['count']} |")
    print("| answers by rcode | " + ", ".join(f"{r} {n:,}" for r, n in rcodes.most_common()) + " |")
    print(f"| answers other than the lab's | {unexpected} |")
    print("| latency p50 / p99 / max, ms (UDP / TCP / DoT / DoH) | " + "; ".join(
        f"{fmt_ms(t[x]['latency_ms']['p50'])} / {fmt_ms(t[x]['latency_ms']['p99'])} / "
        f"{fmt_ms(t[x]['latency_ms']['max'])}" for x in TRANSPORTS if x in t) + " |")
    print(f"| workers killed (SIGKILL) / restarted at once / after a backoff | {len(kills)} / "
          f"{sum(1 for d in delays if d == 0)} / {sum(1 for d in delays if d)} |")
    print(f"| death to successor ready, median / max | {percentile(ready, 50)} / "
          f"{max(ready) if ready else '-'} ms |")
    print(f"| queries read by a killed worker, answered by its successor | {log['replayed']} |")
    print(f"| reloads / upgrades done (tries repeated after a kill) | "
          f"{sum(o['ok'] for o in reloads)} of {len(reloads)} / {sum(o['ok'] for o in upgrades)} of "
          f"{len(upgrades)} ({op_retries}) |")
    if first and last:
        print(f"| supervisor RssAnon, {a0:g}-{a1:g} s / {b0:g}-{b1:g} s | "
              f"{first['supervisor_anon_kib'] / 1024:.1f} / {last['supervisor_anon_kib'] / 1024:.1f} MiB |")
        print(f"| supervisor VmRSS / descriptors | {first['supervisor_rss_kib'] / 1024:.1f} / "
              f"{last['supervisor_rss_kib'] / 1024:.1f} MiB; {first['supervisor_fds']} / "
              f"{last['supervisor_fds']} |")
        print(f"| live workers' RssAnon summed ({first['workers_live']} / {last['workers_live']} "
              f"workers, median age {first['worker_age_s']} / {last['worker_age_s']} s) | "
              f"{first['workers_anon_kib'] / 1024:.1f} / {last['workers_anon_kib'] / 1024:.1f} MiB |")
        print(f"| a worker's RssAnon / RssShmem / descriptors (median) | "
              f"{first['worker_anon_kib'] / 1024:.1f} / {last['worker_anon_kib'] / 1024:.1f} MiB; "
              f"{first['worker_shmem_kib'] / 1024:.1f} / {last['worker_shmem_kib'] / 1024:.1f} MiB; "
              f"{first['worker_fds']} / {last['worker_fds']} |")
        print(f"| shared cache: entries / bytes / fill | {first['cache_entries']:,} / "
              f"{last['cache_entries']:,}; {first['cache_bytes'] / 1048576:.1f} / "
              f"{last['cache_bytes'] / 1048576:.1f} MiB; {first['cache_fill_percent']} / "
              f"{last['cache_fill_percent']} % |")
    print(f"| sanitizer reports | {len(reports) + len(log['problems'])} |")
    if cpu:
        span = run["timing"]["drained_s"]
        print(f"| cores busy: shoal / the soak's clients / everything else (of {cpu['cores']}) | "
              f"{cpu['shoal'] / span:.2f} / {cpu['client'] / span:.2f} / {cpu['other'] / span:.2f} |")
    print()
    print("verdict: " + ("PASSED" if passed else "FAILED"))
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {text}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"passed": passed, "checks": checks, "log": {k: v for k, v in log.items()},
                       "sanitizer_reports": reports, "first_window": first, "last_window": last,
                       "windows": [[a0, a1], [b0, b1]]}, out)
    return 0 if passed else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--sanitizer-dir")
    parser.add_argument("--asan", action="store_true", help="the binary is a sanitizer build")
    parser.add_argument("--exit-status", type=int, required=True)
    parser.add_argument("--json")
    return cmd_report(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
