"""Load coverage: the hole a manual run plus a backfill used to leave silently (a manual trigger for
logical date X read [X-1h, X), the backfill skipped X's slot, so [X, X+1h) was never read) is reported by
audit.load_coverage and `tthc coverage`, and loading the hour closes it."""

from __future__ import annotations

import datetime as dt
import logging

from conftest import run_cli
from tthc import config
from tthc.coverage import coverage, holes
from tthc.pipeline import Endpoint, extract_source

UTC = dt.UTC


def at(hour: int) -> dt.datetime:
    return dt.datetime(2025, 3, 3, hour, tzinfo=UTC)


def test_a_skipped_hour_is_reported_as_a_hole_until_it_is_loaded(sources, fresh_db, caplog):
    admin, loader = fresh_db
    s = config.load()
    onestop = Endpoint(s.onestop_url, s.api_key)
    # the README's trigger of 2025-03-03T03:00Z as a manual run read [02:00, 03:00); the backfill
    # 03:00-05:00 skipped 03:00 (taken) and ran 04:00: [03:00, 04:00) was never read
    for hour in (1, 2, 4):
        extract_source(loader, onestop, "onestop", at(hour), at(hour + 1))
    found = holes(admin)
    assert {(h.entity, h.start, h.end) for h in found} == {
        (e, at(3), at(4)) for e in ("dossiers", "status_changes")}  # the catalogue reads from its watermark on
    covered = [c for c in coverage(admin) if c.kind == "covered" and c.entity == "dossiers"]
    assert [(c.start, c.end, c.windows) for c in covered] == [(at(1), at(3), 2), (at(4), at(5), 1)]
    listed = run_cli("coverage", env={"TTHC_WAREHOUSE_DB": admin.rsplit("/", 1)[1]})
    assert listed.returncode == 1 and listed.stdout.count("HOLE") == 2 and "2 hole(s)" in listed.stdout
    with caplog.at_level(logging.INFO, logger="tthc.load"):
        extract_source(loader, onestop, "onestop", at(3), at(4))  # the operator loads the hour
    # one INFO line per window, what the task log shows: province, entity, window and every count
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{s.province} onestop.dossiers ["))
    assert line.startswith(f"{s.province} onestop.dossiers [2025-03-03T03:00:00+00:00, 2025-03-03T04:00:00+00:00): read ")
    for word in ("inserted", "updated", "unchanged", "quarantined"):
        assert word in line
    assert holes(admin) == []
    listed = run_cli("coverage", env={"TTHC_WAREHOUSE_DB": admin.rsplit("/", 1)[1]})
    assert listed.returncode == 0 and "0 hole(s)" in listed.stdout
