"""Who sees what: inspector logins scoped to one administrative unit, and role passwords.

`tthc inspector add NAME --unit CODE` creates a login that is a member of ``tthc_scoped_inspector`` and
records its unit in ``audit.inspector_scope``. It reads the dimensions in ``marts`` and every row-scoped
relation (facts, KPIs, the gap register) through the views of schema ``scoped``, each over a
security-definer function that returns the unit's rows only: its queries' plans, errors and timings never
involve another unit's rows (``sql/access.sql``, the marts' post-hook ``row_level_security``). Its
password comes from ``TTHC_INSPECTOR_<NAME>_PASSWORD`` or is generated once into
``$TTHC_HOME/secrets.json``; it is never printed, and the server is sent only its SCRAM verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tthc import TthcError
from tthc import config as config_mod

NAME = re.compile(r"[a-z][a-z0-9_]{2,40}")
RESERVED_PREFIXES = ("tthc_", "pg_", "postgres")
# role names PostgreSQL reserves or reads as keywords in role specifications
RESERVED_NAMES = {"public", "none", "current_user", "current_role", "session_user", "user"}
SCOPED_GROUP = "tthc_scoped_inspector"
SCOPED_SEARCH_PATH = "scoped, marts, audit"
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677), computed here, so
    ``CREATE/ALTER ROLE ... PASSWORD`` carries no clear password for a server log to keep. The verifier
    lets a server check a login; it cannot be replayed as the password. (Generated passwords are ASCII,
    which SASLprep leaves as they are.)"""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def set_password(conn: psycopg.Connection, role: str, password: str, *, create: bool) -> None:
    """CREATE or ALTER the login ``role`` with ``password``, sent as its SCRAM verifier."""
    verb = "CREATE ROLE {} LOGIN PASSWORD {}" if create else "ALTER ROLE {} LOGIN PASSWORD {}"
    conn.execute(sql.SQL(verb).format(sql.Identifier(role), sql.Literal(scram_verifier(password))))


@dataclass
class Inspector:
    name: str
    unit_code: str
    unit_name: str
    agencies: int
    password_variable: str


def password_variable(name: str) -> str:
    return f"TTHC_INSPECTOR_{name.upper()}_PASSWORD"


def add_inspector(admin: str, settings: config_mod.Settings, name: str, unit_code: str) -> Inspector:
    """Create (or re-scope) the login ``name``, seeing the administrative unit ``unit_code`` only."""
    if not NAME.fullmatch(name) or name.startswith(RESERVED_PREFIXES) or name in RESERVED_NAMES:
        raise TthcError(f"inspector name must be 3-41 characters a-z, 0-9, _ (starting with a letter, not tthc_, "
                        f"pg_, postgres or a reserved role name): {name!r}")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('marts.dim_admin_unit')").fetchone()[0] is None:
            raise TthcError("no marts yet: build the star schema first (tthc build, or tthc demo)")
        unit = conn.execute("SELECT unit_name FROM marts.dim_admin_unit WHERE unit_code = %s "
                            "ORDER BY valid_from DESC LIMIT 1", (unit_code,)).fetchone()
        if unit is None:
            raise TthcError(f"unknown administrative unit {unit_code!r} (see marts.dim_admin_unit)")
        variable = password_variable(name)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None
        password = settings.secret(variable)
        try:
            with conn.transaction():
                set_password(conn, name, password, create=not exists)
                scope_login(conn, name)
                conn.execute("""
                    INSERT INTO audit.inspector_scope (role_name, unit_code) VALUES (%s, %s)
                    ON CONFLICT (role_name) DO UPDATE SET unit_code = excluded.unit_code, created_at = now()""",
                             (name, unit_code))
        except psycopg.Error as err:
            if not exists:  # a failed add leaves no secret behind (a password no login has)
                settings.discard_secret(variable)
            raise TthcError(f"could not add inspector {name!r}: {err.diag.message_primary or err}") from None
        agencies = conn.execute("SELECT cardinality(audit.unit_agencies(%s))", (unit_code,)).fetchone()[0]
    return Inspector(name, unit_code, unit[0], agencies, variable)


def scope_login(conn: psycopg.Connection, name: str) -> None:
    """Make ``name`` a scoped inspector: a member of tthc_scoped_inspector (and no longer of tthc_inspector,
    which reads every row), reading the ``scoped`` views by their plain names."""
    role = sql.Identifier(name)
    conn.execute(sql.SQL("REVOKE tthc_inspector FROM {}").format(role))
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(SCOPED_GROUP), role))
    conn.execute(sql.SQL("ALTER ROLE {} SET search_path = " + SCOPED_SEARCH_PATH).format(role))


def rescope_logins(conn: psycopg.Connection) -> None:
    """Logins scoped before the ``scoped`` schema existed were members of tthc_inspector: move them."""
    for (name,) in conn.execute("""
            SELECT s.role_name FROM audit.inspector_scope AS s JOIN pg_roles AS r ON r.rolname = s.role_name
            WHERE pg_has_role(r.oid, 'tthc_inspector', 'MEMBER')
               OR NOT pg_has_role(r.oid, %s, 'MEMBER')""", (SCOPED_GROUP,)).fetchall():
        scope_login(conn, name)


def cli_inspector(args) -> int:
    from tthc.warehouse import admin_dsn

    settings = config_mod.load()
    added = add_inspector(admin_dsn(settings, start=True), settings, args.name, args.unit)
    print(f"inspector {added.name}: sees {added.unit_code} {added.unit_name} ({added.agencies} agencies: their "
          f"dossiers, gaps and KPIs); password: ${added.password_variable}, else in {settings.home / 'secrets.json'}")
    return 0
