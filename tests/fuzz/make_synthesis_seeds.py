#!/usr/bin/env python3
"""Writes the seed corpus of synthesis_fuzzer (tests/fuzz/corpus/synthesis/):
a root zone denied with NSEC and one with NSEC3, each with a chain that
proves NXDOMAIN, NODATA and a wildcard, in the fuzzer's input layout
(see synthesis_fuzzer.cc). Standard library only; run it to regenerate."""
import hashlib
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "synthesis")
NSEC, NSEC3, RRSIG, SOA, A, TXT = 47, 50, 46, 6, 1, 16
B32 = "0123456789abcdefghijklmnopqrstuv"


def wire(name):
    out = b""
    for label in [l for l in name.rstrip(".").split(".") if l]:
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def bitmap(*types):
    windows = {}
    for t in types:
        w, b = divmod(t, 256)
        windows.setdefault(w, bytearray(32))[b // 8] |= 0x80 >> (b % 8)
    out = b""
    for w in sorted(windows):
        bits = bytes(windows[w]).rstrip(b"\0")
        out += bytes([w, len(bits)]) + bits
    return out


def record(owner, rtype, rdata):
    return wire(owner) + struct.pack(">HH", rtype, len(rdata)) + rdata


def negative(records):
    return bytes([2, 0]) + struct.pack(">H", len(records)) + b"".join(records)


def chunk(data):
    return struct.pack(">H", len(data)) + data


SIG = bytes([0, 6, 13, 0]) + b"\0\0\x0e\x10" + b"\x6b\x00\x00\x00\x68\x00\x00\x00" + b"\x12\x34" \
    + wire(".") + bytes(64)
SOA_RDATA = wire("a.root-servers.net.") + wire("nstld.example.") + struct.pack(">5I", 1, 1800, 900,
                                                                                 604800, 86400)


def zone_entry(nsec3, iterations=0, salt=b""):
    head = bytes([1, 0, 1 if nsec3 else 0, 1 if nsec3 else 0]) + struct.pack(">H", iterations)
    head += bytes([len(salt)]) + salt
    return head + negative([record(".", SOA, SOA_RDATA), record(".", RRSIG, SIG)])


def nsec_range(owner, nxt, *types):
    rdata = wire(nxt) + bitmap(*types)
    return chunk(wire(owner) + negative([record(owner, NSEC, rdata), record(owner, RRSIG, SIG)]))


def nsec3_hash(name, iterations=0, salt=b""):
    h = hashlib.sha1(wire(name.lower()) + salt).digest()
    for _ in range(iterations):
        h = hashlib.sha1(h + salt).digest()
    return h


def b32(data):
    bits = int.from_bytes(data, "big")
    n = len(data) * 8 // 5
    return "".join(B32[(bits >> (5 * (n - 1 - i))) & 31] for i in range(n))


def seed(qname, qtype, entry, ranges):
    return chunk(wire(qname)) + struct.pack(">H", qtype) + chunk(entry) + b"".join(ranges)


def main():
    os.makedirs(OUT, exist_ok=True)
    nsec_chain = [nsec_range(".", "*.", SOA, RRSIG, NSEC),
                  nsec_range("*.", "com.", TXT, RRSIG, NSEC),
                  nsec_range("com.", "net.", 2, 43, RRSIG, NSEC),
                  nsec_range("net.", ".", 2, 43, RRSIG, NSEC)]
    wildcard = chunk(wire("*.") + bytes([2, 0, 0, 1, 0, 4, 1, 2, 3, 4, 0, 1]) + struct.pack(">H", len(SIG))
                     + SIG + b"\0\0")
    seeds = {
        "nsec-nxdomain": seed("junk.", A, zone_entry(False),
                              [nsec_range(".", "com.", SOA, RRSIG, NSEC)] + nsec_chain[2:]),
        "nsec-nodata": seed("com.", TXT, zone_entry(False), nsec_chain),
        "nsec-wildcard": seed("junk.", TXT, zone_entry(False), nsec_chain + [wildcard]),
    }
    names = [".", "com.", "net.", "*."]
    hashes = sorted((nsec3_hash(n), n) for n in names)
    chain = []
    for i, (h, n) in enumerate(hashes):
        nxt = hashes[(i + 1) % len(hashes)][0]
        types = {".": (SOA, RRSIG, 51), "com.": (2, 43), "net.": (2, 43), "*.": (TXT, RRSIG)}[n]
        rdata = bytes([1, 0]) + struct.pack(">H", 0) + b"\0" + bytes([20]) + nxt + bitmap(*types)
        owner = b32(h) + "."
        chain.append(chunk(wire(owner) + negative([record(owner, NSEC3, rdata),
                                                   record(owner, RRSIG, SIG)])))
    seeds["nsec3-nxdomain"] = seed("junk.", A, zone_entry(True), [c for c, (h, n) in zip(chain, hashes)
                                                                   if n != "*."])
    seeds["nsec3-wildcard-nodata"] = seed("junk.", A, zone_entry(True), chain)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
