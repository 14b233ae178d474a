"""Idempotent warehouse bootstrap: database, schemas, roles, grants, and the loader's own tables.

Run by ``tthc warehouse up`` and at the start of every pipeline run. Running it twice leaves the
catalog identical (role passwords are changed only when the stored one no longer logs in).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tthc import TthcError
from tthc.access import SCOPED_GROUP, rescope_logins, set_password
from tthc.config import ROLES, Settings
from tthc.load.loader import raw_ddl
from tthc.warehouse import admin_dsn, on_database, with_credentials

RAW_SCHEMAS = ("raw_onestop", "raw_population", "raw_portal")
MODEL_SCHEMAS = ("staging", "intermediate", "marts")
SCHEMAS = (*RAW_SCHEMAS, *MODEL_SCHEMAS, "audit")


def _can_login(dsn: str, role: str, password: str) -> bool:
    try:
        with psycopg.connect(with_credentials(dsn, role, password), connect_timeout=5):
            return True
    except psycopg.OperationalError:
        return False


def ensure_database(dsn: str) -> None:
    dbname = urlsplit(dsn).path.lstrip("/")
    maintenance = on_database(dsn, "postgres")
    try:
        with psycopg.connect(dsn, connect_timeout=10):
            return
    except psycopg.OperationalError as err:
        if "does not exist" not in str(err):
            raise
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(dbname)))


def ensure_roles(conn: psycopg.Connection, settings: Settings, dsn: str) -> None:
    """The four login roles (passwords sent as SCRAM verifiers) and the group of scoped inspectors."""
    for role in ROLES:
        password = settings.role_password(role)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists or not _can_login(dsn, role, password):
            set_password(conn, role, password, create=not exists)
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (SCOPED_GROUP,)).fetchone():
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(SCOPED_GROUP)))


def close_maintenance_databases(dsn: str) -> None:
    """Reader roles connect to the warehouse only: PUBLIC loses CONNECT and TEMPORARY on the server's
    maintenance databases (``postgres``, ``template1``), where anyone could otherwise connect and create
    temporary objects. Needs a superuser (the embedded server's, or TTHC_WAREHOUSE_DSN's); with a lesser
    owner DSN the server's administrator decides, and nothing is changed."""
    with psycopg.connect(on_database(dsn, "postgres"), autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            return
        for db in ("postgres", "template1"):
            conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db)))


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer pads of HMAC-SHA256 (RFC 2104) for ``key``."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def store_hmac_pads(conn: psycopg.Connection, key: bytes) -> None:
    """Write the pads of the PII key (as query parameters: the key reaches no SQL text or log)."""
    ipad, opad = hmac_pads(key)
    fingerprint = hashlib.sha256(b"tthc-pii-key-fingerprint:" + key).hexdigest()[:12]
    conn.execute("""
        INSERT INTO staging.pii_hmac_pads (key_id, ipad, opad, key_fingerprint, updated_at)
        VALUES ('current', %s, %s, %s, now())
        ON CONFLICT (key_id) DO UPDATE SET ipad = excluded.ipad, opad = excluded.opad,
            key_fingerprint = excluded.key_fingerprint, updated_at = excluded.updated_at
        WHERE pii_hmac_pads.key_fingerprint <> excluded.key_fingerprint""", (ipad, opad, fingerprint))


def before_provinces(conn: psycopg.Connection) -> None:
    """A warehouse built before raw tables carried the province (and were partitioned) is not
    upgraded in place: say so, rather than fail later on a missing column."""
    old = conn.execute("""
        SELECT 1 FROM information_schema.tables t WHERE t.table_schema = 'raw_onestop' AND t.table_name = 'dossiers'
        AND NOT EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = t.table_schema
                        AND c.table_name = t.table_name AND c.column_name = 'province_code')""").fetchone()
    if old:
        raise TthcError("this warehouse predates the province dimension (raw tables without province_code); "
                        "reload it into a new one: tthc warehouse down, then remove $TTHC_HOME/pgdata "
                        "(or point TTHC_WAREHOUSE_DB at a new database)")


def bootstrap(settings: Settings, dsn: str | None = None) -> str:
    """Create or complete the warehouse; return the admin DSN used."""
    dsn = dsn or admin_dsn(settings, start=True)
    ensure_database(dsn)
    close_maintenance_databases(dsn)
    dbname = urlsplit(dsn).path.lstrip("/")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('tthc.bootstrap'))")
        try:
            ensure_roles(conn, settings, dsn)
            before_provinces(conn)
            ddl = resources.files("tthc").joinpath("sql/bootstrap.sql").read_text()
            with conn.transaction():
                conn.execute(sql.SQL(ddl).format(db=sql.Identifier(dbname)))
                conn.execute("SET ROLE tthc_loader")
                conn.execute(raw_ddl())
                conn.execute(resources.files("tthc").joinpath("sql/audit_tables.sql").read_text())
                conn.execute("SET ROLE tthc_transformer")
                conn.execute(resources.files("tthc").joinpath("sql/transformer_tables.sql").read_text())
                conn.execute(resources.files("tthc").joinpath("sql/check_tables.sql").read_text())
                conn.execute(resources.files("tthc").joinpath("sql/access.sql").read_text())
                store_hmac_pads(conn, settings.pii_key)
                conn.execute("RESET ROLE")
                rescope_logins(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('tthc.bootstrap'))")
    return dsn


def describe(dsn: str) -> dict:
    """What exists: schemas with their tables, and roles (for `tthc demo` and `warehouse status`)."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT table_schema, count(*) FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) GROUP BY 1", (list(SCHEMAS),)).fetchall()
        roles = [r for (r,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1", (list(ROLES),))]
        schemas = [s for (s,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) ORDER BY 1", (list(SCHEMAS),))]
        version = conn.execute("SHOW server_version").fetchone()[0]
    counts = dict(tables)
    return {"server_version": version, "schemas": {s: counts.get(s, 0) for s in schemas}, "roles": roles}
