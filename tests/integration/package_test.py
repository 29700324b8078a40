#!/usr/bin/env python3
"""The Debian package and the man pages (cmake/packaging.cmake, docs/man/).

test_package_installs_checks_and_removes builds the .deb with cpack from the
configured build tree (SHOAL_BUILD_DIR, else the directory two levels above
SHOAL_BIN), installs it with `dpkg -i`, checks the files, the conffile, the
unit's paths, the shoal user, `shoal --check-config /etc/shoal/shoal.toml`
and `man -w`, then removes (`dpkg -r`) and purges (`dpkg -P`) it and checks
that every file is gone. It needs root and dpkg, refuses to run over a shoal
that is already installed, and purges the package (and the shoal user, when
it created it) even when it fails.

The other tests hold the man pages to the code: every key of conf/shoal.toml
with its default in shoal.toml(5), every option of `shoal --help` and every
command of `shoalctl --help` in shoal(8) and shoalctl(8)."""

import gzip
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from shoal_harness import REPO, Skip, need_root, run_tests, shoal_bin, shoalctl_bin

PACKAGE = "shoal"
CONF = "/etc/shoal/shoal.toml"
MAN = REPO / "docs" / "man"
# What the package installs (cmake/packaging.cmake), all gone after a purge.
FILES = [
    "/usr/sbin/shoal",
    "/usr/bin/shoalctl",
    CONF,
    "/usr/lib/systemd/system/shoal.service",
    "/usr/lib/sysusers.d/shoal.conf",
    "/usr/share/man/man8/shoal.8.gz",
    "/usr/share/man/man8/shoalctl.8.gz",
    "/usr/share/man/man5/shoal.toml.5.gz",
    "/usr/share/doc/shoal/README.md",
    "/usr/share/doc/shoal/operations.md",
    "/usr/share/doc/shoal/shoal.toml",
]
DIRECTORIES = ["/etc/shoal", "/usr/share/doc/shoal"]


def run(*argv, timeout=300, check=True, **kwargs):
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, **kwargs)
    print(f"$ {' '.join(argv)}  -> {p.returncode}", flush=True)
    if check:
        assert p.returncode == 0, f"{argv} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def build_dir():
    env = os.environ.get("SHOAL_BUILD_DIR")
    path = Path(env) if env else Path(shoal_bin()).resolve().parents[1]
    if not (path / "CPackConfig.cmake").is_file():
        raise AssertionError(f"no CPackConfig.cmake in {path}: configure the build tree "
                             "(cmake -S . -B build) or set SHOAL_BUILD_DIR")
    return path


def package_status():
    """dpkg's status of the shoal package ("" when dpkg knows nothing of it)."""
    p = run("dpkg-query", "-W", "-f=${Status}", PACKAGE, check=False)
    return p.stdout.strip() if p.returncode == 0 else ""


def user_exists(name):
    return run("getent", "passwd", name, check=False).returncode == 0


def group_exists(name):
    return run("getent", "group", name, check=False).returncode == 0


def deb_field(deb, field):
    return run("dpkg-deb", "-f", str(deb), field).stdout.strip()


def check_deb(deb):
    """The control data: name, version (the binary's), section, Depends
    computed by dpkg-shlibdeps, the conffile and the maintainer scripts."""
    version = run(shoal_bin(), "--version").stdout.split()[1]
    assert deb_field(deb, "Package") == PACKAGE
    assert deb_field(deb, "Version") == version, (deb_field(deb, "Version"), version)
    assert deb_field(deb, "Section") == "net"
    assert deb_field(deb, "Maintainer"), "no Maintainer"
    depends = deb_field(deb, "Depends")
    assert re.search(r"\blibc6 \(>= ", depends), f"Depends not from dpkg-shlibdeps: {depends!r}"
    assert "libldns" in depends and "libssl3" in depends, depends
    with tempfile.TemporaryDirectory(prefix="shoal-deb-control-") as control:
        run("dpkg-deb", "-e", str(deb), control)
        conffiles = Path(control, "conffiles").read_text().split()
        assert conffiles == [CONF], conffiles
        for script in ("postinst", "prerm", "postrm"):
            path = Path(control, script)
            assert path.is_file() and os.access(path, os.X_OK), f"{script} missing or not 0755"
            assert path.read_text().startswith("#!/bin/sh\n"), script
    listing = run("dpkg-deb", "-c", str(deb)).stdout
    for path in FILES:
        assert f" .{path}\n" in listing, f"{path} not in the package:\n{listing}"
    assert "/usr/local" not in listing, listing


def check_installed():
    for path in FILES:
        assert Path(path).is_file(), f"{path} not installed"
    for binary in ("/usr/sbin/shoal", "/usr/bin/shoalctl"):
        assert os.access(binary, os.X_OK), binary
    assert run("/usr/sbin/shoal", "--version").stdout == run(shoal_bin(), "--version").stdout
    assert run("/usr/bin/shoalctl", "--version").stdout.startswith("shoalctl ")
    # The configuration is the documented default one, and it is valid.
    assert Path(CONF).read_text() == (REPO / "conf" / "shoal.toml").read_text()
    p = run("/usr/sbin/shoal", "--check-config", CONF)
    print(p.stdout, end="", flush=True)
    assert p.stdout.startswith(f"{CONF}: OK (") and "root server(s)" in p.stdout, p.stdout
    # The unit runs the installed binaries.
    unit = Path("/usr/lib/systemd/system/shoal.service").read_text()
    for line in ("ExecStartPre=/usr/sbin/shoal --check-config /etc/shoal/shoal.toml\n",
                 "ExecStart=/usr/sbin/shoal --config /etc/shoal/shoal.toml --user shoal\n",
                 "ExecReload=/usr/bin/shoalctl --config /etc/shoal/shoal.toml reload\n"):
        assert line in unit, f"{line.strip()} not in the installed unit"
    assert "/usr/local" not in unit
    # postinst made the user the unit runs as.
    assert user_exists("shoal"), "postinst did not create the shoal user"
    check_man_pages()


def check_man_pages():
    for path in ("/usr/share/man/man8/shoal.8.gz", "/usr/share/man/man8/shoalctl.8.gz",
                 "/usr/share/man/man5/shoal.toml.5.gz"):
        with gzip.open(path, "rt") as f:
            roff = f.read()
        assert roff.startswith(".\\\" Generated by scdoc"), path
        assert ".SH NAME" in roff, path
    if not shutil.which("man"):
        print("man not installed: checked the .gz files only", flush=True)
        return
    expected = {("shoal",): "/usr/share/man/man8/shoal.8.gz",
                ("8", "shoalctl"): "/usr/share/man/man8/shoalctl.8.gz",
                ("shoal.toml",): "/usr/share/man/man5/shoal.toml.5.gz"}
    for args, path in expected.items():
        found = run("man", "-w", *args).stdout.split()
        assert found == [path], (args, found)
    env = dict(os.environ, MANWIDTH="100", MANPAGER="cat", PAGER="cat")
    text = run("man", "5", "shoal.toml", env=env).stdout
    assert "tcp_collapsed_timeout" in text and "NAME" in text, text[:500]


def check_removed(conffile_kept):
    for path in FILES:
        if path == CONF and conffile_kept:
            assert Path(path).is_file(), f"dpkg -r removed the conffile {path}"
            continue
        assert not Path(path).exists(), f"{path} still there"
    if not conffile_kept:
        for directory in DIRECTORIES:
            assert not Path(directory).exists(), f"{directory} still there"
    if shutil.which("man"):
        assert run("man", "-w", "shoal", check=False).returncode != 0, "man still finds shoal"


def test_package_installs_checks_and_removes():
    need_root()
    for tool in ("dpkg", "dpkg-deb", "dpkg-query", "cpack"):
        if not shutil.which(tool):
            raise Skip(f"{tool} not installed")
    build = build_dir()
    status = package_status()
    assert status in ("", "unknown ok not-installed"), (
        f"a shoal package is already here ({status}): remove it (dpkg -P shoal) first")
    present = [path for path in FILES + DIRECTORIES if Path(path).exists()]
    assert not present, f"files the package would own are already here: {present}"
    user_before = user_exists("shoal")
    group_before = group_exists("shoal")
    with tempfile.TemporaryDirectory(prefix="shoal-package-") as tmp:
        try:
            run("cpack", "-G", "DEB", "-B", tmp, "--config", str(build / "CPackConfig.cmake"),
                cwd=tmp, timeout=600)
            debs = list(Path(tmp).glob("*.deb"))
            assert len(debs) == 1, debs
            deb = debs[0]
            print(f"package: {deb.name}", flush=True)
            check_deb(deb)

            p = run("dpkg", "-i", str(deb))
            print(p.stdout, end="", flush=True)
            assert package_status() == "install ok installed", package_status()
            check_installed()

            p = run("dpkg", "-r", PACKAGE)
            print(p.stdout, end="", flush=True)
            assert package_status() == "deinstall ok config-files", package_status()
            check_removed(conffile_kept=True)

            p = run("dpkg", "-P", PACKAGE)
            print(p.stdout, end="", flush=True)
            assert package_status() in ("", "unknown ok not-installed"), package_status()
            check_removed(conffile_kept=False)
        finally:
            if package_status() not in ("", "unknown ok not-installed"):
                run("dpkg", "-P", PACKAGE, check=False)
            if not user_before and user_exists("shoal"):
                run("userdel", "shoal", check=False)
            if not group_before and group_exists("shoal"):
                run("groupdel", "shoal", check=False)


# ---------------------------------------------------------------------------
# The man pages against the code (no root needed)
# ---------------------------------------------------------------------------

def toml_defaults():
    """{(table, key): value text} of conf/shoal.toml, the documented defaults."""
    defaults, table = {}, None
    for line in (REPO / "conf" / "shoal.toml").read_text().splitlines():
        if m := re.fullmatch(r"\[(\w+)\]", line):
            table = m.group(1)
        elif m := re.fullmatch(r"(\w+) = (.+)", line):
            defaults[(table, m.group(1))] = m.group(2)
    return defaults


def man_defaults():
    """{(table, key): value text} of the `*key* = value` lines of shoal.toml(5),
    [[forward]] left out (it has no defaults in conf/shoal.toml)."""
    documented, table = {}, None
    for line in (MAN / "shoal.toml.5.scd").read_text().splitlines():
        if m := re.fullmatch(r"# \[(\w+)\]", line):
            table = m.group(1)
        elif line.startswith("# "):
            table = None
        elif table and (m := re.fullmatch(r"\*(\w+)\* = (.+?)(\+\+)?", line)):
            documented[(table, m.group(1))] = m.group(2)
    return documented


def test_man_page_states_every_key_and_default():
    conf, man = toml_defaults(), man_defaults()
    assert len(conf) > 50, f"conf/shoal.toml parsed badly: {len(conf)} keys"
    missing = sorted(f"[{t}] {k}" for t, k in conf.keys() - man.keys())
    invented = sorted(f"[{t}] {k}" for t, k in man.keys() - conf.keys())
    wrong = sorted(f"[{t}] {k}: {man[(t, k)]} (conf/shoal.toml: {conf[(t, k)]})"
                   for t, k in conf.keys() & man.keys() if man[(t, k)] != conf[(t, k)])
    assert not missing and not invented and not wrong, (
        f"shoal.toml(5) against conf/shoal.toml: missing {missing}, not in the config "
        f"{invented}, other defaults {wrong}")
    for key in ("tcp_collapse", "tcp_collapse_queue", "tcp_collapsed_max",
                "tcp_collapsed_timeout"):
        assert ("server", key) in man, key
    # The tables of the page are those the config accepts, in its order.
    tables = list(dict.fromkeys(t for t, _ in conf))
    assert list(dict.fromkeys(t for t, _ in man)) == tables, tables


def options_of(text):
    """The --options a text names, outside its ``` examples."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))


def test_man_pages_match_help():
    shoal_help = run(shoal_bin(), "--help").stdout
    page = (MAN / "shoal.8.scd").read_text()
    assert options_of(shoal_help) == options_of(page), (
        options_of(shoal_help) ^ options_of(page))
    ctl_help = run(shoalctl_bin(), "--help").stdout
    page = (MAN / "shoalctl.8.scd").read_text()
    # shoalctl(8) may name shoal's options too (upgrade runs --check-config).
    assert options_of(ctl_help) <= options_of(page), options_of(ctl_help) - options_of(page)
    assert options_of(page) <= options_of(ctl_help) | options_of(shoal_help), (
        options_of(page) - options_of(ctl_help) - options_of(shoal_help))
    commands = set(re.findall(r"^  ([a-z]+(?: (?:lookup|flush|stats|add|remove|list))?)\b",
                              ctl_help.split("Commands:")[1].split("Options")[0], re.M))
    documented = set(re.findall(r"^\*([a-z]+(?: [a-z]+)?)\*", page, re.M))
    assert len(commands) >= 17 and commands <= documented, sorted(commands - documented)


if __name__ == "__main__":
    run_tests(globals())
