"""What goes wrong, on purpose: the synchronisation gaps (G1-G8), bad records, source outages.

Each profile sets the rates; the simulator draws each fault from its own stream of the seed and the
truth (``truth.py``) records what the rules make of it. Source outages (G8) are also written to
``faults.json`` beside the stores: ``tthc sources serve`` applies them by its simulated clock.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

import orjson

from tthc.calendar import is_working_day, opening
from tthc.config import write_private
from tthc.sources.sim.common import iso, office_at

BAD_KINDS = (
    "malformed_id", "impossible_date", "unknown_procedure", "missing_required_field", "negative_fee",
    "duplicate_dossier_code", "wrong_type", "unexpected_field", "invalid_status", "due_before_receipt",
    "unsafe_text", "oversized_field",
)
FEED_SOURCES = ("onestop", "portal")  # the sources with change feeds (the population DB only verifies)
OUTAGE_MODES = ("stale", "down")  # serves nothing recorded after the start / answers 503


@dataclass(frozen=True)
class FaultProfile:
    """Rates of injected faults (per dossier unless said otherwise)."""

    name: str
    never_synced: float = 0.0  # G1: none of the dossier's status changes reaches the portal (for a while)
    backlog: float = 0.0  # of those, the share the province pushes later in a catch-up (the gap closes)
    dropped_push: float = 0.0  # G2: one status change (not the first) never reaches the portal
    late_push: float = 0.0  # G3: per status change, pushed 61 min - 20 h late
    orphan_application: float = 0.0  # G4: per online dossier, a portal application the one-stop never receives
    field_mismatch: float = 0.0  # G5: the portal's copy differs in one field
    identity_problem: float = 0.0  # G6: citizen unknown to, or under another name in, the population DB
    bad_record: float = 0.0  # an extra malformed record in the dossier feed; kinds cycle through BAD_KINDS
    outage_per_day: float = 0.0  # G8: per feed source and working day, an outage of 2-8 hours
    outage_each_source: bool = False  # G8: at least one outage per feed source in the period


PROFILES = {
    "none": FaultProfile("none"),
    "default": FaultProfile("default", 0.003, 0.5, 0.003, 0.004, 0.004, 0.003, 0.003, 0.004),
    "heavy": FaultProfile("heavy", 0.02, 0.5, 0.02, 0.03, 0.03, 0.02, 0.02, 0.02, outage_per_day=0.05),
    "every-kind": FaultProfile("every-kind", 0.01, 0.5, 0.01, 0.02, 0.02, 0.01, 0.01, 0.05,
                               outage_each_source=True),
}


def schedule_outages(profile: FaultProfile, rng: random.Random, start: dt.date, days: int) -> list[dict]:
    """Source outages in the period: start in office hours of a working day, last 2-8 hours."""
    working = [start + dt.timedelta(d) for d in range(days) if is_working_day(start + dt.timedelta(d))]
    out = []
    for n, source in enumerate(FEED_SOURCES):
        chosen = [(d, False) for d in working if rng.random() < profile.outage_per_day]
        if profile.outage_each_source and not chosen and working:  # a long morning one, sure to be noticed
            chosen = [(working[(len(working) - 1) * (n + 1) // len(FEED_SOURCES)], True)]
        for day, long in chosen:
            begin = office_at(opening(day) + dt.timedelta(minutes=rng.randint(30, 120 if long else 420)))
            out.append({"source": source, "mode": OUTAGE_MODES[len(out) % 2], "start": begin,
                        "end": begin + dt.timedelta(minutes=rng.randint(240 if long else 120, 480))})
    return sorted(out, key=lambda o: (o["start"], o["source"]))


def write_faults_file(out_dir, outages: list[dict]) -> None:
    """``faults.json``: what ``tthc sources serve`` injects by its clock (times as ISO-8601)."""
    data = {"outages": [{**o, "start": iso(o["start"]), "end": iso(o["end"])} for o in outages]}
    write_private(Path(out_dir) / "faults.json", orjson.dumps(data, option=orjson.OPT_INDENT_2))


def bad_record(kind: str, payload: dict, key: str, hoso_id: int) -> tuple[str, str]:
    """One malformed version of a dossier record: (its key in the feed, its JSON text)."""
    bad = dict(payload)
    if kind == "malformed_id":
        bad["SoGiayToChuHoSo"] = bad["SoGiayToChuHoSo"][:5] + "AB" + bad["SoGiayToChuHoSo"][7:]
    elif kind == "impossible_date":
        bad["NgayNopHoSo"] = bad["NgayNopHoSo"][:5] + "02-30" + bad["NgayNopHoSo"][10:]
    elif kind == "unknown_procedure":
        bad["MaTTHC"] = "9.999999"
    elif kind == "missing_required_field":
        del bad["MaHoSo"]
        key = f"missing:{hoso_id}"
    elif kind == "negative_fee":
        bad["LePhi"] = -abs(bad["LePhi"] or 50_000)
    elif kind == "duplicate_dossier_code":
        bad["HoSoID"] = hoso_id + 900_000_000  # another dossier claiming the same code
    elif kind == "wrong_type":
        bad["KenhThucHien"] = "truc tuyen"
    elif kind == "unexpected_field":
        bad["TruongLa"] = "giá trị không có trong hợp đồng dữ liệu"
    elif kind == "invalid_status":
        bad["TrangThaiHoSo"] = 13
    elif kind == "due_before_receipt":
        bad["NgayHenTra"] = iso(dt.datetime.fromisoformat(bad["NgayNopHoSo"]) - dt.timedelta(days=3))
    elif kind == "unsafe_text":
        bad["ChuHoSo"] = bad["ChuHoSo"] + "\u0000\ud800"
    elif kind == "oversized_field":
        bad["ChuHoSo"] = "X" * 20_000
    bad["PhienBan"] = 0
    text = orjson.dumps(bad).decode() if kind != "unsafe_text" else json.dumps(bad, ensure_ascii=True)
    return key, text

