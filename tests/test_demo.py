"""`tthc demo`, the front door, end to end on a short period: loads by real Airflow runs, the build, the
gap checks scored against the truth, and what it prints and writes."""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest
from conftest import ROOT, run_cli


@pytest.mark.slow
def test_the_demo_runs_the_whole_pipeline_and_scores_the_gaps(warehouse, settings, tmp_path):
    out = tmp_path / "demo"
    result = run_cli("demo", "--days", "1", "--dossiers-per-year", "150000", "--seed", "5", "--out", str(out),
                     env={"TTHC_WAREHOUSE_DB": "t_demo"}, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed_runs"] == []
    truth = json.loads((out / "sources" / "truth.json").read_text())
    accuracy = summary["accuracy"]
    assert set(accuracy) == {f"G{n}" for n in range(1, 9)}
    assert {c: (a["recall"], a["precision"]) for c, a in accuracy.items()} == {c: (1.0, 1.0) for c in accuracy}
    assert {c: a["truth"] for c, a in accuracy.items() if a["truth"]} == truth["gap_counts"]
    assert summary["gaps"] == {c: a["found"] for c, a in accuracy.items()}  # DESIGN: {code: count}
    assert summary["checks"]["data_docs"].endswith("index.html")
    for line in ("checks     sync_gap_checks", "data docs  file://", "G2: found"):
        assert line in result.stdout, line
    # the inspectors' register holds every gap the checks found
    with psycopg.connect(warehouse.rsplit("/", 1)[0] + "/t_demo") as conn:
        in_mart = dict(conn.execute("SELECT gap_code, count(*) FROM marts.audit_sync_gap "
                                    "WHERE NOT is_retracted GROUP BY 1").fetchall())
    assert in_mart == {c: n for c, n in summary["gaps"].items() if n}
    # the inspectors' report and the BI docs, and not one secret in anything the demo wrote or printed
    assert summary["report"] == str(out / "report" / "index.html") and (out / "report" / "index.html").exists()
    assert "report     " in result.stdout and "bi docs    " in result.stdout and "pii key    " in result.stdout
    secrets = {k: v for k, v in json.loads((settings.home / "secrets.json").read_text()).items() if len(v) >= 16}
    assert {"TTHC_API_KEY", "TTHC_PII_KEY", "TTHC_BI_PASSWORD", "TTHC_INSPECTOR_PASSWORD"} <= set(secrets)
    places = [out, settings.home / "airflow" / "logs", settings.home / "dbt_docs",
              ROOT / "expectations" / "uncommitted" / "data_docs"]
    files = [p for place in places if place.exists() for p in place.rglob("*") if p.is_file()]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    files += [ROOT / t for t in tracked if (ROOT / t).is_file()]
    assert len(files) > 100
    leaks = [(name, str(path)) for path in files for name, value in secrets.items()
             if value.encode() in path.read_bytes()]
    leaks += [(name, "the demo's output") for name, value in secrets.items() if value in result.stdout + result.stderr]
    assert leaks == []
