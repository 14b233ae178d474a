"""The simulator's stores: one SQLite file per source system, one table per entity.

Each row is one version of a source record as the source recorded it: ``seq`` (insertion order),
``key`` (the record's natural key), ``changed_us`` (the time the source recorded the change, UTC
microseconds: the change-feed window and the keyset cursor use it) and ``payload`` (the JSON the
API serves, byte for byte). A store holds simulated personal data (the population register's citizens):
it is created readable by its owner only (mode 0600 from its first byte).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from tthc.config import create_private

SOURCES: dict[str, tuple[str, ...]] = {
    "onestop": ("admin_units", "agencies", "procedures", "dossiers", "status_changes"),
    "population": ("citizens",),
    "portal": ("sync_records", "online_applications", "payments", "ratings", "petitions"),
}


def store_path(data_dir: Path, source: str) -> Path:
    return Path(data_dir) / f"{source}.sqlite"


class StoreWriter:
    """Append-only writer; indexes are built once at close (faster, and byte-deterministic)."""

    def __init__(self, data_dir: Path, source: str):
        self.path = store_path(data_dir, source)
        self.path.unlink(missing_ok=True)
        os.close(create_private(self.path))  # an empty file is a new database to SQLite; its journals copy its mode
        self.conn = sqlite3.connect(self.path)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.entities = SOURCES[source]
        for entity in self.entities:
            if entity == "citizens":
                self.conn.execute("CREATE TABLE citizens (key TEXT PRIMARY KEY, legacy_id TEXT, payload TEXT NOT NULL)")
            else:
                self.conn.execute(f"CREATE TABLE {entity} (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, "
                                  "changed_us INTEGER NOT NULL, payload TEXT NOT NULL)")
        self.buffers: dict[str, list[tuple]] = {e: [] for e in self.entities}

    def add(self, entity: str, key: str, changed_us: int, payload: str) -> None:
        self.buffers[entity].append((key, changed_us, payload))

    def add_citizen(self, pid: str, legacy_id: str | None, payload: str) -> None:
        self.buffers["citizens"].append((pid, legacy_id, payload))

    def flush(self) -> None:
        for entity, rows in self.buffers.items():
            if not rows:
                continue
            if entity == "citizens":
                self.conn.executemany("INSERT OR IGNORE INTO citizens VALUES (?, ?, ?)", rows)
            else:
                self.conn.executemany(f"INSERT INTO {entity} (key, changed_us, payload) VALUES (?, ?, ?)", rows)
            rows.clear()
        self.conn.commit()

    def close(self) -> dict[str, int]:
        self.flush()
        counts = {}
        for entity in self.entities:
            if entity == "citizens":
                self.conn.execute("CREATE INDEX citizens_legacy ON citizens (legacy_id)")
            else:
                self.conn.execute(f"CREATE INDEX {entity}_feed ON {entity} (changed_us, seq)")
            counts[entity] = self.conn.execute(f"SELECT count(*) FROM {entity}").fetchone()[0]
        self.conn.commit()
        self.conn.close()
        return counts


def open_store(data_dir: Path, source: str) -> sqlite3.Connection:
    path = store_path(data_dir, source)
    if not path.exists():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    return conn
