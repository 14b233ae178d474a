"""The data engineer's path against the real scheduler (`tthc airflow` = airflow standalone on loopback,
not dag.test): trigger one hour through the REST API with its interval, clear and rerun it, backfill three
hours, skip one and run the next: that run catches the skipped hour up by itself, the raw rows equal the
sources' for exactly the hours from the first to the last run, coverage has no hole, and SIGTERM stops
everything (the ports are free)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
from conftest import new_database
from tthc.coverage import holes
from tthc.sources.store import store_path
from tthc.warehouse import free_port

UTC = dt.UTC
DAG = "onestop_extract"


def hour(h: int) -> dt.datetime:
    return dt.datetime(2025, 3, 3, h, tzinfo=UTC)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(check, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
def test_trigger_clear_backfill_and_coverage_on_the_real_scheduler(warehouse, settings, tmp_path):
    admin, _ = new_database(warehouse, settings, "t_scheduler")
    api_port = free_port()
    ports = {s: free_port() for s in ("onestop", "population", "portal")}
    env = {**os.environ, "TTHC_AIRFLOW_PORT": str(api_port), "TTHC_WAREHOUSE_DB": "t_scheduler",
           "TTHC_HOME": str(settings.home), **{f"TTHC_{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()}}
    log = (tmp_path / "airflow.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "tthc.cli", "airflow"], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{api_port}"
    try:
        def healthy():
            try:
                return httpx.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 240, "the Airflow API")
        passwords = settings.home / "airflow" / "simple_auth_manager_passwords.json.generated"
        user, password = next(iter(json.loads(wait_for(passwords.exists, 60, "the password file") and
                                              passwords.read_text()).items()))
        token = httpx.post(f"{base}/auth/token", json={"username": user, "password": password}).json()["access_token"]
        api = httpx.Client(base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        wait_for(lambda: api.get(f"/dags/{DAG}").status_code == 200, 120, "the DAG to be parsed")
        assert api.patch(f"/dags/{DAG}", json={"is_paused": False}).status_code == 200

        def run_state(run_id: str) -> str | None:
            state = api.get(f"/dags/{DAG}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        def trigger(h: int) -> str:
            body = {"logical_date": iso(hour(h)), "data_interval_start": iso(hour(h)), "data_interval_end": iso(hour(h + 1))}
            run = api.post(f"/dags/{DAG}/dagRuns", json=body)
            assert run.status_code == 200, run.text
            return run.json()["dag_run_id"]

        first = trigger(3)
        assert wait_for(lambda: run_state(first), 180, "the triggered run") == "success"
        again = api.post(f"/dags/{DAG}/dagRuns", json={"logical_date": iso(hour(3))})
        assert again.status_code == 409  # a rerun is a clear, not a second trigger
        cleared = api.post(f"/dags/{DAG}/clearTaskInstances",
                           json={"dry_run": False, "dag_run_id": first, "only_failed": False, "reset_dag_runs": True})
        assert cleared.status_code == 200, cleared.text
        time.sleep(3)
        assert wait_for(lambda: run_state(first), 180, "the cleared run") == "success"
        def create_backfill():  # SQLite (make airflow's metadata DB) refuses it while the scheduler writes: retry
            answer = api.post("/backfills", json={"dag_id": DAG, "from_date": iso(hour(4)), "to_date": iso(hour(6)),
                                                  "reprocess_behavior": "none", "max_active_runs": 1})
            assert answer.status_code in (200, 503), answer.text
            return answer if answer.status_code == 200 else None

        backfill = wait_for(create_backfill, 120, "the backfill to be created")
        backfill_id = backfill.json()["id"]

        def backfill_done():
            if api.get(f"/backfills/{backfill_id}").json().get("completed_at") is None:
                return False
            runs = api.get(f"/dags/{DAG}/dagRuns", params={"limit": 100}).json()["dag_runs"]
            return all(r["state"] in ("success", "failed") for r in runs) and runs

        runs = wait_for(backfill_done, 300, "the backfill")
        loaded_hours = sorted({dt.datetime.fromisoformat(r["data_interval_start"]).astimezone(UTC).hour
                               for r in runs if r["state"] == "success"})
        assert {3, 4, 5} <= set(loaded_hours) and all(r["state"] == "success" for r in runs), runs
        last = max(h for h in loaded_hours if set(range(3, h + 1)) <= set(loaded_hours))
        skipped = trigger(last + 2)  # the hour after the backfill is never run: the run after it owes it
        assert wait_for(lambda: run_state(skipped), 180, "the run after the gap") == "success"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
            stopped = True
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            stopped = False
        log.close()
    assert stopped, "SIGTERM did not stop `tthc airflow` within 90 s"
    for port in (api_port, *ports.values()):
        assert wait_for(lambda p=port: port_free(p), 30, f"port {port} to be free")
    # the raw rows from the first hour run to the last are the sources' records of those hours, each once:
    # the skipped hour too, read by the next run's catch-up
    data = settings.home / "sources"
    lo, hi = int(hour(3).timestamp() * 1e6), int(hour(last + 3).timestamp() * 1e6)
    with sqlite3.connect(store_path(data, "onestop")) as store:
        expected = store.execute("SELECT count(*) FROM status_changes WHERE changed_us >= ? AND changed_us < ?",
                                 (lo, hi)).fetchone()[0]
    with psycopg.connect(admin) as conn:
        loaded = conn.execute("SELECT count(*), count(DISTINCT record_key) FROM raw_onestop.status_changes "
                              "WHERE changed_at >= %s AND changed_at < %s", (hour(3), hour(last + 3))).fetchone()
        caught = conn.execute("SELECT count(*) FROM audit.load_run WHERE entity = 'status_changes' AND status = 'success' "
                              "AND window_start <= %s AND window_end >= %s", (hour(last + 1), hour(last + 2))).fetchone()[0]
    assert expected > 0 and loaded == (expected, expected)
    assert holes(admin) == [] and caught >= 1
