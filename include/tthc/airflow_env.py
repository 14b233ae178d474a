"""Environment for running the DAGs locally (dag.test in the demo and tests, `make airflow`)."""

from __future__ import annotations

import os
from pathlib import Path

from tthc import config as config_mod

ROOT = Path(__file__).resolve().parents[2]


def airflow_settings(settings: config_mod.Settings) -> dict[str, str]:
    home = settings.home / "airflow"
    port = os.environ.get("TTHC_AIRFLOW_PORT", "8080")
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": port,
        # task workers report to the API server's execution API: the same loopback address and port
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # task logs at INFO: the loader writes one line per window (rows read/inserted/updated/...)
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # task (and DAG processor) logs under $TTHC_HOME/airflow/logs are the owner's alone: they hold what
        # tasks print and the errors they raise (Airflow's defaults are 0o664 and 0o775)
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


SECRET_SETTINGS = ("AIRFLOW__API_AUTH__JWT_SECRET",)  # environment only, never written to airflow.cfg


def write_airflow_cfg(settings: config_mod.Settings, overrides: dict[str, str] | None = None) -> Path:
    """Write the project's settings into $AIRFLOW_HOME/airflow.cfg (mode 0600), so the plain `airflow` CLI
    with only AIRFLOW_HOME set sees the same configuration as the demo and `make airflow`."""
    import configparser

    values = {**airflow_settings(settings), **(overrides or {})}
    path = Path(values["AIRFLOW_HOME"]) / "airflow.cfg"
    cfg = configparser.ConfigParser(interpolation=None)
    if path.exists():
        cfg.read(path)
    for name, value in values.items():
        if name.startswith("AIRFLOW__") and name not in SECRET_SETTINGS:
            section, key = name.removeprefix("AIRFLOW__").lower().split("__", 1)
            if not cfg.has_section(section):
                cfg.add_section(section)
            cfg.set(section, key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        cfg.write(f)
    path.chmod(0o600)
    return path


def local_airflow_env(settings: config_mod.Settings) -> dict[str, str]:
    """Airflow settings plus AIRFLOW_CONN_* for the embedded warehouse (as tthc_loader) and local sources,
    and the API's JWT signing key (64 characters, kept in secrets.json)."""
    from tthc.dag_support import airflow_env
    from tthc.sources.serve import source_urls
    from tthc.warehouse import role_dsn

    return {**airflow_settings(settings),
            "AIRFLOW__API_AUTH__JWT_SECRET": settings.secret("TTHC_AIRFLOW_JWT_SECRET", nbytes=48),
            **airflow_env(role_dsn(settings, "tthc_loader"), settings.api_key, source_urls(settings),
                          role_dsn(settings, "tthc_transformer"),
                          {p: settings.source_urls(p) for p in settings.provinces[1:]})}
