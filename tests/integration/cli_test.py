#!/usr/bin/env python3
"""The shoal command line: --version, --help, bad arguments, --check-config
on good and bad files (exit status and messages with line numbers),
--print-config. Needs neither root nor the network."""

import subprocess
import tempfile
from pathlib import Path

from shoal_harness import REPO, run_tests, shoal_bin


def shoal(*args):
    return subprocess.run([shoal_bin(), *args], capture_output=True, text=True, timeout=30)


def write(directory, name, text):
    path = Path(directory) / name
    path.write_text(text)
    return str(path)


def test_version():
    p = shoal("--version")
    assert p.returncode == 0, p
    assert p.stdout.startswith("shoal "), p.stdout


def test_help():
    p = shoal("--help")
    assert p.returncode == 0 and "--check-config" in p.stdout and "--cold" in p.stdout, p


def test_print_defaults():
    p = shoal("--print-defaults")
    assert p.returncode == 0, p
    assert "root hints: 13 servers" in p.stdout and "key tag 20326" in p.stdout, p.stdout


def test_bad_arguments_exit_2_with_usage():
    for args in (["--bogus"], ["--config"], ["--check-config"], ["--version", "--help"],
                 ["--cold", "--version"], ["stray"]):
        p = shoal(*args)
        assert p.returncode == 2, (args, p)
        assert "Usage: shoal" in p.stderr and p.stdout == "", (args, p)


def test_check_config_good_files():
    with tempfile.TemporaryDirectory() as d:
        empty = write(d, "empty.toml", "")
        p = shoal("--check-config", empty)
        assert p.returncode == 0 and "OK" in p.stdout, p
        full = write(d, "full.toml", """
[server]
listen = ["127.0.0.1:5353", "[::1]:5353"]
workers = 2
tcp_idle_timeout = "5s"
[cache]
size = "64M"
stripes = 64
[resolver]
qname_minimisation = false
ipv6 = false
deny_upstream = []
query_timeout = "2s"
[acl]
allow = ["127.0.0.0/8", "::1", "10.0.0.0/8"]
""")
        p = shoal("--check-config", full)
        assert p.returncode == 0, p
        assert "2 worker(s)" in p.stdout and "2 listen address(es)" in p.stdout, p.stdout
    # the documented default file is valid too
    p = shoal("--check-config", str(REPO / "conf" / "shoal.toml"))
    assert p.returncode == 0, p


def test_check_config_bad_files_name_line_and_key():
    cases = [
        ("[server]\nworkers = 2\nbogus = 1\n", ":3: server.bogus"),
        ("[server]\nworkers = \"x\"\n", ":2: server.workers"),
        ("\n\n[cache]\nstripes = 3\n", ":4: cache.stripes"),
        ("[acl]\nallow = [\"300.1.1.1/8\"]\n", ":2: acl.allow"),
        ("[nosuchsection]\n", ":1:"),
        ("[server\n", ":1:"),
    ]
    with tempfile.TemporaryDirectory() as d:
        for text, expected in cases:
            path = write(d, "bad.toml", text)
            p = shoal("--check-config", path)
            assert p.returncode == 1, (text, p)
            assert p.stderr.startswith("shoal: ") and path + expected in p.stderr, (text, p.stderr)
            # the same file refuses to start the resolver, with the same message
            run = shoal("--config", path)
            assert run.returncode == 1 and path + expected in run.stderr, (text, run)


def test_check_config_missing_file():
    p = shoal("--check-config", "/nonexistent/shoal.toml")
    assert p.returncode == 1 and "/nonexistent/shoal.toml" in p.stderr, p


def test_check_config_bad_root_hints_and_anchors():
    with tempfile.TemporaryDirectory() as d:
        hints = write(d, "bad.hints", ". 3600000 NS a.root-servers.net.\n")  # no address
        config = write(d, "a.toml", f'[resolver]\nroot_hints = "{hints}"\n')
        p = shoal("--check-config", config)
        assert p.returncode == 1 and "root hints" in p.stderr and hints in p.stderr, p
        config = write(d, "b.toml", '[resolver]\nroot_hints = "missing.hints"\n')
        p = shoal("--check-config", config)
        assert p.returncode == 1 and "missing.hints" in p.stderr, p
        anchors = write(d, "bad.ds", ". 3600 IN A 192.0.2.1\n")
        config = write(d, "c.toml", f'[resolver]\ntrust_anchors = ["{anchors}"]\n')
        p = shoal("--check-config", config)
        assert p.returncode == 1 and "trust anchors" in p.stderr and anchors in p.stderr, p


def test_print_config_round_trips():
    with tempfile.TemporaryDirectory() as d:
        config = write(d, "in.toml", "[server]\nworkers = 3\n[cache]\nstripes = 32\n")
        p = shoal("--print-config", "--config", config)
        assert p.returncode == 0 and "workers = 3" in p.stdout, p
        out = write(d, "out.toml", p.stdout)
        again = shoal("--print-config", "--config", out)
        def body(text):  # the first comment line names the file it came from
            return [line for line in text.splitlines() if not line.startswith("#")]
        assert again.returncode == 0 and body(again.stdout) == body(p.stdout), again


if __name__ == "__main__":
    run_tests(globals())
