"""`tthc demo`: the whole pipeline built so far, end to end, on the embedded default.

1. the warehouse: the embedded PostgreSQL (or TTHC_WAREHOUSE_DSN), bootstrapped;
2. the sources: a simulated province for D days, served by the three APIs on free loopback ports;
3. the loads: every hourly interval of `onestop_extract` and `portal_extract`, and
   `population_verify` after each day's one-stop loads, each a real Airflow run (`dag.test()`);
   Before each hour's runs the sources' clock moves to that hour, as a live deployment would meet them;
4. the star schema: one `warehouse_build` run (dbt through Cosmos) after the loads; the Decision 766
   index per agency for the simulated month(s);
5. the gap checks: one `sync_gap_checks` run after the build (GX checkpoint + audit.sync_gap), scored
   against the simulator's truth (recall and precision per code);
6. the inspectors' report for the last day (`DIR/report/index.html` + CSV, read as tthc_inspector from the
   marts) and the dbt docs the BI analysts read (`$TTHC_HOME/dbt_docs/static_index.html`);
7. `DIR/summary.json`: row counts (raw and marts), quarantined records by reason, the 766 index, the gaps
   found and their accuracy, the report's path, timings.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import psycopg

from tthc import config as config_mod
from tthc.bootstrap import bootstrap, describe
from tthc.calendar import TZ
from tthc.checks import CHECK_TABLES, score
from tthc.kpi766 import GROUPS
from tthc.load.entities import ALL_ENTITIES
from tthc.load.loader import SOURCES
from tthc.warehouse import free_port, redact, role_dsn


def warehouse_counts(dsn: str) -> tuple[dict[str, int], dict[str, int]]:
    with psycopg.connect(dsn) as conn:
        rows = {e.table: conn.execute(f"SELECT count(*) FROM {e.table}").fetchone()[0] for e in ALL_ENTITIES}
        quarantined = dict(conn.execute(
            "SELECT reason, sum(records)::int FROM audit.quarantine_summary GROUP BY 1 ORDER BY 1").fetchall())
        by_source = dict(conn.execute(
            "SELECT source, sum(records)::int FROM audit.quarantine_summary GROUP BY 1").fetchall())
    return rows, {"by_reason": quarantined, "by_source": by_source}


def reset_loaded_data(dsn: str) -> None:
    """Empty the raw tables, the run log and what dbt built from them (its incremental tables and their
    marks too; the PII key's pads stay)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [e.table for e in ALL_ENTITIES] + [f"raw_{s}.quarantine" for s in SOURCES] \
            + ["audit.load_run", "audit.extract_watermark", "audit.build_window", "audit.model_watermark"] \
            + [f"audit.{t}" for t in CHECK_TABLES]
        tables += [f'{schema}."{t}"' for schema, t in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('staging', 'intermediate', 'marts') "
            "AND tablename <> 'pii_hmac_pads'")]
        conn.execute(f"TRUNCATE {', '.join(tables)}")


def marts_report(dsn: str) -> tuple[dict[str, int], list[dict]]:
    """Rows per mart, and the Decision 766 index per agency and month (as summary.json carries it)."""
    with psycopg.connect(dsn) as conn:
        rows = {f"marts.{t}": conn.execute(f'SELECT count(*) FROM marts."{t}"').fetchone()[0] for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'marts' ORDER BY 1").fetchall()}
        groups = [g.lower() for g in GROUPS]
        kpi = [{"agency_code": r[0], "month": r[1], "total": float(r[2]), "scored_points": float(r[3]),
                "groups": {g.upper(): float(v) for g, v in zip(groups, r[4:], strict=True)}}
               for r in conn.execute(f"""
                   SELECT agency_code, year_month, total_points, scored_points, {', '.join(f'{g}_points' for g in groups)}
                   FROM marts.kpi_agency_monthly ORDER BY year_month, total_points DESC, agency_code""")]
    return rows, kpi


def print_kpi(kpi: list[dict], agency_names: dict[str, str], shown: int = 8) -> None:
    """Per month: the province's mean and the agencies at the top and the bottom of the 766 index."""
    for month in sorted({k["month"] for k in kpi}):
        rows = [k for k in kpi if k["month"] == month]
        mean = sum(k["total"] for k in rows) / len(rows)
        print(f"766        {month}: {len(rows)} agencies, mean total {mean:.1f}/100; "
              f"groups [{' '.join(GROUPS)}] (all agencies: summary.json, marts.kpi_agency_monthly)")
        picked = rows if len(rows) <= 2 * shown else [*rows[:shown], None, *rows[-shown:]]
        for k in picked:
            if k is None:
                print("           ...")
                continue
            groups = " ".join(f"{v:4.1f}" for v in k["groups"].values())
            print(f"           {k['agency_code']:15} {agency_names.get(k['agency_code'], '')[:34]:34} "
                  f"{k['total']:5.1f}  [{groups}]")


def gaps_report(dsn: str, truth_path) -> tuple[dict, dict, dict]:
    """The gaps the checks found (per code: all, open, retracted), their accuracy against the truth, and
    the newest check run (as of, mode, GX outcome, Data Docs)."""
    accuracy = score(dsn, truth_path)
    with psycopg.connect(dsn) as conn:
        gaps = {code: {"found": found, "open": still, "retracted": retracted} for code, found, still, retracted in
                conn.execute("""
                    SELECT gap_code, count(*) FILTER (WHERE retracted_at IS NULL)::int,
                           count(*) FILTER (WHERE closed_at IS NULL AND retracted_at IS NULL)::int,
                           count(*) FILTER (WHERE retracted_at IS NOT NULL)::int
                    FROM audit.sync_gap GROUP BY 1 ORDER BY 1""")}
        row = conn.execute("SELECT as_of, mode, gx_success, gx_summary FROM audit.check_run "
                           "ORDER BY run_id DESC LIMIT 1").fetchone()
    check = {}
    if row:
        check = {"as_of": row[0].isoformat(), "mode": row[1], "gx_success": row[2],
                 "data_docs": (row[3] or {}).get("data_docs")}
    return {c: gaps.get(c, {"found": 0, "open": 0, "retracted": 0}) for c in accuracy}, accuracy, check


def print_gaps(gaps: dict, accuracy: dict, check: dict, seconds: float) -> None:
    print(f"checks     sync_gap_checks (GX checkpoint + audit.sync_gap) as of {check.get('as_of')} in {seconds:.0f}s; "
          f"scored against truth.json (register: marts.audit_sync_gap)")
    for code, f in accuracy.items():
        g = gaps[code]
        print(f"           {code}: found {g['found']:4} (open {g['open']:3}, retracted {g['retracted']:3}), "
              f"truth {f['truth']:4}: recall {f['recall']:.3f} precision {f['precision']:.3f}")
    print(f"data docs  {check.get('data_docs')}")


def run_demo(args) -> int:
    from tthc.sources.serve import SourcesProcess
    from tthc.sources.sim import simulate
    from tthc.sources.sim.truth import Params

    timings: dict[str, float] = {}
    for source in SOURCES:  # free ports, so a demo never collides with a server already running
        os.environ[f"TTHC_{source.upper()}_URL"] = f"http://127.0.0.1:{free_port()}"
    settings = config_mod.load()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.monotonic()
    dsn = bootstrap(settings)
    if settings.embedded:
        reset_loaded_data(dsn)  # the demo starts from empty raw schemas; a shared warehouse is never reset
    timings["warehouse"] = round(time.monotonic() - t0, 2)
    info = describe(dsn)
    print(f"warehouse  PostgreSQL {info['server_version']} at {redact(dsn)}  (full DSN: tthc warehouse dsn)")
    print(f"           schemas: {', '.join(info['schemas'])}; roles: {', '.join(info['roles'])}")
    key_from = "the environment" if os.environ.get("TTHC_PII_KEY") else f"generated once into {settings.home / 'secrets.json'}"
    print(f"pii key    TTHC_PII_KEY ({key_from}): outside raw_* applicants exist only as HMAC-SHA256 of their ID")

    t0 = time.monotonic()
    data_dir = out / "sources"
    truth = simulate(args.seed, args.start, args.days, data_dir, args.dossiers_per_year, "default", settings.province,
                     params=Params.from_settings(settings))
    timings["simulate"] = round(time.monotonic() - t0, 2)
    print(f"simulate   province {settings.province}, {args.days} days from {args.start}: "
          f"{truth['counts']['dossiers']} dossiers, {truth['counts']['status_changes']} status changes, "
          f"{sum(truth['bad_record_counts'].values())} bad records, gaps {truth['gap_counts']}")

    from tthc.airflow_local import DagRunner
    from tthc.live import set_clock
    from tthc.pipeline import Endpoint

    t0 = time.monotonic()
    with SourcesProcess(data_dir):
        print(f"sources    one-stop {settings.onestop_url}, population {settings.population_url}, "
              f"portal {settings.portal_url}")
        endpoints = {s: Endpoint(getattr(settings, f"{s}_url"), settings.api_key) for s in SOURCES}
        runner = DagRunner(settings)
        start = dt.datetime.combine(args.start, dt.time(0), TZ)
        failed = []
        for day in range(args.days):
            for hour in range(24):
                moment = start + dt.timedelta(days=day, hours=hour + 1)  # interval [moment - 1 h, moment)
                set_clock(endpoints, moment)  # the sources' 'now': the hour has just ended
                for dag_id in ("onestop_extract", "portal_extract"):
                    if runner.run(dag_id, moment) != "success":
                        failed.append(f"{dag_id}@{moment.isoformat()}")
            if runner.run("population_verify", start + dt.timedelta(days=day + 1)) != "success":
                failed.append(f"population_verify@day{day + 1}")
            print(f"extract    day {day + 1}/{args.days}: 24 onestop_extract + 24 portal_extract runs + population_verify", flush=True)
        timings["extract"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        if runner.run("warehouse_build", start + dt.timedelta(days=args.days)) != "success":
            failed.append("warehouse_build")
        timings["build"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        if runner.run("sync_gap_checks", start + dt.timedelta(days=args.days)) != "success":
            failed.append("sync_gap_checks")
        timings["checks"] = round(time.monotonic() - t0, 2)
    rows, quarantined = warehouse_counts(dsn)
    for source in SOURCES:
        loaded = {t.split(".")[1]: n for t, n in rows.items() if t.startswith(f"raw_{source}.")}
        print(f"loaded     {source:10} " + ", ".join(f"{k} {v}" for k, v in loaded.items())
              + f"; quarantined {quarantined['by_source'].get(source, 0)}")
    if quarantined["by_reason"]:
        print("quarantine " + ", ".join(f"{k} {v}" for k, v in quarantined["by_reason"].items()))
    mart_rows, kpi = marts_report(dsn)
    rows.update(mart_rows)
    print(f"build      warehouse_build (dbt via Cosmos) in {timings['build']:.0f}s: "
          + ", ".join(f"{t.split('.')[1]} {n}" for t, n in mart_rows.items()))
    with psycopg.connect(dsn) as conn:
        names = dict(conn.execute("SELECT agency_code, agency_name FROM marts.dim_agency WHERE is_current"))
    print_kpi(kpi, names)
    gaps, accuracy, check = gaps_report(dsn, data_dir / "truth.json")
    print_gaps(gaps, accuracy, check, timings["checks"])

    from tthc.report import build_report
    from tthc.transform import docs_generate, transformer_dsn

    t0 = time.monotonic()
    last_day = args.start + dt.timedelta(days=args.days - 1)
    inspector = role_dsn(settings, "tthc_inspector")
    report = build_report(inspector, last_day, out / "report", settings.province)
    timings["report"] = round(time.monotonic() - t0, 2)
    print(f"report     {report.path} (as tthc_inspector, from marts: {len(report.charts)} charts, "
          f"{len(report.csv_files)} CSV files; open the file in a browser) in {timings['report']:.0f}s")
    t0 = time.monotonic()
    docs = docs_generate(transformer_dsn(settings), settings.home / "dbt_docs")
    timings["docs"] = round(time.monotonic() - t0, 2)
    print(f"bi docs    {docs} (tthc docs serves it; BI tools log in as tthc_bi and read marts)")
    summary = {
        "seed": args.seed, "days": args.days, "province": settings.province,
        "warehouse_dsn_redacted": redact(dsn), "rows": rows, "quarantined": quarantined["by_reason"],
        "truth": {"dossiers": truth["counts"]["dossiers"], "gaps": truth["gap_counts"],
                  "bad_records": truth["bad_record_counts"]},
        "kpi766": kpi, "gaps": {c: g["found"] for c, g in gaps.items()},
        "gaps_open": {c: g["open"] for c, g in gaps.items()},
        "gaps_retracted": {c: g["retracted"] for c, g in gaps.items()},
        "accuracy": accuracy, "checks": check, "report": str(report.path), "report_counts": report.counts,
        "dbt_docs": str(docs), "failed_runs": failed, "timings_s": timings,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"summary    {out / 'summary.json'}" + (f"; FAILED runs: {failed}" if failed else ""))
    return 1 if failed else 0
