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


NEW_YEAR = ("Tết Dương lịch", "New Year's Day")
TET = ("Tết Nguyên đán", "Lunar New Year")
HUNG_KINGS = ("Giỗ Tổ Hùng Vương", "Hung Kings' Commemoration")
APRIL_MAY = ("Ngày Chiến thắng và Quốc tế Lao động", "Reunification Day and International Workers' Day")
NATIONAL_DAY = ("Quốc khánh", "National Day")

# Weekday days off per year, named (Tết ranges as announced; compensating days included).
HOLIDAY_RANGES: dict[int, list[tuple[str, str, tuple[str, str]]]] = {
    2023: [("2023-01-02", "2023-01-02", NEW_YEAR), ("2023-01-20", "2023-01-26", TET),
           ("2023-05-01", "2023-05-03", APRIL_MAY), ("2023-09-01", "2023-09-04", NATIONAL_DAY)],
    2024: [("2024-01-01", "2024-01-01", NEW_YEAR), ("2024-02-08", "2024-02-14", TET),
           ("2024-04-18", "2024-04-18", HUNG_KINGS), ("2024-04-29", "2024-05-01", APRIL_MAY),
           ("2024-09-02", "2024-09-03", NATIONAL_DAY)],
    2025: [("2025-01-01", "2025-01-01", NEW_YEAR), ("2025-01-27", "2025-01-31", TET),
           ("2025-04-07", "2025-04-07", HUNG_KINGS), ("2025-04-30", "2025-05-02", APRIL_MAY),
           ("2025-09-01", "2025-09-02", NATIONAL_DAY)],
    2026: [("2026-01-01", "2026-01-02", NEW_YEAR), ("2026-02-16", "2026-02-20", TET),
           ("2026-04-27", "2026-04-27", HUNG_KINGS), ("2026-04-30", "2026-05-01", APRIL_MAY),
           ("2026-08-31", "2026-09-02", NATIONAL_DAY)],
    2027: [("2027-01-01", "2027-01-01", NEW_YEAR), ("2027-02-04", "2027-02-10", TET),
           ("2027-04-16", "2027-04-16", HUNG_KINGS), ("2027-04-30", "2027-04-30", APRIL_MAY),
           ("2027-05-03", "2027-05-03", APRIL_MAY), ("2027-09-02", "2027-09-03", NATIONAL_DAY)],
}
HOLIDAY_NAMES: dict[dt.date, tuple[str, str]] = {
    d: name for ranges in HOLIDAY_RANGES.values() for first, last, name in ranges for d in _days(first, last)}
HOLIDAYS: dict[int, list[dt.date]] = {year: [d for first, last, _ in ranges for d in _days(first, last)]
                                      for year, ranges in HOLIDAY_RANGES.items()}
LUNAR_NEW_YEAR = {2023: dt.date(2023, 1, 22), 2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29),
                  2026: dt.date(2026, 2, 17), 2027: dt.date(2027, 2, 6)}
_ALL = frozenset(d for days in HOLIDAYS.values() for d in days)

MORNING = (dt.time(7, 30), dt.time(11, 30))
AFTERNOON = (dt.time(13, 30), dt.time(17, 0))
MORNING_MINUTES, DAY_MINUTES = 240, 450  # office minutes before lunch, in a working day
_US = 60_000_000  # microseconds a minute

# Working days of the known years in order, and for every date the number of working days before it:
# office time becomes a number (office microseconds since the first known day), so adding and measuring
# office time is arithmetic, not a walk over days. dbt's calendar seed carries the same index.
_FIRST = dt.date(min(HOLIDAYS), 1, 1)
_DAYS = [_FIRST + dt.timedelta(n) for n in range((dt.date(max(HOLIDAYS) + 1, 1, 1) - _FIRST).days)]
_WORKING = [d for d in _DAYS if d.weekday() < 5 and d not in _ALL]
_BEFORE: dict[dt.date, int] = {}
_count = 0
for _d in _DAYS:
    _BEFORE[_d] = _count
    _count += _d.weekday() < 5 and _d not in _ALL


def _known(day: dt.date) -> None:
    if day.year not in HOLIDAYS:
        raise ValueError(f"no holiday calendar for {day.year} (known: {min(HOLIDAYS)}-{max(HOLIDAYS)})")


@lru_cache(maxsize=4096)
def is_working_day(day: dt.date) -> bool:
    _known(day)
    return day.weekday() < 5 and day not in _ALL


def working_days_before(day: dt.date) -> int:
    """Working days from the first known day up to (not including) ``day``: the calendar's index."""
    _known(day)
    return _BEFORE[day]


def next_working_day(day: dt.date) -> dt.date:
    index = working_days_before(day) + is_working_day(day)
    if index >= len(_WORKING):
        raise ValueError(f"no holiday calendar after {_WORKING[-1]}")
    return _WORKING[index]


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """Due time: `days` working days after `start` (same clock time), per Decree 61/2018 practice.

    A start outside a working day counts from the next working day's opening (07:30).
    """
    local = start.astimezone(TZ)
    day = local.date()
    if not is_working_day(day):
        day = next_working_day(day)
        local = dt.datetime.combine(day, MORNING[0], TZ)
    index = working_days_before(day) + days
    if index >= len(_WORKING):
        raise ValueError(f"no holiday calendar after {_WORKING[-1]}")
    return dt.datetime.combine(_WORKING[index], local.timetz().replace(tzinfo=None), TZ)


def working_days_between(a: dt.date, b: dt.date) -> int:
    """Working days in (a, b]."""
    if b <= a:
        return 0
    return working_days_before(b) + is_working_day(b) - working_days_before(a) - is_working_day(a)


def _clock_us(clock: dt.time) -> int:
    return ((clock.hour * 60 + clock.minute) * 60 + clock.second) * 1_000_000 + clock.microsecond


_OPEN, _LUNCH, _RESUME, _CLOSE = (_clock_us(t) for t in (*MORNING, *AFTERNOON))


def office_us(moment: dt.datetime) -> int:
    """Office time elapsed (microseconds) from the first known day's opening to ``moment``: constant
    outside office hours, rising one for one inside them."""
    local = moment.astimezone(TZ)
    day = local.date()
    base = working_days_before(day) * DAY_MINUTES * _US
    if not is_working_day(day):
        return base
    clock = _clock_us(local.timetz())
    if clock <= _OPEN:
        return base
    if clock <= _LUNCH:
        return base + clock - _OPEN
    if clock <= _RESUME:
        return base + MORNING_MINUTES * _US
    return base + MORNING_MINUTES * _US + min(clock, _CLOSE) - _RESUME


def from_office_us(value: int) -> dt.datetime:
    """The moment at which ``office_us`` reaches ``value`` (a block's end is the next block's start)."""
    index, within = divmod(value, DAY_MINUTES * _US)
    if index >= len(_WORKING):
        raise ValueError(f"no holiday calendar after {_WORKING[-1]}")
    day = _WORKING[index]
    clock = _OPEN + within if within < MORNING_MINUTES * _US else _RESUME + within - MORNING_MINUTES * _US
    return dt.datetime.combine(day, dt.time(0), TZ) + dt.timedelta(microseconds=clock)


def next_office_time(moment: dt.datetime) -> dt.datetime:
    """The moment itself if inside office hours on a working day, else the next opening."""
    return from_office_us(office_us(moment))


def add_office_minutes(moment: dt.datetime, minutes: float) -> dt.datetime:
    """Advance by office-time minutes (skipping nights, lunch, weekends, holidays)."""
    return from_office_us(office_us(moment) + round(minutes * _US))


def office_after(moment: dt.datetime, minutes: float) -> dt.datetime:
    """``minutes`` of office time after ``moment``, to the whole second (as the SQL ``audit.office_after``): the
    gap rules' and the freshness rule's thresholds."""
    return add_office_minutes(moment, minutes).replace(microsecond=0)


def office_minutes_between(start: dt.datetime, end: dt.datetime) -> float:
    """Office-time minutes in [start, end) (nights, lunch, weekends and holidays do not count); 0 if
    end <= start. The inverse of ``add_office_minutes``: office_minutes_between(a, add_office_minutes(a, m)) == m."""
    if end <= start:
        return 0.0
    return (office_us(end) - office_us(start)) / _US


def calendar_rows() -> list[dict]:
    """One row per day of the known years: the dbt seed ``working_calendar`` (``tthc calendar export``),
    so the warehouse counts working days and office time exactly as this module does."""
    rows = []
    for day in _DAYS:
        vi, en = HOLIDAY_NAMES.get(day, ("", ""))
        rows.append({"calendar_date": day.isoformat(), "is_working_day": str(is_working_day(day)).lower(),
                     "working_days_before": working_days_before(day), "holiday_name_vi": vi, "holiday_name_en": en})
    return rows


def export_csv(path) -> int:
    import csv
    from pathlib import Path

    rows = calendar_rows()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
