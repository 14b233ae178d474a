"""The gap checks: evaluate G1-G8 as of a run's data interval end, keep every finding in
``audit.sync_gap``, and let GX say what it found (``tthc.gx_suites``).

One run, under one advisory lock (checks never overlap):
1. the context (``audit.check_context``: as_of and the configuration's thresholds) and the scope: in an
   incremental run, what can have changed since the previous run: the dossiers, applications and receipt
   days with staging rows stamped since (dbt's per-model watermarks), or that became visible by time
   (recorded or applied in [previous as_of, as_of)), or whose threshold may have passed meanwhile (G1,
   G2, G4, G7 open by time alone). A closed or open gap changes only with new data, so the scope does not
   grow with history. A full run (the first, or ``--full``) takes everything.
2. the rules (``tthc.gaps``) into a temporary table; the reconciliation: found gaps are inserted or
   updated (closed_at, last_seen_run), in-scope gaps not found any more are retracted (kept).
3. G8, replayed from the load log (``audit.load_run``: when each load was served and the newest change
   it got), observation by observation, never retracted.
4. a run for an hour older than the newest run (a replay or a backfill behind the schedule) evaluates
   everything as of its hour and reports it, but changes nothing: the table keeps the newest knowledge.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tthc import TthcError
from tthc import config as config_mod
from tthc.calendar import office_after
from tthc.gaps import CODES, GAP_RULES, TZ_NAME
from tthc.sources.sim.truth import CHECK_INTERVAL, Params

CHECKS_LOCK = "tthc.checks"
FEED_SOURCES = ("onestop", "portal")  # G8: the sources with a change feed
CHECK_TABLES = ("sync_gap", "check_run", "source_freshness", "check_context", "check_scope_dossier",
                "check_scope_application", "check_scope_day")  # in audit, created by sql/check_tables.sql
STAGING_STAMPS = ("stg_onestop__status_changes", "stg_portal__sync_records", "stg_onestop__dossiers",
                  "stg_population__verifications", "stg_portal__online_applications")


@dataclass
class CheckResult:
    run_id: int
    as_of: dt.datetime
    mode: str
    duration_s: float = 0.0
    scope_counts: dict = field(default_factory=dict)
    open_counts: dict = field(default_factory=dict)
    changes: dict = field(default_factory=dict)
    gx_success: bool | None = None
    gx_summary: dict = field(default_factory=dict)
    stage_seconds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {**self.__dict__, "as_of": self.as_of.isoformat()}


# --- scope ----------------------------------------------------------------------------------------------
_CHANGED_DOSSIERS = """
CREATE TEMP TABLE changed_dossier ON COMMIT DROP AS
SELECT dossier_code FROM staging.stg_onestop__status_changes WHERE _build_load_id > %(s_changes)s
UNION SELECT dossier_code FROM staging.stg_onestop__status_changes
      WHERE recorded_at >= %(visible_from)s AND recorded_at < %(as_of)s
UNION SELECT dossier_code FROM staging.stg_portal__sync_records WHERE _build_load_id > %(s_pushes)s
UNION SELECT dossier_code FROM staging.stg_portal__sync_records
      WHERE applied_at >= %(visible_from)s AND applied_at < %(as_of)s
UNION SELECT dossier_code FROM staging.stg_onestop__dossiers WHERE _build_load_id > %(s_dossiers)s
UNION SELECT d.dossier_code FROM staging.stg_population__verifications AS v
      JOIN staging.stg_onestop__dossiers AS d ON d.applicant_key = v.applicant_key
      WHERE v._build_load_id > %(s_verifications)s
"""

_SCOPE_DOSSIERS = """
INSERT INTO audit.check_scope_dossier (dossier_code)
SELECT dossier_code FROM changed_dossier WHERE dossier_code IS NOT NULL
UNION SELECT dossier_code FROM staging.stg_onestop__status_changes  -- G1: receipts due meanwhile
      WHERE status_code = 2 AND recorded_at >= %(due_from)s AND recorded_at < %(due_until)s
UNION SELECT dossier_code FROM staging.stg_onestop__status_changes  -- G2: differences older than the SLA
      WHERE recorded_at >= %(sla_from)s AND recorded_at < %(as_of)s
UNION SELECT dossier_code FROM staging.stg_portal__sync_records
      WHERE synced_at >= %(sla_from)s AND synced_at < %(as_of)s
"""

_SCOPE_APPLICATIONS = """
INSERT INTO audit.check_scope_application (application_code)
SELECT application_code FROM staging.stg_portal__online_applications WHERE _build_load_id > %(s_applications)s
UNION SELECT application_code FROM staging.stg_portal__online_applications
      WHERE recorded_at >= %(visible_from)s AND recorded_at < %(as_of)s
UNION SELECT application_code FROM staging.stg_portal__online_applications  -- G4: due meanwhile
      WHERE filed_at >= %(due_from)s AND filed_at < %(due_until)s
"""

_SCOPE_DAYS = """
INSERT INTO audit.check_scope_day (receipt_day, day_starts_at, day_ends_at)
SELECT d, d::timestamp AT TIME ZONE '{tz}', (d + 1)::timestamp AT TIME ZONE '{tz}' FROM (
    SELECT (c.changed_at AT TIME ZONE '{tz}')::date AS d FROM staging.stg_onestop__status_changes AS c
    JOIN changed_dossier AS k ON k.dossier_code = c.dossier_code
    WHERE c.status_code = 2 AND NOT c.is_handover
    UNION
    SELECT d::date FROM generate_series(%(days_from)s::date, %(as_of)s::date, interval '1 day') AS d
    WHERE audit.office_after((d::date + 1)::timestamp AT TIME ZONE '{tz}', %(missing)s) >= %(visible_from)s
      AND audit.office_after((d::date + 1)::timestamp AT TIME ZONE '{tz}', %(missing)s) < %(as_of)s
) AS days
""".replace("{tz}", TZ_NAME)

_FULL_SCOPE = {
    "check_scope_dossier": """
        INSERT INTO audit.check_scope_dossier (dossier_code)
        SELECT dossier_code FROM staging.stg_onestop__status_changes WHERE recorded_at < %(as_of)s
        UNION SELECT dossier_code FROM staging.stg_portal__sync_records WHERE applied_at < %(as_of)s""",
    "check_scope_application": """
        INSERT INTO audit.check_scope_application (application_code)
        SELECT DISTINCT application_code FROM staging.stg_portal__online_applications
        WHERE recorded_at < %(as_of)s""",
    "check_scope_day": f"""
        INSERT INTO audit.check_scope_day (receipt_day, day_starts_at, day_ends_at)
        SELECT d, d::timestamp AT TIME ZONE '{TZ_NAME}', (d + 1)::timestamp AT TIME ZONE '{TZ_NAME}' FROM (
            SELECT DISTINCT (changed_at AT TIME ZONE '{TZ_NAME}')::date AS d
            FROM staging.stg_onestop__status_changes
            WHERE status_code = 2 AND recorded_at < %(as_of)s) AS days""",
}


def _office_before(conn: psycopg.Connection, moment: dt.datetime, minutes: float) -> dt.datetime:
    """The earliest time t with office_after(t, minutes) >= moment (a minute earlier, to be safe): the
    end of the office second before, so that a filing at night or over a weekend, which office time
    counts from the next opening, falls on the right side."""
    value = conn.execute("SELECT audit.office_moment(audit.office_seconds(%s) - %s::bigint - 1) "
                         "+ interval '1 second'", (moment, round(minutes * 60))).fetchone()[0]
    return value - dt.timedelta(minutes=1)


def fill_scope(conn: psycopg.Connection, as_of: dt.datetime, params: Params, previous: dict | None) -> dict:
    """What this run evaluates; ``previous`` (the last run that changed the table) makes it incremental."""
    for table in ("check_scope_dossier", "check_scope_application", "check_scope_day"):
        conn.execute(f"TRUNCATE audit.{table}")
    if previous is None:
        for statement in _FULL_SCOPE.values():
            conn.execute(statement, {"as_of": as_of})
    else:
        prev = previous["as_of"]
        stamps = previous["stamps"]
        due_from = _office_before(conn, min(prev, as_of), params.missing_after_minutes)
        args = {
            "as_of": as_of, "visible_from": prev, "missing": params.missing_after_minutes,
            "sla_from": prev - params.sync_sla, "due_from": due_from,
            "due_until": _office_before(conn, as_of, params.missing_after_minutes) + dt.timedelta(minutes=2),
            "days_from": (due_from.astimezone(dt.UTC) - dt.timedelta(days=2)).date(),
            **{f"s_{k}": stamps.get(m, -1) for k, m in zip(
                ("changes", "pushes", "dossiers", "verifications", "applications"), STAGING_STAMPS, strict=True)},
        }
        conn.execute(_CHANGED_DOSSIERS, args)
        conn.execute(_SCOPE_DOSSIERS, args)
        conn.execute(_SCOPE_APPLICATIONS, args)
        conn.execute(_SCOPE_DAYS, args)
    counts = {}
    for table, name in (("check_scope_dossier", "dossiers"), ("check_scope_application", "applications"),
                        ("check_scope_day", "days")):
        conn.execute(f"ANALYZE audit.{table}")
        counts[name] = conn.execute(f"SELECT count(*) FROM audit.{table}").fetchone()[0]
    return counts


# --- rules and reconciliation ------------------------------------------------------------------------
FINDING_COLUMNS = "gap_code, gap_key, instance, dossier_code, agency_code, opened_at, closed_at, detail"


@contextmanager
def _timed(stages: dict[str, float], name: str):
    """Note how long the block took in ``stages[name]`` (a run's time per stage)."""
    t0 = time.monotonic()
    try:
        yield
    finally:
        stages[name] = round(time.monotonic() - t0, 3)


def evaluate(conn: psycopg.Connection, stages: dict[str, float]) -> dict[str, int]:
    """Every rule over the scope into ``gap_finding`` (a temporary table); rows per code."""
    conn.execute(f"""CREATE TEMP TABLE gap_finding ON COMMIT DROP AS
                     SELECT ''::text AS gap_id, {FINDING_COLUMNS} FROM ({GAP_RULES['G1'].query('audit.check_context')}) f
                     LIMIT 0""")
    counts = {}
    for code, rule in GAP_RULES.items():
        with _timed(stages, f"rule_{code}"):
            counts[code] = conn.execute(
                f"INSERT INTO gap_finding SELECT concat_ws('|', gap_code, gap_key, "
                f"to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), nullif(instance, '')), "
                f"{FINDING_COLUMNS} FROM ({rule.query('audit.check_context')}) AS f").rowcount
    return counts


_RECONCILE = """
WITH before AS (
    SELECT f.gap_id, g.gap_id IS NULL AS is_new, g.closed_at IS NULL AND f.closed_at IS NOT NULL AS closes
    FROM gap_finding AS f LEFT JOIN audit.sync_gap AS g ON g.gap_id = f.gap_id
),
upserted AS (
    INSERT INTO audit.sync_gap AS g (gap_id, gap_code, gap_key, province_code, dossier_code, agency_code, opened_at,
                                     closed_at, retracted_at, first_seen_run, last_seen_run, detail)
    SELECT gap_id, gap_code, gap_key,
           -- the province whose one-stop serves the agency (else holds the dossier)
           coalesce((SELECT a.province_code FROM staging.stg_onestop__agencies AS a
                     WHERE a.agency_code = f.agency_code LIMIT 1),
                    (SELECT d.province_code FROM staging.stg_onestop__dossiers AS d
                     WHERE d.dossier_code = f.dossier_code LIMIT 1), '??'),
           dossier_code, agency_code, opened_at, closed_at, NULL, %(as_of)s, %(as_of)s, detail
    FROM gap_finding AS f
    ON CONFLICT (gap_id) DO UPDATE SET
        dossier_code = excluded.dossier_code, agency_code = excluded.agency_code, closed_at = excluded.closed_at,
        retracted_at = NULL, last_seen_run = excluded.last_seen_run, detail = excluded.detail
    RETURNING gap_id
)
SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE closes AND NOT is_new), (SELECT count(*) FROM upserted)
FROM before
"""

_RETRACT = """
UPDATE audit.sync_gap AS g SET retracted_at = %(as_of)s
WHERE g.retracted_at IS NULL AND g.gap_code <> 'G8' AND g.opened_at < %(as_of)s
  AND NOT EXISTS (SELECT 1 FROM gap_finding AS f WHERE f.gap_id = g.gap_id)
  AND (   (g.gap_code IN ('G1', 'G2', 'G3', 'G5', 'G6')
           AND g.gap_key IN (SELECT dossier_code FROM audit.check_scope_dossier))
       OR (g.gap_code = 'G4' AND g.gap_key IN (SELECT application_code FROM audit.check_scope_application))
       OR (g.gap_code = 'G7' AND split_part(g.gap_key, '|', 2)::date IN (SELECT receipt_day FROM audit.check_scope_day)))
"""


def reconcile(conn: psycopg.Connection, as_of: dt.datetime) -> dict[str, int]:
    opened, closed, _ = conn.execute(_RECONCILE, {"as_of": as_of}).fetchone()
    retracted = conn.execute(_RETRACT, {"as_of": as_of}).rowcount
    return {"opened": opened, "closed": closed, "retracted": retracted}


# --- G8: the load log replayed ------------------------------------------------------------------------
def _whole_hours(after: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The whole hours h with after < h <= until."""
    h = after.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + CHECK_INTERVAL
    out = []
    while h <= until:
        out.append(h)
        h += CHECK_INTERVAL
    return out


def replay_freshness(conn: psycopg.Connection, as_of: dt.datetime, params: Params) -> dict[str, int]:
    """Each feed source's load log since the last replay, on the source's clock: at every whole hour (the
    hourly pipeline's observations, whether its fetch succeeded or not) and whenever a load was served,
    the newest change served so far, and whether office_after(it, stale_after) had passed by then."""
    changes = {"opened": 0, "closed": 0}
    provinces = [p for (p,) in conn.execute("SELECT DISTINCT province_code FROM audit.load_run ORDER BY 1")]
    for province, source in ((p, s) for p in provinces for s in FEED_SOURCES):
        state = conn.execute("SELECT newest_changed_at, observed_at, last_load_id, open_gap_id "
                             "FROM audit.source_freshness WHERE province_code = %s AND source = %s FOR UPDATE",
                             (province, source)).fetchone()
        loads = conn.execute("""
            SELECT load_id, coalesce(served_at, finished_at), status, newest_changed_at, window_start
            FROM audit.load_run
            WHERE province_code = %(province)s AND source = %(source)s AND coalesce(served_at, finished_at) <= %(as_of)s
              AND (%(after)s::timestamptz IS NULL
                   OR (coalesce(served_at, finished_at), load_id) > (%(after)s, %(after_id)s))
            ORDER BY 2, 1""", {"province": province, "source": source, "as_of": as_of, "after": state[1] if state else None,
                               "after_id": state[2] if state else None}).fetchall()
        if state:
            newest, observed, last_id, open_id = state
        elif loads:  # the pipeline's start: fresh as of the first window it asked for
            newest = min((w for *_, w in loads if w is not None), default=loads[0][1])
            observed, last_id, open_id = loads[0][1], None, None
        else:
            continue
        opened_at = None
        if open_id:
            opened_at = conn.execute("SELECT opened_at FROM audit.sync_gap WHERE gap_id = %s", (open_id,)).fetchone()[0]
        points = sorted({*(row[1] for row in loads), *_whole_hours(observed, as_of)})
        i = 0
        for observed in points:
            while i < len(loads) and loads[i][1] <= observed:  # what had been served by then
                _, _, status, served_newest, _ = loads[i]
                if status == "success" and served_newest is not None and served_newest > newest:
                    newest = served_newest
                last_id = loads[i][0]
                i += 1
            due = office_after(newest, params.stale_after_minutes)
            stale = due < observed
            if open_id and (not stale or opened_at != due):
                conn.execute("UPDATE audit.sync_gap SET closed_at = %s, last_seen_run = %s WHERE gap_id = %s",
                             (observed, as_of, open_id))
                changes["closed"] += 1
                open_id = opened_at = None
            if stale and open_id is None:
                opened_at = due
                open_id = f"G8|{source}|{due.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}|{province}"
                conn.execute("""
                    INSERT INTO audit.sync_gap (gap_id, gap_code, gap_key, province_code, opened_at, first_seen_run,
                                                last_seen_run, detail)
                    VALUES (%s, 'G8', %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (gap_id) DO UPDATE SET closed_at = NULL, last_seen_run = excluded.last_seen_run""",
                             (open_id, source, province, due, as_of, as_of,
                              json.dumps({"newest_change_at": newest.isoformat(), "observed_at": observed.isoformat()})))
                changes["opened"] += 1
            elif open_id:
                conn.execute("UPDATE audit.sync_gap SET last_seen_run = %s WHERE gap_id = %s", (as_of, open_id))
        conn.execute("""
            INSERT INTO audit.source_freshness (province_code, source, newest_changed_at, stale_from, observed_at,
                                                last_load_id, is_stale, open_gap_id)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (province_code, source) DO UPDATE SET newest_changed_at = excluded.newest_changed_at,
                stale_from = excluded.stale_from, observed_at = excluded.observed_at,
                last_load_id = excluded.last_load_id, is_stale = excluded.is_stale, open_gap_id = excluded.open_gap_id""",
                     (province, source, newest, office_after(newest, params.stale_after_minutes), observed, last_id,
                      open_id is not None, open_id))
    return changes


# --- one run ------------------------------------------------------------------------------------------
def _stamps(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT model_name, processed_window FROM audit.model_watermark "
                             "WHERE model_name = ANY(%s)", (list(STAGING_STAMPS),)).fetchall())


def open_counts(conn: psycopg.Connection, as_of: dt.datetime, replay: bool) -> dict[str, int]:
    """Gaps open at as_of, by code: from this run's findings (G1-G7) and the table (G8)."""
    counts = Counter(dict(conn.execute(
        "SELECT gap_code, count(*) FROM gap_finding WHERE closed_at IS NULL GROUP BY 1").fetchall()))
    if not replay:  # an incremental run's findings cover only its scope: the table has them all
        counts = Counter(dict(conn.execute(
            "SELECT gap_code, count(*) FROM audit.sync_gap WHERE retracted_at IS NULL AND opened_at < %(t)s "
            "AND (closed_at IS NULL OR closed_at > %(t)s) AND gap_code <> 'G8' GROUP BY 1", {"t": as_of}).fetchall()))
    g8 = conn.execute("SELECT count(*) FROM audit.sync_gap WHERE gap_code = 'G8' AND retracted_at IS NULL "
                      "AND opened_at < %(t)s AND (closed_at IS NULL OR closed_at > %(t)s)", {"t": as_of}).fetchone()[0]
    return {code: counts.get(code, 0) + (g8 if code == "G8" else 0) for code in CODES}


def run_check(dsn: str, as_of: dt.datetime, settings: config_mod.Settings | None = None, full: bool = False,
              gx: bool = True, airflow_run_id: str | None = None, echo=None) -> CheckResult:
    """Evaluate the gaps as of ``as_of`` (a run's data interval end) and record them."""
    if as_of.tzinfo is None:
        raise ValueError("as_of needs a time zone")
    settings = settings or config_mod.load()
    params = Params.from_settings(settings)
    t0 = time.monotonic()
    stages: dict[str, float] = {}  # time per stage: scope, each rule, reconcile, G8, GX
    started = dt.datetime.now(dt.UTC)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (CHECKS_LOCK,))
        try:
            with conn.transaction():
                newest = conn.execute("SELECT as_of, stamps FROM audit.check_run WHERE mode <> 'replay' "
                                      "ORDER BY as_of DESC, run_id DESC LIMIT 1").fetchone()
                replay = newest is not None and as_of < newest[0]
                mode = "replay" if replay else ("full" if full or newest is None else "incremental")
                previous = None if mode != "incremental" else {"as_of": newest[0], "stamps": newest[1]}
                stamps = _stamps(conn)
                conn.execute("TRUNCATE audit.check_context")
                conn.execute("INSERT INTO audit.check_context VALUES (%s, %s, %s, %s, %s)",
                             (as_of, params.sync_sla, params.missing_after_minutes, params.stale_after_minutes,
                              "incremental" if previous else "full"))
                with _timed(stages, "scope"):
                    scope = fill_scope(conn, as_of, params, previous)
                found = evaluate(conn, stages)
                changes = {"found": found}
                if not replay:
                    with _timed(stages, "reconcile"):
                        changes.update(reconcile(conn, as_of))
                    with _timed(stages, "freshness"):
                        g8 = replay_freshness(conn, as_of, params)
                    changes["opened"] += g8["opened"]
                    changes["closed"] += g8["closed"]
                counts = open_counts(conn, as_of, replay)
                run_id = conn.execute("""
                    INSERT INTO audit.check_run (as_of, mode, started_at, stamps, scope_counts, open_counts, changes,
                                                 airflow_run_id)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING run_id""",
                                      (as_of, mode, started, json.dumps(stamps), json.dumps(scope), json.dumps(counts),
                                       json.dumps(changes), airflow_run_id)).fetchone()[0]
            result = CheckResult(run_id, as_of, mode, scope_counts=scope, open_counts=counts, changes=changes)
            if gx:  # the committed context and scope are GX's batch; the lock keeps them until it is done
                from tthc.gx_suites import run_checkpoint

                with _timed(stages, "gx"):
                    result.gx_success, result.gx_summary = run_checkpoint(dsn, settings, as_of)
            result.stage_seconds = stages
            result.duration_s = round(time.monotonic() - t0, 2)
            conn.execute("UPDATE audit.check_run SET finished_at = now(), duration_s = %s, gx_success = %s, "
                         "gx_summary = %s WHERE run_id = %s",
                         (result.duration_s, result.gx_success, json.dumps(result.gx_summary), run_id))
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (CHECKS_LOCK,))
    if echo:
        echo(f"checks     as of {as_of.isoformat()} ({mode}, {result.duration_s:.1f}s): open "
             + ", ".join(f"{c} {n}" for c, n in counts.items()))
    return result


# --- scoring against the simulator's truth ------------------------------------------------------------
def _second(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def score(dsn: str, truth_path: Path) -> dict[str, dict]:
    """Per code, on the truth's province: recall (truth gaps found with the same key and opened_at: to the
    second for G1-G7, within one check interval for G8), precision (found gaps that are in the truth), and how many matched gaps
    also agree on closed_at. Retracted findings and findings opening after the truth's period are ignored."""
    truth = json.loads(Path(truth_path).read_text())
    end = _second(truth["period"]["end"])
    expected: dict[str, list] = {c: [] for c in CODES}
    for g in truth["gaps"]:
        expected[g["code"]].append((g["key"], _second(g["opened_at"]), _second(g["closed_at"])))
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT gap_code, gap_key, opened_at, closed_at FROM audit.sync_gap "
                            "WHERE retracted_at IS NULL AND opened_at < %s AND province_code = %s",
                            (end, truth["province"])).fetchall()
    found: dict[str, list] = {c: [] for c in CODES}
    for code, key, opened, closed in rows:
        closed = _second(closed)
        found[code].append((key, _second(opened), None if closed is None or closed >= end else closed))
    out = {}
    for code in CODES:
        tolerance = CHECK_INTERVAL if code == "G8" else dt.timedelta(0)
        unmatched = sorted(found[code], key=lambda g: (g[0], g[1]))
        matched = closed_agree = 0
        for key, opened, closed in sorted(expected[code], key=lambda g: (g[0], g[1])):
            hit = next((f for f in unmatched if f[0] == key and abs(f[1] - opened) <= tolerance), None)
            if hit is not None:
                unmatched.remove(hit)
                matched += 1
                closed_agree += hit[2] == closed
        n_truth, n_found = len(expected[code]), len(found[code])
        out[code] = {"truth": n_truth, "found": n_found, "matched": matched,
                     "recall": round(matched / n_truth, 4) if n_truth else 1.0,
                     "precision": round(matched / n_found, 4) if n_found else 1.0,
                     "closed_at_agrees": closed_agree}
    return out


# --- the evaluation time --------------------------------------------------------------------------
def data_until(dsn: str, upper_load_id: int | None = None) -> dt.datetime:
    """How far the newest build's data reaches: the least, over the provinces' feed sources, of the end of
    their newest window loaded (up to the build window's upper load id). The checks' default as_of: a
    source that is behind does not make the other's changes look unsynchronised."""
    with psycopg.connect(dsn) as conn:
        if upper_load_id is None:
            upper_load_id = conn.execute("SELECT max(upper_load_id) FROM audit.build_window").fetchone()[0]
        rows = conn.execute("""
            SELECT province_code, source, max(window_end) FROM audit.load_run
            WHERE status = 'success' AND source = ANY(%s) AND load_id <= coalesce(%s, 9223372036854775807)
            GROUP BY 1, 2""", (list(FEED_SOURCES), upper_load_id)).fetchall()
    ends = {(p, s): end for p, s, end in rows}
    provinces = {p for p, _ in ends}
    if not ends or any(ends.get((p, s)) is None for p in provinces for s in FEED_SOURCES):
        raise TthcError("nothing loaded yet from both feed sources: run the extract DAGs (or tthc demo) first")
    return min(ends.values())


# --- CLI ----------------------------------------------------------------------------------------------


def cli_check(args) -> int:
    from tthc.transform import transformer_dsn

    settings = config_mod.load()
    dsn = transformer_dsn(settings)
    if args.init:
        from tthc.gx_suites import init_context

        print(f"GX file context: {init_context(dsn)}")
        return 0
    as_of = args.as_of or data_until(dsn)
    result = run_check(dsn, as_of, settings, full=args.full, gx=not args.no_gx, echo=print)
    if result.gx_summary.get("data_docs"):
        print(f"data docs  {result.gx_summary['data_docs']}")
    print(json.dumps({k: v for k, v in result.as_dict().items() if k != "gx_summary"}, indent=2))
    return 0


def cli_score(args) -> int:
    from tthc.transform import transformer_dsn

    if not args.truth.exists():
        raise TthcError(f"no such truth file: {args.truth}")
    figures = score(transformer_dsn(), args.truth)
    print(f"{'code':5} {'truth':>7} {'found':>7} {'recall':>7} {'precision':>9} {'closed_at agrees':>17}")
    for code, f in figures.items():
        print(f"{code:5} {f['truth']:7} {f['found']:7} {f['recall']:7.4f} {f['precision']:9.4f} "
              f"{f['closed_at_agrees']:17}")
    return 0 if all(f["recall"] == 1.0 and f["precision"] == 1.0 for f in figures.values()) else 1
