#!/usr/bin/env python3
"""Helper of bench/ecs-bench.sh (EDNS Client Subnet, RFC 7871, issue 11).
Standard library only.

    ecs_bench.py option SUBNET
        the ECS option of SUBNET (e.g. 11.1.2.0/24) as dnsperf's -E
        code:hexvalue (8:000118000b0102)
    ecs_bench.py ask PORT NAME TYPE [--subnet S] [--expect-addr A]
                 [--expect-scope N] [--label L]
        asks 127.0.0.1:PORT once (with the ECS option of S, else EDNS
        without it) and prints a JSON line: rcode, addresses, the ECS
        option of the answer, and "ok" (every expectation given is met)
    ecs_bench.py fill PORT --names N1,N2 --first F --last L
        asks each name for A from 11.I.0.0/24, I = F..L (the lab's geo.com
        subnets, each a scope-16 partition), one after the other, and
        prints JSON: asked, right (A 192.0.3.I with scope 16), wrong
    ecs_bench.py unbound-stats FILE [--heap BYTES]
        `unbound-control stats_noreset` output -> JSON object (with the
        heap bytes in use as heap_in_use)
    ecs_bench.py report --results DIR --rounds R --seconds S --names N
        medians and markdown tables from the files ecs-bench.sh left in DIR
"""
import argparse
import ipaddress
import json
import os
import random
import re
import socket
import statistics
import struct
import sys

QTYPES = {"A": 1, "NS": 2, "SOA": 6, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def ecs_payload(subnet):
    net = ipaddress.ip_network(subnet, strict=False)
    family = 1 if net.version == 4 else 2
    octets = (net.prefixlen + 7) // 8
    return struct.pack(">HBB", family, net.prefixlen, 0) + net.network_address.packed[:octets]


def query(qid, name, qtype, subnet):
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    options = b""
    if subnet:
        payload = ecs_payload(subnet)
        options = struct.pack(">HH", 8, len(payload)) + payload
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(options)) + options
    return header + wire + struct.pack(">HH", QTYPES[qtype], 1) + opt


def skip_name(msg, pos):
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def parse(msg):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    pos = 12
    for _ in range(qd):
        pos = skip_name(msg, pos) + 4
    addrs, ecs, ttls = [], None, []
    for section, count in (("an", an), ("ns", ns), ("ar", ar)):
        for _ in range(count):
            pos = skip_name(msg, pos)
            rtype, _rclass, ttl, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
            pos += 10
            rdata = msg[pos:pos + rdlen]
            pos += rdlen
            if section == "an" and rtype == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(rdata))
                ttls.append(ttl)
            if rtype == 41:
                o = 0
                while o + 4 <= len(rdata):
                    code, olen = struct.unpack(">HH", rdata[o:o + 4])
                    value = rdata[o + 4:o + 4 + olen]
                    o += 4 + olen
                    if code == 8 and olen >= 4:
                        family, source, scope = struct.unpack(">HBB", value[:4])
                        raw = value[4:] + bytes((4 if family == 1 else 16) - len(value[4:]))
                        address = str(ipaddress.ip_address(raw))
                        ecs = {"family": family, "source": source, "scope": scope,
                               "address": address}
    return {"id": qid, "rcode": RCODES.get(flags & 0xF, str(flags & 0xF)), "addrs": addrs,
            "ttls": ttls, "ecs": ecs}


def ask(port, name, qtype, subnet=None, tries=3, timeout=3.0):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(timeout)
    try:
        for _ in range(tries):
            qid = random.randrange(65536)
            sock.send(query(qid, name, qtype, subnet))
            try:
                while True:
                    reply = parse(sock.recv(65535))
                    if reply["id"] == qid:
                        return reply
            except socket.timeout:
                continue
    finally:
        sock.close()
    return {"id": None, "rcode": "TIMEOUT", "addrs": [], "ttls": [], "ecs": None}


def cmd_option(args):
    print("8:" + ecs_payload(args.subnet).hex())


def cmd_ask(args):
    reply = ask(args.port, args.name, args.type, args.subnet)
    ok = reply["rcode"] == "NOERROR"
    if args.expect_addr is not None:
        ok = ok and reply["addrs"] == [args.expect_addr]
    if args.expect_scope is not None:
        ok = ok and reply["ecs"] is not None and reply["ecs"]["scope"] == args.expect_scope
    out = {"label": args.label, "name": args.name, "type": args.type, "subnet": args.subnet,
           "expect_addr": args.expect_addr, "expect_scope": args.expect_scope, "ok": ok}
    out.update(reply)
    print(json.dumps(out))


def cmd_fill(args):
    asked, right, wrong = 0, 0, []
    for name in args.names.split(","):
        for i in range(args.first, args.last + 1):
            subnet = f"11.{i}.0.0/24"
            reply = ask(args.port, name, "A", subnet)
            asked += 1
            if (reply["rcode"] == "NOERROR" and reply["addrs"] == [f"192.0.3.{i}"]
                    and reply["ecs"] and reply["ecs"]["scope"] == 16):
                right += 1
            else:
                wrong.append({"name": name, "subnet": subnet, "reply": reply})
    print(json.dumps({"asked": asked, "right": right, "wrong": wrong}))


def unbound_stats(path):
    out = {}
    for line in open(path):
        key, sep, value = line.strip().partition("=")
        if sep:
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def cmd_unbound_stats(args):
    out = unbound_stats(args.file)
    if args.heap is not None:
        out["heap_in_use"] = int(args.heap) if args.heap.isdigit() else None
    print(json.dumps(out))


# ---------------------------------------------------------------- report

CONFIGS = [("shoal-off", "shoal, ECS off"), ("shoal-on", "shoal, ECS on"),
           ("unbound-off", "Unbound, no subnetcache"), ("unbound-on", "Unbound, subnetcache")]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def dnsperf_figures(path):
    text = open(path).read()

    def num(label):
        m = re.search(label + r":\s+([0-9.]+)", text)
        return float(m.group(1)) if m else float("nan")
    return {"completed": num("Queries completed"), "lost": num("Queries lost"),
            "qps": num("Queries per second"), "runtime": num("Run time \\(s\\)")}


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def fmt(v, digits=2):
    return "n/a" if v != v else f"{v:,.{digits}f}"


def ratio(a, b):
    return a / b if b and a == a and b == b else float("nan")


def counters_delta(config, before, after):
    """The counters that tell what kind of hits a phase was."""
    if config.startswith("shoal"):
        keys = {"cache hits": ("cache", "hits"),
                "ecs hits_partitioned": ("ecs", "hits_partitioned"),
                "ecs hits_global": ("ecs", "hits_global"),
                "ecs queries (upstream)": ("ecs", "queries")}
        return {k: after[a][b] - before[a][b] for k, (a, b) in keys.items()}
    keys = {"num.cachehits": "total.num.cachehits",
            "num.query.subnet": "num.query.subnet",
            "num.query.subnet_cache": "num.query.subnet_cache",
            "num.cachemiss": "total.num.cachemiss"}
    return {k: after.get(v, float("nan")) - before.get(v, float("nan")) for k, v in keys.items()}


def cmd_report(args):
    d = args.results
    sets = [("a", f"(a) {args.names} names outside ECS zones, EDNS without ECS"),
            ("c", f"(c) the same {args.names} names with an ECS option (11.1.2.0/24)"),
            ("b", "(b) www.geo.com A with ECS 11.1.2.0/24")]
    configs = [c for c in CONFIGS if os.path.exists(os.path.join(d, f"{c[0]}.a.1.cpu"))]
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    # per config, set: lists over rounds
    cpu_us, cpu_us_ticks, qps, lost, upstream, completed, counters = {}, {}, {}, {}, {}, {}, {}
    for config, _ in configs:
        for s, _ in sets:
            key = (config, s)
            for r in range(1, args.rounds + 1):
                base = os.path.join(d, f"{config}.{s}.{r}")
                if not os.path.exists(base + ".cpu"):
                    continue
                ns0, ns1, t0, t1 = (int(x) for x in open(base + ".cpu").read().split())
                perf = dnsperf_figures(base + ".dnsperf")
                n = perf["completed"]
                cpu_us.setdefault(key, []).append((ns1 - ns0) / 1000 / n if n else float("nan"))
                cpu_us_ticks.setdefault(key, []).append(
                    (t1 - t0) / ticks_per_s * 1e6 / n if n else float("nan"))
                qps.setdefault(key, []).append(perf["qps"])
                lost.setdefault(key, []).append(perf["lost"])
                completed.setdefault(key, []).append(n)
                packets = sum(load_json(base + ".counters.json").values())
                upstream.setdefault(key, []).append(packets)
                try:
                    delta = counters_delta(config, load_json(base + ".stats-before.json"),
                                           load_json(base + ".stats-after.json"))
                except (OSError, KeyError, ValueError):
                    delta = {}
                counters.setdefault(key, []).append(delta)

    def med(table, config, s):
        return median(table.get((config, s), []))

    print()
    print(f"## per round (CPU µs per answer from schedstat; from utime+stime ticks in brackets)")
    for config, label in configs:
        for s, slabel in sets:
            key = (config, s)
            if key not in cpu_us:
                continue
            rounds = " ".join(f"{a:.2f} [{b:.2f}]" for a, b in zip(cpu_us[key], cpu_us_ticks[key]))
            print(f"{config:12} {s}: cpu-us/answer {rounds}; answers/s "
                  f"{' '.join(f'{q:.0f}' for q in qps[key])}; lost {sum(lost[key]):.0f}; "
                  f"upstream packets {sum(upstream[key]):.0f}")
            for i, delta in enumerate(counters[key], 1):
                done = completed[key][i - 1]
                print(f"{'':12}    round {i}: {done:.0f} answers; "
                      + ", ".join(f"{k} {v:.0f}" for k, v in delta.items()))

    def paired(a, b, s):
        """Median of the per-round ratios a/b (the phases of one round ran
        within a minute of each other)."""
        return median([ratio(x, y) for x, y in zip(cpu_us.get((a, s), []),
                                                   cpu_us.get((b, s), []))])

    print()
    print("## per-round ratios of CPU per answer")
    for s, _ in sets:
        for a, b in (("shoal-on", "shoal-off"), ("unbound-on", "unbound-off"),
                     ("shoal-on", "unbound-on"), ("shoal-off", "unbound-off")):
            values = [ratio(x, y) for x, y in zip(cpu_us.get((a, s), []), cpu_us.get((b, s), []))]
            if values:
                print(f"{s}: {a}/{b} " + " ".join(f"{v:.3f}" for v in values)
                      + f"  median {median(values):.3f}")

    have = {c for c, _ in configs}
    print()
    print("## markdown: CPU per cache-hit answer")
    print()
    print("| CPU per cache-hit answer (median of %d rounds; ratios: median of the "
          "per-round ratios) | shoal ECS off | shoal ECS on | on/off "
          "| Unbound no subnetcache | Unbound subnetcache | on/off | shoal/Unbound, ECS on |"
          % args.rounds)
    print("|---|---|---|---|---|---|---|---|")
    for s, slabel in sets:
        so, sn = med(cpu_us, "shoal-off", s), med(cpu_us, "shoal-on", s)
        uo, un = med(cpu_us, "unbound-off", s), med(cpu_us, "unbound-on", s)
        print(f"| {slabel} | {fmt(so)} µs | {fmt(sn)} µs | "
              f"{fmt(paired('shoal-on', 'shoal-off', s), 3)} | {fmt(uo)} µs | {fmt(un)} µs | "
              f"{fmt(paired('unbound-on', 'unbound-off', s), 3)} | "
              f"{fmt(paired('shoal-on', 'unbound-on', s), 3)} |")
    print()
    print("| cache-hit answers/s (median; bounded by dnsperf on the same 2 cores) "
          "| shoal ECS off | shoal ECS on | Unbound no subnetcache | Unbound subnetcache |")
    print("|---|---|---|---|---|")
    for s, slabel in sets:
        cells = " | ".join(fmt(med(qps, c, s), 0) for c in
                           ("shoal-off", "shoal-on", "unbound-off", "unbound-on"))
        print(f"| {slabel} | {cells} |")
    print()
    print("| hit phases, all rounds | " + " | ".join(label for _, label in configs) + " |")
    print("|---|" + "---|" * len(configs))
    row = lambda table: " | ".join(f"{sum(sum(table.get((c, s), [])) for s, _ in sets):,.0f}"
                                    for c, _ in configs)
    print(f"| answers | {row(completed)} |")
    print(f"| queries lost | {row(lost)} |")
    print(f"| upstream packets (lab counters) | {row(upstream)} |")
    # What the ECS hits were.
    print()
    print("| set (b), www.geo.com with ECS, summed over rounds | answers | counters |")
    print("|---|---|---|")
    for config, label in configs:
        key = (config, "b")
        if key not in counters:
            continue
        total = {}
        for delta in counters[key]:
            for k, v in delta.items():
                total[k] = total.get(k, 0) + v
        print(f"| {label} | {sum(completed[key]):,.0f} | "
              + ", ".join(f"{k} {v:,.0f}" for k, v in total.items()) + " |")

    # Memory per partition.
    print()
    print("## markdown: memory per ECS partition")
    print()
    print("| memory per partition (median of %d rounds) | partitions added | bytes per partition "
          "| entries per partition | other |" % args.rounds)
    print("|---|---|---|---|---|")
    for config, label in (("shoal-on", "shoal"), ("unbound-on", "Unbound")):
        if config not in have:
            continue
        per, added, entries, other, subnet_stat = [], [], [], [], []
        for r in range(1, args.rounds + 1):
            base = os.path.join(d, f"{config}.mem.{r}")
            if not os.path.exists(base + ".after.json"):
                continue
            fill = load_json(base + ".fill.json")
            before, after = load_json(base + ".before.json"), load_json(base + ".after.json")
            if config == "shoal-on":
                counted = all(isinstance(x.get("ecs"), dict) and "entries" in x["ecs"]
                              for x in (before, after))
                n = (after["ecs"]["entries"] - before["ecs"]["entries"] if counted
                     else fill["right"])
                db = after["cache"]["bytes"] - before["cache"]["bytes"]
                de = after["cache"]["entries"] - before["cache"]["entries"]
                ev = after["cache"]["partition_evictions"] - before["cache"]["partition_evictions"]
                entries.append(de / n if n else float("nan"))
                other.append(f"partition evictions {ev}")
            else:
                n = fill["right"]
                # Unbound 1.17 counts a subnet cache entry's size when the
                # name is first inserted, not the partitions added to it
                # later: its heap (glibc malloc_stats through gdb) is the
                # figure, mem.mod.subnet is shown beside it.
                heap = (after.get("heap_in_use") is not None
                        and before.get("heap_in_use") is not None)
                db = (after["heap_in_use"] - before["heap_in_use"] if heap else float("nan"))
                ds = after["mem.mod.subnet"] - before["mem.mod.subnet"]
                dr = after["mem.cache.rrset"] - before["mem.cache.rrset"]
                dm = after["mem.cache.message"] - before["mem.cache.message"]
                subnet_stat.append(ds / n if n else float("nan"))
                other.append(f"rrset cache {dr:+.0f} B, message cache {dm:+.0f} B")
            per.append(db / n if n else float("nan"))
            added.append(n)
        if not per:
            continue
        ent = fmt(median(entries), 2) if entries else "n/a"
        what = ("shared-cache live bytes" if config == "shoal-on"
                else "heap in use (malloc_stats)")
        print(f"| {label}: {what} | {'/'.join(f'{a:.0f}' for a in added)} | "
              f"**{fmt(median(per), 0)}** (rounds: {', '.join(fmt(p, 0) for p in per)}) | "
              f"{ent} | {'; '.join(sorted(set(other)))} |")
        if subnet_stat:
            print(f"| {label}: mem.mod.subnet | | {fmt(median(subnet_stat), 1)} (rounds: "
                  f"{', '.join(fmt(p, 1) for p in subnet_stat)}) | | counted only when a name "
                  "is first inserted |")
    for config in ("shoal-on", "unbound-on"):
        for r in range(1, args.rounds + 1):
            path = os.path.join(d, f"{config}.mem.{r}.fill.json")
            if os.path.exists(path):
                fill = load_json(path)
                if fill["right"] != fill["asked"]:
                    print(f"WARNING {config} round {r}: {fill['asked'] - fill['right']} of "
                          f"{fill['asked']} fill answers wrong: {fill['wrong'][:3]}")

    # Sample answers.
    print()
    print("## sample answers (round 1)")
    print()
    print("| resolver | question | answer | ECS in the answer | expected | ok |")
    print("|---|---|---|---|---|---|")
    bad = 0
    for config, label in configs:
        for r in range(1, args.rounds + 1):
            path = os.path.join(d, f"{config}.checks.{r}.jsonl")
            if not os.path.exists(path):
                continue
            for line in open(path):
                c = json.loads(line)
                bad += not c["ok"]
                if r != 1 and c["ok"]:
                    continue
                ecs = (f"{c['ecs']['address']}/{c['ecs']['source']}/{c['ecs']['scope']}"
                       if c["ecs"] else "none")
                expect = (c["expect_addr"] or "NOERROR") + (
                    f" scope {c['expect_scope']}" if c["expect_scope"] is not None else "")
                subnet = f" from {c['subnet']}" if c["subnet"] else ""
                print(f"| {label}{'' if r == 1 else f' round {r}'} | ({c['label']}) {c['name']} {c['type']}"
                      f"{subnet} | {c['rcode']} {' '.join(c['addrs'])} | {ecs} | {expect} | "
                      f"{'yes' if c['ok'] else '**NO**'} |")
    # What the geo server received.
    print()
    print("## what the geo server received (labctl geo-queries, round 1)")
    for config, label in configs:
        for phase in ("b-warm", "b-hits", "mem"):
            path = os.path.join(d, f"{config}.geo.{phase}.1.json")
            if not os.path.exists(path):
                continue
            try:
                queries = load_json(path)
            except ValueError:
                queries = None
            if not isinstance(queries, list):
                print(f"{label}, {phase}: no capture")
                continue
            summary = {}
            for q in queries:
                e = q.get("ecs")
                k = f"{q['qname']} {q['qtype']} ecs=" + (
                    f"{e['family']}/{e['source']}/{e['address']}" if e else "none")
                summary[k] = summary.get(k, 0) + 1
            shown = list(summary.items())
            text = "; ".join(f"{k} x{v}" for k, v in shown[:4])
            if len(shown) > 4:
                text += f"; ... ({len(shown)} distinct)"
            print(f"{label}, {phase}: {len(queries)} queries{': ' + text if text else ''}")
    if bad:
        print(f"\nWARNING: {bad} sample answer(s) not as expected")
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("option")
    o.add_argument("subnet")
    a = sub.add_parser("ask")
    a.add_argument("port", type=int)
    a.add_argument("name")
    a.add_argument("type")
    a.add_argument("--subnet")
    a.add_argument("--expect-addr")
    a.add_argument("--expect-scope", type=int)
    a.add_argument("--label", default="")
    f = sub.add_parser("fill")
    f.add_argument("port", type=int)
    f.add_argument("--names", required=True)
    f.add_argument("--first", type=int, required=True)
    f.add_argument("--last", type=int, required=True)
    u = sub.add_parser("unbound-stats")
    u.add_argument("file")
    u.add_argument("--heap", help="heap bytes in use, or anything else for unknown")
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--rounds", type=int, required=True)
    r.add_argument("--seconds", type=int, required=True)
    r.add_argument("--names", type=int, required=True)
    args = p.parse_args()
    return {"option": cmd_option, "ask": cmd_ask, "fill": cmd_fill,
            "unbound-stats": cmd_unbound_stats, "report": cmd_report}[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
