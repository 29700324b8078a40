#!/usr/bin/env python3
"""Asks a resolver every name of a dnsperf query file (with DO set) and
prints how many answers had AD set and how many were SERVFAIL:
    answers N ad A servfail S
Used by resolver-bench.sh to check that two validators agree (the AD
fraction must be equal). Standard library only; 50 queries in flight."""
import random
import select
import socket
import struct
import sys
import time


def query(qid, name, qtype):
    qtypes = {"A": 1, "AAAA": 28, "TXT": 16, "MX": 15, "NS": 2, "SRV": 33}
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000, 0)  # EDNS, DO
    return header + wire + struct.pack(">HH", qtypes.get(qtype, 1), 1) + opt


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    questions = [line.split() for line in open(path) if line.strip()]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    waiting = {}  # id -> (question, sent at, tries)
    todo = [(question, 1) for question in enumerate(questions)]  # (question, try)
    answers = ad = servfail = 0
    while todo or waiting:
        while todo and len(waiting) < 50:
            (index, (name, qtype)), tries = todo.pop()
            qid = random.randrange(65536)
            while qid in waiting:
                qid = random.randrange(65536)
            sock.send(query(qid, name, qtype))
            waiting[qid] = ((index, (name, qtype)), time.monotonic(), tries)
        ready, _, _ = select.select([sock], [], [], 0.2)
        if ready:
            reply = sock.recv(65535)
            qid, flags = struct.unpack(">HH", reply[:4])
            if qid in waiting:
                del waiting[qid]
                answers += 1
                ad += bool(flags & 0x0020)
                servfail += (flags & 0x000F) == 2
        now = time.monotonic()
        for qid, (question, sent, tries) in list(waiting.items()):
            if now - sent > 3:
                del waiting[qid]
                if tries < 3:
                    todo.append((question, tries + 1))
    print(f"answers {answers} ad {ad} servfail {servfail}")


if __name__ == "__main__":
    main()
