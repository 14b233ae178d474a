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

-- Load coverage (covered, provisional, holes) needs the freshness rule replayed over the load log: tthc.coverage
-- computes it in Python (`tthc coverage`); the SQL view that called every loaded window covered is gone.
DROP VIEW IF EXISTS audit.load_coverage;

-- pipeline-wide, nothing of a dossier: scoped inspectors read it too
GRANT SELECT ON audit.quarantine_summary TO tthc_scoped_inspector;
