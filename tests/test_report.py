"""The inspectors' report opened in headless Chromium (Debian's, driven by Playwright): no console error,
no network request, every chart drawn, a screenshot saved as a test artifact; an empty day shows a clear
empty state; the daily inspector_report DAG writes it in a real Airflow run."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DAYS, ROOT, START, role_in
from tthc.checks import run_check
from tthc.report import build_report

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
    assert csv_names == set(report.csv_files) and len(csv_names) == 10
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
