"""Load coverage: which stretches of time each province's source and entity has loaded (successful windows joined
end to end), and the holes between them (``audit.load_coverage``). Raw tables are version logs keyed by
record and hash, so time loaded twice holds each version once; time never loaded is the only way to
lose data, and it shows here. `tthc coverage` prints it and exits 1 when there is a hole."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from tthc import config as config_mod
from tthc.calendar import TZ


@dataclass(frozen=True)
class Stretch:
    province: str
    source: str
    entity: str
    kind: str  # 'covered' or 'hole'
    start: dt.datetime
    end: dt.datetime
    windows: int

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def coverage(dsn: str) -> list[Stretch]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT province_code, source, entity, kind, period_start, period_end, windows "
                            "FROM audit.load_coverage ORDER BY province_code, source, entity, period_start, kind").fetchall()
    return [Stretch(*r) for r in rows]


def holes(dsn: str) -> list[Stretch]:
    return [s for s in coverage(dsn) if s.kind == "hole"]


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def cli_coverage(args) -> int:
    from tthc.warehouse import role_dsn

    settings = config_mod.load()
    stretches = coverage(role_dsn(settings, "tthc_loader", start=True))
    if not stretches:
        print("coverage   nothing loaded yet")
        return 0
    for s in stretches:
        if s.kind == "covered":
            print(f"covered    {s.province} {s.source:10} {s.entity:20} {_local(s.start)} .. {_local(s.end)}  ({s.windows} windows)")
        else:
            print(f"HOLE       {s.province} {s.source:10} {s.entity:20} {_local(s.start)} .. {_local(s.end)}  ({s.hours:g} h "
                  f"never loaded: tthc extract {s.source} --province {s.province} --since {s.start.astimezone(TZ).isoformat()} "
                  f"--until {s.end.astimezone(TZ).isoformat()})")
    found = [s for s in stretches if s.kind == "hole"]
    print(f"coverage   {len(found)} hole(s)" + ("" if found else ": every hour between the first and the last load "
                                                "was loaded"))
    return 1 if found else 0
