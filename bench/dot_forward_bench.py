#!/usr/bin/env python3
"""The client and the report of bench/dot-forward-bench.sh (DNS over TLS
forwarding, issue 12).

    dot_forward_bench.py run --port P --names FILE --out FILE --wall FILE
                             [--inflight Q] [--wait S]
        bench/loss_bench.py's stub client (each name once over UDP, each
        from a socket of its own, at most Q in flight, S seconds for each
        answer, never retried; one JSON line per name in --out), timed:
        the wall time from the first query sent to the last answer or
        give-up goes to --wall as {"wall_s": seconds}.

    dot_forward_bench.py report --results DIR --forwarders LIST --rounds R ...
        Reads DIR/<forwarder>.<round>.{jsonl,wall,up-before.json,
        up-after.json} (the client's results, its wall time, and the
        upstream's `shoalctl --json stats` before the forwarder started and
        after its client was done), DIR/shoal.<round>.fwd.json (the shoal
        forwarder's own stats) and DIR/{warm,check}.<round>.jsonl (the
        upstream's warm-up), and prints per forwarder and round, then
        pooled over the rounds: names answered NOERROR, SERVFAIL, other
        rcodes, names without an answer, wall time, answers per second,
        latency p50/p90/p99 of the NOERROR answers, the TLS handshakes the
        upstream completed (and failed), the queries it received and its
        cache misses meanwhile, and for shoal its upstream counters (tls,
        tls_connections, tls_resumed, tls_resent, timeouts); then the
        markdown table for docs/benchmarks.md, what looks wrong (if
        anything) and the whole as one JSON line (also written to --json).

Standard library only.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loss_bench  # noqa: E402  (the stub client)

TITLES = {"shoal": "shoal", "unbound": "Unbound"}


def cmd_run(args):
    started = time.monotonic()
    loss_bench.cmd_run(args)
    wall = time.monotonic() - started
    with open(args.wall, "w") as out:
        json.dump({"wall_s": wall}, out)
    return 0


def load_rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def percentile(values, p):
    """Nearest rank: the smallest value with at least p % at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def count_rcodes(rows):
    c = {"names": len(rows), "noerror": 0, "servfail": 0, "other": 0, "unanswered": 0}
    for row in rows:
        rcode = row["rcode"]
        if rcode is None:
            c["unanswered"] += 1
        elif rcode == 0:
            c["noerror"] += 1
        elif rcode == 2:
            c["servfail"] += 1
        else:
            c["other"] += 1
    return c


def delta(after, before, *path):
    a, b = after, before
    for key in path:
        a, b = a[key], b[key]
    return a - b


def one_run(results, forwarder, r, inflight):
    base = os.path.join(results, f"{forwarder}.{r}")
    rows = load_rows(base + ".jsonl")
    wall = load_json(base + ".wall")["wall_s"]
    before = load_json(base + ".up-before.json")
    after = load_json(base + ".up-after.json")
    run = count_rcodes(rows)
    run["wall_s"] = wall
    run["answers_per_s"] = run["noerror"] / wall if wall > 0 else None
    run["latencies"] = [row["latency"] for row in rows if row["rcode"] == 0]
    # The first burst (the first Q queries, sent at once at the start): they
    # wait for the forwarder's first connections to the upstream.
    run["first"] = [row["latency"] for row in rows[:inflight] if row["rcode"] == 0]
    run["rest"] = [row["latency"] for row in rows[inflight:] if row["rcode"] == 0]
    run["upstream"] = {
        "tls_handshakes": delta(after, before, "tls", "handshakes"),
        "tls_handshake_failures": delta(after, before, "tls", "handshake_failures"),
        "tcp_accepted": delta(after, before, "tcp_clients", "accepted"),
        "queries": delta(after, before, "queries", "total"),
        "cache_misses": delta(after, before, "cache", "misses"),
    }
    if forwarder == "shoal" and os.path.exists(base + ".fwd.json"):
        up = load_json(base + ".fwd.json")["upstream"]
        run["own"] = {key: up[key] for key in ("queries", "timeouts", "errors", "hedges_sent",
                                                "tls", "tls_connections", "tls_resumed",
                                                "tls_resent")}
    return run


def ms(seconds):
    return None if seconds is None else round(1000.0 * seconds, 2)


def pooled(runs):
    """The rounds of one forwarder together: counts summed, latencies
    pooled, wall time and answers per second the median of the rounds,
    counters per round and summed."""
    out = {key: sum(run[key] for run in runs)
           for key in ("names", "noerror", "servfail", "other", "unanswered")}
    latencies = [x for run in runs for x in run["latencies"]]
    out["wall_s_median"] = round(statistics.median(run["wall_s"] for run in runs), 3)
    out["wall_s_rounds"] = [round(run["wall_s"], 3) for run in runs]
    rates = [run["answers_per_s"] for run in runs if run["answers_per_s"] is not None]
    out["answers_per_s_median"] = round(statistics.median(rates), 1) if rates else None
    out["answers_per_s_rounds"] = [round(x, 1) for x in rates]
    for p in (50, 90, 99):
        out[f"latency_p{p}_ms"] = ms(percentile(latencies, p))
    out["latency_max_ms"] = ms(max(latencies) if latencies else None)
    first = [x for run in runs for x in run["first"]]
    rest = [x for run in runs for x in run["rest"]]
    out["first_burst_p50_ms"] = ms(percentile(first, 50))
    out["first_burst_max_ms"] = ms(max(first) if first else None)
    out["after_first_burst_p99_ms"] = ms(percentile(rest, 99))
    out["upstream_rounds"] = [run["upstream"] for run in runs]
    out["upstream_tls_handshakes_rounds"] = [run["upstream"]["tls_handshakes"] for run in runs]
    if all("own" in run for run in runs):
        out["own_upstream_rounds"] = [run["own"] for run in runs]
    return out


def suspicious(forwarder, s, workers, wait):
    """What deserves a look, as sentences (empty: nothing)."""
    notes = []
    title = TITLES.get(forwarder, forwarder)
    if s["servfail"]:
        notes.append(f"{title}: {s['servfail']} SERVFAIL of {s['names']} names")
    if s["other"]:
        notes.append(f"{title}: {s['other']} answers with another rcode than NOERROR or SERVFAIL")
    if s["unanswered"]:
        notes.append(f"{title}: {s['unanswered']} names without an answer within {wait:g} s")
    misses = [u["cache_misses"] for u in s["upstream_rounds"]]
    if any(misses):
        notes.append(f"{title}: the upstream had to resolve questions it had not cached "
                     f"(cache misses per round {misses}): not everything asked was warm")
    failures = [u["tls_handshake_failures"] for u in s["upstream_rounds"]]
    if any(failures):
        notes.append(f"{title}: TLS handshakes that failed at the upstream {failures}")
    if forwarder == "shoal":
        limit = workers * 4  # DotPool::kMaxConnections per worker and upstream
        handshakes = s["upstream_tls_handshakes_rounds"]
        if any(h > limit for h in handshakes):
            notes.append(f"shoal: TLS handshakes per round {handshakes}, more than workers x 4 "
                         f"= {limit}")
        for r, own in enumerate(s.get("own_upstream_rounds", []), 1):
            if own["timeouts"]:
                notes.append(f"shoal: round {r}: {own['timeouts']} upstream timeouts "
                             f"(of {own['queries']} queries)")
            if own["tls_resent"]:
                notes.append(f"shoal: round {r}: {own['tls_resent']} queries sent again after a "
                             "broken TLS connection")
            if own["tls_connections"] > limit:
                notes.append(f"shoal: round {r}: {own['tls_connections']} TLS connections opened, "
                             f"more than workers x 4 = {limit}")
    return notes


def fmt(value, spec=""):
    return "-" if value is None else format(value, spec)


def cmd_report(args):
    forwarders = args.forwarders.split(",")
    rounds = list(range(1, args.rounds + 1))
    print()
    warm_notes = []
    for r in rounds:
        for stage in ("warm", "check"):
            path = os.path.join(args.results, f"{stage}.{r}.jsonl")
            if os.path.exists(path):
                rows = load_rows(path)
                c = count_rcodes(rows)
                lat = [row["latency"] for row in rows if row["rcode"] == 0]
                print(f"upstream {stage:<5} round {r}: NOERROR {c['noerror']}, SERVFAIL "
                      f"{c['servfail']}, other {c['other']}, unanswered {c['unanswered']}; "
                      f"p50 {fmt(ms(percentile(lat, 50)))} ms, p99 {fmt(ms(percentile(lat, 99)))} ms")
                if stage == "check" and c["noerror"] != c["names"]:
                    warm_notes.append(f"round {r}: the upstream answered {c['names'] - c['noerror']}"
                                      " names of the check pass with something else than NOERROR")
    summary = {}
    for f in forwarders:
        runs = []
        for r in rounds:
            if not os.path.exists(os.path.join(args.results, f"{f}.{r}.jsonl")):
                continue
            run = one_run(args.results, f, r, args.inflight)
            runs.append(run)
            up = run["upstream"]
            line = (f"{f:<8} round {r}: NOERROR {run['noerror']}, SERVFAIL {run['servfail']}, "
                    f"other {run['other']}, unanswered {run['unanswered']}; "
                    f"{run['wall_s']:.2f} s, {fmt(run['answers_per_s'], '.0f')}/s; "
                    f"p50 {fmt(ms(percentile(run['latencies'], 50)))} "
                    f"p90 {fmt(ms(percentile(run['latencies'], 90)))} "
                    f"p99 {fmt(ms(percentile(run['latencies'], 99)))} ms (first {args.inflight}: "
                    f"p50 {fmt(ms(percentile(run['first'], 50)))} ms); upstream: handshakes "
                    f"{up['tls_handshakes']} (failed {up['tls_handshake_failures']}), "
                    f"connections {up['tcp_accepted']}, queries {up['queries']}, "
                    f"cache misses {up['cache_misses']}")
            if "own" in run:
                own = run["own"]
                line += (f"; own: tls {own['tls']}, tls_connections {own['tls_connections']}, "
                         f"tls_resumed {own['tls_resumed']}, tls_resent {own['tls_resent']}, "
                         f"upstream queries {own['queries']}, timeouts {own['timeouts']}")
            print(line)
        if runs:
            summary[f] = pooled(runs)
    present = [f for f in forwarders if f in summary]
    n = args.names
    print()
    print(f"| DNS over TLS forwarding ({n} names, each once per forwarder and round, "
          f"{args.inflight} in flight, {args.rounds} round{'s' if args.rounds > 1 else ''}) | "
          + " | ".join(TITLES.get(f, f) for f in present) + " |")
    print("|---|" + "---|" * len(present))

    def row(label, cell):
        print(f"| {label} | " + " | ".join(cell(summary[f], f) for f in present) + " |")

    row("answered NOERROR", lambda s, f: f"{s['noerror']} of {s['names']}")
    row("SERVFAIL / other rcodes", lambda s, f: f"{s['servfail']} / {s['other']}")
    row(f"no answer within {args.wait:g} s", lambda s, f: str(s["unanswered"]))
    row("wall time (median; rounds)", lambda s, f: f"{s['wall_s_median']:.2f} s ("
        + ", ".join(f"{x:.2f}" for x in s["wall_s_rounds"]) + ")")
    row("NOERROR answers per second (median)",
        lambda s, f: fmt(s["answers_per_s_median"], ",.0f"))
    row("latency p50 / p90 / p99 (NOERROR answers)",
        lambda s, f: f"{fmt(s['latency_p50_ms'], '.2f')} / "
        f"{fmt(s['latency_p90_ms'], '.2f')} / {fmt(s['latency_p99_ms'], '.2f')} ms")
    row(f"latency of the first {args.inflight} queries: p50 / max",
        lambda s, f: f"{fmt(s['first_burst_p50_ms'], '.2f')} / {fmt(s['first_burst_max_ms'], '.2f')} ms")
    row(f"latency p99 after the first {args.inflight}",
        lambda s, f: f"{fmt(s['after_first_burst_p99_ms'], '.2f')} ms")
    row("TLS handshakes at the upstream (per round)",
        lambda s, f: ", ".join(str(x) for x in s["upstream_tls_handshakes_rounds"]))
    row("queries the upstream received (per round)",
        lambda s, f: ", ".join(f"{u['queries']:,}" for u in s["upstream_rounds"]))
    if "shoal" in summary and "own_upstream_rounds" in summary["shoal"]:
        own = summary["shoal"]["own_upstream_rounds"]
        row("shoal upstream: tls queries / tls_connections / tls_resumed (per round)",
            lambda s, f: "; ".join(f"{o['tls']} / {o['tls_connections']} / {o['tls_resumed']}"
                                   for o in own) if f == "shoal" else "")
    notes = list(warm_notes)
    for f in present:
        notes += suspicious(f, summary[f], args.workers, args.wait)
    print()
    if notes:
        print("to look at:")
        for note in notes:
            print(f"  {note}")
    else:
        print("to look at: nothing (no SERVFAIL, no timeout, shoal within workers x 4 handshakes)")
    result = {"bench": "dot-forward", "names": n, "rounds": args.rounds,
              "in_flight": args.inflight, "wait_s": args.wait, "workers": args.workers,
              "validation": args.validation, "forwarders": summary, "notes": notes}
    for item in args.meta or []:
        key, _, value = item.partition("=")
        result[key] = value
    line = json.dumps(result, sort_keys=True)
    print()
    print(line)
    if args.json:
        with open(args.json, "w") as out:
            out.write(line + "\n")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--names", required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--wall", required=True)
    run.add_argument("--inflight", type=int, default=50)
    run.add_argument("--wait", type=float, default=5.0)
    report = sub.add_parser("report")
    report.add_argument("--results", required=True)
    report.add_argument("--forwarders", required=True)
    report.add_argument("--rounds", type=int, required=True)
    report.add_argument("--names", type=int, required=True)
    report.add_argument("--inflight", type=int, required=True)
    report.add_argument("--wait", type=float, default=5.0)
    report.add_argument("--workers", type=int, default=2)
    report.add_argument("--validation", default="on")
    report.add_argument("--json")
    report.add_argument("--meta", action="append", help="KEY=VALUE added to the JSON line")
    args = parser.parse_args()
    return {"run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
