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

-- Office time of the province's calendar in SQL, as include/tthc/calendar.py defines it, over dbt's seed
-- staging.working_calendar: per day its office seconds before it and, on working days, its opening, lunch and
-- closing seconds (Nghe An's seasonal hours; never typed here). The bodies are checked when called, so they
-- may be created before dbt builds the seed. A test compares them with Python's (tests/test_calendar.py).
SET check_function_bodies = off;
CREATE OR REPLACE FUNCTION audit.office_seconds(ts timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT c.office_seconds_before
           + CASE WHEN NOT c.is_working_day THEN 0 ELSE
                 least(greatest(floor(extract(epoch FROM (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::time))::bigint
                                - c.opens_second, 0), c.lunch_starts_second - c.opens_second)
                 + least(greatest(floor(extract(epoch FROM (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::time))::bigint
                                  - c.lunch_ends_second, 0), c.closes_second - c.lunch_ends_second)
             END
    FROM staging.working_calendar c
    WHERE c.calendar_date = (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
$$;
COMMENT ON FUNCTION audit.office_seconds(timestamptz) IS 'office seconds from the calendar''s first day (tthc.calendar.office_us // 1e6)';

-- The working day whose office time holds secs is the last one that starts at or before it (a block's end is
-- the next block's start); past the calendar's last working day: null.
CREATE OR REPLACE FUNCTION audit.office_moment(secs bigint) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT (c.calendar_date
            + CASE WHEN secs - c.office_seconds_before < c.lunch_starts_second - c.opens_second
                   THEN c.opens_second + secs - c.office_seconds_before
                   ELSE c.lunch_ends_second + secs - c.office_seconds_before - (c.lunch_starts_second - c.opens_second)
              END * interval '1 second')
           AT TIME ZONE 'Asia/Ho_Chi_Minh'
    FROM (SELECT * FROM staging.working_calendar
          WHERE is_working_day AND office_seconds_before <= secs
          ORDER BY office_seconds_before DESC LIMIT 1) c
    WHERE secs - c.office_seconds_before
          < c.lunch_starts_second - c.opens_second + c.closes_second - c.lunch_ends_second
$$;
COMMENT ON FUNCTION audit.office_moment(bigint) IS 'the moment office_seconds reaches secs (a block''s end is the next block''s start)';

CREATE OR REPLACE FUNCTION audit.office_after(ts timestamptz, minutes double precision) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT audit.office_moment(audit.office_seconds(ts) + floor(minutes * 60)::bigint)
$$;
COMMENT ON FUNCTION audit.office_after(timestamptz, double precision) IS 'tthc.calendar.add_office_minutes, to the whole second';
SET check_function_bodies = on;
