"""The GX Core file context in ``expectations/``, declared here and nowhere else: ``tthc checks init``
writes it (suites, validation definitions, the checkpoint) as GX stores it; a test checks the committed
files equal these declarations. The gap rules' SQL comes from ``tthc.gaps``.

- The warehouse data source reads its connection string from ``${TTHC_GX_WAREHOUSE_DSN}`` (set by the run
  from the transformer's DSN; never written to a file).
- One suite per gap family. G1-G7: an ``UnexpectedRowsExpectation`` per code counting the gaps open at the
  evaluation time among what the run evaluated; its batch is ``audit.check_context`` (the run's as_of and
  thresholds, one row). G8: GX's own expectations on ``audit.source_freshness`` (each feed source observed,
  none stale). A ``register`` suite checks ``audit.sync_gap`` itself (keys, codes, intervals).
- The checkpoint updates Data Docs in ``expectations/uncommitted/`` (git-ignored); summaries only (counts,
  no rows), and only the newest ``KEEP_RESULTS`` runs are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tthc.gaps import CODES, FAMILIES, GAP_RULES
from tthc.sources.sim.truth import RULES

PROJECT = Path(__file__).resolve().parents[2] / "expectations"  # the committed context
PROJECT_VARIABLE = "TTHC_GX_PROJECT_DIR"  # another copy of it to run in (the tests: one per session)


def context_dir() -> Path:
    """The GX file context the checks run in: ``$TTHC_GX_PROJECT_DIR``, else the committed ``expectations/``."""
    return Path(os.environ[PROJECT_VARIABLE]) if os.environ.get(PROJECT_VARIABLE) else PROJECT
DSN_VARIABLE = "TTHC_GX_WAREHOUSE_DSN"
DATASOURCE = "warehouse"
CHECKPOINT = "sync_gap_checks"
KEEP_RESULTS = 48  # validation results and their Data Docs pages: two days of hourly runs
RESULT_FORMAT = {"result_format": "SUMMARY"}

log = logging.getLogger("tthc.checks")


def _quiet() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def sqlalchemy_url(dsn: str) -> str:
    """The psycopg (3) dialect for SQLAlchemy, same credentials."""
    parts = urlsplit(dsn)
    return urlunsplit(("postgresql+psycopg", *parts[1:]))


# --- declarations -------------------------------------------------------------------------------------
def _meta(code: str) -> dict:
    rule = RULES[code]
    return {"gap_code": code, "title": rule.title, "definition": rule.definition, "clock": rule.clock,
            "key": rule.key}


def declared_suites() -> dict[str, tuple[str, list]]:
    """suite name -> (data asset, expectations)."""
    import great_expectations as gx

    e = gx.expectations
    suites: dict[str, tuple[str, list]] = {}
    for family, codes in FAMILIES.items():
        if family == "freshness":
            continue
        expectations = [e.ExpectTableRowCountToEqual(
            value=1, description="The check has one evaluation context: its as_of and thresholds.")]
        for code in codes:
            rule = GAP_RULES[code]
            expectations.append(e.UnexpectedRowsExpectation(
                unexpected_rows_query=rule.open_query(),
                description=f"{code} {rule.title}: no gap open at the evaluation time. {rule.definition}.",
                meta=_meta(code)))
        suites[f"gaps_{family}"] = ("check_context", expectations)
    suites["gaps_freshness"] = ("source_freshness", [
        e.ExpectColumnDistinctValuesToEqualSet(
            column="source", value_set=["onestop", "portal"],
            description="Every feed source has been observed by the loads.", meta=_meta("G8")),
        e.ExpectColumnValuesToBeInSet(
            column="is_stale", value_set=[False],
            description=f"G8 {RULES['G8'].title}: no source stale at its latest observation. "
                        f"{RULES['G8'].definition}.", meta=_meta("G8")),
    ])
    suites["gap_register"] = ("sync_gap", [
        e.ExpectColumnValuesToNotBeNull(column="gap_key", description="Every gap has a key."),
        e.ExpectColumnValuesToNotBeNull(column="opened_at", description="Every gap has an opening time."),
        e.ExpectColumnValuesToMatchRegex(column="province_code", regex=r"^[0-9]{2}$",
                                         description="Every gap names its province (2-digit code)."),
        e.ExpectColumnValuesToBeInSet(column="gap_code", value_set=list(CODES),
                                      description="Gap codes are G1-G8."),
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="closed_at", column_B="opened_at", or_equal=False, ignore_row_if="either_value_is_missing",
            description="A gap closes after it opens."),
        e.ExpectColumnValuesToBeUnique(column="gap_id", description="One row per gap interval."),
    ])
    return suites


ASSETS = {"check_context": "check_context", "source_freshness": "source_freshness", "sync_gap": "sync_gap"}


def init_context(dsn: str, project: Path | None = None) -> Path:
    """Write (or bring up to date) the file context; idempotent. GX checks the data source and its
    tables as it adds them, so it needs the warehouse (``dsn``: the transformer's)."""
    project = project or context_dir()
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet()
    os.environ[DSN_VARIABLE] = sqlalchemy_url(dsn)
    context = gx.get_context(mode="file", context_root_dir=str(project))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()
    source = context.data_sources.add_or_update_postgres(
        name=DATASOURCE, connection_string="${" + DSN_VARIABLE + "}")
    definitions = []
    for name, (asset_name, expectations) in declared_suites().items():
        try:
            asset = source.get_asset(asset_name)
        except LookupError:
            asset = source.add_table_asset(name=asset_name, table_name=ASSETS[asset_name], schema_name="audit")
        try:
            batch = asset.get_batch_definition("whole_table")
        except (KeyError, LookupError, ValueError):
            batch = asset.add_batch_definition_whole_table("whole_table")
        try:
            suite = context.suites.get(name)
        except Exception:  # noqa: BLE001 (GX raises its own not-found types)
            suite = context.suites.add(gx.ExpectationSuite(name=name))
        for old in list(suite.expectations):
            suite.delete_expectation(old)
        for expectation in expectations:
            suite.add_expectation(expectation)
        suite.save()
        try:
            context.validation_definitions.delete(name)
        except Exception:  # noqa: BLE001
            pass
        definitions.append(context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)))
    try:
        context.checkpoints.delete(CHECKPOINT)
    except Exception:  # noqa: BLE001
        pass
    context.checkpoints.add(gx.Checkpoint(
        name=CHECKPOINT, validation_definitions=definitions, result_format=RESULT_FORMAT,
        actions=[UpdateDataDocsAction(name="update_data_docs")]))
    return project


# --- running ------------------------------------------------------------------------------------------
def run_checkpoint(dsn: str, settings=None, as_of: dt.datetime | None = None,
                   project: Path | None = None) -> tuple[bool, dict]:
    """Run the checkpoint on the committed check context; (success, summary). An expectation that could
    not be evaluated (GX reports it, it does not raise) is an error here."""
    project = project or context_dir()
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    _quiet()
    os.environ[DSN_VARIABLE] = sqlalchemy_url(dsn)
    if not (project / "great_expectations.yml").exists():
        init_context(dsn, project)
    context = gx.get_context(mode="file", context_root_dir=str(project))
    checkpoint = context.checkpoints.get(CHECKPOINT)
    name = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    result = checkpoint.run(run_id=RunIdentifier(run_name=f"as_of_{name}"))
    summary: dict = {"suites": {}, "gaps_open": {}, "data_docs": None}
    errors = []
    for run_result in result.run_results.values():
        suite = run_result.suite_name
        rows = []
        for r in run_result.results:
            info = r.exception_info or {}
            if info.get("raised_exception"):
                errors.append(f"{suite}: {r.expectation_config.type}: {info.get('exception_message')}")
            code = (r.expectation_config.meta or {}).get("gap_code")
            observed = (r.result or {}).get("observed_value")
            if code and r.expectation_config.type == "unexpected_rows_expectation":
                summary["gaps_open"][code] = observed
            rows.append({"expectation": r.expectation_config.type, "gap_code": code, "success": r.success,
                         "observed": observed if isinstance(observed, int | float | str | bool) else None})
        summary["suites"][suite] = {"success": run_result.success, "expectations": rows}
    if errors:
        raise RuntimeError("GX could not evaluate: " + "; ".join(errors))
    urls = context.get_docs_sites_urls()
    summary["data_docs"] = urls[0]["site_url"] if urls else None
    prune_results(project)
    return result.success, summary


def prune_results(project: Path | None = None, keep: int = KEEP_RESULTS) -> None:
    """Keep the newest ``keep`` runs' validation results and Data Docs pages (GX keeps them all)."""
    project = project or context_dir()
    for base in (project / "uncommitted" / "validations",
                 project / "uncommitted" / "data_docs" / "local_site" / "validations"):
        if not base.exists():
            continue
        for suite_dir in base.iterdir():
            if not suite_dir.is_dir():
                continue
            runs = sorted((p for p in suite_dir.iterdir()), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in runs[keep:]:
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


def describe_context(project: Path | None = None) -> dict:
    """The committed context as comparable data (ids dropped): for the test that it is up to date."""
    project = project or PROJECT
    out = {}
    for folder in ("expectations", "validation_definitions", "checkpoints"):
        for path in sorted((project / folder).glob("*.json")):
            out[f"{folder}/{path.name}"] = _without_ids(json.loads(path.read_text()))
    return out


def _without_ids(value):
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value
