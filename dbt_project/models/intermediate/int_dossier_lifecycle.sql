{{
    config(
        materialized='incremental',
        unique_key='dossier_code',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        meta={'upstream_models': ['stg_onestop__status_changes', 'stg_onestop__dossiers']},
        indexes=[{'columns': ['dossier_code'], 'unique': True}, {'columns': ['_build_load_id']}, {'columns': ['counted_until']}],
    )
}}
{%- set upstream = [ref('stg_onestop__status_changes'), ref('stg_onestop__dossiers')] %}
-- One row per dossier: its milestones from the status-change feed and what Decision 766's progress rule
-- (2.1) needs of them (include/tthc/kpi766.py, ``lifecycle``): the resolution (resolved 9, else returned
-- 10), the citizen's supplement time before it (each request, a change *to* status 5, to the next change
-- to another status), the supplement requests, and the first of stopped (8), withdrawal (7) or refusal
-- after receipt (3). finished_at and is_on_time are the rule's verdict once everything has happened:
-- the resolution less the supplement time; with no resolution, a single request (a second one: overdue),
-- else the stop. Still open: both null; each month's verdict is int_kpi766_dossiers_evaluated's.
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
        -- the next change to another status: a supplement request's completion
        min(changed_at) filter (where status_code <> 5) over (
            partition by dossier_code order by recorded_at, status_change_id
            rows between 1 following and unbounded following
        ) as next_other_status_at,
        -- a refusal (3) after the dossier was received
        bool_or(status_code = 2) over (
            partition by dossier_code order by recorded_at, status_change_id
            rows between unbounded preceding and 1 preceding
        ) as was_received_before,
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
        (
            array_agg(changed_at order by recorded_at, status_change_id)
            filter (where status_code = 5 and previous_status_code is distinct from 5))[2]
            as second_supplement_requested_at,
        count(*) filter (where status_code = 5 and previous_status_code is distinct from 5)
            as supplement_request_count,
        min(changed_at) filter (where status_code = 3 and was_received_before) as refused_after_receipt_at,

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

ends as (

    select
        d.province_code,
        m.*,
        d.due_at,
        coalesce(m.resolved_at, m.returned_at) as resolution_at,
        case when m.resolved_at is not null then 'resolved' when m.returned_at is not null then 'returned' end
            as resolution_kind,
        least(m.stopped_at, m.withdrawal_requested_at, m.refused_after_receipt_at) as halted_at,
        case least(m.stopped_at, m.withdrawal_requested_at, m.refused_after_receipt_at)
            when m.stopped_at then 'stopped'
            when m.withdrawal_requested_at then 'withdrawn'
            when m.refused_after_receipt_at then 'refused'
        end as halt_kind,
        case when m.received_at is null then m.rejected_at end as refused_at_intake_at
    from milestones as m
    inner join dossiers as d on m.dossier_code = d.dossier_code

),

pauses as (

    -- the citizen's time: each supplement request to its completion, completed by the resolution
    select
        e.dossier_code,
        sum(c.next_other_status_at - c.changed_at) as supplement_pause
    from ends as e
    inner join changes as c
        on
            e.dossier_code = c.dossier_code and c.status_code = 5
            and c.previous_status_code is distinct from 5 and e.resolution_at >= c.next_other_status_at
    group by e.dossier_code

),

paused as (

    select
        e.*,
        coalesce(p.supplement_pause, interval '0') as supplement_pause,
        least(e.resolution_at, e.halted_at) as ended_at
    from ends as e
    left join pauses as p on e.dossier_code = p.dossier_code

),

finished as (

    select
        *,
        case
            when received_at is null then null
            when resolution_at is not null then resolution_at - supplement_pause
            when supplement_request_count > 1 then null
            when supplement_request_count = 1 then first_supplement_requested_at
            else halted_at
        end as finished_at
    from paused

)

select
    *,
    case
        when received_at is null then null
        when resolution_at is null and supplement_request_count > 1 then false
        when finished_at is null then null
        else finished_at <= due_at
    end as is_on_time,
    case
        when finished_at is not null and received_at is not null
            then {{ working_days_between('received_at', 'finished_at') }}
    end as working_days_taken,
    -- the last moment the 766 index may count the dossier in a month (fct_kpi766_dossier reads only the
    -- dossiers whose counted_until falls in or after the months it evaluates)
    case
        when ended_at is null and refused_at_intake_at is null then 'infinity'::timestamptz
        else greatest(ended_at, resolved_at, refused_at_intake_at, received_at)
    end as counted_until,
    {{ model_stamp() }} as _build_load_id
from finished
