"""`tthc bench`, past the loader: the source APIs' throughput, the dlt peer, a province-year backfill end
to end and the hourly cycle, each through the functions the DAG tasks call, over real HTTP, on the same
server as the loader's figures (README, "Performance").

- ``api_throughput``: records per second each source API serves to the client (JSON parsed), alone;
- ``dlt_peer``: dlt 1.x into the same server, merge on the record key, in its own virtualenv, with its
  defaults in daily windows and with its fastest settings; compared with the loader on the same windows;
- ``end_to_end``: a backfill of the whole period in daily windows (``extract_source`` of both sources and
  ``verify_population``, what the DAG tasks run), then one dbt build, one gap check and the report;
- ``hourly_cycle``: what one scheduled hour runs (both sources' extract tasks, each entity's hour and its
  catch-up, ``tthc.live.run_hour``; the verification, the incremental
  dbt build with its tests, the gap checks), timed on a warehouse holding 1 and then 12 months.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tthc import TthcError
from tthc import config as config_mod
from tthc.load.entities import ENTITIES, VERIFICATIONS
from tthc.pipeline import VERIFY_BATCH, Endpoint, extract_source, verify_population
from tthc.sources.store import open_store
from tthc.warehouse import free_port

DLT_REQUIREMENT = "dlt[postgres]==1.31.0"
API_FEEDS = {"onestop": ("dossiers", "status_changes"), "portal": ("online_applications", "sync_records")}


@contextlib.contextmanager
def served(data_dir: Path, now: str | None = None) -> Iterator[dict[str, Endpoint]]:
    """The three source APIs over ``data_dir`` on free loopback ports, as endpoints."""
    from tthc.sources.serve import SourcesProcess

    env = {f"TTHC_{s.upper()}_URL": f"http://127.0.0.1:{free_port()}" for s in ("onestop", "population", "portal")}
    with SourcesProcess(data_dir, now=now, env=env) as sp:
        s = sp.settings
        yield {source: Endpoint(url, s.api_key, max_seconds=1800, page_size=s.page_size)
               for source, url in sp.urls.items()}


# ---------------------------------------------------------------------------------------------------
# The source APIs alone
# ---------------------------------------------------------------------------------------------------
def api_throughput(endpoints: dict[str, Endpoint], data_dir: Path, days: list[tuple[int, int]],
                   records: int = 200_000) -> dict:
    """Per source: page its two biggest feeds day by day until ``records`` are read (the one-stop and the
    portal), or verify as many IDs in batches (the population database)."""
    from tthc.bench import us_to_dt
    from tthc.extract.client import SourceClient

    out = {}
    for source, feeds in API_FEEDS.items():
        ep = endpoints[source]
        read = 0
        with SourceClient(source, ep.url, ep.api_key, max_seconds=1800) as client:
            for lo, hi in days:
                for name in feeds:
                    for page in client.pages(ENTITIES[name].path, us_to_dt(lo), us_to_dt(hi), limit=ep.page_size):
                        read += len(page)
                if read >= records:
                    break
            seconds = client.stats["seconds"]
        out[source] = {"records": read, "seconds": round(seconds, 3), "records_per_s": round(read / seconds)}
    with open_store(data_dir, "onestop") as db:
        people = db.execute("""
            SELECT DISTINCT json_extract(payload, '$.SoGiayToChuHoSo'), json_extract(payload, '$.ChuHoSo')
            FROM dossiers WHERE json_extract(payload, '$.LoaiDoiTuong') = 1 LIMIT ?""",
                            (min(records, 50_000),)).fetchall()
    ep = endpoints["population"]
    answered = 0
    with SourceClient("population", ep.url, ep.api_key, max_seconds=1800) as client:
        for i in range(0, len(people), VERIFY_BATCH):
            batch = [{"id": pid, "name": name} for pid, name in people[i:i + VERIFY_BATCH] if pid]
            answered += len(client.post(VERIFICATIONS.path, {"items": batch})["results"])
        seconds = client.stats["seconds"]
    out["population"] = {"records": answered, "seconds": round(seconds, 3),
                         "records_per_s": round(answered / max(seconds, 1e-9))}
    return out


# ---------------------------------------------------------------------------------------------------
# dlt, the peer
# ---------------------------------------------------------------------------------------------------
def dlt_python(home: Path, echo=print) -> Path:
    """A virtualenv with dlt (its pins conflict with Airflow's), made once under $TTHC_HOME."""
    venv = home / "bench-dlt-venv"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists() or marker.read_text() != DLT_REQUIREMENT:
        echo(f"dlt        installing {DLT_REQUIREMENT} into {venv} (once)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", DLT_REQUIREMENT],
                              capture_output=True, text=True)
        if done.returncode:
            raise TthcError(f"could not install {DLT_REQUIREMENT}: {done.stderr.strip()[-300:]}")
        marker.write_text(DLT_REQUIREMENT)
    return python


def dlt_peer(home: Path, dsn: str, data_dir: Path, windows: dict[str, list[tuple[int, int]]], echo=print) -> dict:
    """dlt over the same windows of the same store into the same server: defaults, then fastest."""
    python = dlt_python(home, echo)
    script = Path(__file__).with_name("bench_dlt.py")
    out = {}
    with tempfile.TemporaryDirectory(prefix="tthc-dlt-") as tmp:
        for mode in ("defaults", "best"):
            spec = {"store": str(data_dir / "onestop.sqlite"), "dsn": dsn, "mode": mode, "dataset": f"dlt_{mode}",
                    "pipelines_dir": f"{tmp}/pipelines",
                    "entities": [{"name": n, "key": ENTITIES[n].key, "windows": w} for n, w in windows.items()]}
            path = Path(tmp) / f"{mode}.json"
            path.write_text(json.dumps(spec))
            done = subprocess.run([str(python), "-P", str(script), str(path)], capture_output=True, text=True)
            if done.returncode:
                raise TthcError(f"dlt ({mode}) failed: {done.stderr.strip()[-500:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows = sum(e["rows"] for e in result["entities"].values())
            seconds = sum(e["seconds"] for e in result["entities"].values())
            out[mode] = {**result, "rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}
            echo(f"dlt        {mode:8} {rows:>9,} rows in {sum(e['runs'] for e in result['entities'].values())} "
                 f"runs: {seconds:6.1f}s ({rows / seconds:,.0f} rows/s, dlt {result['dlt']})")
    return out


# ---------------------------------------------------------------------------------------------------
# The whole pipeline
# ---------------------------------------------------------------------------------------------------
def local_days(start: dt.date, days: int) -> list[tuple[dt.datetime, dt.datetime]]:
    from tthc.calendar import TZ

    first = dt.datetime.combine(start, dt.time(0), TZ)
    return [(first + dt.timedelta(days=d), first + dt.timedelta(days=d + 1)) for d in range(days)]


def extract_all(loader: str, endpoints: dict[str, Endpoint], since: dt.datetime, until: dt.datetime,
                verify: bool = True) -> dict:
    """What one DAG interval's tasks run: both sources' entities, then the population check."""
    rows = source_s = 0.0
    for source in ("onestop", "portal"):
        for stats in extract_source(loader, endpoints[source], source, since, until):
            rows += stats.rows_read
            source_s += stats.source_s
    verified = verify_population(loader, endpoints["population"]).rows_read if verify else 0
    return {"rows": int(rows), "verified": verified, "source_s": source_s}


def end_to_end(settings: config_mod.Settings, data_dir: Path, start: dt.date, days: int, keep: bool,
               echo=print) -> dict:
    """A province-year backfill from the APIs to the gap findings and the report, on a scratch database."""
    from tthc.bench import drop_database, fresh_database
    from tthc.checks import run_check
    from tthc.report import build_report
    from tthc.transform import build

    admin, name, roles = fresh_database(settings, "e2e")
    out: dict = {}
    try:
        with served(data_dir) as endpoints:
            t0 = time.monotonic()
            rows = verified = 0
            source_s = 0.0
            for n, (since, until) in enumerate(local_days(start, days), 1):
                got = extract_all(roles["tthc_loader"], endpoints, since, until)
                rows, verified, source_s = rows + got["rows"], verified + got["verified"], source_s + got["source_s"]
                if n % 30 == 0 or n == days:
                    echo(f"e2e        day {n}/{days}: {rows:,} records loaded, {verified:,} IDs verified, "
                         f"{time.monotonic() - t0:.0f}s")
            out["extract_load_s"] = round(time.monotonic() - t0, 2)
        out["extract_http_s"] = round(source_s, 2)
        out["rows"], out["verified"] = rows, verified
        t0 = time.monotonic()
        result = build(roles["tthc_transformer"])
        if not result.success:
            raise TthcError(f"dbt build (e2e) failed: {result.failures[:2]}")
        out["build_s"] = round(time.monotonic() - t0, 2)
        as_of = local_days(start, days)[-1][1]
        t0 = time.monotonic()
        run_check(roles["tthc_transformer"], as_of, settings)
        out["checks_s"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="tthc-report-") as tmp:
            build_report(roles["tthc_inspector"], as_of.date() - dt.timedelta(days=1), Path(tmp), settings.province)
        out["report_s"] = round(time.monotonic() - t0, 2)
    finally:
        if not keep:
            drop_database(admin, name)
    out["e2e_s"] = round(sum(out[k] for k in ("extract_load_s", "build_s", "checks_s", "report_s")), 2)
    echo(f"e2e        {days} days: extract+load {out['extract_load_s']:.0f}s (of which waiting on the APIs "
         f"{out['extract_http_s']:.0f}s, overlapped), build {out['build_s']:.0f}s, checks {out['checks_s']:.0f}s, "
         f"report {out['report_s']:.1f}s: {out['e2e_s']:.0f}s")
    return out


def hourly_cycle(endpoints: dict[str, Endpoint], roles: dict[str, str], since: dt.datetime, settings,
                 label: str, echo=print) -> dict:
    """One scheduled hour [since, since + 1 h): the sources' clock at its end, both extract DAGs' tasks
    (each entity's hour and its catch-up, ``tthc.live.run_hour``), the verification, the incremental build
    with its tests, the gap checks."""
    from tthc.checks import run_check
    from tthc.live import LiveRun, run_hour, set_clock
    from tthc.transform import build

    until = since + dt.timedelta(hours=1)
    set_clock(endpoints, until)
    t0 = time.monotonic()
    with psycopg.connect(roles["tthc_loader"]) as conn:
        before = conn.execute("SELECT coalesce(max(load_id), 0) FROM audit.load_run").fetchone()[0]
    live = LiveRun()
    run_hour(roles["tthc_loader"], endpoints, until, live)
    if live.failed_windows:
        raise TthcError(f"hourly cycle ({label}): a load failed: {live.failed}")
    verified = verify_population(roles["tthc_loader"], endpoints["population"]).rows_read
    with psycopg.connect(roles["tthc_loader"]) as conn:
        read, caught = conn.execute("SELECT coalesce(sum(rows_read), 0), count(*) FILTER (WHERE window_end <= %s) "
                                    "FROM audit.load_run WHERE load_id > %s AND window_end IS NOT NULL",
                                    (since, before)).fetchone()
    got = {"rows": int(read), "verified": verified, "caught_up_windows": caught}
    extract_s = time.monotonic() - t0
    t1 = time.monotonic()
    result = build(roles["tthc_transformer"])
    if not result.success:
        raise TthcError(f"dbt build ({label}) failed: {result.failures[:2]}")
    build_s = time.monotonic() - t1
    t2 = time.monotonic()
    run_check(roles["tthc_transformer"], until, settings)
    checks_s = time.monotonic() - t2
    total = time.monotonic() - t0
    echo(f"cycle      {label:34} {total:7.1f}s  (extract+verify {extract_s:.1f}s for {got['rows']} records, "
         f"{got['verified']} IDs, {got['caught_up_windows']} caught-up windows; build {build_s:.1f}s; "
         f"checks {checks_s:.1f}s)")
    return {"s": round(total, 2), "extract_s": round(extract_s, 2), "build_s": round(build_s, 2),
            "checks_s": round(checks_s, 2), "rows": got["rows"], "verified": got["verified"],
            "caught_up_windows": got["caught_up_windows"]}
