#!/usr/bin/env python3
"""DNS over HTTPS (RFC 8484, issue 13) with real clients: kdig +https
(POST and GET) and curl --http2 against https_listen, the HTTP errors for
what is not a DNS request, and a burst of streams on one connection
(answers are the ACL's REFUSED, or SERVFAIL without upstream); then
names resolved from the lab, their answers arriving on their streams
after the resolution. The last test needs root (the lab); the others
need neither root nor the network."""

import base64
import shutil
import struct
import subprocess

from shoal_harness import (Shoal, Skip, build_query, close_shared_lab, free_port, kdig,
                           need_kdig, parse_header, run_tests, shared_lab, wait_for)
from tls_test import HOSTNAME, make_cert

REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32"]}}
NO_UPSTREAM = {"resolver": {"deny_upstream": ["0.0.0.0/0", "::/0"]}}


def doh_shoal(settings, workers=1):
    port = free_port()
    https_port = free_port()
    while https_port == port:
        https_port = free_port()
    config = {section: dict(keys) for section, keys in settings.items()}
    config.setdefault("server", {}).update(
        {"https_listen": [f"127.0.0.1:{https_port}"], "tls_certificate": "cert.pem",
         "tls_key": "key.pem"})
    shoal = Shoal(workers=workers, config=config, port=port)
    shoal.https_port = https_port
    shoal.cert, _ = make_cert(shoal.dir)
    return shoal


def need_curl():
    if not shutil.which("curl"):
        raise Skip("curl is not installed")


def curl(shoal, path, *args, method=None):
    """curl --http2 to /path on the DoH port, the name pinned to 127.0.0.1
    and the certificate verified: (status, headers dict, body bytes)."""
    command = ["curl", "-sS", "--http2", "--max-time", "10", "--cacert", shoal.cert,
               "--resolve", f"{HOSTNAME}:{shoal.https_port}:127.0.0.1", "-D", "-", "-o", "-"]
    if method:
        command += ["-X", method]
    command += list(args) + [f"https://{HOSTNAME}:{shoal.https_port}{path}"]
    out = subprocess.run(command, capture_output=True, check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/2 "), lines
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def curl_parallel(shoal, names, outputs):
    """One curl, one HTTP/2 connection, the GET of each name's A query
    sent at once as streams (--parallel); each body written to its output.
    Returns the status codes in order."""
    args = []
    for name, output in zip(names, outputs):
        query = build_query(name, "A", qid=0)
        encoded = base64.urlsafe_b64encode(query).rstrip(b"=").decode()
        args += ["-o", output, f"https://{HOSTNAME}:{shoal.https_port}/dns-query?dns={encoded}"]
    return subprocess.run(
        ["curl", "-sS", "--http2", "--parallel", "--parallel-max", str(len(names)),
         "--max-time", "20", "--cacert", shoal.cert,
         "--resolve", f"{HOSTNAME}:{shoal.https_port}:127.0.0.1", "-w", "%{http_code}\\n"] + args,
        capture_output=True, check=True, text=True).stdout.split()


def stats_doh(shoal):
    return shoal.ctl_json("stats")["doh"]


def test_kdig_over_https_post_and_get():
    need_kdig()
    for settings, rcode in ((REFUSE_ALL, "REFUSED"), (NO_UPSTREAM, "SERVFAIL")):
        with doh_shoal(settings, workers=2) as shoal:
            for method in ("+https", "+https-get"):
                r = kdig(shoal.https_port, "www.example.com", "A", method,
                         f"+tls-ca={shoal.cert}", f"+tls-hostname={HOSTNAME}")
                assert r.status == rcode, (method, r)
                assert "HTTPS" in r.text or "TLS" in r.text, r.text
            assert stats_doh(shoal)["queries"] >= 2, stats_doh(shoal)
            # Plain DNS stays on its own port, not on the DoH one.
            assert kdig(shoal.port, "www.example.com", "A", "+tcp").status == rcode
            assert kdig(shoal.https_port, "www.example.com", "A", "+tcp",
                        timeout=1).status is None


def test_curl_get_and_post_get_dns_messages_with_their_freshness():
    need_curl()
    query = build_query("www.example.com", "A", qid=0)  # RFC 8484 4.1: ID 0
    encoded = base64.urlsafe_b64encode(query).rstrip(b"=").decode()
    with doh_shoal(NO_UPSTREAM) as shoal:
        status, headers, body = curl(shoal, f"/dns-query?dns={encoded}")
        assert status == 200, (status, headers)
        assert headers["content-type"] == "application/dns-message", headers
        assert headers["cache-control"].startswith("max-age="), headers
        qid, flags, *_ = parse_header(body)
        assert qid == 0 and flags & 0x8000 and flags & 0x000F == 2, (qid, flags)  # SERVFAIL
        # POST: the query as the body.
        path = f"{shoal.dir}/query.bin"
        with open(path, "wb") as f:
            f.write(query)
        status, headers, body = curl(shoal, "/dns-query", "--data-binary", f"@{path}",
                                     "-H", "content-type: application/dns-message")
        assert status == 200 and headers["content-type"] == "application/dns-message", headers
        assert int(headers["content-length"]) == len(body) and parse_header(body)[0] == 0


def test_what_is_not_a_dns_request_gets_an_http_error():
    need_curl()
    query = build_query("www.example.com", "A", qid=0)
    encoded = base64.urlsafe_b64encode(query).rstrip(b"=").decode()
    with doh_shoal(REFUSE_ALL) as shoal:
        path = f"{shoal.dir}/query.bin"
        with open(path, "wb") as f:
            f.write(query)
        assert curl(shoal, f"/other?dns={encoded}")[0] == 404
        assert curl(shoal, "/dns-query")[0] == 400                 # no dns parameter
        assert curl(shoal, "/dns-query?dns=%%%")[0] == 400         # not base64url
        assert curl(shoal, "/dns-query", method="DELETE")[0] == 405
        assert curl(shoal, "/dns-query", "--data-binary", f"@{path}",
                     "-H", "content-type: text/plain")[0] == 415
        big = f"{shoal.dir}/big.bin"
        with open(big, "wb") as f:
            f.write(b"\0" * 70000)
        assert curl(shoal, "/dns-query", "--data-binary", f"@{big}",
                    "-H", "content-type: application/dns-message")[0] == 413
        assert stats_doh(shoal)["http_errors"] == 6, stats_doh(shoal)
        assert stats_doh(shoal)["queries"] == 0, stats_doh(shoal)
        # The connection and the worker are fine: a real query still works.
        assert curl(shoal, f"/dns-query?dns={encoded}")[0] == 200


def test_restart_reload_and_upgrade_keep_doh_on_its_port():
    need_curl()
    query = build_query("www.example.com", "A", qid=0)
    encoded = base64.urlsafe_b64encode(query).rstrip(b"=").decode()
    with doh_shoal(REFUSE_ALL, workers=2) as shoal:
        def served():
            status, _, body = curl(shoal, f"/dns-query?dns={encoded}")
            return status == 200 and parse_header(body)[1] & 0x000F == 5  # REFUSED
        assert served()
        old = shoal.worker_pids()
        shoal.ctl_json("restart")
        new = shoal.wait_workers(2, replacing=old)
        assert all(served() for _ in range(4))  # over both new workers' sockets
        shoal.ctl_json("reload")
        assert served()
        shoal.ctl_json("upgrade")
        shoal.wait_workers(2, replacing=new)
        assert all(served() for _ in range(4))
        # Only DoH on that port: no DNS over TCP framing is answered there.
        assert kdig(shoal.https_port, "example.com", "A", "+tcp", timeout=1).status is None


def test_many_streams_on_one_connection_are_all_answered():
    need_curl()
    with doh_shoal(NO_UPSTREAM) as shoal:
        out = curl_parallel(shoal, [f"n{i}.example.com" for i in range(50)], ["/dev/null"] * 50)
        assert out == ["200"] * 50, out
        wait_for(lambda: stats_doh(shoal)["queries"] >= 50, 30, what="50 DoH queries counted")
        tcp = shoal.ctl_json("stats")["tcp_clients"]
        assert tcp["accepted"] <= 2, tcp  # one connection (curl may probe once more)


def test_resolved_answers_arrive_on_their_streams():
    """Answers that come from the lab after a resolution, while the
    connection waits (not at once inside the request's processing)."""
    need_kdig()
    need_curl()
    lab = shared_lab()
    with doh_shoal(lab.shoal_config(), workers=2) as shoal:
        r = kdig(shoal.https_port, "www.example.com", "A", "+https", "+dnssec",
                 f"+tls-ca={shoal.cert}", f"+tls-hostname={HOSTNAME}")
        assert r.status == "NOERROR" and r.data("A") == ["192.0.2.10"], r
        assert "ad" in r.flags, r
        out = curl_parallel(shoal, [f"h{i:03d}.bulk03.info" for i in range(30)],
                            [f"{shoal.dir}/answer{i}.bin" for i in range(30)])
        assert out == ["200"] * 30, out
        for i in range(30):
            with open(f"{shoal.dir}/answer{i}.bin", "rb") as f:
                _, flags, _, ancount, *_ = parse_header(f.read())
            assert flags & 0x000F == 0 and ancount == 1, (i, flags, ancount)


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        close_shared_lab()
