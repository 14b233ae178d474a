{{ config(materialized='view', meta={'row_scope': 'gap'}) }}
-- The inspectors' register of synchronisation gaps: every gap the checks found (audit.sync_gap) with
-- the rule's title, the agency and procedure, each side's status now, and its age in working hours.
-- A view: always as current as the latest check, whichever build ran last.
with

gaps as (

    select * from {{ source('audit', 'sync_gap') }}
    -- an inspector scoped to a unit sees its agencies' gaps and the pipeline-wide ones (G8)
    where
        (select audit.scoped_agencies()) is null
        or agency_code is null
        or agency_code = any((select audit.scoped_agencies())::text[])

),

latest_check as (

    select coalesce(max(as_of), now()) as as_of
    from {{ source('audit', 'check_run') }}
    where mode <> 'replay'

),

rules as (

    select * from {{ ref('gap_codes') }}

),

dossiers as (

    select
        dossier_code,
        province_code,
        procedure_code,
        status_code,
        portal_status_code
    from {{ ref('fct_dossier') }}

),

agencies as (

    select
        agency_code,
        agency_name
    from {{ ref('dim_agency') }}
    where is_current

),

procedures as (

    select
        province_code,
        procedure_code,
        procedure_name
    from {{ ref('dim_procedure') }}
    where is_current

)

select
    g.gap_id,
    g.province_code,
    g.gap_code,
    r.title as gap_title,
    g.gap_key,
    g.dossier_code,
    g.agency_code,
    a.agency_name,
    d.procedure_code,
    p.procedure_name,
    d.status_code as onestop_status_code,
    d.portal_status_code,
    g.opened_at,
    g.closed_at,
    g.retracted_at,
    g.closed_at is null and g.retracted_at is null as is_open,
    g.retracted_at is not null as is_retracted,
    round(
        greatest(
            {{ office_seconds('coalesce(g.closed_at, l.as_of)') }} - {{ office_seconds('g.opened_at') }}, 0
        ) / 3600.0,
        1
    ) as age_working_hours,
    g.first_seen_run,
    g.last_seen_run,
    g.detail
from gaps as g
cross join latest_check as l
left join rules as r on g.gap_code = r.gap_code
left join dossiers as d on g.dossier_code = d.dossier_code
left join agencies as a on g.agency_code = a.agency_code
left join procedures as p on d.province_code = p.province_code and d.procedure_code = p.procedure_code
