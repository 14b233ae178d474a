"""The working calendar (tthc.calendar): make-up Saturdays are working days everywhere, holidays are not,
office time runs in Nghe An's seasonal 8-hour days, every holiday and swap names its document, the dbt seed
is the code's export, and the SQL (the macro office_seconds, the functions audit.office_seconds/office_after,
dim_date) computes what Python does."""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from conftest import new_database
from jinja2 import Environment
from tthc import calendar
from tthc.calendar import (
    DAY_MINUTES,
    HOLIDAY_DAYS,
    HOLIDAY_RANGES,
    MAKEUP_SATURDAYS,
    MORNING_MINUTES,
    SUMMER,
    TZ,
    WINTER,
    add_office_minutes,
    add_working_days,
    calendar_rows,
    from_office_us,
    is_working_day,
    next_office_time,
    office_after,
    office_hours,
    office_minutes_between,
    office_us,
    opening,
    working_days_before,
    working_days_between,
)

ROOT = Path(__file__).resolve().parents[1]


def t(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, us, tzinfo=TZ)


def minutes(block: tuple[dt.time, dt.time]) -> int:
    a, b = (dt.datetime.combine(dt.date(2025, 1, 1), x) for x in block)
    return int((b - a).total_seconds() // 60)


def test_the_day_is_eight_hours_in_both_seasons():
    for hours in (SUMMER, WINTER):
        assert minutes(hours.morning) == MORNING_MINUTES == 270
        assert minutes(hours.morning) + minutes(hours.afternoon) == DAY_MINUTES == 480  # Labour Code art. 105
    assert office_hours(dt.date(2025, 4, 15)) == WINTER and office_hours(dt.date(2025, 4, 16)) == SUMMER
    assert office_hours(dt.date(2025, 10, 15)) == SUMMER and office_hours(dt.date(2025, 10, 16)) == WINTER
    assert opening(dt.date(2025, 3, 3)) == t(2025, 3, 3, 7, 30) and opening(dt.date(2025, 5, 5)) == t(2025, 5, 5, 7)


def test_make_up_saturdays_are_working_days_and_the_days_they_bridge_are_not():
    days = {m.day for m in MAKEUP_SATURDAYS}
    assert {"2024-05-04", "2025-04-26", "2026-01-10", "2026-08-22"} <= days
    for m in MAKEUP_SATURDAYS:
        day, bridged = dt.date.fromisoformat(m.day), dt.date.fromisoformat(m.replaces)
        assert day.weekday() == 5 and is_working_day(day), m
        assert bridged.weekday() < 5 and not is_working_day(bridged), m
    # an ordinary Saturday and Sunday are not
    assert not is_working_day(dt.date(2024, 5, 11)) and not is_working_day(dt.date(2024, 5, 5))
    # the index counts the make-up Saturday: Friday 3 May, Saturday 4 May, Monday 6 May 2024 are consecutive
    assert [working_days_before(dt.date(2024, 5, d)) for d in (3, 4, 5, 6)] == [328, 329, 330, 330]
    assert working_days_between(dt.date(2024, 5, 3), dt.date(2024, 5, 6)) == 2


@pytest.mark.parametrize("friday, saturday", [("2024-05-03", "2024-05-04"), ("2025-04-25", "2025-04-26"),
                                              ("2026-01-09", "2026-01-10"), ("2026-08-21", "2026-08-22")])
def test_a_due_date_counted_over_a_make_up_saturday_lands_on_it(friday, saturday):
    start = dt.datetime.combine(dt.date.fromisoformat(friday), dt.time(9, 15), TZ)
    due = dt.datetime.combine(dt.date.fromisoformat(saturday), dt.time(9, 15), TZ)
    assert add_working_days(start, 1) == due  # same clock time
    monday = dt.date.fromisoformat(saturday) + dt.timedelta(days=2)
    assert add_working_days(due, 1).date() == next(d for d in (monday, monday + dt.timedelta(1)) if is_working_day(d))


def test_holidays_are_skipped():
    # 2024: Monday 29 April bridged to the 30 April-1 May holidays (made up on Saturday 4 May)
    assert add_working_days(t(2024, 4, 25, 16), 2) == t(2024, 5, 2, 16)
    assert add_working_days(t(2024, 4, 26, 16), 3) == t(2024, 5, 4, 16)
    # Vietnamese Culture Day, Tuesday 24 November 2026
    assert not is_working_day(dt.date(2026, 11, 24))
    assert add_working_days(t(2026, 11, 23, 9), 1) == t(2026, 11, 25, 9)
    # Tết 2026: 16-20 February off, the weekends around them too
    assert add_working_days(t(2026, 2, 13, 10), 1) == t(2026, 2, 23, 10)
    # a start on a holiday counts from the next working day's opening (winter: 07:30)
    assert add_working_days(t(2026, 1, 2, 10), 1) == t(2026, 1, 6, 7, 30)
    assert add_working_days(t(2026, 1, 2, 10), 0) == t(2026, 1, 5, 7, 30)


def test_office_time_runs_over_a_make_up_saturday_and_stops_at_lunch():
    # Friday 16:00 -> Monday 08:00 in May (summer, 07:00-11:30 and 13:30-17:00): 60 + the Saturday's 480 + 60
    assert office_minutes_between(t(2024, 5, 3, 16), t(2024, 5, 6, 8)) == 600
    assert add_office_minutes(t(2024, 5, 3, 16), 61) == t(2024, 5, 4, 7, 1)  # Saturday's opening + 1 minute
    # the Friday it replaced is not office time
    assert office_minutes_between(t(2025, 5, 1, 16), t(2025, 5, 5, 7)) == 0
    # lunch: winter 12:00-13:30, summer 11:30-13:30
    assert office_minutes_between(t(2025, 3, 3, 11), t(2025, 3, 3, 14)) == 60 + 30
    assert office_minutes_between(t(2025, 5, 5, 11), t(2025, 5, 5, 14)) == 30 + 30
    assert add_office_minutes(t(2025, 3, 3, 11, 30), 30) == t(2025, 3, 3, 13, 30)  # a block's end: the next's start
    assert add_office_minutes(t(2025, 3, 3, 11, 30), 45) == t(2025, 3, 3, 13, 45)
    assert add_office_minutes(t(2025, 5, 5, 11), 45) == t(2025, 5, 5, 13, 45)
    assert office_us(t(2025, 3, 3, 7)) == office_us(t(2025, 3, 3, 7, 30))  # winter opens at 07:30
    assert office_minutes_between(t(2025, 5, 5, 6), t(2025, 5, 5, 7, 30)) == 30  # summer at 07:00
    assert next_office_time(t(2025, 3, 3, 12, 15)) == t(2025, 3, 3, 13, 30)
    assert next_office_time(t(2024, 5, 3, 18)) == t(2024, 5, 4, 7)  # Friday evening: the make-up Saturday
    # a whole working day is DAY_MINUTES in either season
    for day in (dt.date(2025, 3, 3), dt.date(2025, 5, 5), dt.date(2026, 8, 22)):
        assert office_minutes_between(opening(day) - dt.timedelta(hours=1),
                                      opening(day) + dt.timedelta(hours=12)) == DAY_MINUTES


def test_office_time_round_trips():
    rng = random.Random(3)
    for _ in range(500):
        a = t(2023, 1, 1) + dt.timedelta(seconds=rng.randrange(5 * 365 * 86400 - 40 * 86400))
        m = rng.uniform(0, 3000)
        assert abs(office_minutes_between(a, add_office_minutes(a, m)) - m) < 1e-6
        assert from_office_us(office_us(a)) == next_office_time(a)
        assert office_after(a, m) == add_office_minutes(a, m).replace(microsecond=0)


def test_every_holiday_and_make_up_day_names_its_source():
    assert sorted(HOLIDAY_RANGES) == [2023, 2024, 2025, 2026, 2027]
    for year, ranges in HOLIDAY_RANGES.items():
        assert ranges, year
        for r in ranges:
            assert r.source.strip() and r.name[0] and r.name[1], r
    for m in MAKEUP_SATURDAYS:
        assert m.source.strip(), m
        assert dt.date.fromisoformat(m.replaces) in HOLIDAY_DAYS, m
    rows = {r["calendar_date"]: r for r in calendar_rows()}
    assert rows["2024-05-04"]["makeup_for_date"] == "2024-04-29" and "2450/VPCP-KGVX" in rows["2024-05-04"]["day_source"]
    assert rows["2026-11-24"]["holiday_name_en"] == "Vietnamese Culture Day" and rows["2026-11-24"]["day_source"]
    assert all(r["day_source"] for r in rows.values() if r["holiday_name_vi"] or r["makeup_for_date"])


def test_the_seed_is_the_calendars_export():
    with open(ROOT / "dbt_project" / "seeds" / "working_calendar.csv", newline="", encoding="utf-8") as fh:
        committed = list(csv.DictReader(fh))
    assert committed == [{k: str(v) for k, v in row.items()} for row in calendar_rows()]
    working = [r for r in committed if r["is_working_day"] == "true"]
    assert all(r["opens_second"] and r["closes_second"] for r in working)
    assert all(not r["opens_second"] for r in committed if r["is_working_day"] == "false")


# --- the SQL computes what Python does ------------------------------------------------------------------

def _moments() -> list[dt.datetime]:
    """Make-up Saturdays, the days they bridge, holidays, weekends, season changes and lunch edges of both
    seasons, the calendar's first and last days, and random moments."""
    days = [dt.date.fromisoformat(m.day) for m in MAKEUP_SATURDAYS]
    days += [dt.date.fromisoformat(m.replaces) for m in MAKEUP_SATURDAYS]
    days += [dt.date(2026, 11, 24), dt.date(2025, 1, 29), dt.date(2025, 3, 8), dt.date(2025, 3, 9),
             dt.date(2025, 4, 15), dt.date(2025, 4, 16), dt.date(2025, 10, 15), dt.date(2025, 10, 16),
             dt.date(2023, 1, 3), dt.date(2027, 12, 31)]
    clocks = [(0, 0, 0, 0), (6, 59, 59, 0), (7, 0, 0, 0), (7, 0, 0, 500_000), (7, 29, 59, 999_999), (7, 30, 0, 0),
              (9, 41, 7, 250_000), (11, 29, 59, 0), (11, 30, 0, 0), (11, 45, 0, 0), (11, 59, 59, 999_000),
              (12, 0, 0, 0), (13, 29, 59, 0), (13, 30, 0, 0), (13, 30, 0, 1), (16, 59, 59, 999_999), (17, 0, 0, 0),
              (23, 59, 59, 0)]
    moments = [dt.datetime.combine(d, dt.time(*c), TZ) for d in days for c in clocks]
    rng = random.Random(7)
    moments += [t(2023, 1, 1) + dt.timedelta(microseconds=rng.randrange(5 * 365 * 86_400 * 10**6)) for _ in range(150)]
    return moments


@pytest.fixture(scope="module")
def calendar_db(warehouse, settings):
    """A bootstrapped database (with the audit functions) whose staging.working_calendar holds the seed."""
    admin, _ = new_database(warehouse, settings, "t_calendar")
    rows = calendar_rows()
    types = {"calendar_date": "date", "is_working_day": "boolean", "working_days_before": "integer",
             "office_seconds_before": "bigint", "opens_second": "integer", "lunch_starts_second": "integer",
             "lunch_ends_second": "integer", "closes_second": "integer", "makeup_for_date": "date"}
    columns = list(rows[0])
    with psycopg.connect(admin) as conn:
        conn.execute("CREATE TABLE staging.working_calendar ("
                     + ", ".join(f"{c} {types.get(c, 'text')}" for c in columns) + ")")
        with conn.cursor().copy(f"COPY staging.working_calendar ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([None if v == "" else str(v) for v in row.values()])
    return admin


def _render(path: str, expression: str) -> str:
    """A dbt file rendered with ref() to the staging table (the macros need nothing else)."""
    source = (ROOT / "dbt_project" / path).read_text()
    return Environment().from_string(source + expression).render(ref=lambda name: f"staging.{name}")


def test_the_sql_office_time_is_pythons(calendar_db):
    moments = _moments()
    macro = _render("macros/working_time.sql", "{{ office_seconds('m.ts') }}, {{ office_days('m.ts') }}")
    with psycopg.connect(calendar_db) as conn:
        got = conn.execute(f"SELECT m.n, audit.office_seconds(m.ts), {macro} "
                           "FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS m(ts, n) ORDER BY m.n",
                           (moments,)).fetchall()
        minutes = [0, 1, 29, 30, 45, 120, 240, 271, 480, 1440, 2400]
        after = conn.execute("SELECT audit.office_after(m.ts, x.minutes) FROM unnest(%s::timestamptz[]) "
                             "WITH ORDINALITY AS m(ts, n) CROSS JOIN unnest(%s::float8[]) WITH ORDINALITY "
                             "AS x(minutes, k) ORDER BY m.n, x.k", (moments[:-150], minutes)).fetchall()
    assert len(got) == len(moments) > 200
    for moment, (_, function, macro_seconds, macro_days) in zip(moments, got, strict=True):
        expected = office_us(moment) // 1_000_000
        assert function == expected and macro_seconds == expected, moment
        assert abs(macro_days - Decimal(expected) / (DAY_MINUTES * 60)) < Decimal("1e-15"), moment
    assert [a for (a,) in after] == [_after_or_none(m, x) for m in moments[:-150] for x in minutes]


def _after_or_none(moment: dt.datetime, minutes: float) -> dt.datetime | None:
    """Python's office_after; past the calendar's end, where Python raises, the SQL gives null."""
    try:
        return office_after(moment, minutes)
    except ValueError:
        return None


def test_dim_date_takes_working_days_from_the_seed(calendar_db):
    sql = _render("models/marts/core/dim_date.sql", "")
    with psycopg.connect(calendar_db) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            f"SELECT date_day, is_weekend, is_working_day, is_public_holiday FROM ({sql}) d "
            "WHERE date_day IN ('2024-05-04', '2024-04-29', '2024-05-11', '2026-11-24')")}
    assert rows[dt.date(2024, 5, 4)] == (True, True, False)  # make-up Saturday: a weekend day, worked
    assert rows[dt.date(2024, 4, 29)] == (False, False, True)
    assert rows[dt.date(2024, 5, 11)] == (True, False, False)
    assert rows[dt.date(2026, 11, 24)] == (False, False, True)
    assert calendar.is_working_day(dt.date(2024, 5, 4))
