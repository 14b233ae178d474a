"""Administrative units of a province, before and after the 2025 reform (Resolution 1678/NQ-UBTVQH15
for Nghe An): district-level units are abolished on 2025-07-01 and communes merge into fewer, larger
ones; a merged unit keeps the statistics-office code of the unit that hosts its seat, and no code is
ever reused.

Nghe An (40) uses its real district-level units (codes 412-432; Cua Lo already merged into Vinh, so 20
units), its real commune code range (16681-18040, 412 communes) and its real post-reform count (130:
119 xa + 11 phuong, the 11 wards named as enacted). Commune names are generated in the province's
style. Any other province gets a generic geography of the same shape from its code.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

REFORM_DATE = dt.date(2025, 7, 1)


@dataclass(frozen=True)
class DistrictSpec:
    code: str
    name: str  # with its kind: "Thành phố Vinh", "Huyện Diễn Châu"
    communes: int  # communes before the reform
    stem: str  # the syllable its commune names share ("Diễn" in Diễn Thịnh)
    wards_after: tuple[str, ...] = ()  # post-reform wards (phường) hosted in its territory


@dataclass(frozen=True)
class ProvinceSpec:
    code: str
    name: str
    districts: tuple[DistrictSpec, ...]
    commune_codes: tuple[int, int]  # first and last statistics-office code of its communes
    communes_after: int  # communes and wards after the reform


NGHE_AN = ProvinceSpec("40", "Nghệ An", (
    DistrictSpec("412", "Thành phố Vinh", 22, "Vinh", ("Thành Vinh", "Trường Vinh", "Vinh Phú", "Vinh Lộc",
                                                      "Vinh Hưng", "Cửa Lò")),
    DistrictSpec("414", "Thị xã Thái Hòa", 9, "Hòa", ("Thái Hòa", "Tây Hiếu")),
    DistrictSpec("415", "Huyện Quế Phong", 13, "Quế"),
    DistrictSpec("416", "Huyện Quỳ Châu", 12, "Châu"),
    DistrictSpec("417", "Huyện Kỳ Sơn", 21, "Sơn"),
    DistrictSpec("418", "Huyện Tương Dương", 17, "Tam"),
    DistrictSpec("419", "Huyện Nghĩa Đàn", 20, "Nghĩa"),
    DistrictSpec("420", "Huyện Quỳ Hợp", 21, "Hợp"),
    DistrictSpec("421", "Huyện Quỳnh Lưu", 29, "Quỳnh"),
    DistrictSpec("422", "Huyện Con Cuông", 13, "Môn"),
    DistrictSpec("423", "Huyện Tân Kỳ", 19, "Tân"),
    DistrictSpec("424", "Huyện Anh Sơn", 17, "Anh"),
    DistrictSpec("425", "Huyện Diễn Châu", 33, "Diễn"),
    DistrictSpec("426", "Huyện Yên Thành", 35, "Thành"),
    DistrictSpec("427", "Huyện Đô Lương", 28, "Đông"),
    DistrictSpec("428", "Huyện Thanh Chương", 33, "Thanh"),
    DistrictSpec("429", "Huyện Nghi Lộc", 23, "Nghi"),
    DistrictSpec("430", "Huyện Nam Đàn", 19, "Nam"),
    DistrictSpec("431", "Huyện Hưng Nguyên", 18, "Hưng"),
    DistrictSpec("432", "Thị xã Hoàng Mai", 10, "Mai", ("Hoàng Mai", "Tân Mai", "Quỳnh Mai")),
), (16681, 18040), 130)

PROVINCES = {"40": NGHE_AN}
PROVINCE_NAMES = {"40": "Nghệ An", "38": "Thanh Hóa", "42": "Hà Tĩnh", "01": "Hà Nội", "79": "Hồ Chí Minh"}
SYLLABLES = ["Phú", "Thịnh", "Lộc", "Xuân", "Hưng", "Thọ", "Kim", "Liên", "Trung", "Đông", "Tây", "Bắc", "Minh",
             "Hòa", "Bình", "An", "Phúc", "Long", "Tiến", "Thắng", "Lợi", "Hồng", "Quang", "Thái", "Vạn", "Mỹ",
             "Hải", "Sơn", "Lâm", "Thủy", "Cát", "Nghĩa", "Đức", "Tân", "Thuận", "Hạnh", "Khánh", "Lạc", "Yên"]


def generic_province(code: str) -> ProvinceSpec:
    """A province of the usual shape (12 district-level units, 180 communes -> 60) for codes without real data."""
    p = int(code)
    name = PROVINCE_NAMES.get(code, f"Tỉnh {code}")
    stems = ["Hưng", "Yên", "Phú", "Tân", "Đông", "Nam", "Bắc", "Thanh", "Kim", "An", "Bình", "Hòa"]
    districts = tuple(DistrictSpec(f"{(p * 10 + 12 + i) % 1000:03d}",
                                   ("Thành phố " if i == 0 else "Huyện ") + f"{stems[i]} {SYLLABLES[i]}", 15, stems[i],
                                   ("Trung Tâm", "Đông Thành") if i == 0 else ())
                      for i in range(12))
    first = (p * 400) % 90000 + 10000
    return ProvinceSpec(code, name, districts, (first, first + 3 * 179), 60)


def province_spec(code: str) -> ProvinceSpec:
    return PROVINCES.get(code) or generic_province(code)


@dataclass
class Geography:
    province: str
    province_name: str
    districts: list[dict] = field(default_factory=list)  # code, name, stem
    communes_old: list[dict] = field(default_factory=list)  # code, name, district, weight
    communes_new: list[dict] = field(default_factory=list)  # code, name, members, district, ward
    old_to_new: dict[str, str] = field(default_factory=dict)
    district_seat: dict[str, str] = field(default_factory=dict)  # district code -> new commune at its seat


def _name(rng: random.Random, stem: str | None, taken: set[str], prefix_stem: bool = True) -> str:
    """A commune name: the district's stem and a syllable (Diễn Thịnh), or two syllables (Hợp Minh)
    when ``stem`` is None or its names run out; never one already taken in the province."""
    for attempt in range(400):
        first, second = (stem, rng.choice(SYLLABLES)) if stem and attempt < 100 else rng.sample(SYLLABLES, 2)
        name = f"{first} {second}" if prefix_stem or not stem or attempt >= 100 else f"{second} {first}"
        if first != second and name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("ran out of commune names")


def build_geography(rng: random.Random, province: str) -> Geography:
    spec = province_spec(province)
    geo = Geography(province, spec.name)
    n_old = sum(d.communes for d in spec.districts)
    lo, hi = spec.commune_codes
    step = (hi - lo) / max(1, n_old - 1)
    taken: set[str] = set()
    k = 0
    for d in spec.districts:
        geo.districts.append({"code": d.code, "name": d.name, "stem": d.stem})
        urban = d.name.startswith(("Thành phố", "Thị xã"))
        for _ in range(d.communes):
            kind = "Phường" if urban and rng.random() < 0.6 else "Xã"
            weight = rng.lognormvariate(0, 0.5) * (2.2 if kind == "Phường" else 1.0)
            geo.communes_old.append({"code": f"{lo + round(k * step):05d}", "district": d.code, "weight": weight,
                                     "name": f"{kind} {_name(rng, d.stem, taken, d.stem != 'Thành')}"})
            k += 1
    # the reform: each district's communes merge in groups; wards first, then communes (xã)
    wards_total = sum(len(d.wards_after) for d in spec.districts)
    rural = [d for d in spec.districts if not d.wards_after]
    rural_old = sum(d.communes for d in rural)
    xa_total = spec.communes_after - wards_total
    quotas = {d.code: len(d.wards_after) for d in spec.districts if d.wards_after}
    shares = sorted(((d.communes * xa_total / rural_old, d.code) for d in rural), reverse=True)
    for share, code in shares:
        quotas[code] = max(1, int(share))
    leftover = xa_total - sum(quotas[c] for _, c in shares)
    for _, code in sorted(shares, key=lambda s: s[0] - int(s[0]), reverse=True)[:max(0, leftover)]:
        quotas[code] += 1
    for d in spec.districts:
        members = [c for c in geo.communes_old if c["district"] == d.code]
        groups = quotas[d.code]
        for g in range(groups):
            group = members[g * len(members) // groups:(g + 1) * len(members) // groups]
            seat = max(group, key=lambda c: c["weight"])  # the largest commune hosts the seat
            if d.wards_after:
                name, ward = d.wards_after[g], True
            elif g == 0:
                name, ward = d.name.removeprefix("Huyện "), False  # the commune at the old district seat
            else:
                name, ward = _name(rng, None, taken), False
            new = {"code": seat["code"], "name": ("Phường " if ward else "Xã ") + name, "district": d.code,
                   "members": [c["code"] for c in group], "ward": ward}
            geo.communes_new.append(new)
            for c in group:
                geo.old_to_new[c["code"]] = seat["code"]
            if g == 0:
                geo.district_seat[d.code] = seat["code"]
    return geo
