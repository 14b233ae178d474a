"""Who sees what, on the session's loaded week: BI and inspectors read what they should and nothing else,
an inspector scoped to a unit sees exactly its agencies' rows (through schema `scoped`; tests/security tries
to see more), no role but the loader reads raw_* or the
quarantine, and no personal identifier reaches anything a BI or inspector role can read, the report,
its CSV files or the Data Docs."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import psycopg
import pytest
from conftest import DAYS, START, personal_data, role_in, run_cli
from tthc import TthcError
from tthc.access import add_inspector
from tthc.gx_suites import context_dir

# the marts a scoped inspector sees in part, and how a row belongs to an agency
SCOPED = {"fct_dossier": "agency_code", "fct_dossier_status_change": "agency_code", "fct_portal_sync": "agency_code",
          "fct_petition": "agency_code", "kpi_agency_monthly": "agency_code", "audit_sync_delay_daily": "agency_code",
          "fct_payment": "dossier", "fct_rating": "dossier"}


def visible(dsn: str, relation: str, key: str) -> Counter:
    with psycopg.connect(dsn) as conn:
        return Counter(dict(conn.execute(f"SELECT {key}, count(*) FROM {relation} GROUP BY 1").fetchall()))


def test_a_scoped_inspector_sees_exactly_its_agencies_rows(checked, scoped, settings):
    admin = checked[0]
    dsn, unit, agencies, added = scoped
    assert added.agencies == len(agencies) and 0 < len(agencies)
    everything = {}
    for table, how in SCOPED.items():
        key = "agency_code" if how == "agency_code" else "dossier_code"
        everything[table] = visible(admin, f"marts.{table}", key)
        seen = visible(dsn, f"scoped.{table}", key)
        assert visible(dsn, table, key) == seen  # its search path finds the scoped view by the mart's name
        if how == "agency_code":
            expected = Counter({a: n for a, n in everything[table].items() if a in agencies})
        else:
            own = set(visible(admin, f"marts.fct_dossier WHERE agency_code = ANY({_array(agencies)})",
                              "dossier_code"))
            expected = Counter({d: n for d, n in everything[table].items() if d in own})
        assert seen == expected, table
    # the unit is a real part of the province: it sees some dossiers, not all
    assert 0 < sum(visible(dsn, "scoped.fct_dossier", "agency_code").values()) < sum(everything["fct_dossier"].values())
    for relation, own in (("marts.audit_sync_gap", "scoped.audit_sync_gap"), ("audit.sync_gap", "scoped.sync_gap")):
        all_gaps = visible(admin, relation, "coalesce(agency_code, '-')")  # its agencies' gaps and G8's
        assert visible(dsn, own, "coalesce(agency_code, '-')") == Counter(
            {a: n for a, n in all_gaps.items() if a in agencies or a == "-"}), relation
    # the dimensions are the province's reference data: readable whole
    assert visible(dsn, "marts.dim_agency", "is_current") == visible(admin, "marts.dim_agency", "is_current")


def _array(values: set[str]) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in sorted(values)) + "]::text[]"


def test_bi_and_the_provincial_inspector_see_every_row(checked, settings):
    admin = checked[0]
    for role in ("tthc_bi", "tthc_inspector"):
        dsn = role_in(admin, settings, role)
        for table in [*SCOPED, "audit_sync_gap"]:
            assert visible(dsn, f"marts.{table}", "true") == visible(admin, f"marts.{table}", "true"), (role, table)


def test_no_reader_role_touches_raw_or_the_quarantine(checked, scoped, settings):
    admin = checked[0]
    with psycopg.connect(admin) as conn:
        raw = [f"{s}.{t}" for s, t in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname LIKE 'raw\\_%' ORDER BY 1, 2")]
    quarantine = [r for r in raw if r.endswith(".quarantine")]
    assert len(raw) >= 13 and len(quarantine) == 3
    readers = {"tthc_bi": role_in(admin, settings, "tthc_bi"), "tthc_inspector": role_in(admin, settings, "tthc_inspector"),
               "scoped inspector": scoped[0]}
    for _name, dsn in readers.items():
        with psycopg.connect(dsn, autocommit=True) as conn:
            for table in raw:
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                    conn.execute(f"SELECT 1 FROM {table} LIMIT 1")
    with psycopg.connect(role_in(admin, settings, "tthc_transformer"), autocommit=True) as conn:
        for table in quarantine:  # dbt reads raw_* to pseudonymise, never the quarantine
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")
    with psycopg.connect(role_in(admin, settings, "tthc_loader")) as conn:  # the loader alone reads it
        assert sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in quarantine) > 0


def _hits(text: str, names: set[str], numbers: set[str]) -> list[str]:
    return [s for s in numbers if s in text] + [n for n in names if n in text]


def test_no_personal_data_in_anything_a_reader_can_see(checked, scoped, settings, tmp_path):
    """Every column of every relation tthc_bi or an inspector can read, the report and its CSV files, and
    the GX Data Docs: not one applicant's ID, name or phone."""
    from tthc.report import build_report

    admin, _, data, _ = checked
    found, numbers = personal_data(data)
    names = {s for s in found if not s.isdigit() and " " in s}  # full names (a single word is too common)
    assert len(numbers) > 1000 and len(names) > 1000
    hits = []
    for role, dsn in (("tthc_bi", role_in(admin, settings, "tthc_bi")),
                      ("tthc_inspector", role_in(admin, settings, "tthc_inspector")), ("scoped", scoped[0])):
        with psycopg.connect(dsn) as conn:
            relations = conn.execute("""  -- information_schema lists what the role has a privilege on
                SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns AS c
                WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
                  AND c.data_type IN ('text', 'character varying', 'ARRAY', 'json', 'jsonb', 'USER-DEFINED')
                ORDER BY 1, 2, 3""").fetchall()
            assert {s for s, _, _ in relations} <= {"marts", "audit", "scoped"}, role
            for schema, table, column in relations:
                for (value,) in conn.execute(f'SELECT DISTINCT "{column}"::text FROM "{schema}"."{table}" '
                                             f'WHERE "{column}" IS NOT NULL'):
                    if value in found or _hits(value, set(), numbers):
                        hits.append((role, f"{schema}.{table}.{column}", value[:40]))
    assert hits == []
    report = build_report(role_in(admin, settings, "tthc_inspector"), START + dt.timedelta(days=DAYS - 1),
                          tmp_path / "report")
    files = [report.path, *(tmp_path / "report" / f for f in report.csv_files)]
    docs = context_dir() / "uncommitted" / "data_docs"
    files += [p for p in docs.rglob("*") if p.is_file() and p.suffix in (".html", ".json")]
    assert len(files) > 10 and report.counts["open_gaps"] > 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="ignore")
        assert not _hits(text, names, numbers), path


def test_inspector_add_refuses_bad_names_and_unknown_units(checked, settings):
    admin = checked[0]
    with pytest.raises(TthcError, match="inspector name"):
        add_inspector(admin, settings, "Robert'); DROP TABLE x;--", "412")
    with pytest.raises(TthcError, match="tthc_"):
        add_inspector(admin, settings, "tthc_bi", "412")
    with pytest.raises(TthcError, match="unknown administrative unit"):
        add_inspector(admin, settings, "thanhtra_x", "99999")
    result = run_cli("inspector", "add", "thanhtra_y", "--unit", "99999", env={"TTHC_WAREHOUSE_DB": "t_marts"})
    assert result.returncode == 1 and "unknown administrative unit" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
