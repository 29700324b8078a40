#!/usr/bin/env python3
"""Logs ([log]): JSON lines carry time, pid, level and message and parse
as JSON; the sampled query log writes one query in N with its client,
transport, name, type, rcode and path; below the configured level nothing
is written, and warnings say so in text format. Needs neither root nor the
network (no upstream: every query is a SERVFAIL from the resolver)."""

import json
import os
import re
import signal

from shoal_harness import Shoal, kdig, need_kdig, run_tests, wait_for

NO_UPSTREAM = {"resolver": {"deny_upstream": ["0.0.0.0/0", "::/0"]}}


def test_json_lines_and_the_sampled_query_log():
    need_kdig()
    config = dict(NO_UPSTREAM, log={"format": "json", "queries": 2})
    with Shoal(workers=1, config=config) as shoal:
        for i in range(10):
            kdig(shoal.port, f"q{i}.example.com", "A", *(["+tcp"] if i % 2 else []))
        wait_for(lambda: shoal.log().count('"message":"query ') >= 5, 10,
                 what="5 query log lines")
        lines = [json.loads(line) for line in shoal.log().splitlines() if line.strip()]
        for line in lines:
            assert set(line) == {"time", "pid", "level", "message"}, line
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"]), line
        queries = [line["message"] for line in lines if line["message"].startswith("query ")]
        assert len(queries) == 5, queries  # one in two of ten
        for q in queries:
            assert re.fullmatch(r"query 127\.0\.0\.1 (udp|tcp) q\d\.example\.com\. A SERVFAIL "
                                r"miss \d+us", q), q
        assert any(" tcp " in q for q in queries) or any(" udp " in q for q in queries)
        assert any("ready" in line["message"] for line in lines)


def test_levels():
    need_kdig()
    config = dict(NO_UPSTREAM, log={"level": "warning"})
    shoal = Shoal(workers=1, config=config)
    shoal.start(wait=False)  # its "ready" lines are info: not written
    try:
        wait_for(lambda: kdig(shoal.port, "x.example.com", "A", "+timeout=1").status == "SERVFAIL",
                 30, what="an answer")
        assert "starting" not in shoal.log(), shoal.log()  # info lines are left out
        pid = shoal.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        # a worker killed: the supervisor warns, and restarts it
        wait_for(lambda: re.search(r"shoal\[\d+\]: warning: worker 0 \(pid \d+\) killed",
                                   shoal.log()), 10, what="the warning")
        wait_for(lambda: pid not in shoal.worker_pids() and shoal.worker_pids(), 10,
                 what="a new worker")
    finally:
        shoal.__exit__(None, None, None)
    config = dict(NO_UPSTREAM, log={"level": "debug", "queries": 0})
    with Shoal(workers=1, config=config) as shoal:
        kdig(shoal.port, "x.example.com", "A")
        assert "starting" in shoal.log() and "query " not in shoal.log(), shoal.log()


if __name__ == "__main__":
    run_tests(globals())
