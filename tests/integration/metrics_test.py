#!/usr/bin/env python3
"""Prometheus metrics ([metrics] listen; supervisor/metrics_server.h,
stats/prometheus.h): the page passes `promtool check metrics`, its numbers
are shoal's own (queries sent are counted, answers by rcode, cache hits,
the latency histogram's count equals the answers, per-server figures for
the lab's servers, bounded by top_servers with the rest summed into
"other"); scraped again and again while dnsperf loads shoal, every page is
valid and every counter only goes up; anything but GET or HEAD /metrics
gets an HTTP error, a client that never finishes its request does not
stop others, and a reload moves the endpoint. Needs root (the lab) and
promtool (Debian `prometheus`)."""

import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

from shoal_harness import (Dnsperf, Shoal, Skip, close_shared_lab, free_port, kdig, resolve_many,
                           run_tests, shared_lab, wait_for)

lab = shared_lab


def need_promtool():
    if shutil.which("promtool") is None:
        raise Skip("promtool not installed (Debian prometheus)")


def scrape(port, path="/metrics", method="GET"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def promtool_ok(page):
    p = subprocess.run(["promtool", "check", "metrics"], input=page, capture_output=True,
                       text=True)
    assert p.returncode == 0, f"promtool check metrics:\n{p.stdout}{p.stderr}"


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def samples(page):
    """{(name, labels): value} of every sample line."""
    out = {}
    for line in page.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def types(page):
    return {line.split()[2]: line.split()[3] for line in page.splitlines()
            if line.startswith("# TYPE ")}


def metrics_shoal(top_servers=3, workers=2):
    port = free_port()
    config = lab().shoal_config()
    config["metrics"] = {"listen": [f"127.0.0.1:{port}"], "top_servers": top_servers}
    return Shoal(workers=workers, config=config), port


def test_the_page_is_valid_and_its_numbers_are_shoals():
    need_promtool()
    shoal, port = metrics_shoal(top_servers=2)
    with shoal:
        shoal.wait_log(r"metrics: http://127\.0\.0\.1:\d+/metrics")
        status, content_type, page = scrape(port)
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4"), content_type
        promtool_ok(page)
        before = samples(page)
        names = ["www.example.com.", "www.example.net.", "www.example.org.", "nx.example.com."]
        for name in names:
            kdig(shoal.port, name, "A")
        for name in names:  # again: from the cache
            kdig(shoal.port, name, "A")
        page = scrape(port)[2]
        promtool_ok(page)
        after = samples(page)

        def grew(name, labels=""):
            return after[(name, labels)] - before.get((name, labels), 0)
        assert grew("shoal_queries_total", '{transport="udp"}') == 8, page
        assert grew("shoal_answer_rcodes_total", '{rcode="NXDOMAIN"}') == 2
        assert grew("shoal_answer_rcodes_total", '{rcode="NOERROR"}') == 6
        assert grew("shoal_cache_hits_total") >= 4
        hist = sum(grew("shoal_response_duration_seconds_count", f'{{path="{p}"}}')
                   for p in ("hit", "miss"))
        assert hist == 8, hist
        assert after[("shoal_worker_up", '{worker="0"}')] == 1
        assert after[("shoal_build_info", next(l for n, l in after if n == "shoal_build_info"))] == 1
        t = types(page)
        assert t["shoal_queries_total"] == "counter" and t["shoal_cache_entries"] == "gauge"
        assert t["shoal_response_duration_seconds"] == "histogram"
        for name, kind in t.items():
            assert name.startswith("shoal_"), name
            if kind == "counter":
                assert name.endswith("_total"), name
        # the lab's servers: at most top_servers of them by name, the rest
        # "other" (server figures are read from the cache at most every 5 s)
        def with_servers():
            page_now = samples(scrape(port)[2])
            return page_now if any(n == "shoal_server_queries_total" for n, _ in page_now) else None
        after = wait_for(with_servers, 15, interval=0.5, what="server figures on the page")
        servers = {labels for name, labels in after if name == "shoal_server_queries_total"}
        assert '{server="other"}' in servers, servers
        assert len(servers) == 3, servers  # the root's, com's and example.com's, at least
        assert after[("shoal_servers", "")] >= 3
        shown = sum(after[("shoal_server_queries_total", s)] for s in servers)
        assert shown > 0
        rtts = [v for (n, _), v in after.items() if n == "shoal_server_srtt_seconds"]
        assert rtts and all(0 <= v < 5 for v in rtts), rtts  # the lab answers in well under 1 ms


def test_scraped_under_load_every_page_is_valid_and_counters_only_grow():
    need_promtool()
    shoal, port = metrics_shoal(top_servers=5)
    with shoal:
        load = Dnsperf(shoal.port, lab().env["LAB_QUERIES"], "-l", "8", "-Q", "3000")
        previous = None
        pages = 0
        try:
            while load.proc.poll() is None:
                status, _, page = scrape(port)
                assert status == 200
                promtool_ok(page)
                now = samples(page)
                kinds = types(page)
                if previous is not None:
                    for (name, labels), value in now.items():
                        family = re.sub(r"_(bucket|sum|count)$", "", name)
                        if kinds.get(name) == "counter" or kinds.get(family) == "histogram":
                            if labels == '{server="other"}' or name.startswith("shoal_server_"):
                                continue  # server entries come and go with the cache
                            old = previous.get((name, labels))
                            assert old is None or value >= old, (name, labels, old, value)
                previous = now
                pages += 1
        finally:
            result = load.result()
        assert pages >= 5, pages
        assert result["completed"] > 1000, result
        final = samples(scrape(port)[2])
        assert final[("shoal_queries_total", '{transport="udp"}')] >= result["completed"]
        print(f"  {pages} scrapes during {result['completed']} queries", flush=True)


def test_bad_requests_get_http_errors_and_slow_clients_do_not_block():
    shoal, port = metrics_shoal()
    with shoal:
        assert scrape(port, "/")[0] == 404
        assert scrape(port, "/metrics", method="POST")[0] == 405
        status, _, body = scrape(port, "/metrics", method="HEAD")
        assert status == 200 and body == ""
        assert scrape(port, "/metrics?x=1")[0] == 200
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"garbage\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 400"), "expected 400"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 10000)
            assert s.recv(100).startswith(b"HTTP/1.1 431"), "expected 431"
        # 20 clients that never finish their request: each new connection
        # past 16 pushes out the oldest unfinished one, so a scrape is
        # served at once
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(20)]
        for s in idle:
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
        assert scrape(port)[0] == 200
        # a request followed by the client's shutdown is answered
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            assert s.recv(100).startswith(b"HTTP/1.1 200"), "expected 200"
        for s in idle:
            s.close()


def test_a_reload_moves_the_endpoint():
    shoal, port = metrics_shoal()
    with shoal:
        assert scrape(port)[0] == 200
        new_port = free_port()
        shoal.write_config({"metrics": {"listen": [f"127.0.0.1:{new_port}"], "top_servers": 3}})
        rc, out, err = shoal.ctl("reload")
        assert rc == 0, (out, err)
        assert scrape(new_port)[0] == 200
        try:
            scrape(port)
            raise AssertionError("the old endpoint still answers")
        except urllib.error.URLError:
            pass
        # turned off
        shoal.write_config({"metrics": {"listen": []}})
        assert shoal.ctl("reload")[0] == 0
        try:
            scrape(new_port)
            raise AssertionError("the endpoint still answers when turned off")
        except urllib.error.URLError:
            pass


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
