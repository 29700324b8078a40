#!/usr/bin/env python3
"""dnstap ([dnstap]; dnstap/sink.h): shoal's messages captured end to end
by fstrm_capture (Debian fstrm-bin) and decoded by dnstap-ldns (Debian
dnstap-ldns): a client query and a client response per query asked, with
the client's address, port and transport; resolver queries to the lab's
servers and their responses; only the configured message kinds; and a
worker never waits for the collector: with none listening, frames are
dropped and counted while every query is answered, and they flow once a
collector appears. Needs root (the lab)."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from shoal_harness import (Shoal, Skip, close_shared_lab, kdig, resolve_many, run_tests,
                           shared_lab, wait_for)

lab = shared_lab
CONTENT_TYPE = "protobuf:dnstap.Dnstap"


def need_tools():
    for tool in ("fstrm_capture", "dnstap-ldns"):
        if shutil.which(tool) is None:
            raise Skip(f"{tool} not installed (Debian fstrm-bin, dnstap-ldns)")


@contextlib.contextmanager
def collector(directory):
    """fstrm_capture on DIR/tap.sock writing DIR/tap.fstrm; yields a
    function that stops it and returns the decoded messages (dnstap-ldns
    -y: one YAML document each, as dicts of the few fields we read)."""
    sock, out = Path(directory) / "tap.sock", Path(directory) / "tap.fstrm"
    log_path = Path(directory) / "capture.log"
    # -d x5: it logs each connection's end, the event finish() waits for
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["fstrm_capture", "-d", "-d", "-d", "-d", "-d", "-t", CONTENT_TYPE,
                                 "-u", str(sock), "-w", str(out)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(sock.exists, 10, what="fstrm_capture's socket")

        def finish():
            """Call once shoal has stopped: its workers flush their queues
            and end their streams; every stream read to its end, the file
            is closed."""
            def all_closed():
                text = log_path.read_text(errors="replace")
                opened = text.count("accepted new connection")
                return opened > 0 and text.count("closing (read") >= opened
            wait_for(all_closed, 30, what="every dnstap stream read to its end")
            proc.send_signal(signal.SIGINT)  # closes the file properly
            proc.wait(10)
            text = subprocess.run(["dnstap-ldns", "-r", str(out), "-y"], capture_output=True,
                                  text=True, check=True).stdout
            return [parse(doc) for doc in text.split("\n---") if "type: MESSAGE" in doc]
        yield str(sock), finish
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def parse(doc):
    fields = {}
    m = re.search(r"^[ \t]+type: (\S+)$", doc, re.M)  # the message's (indented), not the frame's
    if m:
        fields["type"] = m.group(1)
    for key in ("identity", "socket_protocol", "query_address", "query_port",
                "response_address", "response_port"):
        m = re.search(rf"^\s*{key}: (.*)$", doc, re.M)
        if m:
            fields[key] = m.group(1).strip().strip('"')
    m = re.search(r";; QUESTION SECTION:\s*\n\s*;(\S+)\s+IN\s+(\S+)", doc)
    if m:
        fields["question"] = (m.group(1), m.group(2))
    return fields


def tapping_shoal(sock, messages=None, lab_config=True, **extra):
    config = lab().shoal_config() if lab_config else {
        "resolver": {"deny_upstream": ["0.0.0.0/0", "::/0"]}}
    config["dnstap"] = {"socket": sock, "identity": "shoal-test"}
    if messages is not None:
        config["dnstap"]["messages"] = messages
    config.update(extra)
    return Shoal(workers=2, config=config)


def test_client_and_resolver_messages_captured_end_to_end():
    need_tools()
    with tempfile.TemporaryDirectory() as d, collector(d) as (sock, finish):
        names = ["www.example.com.", "www.example.net.", "nx.example.com."]
        shoal = tapping_shoal(sock)
        with shoal:
            for name in names:
                kdig(shoal.port, name, "A")
            for name in names:
                kdig(shoal.port, name, "A", "+tcp")
            stats = shoal.ctl_json("stats")["dnstap"]
        messages = finish()
        kinds = [m["type"] for m in messages]
        assert kinds.count("CLIENT_QUERY") == 6 and kinds.count("CLIENT_RESPONSE") == 6, kinds
        assert stats["frames"] == len(messages) and stats["dropped"] == 0, (stats, len(messages))
        client = [m for m in messages if m["type"].startswith("CLIENT_")]
        for m in client:
            assert m["identity"] == "shoal-test", m
            assert m["query_address"] == "127.0.0.1" and int(m["query_port"]) > 0, m
        assert {m["socket_protocol"] for m in client} == {"UDP", "TCP"}
        asked = {m["question"][0] for m in client if m["type"] == "CLIENT_QUERY"}
        assert asked == set(names), asked
        resolver = [m for m in messages if m["type"].startswith("RESOLVER_")]
        queries = [m for m in resolver if m["type"] == "RESOLVER_QUERY"]
        responses = [m for m in resolver if m["type"] == "RESOLVER_RESPONSE"]
        assert queries and responses, kinds
        lab_addrs = set(lab().all_addrs())
        for m in resolver:
            assert m["response_address"] in lab_addrs and m["response_port"] == "53", m
        print(f"  {len(messages)} messages: {len(client)} client, {len(queries)} resolver "
              f"queries, {len(responses)} responses", flush=True)


def test_only_the_configured_kinds():
    need_tools()
    with tempfile.TemporaryDirectory() as d, collector(d) as (sock, finish):
        shoal = tapping_shoal(sock, messages=["client_response"])
        with shoal:
            for i in range(3):
                kdig(shoal.port, f"www.example.com.", "A")
        kinds = {m["type"] for m in finish()}
        assert kinds == {"CLIENT_RESPONSE"}, kinds


def test_a_stalled_collector_costs_frames_not_answers():
    need_tools()
    with tempfile.TemporaryDirectory() as d, collector(d) as (sock, finish):
        shoal = tapping_shoal(sock, lab_config=False)
        with shoal:
            kdig(shoal.port, "early.example.com.", "A")
            wait_for(lambda: shoal.ctl_json("stats")["dnstap"]["frames"] >= 2, 10,
                     what="the first frames")
            capture = next(int(p) for p in os.listdir("/proc") if p.isdigit() and
                           Path(f"/proc/{p}/cmdline").read_bytes().startswith(b"fstrm_capture")
                           and sock.encode() in Path(f"/proc/{p}/cmdline").read_bytes())
            os.kill(capture, signal.SIGSTOP)  # the collector stops reading
            try:
                questions = [(f"q{i}.example.com.", "A") for i in range(8000)]
                results = resolve_many(shoal.port, questions, in_flight=200)
                assert len(results) == len(questions)
                assert all(r[0] == "SERVFAIL" for r in results.values())
                stats = shoal.ctl_json("stats")["dnstap"]
                # 16,000 frames: the socket buffers and each worker's queue
                # of 4096 fill, the rest is dropped, and counted
                assert stats["dropped"] > 0, stats
            finally:
                os.kill(capture, signal.SIGCONT)
            # it reads again: once the backlog is through, new frames are
            # queued again (not dropped) and reach it
            def queued_again():
                before = shoal.ctl_json("stats")["dnstap"]["frames"]
                kdig(shoal.port, "late.example.com.", "A")
                return shoal.ctl_json("stats")["dnstap"]["frames"] > before
            wait_for(queued_again, 30, interval=0.2, what="frames queued again")
        messages = finish()
        seen = {m.get("question", ("",))[0] for m in messages}
        assert "early.example.com." in seen and "late.example.com." in seen, \
            (len(messages), sorted(seen)[:3], "early.example.com." in seen)
        print(f"  dropped {stats['dropped']} of {stats['dropped'] + stats['frames']} frames "
              f"while the collector was stopped; every query answered", flush=True)


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
