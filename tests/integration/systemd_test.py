#!/usr/bin/env python3
"""systemd integration (Type=notify): the supervisor tells the service
manager READY=1 with a STATUS line once its workers are forked, STATUS on a
worker's death and restart, STOPPING=1 on SIGTERM, and WATCHDOG=1 at half
of WATCHDOG_USEC. systemd itself is not needed: a Python AF_UNIX datagram
socket plays the service manager (NOTIFY_SOCKET), as sd_notify(3) allows.
Every query is REFUSED by the ACL, so neither root nor the network is needed."""

import contextlib
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

from shoal_harness import Shoal, alive, run_tests, shoal_bin

REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32"]}}
# SOL_SOCKET option: stamp each datagram with the wall clock when it was
# sent (AF_UNIX). Linux's value; Python does not export the name.
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)


class NotifySocket:
    """The service manager's end: a datagram socket at a temporary path."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="shoal-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        # The kernel's timestamps: the gaps between shoal's messages, not
        # those between the moments this (maybe busy) process read them.
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        self.messages = []  # (time sent, wall clock; {key: value}) in arrival order

    def receive(self, timeout):
        """Collects what arrives within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data, ancillary, _flags, _address = self.sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except socket.timeout:
                return
            sent = time.time()
            for level, kind, value in ancillary:
                if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMP):
                    seconds, microseconds = struct.unpack("qq", value[:16])  # struct timeval
                    sent = seconds + microseconds / 1e6
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((sent, fields))

    def wait(self, predicate, timeout, what):
        """Receives until some message satisfies `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for _t, fields in self.messages:
                if predicate(fields):
                    return fields
            if time.monotonic() >= deadline:
                raise AssertionError(f"no {what} within {timeout} s; got {self.messages}")
            self.receive(min(0.1, deadline - time.monotonic()))

    def close(self):
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self.dir)


class NotifiedShoal(Shoal):
    """A Shoal started with NOTIFY_SOCKET and the extra variables `env`.
    With `watchdog_usec`, it is started through
    `sh -c 'WATCHDOG_PID=$$ exec shoal ...'` so WATCHDOG_PID is the
    supervisor's own pid, as systemd sets it (sd_watchdog_enabled checks it)."""

    def __init__(self, notify, watchdog_usec=None, env=None, **kwargs):
        super().__init__(**kwargs)
        self.env = dict(os.environ, NOTIFY_SOCKET=notify.path)
        for key in ("WATCHDOG_USEC", "WATCHDOG_PID"):
            self.env.pop(key, None)
        self.env.update(env or {})
        self.watchdog_usec = watchdog_usec

    def start(self, wait=True, timeout=60):
        argv = [shoal_bin(), "--config", str(self.config_path), "--cold", *self.extra_args]
        if self.watchdog_usec is not None:
            self.env["WATCHDOG_USEC"] = str(self.watchdog_usec)
            argv = ["sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh", *argv]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        if wait:
            self.wait_ready(self.workers, timeout)
        return self


def test_ready_with_status_then_stopping_before_exit():
    notify = NotifySocket()
    try:
        with NotifiedShoal(notify, workers=2, config=REFUSE_ALL) as shoal:
            ready = notify.wait(lambda m: m.get("READY") == "1", 30, "READY=1")
            assert ready.get("STATUS") == f"serving on 127.0.0.1:{shoal.port} with 2/2 workers", \
                ready
            assert not any("WATCHDOG" in m for _t, m in notify.messages), notify.messages
            shoal.proc.send_signal(signal.SIGTERM)
            notify.wait(lambda m: m.get("STOPPING") == "1", 30, "STOPPING=1")
            assert shoal.proc.wait(30) == 0
            # STOPPING=1 was sent before the exit; nothing came after it but status
            keys = [set(m) for _t, m in notify.messages]
            stopping_at = next(i for i, k in enumerate(keys) if "STOPPING" in k)
            ready_at = next(i for i, k in enumerate(keys) if "READY" in k)
            assert ready_at < stopping_at, notify.messages
    finally:
        notify.close()


def test_status_follows_a_dead_worker_and_its_replacement():
    notify = NotifySocket()
    try:
        with NotifiedShoal(notify, workers=2, config=REFUSE_ALL) as shoal:
            notify.wait(lambda m: m.get("READY") == "1", 30, "READY=1")
            victim = shoal.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            died = notify.wait(lambda m: "killed by signal 9" in m.get("STATUS", ""), 30,
                               "a STATUS about the killed worker")
            assert "with 1/2 workers" in died["STATUS"] and "restarting" in died["STATUS"], died
            died_at = next(i for i, (_t, m) in enumerate(notify.messages) if m is died)
            notify.wait(lambda m: m.get("STATUS", "").endswith("with 2/2 workers") and
                        any(m is later for _t, later in notify.messages[died_at + 1:]), 30,
                        "a STATUS with both workers back, after the death")
            shoal.wait_workers(2, replacing=[victim])
    finally:
        notify.close()


def test_watchdog_pings_at_half_the_interval():
    notify = NotifySocket()
    try:
        with NotifiedShoal(notify, watchdog_usec=200_000, workers=1, config=REFUSE_ALL) as shoal:
            # logged once the workers are forked: maybe after they are ready
            shoal.wait_log("systemd watchdog: 200 ms, pinging every 100 ms")
            notify.messages.clear()
            notify.receive(1.0)
            pings = [t for t, m in notify.messages if m.get("WATCHDOG") == "1"]
            assert len(pings) >= 3, notify.messages
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            assert max(gaps) < 0.2, gaps  # never as late as the 200 ms systemd waits for
    finally:
        notify.close()


def test_watchdog_for_another_pid_is_ignored():
    # WATCHDOG_PID names the process systemd watches; when it is not the
    # supervisor (e.g. inherited from a parent), shoal must not ping.
    notify = NotifySocket()
    try:
        env = {"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}
        with NotifiedShoal(notify, env=env, workers=1, config=REFUSE_ALL):
            notify.wait(lambda m: m.get("READY") == "1", 30, "READY=1")
            notify.receive(0.6)  # pings would come every 100 ms
            assert not any("WATCHDOG" in m for _t, m in notify.messages), notify.messages
    finally:
        notify.close()


def test_without_notify_socket_nothing_changes():
    # No NOTIFY_SOCKET: the calls are no-ops and log nothing.
    with Shoal(workers=1, config=REFUSE_ALL) as shoal:
        assert alive(shoal.proc.pid)
    assert "sd_notify" not in shoal.log() and "watchdog" not in shoal.log(), shoal.log()


if __name__ == "__main__":
    run_tests(globals())
