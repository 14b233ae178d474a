"""Deterministic simulator of one province's administrative-procedure systems.

``simulate(seed, start, days, ...)`` writes three stores (one-stop, population, portal; see
``store.py``) and ``truth.json``: every injected synchronisation gap (G1-G6) with the interval during
which it is open, and every bad record, so that a check run at any simulated moment can be scored.

Everything derives from ``seed``: one ``random.Random`` for the catalogue and one per simulated day,
so the output is byte-identical for a seed. Days are generated one at a time and flushed to the
stores, so memory does not grow with the number of days. A dossier's whole lifecycle is drawn when it
is filed; events that fall after the end of the simulated period are not written (the stores hold
the systems as they stand at the period's end).

Field names follow the national data conventions (DVCQG / Circular 01/2018), in Vietnamese.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from tthc.calendar import TZ, add_office_minutes, add_working_days, is_working_day, next_office_time
from tthc.sources.store import StoreWriter

REFORM_DATE = dt.date(2025, 7, 1)
CATALOGUE_TIME = dt.datetime(2020, 1, 1, tzinfo=TZ)  # when the catalogue records were first recorded
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

BAD_KINDS = (
    "malformed_id", "impossible_date", "unknown_procedure", "missing_required_field", "negative_fee",
    "duplicate_dossier_code", "wrong_type", "unexpected_field", "invalid_status", "due_before_receipt",
    "unsafe_text", "oversized_field",
)


@dataclass(frozen=True)
class FaultProfile:
    """Rates of injected gaps and bad records (per dossier unless said otherwise)."""

    name: str
    never_synced: float = 0.0  # G1: none of the dossier's status changes reaches the portal
    dropped_push: float = 0.0  # G2: one status change (not the first) never reaches the portal
    late_push: float = 0.0  # G3: per status change, pushed 61 min - 20 h late
    orphan_application: float = 0.0  # G4: per portal application, never received by the one-stop
    field_mismatch: float = 0.0  # G5: the portal's copy differs in one field
    identity_problem: float = 0.0  # G6: applicant unknown to, or mismatching, the population DB
    bad_record: float = 0.0  # an extra malformed record in a feed; kinds cycle through BAD_KINDS

    @property
    def any(self) -> bool:
        return any(getattr(self, f) for f in ("never_synced", "dropped_push", "late_push", "orphan_application",
                                              "field_mismatch", "identity_problem", "bad_record"))


PROFILES = {
    "none": FaultProfile("none"),
    "default": FaultProfile("default", 0.003, 0.003, 0.004, 0.004, 0.003, 0.003, 0.004),
    "heavy": FaultProfile("heavy", 0.02, 0.02, 0.03, 0.03, 0.02, 0.02, 0.02),
    "every-kind": FaultProfile("every-kind", 0.01, 0.01, 0.02, 0.02, 0.01, 0.01, 0.05),
}

ONLINE_SHARE = {2023: 0.50, 2024: 0.62, 2025: 0.72, 2026: 0.78, 2027: 0.82}

SURNAMES = ["Nguyễn"] * 8 + ["Trần"] * 3 + ["Lê"] * 3 + ["Phạm", "Hoàng", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
                                                      "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Thái", "Cao"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quốc", "Xuân", "Thu", "Đình", "Công"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương", "Lan", "Linh",
         "Long", "Mai", "Minh", "Nam", "Nga", "Phong", "Phương", "Quang", "Sơn", "Tâm", "Thảo", "Trang",
         "Tuấn", "Vân", "Yến", "Khánh", "Lộc", "Nhung", "Tùng"]
PLACE = ["Hưng", "Nghi", "Diễn", "Quỳnh", "Yên", "Đô", "Thanh", "Anh", "Nam", "Hòa", "Tân", "Phúc", "Lộc",
         "Sơn", "Châu", "Long", "Minh", "Thịnh", "Xuân", "Kim", "Liên", "Trung", "Đông", "Tây", "Bắc"]
FIELDS = ["Hộ tịch", "Chứng thực", "Đất đai", "Xây dựng", "Thành lập và hoạt động doanh nghiệp",
          "Đăng ký kinh doanh hộ", "Lao động", "Bảo trợ xã hội", "Người có công", "Giáo dục", "Y tế",
          "Giao thông vận tải", "Tài nguyên nước", "Môi trường", "Nông nghiệp", "Lâm nghiệp", "Thủy sản",
          "Văn hóa", "Du lịch", "Tư pháp", "Nội vụ", "Tài chính", "Công thương", "Khoa học và công nghệ",
          "Thông tin và truyền thông", "Thuế", "Đầu tư", "Tôn giáo"]
DEPARTMENTS = ["Sở Tư pháp", "Sở Tài chính", "Sở Xây dựng", "Sở Nông nghiệp và Môi trường", "Sở Y tế",
               "Sở Giáo dục và Đào tạo", "Sở Công Thương", "Sở Nội vụ", "Sở Văn hóa, Thể thao và Du lịch",
               "Sở Khoa học và Công nghệ", "Sở Dân tộc và Tôn giáo", "Ban Quản lý Khu kinh tế",
               "Văn phòng UBND tỉnh", "Công an tỉnh", "Sở Ngoại vụ", "Thanh tra tỉnh"]
APOLOGY_REASONS = ["Hồ sơ cần xác minh thêm", "Cán bộ thụ lý nghỉ ốm", "Chờ ý kiến cơ quan phối hợp",
                   "Hệ thống gián đoạn", "Khối lượng hồ sơ tăng đột biến"]
PROVINCE_NAMES = {"40": "Nghệ An"}


def to_us(moment: dt.datetime) -> int:
    """Whole seconds (the precision the payloads carry), as UTC microseconds."""
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(TZ).isoformat(timespec="seconds")


def dumps(obj: dict) -> str:
    return orjson.dumps(obj).decode()


# --------------------------------------------------------------------------------------------------
# Personal ID numbers (Identity Law 2023 / Circular 59/2021): PPP G YY NNNNNN
# --------------------------------------------------------------------------------------------------
def make_personal_id(rng: random.Random, birth_province: str, birth: dt.date, female: bool) -> str:
    century = 0 if birth.year < 2000 else 2
    return f"{birth_province}{century + int(female)}{birth.year % 100:02d}{rng.randrange(1_000_000):06d}"



# --------------------------------------------------------------------------------------------------
# Catalogue: administrative units (before/after the 2025 reform), agencies, procedures
# --------------------------------------------------------------------------------------------------
@dataclass
class Catalogue:
    province: str
    districts: list[dict] = field(default_factory=list)
    communes_old: list[dict] = field(default_factory=list)
    communes_new: list[dict] = field(default_factory=list)
    old_to_new: dict[str, str] = field(default_factory=dict)
    departments: list[dict] = field(default_factory=list)
    district_desks: list[dict] = field(default_factory=list)
    commune_desks_old: list[dict] = field(default_factory=list)
    commune_desks_new: list[dict] = field(default_factory=list)
    procedures: list[dict] = field(default_factory=list)
    proc_weights: list[float] = field(default_factory=list)

    def desks(self, level: str, day: dt.date) -> list[dict]:
        after = day >= REFORM_DATE
        if level == "province":
            return self.departments
        if level == "district" and not after:
            return self.district_desks
        return self.commune_desks_new if after else self.commune_desks_old


def _place_name(rng: random.Random) -> str:
    return f"{rng.choice(PLACE)} {rng.choice(PLACE)}"


def build_catalogue(rng: random.Random, province: str, n_procedures: int = 2156) -> Catalogue:
    cat = Catalogue(province)
    p = int(province)
    n_districts, n_old_communes = 21, 412
    n_new_communes = round(n_old_communes * 130 / 412)
    for i in range(n_districts):
        name = ("Thành phố " if i == 0 else "Thị xã " if i in (1, 2, 3) else "Huyện ") + _place_name(rng)
        cat.districts.append({"code": f"{(p * 10 + 12 + i) % 1000:03d}", "name": name})
    per_district = [n_old_communes // n_districts + (1 if i < n_old_communes % n_districts else 0)
                    for i in range(n_districts)]
    j = 0
    for d, count in zip(cat.districts, per_district, strict=True):
        for _ in range(count):
            prefix = "Phường " if d["name"].startswith(("Thành", "Thị")) and rng.random() < 0.5 else "Xã "
            cat.communes_old.append({"code": f"{(p * 400 + j) % 100000:05d}", "name": prefix + _place_name(rng),
                                     "district": d["code"]})
            j += 1
    # 2025 reform: districts abolished; communes merged in groups; a merged unit keeps its seat's code.
    groups: list[list[dict]] = [[] for _ in range(n_new_communes)]
    for k, commune in enumerate(cat.communes_old):
        groups[min(k * n_new_communes // n_old_communes, n_new_communes - 1)].append(commune)
    for group in groups:
        seat = rng.choice(group)
        prefix = "Phường " if seat["name"].startswith("Phường") else "Xã "
        new = {"code": seat["code"], "name": prefix + _place_name(rng), "members": [c["code"] for c in group]}
        cat.communes_new.append(new)
        for c in group:
            cat.old_to_new[c["code"]] = seat["code"]
    h = f"H{province}"
    for n, name in enumerate(DEPARTMENTS, start=1):
        cat.departments.append({"code": f"000.00.{n:02d}.{h}", "name": name, "level": "province",
                                "unit": province})
    for n, d in enumerate(cat.districts, start=21):
        cat.district_desks.append({"code": f"000.00.{n:02d}.{h}", "name": f"UBND {d['name']}", "level": "district",
                                   "unit": d["code"]})
    district_index = {d["code"]: n for n, d in enumerate(cat.districts, start=21)}
    for k, c in enumerate(cat.communes_old):
        cat.commune_desks_old.append({"code": f"{k % 1000:03d}.{district_index[c['district']]:02d}.00.{h}",
                                      "name": f"UBND {c['name']}", "level": "commune", "unit": c["code"]})
    by_unit = {a["unit"]: a for a in cat.commune_desks_old}
    for new in cat.communes_new:  # the seat's desk goes on, renamed, under the merged commune
        cat.commune_desks_new.append({**by_unit[new["code"]], "name": f"UBND {new['name']}"})

    codes = rng.sample(range(100, 14000), n_procedures)
    online_types = ["full"] * 1051 + ["partial"] * 788 + ["none"] * 317
    online_types = [online_types[int(i * len(online_types) / n_procedures)] for i in range(n_procedures)]
    rng.shuffle(online_types)
    for n in range(n_procedures):
        level = rng.choices(["province", "district", "commune"], [0.6, 0.2, 0.2])[0]
        has_fee = rng.random() < 0.4
        field_name = rng.choice(FIELDS)
        cat.procedures.append({
            "code": f"1.{codes[n]:06d}", "name": f"Thủ tục {field_name.lower()} số {n + 1}",
            "field": field_name, "level": level,
            "days": rng.choice([1, 2, 3, 3, 5, 5, 7, 10, 10, 15, 20, 30]),
            "fee": rng.choice([20_000, 50_000, 100_000, 200_000, 500_000]) if has_fee else 0,
            "online": online_types[n], "project06": rng.random() < 0.1,
        })
    cat.proc_weights = [1 / (rank + 1) ** 1.1 for rank in range(n_procedures)]
    return cat


def write_catalogue(cat: Catalogue, w: StoreWriter) -> None:
    province_name = PROVINCE_NAMES.get(cat.province, f"Tỉnh {cat.province}")
    t0, reform = CATALOGUE_TIME, dt.datetime.combine(REFORM_DATE, dt.time(0), TZ)

    def unit(code, name, level, parent, valid_from, valid_to, recorded, extra=None):
        rec = {"MaDonViHanhChinh": code, "TenDonViHanhChinh": name, "CapDonVi": level, "MaDonViCha": parent,
               "HieuLucTu": valid_from.date().isoformat(), "HieuLucDen": valid_to and valid_to.date().isoformat(),
               "NgayCapNhat": iso(recorded), **(extra or {})}
        w.add("admin_units", code, to_us(recorded), dumps(rec))

    unit(cat.province, province_name, "tinh", None, t0, None, t0)
    for d in cat.districts:
        unit(d["code"], d["name"], "huyen", cat.province, t0, None, t0)
        unit(d["code"], d["name"], "huyen", cat.province, t0, reform, reform)
    new_codes = {c["code"] for c in cat.communes_new}
    for c in cat.communes_old:
        unit(c["code"], c["name"], "xa", c["district"], t0, None, t0)
        unit(c["code"], c["name"], "xa", c["district"], t0, reform, reform,
             {"MaDonViMoi": cat.old_to_new[c["code"]]})
    for c in cat.communes_new:
        assert c["code"] in new_codes
        unit(c["code"], c["name"], "xa", cat.province, reform, None, reform + dt.timedelta(seconds=1),
             {"MaDonViSapNhap": c["members"]})

    def agency(a, valid_from, valid_to, recorded):
        rec = {"MaDonVi": a["code"], "TenDonVi": a["name"], "CapDonVi": a["level"], "MaDonViHanhChinh": a["unit"],
               "MaTinh": cat.province, "HieuLucTu": valid_from.date().isoformat(),
               "HieuLucDen": valid_to and valid_to.date().isoformat(), "NgayCapNhat": iso(recorded)}
        w.add("agencies", a["code"], to_us(recorded), dumps(rec))

    for a in cat.departments:
        agency(a, t0, None, t0)
    for a in cat.district_desks:
        agency(a, t0, None, t0)
        agency(a, t0, reform, reform)
    continuing = {a["code"]: a for a in cat.commune_desks_new}
    for a in cat.commune_desks_old:
        agency(a, t0, None, t0)
        if a["code"] in continuing:
            agency(continuing[a["code"]], t0, None, reform + dt.timedelta(seconds=1))
        else:
            agency(a, t0, reform, reform)
    online_names = {"full": "toan_trinh", "partial": "mot_phan", "none": "khong"}
    for proc in cat.procedures:
        def version(level, recorded, p=proc):
            rec = {"MaTTHC": p["code"], "TenTTHC": p["name"], "LinhVuc": p["field"], "CapThucHien": level,
                   "ThoiHanGiaiQuyet": p["days"], "LePhi": p["fee"], "MucDoDVC": online_names[p["online"]],
                   "DeAn06": p["project06"], "NgayCapNhat": iso(recorded)}
            w.add("procedures", p["code"], to_us(recorded), dumps(rec))
        version(proc["level"], t0)
        if proc["level"] == "district":  # district-level procedures pass to the communes
            version("commune", reform)


# --------------------------------------------------------------------------------------------------
# Dossiers
# --------------------------------------------------------------------------------------------------
@dataclass
class Event:
    status: int
    at: dt.datetime  # business time
    recorded: dt.datetime = None  # type: ignore[assignment]


class Simulator:
    def __init__(self, seed: int, start: dt.date, days: int, dossiers_per_year: int, faults: FaultProfile,
                 province: str, out: Path, sync_sla: dt.timedelta = dt.timedelta(minutes=60),
                 missing_after: dt.timedelta = dt.timedelta(hours=24)):
        self.seed, self.start, self.days, self.k = seed, start, days, dossiers_per_year
        self.faults, self.province, self.out = faults, province, Path(out)
        self.sla, self.missing_after = sync_sla, missing_after
        self.period_start = dt.datetime.combine(start, dt.time(0), TZ)
        self.period_end = self.period_start + dt.timedelta(days=days)
        self.cat = build_catalogue(random.Random(f"{seed}:catalogue:{province}"), province)
        self.gaps: list[dict] = []
        self.bad: list[dict] = []
        self.bad_counter = 0
        self.counters = {"dossiers": 0, "status_changes": 0, "sync_records": 0, "applications": 0}
        self.recent_citizens: list[dict] = []
        self.daily_seq: dict[tuple[str, dt.date], int] = {}

    # --- people ------------------------------------------------------------------------------------
    def _citizen(self, rng: random.Random, day: dt.date) -> tuple[dict, bool]:
        """An applicant: a returning one (15%) or a new one; and whether it is new."""
        if self.recent_citizens and rng.random() < 0.15:
            return rng.choice(self.recent_citizens), False
        female = rng.random() < 0.5
        birth = dt.date(rng.randint(1945, 2007), rng.randint(1, 12), rng.randint(1, 28))
        birth_province = f"0{self.province}" if rng.random() < 0.85 else f"{rng.randint(1, 96):03d}"
        pid = make_personal_id(rng, birth_province, birth, female)
        name = f"{rng.choice(SURNAMES)} {'Thị' if female and rng.random() < 0.6 else rng.choice(MIDDLE)} " \
               f"{rng.choice(GIVEN)}"
        citizen = {"pid": pid, "name": name, "birth": birth.isoformat(), "female": female,
                   "phone": f"09{rng.randrange(10**8):08d}",
                   "legacy": f"{rng.randrange(10**8, 10**9)}" if day.year < 2025 and rng.random() < 0.05 else None}
        self.recent_citizens.append(citizen)
        if len(self.recent_citizens) > 500:
            self.recent_citizens.pop(0)
        return citizen, True

    def _write_citizen(self, w: StoreWriter, c: dict, tamper: str | None) -> None:
        if tamper == "unknown":
            return
        rec = {"SoDinhDanh": c["pid"], "HoVaTen": c["name"], "NgaySinh": c["birth"],
               "GioiTinh": 2 if c["female"] else 1, "SoCMND": c["legacy"], "NoiDangKyKhaiSinh": c["pid"][:3]}
        if tamper == "mismatch":  # the registry knows this number under another name
            rec["HoVaTen"] = c["name"].rsplit(" ", 1)[0] + " " + ("Xuân" if not c["name"].endswith("Xuân") else "Thu")
        w.add_citizen(c["pid"], c["legacy"], dumps(rec))

    # --- lifecycle ----------------------------------------------------------------------------------
    def _lifecycle(self, rng: random.Random, received: dt.datetime, due: dt.datetime, proc: dict,
                   ) -> tuple[list[Event], dict]:
        ev: list[Event] = []
        info: dict = {"apology": None, "financial": False}
        if rng.random() < 0.03:
            ev.append(Event(3, received))
            return ev, info
        ev.append(Event(2, received))
        t = add_office_minutes(received, rng.uniform(5, 120))
        ev.append(Event(4, t))
        window = (due - received).total_seconds() / 60
        late = rng.random() < 0.06
        if rng.random() < 0.01:  # withdrawal requested by the citizen, then stopped
            t = add_office_minutes(t, rng.uniform(60, 600))
            ev.append(Event(7, t))
            ev.append(Event(8, add_office_minutes(t, rng.uniform(30, 480))))
            return ev, info
        supplements = 2 if rng.random() < 0.01 else 1 if rng.random() < 0.07 else 0
        for _ in range(supplements):
            t = add_office_minutes(t, rng.uniform(60, 900))
            ev.append(Event(5, t))
            t = add_working_days(t, rng.randint(1, 5))
            ev.append(Event(4, next_office_time(t)))
        if proc["fee"] and rng.random() < 0.15:
            t = add_office_minutes(t, rng.uniform(30, 600))
            ev.append(Event(6, t))
            info["financial"] = True
            t = add_office_minutes(t, rng.uniform(60, 1500))
            ev.append(Event(4, t))
        if late:
            finish = add_working_days(due, rng.randint(1, 5))
            info["apology"] = {"at": max(t, due - dt.timedelta(hours=rng.randint(2, 30))),
                               "reason": rng.choice(APOLOGY_REASONS), "new_due": finish} \
                if rng.random() < 0.9 else None
            if info["apology"]:
                info["apology"]["at"] = next_office_time(info["apology"]["at"])
        else:
            finish = add_office_minutes(received, window * rng.uniform(0.15, 0.6) * 8.5 / 24)
        finish = next_office_time(max(finish, add_office_minutes(t, 30)))
        ev.append(Event(9, finish))
        ev.append(Event(10, add_office_minutes(finish, rng.uniform(10, 900))))
        return ev, info

    def _bad_record(self, rng: random.Random, w: StoreWriter, payload: dict, recorded: dt.datetime,
                    dossier_ids: tuple[str, int]) -> None:
        kind = BAD_KINDS[self.bad_counter % len(BAD_KINDS)]
        self.bad_counter += 1
        bad = dict(payload)
        code, hoso_id = dossier_ids
        key = code
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
        text = orjson.dumps(bad).decode() if kind != "unsafe_text" else _json_with_surrogates(bad)
        recorded = recorded + dt.timedelta(seconds=1)
        w.add("dossiers", key, to_us(recorded), text)
        self.bad.append({"source": "onestop", "entity": "dossiers", "kind": kind, "dossier_code": code,
                         "key": key, "recorded_at": iso(recorded)})

    def _dossier(self, rng: random.Random, day: dt.date, seq: int, onestop: StoreWriter, pop: StoreWriter,
                 portal: StoreWriter, online_share: float) -> None:
        f = self.faults
        cat = self.cat
        proc = rng.choices(cat.procedures, cat.proc_weights)[0]
        online_ok = proc["online"] != "none"
        online = online_ok and rng.random() < min(0.98, online_share / 0.85)
        desk = rng.choice(cat.desks(proc["level"], day))
        if online:
            hour = rng.choices(range(24), [1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 6, 7, 9, 10, 9, 8, 7, 6, 5, 4, 3, 2])[0]
            filed = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), TZ)
            received = next_office_time(add_office_minutes(filed, rng.uniform(10, 300)))
            channel = 2
        else:
            if not is_working_day(day):
                return
            filed = next_office_time(dt.datetime.combine(day, dt.time(7, 30), TZ)
                                     + dt.timedelta(minutes=rng.uniform(0, 570)))
            if filed.date() != day:
                return
            received = filed
            channel = 3 if rng.random() < 0.03 else 1
        if filed >= self.period_end:
            return
        due = add_working_days(received, proc["days"])
        daily = (desk["code"], received.date())  # the daily sequence runs per agency and receipt date
        self.daily_seq[daily] = self.daily_seq.get(daily, 0) + 1
        code = f"{desk['code']}-{received.strftime('%y%m%d')}-{self.daily_seq[daily]:04d}"
        hoso_id = int(day.strftime("%Y%m%d")) * 10_000 + seq
        enterprise = rng.random() < 0.12
        tamper = None
        if enterprise:
            applicant = {"pid": f"{rng.choice([27, 29, 30])}{rng.randrange(10**8):08d}", "name":
                         f"Công ty TNHH {rng.choice(PLACE)} {rng.choice(PLACE)}", "phone": f"02{rng.randrange(10**8):08d}"}
        else:
            applicant, fresh = self._citizen(rng, day)
            if rng.random() < f.identity_problem and fresh:
                tamper = rng.choice(["unknown", "mismatch"])
                self.recent_citizens.remove(applicant)  # never reused: its gap belongs to this dossier only
            self._write_citizen(pop, applicant, tamper)
        applicant_id = applicant["pid"] if enterprise or not applicant.get("legacy") else applicant["legacy"]
        events, info = self._lifecycle(rng, received, due, proc)
        if online:
            events.insert(0, Event(1, filed))
        # recorded times: usually at once; sometimes entered hours late; never out of order
        last = filed
        for e in events:
            lag = dt.timedelta(hours=rng.uniform(1, 30)) if rng.random() < 0.02 and e.status != 1 \
                else dt.timedelta(seconds=rng.randint(0, 90))
            e.recorded = max(e.at + lag, last)
            last = e.recorded
        events = [e for e in events if e.recorded < self.period_end]
        if not events:
            return
        self.counters["dossiers"] += 1
        by_civil_servant = online and not enterprise and rng.random() < 0.1
        vneid = online and not by_civil_servant and (day >= dt.date(2024, 7, 1) or rng.random() < 0.4) \
            and (not enterprise or day >= dt.date(2025, 7, 1))
        paid = 0
        if proc["fee"] and online and rng.random() < 0.6:
            paid = 1 if rng.random() < 0.4 else 2
        base = {
            "HoSoID": hoso_id, "MaHoSo": code, "MaTTHC": proc["code"], "TenTTHC": proc["name"],
            "MaLinhVuc": proc["field"], "DonViXuLy": desk["code"], "MaDonViHanhChinh": desk["unit"],
            "KenhThucHien": channel, "LoaiDoiTuong": 2 if enterprise else 1, "ChuHoSo": applicant["name"],
            "SoGiayToChuHoSo": applicant_id, "SoDienThoaiChuHoSo": applicant["phone"],
            "NgayNopHoSo": iso(filed), "NgayTiepNhan": iso(received) if events[-1].status != 1 or len(events) > 1
            else None, "NgayHenTra": iso(due), "LePhi": proc["fee"], "DuocThanhToanTrucTuyen": paid,
            "HoSoCoThanhPhanSoHoa": int(rng.random() < (0.8 if online else 0.55)),
            "CoKetQuaDienTu": int(rng.random() < (0.65 if online else 0.35)),
            "DuocTaiSuDungDuLieu": int(rng.random() < 0.3), "DuocLayTuKhoDMQG": int(rng.random() < 0.2),
            "TaiKhoanDuocXacThucVoiVNeID": int(vneid), "MaCSDL": "CSDLQGDC" if not enterprise and
            rng.random() < 0.5 else None, "NopThayCongDan": int(by_civil_servant),
        }
        # one-stop: status changes and a dossier version per change (plus one for the apology letter)
        versions: list[tuple[dt.datetime, dict]] = []
        finish_at = None
        for n, e in enumerate(events):
            qt = f"{hoso_id}-{n + 1:02d}"
            onestop.add("status_changes", qt, to_us(e.recorded), dumps({
                "MaQuaTrinh": qt, "HoSoID": hoso_id, "MaHoSo": code, "TrangThaiHoSo": e.status,
                "ThoiGian": iso(e.at), "DonViXuLy": desk["code"], "NgayCapNhat": iso(e.recorded)}))
            self.counters["status_changes"] += 1
            if e.status in (3, 8, 9, 10) and finish_at is None:
                finish_at = e.at
            versions.append((e.recorded, {"TrangThaiHoSo": e.status, "NgayKetThucXuLy": iso(finish_at)}))
        apology = info["apology"]
        if apology and apology["at"] < self.period_end and apology["at"] > events[0].recorded:
            state = next(v for t, v in reversed(versions) if t <= apology["at"])
            versions.append((apology["at"], {**state, "PhieuXinLoi": {
                "LyDo": apology["reason"], "NgayHenTraMoi": iso(apology["new_due"]), "NgayXinLoi": iso(apology["at"])}}))
            versions.sort(key=lambda v: v[0])
        letter = None
        last_payload = None
        for n, (recorded, changes) in enumerate(versions):
            letter = changes.get("PhieuXinLoi", letter)
            payload = {**base, **changes, "PhieuXinLoi": letter, "PhienBan": n + 1, "NgayCapNhat": iso(recorded)}
            if payload["TrangThaiHoSo"] == 1:
                payload["NgayTiepNhan"] = None
            onestop.add("dossiers", code, to_us(recorded), dumps(payload))
            last_payload = (payload, recorded)
        if f.bad_record and rng.random() < f.bad_record:
            self._bad_record(rng, onestop, last_payload[0], last_payload[1], (code, hoso_id))
        if tamper:
            self._gap("G6", code, events[0].recorded, None, {"problem": tamper})

        # portal: online application, sync pushes, payment, rating
        if online and rng.random() < 0.35:
            app_id = f"DVC-{hoso_id}"
            portal.add("online_applications", app_id, to_us(filed), dumps({
                "MaHoSoDVC": app_id, "MaHoSo": None, "MaTTHC": proc["code"], "NgayNop": iso(filed),
                "ChuHoSo": applicant["name"], "SoGiayToChuHoSo": applicant_id, "DonViTiepNhan": desk["code"],
                "NgayCapNhat": iso(filed)}))
            received_ev = next((e for e in events if e.status in (2, 3)), None)
            if received_ev:
                portal.add("online_applications", app_id, to_us(received_ev.recorded), dumps({
                    "MaHoSoDVC": app_id, "MaHoSo": code, "MaTTHC": proc["code"], "NgayNop": iso(filed),
                    "ChuHoSo": applicant["name"], "SoGiayToChuHoSo": applicant_id, "DonViTiepNhan": desk["code"],
                    "NgayCapNhat": iso(received_ev.recorded)}))
            self.counters["applications"] += 1
        if online and rng.random() < f.orphan_application:
            app_id = f"DVC-{hoso_id}-X"
            orphan_filed = filed + dt.timedelta(minutes=rng.randint(1, 600))
            if orphan_filed < self.period_end:
                portal.add("online_applications", app_id, to_us(orphan_filed), dumps({
                    "MaHoSoDVC": app_id, "MaHoSo": None, "MaTTHC": proc["code"], "NgayNop": iso(orphan_filed),
                    "ChuHoSo": applicant["name"], "SoGiayToChuHoSo": applicant_id, "DonViTiepNhan": desk["code"],
                    "NgayCapNhat": iso(orphan_filed)}))
                self._gap("G4", None, orphan_filed + self.missing_after, None, {"application_id": app_id})
        self._sync(rng, events, base, hoso_id, code, portal)
        if paid == 1:
            pay_at = filed + dt.timedelta(minutes=rng.randint(1, 30))
            if pay_at < self.period_end:
                portal.add("payments", f"GD-{hoso_id}", to_us(pay_at), dumps({
                    "MaGiaoDich": f"GD-{hoso_id}", "MaHoSo": code, "SoTien": proc["fee"], "KenhThanhToan": 1,
                    "NgayThanhToan": iso(pay_at), "NgayCapNhat": iso(pay_at)}))
        done = next((e for e in events if e.status == 10), None)
        if done and rng.random() < 0.3:
            rated = done.at + dt.timedelta(hours=rng.uniform(0.5, 48))
            if rated < self.period_end:
                late = info["apology"] is not None
                level = rng.choices([1, 2, 3, 4], [0.3, 0.3, 0.25, 0.15] if late else [0.7, 0.22, 0.06, 0.02])[0]
                portal.add("ratings", f"DG-{hoso_id}", to_us(rated), dumps({
                    "MaDanhGia": f"DG-{hoso_id}", "MaHoSo": code, "MucDoHaiLong": level, "NgayDanhGia": iso(rated),
                    "NgayCapNhat": iso(rated)}))

    def _sync(self, rng: random.Random, events: list[Event], base: dict, hoso_id: int, code: str,
              portal: StoreWriter) -> None:
        f = self.faults
        pushable = [(n, e) for n, e in enumerate(events) if e.status != 1]
        if not pushable:
            return
        never = rng.random() < f.never_synced
        mismatch = None
        if rng.random() < f.field_mismatch:
            mismatch = rng.choice(["MaTTHC", "NgayHenTra", "KenhThucHien", "SoGiayToChuHoSo"])
        pushes = []  # (event, synced_at)
        last_sync = None
        for i, (n, e) in enumerate(pushable):
            if never or (i > 0 and rng.random() < f.dropped_push):
                continue
            if rng.random() < f.late_push:
                delay = dt.timedelta(minutes=rng.uniform(61, 20 * 60))
            else:
                delay = dt.timedelta(minutes=min(45.0, 0.5 + rng.expovariate(1 / 6)))
            synced = e.recorded + delay
            if last_sync is not None and synced <= last_sync:  # the province's queue keeps order
                synced = last_sync + dt.timedelta(seconds=1)
            last_sync = synced
            if synced >= self.period_end:
                break
            applied = synced + (dt.timedelta(minutes=rng.uniform(1, 180)) if rng.random() < 0.01
                                else dt.timedelta(seconds=rng.randint(0, 5)))
            rec = {"MaDongBo": f"DB-{hoso_id}-{n + 1:02d}", "MaQuaTrinh": f"{hoso_id}-{n + 1:02d}", "MaHoSo": code,
                   "TrangThaiHoSo": e.status, "ThoiGianThayDoi": iso(e.at), "NgayDongBo": iso(synced),
                   "MaTTHC": base["MaTTHC"], "NgayHenTra": base["NgayHenTra"], "KenhThucHien": base["KenhThucHien"],
                   "SoGiayToChuHoSo": base["SoGiayToChuHoSo"], "DonViXuLy": base["DonViXuLy"],
                   "NgayCapNhat": iso(applied)}
            if mismatch:
                rec[mismatch] = _mismatched(mismatch, rec[mismatch])
            portal.add("sync_records", rec["MaDongBo"], to_us(applied), dumps(rec))
            self.counters["sync_records"] += 1
            pushes.append((e, synced))
        if mismatch and pushes:
            self._gap("G5", code, pushes[0][1], None, {"field": mismatch})
        self._sync_truth(code, events, pushes)

    def _sync_truth(self, code: str, events: list[Event], pushes: list[tuple[Event, dt.datetime]]) -> None:
        """G1-G3 intervals from the two timelines (reference definitions, see truth.json)."""
        sla, end = self.sla, self.period_end
        received = next((e for e in events if e.status == 2), None)
        final_status = events[-1].status
        first_sync = pushes[0][1] if pushes else None
        if received and final_status not in (1, 3):
            opens = received.recorded + self.missing_after
            if first_sync is None or first_sync > opens:
                self._gap("G1", code, opens, first_sync, {})
        for e, synced in pushes:
            if synced - e.recorded > sla:
                self._gap("G3", code, e.recorded + sla, synced, {"status": e.status})
        if not pushes:
            return
        # G2: from the first sync on, the portal's status (latest push) differs from the one-stop's
        # current status (latest recorded change) for longer than the SLA.
        timeline = sorted([(e.recorded, 0, e.status) for e in events if e.status != 1]
                          + [(s, 1, e.status) for e, s in pushes])
        onestop = portal = None
        differ_since = None
        for moment, side, status in timeline:
            if side == 0:
                onestop = status
            else:
                portal = status
            differs = portal is not None and onestop != portal
            if differs and differ_since is None:
                differ_since = moment
            elif not differs and differ_since is not None:
                if moment - differ_since > sla:
                    self._gap("G2", code, differ_since + sla, moment, {})
                differ_since = None
        if differ_since is not None and end - differ_since > sla:
            self._gap("G2", code, differ_since + sla, None, {})

    def _gap(self, code: str, dossier: str | None, opened: dt.datetime, closed: dt.datetime | None,
             detail: dict) -> None:
        if opened >= self.period_end:
            return
        if closed is not None and closed >= self.period_end:
            closed = None
        self.gaps.append({"code": code, "dossier_code": dossier, "opened_at": iso(opened),
                          "closed_at": iso(closed), **({"detail": detail} if detail else {})})

    # --- driver -------------------------------------------------------------------------------------
    def run(self, progress=None) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        onestop = StoreWriter(self.out, "onestop")
        pop = StoreWriter(self.out, "population")
        portal = StoreWriter(self.out, "portal")
        write_catalogue(self.cat, onestop)
        for offset in range(self.days):
            day = self.start + dt.timedelta(days=offset)
            rng = random.Random(f"{self.seed}:day:{day.isoformat()}")
            share = ONLINE_SHARE.get(day.year, 0.72)
            online_mean = self.k * share / 365
            office_mean = self.k * (1 - share) / 247 if is_working_day(day) else 0.0
            n = max(0, round(rng.gauss(online_mean, math.sqrt(online_mean))))
            n += max(0, round(rng.gauss(office_mean, math.sqrt(office_mean)))) if office_mean else 0
            for seq in range(1, n + 1):
                self._dossier(rng, day, seq, onestop, pop, portal, share)
            for writer in (onestop, pop, portal):
                writer.flush()
            self.daily_seq = {k: v for k, v in self.daily_seq.items() if k[1] >= day}
            if progress:
                progress(offset + 1)
        counts = {"onestop": onestop.close(), "population": pop.close(), "portal": portal.close()}
        truth = self.truth(counts)
        (self.out / "truth.json").write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2))
        return truth

    def truth(self, counts: dict) -> dict:
        by_code: dict[str, int] = {}
        for g in self.gaps:
            by_code[g["code"]] = by_code.get(g["code"], 0) + 1
        bad_by_kind: dict[str, int] = {}
        for b in self.bad:
            bad_by_kind[b["kind"]] = bad_by_kind.get(b["kind"], 0) + 1
        return {
            "seed": self.seed, "province": self.province, "start": self.start.isoformat(), "days": self.days,
            "dossiers_per_year": self.k, "faults": self.faults.name,
            "period": {"start": iso(self.period_start), "end": iso(self.period_end)},
            "parameters": {"sync_sla_minutes": self.sla.total_seconds() / 60,
                           "missing_after_hours": self.missing_after.total_seconds() / 3600},
            "definitions": {
                "G1": "a received dossier (final status not 1/3) with no portal sync by recorded(received) + missing_after",
                "G2": "from its first sync on, the portal's latest pushed status differs from the one-stop's latest "
                      "recorded status for longer than sync_sla; open from (start of difference + sync_sla)",
                "G3": "a push whose NgayDongBo is more than sync_sla after the one-stop recorded the change; "
                      "open from recorded + sync_sla until NgayDongBo",
                "G4": "a portal online application never received by the one-stop; open from NgayNop + missing_after",
                "G5": "the portal's copy differs in MaTTHC, NgayHenTra, KenhThucHien or SoGiayToChuHoSo; open from the "
                      "first such sync",
                "G6": "the applicant's personal ID is unknown to the population database, or the name on record differs",
            },
            "counts": {"dossiers": self.counters["dossiers"], "status_changes": self.counters["status_changes"],
                       "records": counts},
            "gap_counts": dict(sorted(by_code.items())),
            "bad_record_counts": dict(sorted(bad_by_kind.items())),
            "gaps": self.gaps,
            "bad_records": self.bad,
        }


def _mismatched(field_name: str, value):
    if field_name == "MaTTHC":
        return value[:-1] + str((int(value[-1]) + 1) % 10)
    if field_name == "NgayHenTra":
        return iso(dt.datetime.fromisoformat(value) + dt.timedelta(days=2))
    if field_name == "KenhThucHien":
        return 1 if value == 2 else 2
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def _json_with_surrogates(obj: dict) -> str:
    import json

    return json.dumps(obj, ensure_ascii=True)  # \u0000 and a lone surrogate travel as escapes


def simulate(seed: int, start: dt.date, days: int, out: Path, dossiers_per_year: int = 500_000,
             faults: str = "default", province: str = "40", progress=None) -> dict:
    if faults not in PROFILES:
        raise ValueError(f"unknown fault profile {faults!r} (known: {', '.join(PROFILES)})")
    for offset in (0, days):
        is_working_day(start + dt.timedelta(days=offset))  # raises outside the known calendar
    sim = Simulator(seed, start, days, dossiers_per_year, PROFILES[faults], province, out)
    return sim.run(progress)


def cli_simulate(args) -> int:
    import time

    from tthc import TthcError
    from tthc import config as config_mod

    province = args.province or config_mod.load().province
    if not (province.isdigit() and len(province) == 2):
        raise TthcError(f"--province must be a 2-digit code, got {province!r}")
    if args.faults not in PROFILES:
        raise TthcError(f"unknown fault profile {args.faults!r} (known: {', '.join(PROFILES)})")
    try:
        is_working_day(args.start)
        is_working_day(args.start + dt.timedelta(days=args.days))
    except ValueError as err:
        raise TthcError(str(err)) from None
    t0 = time.monotonic()
    if args.quiet:
        truth = simulate(args.seed, args.start, args.days, args.out, args.dossiers_per_year, args.faults, province)
    else:
        from rich.progress import Progress

        with Progress() as bar:
            task = bar.add_task("simulating days", total=args.days)
            truth = simulate(args.seed, args.start, args.days, args.out, args.dossiers_per_year, args.faults,
                             province, progress=lambda n: bar.update(task, completed=n))
    took = time.monotonic() - t0
    print(f"simulated {truth['counts']['dossiers']} dossiers, {truth['counts']['status_changes']} status changes "
          f"in {took:.1f}s -> {args.out}")
    print(f"gaps injected: {truth['gap_counts']}; bad records: {sum(truth['bad_record_counts'].values())}")
    return 0
