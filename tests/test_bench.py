"""`tthc bench` runs end to end on a small input and its figures add up (no timing asserts here)."""

from __future__ import annotations

import json
import re
import sqlite3

import psycopg
from conftest import run_cli
from tthc.load.entities import ENTITIES


def test_bench_runs_and_accounts_for_every_record(warehouse, tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("bench", "--dossiers-per-year", "20000", "--days", "5", "--start", "2025-03-03",
                     "--sample", "300", "--dlt-rows", "600", "--api-records", "500", "--json", str(out), timeout=900)
    assert result.returncode == 0, result.stderr
    assert "rows/s" in result.stdout and "targets" in result.stdout and "memory" in result.stdout
    r = json.loads(out.read_text())
    assert set(r["rows_per_s"]) == {"loader", "bare_copy", "staging_upsert", "insert_rows", "loader_on_dlt_windows",
                                    "dlt_defaults", "dlt_best"}
    assert all(v > 0 for v in r["rows_per_s"].values())
    data_dir = r["input"]["data_dir"]
    with sqlite3.connect(f"{data_dir}/onestop.sqlite") as store:
        for name, e in r["entities"].items():
            in_store = store.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            assert e["rows_read"] == in_store > 0
            # every record is loaded or quarantined, none twice (the store holds no duplicates)
            assert e["rows_loaded"] + e["rows_quarantined"] == e["rows_read"]
    assert {h["rows"] for h in r["insert_rows_sample"].values()} == {300}
    memory = r["memory"]
    assert memory["4n_pages"]["pages"] == 4 * memory["n_pages"]["pages"]
    assert memory["4n_pages"]["rows"] > memory["n_pages"]["rows"] > 0
    assert set(r["targets_met"]) == set(r["targets"])
    d = r["dbt"]  # dbt over history: a full build and hourly builds after the first and the last part
    assert d["dbt_full_s"] > 0 and d["dbt_hourly_1m_s"] > 0 and d["dbt_hourly_12m_s"] > 0
    assert d["rows_hour_1m"] > 0 and d["rows_hour_12m"] > 0 and d["marts_rows"]["fct_dossier"] > 0
    assert r["dbt_history_ratio"] == round(d["dbt_hourly_12m_s"] / d["dbt_hourly_1m_s"], 3)
    # the 766 index's models, timed apart in every build: part of the build, never more
    assert 0 < r["kpi766_full_12m_s"] < d["dbt_full_s"] and 0 < r["kpi766_hourly_12m_s"] < d["dbt_hourly_12m_s"]
    assert re.search(r"kpi766_full_12m_s [\d.,]+", result.stdout) and d["marts_rows"]["fct_kpi766_dossier"] > 0
    # the gap checks over the same history: hourly after each part, and a full re-check
    assert all(r[k] > 0 for k in ("checks_hourly_1m_s", "checks_hourly_12m_s", "checks_full_s"))
    assert r["ratios"]["checks_history_ratio"] == round(r["checks_hourly_12m_s"] / r["checks_hourly_1m_s"], 3)
    # every figure next to its target, in the JSON and in the printed table
    assert set(r["ratios"]) == set(r["targets"]) == set(r["targets_met"])
    for name, met in r["targets_met"].items():
        assert re.search(rf"{name} +[\d.]+ +[<>]= [\d.]+ +{'met' if met else 'MISSED'}", result.stdout), name
    # dlt loaded the same first windows as the loader (keyless records left out: it has no quarantine)
    dlt = r["dlt"]
    assert dlt["defaults"]["rows"] == dlt["best"]["rows"] >= 600 and dlt["defaults"]["dlt"].startswith("1.")
    assert 0 <= dlt["loader_on_same_windows"]["rows"] - dlt["defaults"]["rows"] <= 20
    # each source API's client-side throughput, and the pipeline end to end through the DAG tasks' functions
    assert set(r["api_records_per_s"]) == {"onestop", "portal", "population"}
    assert all(r["api"][s]["records"] >= 500 for s in ("onestop", "portal")) and r["api"]["population"]["records"] > 0
    assert all(a["records_per_s"] > 0 for a in r["api"].values())
    e2e = r["e2e"]
    served = 0  # every record of both stores, read once by the daily windows (catalogue: from its watermark)
    for e in ENTITIES.values():
        with sqlite3.connect(f"{data_dir}/{e.source}.sqlite") as db:
            served += db.execute(f"SELECT count(*) FROM {e.name}").fetchone()[0]
    assert e2e["rows"] == served and e2e["verified"] > 0
    assert r["e2e_s"] == round(sum(e2e[k] for k in ("extract_load_s", "build_s", "checks_s", "report_s")), 2)
    for when in ("1m", "12m"):  # the hourly cycle loaded its hour over HTTP and built and checked it
        cycle = d[f"cycle_{when}"]
        assert cycle["rows"] > 0 and cycle["s"] >= cycle["build_s"] + cycle["checks_s"]
    assert r["ratios"]["incremental_history_ratio"] == round(r["hourly_cycle_12m_s"] / r["hourly_cycle_1m_s"], 3)
    with psycopg.connect(warehouse) as conn:  # the scratch databases are gone
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE '%%\\_bench%%'").fetchone()[0] == 0


def test_bench_rejects_a_tiny_sample():
    result = run_cli("bench", "--sample", "5", "--json", "x.json")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "--sample" in result.stderr
