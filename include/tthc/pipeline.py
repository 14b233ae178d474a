"""What the DAG tasks call (and `tthc extract`, and the tests): one hour of one source entity of one
province with its catch-up (``load_hour``: the window, then every earlier stretch no complete load has
read, ``tthc.freshness``), one window alone (``extract_entity``), and the population verification of a
province's applicants. No Airflow here; the DAG files resolve their connections and pass plain values in.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import psycopg

from tthc import TthcError, freshness
from tthc import config as config_mod
from tthc.extract.client import SourceClient
from tthc.load.entities import ENTITIES, VERIFICATIONS, by_source
from tthc.load.loader import LoadStats, known_procedures, load_window, record_failure

log = logging.getLogger("tthc.pipeline")
VERIFY_BATCH = 500


@dataclass(frozen=True)
class Endpoint:
    """Where a source API of one province is and its key (from an Airflow connection or the
    configuration). ``province`` empty: the configured default province."""

    url: str
    api_key: str
    timeout: float = 10.0
    max_seconds: float = 600.0
    page_size: int = config_mod.DEFAULT_PAGE_SIZE
    province: str = ""

    @property
    def province_code(self) -> str:
        return self.province or config_mod.load().province


def endpoints_from_settings(settings: config_mod.Settings | None = None, province: str | None = None,
                            ) -> dict[str, Endpoint]:
    settings = settings or config_mod.load()
    province = province or settings.province
    return {source: Endpoint(url, settings.api_key, page_size=settings.page_size, province=province,
                             max_seconds=settings.source_max_seconds)
            for source, url in settings.source_urls(province).items()}


def _watermark(conn: psycopg.Connection, province: str, source: str, entity: str) -> dt.datetime | None:
    row = conn.execute("SELECT watermark FROM audit.extract_watermark "
                       "WHERE province_code = %s AND source = %s AND entity = %s", (province, source, entity)).fetchone()
    return row[0] if row else None


def extract_entity(dsn: str, endpoint: Endpoint, entity_name: str, since: dt.datetime, until: dt.datetime,
                   from_watermark: bool = True) -> LoadStats:
    """Load one entity's changes recorded in [since, until) (catalogue entities: from their watermark,
    unless ``from_watermark`` is off, as a catch-up of a stretch they read while their source was stale)."""
    entity = ENTITIES[entity_name]
    province = endpoint.province_code
    if since.tzinfo is None or until.tzinfo is None:
        raise TthcError("window bounds need a time zone")
    with psycopg.connect(dsn) as conn:
        window_start: dt.datetime | None = since
        if entity.reference and from_watermark:
            window_start = _watermark(conn, province, entity.source, entity.name)
            if window_start is not None and window_start >= until:
                window_start = until  # already loaded up to here: an empty window, still logged
        procedures = known_procedures(conn, province) if "procedure" in entity.checks else None
        client = SourceClient(entity.source, endpoint.url, endpoint.api_key, timeout=endpoint.timeout,
                              max_seconds=endpoint.max_seconds)
        try:
            pages = client.pages(entity.path, window_start, until, limit=endpoint.page_size) \
                if window_start is None or window_start < until else iter(())
            stats = load_window(conn, entity, pages, window_start, until, procedures,
                                source_time=lambda: client.source_time, province=province)
            stats.source_s = round(client.stats["seconds"], 3)
            return stats
        except BaseException as err:
            record_failure(dsn, entity, window_start, until, err, client.source_time, province)
            raise
        finally:
            client.close()


def extract_source(dsn: str, endpoint: Endpoint, source: str, since: dt.datetime, until: dt.datetime,
                   ) -> list[LoadStats]:
    """All entities of a source for one window, catalogue first (dossiers are checked against it)."""
    return [extract_entity(dsn, endpoint, name, since, until) for name in chain_order(source)]


def chain_order(source: str) -> list[str]:
    """A source's entities in the order a run loads them: the catalogue first."""
    return [e.name for e in sorted(by_source(source), key=lambda e: not e.reference)]


@dataclass
class HourLoad:
    """What one run of one entity did: its own window and the catch-up after it."""

    window: LoadStats
    caught_up: list[LoadStats]

    def as_dict(self) -> dict:
        return {**self.window.as_dict(), "caught_up": [
            {k: v for k, v in c.as_dict().items() if k in ("window_start", "window_end", "rows_read", "rows_inserted",
                                                            "rows_updated", "load_id")} for c in self.caught_up]}


def load_log(conn: psycopg.Connection, province: str, source: str, served_from: dt.datetime | None = None,
             before: dt.datetime | None = None) -> list[freshness.Load]:
    """A source's load log (every entity), oldest served first; ``served_from``/``before`` bound it. A
    window that asked the source nothing (a catalogue already loaded past its end) observed nothing."""
    rows = conn.execute("""
        SELECT window_start, window_end, served_at, status = 'success', newest_changed_at, entity
        FROM audit.load_run
        WHERE province_code = %s AND source = %s AND window_end IS NOT NULL AND served_at IS NOT NULL
          AND (%s::timestamptz IS NULL OR served_at >= %s)
          AND (%s::timestamptz IS NULL OR served_at < %s)
        ORDER BY 3, load_id""", (province, source, served_from, served_from, before, before)).fetchall()
    return [freshness.Load(*r) for r in rows]


def newest_before(conn: psycopg.Connection, province: str, source: str, moment: dt.datetime) -> dt.datetime | None:
    """What a source had shown by ``moment``: its first window's start, or the newest change served since."""
    first, newest = conn.execute("""
        SELECT min(window_start),
               max(newest_changed_at) FILTER (WHERE status = 'success' AND served_at < %s)
        FROM audit.load_run WHERE province_code = %s AND source = %s""", (moment, province, source)).fetchone()
    return max((t for t in (first, newest) if t is not None), default=None)


def owed_windows(conn: psycopg.Connection, province: str, entity_name: str, since: dt.datetime, now: dt.datetime,
                 lookback: dt.timedelta) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches of ``[since - lookback, since)`` one entity's run at ``now`` reads again
    (``tthc.freshness.owed``): what no load served before ``now`` has confirmed, the source's log read
    from a day before the lookback on."""
    entity = ENTITIES[entity_name]
    if lookback <= dt.timedelta(0):
        return []
    start = since - lookback - dt.timedelta(days=1)
    log = load_log(conn, province, entity.source, served_from=start, before=now)
    newest = newest_before(conn, province, entity.source, start)
    from_start, first = conn.execute("SELECT bool_or(window_start IS NULL), min(window_start) FROM audit.load_run "
                                     "WHERE province_code = %s AND source = %s AND entity = %s",
                                     (province, entity.source, entity_name)).fetchone()
    if newest is None or from_start is None:  # never loaded: nothing owed yet
        return []
    vouched = [span for ld, span in freshness.confirmed(log, newest) if ld.entity == entity_name]
    return freshness.owed(vouched, since, lookback, freshness.NEVER if from_start else first)


def load_hour(dsn: str, endpoint: Endpoint, entity_name: str, since: dt.datetime, until: dt.datetime,
              settings: config_mod.Settings | None = None) -> HourLoad:
    """One run of one entity, as the hourly DAG runs it: the window [since, until), then the catch-up:
    every stretch of the ``TTHC_CATCH_UP_DAYS`` before ``since`` that no load has confirmed (an hour that
    failed or never ran, or one read before the source had shown anything newer: the last minutes of the
    previous hour, a quiet night, a stale outage), each in one window. A failure of the window or of a
    catch-up raises (the task fails and is retried; the next hour owes it again)."""
    settings = settings or config_mod.load()
    window = extract_entity(dsn, endpoint, entity_name, since, until)
    now = window.served_at or until  # a window that asked nothing (a catalogue read past it) saw no clock
    with psycopg.connect(dsn) as conn:
        owed = owed_windows(conn, endpoint.province_code, entity_name, since, now,
                            dt.timedelta(days=settings.catch_up_days))
    caught = []
    for lo, hi in owed:
        stats = extract_entity(dsn, endpoint, entity_name, lo, hi, from_watermark=False)
        log.info("caught up", extra={"province": stats.province, "entity": entity_name, "window_start": lo.isoformat(),
                                     "window_end": hi.isoformat(), "rows_inserted": stats.rows_inserted,
                                     "rows_updated": stats.rows_updated})
        caught.append(stats)
    return HourLoad(window, caught)


def applicants_to_verify(conn: psycopg.Connection, province: str) -> list[tuple[str, str]]:
    """Citizens' IDs seen in a province's dossiers and not verified for it yet, with the name of their
    first dossier."""
    return conn.execute(f"""
        SELECT DISTINCT ON (d.applicant_id) d.applicant_id, d.payload->>'ChuHoSo'
        FROM {ENTITIES['dossiers'].table} d
        WHERE d.province_code = %(p)s AND d.applicant_type = 1
          AND NOT EXISTS (SELECT 1 FROM {VERIFICATIONS.table} v
                          WHERE v.province_code = %(p)s AND v.record_key = d.applicant_id)
        ORDER BY d.applicant_id, d.changed_at""", {"p": province}).fetchall()


def verify_population(dsn: str, endpoint: Endpoint) -> LoadStats:
    """Batch-verify a province's applicant IDs not verified yet; load the answers to raw_population."""
    province = endpoint.province_code
    with psycopg.connect(dsn) as conn:
        todo = applicants_to_verify(conn, province)
        client = SourceClient("population", endpoint.url, endpoint.api_key, timeout=endpoint.timeout,
                              max_seconds=endpoint.max_seconds)

        def pages():
            for i in range(0, len(todo), VERIFY_BATCH):
                batch = todo[i:i + VERIFY_BATCH]
                answer = client.post(VERIFICATIONS.path, {"items": [{"id": pid, "name": name} for pid, name in batch]})
                yield [{**r, "verified_at": answer["verified_at"]} for r in answer["results"]]

        try:
            return load_window(conn, VERIFICATIONS, pages(), None, None, province=province)
        except BaseException as err:
            record_failure(dsn, VERIFICATIONS, None, None, err, province=province)
            raise
        finally:
            client.close()


def hourly_windows(start: dt.datetime, end: dt.datetime, hours: int = 1) -> list[tuple[dt.datetime, dt.datetime]]:
    out, t = [], start
    while t < end:
        out.append((t, min(t + dt.timedelta(hours=hours), end)))
        t += dt.timedelta(hours=hours)
    return out


def loader_dsn(settings: config_mod.Settings | None = None) -> str:
    from tthc.warehouse import role_dsn

    return role_dsn(settings or config_mod.load(), "tthc_loader")


def cli_extract(args) -> int:
    try:
        since, until = dt.datetime.fromisoformat(args.since), dt.datetime.fromisoformat(args.until)
    except ValueError as err:
        raise TthcError(f"--since/--until must be ISO-8601 times: {err}") from None
    if since.tzinfo is None or until.tzinfo is None:
        raise TthcError("--since/--until need a UTC offset, e.g. 2025-03-03T00:00:00+07:00")
    settings = config_mod.load()
    dsn = loader_dsn(settings)
    provinces = config_mod.province_codes(args.province, "--province") if args.province else settings.provinces
    sources = ["onestop", "portal", "population"] if args.source == "all" else [args.source]
    for province, source in ((p, s) for p in provinces for s in sources):
        endpoints = endpoints_from_settings(settings, province)
        if source == "population":
            results = [verify_population(dsn, endpoints[source])]
        else:  # what the hourly task runs: the window, then the entity's catch-up
            runs = [load_hour(dsn, endpoints[source], name, since, until, settings) for name in chain_order(source)]
            results = [s for run in runs for s in (run.window, *run.caught_up)]
        for s in results:
            window = f"[{s.window_start.isoformat() if s.window_start else '-'}, {s.window_end.isoformat() if s.window_end else '-'})"
            print(f"{province} {s.source:10} {s.entity:20} {window:53} read {s.rows_read:7} new {s.rows_inserted:7} "
                  f"versions {s.rows_updated:6} quarantined {s.rows_quarantined:4}", flush=True)
    return 0
