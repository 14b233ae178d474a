"""The dbt project (dbt_project/): where it is, the environment its profile reads, its seeds, and
`dbt build` run in-process (dbtRunner) as tthc_transformer. What `tthc build`, the demo, the tests and
the Airflow tasks call; no Airflow here.

The profile (dbt_project/profiles.yml) reads environment variables only; ``dbt_env`` sets them from
the configuration, the password as DBT_ENV_SECRET_PASSWORD (which dbt scrubs from its logs). A plain
`dbt build` in dbt_project/ works with the same variables exported.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tthc import TthcError
from tthc import config as config_mod

SEEDS = ("working_calendar", "kpi766_indicators", "gap_codes")


def project_dir() -> Path:
    """The dbt project: TTHC_DBT_PROJECT_DIR, else dbt_project/ beside the package's source tree."""
    configured = os.environ.get("TTHC_DBT_PROJECT_DIR")
    path = Path(configured) if configured else Path(__file__).resolve().parents[2] / "dbt_project"
    if not (path / "dbt_project.yml").exists():
        raise TthcError(f"no dbt project at {path} (set TTHC_DBT_PROJECT_DIR)")
    return path


def target_dir() -> Path:
    """Where dbt writes its manifest, compiled and run SQL: ``$DBT_TARGET_PATH`` (dbt's own setting), else
    the project's ``target/``."""
    configured = os.environ.get("DBT_TARGET_PATH")
    return Path(configured) if configured else project_dir() / "target"


def dbt_env(dsn: str, threads: int = 2) -> dict[str, str]:
    """The environment dbt_project/profiles.yml reads, for a DSN of tthc_transformer."""
    parts = urlsplit(dsn)
    return {
        "TTHC_DBT_HOST": parts.hostname or "127.0.0.1",
        "TTHC_DBT_PORT": str(parts.port or 5432),
        "TTHC_DBT_USER": unquote(parts.username or "tthc_transformer"),
        "DBT_ENV_SECRET_PASSWORD": unquote(parts.password or ""),
        "TTHC_DBT_DBNAME": parts.path.lstrip("/") or "tthc",
        "TTHC_DBT_THREADS": str(threads),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROFILES_DIR": str(project_dir()),
        "DBT_PROJECT_DIR": str(project_dir()),
    }


def transformer_dsn(settings: config_mod.Settings | None = None) -> str:
    from tthc.warehouse import role_dsn

    return role_dsn(settings or config_mod.load(), "tthc_transformer")


def seed_rows(name: str) -> list[dict]:
    from tthc.calendar import calendar_rows
    from tthc.kpi766 import indicator_rows
    from tthc.sources.sim.truth import rule_rows

    return {"working_calendar": calendar_rows, "kpi766_indicators": indicator_rows, "gap_codes": rule_rows}[name]()


def write_seeds(directory: Path | None = None) -> dict[str, int]:
    """Export the seeds from the code that owns them (the calendar, the 766 index, the gap rules)."""
    directory = directory or project_dir() / "seeds"
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in SEEDS:
        rows = seed_rows(name)
        with open(directory / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        counts[name] = len(rows)
    return counts


@dataclass
class BuildResult:
    success: bool
    command: list[str]
    results: list[dict]
    elapsed_s: float

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.results if r["status"] in ("error", "fail", "runtime error")]


def run_dbt(args: list[str], dsn: str, threads: int = 2, quiet: bool = True) -> BuildResult:
    """Run a dbt command in-process against the warehouse as tthc_transformer."""
    import time

    from dbt.cli.main import dbtRunner

    env = dbt_env(dsn, threads)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cwd = os.getcwd()
    t0 = time.monotonic()
    try:
        os.chdir(project_dir())
        command = [*args, "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir())]
        if quiet:
            command = ["--quiet", "--no-use-colors", *command]
        outcome = dbtRunner().invoke(command)
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    results = []
    for r in getattr(outcome.result, "results", None) or []:
        results.append({"name": r.node.name, "resource_type": str(r.node.resource_type), "status": str(r.status),
                        "message": r.message, "execution_time": round(r.execution_time or 0, 3)})
    if outcome.exception is not None and not results:
        raise TthcError(f"dbt {' '.join(args)} failed: {outcome.exception}")
    return BuildResult(bool(outcome.success), args, results, round(time.monotonic() - t0, 2))


def build(dsn: str, full_refresh: bool = False, select: str | None = None, threads: int = 2,
          unit_tests: bool = False) -> BuildResult:
    """`dbt build` (seeds, models, data tests) of the whole project, or a selection. Unit tests test the
    code, not the data: like dbt's own advice for production, builds leave them out unless asked
    (`make test` runs them)."""
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    return run_dbt(args, dsn, threads)


def docs_generate(dsn: str, target: Path) -> Path:
    """`dbt docs generate --static` into ``target``: one self-contained page of every model, column and
    test with the catalog of the warehouse (what `tthc docs` serves); returns the page's path."""
    result = run_dbt(["docs", "generate", "--static", "--target-path", str(target.resolve())], dsn)
    page = target / "static_index.html"
    if not result.success or not page.exists():
        raise TthcError(f"dbt docs generate failed: {[(r['name'], r['message']) for r in result.failures][:3]}")
    return page


def cli_docs(args) -> int:
    """`tthc docs`: generate the dbt docs (the marts' documentation, with the catalog) and serve them on
    loopback until Ctrl-C."""
    import functools
    import http.server

    settings = config_mod.load()
    target = settings.home / "dbt_docs"
    page = docs_generate(transformer_dsn(settings), target)
    if args.no_serve:
        print(f"docs       {page}")
        return 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(target))
    with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        print(f"docs       http://127.0.0.1:{server.server_address[1]}/static_index.html  (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def cli_build(args) -> int:
    """`tthc build`: bootstrap (idempotent), then dbt build; one line per failing node."""
    from tthc.bootstrap import bootstrap

    settings = config_mod.load()
    bootstrap(settings)
    result = build(transformer_dsn(settings), full_refresh=args.full_refresh, select=args.select,
                   unit_tests=args.unit_tests)
    models = [r for r in result.results if r["resource_type"] == "model"]
    tests = [r for r in result.results if r["resource_type"] in ("test", "unit_test")]
    flag = " --full-refresh" if args.full_refresh else ""
    print(f"dbt build{flag}: {len(models)} models, {len(tests)} tests, "
          f"{len(result.failures)} failures in {result.elapsed_s:.1f}s")
    for r in result.failures:
        print(f"  {r['status']:6} {r['name']}: {(r['message'] or '').strip().splitlines()[0][:160]}")
    return 0 if result.success else 1


def open_build_window(dsn: str) -> int:
    """Open the build window every dbt invocation of an Airflow run reads (the same statements as the
    project's on-run-start): wait for the loads in flight, then note the last committed load."""
    import psycopg

    from tthc.load.loader import RAW_LOADS_LOCK

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (RAW_LOADS_LOCK,))
        try:
            return conn.execute("""
                INSERT INTO audit.build_window (upper_load_id)
                SELECT coalesce(max(load_id), 0) FROM audit.load_run WHERE status = 'success'
                RETURNING upper_load_id""").fetchone()[0]
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (RAW_LOADS_LOCK,))


def mart_checksums(dsn: str, leave_out: dict[str, set[str]] | None = None) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every table in marts, technical lineage columns (_*) left out (and the columns
    ``leave_out`` names per table): equal checksums mean equal marts, whatever the run that built them."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        out = {}
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'marts' ORDER BY 1").fetchall():
            cols = [c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = %s "
                "AND column_name NOT LIKE '\\_%%' ORDER BY ordinal_position", (table,))
                    if c not in (leave_out or {}).get(table, ())]
            out[table] = tuple(conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
                f'FROM (SELECT {", ".join(cols)} FROM marts."{table}") r').fetchone())
    return out
