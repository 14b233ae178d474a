"""An independent recompute of the gap rules G1-G8 from the simulator's stores, written from the words
in truth.json (not from tthc.sources.sim.truth), reading the records exactly as the APIs serve them.

Used by the tests to check that the truth states the rules it claims to."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

from tthc.calendar import TZ, add_office_minutes

FEEDS = {"onestop": ("admin_units", "agencies", "procedures", "dossiers", "status_changes"),
         "portal": ("sync_records", "online_applications", "payments", "ratings", "petitions")}


def ts(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def text(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(TZ).isoformat(timespec="seconds")


def after_office(moment: dt.datetime, minutes: float) -> dt.datetime:
    return add_office_minutes(moment, minutes).replace(microsecond=0)


def rows(data: Path, source: str, entity: str, skip: set[tuple[str, str]] = frozenset()) -> list[dict]:
    """The entity's records in feed order, less those listed in ``skip`` as (key, NgayCapNhat)."""
    with sqlite3.connect(data / f"{source}.sqlite") as db:
        return [rec for key, p in db.execute(f"SELECT key, payload FROM {entity} ORDER BY changed_us, seq")
                if (key, (rec := json.loads(p)).get("NgayCapNhat")) not in skip]


def step_intervals(changes: list[tuple[dt.datetime, object]], differs, start: dt.datetime | None = None):
    """Intervals in which differs(state) holds; state is folded from (time, change) pairs; only from start."""
    out, since = [], None
    times = sorted({t for t, _ in changes})
    by_time = defaultdict(list)
    for t, c in changes:
        by_time[t].append(c)
    state = {}
    if start is not None:
        for t in [t for t in times if t <= start]:
            for c in by_time[t]:
                state = c(state)
        times = [t for t in times if t > start]
        if differs(state):
            since = start
    for t in times:
        for c in by_time[t]:
            state = c(state)
        if differs(state) and since is None:
            since = t
        elif not differs(state) and since is not None:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, None))
    return out


def recompute(data: Path) -> list[tuple]:
    truth = json.loads((data / "truth.json").read_text())
    p = truth["parameters"]
    sla = dt.timedelta(minutes=p["sync_sla_minutes"])
    missing = p["missing_after_hours"] * 60
    stale = p["stale_after_minutes"]
    end = ts(truth["period"]["end"])
    bad = {(b["key"], b["recorded_at"]) for b in truth["bad_records"]}
    found: list[tuple] = []

    def add(code, key, opened, closed):
        if opened < end:
            found.append((code, key, text(opened), text(closed if closed is not None and closed < end else None)))

    changes = rows(data, "onestop", "status_changes")
    syncs = rows(data, "portal", "sync_records")
    dossiers = rows(data, "onestop", "dossiers", skip=bad)  # the malformed versions are the loader's business
    by_dossier_changes = defaultdict(list)
    for c in changes:
        by_dossier_changes[c["MaHoSo"]].append(c)
    by_dossier_syncs = defaultdict(list)
    for s in syncs:
        by_dossier_syncs[s["MaHoSo"]].append(s)

    for code, cs in by_dossier_changes.items():
        ss = by_dossier_syncs.get(code, [])
        sync_times = sorted(ts(s["NgayDongBo"]) for s in ss)
        # G1
        receipts = [ts(c["NgayCapNhat"]) for c in cs if c["TrangThaiHoSo"] == 2]
        if receipts:
            opens = after_office(min(receipts), missing)
            first = sync_times[0] if sync_times else None
            if first is None or first > opens:
                add("G1", code, opens, first)
        # G2: apply each side's changes in order, compare from the first push on
        if ss:
            def onestop_change(c):
                return lambda st: {**st, "os": c["TrangThaiHoSo"]}

            def portal_change(s):
                return lambda st: {**st, "po": s["TrangThaiHoSo"]}

            timeline = [(ts(c["NgayCapNhat"]), (c["MaQuaTrinh"], 0, onestop_change(c)))
                        for c in cs if c["TrangThaiHoSo"] != 1]
            timeline += [(ts(s["NgayDongBo"]), (s["MaQuaTrinh"], 1, portal_change(s))) for s in ss]
            timeline.sort(key=lambda x: (x[0], x[1][0], x[1][1]))
            ordered = [(t, c[2]) for t, c in timeline]
            for since, until in step_intervals(ordered, lambda st: "po" in st and st.get("os") != st["po"]):
                if (until or end) - since > sla:
                    add("G2", code, since + sla, until)
        # G3: each change's first push
        first_push = {}
        for s in ss:
            t = ts(s["NgayDongBo"])
            first_push[s["MaQuaTrinh"]] = min(first_push.get(s["MaQuaTrinh"], t), t)
        for c in cs:
            pushed = first_push.get(c["MaQuaTrinh"])
            if pushed is not None and pushed - ts(c["NgayCapNhat"]) > sla:
                add("G3", code, ts(c["NgayCapNhat"]) + sla, pushed)
    # G4
    apps = defaultdict(list)
    for a in rows(data, "portal", "online_applications"):
        apps[a["MaHoSoDVC"]].append(a)
    for app_id, versions in apps.items():
        filed = ts(versions[0]["NgayNop"])
        linked = [ts(v["NgayCapNhat"]) for v in versions if v["MaHoSo"]]
        opens = after_office(filed, missing)
        link = min(linked) if linked else None
        if link is None or link > opens:
            add("G4", app_id, opens, link)
    # G5: the portal's latest push against the one-stop's dossier
    latest = {}
    for d in dossiers:
        latest[d["MaHoSo"]] = d
    for code, ss in by_dossier_syncs.items():
        d = latest.get(code)
        if d is None:
            continue

        def differs(s, d=d):
            return (s["MaTTHC"] != d["MaTTHC"] or ts(s["NgayHenTra"]) != ts(d["NgayHenTra"])
                    or s["KenhThucHien"] != d["KenhThucHien"] or s["SoGiayToChuHoSo"] != d["SoGiayToChuHoSo"])

        ordered = sorted(ss, key=lambda s: (s["NgayDongBo"], s["MaQuaTrinh"]))
        steps = [(ts(s["NgayDongBo"]), (lambda st, s=s: {"differs": differs(s)})) for s in ordered]
        for since, until in step_intervals(steps, lambda st: st.get("differs", False)):
            add("G5", code, since, until)
    # G6: citizens the population database does not know, or knows under another name
    with sqlite3.connect(data / "population.sqlite") as db:
        by_id = {k: json.loads(p) for k, p in db.execute("SELECT key, payload FROM citizens")}
        by_legacy = {k: json.loads(p) for k, p in db.execute(
            "SELECT legacy_id, payload FROM citizens WHERE legacy_id IS NOT NULL")}
    first_seen = {}
    for d in dossiers:
        first_seen.setdefault(d["MaHoSo"], ts(d["NgayCapNhat"]))
    for code, d in latest.items():
        if d["LoaiDoiTuong"] != 1:
            continue
        person = (by_legacy if len(d["SoGiayToChuHoSo"]) == 9 else by_id).get(d["SoGiayToChuHoSo"])
        if person is None or person["HoVaTen"].casefold() != d["ChuHoSo"].strip().casefold():
            add("G6", code, first_seen[code], None)
    # G7: per agency and day, each dossier's receipt (not a hand-over repeating status 2) against the
    # first push of that very change
    receipt_of = {}
    for c in changes:
        if c["TrangThaiHoSo"] == 2 and not c["GhiChu"] and c["MaHoSo"] not in receipt_of:
            receipt_of[c["MaHoSo"]] = c
    first_push_of = {}
    for s in syncs:
        t = ts(s["NgayDongBo"])
        first_push_of[s["MaQuaTrinh"]] = min(first_push_of.get(s["MaQuaTrinh"], t), t)
    receipts, portal_counts = defaultdict(list), defaultdict(list)
    for c in receipt_of.values():
        key = (c["DonViXuLy"], ts(c["ThoiGian"]).astimezone(TZ).date())
        receipts[key].append(ts(c["NgayCapNhat"]))
        if c["MaQuaTrinh"] in first_push_of:
            portal_counts[key].append(first_push_of[c["MaQuaTrinh"]])
    for key in receipts:
        agency, day = key
        start = after_office(dt.datetime.combine(day + dt.timedelta(1), dt.time(0), TZ), missing)
        steps = [(t, lambda st: {**st, "n": st.get("n", 0) + 1}) for t in receipts[key]]
        steps += [(t, lambda st: {**st, "n": st.get("n", 0) - 1}) for t in portal_counts.get(key, [])]
        for since, until in step_intervals(steps, lambda st: st.get("n", 0) != 0, start):
            add("G7", f"{agency}|{day.isoformat()}", since, until)
    # G8: what an hourly pipeline sees of each feed source: every whole hour it asks for the hour that
    # ended; if that is answered, also for every earlier stretch of the catch-up days that no answer has
    # vouched for (an answer vouches for its window up to the newest change served by then); a stale source
    # hides what was recorded from its outage start on, a down one answers nothing.
    outages = json.loads((data / "faults.json").read_text())["outages"]
    start = ts(truth["period"]["start"])
    reach = dt.timedelta(days=p.get("catch_up_days", 3))
    hour_span = dt.timedelta(hours=1)
    tick = dt.timedelta(microseconds=1)
    for source, entities in FEEDS.items():
        mine = [o for o in outages if o["source"] == source]
        with sqlite3.connect(data / f"{source}.sqlite") as db:
            moments = sorted(dt.datetime.fromtimestamp(us / 1e6, dt.UTC)
                             for e in entities for (us,) in db.execute(f"SELECT changed_us FROM {e}"))
        newest, gap = start, None
        vouched: list[tuple] = []  # (lo, hi) of what answers vouched for
        hour = start + hour_span
        while hour <= end:
            now_down = [o for o in mine if ts(o["start"]) <= hour < ts(o["end"])]
            if not any(o["mode"] == "down" for o in now_down):
                owed, cursor = [], max(start, hour - hour_span - reach)
                for lo, hi in sorted(vouched):
                    if lo > cursor and cursor < hour - hour_span:
                        owed.append((cursor, min(lo, hour - hour_span)))
                    cursor = max(cursor, hi)
                if cursor < hour - hour_span:
                    owed.append((cursor, hour - hour_span))
                asked = [(hour - hour_span, hour)] + owed
                hidden_from = min((ts(o["start"]) for o in now_down if o["mode"] == "stale"), default=None)
                for lo, hi in asked:
                    top = hi if hidden_from is None else min(hi, hidden_from)
                    below = bisect.bisect_left(moments, top)  # moments[below - 1]: the last before top
                    if below and moments[below - 1] >= lo:
                        newest = max(newest, moments[below - 1])
                vouched += [(lo, min(hi, newest + tick)) for lo, hi in asked if min(hi, newest + tick) > lo]
            due = after_office(newest, stale)
            if gap is not None and (due >= hour or due != gap):
                add("G8", source, gap, hour)
                gap = None
            if due < hour and gap is None:
                gap = due
            hour += hour_span
        if gap is not None:
            add("G8", source, gap, None)
    return found


def truth_gaps(data: Path) -> list[tuple]:
    truth = json.loads((data / "truth.json").read_text())
    return [(g["code"], g["key"], g["opened_at"], g["closed_at"]) for g in truth["gaps"]]


def compare(data: Path) -> dict[str, tuple[Counter, Counter]]:
    """Per code: (in the truth only, in the recompute only)."""
    a, b = Counter(truth_gaps(data)), Counter(recompute(data))
    out = {}
    for code in sorted({k[0] for k in a} | {k[0] for k in b}):
        only_a = Counter({k: v for k, v in (a - b).items() if k[0] == code})
        only_b = Counter({k: v for k, v in (b - a).items() if k[0] == code})
        out[code] = (only_a, only_b)
    return out

