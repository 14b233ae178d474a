"""Running the DAGs on this machine: in-process `dag.test()` runs (demo, tests) and `make airflow`.

Airflow is imported only inside the functions: the rest of the package never needs it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys

from tthc import config as config_mod
from tthc.airflow_env import ROOT, local_airflow_env


def prepare(settings: config_mod.Settings) -> None:
    """Point this process's Airflow at $TTHC_HOME/airflow (SQLite metadata DB, migrated once)."""
    env = local_airflow_env(settings)
    os.environ.update(env)
    home = env["AIRFLOW_HOME"]
    os.makedirs(home, exist_ok=True)
    if not os.path.exists(os.path.join(home, "airflow.db")):
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                       env={**os.environ, **env})


class DagRunner:
    """Loads dags/ once and runs DAG intervals with dag.test() (a real Airflow run, in process)."""

    def __init__(self, settings: config_mod.Settings | None = None, quiet: bool = True):
        prepare(settings or config_mod.load())
        from airflow.dag_processing.dagbag import DagBag

        self.bag = DagBag(dag_folder=str(ROOT / "dags"))
        if self.bag.import_errors:
            raise RuntimeError(f"DAG import errors: {self.bag.import_errors}")
        if quiet:
            import warnings

            warnings.filterwarnings("ignore", module="sqlalchemy")
            warnings.filterwarnings("ignore", message=".*uselist=False.*")
            for name in ("airflow", "airflow.task", "cosmos", "tthc", "httpx", "sqlalchemy"):
                logging.getLogger(name).setLevel(logging.ERROR)

    def run(self, dag_id: str, interval_end: dt.datetime) -> str:
        """Run the data interval that ends at `interval_end` (dag.test takes it as the run's date, as the
        scheduler does); return the DagRun state ('success' or 'failed')."""
        dag = self.bag.get_dag(dag_id)
        run = dag.test(logical_date=interval_end.astimezone(dt.UTC))
        return str(run.state)


def cli_airflow() -> int:
    """`make airflow`: airflow standalone on 127.0.0.1, wired to the embedded warehouse and local sources."""
    from tthc.bootstrap import bootstrap

    settings = config_mod.load()
    bootstrap(settings)
    env = {**os.environ, **local_airflow_env(settings)}
    print(f"Airflow UI: http://127.0.0.1:{env['AIRFLOW__API__PORT']} (credentials printed by airflow standalone);"
          " start the sources with: tthc sources serve --data DIR", flush=True)
    return subprocess.call([sys.executable, "-m", "airflow", "standalone"], env=env)
