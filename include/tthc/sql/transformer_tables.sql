-- Tables the dbt project reads but does not build, owned by tthc_transformer (run as that role).

-- The HMAC key's inner and outer pads: dbt pseudonymises personal ID numbers in SQL with them
-- (sha256(opad || sha256(ipad || id)) = HMAC-SHA256), so the key never appears in compiled SQL,
-- target/ or a log. Only tthc_transformer reads it (nobody else has USAGE on staging).
CREATE TABLE IF NOT EXISTS staging.pii_hmac_pads (
    key_id          text        PRIMARY KEY CHECK (key_id = 'current'),
    ipad            bytea       NOT NULL,
    opad            bytea       NOT NULL,
    key_fingerprint text        NOT NULL,  -- tells when the key changed; reveals nothing of it
    updated_at      timestamptz NOT NULL
);
REVOKE ALL ON staging.pii_hmac_pads FROM PUBLIC;
COMMENT ON TABLE staging.pii_hmac_pads IS 'HMAC-SHA256 pads of TTHC_PII_KEY (tthc_transformer only); re-key = dbt build --full-refresh';

-- Build windows: the loads a dbt build may read. Opened under an exclusive lock that waits for the
-- loads in flight (each holds the shared lock for its transaction), so every load up to
-- upper_load_id has committed or failed: an incremental model never skips a load that commits late.
CREATE TABLE IF NOT EXISTS audit.build_window (
    build_id      bigserial   PRIMARY KEY,
    upper_load_id bigint      NOT NULL,
    opened_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit.build_window IS 'the raw loads each dbt build may read: those with load_id <= upper_load_id';

-- How far each incremental dbt model has processed: the build window (staging) or the least of its
-- upstream models' (later layers), recorded whether or not a build brought it new rows.
CREATE TABLE IF NOT EXISTS audit.model_watermark (
    model_name       text        PRIMARY KEY,
    processed_window bigint      NOT NULL,
    updated_at       timestamptz NOT NULL
);
COMMENT ON TABLE audit.model_watermark IS 'per incremental dbt model: the raw load window it has processed up to';

-- Office time of the province's calendar in SQL, as include/tthc/calendar.py defines it (07:30-11:30,
-- 13:30-17:00 on working days), over dbt's seed staging.working_calendar (its bodies are checked when
-- called, so they may be created before dbt builds the seed). A test compares them with Python's.
SET check_function_bodies = off;
CREATE OR REPLACE FUNCTION audit.office_seconds(ts timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT c.working_days_before * 27000::bigint
           + CASE WHEN NOT c.is_working_day THEN 0 ELSE
                 least(greatest(floor(extract(epoch FROM (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::time))::bigint - 27000, 0), 14400)
                 + least(greatest(floor(extract(epoch FROM (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::time))::bigint - 48600, 0), 12600)
             END
    FROM staging.working_calendar c
    WHERE c.calendar_date = (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
$$;
COMMENT ON FUNCTION audit.office_seconds(timestamptz) IS 'office seconds from the calendar''s first day (tthc.calendar.office_us / 1e6)';

CREATE OR REPLACE FUNCTION audit.office_moment(secs bigint) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT (c.calendar_date + CASE WHEN secs % 27000 < 14400 THEN time '07:30' + (secs % 27000) * interval '1 second'
                                   ELSE time '13:30' + (secs % 27000 - 14400) * interval '1 second' END)
           AT TIME ZONE 'Asia/Ho_Chi_Minh'
    FROM staging.working_calendar c
    WHERE c.is_working_day AND c.working_days_before = secs / 27000
$$;
COMMENT ON FUNCTION audit.office_moment(bigint) IS 'the moment office_seconds reaches secs (a block''s end is the next block''s start)';

CREATE OR REPLACE FUNCTION audit.office_after(ts timestamptz, minutes double precision) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT audit.office_moment(audit.office_seconds(ts) + floor(minutes * 60)::bigint)
$$;
COMMENT ON FUNCTION audit.office_after(timestamptz, double precision) IS 'tthc.calendar.add_office_minutes, to the whole second';
SET check_function_bodies = on;
