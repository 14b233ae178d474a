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
