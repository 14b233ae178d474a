"""Vietnamese working-day calendar (Asia/Ho_Chi_Minh): weekends and public holidays do not count.

Public holidays follow the Labour Code 2019 (art. 112) and the Government's yearly schedules for the
lunar New Year (Tết) and Hung Kings day, with the compensating days off those schedules announced.
Only weekday days off are listed; Saturdays and Sundays are never working days.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _days(first: str, last: str) -> list[dt.date]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [a + dt.timedelta(n) for n in range((b - a).days + 1)]


# Weekday days off per year (Tết ranges as announced; compensating days included).
HOLIDAYS: dict[int, list[dt.date]] = {
    2023: [*_days("2023-01-02", "2023-01-02"), *_days("2023-01-20", "2023-01-26"),
           *_days("2023-05-01", "2023-05-03"), *_days("2023-09-01", "2023-09-04")],
    2024: [*_days("2024-01-01", "2024-01-01"), *_days("2024-02-08", "2024-02-14"),
           *_days("2024-04-18", "2024-04-18"), *_days("2024-04-29", "2024-05-01"),
           *_days("2024-09-02", "2024-09-03")],
    2025: [*_days("2025-01-01", "2025-01-01"), *_days("2025-01-27", "2025-01-31"),
           *_days("2025-04-07", "2025-04-07"), *_days("2025-04-30", "2025-05-02"),
           *_days("2025-09-01", "2025-09-02")],
    2026: [*_days("2026-01-01", "2026-01-02"), *_days("2026-02-16", "2026-02-20"),
           *_days("2026-04-27", "2026-04-27"), *_days("2026-04-30", "2026-05-01"),
           *_days("2026-08-31", "2026-09-02")],
    2027: [*_days("2027-01-01", "2027-01-01"), *_days("2027-02-04", "2027-02-10"),
           *_days("2027-04-16", "2027-04-16"), *_days("2027-04-30", "2027-04-30"),
           *_days("2027-05-03", "2027-05-03"), *_days("2027-09-02", "2027-09-03")],
}
LUNAR_NEW_YEAR = {2023: dt.date(2023, 1, 22), 2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29),
                  2026: dt.date(2026, 2, 17), 2027: dt.date(2027, 2, 6)}
_ALL = frozenset(d for days in HOLIDAYS.values() for d in days)

MORNING = (dt.time(7, 30), dt.time(11, 30))
AFTERNOON = (dt.time(13, 30), dt.time(17, 0))


@lru_cache(maxsize=4096)
def is_working_day(day: dt.date) -> bool:
    if day.year not in HOLIDAYS:
        raise ValueError(f"no holiday calendar for {day.year} (known: {min(HOLIDAYS)}-{max(HOLIDAYS)})")
    return day.weekday() < 5 and day not in _ALL


def next_working_day(day: dt.date) -> dt.date:
    day += dt.timedelta(1)
    while not is_working_day(day):
        day += dt.timedelta(1)
    return day


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """Due time: `days` working days after `start` (same clock time), per Decree 61/2018 practice.

    A start outside a working day counts from the next working day's opening (07:30).
    """
    local = start.astimezone(TZ)
    day = local.date()
    if not is_working_day(day):
        day = next_working_day(day)
        local = dt.datetime.combine(day, MORNING[0], TZ)
    for _ in range(days):
        day = next_working_day(day)
    return dt.datetime.combine(day, local.timetz().replace(tzinfo=None), TZ)


def working_days_between(a: dt.date, b: dt.date) -> int:
    """Working days in (a, b]."""
    n, day = 0, a
    while day < b:
        day += dt.timedelta(1)
        n += is_working_day(day)
    return n


def next_office_time(moment: dt.datetime) -> dt.datetime:
    """The moment itself if inside office hours on a working day, else the next opening."""
    local = moment.astimezone(TZ)
    day, clock = local.date(), local.time()
    if is_working_day(day):
        if clock < MORNING[0]:
            return dt.datetime.combine(day, MORNING[0], TZ)
        if MORNING[0] <= clock < MORNING[1] or AFTERNOON[0] <= clock < AFTERNOON[1]:
            return local
        if MORNING[1] <= clock < AFTERNOON[0]:
            return dt.datetime.combine(day, AFTERNOON[0], TZ)
    return dt.datetime.combine(next_working_day(day), MORNING[0], TZ)


def add_office_minutes(moment: dt.datetime, minutes: float) -> dt.datetime:
    """Advance by office-time minutes (skipping nights, lunch, weekends, holidays)."""
    current = next_office_time(moment)
    left = dt.timedelta(minutes=minutes)
    while True:
        clock = current.time()
        end_clock = MORNING[1] if clock < MORNING[1] else AFTERNOON[1]
        block_end = dt.datetime.combine(current.date(), end_clock, TZ)
        if current + left < block_end:
            return current + left
        left -= block_end - current
        current = next_office_time(block_end)
