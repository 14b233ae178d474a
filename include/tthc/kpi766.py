"""The Decision 766/QD-TTg index: its indicators declared once (group, points, what is counted and from
which source field), and the on-time rule of the progress group.

The index gives each agency 100 points a period. Decision 766 numbers its indicators in five groups
(1 transparency, 2 progress, 3 online service and payment, 4 digitisation, 5 satisfaction); this platform
splits group 3 into online service (CLGQ, 3.1) and online payment (TTTT, 3.2-3.4). A rate with a threshold scores
linearly up to it: points x min(1, rate / threshold); without one: points x rate. Each indicator
names the source fields it is computed from; the README's table of indicators is checked against
this one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

GROUPS = {"CKMB": ("Công khai, minh bạch", "transparency", 18), "TDGQ": ("Tiến độ giải quyết", "progress", 20),
          "CLGQ": ("Dịch vụ công trực tuyến", "online service", 12),
          "TTTT": ("Thanh toán trực tuyến", "online payment", 10), "MDSH": ("Mức độ số hóa", "digitisation", 22),
          "MDHL": ("Mức độ hài lòng", "satisfaction", 18)}


@dataclass(frozen=True)
class Indicator:
    group: str
    code: str
    title: str
    points: float
    numerator: str
    denominator: str
    source: str  # the fields it is computed from
    threshold: float | None = None  # the rate at which it earns full points

    def score(self, rate: float | None) -> float | None:
        if rate is None:
            return None
        return self.points * min(1.0, rate / self.threshold if self.threshold else rate)


INDICATORS = (
    Indicator("CKMB", "1.1", "procedures publicly disclosed", 4, "procedures disclosed on the portal",
              "procedures the agency handled", "one-stop procedures.CongKhai"),
    Indicator("CKMB", "1.2", "procedures synchronised to the national TTHC database", 4,
              "procedures whose catalogue entry is synchronised", "procedures the agency handled",
              "one-stop procedures.DongBoCSDLQG"),
    Indicator("CKMB", "1.3", "electronic workflows published", 4,
              "procedures whose electronic internal workflow is published", "procedures the agency handled",
              "one-stop procedures.QuyTrinhDienTu"),
    Indicator("CKMB", "1.4", "dossier sync ratio", 6, "dossiers synced to the portal",
              "max(dossiers received in the one-stop, dossiers the portal knows as received)",
              "one-stop status_changes (status 2), portal sync_records"),
    Indicator("TDGQ", "2.1", "dossiers settled on time", 20, "dossiers finished by their due time (766 rule)",
              "dossiers finished in the period or past due at its end",
              "one-stop status_changes (ThoiGian, status), dossiers.NgayHenTra"),
    Indicator("CLGQ", "3.1", "full-process online dossiers", 12, "dossiers handled fully online (toàn trình)",
              "dossiers of full-process-eligible procedures", "one-stop dossiers.HoSoToanTrinh, procedures.MucDoDVC"),
    Indicator("TTTT", "3.2", "fee procedures with payment integrated", 2,
              "fee-bearing procedures with online payment integrated", "fee-bearing procedures handled",
              "one-stop procedures.LePhi, procedures.TichHopThanhToan"),
    Indicator("TTTT", "3.3", "fee procedures with an online payment", 2,
              "fee-bearing procedures with at least one online payment", "fee-bearing procedures handled",
              "portal payments, one-stop dossiers.MaTTHC"),
    Indicator("TTTT", "3.4", "dossiers paid online", 6, "dossiers paid online", "fee-bearing dossiers",
              "one-stop dossiers.DuocThanhToanTrucTuyen, dossiers.LePhi"),
    Indicator("MDSH", "4.1", "electronic results", 6, "resolved dossiers with an electronic result",
              "resolved dossiers", "one-stop dossiers.CoKetQuaDienTu"),
    Indicator("MDSH", "4.2", "digitised dossiers", 4, "dossiers whose components were digitised",
              "dossiers received", "one-stop dossiers.HoSoCoThanhPhanSoHoa", threshold=0.8),
    Indicator("MDSH", "4.3", "certified electronic copies", 2, "certification dossiers with an electronic copy",
              "certification dossiers", "one-stop dossiers.DuocChungThucDienTu (LinhVuc Chứng thực)"),
    Indicator("MDSH", "4.4", "digitised data reused", 2, "dossiers reusing digitised data", "dossiers received",
              "one-stop dossiers.DuocTaiSuDungDuLieu"),
    Indicator("MDSH", "4.5", "data from the citizen's national data store", 4,
              "dossiers with data taken from the data store", "dossiers received",
              "one-stop dossiers.DuocLayTuKhoDMQG"),
    Indicator("MDSH", "4.6", "population database used", 2, "citizen dossiers looked up in the population database",
              "citizen dossiers", "one-stop dossiers.MaCSDL, LoaiDoiTuong"),
    Indicator("MDSH", "4.7", "accounts verified with VNeID", 2, "online dossiers filed with a VNeID-verified account",
              "online dossiers", "one-stop dossiers.TaiKhoanDuocXacThucVoiVNeID, KenhThucHien"),
    Indicator("MDHL", "5.1", "dossier satisfaction", 6, "100% - (overdue rate + share of ratings that are negative)",
              "(a rate)", "766 on-time rule; portal ratings.MucDoHaiLong = 4 is negative", threshold=0.9),
    Indicator("MDHL", "5.2", "petitions answered on time", 6, "petitions answered by their due time",
              "petitions answered in the period or past due at its end", "portal petitions.HanXuLy, NgayTraLoi"),
    Indicator("MDHL", "5.3", "petitioners satisfied", 6, "answered petitions rated 1 or 2",
              "answered petitions with a rating", "portal petitions.MucDoHaiLong"),
)
assert {g: sum(i.points for i in INDICATORS if i.group == g) for g in GROUPS} == {g: v[2] for g, v in GROUPS.items()}

FINISH_STATUSES = (3, 8, 9, 10)  # not accepted, processing stopped, resolved, result returned
SUPPLEMENT = 5


def finish_time(changes: Iterable[tuple[dt.datetime, int]]) -> tuple[dt.datetime | None, int]:
    """The 766 finish time of a dossier (None while open) and its number of supplement requests.
    changes: (business time, status) in the order the one-stop recorded them. A supplement request is a
    change *to* status 5 (a change that repeats the status, such as a hand-over to another desk, is not
    a new request). The first request ends the clock; otherwise the first of resolved, returned,
    stopped or not accepted."""
    finish, supplements, previous = None, 0, None
    for at, status in changes:
        if status == SUPPLEMENT and previous != SUPPLEMENT:
            supplements += 1
            if supplements == 1 and finish is None:
                finish = at
        elif status in FINISH_STATUSES and finish is None:
            finish = at
        previous = status
    return finish, supplements


def on_time(changes: Iterable[tuple[dt.datetime, int]], due: dt.datetime, period_end: dt.datetime) -> bool:
    """The 766 rule: finish time <= due time; more than one supplement request is overdue; a dossier
    still open at the end of the period counts the period's end as its finish time."""
    finish, supplements = finish_time(changes)
    if supplements > 1:
        return False
    return min(finish or period_end, period_end) <= due


def indicator_rows() -> list[dict]:
    """The indicators as the dbt seed ``kpi766_indicators`` (``tthc seeds``): points and thresholds
    reach the marts from here, never typed twice."""
    return [{"indicator_code": i.code, "group_code": i.group, "group_name_vi": GROUPS[i.group][0],
             "group_name_en": GROUPS[i.group][1], "title": i.title, "points": i.points,
             "threshold": "" if i.threshold is None else i.threshold, "numerator": i.numerator,
             "denominator": i.denominator, "source_fields": i.source} for i in INDICATORS]
