-- audit schema, owned by tthc_loader: watermarks, the run log, quarantine counts (no payloads).
CREATE TABLE IF NOT EXISTS audit.extract_watermark (
    province_code text     NOT NULL,   -- whose source system
    source     text        NOT NULL,
    entity     text        NOT NULL,
    watermark  timestamptz NOT NULL,   -- end of the latest committed window
    updated_at timestamptz NOT NULL,
    load_id    bigint      NOT NULL,
    PRIMARY KEY (province_code, source, entity)
);
COMMENT ON TABLE audit.extract_watermark IS 'per province, source and entity: the high-water mark of committed windows; moved only in the window''s own transaction';

CREATE SEQUENCE IF NOT EXISTS audit.load_run_load_id_seq;
CREATE TABLE IF NOT EXISTS audit.load_run (
    load_id          bigint      PRIMARY KEY,
    province_code    text        NOT NULL,
    source           text        NOT NULL,
    entity           text        NOT NULL,
    window_start     timestamptz,
    window_end       timestamptz,
    status           text        NOT NULL CHECK (status IN ('success', 'failed')),
    rows_read        bigint      NOT NULL DEFAULT 0,
    rows_inserted    bigint      NOT NULL DEFAULT 0,  -- rows of records new to the warehouse
    rows_updated     bigint      NOT NULL DEFAULT 0,  -- new versions of records already there
    rows_unchanged   bigint      NOT NULL DEFAULT 0,  -- re-delivered versions (no-op)
    rows_quarantined bigint      NOT NULL DEFAULT 0,
    duration_s       numeric     NOT NULL DEFAULT 0,
    error            text,
    finished_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS load_run_window ON audit.load_run (province_code, source, entity, window_start);
-- What each load saw and when (the source's clock): the observations the freshness rule G8 replays.
ALTER TABLE audit.load_run ADD COLUMN IF NOT EXISTS served_at timestamptz;
ALTER TABLE audit.load_run ADD COLUMN IF NOT EXISTS newest_changed_at timestamptz;
ALTER TABLE audit.load_run ADD COLUMN IF NOT EXISTS oldest_changed_at timestamptz;
COMMENT ON COLUMN audit.load_run.served_at IS 'when the source served the window, by its clock (X-Source-Time), else ours';
COMMENT ON COLUMN audit.load_run.newest_changed_at IS 'the newest change time among the records the window served';
COMMENT ON COLUMN audit.load_run.oldest_changed_at IS 'the oldest: an incremental build reads the raw log from the least of these on (partition pruning)';

CREATE OR REPLACE VIEW audit.quarantine_summary WITH (security_barrier) AS
SELECT province_code, source, entity, reason, (coalesce(recorded_at, _extracted_at) AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day,
       count(*) AS records
FROM (
    SELECT province_code, 'onestop' AS source, entity, reason, recorded_at, _extracted_at FROM raw_onestop.quarantine
    UNION ALL SELECT province_code, 'population', entity, reason, recorded_at, _extracted_at FROM raw_population.quarantine
    UNION ALL SELECT province_code, 'portal', entity, reason, recorded_at, _extracted_at FROM raw_portal.quarantine
) q
GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW audit.quarantine_summary IS 'quarantined records by province, source, entity, reason and day; no payloads';

-- Load coverage: per province, source and entity, the union of the successfully committed windows (kind 'covered',
-- one row per unbroken stretch) and the holes between them (kind 'hole'). A hole is time no successful
-- load has read: a manual run, a backfill and the schedule together can leave one; `tthc coverage` lists
-- them and the gap checks report them beside G8. Windows of catalogue entities overlap; that is fine.
CREATE OR REPLACE VIEW audit.load_coverage WITH (security_barrier) AS
WITH windows AS (
    SELECT province_code, source, entity, window_start, window_end FROM audit.load_run
    WHERE status = 'success' AND window_start IS NOT NULL AND window_end > window_start
),
reach AS (
    SELECT *, max(window_end) OVER (PARTITION BY province_code, source, entity ORDER BY window_start, window_end
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached
    FROM windows
),
stretches AS (
    SELECT *, count(*) FILTER (WHERE reached IS NULL OR window_start > reached)
                  OVER (PARTITION BY province_code, source, entity ORDER BY window_start, window_end) AS stretch
    FROM reach
),
covered AS (
    SELECT province_code, source, entity, stretch, min(window_start) AS covered_from, max(window_end) AS covered_until,
           count(*) AS windows
    FROM stretches GROUP BY 1, 2, 3, 4
)
SELECT province_code, source, entity, 'covered' AS kind, covered_from AS period_start, covered_until AS period_end, windows
FROM covered
UNION ALL
SELECT province_code, source, entity, 'hole', covered_until, next_from, 0
FROM (SELECT *, lead(covered_from) OVER (PARTITION BY province_code, source, entity ORDER BY stretch) AS next_from FROM covered) AS c
WHERE next_from IS NOT NULL;
COMMENT ON VIEW audit.load_coverage IS
    'per province, source and entity: stretches of time covered by successful loads, and the holes between them';

-- pipeline-wide, nothing of a dossier: scoped inspectors read them too
GRANT SELECT ON audit.quarantine_summary, audit.load_coverage TO tthc_scoped_inspector;
