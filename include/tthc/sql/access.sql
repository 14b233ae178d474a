-- Inspectors scoped to one administrative unit (run as tthc_transformer, the owner of marts and of the gap
-- register; owners are not subject to the policies, so dbt and the checks see everything). `tthc inspector
-- add NAME --unit CODE` creates a login in tthc_scoped_inspector and a row here. A scoped login reads the
-- row-scoped relations only through schema `scoped` (a view over a security-definer function that returns
-- its unit's rows), so no plan, error or timing of its queries involves another unit's rows. A login without
-- a row (tthc_inspector itself, tthc_bi) sees the whole province; the policies below filter for any
-- scoped login that is also granted a table directly.
CREATE TABLE IF NOT EXISTS audit.inspector_scope (
    role_name  text        PRIMARY KEY,
    unit_code  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit.inspector_scope IS
    'Inspector logins scoped to one administrative unit: they see the dossiers, gaps and KPIs of its agencies only.';

-- The agencies of an administrative unit: any version of the agency in the unit, in a unit whose parent it
-- is, or in a unit it became by the 2025 reform (current_unit_code). Security definer: a scoped login need
-- not read the dimensions' history.
CREATE OR REPLACE FUNCTION audit.unit_agencies(scope_unit text) RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    agencies text[];
BEGIN
    SELECT coalesce(array_agg(DISTINCT a.agency_code), '{}') INTO agencies
    FROM marts.dim_agency AS a
    WHERE a.admin_unit_code = scope_unit OR a.current_unit_code = scope_unit
       OR a.admin_unit_code IN (SELECT u.unit_code FROM marts.dim_admin_unit AS u
                                WHERE u.parent_unit_code = scope_unit OR u.current_unit_code = scope_unit);
    RETURN agencies;
END
$$;
REVOKE ALL ON FUNCTION audit.unit_agencies(text) FROM PUBLIC;

-- The agencies the session's login may see: NULL = all (not scoped).
CREATE OR REPLACE FUNCTION audit.scoped_agencies() RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scope_unit text;
BEGIN
    SELECT s.unit_code INTO scope_unit FROM audit.inspector_scope AS s WHERE s.role_name = session_user;
    RETURN CASE WHEN scope_unit IS NULL THEN NULL ELSE audit.unit_agencies(scope_unit) END;
END
$$;
REVOKE ALL ON FUNCTION audit.scoped_agencies() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.scoped_agencies() TO tthc_bi, tthc_inspector, tthc_scoped_inspector;

-- The gap register: a scoped inspector sees its agencies' gaps and the pipeline-wide ones (G8).
ALTER TABLE audit.sync_gap ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS scoped_inspector ON audit.sync_gap;
CREATE POLICY scoped_inspector ON audit.sync_gap FOR SELECT
    USING ((SELECT audit.scoped_agencies()) IS NULL OR agency_code IS NULL
           OR agency_code = ANY((SELECT audit.scoped_agencies())::text[]));

-- The checks' work tables name dossiers of every agency: not for inspectors.
REVOKE ALL ON audit.check_context, audit.check_scope_dossier, audit.check_scope_application, audit.check_scope_day
    FROM tthc_inspector;

-- The scoped login's register: its agencies' gaps and the pipeline-wide ones (G8), computed inside a
-- security-definer function, so the caller's expressions only ever see those rows.
CREATE OR REPLACE FUNCTION scoped.sync_gap_rows() RETURNS SETOF audit.sync_gap
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT g.* FROM audit.sync_gap AS g
    WHERE g.agency_code IS NULL OR g.agency_code = ANY((SELECT audit.scoped_agencies())::text[])
$$;
REVOKE ALL ON FUNCTION scoped.sync_gap_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scoped.sync_gap_rows() TO tthc_scoped_inspector;
CREATE OR REPLACE VIEW scoped.sync_gap WITH (security_barrier) AS SELECT * FROM scoped.sync_gap_rows();
COMMENT ON VIEW scoped.sync_gap IS 'audit.sync_gap for an inspector scoped to a unit: its agencies'' gaps and G8';
GRANT SELECT ON scoped.sync_gap TO tthc_scoped_inspector;
GRANT SELECT ON audit.source_freshness TO tthc_scoped_inspector;
