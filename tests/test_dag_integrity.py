"""Every DAG file imports cleanly and follows the house rules; docker-compose.yml validates."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def dag_problems(folder: Path) -> list[str]:
    """Import every file with Airflow's DagBag while network connections are forbidden."""
    from airflow.dag_processing.dagbag import DagBag

    real_connect = socket.socket.connect

    def no_network(self, address):
        raise AssertionError(f"top-level network call to {address} while parsing DAGs")

    socket.socket.connect = no_network
    try:
        bag = DagBag(dag_folder=str(folder))
    finally:
        socket.socket.connect = real_connect
    problems = [f"{path}: {err.strip().splitlines()[-1]}" for path, err in bag.import_errors.items()]
    for dag_id, dag in bag.dags.items():
        source = Path(dag.fileloc).read_text()
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if "catchup=" not in source:
            problems.append(f"{dag_id}: catchup not explicit")
        if dag.max_active_runs != 1:
            problems.append(f"{dag_id}: max_active_runs should be 1")
        for t in dag.tasks:
            if t.owner in (None, "", "airflow"):
                problems.append(f"{dag_id}.{t.task_id}: no owner")
            if (t.retries or 0) < 1:
                problems.append(f"{dag_id}.{t.task_id}: no retries")
            if t.execution_timeout is None:
                problems.append(f"{dag_id}.{t.task_id}: no execution_timeout")
        if Path(dag.fileloc).name.startswith("dbt_"):
            problems.append(f"{dag_id}: DAG files must not be named dbt_*.py")
    return problems


def test_project_dags_import_and_follow_the_rules():
    assert dag_problems(ROOT / "dags") == []
    from airflow.dag_processing.dagbag import DagBag

    assert {"onestop_extract", "portal_extract", "population_verify", "warehouse_build", "sync_gap_checks",
            "inspector_report"} <= set(DagBag(str(ROOT / "dags")).dags)


def test_dag_files_only_wire_up():
    for path in (ROOT / "dags").glob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) < 80, path
        for client in ("psycopg", "httpx", "requests", "sqlite3"):
            assert f"import {client}" not in text, f"{path} imports {client}"


def test_empty_folder_passes_and_broken_file_fails(tmp_path):
    assert dag_problems(tmp_path) == []
    (tmp_path / "broken.py").write_text("from airflow.sdk import dag\n\n@dag(schedule=None\ndef oops(): pass\n")
    problems = dag_problems(tmp_path)
    assert len(problems) == 1 and "broken.py" in problems[0]


def test_dag_without_retries_or_tags_is_reported(tmp_path):
    (tmp_path / "sloppy.py").write_text(
        "import datetime as dt\nfrom airflow.sdk import dag, task\n\n"
        "@dag(schedule=None, start_date=dt.datetime(2025, 1, 1))\n"
        "def sloppy():\n    @task\n    def t():\n        return 1\n    t()\n\nsloppy()\n")
    problems = dag_problems(tmp_path)
    assert any("no tags" in p for p in problems) and any("catchup" in p for p in problems)
    assert any("no retries" in p for p in problems)


def test_top_level_network_call_is_an_import_error(tmp_path):
    (tmp_path / "chatty.py").write_text("# an airflow dag file\nimport socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\n")
    problems = dag_problems(tmp_path)
    assert problems and "network" in problems[0]


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_env_example_names_every_variable_the_compose_file_needs():
    import re

    needed = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))
    assert needed and needed == set(env_example())


def test_docker_compose_file_validates():
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose (Debian's package) is needed: make test installs it"
    env = {**os.environ, **env_example()}  # the newcomer's path: cp .env.example .env
    result = subprocess.run([tool, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True,
                            text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    services = subprocess.run([tool, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
                              capture_output=True, text=True, env=env, cwd=ROOT).stdout.split()
    for service in ("postgres", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "onestop-api", "population-api", "portal-api", "metabase", "metabase-setup"):
        assert service in services
    celery_env = {**env, "AIRFLOW_EXECUTOR": "CeleryExecutor"}
    celery = subprocess.run([tool, "-f", str(ROOT / "docker-compose.yml"), "--profile", "celery", "config"],
                            capture_output=True, text=True, env=celery_env, cwd=ROOT)
    assert celery.returncode == 0, celery.stderr
    config = yaml.safe_load(celery.stdout)["services"]
    celery_only = {name for name, service in config.items() if service.get("profiles") == ["celery"]}
    assert celery_only == {"redis", "airflow-worker-1", "airflow-worker-2"}  # `up` without the profile skips them
    for name in ("airflow-worker-1", "airflow-worker-2", "airflow-scheduler"):  # one executor, one broker
        assert config[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert config[name]["environment"]["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert str(config["airflow-worker-1"]["command"]).startswith("celery worker")
    from tthc.dag_support import TRANSFORMER_CONN, WAREHOUSE_CONN

    for name in ("airflow-scheduler", "airflow-worker-1"):  # every connection the DAGs' tasks look up
        for conn_id in (WAREHOUSE_CONN, TRANSFORMER_CONN, "tthc_onestop", "tthc_population", "tthc_portal"):
            assert f"AIRFLOW_CONN_{conn_id.upper()}" in config[name]["environment"], (name, conn_id)
    # a broken file is caught
    broken = subprocess.run([tool, "-f", "-", "config", "-q"], input="services: [not, a, mapping]\n",
                            capture_output=True, text=True, env=env)
    assert broken.returncode != 0


def test_make_airflow_environment_is_loopback_and_self_consistent(warehouse, settings, monkeypatch):
    """What `make airflow` hands to `airflow standalone`: API on loopback, workers reporting to that same
    address, few processes, and this venv's `airflow` first on PATH (standalone spawns it by name)."""
    from tthc.airflow_local import standalone_env

    monkeypatch.setenv("TTHC_AIRFLOW_PORT", "8795")
    env = standalone_env(settings)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1" and env["AIRFLOW__API__PORT"] == "8795"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8795/execution/"
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 4
    first = Path(env["PATH"].split(os.pathsep)[0])
    assert (first / "airflow").exists() and (first / "tthc").exists()
    for source in ("ONESTOP", "POPULATION", "PORTAL"):
        assert env[f"AIRFLOW_CONN_TTHC_{source}"]
    assert "tthc_loader" in env["AIRFLOW_CONN_TTHC_WAREHOUSE"]


def test_airflow_cfg_holds_the_project_settings_and_secret_files_are_private(warehouse, settings):
    """The plain `airflow` CLI (only AIRFLOW_HOME set) reads the project's settings; the JWT signing key is
    long and lives in the environment only; the metadata DB and airflow.cfg are the owner's alone."""
    import configparser

    from tthc.airflow_env import local_airflow_env
    from tthc.airflow_local import prepare

    prepare(settings)
    home = settings.home / "airflow"
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(home / "airflow.cfg")
    assert cfg.get("core", "dags_folder") == str(ROOT / "dags")
    assert cfg.get("core", "load_examples") == "False" and cfg.get("core", "parallelism") == "4"
    assert cfg.get("logging", "logging_level") == "INFO"
    jwt = local_airflow_env(settings)["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert len(jwt) >= 64 and jwt not in (home / "airflow.cfg").read_text()
    for name in ("airflow.cfg", "airflow.db"):
        assert (home / name).stat().st_mode & 0o077 == 0, name
