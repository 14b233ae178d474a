"""Decision 766 by hand: the progress rule (2.1) on hand-built dossiers, month by month, the points a failing
dossier costs, and the indicator table (the dbt seed is exported from it; methods, groups, proxies)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from tthc import calendar
from tthc.calendar import TZ, add_working_days
from tthc.kpi766 import (
    BY_CODE,
    DOSSIER_INDICATORS,
    GROUPS,
    INDICATORS,
    METHODS,
    Progress,
    finish_time,
    indicator_rows,
    lifecycle,
    month_bounds,
    on_time,
    points_lost_share,
    progress,
)
from tthc.transform import project_dir

REGISTERED, RECEIVED, REFUSED, PROCESSING, SUPPLEMENT, WITHDRAWN, STOPPED, RESOLVED, RETURNED = 1, 2, 3, 4, 5, 7, 8, 9, 10
NEVER = dt.datetime(2027, 12, 31, tzinfo=TZ)


def at(text: str) -> dt.datetime:
    """A local time, "2025-04-03 09:00"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


def life(*changes: tuple[str, int]):
    return lifecycle([(at(t), s) for t, s in changes])


def in_month(dossier, due: str, month: str = "2025-04", as_of: dt.datetime = NEVER) -> Progress | None:
    begins, evaluated = month_bounds(dt.date.fromisoformat(month + "-01"), as_of, TZ)
    return progress(dossier, at(due), begins, evaluated)


# ---- the end time: each ending status, and their priority ------------------------------------------------

def test_resolved_ends_at_the_resolution():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-01 10:00", PROCESSING), ("2025-04-03 10:00", RESOLVED),
             ("2025-04-04 08:00", RETURNED))
    assert in_month(d, "2025-04-03 17:00") == Progress(True, True, at("2025-04-03 10:00"), "resolved")
    assert in_month(d, "2025-04-03 09:00") == Progress(True, False, at("2025-04-03 10:00"), "resolved")


def test_returned_without_a_resolution_ends_at_the_return():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-03 10:00", RETURNED))
    assert in_month(d, "2025-04-03 10:00") == Progress(True, True, at("2025-04-03 10:00"), "returned")


def test_resolved_has_priority_over_returned():
    # the result was handed back after the due time, but the dossier was resolved before it
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-03 10:00", RESOLVED), ("2025-04-08 10:00", RETURNED))
    assert in_month(d, "2025-04-04 17:00") == Progress(True, True, at("2025-04-03 10:00"), "resolved")


def test_stopped_ends_at_the_stop():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-01 10:00", PROCESSING), ("2025-04-03 10:00", STOPPED))
    assert in_month(d, "2025-04-03 10:00") == Progress(True, True, at("2025-04-03 10:00"), "stopped")
    assert in_month(d, "2025-04-02 10:00").on_time is False


def test_a_refusal_after_receipt_ends_at_the_refusal():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-02 15:00", REFUSED))
    assert in_month(d, "2025-04-02 12:00") == Progress(True, False, at("2025-04-02 15:00"), "refused")
    assert in_month(d, "2025-04-03 12:00").on_time


def test_a_withdrawal_ends_at_the_citizens_request_not_at_the_stop_after_it():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-02 09:00", WITHDRAWN), ("2025-04-02 16:00", STOPPED))
    assert in_month(d, "2025-04-02 12:00") == Progress(True, True, at("2025-04-02 09:00"), "withdrawn")


def test_a_refusal_at_intake_is_shown_in_its_month_outside_the_denominator():
    d = life(("2025-04-01 08:00", REGISTERED), ("2025-04-01 10:00", REFUSED))
    assert d.received_at is None and d.refused_at_intake == at("2025-04-01 10:00")
    assert in_month(d, "2025-04-10 10:00") == Progress(False, False, None, "refused_at_intake")
    assert in_month(d, "2025-04-10 10:00", "2025-03") is None and in_month(d, "2025-04-10 10:00", "2025-05") is None
    assert finish_time([(at("2025-04-01 10:00"), REFUSED)]) == (None, 0)


# ---- supplement requests ---------------------------------------------------------------------------------

def test_one_pending_supplement_request_ends_at_the_request():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-01 10:00", PROCESSING), ("2025-04-03 10:00", SUPPLEMENT))
    # the month ends long past the due time, and the request was in time
    assert in_month(d, "2025-04-04 10:00") == Progress(True, True, at("2025-04-03 10:00"), "supplement_requested")
    assert in_month(d, "2025-04-03 09:00").on_time is False  # a request after the due time is late
    # still open in May: counted again, judged the same
    assert in_month(d, "2025-04-04 10:00", "2025-05").on_time


def test_two_supplement_requests_without_a_resolution_are_overdue():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-02 09:00", SUPPLEMENT), ("2025-04-03 09:00", PROCESSING),
             ("2025-04-04 09:00", SUPPLEMENT))
    assert in_month(d, "2025-06-30 17:00") == Progress(True, False, None, "second_supplement_request")
    # evaluated between the two requests, it ends at the first
    assert in_month(d, "2025-06-30 17:00", as_of=at("2025-04-03 12:00")).end_kind == "supplement_requested"


def test_a_hand_over_repeating_status_5_is_not_a_second_request():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-02 09:00", SUPPLEMENT), ("2025-04-03 07:30", SUPPLEMENT),
             ("2025-04-04 09:00", PROCESSING))
    assert d.requests == (at("2025-04-02 09:00"),)
    assert d.pauses == ((at("2025-04-02 09:00"), at("2025-04-04 09:00")),)
    assert in_month(d, "2025-04-03 09:00") == Progress(True, True, at("2025-04-02 09:00"), "supplement_requested")


def test_resolved_after_a_completed_supplement_subtracts_the_citizens_time():
    changes = [("2025-04-01 09:00", RECEIVED), ("2025-04-02 09:00", SUPPLEMENT), ("2025-04-05 09:00", PROCESSING),
               ("2025-04-10 09:00", RESOLVED)]
    d = life(*changes)
    # resolved two days after the due time; the citizen took three (clock time): on time
    assert in_month(d, "2025-04-08 09:00") == Progress(True, True, at("2025-04-07 09:00"), "resolved")
    assert in_month(d, "2025-04-07 08:59").on_time is False
    assert finish_time([(at(t), s) for t, s in changes]) == (at("2025-04-07 09:00"), 1)


def test_resolved_after_two_completed_supplements_subtracts_both():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-02 09:00", SUPPLEMENT), ("2025-04-04 09:00", PROCESSING),
             ("2025-04-06 09:00", SUPPLEMENT), ("2025-04-09 09:00", PROCESSING), ("2025-04-12 09:00", RESOLVED))
    assert d.requests == (at("2025-04-02 09:00"), at("2025-04-06 09:00"))
    # 12th less 2 days less 3 days: the 7th, before the due time (less the first pause alone: the 10th, late)
    assert in_month(d, "2025-04-08 09:00") == Progress(True, True, at("2025-04-07 09:00"), "resolved")
    # evaluated before the resolution, the two requests make it overdue
    assert in_month(d, "2025-04-08 09:00", as_of=at("2025-04-11 00:00")).end_kind == "second_supplement_request"


def test_a_supplement_completed_by_the_resolution_ends_at_the_request():
    d = life(("2025-04-01 09:00", RECEIVED), ("2025-04-02 09:00", SUPPLEMENT), ("2025-04-09 09:00", RESOLVED))
    assert in_month(d, "2025-04-03 09:00") == Progress(True, True, at("2025-04-02 09:00"), "resolved")


# ---- months: membership and the verdict at each month's end -----------------------------------------------

def test_open_at_the_months_end_is_judged_at_it():
    d = life(("2025-04-28 09:00", RECEIVED), ("2025-04-28 10:00", PROCESSING))
    end = at("2025-05-01 00:00")
    assert in_month(d, "2025-05-05 09:00") == Progress(True, True, end, "open")  # numerator and denominator
    assert in_month(d, "2025-04-29 09:00") == Progress(True, False, end, "open")  # past its due time: late
    # while the month runs, it is judged at the newest data
    assert in_month(d, "2025-04-29 09:00", as_of=at("2025-04-29 08:00")) == \
        Progress(True, True, at("2025-04-29 08:00"), "open")
    assert in_month(d, "2025-05-05 09:00", "2025-03") is None  # not yet received


def test_a_dossier_open_across_three_months_counts_in_each_until_it_ends():
    d = life(("2025-04-20 09:00", RECEIVED), ("2025-04-21 09:00", PROCESSING), ("2025-06-10 09:00", RESOLVED),
             ("2025-06-11 09:00", RETURNED))
    due = "2025-05-15 09:00"
    assert in_month(d, due, "2025-04") == Progress(True, True, at("2025-05-01 00:00"), "open")
    assert in_month(d, due, "2025-05") == Progress(True, False, at("2025-06-01 00:00"), "open")
    assert in_month(d, due, "2025-06") == Progress(True, False, at("2025-06-10 09:00"), "resolved")
    assert in_month(d, due, "2025-07") is None and in_month(d, due, "2025-03") is None
    assert d.ended_at == at("2025-06-10 09:00")


def test_a_dossier_ended_at_a_months_start_counts_in_that_month():
    d = life(("2025-04-20 09:00", RECEIVED), ("2025-05-01 00:00", STOPPED))
    assert in_month(d, "2025-05-15 09:00", "2025-05").end_kind == "stopped"
    assert in_month(d, "2025-05-15 09:00", "2025-04").end_kind == "open"


def test_month_bounds_are_local_and_stop_at_the_newest_data():
    assert month_bounds(dt.date(2025, 6, 17), NEVER, TZ) == (at("2025-06-01 00:00"), at("2025-07-01 00:00"))
    assert month_bounds(dt.date(2025, 12, 1), NEVER, TZ) == (at("2025-12-01 00:00"), at("2026-01-01 00:00"))
    assert month_bounds(dt.date(2025, 6, 1), at("2025-06-20 10:00"), TZ)[1] == at("2025-06-20 10:00")
    assert month_bounds(dt.date(2025, 6, 1), NEVER, TZ)[0] == dt.datetime(2025, 5, 31, 17, tzinfo=dt.UTC)


def test_the_old_entry_points_follow_the_rule():
    changes = [(at("2025-04-01 09:00"), RECEIVED), (at("2025-04-03 10:00"), RESOLVED)]
    assert finish_time(changes) == (at("2025-04-03 10:00"), 0)
    assert finish_time(changes[:1]) == (None, 0)  # still open
    assert on_time(changes, at("2025-04-03 10:00"), NEVER) and not on_time(changes, at("2025-04-03 09:59"), NEVER)
    assert on_time(changes[:1], at("2025-04-03 10:00"), at("2025-04-02 00:00"))  # open, within its due time
    assert not on_time(changes[:1], at("2025-04-03 10:00"), at("2025-04-04 00:00"))


# ---- due dates from the working calendar --------------------------------------------------------------------

def test_a_due_date_across_the_april_may_holidays_skips_them():
    received = at("2025-04-29 10:00")  # Tuesday; 30/4 to 2/5 off, then the weekend
    due = add_working_days(received, 2)
    assert due == at("2025-05-06 10:00")
    d = life(("2025-04-29 10:00", RECEIVED), ("2025-05-05 16:00", RESOLVED))
    assert in_month(d, "2025-05-06 10:00", "2025-05").on_time
    assert in_month(d, "2025-05-06 10:00", "2025-04") == Progress(True, True, at("2025-05-01 00:00"), "open")


def test_a_due_date_across_the_make_up_saturday_counts_it():
    """Saturday 2025-04-26 was a working day (it made up for 2 May): a two-day dossier received on Thursday
    24 April was due on that Saturday, so one resolved on Monday 28 April is late."""
    assert calendar.is_working_day(dt.date(2025, 4, 26)), "the make-up Saturday 2025-04-26 is a working day"
    assert not calendar.is_working_day(dt.date(2025, 5, 2))
    due = add_working_days(at("2025-04-24 10:00"), 2)
    assert due == at("2025-04-26 10:00")
    d = life(("2025-04-24 10:00", RECEIVED), ("2025-04-28 09:00", RESOLVED))
    assert progress(d, due, at("2025-04-01 00:00"), at("2025-05-01 00:00")).on_time is False


# ---- the points a failing dossier costs -----------------------------------------------------------------------

def test_above_its_threshold_no_dossier_costs_anything():
    assert points_lost_share(4, 0.8, 9, 10) == 0.0 and points_lost_share(4, 0.8, 8, 10) == 0.0
    assert points_lost_share(6, None, 10, 10) == 0.0 and points_lost_share(6, None, 0, 0) == 0.0


@pytest.mark.parametrize("points, threshold, numerator, denominator", [(4, 0.8, 6, 10), (6, None, 7, 10),
                                                                        (20, None, 0, 3), (6, 0.9, 1, 7)])
def test_the_failing_dossiers_shares_sum_to_the_points_lost(points, threshold, numerator, denominator):
    indicator = next(i for i in INDICATORS if i.points == points and i.threshold == threshold)
    share = points_lost_share(points, threshold, numerator, denominator)
    assert share > 0
    assert share * (denominator - numerator) == pytest.approx(points - indicator.score(numerator / denominator))


def test_below_a_threshold_the_loss_is_linear():
    assert points_lost_share(4, 0.8, 6, 10) == pytest.approx(0.25)  # scores 3 of 4: 1 point over 4 dossiers
    assert points_lost_share(6, None, 7, 10) == pytest.approx(0.6)  # scores 4.2 of 6: 1.8 over 3


# ---- the indicator table ----------------------------------------------------------------------------------------

def test_the_seed_is_the_indicator_table():
    seed = project_dir() / "seeds" / "kpi766_indicators.csv"
    rows = indicator_rows()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with open(seed, newline="", encoding="utf-8") as fh:
        assert list(csv.DictReader(fh)) == list(csv.DictReader(io.StringIO(out.getvalue())))
    assert seed.read_text(encoding="utf-8") == out.getvalue()  # `tthc seeds` rewrites it


def test_every_indicator_says_how_faithfully_it_follows_the_document():
    assert [i.code for i in INDICATORS] == ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "3.1", "3.3", "3.4", "3.5",
                                            "3.5b", "3.6", "4.1", "4.2", "4.3", "4.4", "4.5a", "4.5b", "4.6", "5.2",
                                            "5.3", "5.4"]
    assert len(BY_CODE) == len(INDICATORS)
    for i in INDICATORS:
        assert i.method in METHODS and i.reason.strip(), i.code
        assert i.threshold is None or 0 < i.threshold <= 1, i.code
        if i.code in DOSSIER_INDICATORS:
            assert i.level == "dossier" and i.shortfall, i.code


def test_the_groups_add_up_to_their_points_and_to_100():
    for group, (_, _, points) in GROUPS.items():
        assert sum(i.points for i in INDICATORS if i.group == group) == points, group
    assert sum(points for _, _, points in GROUPS.values()) == 100
    assert {i.group for i in INDICATORS} == set(GROUPS)


def test_proxies_are_shown_but_not_scored():
    proxies = [i for i in INDICATORS if i.method == "proxy"]
    assert proxies and not any(i.in_total for i in proxies)
    assert all(i.in_total for i in INDICATORS if i.method != "proxy" and i.points > 0)
    assert not BY_CODE["2.2"].in_total  # no points
    seed = {r["indicator_code"]: r["is_in_total"] for r in indicator_rows()}
    assert all(seed[i.code] == "false" for i in proxies)
    assert sum(i.points for i in INDICATORS if i.in_total) == 100 - sum(i.points for i in proxies)
