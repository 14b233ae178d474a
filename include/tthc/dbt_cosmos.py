"""The `warehouse_build` DAG's dbt part, rendered by astronomer-cosmos from dbt_project/ (one Airflow
task per model, its tests after it). Kept here so the DAG file stays a few lines; Airflow and Cosmos are
imported inside the functions only.

Execution mode: ``TTHC_COSMOS_MODE`` = ``local`` (a dbt process per model, in-process dbtRunner) or
``watcher`` (one ``dbt build`` whose progress per-model sensor tasks follow). README "dbt in Airflow"
has the measured figures behind the default.
"""

from __future__ import annotations

import os
from pathlib import Path

from tthc.load.entities import ALL_ENTITIES
from tthc.transform import project_dir, target_dir

TRANSFORMER_CONN = "tthc_transformer"
MARTS_URI = "tthc://warehouse/marts"  # the whole star schema (postgres:// URIs name a single table)
DEFAULT_MODE = "watcher"  # 58 s against 115 s for LOCAL under dag.test (README, "dbt in Airflow")


def raw_asset_uris() -> list[str]:
    """The raw tables the marts are built from: the extract DAGs' outlets."""
    return [e.asset_uri for e in ALL_ENTITIES]


def ensure_manifest() -> Path:
    """dbt's manifest, which Cosmos reads to render the graph (no `dbt ls` per parse): parsed again when
    a project file is newer. Parsing needs no database, only the profile's variables to render."""
    target = target_dir() / "manifest.json"
    newest = max(p.stat().st_mtime for p in project_dir().rglob("*")
                 if p.is_file() and "target" not in p.parts and "logs" not in p.parts)
    if target.exists() and target.stat().st_mtime >= newest:
        return target
    from dbt.cli.main import dbtRunner

    placeholders = {"TTHC_DBT_HOST": "127.0.0.1", "TTHC_DBT_PORT": "5432", "TTHC_DBT_DBNAME": "tthc",
                    "DBT_ENV_SECRET_PASSWORD": "unused-by-parse"}
    saved = {k: os.environ.get(k) for k in placeholders}
    for k, v in placeholders.items():
        os.environ.setdefault(k, v)
    try:
        result = dbtRunner().invoke(["--quiet", "parse", "--project-dir", str(project_dir()), "--profiles-dir",
                                     str(project_dir())])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return target


def dbt_task_group(mode: str | None = None):
    """The dbt project as a Cosmos task group: seeds, models (each followed by its tests)."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    mode = (mode or os.environ.get("TTHC_COSMOS_MODE") or DEFAULT_MODE).lower()
    if mode not in ("local", "watcher"):
        raise ValueError(f"TTHC_COSMOS_MODE must be local or watcher, got {mode!r}")
    # the DAG opens the build window in a task before these (one window for every model of the run)
    operator_args: dict = {"install_deps": False, "vars": {"open_window": False}}
    if mode == "watcher":  # consumers poke the producer's results; they never run before it (see below)
        operator_args.update({"deferrable": False, "poke_interval": 1})
    group = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path=project_dir(), manifest_path=ensure_manifest(),
                                     install_dbt_deps=False),
        profile_config=ProfileConfig(
            profile_name="tthc", target_name="warehouse",
            profile_mapping=PostgresUserPasswordProfileMapping(conn_id=TRANSFORMER_CONN,
                                                               profile_args={"schema": "staging", "threads": 2})),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER if mode == "watcher" else ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER),
        # the marts_built task announces one stable Asset: Cosmos's own carry the server's host and port
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH,
                                   emit_datasets=False, exclude=["resource_type:unit_test"]),
        operator_args=operator_args,
    )
    if mode == "watcher":
        # Cosmos lets consumer sensors start beside the producer; a runner with one slot (dag.test, a
        # busy pool) can then start a sensor first and wait forever. The producer goes first instead.
        tasks = list(group.iter_tasks())
        producer = next(t for t in tasks if t.task_id.endswith("dbt_producer_watcher"))
        for task in tasks:
            if task is not producer and not task.task_id.endswith("_done") and producer not in task.upstream_list:
                producer >> task
    return group
