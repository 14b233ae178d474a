"""An inspector scoped to one unit, tried as an attacker would on the session's loaded and checked week.

For every relation it can select and every text column in them: the failing cast (whose error text names
the row it failed on), ordering by a cast, a predicate that divides by zero for one value (an error says
the row exists), EXPLAIN ANALYZE (rows removed by a filter), pg_stats and the functions it may call. No
error text, plan or result may reveal a value (agency, dossier, gap key) outside its unit that it could not
read anyway; the values outside are computed here from the dimensions, not by the code under test."""

from __future__ import annotations

import re

import psycopg
import pytest
from conftest import role_in

TEXT_TYPES = ("text", "character varying")
NOWHERE = "ZZ-no-such-value-0000"  # a value no relation holds: the control for plans


def relations_readable(dsn: str) -> dict[str, list[str]]:
    """Every relation the login may select, with its text columns."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""
            SELECT format('%I.%I', n.nspname, c.relname), a.attname, format_type(a.atttypid, a.atttypmod)
            FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_%' AND has_table_privilege(c.oid, 'SELECT')
            ORDER BY 1, a.attnum""").fetchall()
    out: dict[str, list[str]] = {}
    for relation, column, kind in rows:
        out.setdefault(relation, [])
        if kind in TEXT_TYPES:
            out[relation].append(column)
    return out


@pytest.fixture(scope="module")
def attack(checked, scoped):
    """(login DSN, what it can select, the values it can read per relation and column, the secrets:
    dossier codes, gap keys and agency codes outside its unit that it cannot read anywhere)."""
    admin = checked[0]
    dsn, _unit, agencies, _added = scoped
    with psycopg.connect(admin) as conn:
        outside = {a for (a,) in conn.execute("SELECT DISTINCT agency_code FROM marts.fct_dossier")} - agencies
        dossiers = {d for (d,) in conn.execute("SELECT dossier_code FROM marts.fct_dossier WHERE agency_code = ANY(%s)",
                                               (sorted(outside),))}
        gap_keys = {k for (k,) in conn.execute("SELECT gap_key FROM audit.sync_gap WHERE agency_code = ANY(%s)",
                                               (sorted(outside),))}
        own_dossiers = [d for (d,) in conn.execute(
            "SELECT dossier_code FROM marts.fct_dossier WHERE agency_code = ANY(%s) ORDER BY 1 LIMIT 3",
            (sorted(agencies),))]
    readable = relations_readable(dsn)
    values: dict[tuple[str, str], set[str]] = {}
    with psycopg.connect(dsn) as conn:
        for relation, columns in readable.items():
            for column in columns:
                values[relation, column] = {v for (v,) in conn.execute(
                    f'SELECT DISTINCT "{column}" FROM {relation} WHERE "{column}" IS NOT NULL')}
    seen = set().union(*values.values())
    secrets = (outside | dossiers | gap_keys) - seen
    assert len(dossiers) > 100 and gap_keys and own_dossiers, "the week must have rows outside and inside the unit"
    return dsn, readable, values, secrets, own_dossiers


def leaked(text: str, secrets: set[str]) -> set[str]:
    tokens = set(re.findall(r"[\w.\-:]+", text))
    return {s for s in secrets if s in tokens or (len(s) > 12 and s in text)}


def error_of(conn: psycopg.Connection, query: str, params=()) -> str | None:
    """The error text (message, detail, context) of ``query``, or None when it ran."""
    try:
        with conn.transaction():
            conn.execute(query, params).fetchall()
    except psycopg.Error as err:
        d = err.diag
        return " | ".join(x for x in (d.message_primary, d.message_detail, d.message_hint, d.context) if x)
    return None


def test_the_row_scoped_tables_themselves_are_refused(attack, checked):
    dsn, readable, *_ = attack
    with psycopg.connect(checked[0]) as conn:
        scoped_tables = [r for (r,) in conn.execute(
            "SELECT format('marts.%I', c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'marts' AND (c.relrowsecurity OR c.relname = 'audit_sync_gap')")]
    assert len(scoped_tables) >= 10 and "marts.fct_kpi766_dossier" in scoped_tables  # which dossiers cost points
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in [*scoped_tables, "audit.sync_gap", "audit.check_run", "audit.inspector_scope"]:
            assert table not in readable
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor may it plan a query on them
                conn.execute(f"EXPLAIN ANALYZE SELECT 1 FROM {table}")
    assert {r.split(".")[0] for r in readable} == {"marts", "audit", "scoped"}


def test_casts_and_orderings_that_fail_name_nothing_outside_the_unit(attack):
    dsn, readable, _values, secrets, _own = attack
    hits, errors = [], 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for relation, columns in readable.items():
            for column in columns:
                for query in (f'SELECT count(*) FROM {relation} WHERE "{column}" > \'\' AND "{column}"::int = 0',
                              f'SELECT 1 FROM {relation} ORDER BY "{column}"::numeric LIMIT 1',
                              f'SELECT count(*) FROM {relation} WHERE "{column}"::date IS NULL'):
                    text = error_of(conn, query)
                    errors += text is not None
                    if text and leaked(text, secrets):
                        hits.append((relation, column, text))
    assert errors > 20  # the casts did fail: on the login's own values only
    assert hits == []


def test_a_predicate_raises_only_for_values_the_login_can_read(attack):
    """`1 / (CASE WHEN col = X THEN 0 ELSE 1 END)` errors iff a row with X reaches the predicate: it must
    never do so for a value outside the unit, and does for its own (the probe works)."""
    dsn, readable, values, secrets, own = attack
    probes = sorted(secrets)[:: max(1, len(secrets) // 40)][:40]
    wrong = []
    raised_own = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for relation, columns in readable.items():
            for column in (c for c in columns if c in ("agency_code", "dossier_code", "gap_key")):
                for value in [*probes, *own]:
                    text = error_of(conn, f'SELECT count(*) FROM {relation} '
                                          f'WHERE 1 / (CASE WHEN "{column}" = %s THEN 0 ELSE 1 END) = 1', (value,))
                    raised = text is not None and "division by zero" in text
                    if raised != (value in values[relation, column]):
                        wrong.append((relation, column, value, raised))
                    raised_own += raised and value in own
    assert raised_own > 0
    assert wrong == []


def plan(conn: psycopg.Connection, relation: str, column: str, value: str) -> str:
    rows = conn.execute(f'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT * FROM {relation} '
                        f'WHERE "{column}" = %s', (value,)).fetchall()
    return "\n".join(r[0] for r in rows).replace(value, "?")


def test_explain_analyze_shows_the_same_plan_for_another_units_value_as_for_none(attack):
    dsn, readable, values, secrets, _own = attack
    probes = sorted(secrets)[:: max(1, len(secrets) // 20)][:20]
    differ, compared = [], 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for relation, columns in readable.items():
            for column in (c for c in columns if c in ("agency_code", "dossier_code", "gap_key")):
                control = plan(conn, relation, column, NOWHERE)
                for value in probes:
                    if value in values[relation, column]:
                        continue
                    compared += 1
                    got = plan(conn, relation, column, value)
                    if got != control or leaked(got, secrets):
                        differ.append((relation, column, value, got))
    assert compared > 50
    assert differ == []


def test_statistics_and_functions_reveal_nothing_outside_the_unit(attack, checked):
    dsn, _readable, _values, secrets, _own = attack
    with psycopg.connect(dsn, autocommit=True) as conn:
        stats = conn.execute("SELECT schemaname, tablename, attname, most_common_vals::text, histogram_bounds::text "
                             "FROM pg_stats WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").fetchall()
        assert {s for s, *_ in stats} <= {"marts", "audit"}
        assert [row[:3] for row in stats if leaked(" ".join(filter(None, map(str, row))), secrets)] == []
        functions = conn.execute("""
            SELECT format('%I.%I', n.nspname, p.proname), p.pronargs, p.proretset, p.proargtypes::regtype[]::text[]
            FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
              AND has_function_privilege(p.oid, 'EXECUTE')""").fetchall()
        probe = sorted(secrets)[0]  # an outside dossier code or gap key, as every text argument
        called = []
        for name, nargs, returns_set, types in functions:
            if nargs == 0:
                query = f"SELECT x::text FROM {name}() AS x" if returns_set else f"SELECT {name}()::text"
                params = ()
            elif all(t in ("text", "character varying") for t in types):
                query = f"SELECT {name}({', '.join(['%s'] * nargs)})::text"
                params = (probe,) * nargs
            else:  # calendar arithmetic over timestamps and numbers: no rows behind it
                assert name in ("audit.office_seconds", "audit.office_moment", "audit.office_after"), name
                continue
            called.append(name)
            try:
                out = " ".join(str(r[0]) for r in conn.execute(query, params).fetchall())
            except psycopg.Error as err:
                out = str(err)
            assert not leaked(out, secrets), name
    assert "audit.scoped_agencies" in called and "scoped.fct_dossier_rows" in called
    with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT audit.unit_agencies('412')")  # another unit's agencies: not the login's to ask


def test_every_view_a_reader_selects_is_a_security_barrier(checked, settings):
    """A view that is not a barrier lets the planner run a caller's expression on rows its filter drops."""
    with psycopg.connect(checked[0]) as conn:
        views = conn.execute("""
            SELECT format('%I.%I', n.nspname, c.relname), coalesce(c.reloptions, '{}')::text
            FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE c.relkind = 'v' AND n.nspname IN ('marts', 'audit', 'scoped')
              AND (has_table_privilege('tthc_bi', c.oid, 'SELECT') OR has_table_privilege('tthc_inspector', c.oid, 'SELECT')
                   OR has_table_privilege('tthc_scoped_inspector', c.oid, 'SELECT'))""").fetchall()
    assert len(views) >= 12
    assert [v for v, options in views if "security_barrier=true" not in options
            and "security_invoker=true" not in options] == []


def test_readers_connect_to_the_warehouse_only_and_create_nothing(checked, scoped, settings):
    from urllib.parse import urlsplit

    admin = checked[0]
    for dsn in (scoped[0], role_in(admin, settings, "tthc_bi"), role_in(admin, settings, "tthc_inspector")):
        for database in ("postgres", "template1"):
            with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
                psycopg.connect(urlsplit(dsn)._replace(path=f"/{database}").geturl()).close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TEMP TABLE probe (n int)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE marts.probe (n int)")
