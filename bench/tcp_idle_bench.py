#!/usr/bin/env python3
"""Client connections for bench/tcp-idle-bench.sh (issue 13): what idle TCP
connections cost a resolver, and how fast it takes new ones.

  idle PORT COUNT [--tls] PIDS...
      Opens COUNT connections to 127.0.0.1:PORT from 4 processes (source
      addresses 127.0.x.y, so that ports do not run out), asks one question
      on each and reads the answer (--tls: over DNS over TLS, the
      certificate not checked), then reports what they cost idle:
      the resolver's RSS (the sum over PIDS) and the kernel's TCP memory
      (/proc/net/sockstat "mem" pages, both ends of each connection, and
      the TCP slab), each per connection. One JSON line.
  accept PORT SECONDS
      4 processes connect, ask one question, read the answer and close, as
      fast as they can for SECONDS; reports connections per second.

Standard library only."""

import json
import multiprocessing
import socket
import ssl
import struct
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24
PROCESSES = 4


def query(qid):
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    name = b"".join(bytes([len(p)]) + p.encode() for p in "x.example".split(".")) + b"\0"
    return header + name + struct.pack("!HH", 1, 1)


def frame(message):
    return struct.pack("!H", len(message)) + message


def read_message(s):
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data[2:]


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def kernel_bytes():
    """TCP socket buffers (sockstat mem pages) plus the TCP slab caches."""
    pages = 0
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                pages = int(fields[fields.index("mem") + 1])
    slab = 0
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] in ("TCP", "tcp_bind_bucket", "request_sock_TCP"):
                    slab += int(fields[1]) * int(fields[3])  # active objects x size
    except OSError:
        pass
    return pages * 4096 + slab


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["dot"])
    return ctx


def holder(index, port, count, tls, ready, done):
    socks = []
    ctx = tls_context() if tls else None
    try:
        for i in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((f"127.0.{10 + index}.{1 + i % 8}", 0))
            s.connect(("127.0.0.1", port))
            if ctx is not None:
                s = ctx.wrap_socket(s)
            socks.append(s)
        # One question on each, answered: a real idle connection has been
        # used (the resolver has read from it and written to it), then
        # waits for its client's next question.
        for s in socks:
            s.settimeout(10)
            s.sendall(frame(query(9)))
            reply = read_message(s)
            if reply is None or struct.unpack("!H", reply[:2])[0] != 9:
                raise RuntimeError("a connection was not answered")
        ready.put(len(socks))
    except Exception as e:
        ready.put(f"holder {index}: {e!r} after {len(socks)}")
    done.wait()
    for s in socks:
        s.close()


def idle(port, count, tls, pids):
    ctx = multiprocessing.get_context("fork")
    ready, done = ctx.Queue(), ctx.Event()
    rss0, kernel0 = rss_kib(pids), kernel_bytes()
    counts = [count // PROCESSES + (1 if i < count % PROCESSES else 0) for i in range(PROCESSES)]
    procs = [ctx.Process(target=holder, args=(i, port, n, tls, ready, done))
             for i, n in enumerate(counts)]
    for p in procs:
        p.start()
    held = [ready.get(timeout=600) for _ in procs]
    if not all(isinstance(n, int) for n in held):
        done.set()
        raise SystemExit(f"tcp_idle_bench: {held}")
    time.sleep(1)  # let the resolver settle its accounting (nothing is waited for)
    rss1, kernel1 = rss_kib(pids), kernel_bytes()
    done.set()
    for p in procs:
        p.join()
    n = sum(held)
    print(json.dumps({"connections": n, "rss_before_kib": rss0, "rss_held_kib": rss1,
                      "user_bytes_per_connection": round((rss1 - rss0) * 1024 / n),
                      "kernel_bytes_per_connection_both_ends": round((kernel1 - kernel0) / n)}))


def churn(index, port, seconds, result):
    done = 0
    stop = time.monotonic() + seconds
    i = 0
    while time.monotonic() < stop:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((f"127.0.{20 + index}.{1 + i % 32}", 0))
        i += 1
        try:
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            s.sendall(frame(query(5)))
            if read_message(s) is not None:
                done += 1
        except OSError:
            pass
        finally:
            s.close()
    result.put(done)


def accept(port, seconds):
    ctx = multiprocessing.get_context("fork")
    result = ctx.Queue()
    procs = [ctx.Process(target=churn, args=(i, port, seconds, result)) for i in range(PROCESSES)]
    start = time.monotonic()
    for p in procs:
        p.start()
    total = sum(result.get(timeout=seconds + 60) for _ in procs)
    for p in procs:
        p.join()
    elapsed = time.monotonic() - start
    print(json.dumps({"connections": total, "seconds": round(elapsed, 2),
                      "connections_per_second": round(total / elapsed)}))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "idle":
        rest = sys.argv[4:]
        tls = "--tls" in rest
        idle(int(sys.argv[2]), int(sys.argv[3]), tls, [int(p) for p in rest if p != "--tls"])
    elif len(sys.argv) == 4 and sys.argv[1] == "accept":
        accept(int(sys.argv[2]), float(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
