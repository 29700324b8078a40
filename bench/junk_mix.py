#!/usr/bin/env python3
"""The junk mix of bench/junk-bench.sh (issue 10): names that do not exist,
generated reproducibly from a seed against the running lab, and the report
of a run. Standard library only.

    junk_mix.py generate --lab-dir DIR --out DIR [--names N] [--seed S] [--sample K]
    junk_mix.py report --results DIR --mix DIR --lab-env FILE --resolvers a,b,c
                       --warm N --inflight Q [--rounds R]

generate writes three dnsperf query files, one per part, each shuffled:
    tld.txt    half of the names: under TLDs the lab's root does not have,
               in the shapes real junk takes (file names, home-network
               suffixes, bare host names, random single labels);
    nsec.txt   a quarter: random and typical host labels under NSEC-signed
               lab zones, most of them under three zones;
    nsec3.txt  a quarter: the same under NSEC3-signed zones (none opt-out).
It also writes PART.sample.txt (K names of each part, for the AD check) and
mix.json, and prints what it made. Every zone it uses is checked against
the lab's own zone files: its denial (NSEC, or NSEC3 without opt-out), a
secure delegation all the way from the root, and that no generated name
exists in it. For each part it counts two floors, from the zone files:
    cuts    the distinct names a resolver must ask about when it caches each
            NXDOMAIN and everything below it (RFC 8020), but nothing more;
    gaps    the distinct NSEC/NSEC3 ranges the names fall in: what an ideal
            aggressive cache (RFC 8198) must fetch once each, with every
            query answered before the next one is sent.
Neither floor counts the DS and DNSKEY fetches of a zone seen the first time.

report reads what junk-bench.sh left in the results directory for each
resolver R, stage S (warm, tld, nsec, nsec3) and round N: R.S.N.counters.json
(the lab's packet counters over the stage), R.S.N.dnsperf (dnsperf's
output), R.S.N.flags (bench/answer_flags.py on the part's sample) and
R.S.N.seconds, and prints the figures (medians over the rounds) and markdown
tables for docs/benchmarks.md.
"""
import argparse
import base64
import bisect
import hashlib
import json
import os
import random
import re
import statistics
import string
import sys

PARTS = ("tld", "nsec", "nsec3")
PART_TITLE = {"tld": "non-existent TLDs", "nsec": "NSEC zones", "nsec3": "NSEC3 zones"}

# Zones of the NSEC and NSEC3 parts and their shares (%). Most names fall
# under three zones of each kind: a feature zone with a short chain (about
# 13 NSEC, 4 NSEC3 records) and bulk zones (100 names: 4 NSEC ranges take
# nearly every random label, but about 100 NSEC3 ranges share them); the
# rest spreads thinly over a few more. bogus-sig, expired, halflame (a
# REFUSED server) and tcponly (TCP only) are left out: they cost upstream
# queries for reasons of their own.
NSEC_ZONES = [("example.com.", 45), ("bulk00.com.", 30), ("bulk04.de.", 15),
              ("bulk02.org.", 2), ("bulk06.io.", 2), ("bulk16.com.", 2), ("bulk20.de.", 2),
              ("bulk22.io.", 2)]
NSEC3_ZONES = [("example.net.", 55), ("bulk01.net.", 30), ("example.org.", 8),
               ("dns-host.net.", 7)]

# Special-use names that resolvers answer themselves (RFC 6761, RFC 7686;
# unbound's default local zones): never used as a junk TLD.
SPECIAL_TLDS = {"localhost", "test", "invalid", "onion", "example", "arpa"}

# ---- shapes of junk under non-existent TLDs: (weight, item) --------------
FILE_BASES = """untitled document report invoice scan image photo setup readme index
backup data final resume budget notes presentation contract agenda minutes manual
download new copy draft letter statement receipt order quote""".split()
FILE_EXTS = [(25, "pdf"), (15, "docx"), (5, "doc"), (8, "xlsx"), (3, "xls"), (4, "pptx"),
             (6, "txt"), (10, "jpg"), (2, "jpeg"), (6, "png"), (1, "gif"), (5, "zip"),
             (1, "rar"), (3, "exe"), (1, "msi"), (4, "html"), (1, "htm"), (2, "php"),
             (3, "csv"), (2, "mp4"), (1, "mp3"), (1, "json"), (1, "xml"), (1, "log"),
             (1, "bak"), (1, "dll"), (1, "iso")]
LAN_SUFFIXES = [(24, "local"), (20, "lan"), (18, "home"), (12, "localdomain"),
                (8, "internal"), (8, "corp"), (3, "intranet"), (3, "workgroup"),
                (2, "domain"), (1, "belkin"), (1, "router")]
# {h6}, {h12}, {h16}: random hex digits; {w7}: 7 random letters and digits
# (Windows' DESKTOP-XXXXXXX names).
LAN_HOSTS = [(18, "wpad"), (6, "isatap"), (6, "router"), (4, "nas"), (4, "printer"),
             (3, "gateway"), (10, "desktop-{w7}"), (4, "laptop-{w7}"), (5, "android-{h16}"),
             (3, "iphone"), (2, "ipad"), (2, "macbook-pro"), (3, "raspberrypi"),
             (2, "ubuntu"), (2, "debian"), (2, "dc01"), (2, "fileserver"), (2, "mail"),
             (3, "proxy"), (4, "_ldap._tcp.dc._msdcs"), (2, "_kerberos._udp"), (2, "time"),
             (2, "ntp"), (2, "printer-{h6}"), (2, "hp{h6}"), (2, "brw{h12}"),
             (1, "chromecast")]
BARE_HOSTS = [(30, "wpad"), (10, "isatap"), (8, "router"), (6, "nas"), (6, "printer"),
              (5, "mail"), (6, "proxy"), (5, "server"), (5, "gateway"),
              (10, "desktop-{w7}"), (3, "local"), (2, "lan"), (2, "home"), (2, "corp")]
TLD_SHAPES = [(20, "file"), (45, "lan"), (25, "random"), (10, "bare")]

# ---- labels under the signed zones ---------------------------------------
ZONE_HOSTS = [(10, "autodiscover"), (8, "wpad"), (4, "autoconfig"), (5, "ftp"), (4, "smtp"),
              (5, "webmail"), (3, "cpanel"), (4, "m"), (4, "api"), (3, "dev"),
              (2, "staging"), (4, "vpn"), (3, "remote"), (3, "owa"), (2, "portal"),
              (2, "shop"), (3, "blog"), (3, "cdn"), (2, "static"), (2, "img"),
              (3, "admin"), (2, "login"), (2, "secure"), (3, "test"), (2, "old"),
              (2, "beta"), (3, "app"), (3, "www2"), (3, "wwww"), (2, "ww"), (2, "imap"),
              (2, "pop"), (2, "pop3"), (5, "_dmarc"), (3, "selector1._domainkey"),
              (2, "google._domainkey"), (1, "_sip._tls")]
ZONE_SHAPES = [(65, "random"), (35, "host")]

ALNUM = string.ascii_lowercase + string.digits


def weighted(rng, table):
    return rng.choices([item for _, item in table], weights=[w for w, _ in table])[0]


def fill(rng, pattern):
    def sub(m):
        kind, n = m.group(1), int(m.group(2))
        chars = "0123456789abcdef" if kind == "h" else ALNUM
        return "".join(rng.choice(chars) for _ in range(n))
    return re.sub(r"\{([hw])(\d+)\}", sub, pattern)


def qtype_for(rng, name):
    if name.startswith(("_ldap.", "_kerberos.", "_sip.")):
        return "SRV"
    if name.startswith("_dmarc.") or "._domainkey." in name:
        return "TXT"
    return "AAAA" if rng.random() < 0.35 else "A"


# ---- the lab's zone files ------------------------------------------------


def canon(name):
    """Sort key of a name in canonical DNS order (RFC 4034 section 6.1)."""
    labels = [l for l in name.lower().rstrip(".").split(".") if l]
    return tuple(l.encode() for l in reversed(labels))


def name_wire(name):
    labels = [l for l in name.lower().rstrip(".").split(".") if l]
    return b"".join(bytes([len(l)]) + l.encode() for l in labels) + b"\0"


def nsec3_hash(name, salt, iterations):
    digest = hashlib.sha1(name_wire(name) + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return base64.b32hexencode(digest).decode().lower()


def parent(name):
    return name.split(".", 1)[1] or "." if name != "." else None


class LabZone:
    """One zone file of the lab: owners, delegations, NSEC or NSEC3 chain."""

    def __init__(self, lab_dir, name):
        self.name = name
        fname = "root.zone" if name == "." else name[:-1] + ".zone"
        self.owners = set()
        self.ds = set()         # children with a DS record here
        self.nsec = {}          # owner key -> next key
        self.nsec3 = {}         # owner hash -> (next hash, opt-out flag)
        self.nsec3_params = None
        self.delegations = set()
        with open(os.path.join(lab_dir, "zones", fname)) as f:
            for line in f:
                fields = line.split()
                if not fields or fields[0].startswith(";") or len(fields) < 5:
                    continue
                owner, rtype, rdata = fields[0].lower(), fields[3], fields[4:]
                if rtype == "NSEC3":
                    h = owner.split(".", 1)[0]
                    flags, iters, salt = int(rdata[1]), int(rdata[2]), rdata[3]
                    self.nsec3[h] = (rdata[4].lower(), flags & 1)
                    self.nsec3_params = (b"" if salt == "-" else bytes.fromhex(salt), iters)
                    continue
                if rtype == "RRSIG":
                    continue
                self.owners.add(owner)
                if rtype == "NSEC":
                    self.nsec[canon(owner)] = canon(rdata[0])
                elif rtype == "DS":
                    self.ds.add(owner)
                elif rtype == "NS" and owner != name:
                    self.delegations.add(owner)
        self.nsec_keys = sorted(self.nsec)
        self.nsec3_keys = sorted(self.nsec3)

    @property
    def denial(self):
        if self.nsec:
            return "nsec"
        if self.nsec3:
            return "nsec3-optout" if any(o for _, o in self.nsec3.values()) else "nsec3"
        return None

    def exists(self, qname):
        """Whether qname or a name below it is in the zone (then it is no
        NXDOMAIN)."""
        key = canon(qname)
        return any(canon(o)[:len(key)] == key for o in self.owners)

    def gap(self, qname):
        """The NSEC/NSEC3 range that proves qname (an NXDOMAIN name directly
        below the apex, or below such a name) does not exist."""
        if self.nsec:
            i = bisect.bisect_right(self.nsec_keys, canon(qname)) - 1
            return self.nsec_keys[i]  # i == -1 wraps to the last: it covers
        apex = canon(self.name)
        next_closer = ".".join(reversed([l.decode() for l in canon(qname)[:len(apex) + 1]]))
        h = nsec3_hash(next_closer, *self.nsec3_params)
        i = bisect.bisect_right(self.nsec3_keys, h) - 1
        return self.nsec3_keys[i]


def lab_roles(lab_dir):
    """zone -> the lab server role(s) serving it, from the knot configs
    (e.g. "root", or "root/rootbad" when a second server has a copy)."""
    roles = {}
    for conf in sorted(os.listdir(os.path.join(lab_dir, "knot"))):
        if not conf.endswith(".conf") or conf == "ecs-geoip.conf":
            continue
        with open(os.path.join(lab_dir, "knot", conf)) as f:
            for m in re.finditer(r'- domain: "([^"]+)"', f.read()):
                roles.setdefault(m.group(1).lower(), []).append(conf[:-5])
    return {zone: "/".join(r) for zone, r in roles.items()}


class Lab:
    def __init__(self, lab_dir):
        self.dir = lab_dir
        self.zones = {}
        self.roles = lab_roles(lab_dir)

    def zone(self, name):
        if name not in self.zones:
            self.zones[name] = LabZone(self.dir, name)
        return self.zones[name]

    def check_secure(self, name, denial):
        """Fails unless zone `name` is signed with `denial` and has a DS in
        its parent, the parent in its own, and so on up to the root."""
        z = self.zone(name)
        if z.denial != denial:
            sys.exit(f"junk_mix: {name} is {z.denial or 'unsigned'} in the lab, not {denial}")
        while name != ".":
            up = parent(name)
            if name not in self.zone(up).ds:
                sys.exit(f"junk_mix: no DS for {name} in {up}: not a secure delegation")
            name = up


# ---- generation ----------------------------------------------------------


def tld_name(rng, tlds):
    """One name under a TLD the lab's root does not delegate."""
    while True:
        shape = weighted(rng, TLD_SHAPES)
        fixed = shape in ("file", "lan")  # the TLD comes from a list
        if shape == "file":
            base = rng.choice(FILE_BASES)
            r = rng.random()
            if r < 0.15:
                base = rng.choice(("img", "dsc", "scan", "img_")) + "".join(
                    rng.choice(string.digits) for _ in range(4))
            elif r < 0.30:
                base += rng.choice(("_final", "-1", "_v2", "_2024", "-copy", "_signed"))
            name = f"{base}.{weighted(rng, FILE_EXTS)}"
        elif shape == "lan":
            name = f"{fill(rng, weighted(rng, LAN_HOSTS))}.{weighted(rng, LAN_SUFFIXES)}"
        elif shape == "bare":
            pattern = weighted(rng, BARE_HOSTS)
            name, fixed = fill(rng, pattern), "{" not in pattern
        elif rng.random() < 0.7:  # Chromium's intranet probes: 7-15 letters
            name = "".join(rng.choice(string.ascii_lowercase)
                           for _ in range(rng.randint(7, 15)))
        else:  # short random labels
            name = "".join(rng.choice(ALNUM) for _ in range(rng.randint(4, 8)))
        tld = name.rsplit(".", 1)[-1]
        if tld not in tlds and tld not in SPECIAL_TLDS:
            return name + "."
        if fixed:  # a name from the lists: the lists are wrong
            sys.exit(f"junk_mix: .{tld} is a TLD in the lab")


def zone_name(rng, zone):
    """One NXDOMAIN name directly under (or two labels under) a lab zone."""
    while True:
        if weighted(rng, ZONE_SHAPES) == "random":
            label = "".join(rng.choice(ALNUM) for _ in range(rng.randint(6, 12)))
        else:
            label = weighted(rng, ZONE_HOSTS)
        name = f"{label}.{zone.name}"
        if not zone.exists(name):
            return name


def make_part(rng, lab, part, count):
    names = []
    if part == "tld":
        lab.check_secure(".", "nsec")
        root = lab.zone(".")
        tlds = {d.rstrip(".") for d in root.delegations}
        for _ in range(count):
            names.append(tld_name(rng, tlds))
        zones = {".": count}
    else:
        table = NSEC_ZONES if part == "nsec" else NSEC3_ZONES
        for zname, _ in table:
            lab.check_secure(zname, part)
        zones = {}
        for _ in range(count):
            zname = rng.choices([z for z, _ in table], weights=[w for _, w in table])[0]
            zones[zname] = zones.get(zname, 0) + 1
            names.append(zone_name(rng, lab.zone(zname)))
    rng.shuffle(names)
    return [(n, qtype_for(rng, n)) for n in names], zones


def floors(lab, part, names):
    """(distinct NXDOMAIN cuts, distinct NSEC/NSEC3 ranges) of a part."""
    cuts, gaps = set(), {}  # zone -> the ranges its names fall in
    for name, _ in names:
        zname = "." if part == "tld" else next(
            z for z, _ in (NSEC_ZONES if part == "nsec" else NSEC3_ZONES)
            if name.endswith("." + z))
        depth = len(canon(zname)) + 1
        cut = ".".join(reversed([l.decode() for l in canon(name)[:depth]])) + "."
        cuts.add(cut)
        gaps.setdefault(zname, set()).add(lab.zone(zname).gap(cut))
    # Each answer also brings the range covering the zone's wildcard: a zone
    # costs one query per range other than that one, and at least one.
    ranges = 0
    for zname, zone_gaps in gaps.items():
        wild = lab.zone(zname).gap("*." + zname if zname != "." else "*.")
        ranges += max(1, len(zone_gaps - {wild}))
    return len(cuts), ranges


def cmd_generate(args):
    lab = Lab(args.lab_dir)
    rng = random.Random(args.seed)
    counts = {"tld": args.names // 2, "nsec": args.names // 4}
    counts["nsec3"] = args.names - counts["tld"] - counts["nsec"]
    os.makedirs(args.out, exist_ok=True)
    meta = {"seed": args.seed, "names": args.names, "sample": args.sample, "parts": {}}
    for part in PARTS:
        names, zones = make_part(rng, lab, part, counts[part])
        with open(os.path.join(args.out, f"{part}.txt"), "w") as f:
            f.writelines(f"{n} {t}\n" for n, t in names)
        with open(os.path.join(args.out, f"{part}.sample.txt"), "w") as f:
            f.writelines(f"{n} {t}\n" for n, t in rng.sample(names, min(args.sample, len(names))))
        cuts, gaps = floors(lab, part, names)
        meta["parts"][part] = {
            "names": len(names), "distinct": len(set(n for n, _ in names)),
            "cuts": cuts, "gaps": gaps,
            "zones": {z: [c, lab.roles.get(z, "?"), lab.zone(z).denial]
                      for z, c in sorted(zones.items(), key=lambda i: -i[1])}}
    with open(os.path.join(args.out, "mix.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"junk mix: seed {args.seed}, {args.names} names")
    for part, m in meta["parts"].items():
        zones = ", ".join(f"{z} {c} ({role}, {d})" for z, (c, role, d) in m["zones"].items())
        print(f"  {part:5} {m['names']} names, {m['distinct']} distinct, floors: "
              f"{m['cuts']} NXDOMAIN cuts, {m['gaps']} NSEC/NSEC3 ranges; {zones}")


# ---- report --------------------------------------------------------------


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def dnsperf_figures(text):
    """(sent, lost, {rcode: count}) from dnsperf's output."""
    if "Queries sent:" not in text:
        return 0, 0, {}
    sent = int(re.search(r"Queries sent:\s+(\d+)", text).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", text).group(1))
    m = re.search(r"Response codes:\s+(.*)", text)
    rcodes = {c: int(n) for c, n in re.findall(r"([A-Z]+) (\d+) \(", m.group(1))} if m else {}
    return sent, lost, rcodes


def per_1000(packets, names):
    return 1000.0 * packets / names if names else float("nan")


def fmt(x):
    return f"{x:,.1f}" if x == x else "n/a"


def cmd_report(args):
    meta = json.load(open(os.path.join(args.mix, "mix.json")))
    env = json.load(open(args.lab_env))
    role_of = {}
    for key, value in env.items():
        m = re.fullmatch(r"LAB_([A-Z]+)_ADDRS", key)
        if m and m.group(1) != "ALL":
            for a in value.split():
                role_of[a] = m.group(1).lower()
    resolvers = args.resolvers.split(",")
    label = {"shoal": "shoal", "unbound": "Unbound", "pdns": "PowerDNS Recursor"}
    res = {}  # (resolver, stage) -> [one dict per round]
    for r in resolvers:
        for stage in ("warm",) + PARTS:
            res[r, stage] = []
            for n in range(1, args.rounds + 1):
                base = os.path.join(args.results, f"{r}.{stage}.{n}")
                counters = json.loads(read(base + ".counters.json", "{}"))
                by_role = {}
                for addr, count in counters.items():
                    role = role_of.get(addr, "other")
                    by_role[role] = by_role.get(role, 0) + count
                sent, lost, rcodes = dnsperf_figures(read(base + ".dnsperf", ""))
                flags = (read(base + ".flags") or "").split()
                flags = dict(zip(flags[::2], map(int, flags[1::2])))
                secs = read(base + ".seconds")
                res[r, stage].append({
                    "packets": sum(counters.values()), "roles": by_role, "sent": sent,
                    "lost": lost, "rcodes": rcodes, "ad": flags.get("ad"),
                    "ad_of": flags.get("answers"), "seconds": float(secs) if secs else 0.0})

    def total_of(r, stage, key):
        return sum(x[key] or 0 for x in res[r, stage])

    def rcodes_of(r, stage):
        out = {}
        for x in res[r, stage]:
            for k, v in x["rcodes"].items():
                out[k] = out.get(k, 0) + v
        return out

    parts = meta["parts"]
    total = sum(parts[p]["names"] for p in PARTS)
    print()
    print(f"seed {meta['seed']}; {total} junk names after {args.warm} cold ordinary names; "
          f"{args.inflight} queries in flight; {args.rounds} round(s), each resolver started "
          f"cold in each; upstream = packets the lab's servers received (TCP counts each "
          f"segment): median (each round; servers in the median round); answers summed over "
          f"the rounds:")
    for r in resolvers:
        for stage in ("warm",) + PARTS:
            rounds = res[r, stage]
            counts = [x["packets"] for x in rounds]
            mid = sorted(rounds, key=lambda x: x["packets"])[(len(rounds) - 1) // 2]
            roles = " ".join(f"{k} {v}" for k, v in sorted(mid["roles"].items()) if v)
            rc = " ".join(f"{k} {v}" for k, v in sorted(rcodes_of(r, stage).items()))
            ad = (f", AD {total_of(r, stage, 'ad')}/{total_of(r, stage, 'ad_of')}"
                  if total_of(r, stage, "ad_of") else "")
            print(f"  {r:8} {stage:5} {rounds[0]['sent']:6} queries: upstream "
                  f"{statistics.median(counts):g} ({' '.join(map(str, counts))}; "
                  f"{roles or 'none'}), {rc or 'no answers'}, lost {total_of(r, stage, 'lost')}"
                  f"{ad}, {statistics.median(x['seconds'] for x in rounds):.1f} s")

    # The markdown table: medians over the rounds.
    def part_rate(r, p):
        return per_1000(statistics.median(x["packets"] for x in res[r, p]), parts[p]["names"])

    def overall(r):
        per_round = [sum(res[r, p][n]["packets"] for p in PARTS) for n in range(args.rounds)]
        return per_1000(statistics.median(per_round), total)

    cols = [label.get(r, r) for r in resolvers]
    print()
    print("| upstream queries per 1000 client queries | " + " | ".join(cols)
          + " | floor: NXDOMAIN cut | floor: aggressive |")
    print("|---" * (len(cols) + 3) + "|")
    for p in PARTS:
        m = parts[p]
        print(f"| {PART_TITLE[p]} ({m['names']:,} names, {m['distinct']:,} distinct) | "
              + " | ".join(fmt(part_rate(r, p)) for r in resolvers)
              + f" | {fmt(per_1000(m['cuts'], m['names']))}"
              f" | {fmt(per_1000(m['gaps'], m['names']))} |")
    cuts = sum(parts[p]["cuts"] for p in PARTS)
    gaps = sum(parts[p]["gaps"] for p in PARTS)
    print(f"| **overall** ({total:,} names) | "
          + " | ".join(f"**{fmt(overall(r))}**" for r in resolvers)
          + f" | {fmt(per_1000(cuts, total))} | {fmt(per_1000(gaps, total))} |")
    print(f"| cold warm-up, ordinary names ({args.warm:,}, not in overall) | "
          + " | ".join(fmt(per_1000(statistics.median(x["packets"] for x in res[r, "warm"]),
                                    args.warm)) for r in resolvers) + " | | |")
    print()
    print(f"| answers ({args.rounds} round(s)) | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for p in PARTS:
        cells = []
        for r in resolvers:
            rc = ", ".join(f"{k} {v:,}" for k, v in sorted(rcodes_of(r, p).items(),
                                                          key=lambda i: -i[1]))
            if total_of(r, p, "lost"):
                rc += f", lost {total_of(r, p, 'lost'):,}"
            n = total_of(r, p, "ad_of")
            ad = f"; AD {100.0 * total_of(r, p, 'ad') / n:.1f} % of {n:,}" if n else ""
            cells.append((rc or "no answers") + ad)
        print(f"| {PART_TITLE[p]} | " + " | ".join(cells) + " |")

    # The target (issue 10).
    print()
    if "shoal" not in resolvers:
        print("target (issue 10): not checked, shoal was not run")
        return 0
    peers = [r for r in resolvers if r != "shoal"]
    misses = []
    if not overall("shoal") <= 30:
        misses.append(f"overall {fmt(overall('shoal'))} > 30")
    for p in PARTS:
        for r in peers:
            if not part_rate("shoal", p) < part_rate(r, p):
                misses.append(f"{p} {fmt(part_rate('shoal', p))} >= {label[r]} "
                              f"{fmt(part_rate(r, p))}")
    bad = {p: args.rounds * parts[p]["names"] - rcodes_of("shoal", p).get("NXDOMAIN", 0)
           for p in PARTS}
    for p, n in bad.items():
        if n:
            misses.append(f"{p}: {n} answers not NXDOMAIN")
    verdict = "met" if not misses else "NOT met (" + "; ".join(misses) + ")"
    print(f"target (issue 10): shoal at most 30 upstream queries per 1000 overall and below "
          f"every peer ({', '.join(label[r] for r in peers) or 'none run'}) in every part: "
          f"{verdict}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--lab-dir", required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--names", type=int, default=10000)
    g.add_argument("--seed", type=int, default=53)
    g.add_argument("--sample", type=int, default=200)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--mix", required=True)
    r.add_argument("--lab-env", required=True)
    r.add_argument("--resolvers", required=True)
    r.add_argument("--warm", type=int, required=True)
    r.add_argument("--inflight", type=int, required=True)
    r.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    if args.cmd == "generate" and args.names < 4:
        ap.error("--names: at least 4")
    return cmd_generate(args) if args.cmd == "generate" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
