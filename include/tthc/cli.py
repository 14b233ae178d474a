"""`tthc`: the command line of the platform (contract in docs/ARCHITECTURE.md, "CLI contract")."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import sys
from pathlib import Path

from tthc import TthcError
from tthc import config as config_mod


class OneLineParser(argparse.ArgumentParser):
    """A wrong argument gets one line on stderr and exit code 2, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value!r}")
    return number


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs a UTC offset, e.g. 2025-03-06T00:00:00+07:00: {value!r}")
    return moment


def _province(value: str) -> str:
    from tthc.provinces import check_code

    try:
        return check_code(value.strip(), "province")
    except TthcError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("province must be ")) from None


def _provinces(value: str) -> str:
    from tthc.provinces import parse_codes

    try:
        return ",".join(parse_codes(value, "provinces"))
    except TthcError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("provinces must be ")) from None


def _non_negative(value: str) -> int:
    if value.isdigit():
        return int(value)
    raise argparse.ArgumentTypeError(f"not a non-negative whole number: {value!r}")


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="tthc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    demo = sub.add_parser("demo", help="the whole job on the embedded default")
    demo.add_argument("--seed", type=_non_negative, default=7)
    demo.add_argument("--days", type=_positive, default=3)
    demo.add_argument("--start", type=_date, default=dt.date(2025, 3, 3), help="first simulated day")
    demo.add_argument("--dossiers-per-year", type=_positive, default=500_000)
    demo.add_argument("--out", type=Path, default=Path("out"))
    demo.add_argument("--provinces", type=_provinces, default=None,
                      help="province codes to simulate and load into one warehouse, e.g. 40,38 (default: TTHC_PROVINCES)")
    demo.add_argument("--faults", choices=["none", "default", "heavy", "every-kind"], default="default",
                      help="the simulator's fault profile; every-kind gives each feed source an outage and the demo "
                           "shows the failed runs, provisional windows, catch-ups and G8 hour by hour")

    wh = sub.add_parser("warehouse", help="embedded PostgreSQL lifecycle")
    wh.add_argument("action", choices=["up", "down", "dsn", "status"])

    sim = sub.add_parser("simulate", help="write the three source stores and truth.json")
    sim.add_argument("--seed", type=_non_negative, required=True)
    sim.add_argument("--start", type=_date, required=True)
    sim.add_argument("--days", type=_positive, required=True)
    sim.add_argument("--dossiers-per-year", type=_positive, default=500_000)
    sim.add_argument("--faults", default="default", help="fault profile: none, default, heavy, every-kind")
    sim.add_argument("--province", type=_province, default=None,
                     help="statistics-office province code, e.g. 40 (default TTHC_PROVINCE)")
    sim.add_argument("--out", type=Path, required=True)
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.add_argument("--mix", action="store_true", help="print the realism report (measured vs published figures)")

    src = sub.add_parser("sources", help="the three source APIs")
    src_sub = src.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
    serve = src_sub.add_parser("serve", help="serve the three APIs on loopback")
    serve.add_argument("--data", type=Path, required=True)
    serve.add_argument("--now", default=None, help="simulated 'now' (ISO-8601); default: the end of the data")
    serve.add_argument("--faults", default="none", help="API fault profile: none, flaky, chaos")

    ext = sub.add_parser("extract", help="run the extract DAGs' work for a window without Airflow (the window, "
                         "then the catch-up of what each entity owes from the TTHC_CATCH_UP_DAYS before it)")
    ext.add_argument("source", choices=["onestop", "portal", "population", "all"])
    ext.add_argument("--since", required=True, help="start of the window, ISO-8601 with offset")
    ext.add_argument("--until", required=True, help="end of the window (after --since), ISO-8601 with offset")
    ext.add_argument("--province", type=_provinces, default=None,
                     help="province code(s), comma-separated (default: TTHC_PROVINCES)")

    sub.add_parser("coverage", help="which hours each source and entity has read completely, which only while its "
                                    "source was stale (provisional), and the holes (exit 1 on either)")

    bench = sub.add_parser("bench", help="load benchmark")
    bench.add_argument("--dossiers-per-year", type=_positive, default=500_000)
    bench.add_argument("--json", type=Path, required=True)
    bench.add_argument("--days", type=_positive, default=365, help="simulated days (default: a year)")
    bench.add_argument("--start", type=_date, default=dt.date(2025, 1, 1))
    bench.add_argument("--seed", type=_non_negative, default=7)
    bench.add_argument("--sample", type=_positive, default=20_000, help="rows per entity for insert_rows")
    bench.add_argument("--keep", action="store_true", help="keep the scratch database <db>_bench")
    bench.add_argument("--dlt-rows", type=_positive, default=300_000, help="rows the dlt peer loads")
    bench.add_argument("--api-records", type=_positive, default=200_000, help="records read from each source API")

    build = sub.add_parser("build", help="dbt build of the star schema (staging -> marts) as tthc_transformer")
    build.add_argument("--full-refresh", action="store_true", help="rebuild the incremental models from scratch")
    build.add_argument("--select", default=None, help="a dbt selection, e.g. marts.core or +fct_dossier")
    build.add_argument("--unit-tests", action="store_true", help="also run dbt's unit tests (make test does)")

    sub.add_parser("seeds", help="export the dbt seeds (working calendar, 766 indicators) from the code")

    check = sub.add_parser("check", help="the gap checks G1-G8 as of a time (the checkpoint and the recorder)")
    check.add_argument("--as-of", type=_moment, default=None,
                       help="evaluation time, ISO-8601 with offset (default: the newest data loaded)")
    check.add_argument("--full", action="store_true", help="evaluate everything, not what changed since the last run")
    check.add_argument("--no-gx", action="store_true", help="record the gaps without running the GX checkpoint")
    check.add_argument("--init", action="store_true", help="(re)write the GX file context in expectations/ and stop")

    score = sub.add_parser("score", help="recall and precision of audit.sync_gap against a simulation's truth.json")
    score.add_argument("--truth", type=Path, required=True)

    inspector = sub.add_parser("inspector", help="inspector logins scoped to one administrative unit")
    inspector.add_argument("action", choices=["add"])
    inspector.add_argument("name", help="the login to create, e.g. thanhtra_vinh")
    inspector.add_argument("--unit", required=True, help="administrative unit code (marts.dim_admin_unit), e.g. 412")

    report = sub.add_parser("report", help="the inspectors' audit report for a day (HTML + CSV)")
    report.add_argument("--date", type=_date, required=True, help="the day reported (YYYY-MM-DD)")
    report.add_argument("--out", type=Path, required=True, help="folder for index.html and the CSV files")

    docs = sub.add_parser("docs", help="generate the dbt docs (models, columns, tests, catalog) and serve them")
    docs.add_argument("--port", type=_non_negative, default=8580, help="loopback port (0: any free one)")
    docs.add_argument("--no-serve", action="store_true", help="only generate; print the page's path")

    sub.add_parser("airflow", help="airflow standalone on loopback, wired to the local warehouse and sources")
    sub.add_parser("config", help="print the configuration table")
    return parser


def cmd_warehouse(action: str) -> int:
    from tthc.bootstrap import bootstrap, describe
    from tthc.warehouse import EmbeddedServer, admin_dsn, redact

    settings = config_mod.load()
    if action == "up":  # docker-compose runs this: its output reaches container logs, so no password
        dsn = bootstrap(settings)
        print(f"{redact(dsn)}  (full DSN: tthc warehouse dsn)")
    elif action == "dsn":  # the one command that prints the password, on request
        print(admin_dsn(settings))
    elif action == "status":
        dsn = admin_dsn(settings)
        print(json.dumps({"dsn": redact(dsn), "embedded": settings.embedded, **describe(dsn)}, indent=2, ensure_ascii=False))
    elif action == "down":
        if not settings.embedded:
            print("TTHC_WAREHOUSE_DSN is set: the warehouse is not ours to stop", file=sys.stderr)
            return 0
        print("stopped" if EmbeddedServer(settings).down() else "not running")
    return 0


def cmd_config() -> int:
    for name, (default, text) in config_mod.SETTINGS.items():
        print(f"{name:28} {default:26} {text}")
    return 0


# command -> "module:function(args)", imported only when run (Airflow, dbt and GX load slowly)
HANDLERS = {
    "demo": "tthc.demo:run_demo", "simulate": "tthc.sources.sim:cli_simulate", "sources": "tthc.sources.serve:cli_serve",
    "coverage": "tthc.coverage:cli_coverage", "extract": "tthc.pipeline:cli_extract", "bench": "tthc.bench:cli_bench",
    "build": "tthc.transform:cli_build", "check": "tthc.checks:cli_check", "score": "tthc.checks:cli_score",
    "inspector": "tthc.access:cli_inspector", "report": "tthc.report:cli_report", "docs": "tthc.transform:cli_docs",
}


def check_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`extract --since/--until`: ISO-8601 times with an offset, --since before --until (else exit 2)."""
    try:
        since, until = _moment(args.since), _moment(args.until)
    except argparse.ArgumentTypeError as err:
        parser.error(f"extract --since/--until: {err}")
    if since >= until:
        parser.error(f"extract: --since must be before --until, got {args.since} .. {args.until}")


def _say_error(text: str) -> None:
    """The one line of a failure, on stderr, with every password redacted (a driver's message may quote a
    DSN or echo a secret)."""
    try:
        known = config_mod.known_secrets()
    except Exception:  # redaction must not fail the report of a failure
        known = frozenset()
    print(config_mod.redact(text, known), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "extract":
        check_window(parser, args)
    try:
        if args.command == "warehouse":
            return cmd_warehouse(args.action)
        if args.command == "config":
            return cmd_config()
        if args.command == "seeds":
            from tthc.transform import write_seeds

            for name, rows in write_seeds().items():
                print(f"{name}: {rows} rows")
            return 0
        if args.command == "airflow":
            from tthc.airflow_local import cli_airflow

            return cli_airflow()
        module, function = HANDLERS[args.command].split(":")
        return getattr(importlib.import_module(module), function)(args)
    except TthcError as err:
        _say_error(f"tthc: error: {err}")
        return 1
    except KeyboardInterrupt:
        print("tthc: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # an operational failure: one line, the traceback only on request
        if os.environ.get("TTHC_DEBUG"):
            raise
        _say_error(f"tthc: error: {type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
                   " (TTHC_DEBUG=1 shows the traceback)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
