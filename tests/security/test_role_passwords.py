"""Role passwords never travel in clear SQL: the server is sent a SCRAM-SHA-256 verifier, so a statement the
server logs (a failed CREATE ROLE is logged with its text) holds nothing that logs in; a failed
`tthc inspector add` leaves no password behind in secrets.json."""

from __future__ import annotations

import json
import secrets

import psycopg
import pytest
from conftest import run_cli
from tthc import TthcError
from tthc.access import add_inspector, password_variable, scram_verifier, set_password
from tthc.warehouse import with_credentials


def test_the_verifier_is_the_one_postgresql_stores_and_logs_in(warehouse):
    password = secrets.token_urlsafe(18)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS scram_probe")
        try:
            set_password(conn, "scram_probe", password, create=True)
            stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'").fetchone()[0]
            # the stored verifier is exactly the one computed here: the server never saw the password
            salt_b64 = stored.split("$")[1].split(":")[1]
            import base64

            assert stored == scram_verifier(password, base64.b64decode(salt_b64))
            conn.execute("GRANT CONNECT ON DATABASE " + conn.info.dbname + " TO scram_probe")
            with psycopg.connect(with_credentials(warehouse, "scram_probe", password)) as login:
                assert login.execute("SELECT current_user").fetchone()[0] == "scram_probe"
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(with_credentials(warehouse, "scram_probe", password + "x")).close()
        finally:
            conn.execute("REVOKE ALL ON DATABASE " + conn.info.dbname + " FROM scram_probe")
            conn.execute("DROP ROLE IF EXISTS scram_probe")


def test_a_failed_create_role_logs_no_password(warehouse, settings):
    if not settings.embedded:
        pytest.skip("the server log is the embedded server's")
    log = settings.home / "postgres.log"
    password = "clear-" + secrets.token_hex(12)
    before = log.stat().st_size
    with psycopg.connect(warehouse, autocommit=True) as conn, pytest.raises(psycopg.errors.ReservedName):
        set_password(conn, "public", password, create=True)  # "role name "public" is reserved"
    written = log.read_bytes()[before:].decode(errors="replace")
    assert 'CREATE ROLE "public" LOGIN PASSWORD' in written  # the statement was logged ...
    assert password not in written and "SCRAM-SHA-256$4096:" in written  # ... with its verifier only
    assert oct(log.stat().st_mode & 0o777) == oct(0o600)


def test_a_failed_inspector_add_leaves_no_secret_behind(checked, settings):
    admin = checked[0]
    name = "thanhtra_fails"
    path = settings.home / "secrets.json"
    with psycopg.connect(admin, autocommit=True) as conn:
        unit = conn.execute("SELECT unit_code FROM marts.dim_admin_unit ORDER BY 1 LIMIT 1").fetchone()[0]
        # a real failure inside the add's transaction, after its CREATE ROLE: the scope row is refused
        conn.execute(f"ALTER TABLE audit.inspector_scope ADD CONSTRAINT refuse_probe CHECK (role_name <> '{name}')")
    try:
        with pytest.raises(TthcError, match="could not add inspector"):
            add_inspector(admin, settings, name, unit)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("ALTER TABLE audit.inspector_scope DROP CONSTRAINT refuse_probe")
            assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None
    assert password_variable(name) not in json.loads(path.read_text())
    added = add_inspector(admin, settings, name, unit)  # and a later add works
    assert password_variable(name) in json.loads(path.read_text()) and added.agencies > 0
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DELETE FROM audit.inspector_scope WHERE role_name = %s", (name,))
        conn.execute(f"DROP OWNED BY {name}")
        conn.execute(f"DROP ROLE {name}")


def test_reserved_role_names_are_refused_in_one_line(checked):
    result = run_cli("inspector", "add", "public", "--unit", "414", env={"TTHC_WAREHOUSE_DB": "t_marts"})
    assert result.returncode == 1 and "inspector name" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
