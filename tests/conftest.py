"""Shared fixtures: one real PostgreSQL for the session (embedded, or TTHC_WAREHOUSE_DSN)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")


@pytest.fixture(scope="session")
def tthc_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("tthc_home")
    os.environ["TTHC_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def settings(tthc_home):
    from tthc import config

    return config.load()


@pytest.fixture(scope="session")
def warehouse(settings):
    """Admin DSN of a bootstrapped warehouse; the embedded server is stopped at the end."""
    from tthc.bootstrap import bootstrap
    from tthc.warehouse import EmbeddedServer

    dsn = bootstrap(settings)
    yield dsn
    if settings.embedded:
        EmbeddedServer(settings).down()


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tthc.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)
