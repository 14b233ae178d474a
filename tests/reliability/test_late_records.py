"""Late records, the way a live deployment meets them: the simulated week hour by hour through the extract
DAGs themselves (a `dag.test()` run of onestop_extract and portal_extract per hour, the sources' clock at
the hour's end, population_verify after each day), each feed source once *stale* (it answers, serving
nothing recorded after the outage start) and once *down* (503), with no reload or backfill at the end:
the hourly runs' catch-up alone must bring in what the outages held back. Held to the clean run (the
session's week loaded day by day) and to the freshness rule's truth for the injected outages."""

from __future__ import annotations

import datetime as dt
import sqlite3

import httpx
import psycopg
import pytest
from conftest import DAYS, day, new_database, role_in, table_checksums
from test_reliability import ANSWER_TIMES, clean, findings, put_faults, without_verifications  # noqa: F401 (fixture)
from tthc.checks import run_check
from tthc.coverage import incomplete
from tthc.live import set_clock
from tthc.sources.sim.common import iso
from tthc.sources.sim.truth import Params, g8_stale
from tthc.sources.store import SOURCES, store_path
from tthc.transform import build, mart_checksums

pytestmark = pytest.mark.slow
END = day(DAYS)
HOUR = dt.timedelta(hours=1)


def at(n: int, clock: str) -> dt.datetime:
    h, m = map(int, clock.split(":"))
    return day(n) + dt.timedelta(hours=h, minutes=m)


# the week starts on Thursday 2025-06-26; day 4 is Monday 30 June, the eve of the 2025-07-01 reform
OUTAGES = {
    "onestop": [("stale", at(1, "08:47"), at(1, "14:44")),  # Friday: found stale at 11:00, fresh at 15:00
                ("down", at(5, "09:10"), at(5, "12:40"))],  # Tuesday 1 July, the reform's first day
    "portal": [("down", at(4, "13:45"), at(4, "16:20")),  # Monday afternoon
               ("stale", at(6, "15:10"), at(6, "22:30"))],  # Wednesday, ending at night: no new change then
}


def g8_truth(data, settings) -> list[tuple]:
    """The freshness rule's G8 intervals for the injected outages (the simulator's own truth function)."""
    out = []
    for source, spans in OUTAGES.items():
        with sqlite3.connect(store_path(data, source)) as db:
            union = " UNION ALL ".join(f"SELECT changed_us FROM {e}" for e in SOURCES[source])
            times = [us for (us,) in db.execute(f"SELECT changed_us FROM ({union}) ORDER BY 1")]
        for opened, closed in g8_stale(times, [(s, e, mode) for mode, s, e in spans], Params.from_settings(settings),
                                       day(0), END):
            out.append((source, opened, closed if closed is not None and closed < END else None))
    return sorted(out, key=lambda g: (g[0], g[1]))


def test_stale_and_down_outages_of_each_feed_are_caught_up_by_the_hourly_dag_runs_alone(
        clean, week, warehouse, settings, monkeypatch):  # noqa: F811 (the fixture imported above)
    from tthc import dag_support
    from tthc.airflow_local import DagRunner

    data, endpoints = week
    admin, loader = new_database(warehouse, settings, "t_rel_late")
    transformer = role_in(admin, settings, "tthc_transformer")
    truth = g8_truth(data, settings)
    assert {s for s, *_ in truth} == {"onestop", "portal"}
    # simulated hours pass in seconds: retries after a second, a down source given up on after two
    monkeypatch.setitem(dag_support.DEFAULT_ARGS, "retry_delay", dt.timedelta(seconds=1))
    monkeypatch.setenv("TTHC_SOURCE_MAX_SECONDS", "2")
    runner = DagRunner(settings)
    urls = {s: ep.url for s, ep in endpoints.items()}
    for name, value in dag_support.airflow_env(loader, settings.api_key, urls, transformer).items():
        monkeypatch.setenv(name, value)
    for source, spans in OUTAGES.items():
        ep = endpoints[source]
        httpx.put(f"{ep.url}/admin/faults", headers={"X-API-Key": ep.api_key}, json={"outages": [
            {"mode": mode, "start": iso(s), "end": iso(e)} for mode, s, e in spans]}).raise_for_status()
    failed: dict[str, list[dt.datetime]] = {"onestop": [], "portal": []}
    provisional: dict[str, set[dt.datetime]] = {"onestop": set(), "portal": set()}
    before_catch_up = None
    try:
        moment = day(0) + HOUR
        while moment <= END:
            set_clock(endpoints, moment)
            for source in ("onestop", "portal"):
                if runner.run(f"{source}_extract", moment) != "success":
                    failed[source].append(moment)
            if moment.hour == 0:
                assert runner.run("population_verify", moment) == "success"
            for stretch in incomplete(admin):
                if stretch.kind == "provisional":
                    provisional[stretch.source].add(moment)
            if moment == at(1, "14:00"):  # a build and a check while the one-stop is stale: findings it disproves later
                assert build(transformer).success
                run_check(transformer, moment, settings, gx=False)
                before_catch_up = findings(admin)
            moment += HOUR
    finally:
        put_faults(endpoints, outages=[])
        set_clock(endpoints, END)

    # the runs that met a down source failed, every one of them, and nothing else did
    for source, spans in OUTAGES.items():
        down = [(s, e) for mode, s, e in spans if mode == "down"]
        assert failed[source] == [h for h in _hours() if any(s <= h < e for s, e in down)], source
        # provisional (G8 says stale) only during an outage or in the hour after it: a down source looks the
        # same to the rule (nothing new), so the hour read before it is provisional too
        assert all(any(s < h <= e + HOUR for _, s, e in spans) for h in provisional[source]), source
    # the one-stop's Friday outage is long enough for G8 to tell; the portal's Wednesday evening one is not
    # (its newest change, 15:09, is due only the next morning), yet what it held back is read again all the
    # same: each hour's reads stay unconfirmed until the source shows something newer (the raw tables below)
    assert any(s < h <= e + HOUR for h in provisional["onestop"] for mode, s, e in OUTAGES["onestop"] if mode == "stale")
    assert incomplete(admin) == []  # no hole, nothing provisional: the catch-up read it all

    assert build(transformer).success
    run_check(transformer, END, settings, gx=False)  # incremental, as the hourly check runs
    assert without_verifications(table_checksums(admin)) == without_verifications(clean["raw"])
    assert mart_checksums(admin, ANSWER_TIMES) == mart_checksums(clean["admin"], ANSWER_TIMES)
    assert findings(admin) == clean["gaps"]  # G1-G7: the check during the outage was wrong, then retracted
    assert before_catch_up  # the check during the outage found gaps (some of them false)
    with psycopg.connect(admin) as conn:
        retracted = conn.execute("SELECT count(*) FROM audit.sync_gap WHERE retracted_at IS NOT NULL").fetchone()[0]
    assert retracted > 0
    g8 = [(key, opened, closed) for _, key, _, opened, closed in findings(admin, ("G8",))]
    assert sorted(g8, key=lambda g: (g[0], g[1])) == truth  # opening and closing times to the second
    # an operator's rerun of a past hour (dag.test of its logical date again) changes nothing
    raw = table_checksums(admin)
    assert runner.run("onestop_extract", at(1, "12:00")) == "success"
    assert table_checksums(admin) == raw


def _hours() -> list[dt.datetime]:
    return [day(0) + HOUR * n for n in range(1, 24 * DAYS + 1)]
