"""Security review of the CLI, the settings and the files: no password is printed in any DSN form (URL or
libpq key=value, alone or inside an error), wrong settings are refused at load before anything connects,
and secrets, simulated personal data and logs are the owner's alone from their first byte."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PASSWORD = "S3cret-Pw_4u2know"  # the superuser's, in TTHC_WAREHOUSE_DSN
LOADER = "L0ader-Pw_only4us"  # tthc_loader's, which role_dsn() puts into a DSN
CLOSED = "host=127.0.0.1 port=1 user=postgres password={} dbname=tthc connect_timeout=2"  # nothing listens on 1
WINDOW = ("--since", "2025-03-03T00:00:00+07:00", "--until", "2025-03-03T01:00:00+07:00")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cli(tmp_path: Path, *args: str, **env: str):
    """The CLI in a fresh TTHC_HOME, against a key=value DSN whose server does not exist."""
    return run_cli(*args, env={"TTHC_HOME": str(tmp_path), "TTHC_WAREHOUSE_DSN": CLOSED.format(PASSWORD),
                               "TTHC_LOADER_PASSWORD": LOADER, **env}, timeout=60)


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def bare_settings(home: Path, dsn: str = ""):
    from tthc import config

    return config.Settings(home=home, warehouse_dsn=dsn, warehouse_port=0, warehouse_db="tthc", province="40",
                           onestop_url="", population_url="", portal_url="", sync_sla_minutes=60,
                           missing_after_hours=24)


@pytest.fixture
def no_chmod(monkeypatch):
    """chmod does nothing and the umask is the usual 022: a file is 0600 only if it was created 0600."""
    for target, name in ((os, "chmod"), (os, "fchmod"), (Path, "chmod")):
        monkeypatch.setattr(target, name, lambda *a, **k: None)
    old = os.umask(0o022)
    yield
    os.umask(old)


# --- A. passwords never printed -----------------------------------------------------------------------------
def test_redact_knows_every_dsn_form():
    from tthc.warehouse import redact

    samples = [
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/tthc",
        f"postgres://postgres:{PASSWORD}@db.example:5432/tthc?sslmode=require",
        f"host=127.0.0.1 port=5432 user=postgres password={PASSWORD} dbname=tthc",
        f"host=127.0.0.1 password = '{PASSWORD} with spaces' dbname=tthc",
        f"postgresql://postgres@127.0.0.1/tthc?sslmode=require&password={PASSWORD}&application_name=x",
        f'connection failed: invalid connection option "//tthc_loader:{PASSWORD}@None/host"',
        f"{{'password': '{PASSWORD}'}} and PGPASSWORD={PASSWORD}",
    ]
    for text in samples:
        assert PASSWORD not in redact(text), text
    assert redact(f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/tthc") == "postgresql://postgres:…@127.0.0.1:5432/tthc"
    assert redact("host=h user=u dbname=d") == "host=h user=u dbname=d"  # nothing to hide: unchanged
    # a secret a message echoes in a shape no pattern knows: masked when it is known
    assert PASSWORD not in redact(f"bad token {PASSWORD}!", frozenset({PASSWORD}))


def test_settings_repr_hides_the_dsn_password(monkeypatch, tmp_path):
    from tthc import config

    monkeypatch.setenv("TTHC_HOME", str(tmp_path))
    monkeypatch.setenv("TTHC_WAREHOUSE_DSN", CLOSED.format(PASSWORD))
    assert PASSWORD not in repr(config.load())


def test_credentials_and_database_are_set_by_parameter_in_both_forms():
    from tthc.warehouse import admin_dsn, on_database, with_credentials

    for dsn in (CLOSED.format(PASSWORD), f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/tthc?connect_timeout=2"):
        loader = conninfo_to_dict(with_credentials(dsn, "tthc_loader", "p@ss w/rd'"))
        assert loader == {"host": "127.0.0.1", "port": "1", "dbname": "tthc", "connect_timeout": "2",
                          "user": "tthc_loader", "password": "p@ss w/rd'"}
        other = conninfo_to_dict(on_database(dsn, "postgres"))
        assert other == {"host": "127.0.0.1", "port": "1", "dbname": "postgres", "connect_timeout": "2",
                         "user": "postgres", "password": PASSWORD}
    url = admin_dsn(bare_settings(Path("/nonexistent"), CLOSED.format(PASSWORD)))  # the tools downstream (dbt, SQLAlchemy, Airflow) read URLs
    assert url.startswith("postgresql://") and conninfo_to_dict(url) == conninfo_to_dict(CLOSED.format(PASSWORD))


@pytest.mark.parametrize("args", [("coverage",), ("extract", "onestop", *WINDOW), ("extract", "all", *WINDOW),
                                  ("warehouse", "status"), ("warehouse", "up")])
def test_a_key_value_dsn_password_is_never_printed(tmp_path, args):
    result = cli(tmp_path, *args)
    assert result.returncode == 1
    line = one_line(result)
    for secret in (PASSWORD, LOADER):
        assert secret not in result.stdout + result.stderr
    assert "Connection refused" in line or "connection" in line.lower(), line  # the real cause, not a DSN mangled


def test_a_busy_port_that_is_not_postgresql_prints_no_password(tmp_path):
    with socket.socket() as busy:  # something listens there, and never answers like PostgreSQL
        busy.bind(("127.0.0.1", 0))
        busy.listen(8)
        dsn = CLOSED.format(PASSWORD).replace("port=1 ", f"port={busy.getsockname()[1]} ").replace("=2", "=1")
        for args in (("coverage",), ("warehouse", "status")):
            result = cli(tmp_path, *args, TTHC_WAREHOUSE_DSN=dsn)
            assert result.returncode == 1
            line = one_line(result)
            assert PASSWORD not in result.stdout + result.stderr and LOADER not in result.stdout + result.stderr
            assert "timeout" in line.lower() or "connection" in line.lower(), line


def test_warehouse_status_and_up_print_no_password_dsn_does(warehouse, settings):
    password = conninfo_to_dict(warehouse)["password"]
    key_value = make_conninfo("", **conninfo_to_dict(warehouse))  # the same server, libpq key=value form
    assert not key_value.startswith("postgresql://") and password in key_value
    status = run_cli("warehouse", "status", env={"TTHC_WAREHOUSE_DSN": key_value})
    assert status.returncode == 0, status.stderr
    assert password not in status.stdout + status.stderr
    assert json.loads(status.stdout)["dsn"].startswith("postgresql://")

    up = run_cli("warehouse", "up")  # docker-compose's bootstrap runs it: its output reaches the container logs
    assert up.returncode == 0, up.stderr
    assert password not in up.stdout + up.stderr and "…@" in up.stdout
    full = run_cli("warehouse", "dsn")  # the one place the full DSN is printed, on request
    assert full.returncode == 0 and password in full.stdout


def test_the_error_handler_redacts_what_an_exception_says(monkeypatch, tmp_path, capsys):
    from tthc import TthcError, cli, coverage

    monkeypatch.setenv("TTHC_HOME", str(tmp_path))
    monkeypatch.setenv("TTHC_LOADER_PASSWORD", LOADER)
    monkeypatch.delenv("TTHC_DEBUG", raising=False)
    (tmp_path / "secrets.json").write_text(json.dumps({"TTHC_PII_KEY": "generated-pii-key-1234"}))
    texts = [f"cannot reach postgresql://tthc_loader:{PASSWORD}@db:5432/tthc",
             f"invalid connection option host=db password={PASSWORD}",
             f"the server said: {LOADER} is not a valid token",  # echoed bare: known from the environment
             "key generated-pii-key-1234 refused"]  # echoed bare: known from secrets.json
    for error in (RuntimeError, TthcError):
        for text in texts:
            def fail(args, text=text, error=error):
                raise error(text)

            monkeypatch.setattr(coverage, "cli_coverage", fail)
            assert cli.main(["coverage"]) == 1
            err = capsys.readouterr().err
            assert err.startswith("tthc: error:") and "…" in err
            for secret in (PASSWORD, LOADER, "generated-pii-key-1234"):
                assert secret not in err, err


# --- B. wrong arguments and settings: refused in one line, before anything connects --------------------------
@pytest.mark.parametrize("since,until", [("2025-03-03T01:00:00+07:00", "2025-03-03T01:00:00+07:00"),
                                         ("2025-03-03T02:00:00+07:00", "2025-03-03T01:00:00+07:00"),
                                         ("2025-03-03T01:00:00+07:00", "2025-03-02T18:00:00+00:00")])  # the same instant
def test_extract_refuses_an_empty_or_reversed_window(tmp_path, since, until):
    result = cli(tmp_path, "extract", "onestop", "--since", since, "--until", until)
    assert result.returncode == 2
    assert "--since must be before --until" in one_line(result)


def test_the_province_list_is_vietnams():
    from tthc.provinces import AFTER_2025, BEFORE_2025, MERGED_INTO
    from tthc.sources.sim.geography import PROVINCE_NAMES

    assert len(BEFORE_2025) == 63 and all(len(c) == 2 and c.isdigit() for c in BEFORE_2025)
    assert len(AFTER_2025) == 34
    merged = [old for p in AFTER_2025.values() for old in p.merged]
    assert sorted(merged) == sorted(BEFORE_2025)  # every old province in exactly one new one
    assert all(p.code == p.merged[0] and p.code in BEFORE_2025 for p in AFTER_2025.values())  # no new code
    assert sum(len(p.merged) == 1 for p in AFTER_2025.values()) == 11  # 11 unchanged, 23 merged
    assert sum(len(p.merged) == 3 for p in AFTER_2025.values()) == 6
    assert set(MERGED_INTO) == set(BEFORE_2025)
    for code in ("40", "38", "42", "01", "79"):  # the simulator's names agree
        assert BEFORE_2025[code] == PROVINCE_NAMES[code]
    assert MERGED_INTO["40"] == "40" and MERGED_INTO["38"] == "38"  # Nghe An and Thanh Hoa: unchanged
    assert MERGED_INTO["10"] == "15" and MERGED_INTO["27"] == "24" and MERGED_INTO["64"] == "52"
    assert AFTER_2025["79"].merged == ("79", "74", "77") and AFTER_2025["15"].name == "Lào Cai"


@pytest.mark.parametrize("env,args,code", [
    ({"TTHC_PROVINCE": "99"}, ("warehouse", "dsn"), 1),
    ({"TTHC_PROVINCE": "03"}, ("warehouse", "dsn"), 1),  # 2 digits, but no province had it
    ({"TTHC_PROVINCES": "40,99"}, ("warehouse", "dsn"), 1),
    ({}, ("extract", "onestop", "--province", "99", *WINDOW), 2),
    ({}, ("extract", "onestop", "--province", "40,99", *WINDOW), 2),
    ({}, ("simulate", "--seed", "1", "--start", "2025-03-03", "--days", "1", "--province", "99", "--out", "{out}"), 2),
    ({}, ("demo", "--provinces", "40,99"), 2),
])
def test_an_unknown_province_is_refused(tmp_path, env, args, code):
    result = cli(tmp_path, *(a.format(out=tmp_path / "sim") for a in args), **env)
    assert result.returncode == code
    line = one_line(result)
    assert "province code" in line and ("'99'" in line or "'03'" in line), line
    assert not (tmp_path / "sim").exists()


def test_every_known_province_is_accepted(tmp_path):
    from tthc.provinces import BEFORE_2025

    result = cli(tmp_path, "warehouse", "dsn", TTHC_PROVINCES=",".join(BEFORE_2025))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("env,variable", [
    ({"TTHC_ONESTOP_URL": "http//127.0.0.1:8601"}, "TTHC_ONESTOP_URL"),
    ({"TTHC_PORTAL_URL": "ftp://127.0.0.1:8603"}, "TTHC_PORTAL_URL"),
    ({"TTHC_POPULATION_URL": "http://127.0.0.1:86020"}, "TTHC_POPULATION_URL"),
    ({"TTHC_ONESTOP_URL": "http://127.0.0.1:8601/x?y=1"}, "TTHC_ONESTOP_URL"),
    ({"TTHC_PROVINCES": "40,38", "TTHC_ONESTOP_URL_38": "127.0.0.1:8611"}, "TTHC_ONESTOP_URL_38"),
    ({"TTHC_PROVINCES": "40,38", "TTHC_PORTAL_URL_38": f"http://u:{PASSWORD}@:8613"}, "TTHC_PORTAL_URL_38"),
])
def test_a_malformed_source_url_is_refused_before_connecting(tmp_path, env, variable):
    for args in (("coverage",), ("extract", "all", *WINDOW)):
        result = cli(tmp_path, *args, **env)  # the warehouse's port is closed: connecting would say so
        assert result.returncode == 1
        line = one_line(result)
        assert line.startswith(f"tthc: error: {variable} must be an http(s) URL"), line
        assert "connection" not in line.lower() and PASSWORD not in line


@pytest.mark.parametrize("dsn", [
    f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/tthc",
    f"postgresql://postgres:{PASSWORD}@127.0.0.1:99999/tthc",
    f"mysql://postgres:{PASSWORD}@127.0.0.1:1/tthc",
    f"host=127.0.0.1 port=1 pasword={PASSWORD}",  # a misspelt option
    f"host=127.0.0.1 port=1 password={PASSWORD} dbname",  # libpq quotes the fragment it cannot read
    f"postgresql://postgres:%zz{PASSWORD}@127.0.0.1:1/tthc",  # ... here, the password itself
])
def test_a_malformed_warehouse_dsn_is_refused_at_load(tmp_path, dsn):
    for args in (("warehouse", "dsn"), ("coverage",)):
        result = cli(tmp_path, *args, TTHC_WAREHOUSE_DSN=dsn)
        assert result.returncode == 1 and not result.stdout
        line = one_line(result)
        assert line.startswith("tthc: error: TTHC_WAREHOUSE_DSN"), line
        assert PASSWORD not in line and "connection refused" not in line.lower()


# --- C. files only their owner reads -----------------------------------------------------------------------
def test_secrets_json_is_created_0600(tmp_path, monkeypatch, no_chmod):
    from tthc import config

    monkeypatch.setenv("TTHC_HOME", str(tmp_path))
    monkeypatch.delenv("TTHC_API_KEY", raising=False)
    settings = config.load()
    key = settings.secret("TTHC_API_KEY")
    path = tmp_path / "secrets.json"
    assert mode(path) == 0o600
    assert json.loads(path.read_text()) == {"TTHC_API_KEY": key}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_older_0644_secrets_json_becomes_0600(tmp_path, monkeypatch, no_chmod):
    from tthc import config

    monkeypatch.setenv("TTHC_HOME", str(tmp_path))
    monkeypatch.delenv("TTHC_PII_KEY", raising=False)
    path = tmp_path / "secrets.json"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644), "w") as fh:  # as the code before wrote it
        fh.write(json.dumps({"TTHC_API_KEY": "kept"}))
    assert mode(path) == 0o644
    settings = config.load()
    monkeypatch.delenv("TTHC_API_KEY", raising=False)
    assert settings.secret("TTHC_API_KEY") == "kept"  # reading one that exists rewrites the file 0600
    assert mode(path) == 0o600 and json.loads(path.read_text()) == {"TTHC_API_KEY": "kept"}
    settings.secret("TTHC_PII_KEY")
    assert mode(path) == 0o600 and set(json.loads(path.read_text())) == {"TTHC_API_KEY", "TTHC_PII_KEY"}


def test_simulated_stores_and_truth_are_0600(tmp_path, no_chmod):
    from tthc.sources.sim import simulate
    from tthc.sources.store import SOURCES, store_path

    out = tmp_path / "sim"
    simulate(3, dt.date(2025, 3, 3), 1, out, dossiers_per_year=5000, faults="default")
    files = [store_path(out, s) for s in SOURCES] + [out / "truth.json", out / "faults.json"]
    assert {f.name: oct(mode(f)) for f in files} == {f.name: oct(0o600) for f in files}
    # again into the same folder (files that exist): still 0600
    simulate(3, dt.date(2025, 3, 3), 1, out, dossiers_per_year=5000, faults="default")
    assert all(mode(f) == 0o600 for f in files)


def test_the_servers_postgres_log_is_0600(warehouse, settings):
    if not settings.embedded:
        pytest.skip("TTHC_WAREHOUSE_DSN: no embedded server, no postgres.log")
    assert mode(settings.home / "postgres.log") == 0o600  # created 0600 before the server started


def test_a_new_postgres_log_is_created_0600(tmp_path, no_chmod):
    from tthc.warehouse import EmbeddedServer

    EmbeddedServer(bare_settings(tmp_path))._private_log()
    assert mode(tmp_path / "postgres.log") == 0o600


def test_an_older_postgres_log_is_made_0600(tmp_path):
    from tthc.warehouse import EmbeddedServer

    log = tmp_path / "postgres.log"
    log.write_text("2025-03-03 LOG:  statement: ALTER ROLE x PASSWORD ...\n")
    log.chmod(0o644)
    EmbeddedServer(bare_settings(tmp_path))._private_log()
    assert mode(log) == 0o600 and "ALTER ROLE" in log.read_text()  # kept, appended to


def test_airflow_logs_are_private(tmp_path, monkeypatch):
    import configparser

    from tthc import config
    from tthc.airflow_env import airflow_settings, write_airflow_cfg

    monkeypatch.setenv("TTHC_HOME", str(tmp_path))
    settings = config.load()
    values = airflow_settings(settings)
    assert values["AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS"] == "0o600"
    assert values["AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS"] == "0o700"
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(write_airflow_cfg(settings))  # the plain `airflow` CLI reads the same
    assert cfg.get("logging", "file_task_handler_new_file_permissions") == "0o600"
    assert cfg.get("logging", "file_task_handler_new_folder_permissions") == "0o700"
    # and Airflow, configured so, creates a task's log 0600 in folders 0700 (umask 022 notwithstanding)
    probe = ("import os, stat; os.umask(0o022); from airflow.sdk.log import init_log_file; "
             "p = init_log_file('dag_id=d/run_id=r/task_id=t/attempt=1.log'); "
             "print(oct(stat.S_IMODE(p.stat().st_mode)), oct(stat.S_IMODE(p.parent.stat().st_mode)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **values, "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "logs")})
    assert result.stdout.split() == ["0o600", "0o700"], result.stderr[-2000:]


# --- D. a generated secret can be dropped again -------------------------------------------------------------
def test_discard_secret(tmp_path, monkeypatch, no_chmod):
    from tthc import config

    monkeypatch.setenv("TTHC_HOME", str(tmp_path))
    for name in ("TTHC_INSPECTOR_A_PASSWORD", "TTHC_INSPECTOR_B_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    settings = config.load()
    first = settings.secret("TTHC_INSPECTOR_A_PASSWORD")
    kept = settings.secret("TTHC_INSPECTOR_B_PASSWORD")
    path = tmp_path / "secrets.json"
    assert settings.discard_secret("TTHC_INSPECTOR_A_PASSWORD") is True
    stored = json.loads(path.read_text())
    assert stored == {"TTHC_INSPECTOR_B_PASSWORD": kept} and first not in path.read_text()
    assert mode(path) == 0o600 and [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert settings.discard_secret("TTHC_INSPECTOR_A_PASSWORD") is False  # twice: nothing to drop
    assert settings.secret("TTHC_INSPECTOR_A_PASSWORD") != first  # a later add gets a new one
    # a value from the environment is not the file's: nothing to drop, the environment is left alone
    monkeypatch.setenv("TTHC_INSPECTOR_C_PASSWORD", "from-the-environment")
    assert settings.secret("TTHC_INSPECTOR_C_PASSWORD") == "from-the-environment"
    assert settings.discard_secret("TTHC_INSPECTOR_C_PASSWORD") is False
    assert os.environ["TTHC_INSPECTOR_C_PASSWORD"] == "from-the-environment"
    assert set(json.loads(path.read_text())) == {"TTHC_INSPECTOR_A_PASSWORD", "TTHC_INSPECTOR_B_PASSWORD"}


def test_discard_secret_without_a_secrets_file(tmp_path):
    settings = bare_settings(tmp_path / "none")
    assert settings.discard_secret("TTHC_INSPECTOR_X_PASSWORD") is False
    assert not (tmp_path / "none").exists()
