"""Stream pages of source records into a raw table: binary COPY into a staging table, one set-based
insert into the raw table, quarantine, watermark and run log, all in one transaction per window.

Raw tables are **version logs** (the documented rule): one row per distinct version of a source
record, keyed by ``(province_code, record_key, _record_hash)``: one warehouse holds several provinces,
each loaded from its own source systems, and their record keys need not be unique across provinces. Re-delivering a version that is already there is a
no-op (so reruns, overlapping windows and duplicated pages change nothing); a newer version of a
record appends a row, so the history of every dossier and catalogue entry is kept (dbt takes the
latest by ``changed_at`` for current state and builds SCD2 dimensions from the log). Status changes,
sync records, payments and ratings are events: their log is their history.

The large logs (``Entity.monthly``: dossiers, status changes, portal syncs) are partitioned by the
local month of ``changed_at`` (PostgreSQL declarative partitioning); a load creates the partitions its
rows need, and the next month's, before it writes (``ensure_partitions``). A build that reads one hour
then plans on the current month's partition alone.

Columns: ``province_code`` (whose source served it), ``record_key``, ``_record_hash`` (BLAKE2b-128 of the canonical JSON), ``changed_at`` (the
source's recorded change time), the entity's typed key columns, ``payload`` (the whole record,
JSONB), ``_extracted_at`` and ``_load_id`` (of the load that first brought this version).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import orjson
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

from tthc.load.entities import ALL_ENTITIES, ENTITIES, Entity, Invalid, Validator, parse_ts

log = logging.getLogger("tthc.load")
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # partitions are local months
SOURCES = ("onestop", "population", "portal")
# Held shared by every load for its transaction; a dbt build takes it exclusively for an instant to
# open its window (tthc.transform.open_build_window), so it never reads past a load still in flight.
RAW_LOADS_LOCK = "tthc.raw_loads"


class JsonbBytes(bytes):
    """JSON text already encoded (canonical), sent to a jsonb column without re-encoding."""


class JsonbBytesBinaryDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: bytes) -> bytes:
        return b"\x01" + obj  # jsonb binary format: version 1, then the text


def register_adapters(conn: psycopg.Connection) -> None:
    JsonbBytesBinaryDumper.oid = conn.adapters.types["jsonb"].oid
    conn.adapters.register_dumper(JsonbBytes, JsonbBytesBinaryDumper)


# ---------------------------------------------------------------------------------------------------
# DDL (generated from the entity specs, so tables and loader cannot drift apart)
# ---------------------------------------------------------------------------------------------------
def raw_columns(entity: Entity) -> list[tuple[str, str]]:
    return [("province_code", "text"), ("record_key", "text"), ("_record_hash", "bytea"), ("changed_at", "timestamptz"),
            *[(c.name, c.pg_type) for c in entity.columns],
            ("payload", "jsonb"), ("_extracted_at", "timestamptz"), ("_load_id", "bigint")]


def raw_key(entity: Entity) -> str:
    """The raw table's primary key (a partitioned table's key holds its partition key)."""
    return "province_code, record_key, _record_hash" + (", changed_at" if entity.monthly else "")


def raw_ddl() -> str:
    statements = []
    for e in ALL_ENTITIES:
        cols = ",\n  ".join(f"{n} {t}" + (" NOT NULL" if n in ("province_code", "record_key", "_record_hash", "changed_at",
                                                                 "payload", "_extracted_at", "_load_id") else "")
                            for n, t in raw_columns(e))
        partitioning = " PARTITION BY RANGE (changed_at)" if e.monthly else ""
        statements.append(f"CREATE TABLE IF NOT EXISTS {e.table} (\n  {cols},\n  PRIMARY KEY ({raw_key(e)})\n)"
                          f"{partitioning};")
        statements.append(f"CREATE INDEX IF NOT EXISTS {e.name}_changed_at ON {e.table} (changed_at);")
        statements.append(f"CREATE INDEX IF NOT EXISTS {e.name}_load_id ON {e.table} (_load_id);")  # dbt's increments
        if any(c.name == "dossier_code" for c in e.columns):
            statements.append(f"CREATE INDEX IF NOT EXISTS {e.name}_dossier_code ON {e.table} (dossier_code);")
        statements.append(f"COMMENT ON TABLE {e.table} IS 'version log of {e.source} {e.name}: one row per distinct "
                          f"version (province_code, record_key, _record_hash)"
                          f"{'; partitioned by local month of changed_at' if e.monthly else ''}; see tthc.load.loader';")
    for source in SOURCES:
        statements.append(f"""CREATE TABLE IF NOT EXISTS raw_{source}.quarantine (
  province_code text NOT NULL,
  entity text NOT NULL,
  record_key text,
  reason text NOT NULL,
  detail text,
  recorded_at timestamptz,
  raw_payload text NOT NULL,
  _payload_hash bytea NOT NULL,
  _extracted_at timestamptz NOT NULL,
  _load_id bigint NOT NULL,
  PRIMARY KEY (province_code, entity, _payload_hash)
);
REVOKE ALL ON raw_{source}.quarantine FROM tthc_transformer;
COMMENT ON TABLE raw_{source}.quarantine IS 'records that broke the data contract, with the raw payload (personal data: tthc_loader only)';""")
    return "\n".join(statements)


# ---------------------------------------------------------------------------------------------------
# One window of one entity
# ---------------------------------------------------------------------------------------------------
@dataclass
class LoadStats:
    source: str
    entity: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    load_id: int | None = None
    province: str = ""  # the province whose source served the window
    served_at: dt.datetime | None = None  # the source's clock when it gave the window (else ours)
    newest_changed_at: dt.datetime | None = None  # the newest change it served in the window
    oldest_changed_at: dt.datetime | None = None  # the oldest: where an incremental build's read of it starts
    source_s: float = 0.0  # time in the source's answers (HTTP, JSON parsed), overlapped with the load


    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        for k in ("window_start", "window_end", "served_at", "newest_changed_at", "oldest_changed_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def _quarantine_row(entity: Entity, rec, err: Invalid, load_id: int, now: dt.datetime, province: str) -> tuple:
    text = json.dumps(rec, ensure_ascii=True, sort_keys=True)  # escapes NUL/surrogates: safe as text
    key = rec.get(entity.key) if isinstance(rec, dict) else None
    recorded = None
    if isinstance(rec, dict) and isinstance(rec.get("NgayCapNhat"), str):
        try:
            recorded = parse_ts(rec["NgayCapNhat"])
        except ValueError:
            recorded = None
    return (province, entity.name, key if isinstance(key, str) else None, err.reason, err.detail[:200], recorded, text,
            hashlib.blake2b(text.encode(), digest_size=16).digest(), now, load_id)


QUARANTINE_COLS = ("province_code", "entity", "record_key", "reason", "detail", "recorded_at", "raw_payload", "_payload_hash",
                   "_extracted_at", "_load_id")


class RowBuilder:
    """Turns source records into raw-table rows (validated, hashed, canonical JSON); what fails the
    contract is kept aside as quarantine rows. Shared by the loader and the benchmark's bare COPY."""

    def __init__(self, entity: Entity, load_id: int, now: dt.datetime,
                 procedures: frozenset[str] | None = None, province: str = ""):
        self.entity, self.load_id, self.now = entity, load_id, now
        self.province = province or default_province()
        self.validator = Validator(entity, procedures)
        self.typed = [(c.field, c.pg_type == "timestamptz") for c in entity.columns]
        self.quarantined: list[tuple] = []
        self.rows_read = 0

    def _quarantine(self, rec, err: Invalid) -> None:
        self.quarantined.append(_quarantine_row(self.entity, rec, err, self.load_id, self.now, self.province))

    def page(self, records: list) -> list[list]:
        """Rows of the valid records of one page, in page order."""
        key, typed, validator, load_id, now = self.entity.key, self.typed, self.validator, self.load_id, self.now
        province = self.province
        dumps, sort_keys, blake2b = orjson.dumps, orjson.OPT_SORT_KEYS, hashlib.blake2b
        out = []
        self.rows_read += len(records)
        for rec in records:
            try:
                canonical = dumps(rec, option=sort_keys)
            except orjson.JSONEncodeError:  # text PostgreSQL cannot store (a lone surrogate)
                canonical = None
            try:
                times = validator(rec, canonical)
            except Invalid as err:
                self._quarantine(rec, err)
                continue
            if canonical is None:  # the checked fields are fine: the bad text is nested below them
                self._quarantine(rec, Invalid("unsafe_text", "a nested value is not valid UTF-8"))
                continue
            row = [province, rec[key], blake2b(canonical, digest_size=16).digest(),
                   times.get("NgayCapNhat") or times.get("verified_at")]
            row += [times.get(f) if is_ts else rec.get(f) for f, is_ts in typed]
            row += [JsonbBytes(canonical), now, load_id]
            out.append(row)
        return out

    def rows(self, pages: Iterable[list]) -> Iterator[list]:
        for records in pages:
            yield from self.page(records)


def copy_rows(conn: psycopg.Connection, table: str, entity: Entity, rows: Iterable[list]) -> None:
    """Binary COPY of raw-table rows into ``table`` (a raw table or one of the same shape)."""
    cols = raw_columns(entity)
    with conn.cursor().copy(f"COPY {table} ({', '.join(c for c, _ in cols)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([t for _, t in cols])
        for row in rows:
            copy.write_row(row)


_DONE = object()


def prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Run a generator in a thread, at most ``depth`` items ahead of the consumer (memory stays flat).
    Its exceptions re-raise in the consumer; a consumer that stops (an error, a rollback) stops it."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as err:  # handed to the consumer, raised there
            put(err)

    worker = threading.Thread(target=produce, name="tthc-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=30)


def create_stage(conn: psycopg.Connection, entity: Entity) -> str:
    """A temporary table shaped like the entity's raw table, dropped at commit at the latest."""
    stage = f"stage_{entity.name}"
    conn.execute(f"CREATE TEMP TABLE {stage} (LIKE {entity.table}) ON COMMIT DROP")
    return stage


def insert_new_versions(conn: psycopg.Connection, entity: Entity, stage: str, table: str | None = None) -> int:
    """The set-based upsert: the staged versions not stored yet go into the raw table (or ``table``)."""
    cols = ", ".join(c for c, _ in raw_columns(entity))
    return conn.execute(f"""
        INSERT INTO {table or entity.table} ({cols})
        SELECT DISTINCT ON ({raw_key(entity)}) {cols} FROM {stage}
        ON CONFLICT ({raw_key(entity)}) DO NOTHING""").rowcount


def month_partition(table: str, month: dt.date) -> str:
    return f"{table}_y{month.year}m{month.month:02d}"


def ensure_partitions(conn: psycopg.Connection, entity: Entity, months: Iterable[dt.date],
                      table: str | None = None) -> list[str]:
    """Create the monthly partitions of a partitioned raw table that are missing (local months, bounds at
    local midnight), the month after the latest one too: created ahead, so the hour that turns the month
    finds its partition. Called under the table's load lock; returns the partitions created. ``table``: a
    table of the same shape instead of the entity's (the benchmark's)."""
    if not entity.monthly:
        return []
    wanted = set(months)
    if wanted:
        last = max(wanted)
        wanted.add((last.replace(day=28) + dt.timedelta(days=4)).replace(day=1))
    created = []
    for month in sorted(wanted):
        name = month_partition(table or entity.table, month)
        if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None:
            upper = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            conn.execute(f"CREATE TABLE {name} PARTITION OF {table or entity.table} FOR VALUES FROM "
                         f"('{month.isoformat()} 00:00:00+07') TO ('{upper.isoformat()} 00:00:00+07')")
            created.append(name)
    return created


def local_month(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL_TZ).date().replace(day=1)


def staged_months(conn: psycopg.Connection, stage: str) -> list[dt.date]:
    return [m for (m,) in conn.execute(
        f"SELECT DISTINCT date_trunc('month', changed_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date FROM {stage}")]


def default_province() -> str:
    from tthc import config as config_mod

    return config_mod.load().province


def load_window(conn: psycopg.Connection, entity: Entity, pages: Iterable[list[dict]],
                window_start: dt.datetime | None, window_end: dt.datetime | None,
                procedures: frozenset[str] | None = None,
                source_time: Callable[[], dt.datetime | None] | None = None, province: str = "") -> LoadStats:
    """Load every page of one window in one transaction; returns what happened.

    Pages are fetched, checked and built one page ahead in a thread (``prefetch``) and streamed by one
    binary COPY into a temporary staging table; then the dossier-code rule, the quarantine, one
    set-based insert of the new versions, the watermark and the run log (with when the source served the
    window, ``source_time()`` after the last page, and the newest change it served: the observations the
    freshness rule G8 replays). Every row is stamped with ``province`` (default: the configured one),
    whose watermark the window moves. Loads of one raw table are
    serialised by a transaction-level advisory lock, so a concurrent run (a backfill beside the
    schedule) waits rather than races."""
    t0 = time.monotonic()
    province = province or default_province()
    stats = LoadStats(entity.source, entity.name, window_start, window_end, province=province)
    register_adapters(conn)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s))", (RAW_LOADS_LOCK,))
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (entity.table,))
        load_id = conn.execute("SELECT nextval('audit.load_run_load_id_seq')").fetchone()[0]
        stats.load_id = load_id
        builder = RowBuilder(entity, load_id, dt.datetime.now(dt.UTC), procedures, province)
        stage = create_stage(conn, entity)
        copy_rows(conn, stage, entity, (row for rows in prefetch(builder.page(p) for p in pages) for row in rows))
        stats.rows_read = builder.rows_read
        # the source's clock; None when no request was made (a catalogue already loaded up to the window's end)
        stats.served_at = source_time() if source_time else dt.datetime.now(dt.UTC)
        stats.newest_changed_at, stats.oldest_changed_at = conn.execute(
            f"SELECT max(changed_at), min(changed_at) FROM {stage}").fetchone()
        quarantined = builder.quarantined
        if "unique_code" in entity.checks:
            quarantined += _claimed_codes(conn, entity, stage, load_id, builder.now, province)
        if quarantined:
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO raw_{entity.source}.quarantine ({', '.join(QUARANTINE_COLS)}) "
                                f"VALUES ({', '.join(['%s'] * len(QUARANTINE_COLS))}) ON CONFLICT DO NOTHING",
                                quarantined)
        # counted before the insert, so no statement reads the table it is writing (a plan made while the
        # raw table was empty would otherwise rescan the rows it inserts: quadratic on a first backfill)
        staged, distinct, known_key = conn.execute(f"""
            SELECT (SELECT count(*) FROM {stage}), count(*), count(*) FILTER (
                WHERE EXISTS (SELECT 1 FROM {entity.table} r WHERE r.province_code = %(p)s
                                                                   AND r.record_key = s.record_key))
            FROM (SELECT DISTINCT record_key, _record_hash FROM {stage}) s""", {"p": province}).fetchone()
        ensure_partitions(conn, entity, staged_months(conn, stage))
        inserted = insert_new_versions(conn, entity, stage)
        updated = known_key - (distinct - inserted)  # versions already stored all have a known key
        conn.execute(f"DROP TABLE {stage}")  # also when this transaction is a savepoint of a longer one
        stats.rows_updated = updated
        stats.rows_inserted = inserted - updated
        stats.rows_unchanged = staged - inserted
        stats.rows_quarantined = len(quarantined)
        for q in quarantined:
            stats.quarantine_reasons[q[2]] = stats.quarantine_reasons.get(q[2], 0) + 1
        if window_end is not None:
            conn.execute("""
                INSERT INTO audit.extract_watermark (province_code, source, entity, watermark, updated_at, load_id)
                VALUES (%s, %s, %s, %s, now(), %s)
                ON CONFLICT (province_code, source, entity) DO UPDATE
                SET watermark = greatest(audit.extract_watermark.watermark, excluded.watermark),
                    updated_at = excluded.updated_at, load_id = excluded.load_id""",
                         (province, entity.source, entity.name, window_end, load_id))
        stats.duration_s = round(time.monotonic() - t0, 3)
        record_run(conn, stats, "success")
    log.info("%s %s.%s [%s, %s): read %d, inserted %d, updated %d, unchanged %d, quarantined %d in %.2fs (load %d)",
             province, entity.source, entity.name, window_start.isoformat() if window_start else "-",
             window_end.isoformat() if window_end else "-", stats.rows_read, stats.rows_inserted, stats.rows_updated,
             stats.rows_unchanged, stats.rows_quarantined, stats.duration_s, stats.load_id or 0,
             extra={k: v for k, v in stats.as_dict().items() if k != "quarantine_reasons"})
    return stats


def _claimed_codes(conn, entity: Entity, stage: str, load_id: int, now: dt.datetime, province: str) -> list[tuple]:
    """Dossiers whose code already belongs to another dossier (HoSoID): first recorded owner wins.

    First the codes in dispute: staged with two HoSoIDs, or stored under another one (a probe of the
    raw table's key index per staged row; a join would scan the whole raw table every window). Only
    for those (normally none) the owner is decided and the other dossiers' rows leave the stage."""
    disputed = [k for (k,) in conn.execute(f"""
        SELECT record_key FROM {stage} GROUP BY record_key HAVING min(dossier_id) <> max(dossier_id)
        UNION
        SELECT s.record_key FROM {stage} s CROSS JOIN LATERAL (
            SELECT 1 FROM {entity.table} r
            WHERE r.province_code = %(p)s AND r.record_key = s.record_key AND r.dossier_id <> s.dossier_id
            LIMIT 1) other""", {"p": province})]
    if not disputed:
        return []
    rows = conn.execute(f"""
        WITH candidates AS (
            SELECT record_key, dossier_id, changed_at FROM {stage} WHERE record_key = ANY(%(keys)s)
            UNION ALL
            SELECT record_key, dossier_id, changed_at FROM {entity.table}
            WHERE province_code = %(p)s AND record_key = ANY(%(keys)s)),
        owner AS (
            SELECT DISTINCT ON (record_key) record_key, dossier_id FROM candidates
            ORDER BY record_key, changed_at, dossier_id)
        DELETE FROM {stage} s USING owner o
        WHERE s.record_key = o.record_key AND s.dossier_id <> o.dossier_id
        RETURNING s.payload::text, s.record_key, s.changed_at, o.dossier_id""", {"keys": disputed, "p": province}).fetchall()
    out = []
    for payload_text, key, changed_at, owner_id in rows:
        err = Invalid("duplicate_dossier_code", f"{key} belongs to HoSoID {owner_id}")
        row = list(_quarantine_row(entity, orjson.loads(payload_text), err, load_id, now, province))
        row[5] = changed_at
        out.append(tuple(row))
    return out


def record_run(conn: psycopg.Connection, stats: LoadStats, status: str, error: str | None = None) -> None:
    conn.execute("""
        INSERT INTO audit.load_run (load_id, province_code, source, entity, window_start, window_end, status,
            rows_read, rows_inserted, rows_updated, rows_unchanged, rows_quarantined, duration_s, error, finished_at,
            served_at, newest_changed_at, oldest_changed_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s, %s, %s)""",
                 (stats.load_id, stats.province or default_province(), stats.source, stats.entity, stats.window_start, stats.window_end, status,
                  stats.rows_read, stats.rows_inserted, stats.rows_updated, stats.rows_unchanged,
                  stats.rows_quarantined, stats.duration_s, error, stats.served_at, stats.newest_changed_at,
                  stats.oldest_changed_at))


def record_failure(dsn: str, entity: Entity, window_start, window_end, error: BaseException,
                   served_at: dt.datetime | None = None, province: str = "") -> None:
    """A failed window: its transaction rolled back (watermark unmoved); the run log keeps the failure
    (and when the source last answered, if it did: a source answering 503 is an observation too)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        stats = LoadStats(entity.source, entity.name, window_start, window_end, province=province)
        stats.served_at = served_at or dt.datetime.now(dt.UTC)
        stats.load_id = conn.execute("SELECT nextval('audit.load_run_load_id_seq')").fetchone()[0]
        record_run(conn, stats, "failed", f"{type(error).__name__}: {str(error)[:500]}")


def known_procedures(conn: psycopg.Connection, province: str = "") -> frozenset[str]:
    """The procedure codes of a province's catalogue (each province's one-stop has its own)."""
    return frozenset(r[0] for r in conn.execute(
        f"SELECT DISTINCT record_key FROM {ENTITIES['procedures'].table} WHERE province_code = %s",
        (province or default_province(),)))
