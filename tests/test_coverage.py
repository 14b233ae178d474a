"""Load coverage (tthc.coverage, `tthc coverage`): the hole a manual run plus a backfill used to leave
silently (a manual trigger for logical date X read [X-1h, X), the backfill skipped X's slot, so
[X, X+1h) was never read) is reported until the hour is loaded; and a window read while its source was
stale is provisional until an hourly run reads it again once the source is fresh."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3

import httpx
import psycopg
from conftest import run_cli
from tthc import config
from tthc.calendar import TZ
from tthc.coverage import coverage, holes, incomplete
from tthc.live import LiveRun, run_hour, set_clock
from tthc.pipeline import Endpoint, endpoints_from_settings, extract_source
from tthc.sources.serve import data_end
from tthc.sources.store import store_path

UTC = dt.UTC


def at(hour: int) -> dt.datetime:  # Tuesday 2025-03-04 (the one-stop has no outage that day)
    return dt.datetime(2025, 3, 4, hour, tzinfo=UTC)


def test_a_skipped_hour_is_reported_as_a_hole_until_it_is_loaded(sources, sim_dir, fresh_db, caplog):
    admin, loader = fresh_db
    s = config.load()
    onestop = Endpoint(s.onestop_url, s.api_key)
    end = data_end(sim_dir)
    try:
        # the README's trigger of 03:00Z as a manual run read [02:00, 03:00); the backfill 03:00-05:00
        # skipped 03:00 (taken) and ran 04:00: [03:00, 04:00) was never read. Each read at its hour's end.
        for hour in (1, 2, 4):
            set_clock({"onestop": onestop}, at(hour + 1))
            extract_source(loader, onestop, "onestop", at(hour), at(hour + 1))
        found = holes(admin)
        assert {(h.entity, h.start, h.end) for h in found} == {
            (e, at(3), at(4)) for e in ("dossiers", "status_changes")}  # the catalogue reads from its watermark on
        read = [c for c in coverage(admin) if c.kind != "hole" and c.entity == "dossiers"]
        assert (read[0].start, read[-1].end) == (at(1), at(5)) and {c.kind for c in read} <= {"covered", "unconfirmed"}
        # each hour is confirmed up to the newest change served by then; the minutes after it await a reread
        assert sum(c.hours for c in read if c.kind == "covered") > 2.5
        listed = run_cli("coverage", env={"TTHC_WAREHOUSE_DB": admin.rsplit("/", 1)[1]})
        assert listed.returncode == 1 and listed.stdout.count("HOLE") == 2 and "2 hole(s)" in listed.stdout
        with caplog.at_level(logging.INFO, logger="tthc.load"):
            extract_source(loader, onestop, "onestop", at(3), at(4))  # the operator loads the hour
    finally:
        set_clock({"onestop": onestop}, end)
    # one INFO line per window, what the task log shows: province, entity, window and every count
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{s.province} onestop.dossiers ["))
    assert line.startswith(f"{s.province} onestop.dossiers [2025-03-04T03:00:00+00:00, 2025-03-04T04:00:00+00:00): read ")
    for word in ("inserted", "updated", "unchanged", "quarantined"):
        assert word in line
    assert holes(admin) == []
    listed = run_cli("coverage", env={"TTHC_WAREHOUSE_DB": admin.rsplit("/", 1)[1]})
    assert listed.returncode == 0 and "0 hole(s), 0 provisional" in listed.stdout, listed.stdout


def test_a_window_read_while_the_source_was_stale_is_provisional_until_the_next_fresh_hour_reads_it(
        sources, sim_dir, fresh_db):
    """Monday's scheduled one-stop outage serves nothing recorded after its start (stale, no error): the
    hours read then are provisional, `tthc coverage` says so, and the first hourly run after it reads them
    again, with the records they lacked."""
    admin, loader = fresh_db
    endpoints = endpoints_from_settings(config.load())  # the session's sources (their URLs are set by now)
    ep = endpoints["onestop"]
    outage = next(o for o in httpx.get(f"{ep.url}/admin/faults", headers={"X-API-Key": ep.api_key}).json()["outages"]
                  if o["mode"] == "stale")
    begin, finish = (dt.datetime.fromisoformat(outage[k]) for k in ("start", "end"))
    start = dt.datetime(2025, 3, 3, tzinfo=TZ)
    run, seen = LiveRun(), {}
    end = data_end(sim_dir)
    moment = start + dt.timedelta(hours=1)
    db = admin.rsplit("/", 1)[1]
    try:
        while moment <= finish.replace(minute=0, second=0) + dt.timedelta(hours=2):
            set_clock(endpoints, moment)
            run_hour(loader, endpoints, moment, run)
            provisional = [s for s in incomplete(admin) if s.source == "onestop" and s.kind == "provisional"]
            seen[moment] = provisional
            if provisional and "cli" not in seen:
                seen["cli"] = run_cli("coverage", env={"TTHC_WAREHOUSE_DB": db})
            moment += dt.timedelta(hours=1)
    finally:
        set_clock(endpoints, end)
    stale_hours = [m for m, p in seen.items() if m != "cli" and p]
    assert stale_hours and begin < stale_hours[0] and stale_hours[-1] < finish + dt.timedelta(hours=1)
    # while stale: the dossiers' stretch from the hour of the last change served on is provisional
    during = {s.entity: s for s in seen[stale_hours[-1]]}
    assert {"dossiers", "status_changes"} <= set(during)
    assert during["status_changes"].start <= begin.replace(minute=0, second=0) < during["status_changes"].end
    listed = seen["cli"]
    assert listed.returncode == 1 and "PROVISIONAL" in listed.stdout and "provisional stretch(es)" in listed.stdout
    # afterwards: nothing incomplete, and the raw log holds every status change of the period once
    assert incomplete(admin) == []
    assert any(lo < finish and hi > begin for lo, hi in run.caught_up["onestop"])
    last = moment - dt.timedelta(hours=1)
    with sqlite3.connect(store_path(sim_dir, "onestop")) as store:
        expected = store.execute("SELECT count(*) FROM status_changes WHERE changed_us >= ? AND changed_us < ?",
                                 (int(start.timestamp() * 1e6), int(last.timestamp() * 1e6))).fetchone()[0]
    with psycopg.connect(admin) as conn:
        loaded = conn.execute("SELECT count(*), count(DISTINCT record_key) FROM raw_onestop.status_changes "
                              "WHERE changed_at >= %s AND changed_at < %s", (start, last)).fetchone()
        late = conn.execute("SELECT sum(rows_inserted) FROM audit.load_run WHERE source = 'onestop' "
                            "AND entity = 'status_changes' AND window_start <= %s AND window_end > %s AND served_at >= %s",
                            (begin, begin, finish)).fetchone()[0]
    assert expected > 0 and loaded == (expected, expected)
    assert late and late > 0  # records the stale hours lacked, read by the catch-up
