"""Vietnam's provinces by statistics-office code (mã tỉnh, General Statistics Office), before and after the
2025 merge, and the one validator of the province codes the platform is configured with.

Before 2025-07-01 Vietnam had 63 provinces and centrally governed cities, each with a 2-digit code
(Decision 124/2004/QĐ-TTg and its amendments; Thừa Thiên Huế became the city of Huế on 2025-01-01 with
the same code). Resolution 202/2025/QH15 of the National Assembly (adopted 2025-06-12, the new provinces
governed from 2025-07-01) merged them into 34: 11 unchanged and 23 merged from two or three. A merged
province keeps the code of one of its members, the one hosting its seat (the list of codes of
Decision 19/2025/QĐ-TTg), and no code was newly created: Lào Cai (new) is 15, formerly Yên Bái, whose
Yên Bái city is its seat; Bắc Ninh (new) is 24, formerly Bắc Giang; Gia Lai (new) 52, formerly Bình Định.

So every province code in use, before or after the merge, is one of the 63 codes: a code is valid if and
only if it is in ``BEFORE_2025``. Source systems of a merged province may still carry its old members'
codes; ``MERGED_INTO`` maps each of the 63 codes to its province after the merge.
"""

from __future__ import annotations

from dataclasses import dataclass

from tthc import TthcError

REFORM_DATE = "2025-07-01"

# code -> name, the 63 provinces before 2025-07-01 (names without "Tỉnh"/"Thành phố")
BEFORE_2025: dict[str, str] = {
    "01": "Hà Nội", "02": "Hà Giang", "04": "Cao Bằng", "06": "Bắc Kạn", "08": "Tuyên Quang", "10": "Lào Cai",
    "11": "Điện Biên", "12": "Lai Châu", "14": "Sơn La", "15": "Yên Bái", "17": "Hòa Bình", "19": "Thái Nguyên",
    "20": "Lạng Sơn", "22": "Quảng Ninh", "24": "Bắc Giang", "25": "Phú Thọ", "26": "Vĩnh Phúc", "27": "Bắc Ninh",
    "30": "Hải Dương", "31": "Hải Phòng", "33": "Hưng Yên", "34": "Thái Bình", "35": "Hà Nam", "36": "Nam Định",
    "37": "Ninh Bình", "38": "Thanh Hóa", "40": "Nghệ An", "42": "Hà Tĩnh", "44": "Quảng Bình", "45": "Quảng Trị",
    "46": "Huế", "48": "Đà Nẵng", "49": "Quảng Nam", "51": "Quảng Ngãi", "52": "Bình Định", "54": "Phú Yên",
    "56": "Khánh Hòa", "58": "Ninh Thuận", "60": "Bình Thuận", "62": "Kon Tum", "64": "Gia Lai", "66": "Đắk Lắk",
    "67": "Đắk Nông", "68": "Lâm Đồng", "70": "Bình Phước", "72": "Tây Ninh", "74": "Bình Dương", "75": "Đồng Nai",
    "77": "Bà Rịa - Vũng Tàu", "79": "Hồ Chí Minh", "80": "Long An", "82": "Tiền Giang", "83": "Bến Tre",
    "84": "Trà Vinh", "86": "Vĩnh Long", "87": "Đồng Tháp", "89": "An Giang", "91": "Kiên Giang", "92": "Cần Thơ",
    "93": "Hậu Giang", "94": "Sóc Trăng", "95": "Bạc Liêu", "96": "Cà Mau",
}


@dataclass(frozen=True)
class Province:
    """A province after the merge: its code (one of its members' codes), name, and the codes of the provinces
    merged into it (its own first)."""

    code: str
    name: str
    merged: tuple[str, ...]


# the 34 provinces from 2025-07-01 (Resolution 202/2025/QH15)
AFTER_2025: dict[str, Province] = {p.code: p for p in (
    Province("01", "Hà Nội", ("01",)),
    Province("04", "Cao Bằng", ("04",)),
    Province("08", "Tuyên Quang", ("08", "02")),  # + Hà Giang
    Province("11", "Điện Biên", ("11",)),
    Province("12", "Lai Châu", ("12",)),
    Province("14", "Sơn La", ("14",)),
    Province("15", "Lào Cai", ("15", "10")),  # Yên Bái + Lào Cai
    Province("19", "Thái Nguyên", ("19", "06")),  # + Bắc Kạn
    Province("20", "Lạng Sơn", ("20",)),
    Province("22", "Quảng Ninh", ("22",)),
    Province("24", "Bắc Ninh", ("24", "27")),  # Bắc Giang + Bắc Ninh
    Province("25", "Phú Thọ", ("25", "26", "17")),  # + Vĩnh Phúc, Hòa Bình
    Province("31", "Hải Phòng", ("31", "30")),  # + Hải Dương
    Province("33", "Hưng Yên", ("33", "34")),  # + Thái Bình
    Province("37", "Ninh Bình", ("37", "35", "36")),  # + Hà Nam, Nam Định
    Province("38", "Thanh Hóa", ("38",)),
    Province("40", "Nghệ An", ("40",)),
    Province("42", "Hà Tĩnh", ("42",)),
    Province("44", "Quảng Trị", ("44", "45")),  # Quảng Bình + Quảng Trị
    Province("46", "Huế", ("46",)),
    Province("48", "Đà Nẵng", ("48", "49")),  # + Quảng Nam
    Province("51", "Quảng Ngãi", ("51", "62")),  # + Kon Tum
    Province("52", "Gia Lai", ("52", "64")),  # Bình Định + Gia Lai
    Province("56", "Khánh Hòa", ("56", "58")),  # + Ninh Thuận
    Province("66", "Đắk Lắk", ("66", "54")),  # + Phú Yên
    Province("68", "Lâm Đồng", ("68", "67", "60")),  # + Đắk Nông, Bình Thuận
    Province("75", "Đồng Nai", ("75", "70")),  # + Bình Phước
    Province("79", "Hồ Chí Minh", ("79", "74", "77")),  # + Bình Dương, Bà Rịa - Vũng Tàu
    Province("80", "Tây Ninh", ("80", "72")),  # Long An + Tây Ninh
    Province("82", "Đồng Tháp", ("82", "87")),  # Tiền Giang + Đồng Tháp
    Province("86", "Vĩnh Long", ("86", "83", "84")),  # + Bến Tre, Trà Vinh
    Province("91", "An Giang", ("91", "89")),  # Kiên Giang + An Giang
    Province("92", "Cần Thơ", ("92", "93", "94")),  # + Hậu Giang, Sóc Trăng
    Province("96", "Cà Mau", ("96", "95")),  # + Bạc Liêu
)}

# each of the 63 codes -> the code of its province after the merge
MERGED_INTO: dict[str, str] = {old: p.code for p in AFTER_2025.values() for old in p.merged}


def name(code: str) -> str:
    """The province's name before the merge (the name its code had until 2025-07-01)."""
    return BEFORE_2025[code]


def check_code(code: str, setting: str = "TTHC_PROVINCE") -> str:
    """``code`` if it is a province code (one of the 63; see the module's docstring), else a one-line
    ``TthcError`` naming the setting. The platform's one check of a province code."""
    if code not in BEFORE_2025:
        raise TthcError(f"{setting} must be a statistics-office province code (2 digits, e.g. 40 = Nghệ An, "
                        f"38 = Thanh Hóa), got {code!r}")
    return code


def parse_codes(text: str, setting: str = "TTHC_PROVINCES") -> tuple[str, ...]:
    """``40,38`` -> ("40", "38"): province codes (each checked by ``check_code``), each once, in the order given."""
    codes = tuple(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    if not codes:
        raise TthcError(f"{setting} must be province codes separated by commas (e.g. 40,38), got {text!r}")
    for code in codes:
        check_code(code, setting)
    return codes
