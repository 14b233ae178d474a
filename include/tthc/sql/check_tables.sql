-- The gap checks' tables, owned by tthc_transformer (the checks run as that role). See tthc/checks.py.

-- Every gap found, one row per gap interval, kept across runs: a finding that later data disproves is
-- retracted (retracted_at), never deleted. Runs are named by their evaluation time (as_of).
CREATE TABLE IF NOT EXISTS audit.sync_gap (
    gap_id          text        PRIMARY KEY,  -- gap_code|gap_key|opened_at[|instance]
    gap_code        text        NOT NULL CHECK (gap_code IN ('G1', 'G2', 'G3', 'G4', 'G5', 'G6', 'G7', 'G8')),
    gap_key         text        NOT NULL,
    province_code   text        NOT NULL,  -- the province whose systems the gap is between
    dossier_code    text,
    agency_code     text,
    opened_at       timestamptz NOT NULL,
    closed_at       timestamptz,
    retracted_at    timestamptz,
    first_seen_run  timestamptz NOT NULL,
    last_seen_run   timestamptz NOT NULL,
    detail          jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS sync_gap_key ON audit.sync_gap (gap_code, gap_key);
CREATE INDEX IF NOT EXISTS sync_gap_province ON audit.sync_gap (province_code, gap_code);
CREATE INDEX IF NOT EXISTS sync_gap_dossier ON audit.sync_gap (dossier_code);
CREATE INDEX IF NOT EXISTS sync_gap_open ON audit.sync_gap (gap_code) WHERE closed_at IS NULL AND retracted_at IS NULL;
COMMENT ON TABLE audit.sync_gap IS 'synchronisation gaps G1-G8 found by the checks: one row per gap interval; retracted rows are findings later data disproved';
COMMENT ON COLUMN audit.sync_gap.gap_key IS 'dossier code (G1-G3, G5, G6), portal application code (G4), agency_code|YYYY-MM-DD (G7), source (G8, one per province)';
COMMENT ON COLUMN audit.sync_gap.first_seen_run IS 'as_of (data interval end) of the check run that first found it';
COMMENT ON COLUMN audit.sync_gap.last_seen_run IS 'as_of of the latest check run that found it';
COMMENT ON COLUMN audit.sync_gap.detail IS 'what the rule saw (statuses, fields, delays); never personal data';

-- The evaluation context of the running check: GX's batch for the gap suites (one row).
CREATE TABLE IF NOT EXISTS audit.check_context (
    as_of                 timestamptz      NOT NULL,
    sync_sla              interval         NOT NULL,
    missing_after_minutes double precision NOT NULL,  -- office minutes
    stale_after_minutes   double precision NOT NULL,  -- office minutes
    scope                 text             NOT NULL CHECK (scope IN ('full', 'incremental'))
);
COMMENT ON TABLE audit.check_context IS 'the running gap check: evaluation time and thresholds (GX batch of the gap suites)';

-- What the running check evaluates: what can have changed since the previous check (all in a full one).
CREATE TABLE IF NOT EXISTS audit.check_scope_dossier (dossier_code text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS audit.check_scope_application (application_code text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS audit.check_scope_day (
    receipt_day   date        PRIMARY KEY,
    day_starts_at timestamptz NOT NULL,
    day_ends_at   timestamptz NOT NULL
);

-- One row per check run.
CREATE TABLE IF NOT EXISTS audit.check_run (
    run_id         bigserial   PRIMARY KEY,
    as_of          timestamptz NOT NULL,
    mode           text        NOT NULL CHECK (mode IN ('full', 'incremental', 'replay')),
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    duration_s     numeric,
    stamps         jsonb       NOT NULL DEFAULT '{}',  -- staging watermarks the run read up to
    scope_counts   jsonb       NOT NULL DEFAULT '{}',
    open_counts    jsonb       NOT NULL DEFAULT '{}',  -- gaps open at as_of, by code
    changes        jsonb       NOT NULL DEFAULT '{}',  -- opened / closed / retracted by this run
    gx_success     boolean,
    gx_summary     jsonb       NOT NULL DEFAULT '{}',
    airflow_run_id text
);
CREATE INDEX IF NOT EXISTS check_run_as_of ON audit.check_run (as_of);
COMMENT ON TABLE audit.check_run IS 'gap check runs: what each evaluated, found open, changed, and what GX said';

-- G8: each feed source's freshness as the load log shows it, replayed observation by observation.
CREATE TABLE IF NOT EXISTS audit.source_freshness (
    province_code     text        NOT NULL,
    source            text        NOT NULL,
    newest_changed_at timestamptz NOT NULL,  -- the newest change the loads were served
    stale_from        timestamptz NOT NULL,  -- office_after(newest_changed_at, stale_after)
    observed_at       timestamptz NOT NULL,  -- the latest observation replayed (source clock)
    last_load_id      bigint      NOT NULL,
    is_stale          boolean     NOT NULL,
    open_gap_id       text,
    PRIMARY KEY (province_code, source)
);
COMMENT ON TABLE audit.source_freshness IS 'G8: per province and feed source, the newest change served and whether it was stale at the latest observation';
