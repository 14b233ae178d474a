"""The inspectors' audit report for one day: a self-contained HTML page (plotly.js embedded, opens from
disk with no network) and the CSV files behind every chart and table, built from ``marts`` only.

One report covers the provinces it is given (one warehouse may hold several): the overview adds them
up and a table shows each apart; every drill-down row names its province.
Vietnamese headings with English sub-labels. Sections: the province overview (sync ratio, on-time rate,
online rate, open gaps by code; 30-day trends), the sync delay (bands per day, distribution per agency,
the worst agencies and procedures), drill-down tables (open gaps; late dossiers without an apology
letter; "online" filings by civil-servant accounts; online filings from 2024-07-01 whose account was not
VNeID-verified), and the Decision 766 index per agency for the month with the numbers behind it and how
each indicator is computed (document, interpretation or proxy), then where each agency's points went: its
indicators ranked by points lost and the dossiers behind each. A day without data renders a clear empty
state. No personal identifier is read: dossiers appear by their code.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tthc import TthcError
from tthc import config as config_mod
from tthc.calendar import TZ
from tthc.kpi766 import GROUPS, INDICATORS

TREND_DAYS = 30
ROWS_SHOWN = 200  # per drill-down table in the page; the CSV has them all
VNEID_FROM = dt.datetime(2024, 7, 1, tzinfo=TZ)
GAP_CODES = tuple(f"G{n}" for n in range(1, 9))
LOST_SHOWN = 10  # dossiers per agency and indicator in "where the points went"; the CSV has them all
METHODS = {"document": ("theo văn bản", "document"), "interpretation": ("diễn giải", "interpretation"),
           "proxy": ("thay thế", "proxy")}
END_KINDS = {"resolved": ("đã giải quyết", "resolved"), "returned": ("đã trả kết quả", "returned"),
             "stopped": ("dừng xử lý", "stopped"), "withdrawn": ("rút hồ sơ", "withdrawn"),
             "refused": ("từ chối", "refused"), "supplement_requested": ("yêu cầu bổ sung", "supplement requested"),
             "second_supplement_request": ("yêu cầu bổ sung lần hai", "second supplement request"),
             "open": ("chưa kết thúc", "still open"), "refused_at_intake": ("từ chối khi tiếp nhận",
                                                                              "refused at intake")}
BANDS = (("within 15 min", "≤ 15 phút / ≤ 15 min"), ("within 1 h", "15–60 phút / 15–60 min"),
         ("within 24 h", "1–24 giờ / 1–24 h"), ("later", "muộn hơn / later"), ("never", "chưa đồng bộ / never"))


@dataclass
class Report:
    day: dt.date
    path: Path
    csv_files: list[str] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    empty: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "path": str(self.path), "csv_files": self.csv_files,
                "charts": self.charts, "counts": self.counts, "empty": self.empty, "seconds": self.seconds}


# --- the queries (marts only) ----------------------------------------------------------------------
OVERVIEW = """
WITH days AS (
    SELECT d::date AS day FROM generate_series(%(first)s::date, %(day)s::date, interval '1 day') AS d
),
receipts AS (
    SELECT recorded_date AS day, count(*) AS receipts, count(*) FILTER (WHERE is_synced) AS synced
    FROM marts.fct_portal_sync
    WHERE status_code = 2 AND recorded_date BETWEEN %(first)s AND %(day)s AND NOT coalesce(is_handover, false)
      AND province_code = ANY(%(provinces)s)
    GROUP BY 1
),
finished AS (
    SELECT finished_date AS day, count(*) AS finished, count(*) FILTER (WHERE is_on_time) AS on_time
    FROM marts.fct_dossier WHERE finished_date BETWEEN %(first)s AND %(day)s AND province_code = ANY(%(provinces)s)
    GROUP BY 1
),
received AS (
    SELECT received_date AS day, count(*) AS received, count(*) FILTER (WHERE is_online) AS online
    FROM marts.fct_dossier WHERE received_date BETWEEN %(first)s AND %(day)s AND province_code = ANY(%(provinces)s)
    GROUP BY 1
)
SELECT d.day, coalesce(r.receipts, 0), coalesce(r.synced, 0), coalesce(f.finished, 0), coalesce(f.on_time, 0),
       coalesce(v.received, 0), coalesce(v.online, 0)
FROM days AS d
LEFT JOIN receipts AS r ON r.day = d.day
LEFT JOIN finished AS f ON f.day = d.day
LEFT JOIN received AS v ON v.day = d.day
ORDER BY d.day
"""

BY_PROVINCE = """
WITH receipts AS (
    SELECT province_code, count(*) AS receipts, count(*) FILTER (WHERE is_synced) AS synced
    FROM marts.fct_portal_sync
    WHERE status_code = 2 AND recorded_date = %(day)s AND NOT coalesce(is_handover, false)
      AND province_code = ANY(%(provinces)s)
    GROUP BY ROLLUP (1)
),
finished AS (
    SELECT province_code, count(*) AS finished, count(*) FILTER (WHERE is_on_time) AS on_time
    FROM marts.fct_dossier WHERE finished_date = %(day)s AND province_code = ANY(%(provinces)s) GROUP BY ROLLUP (1)
),
received AS (
    SELECT province_code, count(*) AS received, count(*) FILTER (WHERE is_online) AS online
    FROM marts.fct_dossier WHERE received_date = %(day)s AND province_code = ANY(%(provinces)s) GROUP BY ROLLUP (1)
),
gaps AS (
    SELECT province_code, count(*) AS open_gaps FROM marts.audit_sync_gap
    WHERE opened_at < %(day_end)s AND (closed_at IS NULL OR closed_at >= %(day_end)s) AND NOT is_retracted
      AND province_code = ANY(%(provinces)s)
    GROUP BY ROLLUP (1)
),
provinces AS (  -- in the order given, then all together
    SELECT code AS province_code, n FROM unnest(%(provinces)s::text[]) WITH ORDINALITY AS u (code, n)
    UNION ALL SELECT NULL, NULL
)
SELECT coalesce(p.province_code || ' ' || coalesce(n.province_name, ''), 'Tất cả / all'),
       coalesce(r.receipts, 0), coalesce(r.synced, 0), coalesce(f.finished, 0), coalesce(f.on_time, 0),
       coalesce(v.received, 0), coalesce(v.online, 0), coalesce(g.open_gaps, 0)
FROM provinces AS p
LEFT JOIN marts.dim_province AS n ON n.province_code = p.province_code
LEFT JOIN receipts AS r ON r.province_code IS NOT DISTINCT FROM p.province_code
LEFT JOIN finished AS f ON f.province_code IS NOT DISTINCT FROM p.province_code
LEFT JOIN received AS v ON v.province_code IS NOT DISTINCT FROM p.province_code
LEFT JOIN gaps AS g ON g.province_code IS NOT DISTINCT FROM p.province_code
ORDER BY p.n NULLS LAST
"""

OPEN_GAPS_BY_DAY = """
SELECT d::date AS day, g.gap_code, count(g.gap_id)
FROM generate_series(%(first)s::date, %(day)s::date, interval '1 day') AS d
JOIN marts.audit_sync_gap AS g
  ON g.opened_at < (d::date + 1)::timestamp AT TIME ZONE %(tz)s
 AND (g.closed_at IS NULL OR g.closed_at >= (d::date + 1)::timestamp AT TIME ZONE %(tz)s)
 AND NOT g.is_retracted AND g.province_code = ANY(%(provinces)s)
GROUP BY 1, 2 ORDER BY 1, 2
"""

BANDS_BY_DAY = """
SELECT recorded_date, sum(synced_within_15_min_count), sum(synced_within_1_h_count), sum(synced_within_24_h_count),
       sum(synced_later_count), sum(never_synced_count), sum(status_change_count)
FROM marts.audit_sync_delay_daily
WHERE recorded_date BETWEEN %(first)s AND %(day)s AND province_code = ANY(%(provinces)s)
GROUP BY 1 ORDER BY 1
"""

DELAY_BY_AGENCY = """
SELECT s.agency_code, coalesce(a.agency_name, s.agency_code), count(*) AS changes,
       count(*) FILTER (WHERE s.sync_delay_band = 'within 15 min'),
       count(*) FILTER (WHERE s.sync_delay_band = 'within 1 h'),
       count(*) FILTER (WHERE s.sync_delay_band = 'within 24 h'),
       count(*) FILTER (WHERE s.sync_delay_band = 'later'),
       count(*) FILTER (WHERE s.sync_delay_band = 'never'),
       percentile_cont(array[0.05, 0.25, 0.5, 0.75, 0.95]) WITHIN GROUP (ORDER BY s.sync_delay_seconds / 60.0)
FROM marts.fct_portal_sync AS s
LEFT JOIN marts.dim_agency AS a ON a.agency_code = s.agency_code AND a.is_current
WHERE s.recorded_date BETWEEN %(first)s AND %(day)s AND s.province_code = ANY(%(provinces)s)
GROUP BY 1, 2
"""

WORST_PROCEDURES = """
SELECT d.procedure_code, coalesce(p.procedure_name, d.procedure_code), count(*) AS changes,
       count(*) FILTER (WHERE s.sync_delay_band IN ('within 15 min', 'within 1 h')) AS within_1_h,
       count(*) FILTER (WHERE s.sync_delay_band = 'never') AS never,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY s.sync_delay_seconds / 60.0) AS p95
FROM marts.fct_portal_sync AS s
JOIN marts.fct_dossier AS d ON d.dossier_code = s.dossier_code
LEFT JOIN marts.dim_procedure AS p
  ON p.province_code = d.province_code AND p.procedure_code = d.procedure_code AND p.is_current
WHERE s.recorded_date BETWEEN %(first)s AND %(day)s AND s.province_code = ANY(%(provinces)s)
GROUP BY 1, 2 HAVING count(*) >= %(min_changes)s
ORDER BY count(*) FILTER (WHERE s.sync_delay_band IN ('within 15 min', 'within 1 h'))::numeric / count(*),
         never DESC, 1
LIMIT 15
"""

OPEN_GAPS = """
SELECT gap_code, gap_title, gap_key, dossier_code, agency_code, agency_name, procedure_code, procedure_name,
       onestop_status_code, portal_status_code, opened_at, age_working_hours, province_code
FROM marts.audit_sync_gap
WHERE opened_at < %(day_end)s AND (closed_at IS NULL OR closed_at >= %(day_end)s) AND NOT is_retracted
  AND province_code = ANY(%(provinces)s)
ORDER BY opened_at, gap_code, gap_key
"""

LATE_WITHOUT_APOLOGY = """
SELECT d.dossier_code, d.agency_code, a.agency_name, d.procedure_code, p.procedure_name, d.due_at, d.finished_at,
       d.status_code
FROM marts.fct_dossier AS d
LEFT JOIN marts.dim_agency AS a ON a.agency_code = d.agency_code AND a.is_current
LEFT JOIN marts.dim_procedure AS p
  ON p.province_code = d.province_code AND p.procedure_code = d.procedure_code AND p.is_current
WHERE d.due_at >= %(first_start)s AND d.due_at < %(day_end)s AND d.province_code = ANY(%(provinces)s)
  AND coalesce(d.finished_at, 'infinity') > d.due_at AND NOT d.has_apology_letter
ORDER BY d.due_at, d.dossier_code
"""

ONLINE_FILINGS = """
SELECT d.dossier_code, d.agency_code, a.agency_name, d.procedure_code, p.procedure_name, d.filed_at,
       d.applicant_type_code
FROM marts.fct_dossier AS d
LEFT JOIN marts.dim_agency AS a ON a.agency_code = d.agency_code AND a.is_current
LEFT JOIN marts.dim_procedure AS p
  ON p.province_code = d.province_code AND p.procedure_code = d.procedure_code AND p.is_current
WHERE d.province_code = ANY(%(provinces)s) AND d.is_online AND d.filed_at >= %(first_start)s AND d.filed_at < %(day_end)s AND {condition}
ORDER BY d.filed_at, d.dossier_code
"""

KPI = """
SELECT k.*, coalesce(a.agency_name, k.agency_code) AS agency_name
FROM marts.kpi_agency_monthly AS k
LEFT JOIN marts.dim_agency AS a ON a.agency_code = k.agency_code AND a.is_current
WHERE k.year_month = %(month)s AND k.province_code = ANY(%(provinces)s)
ORDER BY k.total_points DESC, k.agency_code
"""

KPI_DOSSIERS = """
SELECT f.province_code, f.agency_code, f.year_month, f.dossier_code, f.procedure_code,
       coalesce(p.procedure_name, f.procedure_code) AS procedure_name, f.indicator, f.in_denominator,
       f.in_numerator, f.end_at, f.end_kind, f.due_at, f.working_days_late, f.points_lost, f.shortfall
FROM marts.fct_kpi766_dossier AS f
LEFT JOIN marts.dim_procedure AS p
  ON p.province_code = f.province_code AND p.procedure_code = f.procedure_code AND p.is_current
WHERE f.year_month = %(month)s AND f.province_code = ANY(%(provinces)s)
ORDER BY f.province_code, f.agency_code, f.indicator, f.points_lost DESC NULLS LAST,
         f.working_days_late DESC NULLS LAST, f.dossier_code
"""
KPI_DOSSIER_COLUMNS = ["province_code", "agency_code", "year_month", "dossier_code", "procedure_code",
                       "procedure_name", "indicator", "in_denominator", "in_numerator", "end_at", "end_kind",
                       "due_at", "working_days_late", "points_lost", "shortfall"]


# --- rendering helpers -------------------------------------------------------------------------------
def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _rate(part: float, whole: float) -> str | None:
    pct = _pct(part, whole)
    return None if pct is None else f"{pct}%"


def _card(label: str, value) -> str:
    return f'<div class="card">{label}<b>{"–" if value is None else value}</b></div>'


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:,.1f}"
    return html.escape(str(value))


def _table(table_id: str, headers: list[str], rows: list[list], total: int | None = None, empty: str = "") -> str:
    if not rows:
        return f'<p class="empty-state" id="{table_id}">{empty or "Không có dòng nào / No rows"}</p>'
    shown = rows[:ROWS_SHOWN]
    more = (total or len(rows)) - len(shown)
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in shown)
    note = f'<p class="note">… {more:,} dòng nữa trong CSV / {more:,} more rows in the CSV</p>' if more > 0 else ""
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}'


def _write_csv(folder: Path, name: str, headers: list[str], rows: list[list]) -> str:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        for r in rows:
            writer.writerow(["" if v is None else v.isoformat() if isinstance(v, dt.datetime | dt.date) else v
                             for v in r])
    return name


class Charts:
    """plotly figures as <div>s; the first carries plotly.js (embedded: the page needs no network)."""

    def __init__(self):
        self.ids: list[str] = []

    def render(self, chart_id: str, fig, height: int = 360) -> str:
        import plotly.io as pio

        fig.update_layout(margin={"l": 50, "r": 20, "t": 40, "b": 40}, height=height, template="plotly_white",
                          legend={"orientation": "h", "y": -0.2})
        div = pio.to_html(fig, full_html=False, include_plotlyjs=not self.ids, div_id=chart_id,
                          config={"displaylogo": False, "responsive": True})
        self.ids.append(chart_id)
        return f'<div class="chart">{div}</div>'

    @staticmethod
    def empty(chart_id: str, what: str) -> str:
        return f'<div class="chart empty-state" id="{chart_id}">Không có dữ liệu / No data: {what}</div>'


def delay_boxes(rows: list[list]):
    """The sync delay distribution per agency: one horizontal box per agency (its own row, the agency's name
    on the y axis, the highest p95 on top). rows: sync_delay_by_agency.csv's rows (p05..p95 at 8..12).
    A box from precomputed quartiles sits where its ``y`` says (its name does not place it)."""
    import plotly.graph_objects as go

    def label(r) -> str:
        name = str(r[1] or r[0])
        return f"{name if len(name) <= 40 else name[:39] + '…'} ({r[0]})" if name != r[0] else str(r[0])

    fig = go.Figure([go.Box(y=[label(r)], name=label(r), orientation="h", q1=[r[9]], median=[r[10]], q3=[r[11]],
                            lowerfence=[r[8]], upperfence=[r[12]], hovertext=str(r[1]), showlegend=False)
                     for r in rows])
    fig.update_layout(title="Phân bố độ trễ đồng bộ (phút, p5–p95), 20 cơ quan có p95 cao nhất / sync delay "
                      "distribution (min, p5–p95), the 20 agencies with the highest p95",
                      xaxis={"type": "log", "title": "phút / min"},
                      yaxis={"type": "category", "autorange": "reversed", "automargin": True})
    return fig


STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:16px;
color:#1d2733}
h1{font-size:1.6em;margin-bottom:0} h2{margin-top:2em;border-bottom:2px solid #c0392b;padding-bottom:4px}
h3{margin-top:1.5em} small{color:#667;font-weight:normal;font-size:.75em;display:block}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{border:1px solid #dde;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{font-size:1.5em;display:block}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:8px 0}
th,td{border:1px solid #dde;padding:3px 6px;text-align:left;vertical-align:top} th{background:#f3f5f8}
.empty-state{padding:24px;text-align:center;color:#667;border:1px dashed #bbc;border-radius:6px;margin:8px 0}
.note{color:#667;font-size:.85em} .chart{margin:8px 0} details{margin:2px 0}
"""


# --- the report ---------------------------------------------------------------------------------------
def build_report(dsn: str, day: dt.date, out: Path, provinces: str | Sequence[str] | None = None) -> Report:
    """Write ``out/index.html`` and the CSV files for ``day`` (30-day trends end on it), for the given
    province(s) (default: every province the marts hold): together, and each apart."""
    import plotly.graph_objects as go

    t0 = time.monotonic()
    provinces = [provinces] if isinstance(provinces, str) else None if provinces is None else list(provinces)
    out.mkdir(parents=True, exist_ok=True)
    first = day - dt.timedelta(days=TREND_DAYS - 1)
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), TZ)
    first_start = dt.datetime.combine(first, dt.time(0), TZ)
    p = {"first": first, "day": day, "day_end": day_end, "first_start": first_start, "tz": str(TZ),
         "month": day.strftime("%Y-%m"), "min_changes": 20, "provinces": provinces}
    report = Report(day=day, path=out / "index.html")
    charts = Charts()
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('marts.fct_dossier')").fetchone()[0] is None:
            raise TthcError("no marts yet: build the star schema first (tthc build, or tthc demo)")
        if provinces is None:
            provinces = [c for (c,) in conn.execute("SELECT province_code FROM marts.dim_province ORDER BY 1")]
            p["provinces"] = provinces
        overview = conn.execute(OVERVIEW, p).fetchall()
        by_province = conn.execute(BY_PROVINCE, p).fetchall()
        names = dict(conn.execute("SELECT province_code, province_name FROM marts.dim_province "
                                  "WHERE province_code = ANY(%(provinces)s)", p).fetchall())
        gaps_by_day = conn.execute(OPEN_GAPS_BY_DAY, p).fetchall()
        bands = conn.execute(BANDS_BY_DAY, p).fetchall()
        by_agency = conn.execute(DELAY_BY_AGENCY, p).fetchall()
        worst_procedures = conn.execute(WORST_PROCEDURES, p).fetchall()
        open_gaps = conn.execute(OPEN_GAPS, p).fetchall()
        late = conn.execute(LATE_WITHOUT_APOLOGY, p).fetchall()
        by_servants = conn.execute(ONLINE_FILINGS.format(condition="d.is_filed_by_civil_servant"), p).fetchall()
        unverified = conn.execute(ONLINE_FILINGS.format(
            condition="NOT d.is_vneid_verified AND d.filed_at >= %(vneid_from)s"), {**p, "vneid_from": VNEID_FROM}
        ).fetchall()
        kpi_cursor = conn.execute(KPI, p)
        kpi_columns = [c.name for c in kpi_cursor.description]
        kpi = kpi_cursor.fetchall()
        kpi_dossiers = conn.execute(KPI_DOSSIERS, p).fetchall()  # same connection and role as the rest

    today = next((r for r in overview if r[0] == day), None)
    report.empty = not any(sum(r[1:]) for r in overview) and not open_gaps and not gaps_by_day
    sections: list[str] = []

    # 1. overview ---------------------------------------------------------------------------------------
    overview_rows = [[r[0], r[1], r[2], _pct(r[2], r[1]), r[3], r[4], _pct(r[4], r[3]), r[5], r[6], _pct(r[6], r[5])]
                     for r in overview]
    report.csv_files.append(_write_csv(out, "overview_daily.csv", [
        "date", "receipts", "receipts_synced", "sync_ratio_pct", "finished", "finished_on_time", "on_time_pct",
        "received", "received_online", "online_pct"], overview_rows))
    open_today = {code: n for d, code, n in gaps_by_day if d == day}
    gap_rows = [[d, *[next((n for dd, c, n in gaps_by_day if dd == d and c == code), 0) for code in GAP_CODES]]
                for d in (r[0] for r in overview)]
    report.csv_files.append(_write_csv(out, "open_gaps_daily.csv", ["date", *GAP_CODES], gap_rows))
    rates = [_rate(today[a], today[b]) if today else None for a, b in ((2, 1), (4, 3), (6, 5))]
    cards = "".join([
        _card("Tỷ lệ đồng bộ <small>sync ratio (766 ind. 1.4)</small>", rates[0]),
        _card("Đúng hạn <small>on time</small>", rates[1]),
        _card("Trực tuyến <small>online</small>", rates[2]),
        _card("Sai lệch đang mở <small>open gaps</small>", sum(open_today.values())),
    ])
    if report.empty:
        sections.append('<p class="empty-state" id="empty-day">Không có hồ sơ và không có sai lệch trong 30 ngày '
                        'đến ngày này / No dossiers and no gaps in the 30 days to this day.</p>')
    dates = [r[0] for r in overview]
    if any(r[1] or r[3] or r[5] for r in overview):
        fig = go.Figure()
        for idx, name in ((3, "Tỷ lệ đồng bộ / sync ratio"), (6, "Đúng hạn / on time"), (9, "Trực tuyến / online")):
            fig.add_trace(go.Scatter(x=dates, y=[r[idx] for r in overview_rows], mode="lines+markers", name=name,
                                     connectgaps=True))
        fig.update_layout(title="Xu hướng 30 ngày (%) / 30-day trend (%)", yaxis={"range": [0, 105]})
        overview_chart = charts.render("chart-overview", fig)
    else:
        overview_chart = Charts.empty("chart-overview", "no receipts, finishes or filings in 30 days")
    if gaps_by_day:
        fig = go.Figure([go.Bar(x=dates, y=[row[1 + i] for row in gap_rows], name=code)
                         for i, code in enumerate(GAP_CODES) if any(row[1 + i] for row in gap_rows)])
        fig.update_layout(barmode="stack", title="Sai lệch đang mở cuối ngày, theo mã / open gaps at day end, by code")
        gaps_chart = charts.render("chart-open-gaps", fig)
    else:
        gaps_chart = Charts.empty("chart-open-gaps", "no open gap in 30 days")
    gap_counts = " ".join(f"{c}: {open_today.get(c, 0)}" for c in GAP_CODES)
    province_rows = [[r[0], r[1], _pct(r[2], r[1]), r[3], _pct(r[4], r[3]), r[5], _pct(r[6], r[5]), r[7]]
                     for r in by_province]
    report.csv_files.append(_write_csv(out, "by_province.csv", [
        "province", "receipts", "sync_ratio_pct", "finished", "on_time_pct", "received", "online_pct",
        "open_gaps"], province_rows))
    province_table = _table("by-province", ["Tỉnh / province", "Tiếp nhận / receipts", "Đồng bộ / synced (%)",
                                            "Kết thúc / finished", "Đúng hạn / on time (%)", "Tiếp nhận HS / received",
                                            "Trực tuyến / online (%)", "Sai lệch mở / open gaps"], province_rows)
    sections.append(f"""<h2>1. Tổng quan toàn tỉnh <small>Province overview</small></h2>
<div class="cards">{cards}</div><p class="note">Sai lệch đang mở cuối ngày / open at day end — {gap_counts}</p>
<h3>Theo tỉnh, trong ngày <small>Each province apart and all together, on the day</small></h3>{province_table}
{overview_chart}{gaps_chart}""")

    # 2. sync delay -------------------------------------------------------------------------------------
    band_rows = [[r[0], *[int(v) for v in r[1:]]] for r in bands]
    report.csv_files.append(_write_csv(out, "sync_delay_daily.csv", [
        "date", "within_15_min", "within_1_h", "within_24_h", "later", "never", "status_changes"], band_rows))
    agency_rows = sorted(([r[0], r[1], r[2], *r[3:8], *(round(q, 1) if q is not None else None for q in (r[8] or [None] * 5))]
                          for r in by_agency), key=lambda r: (-(r[12] or 0), r[0]))
    report.csv_files.append(_write_csv(out, "sync_delay_by_agency.csv", [
        "agency_code", "agency_name", "status_changes", "within_15_min", "within_1_h", "within_24_h", "later",
        "never", "p05_min", "p25_min", "median_min", "p75_min", "p95_min"], agency_rows))
    if band_rows:
        fig = go.Figure([go.Bar(x=[r[0] for r in band_rows], y=[_pct(r[1 + i], r[6]) for r in band_rows], name=label)
                         for i, (_, label) in enumerate(BANDS)])
        fig.update_layout(barmode="stack", title="Thời gian đồng bộ, tỷ lệ thay đổi trạng thái (%) / sync delay, share "
                          "of status changes (%)", yaxis={"range": [0, 100]})
        bands_chart = charts.render("chart-delay-bands", fig)
    else:
        bands_chart = Charts.empty("chart-delay-bands", "no status change in 30 days")
    boxed = [r for r in agency_rows if r[8] is not None and r[2] >= 10][:20]
    if boxed:
        box_chart = charts.render("chart-delay-agencies", delay_boxes(boxed), height=120 + 26 * len(boxed))
    else:
        box_chart = Charts.empty("chart-delay-agencies", "no agency with synced changes in 30 days")
    worst_agencies = sorted((r for r in agency_rows if r[2] >= p["min_changes"]),
                            key=lambda r: ((r[3] + r[4]) / r[2], -r[7], r[0]))[:15]
    sections.append(f"""<h2>2. Độ trễ đồng bộ <small>Sync delay (one-stop record → portal NgayDongBo)</small></h2>
{bands_chart}{box_chart}
<h3>Cơ quan đồng bộ chậm nhất <small>Worst agencies (share synced within 1 h, at least {p['min_changes']} changes)</small></h3>
{_table("worst-agencies", ["Mã / code", "Cơ quan / agency", "Thay đổi / changes", "≤ 1 h (%)", "Chưa / never",
                            "Trung vị / median (min)", "p95 (min)"],
        [[r[0], r[1], r[2], _pct(r[3] + r[4], r[2]), r[7], r[10], r[12]] for r in worst_agencies])}
<h3>Thủ tục đồng bộ chậm nhất <small>Worst procedures</small></h3>
{_table("worst-procedures", ["Mã / code", "Thủ tục / procedure", "Thay đổi / changes", "≤ 1 h (%)", "Chưa / never",
                              "p95 (min)"],
        [[r[0], r[1], r[2], _pct(r[3], r[2]), r[4], round(r[5], 1) if r[5] is not None else None]
         for r in worst_procedures])}""")

    # 3. drill-down -------------------------------------------------------------------------------------
    gap_headers = ["gap_code", "gap_title", "gap_key", "dossier_code", "agency_code", "agency_name", "procedure_code",
                   "procedure_name", "onestop_status_code", "portal_status_code", "opened_at", "age_working_hours",
                   "province_code"]
    report.csv_files.append(_write_csv(out, "open_gaps.csv", gap_headers, open_gaps))
    dossier_headers = ["dossier_code", "agency_code", "agency_name", "procedure_code", "procedure_name"]
    report.csv_files.append(_write_csv(out, "late_without_apology.csv",
                                       [*dossier_headers, "due_at", "finished_at", "status_code"], late))
    report.csv_files.append(_write_csv(out, "online_by_civil_servants.csv",
                                       [*dossier_headers, "filed_at", "applicant_type_code"], by_servants))
    report.csv_files.append(_write_csv(out, "online_not_vneid_verified.csv",
                                       [*dossier_headers, "filed_at", "applicant_type_code"], unverified))
    show = lambda rows: [[r[0], r[2] or r[1], r[4] or r[3], *r[5:]] for r in rows]  # noqa: E731
    sections.append(f"""<h2>3. Chi tiết <small>Drill-down</small></h2>
<h3>Sai lệch đang mở cuối ngày ({len(open_gaps):,}) <small>Open gaps at the end of the day: the dossier, its agency and
procedure, the status on each side now, the age in working hours (to its close or the latest check)</small></h3>
{_table("open-gaps", ["Mã / code", "Tỉnh / province", "Hồ sơ / key", "Cơ quan / agency", "Thủ tục / procedure",
                       "Một cửa / one-stop", "Cổng / portal", "Mở lúc / opened", "Tuổi (giờ LV) / age (wh)"],
        [[r[0], r[12], r[2], r[5] or r[4], r[7] or r[6], r[8], r[9], r[10], r[11]] for r in open_gaps],
        empty="Không có sai lệch đang mở / No open gap")}
<h3>Hồ sơ trễ hạn chưa có phiếu xin lỗi ({len(late):,}) <small>Late dossiers without an apology letter (due in the
30 days)</small></h3>
{_table("late-without-apology", ["Hồ sơ / dossier", "Cơ quan / agency", "Thủ tục / procedure", "Hạn / due",
                                 "Kết thúc / finished", "Trạng thái / status"], show(late))}
<h3>Hồ sơ "trực tuyến" do tài khoản công chức nộp ({len(by_servants):,}) <small>"Online" filings made by civil-servant
accounts (30 days)</small></h3>
{_table("online-by-civil-servants", ["Hồ sơ / dossier", "Cơ quan / agency", "Thủ tục / procedure", "Nộp / filed",
                                     "Đối tượng / applicant type"], show(by_servants))}
<h3>Hồ sơ trực tuyến từ 01/07/2024, tài khoản chưa xác thực VNeID ({len(unverified):,}) <small>Online filings from
2024-07-01 whose account was not VNeID-verified (30 days)</small></h3>
{_table("online-not-vneid", ["Hồ sơ / dossier", "Cơ quan / agency", "Thủ tục / procedure", "Nộp / filed",
                             "Đối tượng / applicant type"], show(unverified))}""")

    # 4. the 766 index ----------------------------------------------------------------------------------
    kpi_dicts = [dict(zip(kpi_columns, r, strict=True)) for r in kpi]
    kpi_headers = [c for c in kpi_columns if not c.startswith("_")]
    report.csv_files.append(_write_csv(out, "kpi766_agencies.csv", kpi_headers,
                                       [[k[c] for c in kpi_headers] for k in kpi_dicts]))
    report.csv_files.append(_write_csv(out, "kpi766_dossiers.csv", KPI_DOSSIER_COLUMNS, kpi_dossiers))
    lost_html, losing = _points_lost(kpi_dicts, kpi_dossiers)
    sections.append(f"""<h2>4. Chỉ số Quyết định 766 tháng {day.strftime('%m/%Y')} <small>Decision 766 index per agency
for {day.strftime('%Y-%m')}: each group's points and the numbers behind them</small></h2>
{_methods_table()}
{_kpi_table(kpi_dicts)}
<h3>Điểm bị mất ở đâu ({losing:,} cơ quan) <small>Where the points went: per agency, the scored indicators ranked by
points lost (points − earned), and under each the dossiers that fell short of it, each carrying an equal share of the
loss (the top {LOST_SHOWN}; all of them in kpi766_dossiers.csv)</small></h3>
{lost_html}""")

    report.counts = {"open_gaps": len(open_gaps), "late_without_apology": len(late),
                     "online_by_civil_servants": len(by_servants), "online_not_vneid_verified": len(unverified),
                     "kpi_agencies": len(kpi), "kpi766_dossier_rows": len(kpi_dossiers),
                     "kpi766_agencies_losing_points": losing, "status_changes_30d": sum(r[2] for r in agency_rows)}
    report.charts = charts.ids
    place = ", ".join(f"tỉnh {names.get(c, c)} ({c})" for c in provinces)
    page = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Báo cáo đồng bộ hồ sơ TTHC {day.isoformat()} / TTHC sync audit report</title><style>{STYLE}</style></head>
<body><h1>Báo cáo kiểm tra đồng bộ hồ sơ thủ tục hành chính — {html.escape(place)}, ngày {day.strftime('%d/%m/%Y')}
<small>Audit report: synchronisation of administrative-procedure dossiers with the national portal, {day.isoformat()}
(30-day trends from {first.isoformat()})</small></h1>
<p class="note">Nguồn: kho dữ liệu, lược đồ marts / Source: the warehouse's marts. CSV: {", ".join(report.csv_files)}</p>
{''.join(sections)}
</body></html>"""
    report.path.write_text(page, encoding="utf-8")
    report.seconds = round(time.monotonic() - t0, 2)
    return report


def _num(value) -> float | None:
    return None if value is None else float(value)


def _method(ind) -> str:
    """The indicator's method, its reason as the tooltip."""
    vi, en = METHODS[ind.method]
    return f'<span class="method method-{ind.method}" title="{html.escape(ind.reason)}">{vi} / {en}</span>'


def _title(ind) -> str:
    full = f" (đủ điểm ở / full at {ind.threshold * 100:g} %)" if ind.threshold else ""
    return html.escape(ind.title + full)


def _methods_table() -> str:
    """Each indicator once: points, threshold, how it is computed and why (collapsible)."""
    rows = "".join(
        f'<tr><td>{ind.code}</td><td>{html.escape(GROUPS[ind.group][1])}</td><td>{_title(ind)}</td>'
        f'<td>{"không có điểm / no points" if not ind.points else f"{ind.points:g}"}'
        f'{"" if ind.in_total or not ind.points else "<small>không tính vào tổng / not scored</small>"}</td>'
        f'<td>{_method(ind)}</td><td>{html.escape(ind.reason)}</td></tr>' for ind in INDICATORS)
    return f"""<p class="note">Cách tính / method: <b>theo văn bản / document</b> — như quy tắc công bố mô tả, từ các
trường nó nêu / as the published rules describe it, from the fields they name; <b>diễn giải / interpretation</b> — quy
tắc im lặng, mơ hồ hoặc nêu trường nguồn không có: lý do nói đã chọn gì / the rules are silent or ambiguous, or name a
field the sources lack: the reason says what was chosen; <b>thay thế / proxy</b> — nguồn không có dữ liệu quy tắc cần:
hiển thị, không tính điểm / the sources hold nothing the rule needs: a stand-in, shown but not scored.</p>
<details id="kpi766-methods"><summary>Cách tính từng chỉ tiêu / how each indicator is computed</summary><table>
<thead><tr><th>Mã / code</th><th>Nhóm / group</th><th>Chỉ tiêu / indicator</th><th>Điểm / points</th>
<th>Cách tính / method</th><th>Lý do / reason</th></tr></thead><tbody>{rows}</tbody></table></details>"""


def _indicator_cells(ind, k: dict) -> str:
    """Numerator, denominator, rate and points of one indicator for one agency (2.2: the average working days,
    no points; a proxy: its points, not scored)."""
    num, den = k.get(f"ind_{ind.column}_numerator"), k.get(f"ind_{ind.column}_denominator")
    rate, points = _num(k.get(f"ind_{ind.column}_rate")), _num(k.get(f"ind_{ind.column}_points"))
    if not ind.points:
        shown_rate = None if rate is None else f"TB / avg {rate:.1f} ngày LV / working days"
        shown_points = "không có điểm / no points"
    else:
        shown_rate = None if rate is None else f"{100 * rate:.1f}%"
        shown_points = f"{'–' if points is None else f'{points:.2f}'} / {ind.points:g}"
        if not ind.in_total:
            shown_points += "<small>không tính điểm / not scored</small>"
    return (f"<td>{_cell(num)}</td><td>{_cell(den)}</td><td>{_cell(shown_rate)}</td>"
            f"<td>{shown_points}</td>")


def _kpi_table(rows: list[dict]) -> str:
    if not rows:
        return '<p class="empty-state" id="kpi766">Chưa có chỉ số cho tháng này / No index for this month yet</p>'
    head = "".join(f"<th>{g}</th>" for g in GROUPS)
    body = []
    for k in rows:
        numbers = "".join(
            f'<tr class="{"proxy" if not ind.in_total else "scored"}"><td>{ind.code}</td><td>{_title(ind)}</td>'
            f"<td>{_method(ind)}</td>{_indicator_cells(ind, k)}</tr>" for ind in INDICATORS)
        groups = "".join(f"<td>{_cell(_num(k.get(g.lower() + '_points')))}</td>" for g in GROUPS)
        scored = _num(k.get("scored_points"))
        body.append(
            f"<tr><td>{html.escape(k['agency_code'])}</td><td><details><summary>{html.escape(k['agency_name'])}"
            f"</summary><table><thead><tr><th>Chỉ tiêu / indicator</th><th></th><th>Cách tính / method</th>"
            f"<th>Tử số / numerator</th><th>Mẫu số / denominator</th><th>Tỷ lệ / rate</th><th>Điểm / points</th>"
            f"</tr></thead><tbody>{numbers}</tbody></table></details></td><td><b>{_cell(_num(k['total_points']))}"
            f"</b>{'' if scored is None else f' / {scored:.1f}'}</td>{groups}</tr>")
    return (f'<table id="kpi766"><thead><tr><th>Mã / code</th><th>Cơ quan / agency (mở: các số / open: the numbers)'
            f'</th><th>Tổng / total (trên tối đa có thể / of the possible)</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _what_went_wrong(indicator: str, end_kind: str | None, working_days_late, shortfall: str | None) -> str:
    """2.1: late by N working days, or overdue and why; the others: what the dossier lacks (the seed's words)."""
    if indicator == "2.1":
        kind = END_KINDS.get(end_kind, (end_kind, end_kind)) if end_kind else None
        if working_days_late is not None:
            late = float(working_days_late)
            return (f"trễ {late:.1f} ngày làm việc / late by {late:.1f} working days"
                    + (f" ({kind[0]} / {kind[1]})" if kind else ""))
        if kind:
            return f"quá hạn: {kind[0]} / overdue: {kind[1]}"
    return shortfall or ""


def indicators_lost(k: dict) -> list[tuple]:
    """One agency's scored indicators that lost points: (indicator, points lost), the most first."""
    lost = []
    for ind in INDICATORS:
        earned = _num(k.get(f"ind_{ind.column}_points"))
        if ind.in_total and earned is not None and ind.points - earned > 1e-6:
            lost.append((ind, ind.points - earned))
    return sorted(lost, key=lambda x: -x[1])


def _points_lost(kpi: list[dict], dossiers: list) -> tuple[str, int]:
    """Per agency that lost points: its indicators by points lost, the dossiers behind each (the top
    LOST_SHOWN, collapsible). dossiers: KPI_DOSSIERS rows. Returns the HTML and the number of agencies."""
    behind: dict[tuple, list] = {}
    for r in dossiers:
        if r[13] is not None and r[13] > 0:
            behind.setdefault((r[0], r[1], r[6]), []).append(r)
    for rows in behind.values():
        rows.sort(key=lambda r: (-r[13], -(r[12] or 0), r[3]))
    agencies = sorted(((k, indicators_lost(k)) for k in kpi), key=lambda x: (-sum(v for _, v in x[1]),
                                                                            x[0]["agency_code"]))
    parts = []
    for k, lost in agencies:
        if not lost:
            continue
        items = []
        for ind, gone in lost:
            rows = behind.get((k["province_code"], k["agency_code"], ind.code), [])
            num, den = k.get(f"ind_{ind.column}_numerator"), k.get(f"ind_{ind.column}_denominator")
            if rows:
                body = "".join(
                    f"<tr><td>{_cell(r[3])}</td><td>{_cell(r[5])}</td><td>{float(r[13]):.3f}</td>"
                    f"<td>{html.escape(_what_went_wrong(ind.code, r[10], r[12], r[14]))}</td></tr>"
                    for r in rows[:LOST_SHOWN])
                more = len(rows) - LOST_SHOWN
                inner = (f'<table class="lost-dossiers"><thead><tr><th>Hồ sơ / dossier</th><th>Thủ tục / procedure'
                         f'</th><th>Điểm mất / points lost</th><th>Vấn đề / what went wrong</th></tr></thead>'
                         f'<tbody>{body}</tbody></table>'
                         + (f'<p class="note">… {more:,} hồ sơ nữa trong kpi766_dossiers.csv / {more:,} more dossiers '
                            f'in kpi766_dossiers.csv</p>' if more > 0 else ""))
            elif ind.level != "dossier":
                what = {"procedure": "thủ tục / procedures", "petition": "phản ánh kiến nghị / petitions"}[ind.level]
                inner = (f'<p class="note">Chỉ tiêu tính theo {what.split(" / ")[0]}, không theo hồ sơ / counted over '
                         f'{what.split(" / ")[1]}, not dossiers: {_cell(num)} / {_cell(den)}</p>')
            else:
                inner = '<p class="note">Không hồ sơ nào mang phần điểm mất / no dossier carries the loss</p>'
            items.append(
                f'<li class="lost-indicator" data-indicator="{ind.code}"><details><summary>{ind.code} '
                f'{_title(ind)} — mất / lost <b>{gone:.2f}</b> / {ind.points:g} ({_cell(num)} / {_cell(den)}; '
                f'{len(rows):,} hồ sơ / dossiers)</summary>{inner}</details></li>')
        total = sum(v for _, v in lost)
        parts.append(
            f'<details class="lost-agency" data-province="{html.escape(k["province_code"])}" '
            f'data-agency="{html.escape(k["agency_code"])}"><summary><b>{html.escape(k["agency_code"])}</b> '
            f'{html.escape(k["agency_name"])} — mất / lost <b>{total:.2f}</b> điểm / points (đạt / earned '
            f'{_cell(_num(k["total_points"]))})</summary><ol>{"".join(items)}</ol></details>')
    if not parts:
        return ('<p class="empty-state" id="kpi766-lost">Không cơ quan nào mất điểm / No agency lost points'
                '</p>'), 0
    return f'<div id="kpi766-lost">{"".join(parts)}</div>', len(parts)


def cli_report(args) -> int:
    from tthc.warehouse import role_dsn

    settings = config_mod.load()
    report = build_report(role_dsn(settings, "tthc_inspector", start=True), args.date, args.out, settings.provinces)
    print(f"report     {report.path} ({report.path.stat().st_size / 1e6:.1f} MB; {len(report.charts)} charts, "
          f"{len(report.csv_files)} CSV files; {report.counts['open_gaps']} open gaps"
          f"{'; empty day' if report.empty else ''}) in {report.seconds:.1f}s")
    return 0
