"""`tthc bench`: how fast the loader puts a province-year of records into PostgreSQL, against the limit
and against the usual Airflow path, on the same server in one run.

What it measures (README, "Benchmark"):

1. **loader**: ``load_window`` (validation, canonical JSON, hash, binary COPY into a staging table,
   the set-based insert into the raw table, quarantine, watermark and run log) for every day of a
   simulated province-year of dossiers and status changes, one window per day and entity;
2. **bare COPY**: the same valid rows, already built, binary-COPYed into a table of the same shape
   (same primary key and index) in one transaction per day: what the server can take, the limit;
3. **staging + upsert**: the loader's server part alone: the same pre-built rows through a temporary
   table and ``INSERT ... ON CONFLICT`` (shows how much of the loader's time is the server's);
4. **insert_rows**: ``PostgresHook.insert_rows`` (the usual Airflow path) on a sample of the same
   rows, extrapolated as rows/s;
5. **memory**: the loader's Python heap peak (tracemalloc) for a window of N pages and of 4N pages,
   pages decoded lazily from the store as the HTTP client would hand them over.

6. **dlt**: dlt 1.x (its own virtualenv) on the first ~300k rows' daily windows, defaults and fastest;
7. **the source APIs**, **a province-year end to end** and **the hourly cycle** after 1 and 12 months
   (``bench_pipeline``); and dbt and the gap checks over history (``dbt_history``).

Every ratio is printed next to its target (``TARGETS``) with met/MISSED and written to the JSON file.

For the loader's paths the pages are decoded from the simulator's store before the clock starts: they
time the load, not the simulator or HTTP (the source APIs are timed on their own, and end to end). Every
path writes to a scratch database ``<warehouse db>_bench*`` on the same server, dropped at the end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import platform
import shutil
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from tthc import TthcError
from tthc import config as config_mod
from tthc.bootstrap import bootstrap
from tthc.config import DEFAULT_PAGE_SIZE
from tthc.extract.client import parse_json
from tthc.load.entities import ENTITIES, Entity
from tthc.load.loader import (
    RowBuilder,
    copy_rows,
    create_stage,
    ensure_partitions,
    insert_new_versions,
    known_procedures,
    load_window,
    local_month,
    register_adapters,
)
from tthc.sources.store import open_store
from tthc.warehouse import admin_dsn, on_database, redact, with_credentials

PAGE = DEFAULT_PAGE_SIZE
FACT_ENTITIES = ("dossiers", "status_changes")
# name: (direction, target). Restated from the measurements in the extract-and-load issue's note (#15).
# the models of the Decision 766 index, timed apart in every build of the bench
KPI766_MODELS = ("fct_kpi766_dossier", "kpi_agency_monthly")
TARGETS = {
    "loader_vs_copy": (">=", 0.5),  # the loader's rows/s over bare COPY's: the server's own limit
    "loader_vs_server_part": (">=", 0.8),  # over its server part alone (staging + upsert of pre-built rows)
    "loader_vs_insert_rows": (">=", 1.5),  # over PostgresHook.insert_rows (psycopg 3 pipelined executemany)
    "loader_vs_dlt": (">=", 5.0),  # over dlt 1.x with its defaults, daily windows
    "loader_vs_dlt_best": (">=", 3.0),  # over dlt with its fastest settings (csv, one run)
    "memory_growth_4x_pages": ("<=", 1.25),  # heap peak for 4N pages / for N pages: flat
    "e2e_vs_copy": ("<=", 5.0),  # the province-year backfill end to end / bare COPY of its raw rows
    "dbt_history_ratio": ("<=", 1.2),  # hourly build after 12 months / after 1 month: flat in history
    "dbt_hourly_vs_full": ("<=", 0.05),  # hourly build / full build, both at 12 months
    "checks_history_ratio": ("<=", 1.2),  # hourly gap checks after 12 months / after 1 month
    "incremental_history_ratio": ("<=", 1.2),  # the whole hourly cycle after 12 months / after 1 month
    "hourly_cycle_vs_full": ("<=", 0.05),  # the hourly cycle / a full rebuild (dbt --full-refresh + full re-check)
}


def target_met(name: str, value: float) -> bool:
    direction, target = TARGETS[name]
    return value >= target if direction == ">=" else value <= target


# ---------------------------------------------------------------------------------------------------
# Input: a simulated province-year, cached by its parameters and the simulator's code
# ---------------------------------------------------------------------------------------------------
def simulated_year(home: Path, seed: int, start: dt.date, days: int, per_year: int, echo=print) -> Path:
    from tthc.sources import sim, store

    code = hashlib.blake2b(digest_size=6)
    for path in sorted([*Path(sim.__file__).parent.glob("*.py"), Path(store.__file__)]):
        code.update(path.read_bytes())
    target = home / "bench" / f"sim-{seed}-{start}-{days}d-{per_year}-{code.hexdigest()}"
    if (target / "truth.json").exists():
        echo(f"input      reusing the simulated province-year in {target}")
        return target
    shutil.rmtree(home / "bench", ignore_errors=True)  # older inputs: one cached year at a time
    partial = target.with_name(target.name + ".partial")
    t0 = time.monotonic()
    echo(f"input      simulating {days} days at {per_year} dossiers/year (cached for the next run) ...")
    sim.simulate(seed, start, days, partial, per_year, "default")
    partial.rename(target)
    echo(f"           simulated in {time.monotonic() - t0:.1f}s")
    return target


def store_days(data_dir: Path, entity: Entity) -> list[tuple[int, int]]:
    """Day windows (UTC microseconds, local midnight to midnight) covering the entity's changes."""
    with open_store(data_dir, entity.source) as db:
        lo, hi = db.execute(f"SELECT min(changed_us), max(changed_us) FROM {entity.name}").fetchone()
    if lo is None:
        return []
    day_us = 86_400_000_000
    offset = 7 * 3_600_000_000  # Vietnam time: days start at 17:00 UTC
    first = (lo + offset) // day_us * day_us - offset
    return [(t, t + day_us) for t in range(first, hi + 1, day_us)]


def store_pages(data_dir: Path, entity: Entity, lo: int, hi: int, page: int = PAGE,
                max_pages: int | None = None) -> Iterator[list[dict]]:
    """The records the API would serve for [lo, hi), page by page, decoded like the client does."""
    with open_store(data_dir, entity.source) as db:
        cur = db.execute(f"SELECT payload FROM {entity.name} WHERE changed_us >= ? AND changed_us < ? "
                         "ORDER BY changed_us, seq", (lo, hi))
        pages = 0
        while max_pages is None or pages < max_pages:
            rows = cur.fetchmany(page)
            if not rows:
                return
            pages += 1
            yield [parse_json(p) for (p,) in rows]


def us_to_dt(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)


# ---------------------------------------------------------------------------------------------------
# The scratch database
# ---------------------------------------------------------------------------------------------------
def scratch_database(settings: config_mod.Settings) -> tuple[str, str]:
    """(admin DSN, loader DSN) of a fresh, bootstrapped ``<db>_bench`` on the warehouse's server."""
    admin = admin_dsn(settings, start=True)
    name = f"{settings.warehouse_db}_bench"
    bench_admin = on_database(admin, name)
    drop_database(admin, name)
    bootstrap(settings, bench_admin)
    with psycopg.connect(bench_admin, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA bench AUTHORIZATION tthc_loader")
    return bench_admin, with_credentials(bench_admin, "tthc_loader", settings.role_password("tthc_loader"))


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(on_database(admin, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def same_shape(conn: psycopg.Connection, entity: Entity, kind: str) -> str:
    """A table shaped like the entity's raw table: its columns, key and indexes, and partitioned by month
    like it (``with_partitions`` adds the months rows need)."""
    table = f"bench.{kind}_{entity.name}"
    partitioning = " PARTITION BY RANGE (changed_at)" if entity.monthly else ""
    conn.execute(f"CREATE TABLE {table} (LIKE {entity.table} INCLUDING ALL){partitioning}")
    return table


def with_partitions(conn: psycopg.Connection, entity: Entity, table: str, rows: list[list]) -> None:
    ensure_partitions(conn, entity, {local_month(r[3]) for r in rows}, table)


# ---------------------------------------------------------------------------------------------------
# The three paths
# ---------------------------------------------------------------------------------------------------
def load_reference(conn: psycopg.Connection, data_dir: Path) -> frozenset[str]:
    for name in ("admin_units", "agencies", "procedures"):
        entity = ENTITIES[name]
        load_window(conn, entity, list(store_pages(data_dir, entity, 0, 2**62)), None, None)
    return known_procedures(conn)


def loader_and_copy(conn: psycopg.Connection, data_dir: Path, procedures: frozenset[str], echo=print) -> dict:
    """Day by day, each entity: the loader; a bare COPY of the same valid rows; and the same rows
    through a staging table and INSERT ... ON CONFLICT (the loader's server part alone)."""
    out = {}
    register_adapters(conn)
    for name in FACT_ENTITIES:
        entity = ENTITIES[name]
        target = same_shape(conn, entity, "copy")
        staged = same_shape(conn, entity, "staged")
        conn.commit()
        loader_s = copy_s = staging_s = 0.0
        read = valid = loaded = quarantined = windows = 0
        per_window = []  # (lo, hi, rows read, loader seconds): the dlt peer is compared on the same windows
        for lo, hi in store_days(data_dir, entity):
            pages = list(store_pages(data_dir, entity, lo, hi))
            if not pages:
                continue
            windows += 1
            t0 = time.perf_counter()
            stats = load_window(conn, entity, pages, us_to_dt(lo), us_to_dt(hi), procedures)
            loader_s += time.perf_counter() - t0
            per_window.append((lo, hi, stats.rows_read, time.perf_counter() - t0))
            builder = RowBuilder(entity, stats.load_id, dt.datetime.now(dt.UTC), procedures)
            rows = list(builder.rows(pages))
            with conn.transaction():
                with_partitions(conn, entity, target, rows)
                with_partitions(conn, entity, staged, rows)
            t0 = time.perf_counter()
            with conn.transaction():
                copy_rows(conn, target, entity, rows)
            copy_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            staging_upsert(conn, staged, entity, rows)
            staging_s += time.perf_counter() - t0
            read += stats.rows_read
            valid += len(rows)
            loaded += stats.rows_inserted + stats.rows_updated
            quarantined += stats.rows_quarantined
        out[name] = {"windows": windows, "rows_read": read, "rows_valid": valid, "rows_loaded": loaded,
                     "rows_quarantined": quarantined,
                     "loader_s": round(loader_s, 3), "copy_s": round(copy_s, 3),
                     "staging_upsert_s": round(staging_s, 3), "per_window": per_window}
        echo(f"load       {name:15} {read:>9,} rows in {windows} daily windows: loader {loader_s:6.1f}s, "
             f"bare COPY {copy_s:6.1f}s, staging+upsert (rows pre-built) {staging_s:6.1f}s")
    return out


def staging_upsert(conn: psycopg.Connection, table: str, entity: Entity, rows: list[list]) -> None:
    with conn.transaction():
        stage = create_stage(conn, entity)
        copy_rows(conn, stage, entity, rows)
        insert_new_versions(conn, entity, stage, table)
        conn.execute(f"DROP TABLE {stage}")


def insert_rows_sample(conn: psycopg.Connection, dsn: str, data_dir: Path, procedures: frozenset[str],
                       sample: int) -> dict:
    """PostgresHook.insert_rows with its defaults (``executemany`` per chunk of 1000 rows, a commit per
    chunk; psycopg 3 runs it in pipeline mode) on the first ``sample`` rows of each entity, into tables
    of the same shape."""
    from tthc.airflow_env import airflow_settings

    os.environ.update(airflow_settings(config_mod.load()))  # Airflow's own files under $TTHC_HOME
    os.environ["AIRFLOW_CONN_TTHC_BENCH"] = dsn
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    for name in ("airflow", "cosmos", "airflow.task.hooks"):  # the hook's per-chunk INFO lines are noise here
        logging.getLogger(name).setLevel(logging.ERROR)
    hook = PostgresHook(postgres_conn_id="tthc_bench")
    out = {}
    for name in FACT_ENTITIES:
        entity = ENTITIES[name]
        target = same_shape(conn, entity, "hook")
        conn.commit()
        rows: list[tuple] = []
        for lo, hi in store_days(data_dir, entity):
            builder = RowBuilder(entity, 0, dt.datetime.now(dt.UTC), procedures)
            rows += [tuple(r[:-3]) + (r[-3].decode(), r[-2], r[-1])
                     for r in builder.rows(store_pages(data_dir, entity, lo, hi))]
            if len(rows) >= sample:
                break
        rows = rows[:sample]
        with_partitions(conn, entity, target, rows)
        conn.commit()
        columns = [d.name for d in conn.execute(f"SELECT * FROM {target} LIMIT 0").description]
        t0 = time.perf_counter()
        hook.insert_rows(target, rows, target_fields=columns, commit_every=1000)
        out[name] = {"rows": len(rows), "seconds": round(time.perf_counter() - t0, 3)}
    return out


def memory_profile(conn: psycopg.Connection, data_dir: Path, procedures: frozenset[str]) -> dict:
    """tracemalloc peak of load_window over N and 4N lazily decoded pages (status changes)."""
    entity = ENTITIES["status_changes"]
    with open_store(data_dir, entity.source) as db:
        total = db.execute(f"SELECT count(*) FROM {entity.name}").fetchone()[0]
    page = min(PAGE, max(1, total // 8))
    small = max(1, min(25, total // page // 4))
    out = {"page_size": page}
    for label, n in (("n_pages", small), ("4n_pages", 4 * small)):
        conn.execute(f"TRUNCATE {entity.table}")  # both runs insert every row
        conn.commit()
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            stats = load_window(conn, entity, store_pages(data_dir, entity, 0, 2**62, page, n), None, None,
                                procedures)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        out[label] = {"pages": n, "rows": stats.rows_read, "peak_kib": round((peak - base) / 1024, 1)}
    out["growth"] = round(out["4n_pages"]["peak_kib"] / max(out["n_pages"]["peak_kib"], 1e-9), 3)
    return out


# ---------------------------------------------------------------------------------------------------
# dbt over history: a full build, and an hourly build after 1 and after 12 months
# ---------------------------------------------------------------------------------------------------
def _working_ten(day: dt.date, step: int) -> dt.datetime:
    """10:00 local on ``day``, or on the nearest working day in the direction of ``step``."""
    from tthc.calendar import TZ, is_working_day

    while not is_working_day(day):
        day += dt.timedelta(days=step)
    return dt.datetime.combine(day, dt.time(10), TZ)


def load_feeds(conn: psycopg.Connection, data_dir: Path, procedures: frozenset[str], lo: int, hi: int) -> int:
    """Every change feed of the one-stop and the portal recorded in [lo, hi), in daily windows, through
    the loader (catalogue entities are loaded once, by load_reference)."""
    from tthc.load.entities import ENTITIES as ALL

    rows = 0
    for entity in (e for e in ALL.values() if not e.reference):
        for a, b in store_days(data_dir, entity):
            a, b = max(a, lo), min(b, hi)
            if a < b:
                pages = list(store_pages(data_dir, entity, a, b))  # a day without changes is logged too: no hole
                rows += load_window(conn, entity, pages, us_to_dt(a), us_to_dt(b), procedures,
                                    source_time=lambda b=b: us_to_dt(b)).rows_read  # served as the window ends
    return rows


def dbt_history(settings: config_mod.Settings, data_dir: Path, start: dt.date, days: int, keep: bool,
                echo=print) -> dict:
    """On a scratch database: load the first month, build, check; time the build and the gap checks after
    one more hour; load the rest of the period, time a full build and a full re-check; time the build and
    the checks after one more hour. The hourly builds and checks are what the hourly DAG runs do
    (incremental dbt with its tests; the checks with the GX checkpoint). After each of the two timed hours,
    the next hour runs the whole hourly cycle over HTTP (``bench_pipeline.hourly_cycle``)."""
    from tthc.bench_pipeline import extract_all, hourly_cycle, served
    from tthc.checks import run_check
    from tthc.live import set_clock
    from tthc.pipeline import verify_population
    from tthc.sources.sim.common import to_us
    from tthc.transform import build

    admin, name, roles = fresh_database(settings, "dbt")
    loader, transformer = roles["tthc_loader"], roles["tthc_transformer"]
    first = _working_ten(start + dt.timedelta(days=min(31, max(1, days // 12))), 1)
    last = _working_ten(start + dt.timedelta(days=days - 2), -1)
    hour = dt.timedelta(hours=1)
    out: dict = {"hour_1m": first.isoformat(), "hour_12m": last.isoformat()}

    def timed_build(label: str, full_refresh: bool = False) -> float:
        result = build(transformer, full_refresh=full_refresh)
        if not result.success:
            raise TthcError(f"dbt build ({label}) failed: {[(r['name'], r['message']) for r in result.failures][:3]}")
        kpi = round(sum(r["execution_time"] for r in result.results if r["name"] in KPI766_MODELS), 2)
        out.setdefault("kpi766_s", {})[label] = kpi
        echo(f"dbt        {label:34} {result.elapsed_s:7.1f}s  (the 766 index: {kpi:.1f}s)")
        return result.elapsed_s

    def timed_check(label: str, as_of: dt.datetime, full: bool = False) -> float:
        t0 = time.monotonic()
        result = run_check(transformer, as_of, settings, full=full)
        seconds = round(time.monotonic() - t0, 2)
        slowest = sorted(result.stage_seconds.items(), key=lambda kv: -kv[1])[:4]
        echo(f"checks     {label:34} {seconds:7.1f}s  ({result.mode}; in scope {result.scope_counts}; "
             f"open {sum(result.open_counts.values())}; slowest {', '.join(f'{k} {v:.1f}s' for k, v in slowest)})")
        out.setdefault("checks_stages", {})[label] = result.stage_seconds
        return seconds

    try:
        # autocommit: each load_window is its own transaction, so no lock outlives it while dbt builds
        with psycopg.connect(loader, autocommit=True) as conn, served(data_dir) as endpoints:
            procedures = load_reference(conn, data_dir)
            out["rows_1m"] = load_feeds(conn, data_dir, procedures, 0, to_us(first))
            set_clock(endpoints, first)  # the catalogue's watermarks and the month's IDs, as the DAGs left them
            extract_all(loader, endpoints, first - hour, first)
            timed_build("full build, first month")
            out["checks_first_s"] = timed_check("first check, first month", first)
            out["rows_hour_1m"] = load_feeds(conn, data_dir, procedures, to_us(first), to_us(first + hour))
            out["dbt_hourly_1m_s"] = timed_build(f"hourly build after 1 month ({out['rows_hour_1m']} rows)")
            out["checks_hourly_1m_s"] = timed_check("hourly check after 1 month", first + hour)
            out["cycle_1m"] = hourly_cycle(endpoints, roles, first + hour, settings, "hourly cycle after 1 month", echo)
            out["rows_rest"] = load_feeds(conn, data_dir, procedures, to_us(first + 2 * hour), to_us(last))
            verify_population(loader, endpoints["population"])  # the rest's IDs, before the clock starts
            out["dbt_catch_up_s"] = timed_build("incremental catch-up to 12 months")
            out["checks_catch_up_s"] = timed_check("incremental check over 11 months", last)
            out["dbt_full_s"] = timed_build("full build (--full-refresh), 12 months", full_refresh=True)
            out["checks_full_s"] = timed_check("full re-check of 12 months", last, full=True)
            out["rows_hour_12m"] = load_feeds(conn, data_dir, procedures, to_us(last), to_us(last + hour))
            out["dbt_hourly_12m_s"] = timed_build(f"hourly build after 12 months ({out['rows_hour_12m']} rows)")
            out["checks_hourly_12m_s"] = timed_check("hourly check after 12 months", last + hour)
            out["cycle_12m"] = hourly_cycle(endpoints, roles, last + hour, settings, "hourly cycle after 12 months",
                                            echo)
        with psycopg.connect(on_database(admin, name)) as conn:
            out["marts_rows"] = {t: conn.execute(f'SELECT count(*) FROM marts."{t}"').fetchone()[0] for (t,) in
                                 conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'marts'").fetchall()}
    finally:
        if not keep:
            drop_database(admin, name)
    kpi = list(out["kpi766_s"].values())  # in build order: full 1m, hourly 1m, catch-up, full 12m, hourly 12m
    out["kpi766_full_12m_s"], out["kpi766_hourly_12m_s"] = kpi[3], kpi[4]
    out["dbt_history_ratio"] = round(out["dbt_hourly_12m_s"] / out["dbt_hourly_1m_s"], 3)
    out["dbt_hourly_vs_full"] = round(out["dbt_hourly_12m_s"] / out["dbt_full_s"], 3)
    out["checks_history_ratio"] = round(out["checks_hourly_12m_s"] / out["checks_hourly_1m_s"], 3)
    out["hourly_cycle_1m_s"], out["hourly_cycle_12m_s"] = out["cycle_1m"]["s"], out["cycle_12m"]["s"]
    out["incremental_history_ratio"] = round(out["hourly_cycle_12m_s"] / out["hourly_cycle_1m_s"], 3)
    out["hourly_cycle_vs_full"] = round(out["hourly_cycle_12m_s"] / (out["dbt_full_s"] + out["checks_full_s"]), 3)
    return out


def fresh_database(settings: config_mod.Settings, suffix: str) -> tuple[str, str, dict[str, str]]:
    """A scratch database ``<db>_bench_<suffix>`` on the warehouse's server, bootstrapped: its admin DSN,
    its name and the DSN of each pipeline role in it."""
    admin = admin_dsn(settings, start=True)
    name = f"{settings.warehouse_db}_bench_{suffix}"
    db = on_database(admin, name)
    drop_database(admin, name)
    bootstrap(settings, db)
    roles = {r: with_credentials(db, r, settings.role_password(r))
             for r in ("tthc_loader", "tthc_transformer", "tthc_inspector")}
    return admin, name, roles


# ---------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------
def run_bench(per_year: int, json_path: Path, days: int = 365, start: dt.date = dt.date(2025, 1, 1),
              seed: int = 7, sample: int = 20_000, keep: bool = False, dlt_rows: int = 300_000,
              api_records: int = 200_000, echo=print) -> dict:
    from tthc.bench_pipeline import api_throughput, dlt_peer, end_to_end, served

    settings = config_mod.load()
    t_all = time.monotonic()
    data_dir = simulated_year(settings.home, seed, start, days, per_year, echo)
    bench_admin, dsn = scratch_database(settings)
    try:
        with psycopg.connect(dsn) as conn:
            server = {k: conn.execute(f"SHOW {k}").fetchone()[0]
                      for k in ("server_version", "shared_buffers", "synchronous_commit", "fsync", "wal_level")}
            echo(f"server     PostgreSQL {server['server_version']} at {redact(dsn)} (scratch database)")
            procedures = load_reference(conn, data_dir)
            paths = loader_and_copy(conn, data_dir, procedures, echo)
            hook = insert_rows_sample(conn, bench_admin, data_dir, procedures, sample)
            memory = memory_profile(conn, data_dir, procedures)
        windows = first_windows(paths, dlt_rows)
        dlt = dlt_peer(settings.home, bench_admin, data_dir, {n: [w[:2] for w in ws] for n, ws in windows.items()},
                       echo)
        dlt["loader_on_same_windows"] = {"rows": sum(w[2] for ws in windows.values() for w in ws),
                                         "seconds": round(sum(w[3] for ws in windows.values() for w in ws), 3)}
    finally:
        if not keep:
            from urllib.parse import urlsplit

            drop_database(bench_admin, urlsplit(bench_admin).path.lstrip("/"))
    for name in ("tthc.extract", "tthc.load"):  # a line per page and window would bury the figures
        logging.getLogger(name).setLevel(logging.WARNING)
    with served(data_dir) as endpoints:
        api = api_throughput(endpoints, data_dir, store_days(data_dir, ENTITIES["status_changes"]), api_records)
    echo("api        " + "; ".join(f"{s} {a['records_per_s']:,} records/s ({a['records']:,} in {a['seconds']:.1f}s)"
                                   for s, a in api.items()))
    e2e = end_to_end(settings, data_dir, start, days, keep, echo)
    dbt = dbt_history(settings, data_dir, start, days, keep, echo)
    result = summarise(paths, hook, memory, dbt, dlt, api, e2e)
    result.update({
        "input": {"seed": seed, "start": start.isoformat(), "days": days, "dossiers_per_year": per_year,
                  "page_size": PAGE, "data_dir": str(data_dir)},
        "server": server,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "took_s": round(time.monotonic() - t_all, 1),
    })
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2))
    report(result, echo)
    echo(f"json       {json_path}")
    return result


def first_windows(paths: dict, rows: int) -> dict[str, list[tuple]]:
    """The loader's first daily windows, up to the first day by which both entities hold ``rows`` rows."""
    ends = sorted({w[1] for p in paths.values() for w in p["per_window"]})
    for end in ends:
        chosen = {n: [w for w in p["per_window"] if w[1] <= end] for n, p in paths.items()}
        if sum(w[2] for ws in chosen.values() for w in ws) >= rows:
            return chosen
    return {n: list(p["per_window"]) for n, p in paths.items()}


def summarise(paths: dict, hook: dict, memory: dict, dbt: dict, dlt: dict, api: dict, e2e: dict) -> dict:
    valid = sum(p["rows_valid"] for p in paths.values())
    loader_s = sum(p["loader_s"] for p in paths.values())
    copy_s = sum(p["copy_s"] for p in paths.values())
    hook_rows = sum(h["rows"] for h in hook.values())
    hook_s = sum(h["seconds"] for h in hook.values())
    staging_s = sum(p["staging_upsert_s"] for p in paths.values())
    same = dlt["loader_on_same_windows"]
    rates = {"loader": valid / loader_s, "bare_copy": valid / copy_s, "staging_upsert": valid / staging_s,
             "insert_rows": hook_rows / hook_s, "loader_on_dlt_windows": same["rows"] / same["seconds"],
             "dlt_defaults": dlt["defaults"]["rows_per_s"], "dlt_best": dlt["best"]["rows_per_s"]}
    raw_rows = e2e["rows"] + e2e["verified"]
    ratios = {"loader_vs_copy": rates["loader"] / rates["bare_copy"],
              "loader_vs_server_part": rates["loader"] / rates["staging_upsert"],
              "loader_vs_insert_rows": rates["loader"] / rates["insert_rows"],
              "loader_vs_dlt": rates["loader_on_dlt_windows"] / rates["dlt_defaults"],
              "loader_vs_dlt_best": rates["loader_on_dlt_windows"] / rates["dlt_best"],
              "memory_growth_4x_pages": memory["growth"],
              "e2e_vs_copy": e2e["e2e_s"] / (raw_rows / rates["bare_copy"])}
    for k in ("dbt_history_ratio", "dbt_hourly_vs_full", "checks_history_ratio", "incremental_history_ratio",
              "hourly_cycle_vs_full"):
        ratios[k] = dbt[k]
    met = {k: target_met(k, v) for k, v in ratios.items()}
    for p in paths.values():
        p.pop("per_window")
    return {
        "rows": valid,
        "rows_per_s": {k: round(v) for k, v in rates.items()},
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "targets": {k: f"{d} {t}" for k, (d, t) in TARGETS.items()}, "targets_met": met,
        "all_targets_met": all(met.values()),
        "insert_rows_extrapolated_s": round(valid / rates["insert_rows"], 1),
        "entities": paths, "insert_rows_sample": hook, "memory": memory, "dlt": dlt,
        "api_records_per_s": {s: a["records_per_s"] for s, a in api.items()}, "api": api,
        "e2e_s": e2e["e2e_s"], "e2e": {**e2e, "raw_rows": raw_rows,
                                       "bare_copy_s_of_raw_rows": round(raw_rows / rates["bare_copy"], 2)},
        **{k: dbt[k] for k in ("dbt_full_s", "dbt_hourly_1m_s", "dbt_hourly_12m_s", "dbt_history_ratio",
                               "kpi766_full_12m_s", "kpi766_hourly_12m_s",
                               "checks_hourly_1m_s", "checks_hourly_12m_s", "checks_full_s",
                               "hourly_cycle_1m_s", "hourly_cycle_12m_s")},
        "dbt": dbt,
    }


def report(r: dict, echo=print) -> None:
    """Every figure next to its target: a table."""
    rates, ratios, met = r["rows_per_s"], r["ratios"], r["targets_met"]
    echo("rows/s     " + "  ".join(f"{k} {v:,}" for k, v in rates.items()))
    echo("api        records/s (client side, JSON parsed): "
         + "  ".join(f"{k} {v:,}" for k, v in r["api_records_per_s"].items()))
    seconds = {k: r[k] for k in ("e2e_s", "hourly_cycle_1m_s", "hourly_cycle_12m_s", "dbt_full_s",
                                 "dbt_hourly_1m_s", "dbt_hourly_12m_s", "checks_full_s", "checks_hourly_1m_s",
                                 "checks_hourly_12m_s", "kpi766_full_12m_s", "kpi766_hourly_12m_s")}
    echo("seconds    " + "  ".join(f"{k} {v:,}" for k, v in seconds.items()))
    width = max(map(len, TARGETS))
    echo(f"targets    {'figure':{width}}  {'value':>8}  {'target':>8}  verdict")
    for k in TARGETS:
        echo(f"           {k:{width}}  {ratios[k]:8.3f}  {r['targets'][k]:>8}  {'met' if met[k] else 'MISSED'}")
    m = r["memory"]
    echo(f"memory     loader heap peak {m['n_pages']['peak_kib']:,} KiB for {m['n_pages']['pages']} pages, "
         f"{m['4n_pages']['peak_kib']:,} KiB for {m['4n_pages']['pages']} pages")


def cli_bench(args) -> int:
    if args.sample < 100:
        raise TthcError("--sample must be at least 100 rows")
    run_bench(args.dossiers_per_year, args.json, days=args.days, start=args.start, seed=args.seed,
              sample=args.sample, keep=args.keep, dlt_rows=args.dlt_rows, api_records=args.api_records)
    return 0

