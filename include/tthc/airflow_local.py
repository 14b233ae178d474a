"""Running the DAGs on this machine: in-process `dag.test()` runs (demo, tests) and `make airflow`.

Airflow is imported only inside the functions: the rest of the package never needs it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from tthc import config as config_mod
from tthc.airflow_env import ROOT, local_airflow_env, write_airflow_cfg


def prepare(settings: config_mod.Settings) -> None:
    """Point this process's Airflow at $TTHC_HOME/airflow (SQLite metadata DB, migrated once)."""
    env = local_airflow_env(settings)
    os.environ.update(env)
    home = env["AIRFLOW_HOME"]
    os.makedirs(home, exist_ok=True)
    if not os.path.exists(os.path.join(home, "airflow.db")):
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                       env={**os.environ, **env})
    write_airflow_cfg(settings)
    for name in ("airflow.db", "simple_auth_manager_passwords.json.generated"):
        if os.path.exists(os.path.join(home, name)):
            os.chmod(os.path.join(home, name), 0o600)


def scheduler_metadata(settings: config_mod.Settings) -> str | None:
    """`make airflow`'s metadata database: `airflow_meta` on the embedded PostgreSQL server (created once);
    None with an external warehouse (TTHC_WAREHOUSE_DSN), where SQLite stays. dag.test() runs keep SQLite."""
    if not settings.embedded:
        return None
    from tthc.bootstrap import ensure_database
    from tthc.warehouse import admin_dsn, on_database

    dsn = on_database(admin_dsn(settings, start=True), "airflow_meta")
    ensure_database(dsn)
    return dsn.replace("postgresql://", "postgresql+psycopg2://", 1)


class DagRunner:
    """Loads dags/ once and runs DAG intervals with dag.test() (a real Airflow run, in process)."""

    def __init__(self, settings: config_mod.Settings | None = None, quiet: bool = True):
        prepare(settings or config_mod.load())
        if quiet:  # the demo prints its own lines; a scheduler's task logs stay at INFO
            os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
        from airflow.dag_processing.dagbag import DagBag

        if quiet:  # before the DAGs are parsed: Cosmos and Airflow's config parser warn while they load
            self._quiet()
        self.bag = DagBag(dag_folder=str(ROOT / "dags"))
        if self.bag.import_errors:
            raise RuntimeError(f"DAG import errors: {self.bag.import_errors}")
        if quiet:
            self._quiet()
        self._synced: dict[str, object] = {}  # bundle name -> the BundleDagBag this runner wrote to the DB
        # quiet: a failed task's traceback goes to this file, not between the demo's lines
        self.task_log = Path(os.environ["AIRFLOW_HOME"]) / "logs" / "dag_test_tasks.log" if quiet else None

    @staticmethod
    def _quiet() -> None:
        import warnings

        warnings.filterwarnings("ignore", module="sqlalchemy")
        warnings.filterwarnings("ignore", message=".*uselist=False.*")
        for name in ("airflow", "airflow.task", "cosmos", "tthc", "httpx", "sqlalchemy"):
            logging.getLogger(name).setLevel(logging.ERROR)

    def run(self, dag_id: str, interval_end: dt.datetime, conf: dict | None = None) -> str:
        """Run the data interval that ends at `interval_end` (dag.test takes it as the run's date, as the
        scheduler does); return the DagRun state ('success' or 'failed')."""
        dag = self.bag.get_dag(dag_id)
        with self._parsed_once(dag_id), self._task_logs_to_file():
            run = dag.test(logical_date=interval_end.astimezone(dt.UTC), run_conf=conf)
        return str(run.state)

    @contextlib.contextmanager
    def _task_logs_to_file(self):
        """Quiet runs: what the tasks log (Airflow's structlog writes to the current ``sys.stdout``) and
        dag.test()'s own logger go to ``task_log``."""
        if self.task_log is None:
            yield
            return
        self.task_log.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.task_log)
        handler.setLevel(logging.WARNING)
        loggers = [logging.getLogger(n) for n in ("task", "airflow.sdk.definitions.dag")]
        saved = [(lg.handlers[:], lg.propagate) for lg in loggers]
        for lg in loggers:
            lg.handlers, lg.propagate = [handler], False
        try:
            with open(self.task_log, "a") as out, contextlib.redirect_stdout(out):
                yield
        finally:
            for lg, (handlers, propagate) in zip(loggers, saved, strict=True):
                lg.handlers, lg.propagate = handlers, propagate
            handler.close()

    @contextlib.contextmanager
    def _parsed_once(self, dag_id: str):
        """dag.test() re-parses the whole dags/ bundle (the Cosmos DAG too) and writes it to the metadata DB
        on every call: over a second each. Here that happens in a runner's first call only; later calls
        get the bag parsed then and skip the write. Safe: the files do not change under a runner (it runs
        the DAG objects it parsed at start anyway), the write is idempotent (one row per DAG hash) and what
        it wrote (serialized DAGs, versions, assets) stays in the DB. A DAG with no version in the DB is
        parsed and written as before; each stand-in serves one call; without these internals, plain."""
        from unittest import mock

        try:
            from airflow.dag_processing import dagbag as dagbag_mod
            from airflow.models.dag_version import DagVersion

            real_bag, real_sync = dagbag_mod.BundleDagBag, dagbag_mod.sync_bag_to_db
        except (ImportError, AttributeError):
            real_bag = None
        if real_bag is None:
            yield
            return
        synced = self._synced
        handed: list[object] = []  # the cached bag given to this call, whose write is then skipped

        def in_db() -> bool:
            try:
                return DagVersion.get_version(dag_id) is not None
            except Exception:  # noqa: BLE001 (another Airflow: parse and write as dag.test() does)
                return False

        def bundle_dag_bag(*args, **kwargs):
            cached = synced.get(kwargs.get("bundle_name"))
            if cached is not None and not handed and in_db():
                handed.append(cached)
                return cached
            return real_bag(*args, **kwargs)

        def sync_bag_to_db(dagbag, bundle_name, *args, **kwargs):
            if len(handed) == 1 and dagbag is handed[0]:
                handed.append(None)  # once: a second write of that bag would be real
                return None
            result = real_sync(dagbag, bundle_name, *args, **kwargs)
            if isinstance(dagbag, real_bag) and not dagbag.import_errors:
                synced[bundle_name] = dagbag
            return result

        with mock.patch.object(dagbag_mod, "BundleDagBag", bundle_dag_bag), \
                mock.patch.object(dagbag_mod, "sync_bag_to_db", sync_bag_to_db):
            yield


def standalone_env(settings: config_mod.Settings) -> dict[str, str]:
    env = {**os.environ, **local_airflow_env(settings)}
    # standalone starts its components as `airflow ...` from PATH: this venv's, even when not activated
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def cli_airflow(demo_sources: Path = Path("out/sources")) -> int:
    """`make airflow`: airflow standalone on 127.0.0.1, wired to the embedded warehouse and to the local
    source APIs, which it serves for as long as Airflow runs (the demo's simulated days when there are
    some, else three simulated days of its own)."""
    from tthc.bootstrap import bootstrap
    from tthc.sources.serve import SourcesProcess, data_end
    from tthc.sources.sim import simulate

    settings = config_mod.load()
    bootstrap(settings)
    data_dir = demo_sources if (demo_sources / "truth.json").exists() else settings.home / "sources"
    if not (data_dir / "truth.json").exists():
        simulate(7, dt.date(2025, 3, 3), 3, data_dir, faults="default", province=settings.province)
    prepare(settings)  # airflow.cfg with the project's settings, secret files 0600
    env = standalone_env(settings)
    metadata = scheduler_metadata(settings)
    if metadata:  # the scheduler's metadata in PostgreSQL: SQLite refuses backfills while the scheduler writes
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=env)
        write_airflow_cfg(settings, {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata})
    # the schedule spans the simulated period only: unpausing never runs the wall-clock hour against it
    period = json.loads((data_dir / "truth.json").read_text())["period"]
    env.setdefault("TTHC_DAG_START", period["start"])
    env.setdefault("TTHC_DAG_END", period["end"])
    os.umask(0o077)  # what standalone writes (its password file, logs) is the owner's alone
    with SourcesProcess(data_dir):
        print(f"sources    {settings.onestop_url}, {settings.population_url}, {settings.portal_url} "
              f"serving {data_dir} (simulated now: {data_end(data_dir).isoformat()})", flush=True)
        print(f"Airflow UI http://127.0.0.1:{env['AIRFLOW__API__PORT']} (credentials printed by airflow standalone)."
              " The DAGs start paused; trigger a run for a simulated hour, or backfill the simulated days.",
              flush=True)
        # its own process group, so a stop reaches every component it started
        airflow = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, start_new_session=True)
        previous = signal.signal(signal.SIGTERM, _raise_exit)  # SIGTERM unwinds like Ctrl-C: servers stop
        try:
            return airflow.wait()
        except KeyboardInterrupt:
            return 130
        finally:
            signal.signal(signal.SIGTERM, previous)
            stop_group(airflow)


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def stop_group(process: subprocess.Popen, grace_s: float = 30) -> None:
    """SIGTERM to the process's whole group, SIGKILL after ``grace_s``."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
