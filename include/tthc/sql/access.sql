-- Row-level security for inspectors scoped to one administrative unit (run as tthc_transformer, the
-- owner of marts and of the gap register; owners are not subject to the policies, so dbt and the checks
-- see everything). `tthc inspector add NAME --unit CODE` creates a login in tthc_inspector and a row here;
-- a login without a row (tthc_inspector itself, tthc_bi) sees the whole province.
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
GRANT EXECUTE ON FUNCTION audit.scoped_agencies() TO tthc_bi, tthc_inspector;

-- The gap register: a scoped inspector sees its agencies' gaps and the pipeline-wide ones (G8).
ALTER TABLE audit.sync_gap ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS scoped_inspector ON audit.sync_gap;
CREATE POLICY scoped_inspector ON audit.sync_gap FOR SELECT
    USING ((SELECT audit.scoped_agencies()) IS NULL OR agency_code IS NULL
           OR agency_code = ANY((SELECT audit.scoped_agencies())::text[]));

-- The checks' work tables name dossiers of every agency: not for inspectors.
REVOKE ALL ON audit.check_context, audit.check_scope_dossier, audit.check_scope_application, audit.check_scope_day
    FROM tthc_inspector;
