"""Shared fixtures: one real PostgreSQL for the session (embedded, or TTHC_WAREHOUSE_DSN)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
# One private TTHC_HOME for the session, and Airflow pointed into it before anything imports Airflow
# (Airflow reads its database setting once, at import).
_HOME = tempfile.mkdtemp(prefix="tthc_home_")
os.environ["TTHC_HOME"] = _HOME
os.environ.pop("TTHC_WAREHOUSE_PORT", None)
# What dbt and GX write as they run (dbt's target/ and logs, GX's results and Data Docs) goes to the session's
# home, not the checkout: sessions running side by side (pytest -n) never read each other's files.
os.environ["DBT_TARGET_PATH"] = os.path.join(_HOME, "dbt_target")
os.environ["DBT_LOG_PATH"] = os.path.join(_HOME, "dbt_logs")
_GX = os.path.join(_HOME, "gx")
shutil.copytree(ROOT / "expectations", _GX, ignore=shutil.ignore_patterns("uncommitted"))
os.environ["TTHC_GX_PROJECT_DIR"] = _GX


def _airflow_env() -> None:
    from tthc import config
    from tthc.airflow_env import airflow_settings

    os.environ.update(airflow_settings(config.load()))
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)


_airflow_env()


@pytest.fixture(scope="session")
def tthc_home() -> Path:
    return Path(_HOME)


@pytest.fixture(scope="session")
def settings(tthc_home):
    from tthc import config

    return config.load()


@pytest.fixture(scope="session")
def warehouse(settings):
    """Admin DSN of a bootstrapped warehouse; the embedded server is stopped at the end."""
    from tthc.bootstrap import bootstrap
    from tthc.warehouse import EmbeddedServer

    dsn = bootstrap(settings)
    yield dsn
    if settings.embedded:
        EmbeddedServer(settings).down()


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tthc.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)


# Two days are too short for gaps whose clock runs 24 office hours: the session's sources use 4.
SHORT_CLOCKS = {"missing_after_minutes": 240}


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory) -> Path:
    """Two simulated days with every bad-record kind and every gap code G1-G8 in them."""
    from tthc.sources.sim import simulate
    from tthc.sources.sim.truth import Params

    out = tmp_path_factory.mktemp("sim")
    simulate(11, __import__("datetime").date(2025, 3, 3), 2, out, dossiers_per_year=100_000, faults="every-kind",
             params=Params(**SHORT_CLOCKS))
    return out


@pytest.fixture(scope="session")
def sources(sim_dir, settings):
    """`tthc sources serve` in a child process on free ports: real HTTP."""
    from tthc.sources.serve import SourcesProcess
    from tthc.warehouse import free_port

    for source in ("onestop", "population", "portal"):
        os.environ[f"TTHC_{source.upper()}_URL"] = f"http://127.0.0.1:{free_port()}"
    proc = SourcesProcess(sim_dir)
    proc.wait_ready()
    yield proc
    proc.stop()


def new_database(warehouse: str, settings, name: str) -> tuple[str, str]:
    """A new bootstrapped database on the session's server: (admin DSN, loader DSN)."""
    from urllib.parse import urlsplit

    import psycopg
    from tthc.bootstrap import bootstrap
    from tthc.warehouse import with_credentials

    with psycopg.connect(urlsplit(warehouse)._replace(path="/postgres").geturl(), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin = urlsplit(warehouse)._replace(path=f"/{name}").geturl()
    bootstrap(settings, admin)
    return admin, with_credentials(admin, "tthc_loader", settings.role_password("tthc_loader"))


def role_in(admin: str, settings, role: str) -> str:
    """The DSN that logs in to the same database as ``role``."""
    from tthc.warehouse import with_credentials

    return with_credentials(admin, role, settings.role_password(role))


@pytest.fixture
def fresh_db(warehouse, settings, request):
    """A new bootstrapped database on the session's server: (admin DSN, loader DSN)."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return new_database(warehouse, settings, name)


def table_checksums(dsn: str) -> dict[str, tuple[int, str]]:
    """(row count, md5 over keys, hashes and payloads) of every raw table and quarantine."""
    import psycopg
    from tthc.load.entities import ALL_ENTITIES

    out = {}
    with psycopg.connect(dsn) as conn:
        for e in ALL_ENTITIES:
            out[e.table] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(record_key || encode(_record_hash, 'hex') || "
                f"changed_at::text || payload::text, ',' ORDER BY record_key, _record_hash), '')) "
                f"FROM {e.table}").fetchone()
        for s in ("onestop", "portal", "population"):
            out[f"raw_{s}.quarantine"] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(reason || raw_payload, ',' ORDER BY _payload_hash), '')) "
                f"FROM raw_{s}.quarantine").fetchone()
    return out


# --- one loaded and built warehouse for the session: a week across the 2025-07-01 reform -------------
START = dt.date(2025, 6, 26)  # a week across the 2025-07-01 reform
DAYS = 8


@pytest.fixture(scope="session")
def week(tmp_path_factory, settings):
    """The simulated week, served on its own loopback ports: (data dir, endpoints)."""
    from tthc.pipeline import Endpoint
    from tthc.sources.serve import SourcesProcess
    from tthc.sources.sim import simulate
    from tthc.warehouse import free_port

    data = tmp_path_factory.mktemp("week")
    simulate(21, START, DAYS, data, dossiers_per_year=120_000, faults="default")
    env = {f"TTHC_{s.upper()}_URL": f"http://127.0.0.1:{free_port()}" for s in ("onestop", "population", "portal")}
    with SourcesProcess(data, env=env) as served:
        yield data, {s: Endpoint(u, settings.api_key) for s, u in served.urls.items()}


def load(loader: str, endpoints: dict, since: dt.datetime, until: dt.datetime) -> None:
    from tthc.pipeline import extract_source, verify_population

    extract_source(loader, endpoints["onestop"], "onestop", since, until)
    extract_source(loader, endpoints["portal"], "portal", since, until)
    verify_population(loader, endpoints["population"])


def day(n: int) -> dt.datetime:
    from tthc.calendar import TZ

    return dt.datetime.combine(START + dt.timedelta(days=n), dt.time(0), TZ)


@pytest.fixture(scope="session")
def marts(warehouse, settings, week):
    """The week loaded day by day and built by dbt: (admin DSN, transformer DSN, data dir)."""
    from tthc.transform import build

    data, endpoints = week
    admin, loader = new_database(warehouse, settings, "t_marts")
    for n in range(DAYS):
        load(loader, endpoints, day(n), day(n + 1))
    transformer = role_in(admin, settings, "tthc_transformer")
    result = build(transformer)
    assert result.success, [(r["name"], r["message"]) for r in result.failures]
    return admin, transformer, data


@pytest.fixture(scope="session")
def checked(marts, settings):
    """The week's marts with the gap checks run (GX included: its Data Docs are scanned too)."""
    from tthc.checks import run_check

    admin, transformer, data = marts
    end = dt.datetime.combine(START + dt.timedelta(days=DAYS), dt.time(0), dt.timezone(dt.timedelta(hours=7)))
    result = run_check(transformer, end, settings, full=True)
    return admin, transformer, data, result


def expected_agencies(admin: str, unit: str) -> set[str]:
    """The scope rule, computed here from the dimensions: any version of the agency in the unit, in a
    unit whose parent it is, or mapped to it by the reform."""
    import psycopg

    with psycopg.connect(admin) as conn:
        units = conn.execute("SELECT unit_code, parent_unit_code, current_unit_code FROM marts.dim_admin_unit").fetchall()
        agencies = conn.execute("SELECT agency_code, admin_unit_code, current_unit_code FROM marts.dim_agency").fetchall()
    inside = {u for u, parent, current in units if parent == unit or current == unit} | {unit}
    return {a for a, at, current in agencies if at in inside or current == unit}


@pytest.fixture(scope="session")
def scoped(checked, settings):
    """A district inspector (the district with the most dossiers): (login DSN, unit, its expected agencies,
    what `add_inspector` said)."""
    from collections import Counter

    import psycopg
    from tthc.access import add_inspector
    from tthc.warehouse import with_credentials

    admin = checked[0]
    with psycopg.connect(admin) as conn:
        units = conn.execute("SELECT unit_code FROM marts.dim_admin_unit WHERE unit_level = 'district' "
                             "GROUP BY 1").fetchall()
        dossiers = Counter(dict(conn.execute("SELECT agency_code, count(*) FROM marts.fct_dossier GROUP BY 1")))
    unit = max((u for (u,) in units), key=lambda u: sum(dossiers[a] for a in expected_agencies(admin, u)))
    added = add_inspector(admin, settings, "thanhtra_test", unit)
    dsn = with_credentials(admin, "thanhtra_test", settings.secret(added.password_variable))
    return dsn, unit, expected_agencies(admin, unit), added


def store(data: Path, source: str, entity: str) -> list[dict]:
    from tthc.sources.store import store_path

    with sqlite3.connect(store_path(data, source)) as db:
        return [json.loads(p) for (p,) in db.execute(f"SELECT payload FROM {entity} ORDER BY changed_us, seq")]


def valid_dossiers(data: Path) -> dict[str, dict]:
    """The latest valid version of every dossier (the truth's bad records left out)."""
    from tthc.sources.store import store_path

    bad = {(b["key"], b["recorded_at"]) for b in json.loads((data / "truth.json").read_text())["bad_records"]}
    latest = {}
    with sqlite3.connect(store_path(data, "onestop")) as db:
        for key, p in db.execute("SELECT key, payload FROM dossiers ORDER BY changed_us, seq"):
            rec = json.loads(p)
            if (key, rec["NgayCapNhat"]) not in bad:
                latest[key] = rec
    return latest




def personal_data(data: Path) -> tuple[set[str], set[str]]:
    """Every simulated applicant's ID, name and phone (and the population store's), and the long numbers
    (the personal data no reader may ever see)."""
    from tthc.sources.store import store_path

    found = set()
    for d in valid_dossiers(data).values():
        found |= {d["SoGiayToChuHoSo"], d["ChuHoSo"], d["SoDienThoaiChuHoSo"]}
    with sqlite3.connect(store_path(data, "population")) as db:
        for (p,) in db.execute("SELECT payload FROM citizens"):
            rec = json.loads(p)
            found |= {rec["SoDinhDanh"], rec["HoVaTen"]} | ({rec["SoCMND"]} if rec["SoCMND"] else set())
    found.discard(None)
    found.discard("")
    return found, {s for s in found if s.isdigit() and len(s) >= 9}


# The files that take minutes, longest first (measured with --durations): collected first, so that with
# `pytest -n 2 --dist loadfile` the two sessions start on them and the short files fill in behind.
LONGEST_FIRST = ("test_late_records.py", "test_demo.py", "test_checks.py", "test_bench.py", "test_reliability.py",
                 "test_marts.py", "test_kpi766_quarter.py", "test_airflow_scheduler.py", "test_provinces.py",
                 "test_access.py", "test_load.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
