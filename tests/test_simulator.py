"""The simulator's truth and realism: every gap code equals an independent recompute from the stores,
the rules' edge cases behave as their words say, and the province looks like the published figures."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from collections import defaultdict

import pytest
from gap_recompute import compare
from tthc.calendar import TZ, office_minutes_between
from tthc.sources.sim import simulate
from tthc.sources.sim.mix import TARGETS, measure
from tthc.sources.sim.people import People
from tthc.sources.sim.truth import Params, g2_stale, g4_orphan, g7_drift, g8_stale

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=TZ)  # a Monday


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


SHORT = Params(dt.timedelta(minutes=15), missing_after_minutes=60, stale_after_minutes=20)


@pytest.mark.parametrize("seed,start,days,faults,per_year,params", [
    (101, "2025-06-25", 14, "every-kind", 150_000, None),  # across the reform: hand-overs, dropped pushes
    (2, "2024-06-24", 14, "none", 100_000, None),  # across VNeID's start for citizens
    (3, "2025-03-01", 10, "default", 200_000, None),
    (4, "2025-12-20", 20, "heavy", 80_000, None),  # across a new year
    (5, "2026-02-09", 14, "every-kind", 60_000, None),  # across Tet 2026
    (205, "2025-06-30", 3, "heavy", 300_000, SHORT),  # other thresholds
])
def test_truth_equals_an_independent_recompute_from_the_stores(tmp_path, seed, start, days, faults, per_year,
                                                                 params):
    truth = simulate(seed, dt.date.fromisoformat(start), days, tmp_path, dossiers_per_year=per_year, faults=faults,
                     params=params)
    differences = {code: (sorted(a)[:3], sorted(b)[:3]) for code, (a, b) in compare(tmp_path).items() if a or b}
    assert differences == {}
    if faults != "none":
        assert {"G1", "G2", "G3", "G4", "G5", "G6"} <= set(truth["gap_counts"])


def test_changes_recorded_in_the_same_second_keep_their_sequence():
    """A supplement request (5) and the return to processing (4) recorded in one second: the one-stop
    is at 4 afterwards, as the portal is; ordering by status number would invent a stale status."""
    same = at(30)
    onestop = [(at(0), "1-02", 2), (same, "1-03", 5), (same, "1-04", 4)]
    portal = [(at(5), "1-02", 2), (at(40), "1-03", 5), (at(41), "1-04", 4)]
    assert g2_stale(onestop, portal, Params(), at(600)) == []
    late = [(at(5), "1-02", 2), (at(95), "1-03", 5), (at(96), "1-04", 4)]  # both pushes 65 min late
    assert g2_stale(onestop, late, Params(), at(600)) == [(at(90), at(96))]


def test_missing_after_runs_in_office_hours():
    """Filed on a Friday evening, received on Monday morning: not an orphan, though 60 clock hours passed."""
    friday_evening = dt.datetime(2025, 3, 7, 19, 0, tzinfo=TZ)
    monday = dt.datetime(2025, 3, 10, 9, 30, tzinfo=TZ)
    assert g4_orphan(friday_evening, monday, Params()) == []
    never = g4_orphan(friday_evening, None, Params())
    assert office_minutes_between(friday_evening, never[0][0]) == 24 * 60
    assert never[0][0] == dt.datetime(2025, 3, 13, 7, 30, tzinfo=TZ)  # 3 office days (Mon-Wed): Thursday's opening


def test_count_drift_closes_when_a_late_sync_balances_the_day():
    day = dt.date(2025, 3, 3)
    received = [at(0), at(10)]
    start = dt.datetime(2025, 3, 7, 7, 30, tzinfo=TZ)  # Tuesday 00:00 + 24 office hours (Tue-Thu): Friday 07:30
    assert g7_drift(day, received, [at(20), at(30)], Params()) == []
    backlog = start + dt.timedelta(hours=5)
    assert g7_drift(day, received, [at(20), backlog], Params()) == [(start, backlog)]
    assert g7_drift(day, received, [at(20)], Params()) == [(start, None)]


def test_a_source_is_stale_only_in_office_time():
    """Nothing recorded over a weekend is not an outage; an outage in office hours is, as the hourly
    fetches see it: from the newest change they were served plus the lag, until a fetch sees a newer one."""
    def us(moments):
        return [int(t.timestamp() * 1e6) for t in moments]

    friday, monday = dt.datetime(2025, 2, 28, 16, 0, tzinfo=TZ), dt.datetime(2025, 3, 3, 9, 0, tzinfo=TZ)
    weekend = us([friday + dt.timedelta(minutes=50), monday - dt.timedelta(minutes=85)])  # 16:50, Mon 07:35
    assert g8_stale(weekend, [], Params(), friday, monday) == []
    changes = us([at(m) for m in range(0, 400, 5)])  # 09:00 to 15:35, every 5 minutes
    end = at(420)
    # a stale outage 10:52-15:15: the 11:00 fetch is served up to 10:50; 10:50 + 120 office minutes (lunch,
    # 12:00-13:30 in winter, does not count) = 14:20; the 15:00 fetch still sees nothing newer; the 16:00 one does
    assert g8_stale(changes, [(at(112), at(375), "stale")], Params(), T0, end) == [(at(320), at(420))]
    # ended 14:30: no hourly fetch saw it stale
    assert g8_stale(changes, [(at(112), at(330), "stale")], Params(), T0, end) == []
    # down 09:52-14:30: the 10:00-14:00 fetches fail; newest seen 08:00 (the start), stale from 10:00
    # (08:00 + 120 office minutes); 15:00 asks again for every hour that failed
    assert g8_stale(changes, [(at(52), at(330), "down")], Params(), T0 - dt.timedelta(hours=1), end) == [
        (at(60), at(360))]


def test_personal_ids_are_never_handed_out_twice():
    people = People("40")
    rng = random.Random(1)
    values = {people._unique(rng, lambda: str(rng.randrange(10))) for _ in range(10)}
    assert values == {str(n) for n in range(10)}
    with pytest.raises(RuntimeError):
        people._unique(rng, lambda: str(rng.randrange(10)))


def test_one_name_per_id_number_across_dossiers(tmp_path):
    simulate(8, dt.date(2025, 3, 3), 10, tmp_path, dossiers_per_year=300_000, faults="none")
    names = defaultdict(set)
    with sqlite3.connect(tmp_path / "onestop.sqlite") as db:
        for (p,) in db.execute("SELECT payload FROM dossiers"):
            rec = json.loads(p)
            names[rec["SoGiayToChuHoSo"]].add(rec["ChuHoSo"])
    assert len(names) > 5000 and max(len(v) for v in names.values()) == 1


def test_pending_dossiers_move_to_the_successor_at_the_reform(tmp_path):
    truth = simulate(9, dt.date(2025, 6, 23), 14, tmp_path, dossiers_per_year=150_000, faults="none")
    with sqlite3.connect(tmp_path / "onestop.sqlite") as db:
        agencies = defaultdict(list)
        for (p,) in db.execute("SELECT payload FROM agencies ORDER BY changed_us, seq"):
            rec = json.loads(p)
            agencies[rec["MaDonVi"]].append(rec)
        changes = [json.loads(p) for (p,) in db.execute("SELECT payload FROM status_changes")]
    closed = {code: v[-1]["MaDonViKeThua"] for code, v in agencies.items() if v[-1]["HieuLucDen"]}
    assert closed and all(successor and not agencies[successor][-1]["HieuLucDen"] for successor in closed.values())
    for versions in agencies.values():  # one version in force at a time: each change takes effect when recorded
        for before, after in zip(versions, versions[1:], strict=False):
            assert after["HieuLucTu"] >= before["HieuLucTu"]
            assert (after["HieuLucDen"] or after["HieuLucTu"]) == after["NgayCapNhat"][:10]
    reform = dt.datetime(2025, 7, 1, tzinfo=TZ)
    transfers = [c for c in changes if c["GhiChu"]]
    assert transfers and all(c["DonViXuLy"] not in closed for c in transfers)
    assert not [c for c in changes if c["DonViXuLy"] in closed and dt.datetime.fromisoformat(c["ThoiGian"]) >= reform]
    assert truth["counts"]["dossiers"] > 3000


def _targets_met(m: dict) -> dict:
    return {name: (m.get(name), t.value) for name, t in TARGETS.items() if t.met(m.get(name)) is False}


@pytest.mark.slow
def test_the_province_of_2025_looks_like_the_published_figures(tmp_path):
    simulate(7, dt.date(2025, 6, 1), 45, tmp_path, dossiers_per_year=300_000, faults="default")
    m = measure(tmp_path)
    assert _targets_met(m) == {}
    assert m["online_share_2025"] is not None and m["abolished_agency_changes"] == 0 and m["reform_transfers"] > 0
    # agencies differ for real: their rates spread several times wider than sampling alone would
    assert all(v > 3 for v in m["agencies_differ"].values()), m["agencies_differ"]
    assert m["on_time_by_agency"]["min"] < 0.8 < m["on_time_by_agency"]["median"]


@pytest.mark.slow
def test_the_province_of_2024_looks_like_the_published_figures(tmp_path):
    simulate(7, dt.date(2024, 10, 1), 45, tmp_path, dossiers_per_year=300_000, faults="default")
    m = measure(tmp_path)
    assert _targets_met(m) == {}
    assert m["full_process_share_2024"] is not None


def test_a_longer_run_extends_a_shorter_one(tmp_path):
    """What a dossier becomes is drawn when it is filed; the period's end only decides what is recorded."""
    short, long = tmp_path / "short", tmp_path / "long"
    end = simulate(12, dt.date(2025, 6, 27), 3, short, dossiers_per_year=60_000, faults="heavy")["period"]["end"]
    simulate(12, dt.date(2025, 6, 27), 6, long, dossiers_per_year=60_000, faults="heavy")
    end_us = int(dt.datetime.fromisoformat(end).timestamp() * 1e6)
    for source in ("onestop", "portal"):
        with sqlite3.connect(short / f"{source}.sqlite") as a, sqlite3.connect(long / f"{source}.sqlite") as b:
            for (table,) in a.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                rows = set(a.execute(f"SELECT key, changed_us, payload FROM {table}"))
                prefix = set(b.execute(f"SELECT key, changed_us, payload FROM {table} WHERE changed_us < ?",
                                       (end_us,)))
                assert rows == prefix and rows, table
