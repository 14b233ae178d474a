-- Schemas, ownership and grants. Idempotent; {db} is the warehouse database.
REVOKE ALL ON DATABASE {db} FROM PUBLIC;
GRANT CONNECT ON DATABASE {db} TO tthc_loader, tthc_transformer, tthc_bi, tthc_inspector;
GRANT TEMPORARY ON DATABASE {db} TO tthc_loader, tthc_transformer;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS raw_onestop AUTHORIZATION tthc_loader;
CREATE SCHEMA IF NOT EXISTS raw_population AUTHORIZATION tthc_loader;
CREATE SCHEMA IF NOT EXISTS raw_portal AUTHORIZATION tthc_loader;
CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION tthc_loader;
CREATE SCHEMA IF NOT EXISTS staging AUTHORIZATION tthc_transformer;
CREATE SCHEMA IF NOT EXISTS intermediate AUTHORIZATION tthc_transformer;
CREATE SCHEMA IF NOT EXISTS marts AUTHORIZATION tthc_transformer;
-- the monthly partitions of the large facts: read through their partitioned table only (its grants and
-- row-level security); no reader role may use this schema
CREATE SCHEMA IF NOT EXISTS marts_partitions AUTHORIZATION tthc_transformer;
REVOKE ALL ON SCHEMA marts_partitions FROM PUBLIC;

-- raw_*: written by the loader; read by dbt (which pseudonymises) except the quarantine tables,
-- whose SELECT is revoked from tthc_transformer in raw_tables.sql. BI and inspectors never see raw_*.
GRANT USAGE ON SCHEMA raw_onestop, raw_population, raw_portal TO tthc_transformer;
ALTER DEFAULT PRIVILEGES FOR ROLE tthc_loader IN SCHEMA raw_onestop, raw_population, raw_portal
    GRANT SELECT ON TABLES TO tthc_transformer;
REVOKE ALL ON SCHEMA raw_onestop, raw_population, raw_portal FROM tthc_bi, tthc_inspector;

-- audit: run log and quarantine counts (loader), gap results (transformer); inspectors read it.
GRANT USAGE, CREATE ON SCHEMA audit TO tthc_transformer;
GRANT USAGE ON SCHEMA audit TO tthc_inspector;
ALTER DEFAULT PRIVILEGES FOR ROLE tthc_loader IN SCHEMA audit GRANT SELECT ON TABLES TO tthc_inspector, tthc_transformer;
ALTER DEFAULT PRIVILEGES FOR ROLE tthc_transformer IN SCHEMA audit GRANT SELECT ON TABLES TO tthc_inspector;

-- staging/intermediate: dbt's work space. marts: the star schema, read by BI and inspectors.
GRANT USAGE ON SCHEMA marts TO tthc_bi, tthc_inspector;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO tthc_bi, tthc_inspector;
ALTER DEFAULT PRIVILEGES FOR ROLE tthc_transformer IN SCHEMA marts GRANT SELECT ON TABLES TO tthc_bi, tthc_inspector;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO tthc_inspector;

-- Inspectors scoped to one unit (`tthc inspector add`) are members of tthc_scoped_inspector, never of
-- tthc_inspector: they may not select a row-scoped table at all, since a plan (EXPLAIN ANALYZE's "Rows
-- Removed by Filter") or an error raised before a policy or a view's filter runs would show rows outside
-- their unit. They read the dimensions in marts (granted per model by the post-hook row_level_security)
-- and every row-scoped relation through a view of the same name in `scoped` over a security-definer
-- function that returns their unit's rows only (docs/ARCHITECTURE.md, "Who reads what").
CREATE SCHEMA IF NOT EXISTS scoped AUTHORIZATION tthc_transformer;
REVOKE ALL ON SCHEMA scoped FROM PUBLIC;
GRANT CONNECT ON DATABASE {db} TO tthc_scoped_inspector;
GRANT USAGE ON SCHEMA scoped, marts, audit TO tthc_scoped_inspector;
