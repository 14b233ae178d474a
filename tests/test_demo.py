"""`tthc demo`, the front door, end to end on a short period: loads by real Airflow runs, the build, the
gap checks scored against the truth, and what it prints and writes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import psycopg
import pytest
from conftest import ROOT, run_cli
from tthc.gx_suites import context_dir
from tthc.load.entities import ALL_ENTITIES
from tthc.transform import mart_checksums

DEMO = ("demo", "--days", "1", "--dossiers-per-year", "150000", "--seed", "5")
FAULTS = ("--faults", "every-kind")  # the one-stop stale and the portal down for hours of the day


def port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) == 0


def ctrl_c_mid_extract(out, dsn: str) -> None:
    """Ctrl-C while the demo loads: it exits 130, its source APIs are down, and every raw row belongs to a
    load that committed (no half-written window)."""
    proc = subprocess.Popen([sys.executable, "-m", "tthc.cli", *DEMO, "--out", str(out)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TTHC_WAREHOUSE_DB": "t_demo"})
    try:
        lines = []
        for line in proc.stdout:  # the demo's own lines, until the loads start
            lines.append(line)
            if line.startswith("extract "):
                break
        urls = re.findall(r"http://127\.0\.0\.1:\d+", "".join(lines))
        assert len(urls) == 3 and all(port_open(u) for u in urls)
        deadline = time.monotonic() + 120
        with psycopg.connect(dsn, autocommit=True) as conn:
            while conn.execute("SELECT count(*) FROM audit.load_run").fetchone()[0] < 6:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "stopping   Ctrl-C" in err and "stopped    the source APIs are down" in err
    assert not any(port_open(u) for u in urls)
    assert "summary.json" not in rest  # it stopped before the build
    with psycopg.connect(dsn) as conn:
        committed = {r for (r,) in conn.execute("SELECT load_id FROM audit.load_run WHERE status = 'success'")}
        loads = set()
        for e in ALL_ENTITIES:
            loads |= {r for (r,) in conn.execute(f"SELECT DISTINCT _load_id FROM {e.table}")}
    assert committed and loads <= committed


@pytest.mark.slow
def test_the_demo_runs_the_whole_pipeline_and_scores_the_gaps(warehouse, settings, tmp_path):
    out = tmp_path / "demo"
    dsn = warehouse.rsplit("/", 1)[0] + "/t_demo"
    run_cli("warehouse", "up", env={"TTHC_WAREHOUSE_DB": "t_demo"})  # the demo's own database, bootstrapped
    ctrl_c_mid_extract(tmp_path / "interrupted", dsn)
    result = run_cli(*DEMO, *FAULTS, "--out", str(out), env={"TTHC_WAREHOUSE_DB": "t_demo"}, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # progress per simulated day, and the closing summary tables
    assert re.search(r"extract    day 1/1 \[#+\] 49/49 runs, [\d,]+ rows loaded", result.stdout)
    for line in ("summary", "rows per layer", "sync gaps", "Decision 766 total per agency", "stage timings"):
        assert line in result.stdout, line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed_runs"] == []
    truth = json.loads((out / "sources" / "truth.json").read_text())
    # the outages hour by hour: the runs that met the portal down failed (only those), the one-stop's stale
    # hours were provisional, the catch-ups read them again, G8 opened and closed; nothing was reloaded by hand
    outages = {o["source"]: o for o in truth["outages"]}
    assert {o["mode"] for o in outages.values()} == {"stale", "down"}
    down = next(o for o in outages.values() if o["mode"] == "down")
    assert summary["outage_runs"] and all(r.startswith(f"{down['source']}_extract@") for r in summary["outage_runs"])
    assert {e["kind"] for e in summary["fault_events"]} == {"run failed", "G8 stale", "catch-up", "G8 fresh"}
    for line in ("outage     province", "run failed ", "G8 stale   ", "catch-up   ", "G8 fresh   ",
                 "every hour is now read completely", "G8         province"):
        assert line in result.stdout, line
    assert len(summary["g8"]) == truth["gap_counts"]["G8"] and all(g["closed_at"] for g in summary["g8"])
    accuracy = summary["accuracy"]
    assert set(accuracy) == {f"G{n}" for n in range(1, 9)}
    assert {c: (a["recall"], a["precision"]) for c, a in accuracy.items()} == {c: (1.0, 1.0) for c in accuracy}
    assert {c: a["truth"] for c, a in accuracy.items() if a["truth"]} == truth["gap_counts"]
    assert summary["gaps"] == {c: a["found"] for c, a in accuracy.items()}  # DESIGN: {code: count}
    assert summary["checks"]["data_docs"].endswith("index.html")
    for line in ("checks     sync_gap_checks", "data docs  file://", "G2: found"):
        assert line in result.stdout, line
    # the inspectors' register holds every gap the checks found
    with psycopg.connect(dsn) as conn:
        in_mart = dict(conn.execute("SELECT gap_code, count(*) FROM marts.audit_sync_gap "
                                    "WHERE NOT is_retracted GROUP BY 1").fetchall())
    assert in_mart == {c: n for c, n in summary["gaps"].items() if n}
    # the inspectors' report and the BI docs, and not one secret in anything the demo wrote or printed
    assert summary["report"] == str(out / "report" / "index.html") and (out / "report" / "index.html").exists()
    assert "report     " in result.stdout and "bi docs    " in result.stdout and "pii key    " in result.stdout
    secrets = {k: v for k, v in json.loads((settings.home / "secrets.json").read_text()).items() if len(v) >= 16}
    assert {"TTHC_API_KEY", "TTHC_PII_KEY", "TTHC_BI_PASSWORD", "TTHC_INSPECTOR_PASSWORD"} <= set(secrets)
    places = [out, settings.home / "airflow" / "logs", settings.home / "dbt_docs",
              context_dir() / "uncommitted" / "data_docs"]
    files = [p for place in places if place.exists() for p in place.rglob("*") if p.is_file()]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    files += [ROOT / t for t in tracked if (ROOT / t).is_file()]
    assert len(files) > 100
    leaks = [(name, str(path)) for path in files for name, value in secrets.items()
             if value.encode() in path.read_bytes()]
    leaks += [(name, "the demo's output") for name, value in secrets.items() if value in result.stdout + result.stderr]
    assert leaks == []

    # a second run reuses the warehouse and builds the same marts, and says so
    first = mart_checksums(dsn)
    again = run_cli(*DEMO, *FAULTS, "--out", str(out), env={"TTHC_WAREHOUSE_DB": "t_demo"}, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert mart_checksums(dsn) == first and len(first) > 10
    assert json.loads((out / "summary.json").read_text())["marts_checksum"] == summary["marts_checksum"]
    assert "the same as the previous run on the same input" in again.stdout
