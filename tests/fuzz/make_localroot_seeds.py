#!/usr/bin/env python3
"""Writes the IXFR seeds of the localroot fuzzer (corpus/localroot/ixfr-*):
the input format of localroot_fuzzer.cc, that is the query ID, then
length-prefixed messages: a small root zone by AXFR, then an IXFR response
to a query from it (differences, the whole zone again, up to date)."""

import os
import struct

ID = 0x5A5A
AXFR, IXFR = 252, 251


def name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(owner, rtype, ttl, rdata):
    return name(owner) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def soa(serial):
    rdata = name("a.root-servers.net.") + name("nstld.verisign-grs.com.") + \
        struct.pack(">IIIII", serial, 1800, 900, 604800, 86400)
    return rr(".", 6, 86400, rdata)


def ns(owner, host):
    return rr(owner, 2, 172800, name(host))


def a(owner, addr):
    return rr(owner, 1, 172800, bytes(int(x) for x in addr.split(".")))


def message(qtype, records):
    header = struct.pack(">HHHHHH", ID, 0x8400, 1, len(records), 0, 0)
    body = header + name(".") + struct.pack(">HH", qtype, 1) + b"".join(records)
    return struct.pack(">H", len(body)) + body


ZONE = [ns(".", "a.root-servers.net."), ns("com.", "a.gtld-servers.net."),
        a("a.gtld-servers.net.", "192.0.2.30"), a("a.root-servers.net.", "198.41.0.4")]
AXFR_STREAM = struct.pack(">H", ID) + message(AXFR, [soa(100)] + ZONE + [soa(100)])

SEEDS = {
    "ixfr-steps": [message(IXFR, [soa(102), soa(100), ZONE[2], soa(101),
                                  a("a.gtld-servers.net.", "192.0.2.31"), soa(101),
                                  ZONE[1], soa(102), ns("net.", "a.gtld-servers.net."),
                                  soa(102)])],
    "ixfr-full": [message(IXFR, [soa(103)] + ZONE[:2]), message(IXFR, ZONE[2:] + [soa(103)])],
    "ixfr-uptodate": [message(IXFR, [soa(100)])],
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "localroot")
for seed, messages in SEEDS.items():
    with open(os.path.join(here, seed), "wb") as f:
        f.write(AXFR_STREAM + b"".join(messages))
