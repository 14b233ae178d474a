"""What a feed source's loads got: which stretches of each entity's change feed have been read completely,
which not yet, and what an hourly run therefore reads again (docs/ARCHITECTURE.md, "Late records").

*Confirmed*: a source that serves a change recorded at ``c`` had recorded everything before ``c`` when it
served it: in a stale outage a source serves nothing recorded from the outage start on, so any change it
serves lies before that start. So a load of ``[lo, hi)`` served at ``T`` is confirmed up to the newest
change the source had served by ``T`` (in any entity, in any load served at or before ``T``); the rest of
its window is *unconfirmed* until a later read, served after the source showed something newer, reads it
again. In steady operation that is the last minutes of each hour (and a quiet night, until the morning's
first change): a tail that the next run reads again, mostly empty.

*Stale spells* (the G8 rule, exactly the G8 findings of ``tthc.checks``): at every whole hour and whenever
a load was served, the newest change served so far; the source is stale when ``office_after(newest,
stale_after)`` lies before the observation. A spell runs from the observation that finds it stale to the
first that does not, or to one at which a newer change leaves it stale with a later deadline. An
unconfirmed stretch read during a spell, or before it was noticed from its newest change on, is
*provisional*: records are known to be missing from it, likely.

*Catch-up*: each hourly run, once its own window has loaded, reads again every stretch of its entity in
``[since - lookback, since)`` from its first window on that no load has confirmed (a failed hour, an hour
never run, an unconfirmed tail). Loads are idempotent, so a stretch read twice changes nothing. Pure
functions here; ``tthc.pipeline`` reads the load log and ``tthc.coverage`` reports it. The simulator's
truth for G8 runs the same rule (``tthc.sources.sim.truth``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from tthc.calendar import office_after

HOUR = dt.timedelta(hours=1)
DEFAULT_LOOKBACK = dt.timedelta(days=3)  # TTHC_CATCH_UP_DAYS
Interval = tuple[dt.datetime, dt.datetime]
NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Load:
    """One row of the load log (``audit.load_run``) as the rule reads it."""

    start: dt.datetime | None  # None: from the beginning (a catalogue's first load)
    end: dt.datetime | None
    served_at: dt.datetime  # by the source's clock (X-Source-Time)
    ok: bool
    newest: dt.datetime | None  # the newest change the window served
    entity: str = ""


@dataclass
class Spell:
    newest: dt.datetime  # the newest change seen when the spell opened
    opened_at: dt.datetime  # office_after(newest, stale_after): G8's opening time
    closed_at: dt.datetime | None = None  # the observation at which it ended

    def covers(self, load: Load) -> bool:
        """Was ``load`` served during this spell (or before it was noticed) and might it lack records?"""
        return (load.end is not None and self.newest < load.end and self.newest <= load.served_at
                and (self.closed_at is None or load.served_at < self.closed_at))


def whole_hours(after: dt.datetime, before: dt.datetime) -> list[dt.datetime]:
    """The whole hours h with after < h < before."""
    h = after.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + HOUR
    out = []
    while h < before:
        out.append(h)
        h += HOUR
    return out


@dataclass
class Freshness:
    """A source's observations fed in time order: ``serve`` what a load served, ``observe`` a moment."""

    newest: dt.datetime
    stale_after_minutes: float
    spells: list[Spell] = field(default_factory=list)

    def serve(self, load: Load) -> None:
        if load.ok and load.newest is not None and load.newest > self.newest:
            self.newest = load.newest

    @property
    def due(self) -> dt.datetime:
        return office_after(self.newest, self.stale_after_minutes)

    @property
    def open_spell(self) -> Spell | None:
        return self.spells[-1] if self.spells and self.spells[-1].closed_at is None else None

    def observe(self, moment: dt.datetime) -> None:
        due = self.due
        stale = due < moment
        spell = self.open_spell
        if spell and (not stale or spell.opened_at != due):
            spell.closed_at = moment
            spell = None
        if stale and spell is None:
            self.spells.append(Spell(self.newest, due))

    def replay(self, loads: Iterable[Load], before: dt.datetime, after: dt.datetime | None = None) -> Freshness:
        """Observe every load served before ``before`` and every whole hour in (``after``, ``before``), in
        time order; loads served at one moment are all seen by its observation."""
        ordered = sorted((ld for ld in loads if ld.served_at < before), key=lambda ld: ld.served_at)
        first = after or (ordered[0].served_at if ordered else before)
        points = sorted({*(ld.served_at for ld in ordered), *whole_hours(first, before)})
        i = 0
        for point in points:
            while i < len(ordered) and ordered[i].served_at <= point:
                self.serve(ordered[i])
                i += 1
            self.observe(point)
        return self


def replay(loads: list[Load], stale_after_minutes: float, before: dt.datetime,
           newest: dt.datetime | None = None, after: dt.datetime | None = None) -> list[Spell]:
    """The stale spells of a source's load log up to ``before``. ``newest``: what had been seen before the
    log starts (default: the first window's start, as at the pipeline's start)."""
    if newest is None:
        starts = [ld.start for ld in loads if ld.start is not None]
        newest = min(starts, default=min((ld.served_at for ld in loads), default=before))
    return Freshness(newest, stale_after_minutes).replay(loads, before, after).spells


def is_provisional(load: Load, spells: list[Spell]) -> bool:
    return load.ok and any(s.covers(load) for s in spells)


TICK = dt.timedelta(microseconds=1)


def confirmed(loads: list[Load], newest: dt.datetime) -> list[tuple[Load, Interval]]:
    """Each successful load with the part of its window the source vouched for: from its start to the
    newest change served by any load served at or before it (``newest``: what was seen before ``loads``)."""
    out = []
    ordered = sorted((ld for ld in loads), key=lambda ld: ld.served_at)
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j].served_at == ordered[i].served_at:  # one moment: seen together
            if ordered[j].ok and ordered[j].newest is not None and ordered[j].newest > newest:
                newest = ordered[j].newest
            j += 1
        for ld in ordered[i:j]:
            if ld.ok and ld.end is not None:
                lo, hi = window(ld)[0], min(ld.end, newest + TICK)
                if hi > lo:
                    out.append((ld, (lo, hi)))
        i = j
    return out


def union(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[list[dt.datetime]] = []
    for lo, hi in sorted(intervals):
        if hi <= lo:
            continue
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def minus(region: list[Interval], taken: list[Interval]) -> list[Interval]:
    """``region`` without ``taken`` (both unions of intervals)."""
    out = []
    for lo, hi in region:
        cursor = lo
        for t_lo, t_hi in taken:
            if t_hi <= cursor or t_lo >= hi:
                continue
            if t_lo > cursor:
                out.append((cursor, t_lo))
            cursor = max(cursor, t_hi)
        if cursor < hi:
            out.append((cursor, hi))
    return out


def window(load: Load) -> Interval:
    return (load.start or NEVER, load.end or load.served_at)


def owed(vouched: list[Interval], since: dt.datetime, lookback: dt.timedelta, first: dt.datetime) -> list[Interval]:
    """What one entity's hourly run reads again: the stretches of ``[since - lookback, since)`` from its
    first window on that no load has confirmed (``vouched``: its loads' confirmed parts), oldest first."""
    lo = max(first, since - lookback)
    if lo >= since:
        return []
    return minus([(lo, since)], union(vouched))


@dataclass(frozen=True)
class Stretch:
    kind: str  # 'covered', 'unconfirmed', 'provisional' or 'hole'
    start: dt.datetime
    end: dt.datetime
    windows: int


def stretches(loads: list[Load], vouched: list[Interval], spells: list[Spell]) -> list[Stretch]:
    """One entity's load log as coverage, between the first and the last window read: covered (confirmed),
    read but not confirmed yet (provisional where a stale spell says records are missing, else
    unconfirmed: awaiting the next read after a newer change), and holes (never read)."""
    read = [ld for ld in loads if ld.ok and ld.start is not None and ld.end is not None and ld.end > ld.start]
    if not read:
        return []
    span = [(min(ld.start for ld in read), max(ld.end for ld in read))]
    covered = minus(span, minus(span, union(vouched)))  # a catalogue's first load reads from the beginning
    seen = union(window(ld) for ld in read)
    pending = minus(seen, covered)
    suspect = union(window(ld) for ld in read if is_provisional(ld, spells))
    provisional = minus(pending, minus(pending, suspect))
    unconfirmed = minus(pending, provisional)
    holes = minus(span, union(seen + covered))

    def count(lo, hi):
        return sum(1 for ld in read if window(ld)[0] < hi and window(ld)[1] > lo)

    out = [Stretch(kind, lo, hi, count(lo, hi)) for kind, parts in (
        ("covered", covered), ("unconfirmed", unconfirmed), ("provisional", provisional)) for lo, hi in parts]
    out += [Stretch("hole", lo, hi, 0) for lo, hi in holes]
    return sorted(out, key=lambda s: (s.start, s.kind))
