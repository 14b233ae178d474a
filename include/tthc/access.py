"""Who sees what: inspector logins scoped to one administrative unit (row-level security).

`tthc inspector add NAME --unit CODE` creates a login that is a member of ``tthc_inspector`` (so it reads
``marts`` and ``audit``) and records its unit in ``audit.inspector_scope``; the policies (``sql/access.sql``
and the marts' post-hook ``row_level_security``) then show it the dossiers, gaps and KPIs of the unit's
agencies only. Its password comes from ``TTHC_INSPECTOR_<NAME>_PASSWORD`` or is generated once into
``$TTHC_HOME/secrets.json``; it is never printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tthc import TthcError
from tthc import config as config_mod

NAME = re.compile(r"[a-z][a-z0-9_]{2,40}")
RESERVED_PREFIXES = ("tthc_", "pg_", "postgres")


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
    if not NAME.fullmatch(name) or name.startswith(RESERVED_PREFIXES):
        raise TthcError(f"inspector name must be 3-41 characters a-z, 0-9, _ (starting with a letter, not tthc_): "
                        f"{name!r}")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('marts.dim_admin_unit')").fetchone()[0] is None:
            raise TthcError("no marts yet: build the star schema first (tthc build, or tthc demo)")
        unit = conn.execute("SELECT unit_name FROM marts.dim_admin_unit WHERE unit_code = %s "
                            "ORDER BY valid_from DESC LIMIT 1", (unit_code,)).fetchone()
        if unit is None:
            raise TthcError(f"unknown administrative unit {unit_code!r} (see marts.dim_admin_unit)")
        variable = password_variable(name)
        password = settings.secret(variable)
        role = sql.Identifier(name)
        with conn.transaction():
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
            else:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
            conn.execute(sql.SQL("GRANT tthc_inspector TO {}").format(role))
            conn.execute("""
                INSERT INTO audit.inspector_scope (role_name, unit_code) VALUES (%s, %s)
                ON CONFLICT (role_name) DO UPDATE SET unit_code = excluded.unit_code, created_at = now()""",
                         (name, unit_code))
        agencies = conn.execute("SELECT cardinality(audit.unit_agencies(%s))", (unit_code,)).fetchone()[0]
    return Inspector(name, unit_code, unit[0], agencies, variable)


def cli_inspector(args) -> int:
    from tthc.warehouse import admin_dsn

    settings = config_mod.load()
    added = add_inspector(admin_dsn(settings, start=True), settings, args.name, args.unit)
    print(f"inspector {added.name}: sees {added.unit_code} {added.unit_name} ({added.agencies} agencies: their "
          f"dossiers, gaps and KPIs); password: ${added.password_variable}, else in {settings.home / 'secrets.json'}")
    return 0
