"""A dossier's life in the one-stop system: its status changes, drawn in working time.

Durations run in office time of the province's calendar (``tthc.calendar``): nothing happens at
night, at lunch, at weekends or on holidays, except online filing. A dossier meant to finish on time
finishes inside its statutory window; a late one finishes one to ten working days after its due
time, and its agency writes an apology letter (with a new due date) before the due time at its own
rate. Dossiers pending at an agency abolished by the 2025 reform are transferred to its successor by a
status change that records the transfer.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from tthc.calendar import TZ, add_working_days, office_after, office_minutes_between
from tthc.kpi766 import on_time
from tthc.sources.sim.common import office_at, whole
from tthc.sources.sim.geography import REFORM_DATE

# the successor takes over pending dossiers on the first morning of the reform
TRANSFER_AT = office_after(dt.datetime.combine(REFORM_DATE, dt.time(0), TZ), 0)  # the calendar's opening
TRANSFER_NOTE = "Chuyển hồ sơ sang đơn vị kế thừa khi sắp xếp đơn vị hành chính (từ 01/7/2025)"
APOLOGY_REASONS = ["Hồ sơ cần xác minh thêm", "Cán bộ thụ lý nghỉ ốm", "Chờ ý kiến cơ quan phối hợp",
                   "Hệ thống gián đoạn", "Khối lượng hồ sơ tăng đột biến"]


@dataclass
class Event:
    status: int
    at: dt.datetime  # business time (ThoiGian)
    agency: str
    recorded: dt.datetime | None = None  # when the one-stop recorded it (NgayCapNhat)
    note: str | None = None


def draw(rng: random.Random, received: dt.datetime, due: dt.datetime, proc: dict, agency, day: dt.date,
         ) -> tuple[list[Event], dict]:
    """Status changes from receipt on, and facts about them (late by the 766 rule, apology letter,
    electronic result). A dossier meant to be on time fits every step into its statutory window."""
    code = agency.code
    info: dict = {"apology": None, "late": False, "e_result": False}
    if rng.random() < 0.025:  # not accepted
        return [Event(3, received, code)], info
    ev = [Event(2, received, code)]
    window = office_minutes_between(received, due)
    t = office_after(received, rng.uniform(5, min(120, max(10.0, window * 0.1))))
    ev.append(Event(4, t, code))
    if rng.random() < 0.008:  # withdrawal requested by the citizen, then processing stopped
        t = office_after(t, rng.uniform(0.1, 0.7) * max(60.0, office_minutes_between(t, due)))
        ev.append(Event(7, t, code))
        ev.append(Event(8, office_after(t, rng.uniform(10, 120)), code))
        return ev, _settle(rng, ev, due, agency, day, info, due)
    late = rng.random() < agency.rate("late", day)
    supplements = 2 if rng.random() < 0.01 else 1 if rng.random() < 0.07 else 0
    for _ in range(supplements):
        t = office_after(t, rng.uniform(60, 900))
        ev.append(Event(5, t, code))
        t = office_at(add_working_days(t, rng.randint(1, 5)))
        ev.append(Event(4, t, code))
    budget = office_minutes_between(t, due)  # what is left of the window for an on-time dossier
    if proc["fee"] and rng.random() < 0.15:  # financial obligation, then back to processing
        t = office_after(t, rng.uniform(30, 600) if late or budget < 60 else rng.uniform(0.05, 0.25) * budget)
        ev.append(Event(6, t, code))
        t = office_after(t, rng.uniform(60, 1500) if late or budget < 60 else rng.uniform(0.05, 0.25) * budget)
        ev.append(Event(4, t, code))
    if late:
        days_late = rng.choices([1, 2, 3, 5, 10], [40, 25, 15, 12, 8])[0]
        new_due = whole(add_working_days(due, days_late))
        finish = office_after(max(due, t), rng.uniform(5, max(10.0, office_minutes_between(due, new_due) - 5)))
    else:
        remaining = office_minutes_between(t, due)
        finish = office_after(t, rng.betavariate(2, 2.5) * remaining if remaining > 30 else rng.uniform(10, 60))
        new_due = whole(add_working_days(due, 1))
    ev.append(Event(9, finish, code))
    _settle(rng, ev, due, agency, day, info, max(new_due, finish))
    info["e_result"] = rng.random() < agency.rate("e_result", day)
    returned = office_after(finish, rng.uniform(5, 120) if info["e_result"] else rng.uniform(10, 900))
    ev.append(Event(10, returned, code))
    return ev, info


def _settle(rng: random.Random, ev: list[Event], due: dt.datetime, agency, day: dt.date, info: dict,
            new_due: dt.datetime) -> dict:
    """Late by the 766 rule (2.1's verdict once everything has happened: the resolution less the citizen's
    supplement time, else the withdrawal)? Then, at the agency's rate, an apology letter: written a day
    before the due time, and never before processing started."""
    never = dt.datetime.max.replace(tzinfo=dt.UTC)  # evaluated after the whole life
    info["late"] = not on_time([(e.at, e.status) for e in ev], due, never)
    if info["late"] and rng.random() < agency.rate("apology", day):
        at = max(office_at(due - dt.timedelta(days=1)), office_after(ev[1].at, 5))
        info["apology"] = {"at": at, "reason": rng.choice(APOLOGY_REASONS), "new_due": new_due}
    return info


def transfer(events: list[Event], successor: str) -> list[Event]:
    """Move what happens from the reform on to the successor desk, by a status change that records it."""
    first_after = next((n for n, e in enumerate(events) if e.at >= TRANSFER_AT), None)
    if first_after is None or first_after == 0:
        return events
    moved = [Event(e.status, e.at, successor, note=e.note) for e in events[first_after:]]
    handover = Event(events[first_after - 1].status, TRANSFER_AT, successor, note=TRANSFER_NOTE)
    return [*events[:first_after], handover, *moved]


def record(rng: random.Random, events: list[Event]) -> None:
    """When the one-stop recorded each change: usually at once, sometimes hours late; never out of order."""
    last = events[0].at
    for e in events:
        if e.status != 1 and e.note is None and rng.random() < 0.02:
            lag = dt.timedelta(seconds=rng.randint(3600, 30 * 3600))
        else:
            lag = dt.timedelta(seconds=rng.randint(0, 90))
        e.recorded = max(e.at + lag, last)
        last = e.recorded
