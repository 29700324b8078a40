#!/usr/bin/env python3
"""The stub client and the report of bench/loss-bench.sh (issue 12).

    loss_bench.py probe PORT
        Sends one header-only query (no question, so no resolver can go
        upstream for it) and exits 0 when any reply comes back within
        0.2 s, 1 otherwise: the readiness probe, which leaves the cache
        cold and the lab's counters untouched.

    loss_bench.py run --port P --names FILE --out FILE [--inflight Q] [--wait S]
        Asks the resolver on 127.0.0.1:P every name of FILE (dnsperf format,
        "name TYPE" per line) once over UDP, each from a socket of its own,
        as a stub that never retries would: at most Q queries in flight
        (default 20), each given S seconds (default 5, what glibc's stub
        waits before its first retry). Writes one JSON line per name (name,
        rcode or null, latency in seconds or null, answer records) to --out
        and prints a one-line summary.

    loss_bench.py report --results DIR --resolvers LIST --loss LIST ...
        Reads DIR/<resolver>.<loss>.<round>.{jsonl,counters.json,seconds}
        and prints per resolver and loss level the fractions answered within
        1, 2 and 3 s, SERVFAILs, other failures, unanswered names and
        upstream packets per name; then the markdown table for
        docs/benchmarks.md and the verdict against the goal of issue 12.

"Answered" means a reply with rcode NOERROR or NXDOMAIN: an answer a user
can use. SERVFAIL (and any other rcode) is a failure, counted apart; a name
without any reply within the wait is unanswered. Fractions are of all names
asked, pooled over the rounds. Standard library only.
"""
import argparse
import json
import os
import random
import select
import selectors
import socket
import statistics
import struct
import sys
import time

QTYPES = {"A": 1, "AAAA": 28, "TXT": 16, "MX": 15, "NS": 2, "SOA": 6}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
RESOLVER_TITLES = {"shoal": "shoal", "kresd": "Knot Resolver", "unbound": "Unbound"}
LIMITS = (1.0, 2.0, 3.0)


def encode_name(name):
    labels = [label for label in name.rstrip(".").split(".") if label]
    return b"".join(bytes([len(label)]) + label.encode() for label in labels) + b"\0"


def build_query(qid, name, qtype):
    """A stub's query: RD set, EDNS0 with a 1232-byte buffer, no DO."""
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return header + encode_name(name) + struct.pack(">HH", QTYPES.get(qtype, 1), 1) + opt


def skip_name(wire, at):
    """Offset just past the (possibly compressed) name starting at `at`."""
    while at < len(wire):
        length = wire[at]
        if length == 0:
            return at + 1
        if length & 0xC0 == 0xC0:
            return at + 2
        at += 1 + length
    raise ValueError("name runs past the end")


def parse_reply(wire):
    """(id, rcode, question bytes, answer records of the question's type,
    Extended DNS Error "code text" or None)."""
    if len(wire) < 12:
        raise ValueError("short")
    qid, flags, qdcount, ancount, nscount, arcount = struct.unpack(">HHHHHH", wire[:12])
    if qdcount != 1:
        raise ValueError("no question")
    end = skip_name(wire, 12) + 4
    question = wire[12:end].lower()
    qtype = struct.unpack(">H", wire[end - 4:end - 2])[0]
    at, records, ede = end, 0, None
    for section in range(ancount + nscount + arcount):
        at = skip_name(wire, at)
        rtype, _, _, rdlength = struct.unpack(">HHIH", wire[at:at + 10])
        at += 10
        records += section < ancount and rtype == qtype
        if rtype == 41:  # OPT: look for EDE (RFC 8914, option 15)
            option = at
            while option + 4 <= at + rdlength:
                code, length = struct.unpack(">HH", wire[option:option + 4])
                if code == 15 and length >= 2:
                    info = struct.unpack(">H", wire[option + 4:option + 6])[0]
                    text = wire[option + 6:option + 4 + length].decode("utf-8", "replace")
                    ede = f"{info} {text}".strip()
                option += 4 + length
        at += rdlength
    return qid, flags & 0x000F, question, records, ede


def cmd_probe(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", args.port))
    try:
        sock.send(struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 0, 0, 0, 0))
        ready, _, _ = select.select([sock], [], [], 0.2)
        if ready:
            sock.recv(65535)
            return 0
    except OSError:  # ECONNREFUSED: nothing listens yet
        pass
    return 1


def cmd_run(args):
    questions = []
    for line in open(args.names):
        fields = line.split()
        if fields:
            questions.append((fields[0], fields[1] if len(fields) > 1 else "A"))
    # Each query from its own socket, as a stub sends each lookup from a new
    # source port: the resolver's workers share the port with SO_REUSEPORT,
    # which spreads clients by address and port, so one socket for all
    # would load one worker only.
    poller = selectors.DefaultSelector()
    results = [None] * len(questions)
    waiting = {}  # socket -> (index, id, question wire, sent at)
    todo = 0
    started = time.monotonic()
    while todo < len(questions) or waiting:
        while todo < len(questions) and len(waiting) < args.inflight:
            name, qtype = questions[todo]
            qid = random.randrange(65536)
            wire = build_query(qid, name, qtype)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(("127.0.0.1", args.port))
            try:
                sock.send(wire)
            except OSError:  # the resolver is gone: the name stays unanswered
                pass
            waiting[sock] = (todo, qid, wire[12:-11].lower(), time.monotonic())
            poller.register(sock, selectors.EVENT_READ)
            todo += 1
        deadline = min(entry[3] for entry in waiting.values()) + args.wait
        for key, _ in poller.select(max(0.0, deadline - time.monotonic())):
            sock = key.fileobj
            index, qid, question, sent = waiting[sock]
            try:
                wire = sock.recv(65535)
                received = time.monotonic()
                reply_id, rcode, reply_question, records, ede = parse_reply(wire)
            except (OSError, ValueError, struct.error):
                continue
            if reply_id != qid or reply_question != question:
                continue  # not the answer to this query
            results[index] = (rcode, received - sent, records, ede)
            poller.unregister(sock)
            sock.close()
            del waiting[sock]
        now = time.monotonic()
        for sock, entry in list(waiting.items()):
            if now - entry[3] >= args.wait:
                poller.unregister(sock)
                sock.close()
                del waiting[sock]
    elapsed = time.monotonic() - started
    with open(args.out, "w") as out:
        for (name, qtype), result in zip(questions, results):
            rcode, latency, records, ede = result if result else (None, None, 0, None)
            out.write(json.dumps({"name": name, "type": qtype, "rcode": rcode,
                                  "latency": latency, "records": records, "ede": ede}) + "\n")
    summary = summarise([json.loads(line) for line in open(args.out)])
    print(f"{len(questions)} names in {elapsed:.1f} s: " + describe(summary))
    return 0


def summarise(rows):
    """Counts of one or more runs' rows (pooled)."""
    s = {"names": len(rows), "servfail": 0, "other": 0, "unanswered": 0, "answered": 0,
         "nodata": 0, "within": {limit: 0 for limit in LIMITS}, "latencies": [],
         "servfail_latencies": [], "ede": {}}
    for row in rows:
        rcode = row["rcode"]
        if rcode is None:
            s["unanswered"] += 1
        elif rcode == 2:
            s["servfail"] += 1
            s["servfail_latencies"].append(row["latency"])
            ede = row.get("ede") or "none"
            s["ede"][ede] = s["ede"].get(ede, 0) + 1
        elif rcode in (0, 3):
            s["answered"] += 1
            s["nodata"] += rcode == 0 and row["records"] == 0
            s["latencies"].append(row["latency"])
            for limit in LIMITS:
                s["within"][limit] += row["latency"] <= limit
        else:
            s["other"] += 1
    return s


def fraction(s, limit):
    return 100.0 * s["within"][limit] / s["names"] if s["names"] else 0.0


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))]


def describe(s):
    text = " ".join(f"<={limit:.0f}s {fraction(s, limit):.2f}%" for limit in LIMITS)
    text += (f" answered {s['answered']} servfail {s['servfail']} other {s['other']}"
             f" unanswered {s['unanswered']}")
    if s["latencies"]:
        text += (f" median {1000 * statistics.median(s['latencies']):.1f} ms"
                 f" p99 {1000 * percentile(s['latencies'], 99):.0f} ms")
    return text


def load_runs(results, resolver, loss):
    """[(rows, packets, counters, seconds)] of each round, in round order."""
    runs = []
    prefix = f"{resolver}.{loss}."
    rounds = sorted(int(f[len(prefix):].split(".")[0]) for f in os.listdir(results)
                    if f.startswith(prefix) and f.endswith(".jsonl"))
    for r in rounds:
        base = os.path.join(results, f"{prefix}{r}")
        rows = [json.loads(line) for line in open(base + ".jsonl")]
        counters = json.load(open(base + ".counters.json"))
        seconds = float(open(base + ".seconds").read())
        runs.append((rows, sum(counters.values()), counters, seconds))
    return runs


def role_of(lab_env):
    """Address -> lab role, from `labctl env --json`."""
    roles = {}
    for key, value in lab_env.items():
        if key.endswith("_ADDRS") and key != "LAB_ALL_ADDRS":
            for addr in value.split():
                roles[addr] = key[len("LAB_"):-len("_ADDRS")].lower()
    return roles


def cmd_report(args):
    resolvers = args.resolvers.split(",")
    levels = [int(x) for x in args.loss.split(",")]
    roles = role_of(json.load(open(args.lab_env))) if args.lab_env else {}
    table = {}  # (resolver, loss) -> (summary, packets per name)
    print()
    for loss in levels:
        for resolver in resolvers:
            runs = load_runs(args.results, resolver, loss)
            if not runs:
                continue
            rows = [row for run in runs for row in run[0]]
            s = summarise(rows)
            packets = sum(run[1] for run in runs)
            per_name = packets / len(rows) if rows else float("nan")
            table[(resolver, loss)] = (s, per_name)
            by_role = {}
            for run in runs:
                for addr, count in run[2].items():
                    role = roles.get(addr, addr)
                    by_role[role] = by_role.get(role, 0) + count
            print(f"{loss:>3}% loss  {resolver:<8} {describe(s)}; "
                  f"upstream packets per name {per_name:.2f}")
            detail = ", ".join(f"{role} {count}" for role, count in
                               sorted(by_role.items(), key=lambda kv: -kv[1]) if count)
            per_answer = packets / s["answered"] if s["answered"] else float("nan")
            print(f"            {'':<8} packets by server: {detail or 'none'}; per answered "
                  f"name {per_answer:.2f}; time {' '.join(f'{run[3]:.1f}' for run in runs)} s"
                  + (f"; nodata {s['nodata']}" if s["nodata"] else ""))
            if s["servfail"]:
                late = s["servfail_latencies"]
                reasons = ", ".join(f"{count} EDE {ede}" if ede != "none" else f"{count} no EDE"
                                    for ede, count in sorted(s["ede"].items(), key=lambda kv: -kv[1]))
                print(f"            {'':<8} SERVFAIL after {min(late):.2f}..{max(late):.2f} s "
                      f"(median {statistics.median(late):.2f} s, "
                      f"{sum(x < 0.1 for x in late)} within 0.1 s): {reasons}")
            if len(runs) > 1:
                per_round = [summarise(run[0]) for run in runs]
                print(f"            {'':<8} per round: <=1s "
                      + " ".join(f"{fraction(x, 1.0):.2f}" for x in per_round)
                      + "; servfail " + " ".join(str(x["servfail"]) for x in per_round)
                      + "; packets/name "
                      + " ".join(f"{run[1] / len(run[0]):.2f}" for run in runs))
    print_table(table, resolvers, levels, args)
    print_verdict(table)
    return 0


def print_table(table, resolvers, levels, args):
    present = [r for r in resolvers if any((r, loss) in table for loss in levels)]
    names = args.names
    print()
    print(f"| loss on every authoritative server ({names} cold names per run, "
          f"{args.rounds} round{'s' if args.rounds > 1 else ''}) | "
          + " | ".join(RESOLVER_TITLES.get(r, r) for r in present) + " |")
    print("|---|" + "---|" * len(present))
    rows = [
        ("answered within 1 s", lambda s, p: f"{fraction(s, 1.0):.2f} %"),
        ("answered within 2 s", lambda s, p: f"{fraction(s, 2.0):.2f} %"),
        ("answered within 3 s", lambda s, p: f"{fraction(s, 3.0):.2f} %"),
        ("SERVFAIL", lambda s, p: str(s["servfail"])),
        (f"no answer within {args.wait:g} s", lambda s, p: str(s["unanswered"])),
        ("upstream packets per name", lambda s, p: f"{p:.2f}"),
        ("upstream packets per answered name",
         lambda s, p: f"{p * s['names'] / s['answered']:.2f}" if s["answered"] else "-"),
    ]
    if any(s["other"] for s, _ in table.values()):
        rows.insert(4, ("other rcodes", lambda s, p: str(s["other"])))
    for loss in levels:
        if not any((r, loss) in table for r in present):
            continue
        for label, cell in rows:
            cells = [cell(*table[(r, loss)]) if (r, loss) in table else "" for r in present]
            print(f"| {loss} %: {label} | " + " | ".join(cells) + " |")


def print_verdict(table):
    """The goal of issue 12, for shoal."""
    print()
    checks = []
    if ("shoal", 30) in table:
        s, packets = table[("shoal", 30)]
        checks.append((f"30% loss: within 1 s {fraction(s, 1.0):.2f} % (at least 99.9 %)",
                       fraction(s, 1.0) >= 99.9))
        checks.append((f"30% loss: within 3 s {fraction(s, 3.0):.2f} % (all)",
                       s["within"][3.0] == s["names"]))
        checks.append((f"30% loss: SERVFAIL {s['servfail']} (none)", s["servfail"] == 0))
        if ("kresd", 30) in table:
            theirs_s, theirs = table[("kresd", 30)]
            answered = (f"; per answered name {packets * s['names'] / s['answered']:.2f} against "
                        f"{theirs * theirs_s['names'] / theirs_s['answered']:.2f}"
                        if s["answered"] and theirs_s["answered"] else "")
            checks.append((f"30% loss: upstream packets per name {packets:.2f} "
                           f"(fewer than Knot Resolver's {theirs:.2f}{answered})", packets < theirs))
        else:
            checks.append(("30% loss: packets against Knot Resolver (kresd not run)", None))
    else:
        checks.append(("30% loss (not run)", None))
    if ("shoal", 50) in table:
        s, _ = table[("shoal", 50)]
        checks.append((f"50% loss: within 2 s {fraction(s, 2.0):.2f} % (at least 99 %)",
                       fraction(s, 2.0) >= 99.0))
        checks.append((f"50% loss: SERVFAIL {s['servfail']} (none)", s["servfail"] == 0))
    else:
        checks.append(("50% loss (not run)", None))
    marks = {True: "met", False: "NOT met", None: "n/a"}
    print("goal (issue 12), shoal:")
    for text, ok in checks:
        print(f"  {text}: {marks[ok]}")
    measured = [ok for _, ok in checks if ok is not None]
    if not all(measured):
        overall = "NOT met"
    elif measured and len(measured) == len(checks):
        overall = "met"
    else:
        overall = "incomplete (not every part measured)"
    print(f"  overall: {overall}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    probe = sub.add_parser("probe")
    probe.add_argument("port", type=int)
    run = sub.add_parser("run")
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--names", required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--inflight", type=int, default=20)
    run.add_argument("--wait", type=float, default=5.0)
    report = sub.add_parser("report")
    report.add_argument("--results", required=True)
    report.add_argument("--resolvers", required=True)
    report.add_argument("--loss", required=True)
    report.add_argument("--lab-env")
    report.add_argument("--names", type=int, required=True)
    report.add_argument("--rounds", type=int, default=1)
    report.add_argument("--wait", type=float, default=5.0)
    args = parser.parse_args()
    return {"probe": cmd_probe, "run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
