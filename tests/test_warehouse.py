"""The embedded warehouse: a real server from the wheel, TCP, roles, idempotent bootstrap."""

from __future__ import annotations

import socket

import psycopg
import pytest
from conftest import run_cli
from tthc import TthcError
from tthc.bootstrap import bootstrap
from tthc.warehouse import EmbeddedServer, port_accepts, role_dsn

CATALOG = """
SELECT 'schema', nspname, pg_get_userbyid(nspowner), coalesce(nspacl::text, '') FROM pg_namespace
 WHERE nspname !~ '^(pg_|information_schema)'
UNION ALL SELECT 'role', rolname, rolcanlogin::text, '' FROM pg_roles WHERE rolname LIKE 'tthc%%'
UNION ALL SELECT 'table', n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner), coalesce(c.relacl::text, '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname !~ '^(pg_|information_schema)' AND c.relkind IN ('r', 'v', 'p', 'i')
UNION ALL SELECT 'default_acl', coalesce(n.nspname, ''), pg_get_userbyid(d.defaclrole), d.defaclacl::text
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
ORDER BY 1, 2, 3, 4
"""


def catalog(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(CATALOG).fetchall()


def test_server_accepts_tcp_connection(warehouse):
    with psycopg.connect(warehouse) as conn:
        assert conn.info.host == "127.0.0.1"
        assert conn.execute("SELECT current_setting('server_version_num')::int").fetchone()[0] >= 180000
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    assert {"raw_onestop", "raw_population", "raw_portal", "staging", "intermediate", "marts", "audit"} <= schemas


def test_bootstrap_is_idempotent(warehouse, settings):
    before = catalog(warehouse)
    bootstrap(settings, warehouse)
    bootstrap(settings, warehouse)
    assert catalog(warehouse) == before


def test_second_up_reuses_running_server(warehouse, settings):
    if not settings.embedded:
        pytest.skip("TTHC_WAREHOUSE_DSN points at an external server")
    server = EmbeddedServer(settings)
    port = server.running_port()
    assert port is not None
    assert server.up() == port


def test_bi_cannot_read_raw_but_reads_marts(warehouse, settings):
    with psycopg.connect(warehouse, autocommit=True) as admin:
        admin.execute("SET ROLE tthc_loader")
        admin.execute("CREATE TABLE IF NOT EXISTS raw_onestop.secret_probe (pid text)")
        admin.execute("SET ROLE tthc_transformer")
        admin.execute("CREATE TABLE IF NOT EXISTS marts.probe_mart (n int)")
        admin.execute("RESET ROLE")
    try:
        with psycopg.connect(role_dsn(settings, "tthc_bi"), autocommit=True) as bi:
            assert bi.execute("SELECT count(*) FROM marts.probe_mart").fetchone()[0] == 0
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                bi.execute("SELECT * FROM raw_onestop.secret_probe")
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                bi.execute("CREATE TABLE marts.bi_table (n int)")
        with psycopg.connect(role_dsn(settings, "tthc_inspector"), autocommit=True) as insp:
            assert insp.execute("SELECT count(*) FROM marts.probe_mart").fetchone()[0] == 0
            insp.execute("SELECT count(*) FROM audit.load_run")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                insp.execute("SELECT * FROM raw_onestop.secret_probe")
    finally:
        with psycopg.connect(warehouse, autocommit=True) as admin:
            admin.execute("DROP TABLE raw_onestop.secret_probe, marts.probe_mart")


def test_down_stops_the_server_and_up_restarts_it(tmp_path, monkeypatch):
    from tthc import config

    monkeypatch.setenv("TTHC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TTHC_WAREHOUSE_DSN", raising=False)
    settings = config.load()
    server = EmbeddedServer(settings)
    port = server.up()
    assert port_accepts(port)
    assert server.down() is True
    assert not port_accepts(port)
    assert server.down() is False
    assert server.up() == port  # the remembered port, same data directory
    server.destroy()
    assert not port_accepts(port)


def test_busy_port_is_a_clear_error(tmp_path, monkeypatch):
    from tthc import config

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("TTHC_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("TTHC_WAREHOUSE_PORT", str(busy.getsockname()[1]))
        monkeypatch.delenv("TTHC_WAREHOUSE_DSN", raising=False)
        with pytest.raises(TthcError, match="already in use"):
            EmbeddedServer(config.load()).up()


def test_unusable_data_directory_is_a_clear_error(tmp_path):
    home = tmp_path / "home"
    (home / "pgdata").mkdir(parents=True)
    (home / "pgdata" / "stranger.txt").write_text("not a cluster")
    result = run_cli("warehouse", "up", env={"TTHC_HOME": str(home), "TTHC_WAREHOUSE_DSN": ""})
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "holds no PostgreSQL cluster" in result.stderr
    (tmp_path / "file_home").write_text("")
    result = run_cli("warehouse", "up", env={"TTHC_HOME": str(tmp_path / "file_home"), "TTHC_WAREHOUSE_DSN": ""})
    assert result.returncode == 1 and "not a directory" in result.stderr
