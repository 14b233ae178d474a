{{
    config(
        materialized='incremental',
        unique_key='dossier_code',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'upstream_models': ['stg_onestop__status_changes', 'stg_onestop__dossiers']},
        indexes=[{'columns': ['dossier_code'], 'unique': True}, {'columns': ['_build_load_id']}],
    )
}}
{%- set upstream = [ref('stg_onestop__status_changes'), ref('stg_onestop__dossiers')] %}
-- One row per dossier: its milestones from the status-change feed and the Decision 766 on-time rule.
-- 766: finish time <= due time; the finish is the first of resolved (9), returned (10), stopped (8)
-- or not accepted (3), unless a supplement request (a change *to* status 5) came first: it ends the
-- clock; a second request makes the dossier overdue. Still open: is_on_time is null here, and the
-- KPI counts the period's end as its finish (kpi_agency_monthly). Same rule: include/tthc/kpi766.py.
with

{% if is_incremental() %}
    touched as materialized (
        {{ touched_dossiers(upstream) }}
    ),
{% endif %}

changes as (

    select
        *,
        lag(status_code) over (partition by dossier_code order by recorded_at, status_change_id)
            as previous_status_code,
        row_number() over (partition by dossier_code order by recorded_at desc, status_change_id desc)
            as recency
    from {{ ref('stg_onestop__status_changes') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}

),

milestones as (

    select
        dossier_code,
        min(changed_at) filter (where status_code = 1) as registered_at,
        min(changed_at) filter (where status_code = 2) as received_at,
        min(recorded_at) filter (where status_code = 2) as receipt_recorded_at,
        min(changed_at) filter (where status_code = 3) as rejected_at,
        min(changed_at) filter (where status_code = 7) as withdrawal_requested_at,
        min(changed_at) filter (where status_code = 8) as stopped_at,
        min(changed_at) filter (where status_code = 9) as resolved_at,
        min(changed_at) filter (where status_code = 10) as returned_at,
        min(changed_at) filter (where status_code = 5 and previous_status_code is distinct from 5)
            as first_supplement_requested_at,
        count(*) filter (where status_code = 5 and previous_status_code is distinct from 5)
            as supplement_request_count,
        count(*) filter (where is_handover) as handover_count,
        count(*) as status_change_count,
        min(recorded_at) as first_recorded_at,
        max(recorded_at) as last_recorded_at,
        min(status_code) filter (where recency = 1) as status_code,
        min(agency_code) filter (where recency = 1) as agency_code,
        -- the desk that received it: its receipt (status 2), else its first change
        (array_agg(agency_code order by status_code <> 2, recorded_at, status_change_id))[1] as receiving_agency_code
    from changes
    group by dossier_code

),

dossiers as (

    select
        dossier_code,
        province_code,
        due_at
    from {{ ref('stg_onestop__dossiers') }}
    {% if is_incremental() %}
        where dossier_code in (select t.dossier_code from touched as t)
    {% endif %}

),

finished as (

    select
        d.province_code,
        m.*,
        d.due_at,
        least(m.first_supplement_requested_at, m.rejected_at, m.stopped_at, m.resolved_at, m.returned_at)
            as finished_at
    from milestones as m
    inner join dossiers as d on m.dossier_code = d.dossier_code

)

select
    *,
    case
        when supplement_request_count > 1 then false
        when finished_at is null then null
        else finished_at <= due_at
    end as is_on_time,
    case
        when finished_at is not null and received_at is not null
            then {{ working_days_between('received_at', 'finished_at') }}
    end as working_days_taken,
    {{ model_stamp() }} as _build_load_id
from finished
