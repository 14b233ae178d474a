"""One warehouse, two provinces (40 Nghe An, 38 Thanh Hoa), each loaded from its own source systems: the
province is a column of every raw table, watermark, load, mart and gap; local keys that collide across
provinces (HoSoID, procedure codes) stay apart; the gap checks find each province's truth; the report
shows them apart and together; the raw logs and the large facts are partitioned by month and an hourly
build reads the current month's raw partitions only (EXPLAIN); and the extract DAGs map over the
provinces in Airflow.

The simulated days cross a month end (2025-03-30 .. 04-01), so "only the current month" can fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from contextlib import ExitStack

import psycopg
import pytest
from conftest import load, new_database, role_in
from tthc.coverage import coverage

PROVINCES = ("40", "38")
START = dt.date(2025, 3, 30)
DAYS = 3
SOURCES = ("onestop", "population", "portal")
MONTHLY = ("raw_onestop.dossiers", "raw_onestop.status_changes", "raw_portal.sync_records")
FACTS = ("fct_dossier_status_change", "fct_portal_sync")
STAGING = {"raw_onestop.dossiers": "onestop/stg_onestop__dossiers",
           "raw_onestop.status_changes": "onestop/stg_onestop__status_changes",
           "raw_portal.sync_records": "portal/stg_portal__sync_records"}


def at(days: float) -> dt.datetime:
    from tthc.calendar import TZ

    return dt.datetime.combine(START, dt.time(0), TZ) + dt.timedelta(days=days)


def scanned(plan: dict) -> set[str]:
    """Every relation a plan reads (its scans, through every node)."""
    found = {plan["Relation Name"]} if "Relation Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= scanned(child)
    return found


def hourly_plans(transformer: str) -> dict[str, set[str]]:
    """The partitions each partitioned log's staging model reads in an incremental build: its SQL as dbt
    compiles it for the build window just opened, planned by PostgreSQL (EXPLAIN)."""
    from tthc.transform import open_build_window, run_dbt, target_dir

    open_build_window(transformer)
    result = run_dbt(["compile", "--select", *(p.split("/")[1] for p in STAGING.values()),
                      "--vars", "{open_window: false}"], transformer)
    assert result.success, result.results
    out = {}
    with psycopg.connect(transformer) as conn:
        for table, path in STAGING.items():
            sql = (target_dir() / "compiled/tthc/models/staging" / f"{path}.sql").read_text()
            assert "changed_at between '" in sql, "compiled without the constant bound: not an incremental build"
            plan = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()[0][0]["Plan"]
            schema, name = table.split(".")
            out[table] = {r for r in scanned(plan) if r.startswith(name)}
    return out


def stamp(admin: str, table: str) -> int:
    with psycopg.connect(admin) as conn:
        return conn.execute(f"SELECT max(_build_load_id) FROM marts.{table}").fetchone()[0]


def written_months(admin: str, table: str, before: int) -> set[str]:
    """The partitions from the earliest to the latest month of the rows a build wrote (stamped after
    ``before``)."""
    with psycopg.connect(admin) as conn:
        return {f"{table}_y{m}" for (m,) in conn.execute(f"""
            SELECT to_char(m, 'YYYY"m"MM') FROM (
                SELECT date_trunc('month', min(recorded_at) AT TIME ZONE 'Asia/Ho_Chi_Minh') AS lo,
                       date_trunc('month', max(recorded_at) AT TIME ZONE 'Asia/Ho_Chi_Minh') AS hi
                FROM marts.{table} WHERE _build_load_id > %s) AS b,
            generate_series(b.lo, b.hi, interval '1 month') AS m""", (before,))}


def merge_plan(admin: str, table: str) -> tuple[str, set[str]]:
    """The MERGE the hourly build ran into a partitioned fact (target/run), planned by PostgreSQL against
    an empty source shaped like the model (its temp table is gone): the bound it carried, and the
    partitions the plan reads."""
    from tthc.transform import target_dir

    text = (target_dir() / "run/tthc/models/marts/core" / f"{table}.sql").read_text()
    merge = text[text.index("merge into"):].rstrip().rstrip(";")
    source = re.search(r"using (\S+) as DBT_INTERNAL_SOURCE", merge).group(1)
    bound = re.search(r"DBT_INTERNAL_DEST\.recorded_at between '([^']+)'", merge).group(1)
    with psycopg.connect(admin) as conn:
        conn.execute(f"CREATE TEMP TABLE {source} (LIKE marts.{table})")
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) {merge}").fetchone()[0][0]["Plan"]
        conn.rollback()
    return bound, {r for r in scanned(plan) if r.startswith(f"{table}_y")}


@pytest.fixture(scope="module")
def provinces(warehouse, settings, tmp_path_factory):
    """Both provinces simulated, served on their own ports, loaded day by day up to an office hour of the
    last day (in April), built; then that hour loaded and the hourly build's plans taken; then the rest
    loaded, built again and checked."""
    from tthc.checks import run_check
    from tthc.pipeline import Endpoint
    from tthc.sources.serve import SourcesProcess
    from tthc.sources.sim import simulate
    from tthc.transform import build
    from tthc.warehouse import free_port

    data = {p: tmp_path_factory.mktemp(f"province{p}") for p in PROVINCES}
    truths = {p: simulate(31 + n, START, DAYS, d, dossiers_per_year=60_000, faults="default", province=p)
              for n, (p, d) in enumerate(data.items())}
    admin, loader = new_database(warehouse, settings, "t_provinces")
    transformer = role_in(admin, settings, "tthc_transformer")
    with ExitStack() as stack:
        endpoints = {}
        for p, d in data.items():
            env = {f"TTHC_{s.upper()}_URL": f"http://127.0.0.1:{free_port()}" for s in SOURCES}
            served = stack.enter_context(SourcesProcess(d, env=env))
            endpoints[p] = {s: Endpoint(u, settings.api_key, province=p) for s, u in served.urls.items()}
        hour = at(DAYS - 1) + dt.timedelta(hours=15)  # 15:00-16:00 on 2025-04-01
        windows = [(at(n), at(n + 1)) for n in range(DAYS - 1)] + [(at(DAYS - 1), hour)]
        for since, until in windows:
            for p in PROVINCES:
                load(loader, endpoints[p], since, until)
        first = build(transformer)
        assert first.success, first.failures
        for p in PROVINCES:
            load(loader, endpoints[p], hour, hour + dt.timedelta(hours=1))
        plans = hourly_plans(transformer)
        stamps = {t: stamp(admin, t) for t in FACTS}
        hourly = build(transformer)
        assert hourly.success, hourly.failures
        merges = {t: (*merge_plan(admin, t), written_months(admin, t, stamps[t])) for t in FACTS}
        for p in PROVINCES:
            load(loader, endpoints[p], hour + dt.timedelta(hours=1), at(DAYS))
        second = build(transformer)
        assert second.success, second.failures
        run_check(transformer, at(DAYS), settings)
        yield {"admin": admin, "loader": loader, "transformer": transformer, "data": data, "truths": truths,
               "plans": plans, "merges": merges, "endpoints": endpoints}


def test_raw_rows_watermarks_and_coverage_are_per_province(provinces):
    with psycopg.connect(provinces["admin"]) as conn:
        for table in ("raw_onestop.dossiers", "raw_portal.sync_records", "raw_population.verifications",
                      "raw_onestop.procedures"):
            assert {p for (p,) in conn.execute(f"SELECT DISTINCT province_code FROM {table}")} == set(PROVINCES), table
        marks = conn.execute("SELECT province_code, source, entity, watermark FROM audit.extract_watermark").fetchall()
        assert {(p, e) for p, _, e, _ in marks} == {(p, e) for p in PROVINCES for e in (
            "admin_units", "agencies", "procedures", "dossiers", "status_changes", "sync_records",
            "online_applications", "payments", "ratings", "petitions")}
        assert {w for *_, w in marks} == {at(DAYS)}
        stretches = coverage(provinces["admin"])
        assert [s for s in stretches if s.kind in ("hole", "provisional")] == []  # tails await a reread: fine
        assert {s.province for s in stretches} == set(PROVINCES)
        # local keys collide across provinces and stay apart: HoSoID, and the national procedure codes
        # that each province's catalogue holds in its own version
        shared_ids = conn.execute("SELECT count(*) FROM (SELECT dossier_id FROM raw_onestop.dossiers GROUP BY 1 "
                                  "HAVING count(DISTINCT province_code) > 1) AS s").fetchone()[0]
        shared_codes = conn.execute("SELECT count(*) FROM (SELECT record_key FROM raw_onestop.procedures GROUP BY 1 "
                                    "HAVING count(DISTINCT province_code) > 1) AS s").fetchone()[0]
        assert shared_ids > 0 and shared_codes > 0


def test_every_mart_and_gap_carries_its_province(provinces):
    with psycopg.connect(provinces["transformer"]) as conn:
        marts = [t for (t,) in conn.execute("""
            SELECT table_name FROM information_schema.columns
            WHERE table_schema = 'marts' AND column_name = 'province_code' ORDER BY 1""")]
        assert {"fct_dossier", "fct_dossier_status_change", "fct_portal_sync", "fct_payment", "fct_rating",
                "fct_petition", "dim_agency", "dim_procedure", "dim_admin_unit", "dim_province",
                "kpi_agency_monthly", "fct_kpi766_dossier", "audit_sync_gap", "audit_sync_delay_daily"} <= set(marts)
        # a fact of rare records (a few petitions a day) holds the provinces whose sources served any
        rare = {"fct_petition": "raw_portal.petitions", "fct_rating": "raw_portal.ratings",
                "fct_payment": "raw_portal.payments"}
        for table in marts:
            found = dict(conn.execute(f"SELECT province_code, count(*) FROM marts.{table} GROUP BY 1").fetchall())
            expected = set(PROVINCES) if table not in rare else {
                p for (p,) in conn.execute(f"SELECT DISTINCT province_code FROM {rare[table]}")}
            assert set(found) == expected and expected, (table, found)
        assert dict(conn.execute("SELECT province_code, province_name FROM marts.dim_province")) == {
            "40": "Nghệ An", "38": "Thanh Hóa"}
        # each province's dossiers are its own: counted apart they equal what its one-stop holds
        for p in PROVINCES:
            dossiers = conn.execute("SELECT count(*) FROM marts.fct_dossier WHERE province_code = %s", (p,)).fetchone()[0]
            assert dossiers == len(valid_codes(provinces["data"][p]))
        crossed = conn.execute("""
            SELECT count(*) FROM marts.fct_dossier AS d JOIN marts.dim_procedure AS p USING (procedure_key)
            WHERE p.province_code <> d.province_code""").fetchone()[0]
        unmatched = conn.execute("SELECT count(*) FROM marts.fct_dossier WHERE procedure_key IS NULL").fetchone()[0]
        assert crossed == 0 and unmatched == 0
        wrong = conn.execute("""
            SELECT count(*) FROM audit.sync_gap AS g JOIN marts.fct_dossier AS d USING (dossier_code)
            WHERE g.province_code <> d.province_code""").fetchone()[0]
        assert wrong == 0


def valid_codes(data) -> set[str]:
    from conftest import valid_dossiers

    return set(valid_dossiers(data))


def test_gaps_equal_each_provinces_truth(provinces):
    from tthc.checks import score

    for p, d in provinces["data"].items():
        accuracy = score(provinces["transformer"], d / "truth.json")
        for code in ("G1", "G2", "G3", "G4", "G5", "G6", "G7"):
            assert (accuracy[code]["recall"], accuracy[code]["precision"]) == (1.0, 1.0), (p, code, accuracy[code])
        assert sum(accuracy[c]["truth"] for c in accuracy) > 0


def test_report_shows_the_provinces_apart_and_together(provinces, settings, tmp_path):
    from tthc.report import build_report

    inspector = role_in(provinces["admin"], settings, "tthc_inspector")
    day = START + dt.timedelta(days=DAYS - 1)
    both = build_report(inspector, day, tmp_path / "both", PROVINCES)
    with open(tmp_path / "both" / "by_province.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["province"].split()[0] for r in rows] == ["40", "38", "Tất"]
    for column in ("receipts", "finished", "received", "open_gaps"):
        assert int(rows[2][column]) == int(rows[0][column]) + int(rows[1][column]), column
    assert int(rows[2]["received"]) > 0
    page = both.path.read_text(encoding="utf-8")
    assert "tỉnh Thanh Hóa (38)" in page and "tỉnh Nghệ An (40)" in page
    one = build_report(inspector, day, tmp_path / "one", ["38"])
    with open(tmp_path / "one" / "open_gaps.csv", encoding="utf-8") as f:
        gaps = list(csv.DictReader(f))
    assert gaps and {g["province_code"] for g in gaps} == {"38"}
    assert one.counts["open_gaps"] == int(rows[1]["open_gaps"])


def test_hourly_build_reads_only_the_current_months_partitions(provinces):
    """The hour is in April: each partitioned log's staging read plans on April's partition alone, not
    March's (which holds most of the data) nor May's (created ahead, empty)."""
    with psycopg.connect(provinces["admin"]) as conn:
        for table in MONTHLY:
            schema, name = table.split(".")
            parts = {r for (r,) in conn.execute(
                "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass", (table,))}
            assert parts == {f"{name}_y2025m03", f"{name}_y2025m04", f"{name}_y2025m05"}, parts
            assert conn.execute(f"SELECT count(*) FROM {schema}.{name}_y2025m03").fetchone()[0] > 0
    for table, relations in provinces["plans"].items():
        name = table.split(".")[1]
        assert relations == {f"{name}_y2025m04"}, (table, relations)


def test_hourly_merge_into_a_partitioned_fact_reads_only_the_months_it_writes(provinces):
    """The hour's MERGE into each partitioned fact carries constant bounds on recorded_at, so PostgreSQL
    plans it on the partitions of the rows the hour changed and no other: April's for the hour's new
    changes (a status change's later rows move with it), March's too only when a late push reached a
    change recorded in March; never May's (empty, ahead), and never March's for fct_dossier_status_change,
    whose rows change only from a new change on."""
    for table, (bound, relations, written) in provinces["merges"].items():
        assert relations == written, (table, bound, relations, written)
        assert f"{table}_y2025m04" in relations and f"{table}_y2025m05" not in relations, relations
    assert provinces["merges"]["fct_dossier_status_change"][1] == {"fct_dossier_status_change_y2025m04"}


def test_large_facts_are_partitioned_by_month_and_read_through_their_table(provinces, settings):
    """fct_dossier_status_change and fct_portal_sync: partitioned by the local month of recorded_at, a
    partition per month the loads reached and the next, each holding exactly its month's rows; readers
    see the partitioned table (its grants and row-level security) and never a partition."""
    with psycopg.connect(provinces["admin"]) as conn:
        for table in ("fct_dossier_status_change", "fct_portal_sync"):
            assert conn.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass",
                                (f"marts.{table}",)).fetchone()[0] == "p"
            parts = {r for (r,) in conn.execute(
                "SELECT c.relnamespace::regnamespace || '.' || c.relname FROM pg_inherits AS i "
                "JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass", (f"marts.{table}",))}
            assert parts == {f"marts_partitions.{table}_y2025m{m}" for m in ("03", "04", "05")}, parts
            by_month = dict(conn.execute(
                f"SELECT to_char(recorded_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '\"y\"YYYY\"m\"MM'), count(*) "
                f"FROM marts.{table} GROUP BY 1").fetchall())
            assert set(by_month) == {"y2025m03", "y2025m04"}
            for month, rows in by_month.items():
                assert conn.execute(f"SELECT count(*) FROM marts_partitions.{table}_{month}").fetchone()[0] == rows
    with psycopg.connect(role_in(provinces["admin"], settings, "tthc_bi"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM marts.fct_portal_sync").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM marts_partitions.fct_portal_sync_y2025m03")


def test_extract_dags_map_over_the_provinces(provinces, settings, monkeypatch):
    """A real Airflow run of each extract DAG with TTHC_PROVINCES=40,38: one mapped task instance per
    province and entity, each loading its own province's source into the same window."""
    from tthc.airflow_local import DagRunner
    from tthc.dag_support import airflow_env

    runner = DagRunner(settings)
    eps = provinces["endpoints"]
    env = airflow_env(provinces["loader"], settings.api_key, {s: eps["40"][s].url for s in SOURCES},
                      province_urls={"38": {s: eps["38"][s].url for s in SOURCES}})
    for name, value in {**env, "TTHC_PROVINCES": ",".join(PROVINCES)}.items():
        monkeypatch.setenv(name, value)
    dag = runner.bag.get_dag("onestop_extract")
    loads = [t for t in dag.tasks if t.task_id.startswith("load_")]
    assert len(loads) == 5 and all(t.is_mapped for t in loads)
    hour = at(1) + dt.timedelta(hours=10)
    with psycopg.connect(provinces["admin"]) as conn:
        before = conn.execute("SELECT max(load_id) FROM audit.load_run").fetchone()[0]
    for dag_id in ("onestop_extract", "portal_extract", "population_verify"):
        assert runner.run(dag_id, hour) == "success", dag_id
    with psycopg.connect(provinces["admin"]) as conn:
        loads = conn.execute("SELECT province_code, count(*) FILTER (WHERE window_end = %s), "
                             "count(*) FILTER (WHERE entity = 'verifications') FROM audit.load_run "
                             "WHERE load_id > %s AND status = 'success' GROUP BY 1", (hour, before)).fetchall()
    # each province: its five one-stop and five portal entities for the hour, and one verification batch
    assert {p: (n, v) for p, n, v in loads} == {"40": (10, 1), "38": (10, 1)}
