#!/usr/bin/env python3
"""DNS over TLS (RFC 7858) for clients: kdig +tls and Python's ssl module
against shoal's tls_listen with a self-signed certificate made here by the
openssl CLI. Queries are answered REFUSED by the ACL (the hot path) or
SERVFAIL with no upstream allowed (the resolver path), so neither root nor
the network is needed, except for the in-flight restart test, which binds
a silent root server on 127.0.0.2:53 (root only; skipped otherwise).

Covered: both answer paths, pipelining, records and messages split across
reads, TLS 1.2 and 1.3, ALPN "dot", session resumption on any worker,
garbage and old protocol versions (closed, counted, the worker lives), the
idle timeout (with close_notify), rolling restart with a query in flight,
reload (adding TLS, a renewed certificate, a bad pair, removing TLS),
upgrade, --check-config, and the counters in shoalctl stats."""

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import warnings

from shoal_harness import (Shoal, Skip, build_query, free_port, kdig, need_kdig, need_root,
                           parse_header, run_tests, shoal_bin, tcp_frame, tcp_read_message,
                           wait_for)

REFUSE_ALL = {"acl": {"allow": ["192.0.2.255/32", "2001:db8::/32"]}}
NO_UPSTREAM = {"resolver": {"deny_upstream": ["0.0.0.0/0", "::/0"]}}
HOSTNAME = "shoal.test"


def query(qid=7, name="www.example.com"):
    return build_query(name, "A", qid=qid)


def make_cert(directory, cn=HOSTNAME, name=""):
    """A self-signed P-256 certificate and its key: (cert path, key path)."""
    if not shutil.which("openssl"):
        raise Skip("the openssl command is not installed")
    cert, key = f"{directory}/cert{name}.pem", f"{directory}/key{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", f"/CN={cn}",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def tls_keys(tls_port):
    return {"tls_listen": [f"127.0.0.1:{tls_port}"], "tls_certificate": "cert.pem",
            "tls_key": "key.pem"}


def tls_shoal(settings, workers=1, server=None, **kwargs):
    """A Shoal (not started) with DNS over TLS on its own port (.tls_port)
    and a fresh certificate (.cert) in its directory."""
    port = free_port()
    tls_port = free_port()
    while tls_port == port:
        tls_port = free_port()
    config = {section: dict(keys) for section, keys in settings.items()}
    config.setdefault("server", {}).update(tls_keys(tls_port), **(server or {}))
    shoal = Shoal(workers=workers, config=config, port=port, **kwargs)
    shoal.tls_port = tls_port
    shoal.cert, _ = make_cert(shoal.dir)
    return shoal


def client_context(cafile, hostname_check=True):
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.check_hostname = hostname_check
    ctx.set_alpn_protocols(["dot"])
    return ctx


def tls_connect(shoal, ctx=None, session=None, timeout=30, hostname=HOSTNAME):
    """A verified TLS connection to the instance's TLS port. Unclean ends
    raise (suppress_ragged_eofs off): b"" from recv means close_notify."""
    raw = socket.create_connection(("127.0.0.1", shoal.tls_port), timeout=timeout)
    try:
        return (ctx or client_context(shoal.cert)).wrap_socket(
            raw, server_hostname=hostname, session=session, suppress_ragged_eofs=False)
    except BaseException:
        raw.close()
        raise


def exchange(sock, qids, name="www.example.com"):
    """Sends the queries pipelined in one write; returns {id: rcode}."""
    sock.sendall(b"".join(tcp_frame(query(q, name)) for q in qids))
    replies = {}
    for _ in qids:
        reply = tcp_read_message(sock)
        assert reply is not None, f"connection closed after {len(replies)} of {len(qids)} answers"
        qid, _flags, rcode, *_ = parse_header(reply)
        replies[qid] = rcode
    return replies


def closed_by_server(sock, within):
    """Waits for the server's close (a clean one: close_notify, then EOF);
    returns how long it took."""
    sock.settimeout(within)
    t0 = time.monotonic()
    assert sock.recv(10) == b"", "data instead of the close"
    return time.monotonic() - t0


def tls_counters(shoal):
    """(handshakes, failures) summed over the workers, from their log line."""
    counters = shoal.counters()
    return (sum(c["tls.handshakes"] for c in counters.values()),
            sum(c["tls.failed"] for c in counters.values()))


def stats_tls(shoal):
    return shoal.ctl_json("stats")["tls"]


def test_kdig_over_tls_gets_refused_and_servfail():
    need_kdig()
    for settings, rcode in ((REFUSE_ALL, "REFUSED"), (NO_UPSTREAM, "SERVFAIL")):
        with tls_shoal(settings, workers=2) as shoal:
            r = kdig(shoal.tls_port, "www.example.com", "A", "+tls")
            assert r.status == rcode, r
            assert ";; TLS session (TLS1.3)" in r.text, r
            assert "qr" in r.flags and "ra" in r.flags, r
            # strict profile (RFC 8310): the certificate and the name verified
            r = kdig(shoal.tls_port, "example.org", "A", f"+tls-ca={shoal.cert}",
                     f"+tls-hostname={HOSTNAME}")
            assert r.status == rcode and ";; TLS session" in r.text, r
            # the wrong name fails verification: no answer
            r = kdig(shoal.tls_port, "example.org", "A", f"+tls-ca={shoal.cert}",
                     "+tls-hostname=other.test")
            assert r.status is None, r
            # plain DNS is still on its own port, and not on the TLS one
            assert kdig(shoal.port, "www.example.com", "A", "+notcp").status == rcode
            assert kdig(shoal.port, "www.example.com", "A", "+tcp").status == rcode
            assert kdig(shoal.tls_port, "www.example.com", "A", "+tcp", timeout=1).status is None
            wait_for(lambda: stats_tls(shoal)["handshake_failures"] >= 2, 30,
                     what="the failed handshakes counted")
            tls = stats_tls(shoal)
            assert tls == {"handshakes": 2, "handshake_failures": 2}, tls
            counters = shoal.counters()
            queries = sum(c["queries.tcp"] for c in counters.values())
            assert queries == 3, counters  # two over TLS, one over TCP
            if rcode == "REFUSED":
                assert sum(c["queries.refused_acl"] for c in counters.values()) == 4, counters


def test_pipelined_queries_over_one_tls_connection_are_all_answered():
    for settings, rcode in ((REFUSE_ALL, "REFUSED"), (NO_UPSTREAM, "SERVFAIL")):
        with tls_shoal(settings, workers=1) as shoal:
            with tls_connect(shoal) as s:
                assert s.version() == "TLSv1.3", s.version()
                assert s.selected_alpn_protocol() == "dot"
                ids = list(range(100, 300))
                assert exchange(s, ids) == {i: rcode for i in ids}
                # one query written a byte at a time: one record per byte
                for byte in tcp_frame(query(9)):
                    s.sendall(bytes([byte]))
                assert parse_header(tcp_read_message(s))[:3:2] == (9, rcode)
                # a 20000-octet message spans two records and many reads;
                # garbage after the question: FORMERR (REFUSED outside the ACL)
                s.sendall(tcp_frame(query(10) + b"\0" * (20000 - len(query(10)))))
                big = "REFUSED" if rcode == "REFUSED" else "FORMERR"
                assert parse_header(tcp_read_message(s))[:3:2] == (10, big)
                assert exchange(s, [11]) == {11: rcode}


def test_tls_records_split_across_reads_and_tls_1_2():
    with tls_shoal(REFUSE_ALL) as shoal:
        # the ciphertext itself dribbled in: the handshake and the query
        # records arrive a few octets per read
        ctx = client_context(shoal.cert)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_hostname=HOSTNAME)
        with socket.create_connection(("127.0.0.1", shoal.tls_port), timeout=30) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def flush():
                data = outgoing.read()
                for i in range(0, len(data), 7):
                    raw.sendall(data[i:i + 7])
                    time.sleep(0.0005)

            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    flush()
                    incoming.write(raw.recv(65536))
            flush()
            tls.write(tcp_frame(query(21)) + tcp_frame(query(22)))
            flush()
            plain = b""
            while len(plain) < 4 or len(plain) < 2 + int.from_bytes(plain[:2], "big") + 2:
                try:
                    plain += tls.read(65536)
                except ssl.SSLWantReadError:
                    incoming.write(raw.recv(65536))
            first = plain[2:2 + int.from_bytes(plain[:2], "big")]
            assert parse_header(first)[:3:2] == (21, "REFUSED")
        # TLS 1.2 is still accepted, with a forward-secret AEAD suite
        ctx = client_context(shoal.cert)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with tls_connect(shoal, ctx) as s:
            assert s.version() == "TLSv1.2", s.version()
            name = s.cipher()[0]
            assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name
            assert exchange(s, [23]) == {23: "REFUSED"}


def test_garbage_and_old_protocols_are_closed_counted_and_the_worker_lives():
    with tls_shoal(NO_UPSTREAM, server={"tcp_idle_timeout": "10s"}) as shoal:
        pids = shoal.worker_pids()
        garbage = [tcp_frame(query(1)),              # plain DNS on the TLS port
                   b"\xff" * 300,                   # no TLS record at all
                   b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                   b"\x16\x03\x01\x00\x05" + b"\xff" * 5]  # a handshake record, not a ClientHello
        for payload in garbage:
            with socket.create_connection(("127.0.0.1", shoal.tls_port), timeout=5) as s:
                s.sendall(payload)
                t0 = time.monotonic()
                with_alert = b""
                try:
                    while chunk := s.recv(100):
                        with_alert += chunk
                except ConnectionResetError:
                    pass
                # closed at once, not by the 10 s idle timeout; at most an alert
                assert time.monotonic() - t0 < 3, payload
                assert len(with_alert) < 100 and (not with_alert or with_alert[0] == 0x15), \
                    (payload, with_alert)
        # a client that offers TLS 1.1 only gets a protocol_version alert
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        try:
            tls_connect(shoal, old).close()
            raise AssertionError("a TLS 1.1 handshake succeeded")
        except ssl.SSLError as e:
            assert "PROTOCOL_VERSION" in str(e).upper() or "VERSION" in str(e).upper(), e
        # a client that does not trust the certificate gives up
        try:
            tls_connect(shoal, ssl.create_default_context()).close()
            raise AssertionError("an unverified certificate was accepted")
        except ssl.SSLCertVerificationError:
            pass
        assert shoal.worker_pids() == pids, "a worker died"
        with tls_connect(shoal) as s:
            assert exchange(s, [5, 6]) == {5: "SERVFAIL", 6: "SERVFAIL"}
        failures = len(garbage) + 2
        wait_for(lambda: tls_counters(shoal) == (1, failures), 30,
                 what=f"1 handshake and {failures} failures counted")
        assert stats_tls(shoal) == {"handshakes": 1, "handshake_failures": failures}
        assert shoal.counters()[0]["tcp.idle_closed"] == 0


def test_idle_tls_connections_are_closed_with_close_notify():
    with tls_shoal(REFUSE_ALL, server={"tcp_idle_timeout": "300ms"}) as shoal:
        with tls_connect(shoal) as s:
            assert exchange(s, [1]) == {1: "REFUSED"}
            took = closed_by_server(s, 5)  # raises on an EOF without close_notify
            assert 0.2 < took < 2.0, took
        # a connection that never starts its handshake is closed as well,
        # and counts as a failed handshake
        with socket.create_connection(("127.0.0.1", shoal.tls_port), timeout=5) as s:
            t0 = time.monotonic()
            assert s.recv(10) == b""
            assert 0.2 < time.monotonic() - t0 < 2.0
        counters = shoal.counters()[0]
        assert counters["tcp.idle_closed"] == 2, counters
        assert (counters["tls.handshakes"], counters["tls.failed"]) == (1, 1), counters


def test_sessions_resume_on_any_worker():
    # The supervisor builds the TLS context before it forks: every worker
    # has the same ticket keys, so a session resumes wherever the kernel
    # sends the next connection.
    with tls_shoal(REFUSE_ALL, workers=2) as shoal:
        ctx = client_context(shoal.cert)
        with tls_connect(shoal, ctx) as s:
            assert exchange(s, [1]) == {1: "REFUSED"}  # the tickets arrive with it
            session = s.session
            assert not s.session_reused
        for i in range(16):
            with tls_connect(shoal, ctx, session=session) as s:
                assert s.session_reused, f"connection {i} did not resume"
                assert exchange(s, [i]) == {i: "REFUSED"}
        counters = shoal.counters()
        per_worker = sorted(c["tls.handshakes"] for c in counters.values())
        assert sum(per_worker) == 17 and per_worker[0] > 0, counters


def test_restart_and_upgrade_keep_tls_on_its_port():
    with tls_shoal(REFUSE_ALL, workers=2) as shoal:
        idle = tls_connect(shoal)
        try:
            assert exchange(idle, [1]) == {1: "REFUSED"}
            old = shoal.worker_pids()
            shoal.ctl_json("restart")
            new = shoal.wait_workers(2, replacing=old)
            # the old worker drained: it closed its idle connection cleanly
            closed_by_server(idle, 30)
        finally:
            idle.close()
        for _ in range(4):  # over both new workers' sockets
            with tls_connect(shoal) as s:
                assert exchange(s, [2, 3]) == {2: "REFUSED", 3: "REFUSED"}
        shoal.ctl_json("upgrade")
        shoal.wait_workers(2, replacing=new)
        for _ in range(4):
            with tls_connect(shoal) as s:
                assert exchange(s, [4]) == {4: "REFUSED"}
        if shutil.which("kdig"):
            assert kdig(shoal.tls_port, "example.com", "A", "+tls").status == "REFUSED"


def test_restart_answers_a_tls_query_in_flight_before_the_old_worker_exits():
    need_root()
    # A root server that never answers: the query stays in flight until
    # its deadline (query_timeout), then gets SERVFAIL.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        silent.bind(("127.0.0.2", 53))
    except OSError as e:
        silent.close()
        raise Skip(f"cannot bind 127.0.0.2:53: {e}")
    try:
        resolver = {"resolver": {"root_hints": "root.hints", "deny_upstream": [],
                                 "ipv6": False, "query_timeout": "1500ms"}}
        shoal = tls_shoal(resolver, workers=1)
        (shoal.dir / "root.hints").write_text(
            ". 3600000 NS a.root.test.\na.root.test. 3600000 A 127.0.0.2\n")
        with shoal:
            old = shoal.worker_pids()
            with tls_connect(shoal) as s:
                s.sendall(tcp_frame(query(77, "in-flight.example")))
                silent.settimeout(30)
                silent.recvfrom(4096)  # the worker is resolving it now
                answers = []
                restart = threading.Thread(target=lambda: answers.append(shoal.ctl_json("restart")))
                restart.start()
                try:
                    reply = tcp_read_message(s)
                    assert reply is not None, "closed without the answer"
                    assert parse_header(reply)[:3:2] == (77, "SERVFAIL")
                    closed_by_server(s, 30)  # then the draining worker closes it cleanly
                finally:
                    restart.join(30)
            assert answers and answers[0]["ok"] is True, answers
            shoal.wait_workers(1, replacing=old)
            assert "1 tcp connection(s)" in shoal.log(), shoal.log()  # it was open at the stop
            with tls_connect(shoal) as s:
                assert exchange(s, [78], "after.example") == {78: "SERVFAIL"}
    finally:
        silent.close()


def test_reload_adds_tls_renews_the_certificate_and_removes_tls():
    tls_port = free_port()
    with Shoal(workers=2, config=REFUSE_ALL) as shoal:
        shoal.tls_port = tls_port
        shoal.cert, _ = make_cert(shoal.dir)
        shoal.write_config({"server": tls_keys(tls_port)})
        old = shoal.worker_pids()
        answer = shoal.ctl_json("reload")
        assert {"server.tls_listen", "server.tls_certificate", "server.tls_key"} <= \
            set(answer["changed"]), answer
        new = shoal.wait_workers(2, replacing=old)
        with tls_connect(shoal) as s:
            assert exchange(s, [1]) == {1: "REFUSED"}
        # a renewed certificate in the same files: in service after a reload
        renewed, _ = make_cert(shoal.dir, cn="renewed.test", name="-new")
        os.replace(renewed, shoal.dir / "cert.pem")
        os.replace(shoal.dir / "key-new.pem", shoal.dir / "key.pem")
        assert shoal.ctl_json("reload")["changed"] == []
        newer = shoal.wait_workers(2, replacing=new)
        for _ in range(4):
            with tls_connect(shoal, client_context(shoal.dir / "cert.pem"),
                             hostname="renewed.test") as s:
                assert exchange(s, [2]) == {2: "REFUSED"}
        # a key that does not match: the reload fails, nothing changes
        make_cert(shoal.dir, name="-other")
        shoal.write_config({"server": {"tls_key": "key-other.pem"}})
        rc, out, err = shoal.ctl("reload")
        assert rc == 1 and f"tls_key {shoal.dir}/key-other.pem: does not match" in err, \
            (rc, out, err)
        assert shoal.worker_pids() == newer
        # no TLS any more: the port closes once every worker is replaced
        shoal.write_config({"server": {"tls_listen": [], "tls_key": "key.pem"}})
        assert shoal.ctl_json("reload")["changed"] == ["server.tls_listen"]
        shoal.wait_workers(2, replacing=newer)
        try:
            socket.create_connection(("127.0.0.1", tls_port), timeout=2).close()
            raise AssertionError("the TLS port still accepts connections")
        except ConnectionRefusedError:
            pass
        assert kdig(shoal.port, "example.com", "A", "+tcp").status == "REFUSED"


def test_check_config_and_start_refuse_a_bad_certificate_or_key():
    shoal = tls_shoal(REFUSE_ALL)  # never started: its directory, config and certificate
    directory, config = shoal.dir, shoal.config_path
    make_cert(directory, name="-other")

    def check(**server):
        shoal.write_config({"server": dict(tls_keys(shoal.tls_port), **server)})
        p = subprocess.run([shoal_bin(), "--check-config", str(config)], capture_output=True,
                           text=True, timeout=20, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout + p.stderr

    rc, out = check()
    assert rc == 0 and "1 TLS address(es) with certificate CN=shoal.test" in out, out
    rc, out = check(tls_key="key-other.pem")
    assert rc == 1 and (f"shoal: tls_key {directory}/key-other.pem: does not match the "
                        f"certificate in {directory}/cert.pem") in out, out
    rc, out = check(tls_certificate="key.pem")
    assert rc == 1 and f"tls_certificate {directory}/key.pem: no PEM certificate in it" in out, \
        out
    rc, out = check(tls_key="cert.pem")
    assert rc == 1 and f"tls_key {directory}/cert.pem: no PEM private key in it" in out, out
    # an encrypted key: an error, never a passphrase prompt
    subprocess.run(["openssl", "pkey", "-in", str(directory / "key.pem"), "-aes256", "-passout",
                    "pass:secret", "-out", str(directory / "encrypted.pem")], check=True)
    rc, out = check(tls_key="encrypted.pem")
    assert rc == 1 and f"tls_key {directory}/encrypted.pem: it is encrypted" in out, out
    rc, out = check(tls_certificate="")
    assert rc == 1 and "server.tls_certificate: must name a PEM file" in out, out
    # shoal itself refuses to start on a bad pair
    shoal.write_config({"server": dict(tls_keys(shoal.tls_port), tls_key="key-other.pem")})
    p = subprocess.run([shoal_bin(), "--config", str(config), "--cold"], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert p.returncode == 1 and "does not match the certificate" in p.stderr, p.stderr
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())
