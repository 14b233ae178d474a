"""Nghệ An's working calendar (Asia/Ho_Chi_Minh): which days are working days and when the offices are open.

Working days are Monday to Friday, less the public holidays, plus the make-up Saturdays. The holidays are
those of the Labour Code 2019 (Law 45/2019/QH14) art. 112(1) (New Year, five days of Tết, Hùng Kings' day,
30 April, 1 May, National Day and an adjacent day) and, from 2026, Vietnamese Culture Day (24 November,
Nghị quyết 28/2026/QH16); one that falls on a weekend is made up on the next working day (art. 111(3)).
Which days are Tết and National Day's second day, and the swaps that bridge a weekday between a holiday and
a weekend (the weekday off, a Saturday worked in exchange), are set for the civil service each year by the
Prime Minister and announced by the Government Office (VPCP) and the Ministry of Labour (to 2025) or of
Home Affairs (from 2026). ``HOLIDAY_RANGES`` and ``MAKEUP_SATURDAYS`` carry each year's days with the
document behind them (``source``); what could not be checked against a published text says so there.

Office hours: Nghệ An's People's Committee sets seasonal hours for the province's administrative agencies,
8 hours a day in both seasons (the Labour Code's normal day, art. 105; the civil service's 40-hour week,
Quyết định 188/1999/QĐ-TTg):

- summer, 16 April to 15 October: 07:00-11:30 and 13:30-17:00 (Thông báo 170/TB-UBND of 31/03/2015;
  248/TB-UBND of 01/04/2024 for 2024; the 2023 notice says the same);
- winter, 16 October to 15 April: 07:30-12:00 and 13:30-17:00 (Thông báo 672/TB-UBND for 2022-23;
  723/TB-UBND of 02/10/2023 for 2023-24).

No notice for the seasons from winter 2024-25 on was found; the same hours are assumed. Both seasons have
4.5 hours before lunch and 8 in the day, so a working day is always ``DAY_MINUTES`` of office time with
``MORNING_MINUTES`` before lunch (the module checks this when imported): office time becomes a number (office
microseconds since the first known day's opening), and adding and measuring it is arithmetic. The dbt seed
``working_calendar`` carries, per day, the same index and the day's opening, lunch and closing seconds, so
the warehouse (the macro ``office_seconds``, the functions ``audit.office_seconds``/``office_moment``) reads
the hours from the seed and never types them.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Days(NamedTuple):
    """Days off (``first`` to ``last``, as ISO dates) and the document that gives them."""

    first: str
    last: str
    name: tuple[str, str]  # (Vietnamese, English)
    source: str


class MakeUp(NamedTuple):
    """A Saturday worked in exchange for the weekday ``replaces``, given off to bridge a holiday."""

    day: str
    replaces: str
    source: str


NEW_YEAR = ("Tết Dương lịch", "New Year's Day")
TET = ("Tết Nguyên đán", "Lunar New Year")
HUNG_KINGS = ("Giỗ Tổ Hùng Vương", "Hung Kings' Commemoration")
APRIL_MAY = ("Ngày Chiến thắng và Quốc tế Lao động", "Reunification Day and International Workers' Day")
NATIONAL_DAY = ("Quốc khánh", "National Day")
CULTURE_DAY = ("Ngày Văn hóa Việt Nam", "Vietnamese Culture Day")

LC = "Bộ luật Lao động 2019 art. 112(1)"
PROJECTED = "projected from the Labour Code, no notice yet"
UNVERIFIED = "not verified: number and date as cited by secondary sources, the text itself not read"

# The statutory holidays and the days given in lieu or by swap, per year (ordinary weekends that only extend
# a break are not listed). Checked against the government's notices as reported by its portals and the press.
HOLIDAY_RANGES: dict[int, list[Days]] = {
    2023: [
        Days("2023-01-01", "2023-01-02", NEW_YEAR, f"{LC}(a), art. 111(3): 1 Jan a Sunday, made up Mon 2 Jan"),
        Days("2023-01-20", "2023-01-26", TET,
             "Công văn 8056/VPCP-KGVX of 01/12/2022 (the Deputy PM approves 20-26/01/2023), announced by "
             f"Thông báo 5034/TB-LĐTBXH ({UNVERIFIED})"),
        Days("2023-04-29", "2023-04-29", HUNG_KINGS, f"{LC}(e): 10/3 Quý Mão = Sat 29/04/2023, made up Tue 2 May"),
        Days("2023-04-30", "2023-05-03", APRIL_MAY,
             f"{LC}(c)(d), art. 111(3): 30 Apr a Sunday and Hùng Kings' day a Saturday, made up 2 and 3 May; "
             "no swap"),
        Days("2023-09-01", "2023-09-04", NATIONAL_DAY,
             "Công văn 8056/VPCP-KGVX of 01/12/2022: 1-4/09/2023 (2 Sep a Saturday, made up Mon 4 Sep)"),
    ],
    2024: [
        Days("2024-01-01", "2024-01-01", NEW_YEAR, f"{LC}(a)"),
        Days("2024-02-08", "2024-02-14", TET,
             "Thông báo 5015/TB-LĐTBXH of 22/11/2023, after Công văn 8662/VPCP-KGVX of 03/11/2023"),
        Days("2024-04-18", "2024-04-18", HUNG_KINGS, f"{LC}(e): 10/3 Giáp Thìn = Thu 18/04/2024"),
        Days("2024-04-29", "2024-05-01", APRIL_MAY,
             "Công văn 2450/VPCP-KGVX of 12/04/2024 (on Công văn 1511/BLĐTBXH-CATLĐ of 11/04/2024): Mon 29 Apr "
             "swapped with Sat 4 May"),
        Days("2024-09-02", "2024-09-03", NATIONAL_DAY, "Thông báo 5015/TB-LĐTBXH of 22/11/2023: 31/08-03/09/2024"),
    ],
    2025: [
        Days("2025-01-01", "2025-01-01", NEW_YEAR, f"{LC}(a)"),
        Days("2025-01-27", "2025-01-31", TET,
             "Công văn 8726/VPCP-KGVX of 26/11/2024 (25/01-02/02/2025, the five Tết days 27-31 Jan), announced by "
             "Thông báo 6150/TB-BLĐTBXH (12/2024; its exact date not verified)"),
        Days("2025-04-07", "2025-04-07", HUNG_KINGS, f"{LC}(e): 10/3 Ất Tỵ = Mon 07/04/2025"),
        Days("2025-04-30", "2025-05-02", APRIL_MAY,
             "Công văn 8726/VPCP-KGVX of 26/11/2024 and Thông báo 6150/TB-BLĐTBXH: Fri 2 May swapped with "
             "Sat 26 Apr"),
        Days("2025-09-01", "2025-09-02", NATIONAL_DAY,
             "Công văn 8726/VPCP-KGVX of 26/11/2024: 30/08-02/09/2025, Mon 1 Sep the adjacent day (not a swap)"),
    ],
    2026: [
        Days("2026-01-01", "2026-01-02", NEW_YEAR,
             "Công văn 12729/VPCP-KGVX of 25/12/2025: Fri 2 Jan swapped with Sat 10 Jan"),
        Days("2026-02-16", "2026-02-20", TET,
             "Thông báo 9441/TB-BNV of 16/10/2025: 14-22/02/2026, the five Tết days 16-20 Feb"),
        Days("2026-04-26", "2026-04-27", HUNG_KINGS,
             f"{LC}(e), art. 111(3): 10/3 Bính Ngọ = Sun 26/04/2026, made up Mon 27 Apr; no swap around 30 Apr "
             f"(Công văn 3383/BNV-CVL of 10/04/2026, {UNVERIFIED})"),
        Days("2026-04-30", "2026-05-01", APRIL_MAY, f"{LC}(c)(d)"),
        Days("2026-08-31", "2026-09-02", NATIONAL_DAY,
             "Thông báo 9441/TB-BNV of 16/10/2025: 29/08-02/09/2026, Tue 1 Sep the adjacent day, Mon 31 Aug "
             "swapped with Sat 22 Aug (the swap as reported by secondary sources)"),
        Days("2026-11-24", "2026-11-24", CULTURE_DAY,
             "Nghị quyết 28/2026/QH16 art. 2, in force 01/07/2026; one day off, no swap, per Công văn "
             f"10065/VPCP-KGVX of 02/10/2026 ({UNVERIFIED})"),
    ],
    2027: [
        Days("2027-01-01", "2027-01-01", NEW_YEAR, f"{LC}(a)"),
        Days("2027-02-04", "2027-02-10", TET, f"Công văn 10065/VPCP-KGVX of 02/10/2026: 04-10/02/2027 ({UNVERIFIED})"),
        Days("2027-04-16", "2027-04-16", HUNG_KINGS, f"{LC}(e): 10/3 Đinh Mùi = Fri 16/04/2027; {PROJECTED}"),
        Days("2027-04-30", "2027-05-01", APRIL_MAY, f"{LC}(c)(d); {PROJECTED}"),
        Days("2027-05-03", "2027-05-03", APRIL_MAY, f"art. 111(3): 1 May a Saturday, made up Mon 3 May; {PROJECTED}"),
        Days("2027-09-02", "2027-09-03", NATIONAL_DAY,
             f"Công văn 10065/VPCP-KGVX of 02/10/2026: 02-05/09/2027, Fri 3 Sep the adjacent day ({UNVERIFIED})"),
        Days("2027-11-24", "2027-11-24", CULTURE_DAY, f"Nghị quyết 28/2026/QH16 art. 2; {PROJECTED}"),
    ],
}

# Saturdays worked in exchange for a bridged weekday (the swaps of the notices above).
MAKEUP_SATURDAYS: list[MakeUp] = [
    MakeUp("2024-05-04", "2024-04-29", "Công văn 2450/VPCP-KGVX of 12/04/2024"),
    MakeUp("2025-04-26", "2025-05-02", "Công văn 8726/VPCP-KGVX of 26/11/2024; Thông báo 6150/TB-BLĐTBXH of 12/2024"),
    MakeUp("2026-01-10", "2026-01-02", "Công văn 12729/VPCP-KGVX of 25/12/2025"),
    MakeUp("2026-08-22", "2026-08-31",
           "Thông báo 9441/TB-BNV of 16/10/2025 (the swap as reported by secondary sources)"),
]


def _days(first: str, last: str) -> list[dt.date]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [a + dt.timedelta(n) for n in range((b - a).days + 1)]


HOLIDAY_DAYS: dict[dt.date, Days] = {d: r for ranges in HOLIDAY_RANGES.values() for r in ranges
                                     for d in _days(r.first, r.last)}
HOLIDAY_NAMES: dict[dt.date, tuple[str, str]] = {d: r.name for d, r in HOLIDAY_DAYS.items()}
HOLIDAYS: dict[int, list[dt.date]] = {year: [d for r in ranges for d in _days(r.first, r.last)]
                                      for year, ranges in HOLIDAY_RANGES.items()}
MAKEUP_DAYS: dict[dt.date, MakeUp] = {dt.date.fromisoformat(m.day): m for m in MAKEUP_SATURDAYS}
LUNAR_NEW_YEAR = {2023: dt.date(2023, 1, 22), 2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29),
                  2026: dt.date(2026, 2, 17), 2027: dt.date(2027, 2, 6)}


def _check_data() -> None:
    for year, ranges in HOLIDAY_RANGES.items():
        for r in ranges:
            days = _days(r.first, r.last)
            if not days or any(d.year != year for d in days) or not r.source:
                raise ValueError(f"bad holiday range {r}")
    for day, m in MAKEUP_DAYS.items():
        replaced = dt.date.fromisoformat(m.replaces)
        if day.weekday() != 5 or day in HOLIDAY_DAYS or replaced not in HOLIDAY_DAYS or replaced.weekday() > 4:
            raise ValueError(f"a make-up day is a Saturday, no holiday, for a weekday off: {m}")


_check_data()


class OfficeHours(NamedTuple):
    morning: tuple[dt.time, dt.time]
    afternoon: tuple[dt.time, dt.time]


SUMMER = OfficeHours((dt.time(7, 0), dt.time(11, 30)), (dt.time(13, 30), dt.time(17, 0)))
WINTER = OfficeHours((dt.time(7, 30), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 0)))
SUMMER_STARTS, WINTER_STARTS = (4, 16), (10, 16)  # (month, day) each season's first day


def office_hours(day: dt.date) -> OfficeHours:
    """The day's office hours (the season's; whether the day is a working day is ``is_working_day``)."""
    return SUMMER if SUMMER_STARTS <= (day.month, day.day) < WINTER_STARTS else WINTER


def opening(day: dt.date) -> dt.datetime:
    """The day's opening time (07:00 in summer, 07:30 in winter)."""
    return dt.datetime.combine(day, office_hours(day).morning[0], TZ)


def _clock_us(clock: dt.time) -> int:
    return ((clock.hour * 60 + clock.minute) * 60 + clock.second) * 1_000_000 + clock.microsecond


_US = 60_000_000  # microseconds a minute
# (opens, lunch starts, lunch ends, closes) in microseconds after midnight, per season
_CLOCKS = {hours: tuple(_clock_us(t) for t in (*hours.morning, *hours.afternoon)) for hours in (SUMMER, WINTER)}
_LENGTHS = {(lunch - opens, closes - resume) for opens, lunch, resume, closes in _CLOCKS.values()}
if len(_LENGTHS) != 1:
    raise ValueError("every season must have the same office minutes before lunch and in the day")
_MORNING_US, _AFTERNOON_US = _LENGTHS.pop()
MORNING_MINUTES, DAY_MINUTES = _MORNING_US // _US, (_MORNING_US + _AFTERNOON_US) // _US  # 270, 480
_DAY_US = DAY_MINUTES * _US

# Working days of the known years in order, and for every date the number of working days before it:
# office time becomes a number (office microseconds since the first known day's opening).
_FIRST = dt.date(min(HOLIDAYS), 1, 1)
_DAYS = [_FIRST + dt.timedelta(n) for n in range((dt.date(max(HOLIDAYS) + 1, 1, 1) - _FIRST).days)]


def _is_working(day: dt.date) -> bool:
    return day in MAKEUP_DAYS or (day.weekday() < 5 and day not in HOLIDAY_DAYS)


_WORKING = [d for d in _DAYS if _is_working(d)]
_BEFORE: dict[dt.date, int] = {}
_count = 0
for _d in _DAYS:
    _BEFORE[_d] = _count
    _count += _is_working(_d)


def _known(day: dt.date) -> None:
    if day.year not in HOLIDAYS:
        raise ValueError(f"no holiday calendar for {day.year} (known: {min(HOLIDAYS)}-{max(HOLIDAYS)})")


@lru_cache(maxsize=4096)
def is_working_day(day: dt.date) -> bool:
    """Monday to Friday less the holidays, plus the make-up Saturdays."""
    _known(day)
    return _is_working(day)


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

    A start outside a working day counts from the next working day's opening.
    """
    local = start.astimezone(TZ)
    day = local.date()
    if not is_working_day(day):
        day = next_working_day(day)
        local = opening(day)
    index = working_days_before(day) + days
    if index >= len(_WORKING):
        raise ValueError(f"no holiday calendar after {_WORKING[-1]}")
    return dt.datetime.combine(_WORKING[index], local.timetz().replace(tzinfo=None), TZ)


def working_days_between(a: dt.date, b: dt.date) -> int:
    """Working days in (a, b]."""
    if b <= a:
        return 0
    return working_days_before(b) + is_working_day(b) - working_days_before(a) - is_working_day(a)


def office_us(moment: dt.datetime) -> int:
    """Office time elapsed (microseconds) from the first known day's opening to ``moment``: constant
    outside office hours, rising one for one inside them. (The SQL's ``office_seconds`` is this // 10**6.)"""
    local = moment.astimezone(TZ)
    day = local.date()
    base = working_days_before(day) * _DAY_US
    if not is_working_day(day):
        return base
    opens, lunch, resume, closes = _CLOCKS[office_hours(day)]
    clock = _clock_us(local.timetz())
    return base + min(max(clock - opens, 0), lunch - opens) + min(max(clock - resume, 0), closes - resume)


def from_office_us(value: int) -> dt.datetime:
    """The moment at which ``office_us`` reaches ``value`` (a block's end is the next block's start)."""
    index, within = divmod(value, _DAY_US)
    if index >= len(_WORKING):
        raise ValueError(f"no holiday calendar after {_WORKING[-1]}")
    day = _WORKING[index]
    opens, _, resume, _ = _CLOCKS[office_hours(day)]
    clock = opens + within if within < _MORNING_US else resume + within - _MORNING_US
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
    """One row per day of the known years: the dbt seed ``working_calendar`` (``tthc seeds``), so the
    warehouse counts working days and office time exactly as this module does. The office hours (seconds
    after local midnight) are given on working days only."""
    rows = []
    for day in _DAYS:
        working = is_working_day(day)
        vi, en = HOLIDAY_NAMES.get(day, ("", ""))
        makeup = MAKEUP_DAYS.get(day)
        source = makeup.source if makeup else HOLIDAY_DAYS[day].source if day in HOLIDAY_DAYS else ""
        seconds = [t // 1_000_000 for t in _CLOCKS[office_hours(day)]] if working else ["", "", "", ""]
        rows.append({"calendar_date": day.isoformat(), "is_working_day": str(working).lower(),
                     "working_days_before": working_days_before(day),
                     "office_seconds_before": working_days_before(day) * _DAY_US // 1_000_000,
                     "opens_second": seconds[0], "lunch_starts_second": seconds[1],
                     "lunch_ends_second": seconds[2], "closes_second": seconds[3],
                     "holiday_name_vi": vi, "holiday_name_en": en,
                     "makeup_for_date": makeup.replaces if makeup else "", "day_source": source})
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
