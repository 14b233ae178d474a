"""`tthc demo`: the whole pipeline built so far, end to end, on the embedded default.

1. the warehouse: the embedded PostgreSQL (or TTHC_WAREHOUSE_DSN), bootstrapped;
2. the sources: each simulated province (``--provinces 40,38``: several in one warehouse) for D days,
   served by its own three APIs on free loopback ports;
3. the loads: every hourly interval of `onestop_extract` and `portal_extract`, and
   `population_verify` after each day's one-stop loads, each a real Airflow run (`dag.test()`);
   Before each hour's runs the sources' clock moves to that hour, as a live deployment would meet them;
   each run loads its hour, then catches up what its entities owe (hours that failed or were read while
   the source was stale). ``--faults PROFILE`` simulates with that fault profile (default ``default``):
   with ``every-kind`` each feed source has an outage, and the demo prints, hour by hour, the runs that
   failed, the stretches read while a source was stale (provisional), the catch-ups and G8 opening and
   closing;
4. the star schema: one `warehouse_build` run (dbt through Cosmos) after the loads; the Decision 766
   index per agency for the simulated month(s);
5. the gap checks: one `sync_gap_checks` run after the build (GX checkpoint + audit.sync_gap), scored
   against the simulator's truth (recall and precision per code);
6. the inspectors' report for the last day (`DIR/report/index.html` + CSV, read as tthc_inspector from the
   marts) and the dbt docs the BI analysts read (`$TTHC_HOME/dbt_docs/static_index.html`);
7. `DIR/summary.json`: row counts (raw and marts), quarantined records by reason, the 766 index, the gaps
   found and their accuracy, the report's path, timings, and a checksum of the marts; the run ends with a
   summary table of the same.

While it loads it shows a bar per simulated day (runs done, rows loaded). Ctrl-C stops it cleanly: the
source APIs go down with it, and the window being loaded is rolled back (each window is one transaction).
A second run reuses the warehouse (raw schemas emptied first) and builds the same marts: it says whether
their checksum equals the previous run's in DIR.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import sys
import time

import psycopg

from tthc import config as config_mod
from tthc.bootstrap import bootstrap, describe
from tthc.calendar import TZ
from tthc.checks import CHECK_TABLES, score
from tthc.kpi766 import GROUPS
from tthc.load.entities import ALL_ENTITIES
from tthc.load.loader import SOURCES
from tthc.transform import mart_checksums
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


def points_lost(dsn: str) -> dict[str, list[dict]]:
    """Per month, the 766 indicators on which the province's agencies lost most points, and how many dossiers
    carry the loss (marts.fct_kpi766_dossier)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""
            SELECT year_month, indicator, round(sum(points_lost), 1), count(*) FILTER (WHERE points_lost > 0)
            FROM marts.fct_kpi766_dossier GROUP BY 1, 2 HAVING sum(points_lost) > 0
            ORDER BY 1, 3 DESC, 2""").fetchall()
    out: dict[str, list[dict]] = {}
    for month, indicator, lost, dossiers in rows:
        out.setdefault(month, []).append({"indicator": indicator, "points_lost": float(lost), "dossiers": dossiers})
    return out


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


def print_kpi(kpi: list[dict], agency_names: dict[str, str], lost: dict[str, list[dict]] | None = None,
              shown: int = 8) -> None:
    """Per month: the province's mean, where the points went (the indicators that cost most, with the dossiers
    behind them), and the agencies at the top and the bottom of the 766 index."""
    for month in sorted({k["month"] for k in kpi}):
        rows = [k for k in kpi if k["month"] == month]
        mean = sum(k["total"] for k in rows) / len(rows)
        scored = sum(k["scored_points"] for k in rows) / len(rows)
        print(f"766        {month}: {len(rows)} agencies, mean total {mean:.1f} of {scored:.1f} scored (100 less "
              f"the proxies and what has nothing to count); groups [{' '.join(GROUPS)}] "
              f"(all agencies: summary.json, marts.kpi_agency_monthly)")
        if lost and lost.get(month):
            top = ", ".join(f"{x['indicator']} {x['points_lost']:,.1f} ({x['dossiers']:,} dossiers)"
                            for x in lost[month][:4])
            print(f"           points lost, by indicator: {top} (each dossier: marts.fct_kpi766_dossier)")
        picked = rows if len(rows) <= 2 * shown else [*rows[:shown], None, *rows[-shown:]]
        for k in picked:
            if k is None:
                print("           ...")
                continue
            groups = " ".join(f"{v:4.1f}" for v in k["groups"].values())
            print(f"           {k['agency_code']:15} {agency_names.get(k['agency_code'], '')[:34]:34} "
                  f"{k['total']:5.1f}  [{groups}]")


def combined_accuracy(by_province: dict[str, dict]) -> dict[str, dict]:
    """The provinces' scores summed per code (recall and precision over all their gaps)."""
    out = {}
    for code in next(iter(by_province.values())):
        total = {k: sum(a[code][k] for a in by_province.values()) for k in ("truth", "found", "matched",
                                                                             "closed_at_agrees")}
        out[code] = {**total, "recall": round(total["matched"] / total["truth"], 4) if total["truth"] else 1.0,
                     "precision": round(total["matched"] / total["found"], 4) if total["found"] else 1.0}
    return out


def gaps_report(dsn: str, truth_paths: dict[str, object]) -> tuple[dict, dict, dict, dict]:
    """The gaps the checks found (per code: all, open, retracted), their accuracy against each province's
    truth and together, and the newest check run (as of, mode, GX outcome, Data Docs)."""
    by_province = {p: score(dsn, path) for p, path in truth_paths.items()}
    accuracy = combined_accuracy(by_province)
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
    return {c: gaps.get(c, {"found": 0, "open": 0, "retracted": 0}) for c in accuracy}, accuracy, by_province, check


def print_gaps(gaps: dict, accuracy: dict, check: dict, seconds: float) -> None:
    print(f"checks     sync_gap_checks (GX checkpoint + audit.sync_gap) as of {check.get('as_of')} in {seconds:.0f}s; "
          f"scored against truth.json (register: marts.audit_sync_gap)")
    for code, f in accuracy.items():
        g = gaps[code]
        print(f"           {code}: found {g['found']:4} (open {g['open']:3}, retracted {g['retracted']:3}), "
              f"truth {f['truth']:4}: recall {f['recall']:.3f} precision {f['precision']:.3f}")
    print(f"data docs  {check.get('data_docs')}")


class DayProgress:
    """A bar per simulated day: the Airflow runs done and the rows loaded so far (audit.load_run). On a
    terminal it is redrawn in place; in a log it is one line per finished day."""

    WIDTH = 24

    def __init__(self, dsn: str, days: int, runs_per_day: int, stream=None):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.days, self.runs_per_day = days, runs_per_day
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()

    def rows_loaded(self) -> int:
        return int(self.conn.execute("SELECT coalesce(sum(rows_inserted + rows_updated), 0) FROM audit.load_run "
                                     "WHERE status = 'success'").fetchone()[0])

    def show(self, day: int, runs: int, failed: int, done: bool = False) -> None:
        if not (self.tty or done):
            return
        filled = round(self.WIDTH * runs / self.runs_per_day)
        line = (f"extract    day {day}/{self.days} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                f"{runs}/{self.runs_per_day} runs, {self.rows_loaded():,} rows loaded"
                + (f", {failed} failed (their hours owed to the next runs)" if failed else ""))
        self.stream.write(("\r" if self.tty else "") + line + ("\n" if done else ""))
        self.stream.flush()

    def note(self, line: str) -> None:
        """A line of its own above the bar (the bar is redrawn by the next ``show``)."""
        self.stream.write(("\r\033[K" if self.tty else "") + line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
        self.conn.close()


class FaultWatch:
    """What the hourly runs met, one line as it happens: a run that failed (its hour is owed), a source
    found stale (G8, by the load log: its windows from the newest change seen on are provisional), the
    catch-ups that brought records the first reads lacked, and the source fresh again. Kept for
    summary.json."""

    def __init__(self, dsn: str, stale_after_minutes: float, note):
        self.dsn, self.minutes, self.note = dsn, stale_after_minutes, note
        self.last_load = 0
        self.spells: dict[tuple[str, str], list] = {}
        self.events: list[dict] = []

    def _say(self, kind: str, moment: dt.datetime, text: str, **detail) -> None:
        self.events.append({"kind": kind, "hour": moment.isoformat(), **detail})
        self.note(f"{kind:10} {_local(moment)} {text}")

    def after_hour(self, moment: dt.datetime, failed: list[str]) -> None:
        from tthc import freshness
        from tthc.pipeline import load_log

        for dag_id in failed:
            self._say("run failed", moment, f"{dag_id}: its source did not answer; the next run owes the hour",
                      dag_id=dag_id)
        with psycopg.connect(self.dsn) as conn:
            caught = conn.execute("""
                SELECT province_code, source, min(window_start), max(window_end), sum(rows_inserted + rows_updated),
                       max(load_id)
                FROM audit.load_run
                WHERE load_id > %s AND status = 'success' AND window_end <= %s
                GROUP BY 1, 2 ORDER BY 1, 2""", (self.last_load, moment - dt.timedelta(hours=1))).fetchall()
            self.last_load = conn.execute("SELECT coalesce(max(load_id), 0) FROM audit.load_run").fetchone()[0]
            pairs = conn.execute("SELECT DISTINCT province_code, source FROM audit.load_run "
                                 "WHERE window_end IS NOT NULL ORDER BY 1, 2").fetchall()
            logs = {pair: load_log(conn, *pair) for pair in pairs}
        for province, source, lo, hi, rows, _ in caught:
            if not rows:  # each run rereads what is not confirmed yet (the last minutes, a quiet night): mostly nothing
                continue
            self._say("catch-up", moment, f"{province} {source}: read {_local(lo)} .. {_local(hi)} again: "
                      f"{rows} rows it had lacked", province=province, source=source, start=lo.isoformat(),
                      end=hi.isoformat(), rows=int(rows))
        for (province, source), log in logs.items():
            spells = freshness.replay(log, self.minutes, moment + dt.timedelta(microseconds=1))
            before = self.spells.get((province, source), [])
            for spell in spells[len(before):]:
                self._say("G8 stale", moment, f"{province} {source}: nothing newer than {_local(spell.newest)} "
                          f"(due {_local(spell.opened_at)}); its windows from then on are provisional",
                          province=province, source=source, newest=spell.newest.isoformat(),
                          opened_at=spell.opened_at.isoformat())
            for old, new in zip(before, spells[:len(before)], strict=True):
                if old.closed_at is None and new.closed_at is not None:
                    self._say("G8 fresh", moment, f"{province} {source}: fresh again; this hour's catch-up read "
                              "what it had held back", province=province, source=source)
            self.spells[(province, source)] = [freshness.Spell(s.newest, s.opened_at, s.closed_at) for s in spells]


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(TZ).strftime("%m-%d %H:%M")


def layer_rows(dsn: str) -> dict[str, tuple[int, int]]:
    """(tables, rows) per schema of the warehouse: raw_*, staging, intermediate, marts, audit (a partitioned
    table counts once, its partitions not again)."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute("""
            SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND (n.nspname LIKE 'raw\\_%' OR n.nspname IN ('staging', 'intermediate', 'marts', 'audit'))
            ORDER BY 1, 2""").fetchall()
        out: dict[str, tuple[int, int]] = {}
        for schema, table in tables:
            n = conn.execute(f'SELECT count(*) FROM {schema}."{table}"').fetchone()[0]
            count, rows = out.get(schema, (0, 0))
            out[schema] = (count + 1, rows + n)
    order = ("raw_onestop", "raw_portal", "raw_population", "staging", "intermediate", "marts", "audit")
    return dict(sorted(out.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [header] + [[f"{c:,}" if isinstance(c, int) else f"{c:.3f}" if isinstance(c, float) else str(c)
                         for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"  {title}")
    for n, r in enumerate(cells):
        print("    " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if n == 0:
            print("    " + "  ".join("-" * w for w in widths))


def province_rows(dsn: str) -> list[list]:
    """Per province and all together: dossiers, status changes, portal pushes, gaps found, the 766 mean."""
    with psycopg.connect(dsn) as conn:
        return [list(r) for r in conn.execute("""
            WITH d AS (SELECT province_code, count(*) AS n FROM marts.fct_dossier GROUP BY ROLLUP (1)),
            c AS (SELECT province_code, count(*) AS n, count(*) FILTER (WHERE is_synced) AS synced
                  FROM marts.fct_portal_sync GROUP BY ROLLUP (1)),
            g AS (SELECT province_code, count(*) AS n FROM audit.sync_gap WHERE retracted_at IS NULL GROUP BY ROLLUP (1)),
            k AS (SELECT province_code, avg(total_points) AS mean FROM marts.kpi_agency_monthly GROUP BY ROLLUP (1))
            SELECT coalesce(p.province_code || ' ' || p.province_name, 'all'), coalesce(d.n, 0)::int,
                   coalesce(c.n, 0)::int, coalesce(c.synced, 0)::int, coalesce(g.n, 0)::int,
                   to_char(k.mean, 'FM990.0')
            FROM d
            LEFT JOIN marts.dim_province AS p ON p.province_code = d.province_code
            LEFT JOIN c ON c.province_code IS NOT DISTINCT FROM d.province_code
            LEFT JOIN g ON g.province_code IS NOT DISTINCT FROM d.province_code
            LEFT JOIN k ON k.province_code IS NOT DISTINCT FROM d.province_code
            ORDER BY d.province_code IS NULL, d.province_code""")]


def print_summary(dsn: str, quarantined: dict, gaps: dict, accuracy: dict, kpi: list[dict], timings: dict,
                  provinces: int = 1) -> None:
    """The run in tables: rows per layer, the provinces apart and together (when several), gaps by code
    with their accuracy, the 766 total per agency (by level, for the last month) and the stage timings."""
    print("summary")
    layers = layer_rows(dsn)
    print_table("rows per layer", ["schema", "tables", "rows"], [[s, t, n] for s, (t, n) in layers.items()]
                + [["quarantined (raw_*.quarantine)", "", sum(quarantined["by_reason"].values())]])
    if provinces > 1:
        print_table("provinces, apart and together (marts.dim_province; every mart and gap has province_code)",
                    ["province", "dossiers", "status changes", "synced", "gaps found", "766 mean"],
                    province_rows(dsn))
    print_table("sync gaps (found = not retracted; scored against truth.json)",
                ["code", "found", "open", "truth", "recall", "precision"],
                [[c, gaps[c]["found"], gaps[c]["open"], a["truth"], a["recall"], a["precision"]]
                 for c, a in accuracy.items()])
    if kpi:
        month = max(k["month"] for k in kpi)
        with psycopg.connect(dsn) as conn:
            level = dict(conn.execute("SELECT agency_code, agency_level FROM marts.dim_agency WHERE is_current"))
        by_level: dict[str, list[float]] = {}
        for k in kpi:
            if k["month"] == month:
                by_level.setdefault(level.get(k["agency_code"], "?"), []).append(k["total"])
        print_table(f"Decision 766 total per agency, {month} (each agency: summary.json, marts.kpi_agency_monthly)",
                    ["agency level", "agencies", "mean", "lowest", "highest"],
                    [[lv, len(v), f"{sum(v) / len(v):.1f}", f"{min(v):.1f}", f"{max(v):.1f}"]
                     for lv, v in sorted(by_level.items())])
    print_table("stage timings (s)", ["stage", "seconds"],
                [[k, f"{v:.1f}"] for k, v in timings.items()] + [["total", f"{sum(timings.values()):.1f}"]])


def previous_run(out) -> dict | None:
    path = out / "summary.json"
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except ValueError:
        return None


class CtrlC:
    """Ctrl-C stops the demo between two Airflow runs (Airflow's task runner would take a KeyboardInterrupt
    inside a task for a task failure and retry it). A second Ctrl-C stops it at once: the cleanups run
    (the source APIs go down) and the process exits; PostgreSQL rolls back the open window."""

    def __init__(self):
        self.requested = False
        self.cleanups: list = []

    def __enter__(self) -> CtrlC:
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            for cleanup in self.cleanups:
                cleanup()
            print("\nstopped    second Ctrl-C: source APIs down, the open window rolled back", file=sys.stderr, flush=True)
            os._exit(130)
        self.requested = True
        print("\nstopping   Ctrl-C: after the run in progress (Ctrl-C again to stop now)", file=sys.stderr, flush=True)

    def check(self) -> None:
        """Raise KeyboardInterrupt at a safe point once Ctrl-C was pressed."""
        if self.requested:
            raise KeyboardInterrupt


def run_demo(args) -> int:
    """The whole pipeline; Ctrl-C stops it cleanly (exit code 130)."""
    try:
        with CtrlC() as ctrl_c:
            return _run_demo(args, ctrl_c)
    except KeyboardInterrupt:
        print("stopped    the source APIs are down; every window loaded so far is whole (each is one transaction)"
              "; `tthc demo` starts over", file=sys.stderr, flush=True)
        return 130


def _run_demo(args, ctrl_c: CtrlC) -> int:
    from tthc.sources.serve import SourcesProcess
    from tthc.sources.sim import simulate
    from tthc.sources.sim.faults import PROFILES
    from tthc.sources.sim.truth import Params

    timings: dict[str, float] = {}
    # simulated hours pass in seconds: a failed task is retried after a second, not two minutes, and a source
    # in a down outage is given up on after a few seconds (its hour is owed to the next run either way)
    os.environ.setdefault("TTHC_TASK_RETRY_SECONDS", "1")
    profile = PROFILES[args.faults]
    if profile.outage_per_day or profile.outage_each_source:
        os.environ.setdefault("TTHC_SOURCE_MAX_SECONDS", "2")
    if args.provinces:
        os.environ["TTHC_PROVINCES"] = ",".join(config_mod.province_codes(args.provinces, "--provinces"))
    provinces = config_mod.load().provinces
    for n, province in enumerate(provinces):  # free ports: a demo never collides with a server already running
        for source in SOURCES:
            os.environ[f"TTHC_{source.upper()}_URL" + (f"_{province}" if n else "")] = f"http://127.0.0.1:{free_port()}"
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
    data_dirs = {p: out / ("sources" if n == 0 else f"sources-{p}") for n, p in enumerate(provinces)}
    truths = {}
    for n, (province, data_dir) in enumerate(data_dirs.items()):  # each province its own draw of the seed
        truth = truths[province] = simulate(args.seed + n, args.start, args.days, data_dir, args.dossiers_per_year,
                                            args.faults, province, params=Params.from_settings(settings))
        print(f"simulate   province {province}, {args.days} days from {args.start}, fault profile {args.faults}: "
              f"{truth['counts']['dossiers']} dossiers, {truth['counts']['status_changes']} status changes, "
              f"{sum(truth['bad_record_counts'].values())} bad records, gaps {truth['gap_counts']}")
        for o in truth.get("outages", []):
            how = "serves nothing recorded after its start" if o["mode"] == "stale" else "answers 503"
            print(f"outage     province {province} {o['source']} {o['mode']} from {_local(dt.datetime.fromisoformat(o['start']))}"
                  f" to {_local(dt.datetime.fromisoformat(o['end']))} ({how})")
    timings["simulate"] = round(time.monotonic() - t0, 2)

    from contextlib import ExitStack

    from tthc.airflow_local import DagRunner
    from tthc.live import set_clock
    from tthc.pipeline import endpoints_from_settings

    t0 = time.monotonic()
    with ExitStack() as stack:
        endpoints: dict[str, object] = {}
        for province, data_dir in data_dirs.items():
            urls = settings.source_urls(province)
            sources = SourcesProcess(data_dir, env={f"TTHC_{s.upper()}_URL": url for s, url in urls.items()})
            ctrl_c.cleanups.append(sources.stop)
            stack.enter_context(sources)
            print(f"sources    province {province}: one-stop {urls['onestop']}, population {urls['population']}, "
                  f"portal {urls['portal']}")
            endpoints.update({f"{s}_{province}": ep for s, ep in endpoints_from_settings(settings, province).items()})
        runner = DagRunner(settings)
        start = dt.datetime.combine(args.start, dt.time(0), TZ)
        failed = []
        print("extract    per simulated day: 24 onestop_extract + 24 portal_extract runs + population_verify"
              + (f", each mapped over provinces {', '.join(provinces)}" if len(provinces) > 1 else ""), flush=True)
        progress = DayProgress(dsn, args.days, 24 * 2 + 1)
        watch = FaultWatch(dsn, settings.stale_after_minutes, progress.note)
        outage_runs: list[str] = []  # extract runs that failed: owed by the next run, not a failure of the demo
        try:
            for day in range(args.days):
                for hour in range(24):
                    moment = start + dt.timedelta(days=day, hours=hour + 1)  # interval [moment - 1 h, moment)
                    set_clock(endpoints, moment)  # the sources' 'now': the hour has just ended
                    failed_now = []
                    for dag_id in ("onestop_extract", "portal_extract"):
                        if runner.run(dag_id, moment) != "success":
                            failed_now.append(dag_id)
                            outage_runs.append(f"{dag_id}@{moment.isoformat()}")
                        ctrl_c.check()
                    watch.after_hour(moment, failed_now)
                    progress.show(day + 1, 2 * (hour + 1), len(outage_runs))
                if runner.run("population_verify", start + dt.timedelta(days=day + 1)) != "success":
                    failed.append(f"population_verify@day{day + 1}")
                ctrl_c.check()
                progress.show(day + 1, progress.runs_per_day, len(failed), done=True)
        finally:
            progress.close()
        timings["extract"] = round(time.monotonic() - t0, 2)
        from tthc.coverage import incomplete

        owed = incomplete(dsn)
        if outage_runs or watch.events:
            print(f"coverage   {len(outage_runs)} extract run(s) failed and {sum(e['kind'] == 'catch-up' for e in watch.events)}"
                  f" catch-up(s) reloaded what they owed; "
                  + (f"{len(owed)} stretch(es) still not read completely (tthc coverage)" if owed
                     else "every hour is now read completely (tthc coverage exits 0)"))
        if outage_runs and runner.task_log:
            print(f"           the failed tasks' tracebacks: {runner.task_log}")
        if owed:
            failed += outage_runs
        t0 = time.monotonic()
        if runner.run("warehouse_build", start + dt.timedelta(days=args.days)) != "success":
            failed.append("warehouse_build")
        ctrl_c.check()
        timings["build"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        if runner.run("sync_gap_checks", start + dt.timedelta(days=args.days)) != "success":
            failed.append("sync_gap_checks")
        timings["checks"] = round(time.monotonic() - t0, 2)
        ctrl_c.check()
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
    lost = points_lost(dsn)
    print_kpi(kpi, names, lost)
    gaps, accuracy, by_province, check = gaps_report(dsn, {p: d / "truth.json" for p, d in data_dirs.items()})
    print_gaps(gaps, accuracy, check, timings["checks"])
    with psycopg.connect(dsn) as conn:
        stale = conn.execute("SELECT province_code, gap_key, opened_at, closed_at FROM audit.sync_gap "
                             "WHERE gap_code = 'G8' AND retracted_at IS NULL ORDER BY opened_at").fetchall()
    for province, source, opened, closed in stale:
        print(f"G8         province {province} {source} stale from {_local(opened)} to "
              f"{_local(closed) if closed else 'now (still open)'}")

    from tthc.report import build_report
    from tthc.transform import docs_generate, transformer_dsn

    t0 = time.monotonic()
    last_day = args.start + dt.timedelta(days=args.days - 1)
    inspector = role_dsn(settings, "tthc_inspector")
    report = build_report(inspector, last_day, out / "report", provinces)
    timings["report"] = round(time.monotonic() - t0, 2)
    print(f"report     {report.path} (as tthc_inspector, from marts: {len(report.charts)} charts, "
          f"{len(report.csv_files)} CSV files; open the file in a browser) in {timings['report']:.0f}s")
    t0 = time.monotonic()
    docs = docs_generate(transformer_dsn(settings), settings.home / "dbt_docs")
    timings["docs"] = round(time.monotonic() - t0, 2)
    print(f"bi docs    {docs} (tthc docs serves it; BI tools log in as tthc_bi and read marts)")
    checksums = mart_checksums(dsn)
    marts_checksum = hashlib.md5(json.dumps(checksums, sort_keys=True).encode()).hexdigest()
    previous = previous_run(out)
    same_input = previous is not None and all(previous.get(k) == v for k, v in (
        ("seed", args.seed), ("days", args.days), ("start", args.start.isoformat()), ("province", settings.province),
        ("provinces", list(provinces)), ("dossiers_per_year", args.dossiers_per_year), ("faults", args.faults)))
    print_summary(dsn, quarantined, gaps, accuracy, kpi, timings, len(provinces))
    if same_input and previous.get("marts_checksum"):
        same = previous["marts_checksum"] == marts_checksum
        print(f"marts      checksum {marts_checksum}: {'the same as' if same else 'DIFFERENT from'} the previous run "
              f"on the same input")
    else:
        print(f"marts      checksum {marts_checksum} (a second run on the same input gives the same)")
    summary = {
        "seed": args.seed, "days": args.days, "start": args.start.isoformat(), "province": settings.province,
        "provinces": list(provinces),
        "dossiers_per_year": args.dossiers_per_year, "marts_checksum": marts_checksum, "mart_checksums": checksums,
        "warehouse_dsn_redacted": redact(dsn), "rows": rows, "quarantined": quarantined["by_reason"],
        "truth": {"dossiers": sum(t["counts"]["dossiers"] for t in truths.values()),
                  "gaps": {c: sum(t["gap_counts"].get(c, 0) for t in truths.values()) for c in truth["gap_counts"]},
                  "bad_records": {k: sum(t["bad_record_counts"].get(k, 0) for t in truths.values())
                                  for k in {k for t in truths.values() for k in t["bad_record_counts"]}}},
        "truth_by_province": {p: {"dossiers": t["counts"]["dossiers"], "gaps": t["gap_counts"]}
                              for p, t in truths.items()},
        "kpi766": kpi, "kpi766_points_lost": lost, "gaps": {c: g["found"] for c, g in gaps.items()},
        "gaps_open": {c: g["open"] for c, g in gaps.items()},
        "gaps_retracted": {c: g["retracted"] for c, g in gaps.items()},
        "accuracy": accuracy, "accuracy_by_province": by_province, "checks": check, "report": str(report.path), "report_counts": report.counts,
        "dbt_docs": str(docs), "failed_runs": failed, "timings_s": timings,
        "faults": args.faults, "outages": {p: t.get("outages", []) for p, t in truths.items()},
        "outage_runs": outage_runs, "fault_events": watch.events,
        "g8": [{"province": p, "source": s, "opened_at": o.isoformat(), "closed_at": c.isoformat() if c else None}
               for p, s, o, c in stale],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"summary    {out / 'summary.json'}" + (f"; FAILED runs: {failed}" if failed else ""))
    return 1 if failed else 0
