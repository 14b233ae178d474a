"""Hand-built minimal cases for each gap rule: what must be caught, at the second it opens, and the near
misses that must not be (a sync exactly at the SLA, a dossier withdrawn before receipt, a re-pushed
identical status, a G7 day that balances after late syncs, a night filing, a non-citizen), written
straight into the staging tables the rules read, then a push that arrives later (closes gaps) and one
applied late but dated in time (retracts them), a replay of the first hour, and G8 from a hand-built
load log. Times are local (UTC+7); missing_after is 4 office hours here."""

from __future__ import annotations

import dataclasses
import datetime as dt

import psycopg
import pytest
from conftest import new_database, role_in
from tthc.calendar import TZ
from tthc.checks import run_check
from tthc.transform import build, write_seeds

MON = dt.date(2025, 3, 3)
DUE = dt.datetime(2025, 3, 10, 17, 0, tzinfo=TZ)
FIRST = dt.datetime(2025, 3, 5, 12, 0, tzinfo=TZ)  # Wednesday noon
SECOND = dt.datetime(2025, 3, 5, 14, 0, tzinfo=TZ)


def at(day: int, hh: int, mm: int = 0) -> dt.datetime:
    """day 0 = Monday 2025-03-03."""
    return dt.datetime.combine(MON + dt.timedelta(days=day), dt.time(hh, mm), TZ)


class Staging:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.ids: dict[str, int] = {}

    def dossier(self, code: str, agency: str, applicant: str = "K-OK", kind: int = 1, due: dt.datetime = DUE) -> None:
        self.ids[code] = 9000 + len(self.ids)
        self.conn.execute(
            "INSERT INTO staging.stg_onestop__dossiers (province_code, dossier_code, dossier_id, procedure_code, "
            "agency_code, applicant_key, applicant_type_code, channel_code, due_at, _build_load_id) "
            "VALUES ('40', %s, %s, 'P1', %s, %s, %s, 1, %s, 0)", (code, self.ids[code], agency, applicant, kind, due))

    def change(self, code: str, n: int, status: int, recorded: dt.datetime, agency: str) -> str:
        change_id = f"{self.ids[code]}-{n:02d}"
        self.conn.execute(
            "INSERT INTO staging.stg_onestop__status_changes (status_change_id, dossier_id, dossier_code, agency_code, "
            "status_code, is_handover, changed_at, recorded_at, _build_load_id) VALUES (%s, %s, %s, %s, %s, false, %s, %s, 0)",
            (change_id, self.ids[code], code, agency, status, recorded, recorded))
        return change_id

    def push(self, code: str, n: int, status: int, synced: dt.datetime, applied: dt.datetime | None = None,
             repeat: bool = False, due: dt.datetime = DUE, agency: str = "AG", applicant: str = "K-OK") -> None:
        change_id = f"{self.ids[code]}-{n:02d}"
        self.conn.execute(
            "INSERT INTO staging.stg_portal__sync_records (sync_id, status_change_id, dossier_code, agency_code, "
            "procedure_code, applicant_key, status_code, channel_code, synced_at, applied_at, due_at, _build_load_id) "
            "VALUES (%s, %s, %s, %s, 'P1', %s, %s, 1, %s, %s, %s, 0)",
            (f"DB-{change_id}" + ("-R" if repeat else ""), change_id, code, agency, applicant, status, synced,
             applied or synced, due))

    def application(self, code: str, filed: dt.datetime, agency: str, linked: tuple[str, dt.datetime] | None = None):
        rows = [(None, filed)] + ([linked] if linked else [])
        for dossier, recorded in rows:
            self.conn.execute(
                "INSERT INTO staging.stg_portal__online_applications (application_code, dossier_code, procedure_code, "
                "agency_code, applicant_key, filed_at, recorded_at, _build_load_id) VALUES (%s, %s, 'P1', %s, 'K-OK', %s, %s, 0)",
                (code, dossier, agency, filed, recorded))

    def verification(self, applicant: str, result: str) -> None:
        self.conn.execute("INSERT INTO staging.stg_population__verifications (province_code, applicant_key, "
                          "verification_result, verified_at, _build_load_id) VALUES ('40', %s, %s, now(), 0)",
                          (applicant, result))

    def received_and_pushed(self, code: str, agency: str, **dossier) -> None:
        """A plain dossier: received Monday 08:00, pushed five minutes later."""
        self.dossier(code, agency, **dossier)
        self.change(code, 1, 2, at(0, 8), agency)
        self.push(code, 1, 2, at(0, 8, 5), agency=agency, applicant=dossier.get("applicant", "K-OK"),
                  due=dossier.get("due", DUE))


def write_cases(s: Staging) -> None:
    s.verification("K-OK", "found")
    # G1 caught: received Monday 08:00, never pushed: opens 4 office hours later, at 12:00, that is after lunch:
    # 13:30 (winter hours, 07:30-12:00 and 13:30-17:00)
    s.dossier("C-G1", "AG1")
    s.change("C-G1", 1, 2, at(0, 8), "AG1")
    # G1 near miss: the first push exactly when the gap would open; G3 caught (five and a half hours late); and
    # its G7 day balances after that late sync, before the day's evaluation starts (Tuesday 07:30 + 4 office
    # hours: 11:30)
    s.dossier("C-EDGE", "AG2")
    s.change("C-EDGE", 1, 2, at(0, 8), "AG2")
    s.push("C-EDGE", 1, 2, at(0, 13, 30), agency="AG2")
    # withdrawn before receipt: filed online, withdrawal requested, withdrawn; no status 2 (no G1), its
    # application linked at the first handling (no G4)
    s.dossier("C-WD", "AG3")
    for n, (status, hh) in enumerate(((1, 8), (7, 9), (8, 10)), start=1):
        s.change("C-WD", n, status, at(0, hh), "AG3")
        s.push("C-WD", n, status, at(0, hh, 5), agency="AG3")
    s.application("APP-WD", at(0, 7, 55), "AG3", ("C-WD", at(0, 9)))
    # G2 and G3 caught: status 4 recorded 09:00 reaches the portal 10:30 (90 min > 60)
    s.received_and_pushed("C-G2", "AG4")
    s.change("C-G2", 2, 4, at(0, 9), "AG4")
    s.push("C-G2", 2, 4, at(0, 10, 30), agency="AG4")
    # near miss for both: exactly 60 minutes
    s.received_and_pushed("C-SLA", "AG4")
    s.change("C-SLA", 2, 4, at(0, 9), "AG4")
    s.push("C-SLA", 2, 4, at(0, 10), agency="AG4")
    # near miss: the same status re-pushed hours later (G3 counts the first push; the statuses agree)
    s.received_and_pushed("C-REPUSH", "AG4")
    s.push("C-REPUSH", 1, 2, at(0, 15), repeat=True, agency="AG4")
    # G4 caught: filed Monday 08:00, never received
    s.application("APP-G4", at(0, 8), "AG5")
    # near misses: received exactly when it would open; filed Saturday night, received Monday 11:00 (office
    # time counts from Monday's opening: it would open at 11:30)
    s.application("APP-EDGE", at(0, 8), "AG5", ("C-WD", at(0, 13, 30)))
    s.application("APP-NIGHT", at(-2, 22), "AG5", ("C-WD", at(0, 11)))
    # G5 caught: the portal's copy has another due date; near miss: only the agency differs (not compared)
    s.dossier("C-G5", "AG7")
    s.change("C-G5", 1, 2, at(0, 8), "AG7")
    s.push("C-G5", 1, 2, at(0, 8, 5), due=DUE + dt.timedelta(days=1), agency="AG7")
    s.dossier("C-G5-AGENCY", "AG7")
    s.change("C-G5-AGENCY", 1, 2, at(0, 8), "AG7")
    s.push("C-G5-AGENCY", 1, 2, at(0, 8, 5), agency="AG-OTHER")
    # G6 caught: a citizen the population database does not know, and one it knows by another name;
    # near misses: an enterprise's unknown number, a citizen verified
    s.received_and_pushed("C-G6", "AG7", applicant="K-UNKNOWN")
    s.received_and_pushed("C-G6M", "AG7", applicant="K-OTHER-NAME")
    s.received_and_pushed("C-ORG", "AG7", applicant="K-ORG", kind=2)
    s.verification("K-UNKNOWN", "not_found")
    s.verification("K-OTHER-NAME", "mismatch")
    s.verification("K-ORG", "not_found")
    # retracted later: pushed 08:30 (in time) but applied by the portal only on Wednesday 13:30
    s.dossier("C-LATE", "AG6")
    s.change("C-LATE", 1, 2, at(0, 8), "AG6")
    s.push("C-LATE", 1, 2, at(0, 8, 30), applied=at(2, 13, 30), agency="AG6")


EXPECTED_FIRST = {
    ("G1", "C-G1", at(0, 13, 30), None), ("G1", "C-LATE", at(0, 13, 30), None),
    ("G2", "C-G2", at(0, 10), at(0, 10, 30)),
    ("G3", "C-EDGE", at(0, 9), at(0, 13, 30)), ("G3", "C-G2", at(0, 10), at(0, 10, 30)),
    ("G4", "APP-G4", at(0, 13, 30), None),
    ("G5", "C-G5", at(0, 8, 5), None),
    ("G6", "C-G6", at(0, 8), None), ("G6", "C-G6M", at(0, 8), None),
    ("G7", "AG1|2025-03-03", at(1, 11, 30), None), ("G7", "AG6|2025-03-03", at(1, 11, 30), None),
    ("G8", "onestop", at(0, 11, 10), at(0, 15)),
    ("G8", "onestop", at(2, 8, 20), None), ("G8", "portal", at(2, 8, 20), None),
}

# G8: the load log, one load an hour (served at h, the newest change it got). Monday: the one-stop goes
# quiet after 09:10: 09:10 + 120 office minutes = 11:10, seen stale at 12:00, fresh at 15:00. The portal
# is quiet from 10:20 to 13:55: 10:20 + 120 office minutes (lunch, 12:00-13:30, does not count) = 13:50
# passes between two hourly observations (no gap seen). Tuesday
# 08:00-16:00 both serve a change each hour; then the loads stop: the hours still pass, so from Tuesday
# 15:50 + 120 office minutes = Wednesday 08:20 both are stale (the pipeline itself is broken).
LOADS = {
    "onestop": [(0, 8, None), (0, 9, (8, 50)), (0, 10, (9, 10)), (0, 11, None), (0, 12, None), (0, 13, None),
                (0, 14, None), (0, 15, (14, 50)), (0, 16, (15, 55))],
    "portal": [(0, 8, (7, 55)), (0, 9, (8, 55)), (0, 10, (9, 50)), (0, 11, (10, 20)), (0, 12, None), (0, 13, None),
               (0, 14, (13, 55)), (0, 15, (14, 40)), (0, 16, (15, 50))],
}
for _source in LOADS:
    LOADS[_source] += [(1, hh, (hh - 1, 50)) for hh in range(8, 17)]


def write_load_log(admin: str) -> None:
    with psycopg.connect(admin) as conn:
        for source, observations in LOADS.items():
            for day, hh, newest in observations:
                conn.execute(
                    "INSERT INTO audit.load_run (load_id, province_code, source, entity, window_start, window_end, "
                    "status, served_at, newest_changed_at) VALUES (nextval('audit.load_run_load_id_seq'), '40', %s, "
                    "'x', %s, %s, "
                    "'success', %s, %s)",
                    (source, at(day, hh - 1), at(day, hh), at(day, hh), newest and at(day, *newest)))


def gaps(dsn: str, retracted: bool = False) -> set[tuple]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT gap_code, gap_key, opened_at, closed_at FROM audit.sync_gap "
                            f"WHERE retracted_at IS {'NOT ' if retracted else ''}NULL").fetchall()
    return {(c, k, o.astimezone(TZ), x and x.astimezone(TZ)) for c, k, o, x in rows}


@pytest.fixture(scope="module")
def cases(warehouse, settings, tmp_path_factory):
    admin, _ = new_database(warehouse, settings, "t_gap_cases")
    transformer = role_in(admin, settings, "tthc_transformer")
    write_seeds()
    result = build(transformer)  # empty raw: creates the staging tables and the calendar seed
    assert result.success, [(r["name"], r["message"]) for r in result.failures]
    with psycopg.connect(transformer) as conn:
        write_cases(Staging(conn))
    write_load_log(admin)
    return admin, transformer, dataclasses.replace(settings, missing_after_hours=4)


def test_each_rule_catches_its_case_at_the_second_and_no_near_miss(cases):
    admin, transformer, settings = cases
    first = run_check(transformer, FIRST, settings, gx=False)
    assert first.mode == "full"
    assert gaps(transformer) == EXPECTED_FIRST
    assert first.open_counts == {"G1": 2, "G2": 0, "G3": 0, "G4": 1, "G5": 1, "G6": 2, "G7": 2, "G8": 2}


def test_later_data_closes_gaps_and_retracts_what_it_disproves(cases):
    admin, transformer, settings = cases
    with psycopg.connect(transformer) as conn:  # C-G1 finally reaches the portal on Wednesday 13:00
        s = Staging(conn)
        s.ids["C-G1"] = conn.execute("SELECT dossier_id FROM staging.stg_onestop__dossiers "
                                     "WHERE dossier_code = 'C-G1'").fetchone()[0]
        s.push("C-G1", 1, 2, at(2, 13), agency="AG1")
    second = run_check(transformer, SECOND, settings, gx=False)
    assert second.mode == "incremental"
    assert second.scope_counts["dossiers"] < 5  # what changed, not everything
    closed = {g for g in gaps(transformer) if g[3] is not None}
    assert ("G1", "C-G1", at(0, 13, 30), at(2, 13)) in closed
    assert ("G7", "AG1|2025-03-03", at(1, 11, 30), at(2, 13)) in closed
    assert {g[:2] for g in gaps(transformer, retracted=True)} == {("G1", "C-LATE"), ("G7", "AG6|2025-03-03")}
    full = run_check(transformer, SECOND, settings, full=True, gx=False)  # the increment missed nothing
    assert (full.changes["opened"], full.changes["closed"], full.changes["retracted"]) == (0, 0, 0)


def test_a_replay_of_a_past_hour_reports_that_hour_and_changes_nothing(cases):
    admin, transformer, settings = cases
    before = gaps(transformer) | gaps(transformer, retracted=True)
    replay = run_check(transformer, FIRST, settings, gx=False)
    assert replay.mode == "replay"
    # as of Wednesday noon C-G1's push was not there yet and C-LATE's not applied: the hour's answer
    assert replay.open_counts == {"G1": 2, "G2": 0, "G3": 0, "G4": 1, "G5": 1, "G6": 2, "G7": 2, "G8": 2}
    assert gaps(transformer) | gaps(transformer, retracted=True) == before
