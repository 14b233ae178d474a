"""The inspectors' report opened in headless Chromium (Debian's, driven by Playwright): no console error,
no network request, every chart drawn, a screenshot saved as a test artifact; an empty day shows a clear
empty state; the daily inspector_report DAG writes it in a real Airflow run. The 766 section says where
each agency's points went, and its dossiers' shares add up to what the agency lost; the sync delay boxes
each have their own row."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import DAYS, ROOT, START, role_in
from tthc.checks import run_check
from tthc.kpi766 import DOSSIER_INDICATORS, INDICATORS
from tthc.report import build_report, delay_boxes

ARTIFACTS = ROOT / "out" / "test-artifacts"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; installed here when missing (as root with apt-get, like make test does)."""
    path = shutil.which("chromium")
    if path is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run("apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)",
                       shell=True, check=False, capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        path = shutil.which("chromium")
    assert path, "Chromium is missing: apt-get install chromium (the browser test cannot run without it)"
    return path


def open_in_browser(chromium: str, page_path, screenshot=None) -> dict:
    """Load the page from disk in a child process (Playwright's event loop stays out of this one, where
    Airflow runs next); what the browser reported, and which charts drew a trace."""
    command = [sys.executable, str(Path(__file__).with_name("browser.py")), chromium, str(page_path.resolve()),
               str(screenshot or "")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def report(marts, settings, tmp_path_factory):
    admin, transformer, _ = marts
    end = dt.datetime.combine(START + dt.timedelta(days=DAYS), dt.time(0), dt.timezone(dt.timedelta(hours=7)))
    run_check(transformer, end, settings, full=True, gx=False)
    return build_report(role_in(admin, settings, "tthc_inspector"), START + dt.timedelta(days=DAYS - 1),
                        tmp_path_factory.mktemp("report"))


@pytest.mark.slow
def test_the_report_draws_every_chart_with_no_console_error(report, chromium):
    shot = ARTIFACTS / "inspector_report.png"
    seen = open_in_browser(chromium, report.path, shot)
    assert seen["errors"] == [] and seen["requests"] == []  # opens from disk, no network
    assert set(seen["traces"]) == set(report.charts) == {"chart-overview", "chart-open-gaps", "chart-delay-bands",
                                                         "chart-delay-agencies"}
    assert all(n > 0 for n in seen["traces"].values()), seen["traces"]
    assert [h.split("\n")[0] for h in seen["headings"]] == [
        "1. Tổng quan toàn tỉnh", "2. Độ trễ đồng bộ", "3. Chi tiết", f"4. Chỉ số Quyết định 766 tháng "
        f"{(START + dt.timedelta(days=DAYS - 1)).strftime('%m/%Y')}"]
    assert shot.stat().st_size > 50_000
    assert report.counts["open_gaps"] > 0 and report.counts["kpi_agencies"] > 0
    csv_names = {p.name for p in report.path.parent.glob("*.csv")}
    assert csv_names == set(report.csv_files) and len(csv_names) == 11
    with open(report.path.parent / "by_province.csv", encoding="utf-8") as f:  # one province, and all of it
        rows = list(csv.DictReader(f))
    assert [r["province"].split()[0] for r in rows] == ["40", "Tất"] and rows[0]["receipts"] == rows[1]["receipts"]


@pytest.mark.slow
def test_an_empty_day_shows_a_clear_empty_state(marts, settings, chromium, tmp_path):
    admin = marts[0]
    empty = build_report(role_in(admin, settings, "tthc_inspector"), dt.date(2024, 3, 5), tmp_path / "empty")
    assert empty.empty and empty.charts == []
    seen = open_in_browser(chromium, empty.path, ARTIFACTS / "inspector_report_empty.png")
    assert seen["errors"] == [] and seen["traces"] == {}
    assert seen["empty_states"] >= 4 + 5  # the day, the four charts, the tables
    assert "No dossiers and no gaps" in empty.path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_inspector_report_dag_writes_the_days_report(marts, settings, tmp_path, monkeypatch):
    from tthc.airflow_local import DagRunner

    runner = DagRunner(settings)
    for t in runner.bag.get_dag("inspector_report").tasks:  # a failure shows at once, not after the retries
        t.retries = 0
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_TRANSFORMER", marts[1])
    monkeypatch.setenv("TTHC_REPORT_DIR", str(tmp_path))
    last = START + dt.timedelta(days=DAYS - 1)
    # the daily interval that ends at the week's end: the week's last day
    state = runner.run("inspector_report", dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0),
                                                               dt.timezone(dt.timedelta(hours=7))))
    assert state == "success"
    page = tmp_path / last.isoformat() / "index.html"
    assert page.exists() and "plotly" in page.read_text(encoding="utf-8")[:3_000_000]


def read_csv(report, name: str) -> list[dict]:
    with open(report.path.parent / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def lost_on(agency: dict) -> dict[str, float]:
    """kpi766_agencies.csv's row: the points lost per scored indicator (points - earned), where it lost any."""
    lost = {i.code: i.points - float(agency[f"ind_{i.column}_points"]) for i in INDICATORS
            if i.in_total and agency[f"ind_{i.column}_points"] != ""}
    return {code: v for code, v in lost.items() if v > 1e-6}


def figure_data(page: str, chart_id: str) -> list[dict]:
    """The traces plotly draws in one chart of the page (its Plotly.newPlot call's data)."""
    call = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(chart_id) + r'",\s*', page)
    assert call, chart_id
    return json.JSONDecoder().raw_decode(page, call.end())[0]


def test_the_delay_boxes_each_have_their_own_row():
    rows = [[f"A{n:02d}", f"Cơ quan {n}", 100, 20, 20, 20, 20, 20, 0.5, 1.0, 2.0, 3.0, 90.0 - n] for n in range(20)]
    fig = delay_boxes(rows)
    positions = [t.y[0] for t in fig.data]
    assert len(fig.data) == 20 and {t.orientation for t in fig.data} == {"h"}
    assert len(set(positions)) == 20 and positions[0] == "Cơ quan 0 (A00)"  # the agency's name on the y axis
    assert fig.layout.yaxis.type == "category" and fig.layout.xaxis.type == "log"
    assert [t.upperfence[0] for t in fig.data] == [r[12] for r in rows]


@pytest.mark.slow
def test_the_reports_delay_boxes_stand_apart(report):
    traces = figure_data(report.path.read_text(encoding="utf-8"), "chart-delay-agencies")
    assert len(traces) > 1 and {t["type"] for t in traces} == {"box"} and {t["orientation"] for t in traces} == {"h"}
    assert len({t["y"][0] for t in traces}) == len(traces)  # one row each, not all at 0


@pytest.mark.slow
def test_where_the_points_went_for_every_agency_that_lost_points(report):
    page = report.path.read_text(encoding="utf-8")
    assert "Điểm bị mất ở đâu" in page and "Where the points went" in page
    agencies = read_csv(report, "kpi766_agencies.csv")
    losing = {(a["province_code"], a["agency_code"]) for a in agencies if lost_on(a)}
    section = page.split('<div id="kpi766-lost">', 1)[1]
    shown = {(p, a) for p, a in re.findall(r'class="lost-agency" data-province="([^"]+)" data-agency="([^"]+)"',
                                           section)}
    assert losing and shown == losing and report.counts["kpi766_agencies_losing_points"] == len(losing)
    # the dossiers behind 2.1, with what went wrong, bounded in the page (the CSV has them all)
    assert 'data-indicator="2.1"' in section and ("late by" in section or "overdue:" in section)
    for block in section.split('class="lost-indicator"')[1:]:
        assert block.split("</details>", 1)[0].count("<tr><td>") <= 10


@pytest.mark.slow
def test_an_agencys_lost_points_are_its_dossiers_shares(report):
    month = report.day.strftime("%Y-%m")
    dossiers = read_csv(report, "kpi766_dossiers.csv")
    assert dossiers and {d["year_month"] for d in dossiers} == {month}
    assert {d["indicator"] for d in dossiers} <= set(DOSSIER_INDICATORS)
    shares: dict[tuple, float] = defaultdict(float)
    for d in dossiers:
        if float(d["points_lost"] or 0) > 0:  # only a dossier in the denominator that falls short costs anything
            assert d["in_denominator"] == "True" and d["shortfall"], d
        shares[(d["province_code"], d["agency_code"], d["indicator"])] += float(d["points_lost"] or 0)
    agencies = read_csv(report, "kpi766_agencies.csv")
    most = max(agencies, key=lambda a: sum(lost_on(a).get(c, 0) for c in DOSSIER_INDICATORS))
    assert sum(lost_on(most).get(c, 0) for c in DOSSIER_INDICATORS) > 0
    wrong = []
    for a in agencies:  # the agency that lost most, and every other one
        key = (a["province_code"], a["agency_code"])
        for ind in INDICATORS:
            if ind.in_total and ind.level == "dossier":
                lost = lost_on(a).get(ind.code, 0.0)
                if abs(shares.get((*key, ind.code), 0.0) - lost) > 0.01:
                    wrong.append((*key, ind.code, round(lost, 4), round(shares.get((*key, ind.code), 0.0), 4)))
    assert not wrong, wrong[:20]
