"""The synchronisation-gap rules G1-G7 as the warehouse evaluates them, each declared once: one SQL
query per code over the staging tables, as of an evaluation time (a check run's data interval end),
with the thresholds of the configuration. The rules' words are the simulator's (``RULES``, also in
``truth.json``). The GX suites (``tthc.checks``) are generated from these declarations (their
``UnexpectedRowsExpectation`` runs the query), and the recorder runs the same text to keep every
finding in ``audit.sync_gap`` (GX returns at most 200 rows). G8 (a stale source) is an observation of
the pipeline, not of the data: ``tthc.checks`` replays the load log for it.

As of T the warehouse sees what the sources had recorded before T: one-stop status changes recorded
before T, portal pushes the portal had applied before T (their clock is NgayDongBo, the time the portal
reports), portal applications recorded before T. So a rerun for a past hour finds what the hour found.

The queries read their evaluation context from ``{batch}`` (GX's batch: ``audit.check_context``, one row
with ``as_of`` and the thresholds) and their scope from ``audit.check_scope_*`` (the dossiers,
applications and receipt days that can have changed since the previous check; all of them in a full
check). Each returns ``gap_code, gap_key, instance, dossier_code, agency_code, opened_at, closed_at,
detail``: every gap interval that opened before T, ``closed_at`` null while open at T. GX rewrites ``%``
as ``%%`` in a query asset's SQL: the text uses ``mod()``, never the operator.
"""

from __future__ import annotations

from dataclasses import dataclass

from tthc.sources.sim.truth import RULES

TZ_NAME = "Asia/Ho_Chi_Minh"
FAMILIES = {  # one GX suite per family
    "missing": ("G1", "G4"),
    "timeliness": ("G2", "G3"),
    "content": ("G5", "G6"),
    "counts": ("G7",),
    "freshness": ("G8",),
}
CODES = tuple(f"G{n}" for n in range(1, 9))
SCOPES = {"G1": "dossier", "G2": "dossier", "G3": "dossier", "G4": "application", "G5": "dossier",
          "G6": "dossier", "G7": "day", "G8": "source"}


@dataclass(frozen=True)
class GapRule:
    code: str
    sql: str

    @property
    def title(self) -> str:
        return RULES[self.code].title

    @property
    def definition(self) -> str:
        return RULES[self.code].definition

    @property
    def clock(self) -> str:
        return RULES[self.code].clock

    def query(self, batch: str = "{batch}") -> str:
        """The rule's full text, its context read from ``batch`` (GX substitutes ``{batch}`` itself)."""
        return self.sql.replace("{batch}", batch).strip()

    def open_query(self, batch: str = "{batch}") -> str:
        """What GX counts as unexpected: the gaps open at the evaluation time."""
        return f"SELECT * FROM (\n{self.query(batch)}\n) AS found WHERE found.closed_at IS NULL"


# The dossier-scoped visible timelines every dossier rule starts from.
_VISIBLE = """
WITH ctx AS (SELECT * FROM {batch}),
-- each scope dossier's rows by the dossier_code index (LATERAL: a probe per dossier, never a pass over
-- the year's history, and row estimates the later joins can trust)
changes AS (
    SELECT c.* FROM audit.check_scope_dossier AS s
    CROSS JOIN LATERAL (
        SELECT * FROM staging.stg_onestop__status_changes AS sc
        WHERE sc.dossier_code = s.dossier_code AND sc.recorded_at < (SELECT as_of FROM ctx)
        OFFSET 0  -- kept a subquery: the planner would flatten it into the join it should not be
    ) AS c
),
pushes AS (
    SELECT p.* FROM audit.check_scope_dossier AS s
    CROSS JOIN LATERAL (
        SELECT * FROM staging.stg_portal__sync_records AS sr
        WHERE sr.dossier_code = s.dossier_code AND sr.applied_at < (SELECT as_of FROM ctx)
        OFFSET 0
    ) AS p
),
handler AS (
    -- the agency holding the dossier: that of its latest visible change
    SELECT DISTINCT ON (dossier_code) dossier_code, agency_code FROM changes
    ORDER BY dossier_code, recorded_at DESC, status_change_id COLLATE "C" DESC
)"""

G1 = GapRule("G1", _VISIBLE + """,
receipts AS (
    SELECT dossier_code, min(recorded_at) AS receipt_recorded_at FROM changes WHERE status_code = 2
    GROUP BY dossier_code
),
first_syncs AS (
    SELECT dossier_code, min(synced_at) AS first_synced_at FROM pushes GROUP BY dossier_code
),
due AS (
    SELECT r.dossier_code, r.receipt_recorded_at, s.first_synced_at,
           audit.office_after(r.receipt_recorded_at, (SELECT missing_after_minutes FROM ctx)) AS opened_at
    FROM receipts AS r LEFT JOIN first_syncs AS s ON s.dossier_code = r.dossier_code
)
SELECT 'G1'::text AS gap_code, d.dossier_code AS gap_key, ''::text AS instance, d.dossier_code, h.agency_code,
       d.opened_at, d.first_synced_at AS closed_at,
       jsonb_build_object('receipt_recorded_at', d.receipt_recorded_at) AS detail
FROM due AS d JOIN handler AS h ON h.dossier_code = d.dossier_code
WHERE d.opened_at < (SELECT as_of FROM ctx) AND (d.first_synced_at IS NULL OR d.first_synced_at > d.opened_at)
""")

# The instants at which a dossier's two sides start or stop differing (G2, G5 build their spells on it).
_TRANSITIONS = """transitions AS (
    SELECT * FROM (
        SELECT *, lag(differs) OVER (PARTITION BY dossier_code ORDER BY t) AS differed FROM instants) AS i
    WHERE differs IS DISTINCT FROM coalesce(differed, false)
),"""

G2 = GapRule("G2", _VISIBLE + """,
events AS (
    -- the one-stop's status changes (other than 1) by recorded time, the portal's pushes by NgayDongBo
    SELECT dossier_code, recorded_at AS t, status_change_id AS seq, 0 AS side, status_code FROM changes
    WHERE status_code <> 1
    UNION ALL
    SELECT dossier_code, synced_at, status_change_id, 1, status_code FROM pushes
),
numbered AS (
    SELECT *, row_number() OVER (PARTITION BY dossier_code ORDER BY t, seq COLLATE "C", side) AS n FROM events
),
sides AS (
    -- after each event, each side's latest status (the status of its highest-numbered event so far)
    SELECT dossier_code, t, n,
           mod(max(CASE WHEN side = 0 THEN n * 100 + status_code END)
               OVER (PARTITION BY dossier_code ORDER BY n ROWS UNBOUNDED PRECEDING), 100) AS onestop_status,
           mod(max(CASE WHEN side = 1 THEN n * 100 + status_code END)
               OVER (PARTITION BY dossier_code ORDER BY n ROWS UNBOUNDED PRECEDING), 100) AS portal_status
    FROM numbered
),
instants AS (
    -- every change at one instant applies before the sides are compared
    SELECT dossier_code, t, onestop_status, portal_status,
           portal_status IS NOT NULL AND onestop_status IS DISTINCT FROM portal_status AS differs
    FROM (SELECT *, row_number() OVER (PARTITION BY dossier_code, t ORDER BY n DESC) AS last_first FROM sides) AS s
    WHERE last_first = 1
),
""" + _TRANSITIONS + """
spells AS (
    SELECT dossier_code, t AS since, lead(t) OVER (PARTITION BY dossier_code ORDER BY t) AS until, differs,
           onestop_status, portal_status
    FROM transitions
)
SELECT 'G2'::text AS gap_code, s.dossier_code AS gap_key, ''::text AS instance, s.dossier_code, h.agency_code,
       s.since + (SELECT sync_sla FROM ctx) AS opened_at, s.until AS closed_at,
       jsonb_build_object('differs_since', s.since, 'onestop_status', s.onestop_status,
                          'portal_status', s.portal_status) AS detail
FROM spells AS s JOIN handler AS h ON h.dossier_code = s.dossier_code
WHERE s.differs AND coalesce(s.until, (SELECT as_of FROM ctx)) - s.since > (SELECT sync_sla FROM ctx)
""")

G3 = GapRule("G3", _VISIBLE + """,
first_pushes AS (
    SELECT status_change_id, min(synced_at) AS first_synced_at FROM pushes GROUP BY status_change_id
)
SELECT 'G3'::text AS gap_code, c.dossier_code AS gap_key, c.status_change_id AS instance, c.dossier_code,
       c.agency_code, c.recorded_at + (SELECT sync_sla FROM ctx) AS opened_at, p.first_synced_at AS closed_at,
       jsonb_build_object('status_change_id', c.status_change_id, 'status', c.status_code,
                          'delay_minutes', round(extract(epoch FROM p.first_synced_at - c.recorded_at) / 60, 1))
           AS detail
FROM changes AS c JOIN first_pushes AS p ON p.status_change_id = c.status_change_id
WHERE p.first_synced_at - c.recorded_at > (SELECT sync_sla FROM ctx)
""")

G4 = GapRule("G4", """
WITH ctx AS (SELECT * FROM {batch}),
applications AS (
    SELECT a.application_code, min(a.filed_at) AS filed_at,
           min(a.recorded_at) FILTER (WHERE a.dossier_code IS NOT NULL) AS linked_at,
           max(a.dossier_code) AS dossier_code, max(a.agency_code) AS agency_code
    FROM staging.stg_portal__online_applications AS a
    JOIN audit.check_scope_application AS s ON s.application_code = a.application_code
    WHERE a.recorded_at < (SELECT as_of FROM ctx)
    GROUP BY a.application_code
),
due AS (
    SELECT *, audit.office_after(filed_at, (SELECT missing_after_minutes FROM ctx)) AS opened_at FROM applications
)
SELECT 'G4'::text AS gap_code, application_code AS gap_key, ''::text AS instance, dossier_code, agency_code,
       opened_at, linked_at AS closed_at, jsonb_build_object('filed_at', filed_at) AS detail
FROM due
WHERE opened_at < (SELECT as_of FROM ctx) AND (linked_at IS NULL OR linked_at > opened_at)
""")

G5 = GapRule("G5", _VISIBLE + """,
compared AS (
    -- each push against the one-stop's dossier (its current version)
    SELECT p.dossier_code, p.synced_at, p.status_change_id,
           array_remove(ARRAY[
               CASE WHEN p.procedure_code IS DISTINCT FROM d.procedure_code THEN 'MaTTHC' END,
               CASE WHEN p.due_at IS DISTINCT FROM d.due_at THEN 'NgayHenTra' END,
               CASE WHEN p.channel_code IS DISTINCT FROM d.channel_code THEN 'KenhThucHien' END,
               CASE WHEN p.applicant_key IS DISTINCT FROM d.applicant_key THEN 'SoGiayToChuHoSo' END], NULL)
               AS fields
    FROM pushes AS p JOIN staging.stg_onestop__dossiers AS d ON d.dossier_code = p.dossier_code
),
instants AS (
    -- the portal's copy at each instant: its latest push there (ties by MaQuaTrinh)
    SELECT dossier_code, synced_at AS t, fields, cardinality(fields) > 0 AS differs FROM (
        SELECT *, row_number() OVER (PARTITION BY dossier_code, synced_at
                                     ORDER BY status_change_id COLLATE "C" DESC) AS last_first
        FROM compared) AS c
    WHERE last_first = 1
),
""" + _TRANSITIONS + """
spells AS (
    SELECT dossier_code, t AS since, lead(t) OVER (PARTITION BY dossier_code ORDER BY t) AS until, differs, fields
    FROM transitions
)
SELECT 'G5'::text AS gap_code, s.dossier_code AS gap_key, ''::text AS instance, s.dossier_code, h.agency_code,
       s.since AS opened_at, s.until AS closed_at, jsonb_build_object('fields', to_jsonb(s.fields)) AS detail
FROM spells AS s JOIN handler AS h ON h.dossier_code = s.dossier_code
WHERE s.differs
""")

G6 = GapRule("G6", _VISIBLE + """,
first_seen AS (
    SELECT dossier_code, min(recorded_at) AS first_recorded_at FROM changes GROUP BY dossier_code
)
SELECT 'G6'::text AS gap_code, d.dossier_code AS gap_key, ''::text AS instance, d.dossier_code, h.agency_code,
       f.first_recorded_at AS opened_at, NULL::timestamptz AS closed_at,
       jsonb_build_object('verification', v.verification_result) AS detail
FROM staging.stg_onestop__dossiers AS d
JOIN first_seen AS f ON f.dossier_code = d.dossier_code
JOIN handler AS h ON h.dossier_code = d.dossier_code
JOIN staging.stg_population__verifications AS v
  ON v.province_code = d.province_code AND v.applicant_key = d.applicant_key
WHERE d.applicant_type_code = 1 AND v.verification_result IN ('not_found', 'mismatch')
""")

G7 = GapRule("G7", """
WITH ctx AS (SELECT * FROM {batch}),
receipts AS (
    -- each dossier's receipt (its status-2 change that is not a hand-over) on the scope's days
    SELECT DISTINCT ON (c.dossier_code) c.dossier_code, c.status_change_id, c.agency_code, c.recorded_at,
           (c.changed_at AT TIME ZONE '""" + TZ_NAME + """')::date AS receipt_day
    FROM staging.stg_onestop__status_changes AS c
    JOIN audit.check_scope_day AS s ON c.changed_at >= s.day_starts_at AND c.changed_at < s.day_ends_at
    WHERE c.status_code = 2 AND NOT c.is_handover AND c.recorded_at < (SELECT as_of FROM ctx)
    ORDER BY c.dossier_code, c.recorded_at, c.status_change_id COLLATE "C"
),
days AS (
    SELECT agency_code, receipt_day, count(*) AS receipt_count,
           audit.office_after((receipt_day + 1)::timestamp AT TIME ZONE '""" + TZ_NAME + """',
                              (SELECT missing_after_minutes FROM ctx)) AS starts_at
    FROM receipts GROUP BY agency_code, receipt_day
),
events AS (
    -- +1 when the one-stop recorded a receipt, -1 when its first push reached the portal, 0 at the start
    SELECT agency_code, receipt_day, recorded_at AS t, 1 AS delta FROM receipts
    UNION ALL
    SELECT r.agency_code, r.receipt_day, min(p.synced_at), -1
    FROM receipts AS r JOIN staging.stg_portal__sync_records AS p ON p.status_change_id = r.status_change_id
    WHERE p.applied_at < (SELECT as_of FROM ctx)
    GROUP BY r.agency_code, r.receipt_day, r.status_change_id
    UNION ALL
    SELECT agency_code, receipt_day, starts_at, 0 FROM days
),
balances AS (
    SELECT agency_code, receipt_day, t,
           sum(delta) OVER (PARTITION BY agency_code, receipt_day ORDER BY t RANGE UNBOUNDED PRECEDING) AS balance
    FROM events
),
instants AS (
    SELECT DISTINCT b.agency_code, b.receipt_day, b.t, b.balance <> 0 AS differs
    FROM balances AS b
    JOIN days AS d ON d.agency_code = b.agency_code AND d.receipt_day = b.receipt_day
    WHERE b.t >= d.starts_at AND d.starts_at < (SELECT as_of FROM ctx)
),
transitions AS (
    SELECT * FROM (
        SELECT *, lag(differs) OVER (PARTITION BY agency_code, receipt_day ORDER BY t) AS differed
        FROM instants) AS i
    WHERE differs IS DISTINCT FROM coalesce(differed, false)
),
spells AS (
    SELECT agency_code, receipt_day, t AS since, differs,
           lead(t) OVER (PARTITION BY agency_code, receipt_day ORDER BY t) AS until
    FROM transitions
)
SELECT 'G7'::text AS gap_code, s.agency_code || '|' || s.receipt_day AS gap_key, ''::text AS instance,
       NULL::text AS dossier_code, s.agency_code, s.since AS opened_at, s.until AS closed_at,
       jsonb_build_object('receipt_day', s.receipt_day, 'receipts', d.receipt_count) AS detail
FROM spells AS s JOIN days AS d ON d.agency_code = s.agency_code AND d.receipt_day = s.receipt_day
WHERE s.differs
""")

GAP_RULES: dict[str, GapRule] = {r.code: r for r in (G1, G2, G3, G4, G5, G6, G7)}
