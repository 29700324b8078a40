#!/usr/bin/env python3
"""The Grafana dashboard (docs/grafana/shoal-dashboard.json) uses only
metric names that exist: every `shoal_` name in its PromQL (the panels'
targets, rows' nested panels included, and the template variables'
queries) is a family on a real scrape of shoal's /metrics, a histogram's
_bucket, _sum and _count by their family. The dashboard is valid JSON with
panels, each with a title and a datasource, uses at least 10 distinct
names (so that the check cannot pass on nothing), and imports cleanly (a
DS_PROMETHEUS input, an instance variable). Needs neither root nor the
network: upstream is denied, so the queries sent end in SERVFAIL."""

import json
import re
import urllib.request
from pathlib import Path

from shoal_harness import (REPO, Shoal, build_query, free_port, parse_header, run_tests,
                           tcp_exchange, udp_exchange, wait_for)

DASHBOARD = REPO / "docs" / "grafana" / "shoal-dashboard.json"
NO_UPSTREAM = {"resolver": {"deny_upstream": ["0.0.0.0/0", "::/0"]}}
NAME = re.compile(r"\bshoal_[a-zA-Z0-9_]+")
HISTOGRAM_SERIES = re.compile(r"^(.*)_(bucket|sum|count)$")
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def load_dashboard(path=None):
    path = path or DASHBOARD
    text = Path(path).read_text()
    try:
        dashboard = json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(f"{path} is not valid JSON: {e}") from None
    assert isinstance(dashboard, dict), "the dashboard is not a JSON object"
    return dashboard


def all_panels(panels):
    """Every panel, rows' nested panels (a collapsed row holds its own)
    included, in order."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def expressions(dashboard):
    """(where, PromQL) for every target of every panel and every query
    variable."""
    out = []
    for panel in all_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            if target.get("expr"):
                out.append((f"panel {panel.get('title')!r} {target.get('refId')}",
                            target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        for text in (query, variable.get("definition")):
            if text:
                out.append((f"variable {variable.get('name')!r}", text))
    return out


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200, r.status
        return r.read().decode()


def families(page):
    """{name: type} from the page's `# TYPE name type` lines."""
    out = {}
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            words = line.split()
            assert len(words) == 4, f"bad TYPE line: {line!r}"
            out[words[2]] = words[3]
    return out


def sample_value(page, name, labels=""):
    for line in page.splitlines():
        if line.startswith(f"{name}{labels} "):
            return float(line.split()[-1])
    return None


def unknown_names(names, kinds):
    """The names that are neither a family on the page nor a histogram
    family's _bucket, _sum or _count series."""
    missing = []
    for name in sorted(names):
        if name in kinds:
            continue
        m = HISTOGRAM_SERIES.match(name)
        if m and kinds.get(m.group(1)) == "histogram":
            continue
        missing.append(name)
    return missing


def test_the_dashboard_is_well_formed():
    d = load_dashboard()
    panels = list(all_panels(d.get("panels") or []))
    assert panels, "the dashboard has no panels"
    ids = [p.get("id") for p in panels]
    assert len(set(ids)) == len(ids), f"panel ids repeat: {ids}"
    for p in panels:
        assert p.get("title"), f"a panel without a title: {p.get('id')}"
        assert p.get("datasource") == DATASOURCE, f"panel {p['title']!r}: {p.get('datasource')}"
        for t in p.get("targets", []):
            assert t.get("datasource", DATASOURCE) == DATASOURCE, f"{p['title']!r}: {t}"
        if p.get("type") != "row":
            assert p.get("targets"), f"panel {p['title']!r} has no query"
    # imports cleanly: the data source is asked for, and is a variable too
    inputs = {i["name"]: i for i in d.get("__inputs", [])}
    assert inputs.get("DS_PROMETHEUS", {}).get("pluginId") == "prometheus", d.get("__inputs")
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    assert variables["instance"]["definition"] == "label_values(shoal_build_info, instance)"
    assert isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 36
    exprs = expressions(d)
    names = {n for _, expr in exprs for n in NAME.findall(expr)}
    assert len(names) >= 10, f"only {len(names)} shoal_ names: {sorted(names)}"
    for where, expr in exprs:
        # every range is the one Grafana sizes to the scrape interval
        for window in re.findall(r"\[([^\]]*)\]", expr):
            assert window == "$__rate_interval", f"{where}: [{window}] in {expr}"
        if where.startswith("panel "):
            assert 'instance=~"$instance"' in expr, f"{where}: no instance filter: {expr}"
    print(f"{len(panels)} panels, {len(exprs)} expressions, {len(names)} distinct shoal_ names")


def test_every_name_is_on_a_real_scrape():
    d = load_dashboard()
    port = free_port()
    config = dict(NO_UPSTREAM, metrics={"listen": [f"127.0.0.1:{port}"]})
    with Shoal(workers=1, config=config) as shoal:
        shoal.wait_log(r"metrics: http://127\.0\.0\.1:\d+/metrics")
        # a few queries, so that the counters have moved (upstream is
        # denied: SERVFAIL from the resolver, then from the cache)
        for i in range(3):
            for _ in range(2):
                reply = udp_exchange(shoal.port, build_query(f"q{i}.example.com", "A"))
                assert reply is not None, "no answer over UDP"
                assert parse_header(reply)[2] == "SERVFAIL", parse_header(reply)
        replies = tcp_exchange(shoal.port, [build_query("t.example.com", "AAAA")])
        assert len(replies) == 1, "no answer over TCP"
        wait_for(lambda: (sample_value(scrape(port), "shoal_answers_total",
                                       '{transport="udp"}') or 0) >= 6,
                 30, interval=0.2, what="6 UDP answers counted")
        page = scrape(port)
    kinds = families(page)
    assert kinds.get("shoal_build_info") == "gauge", sorted(kinds)
    assert kinds.get("shoal_response_duration_seconds") == "histogram", sorted(kinds)
    assert sample_value(page, "shoal_queries_total", '{transport="tcp"}') >= 1
    names = set()
    for where, expr in expressions(d):
        used = set(NAME.findall(expr))
        missing = unknown_names(used, kinds)
        assert not missing, (f"{where} uses {missing}, not on the page\n{expr}\n"
                             f"families on the page: {sorted(kinds)}")
        names |= used
    assert len(names) >= 10, f"only {len(names)} shoal_ names: {sorted(names)}"
    unused = sorted(set(kinds) - {HISTOGRAM_SERIES.sub(r"\1", n) for n in names} - names)
    print(f"{len(names)} shoal_ names checked against {len(kinds)} families on the page"
          f" (not on the dashboard: {', '.join(unused) or 'none'})")


def test_the_check_catches_a_wrong_name():
    # the check itself: a misspelt name, a _bucket of a counter and a
    # suffix of a family that does not exist are all reported
    kinds = {"shoal_queries_total": "counter", "shoal_response_duration_seconds": "histogram"}
    assert unknown_names({"shoal_queries_total", "shoal_response_duration_seconds_bucket",
                          "shoal_response_duration_seconds_count"}, kinds) == []
    assert unknown_names({"shoal_query_total", "shoal_queries_total_bucket",
                          "shoal_response_seconds_sum"}, kinds) == [
        "shoal_queries_total_bucket", "shoal_query_total", "shoal_response_seconds_sum"]


if __name__ == "__main__":
    run_tests(globals())
