"""The realism report: figures measured from the stores (as the APIs serve them), next to the
published figures they should match (``TARGETS``), and how much agencies differ.

Sources of the targets: the province's published volumes (about 0.5 million dossiers a year, ~72%
online, 2,156 procedures; the 2023 seeds), Nghe An's reports (online share to 08/2025), the national
766 index for provinces (full-process online share 2024), and the simulator
fidelity issue. ``tthc simulate --mix`` prints it; a test holds the figures to the targets.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tthc.calendar import TZ
from tthc.kpi766 import lifecycle, progress
from tthc.sources.sim.geography import REFORM_DATE
from tthc.sources.sim.people import ID_PROVINCES


@dataclass(frozen=True)
class Target:
    value: float
    tolerance: float  # the measured figure should sit within value +- tolerance
    source: str

    def met(self, measured: float | None) -> bool | None:
        return None if measured is None else abs(measured - self.value) <= self.tolerance


TARGETS = {
    "online_share_2025": Target(0.7235, 0.03, "online / received, Nghe An to 08/2025 (766 definition)"),
    "full_process_share_2024": Target(0.185, 0.04, "full-process online / dossiers of full-process procedures, "
                                      "provinces 2024"),
    "on_time_rate": Target(0.93, 0.025, "766 rule; the target is >= 95%, provinces stay below it"),
    "apology_on_late": Target(0.60, 0.08, "late dossiers with an apology letter (letters missing on some: a "
                              "real failing, per-agency rate)"),
    "e_result_on_resolved": Target(0.41, 0.04, "electronic results, localities (2023 seed figures)"),
    "e_result_on_rejected": Target(0.0, 0.0, "only resolved dossiers get a result"),
    "digitised": Target(0.88, 0.04, "dossiers with digitised components"),
    "province_level_share": Target(0.15, 0.06, "dossiers at provincial departments: volume sits at district "
                                   "and commune desks"),
    "abolished_agency_changes": Target(0, 0, "status changes at agencies abolished by the reform, after it"),
    "backdated_versions": Target(0, 0, "catalogue versions that rename or move a unit valid before they were "
                                 "recorded"),
    "placeholder_names": Target(0, 0, "procedure names like 'Thủ tục ... số 43'"),
    "codes_ahead_of_filing": Target(0, 0, "dossier codes dated after the dossier was filed"),
    "ids_without_province": Target(0.0, 0.0, "12-digit IDs whose first 3 digits are no province code"),
    "men_named_thi": Target(0.0, 0.0, "men with the middle name Thị"),
    "applicant_type_3_4": Target(0.025, 0.015, "state agencies and other organisations among applicants"),
    "payment_record_per_online_payment": Target(1.0, 0.0, "every online payment has a payment record"),
}


def _ts(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _payloads(db: sqlite3.Connection, entity: str):
    for (p,) in db.execute(f"SELECT payload FROM {entity} ORDER BY changed_us, seq"):
        rec = json.loads(p)
        if rec.get("PhienBan") != 0:  # the deliberately malformed versions are the loader's business
            yield rec


def _share(num: float, den: float) -> float | None:
    return num / den if den else None


def dispersion(groups: dict[str, list[int]], min_n: int = 40) -> float | None:
    """Variance of the agencies' rates over the variance sampling alone would give (binomial): about 1
    when agencies differ only by chance, well above 1 when they differ for real."""
    rates = [(sum(v) / len(v), len(v)) for v in groups.values() if len(v) >= min_n]
    if len(rates) < 5:
        return None
    total = sum(n for _, n in rates)
    mean = sum(r * n for r, n in rates) / total
    if mean in (0.0, 1.0):
        return None
    observed = sum(n * (r - mean) ** 2 for r, n in rates) / len(rates)
    return observed / (mean * (1 - mean))


def measure(data_dir: Path) -> dict:
    data_dir = Path(data_dir)
    truth = json.loads((data_dir / "truth.json").read_text())
    end = _ts(truth["period"]["end"])
    one = sqlite3.connect(data_dir / "onestop.sqlite")
    portal = sqlite3.connect(data_dir / "portal.sqlite")
    population = sqlite3.connect(data_dir / "population.sqlite")
    procs = {}
    for rec in _payloads(one, "procedures"):
        procs.setdefault(rec["MaTTHC"], rec)
    agencies: dict[str, list[dict]] = defaultdict(list)
    for rec in _payloads(one, "agencies"):
        agencies[rec["MaDonVi"]].append(rec)
    level = {code: versions[0]["CapDonVi"] for code, versions in agencies.items()}
    abolished = {code for code, versions in agencies.items() if versions[-1]["HieuLucDen"]}
    latest: dict[str, dict] = {}
    first: dict[str, dict] = {}
    letters: set[str] = set()
    for rec in _payloads(one, "dossiers"):
        first.setdefault(rec["MaHoSo"], rec)
        latest[rec["MaHoSo"]] = rec
        if rec.get("PhieuXinLoi"):
            letters.add(rec["MaHoSo"])
    changes: dict[str, list] = defaultdict(list)
    after_reform_abolished = transfers = 0
    for rec in _payloads(one, "status_changes"):
        at = _ts(rec["ThoiGian"])
        changes[rec["MaHoSo"]].append((at, rec["TrangThaiHoSo"]))
        if rec.get("GhiChu"):
            transfers += 1
        elif rec["DonViXuLy"] in abolished and at.astimezone(TZ).date() >= REFORM_DATE:
            after_reform_abolished += 1

    m: dict = {"dossiers": len(latest), "period": truth["period"]}
    received = {c for c, ch in changes.items() if any(s == 2 for _, s in ch)}
    online = {c for c in received if latest[c]["KenhThucHien"] == 2}
    m["online_share"] = _share(len(online), len(received))
    by_year: dict[int, list[int]] = defaultdict(list)
    for c in received:
        by_year[_ts(first[c]["NgayNopHoSo"]).year].append(c in online)
    m["online_share_by_year"] = {y: round(sum(v) / len(v), 4) for y, v in sorted(by_year.items())}
    m["online_share_2025"] = m["online_share_by_year"].get(2025)
    full_by_year: dict[int, list[int]] = defaultdict(list)
    for c in received:
        d = latest[c]
        if procs.get(d["MaTTHC"], {}).get("MucDoDVC") == "toan_trinh":
            full_by_year[_ts(d["NgayNopHoSo"]).year].append(d["HoSoToanTrinh"])
    m["full_process_share_by_year"] = {y: round(sum(v) / len(v), 4) for y, v in sorted(full_by_year.items())}
    m["full_process_share_2024"] = m["full_process_share_by_year"].get(2024)

    # progress by the 766 rule (2.1) with the whole period as its month: dossiers received before its end and
    # not ended before its start, each judged by its end time as of the period's end
    begins = _ts(truth["period"]["start"])
    punctual: dict[str, list[int]] = defaultdict(list)
    late_codes, counted = [], 0
    for c, ch in changes.items():
        d = latest[c]
        verdict = progress(lifecycle(ch), _ts(d["NgayHenTra"]), begins, end)
        if verdict is None or not verdict.in_denominator:
            continue
        counted += 1
        punctual[d["DonViXuLy"]].append(int(verdict.on_time))
        if not verdict.on_time:  # ended late, overdue by a second request, or open past its due time
            late_codes.append(c)
    m["on_time_rate"] = _share(sum(sum(v) for v in punctual.values()), counted)
    m["apology_on_late"] = _share(sum(c in letters for c in late_codes), len(late_codes))
    resolved = [c for c, ch in changes.items() if any(s in (9, 10) for _, s in ch)]
    rejected = [c for c, ch in changes.items() if any(s == 3 for _, s in ch)]
    e_result: dict[str, list[int]] = defaultdict(list)
    for c in resolved:
        e_result[latest[c]["DonViXuLy"]].append(latest[c]["CoKetQuaDienTu"])
    m["e_result_on_resolved"] = _share(sum(sum(v) for v in e_result.values()), len(resolved))
    m["e_result_on_rejected"] = _share(sum(latest[c]["CoKetQuaDienTu"] for c in rejected), len(rejected))
    digitised: dict[str, list[int]] = defaultdict(list)
    for c in received:
        digitised[latest[c]["DonViXuLy"]].append(latest[c]["HoSoCoThanhPhanSoHoa"])
    m["digitised"] = _share(sum(sum(v) for v in digitised.values()), len(received))
    m["agencies_differ"] = {"on_time": dispersion(punctual), "e_result": dispersion(e_result),
                            "digitised": dispersion(digitised)}
    rates = sorted(sum(v) / len(v) for v in punctual.values() if len(v) >= 40)
    m["on_time_by_agency"] = {"agencies": len(rates), "min": rates[0] if rates else None,
                              "median": rates[len(rates) // 2] if rates else None, "max": rates[-1] if rates else None}

    levels = defaultdict(lambda: defaultdict(int))
    for d in first.values():
        when = "after_reform" if _ts(d["NgayNopHoSo"]).astimezone(TZ).date() >= REFORM_DATE else "before_reform"
        levels[when][level.get(d["DonViXuLy"], "?")] += 1
    m["level_shares"] = {w: {k: round(v / sum(c.values()), 4) for k, v in sorted(c.items())}
                         for w, c in levels.items()}
    m["province_level_share"] = _share(sum(c.get("province", 0) for c in levels.values()),
                                       sum(sum(c.values()) for c in levels.values()))
    m["abolished_agency_changes"] = after_reform_abolished
    m["reform_transfers"] = transfers
    m["backdated_versions"] = _backdated(one)
    names = [p["TenTTHC"] for p in procs.values()]
    m["placeholder_names"] = sum(1 for n in names if " số " in n and n.rsplit(" ", 1)[-1].isdigit())
    m["procedures"] = len(names)
    m["distinct_procedure_names"] = len(set(names))
    m["codes_ahead_of_filing"] = sum(
        1 for c, d in first.items()
        if c.rsplit("-", 2)[1] != _ts(d["NgayNopHoSo"]).astimezone(TZ).strftime("%y%m%d"))

    citizens = [json.loads(p) for (p,) in population.execute("SELECT payload FROM citizens")]
    ids = [r["SoDinhDanh"] for r in citizens]
    m["ids_without_province"] = _share(sum(i[:3] not in ID_PROVINCES for i in ids), len(ids))
    men = [r for r in citizens if r["GioiTinh"] == 1]
    m["men_named_thi"] = _share(sum(r["HoVaTen"].split()[1] == "Thị" for r in men), len(men))
    types = defaultdict(int)
    for d in latest.values():
        types[d["LoaiDoiTuong"]] += 1
    m["applicant_types"] = {k: round(v / len(latest), 4) for k, v in sorted(types.items())}
    m["applicant_type_3_4"] = (types.get(3, 0) + types.get(4, 0)) / len(latest) if latest else None
    online_filed = [d for d in first.values() if d["KenhThucHien"] == 2]
    m["online_filed_22_to_06"] = _share(sum(not 6 <= _ts(d["NgayNopHoSo"]).astimezone(TZ).hour < 22
                                            for d in online_filed), len(online_filed))
    after_vneid = [d for d in online_filed if d["LoaiDoiTuong"] == 1 and not d["NopThayCongDan"]
                   and _ts(d["NgayNopHoSo"]).date() >= dt.date(2024, 7, 1)]
    m["online_citizens_without_vneid"] = _share(sum(not d["TaiKhoanDuocXacThucVoiVNeID"] for d in after_vneid),
                                                len(after_vneid))
    m["proxy_filed_online"] = _share(sum(d["NopThayCongDan"] for d in online_filed), len(online_filed))
    fee = [d for d in latest.values() if d["LePhi"] > 0]
    settled = end - dt.timedelta(days=1)  # a payment made in the last hours may not have reached the portal yet
    paid = [d for d in fee if d["DuocThanhToanTrucTuyen"] and _ts(d["NgayNopHoSo"]) < settled]
    m["paid_online_of_fee_bearing"] = _share(len(paid), len(fee))
    payments = {json.loads(p)["MaHoSo"] for (p,) in portal.execute("SELECT payload FROM payments")}
    m["payment_record_per_online_payment"] = _share(sum(d["MaHoSo"] in payments for d in paid), len(paid))
    ratings = [json.loads(p)["MucDoHaiLong"] for (p,) in portal.execute("SELECT payload FROM ratings")]
    m["ratings_negative"] = _share(sum(r == 4 for r in ratings), len(ratings))
    petitions: dict[str, dict] = {}
    for (p,) in portal.execute("SELECT payload FROM petitions ORDER BY changed_us, seq"):
        rec = json.loads(p)
        petitions[rec["MaPAKN"]] = rec
    answered = [r for r in petitions.values() if r["NgayTraLoi"]]
    m["petitions"] = len(petitions)
    m["petitions_answered_on_time"] = _share(sum(r["NgayTraLoi"] <= r["HanXuLy"] for r in answered), len(answered))
    for db in (one, portal, population):
        db.close()
    return m


def _backdated(db: sqlite3.Connection) -> int:
    """Versions that rename a unit or an agency (or move it under another parent) but state a validity
    starting before the day they were recorded: SCD2 built on them would overlap the previous version."""
    count = 0
    for entity, key, name, parent in (("admin_units", "MaDonViHanhChinh", "TenDonViHanhChinh", "MaDonViCha"),
                                      ("agencies", "MaDonVi", "TenDonVi", "MaDonViHanhChinh")):
        previous: dict[str, dict] = {}
        for rec in _payloads(db, entity):
            before = previous.get(rec[key])
            if before and (rec[name], rec[parent]) != (before[name], before[parent]) \
                    and rec["HieuLucTu"] < rec["NgayCapNhat"][:10]:
                count += 1
            previous[rec[key]] = rec
    return count


def render(m: dict) -> str:
    lines = [f"mix of {m['dossiers']} dossiers, {m['period']['start'][:10]} .. {m['period']['end'][:10]}",
             f"{'figure':36} {'measured':>10} {'target':>10}  ok   source"]
    for name, target in TARGETS.items():
        value = m.get(name)
        ok = target.met(value)
        shown = "-" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        lines.append(f"{name:36} {shown:>10} {target.value:>10}  {'-' if ok is None else 'yes' if ok else 'NO':4} "
                     f"{target.source}")
    lines.append("agencies differ (variance / binomial variance; ~1 = chance only): "
                 + ", ".join(f"{k} {v:.1f}" if v is not None else f"{k} -" for k, v in m["agencies_differ"].items()))
    o = m["on_time_by_agency"]
    if o["agencies"]:
        lines.append(f"on time by agency ({o['agencies']} with >= 40 dossiers): min {o['min']:.3f}, median "
                     f"{o['median']:.3f}, max {o['max']:.3f}")
    for key in ("online_share_by_year", "full_process_share_by_year", "level_shares", "applicant_types"):
        lines.append(f"{key}: {m[key]}")
    for key in ("reform_transfers", "online_filed_22_to_06", "online_citizens_without_vneid", "proxy_filed_online",
                "paid_online_of_fee_bearing", "ratings_negative", "petitions", "petitions_answered_on_time",
                "distinct_procedure_names"):
        value = m[key]
        lines.append(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return "\n".join(lines)

