"""The warehouse restarted in the middle of a load: an embedded server of its own (the session's keeps
running), stopped (`tthc warehouse down`, a fast shutdown) while a load streams its COPY, and started again.
Nothing of the window is there, its watermark has not moved, and the next run loads it exactly."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
from conftest import ROOT, run_cli, table_checksums
from tthc import config
from tthc.calendar import TZ

pytestmark = pytest.mark.slow
DAY1 = dt.datetime(2025, 3, 3, tzinfo=TZ)
DAY2 = DAY1 + dt.timedelta(days=1)


def put_faults(**faults) -> None:
    s = config.load()
    for url in (s.onestop_url, s.portal_url, s.population_url):
        httpx.put(f"{url}/admin/faults", json=faults, headers={"X-API-Key": s.api_key}).raise_for_status()


def extract(env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tthc.cli", "extract", "onestop", "--since", DAY1.isoformat(),
                             "--until", DAY2.isoformat()], env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_a_warehouse_restarted_mid_load_keeps_nothing_half_written(sources, settings, tmp_path):
    env = {**os.environ, "TTHC_HOME": str(tmp_path / "home"), "TTHC_WAREHOUSE_PORT": "0",
           "TTHC_API_KEY": settings.api_key}  # its own server and secrets; the session's sources
    env.pop("TTHC_WAREHOUSE_DSN", None)
    up = run_cli("warehouse", "up", env=env, timeout=180)
    assert up.returncode == 0, up.stderr
    admin = run_cli("warehouse", "dsn", env=env).stdout.strip()  # `up` prints it with the password hidden
    reference_run = extract(env)  # the clean load, for reference
    assert reference_run.wait(120) == 0, reference_run.stderr.read()
    reference = table_checksums(admin)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("TRUNCATE raw_onestop.dossiers, raw_onestop.status_changes, raw_onestop.quarantine, "
                     "audit.extract_watermark")
    put_faults(profile="none", timeout_rate=1.0, slow_seconds=0.5, seed=9)  # every page half a second late
    try:
        load = extract({**env, "TTHC_PAGE_SIZE": "100"})  # many pages in the window
        with psycopg.connect(admin, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'tthc_loader' "
                                   "AND query LIKE 'COPY stage_dossiers%%'").fetchone()[0]:
                assert time.monotonic() < deadline and load.poll() is None, "the load never reached its COPY"
                time.sleep(0.05)
        time.sleep(0.3)  # rows are streaming into the window's stage
        down = run_cli("warehouse", "down", env=env, timeout=120)
        assert down.returncode == 0 and "stopped" in down.stdout, down.stderr
        assert load.wait(120) != 0  # the load lost its server and says so
        assert "Traceback" not in load.stderr.read().decode()
    finally:
        put_faults(profile="none")
    assert run_cli("warehouse", "up", env=env, timeout=180).returncode == 0
    with psycopg.connect(admin) as conn:
        marks = dict(conn.execute("SELECT entity, watermark FROM audit.extract_watermark").fetchall())
        assert "dossiers" not in marks and "status_changes" not in marks
        assert conn.execute("SELECT count(*) FROM raw_onestop.dossiers").fetchone()[0] == 0
    rerun = extract(env)
    assert rerun.wait(120) == 0, rerun.stderr.read()
    assert table_checksums(admin) == reference
    run_cli("warehouse", "down", env=env, timeout=120)
