"""One rule, two implementations: over a simulated quarter (2025-04-01 to 06-30, the 2025 reform's eve), the
warehouse's 766 rows (marts.fct_kpi766_dossier) and counts (kpi_agency_monthly) equal what tthc.kpi766 computes
from the simulator's stores alone, dossier by dossier, month by month; dossiers open across months included."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from conftest import load, new_database, role_in
from kpi766_recompute import assert_counts_are_the_rows, assert_rows_agree
from tthc.calendar import TZ

START, DAYS = dt.date(2025, 4, 1), 91


@pytest.mark.slow
def test_the_766_mart_agrees_with_the_python_rule_over_a_quarter(warehouse, settings, tmp_path_factory):
    from tthc.pipeline import Endpoint
    from tthc.sources.serve import SourcesProcess
    from tthc.sources.sim import simulate
    from tthc.transform import build
    from tthc.warehouse import free_port

    data = tmp_path_factory.mktemp("quarter")
    simulate(31, START, DAYS, data, dossiers_per_year=16_000, faults="none")
    admin, loader = new_database(warehouse, settings, "t_kpi766_quarter")
    env = {f"TTHC_{s.upper()}_URL": f"http://127.0.0.1:{free_port()}" for s in ("onestop", "population", "portal")}
    with SourcesProcess(data, env=env) as served:
        endpoints = {s: Endpoint(u, settings.api_key) for s, u in served.urls.items()}
        for first in range(0, DAYS, 31):  # a build after each month, as the hourly builds would
            since, until = (dt.datetime.combine(START + dt.timedelta(days=n), dt.time(0), TZ)
                            for n in (first, min(first + 31, DAYS)))
            load(loader, endpoints, since, until)
            result = build(role_in(admin, settings, "tthc_transformer"))
            assert result.success, [(r["name"], r["message"]) for r in result.failures]
    expected = assert_rows_agree(admin, data, minimum=20)
    assert_counts_are_the_rows(admin, data)
    months = {k[1] for k in expected}
    assert months == {"2025-04", "2025-05", "2025-06"}
    # dossiers open across a month's end count in each month until they end, and some end in every way
    spans = Counter(k[2] for k, v in expected.items() if k[3] == "2.1" and v[0])
    assert sum(n >= 2 for n in spans.values()) > 20
    assert len({k[2] for k in expected if k[3] == "2.1"}) > 700
