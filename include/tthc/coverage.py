"""Load coverage: which stretches of time each province's source entity has read completely (confirmed),
which not yet (unconfirmed; provisional when the source was stale: ``tthc.freshness``), and the holes no
load has read, from the load log (``audit.load_run``). Raw tables are version logs keyed by record and hash, so time loaded
twice holds each version once; time never read completely is the only way to lose data, and it shows
here. The hourly runs catch up both within ``TTHC_CATCH_UP_DAYS``; `tthc coverage` prints the stretches
and exits 1 on a hole or a provisional stretch."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from tthc import config as config_mod
from tthc import freshness
from tthc.calendar import TZ


@dataclass(frozen=True)
class Stretch:
    province: str
    source: str
    entity: str
    kind: str  # 'covered', 'provisional' or 'hole'
    start: dt.datetime
    end: dt.datetime
    windows: int

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def coverage(dsn: str, stale_after_minutes: float | None = None) -> list[Stretch]:
    """Every province, source and entity's stretches, in order."""
    from tthc.pipeline import load_log

    minutes = stale_after_minutes if stale_after_minutes is not None else config_mod.load().stale_after_minutes
    out = []
    with psycopg.connect(dsn) as conn:
        pairs = conn.execute("SELECT DISTINCT province_code, source FROM audit.load_run "
                             "WHERE window_end IS NOT NULL ORDER BY 1, 2").fetchall()
        for province, source in pairs:
            log = load_log(conn, province, source)
            if not log:
                continue
            # observed up to and including the newest load (a later hour has not been looked at yet)
            spells = freshness.replay(log, minutes, max(ld.served_at for ld in log) + dt.timedelta(microseconds=1))
            first = min((ld.start for ld in log if ld.start is not None), default=log[0].served_at)
            vouched = freshness.confirmed(log, first)
            for entity in sorted({ld.entity for ld in log}):
                mine = [span for ld, span in vouched if ld.entity == entity]
                out += [Stretch(province, source, entity, s.kind, s.start, s.end, s.windows)
                        for s in freshness.stretches([ld for ld in log if ld.entity == entity], mine, spells)]
    return out


def holes(dsn: str) -> list[Stretch]:
    return [s for s in coverage(dsn) if s.kind == "hole"]


def incomplete(dsn: str) -> list[Stretch]:
    """Holes and provisional stretches: what `tthc coverage` exits 1 on (unconfirmed tails are not: the
    next run after a newer change reads them again)."""
    return [s for s in coverage(dsn) if s.kind in ("hole", "provisional")]


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def cli_coverage(args) -> int:
    from tthc.warehouse import role_dsn

    settings = config_mod.load()
    stretches = coverage(role_dsn(settings, "tthc_loader", start=True), settings.stale_after_minutes)
    if not stretches:
        print("coverage   nothing loaded yet")
        return 0
    for s in stretches:
        where = f"{s.province} {s.source:10} {s.entity:20} {_local(s.start)} .. {_local(s.end)}"
        reload = (f"tthc extract {s.source} --province {s.province} --since {s.start.astimezone(TZ).isoformat()} "
                  f"--until {s.end.astimezone(TZ).isoformat()}")
        if s.kind == "covered":
            print(f"covered    {where}  ({s.windows} windows)")
        elif s.kind == "unconfirmed":
            print(f"unconfirmed {where}  (read before the source had shown anything newer: the next run after a "
                  "newer change reads it again)")
        elif s.kind == "provisional":
            print(f"PROVISIONAL {where}  ({s.hours:g} h read while the source was stale; the next hourly run after it "
                  f"is fresh reloads it within {settings.catch_up_days} days, or: {reload})")
        else:
            print(f"HOLE       {where}  ({s.hours:g} h never loaded: {reload})")
    found = {kind: sum(s.kind == kind for s in stretches) for kind in ("hole", "provisional", "unconfirmed")}
    print(f"coverage   {found['hole']} hole(s), {found['provisional']} provisional stretch(es), "
          f"{found['unconfirmed']} awaiting confirmation"
          + ("" if found["hole"] or found["provisional"] else ": nothing known to be missing"))
    return 1 if found["hole"] or found["provisional"] else 0
