"""Extract and load against the real source APIs and the real warehouse."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
from conftest import ROOT, table_checksums
from tthc import config
from tthc.calendar import TZ
from tthc.pipeline import Endpoint, extract_source, hourly_windows, verify_population
from tthc.sources.sim.common import to_us
from tthc.sources.store import store_path

DAY1 = dt.datetime(2025, 3, 3, tzinfo=TZ)
DAY2 = DAY1 + dt.timedelta(days=1)
END = DAY1 + dt.timedelta(days=2)


def endpoints(timeout: float = 10.0) -> dict[str, Endpoint]:
    s = config.load()
    return {"onestop": Endpoint(s.onestop_url, s.api_key, timeout), "portal": Endpoint(s.portal_url, s.api_key, timeout),
            "population": Endpoint(s.population_url, s.api_key, timeout)}


def load_all(loader: str, since, until, eps=None) -> None:
    eps = eps or endpoints()
    extract_source(loader, eps["onestop"], "onestop", since, until)
    extract_source(loader, eps["portal"], "portal", since, until)
    verify_population(loader, eps["population"])


def set_faults(**faults) -> None:
    s = config.load()
    for url in (s.onestop_url, s.portal_url, s.population_url):
        httpx.put(f"{url}/admin/faults", json=faults, headers={"X-API-Key": s.api_key}).raise_for_status()


def test_a_window_loads_exactly_the_sources_records(sources, sim_dir, fresh_db):
    admin, loader = fresh_db
    load_all(loader, DAY1, DAY2)
    truth = json.loads((sim_dir / "truth.json").read_text())
    bad = {(b["key"], b["recorded_at"]) for b in truth["bad_records"]}
    with psycopg.connect(admin) as conn:
        for source, entity in (("onestop", "dossiers"), ("onestop", "status_changes"), ("portal", "sync_records"),
                               ("portal", "online_applications")):
            stored = sqlite3.connect(store_path(sim_dir, source)).execute(
                f"SELECT key, payload FROM {entity} WHERE changed_us >= ? AND changed_us < ?",
                (to_us(DAY1), to_us(DAY2))).fetchall()
            expected = set()
            for key, payload in stored:
                rec = json.loads(payload)
                if (key, rec["NgayCapNhat"]) not in bad:
                    expected.add((key, rec["NgayCapNhat"]))
            got = {(k, t.astimezone(TZ).isoformat()) for k, t in conn.execute(
                f"SELECT record_key, changed_at FROM raw_{source}.{entity}")}
            assert got == expected, entity
        assert conn.execute("SELECT count(*) FROM raw_population.verifications").fetchone()[0] > 100


def test_rerun_changes_nothing_and_every_bad_kind_is_quarantined(sources, sim_dir, fresh_db):
    admin, loader = fresh_db
    load_all(loader, DAY1, END)
    first = table_checksums(admin)
    load_all(loader, DAY1, END)
    load_all(loader, DAY1 + dt.timedelta(hours=5), DAY1 + dt.timedelta(hours=9))  # an overlapping window
    assert table_checksums(admin) == first
    truth = json.loads((sim_dir / "truth.json").read_text())
    with psycopg.connect(admin) as conn:
        got = dict(conn.execute("SELECT reason, count(*) FROM raw_onestop.quarantine GROUP BY 1").fetchall())
        summary = conn.execute("SELECT sum(records) FROM audit.quarantine_summary").fetchone()[0]
        payload = conn.execute("SELECT raw_payload FROM raw_onestop.quarantine WHERE reason = 'unsafe_text'"
                               ).fetchone()[0]
        runs = conn.execute("SELECT count(*), sum(rows_updated) FROM audit.load_run WHERE status = 'success'"
                            ).fetchone()
    assert got == truth["bad_record_counts"]
    assert summary == sum(got.values())
    assert "\\u0000" in payload  # the raw payload is kept, escaped
    assert runs[0] >= 30


def test_hourly_windows_equal_one_backfill(sources, fresh_db, warehouse, settings):
    admin, loader = fresh_db
    for since, until in hourly_windows(DAY1, END):
        load_all(loader, since, until)
    hourly = table_checksums(admin)
    # the same two days as one window, in another fresh database
    from urllib.parse import urlsplit

    from tthc.bootstrap import bootstrap
    from tthc.warehouse import with_credentials

    with psycopg.connect(urlsplit(warehouse)._replace(path="/postgres").geturl(), autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS t_backfill WITH (FORCE)")
    admin2 = urlsplit(warehouse)._replace(path="/t_backfill").geturl()
    bootstrap(settings, admin2)
    load_all(with_credentials(admin2, "tthc_loader", settings.role_password("tthc_loader")), DAY1, END)
    assert table_checksums(admin2) == hourly
    with psycopg.connect(admin) as conn:
        marks = dict(conn.execute("SELECT entity, watermark FROM audit.extract_watermark").fetchall())
    assert marks["dossiers"] == END and marks["sync_records"] == END


def test_faults_lose_and_duplicate_nothing(sources, fresh_db, warehouse, settings):
    admin, loader = fresh_db
    reference = None
    set_faults(profile="none")
    load_all(loader, DAY1, END)
    reference = table_checksums(admin)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("TRUNCATE raw_onestop.dossiers, raw_onestop.status_changes, raw_onestop.quarantine, "
                     "raw_portal.sync_records, raw_portal.online_applications, raw_portal.payments, raw_portal.ratings,"
                     " raw_population.verifications, raw_onestop.admin_units, raw_onestop.agencies, "
                     "raw_onestop.procedures, audit.extract_watermark")
    set_faults(profile="none", error_rate=0.10, timeout_rate=0.05, slow_seconds=1.0, duplicate_rate=0.3,
               shuffle_rate=0.5, seed=4)
    try:
        for since, until in hourly_windows(DAY1, END, hours=6):
            load_all(loader, since, until, endpoints(timeout=0.5))
    finally:
        set_faults(profile="none")
    assert table_checksums(admin) == reference


def test_killed_load_leaves_watermark_and_rerun_is_exact(sources, fresh_db, settings):
    admin, loader = fresh_db
    load_all(loader, DAY1, DAY2)
    reference = table_checksums(admin)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("TRUNCATE raw_onestop.dossiers, raw_onestop.status_changes, audit.extract_watermark")
    set_faults(profile="none", timeout_rate=1.0, slow_seconds=1.0, seed=9)  # every page 1 s late
    db = admin.rsplit("/", 1)[1]
    env = {**os.environ, "TTHC_WAREHOUSE_DB": db, "TTHC_PAGE_SIZE": "100"}  # many pages in the window
    proc = subprocess.Popen([sys.executable, "-m", "tthc.cli", "extract", "onestop", "--since", DAY1.isoformat(),
                             "--until", DAY2.isoformat()], env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(admin, autocommit=True) as conn:
            while time.monotonic() < deadline:  # wait until the dossiers COPY is under way
                if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'tthc_loader' "
                                "AND query LIKE 'COPY stage_dossiers%%'").fetchone()[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the load never reached the dossiers COPY")
            time.sleep(0.2)  # the COPY is open while pages (of 100 records, 1 s late each) still stream in
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            time.sleep(0.5)
            marks = dict(conn.execute("SELECT entity, watermark FROM audit.extract_watermark").fetchall())
            assert "dossiers" not in marks and "status_changes" not in marks
            assert conn.execute("SELECT count(*) FROM raw_onestop.dossiers").fetchone()[0] == 0
    finally:
        set_faults(profile="none")
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    load_all(loader, DAY1, DAY2)
    assert table_checksums(admin) == reference


def test_each_dag_runs_with_dag_test(sources, fresh_db, settings, monkeypatch):
    admin, loader = fresh_db
    from tthc.airflow_local import DagRunner

    runner = DagRunner(config.load())
    os.environ["AIRFLOW_CONN_TTHC_WAREHOUSE"] = loader  # this test's fresh database
    assert runner.run("onestop_extract", DAY1 + dt.timedelta(hours=10)) == "success"
    assert runner.run("portal_extract", DAY1 + dt.timedelta(hours=10)) == "success"
    assert runner.run("population_verify", DAY1 + dt.timedelta(hours=10)) == "success"
    with psycopg.connect(admin) as conn:
        windows = conn.execute("SELECT DISTINCT window_start, window_end FROM audit.load_run "
                               "WHERE entity = 'dossiers'").fetchall()
        assert windows == [(DAY1 + dt.timedelta(hours=9), DAY1 + dt.timedelta(hours=10))]
        assert conn.execute("SELECT count(*) FROM raw_onestop.dossiers").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM raw_portal.sync_records").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM raw_population.verifications").fetchone()[0] > 0
