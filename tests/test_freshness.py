"""The freshness rule as the loads meet it (tthc.freshness): stale spells, provisional windows, what an
hourly run owes, and the simulator's G8 truth under the same catch-up. Pure functions, hand-built logs."""

from __future__ import annotations

import datetime as dt

from tthc.calendar import TZ
from tthc.freshness import TICK, Load, Spell, confirmed, is_provisional, owed, replay, stretches
from tthc.sources.sim.common import to_us
from tthc.sources.sim.truth import Params, g8_stale

DAY = dt.datetime(2025, 3, 3, tzinfo=TZ)  # a Monday; office hours (winter) 07:30-12:00, 13:30-17:00
LOOKBACK = dt.timedelta(days=3)


def at(hours: float) -> dt.datetime:
    return DAY + dt.timedelta(hours=hours)


def hourly(first: int, last: int, newest, served=None, ok=True, entity="dossiers") -> list[Load]:
    """Hourly loads of [h - 1, h) for h in first..last, served at h; ``newest(h)`` what each served."""
    return [Load(at(h - 1), at(h), served(h) if served else at(h), ok, newest(h) if ok else None, entity)
            for h in range(first, last + 1)]


def test_a_quiet_night_is_not_stale_and_a_silent_morning_is():
    # changes every hour until 17:00, then nothing: stale only 120 office minutes into Tuesday (09:30)
    log = hourly(1, 17, lambda h: at(h - 0.1)) + hourly(18, 24 + 11, lambda h: None)
    spells = replay(log, 120, at(24 + 11) + dt.timedelta(seconds=1))
    assert spells == [Spell(at(16.9), dt.datetime(2025, 3, 4, 9, 24, tzinfo=TZ))]  # 16:54 + 6 + 90 + 24 minutes


def test_a_read_is_confirmed_up_to_the_newest_change_served_by_then_and_the_tail_is_read_again():
    log = [Load(at(9), at(10), at(10), True, at(9.9)),  # 09:54: [09:00, 09:54] confirmed, the tail not yet
           Load(at(10), at(11), at(11), True, at(10.5))]  # 10:30 seen at 11:00: the 09:54 tail is vouched for now
    vouched = [span for _, span in confirmed(log, at(9))]
    assert vouched == [(at(9), at(9.9) + TICK), (at(10), at(10.5) + TICK)]
    assert owed(vouched, at(10), LOOKBACK, at(9)) == [(at(9.9) + TICK, at(10))]  # the 10:00 run's tail
    # the 11:00 run reads it again, served with (or after) its own hour: then it is confirmed
    log.append(Load(at(9.9) + TICK, at(10), at(11), True, None))
    vouched = [span for _, span in confirmed(log, at(9))]
    assert owed(vouched, at(10), LOOKBACK, at(9)) == []  # nothing before the 11:00 run's own hour
    assert owed(vouched, at(11), LOOKBACK, at(9)) == [(at(10.5) + TICK, at(11))]  # the 12:00 run's: its tail
    kinds = [(s.kind, s.start, s.end) for s in stretches(log, vouched, [])]
    assert kinds == [("covered", at(9), at(10.5) + TICK), ("unconfirmed", at(10.5) + TICK, at(11))]


def test_a_stale_source_leaves_everything_after_its_newest_change_unconfirmed_and_provisional_once_g8_tells():
    # the one-stop stops serving anything recorded from 08:47; nothing to tell until 10:47 (G8 sees it at 11:00)
    newest = lambda h: min(at(h - 0.1), at(8.78))  # noqa: E731
    log = hourly(1, 14, newest)
    spells = replay(log, 120, at(14) + dt.timedelta(seconds=1))
    assert [(s.newest, s.opened_at, s.closed_at) for s in spells] == [(at(8.78), at(8.78) + dt.timedelta(minutes=120), None)]
    assert [ld.end for ld in log if is_provisional(ld, spells)] == [at(h) for h in range(9, 15)]
    vouched = [span for _, span in confirmed(log, at(0))]
    # what the 15:00 run reads again after its own hour: everything from the newest change seen on
    assert owed(vouched, at(14), LOOKBACK, at(0))[-1] == (at(8.78) + TICK, at(14))
    kinds = [(s.kind, s.start, s.end) for s in stretches(log, vouched, spells) if s.kind != "unconfirmed"]
    assert kinds[-1] == ("provisional", at(8.78) + TICK, at(14))
    # 15:00: the source serves everything again, its hour and the reload at the same moment: all confirmed
    log += [Load(at(14), at(15), at(15), True, at(14.9)), Load(at(8.78) + TICK, at(14), at(15), True, at(13.9))]
    spells = replay(log, 120, at(15) + dt.timedelta(seconds=1))
    vouched = [span for _, span in confirmed(log, at(0))]
    assert spells[-1].closed_at == at(15)
    after = stretches(log, vouched, spells)
    assert "provisional" not in {s.kind for s in after}
    assert any(s.kind == "covered" and s.start <= at(8.78) and s.end >= at(14) for s in after)


def test_failed_and_never_run_hours_are_owed_within_the_lookback_only():
    log = hourly(1, 4, lambda h: at(h)) + hourly(5, 6, None, ok=False) + hourly(8, 9, lambda h: at(h))  # busy hours
    vouched = [span for _, span in confirmed(log, at(0))]
    assert owed(vouched, at(9), LOOKBACK, at(0)) == [(at(4), at(7))]  # two failed hours, one never run
    assert owed(vouched, at(9), dt.timedelta(hours=4), at(0)) == [(at(5), at(7))]  # the lookback bounds it
    assert owed(vouched, at(9), dt.timedelta(0), at(0)) == []


def test_g8_truth_closes_when_the_catch_up_brings_the_hidden_changes_even_on_a_quiet_night():
    # a change every 10 minutes of Monday's office hours; the one-stop stale from 15:00 to 23:00
    times = [to_us(at(7.5) + dt.timedelta(minutes=10 * n)) for n in range(60) if at(7.5) + dt.timedelta(minutes=10 * n) < at(17)]
    times = [t for t in times if not to_us(at(12)) <= t < to_us(at(13.5))]
    spells = g8_stale(times, [(at(15), at(23), "stale")], Params(), DAY, at(30))
    # last change served before the outage: 14:50, due 16:50; seen stale at 17:00; the 23:00 run's catch-up
    # of [14:00, 22:00) serves the changes up to 16:50, due Tuesday 09:20: fresh again at 23:00
    assert spells == [(at(16 + 50 / 60), at(23))]
    # down instead: the 15:00 run already fails (the newest seen is 13:50, due 15:50); the failed hours come
    # in with the first run after it, at 23:00
    assert g8_stale(times, [(at(15), at(23), "down")], Params(), DAY, at(30)) == [(at(15 + 50 / 60), at(23))]
