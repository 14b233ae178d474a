"""The Decision 766/QD-TTg index: its indicators declared once (group, points, threshold, what is counted, and
how faithfully the platform can follow the published rule), and the progress rule (2.1) as a pure function.

The portal's rules are described in "Mô tả công thức tính chỉ số 766.docx" (20 indicators in five groups; a
vendor's encoding of it is public, and it notes it could not confirm the document is official). The points
per indicator are the portal's METRICS table: transparency (CKMB) 6/4/2/6, progress (TDGQ) 20, online service
(CLGQ) 12, online payment (TTTT) 2/2/6, digitisation (MDSH) 6/4/2/2/4/2/2, satisfaction (MDHL) 6/6/6. Each
indicator says how this platform computes it (``method``):

* ``document``: as the document describes it, from the fields it names;
* ``interpretation``: the document is silent or ambiguous, or names a field the sources do not carry; the
  reason says what was chosen;
* ``proxy``: the sources hold nothing the rule needs; a stand-in is shown but kept out of the total.

A rate with a threshold earns full points at the threshold and linearly below it: points x min(1, rate /
threshold); without one, points x rate. The README's 766 table is checked against this one, and the dbt seed
``kpi766_indicators`` is exported from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

GROUPS = {"CKMB": ("Công khai, minh bạch", "transparency", 18), "TDGQ": ("Tiến độ giải quyết", "progress", 20),
          "CLGQ": ("Dịch vụ công trực tuyến", "online service", 12),
          "TTTT": ("Thanh toán trực tuyến", "online payment", 10), "MDSH": ("Mức độ số hóa", "digitisation", 22),
          "MDHL": ("Mức độ hài lòng", "satisfaction", 18)}
METHODS = ("document", "interpretation", "proxy")
LEVELS = ("dossier", "procedure", "petition")


@dataclass(frozen=True)
class Indicator:
    group: str
    code: str
    title: str
    points: float
    numerator: str
    denominator: str
    source: str  # the fields it is computed from
    method: str
    reason: str  # one line: why this method, what was chosen
    level: str = "dossier"  # what its numerator and denominator count
    threshold: float | None = None  # the rate at which it earns full points
    shortfall: str = ""  # what a dossier outside the numerator lacks (dossier level)

    @property
    def in_total(self) -> bool:
        """A proxy is shown, never scored."""
        return self.method != "proxy" and self.points > 0

    @property
    def column(self) -> str:
        """The indicator's columns in kpi_agency_monthly: ind_<column>_numerator, ..."""
        return self.code.replace(".", "_")

    def score(self, rate: float | None) -> float | None:
        if rate is None:
            return None
        return self.points * min(1.0, rate / self.threshold if self.threshold else rate)


_NO_DATES = ("the sources carry no publication decision, legal-basis or publication-click dates; "
             "the one-stop's per-procedure flag stands in, out of the total")
INDICATORS = (
    Indicator("CKMB", "1.1", "procedures published on time", 6, "procedures disclosed on the portal",
              "procedures the agency handled", "one-stop procedures.CongKhai", "proxy", _NO_DATES, "procedure"),
    Indicator("CKMB", "1.2", "procedures updated and disclosed on time", 4,
              "procedures whose catalogue entry is synchronised", "procedures the agency handled",
              "one-stop procedures.DongBoCSDLQG", "proxy", _NO_DATES, "procedure"),
    Indicator("CKMB", "1.3", "procedures disclosed with all seven required parts", 2,
              "procedures whose electronic internal workflow is published", "procedures the agency handled",
              "one-stop procedures.QuyTrinhDienTu", "proxy",
              "the catalogue does not list which of the seven parts each procedure has; a workflow flag stands in",
              "procedure"),
    Indicator("CKMB", "1.4", "dossiers synchronised to the portal", 6, "dossiers received in the month and synced",
              "max(dossiers received in the one-stop, receipts the portal holds); both zero: the rate is 0",
              "one-stop status_changes (status 2), portal sync_records", "document",
              "both counts by receipt date; the fallback (last year / 12) can only give 0 when nothing was received",
              shortfall="not synced to the portal by the month's end"),
    Indicator("TDGQ", "2.1", "dossiers handled on time", 20, "dossiers whose end time <= NgayHenTra",
              "dossiers received before the month's end and not ended before its start",
              "one-stop status_changes (ThoiGian, status), dossiers.NgayHenTra", "document",
              "end: resolved > returned > stopped/refused/withdrawn; supplement rules as written; the citizen's "
              "time is subtracted in clock time, as the document writes it",
              shortfall="late"),
    Indicator("TDGQ", "2.2", "average time to resolve (working days), no points", 0,
              "working days from receipt to resolution, summed", "dossiers received in the month and resolved",
              "one-stop status_changes (ThoiGian, status 2 and 9)", "document",
              "shown without points, as the document gives it none", "dossier"),
    Indicator("CLGQ", "3.1", "procedures offered online", 4, "procedures with a partial or full online service",
              "procedures the agency handled", "one-stop procedures.MucDoDVC", "interpretation",
              "the document gives CLGQ no split: 12 points in three equal parts; 'all procedures' = those handled",
              "procedure", threshold=0.8),
    Indicator("CLGQ", "3.3", "dossiers filed online x sync ratio", 4, "dossiers received online",
              "dossiers received; the rate is multiplied by 1.4's sync ratio", "one-stop dossiers.KenhThucHien",
              "interpretation", "the formula and 50 % threshold are the document's; the 4 points are the even split",
              threshold=0.5, shortfall="not filed online"),
    Indicator("CLGQ", "3.4", "full-process online dossiers", 4, "dossiers handled fully online (toàn trình)",
              "dossiers of full-process-eligible procedures", "one-stop dossiers.HoSoToanTrinh, procedures.MucDoDVC",
              "interpretation", "the METRICS table's CLGQ row; the document numbers no 3.4 and describes none",
              shortfall="not handled fully online"),
    Indicator("TTTT", "3.5", "fee procedures with payment integrated", 2,
              "fee-bearing procedures with online payment integrated", "fee-bearing procedures handled",
              "one-stop procedures.LePhi, procedures.TichHopThanhToan", "interpretation",
              "Y is the fee procedures the agency handled (the catalogue's list per agency is not in the sources)",
              "procedure", threshold=0.8),
    Indicator("TTTT", "3.5b", "fee procedures with an online payment", 2,
              "fee-bearing procedures with at least one online payment", "fee-bearing procedures handled",
              "portal payments, one-stop dossiers.MaTTHC", "interpretation",
              "the METRICS table's second payment row; the document has no formula for it", "procedure"),
    Indicator("TTTT", "3.6", "dossiers paid online", 6, "fee-bearing dossiers paid online (DuocThanhToanTrucTuyen)",
              "fee-bearing dossiers received in the month", "one-stop dossiers.DuocThanhToanTrucTuyen, dossiers.LePhi",
              "document", "the document's dossier formula (its TTHC-count variant contradicts it)",
              shortfall="not paid online"),
    Indicator("MDSH", "4.1", "electronic results", 6, "resolved dossiers with an electronic result",
              "dossiers resolved in the month", "one-stop dossiers.CoKetQuaDienTu", "interpretation",
              "every procedure is taken to require a written result (the flag is not in the sources)",
              shortfall="no electronic result"),
    Indicator("MDSH", "4.2", "digitised dossiers", 4, "dossiers whose components were digitised",
              "dossiers received in the month", "one-stop dossiers.HoSoCoThanhPhanSoHoa", "document",
              "the result-file half of the rule is 4.1's", threshold=0.8, shortfall="components not digitised"),
    Indicator("MDSH", "4.3", "digitised data reused", 2, "dossiers reusing digitised data",
              "dossiers received in the month", "one-stop dossiers.DuocTaiSuDungDuLieu", "document", "as written",
              threshold=0.8, shortfall="no digitised data reused"),
    Indicator("MDSH", "4.4", "data from the citizen's data store", 4, "dossiers with a component from the data store",
              "dossiers received in the month", "one-stop dossiers.DuocLayTuKhoDMQG", "document", "as written",
              shortfall="nothing taken from the data store"),
    Indicator("MDSH", "4.5a", "procedures connected to the population database", 2,
              "citizen procedures with a dossier using VNeID, the data store or a population-database code",
              "procedures with a citizen dossier received in the month",
              "one-stop dossiers.TaiKhoanDuocXacThucVoiVNeID, DuocLayTuKhoDMQG, MaCSDL, LoaiDoiTuong",
              "interpretation", "'procedures for citizens' = procedures with a citizen dossier in the month",
              "procedure"),
    Indicator("MDSH", "4.5b", "dossiers using population data", 2,
              "dossiers using VNeID, the data store or a population-database code", "dossiers received in the month",
              "one-stop dossiers.TaiKhoanDuocXacThucVoiVNeID, DuocLayTuKhoDMQG, MaCSDL", "document", "as written",
              shortfall="no population data used"),
    Indicator("MDSH", "4.6", "certified electronic copies", 2, "certification dossiers with an electronic copy",
              "certification dossiers received in the month",
              "one-stop dossiers.DuocChungThucDienTu (LinhVuc Chứng thực)", "interpretation",
              "the METRICS table's certified-copy row; the document has no formula for it",
              shortfall="no certified electronic copy"),
    Indicator("MDHL", "5.2", "petitions handled on time", 6, "petitions answered, or still open, by their due time",
              "petitions received before the month's end and not answered before its start",
              "portal petitions.HanXuLy, NgayTraLoi", "interpretation",
              "the document's step-by-step petition states are not in the sources: answered by HanXuLy", "petition"),
    Indicator("MDHL", "5.3", "petitions handled to satisfaction", 6,
              "petitions received in the month, less those rated dissatisfied or overdue",
              "petitions received in the month", "portal petitions.MucDoHaiLong, HanXuLy, NgayTraLoi", "document",
              "repeated petitions about the same result are not marked in the sources", "petition"),
    Indicator("MDHL", "5.4", "satisfaction with dossier handling", 6,
              "dossiers of 2.1 without a negative rating; rate = 100 % - (overdue rate + negative-rating rate)",
              "2.1's dossiers", "766 rule; portal ratings.MucDoHaiLong = 4 is negative", "interpretation",
              "petitions are not linked to dossiers in the sources: only negative ratings count",
              threshold=0.9, shortfall="late or rated negatively"),
)
BY_CODE = {i.code: i for i in INDICATORS}
assert {g: sum(i.points for i in INDICATORS if i.group == g) for g in GROUPS} == {g: v[2] for g, v in GROUPS.items()}
assert all(i.method in METHODS and i.level in LEVELS and i.reason for i in INDICATORS)
DOSSIER_INDICATORS = tuple(i.code for i in INDICATORS if i.level == "dossier" and i.points > 0)


def points_lost_share(points: float, threshold: float | None, numerator: int, denominator: int) -> float:
    """The points one dossier outside the numerator costs its agency: what the agency lost on the indicator,
    shared equally by those dossiers (above the threshold nothing is lost, so nobody costs anything)."""
    failing = denominator - numerator
    if denominator <= 0 or failing <= 0:
        return 0.0
    rate = numerator / denominator
    return (points - points * min(1.0, rate / threshold if threshold else rate)) / failing


# ---- 2.1: the progress rule ----------------------------------------------------------------------------------

RECEIVED, REFUSED, SUPPLEMENT, WITHDRAWN, STOPPED, RESOLVED, RETURNED = 2, 3, 5, 7, 8, 9, 10


@dataclass(frozen=True)
class Lifecycle:
    """What the progress rule needs of a dossier's status changes."""
    received_at: dt.datetime | None
    resolved_at: dt.datetime | None  # first resolved (9)
    returned_at: dt.datetime | None  # first returned (10)
    stopped_at: dt.datetime | None  # first of stopped (8), withdrawal (7), refusal after receipt (3)
    stop_kind: str | None  # "stopped", "withdrawn" or "refused"
    refused_at_intake: dt.datetime | None  # refused (3) and never received
    requests: tuple[dt.datetime, ...] = ()  # supplement requests (changes *to* status 5), in order
    pauses: tuple[tuple[dt.datetime, dt.datetime], ...] = field(default=())  # (request, supplement completed)

    @property
    def ended_at(self) -> dt.datetime | None:
        """When processing ended for good (resolved, returned, stopped, refused or withdrawn)."""
        ends = [t for t in (self.resolution_at, self.stopped_at) if t is not None]
        return min(ends) if ends else None

    @property
    def resolution_at(self) -> dt.datetime | None:
        """Resolved (9), else returned (10)."""
        return self.resolved_at if self.resolved_at is not None else self.returned_at

    def pause_before(self, moment: dt.datetime) -> dt.timedelta:
        """The citizen's time: from each request to the completed supplement, for supplements completed by then."""
        return sum((done - asked for asked, done in self.pauses if done <= moment), dt.timedelta())


def lifecycle(changes: Iterable[tuple[dt.datetime, int]]) -> Lifecycle:
    """changes: (business time ThoiGian, status) in the order the one-stop recorded them. A supplement request
    is a change *to* status 5 (a change repeating it, such as a hand-over, is not a new request); the
    supplement is completed by the next change to another status."""
    firsts: dict[int, dt.datetime] = {}
    requests: list[dt.datetime] = []
    pauses: list[tuple[dt.datetime, dt.datetime]] = []
    refused_after_receipt = None
    previous, open_request = None, None
    for at, status in changes:
        firsts.setdefault(status, at)
        if status == SUPPLEMENT and previous != SUPPLEMENT:
            requests.append(at)
            open_request = at
        elif status != SUPPLEMENT and open_request is not None:
            pauses.append((open_request, at))
            open_request = None
        if status == REFUSED and RECEIVED in firsts and refused_after_receipt is None:
            refused_after_receipt = at
        previous = status
    stops = [(t, kind) for t, kind in ((firsts.get(STOPPED), "stopped"), (firsts.get(WITHDRAWN), "withdrawn"),
                                       (refused_after_receipt, "refused")) if t is not None]
    stopped_at, stop_kind = min(stops) if stops else (None, None)
    received = firsts.get(RECEIVED)
    return Lifecycle(received, firsts.get(RESOLVED), firsts.get(RETURNED), stopped_at, stop_kind,
                     firsts.get(REFUSED) if received is None else None, tuple(requests), tuple(pauses))


@dataclass(frozen=True)
class Progress:
    """A dossier's 2.1 verdict for one month: in the denominator, on time (the numerator), the end time the
    rule used (None: overdue by a second supplement request, or never received) and why it ends there."""
    in_denominator: bool
    on_time: bool
    end_at: dt.datetime | None
    end_kind: str


def progress(life: Lifecycle, due: dt.datetime, begins: dt.datetime, evaluated: dt.datetime) -> Progress | None:
    """2.1 for the month [begins, evaluated) (evaluated: the month's end, or the newest data while it runs).

    A dossier counts when it was received before ``evaluated`` and had not ended before ``begins``; a dossier
    refused at intake (never received) is shown outside the denominator in the month of its refusal. Its end
    time, from what had happened by ``evaluated``: resolved, else returned, minus the citizen's supplement
    time; with no resolution, a single pending supplement request ends it at the request and a second makes
    it overdue; else stopped, refused or withdrawn; else the period's end. On time iff end <= NgayHenTra."""
    if life.received_at is None:
        t = life.refused_at_intake
        return Progress(False, False, None, "refused_at_intake") if t and begins <= t < evaluated else None
    if life.received_at >= evaluated or (life.ended_at is not None and life.ended_at < begins):
        return None
    resolution = life.resolution_at
    if resolution is not None and resolution < evaluated:
        end = resolution - life.pause_before(resolution)
        kind = "resolved" if life.resolved_at is not None else "returned"
    else:
        asked = [t for t in life.requests if t < evaluated]
        if len(asked) > 1:
            return Progress(True, False, None, "second_supplement_request")
        if asked:
            end, kind = asked[0], "supplement_requested"
        elif life.stopped_at is not None and life.stopped_at < evaluated:
            end, kind = life.stopped_at, life.stop_kind or "stopped"
        else:
            end, kind = evaluated, "open"
    return Progress(True, end <= due, end, kind)


def month_bounds(month: dt.date, as_of: dt.datetime, tz) -> tuple[dt.datetime, dt.datetime]:
    """A local month's start and its evaluation time: its end, or ``as_of`` while it runs."""
    begins = dt.datetime.combine(month.replace(day=1), dt.time(0), tz)
    ends = dt.datetime.combine((month.replace(day=1) + dt.timedelta(days=32)).replace(day=1), dt.time(0), tz)
    return begins, min(ends, as_of)


_FIRST, _LAST = dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC)


def finish_time(changes: Iterable[tuple[dt.datetime, int]]) -> tuple[dt.datetime | None, int]:
    """The 2.1 end time of a dossier once everything has happened (None while open or overdue by a second
    request) and its number of supplement requests."""
    life = lifecycle(changes)
    verdict = progress(life, _LAST, _FIRST, _LAST)
    end = verdict.end_at if verdict and verdict.end_kind != "open" else None
    return end, len(life.requests)


def on_time(changes: Iterable[tuple[dt.datetime, int]], due: dt.datetime, period_end: dt.datetime) -> bool:
    """2.1 evaluated at ``period_end`` for a dossier received before it: end time <= due time."""
    life = lifecycle(changes)
    verdict = progress(life, due, _FIRST, period_end)
    return bool(verdict and verdict.on_time)


def indicator_rows() -> list[dict]:
    """The indicators as the dbt seed ``kpi766_indicators`` (``tthc seeds``): points and thresholds
    reach the marts from here, never typed twice."""
    return [{"indicator_code": i.code, "group_code": i.group, "group_name_vi": GROUPS[i.group][0],
             "group_name_en": GROUPS[i.group][1], "title": i.title, "points": i.points,
             "threshold": "" if i.threshold is None else i.threshold, "level": i.level, "method": i.method,
             "method_reason": i.reason, "is_in_total": str(i.in_total).lower(), "numerator": i.numerator,
             "denominator": i.denominator, "source_fields": i.source, "shortfall": i.shortfall}
            for i in INDICATORS]
