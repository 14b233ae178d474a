"""The national public service portal's side: status pushes from the one-stop system, online
applications filed on the portal, online payments, satisfaction ratings, petitions.

Pushes follow the province's sync queue: in order, usually minutes after the one-stop recorded the
change, sometimes late, sometimes never (faults). The portal applies a push (``NgayCapNhat`` of the
sync record) a few seconds after its sync time (``NgayDongBo``), now and then up to three hours later;
nothing the portal would apply after the end of the simulated period is written.

``MucDoHaiLong`` (satisfaction of a rating): 1 very satisfied, 2 satisfied, 3 acceptable, 4 not
satisfied (the negative answer the 766 index counts). Petitions (``phản ánh, kiến nghị``) carry their
due time (10 working days), answer time and the petitioner's satisfaction (1 satisfied, 2 acceptable,
3 not satisfied).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from tthc.calendar import add_working_days, office_after
from tthc.sources.sim.common import iso, whole

MISMATCH_FIELDS = ("MaTTHC", "NgayHenTra", "KenhThucHien", "SoGiayToChuHoSo")


@dataclass
class Push:
    event_index: int
    status: int
    synced: dt.datetime  # NgayDongBo
    applied: dt.datetime  # NgayCapNhat
    repeat: bool = False


def draw_pushes(rng: random.Random, events: list, faults, receipt_recorded: dt.datetime | None,
                missing_after_minutes: float) -> list[Push]:
    """The sync queue of one dossier (every status change except 1). Never synced (G1, sometimes
    caught up later in a backlog push), late (G3) and dropped (G2) pushes are faults drawn here."""
    pushable = [(n, e) for n, e in enumerate(events) if e.status != 1]
    if not pushable:
        return []
    never = rng.random() < faults.never_synced
    catch_up = None
    if never and rng.random() < faults.backlog and receipt_recorded is not None:
        catch_up = office_after(receipt_recorded, missing_after_minutes * rng.uniform(1.2, 4.0))
    pushes: list[Push] = []
    last = None
    for i, (n, e) in enumerate(pushable):
        if i > 0 and rng.random() < faults.dropped_push:
            continue
        if never and catch_up is None:
            continue
        if never and e.recorded < catch_up:  # held back until the province pushes its backlog
            synced = catch_up
        elif rng.random() < faults.late_push:
            synced = e.recorded + dt.timedelta(seconds=rng.randint(61 * 60, 20 * 3600))
        else:
            synced = e.recorded + dt.timedelta(seconds=min(45 * 60, int(30 + rng.expovariate(1 / 360))))
        if last is not None and synced <= last:  # the province's queue keeps order
            synced = last + dt.timedelta(seconds=1)
        last = synced
        applied = synced + (dt.timedelta(seconds=rng.randint(60, 3 * 3600)) if rng.random() < 0.01
                            else dt.timedelta(seconds=rng.randint(0, 5)))
        pushes.append(Push(n, e.status, synced, applied))
    repeats = []
    for k, p in enumerate(pushes):  # now and then the queue re-sends a push (same change, same status)
        if rng.random() < 0.005:
            again = p.synced + dt.timedelta(seconds=rng.randint(60, 1800))
            if k + 1 == len(pushes) or again < pushes[k + 1].synced:
                repeats.append(Push(p.event_index, p.status, again, again + dt.timedelta(seconds=2), True))
    return sorted(pushes + repeats, key=lambda p: p.synced)


def mismatched(field_name: str, value):
    if field_name == "NgayHenTra":
        return iso(dt.datetime.fromisoformat(value) + dt.timedelta(days=2))
    if field_name == "KenhThucHien":
        return 1 if value == 2 else 2
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def rating_level(rng: random.Random, late: bool) -> int:
    return rng.choices([1, 2, 3, 4], [0.25, 0.3, 0.25, 0.2] if late else [0.62, 0.28, 0.08, 0.02])[0]


def petition(rng: random.Random, number: str, received: dt.datetime, agency, field_name: str,
             ) -> list[tuple[dt.datetime, dict]]:
    """Every version of one petition (received, answered, perhaps rated) as (recorded, record)."""
    due = whole(add_working_days(received, 10))
    late = rng.random() < min(0.9, 2.5 * agency.rate("late", received.date()))
    answered = office_after(due, rng.uniform(60, 3000)) if late else office_after(received, rng.uniform(60, 3600))
    answered = min(answered, due) if not late else answered
    base = {"MaPAKN": number, "DonViXuLy": agency.code, "LinhVuc": field_name, "NgayTiepNhan": iso(received),
            "HanXuLy": iso(due), "TrangThai": 1, "NgayTraLoi": None, "MucDoHaiLong": None}
    versions = [(received, dict(base)), (answered, {**base, "TrangThai": 2, "NgayTraLoi": iso(answered)})]
    if rng.random() < 0.4:
        rated = answered + dt.timedelta(seconds=rng.randint(1800, 5 * 86400))
        level = rng.choices([1, 2, 3], [0.3, 0.4, 0.3] if late else [0.65, 0.27, 0.08])[0]
        versions.append((rated, {**versions[-1][1], "MucDoHaiLong": level}))
    return versions
