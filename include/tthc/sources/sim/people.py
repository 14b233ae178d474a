"""Applicants: citizens with personal ID numbers, enterprises, state agencies and other organisations.

Personal ID number (Identity Law 2023, Circular 59/2021): 3-digit province of birth registration
(the 63 codes of the provinces as they were when the numbers were issued), one digit for gender and
century, 2 digits of the birth year, 6 random digits. Every number is drawn once: no two simulated
people share an ID (a collision would make the second person's dossiers look like a name mismatch
in the population database). Until the end of 2024 some dossiers still carry a 9-digit ID card.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

# birth-registration province codes of personal ID numbers (the 63 provinces before the 2025 merger)
ID_PROVINCES = ("001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020", "022",
                "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038", "040", "042",
                "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060", "062", "064", "066",
                "067", "068", "070", "072", "074", "075", "077", "079", "080", "082", "083", "084", "086", "087",
                "089", "091", "092", "093", "094", "095", "096")
NEIGHBOURS = {"40": ("038", "042"), "38": ("037", "040"), "42": ("040", "044")}
TAX_PREFIX = {"40": "29", "38": "28", "42": "30"}  # tax-code prefix of the province's organisations

SURNAMES = ["Nguyễn"] * 8 + ["Trần"] * 3 + ["Lê"] * 3 + ["Phạm", "Hoàng", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
                                                      "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Thái", "Cao"]
MIDDLE_MALE = ["Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quốc", "Xuân", "Đình", "Công", "Thanh", "Trọng", "Bá"]
MIDDLE_FEMALE = ["Thị", "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hồng", "Phương", "Khánh"]
GIVEN_MALE = ["An", "Bình", "Dũng", "Hải", "Hùng", "Long", "Minh", "Nam", "Phong", "Quang", "Sơn", "Tuấn",
              "Tùng", "Khánh", "Lộc", "Đức", "Thắng", "Hiếu", "Trung", "Cường", "Vinh", "Hòa"]
GIVEN_FEMALE = ["Chi", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Nga", "Phương", "Tâm",
                "Thảo", "Trang", "Vân", "Yến", "Nhung", "Hằng", "Thủy", "Ngọc", "Huyền", "Oanh"]
ORG_WORDS = ["Hưng Thịnh", "Phú Gia", "Thành Đạt", "Minh Phát", "Hồng Lam", "Sông Lam", "Bắc Trung Bộ", "Đại Phát",
             "An Khang", "Tân Tiến", "Hoàng Long", "Việt Thắng", "Phúc Lộc", "Nam Đàn", "Cửa Lò", "Phượng Hoàng"]

# applicant type (LoaiDoiTuong): 1 citizen, 2 enterprise, 3 state agency, 4 other organisation
APPLICANT_TYPES = {1: 0.855, 2: 0.12, 3: 0.015, 4: 0.01}


@dataclass
class People:
    """Draws applicants; remembers every ID handed out so none is drawn twice."""

    province: str
    used: set[str] = field(default_factory=set)
    recent: list[dict] = field(default_factory=list)  # citizens who may file again

    def _unique(self, rng: random.Random, make) -> str:
        for _ in range(1000):
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value
        raise RuntimeError("ID space exhausted")

    def citizen(self, rng: random.Random, day: dt.date) -> tuple[dict, bool]:
        """A returning citizen (15%) or a new one; and whether it is new."""
        if self.recent and rng.random() < 0.15:
            return rng.choice(self.recent), False
        female = rng.random() < 0.5
        birth = dt.date(rng.randint(1945, 2007), rng.randint(1, 12), rng.randint(1, 28))
        roll = rng.random()
        neighbours = NEIGHBOURS.get(self.province, ())
        if roll < 0.85:
            birth_province = f"0{self.province}"
        elif roll < 0.93 and neighbours:
            birth_province = rng.choice(neighbours)
        else:
            birth_province = rng.choice(ID_PROVINCES)
        head = f"{birth_province}{(0 if birth.year < 2000 else 2) + int(female)}{birth.year % 100:02d}"
        pid = self._unique(rng, lambda: f"{head}{rng.randrange(1_000_000):06d}")
        middle = rng.choice(MIDDLE_FEMALE if female else MIDDLE_MALE)
        given = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
        legacy = None
        if day.year < 2025 and rng.random() < 0.05:
            legacy = self._unique(rng, lambda: f"{rng.randrange(10**8, 10**9)}")
        citizen = {"pid": pid, "name": f"{rng.choice(SURNAMES)} {middle} {given}", "birth": birth.isoformat(),
                   "female": female, "phone": f"09{rng.randrange(10**8):08d}", "legacy": legacy, "type": 1}
        self.recent.append(citizen)
        if len(self.recent) > 500:
            self.recent.pop(0)
        return citizen, True

    def forget(self, citizen: dict) -> None:
        """Never hand this citizen out again (its dossier carries an identity gap of its own)."""
        if citizen in self.recent:
            self.recent.remove(citizen)

    def organisation(self, rng: random.Random, kind: int) -> dict:
        prefix = TAX_PREFIX.get(self.province, f"{int(self.province) % 100:02d}")
        tax = self._unique(rng, lambda: f"{prefix}{rng.randrange(10**8):08d}")
        word = rng.choice(ORG_WORDS)
        if kind == 2:
            name = f"{rng.choice(['Công ty TNHH', 'Công ty cổ phần', 'Doanh nghiệp tư nhân'])} {word}"
        elif kind == 3:
            name = f"{rng.choice(['Trường THCS', 'Trạm Y tế', 'Trung tâm Văn hóa', 'Ban Quản lý dự án'])} {word}"
        else:
            name = f"{rng.choice(['Hợp tác xã', 'Hội', 'Quỹ từ thiện'])} {word}"
        return {"pid": tax, "name": name, "phone": f"02{rng.randrange(10**8):08d}", "legacy": None, "type": kind}

    def applicant(self, rng: random.Random, day: dt.date) -> tuple[dict, bool]:
        kind = rng.choices(list(APPLICANT_TYPES), list(APPLICANT_TYPES.values()))[0]
        if kind == 1:
            return self.citizen(rng, day)
        return self.organisation(rng, kind), True


def population_record(c: dict, tamper: str | None) -> dict | None:
    """The population database's record of a citizen (None: unknown to it)."""
    if tamper == "unknown":
        return None
    rec = {"SoDinhDanh": c["pid"], "HoVaTen": c["name"], "NgaySinh": c["birth"], "GioiTinh": 2 if c["female"] else 1,
           "SoCMND": c["legacy"], "NoiDangKyKhaiSinh": c["pid"][:3]}
    if tamper == "mismatch":  # the registry knows this number under another given name
        rec["HoVaTen"] = c["name"].rsplit(" ", 1)[0] + " " + ("Xuân" if not c["name"].endswith("Xuân") else "Thu")
    return rec
