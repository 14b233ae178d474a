"""The synchronisation-gap rules G1-G8: each defined once, in words (``RULES``, copied into
``truth.json``) and as a function of the timelines the warehouse can see.

Times the rules use (docs/ARCHITECTURE.md, "Domain rules"): the one-stop's *recorded* times (``NgayCapNhat`` of a
status change: when the one-stop system recorded it), the portal's reported sync time
(``NgayDongBo``), the filing time of a portal application (``NgayNop``), and for G8 what an hourly
pipeline sees of a source (the newest change it was served, and when). A portal push counts once the portal has applied it (``NgayCapNhat`` of the sync
record, which may be later than ``NgayDongBo``): the truth is evaluated at the end of the period on
what the sources serve then, so a push applied after the period's end does not exist for it.
``missing_after`` and the sources' ``stale_after`` run in office time of the province's calendar
(``tthc.calendar``: Nghe An's seasonal 8-hour days on working days); ``sync_sla`` in clock time.

Each function returns the gap's intervals ``(opened_at, closed_at)``; ``closed_at`` is None while it is
open. ``Truth`` clips them to the period: a gap opening at or after its end does not exist yet, and one
closing at or after it is still open.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby

from tthc import freshness
from tthc.calendar import TZ, office_after
from tthc.sources.sim.common import from_us, iso, to_us


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    key: str
    definition: str
    clock: str


RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("G1", "missing on portal", "dossier code",
         "a dossier received in the one-stop system (it has a status-2 change) that has no portal sync "
         "(any status) by missing_after office hours after its receipt was recorded",
         "opens at office_after(recorded time of the status-2 change, missing_after); closes at the first "
         "sync's NgayDongBo"),
    Rule("G2", "stale status", "dossier code",
         "from the dossier's first sync on, the portal's status (its latest push by NgayDongBo, ties by "
         "MaQuaTrinh) differs from the one-stop's current status (its latest status change other than 1 by "
         "recorded time, ties by MaQuaTrinh) for longer than sync_sla",
         "opens at (start of the difference + sync_sla); closes when the statuses agree again"),
    Rule("G3", "late sync", "dossier code",
         "a status change whose first push reached the portal (NgayDongBo) more than sync_sla after the "
         "one-stop recorded it; one gap per such status change",
         "opens at recorded time + sync_sla; closes at NgayDongBo"),
    Rule("G4", "orphan on portal", "portal application code (MaHoSoDVC)",
         "an online application on the portal that the one-stop system has not received (no version of the "
         "application carries a one-stop MaHoSo) by missing_after office hours after NgayNop",
         "opens at office_after(NgayNop, missing_after); closes at the recorded time of the first version "
         "that carries the one-stop dossier code"),
    Rule("G5", "field mismatch", "dossier code",
         "the portal's copy of the dossier (its latest push) differs from the one-stop's in MaTTHC, "
         "NgayHenTra, KenhThucHien or SoGiayToChuHoSo",
         "opens at the NgayDongBo of the first differing push; closes at the first push that agrees"),
    Rule("G6", "identity not verified", "dossier code",
         "a citizen applicant (LoaiDoiTuong 1) whose ID number the population database does not know, or "
         "knows under another full name (compared without regard to case)",
         "opens at the recorded time of the dossier's first version; stays open"),
    Rule("G7", "count drift", "agency code|YYYY-MM-DD",
         "per agency and day D: the one-stop's receipts (a dossier's first status-2 change, not a hand-over "
         "that repeats status 2, whose ThoiGian falls on D; counted once recorded) differ from the portal's "
         "synced receipts (those receipts' pushes, matched by MaQuaTrinh, each dossier counted once from its "
         "first NgayDongBo), evaluated from office_after(start of D+1, missing_after) on",
         "opens at that evaluation start, or later when the counts start to differ; closes when they agree"),
    Rule("G8", "stale source", "source name (onestop, portal)",
         "a source with a change feed, as the hourly pipeline sees it: at each whole hour h it fetches the "
         "hour that ended, [h - 1 h, h), and, if that worked, every stretch of the catch-up days before it "
         "that no fetch has confirmed (a fetch confirms its window up to the newest change the source had "
         "served by then; a failed fetch confirms nothing); a source in a stale "
         "outage serves nothing recorded from the outage start, one in a down outage answers 503. The newest "
         "seen change at h is the newest change time served by the fetches up to h (at the period start: the "
         "start). The source is stale at h when office_after(newest seen change, stale_after) < h",
         "opens at office_after(newest seen change, stale_after); closes at the first hour at which it is no "
         "longer stale (a newer change seen), or reopens at a later office_after if a newer change leaves it "
         "stale; an hourly check sees it at the first hour after it opens"),
)}


def rule_rows() -> list[dict]:
    """The rules as the dbt seed ``gap_codes`` (``tthc seeds``): what BI and the report show for a code."""
    return [{"gap_code": r.code, "title": r.title, "gap_key": r.key, "definition": r.definition, "clock": r.clock}
            for r in RULES.values()]


@dataclass(frozen=True)
class Params:
    sync_sla: dt.timedelta = dt.timedelta(minutes=60)
    missing_after_minutes: float = 24 * 60  # office minutes
    stale_after_minutes: float = 120  # office minutes, per feed source
    catch_up: dt.timedelta = freshness.DEFAULT_LOOKBACK  # how far back an hourly run reloads what it owes

    @classmethod
    def from_settings(cls, settings) -> Params:
        return cls(dt.timedelta(minutes=settings.sync_sla_minutes), settings.missing_after_hours * 60,
                   settings.stale_after_minutes, dt.timedelta(days=settings.catch_up_days))

    def as_dict(self) -> dict:
        return {"sync_sla_minutes": self.sync_sla.total_seconds() / 60,
                "missing_after_hours": self.missing_after_minutes / 60, "missing_after_unit": "office hours",
                "stale_after_minutes": self.stale_after_minutes, "stale_after_unit": "office minutes",
                "catch_up_days": self.catch_up.total_seconds() / 86400}


Interval = tuple[dt.datetime, dt.datetime | None]
CHECK_INTERVAL = dt.timedelta(hours=1)  # G8: the pipeline fetches each source every hour, on the hour


def g1_missing(receipt_recorded: dt.datetime | None, first_sync: dt.datetime | None, p: Params) -> list[Interval]:
    if receipt_recorded is None:
        return []
    opens = office_after(receipt_recorded, p.missing_after_minutes)
    return [(opens, first_sync)] if first_sync is None or first_sync > opens else []


def _differences(onestop: list[tuple[dt.datetime, str, int]], portal: list[tuple[dt.datetime, str, int]],
                 ) -> Iterator[tuple[dt.datetime, dt.datetime | None]]:
    """Maximal intervals, from the first push on, in which the two sides' latest statuses differ.
    Timelines are (time, MaQuaTrinh, status); all changes at one instant apply before comparing."""
    if not portal:
        return
    events = sorted([(t, 0, seq, s) for t, seq, s in onestop] + [(t, 1, seq, s) for t, seq, s in portal],
                    key=lambda e: (e[0], e[2], e[1]))
    current = {0: None, 1: None}
    since = None
    for moment, group in groupby(events, key=lambda e: e[0]):
        for _, side, _, status in group:
            current[side] = status
        differs = current[1] is not None and current[0] != current[1]
        if differs and since is None:
            since = moment
        elif not differs and since is not None:
            yield since, moment
            since = None
    if since is not None:
        yield since, None


def g2_stale(onestop: list[tuple[dt.datetime, str, int]], portal: list[tuple[dt.datetime, str, int]], p: Params,
             end: dt.datetime) -> list[Interval]:
    out = []
    for since, until in _differences(onestop, portal):
        if (until or end) - since > p.sync_sla:
            out.append((since + p.sync_sla, until))
    return out


def g3_late(recorded: dt.datetime, first_push: dt.datetime | None, p: Params) -> list[Interval]:
    if first_push is None or first_push - recorded <= p.sync_sla:
        return []
    return [(recorded + p.sync_sla, first_push)]


def g4_orphan(filed: dt.datetime, linked: dt.datetime | None, p: Params) -> list[Interval]:
    opens = office_after(filed, p.missing_after_minutes)
    return [(opens, linked)] if linked is None or linked > opens else []


def g5_mismatch(pushes: list[tuple[dt.datetime, bool]]) -> list[Interval]:
    """pushes: (NgayDongBo, differs) in NgayDongBo order."""
    out, since = [], None
    for moment, differs in pushes:
        if differs and since is None:
            since = moment
        elif not differs and since is not None:
            out.append((since, moment))
            since = None
    if since is not None:
        out.append((since, None))
    return out


def g7_drift(day: dt.date, receipts: list[dt.datetime], syncs: list[dt.datetime], p: Params) -> list[Interval]:
    """receipts: when each of the day's receipts was recorded; syncs: NgayDongBo of each synced receipt."""
    start = office_after(dt.datetime.combine(day + dt.timedelta(1), dt.time(0), TZ), p.missing_after_minutes)
    changes = sorted([(t, 1) for t in receipts] + [(t, -1) for t in syncs])
    balance = sum(d for t, d in changes if t <= start)
    out, since = [], start if balance else None
    for moment, group in groupby((c for c in changes if c[0] > start), key=lambda c: c[0]):
        balance += sum(d for _, d in group)
        if balance and since is None:
            since = moment
        elif not balance and since is not None:
            out.append((since, moment))
            since = None
    if since is not None:
        out.append((since, None))
    return out


def _served(times: list[int], lo: dt.datetime, hi: dt.datetime, cap: int, moment: dt.datetime) -> freshness.Load:
    """A fetch of [lo, hi) at ``moment`` from a source serving nothing recorded from ``cap`` on."""
    i = bisect_left(times, min(to_us(hi), cap)) - 1  # the newest change in [lo, min(hi, cap))
    newest = from_us(times[i]) if i >= 0 and times[i] >= to_us(lo) else None
    return freshness.Load(lo, hi, moment, True, newest)


def g8_stale(recorded_us: Iterable[int], outages: list[tuple[dt.datetime, dt.datetime, str]], p: Params,
             start: dt.datetime, end: dt.datetime, every: dt.timedelta = CHECK_INTERVAL) -> list[Interval]:
    """recorded_us: the source's change times (UTC microseconds, as the stores keep them), in order;
    outages: (start, end, mode) of this source. The hourly pipeline at each whole ``every`` from
    ``start`` to ``end``: it loads the hour that ended, then (if that worked) reads again what no load has
    confirmed (``tthc.freshness``, the product's rule), everything served at the hour; then G8 observes."""
    times = list(recorded_us)
    lookback = p.catch_up
    state = freshness.Freshness(start, p.stale_after_minutes)
    vouched: list[freshness.Interval] = []  # what loads have confirmed (tthc.freshness.confirmed), recent only
    moment = start + every
    while moment <= end:
        since = moment - every
        active = [(s, mode) for s, e, mode in outages if s <= moment < e]
        if any(mode == "down" for _, mode in active):  # answers 503: the run fails, nothing is caught up
            served = [freshness.Load(since, moment, moment, False, None)]
        else:
            cap = to_us(min([s for s, mode in active if mode == "stale"], default=moment))
            owed = freshness.owed(vouched, since, lookback, first=start)
            served = [_served(times, lo, hi, cap, moment) for lo, hi in [(since, moment), *owed]]
        vouched += [span for _, span in freshness.confirmed(served, state.newest)]
        for ld in served:
            state.serve(ld)
        state.observe(moment)
        vouched = freshness.union(v for v in vouched if v[1] > moment - lookback - 2 * every)
        moment += every
    return [(s.opened_at, s.closed_at) for s in state.spells]


@dataclass
class Truth:
    """The gaps of one simulation, clipped to its period."""

    end: dt.datetime
    params: Params
    gaps: list[dict] = field(default_factory=list)

    def add(self, code: str, key: str, intervals: list[Interval], dossier: str | None = None,
            agency: str | None = None, detail: dict | None = None) -> None:
        for opened, closed in intervals:
            if opened >= self.end:
                continue
            if closed is not None and closed >= self.end:
                closed = None
            self.gaps.append({"code": code, "key": key, "dossier_code": dossier, "agency_code": agency,
                              "opened_at": iso(opened), "closed_at": iso(closed), **({"detail": detail} if detail
                                                                                   else {})})

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for g in self.gaps:
            out[g["code"]] = out.get(g["code"], 0) + 1
        return dict(sorted(out.items()))
