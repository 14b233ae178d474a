"""What a feed source's loads got: the freshness rule G8 as the hourly pipeline sees it, and which windows
are therefore *provisional* and owed again (docs/ARCHITECTURE.md, "Late records").

Observations: at every whole hour and whenever a load was served (by the source's clock), the newest
change served so far. The source is stale at an observation when ``office_after(newest, stale_after)``
lies before it. A *stale spell* runs from the observation that finds it stale to the first one that does
not (a newer change seen), or to the one at which a newer change leaves it stale with a later deadline
(the next spell starts there): exactly the G8 findings of ``tthc.checks``.

A source in a stale outage serves nothing recorded after some moment; the pipeline cannot tell that from
a quiet spell until ``stale_after`` has passed. So a successful load is *provisional* when it was served
during a spell, or before it was noticed, from the spell's newest change on, and its window ends after
that change: it may lack records the source had not served yet. *Complete* loads are the others.

*Catch-up*: each hourly run, once its own window has loaded, loads again every earlier stretch of its
entity in ``[since - lookback, since)`` that no complete load has read (a failed hour, an hour never run,
a provisional window). Loads are idempotent, so a window read twice changes nothing. Pure functions
here; ``tthc.pipeline`` reads the load log and ``tthc.coverage`` reports it. The simulator's truth for
G8 runs the same rule (``tthc.sources.sim.truth``).
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


def is_complete(load: Load, spells: list[Spell]) -> bool:
    return load.ok and load.end is not None and not is_provisional(load, spells)


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


def owed(loads: list[Load], spells: list[Spell], since: dt.datetime, lookback: dt.timedelta,
         first: dt.datetime | None = None) -> list[Interval]:
    """What one entity's hourly run loads again: the stretches of ``[since - lookback, since)`` from its
    first window on (``first``, default: the earliest in ``loads``) that no complete load among ``loads``
    has read (merged, oldest first)."""
    if first is None:
        if not loads:
            return []
        first = min(window(ld)[0] for ld in loads)
    lo = max(first, since - lookback)
    if lo >= since:
        return []
    return minus([(lo, since)], union(window(ld) for ld in loads if is_complete(ld, spells)))


@dataclass(frozen=True)
class Stretch:
    kind: str  # 'covered', 'provisional' or 'hole'
    start: dt.datetime
    end: dt.datetime
    windows: int


def stretches(loads: list[Load], spells: list[Spell]) -> list[Stretch]:
    """One entity's load log as coverage: covered (complete loads end to end), provisional (read only
    while its source was stale) and holes (never read) between the first and the last window read."""
    read = [ld for ld in loads if ld.ok and ld.start is not None and ld.end is not None and ld.end > ld.start]
    if not read:
        return []
    complete = [ld for ld in read if is_complete(ld, spells)]
    covered = union(window(ld) for ld in complete)
    provisional = minus(union(window(ld) for ld in read if not is_complete(ld, spells)), covered)
    span = [(min(ld.start for ld in read), max(ld.end for ld in read))]
    holes = minus(minus(span, covered), provisional)

    def count(lo, hi, among):
        return sum(1 for ld in among if ld.start < hi and ld.end > lo)

    out = [Stretch("covered", lo, hi, count(lo, hi, complete)) for lo, hi in covered]
    out += [Stretch("provisional", lo, hi, count(lo, hi, read)) for lo, hi in provisional]
    out += [Stretch("hole", lo, hi, 0) for lo, hi in holes]
    return sorted(out, key=lambda s: (s.start, s.kind))
