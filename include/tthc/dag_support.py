"""Shared wiring for the DAG files (kept out of dags/ so the files stay a few lines each).

Resolves the Airflow connections (``AIRFLOW_CONN_TTHC_WAREHOUSE``, ``AIRFLOW_CONN_TTHC_ONESTOP``,
``..._POPULATION``, ``..._PORTAL``) into the plain values the pipeline functions take. Each province
has its own sources: ``tthc_onestop_38`` etc., else the unsuffixed connection (the default province's,
and the national population database's). The extract tasks are mapped over the configured provinces
(``TTHC_PROVINCES``): one task instance per province and entity. The only
Airflow import is inside ``connection()``, so this module imports without Airflow.
"""

from __future__ import annotations

import datetime as dt
import os

from tthc.config import DEFAULT_PAGE_SIZE, env
from tthc.load.entities import VERIFICATIONS, by_source
from tthc.pipeline import Endpoint

OWNER = "data-engineering"
# Hourly data intervals [hh:00, hh+1:00): Airflow 3's plain "@hourly" is a trigger timetable whose
# data interval is empty, so the interval timetable is named explicitly.
HOURLY = "0 * * * *"
DAILY = "0 0 * * *"
TIMEZONE = "Asia/Ho_Chi_Minh"
START_DATE = dt.datetime.fromisoformat(os.environ.get("TTHC_DAG_START", "2025-01-01T00:00:00+07:00"))
# `make airflow` on simulated sources bounds the schedule to the simulated period: unpausing an hourly DAG
# then never runs the wall-clock hour against 2025 data (real sources leave it unset: no end)
END_DATE = dt.datetime.fromisoformat(os.environ["TTHC_DAG_END"]) if os.environ.get("TTHC_DAG_END") else None
DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 3,
    # 2 minutes; `tthc demo` moves simulated hours in seconds and retries in seconds too (TTHC_TASK_RETRY_SECONDS)
    "retry_delay": dt.timedelta(seconds=int(env("TTHC_TASK_RETRY_SECONDS") or 120)),
    "retry_exponential_backoff": True,
    "execution_timeout": dt.timedelta(minutes=30),
}
WAREHOUSE_CONN = "tthc_warehouse"
TRANSFORMER_CONN = "tthc_transformer"


def connection(conn_id: str):
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def warehouse_dsn() -> str:
    conn = connection(WAREHOUSE_CONN)
    uri = conn.get_uri()
    return uri.replace("postgres://", "postgresql://", 1)


def provinces() -> list[str]:
    """The provinces this deployment loads (``TTHC_PROVINCES``), read when a run starts."""
    from tthc import config as config_mod

    return list(config_mod.load().provinces)


def endpoint(source: str, province: str | None = None) -> Endpoint:
    """A province's source API from its connection ``tthc_<source>_<province>``, else ``tthc_<source>``."""
    from airflow.exceptions import AirflowNotFoundException

    try:
        conn = connection(f"tthc_{source}_{province}") if province else connection(f"tthc_{source}")
    except AirflowNotFoundException:
        conn = connection(f"tthc_{source}")
    scheme = conn.schema or "http"
    port = f":{conn.port}" if conn.port else ""
    extra = conn.extra_dejson or {}
    return Endpoint(f"{scheme}://{conn.host}{port}", conn.password or "", page_size=int(extra.get("page_size", DEFAULT_PAGE_SIZE)),
                    max_seconds=float(extra.get("max_seconds", env("TTHC_SOURCE_MAX_SECONDS"))), province=province or "")


def asset_uris(source: str) -> dict[str, str]:
    entities = [VERIFICATIONS] if source == "population" else by_source(source)
    return {e.name: e.asset_uri for e in entities}


def reference_first(source: str) -> list[str]:
    return [e.name for e in sorted(by_source(source), key=lambda e: not e.reference)]


def daily():
    """Daily data intervals [00:00, 24:00) in the province's time zone."""
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(DAILY, timezone=TIMEZONE)


def hourly():
    """Hourly data intervals [hh:00, hh+1:00) in the province's time zone."""
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(HOURLY, timezone=TIMEZONE)


def name_map_index(province: str) -> None:
    """The mapped instance shows its province in the UI (map_index_template="{{ province }}")."""
    from airflow.sdk import get_current_context

    get_current_context()["province"] = province


def province_list():
    """The task that reads the configured provinces at run time (what the load tasks map over)."""
    from airflow.sdk import task

    @task(task_id="provinces")
    def configured() -> list[str]:
        return provinces()

    return configured()


def entity_load_tasks(source: str) -> list:
    """One task per entity of a source (catalogue first), mapped over the provinces (one instance per
    province and entity), each loading the run's data interval from its province's source, then catching
    up what the entity owes (tthc.pipeline.load_hour), and declaring its raw table as an Asset; chained
    so a window's entities load one after another."""
    from airflow.sdk import Asset, chain, task

    from tthc.pipeline import load_hour

    uris = asset_uris(source)
    codes = province_list()
    tasks = []
    for entity in reference_first(source):
        @task(task_id=f"load_{entity}", outlets=[Asset(uris[entity])], map_index_template="{{ province }}")
        def load(province: str, data_interval_start=None, data_interval_end=None, entity=entity):
            name_map_index(province)
            return load_hour(warehouse_dsn(), endpoint(source, province), entity, data_interval_start,
                             data_interval_end).as_dict()

        tasks.append(load.expand(province=codes))
    chain(*tasks)
    return tasks


def transformer_dsn() -> str:
    return connection(TRANSFORMER_CONN).get_uri().replace("postgres://", "postgresql://", 1)


def open_build_window() -> int:
    """The raw loads this run's dbt tasks read (tthc.transform.open_build_window)."""
    from tthc.transform import open_build_window as open_window

    return open_window(transformer_dsn())


def build_extra() -> dict:
    """What the marts Asset event says: how far the build's data reaches (the checks' as_of)."""
    from tthc.checks import data_until

    return {"as_of": data_until(transformer_dsn()).isoformat()}


def check_as_of(triggering_asset_events, conf: dict | None) -> dt.datetime:
    """A check run's evaluation time: the triggering marts events' (a cleared run keeps its events, so a
    rerun evaluates the same hour), else ``conf["as_of"]``, else how far the newest build reaches."""
    from tthc.checks import data_until

    stamps = [e.extra["as_of"] for events in (triggering_asset_events or {}).values() for e in events
              if (e.extra or {}).get("as_of")]
    if conf and conf.get("as_of"):
        stamps = [conf["as_of"]]
    if stamps:
        return max(dt.datetime.fromisoformat(s) for s in stamps)
    return data_until(transformer_dsn())


def run_checks(as_of: dt.datetime, run_id: str | None = None) -> dict:
    """The gap checks (tthc.checks.run_check) as a task: fails only where the pipeline itself is broken
    (a stale source, G8, or hours no load has read completely that the hourly catch-up no longer reaches);
    otherwise logs the open gaps by code, and the holes and provisional stretches still to be caught up."""
    import logging

    from tthc import TthcError
    from tthc import config as config_mod
    from tthc.checks import run_check
    from tthc.coverage import incomplete

    dsn = transformer_dsn()
    result = run_check(dsn, as_of, airflow_run_id=run_id)
    log = logging.getLogger("tthc.checks")
    log.warning("gap check as of %s (%s): open %s; GX %s; data docs %s", as_of.isoformat(), result.mode,
                result.open_counts, "passed" if result.gx_success else "found gaps", result.gx_summary.get("data_docs"))
    reach = as_of - dt.timedelta(days=config_mod.load().catch_up_days)
    missing = incomplete(dsn)
    for h in missing:
        log.warning("load %s: %s %s.%s [%s, %s) %s", h.kind, h.province, h.source, h.entity, h.start.isoformat(),
                    h.end.isoformat(), "beyond the catch-up: reload it" if h.end <= reach else "the next hourly run reloads it")
    if result.open_counts.get("G8"):
        raise TthcError(f"a source is stale (G8 open: {result.open_counts['G8']}): the pipeline is not "
                        "receiving changes; see audit.source_freshness")
    lost = [h for h in missing if h.end <= reach]
    if lost:
        raise TthcError(f"{len(lost)} stretch(es) no load has read completely, beyond the hourly catch-up "
                        "(tthc coverage lists them)")
    return {**result.as_dict(), "load_holes": sum(h.kind == "hole" for h in missing),
            "load_provisional": sum(h.kind == "provisional" for h in missing)}


def marts_counts() -> dict[str, int]:
    """Rows per mart after a build (what the marts_built task reports)."""
    import psycopg

    with psycopg.connect(transformer_dsn()) as db:
        tables = [t for (t,) in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'marts' ORDER BY 1")]
        return {t: db.execute(f'SELECT count(*) FROM marts."{t}"').fetchone()[0] for t in tables}


def airflow_env(dsn: str, api_key: str, urls: dict[str, str], transformer_dsn: str | None = None,
                province_urls: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """AIRFLOW_CONN_* variables for the local warehouse and sources (demo, tests, make airflow);
    ``province_urls`` adds each further province's own sources (``AIRFLOW_CONN_TTHC_ONESTOP_38``)."""
    import json
    from urllib.parse import urlsplit

    env = {f"AIRFLOW_CONN_{WAREHOUSE_CONN.upper()}": dsn}
    if transformer_dsn:
        env[f"AIRFLOW_CONN_{TRANSFORMER_CONN.upper()}"] = transformer_dsn
    named = [(f"AIRFLOW_CONN_TTHC_{source.upper()}", url) for source, url in urls.items()]
    named += [(f"AIRFLOW_CONN_TTHC_{source.upper()}_{province}", url)
              for province, by_source in (province_urls or {}).items() for source, url in by_source.items()]
    for name, url in named:
        parts = urlsplit(url)
        env[name] = json.dumps({"conn_type": "http", "host": parts.hostname, "port": parts.port,
                                "schema": parts.scheme, "password": api_key})
    return env


def inspector_report(data_interval_start: dt.datetime) -> dict:
    """The inspectors' report for the interval's day (local), from the marts, into
    ``$TTHC_REPORT_DIR`` (default ``$TTHC_HOME/reports``)/<day>/."""
    from pathlib import Path

    from tthc import config as config_mod
    from tthc.calendar import TZ
    from tthc.report import build_report

    settings = config_mod.load()
    day = data_interval_start.astimezone(TZ).date()
    root = Path(config_mod.env("TTHC_REPORT_DIR") or settings.home / "reports")
    return build_report(transformer_dsn(), day, root / day.isoformat(), settings.provinces).as_dict()
