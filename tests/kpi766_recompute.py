"""The Decision 766 index's dossier-level rules, computed from the simulator's stores alone; the warehouse
computes them in SQL (marts.fct_kpi766_dossier, kpi_agency_monthly): one rule, two implementations that must
agree (tests/test_marts.py on the session's week, tests/test_kpi766_quarter.py on a quarter)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import psycopg
from conftest import store, valid_dossiers
from tthc.calendar import TZ
from tthc.kpi766 import BY_CODE, DOSSIER_INDICATORS, lifecycle, month_bounds, progress

RECEIVED_BASED = ("1.4", "3.3", "3.4", "3.6", "4.2", "4.3", "4.4", "4.5b", "4.6")  # at the receiving agency


@lru_cache(maxsize=1)
def recompute_766(data: Path) -> tuple[dict[tuple[str, str, str, str], tuple[bool, bool, dt.datetime | None]],
                                       dict[str, dt.datetime]]:
    """Every dossier-level 766 row, (agency, year_month, dossier, indicator) -> (in denominator, in numerator,
    end time), and each month's evaluation time, from the stores alone: 2.1 and 5.4 by tthc.kpi766's progress rule (at the handling agency: the
    agency of the dossier's latest change in record order), 4.1 dossiers resolved in the month (there too),
    the rest dossiers received in the month (at the receiving agency: its first status-2 change in record
    order, else its first change), each flag read as staging reads it."""
    ts = dt.datetime.fromisoformat
    dossiers = valid_dossiers(data)
    by_id = {c["MaQuaTrinh"]: c for c in store(data, "onestop", "status_changes")}  # the latest version
    changes = defaultdict(list)
    for c in by_id.values():
        changes[c["MaHoSo"]].append(c)
    first_push: dict[str, dt.datetime] = {}
    for s in store(data, "portal", "sync_records"):
        t = ts(s["NgayDongBo"])
        first_push[s["MaQuaTrinh"]] = min(first_push.get(s["MaQuaTrinh"], t), t)
    negative = defaultdict(list)  # a dossier's negative ratings (MucDoHaiLong 4), when given
    for r in {r["MaDanhGia"]: r for r in store(data, "portal", "ratings")}.values():
        if r["MucDoHaiLong"] == 4:
            negative[r["MaHoSo"]].append(ts(r["NgayDanhGia"]))
    versions = defaultdict(list)  # a procedure's catalogue versions: the one in force when the dossier was filed
    for p in store(data, "onestop", "procedures"):
        versions[p["MaTTHC"]].append((ts(p["NgayCapNhat"]), p))

    def in_force(code: str, filed: dt.datetime) -> dict:
        return max(((t, p) for t, p in versions[code] if t <= filed), key=lambda v: v[0], default=(None, {}))[1]

    kept = {code: sorted(cs, key=lambda c: (ts(c["NgayCapNhat"]), c["MaQuaTrinh"]))
            for code, cs in changes.items() if code in dossiers}
    as_of = max(ts(c["NgayCapNhat"]) for cs in kept.values() for c in cs)
    first = min(min(ts(c["ThoiGian"]) for cs in kept.values() for c in cs),
                min(ts(d["NgayNopHoSo"]) for d in dossiers.values())).astimezone(TZ).date().replace(day=1)
    months = [first]
    while months[-1] < as_of.astimezone(TZ).date().replace(day=1):
        months.append((months[-1] + dt.timedelta(days=32)).replace(day=1))
    rows: dict = {}
    evaluated_at = {m.strftime("%Y-%m"): month_bounds(m, as_of, TZ)[1] for m in months}
    for code, ordered in kept.items():
        d = dossiers[code]
        life = lifecycle([(ts(c["ThoiGian"]), c["TrangThaiHoSo"]) for c in ordered])
        receiving = next((c for c in ordered if c["TrangThaiHoSo"] == 2), ordered[0])["DonViXuLy"]
        handling = ordered[-1]["DonViXuLy"]
        due = ts(d["NgayHenTra"])
        pushes = [first_push[c["MaQuaTrinh"]] for c in ordered if c["MaQuaTrinh"] in first_push]
        procedure = in_force(d["MaTTHC"], ts(d["NgayNopHoSo"]))
        received_flags = {  # indicator -> (in its denominator, in its numerator); 1.4's: by the month's end
            "1.4": (True, None),
            "3.3": (True, d["KenhThucHien"] == 2),
            "3.4": (procedure.get("MucDoDVC") == "toan_trinh", d["HoSoToanTrinh"] == 1),
            "3.6": (d["LePhi"] > 0, bool(d["DuocThanhToanTrucTuyen"])),
            "4.2": (True, d["HoSoCoThanhPhanSoHoa"] == 1),
            "4.3": (True, d["DuocTaiSuDungDuLieu"] == 1),
            "4.4": (True, d["DuocLayTuKhoDMQG"] == 1),
            "4.5b": (True, d["TaiKhoanDuocXacThucVoiVNeID"] == 1 or d["DuocLayTuKhoDMQG"] == 1
                     or d["MaCSDL"] is not None),
            "4.6": (d["MaLinhVuc"] == "Chứng thực", d["DuocChungThucDienTu"] == 1),
        }
        assert tuple(received_flags) == RECEIVED_BASED
        for month in months:
            begins, evaluated = month_bounds(month, as_of, TZ)
            key = month.strftime("%Y-%m")
            verdict = progress(life, due, begins, evaluated)
            if verdict is not None:
                rows[(handling, key, code, "2.1")] = (verdict.in_denominator, verdict.on_time, verdict.end_at)
                if verdict.in_denominator:
                    rated_negative = any(t < evaluated for t in negative[code])
                    rows[(handling, key, code, "5.4")] = (True, not rated_negative, verdict.end_at)
            if life.resolved_at is not None and begins <= life.resolved_at < evaluated:
                rows[(handling, key, code, "4.1")] = (True, d["CoKetQuaDienTu"] == 1, None)
            if life.received_at is not None and begins <= life.received_at < evaluated:
                for indicator, (counts, met) in received_flags.items():
                    if indicator == "1.4":
                        met = bool(pushes) and min(pushes) < evaluated
                    if counts:
                        rows[(receiving, key, code, indicator)] = (True, met, None)
    return rows, evaluated_at


def assert_rows_agree(admin: str, data: Path, minimum: int = 30) -> dict:
    """Which dossiers each dossier-level indicator counted, per agency and month, and the end time 2.1 used:
    the mart's rows equal the recompute's. Returns the recompute's rows."""
    expected, evaluated_at = recompute_766(data)
    assert {k[3] for k in expected} == set(DOSSIER_INDICATORS)
    with psycopg.connect(admin) as conn:
        rows = conn.execute("""
            SELECT agency_code, year_month, dossier_code, indicator, in_denominator, in_numerator, end_at
            FROM marts.fct_kpi766_dossier""").fetchall()
        evaluated = dict(conn.execute("SELECT DISTINCT year_month, evaluated_at FROM marts.fct_kpi766_dossier"))
    got = {tuple(r[:4]): tuple(r[4:]) for r in rows}
    assert len(got) == len(rows)  # one row per dossier, indicator, agency and month
    missing = {k: v for k, v in expected.items() if k not in got}
    extra = {k: v for k, v in got.items() if k not in expected}
    differ = {k: (v, got[k]) for k, v in expected.items() if k in got and got[k] != v}
    assert (missing, extra, differ) == ({}, {}, {}), (
        f"{len(missing)} missing, {len(extra)} extra, {len(differ)} differ (expected, got): "
        f"{list(missing.items())[:5]} {list(extra.items())[:5]} {list(differ.items())[:5]}")
    months = {k[1] for k in expected}
    assert evaluated == {m: evaluated_at[m] for m in months} and len(months) >= 2  # the month's end, or as_of
    for indicator in DOSSIER_INDICATORS:
        assert sum(k[3] == indicator for k in expected) > minimum, indicator
    assert sum(k[3] == "2.1" and v[0] and not v[1] for k, v in expected.items()) > minimum  # late ones too
    return expected


def assert_counts_are_the_rows(admin: str, data: Path) -> None:
    """kpi_agency_monthly's numerators and denominators are its dossier rows, counted (1.4's denominator is
    at least its rows: the portal may hold more receipts than the one-stop)."""
    counts: dict = defaultdict(lambda: [0, 0])
    for (agency, month, _, indicator), (in_denominator, in_numerator, _) in recompute_766(data)[0].items():
        counts[(agency, month, indicator)][0] += in_numerator
        counts[(agency, month, indicator)][1] += in_denominator
    columns = ", ".join(f"ind_{BY_CODE[c].column}_numerator, ind_{BY_CODE[c].column}_denominator"
                        for c in DOSSIER_INDICATORS)
    with psycopg.connect(admin) as conn:
        rows = conn.execute(f"SELECT agency_code, year_month, {columns} FROM marts.kpi_agency_monthly").fetchall()
    got = {(r[0], r[1], c): (r[2 + 2 * n] or 0, r[3 + 2 * n] or 0)
           for r in rows for n, c in enumerate(DOSSIER_INDICATORS)}
    wrong = []
    for key, (numerator, denominator) in counts.items():
        num, den = got.get(key, (0, 0))
        if num != numerator or (den < denominator if key[2] == "1.4" else den != denominator):
            wrong.append((key, (numerator, denominator), (num, den)))
    for key, (num, den) in got.items():  # and nothing the stores do not hold
        if key not in counts and (num or (den and key[2] != "1.4")):
            wrong.append((key, None, (num, den)))
    assert wrong == [], (len(wrong), wrong[:10])
    assert sum(den for (_, _, c), (_, den) in counts.items() if c == "2.1") > 1000


