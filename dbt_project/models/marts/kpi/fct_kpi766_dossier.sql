{{
    config(
        materialized='incremental',
        unique_key='month_start',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'row_scope': 'agency_code', 'upstream_models': ['fct_dossier', 'fct_portal_sync', 'fct_rating']},
        indexes=[
            {'columns': ['month_start', 'agency_code', 'indicator']},
            {'columns': ['dossier_code']},
            {'columns': ['_build_load_id']},
        ],
    )
}}
-- Which dossiers the Decision 766 index counted, per month and dossier-level indicator, and what each cost
-- its agency (include/tthc/kpi766.py holds the same rules in Python; a test holds the two equal):
-- * 2.1 progress: the dossiers received before the month's evaluation time and not ended before its start,
--   at the agency handling them; the end time from what had happened by then (kpi766.progress): resolution
--   less the citizen's supplement time; unresolved: one pending supplement request ends it, a second makes
--   it overdue; else the stop; else the evaluation time. On time iff end <= due. A dossier refused at
--   intake is shown in its refusal month outside the denominator.
-- * 5.4: 2.1's dossiers; the numerator has no negative rating by the evaluation time.
-- * 4.1: dossiers resolved in the month, at the agency handling them.
-- * The rest: dossiers received in the month, at the agency that received them.
-- points_lost: what the agency lost on the indicator (points - points earned), shared equally by its
-- dossiers outside the numerator (5.4: late or rated negatively; 1.4 and 3.3: not synced, not filed
-- online), so an agency's lost points are the sum of its rows; above a threshold nothing is lost.
with

as_of as (

    select coalesce(max(last_recorded_at), now()) as as_of from {{ ref('fct_dossier') }}

),

touched_months as (

    {% if is_incremental() %}
        -- a dossier counts in every month from its receipt on while open: its months up to now
        select
            generate_series(
                {{ local_month('coalesce(d.received_at, d.rejected_at, d.filed_at)') }},
                {{ local_month('a.as_of') }}, interval '1 month'
            )::date as month_start
        from {{ ref('fct_dossier') }} as d, as_of as a
        where d.{{ upstream_since() }}
        union
        select generate_series({{ local_month('r.rated_at') }}, {{ local_month('a.as_of') }}, interval '1 month')::date
        from {{ ref('fct_rating') }} as r, as_of as a
        where r.{{ upstream_since() }}
        union
        select {{ local_month('changed_at') }} from {{ ref('fct_portal_sync') }}
        where {{ upstream_since() }}
        union
        {{ kpi766_unfinished_months() }}
    {% else %}
        select generate_series(
            (select min({{ local_month('coalesce(received_at, rejected_at, filed_at)') }}) from {{ ref('fct_dossier') }}),
            (select {{ local_month('as_of') }} from as_of), interval '1 month'
        )::date as month_start
    {% endif %}

),

months as (

    {{ kpi766_months('select month_start from touched_months', '(select as_of from as_of)') }}

),

dossiers as (

    select
        d.*,
        l.resolution_at,
        l.resolution_kind,
        l.supplement_pause,
        l.second_supplement_requested_at,
        l.halted_at,
        l.halt_kind,
        l.ended_at,
        l.refused_at_intake_at
    from {{ ref('fct_dossier') }} as d
    inner join {{ ref('int_dossier_lifecycle') }} as l on d.dossier_code = l.dossier_code
    -- only the dossiers that may count in the months evaluated (an index lookup in an hourly build)
    where l.counted_until >= (select min(m.month_begins_at) from months as m)

),

evaluated as (

    -- each dossier in each month it counts in: 2.1's verdict from what had happened by the evaluation time
    select
        m.month_start,
        m.month_end,
        m.evaluated_at,
        d.*,
        d.received_at < m.evaluated_at and (d.ended_at is null or d.ended_at >= m.month_begins_at) as is_in_progress,
        d.received_at >= m.month_begins_at and d.received_at < m.evaluated_at as is_received,
        d.resolved_at >= m.month_begins_at and d.resolved_at < m.evaluated_at as is_resolved,
        d.refused_at_intake_at >= m.month_begins_at and d.refused_at_intake_at < m.evaluated_at as is_refused_at_intake,
        case
            when d.resolution_at < m.evaluated_at then d.resolution_at - d.supplement_pause
            when d.second_supplement_requested_at < m.evaluated_at then null
            when d.first_supplement_requested_at < m.evaluated_at then d.first_supplement_requested_at
            when d.halted_at < m.evaluated_at then d.halted_at
            else m.evaluated_at
        end as end_at,
        case
            when d.resolution_at < m.evaluated_at then d.resolution_kind
            when d.second_supplement_requested_at < m.evaluated_at then 'second_supplement_request'
            when d.first_supplement_requested_at < m.evaluated_at then 'supplement_requested'
            when d.halted_at < m.evaluated_at then d.halt_kind
            else 'open'
        end as end_kind,
        coalesce(d.first_synced_at < m.evaluated_at, false) as is_synced_by_then,
        exists(
            select 1 from {{ ref('fct_rating') }} as r
            where r.dossier_code = d.dossier_code and r.is_negative and r.rated_at < m.evaluated_at
        ) as is_rated_negative
    from months as m
    inner join dossiers as d
        on
            (m.evaluated_at > d.received_at and (d.ended_at is null or m.month_begins_at <= d.ended_at))
            or (m.month_begins_at <= d.received_at and m.evaluated_at > d.received_at)
            or (m.month_begins_at <= d.resolved_at and m.evaluated_at > d.resolved_at)
            or (m.month_begins_at <= d.refused_at_intake_at and m.evaluated_at > d.refused_at_intake_at)

),

verdicts as (

    select
        *,
        coalesce(end_at <= due_at, false) as is_on_time_by_then
    from evaluated

),

rows_ as (

    -- per indicator: whether the dossier counts (and at which agency), in its denominator, in its numerator,
    -- and short (what costs the agency points: outside the numerator; 5.4 also late, 3.3 also not synced)
    select
        e.month_start,
        e.month_end,
        e.evaluated_at,
        e.province_code,
        v.agency_code,
        e.dossier_code,
        e.procedure_code,
        v.indicator,
        v.in_denominator,
        v.in_numerator,
        case when v.indicator in ('2.1', '5.4') and v.in_denominator then e.end_at end as end_at,
        case
            when not v.in_denominator then 'refused_at_intake'
            when v.indicator in ('2.1', '5.4') then e.end_kind
        end as end_kind,
        e.due_at,
        v.in_denominator and (not v.in_numerator or v.also_short) as is_short
    from verdicts as e
    cross join
        lateral (
            values
            ('2.1', e.agency_code, e.is_in_progress, true, e.is_on_time_by_then, false),
            -- refused at intake: never received, so outside 2.1's denominator
            ('2.1', e.agency_code, e.is_refused_at_intake, false, false, false),
            ('5.4', e.agency_code, e.is_in_progress, true, not e.is_rated_negative, not e.is_on_time_by_then),
            ('4.1', e.agency_code, e.is_resolved, true, e.has_e_result, false),
            -- received in the month, at the agency that received them
            ('1.4', e.receiving_agency_code, e.is_received, true, e.is_synced_by_then, false),
            ('3.3', e.receiving_agency_code, e.is_received, true, e.is_online, not e.is_synced_by_then),
            (
                '3.4', e.receiving_agency_code, e.is_received and e.is_full_process_procedure, true,
                e.is_full_process_online, false
            ),
            ('3.6', e.receiving_agency_code, e.is_received and e.has_fee, true, e.is_paid_online, false),
            ('4.2', e.receiving_agency_code, e.is_received, true, e.is_digitised, false),
            ('4.3', e.receiving_agency_code, e.is_received, true, e.reused_digitised_data, false),
            ('4.4', e.receiving_agency_code, e.is_received, true, e.used_data_store, false),
            (
                '4.5b', e.receiving_agency_code, e.is_received, true,
                e.is_vneid_verified or e.used_data_store or e.used_population_data, false
            ),
            ('4.6', e.receiving_agency_code, e.is_received and e.is_certification, true, e.has_certified_e_copy, false)
        ) as v (indicator, agency_code, counts, in_denominator, in_numerator, also_short)
    where v.counts

),

portal_receipts as (

    {{ kpi766_portal_receipts('months') }}

),

tallies as (

    select
        month_start,
        agency_code,
        indicator,
        count(*) filter (where in_denominator) as denominator,
        count(*) filter (where in_numerator) as numerator,
        count(*) filter (where is_short and in_denominator) as short
    from rows_
    group by 1, 2, 3

),

rates as (

    select
        t.*,
        {{ kpi766_rate('t.indicator', 't.numerator', 't.denominator', 'pr.seen', 's.numerator', 's.denominator',
                       'p.numerator', 'p.denominator') }} as rate
    from tallies as t
    left join portal_receipts as pr on t.month_start = pr.month_start and t.agency_code = pr.agency_code
    left join tallies as s on t.month_start = s.month_start and t.agency_code = s.agency_code and s.indicator = '1.4'
    left join tallies as p on t.month_start = p.month_start and t.agency_code = p.agency_code and p.indicator = '2.1'

),

shares as (

    select
        r.month_start,
        r.agency_code,
        r.indicator,
        (sp.points - {{ kpi766_points('sp.points', 'sp.threshold', 'r.rate') }}) / nullif(r.short, 0) as share,
        sp.shortfall
    from rates as r
    inner join {{ ref('kpi766_indicators') }} as sp on r.indicator = sp.indicator_code

)

select
    r.province_code,
    r.agency_code,
    to_char(r.month_start, 'YYYY-MM') as year_month,
    r.month_start,
    r.dossier_code,
    r.procedure_code,
    r.indicator,
    r.in_denominator,
    r.in_numerator,
    r.end_at,
    r.end_kind,
    r.due_at,
    case
        when r.indicator = '2.1' and r.in_denominator and not r.in_numerator and r.end_at is not null
            then {{ working_days_between('r.due_at', 'r.end_at') }}
    end as working_days_late,
    case when r.is_short and r.in_denominator then round(coalesce(s.share, 0), 6) else 0 end as points_lost,
    case
        when r.in_denominator and not r.in_numerator then s.shortfall
        when r.is_short and r.in_denominator and r.indicator = '5.4' then 'late'
        when r.is_short and r.in_denominator and r.indicator = '3.3' then 'not synced to the portal by the month''s end'
    end as shortfall,
    r.evaluated_at,
    r.month_end,
    {{ model_stamp() }} as _build_load_id
from rows_ as r
left join shares as s on r.month_start = s.month_start and r.agency_code = s.agency_code and r.indicator = s.indicator
