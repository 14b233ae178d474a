"""Stream pages of source records into a raw table: binary COPY into a staging table, one set-based
insert into the raw table, quarantine, watermark and run log, all in one transaction per window.

Raw tables are **version logs** (the documented rule): one row per distinct version of a source
record, keyed by ``(record_key, _record_hash)``. Re-delivering a version that is already there is a
no-op (so reruns, overlapping windows and duplicated pages change nothing); a newer version of a
record appends a row, so the history of every dossier and catalogue entry is kept (dbt takes the
latest by ``changed_at`` for current state and builds SCD2 dimensions from the log). Status changes,
sync records, payments and ratings are events: their log is their history.

Columns: ``record_key``, ``_record_hash`` (BLAKE2b-128 of the canonical JSON), ``changed_at`` (the
source's recorded change time), the entity's typed key columns, ``payload`` (the whole record,
JSONB), ``_extracted_at`` and ``_load_id`` (of the load that first brought this version).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

from tthc.load.entities import ALL_ENTITIES, ENTITIES, Entity, Invalid, parse_ts, validate

log = logging.getLogger("tthc.load")
SOURCES = ("onestop", "population", "portal")


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
    return [("record_key", "text"), ("_record_hash", "bytea"), ("changed_at", "timestamptz"),
            *[(c.name, c.pg_type) for c in entity.columns],
            ("payload", "jsonb"), ("_extracted_at", "timestamptz"), ("_load_id", "bigint")]


def raw_ddl() -> str:
    statements = []
    for e in ALL_ENTITIES:
        cols = ",\n  ".join(f"{n} {t}" + (" NOT NULL" if n in ("record_key", "_record_hash", "changed_at", "payload",
                                                                 "_extracted_at", "_load_id") else "")
                            for n, t in raw_columns(e))
        statements.append(f"CREATE TABLE IF NOT EXISTS {e.table} (\n  {cols},\n  PRIMARY KEY (record_key, _record_hash)\n);")
        statements.append(f"CREATE INDEX IF NOT EXISTS {e.name}_changed_at ON {e.table} (changed_at);")
        statements.append(f"COMMENT ON TABLE {e.table} IS 'version log of {e.source} {e.name}: one row per distinct "
                          f"version (record_key, _record_hash); see tthc.load.loader';")
    for source in SOURCES:
        statements.append(f"""CREATE TABLE IF NOT EXISTS raw_{source}.quarantine (
  entity text NOT NULL,
  record_key text,
  reason text NOT NULL,
  detail text,
  recorded_at timestamptz,
  raw_payload text NOT NULL,
  _payload_hash bytea NOT NULL,
  _extracted_at timestamptz NOT NULL,
  _load_id bigint NOT NULL,
  PRIMARY KEY (entity, _payload_hash)
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

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        for k in ("window_start", "window_end"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def _canonical(rec: dict) -> bytes:
    return orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)


def _quarantine_row(entity: Entity, rec, err: Invalid, load_id: int, now: dt.datetime) -> tuple:
    text = json.dumps(rec, ensure_ascii=True, sort_keys=True)  # escapes NUL/surrogates: safe as text
    key = rec.get(entity.key) if isinstance(rec, dict) else None
    recorded = None
    if isinstance(rec, dict) and isinstance(rec.get("NgayCapNhat"), str):
        try:
            recorded = parse_ts(rec["NgayCapNhat"])
        except ValueError:
            recorded = None
    return (entity.name, key if isinstance(key, str) else None, err.reason, err.detail[:200], recorded, text,
            hashlib.blake2b(text.encode(), digest_size=16).digest(), now, load_id)


QUARANTINE_COLS = ("entity", "record_key", "reason", "detail", "recorded_at", "raw_payload", "_payload_hash",
                   "_extracted_at", "_load_id")


def load_window(conn: psycopg.Connection, entity: Entity, pages: Iterable[list[dict]],
                window_start: dt.datetime | None, window_end: dt.datetime | None,
                procedures: frozenset[str] | None = None) -> LoadStats:
    """Load every page of one window in one transaction; returns what happened."""
    t0 = time.monotonic()
    stats = LoadStats(entity.source, entity.name, window_start, window_end)
    register_adapters(conn)
    cols = raw_columns(entity)
    col_names = [c for c, _ in cols]
    typed = [(c.name, c.field, c.pg_type) for c in entity.columns]
    now = dt.datetime.now(dt.UTC)
    stage = f"stage_{entity.name}"
    quarantined: list[tuple] = []
    with conn.transaction():
        load_id = conn.execute("SELECT nextval('audit.load_run_load_id_seq')").fetchone()[0]
        stats.load_id = load_id
        conn.execute(f"CREATE TEMP TABLE {stage} (LIKE {entity.table}) ON COMMIT DROP")
        with conn.cursor().copy(f"COPY {stage} ({', '.join(col_names)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([t for _, t in cols])
            for page in pages:
                stats.rows_read += len(page)
                for rec in page:
                    try:
                        times = validate(entity, rec, procedures)
                    except Invalid as err:
                        quarantined.append(_quarantine_row(entity, rec, err, load_id, now))
                        continue
                    canonical = _canonical(rec)
                    row = [rec[entity.key], hashlib.blake2b(canonical, digest_size=16).digest(),
                           times.get("NgayCapNhat") or times.get("verified_at")]
                    for _, fname, pg_type in typed:
                        value = rec.get(fname)
                        row.append(value if pg_type != "timestamptz" else times.get(fname))
                    row += [JsonbBytes(canonical), now, load_id]
                    copy.write_row(row)
        if "unique_code" in entity.checks:
            quarantined += _claimed_codes(conn, entity, stage, load_id, now)
        if quarantined:
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO raw_{entity.source}.quarantine ({', '.join(QUARANTINE_COLS)}) "
                                f"VALUES ({', '.join(['%s'] * len(QUARANTINE_COLS))}) ON CONFLICT DO NOTHING",
                                quarantined)
        inserted, updated, staged = conn.execute(f"""
            WITH ins AS (
                INSERT INTO {entity.table} ({', '.join(col_names)})
                SELECT DISTINCT ON (record_key, _record_hash) {', '.join(col_names)} FROM {stage}
                ON CONFLICT (record_key, _record_hash) DO NOTHING
                RETURNING record_key)
            SELECT count(*),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {entity.table} r WHERE r.record_key = ins.record_key)),
                   (SELECT count(*) FROM {stage})
            FROM ins""").fetchone()
        stats.rows_updated = updated
        stats.rows_inserted = inserted - updated
        stats.rows_unchanged = staged - inserted
        stats.rows_quarantined = len(quarantined)
        for q in quarantined:
            stats.quarantine_reasons[q[2]] = stats.quarantine_reasons.get(q[2], 0) + 1
        if window_end is not None:
            conn.execute("""
                INSERT INTO audit.extract_watermark (source, entity, watermark, updated_at, load_id)
                VALUES (%s, %s, %s, now(), %s)
                ON CONFLICT (source, entity) DO UPDATE
                SET watermark = greatest(audit.extract_watermark.watermark, excluded.watermark),
                    updated_at = excluded.updated_at, load_id = excluded.load_id""",
                         (entity.source, entity.name, window_end, load_id))
        stats.duration_s = round(time.monotonic() - t0, 3)
        record_run(conn, stats, "success")
    log.info("loaded", extra={k: v for k, v in stats.as_dict().items() if k != "quarantine_reasons"})
    return stats


def _claimed_codes(conn, entity: Entity, stage: str, load_id: int, now: dt.datetime) -> list[tuple]:
    """Dossiers whose code already belongs to another dossier (HoSoID): first recorded owner wins."""
    rows = conn.execute(f"""
        WITH candidates AS (
            SELECT record_key, dossier_id, changed_at FROM {stage}
            UNION ALL
            SELECT r.record_key, r.dossier_id, r.changed_at FROM {entity.table} r
            WHERE r.record_key IN (SELECT record_key FROM {stage})),
        owner AS (
            SELECT DISTINCT ON (record_key) record_key, dossier_id FROM candidates
            ORDER BY record_key, changed_at, dossier_id)
        DELETE FROM {stage} s USING owner o
        WHERE s.record_key = o.record_key AND s.dossier_id <> o.dossier_id
        RETURNING s.payload::text, s.record_key, s.changed_at, o.dossier_id""").fetchall()
    out = []
    for payload_text, key, changed_at, owner_id in rows:
        rec = orjson.loads(payload_text)
        err = Invalid("duplicate_dossier_code", f"{key} belongs to HoSoID {owner_id}")
        row = list(_quarantine_row(entity, rec, err, load_id, now))
        row[4] = changed_at
        out.append(tuple(row))
    return out


def record_run(conn: psycopg.Connection, stats: LoadStats, status: str, error: str | None = None) -> None:
    conn.execute("""
        INSERT INTO audit.load_run (load_id, source, entity, window_start, window_end, status, rows_read,
            rows_inserted, rows_updated, rows_unchanged, rows_quarantined, duration_s, error, finished_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())""",
                 (stats.load_id, stats.source, stats.entity, stats.window_start, stats.window_end, status,
                  stats.rows_read, stats.rows_inserted, stats.rows_updated, stats.rows_unchanged,
                  stats.rows_quarantined, stats.duration_s, error))


def record_failure(dsn: str, entity: Entity, window_start, window_end, error: BaseException) -> None:
    """A failed window: its transaction rolled back (watermark unmoved); the run log keeps the failure."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        stats = LoadStats(entity.source, entity.name, window_start, window_end)
        stats.load_id = conn.execute("SELECT nextval('audit.load_run_load_id_seq')").fetchone()[0]
        record_run(conn, stats, "failed", f"{type(error).__name__}: {str(error)[:500]}")


def known_procedures(conn: psycopg.Connection) -> frozenset[str]:
    return frozenset(r[0] for r in conn.execute(f"SELECT DISTINCT record_key FROM {ENTITIES['procedures'].table}"))
