"""`tthc demo`, the front door, end to end on a short period: loads by real Airflow runs, the build, the
gap checks scored against the truth, and what it prints and writes."""

from __future__ import annotations

import json

import psycopg
import pytest
from conftest import run_cli


@pytest.mark.slow
def test_the_demo_runs_the_whole_pipeline_and_scores_the_gaps(warehouse, tmp_path):
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
    assert {c: g["found"] for c, g in summary["gaps"].items()} == {c: a["found"] for c, a in accuracy.items()}
    assert summary["checks"]["data_docs"].endswith("index.html")
    for line in ("checks     sync_gap_checks", "data docs  file://", "G2: found"):
        assert line in result.stdout, line
    # the inspectors' register holds every gap the checks found
    with psycopg.connect(warehouse.rsplit("/", 1)[0] + "/t_demo") as conn:
        in_mart = dict(conn.execute("SELECT gap_code, count(*) FROM marts.audit_sync_gap "
                                    "WHERE NOT is_retracted GROUP BY 1").fetchall())
    assert in_mart == {c: g["found"] for c, g in summary["gaps"].items() if g["found"]}
